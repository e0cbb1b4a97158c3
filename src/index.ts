/**
 * effect-otp: Erlang/OTP's process model, supervision and distribution for TypeScript on Effect 4.
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

/** Typed channels: how upper layers put their own frames on the wire. @since 0.1.0 */
export * as Channel from "./Transport/Channel.ts"

/** The frames of the link protocol. @since 0.1.0 */
export * as Frame from "./Transport/Frame.ts"

/** Length-prefixed framing. @since 0.1.0 */
export * as Framing from "./Transport/Framing.ts"

/** The MessagePack codec of frame bodies. @since 0.1.0 */
export * as Codec from "./Transport/Codec.ts"

/** Link security: TLS-PSK from a cluster secret, certificate mTLS, or plain TCP. @since 0.1.0 */
export * as Security from "./Transport/Security.ts"

/** Errors of the transport. @since 0.1.0 */
export * as TransportError from "./Transport/TransportError.ts"

/** Transport tuning options. @since 0.1.0 */
export * as TransportOptions from "./Transport/TransportOptions.ts"

/** Cluster membership: seeds, gossip, heartbeats, failure detection, events. @since 0.1.0 */
export * as Cluster from "./Cluster/Cluster.ts"

/** Cluster configuration (also from environment variables). @since 0.1.0 */
export * as ClusterConfig from "./Cluster/ClusterConfig.ts"

/** Membership events. @since 0.1.0 */
export * as ClusterEvent from "./Cluster/ClusterEvent.ts"

/** Seed parsing and DNS discovery. @since 0.1.0 */
export * as Discovery from "./Cluster/Discovery.ts"

/** The gossip channel. @since 0.1.0 */
export * as Gossip from "./Cluster/Gossip.ts"

/** The heartbeat channel and failure detection. @since 0.1.0 */
export * as Heartbeat from "./Cluster/Heartbeat.ts"

/** Distribution: remote call, cast, send, spawn, monitors and links. @since 0.1.0 */
export * as Distribution from "./Cluster/Distribution.ts"

/** The frames of distribution. @since 0.1.0 */
export * as DistributionFrame from "./Cluster/DistributionFrame.ts"

/** Behaviours other nodes may spawn here. @since 0.1.0 */
export * as BehaviourRegistry from "./Cluster/BehaviourRegistry.ts"
