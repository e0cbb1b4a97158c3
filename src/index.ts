/**
 * effect-otp: Erlang/OTP's process model, supervision and distribution for TypeScript on Effect 4.
 *
 * Each module is exported as a namespace (`GenServer.call`, `Supervisor.layer`,
 * `Distribution.spawn`). The index holds what an application needs, and nothing else:
 *
 * - processes and servers: `Pid`, `ExitReason`, `Signal`, `ProcessErrors`, `ProcessRuntime`,
 *   `CurrentProcess`, `Process`, `Registry`, `Protocol`, `GenServer`, `RemoteName`;
 * - supervision: `Supervisor`, `ChildSpec`, `DynamicSupervisor`, `SupervisorEvents`,
 *   `SupervisorErrors`, `Client`;
 * - a node and its links: `Transport` (the service every node layer provides), `TcpTransport`,
 *   `MemoryTransport` and `MemoryNetwork` (tests and fault injection), `Security` (the link
 *   security modes a configuration chooses), `TransportOptions` (link tuning: frame limit,
 *   high-water mark, handshake and shutdown timeouts, busy polling), `TransportError`;
 * - the cluster: `Cluster`, `ClusterConfig`, `ClusterEvent`, `Distribution`, `BehaviourRegistry`;
 * - observability: `Logging` (JSON or readable log records, crash reports), `Metrics`,
 *   `RuntimeMetrics`, `HttpEndpoint`, `Tracing`, `Health`;
 * - a whole node from the environment: `NodeConfig` (the variables, every error at once) and
 *   `Node` (`Node.layer`, `Node.runMain` with its graceful shutdown).
 *
 * Left out on purpose:
 * - the wire (`Frame`, `Framing`, `Codec`, `Channel`, `DistributionFrame`): frame schemas, framing
 *   and the codec matter only to people who build their own transport or speak the protocol from
 *   elsewhere; they are exported by the subpath `effect-otp/wire`;
 * - `Gossip` and `Heartbeat`: the frames of membership, used by `Cluster` itself (their intervals
 *   and thresholds are options of `ClusterConfig`); also in `effect-otp/wire`;
 * - seed parsing and DNS resolution behind `ClusterConfig.seeds` (a seed is a string there, checked
 *   when the cluster starts): internal.
 *
 * @since 0.1.0
 */

/** Process identifiers. @since 0.1.0 */
export * as Pid from "./Process/Pid.ts"

/** Exit reasons: normal, shutdown, killed, noproc, noconnection, failure. @since 0.1.0 */
export * as ExitReason from "./Process/ExitReason.ts"

/** Runtime signals delivered as messages: Down, Exit. @since 0.1.0 */
export * as Signal from "./Process/Signal.ts"

/** Errors of the process runtime. @since 0.1.0 */
export * as ProcessErrors from "./Process/Errors.ts"

/** The node-local process runtime service. @since 0.1.0 */
export * as ProcessRuntime from "./Process/ProcessRuntime.ts"

/** The process an effect runs in, as a service present only inside processes. @since 0.1.0 */
export * as CurrentProcess from "./Process/CurrentProcess.ts"

/** Processes: spawn, send, links, monitors, exit signals, timers. @since 0.1.0 */
export * as Process from "./Process/Process.ts"

/** Local registries: unique names and duplicate-key registries. @since 0.1.0 */
export * as Registry from "./Process/Registry.ts"

/** Typed GenServer protocols. @since 0.1.0 */
export * as Protocol from "./Process/Protocol.ts"

/** The GenServer behaviour. @since 0.1.0 */
export * as GenServer from "./Process/GenServer.ts"

/** Names registered on a given node (`{Name, Node}`). @since 0.1.0 */
export * as RemoteName from "./Process/RemoteName.ts"

/** Cluster-wide names as targets (`{global, Name}`). @since 0.1.0 */
export * as GlobalName from "./Process/GlobalName.ts"

/** Supervisors: child specs, strategies, restart intensity, supervision Layers. @since 0.1.0 */
export * as Supervisor from "./Supervisor/Supervisor.ts"

/** Child specifications. @since 0.1.0 */
export * as ChildSpec from "./Supervisor/ChildSpec.ts"

/** Dynamic supervisors: children on demand from a template. @since 0.1.0 */
export * as DynamicSupervisor from "./Supervisor/DynamicSupervisor.ts"

/** Supervisor lifecycle events as a Stream. @since 0.1.0 */
export * as SupervisorEvents from "./Supervisor/SupervisorEvents.ts"

/** Errors of supervisors. @since 0.1.0 */
export * as SupervisorErrors from "./Supervisor/Errors.ts"

/** Typed clients of named (supervised) GenServers, for Context.Service layers. @since 0.1.0 */
export * as Client from "./Supervisor/Client.ts"

/** The Transport service: authenticated, framed links between named nodes. @since 0.1.0 */
export * as Transport from "./Transport/Transport.ts"

/** The TCP / TLS transport. @since 0.1.0 */
export * as TcpTransport from "./Transport/TcpTransport.ts"

/** The in-memory transport (tests, fault injection). @since 0.1.0 */
export * as MemoryTransport from "./Transport/MemoryTransport.ts"

/** The in-memory network behind MemoryTransport: partitions, stalls, drops, delays. @since 0.1.0 */
export * as MemoryNetwork from "./Transport/MemoryNetwork.ts"

/** Link security: TLS-PSK from a cluster secret, certificate mTLS, or plain TCP. @since 0.1.0 */
export * as Security from "./Transport/Security.ts"

/** Errors of the transport. @since 0.1.0 */
export * as TransportError from "./Transport/TransportError.ts"

/** Link tuning: frame limit, high-water mark, handshake and shutdown timeouts, busy polling. @since 0.1.0 */
export * as TransportOptions from "./Transport/TransportOptions.ts"

/** Cluster membership: seeds, gossip, heartbeats, failure detection, events. @since 0.1.0 */
export * as Cluster from "./Cluster/Cluster.ts"

/** Cluster configuration (also from environment variables). @since 0.1.0 */
export * as ClusterConfig from "./Cluster/ClusterConfig.ts"

/** Membership events. @since 0.1.0 */
export * as ClusterEvent from "./Cluster/ClusterEvent.ts"

/** Distribution: remote call, cast, send, spawn, monitors and links. @since 0.1.0 */
export * as Distribution from "./Cluster/Distribution.ts"

/** Cluster-wide unique names (Erlang's `global`). @since 0.1.0 */
export * as GlobalRegistry from "./Cluster/GlobalRegistry.ts"

/** Process groups across the cluster (Erlang's `pg`). @since 0.1.0 */
export * as ProcessGroups from "./Cluster/ProcessGroups.ts"

/** Behaviours other nodes may spawn here, with the services they need. @since 0.1.0 */
export * as BehaviourRegistry from "./Cluster/BehaviourRegistry.ts"

/** Supervisors on other nodes: start, terminate, restart, delete and list their children. @since 0.1.0 */
export * as RemoteSupervisor from "./Cluster/RemoteSupervisor.ts"

/** Supervisors whose children are placed on cluster nodes and move when a node is lost. @since 0.1.0 */
export * as DistributedSupervisor from "./Cluster/DistributedSupervisor.ts"

// --- Observability: logs ---------------------------------------------------------------------

/** Structured logs: JSON lines or readable lines, LOG_LEVEL / LOG_FORMAT, crash reports. @since 0.1.0 */
export * as Logging from "./Observability/Logging.ts"

// ---------------------------------------------------------------------------------------------
// Observability: metrics and the node's HTTP endpoint

/** The node's metrics (Prometheus text through effect/observability's PrometheusMetrics). @since 0.1.0 */
export * as Metrics from "./Observability/Metrics.ts"

/** Node.js runtime metrics under prom-client's default names (CPU, memory, event loop, GC). @since 0.1.0 */
export * as RuntimeMetrics from "./Observability/RuntimeMetrics.ts"

/** The node's own HTTP server (`/metrics`, and routes other layers add). @since 0.1.0 */
export * as HttpEndpoint from "./Observability/HttpEndpoint.ts"

// ---------------------------------------------------------------------------------------------
// Observability: traces

/** OpenTelemetry traces over OTLP/HTTP: the `layerOtlp` layer, and which operations start a trace. @since 0.1.0 */
export * as Tracing from "./Observability/Tracing.ts"

// ---------------------------------------------------------------------------------------------
// Observability: health and readiness

/** Liveness (`/health`) and readiness (`/ready`) probes, custom checks, graceful stopping. @since 0.1.0 */
export * as Health from "./Observability/Health.ts"

// ---------------------------------------------------------------------------------------------
// Observability: the Observer

/** The node-local Observer: snapshots, top-N, one process in detail, lifecycle events. @since 0.1.0 */
export * as Observer from "./Observability/Observer.ts"

// ---------------------------------------------------------------------------------------------
// Observability: alerts

/** Alerts when a process or the node drifts from its own baseline (mailbox, latency, restarts, event loop). @since 0.1.0 */
export * as AlertManager from "./Observability/AlertManager.ts"

// ---------------------------------------------------------------------------------------------
// Observability: the Observer across the cluster and over HTTP

/** The Observer's snapshot, top-N and process queries for every node, with a per-node timeout. @since 0.1.0 */
export * as ObserverCluster from "./Observability/ObserverCluster.ts"

/** `/observer`, `/observer/cluster`, `/observer/process/<pid>` and the opt-in kill route. @since 0.1.0 */
export * as ObserverHttp from "./Observability/ObserverHttp.ts"

// ---------------------------------------------------------------------------------------------
// A whole node from the environment

/** A node's configuration from environment variables: the one table of variables, every error at once. @since 0.1.0 */
export * as NodeConfig from "./Layers/NodeConfig.ts"

/** A whole node from the environment (`Node.layer`) and its main with a graceful shutdown in phases (`Node.runMain`). @since 0.1.0 */
export * as Node from "./Layers/Node.ts"
