/**
 * A supervisor whose children run on cluster nodes: each child is placed by a selector
 * (`local_first`, `round_robin`, `least_loaded` by process count, `random`, or a function of the
 * live nodes) and started there from the `BehaviourRegistry` (a linked remote spawn, or a local
 * `GenServer.startLink` when the selector picks this node).
 *
 * Semantics, as exactly as OTP states its own:
 * - The supervisor is a process on the node that starts it. It traps exits and is linked to every
 *   child: a child that exits is restarted according to its restart type (`permanent` always,
 *   `transient` unless it exited `normal` or `shutdown`, `temporary` never: it is forgotten),
 *   one for one, on the node the selector picks then.
 * - Restart intensity: more than `maxRestarts` restarts within `within` (default 3 in 5 s) and the
 *   supervisor stops every child and exits with the reason `Supervisor.maxIntensityReason`.
 * - When a child's node goes down (its exit arrives as `noconnection`, within the failure-detection
 *   bound: heartbeat interval x miss threshold), the child is started on a surviving node, this
 *   node included. Such moves do not count toward the intensity: losing a node holding ten children
 *   must not stop the supervisor. A `transient` child is moved too (`noconnection` is abnormal).
 * - A start that cannot happen on the chosen node (node down, behaviour not registered there,
 *   init timeout) is tried on the selector's next choice among the remaining nodes. When no node
 *   can take it, the initial start fails with `PlacementFailed`; a restart is tried again after
 *   `retryAfter` (default 500 ms), each try counting toward the intensity.
 * - Stopping the supervisor stops its children in reverse start order, each with a `shutdown`
 *   exit signal, killed after its shutdown time (default 5 s).
 * - If the supervisor's own node goes down, its links break: children on other nodes get a
 *   `noconnection` exit signal and exit (they are not orphaned); {@link singleton} runs a
 *   supervisor that is itself a cluster singleton.
 * - A graceful leave of a node ({@link handoff}, {@link handoffOnLeave}) moves its children
 *   elsewhere; those whose behaviour was made with {@link defineHandoff} carry their state, and the
 *   messages sent to them by their global name meanwhile are forwarded, in order, each handled once.
 *
 * `whichChildren` and `countChildren` answer across nodes (their replies are Schemas); the
 * lifecycle events are a `Stream` on the node that started the supervisor.
 *
 * @since 0.1.0
 */
import { type Duration, Effect, Option, PubSub, Random, type Schema, Scope, Stream } from "effect"
import { toMillis } from "../internal/timers.ts"
import type { NameTaken, NoProcess } from "../Process/Errors.ts"
import * as GenServer from "../Process/GenServer.ts"
import type { Pid } from "../Process/Pid.ts"
import * as Process from "../Process/Process.ts"
import { ProcessRuntime } from "../Process/ProcessRuntime.ts"
import type { RestartType, Shutdown } from "../Supervisor/ChildSpec.ts"
import { type ChildAlreadyStarted, type ChildNotFound, InvalidSupervisorFlags } from "../Supervisor/Errors.ts"
import type { CurrentProcess } from "../Process/CurrentProcess.ts"
import { BehaviourRegistry, type BehaviourSpec, define } from "./BehaviourRegistry.ts"
import { Cluster } from "./Cluster.ts"
import { Distribution } from "./Distribution.ts"
import { GlobalRegistry } from "./GlobalRegistry.ts"
import * as model from "./internal/distSupModel.ts"
import type * as placement from "./internal/distSupPlacement.ts"
import * as Handoff from "./internal/distSupHandoff.ts"
import { LeaveHooks } from "./internal/distSupLeave.ts"
import { type ResolvedChild, server } from "./internal/distSupServer.ts"
import { standby as standbyLoop } from "./internal/distSupSingleton.ts"

/**
 * A node a child may be placed on, as a selector function sees it: its name, its process count
 * (exact for this node, from the last heartbeat for the others), and whether it is this node.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const busiest = (candidates: ReadonlyArray<DistributedSupervisor.Candidate>) =>
 *   candidates.reduce((a, b) => (b.processCount > a.processCount ? b : a)).node
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Candidate = placement.Candidate

/**
 * How a child's node is chosen among this node and the nodes up (sorted by name):
 * - `local_first`: this node (the others only when it cannot take the child);
 * - `round_robin`: the next node in turn (one counter per supervisor);
 * - `least_loaded`: the node running the fewest processes (ties: the first by name);
 * - `random`: any, uniformly (Effect's `Random`, so `TestRandom` makes it repeatable);
 * - a function of the candidates and the child's id returning a node's name (a name that is not a
 *   candidate, or `undefined`, means no node: the start fails with `PlacementFailed`).
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const notOnA: DistributedSupervisor.Selector = (candidates) => candidates.find((c) => c.node !== "a")?.node
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Selector = placement.Selector

/**
 * One child: its id, the behaviour it runs (registered on the nodes it may be placed on), its
 * start arguments, restart type, an optional local registered name on its node, the time allowed
 * for its `init` (default 5 s), and its shutdown (default 5 s; `brutal` kills at once).
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * declare const spec: DistributedSupervisor.DistributedChildSpec<number, unknown>
 * console.log(spec.id, spec.behaviour.name)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DistributedChildSpec<Args, P = unknown> {
  readonly id: string
  readonly behaviour: BehaviourSpec<Args, P, unknown>
  readonly args: Args
  readonly restart?: RestartType | undefined
  readonly name?: string | undefined
  readonly startTimeout?: Duration.Input | undefined
  readonly shutdown?: Shutdown | undefined
  /**
   * Register the child under this global name (needs `GlobalRegistry.layer`) each time it starts: a
   * call by `GlobalRegistry.name(globalName)` reaches it wherever it runs, after moves included.
   * A supervisor that starts (or takes over, see {@link singleton}) while a live process holds the
   * name adopts that process as the child instead of starting another.
   */
  readonly globalName?: string | undefined
  /**
   * Hand the child off with its state when its node leaves gracefully ({@link handoff}): default
   * `true` when its behaviour was made with {@link defineHandoff}, which a child may turn off with
   * `false` (it is then stopped and started afresh elsewhere). Without `defineHandoff` it has no
   * effect. A child that crashes, or whose node is lost (kill -9), always restarts afresh.
   */
  readonly handoff?: boolean | undefined
}

/**
 * Options of {@link child}.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const options: DistributedSupervisor.ChildOptions = { restart: "transient", name: "worker-1" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ChildOptions = Omit<DistributedChildSpec<unknown>, "id" | "behaviour" | "args">

/**
 * A child spec of the behaviour `behaviour` with `args`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { BehaviourRegistry, DistributedSupervisor, GenServer, Protocol } from "effect-otp"
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
 * const counter1 = DistributedSupervisor.child("counter-1", CounterSpec, 0, { restart: "permanent" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const child = <Args, P, R>(
  id: string,
  behaviour: BehaviourSpec<Args, P, R>,
  args: Args,
  options?: ChildOptions
): DistributedChildSpec<Args, P> => ({
  ...options,
  id,
  behaviour: behaviour as BehaviourSpec<Args, P, unknown>,
  args
})

/**
 * A distributed supervisor's flags and initial children.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const spec: DistributedSupervisor.DistributedSupervisorSpec = {
 *   selector: "least_loaded",
 *   maxRestarts: 5,
 *   within: "10 seconds",
 *   children: []
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DistributedSupervisorSpec {
  /** Default `round_robin`. */
  readonly selector?: Selector | undefined
  /** Default 3. */
  readonly maxRestarts?: number | undefined
  /** Default 5 seconds. */
  readonly within?: Duration.Input | undefined
  /** Delay before a restart that found no node is tried again. Default 500 ms. */
  readonly retryAfter?: Duration.Input | undefined
  readonly children?: ReadonlyArray<DistributedChildSpec<unknown, unknown>> | undefined
  /**
   * How long an instance that was handed off keeps forwarding, to its successor, the messages that
   * were sent to it by its global name before the name moved (see {@link handoff}). Default 1 s.
   */
  readonly handoffLinger?: Duration.Input | undefined
  /** Events buffered per subscriber; one that falls further behind loses the oldest. Default 1,024. */
  readonly eventBuffer?: number | undefined
}

/**
 * A child as {@link whichChildren} reports it: `running` with its pid and node, or `restarting`
 * (between an exit and the restart, or while no node could take it).
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const where = (child: DistributedSupervisor.ChildInfo) => `${child.id} on ${child.node ?? "no node yet"}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ChildInfo = model.ChildInfo

/**
 * What {@link countChildren} reports: specs held, children running, and running children by node.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const onB = (counts: DistributedSupervisor.ChildCounts) => counts.byNode["b"] ?? 0
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ChildCounts = model.ChildCounts

/**
 * A child was started (initially, or by {@link startChild}) on `node`.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const isStart = (event: DistributedSupervisor.Event) => event instanceof DistributedSupervisor.ChildStarted
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const ChildStarted = model.ChildStarted

/**
 * @category events
 * @since 0.1.0
 */
export type ChildStarted = model.ChildStarted

/**
 * A child exited, with its reason (`noconnection` when its node was lost).
 *
 * @example
 * ```ts
 * import { DistributedSupervisor, ExitReason } from "effect-otp"
 *
 * const describe = (event: DistributedSupervisor.ChildExited) => `${event.id}: ${ExitReason.format(event.reason)}`
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const ChildExited = model.ChildExited

/**
 * @category events
 * @since 0.1.0
 */
export type ChildExited = model.ChildExited

/**
 * A child was started again after an exit, on `node` (`previousNode` is where it ran; `nodeLost`
 * says whether it moved because that node went down).
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const moved = (event: DistributedSupervisor.ChildRestarted) => event.node !== event.previousNode
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const ChildRestarted = model.ChildRestarted

/**
 * @category events
 * @since 0.1.0
 */
export type ChildRestarted = model.ChildRestarted

/**
 * A child was moved off a node that is being left ({@link handoff}): it now runs as `pid` on
 * `node`; `withState` says whether it carried its state (a child whose behaviour was made with
 * {@link defineHandoff}) or was started afresh.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const where = (event: DistributedSupervisor.ChildHandedOff) => `${event.id}: ${event.previousNode} -> ${event.node}`
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const ChildHandedOff = model.ChildHandedOff

/**
 * @category events
 * @since 0.1.0
 */
export type ChildHandedOff = model.ChildHandedOff

/**
 * A restart found no node that could start the child; it is tried again after `retryAfter`.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const detail = (event: DistributedSupervisor.ChildStartError) => event.detail
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const ChildStartError = model.ChildStartError

/**
 * @category events
 * @since 0.1.0
 */
export type ChildStartError = model.ChildStartError

/**
 * The supervisor stopped (its children stopped before), with its exit reason.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor, Supervisor } from "effect-otp"
 *
 * const gaveUp = (event: DistributedSupervisor.SupervisorStopped) => Supervisor.isMaxIntensity(event.reason)
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const SupervisorStopped = model.SupervisorStopped

/**
 * @category events
 * @since 0.1.0
 */
export type SupervisorStopped = model.SupervisorStopped

/**
 * Any lifecycle event of a distributed supervisor (a Schema union, so events can be sent on).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const encode = Schema.encodeSync(DistributedSupervisor.Event)
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const Event = model.Event

/**
 * @category events
 * @since 0.1.0
 */
export type Event = model.Event

/**
 * No node could start a child (each node tried is named with its failure in `detail`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const report = (error: DistributedSupervisor.PlacementFailed) => Effect.logError(error.message)
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const PlacementFailed = model.PlacementFailed

/**
 * @category errors
 * @since 0.1.0
 */
export type PlacementFailed = model.PlacementFailed

/**
 * A started distributed supervisor: its pid, and its lifecycle events.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const logMoves = (sup: DistributedSupervisor.DistributedSupervisor) =>
 *   Effect.scoped(
 *     Effect.flatMap(sup.subscribe, (events) =>
 *       Stream.runForEach(events, (event) => Effect.log(event._tag))
 *     )
 *   )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DistributedSupervisor {
  readonly pid: Pid
  /** The events from the moment the stream starts running. */
  readonly events: Stream.Stream<Event>
  /** Subscribes now: no event published after it returns is missed. */
  readonly subscribe: Effect.Effect<Stream.Stream<Event>, never, Scope.Scope>
}

/**
 * Options of {@link start}.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const options: DistributedSupervisor.StartOptions = { name: "jobs" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface StartOptions {
  /** Register the supervisor under this local name (other nodes reach it as a `RemoteName`). */
  readonly name?: string | undefined
}

/**
 * What {@link start} may fail with.
 *
 * @category errors
 * @since 0.1.0
 */
export type StartError = PlacementFailed | InvalidSupervisorFlags | NameTaken | GenServer.InitFailed

const DEFAULT_START_TIMEOUT = 5000
const DEFAULT_SHUTDOWN = 5000

const resolve = (spec: DistributedChildSpec<unknown>): ResolvedChild => ({
  id: spec.id,
  behaviour: spec.behaviour as BehaviourSpec<unknown, unknown, unknown>,
  args: spec.args,
  restart: spec.restart ?? "permanent",
  name: spec.name,
  startTimeout: spec.startTimeout === undefined ? DEFAULT_START_TIMEOUT : toMillis(spec.startTimeout),
  shutdownMs:
    spec.shutdown === undefined
      ? DEFAULT_SHUTDOWN
      : spec.shutdown === "brutal"
        ? 0
        : spec.shutdown === "infinity"
          ? Infinity
          : toMillis(spec.shutdown),
  globalName: spec.globalName,
  handoff: spec.handoff === false ? undefined : Handoff.supportOf(spec.behaviour)
})

/** A small seeded generator: repeatable under `TestRandom`, no global state. */
const generator = (seed: number) => {
  let a = seed >>> 0
  return (bound: number): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * bound)
  }
}

/** The first invalid flag of `spec`, if any. */
const invalid = (spec: DistributedSupervisorSpec): InvalidSupervisorFlags | undefined => {
  const max = spec.maxRestarts ?? 3
  if (!Number.isInteger(max) || max < 0) {
    return new InvalidSupervisorFlags({ problem: `maxRestarts must be an integer >= 0, got ${max}` })
  }
  const within = spec.within === undefined ? 5000 : toMillis(spec.within)
  if (!(within > 0)) return new InvalidSupervisorFlags({ problem: `within must be a duration > 0` })
  const ids = new Set<string>()
  for (const each of spec.children ?? []) {
    if (ids.has(each.id)) return new InvalidSupervisorFlags({ problem: `two children have the id "${each.id}"` })
    ids.add(each.id)
  }
  return undefined
}

/**
 * Starts a distributed supervisor on this node (not linked to the caller) and places and starts
 * its children in order. Resolves once every child runs; if one cannot be placed, those already
 * started are stopped and it fails with `PlacementFailed`. Stop it with {@link stop}, or use
 * {@link startScoped}.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { BehaviourRegistry, DistributedSupervisor, GenServer, Protocol } from "effect-otp"
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
 *
 * const program = Effect.gen(function*() {
 *   const sup = yield* DistributedSupervisor.start(
 *     {
 *       selector: "round_robin",
 *       children: [DistributedSupervisor.child("c1", CounterSpec, 1), DistributedSupervisor.child("c2", CounterSpec, 2)]
 *     },
 *     { name: "counters" }
 *   )
 *   const children = yield* DistributedSupervisor.whichChildren(sup.pid)
 *   yield* Effect.log(children.map((child) => `${child.id} on ${child.node}`).join(", "))
 *   yield* DistributedSupervisor.stop(sup.pid)
 * })
 * ```
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const start = (
  spec: DistributedSupervisorSpec,
  options?: StartOptions
): Effect.Effect<DistributedSupervisor, StartError, ProcessRuntime | Cluster | Distribution | BehaviourRegistry> =>
  Effect.gen(function* () {
    const prepared = yield* prepare(spec, false)
    const pid = yield* unwrapPlacement(
      GenServer.start(prepared.behaviour, prepared.children, {
        ...serverOptions,
        ...(options?.name === undefined ? {} : { name: options.name })
      })
    )
    return { pid, events: prepared.events, subscribe: prepared.subscribe }
  })

const serverOptions = { trapExit: true, timeout: Infinity, overflow: "suspend" } as const

/** The `PlacementFailed` that made `init` fail, as the start's own error. */
const unwrapPlacement = <A, E, R>(
  started: Effect.Effect<A, E | GenServer.InitFailed, R>
): Effect.Effect<A, E | GenServer.InitFailed | PlacementFailed, R> =>
  Effect.catch(started, (error): Effect.Effect<never, E | PlacementFailed | GenServer.InitFailed> => {
    if (error instanceof GenServer.InitFailed && error.reason._tag === "Failure") {
      for (const part of error.reason.cause.reasons) {
        if (part._tag === "Fail" && part.error instanceof model.PlacementFailed) return Effect.fail(part.error)
      }
    }
    return Effect.fail(error)
  })

/** The server's behaviour, resolved children and event hub for `spec`. */
const prepare = (spec: DistributedSupervisorSpec, singletonMode: boolean) =>
  Effect.gen(function* () {
    const problem = invalid(spec)
    if (problem !== undefined) return yield* Effect.fail(problem)
    const global = Option.getOrUndefined(yield* Effect.serviceOption(GlobalRegistry))
    if (global === undefined && (spec.children ?? []).some((each) => each.globalName !== undefined)) {
      return yield* Effect.fail(
        new InvalidSupervisorFlags({ problem: "children with a globalName need GlobalRegistry.layer on this node" })
      )
    }
    const runtime = yield* ProcessRuntime
    const seed = yield* Random.nextInt
    const pubsub = yield* PubSub.sliding<Event>(spec.eventBuffer ?? 1024)
    const behaviour = server({
      cluster: yield* Cluster,
      distribution: yield* Distribution,
      registry: yield* BehaviourRegistry,
      node: runtime.node,
      processCount: () => runtime.processCount,
      publish: (event) => void PubSub.publishUnsafe(pubsub, event),
      selector: spec.selector ?? "round_robin",
      maxRestarts: spec.maxRestarts ?? 3,
      withinMs: spec.within === undefined ? 5000 : toMillis(spec.within),
      retryMs: spec.retryAfter === undefined ? 500 : toMillis(spec.retryAfter),
      random: generator(seed),
      global,
      monitorChildren: singletonMode,
      stopOnlyLocal: singletonMode,
      handoffLingerMs: spec.handoffLinger === undefined ? 1000 : toMillis(spec.handoffLinger)
    })
    return {
      behaviour,
      children: (spec.children ?? []).map((each) => resolve(each as DistributedChildSpec<unknown>)),
      events: Stream.fromPubSub(pubsub),
      subscribe: Effect.map(PubSub.subscribe(pubsub), (subscription) => Stream.fromSubscription(subscription))
    }
  })

/**
 * Options of {@link singleton}.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const options: DistributedSupervisor.SingletonOptions = { name: "jobs" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface SingletonOptions {
  /** The global name of the active instance (the standbys elect through `<name>/active`). */
  readonly name: string
}

/**
 * This node's instance of a singleton distributed supervisor.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const isActiveHere = (instance: DistributedSupervisor.Singleton) =>
 *   Effect.map(instance.localServer, Option.isSome)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Singleton {
  /** Its global name: `GlobalRegistry.name(name)` reaches the active instance from any node. */
  readonly name: string
  /** The pid of this node's standby process. */
  readonly standby: Pid
  /** The server's pid while this node's instance is the active one. */
  readonly localServer: Effect.Effect<Option.Option<Pid>>
  /** The events of this node's instance (while it is active), from the moment the stream runs. */
  readonly events: Stream.Stream<Event>
  /** Subscribes now to the events of this node's instance. */
  readonly subscribe: Effect.Effect<Stream.Stream<Event>, never, Scope.Scope>
}

/**
 * Runs this node's instance of a distributed supervisor that is a cluster singleton: run it on
 * every node that may host the supervisor (with the same spec). One instance is active and holds
 * the global name `options.name`; the others stand by. Semantics:
 * - Election: through `GlobalRegistry` (the lock name `<name>/active`): in a connected cluster one
 *   instance wins; after a partition heals, the registry's conflict resolution (lower node name
 *   wins) makes the loser step down (it stops only the children on its own node).
 * - Children are monitored, not linked: they outlive the active instance's node. When that node
 *   dies, a standby takes over within the failure-detection bound (heartbeat interval x miss
 *   threshold, plus one registration), finds the children that still run by their `globalName`
 *   (adopts them: `ChildStarted` with `adopted: true`) and starts only the missing ones. A child
 *   without a `globalName` cannot be found, so it is started again (its old instance, if it
 *   still runs, is not stopped: give every child of a singleton a `globalName`).
 * - Calls by `GlobalRegistry.name(name)` reach the active supervisor (`whichChildren`, ...); during
 *   a takeover they fail with `NoProcess` until the new instance has registered.
 * - Closing the scope stops this node's instance: if active, it stops its children on this node
 *   and a standby elsewhere takes over the others. With {@link handoffOnLeave} acquired after it in
 *   the same scope, the active instance first moves its children off this node (those with handoff
 *   keep their state and their global names); then it stops, a standby takes over and adopts
 *   them where they now run (`ChildStarted` with `adopted: true`: not restarted, state kept).
 *   Calls by the children's names do not fail meanwhile; calls to the supervisor by its own name
 *   fail with `NoProcess` between the stop and the standby's registration.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { BehaviourRegistry, DistributedSupervisor, GenServer, GlobalRegistry, Protocol } from "effect-otp"
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
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     yield* DistributedSupervisor.singleton(
 *       { children: [DistributedSupervisor.child("c1", CounterSpec, 0, { globalName: "counter-1" })] },
 *       { name: "counters" }
 *     )
 *     const children = yield* DistributedSupervisor.whichChildren(GlobalRegistry.name("counters"))
 *     const value = yield* GenServer.call(GlobalRegistry.name("counter-1", Counter), Counter.Get())
 *   })
 * )
 * ```
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const singleton = (
  spec: DistributedSupervisorSpec,
  options: SingletonOptions
): Effect.Effect<
  Singleton,
  InvalidSupervisorFlags,
  ProcessRuntime | Cluster | Distribution | BehaviourRegistry | GlobalRegistry | Scope.Scope
> =>
  Effect.gen(function* () {
    const global = yield* GlobalRegistry
    const prepared = yield* Effect.catch(prepare(spec, true), (error) =>
      error instanceof InvalidSupervisorFlags ? Effect.fail(error) : Effect.die(error)
    )
    let server: Pid | undefined
    const standby = standbyLoop({
      name: options.name,
      global,
      startServer: unwrapPlacement(GenServer.startLink(prepared.behaviour, prepared.children, serverOptions)),
      retryMs: spec.retryAfter === undefined ? 500 : toMillis(spec.retryAfter),
      onActive: (pid) => (server = pid)
    })
    const pid = yield* Effect.acquireRelease(Effect.orDie(Process.spawn(standby, { trapExit: true })), (pid) =>
      Effect.gen(function* () {
        const active = server
        yield* Effect.ignore(Process.kill(pid))
        if (active !== undefined) yield* Effect.ignore(Effect.timeoutOption(Process.awaitExit(active), "30 seconds"))
        // This node's instance is no longer active (the standby that would say so was killed).
        server = undefined
      })
    )
    return {
      name: options.name,
      standby: pid,
      localServer: Effect.sync(() => Option.fromNullishOr(server)),
      events: prepared.events,
      subscribe: prepared.subscribe
    }
  })

/**
 * Starts a distributed supervisor that is stopped when the scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const program = Effect.scoped(
 *   Effect.flatMap(DistributedSupervisor.startScoped({ selector: "least_loaded" }), (sup) =>
 *     DistributedSupervisor.countChildren(sup.pid)
 *   )
 * )
 * ```
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const startScoped = (
  spec: DistributedSupervisorSpec,
  options?: StartOptions
): Effect.Effect<
  DistributedSupervisor,
  StartError,
  ProcessRuntime | Cluster | Distribution | BehaviourRegistry | Scope.Scope
> => Effect.acquireRelease(start(spec, options), (sup) => Effect.ignore(stop(sup.pid)))

/**
 * Stops a distributed supervisor: its children stop in reverse start order (each within its
 * shutdown time, then killed), then it exits `shutdown`. Fails with `NoProcess` if it is not alive.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const stopped = DistributedSupervisor.stop("counters")
 * ```
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const stop = (supervisor: Process.Target): Effect.Effect<void, NoProcess, ProcessRuntime> =>
  Effect.catchTag(GenServer.stop(supervisor), "CallTimeout", Effect.die)

/**
 * Adds a child to a running distributed supervisor of this node (the spec holds the behaviour
 * itself, so this is a local request), places it and starts it. Fails with `ChildAlreadyStarted`
 * when the id is taken, `PlacementFailed` when no node could start it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { BehaviourRegistry, DistributedSupervisor, GenServer, Protocol } from "effect-otp"
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
 * const added = DistributedSupervisor.startChild("counters", DistributedSupervisor.child("c3", CounterSpec, 3))
 * ```
 *
 * @category child operations
 * @since 0.1.0
 */
export const startChild = <Args, P>(
  supervisor: Pid | string,
  spec: DistributedChildSpec<Args, P>
): Effect.Effect<GenServer.ServerPid<P>, ChildAlreadyStarted | PlacementFailed | GenServer.CallError, ProcessRuntime> =>
  GenServer.call(supervisor, model.DistProtocol.StartChild({ spec: resolve(spec as DistributedChildSpec<unknown>) }), {
    timeout: Infinity
  }) as Effect.Effect<
    GenServer.ServerPid<P>,
    ChildAlreadyStarted | PlacementFailed | GenServer.CallError,
    ProcessRuntime
  >

/**
 * Stops a child and forgets it (a distributed supervisor keeps no stopped children). Fails with
 * `ChildNotFound`.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const removed = DistributedSupervisor.terminateChild("counters", "c3")
 * ```
 *
 * @category child operations
 * @since 0.1.0
 */
export const terminateChild = (
  supervisor: Process.Target,
  id: string
): Effect.Effect<void, ChildNotFound | GenServer.CallError, ProcessRuntime> =>
  GenServer.call(supervisor, model.DistProtocol.TerminateChild({ id }), { timeout: Infinity })

/**
 * The supervisor's children in start order, each with its pid and node (from any node: pass a
 * `RemoteName` for a supervisor registered on another node).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DistributedSupervisor, RemoteName } from "effect-otp"
 *
 * const nodes = Effect.map(DistributedSupervisor.whichChildren(RemoteName.make("counters", "a")), (children) =>
 *   children.map((child) => child.node)
 * )
 * ```
 *
 * @category introspection
 * @since 0.1.0
 */
export const whichChildren = (
  supervisor: Process.Target
): Effect.Effect<ReadonlyArray<ChildInfo>, GenServer.CallError, ProcessRuntime> =>
  GenServer.call(supervisor, model.DistProtocol.WhichChildren())

/**
 * How many children the supervisor holds, how many run, and how many run on each node.
 *
 * @example
 * ```ts
 * import { DistributedSupervisor } from "effect-otp"
 *
 * const counts = DistributedSupervisor.countChildren("counters")
 * ```
 *
 * @category introspection
 * @since 0.1.0
 */
export const countChildren = (
  supervisor: Process.Target
): Effect.Effect<ChildCounts, GenServer.CallError, ProcessRuntime> =>
  GenServer.call(supervisor, model.DistProtocol.CountChildren())

/**
 * How a behaviour hands its state over (see {@link defineHandoff}): the Schema that carries it
 * between nodes, what to carry (default: the state itself), and how the next instance builds its
 * state from it (default: the carried value is the state).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { DistributedSupervisor } from "effect-otp"
 *
 * const options: DistributedSupervisor.HandoffOptions<number, number> = { state: Schema.Number }
 * ```
 *
 * @category handoff
 * @since 0.1.0
 */
export interface HandoffOptions<S, C, R = never> {
  /** Encodes the carried state (it crosses nodes). */
  readonly state: Schema.Codec<C, unknown>
  /** The value to carry, from the state at the moment of the handoff. Default: the state (then C = S). */
  readonly handoff?: ((state: S) => C) | undefined
  /** The new instance's state, from the carried value (instead of `init`). Default: the carried value. */
  readonly resume?: ((carried: C, self: Pid) => Effect.Effect<S, unknown, R | CurrentProcess>) | undefined
}

/**
 * Defines a behaviour for the `BehaviourRegistry` (as `BehaviourRegistry.define`) whose instances a
 * distributed supervisor hands off with their state when their node leaves gracefully
 * ({@link handoff}). Register it on every node a child may be placed on. Its protocol, callbacks
 * and start arguments are those of `behaviour`; a handed-off instance starts with `resume` (or the
 * carried state) instead of `init`. For the rest, see {@link handoff}.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DistributedSupervisor, GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Add: Protocol.cast() })
 * const CounterSpec = DistributedSupervisor.defineHandoff(
 *   "counter",
 *   Schema.Number,
 *   GenServer.behaviour(Counter)({
 *     init: (n: number) => Effect.succeed(n),
 *     handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) },
 *     handleCast: { Add: (_, n) => Effect.succeed(GenServer.noReply(n + 1)) }
 *   }),
 *   { state: Schema.Number }
 * )
 * const child = DistributedSupervisor.child("counter-1", CounterSpec, 0, { globalName: "counter-1" })
 * ```
 *
 * @category handoff
 * @since 0.1.0
 */
export const defineHandoff = <Args, I, P, S, R = never, C = S>(
  name: string,
  args: Schema.Codec<Args, I>,
  behaviour: GenServer.Behaviour<P, Args, S, R>,
  options: HandoffOptions<S, C, R>
): BehaviourSpec<Args, P, Exclude<R, ProcessRuntime>> => {
  const wrapped = Handoff.wrap(
    behaviour as unknown as GenServer.Behaviour<unknown, unknown, unknown, unknown>,
    args as unknown as Schema.Codec<unknown, unknown>,
    options
  )
  const spec = define(name, wrapped.args, wrapped.behaviour)
  return { ...spec, [Handoff.HandoffTypeId]: wrapped.support } as unknown as BehaviourSpec<
    Args,
    P,
    Exclude<R, ProcessRuntime>
  >
}

/**
 * Options of {@link handoff}.
 *
 * @example
 * ```ts
 * import type { DistributedSupervisor } from "effect-otp"
 *
 * const options: DistributedSupervisor.HandoffCallOptions = { timeout: "20 seconds" }
 * ```
 *
 * @category handoff
 * @since 0.1.0
 */
export interface HandoffCallOptions {
  /** How long to wait for the moved instances to stop (after their linger). Default 30 s. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Moves every child of a distributed supervisor off `node` (a graceful leave of that node: run it
 * before stopping the node, e.g. from the node itself as the first step of its shutdown), then
 * waits until the old instances have stopped. No child is placed on `node` again until the
 * supervisor has seen it gone. Resolves to the number of children moved. For each running child on
 * `node`, in start order:
 *
 * - **With handoff** (its behaviour made with {@link defineHandoff}, and `handoff` not `false`):
 *   the supervisor sends the instance a request that it handles after every message already in
 *   its mailbox; it answers with its state (`handoff(state)`, encoded by the Schema) and from then
 *   on holds every message it receives. The supervisor starts the new instance on a node its
 *   selector picks (not `node`) from that state (`resume`), then the old instance forwards what it
 *   held and what it receives from then on, in order, to the new one; calls that reach it are
 *   answered by the new instance (the caller waits, within its own timeout). The global name
 *   moves to the new instance in one step (`GlobalRegistry.transfer`: each node's registry goes
 *   from the old pid to the new one at once, so no call or cast by the name finds it unowned and
 *   fails with `NoProcess` meanwhile). For `handoffLinger` (default 1 s)
 *   the old instance keeps forwarding the messages sent by the name before the sender's node saw
 *   it move; meanwhile the new instance handles the forwarded messages first and keeps those that
 *   reach it directly, which it handles (in order) once the old one has stopped forwarding. So
 *   every message a sender addressed to the global name is handled once, by one instance or the
 *   other, in the order that sender sent them. Not covered: a
 *   message that reaches the old instance after the linger, or that was sent to its pid, is
 *   dropped as for any exited process. The old instance's `terminate` runs with the state it gave.
 *   If the instance does not answer within its shutdown time (default 5 s), its state does not
 *   encode, or no node can start the new instance, the child is handled as one without handoff
 *   (first two cases) or stays where it is (the last; a `ChildStartError` event says why).
 * - **Without handoff**: stopped (`shutdown`, within its shutdown time) and started afresh from its
 *   start arguments elsewhere; between the stop and the new instance's registration, a call or cast
 *   by its global name fails with `NoProcess` (it was not delivered).
 *
 * Each move publishes `ChildHandedOff`; moves do not count toward the restart intensity. A child
 * that crashes later, or whose node is lost without a graceful leave (kill -9), restarts afresh,
 * as before. The supervisor serves no other request while it moves children.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DistributedSupervisor, GlobalRegistry } from "effect-otp"
 *
 * // On node "b", before it stops: move the children of the singleton supervisor "jobs" elsewhere.
 * const leaving = Effect.flatMap(DistributedSupervisor.handoff(GlobalRegistry.name("jobs"), "b"), (moved) =>
 *   Effect.log(`${moved} children moved`)
 * )
 * ```
 *
 * @category handoff
 * @since 0.1.0
 */
export const handoff = (
  supervisor: Process.Target,
  node: string,
  options?: HandoffCallOptions
): Effect.Effect<number, GenServer.CallError, ProcessRuntime> =>
  Effect.gen(function* () {
    const moved = yield* GenServer.call(supervisor, model.DistProtocol.Handoff({ node }), { timeout: Infinity })
    const timeout = options?.timeout === undefined ? 30_000 : toMillis(options.timeout)
    yield* Effect.ignore(
      Effect.timeoutOption(
        Effect.forEach(moved, (pid) => Process.awaitExit(pid), { concurrency: "unbounded", discard: true }),
        timeout
      )
    )
    return moved.length
  })

/**
 * Makes the closing of the current scope a graceful leave of this node for `supervisor`: the
 * finalizer runs {@link handoff} for this node (its children move elsewhere, those with handoff
 * carrying their state) before whatever was acquired earlier in the scope is released. Acquire it
 * after the supervisor (or {@link singleton}) so that it runs first. Under `Node.runMain` the
 * handoff runs earlier, in the shutdown's own `handoff` phase, after `mark-stopping` and before
 * `refuse-new-work`: the node still serves other nodes while its children move, so calls that other
 * nodes make to them by their global names wait for the new instances as {@link handoff} says
 * (none fails); the finalizer then has nothing left to do. If that phase times out, the scope's
 * close does not run the handoff again. A call to a child's pid (not its name) after its old
 * instance stopped fails with `NoProcess`, as for any exited process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DistributedSupervisor, GlobalRegistry } from "effect-otp"
 *
 * declare const spec: DistributedSupervisor.DistributedSupervisorSpec
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     yield* DistributedSupervisor.singleton(spec, { name: "jobs" })
 *     yield* DistributedSupervisor.handoffOnLeave(GlobalRegistry.name("jobs"))
 *     return yield* Effect.never
 *   })
 * )
 * ```
 *
 * @category handoff
 * @since 0.1.0
 */
export const handoffOnLeave = (
  supervisor: Process.Target,
  options?: HandoffCallOptions
): Effect.Effect<void, never, ProcessRuntime | Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* ProcessRuntime
    let started = false
    // Once: in Node.runMain's `handoff` phase, or at the scope's close if that phase did not run it.
    const leave = Effect.suspend(() => {
      if (started) return Effect.void
      started = true
      return Effect.ignore(handoff(supervisor, runtime.node, options))
    }).pipe(Effect.provideService(ProcessRuntime, runtime))
    yield* Effect.addFinalizer(() => leave)
    const hooks = yield* Effect.serviceOption(LeaveHooks)
    if (Option.isSome(hooks)) {
      const remove = hooks.value.add(leave)
      yield* Effect.addFinalizer(() => Effect.sync(remove))
    }
  })
