/**
 * The Observer's queries for the whole cluster: a snapshot, a top-N table or one process, answered
 * by every connected node (and this one) in parallel, each within a per-node timeout.
 *
 * Each node runs an Observer system process, a GenServer registered under the reserved name
 * `effect_otp_observer` (started by {@link layer} under its own supervisor,
 * `effect_otp_observer_sup`, which starts it again if it crashes or is killed), which answers from
 * that node's `Observer`.
 * Questions travel through distribution with Schema-typed requests and replies, like any remote
 * call. A result names every node it knows of, with either its answer or why there is none:
 * - `timeout`: no answer within the per-node timeout (a node that is up but stalled or
 *   overloaded);
 * - `node_down`: the node is not connected, or went down while it was asked, or membership saw it
 *   go down in the last `forgetDownAfter` (default 5 minutes; such a node is named without being
 *   asked, with how long ago and why: `connection_closed`, `heartbeat_timeout`, `graceful_shutdown`);
 * - `no_observer`: the node is connected but runs no Observer system process;
 * - `failed`: the query failed there (a reply that did not decode, a crash of its system process).
 * Nothing is silently missing, and a query never waits longer than its timeout for the slowest node.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Result, Schema } from "effect"
import * as Cluster from "../Cluster/Cluster.ts"
import * as GenServer from "../Process/GenServer.ts"
import * as ChildSpec from "../Supervisor/ChildSpec.ts"
import * as Supervisor from "../Supervisor/Supervisor.ts"
import { NoProcess } from "../Process/Errors.ts"
import type * as Pid from "../Process/Pid.ts"
import type * as ProcessRuntime from "../Process/ProcessRuntime.ts"
import { askAll, classify, type Asked } from "./internal/observerClusterFanout.ts"
import * as Members from "./internal/observerClusterMembers.ts"
import * as Server from "./internal/observerClusterServer.ts"
import * as Observer from "./Observer.ts"

/**
 * The name the Observer system process is registered under on every node. Reserved: an
 * application that registers it itself makes {@link layer} fail to build (a defect).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ObserverCluster, Registry } from "effect-otp"
 *
 * const running = Effect.map(Registry.whereis(ObserverCluster.systemName), (pid) => pid._tag === "Some")
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const systemName: string = Server.SYSTEM_NAME

/**
 * The most processes a node includes in a cluster snapshot (see {@link SnapshotOptions}).
 *
 * @example
 * ```ts
 * import { ObserverCluster } from "effect-otp"
 *
 * const options: ObserverCluster.SnapshotOptions = { processLimit: ObserverCluster.maxSnapshotProcesses }
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const maxSnapshotProcesses: number = Server.MAX_SNAPSHOT_PROCESSES

/**
 * Why a node has no answer in a cluster-wide result: `timeout`, `node_down`, `no_observer` or
 * `failed` (see the module documentation).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ObserverCluster } from "effect-otp"
 *
 * Schema.decodeUnknownSync(ObserverCluster.UnreachableReason)("timeout") // "timeout"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const UnreachableReason = Schema.Literals(["timeout", "node_down", "no_observer", "failed"])

/**
 * Why a node has no answer in a cluster-wide result (see the `UnreachableReason` schema).
 *
 * @example
 * ```ts
 * import type { ObserverCluster } from "effect-otp"
 *
 * const retryable = (reason: ObserverCluster.UnreachableReason): boolean => reason === "timeout"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type UnreachableReason = typeof UnreachableReason.Type

/**
 * A node of the cluster that gave no answer: its name, why, a sentence for people, and how long
 * the question took (0 for a node known to be down, which is not asked).
 *
 * @example
 * ```ts
 * import { ObserverCluster } from "effect-otp"
 *
 * const entry = new ObserverCluster.Unreachable({
 *   node: "c",
 *   reason: "node_down",
 *   message: "c went down 3 s ago (connection_closed)",
 *   elapsedMs: 0
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class Unreachable extends Schema.TaggedClass<Unreachable>()("Unreachable", {
  node: Schema.String,
  reason: UnreachableReason,
  message: Schema.String,
  elapsedMs: Schema.Number
}) {}

/**
 * A node's snapshot in a {@link ClusterSnapshot}, with how long it took to arrive. Its `processes`
 * are the first `processLimit` of the node's processes in spawn order (see {@link SnapshotOptions});
 * `omittedProcesses` counts the ones left out (`snapshot.node.processCount` counts them all).
 *
 * @example
 * ```ts
 * import { ObserverCluster } from "effect-otp"
 *
 * const nodeNames = (snapshot: ObserverCluster.ClusterSnapshot) =>
 *   snapshot.answered.map((answer: ObserverCluster.SnapshotAnswer) => answer.node)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class SnapshotAnswer extends Schema.TaggedClass<SnapshotAnswer>()("Answered", {
  node: Schema.String,
  elapsedMs: Schema.Number,
  omittedProcesses: Schema.Number,
  snapshot: Observer.NodeSnapshot
}) {}

/**
 * The snapshots of every node: one entry per node, this node first, then the others by name,
 * each a {@link SnapshotAnswer} or an {@link Unreachable}. `node` is the node that asked;
 * `takenAt` its wall-clock time (epoch milliseconds, for people); `timeoutMs` the per-node timeout.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ObserverCluster } from "effect-otp"
 *
 * const report = Effect.gen(function*() {
 *   const cluster = yield* ObserverCluster.snapshot({ timeout: "1 second" })
 *   for (const node of cluster.unreachable) yield* Effect.logWarning(`${node.node}: ${node.message}`)
 *   return cluster.answered.length
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class ClusterSnapshot extends Schema.Class<ClusterSnapshot>("effect-otp/ClusterSnapshot")({
  node: Schema.String,
  takenAt: Schema.Number,
  timeoutMs: Schema.Number,
  nodes: Schema.Array(Schema.Union([SnapshotAnswer, Unreachable]))
}) {
  /** The nodes that answered. */
  get answered(): ReadonlyArray<SnapshotAnswer> {
    return this.nodes.filter((entry): entry is SnapshotAnswer => entry._tag === "Answered")
  }
  /** The nodes that did not, with why. */
  get unreachable(): ReadonlyArray<Unreachable> {
    return this.nodes.filter((entry): entry is Unreachable => entry._tag === "Unreachable")
  }
}

/**
 * A node's top-N table in a {@link ClusterTop}.
 *
 * @example
 * ```ts
 * import { ObserverCluster } from "effect-otp"
 *
 * const sizes = (answer: ObserverCluster.TopAnswer) => answer.processes.length
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class TopAnswer extends Schema.TaggedClass<TopAnswer>()("Answered", {
  node: Schema.String,
  elapsedMs: Schema.Number,
  processes: Schema.Array(Observer.ProcessInfo)
}) {}

/**
 * The top-N processes of every node by `by`: one entry per node, as in {@link ClusterSnapshot};
 * `processes` merges the answers into the cluster's own top `limit` (largest first).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ObserverCluster } from "effect-otp"
 *
 * const busiest = Effect.map(ObserverCluster.top({ by: "busy", limit: 5 }), (top) =>
 *   top.processes.map((process) => String(process.pid))
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class ClusterTop extends Schema.Class<ClusterTop>("effect-otp/ClusterTop")({
  node: Schema.String,
  takenAt: Schema.Number,
  timeoutMs: Schema.Number,
  by: Server.TopBy,
  limit: Schema.Number,
  processes: Schema.Array(Observer.ProcessInfo),
  nodes: Schema.Array(Schema.Union([TopAnswer, Unreachable]))
}) {
  /** The nodes that answered. */
  get answered(): ReadonlyArray<TopAnswer> {
    return this.nodes.filter((entry): entry is TopAnswer => entry._tag === "Answered")
  }
  /** The nodes that did not, with why. */
  get unreachable(): ReadonlyArray<Unreachable> {
    return this.nodes.filter((entry): entry is Unreachable => entry._tag === "Unreachable")
  }
}

const sortKey: Record<TopBy, (info: Observer.ProcessInfo) => number> = {
  mailbox: (info) => info.mailboxSize,
  busy: (info) => info.busyShare,
  rate: (info) => info.messagesPerSecond
}

/**
 * How a top-N table is sorted: by mailbox size, by the share of the last window spent in handlers
 * (`busy`), or by messages handled per second over the last window (`rate`).
 *
 * @example
 * ```ts
 * import type { ObserverCluster } from "effect-otp"
 *
 * const orders: ReadonlyArray<ObserverCluster.TopBy> = ["mailbox", "busy", "rate"]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type TopBy = typeof Server.TopBy.Type

/**
 * The process asked for lives on a node that did not answer (see {@link process}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ObserverCluster, Pid } from "effect-otp"
 *
 * const detail = ObserverCluster.process(Pid.make("b", 7, 1)).pipe(
 *   Effect.catchTag("ProcessUnreachable", (error) => Effect.succeed(error.message))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ProcessUnreachable extends Schema.TaggedError<ProcessUnreachable>()("ProcessUnreachable", {
  node: Schema.String,
  reason: UnreachableReason,
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/**
 * Options of a cluster-wide query.
 *
 * @example
 * ```ts
 * import { ObserverCluster } from "effect-otp"
 *
 * const options: ObserverCluster.QueryOptions = { timeout: "500 millis" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface QueryOptions {
  /**
   * How long each node has to answer: a `Duration.Input` (a number is milliseconds). Default: the
   * layer's `timeout` (2 seconds unless configured).
   */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Options of {@link snapshot}.
 *
 * @example
 * ```ts
 * import { ObserverCluster } from "effect-otp"
 *
 * // Every process of every node: allow for the time it takes (about 1 s per 10,000 remote processes).
 * const options: ObserverCluster.SnapshotOptions = { processLimit: Infinity, timeout: "10 seconds" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface SnapshotOptions extends QueryOptions {
  /**
   * How many processes each node includes, the first in spawn order (its oldest: supervisors and
   * long-lived servers; only those are built). Default 1,000, at most 20,000 (`Infinity` means
   * that many): a snapshot crosses the wire as one message, which must stay under the receiving
   * node's message limit (8 MiB by default), and its encoding takes time (about 1 s per 10,000
   * processes on a 2-core machine). The rest are counted in `omittedProcesses`; to find the
   * processes that matter on a large node, ask {@link top} instead.
   */
  readonly processLimit?: number | undefined
}

/**
 * Options of {@link top}.
 *
 * @example
 * ```ts
 * import { ObserverCluster } from "effect-otp"
 *
 * const options: ObserverCluster.TopOptions = { by: "mailbox", limit: 10, timeout: 1000 }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface TopOptions extends QueryOptions {
  readonly by: TopBy
  /** How many processes per node (and in the merged table). */
  readonly limit: number
  /**
   * For `rate` and `busy`: each node measures over this window (milliseconds) instead of the last
   * one its processes keep, so it answers that much later: keep the timeout longer than the window.
   */
  readonly windowMs?: number | undefined
}

/**
 * The cluster-wide Observer of this node.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ObserverCluster } from "effect-otp"
 *
 * const count = Effect.flatMap(ObserverCluster.ObserverCluster, (observer) =>
 *   Effect.map(observer.snapshot(), (cluster) => cluster.nodes.length)
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class ObserverCluster extends Context.Service<
  ObserverCluster,
  {
    /** See {@link snapshot}. */
    readonly snapshot: (options?: SnapshotOptions) => Effect.Effect<ClusterSnapshot>
    /** See {@link top}. */
    readonly top: (options: TopOptions) => Effect.Effect<ClusterTop>
    /** See {@link process}. */
    readonly process: (
      pid: Pid.Pid,
      options?: QueryOptions
    ) => Effect.Effect<Observer.ProcessDetail, NoProcess | ProcessUnreachable>
  }
>()("effect-otp/ObserverCluster") {}

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import { ObserverCluster } from "effect-otp"
 *
 * const options: ObserverCluster.ObserverClusterOptions = { timeout: "1 second", forgetDownAfter: "10 minutes" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface ObserverClusterOptions {
  /** The default per-node timeout of the queries. Default 2 seconds. */
  readonly timeout?: Duration.Input | undefined
  /**
   * How long a node seen going down is still named (as `node_down`) in the results. Default 5
   * minutes; a node that comes back is asked again at once.
   */
  readonly forgetDownAfter?: Duration.Input | undefined
}

const DEFAULT_PROCESS_LIMIT = 1000

const millis = (input: Duration.Input | undefined, otherwise: number): number =>
  input === undefined ? otherwise : Duration.toMillis(input)

const unreachableOf = (asked: Asked<unknown>, failure: { reason: UnreachableReason; message: string }) =>
  new Unreachable({ node: asked.node, reason: failure.reason, message: failure.message, elapsedMs: asked.elapsedMs })

/**
 * Starts this node's Observer system process (registered as {@link systemName}) and provides the
 * cluster-wide queries, for as long as the layer lives. It needs the node's `Observer`, its
 * process runtime and its cluster membership (and distribution, to reach the other nodes).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Distribution, Observer, ObserverCluster } from "effect-otp"
 *
 * const NodeLive = Distribution.layer({ nodeName: "a", port: 4370, secret: "s3cret", seeds: ["b@10.0.0.2:4370"] })
 * const ObserverLive = ObserverCluster.layer({ timeout: "1 second" }).pipe(
 *   Layer.provideMerge(Observer.layer),
 *   Layer.provideMerge(NodeLive)
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options?: ObserverClusterOptions
): Layer.Layer<ObserverCluster, never, Observer.Observer | ProcessRuntime.ProcessRuntime | Cluster.Cluster> =>
  Layer.effect(
    ObserverCluster,
    Effect.gen(function* () {
      const defaultTimeoutMs = millis(options?.timeout, 2000)
      const cluster = yield* Cluster.Cluster
      const observer = yield* Observer.Observer
      const context = yield* Effect.context<ProcessRuntime.ProcessRuntime>()
      const members = yield* Members.track(cluster, millis(options?.forgetDownAfter, 5 * 60_000))
      const workers = yield* Server.makeWorkers(yield* Effect.scope)
      // Supervised: a system process that crashes or is killed is started again under its name.
      yield* Supervisor.startScoped(
        {
          strategy: "one_for_one",
          maxRestarts: 10,
          within: "10 seconds",
          children: [
            ChildSpec.genServer("observer", Server.behaviour(observer, workers), undefined, {
              name: GenServer.name(Server.SYSTEM_NAME, Server.ObserverProtocol)
            })
          ]
        },
        { name: `${Server.SYSTEM_NAME}_sup` }
      ).pipe(Effect.orDie)
      const self = cluster.local.name
      const timeoutOf = (query: QueryOptions | undefined) => millis(query?.timeout, defaultTimeoutMs)
      const call = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) =>
        Effect.provideContext(effect, context)
      const ask = <A, E>(
        timeoutMs: number,
        question: (node: string) => Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>
      ) => askAll(members.targets(), timeoutMs, (node) => call(question(node)))

      return ObserverCluster.of({
        snapshot: (query) => {
          const timeoutMs = timeoutOf(query)
          const limit = query?.processLimit ?? DEFAULT_PROCESS_LIMIT
          const processLimit = Math.min(Server.MAX_SNAPSHOT_PROCESSES, Math.max(0, Math.floor(limit)))
          return Effect.gen(function* () {
            const takenAt = yield* Clock.currentTimeMillis
            const answers = yield* ask(timeoutMs, (node) =>
              GenServer.call(Server.systemProcessOn(node), Server.ObserverProtocol.Snapshot({ processLimit }), {
                timeout: timeoutMs
              })
            )
            return new ClusterSnapshot({
              node: self,
              takenAt,
              timeoutMs,
              nodes: answers.map((asked) =>
                Result.isSuccess(asked.result)
                  ? new SnapshotAnswer({
                      node: asked.node,
                      elapsedMs: asked.elapsedMs,
                      omittedProcesses: asked.result.success.omitted,
                      snapshot: asked.result.success.snapshot
                    })
                  : unreachableOf(asked, asked.result.failure)
              )
            })
          })
        },
        top: (query) => {
          const timeoutMs = timeoutOf(query)
          const limit = Math.max(0, Math.floor(query.limit))
          return Effect.gen(function* () {
            const takenAt = yield* Clock.currentTimeMillis
            const answers = yield* ask(timeoutMs, (node) =>
              GenServer.call(
                Server.systemProcessOn(node),
                Server.ObserverProtocol.Top({ by: query.by, limit, windowMs: query.windowMs }),
                {
                  timeout: timeoutMs
                }
              )
            )
            const nodes = answers.map((asked) =>
              Result.isSuccess(asked.result)
                ? new TopAnswer({ node: asked.node, elapsedMs: asked.elapsedMs, processes: asked.result.success })
                : unreachableOf(asked, asked.result.failure)
            )
            const key = sortKey[query.by]
            const processes = nodes
              .flatMap((entry) => (entry._tag === "Answered" ? entry.processes : []))
              .sort((a, b) => key(b) - key(a))
              .slice(0, limit)
            return new ClusterTop({ node: self, takenAt, timeoutMs, by: query.by, limit, processes, nodes })
          })
        },
        process: (pid, query) => {
          // A pid of this node: the local Observer answers at once, with no system process between.
          if (pid.node === self) return observer.process(pid)
          const timeoutMs = timeoutOf(query)
          return call(
            GenServer.call(Server.systemProcessOn(pid.node), Server.ObserverProtocol.Process({ pid }), {
              timeout: timeoutMs
            })
          ).pipe(
            Effect.catch((error): Effect.Effect<never, NoProcess | ProcessUnreachable> => {
              // The node answered that the pid is not alive there: the caller's NoProcess.
              if (error instanceof Server.NotAlive) return Effect.fail(new NoProcess({ target: String(pid) }))
              const failure = classify(pid.node, timeoutMs, error)
              return Effect.fail(
                new ProcessUnreachable({ node: pid.node, reason: failure.reason, detail: failure.message })
              )
            })
          )
        }
      })
    })
  )

/**
 * The snapshots of every node (see the module documentation for who is asked and how missing
 * answers are named). Takes at most the per-node timeout (default: the layer's, 2 seconds), however
 * many nodes do not answer. Never fails: unreachable nodes are entries of the result.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ObserverCluster } from "effect-otp"
 *
 * const processes = Effect.map(ObserverCluster.snapshot({ timeout: 500 }), (cluster) =>
 *   cluster.answered.reduce((sum, answer) => sum + answer.snapshot.processes.length, 0)
 * )
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const snapshot = (options?: SnapshotOptions): Effect.Effect<ClusterSnapshot, never, ObserverCluster> =>
  ObserverCluster.use((observer) => observer.snapshot(options))

/**
 * The top `limit` processes of every node by `by` (each node computes its own table, without
 * building its whole snapshot), and the cluster's merged top `limit` in `processes`. Same timeout
 * and naming of missing nodes as {@link snapshot}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ObserverCluster } from "effect-otp"
 *
 * const fullest = Effect.map(ObserverCluster.top({ by: "mailbox", limit: 10 }), (top) => top.processes[0])
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const top = (options: TopOptions): Effect.Effect<ClusterTop, never, ObserverCluster> =>
  ObserverCluster.use((observer) => observer.top(options))

/**
 * One process in detail: a pid of this node from the local Observer directly, a pid of another
 * node asked of that node's system process. Fails with
 * `NoProcess` when that node answers that the process is not alive, and with
 * {@link ProcessUnreachable} when the node does not answer within the timeout, is down, or runs no
 * Observer system process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ObserverCluster, Pid } from "effect-otp"
 *
 * const detail = ObserverCluster.process(Pid.make("b", 7, 1), { timeout: "1 second" }).pipe(
 *   Effect.catchTag("NoProcess", () => Effect.succeed(undefined))
 * )
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const process = (
  pid: Pid.Pid,
  options?: QueryOptions
): Effect.Effect<Observer.ProcessDetail, NoProcess | ProcessUnreachable, ObserverCluster> =>
  ObserverCluster.use((observer) => observer.process(pid, options))
