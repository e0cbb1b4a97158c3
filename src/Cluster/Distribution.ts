/**
 * Distribution: a pid on another node behaves like a local pid, with the same types, plus the
 * failures that only distribution has.
 *
 * With this layer, `Process.send`, `GenServer.call` / `cast`, `Process.exit` / `kill` / `link` /
 * `monitor` / `awaitExit` accept pids of other nodes and `RemoteName`s. Requests and replies are
 * encoded with the GenServer's protocol schemas (the same declaration as locally). Failures are
 * typed and immediate:
 * - `NodeDown`: the node is not connected, or went down while the call was pending — every call
 *   pending to a node fails the moment it is declared down, none is left waiting;
 * - `NoProcess`: the remote pid is dead, belongs to the node's previous incarnation, or the name
 *   is not registered there;
 * - `RemoteDecodeError`: a payload did not match its schema on either side (only that call fails;
 *   the link stays up);
 * - `CallTimeout`, `ServerExited`, `MailboxFull` and the declared error, as locally.
 *
 * A full mailbox holds remote senders back as it holds local ones, with per-process credit between
 * nodes: at most 4,096 sends, casts and calls of one node may be on their way to one process; a
 * sender past that waits (policy `suspend`) or, once the mailbox is reported full, fails with
 * `MailboxFull` (policy `fail`). The receiving node holds at most that many per sending node and
 * process behind a full mailbox, and the link never waits for one process.
 *
 * Monitors of remote processes deliver `Down` with the remote reason, `noproc` when the process
 * was already dead, and `noconnection` when its node goes down. Links across nodes propagate
 * exits both ways; losing the node is an exit signal with `noconnection`. The W3C trace context
 * travels with calls and casts, so one trace covers caller, wire and remote handler.
 *
 * @since 0.1.0
 */
import { Context, type Duration, Effect, Layer, Metric, Schedule, Scope } from "effect"
import * as Timers from "../internal/timers.ts"
import { NotAProcess } from "../Process/Errors.ts"
import type * as GenServer from "../Process/GenServer.ts"
import * as LocalNode from "../Process/internal/localNode.ts"
import { tracedOperation } from "../Process/internal/operationSpans.ts"
import { durationBounds, registerHistogram } from "../Process/internal/stats.ts"
import { Attr, systemName } from "../Process/internal/tracing.ts"
import * as ProcessRuntime from "../Process/ProcessRuntime.ts"
import type * as Signal from "../Process/Signal.ts"
import type { ListenFailed } from "../Transport/TransportError.ts"
import { Transport } from "../Transport/Transport.ts"
import * as BehaviourRegistry from "./BehaviourRegistry.ts"
import * as Cluster from "./Cluster.ts"
import type { ClusterConfig, InvalidClusterConfig } from "./ClusterConfig.ts"
import { DistributionEngine, type SpawnError } from "./internal/distributionEngine.ts"
import { sendingChannel } from "./internal/wireForms.ts"

/**
 * Why a remote spawn failed: `UnknownBehaviour`, `InitFailed`, `NameTaken`, `NodeDown`,
 * `CallTimeout` or `RemoteDecodeError` (see {@link spawn}).
 *
 * @category errors
 * @since 0.1.0
 */
export type { SpawnError } from "./internal/distributionEngine.ts"

/**
 * Distribution statistics of this node, as in the deployment guides.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Distribution } from "effect-otp"
 *
 * const report = Effect.gen(function*() {
 *   const distribution = yield* Distribution.Distribution
 *   const stats = yield* distribution.stats
 *   yield* Effect.log(`${stats.remoteCall.pendingCalls} remote calls pending`)
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DistributionStats {
  readonly remoteCall: {
    readonly totalCalls: number
    readonly pendingCalls: number
    readonly totalCasts: number
    /** Failed calls by reason: node_down, timeout, noproc, exited, decode, full, defect. */
    readonly failures: Readonly<Record<string, number>>
  }
  readonly remoteSpawn: { readonly totalInitiated: number; readonly succeeded: number; readonly failed: number }
  readonly remoteMonitor: { readonly activeOutgoingCount: number; readonly activeIncomingCount: number }
  /** Links between local and remote processes. */
  readonly remoteLinks: number
  /**
   * Messages and calls from other nodes waiting behind full mailboxes: the link's reader cannot
   * wait, so they queue there, in order, at most 4,096 per sending node and target process (its
   * credit: see the README).
   */
  readonly parkedMessages: number
}

/**
 * Options of {@link spawn}.
 *
 * @example
 * ```ts
 * import { Distribution } from "effect-otp"
 *
 * const options: Distribution.SpawnOptions = { name: "worker-1", link: true, monitor: true, timeout: "10 seconds" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface SpawnOptions {
  /** Link the new process to the current process (which must be a process). */
  readonly link?: boolean | undefined
  /** Monitor the new process from the current process (which must be a process). */
  readonly monitor?: boolean | undefined
  /** Register the new process under this name on its node. */
  readonly name?: string | undefined
  /**
   * How long to wait for the remote `init`: a `Duration.Input` (a number is milliseconds). Default
   * 5 seconds; past it the spawn fails with `CallTimeout` and a server that starts later is killed.
   */
  readonly timeout?: Duration.Input | undefined
}

/**
 * The outcome of a remote spawn: the pid (typed by the behaviour's protocol), and the monitor ref
 * when `monitor` was asked for.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { BehaviourRegistry, Distribution, GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const CounterSpec = BehaviourRegistry.define(
 *   "counter",
 *   Schema.Number,
 *   GenServer.behaviour(Counter)({
 *     init: (n: number) => Effect.succeed(n),
 *     handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 *   })
 * )
 * const callSpawned = (spawned: Distribution.Spawned<typeof Counter>) => GenServer.call(spawned.pid, Counter.Get())
 * const read = Effect.flatMap(Distribution.spawn("b", CounterSpec, 1), callSpawned)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Spawned<P = unknown> {
  readonly pid: GenServer.ServerPid<P>
  readonly monitor: Signal.MonitorRef | undefined
}

/**
 * Distribution on this node.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Distribution } from "effect-otp"
 *
 * const pending = Effect.flatMap(Distribution.Distribution, (distribution) =>
 *   Effect.map(distribution.stats, (stats) => stats.remoteCall.pendingCalls)
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Distribution extends Context.Service<
  Distribution,
  {
    /** Counters of remote calls, spawns and monitors. */
    readonly stats: Effect.Effect<DistributionStats>
    /** See {@link spawn}. */
    readonly spawn: <Args, P, R>(
      node: string,
      spec: BehaviourRegistry.BehaviourSpec<Args, P, R>,
      args: Args,
      options?: SpawnOptions
    ) => Effect.Effect<Spawned<P>, SpawnError | NotAProcess>
    /** Pushes the counters into Effect metrics now (they are also pushed every second). */
    readonly syncMetrics: Effect.Effect<void>
    /** See {@link refuseNewWork}. */
    readonly refuseNewWork: Effect.Effect<void>
    /** See {@link awaitServedCalls}. */
    readonly awaitServedCalls: Effect.Effect<void>
    /** Calls from other nodes accepted here that someone still waits for (see {@link awaitServedCalls}). */
    readonly servingCalls: Effect.Effect<number>
  }
>()("effect-otp/Distribution") {}

/**
 * The first step of a graceful shutdown: from now on this node refuses the calls and spawns other
 * nodes send it. Their callers fail at once with `NodeDown` whose reason is `stopping` (a caller
 * that handles node loss, by retrying elsewhere, handles this too), instead of waiting for a node
 * that is about to leave. Calls already accepted are still served and answered (see
 * {@link awaitServedCalls}); sends, casts, monitors and links are not affected. It cannot be undone:
 * the node is leaving. `Node.runMain` calls it on SIGTERM.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Distribution } from "effect-otp"
 *
 * const drain = Effect.gen(function*() {
 *   yield* Distribution.refuseNewWork
 *   yield* Distribution.awaitServedCalls.pipe(Effect.timeout("10 seconds"))
 * })
 * ```
 *
 * @category shutdown
 * @since 0.1.0
 */
export const refuseNewWork: Effect.Effect<void, never, Distribution> = Distribution.use(
  (distribution) => distribution.refuseNewWork
)

/**
 * Waits until no call from another node is being served here that someone still waits for: every
 * call accepted so far has been answered (by a reply, a failure, or the server's exit), or its
 * caller can no longer take the answer. Succeeds at once when there is none. A call stops counting
 * when it is answered, when its caller's node goes down (or its link is lost), and once its
 * caller's timeout has passed, measured on this node's clock from the call's arrival (the caller
 * sends its timeout in the `Call` frame; so a long-poll call held with `noReply` counts only
 * while its caller still waits). The server itself is not told: it may still answer, to nobody.
 *
 * What still counts, and can hold the drain: a call from a node of an earlier release (it sends
 * no timeout), a call made with an infinite timeout, and a caller interrupted before its timeout
 * (its node does not tell this one). So it has no timeout of its own: bound it
 * (`Effect.timeout`), as the shutdown's drain phase does. After {@link refuseNewWork} no new call
 * is accepted, so the count only goes down.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Distribution } from "effect-otp"
 *
 * const drained = Distribution.awaitServedCalls.pipe(Effect.timeoutOption("5 seconds"))
 * ```
 *
 * @category shutdown
 * @since 0.1.0
 */
export const awaitServedCalls: Effect.Effect<void, never, Distribution> = Distribution.use(
  (distribution) => distribution.awaitServedCalls
)

/**
 * Starts, on `node`, a behaviour registered there (with `BehaviourRegistry`), with start arguments
 * encoded by its schema, and waits for its `init`, as `GenServer.start` does locally. The server
 * runs with the services of `node`'s layer. Resolves to its pid, typed by the behaviour's protocol.
 *
 * Fails with:
 * - `UnknownBehaviour`: `node` has not registered a behaviour of that name;
 * - `InitFailed`: `init` failed there (the reason travels back);
 * - `NameTaken`: `options.name` is taken on `node`;
 * - `NodeDown`: `node` is not connected, or went down before answering;
 * - `CallTimeout`: no answer within `options.timeout` (default 5 s); a server that starts
 *   afterwards is killed, so none runs unowned;
 * - `RemoteDecodeError`: the arguments do not encode, or `node` could not decode them;
 * - `NotAProcess`: `link` or `monitor` was asked for outside a process.
 *
 * With `link`, the new server is linked to the caller before it can exit; with `monitor`, the
 * caller receives its `Down` (with `noconnection` if `node` goes down).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { BehaviourRegistry, Distribution, GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const CounterSpec = BehaviourRegistry.define(
 *   "counter",
 *   Schema.Number,
 *   GenServer.behaviour(Counter)({
 *     init: (start: number) => Effect.succeed(start),
 *     handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 *   })
 * )
 *
 * const program = Effect.gen(function*() {
 *   const { pid } = yield* Distribution.spawn("b", CounterSpec, 41, { timeout: "2 seconds" })
 *   return yield* GenServer.call(pid, Counter.Get())
 * })
 * ```
 *
 * @category spawning
 * @since 0.1.0
 */
export const spawn = <Args, P, R>(
  node: string,
  spec: BehaviourRegistry.BehaviourSpec<Args, P, R>,
  args: Args,
  options?: SpawnOptions
): Effect.Effect<Spawned<P>, SpawnError | NotAProcess, Distribution> =>
  Distribution.use((distribution) => distribution.spawn(node, spec, args, options))

const metrics = {
  calls: Metric.counter("effect_otp_remote_calls_total", { description: "Remote GenServer calls started" }),
  casts: Metric.counter("effect_otp_remote_casts_total", { description: "Remote GenServer casts sent" }),
  pending: Metric.gauge("effect_otp_remote_calls_pending", { description: "Remote calls waiting for a reply" }),
  failures: Metric.counter("effect_otp_remote_call_failures_total", {
    description: "Failed remote calls, by reason"
  }),
  spawns: Metric.counter("effect_otp_remote_spawns_total", { description: "Remote spawns, by result" }),
  monitors: Metric.gauge("effect_otp_remote_monitors", { description: "Active remote monitors, by direction" }),
  links: Metric.gauge("effect_otp_remote_links", { description: "Links between local and remote processes" }),
  parked: Metric.gauge("effect_otp_remote_messages_parked", {
    description: "Messages from other nodes queued behind full mailboxes"
  }),
  callDuration: Metric.histogram("effect_otp_remote_call_duration_seconds", {
    description: "Duration of remote calls, from the call to its reply, failure or abandonment",
    boundaries: durationBounds
  })
}

const statsOf = (engine: DistributionEngine): DistributionStats => ({
  remoteCall: {
    totalCalls: engine.counters.totalCalls,
    pendingCalls: engine.pendingCalls.size,
    totalCasts: engine.counters.totalCasts,
    failures: { ...engine.counters.callFailures }
  },
  remoteSpawn: {
    totalInitiated: engine.counters.spawnsInitiated,
    succeeded: engine.counters.spawnsSucceeded,
    failed: engine.counters.spawnsFailed
  },
  remoteMonitor: {
    activeOutgoingCount: engine.outgoingMonitors.size,
    activeIncomingCount: engine.incomingMonitors.size
  },
  remoteLinks: engine.linkCount,
  parkedMessages: engine.parkedMessages
})

/** Pushes counter deltas since the last push into the Effect metrics. */
const metricsSync = (engine: DistributionEngine) => {
  let last = statsOf(engine)
  let first = true
  return Effect.suspend(() => {
    const now = statsOf(engine)
    const before = first ? undefined : last
    first = false
    last = now
    const delta = (current: number, previous: number | undefined) => current - (previous ?? 0)
    const failures = Object.entries(now.remoteCall.failures).map(([reason, count]) =>
      Metric.update(
        Metric.withAttributes(metrics.failures, { reason }),
        delta(count, before?.remoteCall.failures[reason])
      )
    )
    return Effect.all(
      [
        Metric.update(metrics.calls, delta(now.remoteCall.totalCalls, before?.remoteCall.totalCalls)),
        Metric.update(metrics.casts, delta(now.remoteCall.totalCasts, before?.remoteCall.totalCasts)),
        Metric.update(metrics.pending, now.remoteCall.pendingCalls),
        Metric.update(
          Metric.withAttributes(metrics.spawns, { result: "succeeded" }),
          delta(now.remoteSpawn.succeeded, before?.remoteSpawn.succeeded)
        ),
        Metric.update(
          Metric.withAttributes(metrics.spawns, { result: "failed" }),
          delta(now.remoteSpawn.failed, before?.remoteSpawn.failed)
        ),
        Metric.update(
          Metric.withAttributes(metrics.monitors, { direction: "outgoing" }),
          now.remoteMonitor.activeOutgoingCount
        ),
        Metric.update(
          Metric.withAttributes(metrics.monitors, { direction: "incoming" }),
          now.remoteMonitor.activeIncomingCount
        ),
        Metric.update(metrics.parked, now.parkedMessages),
        Metric.update(metrics.links, now.remoteLinks),
        ...failures
      ],
      { discard: true }
    )
  })
}

/**
 * Runs distribution for this node's runtime over the cluster's transport until the scope closes.
 * For custom layer compositions; {@link layer} and {@link layerOnCluster} use it.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Distribution } from "effect-otp"
 *
 * const DistributionOnly = Layer.effect(Distribution.Distribution, Distribution.make)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<
  Distribution["Service"],
  never,
  Scope.Scope | ProcessRuntime.ProcessRuntime | Cluster.Cluster | BehaviourRegistry.BehaviourRegistry
> = Effect.gen(function* () {
  const local = yield* LocalNode.current
  const cluster = yield* Cluster.Cluster
  const behaviours = yield* BehaviourRegistry.BehaviourRegistry
  const transport = cluster.transport
  const context = yield* Effect.context<never>()
  const timers = yield* Timers.current
  const fork = Effect.runForkWith(context)
  // Frames this node builds are typed by the schema and their encoded form is the value itself, so
  // sending skips the schema's encoder (about 1 µs a frame); received frames are still decoded.
  const channel = sendingChannel
  const engine = new DistributionEngine(
    local,
    {
      post: (node, frame) => transport.sendUnsafe(node, channel, frame),
      tryPost: (node, frame) => transport.trySend(node, channel, frame),
      // Callers have tried `tryPost` first: a second `trySend` would encode a large frame again.
      postWaiting: (node, frame) => transport.send(node, channel, frame),
      fork: (effect) => {
        const fiber = fork(effect)
        return () => fiber.interruptUnsafe()
      },
      isConnected: transport.isLinkedUnsafe,
      versionOf: (node) => transport.linkUnsafe(node)?.version
    },
    behaviours,
    (message) => void fork(Effect.logWarning(message)),
    timers,
    // Remotely spawned processes run with the node's logger, tracer, references and services.
    Context.omit(Scope.Scope)(context)
  )
  // Synchronously, the moment the link drops (whatever cut it: reset, heartbeat timeout, goodbye):
  // an event handled later could fail calls already sent on a newer link to the same node.
  yield* transport.onLinkEvent((event) => {
    if (event._tag === "LinkDown") engine.nodeDown(event.node.name, event.reason)
  })
  yield* Effect.acquireRelease(
    Effect.sync(() => local.attach(engine)),
    (detach) => Effect.sync(detach)
  )
  // Registered last, once the engine is attached: frames a peer sent since it saw this node up are
  // held by the transport until now and delivered here, to an engine ready for them. Only one
  // distribution per transport: a second registration is a programming error.
  yield* Effect.orDie(transport.register(channel, (frame, from) => engine.receive(frame, from.name)))
  // Credit smaller than a batch is granted back within a second, so no window stays short.
  yield* Effect.forkScoped(
    Effect.repeat(
      Effect.sync(() => engine.flushCredit()),
      Schedule.spaced("1 second")
    )
  )
  const syncMetrics = metricsSync(engine)
  yield* registerHistogram(metrics.callDuration, engine.counters.callDurations)
  yield* Effect.forkScoped(Effect.repeat(syncMetrics, Schedule.spaced("1 second")))
  return Distribution.of({
    stats: Effect.sync(() => statsOf(engine)),
    syncMetrics,
    refuseNewWork: Effect.sync(() => engine.refuseNewWork()),
    awaitServedCalls: Effect.callback<void>((resume) => {
      const cancel = engine.whenIdle(() => resume(Effect.void))
      return Effect.sync(cancel)
    }),
    servingCalls: Effect.sync(() => engine.servingCalls),
    spawn: <Args, P, R>(
      node: string,
      spec: BehaviourRegistry.BehaviourSpec<Args, P, R>,
      args: Args,
      options?: SpawnOptions
    ): Effect.Effect<Spawned<P>, SpawnError | NotAProcess> =>
      Effect.flatMap(local.current, (current): Effect.Effect<Spawned<P>, SpawnError | NotAProcess> => {
        if ((options?.link === true || options?.monitor === true) && current === undefined) {
          return Effect.fail(new NotAProcess({ operation: "Distribution.spawn with link or monitor" }))
        }
        const monitorFrom = options?.monitor === true ? { watcher: current!, ref: local.newMonitorRef() } : undefined
        // A `spawn <behaviour>` CLIENT span; the spawning node makes the SERVER span, its child.
        return Effect.withFiber((fiber) =>
          tracedOperation(
            fiber,
            true,
            (span) =>
              Effect.map(
                engine.spawn(node, spec as BehaviourRegistry.BehaviourSpec<unknown>, args, {
                  name: options?.name,
                  linkTo: options?.link === true ? current : undefined,
                  monitorFrom,
                  timeout: Timers.toMillis(options?.timeout ?? 5000),
                  span
                }),
                (pid): Spawned<P> => ({ pid: pid as GenServer.ServerPid<P>, monitor: monitorFrom?.ref })
              ),
            `spawn ${spec.name}`,
            "client",
            () => ({
              "rpc.system.name": systemName,
              "rpc.method": "spawn",
              "server.address": node,
              [Attr.node]: local.name,
              [Attr.peer]: node,
              [Attr.behaviour]: spec.name,
              ...(options?.name === undefined ? {} : { [Attr.name]: options.name })
            }),
            (spawned) => spawned.pid
          )
        )
      })
  })
})

/**
 * Options of {@link layer} and {@link layerOnCluster}.
 *
 * @example
 * ```ts
 * import { Distribution } from "effect-otp"
 *
 * const options: Distribution.NodeOptions = { runtime: { mailboxCapacity: 50_000, shutdownTimeout: "30 seconds" } }
 * const NodeLive = Distribution.layer({ nodeName: "a", port: 4370, secret: "s3cret" }, options)
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface NodeOptions<Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec> = []> {
  /**
   * Behaviours other nodes may start here. The node's layer requires the services they need (see
   * `BehaviourRegistry.layer`), and the servers spawned here run with them.
   */
  readonly behaviours?: Specs | undefined
  /** Options of this node's process runtime (its node name and incarnation come from the cluster). */
  readonly runtime?: Omit<ProcessRuntime.ProcessRuntimeOptions, "node" | "incarnation"> | undefined
}

/**
 * A whole distributed node: cluster membership, a process runtime whose pids carry the node's
 * name and incarnation, and distribution between them. Releasing the layer stops the local
 * processes, then leaves the cluster gracefully. It also provides the node's `BehaviourRegistry`
 * (which `RemoteSupervisor` and `DistributedSupervisor` read to start children here).
 *
 * The layer requires the services of the behaviours it registers: provide them to it once, and
 * every server other nodes spawn here gets them. Forgetting one is a compile error where the
 * layer is used (`Type 'Database' is not assignable to type 'never'`).
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import { BehaviourRegistry, Distribution, GenServer, Protocol } from "effect-otp"
 *
 * class Database extends Context.Service<
 *   Database,
 *   { readonly query: (sql: string) => Effect.Effect<string> }
 * >()("app/Database") {}
 *
 * const Report = Protocol.make({ Run: Protocol.call({ payload: { sql: Schema.String }, success: Schema.String }) })
 * const ReportSpec = BehaviourRegistry.define(
 *   "report",
 *   Schema.Void,
 *   GenServer.behaviour(Report)({
 *     init: () => Effect.succeed(undefined),
 *     handleCall: {
 *       Run: ({ sql }, state) =>
 *         Effect.map(Effect.flatMap(Database, (db) => db.query(sql)), (rows) => GenServer.reply(rows, state))
 *     }
 *   })
 * )
 *
 * const NodeLive = Distribution.layer(
 *   { nodeName: "a", port: 4370, secret: "s3cret", seeds: ["b@127.0.0.1:4371"] },
 *   { behaviours: [ReportSpec] }
 * ).pipe(Layer.provide(Layer.succeed(Database, { query: (sql) => Effect.succeed(`rows of ${sql}`) })))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <const Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec> = []>(
  config: ClusterConfig,
  options?: NodeOptions<Specs>
): Layer.Layer<
  Distribution | ProcessRuntime.ProcessRuntime | Cluster.Cluster | Transport | BehaviourRegistry.BehaviourRegistry,
  InvalidClusterConfig | ListenFailed,
  BehaviourRegistry.Services<Specs[number]>
> =>
  // The process runtime is built after the cluster (it takes the cluster's name and incarnation),
  // then plugs its process count into the cluster's heartbeats.
  layerWith(Cluster.layer(config), options)

/**
 * Distribution over a cluster provided from elsewhere (e.g. membership on a `MemoryTransport` in
 * tests). The process runtime is built here from the cluster's identity.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Cluster, Distribution, MemoryNetwork, MemoryTransport } from "effect-otp"
 *
 * const network = MemoryNetwork.make()
 * const NodeA = Distribution.layerOnCluster(
 *   Cluster.layerOn({ nodeName: "a", insecure: true, seeds: ["b@b:0"] }).pipe(
 *     Layer.provide(MemoryTransport.layer(network, { name: "a" }))
 *   )
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerOnCluster = <E, R, const Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec> = []>(
  cluster: Layer.Layer<Cluster.Cluster, E, R>,
  options?: NodeOptions<Specs>
): Layer.Layer<
  Distribution | ProcessRuntime.ProcessRuntime | Cluster.Cluster | BehaviourRegistry.BehaviourRegistry,
  E,
  R | BehaviourRegistry.Services<Specs[number]>
> => layerWith(cluster, options)

const layerWith = <C, E, R, Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec>>(
  clusterLayer: Layer.Layer<C | Cluster.Cluster, E, R>,
  options: NodeOptions<Specs> | undefined
) => {
  const runtimeLayer = Layer.effect(
    ProcessRuntime.ProcessRuntime,
    Effect.flatMap(Effect.service(Cluster.Cluster), (cluster) =>
      Effect.tap(
        ProcessRuntime.make({ ...options?.runtime, node: cluster.local.name, incarnation: cluster.local.incarnation }),
        // Heartbeats report the runtime's process count (unless the cluster's configuration sets one).
        (runtime) => cluster.countProcesses(Effect.sync(() => runtime.processCount))
      )
    )
  )
  const behaviours = (options?.behaviours ?? []) as Specs
  return Layer.effect(Distribution, make).pipe(
    Layer.provideMerge(BehaviourRegistry.layer(behaviours)),
    Layer.provideMerge(runtimeLayer),
    Layer.provideMerge(clusterLayer)
  )
}
