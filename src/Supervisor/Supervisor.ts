/**
 * Supervisors: processes that start children in order, restart them when they exit according to a
 * strategy, and stop them in reverse order, as OTP's `supervisor`.
 *
 * Semantics, as in OTP:
 * - **Start.** Children start one after another, in the order of the spec, each inside the
 *   supervisor process (see {@link ChildSpec.ChildSpec}). If one fails to start, those already
 *   started are stopped in reverse order and the start fails with `ChildStartFailed`.
 * - **Strategies.** When a child exits and must be restarted (see {@link ChildSpec.RestartType}):
 *   `one_for_one` restarts that child only; `one_for_all` stops all the other children (in
 *   reverse start order) and restarts them all (in start order); `rest_for_one` does the same for
 *   the children started after it. Temporary children stopped by such a group restart are not
 *   restarted: they are forgotten. A child whose restart fails is marked `restarting` and retried
 *   through the supervisor's mailbox (other requests are served in between).
 * - **Restart intensity** (OTP's `intensity` and `period`). Every restart (and every retry of a
 *   failed restart) is counted when it happens, on the monotonic time of the runtime's clock
 *   (`TestClock` in tests; never wall-clock time, which an NTP step or a VM resume would move).
 *   When a restart makes more than `maxRestarts` within the last `within` (default 3 within 5
 *   seconds, Elixir's defaults; OTP's are 1 within 5 seconds), the supervisor gives up: it
 *   stops all its children in reverse start order and exits with {@link maxIntensityReason},
 *   `shutdown("reached_max_restart_intensity")`. Its parent sees a child exit with a `shutdown`
 *   reason and applies its own strategy (escalation): a permanent child supervisor is restarted
 *   (counting against the parent's own intensity), a transient or temporary one is not.
 *   `maxRestarts: 0` makes any exit that needs a restart escalate.
 *
 *   The window is exactly `within` long and a restart exactly `within` old no longer counts:
 *   with `maxRestarts: 1, within: "1 second"`, restarts 1000 ms apart are fine, restarts 999 ms
 *   apart escalate. OTP's `supervisor.erl` keeps a restart while `R >= Now - Period`, on whole
 *   seconds (`erlang:monotonic_time(second)`): there a restart exactly `period` seconds old
 *   still counts, so a restart counts for between `period` and `period + 1` seconds of real
 *   time. OTP's supervisor exits with the bare reason `shutdown` (and logs
 *   `reached_max_restart_intensity`); here that detail travels in the exit reason, which is still
 *   a `shutdown` for every rule (links, transient restarts, `ExitReason.isGraceful`).
 * - **Shutdown.** A child is stopped by unlinking from it, sending it the exit signal `shutdown`
 *   and waiting for it to exit; past its shutdown time (on the runtime's clock) it is killed
 *   (`brutal` kills at once). A GenServer that traps exits runs `terminate` first; one that does
 *   not is ended by the signal at once. The supervisor stops when its parent (the
 *   process that started it with `startLink`) exits, or when {@link stop}ped: every child is
 *   stopped in reverse start order before the supervisor exits, so nothing outlives it.
 * - **Auto-shutdown** (OTP 24+): with `any_significant`, the supervisor shuts down (reason
 *   `shutdown`) when a significant child exits by itself and is not restarted; with
 *   `all_significant`, when the last significant child has. Stopping a child with
 *   `terminateChild` never triggers it.
 * - **Calls** to a supervisor (`startChild`, `whichChildren`, ...) wait as long as it takes (OTP
 *   uses `infinity` too): the supervisor may be busy stopping or starting children. They fail
 *   with `NoProcess` when the supervisor is not alive, `ServerExited` if it exits meanwhile.
 *
 * @since 0.1.0
 */
import { type Context, Duration, Effect, Layer, type Scope } from "effect"
import type { NameTaken, NoProcess, NotAProcess } from "../Process/Errors.ts"
import * as ExitReason from "../Process/ExitReason.ts"
import * as GenServer from "../Process/GenServer.ts"
import type { Pid } from "../Process/Pid.ts"
import type { Target } from "../Process/Process.ts"
import type { ProcessRuntime } from "../Process/ProcessRuntime.ts"
import {
  type ChildOptions,
  type ChildSpec,
  type Services as ChildServices,
  supervisor as supervisorChild
} from "./ChildSpec.ts"
import {
  type ChildAlreadyPresent,
  type ChildAlreadyStarted,
  type ChildNotFound,
  type ChildRunning,
  ChildStartFailed,
  InvalidChildSpec,
  InvalidSupervisorFlags
} from "./Errors.ts"
import { callSupervisor } from "./internal/call.ts"
import * as protocol from "./internal/protocol.ts"
import { millisOf } from "./internal/spec.ts"
import {
  type AutoShutdown as AutoShutdownMode,
  type Flags,
  MAX_INTENSITY_DETAIL,
  maxIntensityReason as maxIntensity,
  resolveAll,
  type Strategy as StrategyName,
  supervisorBehaviour
} from "./internal/supervisor.ts"

/**
 * How children are restarted: `one_for_one` (only the child that exited), `one_for_all` (all
 * children), `rest_for_one` (that child and those started after it).
 *
 * @category models
 * @since 0.1.0
 */
export type Strategy = StrategyName

/**
 * When the exit of significant children shuts the supervisor down: `never` (default),
 * `any_significant`, `all_significant`.
 *
 * @category models
 * @since 0.1.0
 */
export type AutoShutdown = AutoShutdownMode

/**
 * A supervisor: its flags and its children, in start order. Invalid flags fail the start with
 * `InvalidSupervisorFlags`, before any child starts.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { ChildSpec, GenServer, ProcessRuntime, Protocol, Supervisor } from "effect-otp"
 *
 * const Cache = Protocol.make({ Size: Protocol.call({ success: Schema.Number }) })
 * const cache = GenServer.behaviour(Cache)({
 *   init: () => Effect.succeed(new Map<string, string>()),
 *   handleCall: { Size: (_, map) => Effect.succeed(GenServer.reply(map.size, map)) }
 * })
 *
 * const tree: Supervisor.SupervisorSpec<ProcessRuntime.ProcessRuntime> = {
 *   strategy: "one_for_one",
 *   maxRestarts: 3,
 *   within: "5 seconds",
 *   children: [ChildSpec.genServer("cache", cache, undefined, { name: "cache", trapExit: true })]
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SupervisorSpec<R = never> {
  /** Default `one_for_one`. */
  readonly strategy?: Strategy | undefined
  /**
   * Restarts allowed `within` the window before the supervisor gives up (OTP's `intensity`).
   * Default 3.
   */
  readonly maxRestarts?: number | undefined
  /**
   * The restart intensity window (OTP's `period`), a `Duration.Input` (`"5 seconds"`, or a number
   * of milliseconds). Default 5 seconds.
   */
  readonly within?: Duration.Input | undefined
  /** Default `never`. */
  readonly autoShutdown?: AutoShutdown | undefined
  /** The children, in start order. */
  readonly children: ReadonlyArray<ChildSpec<R>>
}

/**
 * The services the children of supervisor spec `S` need to start: the union over its children.
 *
 * @category models
 * @since 0.1.0
 */
export type Services<S> = S extends { readonly children: ReadonlyArray<infer C> } ? ChildServices<C> : never

/**
 * Options of {@link start} and {@link startLink}.
 *
 * @category models
 * @since 0.1.0
 */
export interface StartOptions {
  /** Register the supervisor under this local name. */
  readonly name?: string | undefined
}

/**
 * Why a supervisor did not start: an invalid spec, a child that failed to start, a name already
 * taken, or (rarely) the supervisor process itself ending during start-up.
 *
 * @category models
 * @since 0.1.0
 */
export type StartError = InvalidChildSpec | InvalidSupervisorFlags | ChildStartFailed | NameTaken | GenServer.InitFailed

/**
 * The errors of any call to a supervisor: it is not alive, or it exited before replying.
 *
 * @category models
 * @since 0.1.0
 */
export type CallError = NoProcess | GenServer.ServerExited

/**
 * One child as {@link whichChildren} reports it: its id, its pid when running, its status
 * (`running`, `restarting` after a failed restart that will be retried, `stopped` after
 * `terminateChild` or a graceful exit that is not restarted), its type and restart type.
 *
 * @category models
 * @since 0.1.0
 */
export type ChildInfo = protocol.ChildInfo

/**
 * Child counts as {@link countChildren} reports them: `specs` held, `active` (running now),
 * `supervisors` and `workers` (by spec type).
 *
 * @category models
 * @since 0.1.0
 */
export type ChildCounts = protocol.ChildCounts

/**
 * The reason a supervisor exits with when it exceeds its restart intensity:
 * `shutdown("reached_max_restart_intensity")`. A `shutdown` (as in OTP), so a parent restarts a
 * permanent child supervisor that gave up, but not a transient one.
 *
 * @category restart intensity
 * @since 0.1.0
 */
export const maxIntensityReason: ExitReason.ExitReason = maxIntensity

/**
 * Whether an exit reason is {@link maxIntensityReason}: the supervisor gave up restarting.
 *
 * @category restart intensity
 * @since 0.1.0
 */
export const isMaxIntensity = (reason: ExitReason.ExitReason): boolean =>
  reason._tag === "Shutdown" && reason.detail === MAX_INTENSITY_DETAIL

const DEFAULT_WINDOW = Duration.seconds(5)

/** A spec written for 0.1's `withinMs`, which would otherwise be ignored silently. */
const renamed = (): InvalidSupervisorFlags =>
  new InvalidSupervisorFlags({ problem: 'withinMs is now within (a Duration.Input, such as "5 seconds")' })

const flagsOf = (spec: SupervisorSpec<unknown>): Flags | InvalidSupervisorFlags => {
  const strategy = spec.strategy ?? "one_for_one"
  if (strategy !== "one_for_one" && strategy !== "one_for_all" && strategy !== "rest_for_one") {
    return new InvalidSupervisorFlags({ problem: `unknown strategy ${String(strategy)}` })
  }
  const maxRestarts = spec.maxRestarts ?? 3
  if (!Number.isInteger(maxRestarts) || maxRestarts < 0) {
    return new InvalidSupervisorFlags({ problem: `maxRestarts must be an integer >= 0, got ${maxRestarts}` })
  }
  if ("withinMs" in spec) return renamed()
  const withinMs = millisOf(spec.within ?? DEFAULT_WINDOW)
  if (withinMs === undefined || !(withinMs > 0)) {
    return new InvalidSupervisorFlags({ problem: `within must be a duration > 0, got ${String(spec.within)}` })
  }
  const autoShutdown = spec.autoShutdown ?? "never"
  if (autoShutdown !== "never" && autoShutdown !== "any_significant" && autoShutdown !== "all_significant") {
    return new InvalidSupervisorFlags({ problem: `unknown autoShutdown ${String(autoShutdown)}` })
  }
  return { strategy, maxRestarts, withinMs, autoShutdown }
}

/** A start failure reported as `InitFailed` by the GenServer, unwrapped to the child that failed. */
const unwrapInitFailed = (error: GenServer.InitFailed): ChildStartFailed | GenServer.InitFailed => {
  const reason = error.reason
  if (reason._tag === "Failure") {
    for (const part of reason.cause.reasons) {
      if (part._tag === "Fail" && part.error instanceof ChildStartFailed) return part.error
    }
  }
  return error
}

const startWith = <S extends SupervisorSpec<unknown>>(
  spec: S,
  options: StartOptions | undefined,
  link: boolean
): Effect.Effect<Pid, StartError | NotAProcess, Services<S> | ProcessRuntime> =>
  Effect.suspend(() => {
    const flags = flagsOf(spec as SupervisorSpec<unknown>)
    if (flags instanceof InvalidSupervisorFlags) return Effect.fail(flags)
    const children = resolveAll(spec.children as ReadonlyArray<ChildSpec<unknown>>, flags.autoShutdown)
    if (children instanceof InvalidChildSpec) return Effect.fail(children)
    const startOptions = { name: options?.name, trapExit: true, timeout: Infinity, overflow: "suspend" } as const
    const started = link
      ? GenServer.startLink(supervisorBehaviour, { flags, children }, startOptions)
      : GenServer.start(supervisorBehaviour, { flags, children }, startOptions)
    return Effect.catchTag(started, "InitFailed", (error) => Effect.fail(unwrapInitFailed(error)))
  })

/**
 * Starts a supervisor (not linked to the caller) and its children. Resolves once every child has
 * started. Stop it with {@link stop}, or prefer {@link startScoped} / {@link layer}, which stop it
 * when their scope closes.
 *
 * The children's start effects run in the supervisor process, with the services of the caller.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ChildSpec, Process, ProcessRuntime, Supervisor } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const sup = yield* Supervisor.start({
 *     strategy: "one_for_all",
 *     children: [
 *       ChildSpec.worker({ id: "a", start: Process.spawnLink((self) => Effect.forever(self.receive)) }),
 *       ChildSpec.worker({ id: "b", start: Process.spawnLink((self) => Effect.forever(self.receive)) })
 *     ]
 *   })
 *   const children = yield* Supervisor.whichChildren(sup)
 *   yield* Supervisor.stop(sup)
 * }).pipe(Effect.provide(ProcessRuntime.layer()))
 * ```
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const start = <S extends SupervisorSpec<unknown>>(
  spec: S,
  options?: StartOptions
): Effect.Effect<Pid, StartError, Services<S> | ProcessRuntime> =>
  startWith(spec, options, false) as Effect.Effect<Pid, StartError, Services<S> | ProcessRuntime>

/**
 * Starts a supervisor linked to the current process, which becomes its parent: when the parent
 * exits, the supervisor stops its children and exits with the same reason; when the supervisor
 * gives up (restart intensity), the parent receives its exit. This is how a supervisor is started
 * as the child of another (see {@link child}).
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const startLink = <S extends SupervisorSpec<unknown>>(
  spec: S,
  options?: StartOptions
): Effect.Effect<Pid, StartError | NotAProcess, Services<S> | ProcessRuntime> => startWith(spec, options, true)

/**
 * Stops a supervisor: its children are stopped in reverse start order, then it exits with
 * `reason` (default `shutdown`). Waits until it has exited. Fails with `NoProcess` if it is not
 * alive.
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const stop = (
  supervisor: Target,
  reason: ExitReason.ExitReason = ExitReason.shutdown()
): Effect.Effect<void, NoProcess, ProcessRuntime> =>
  Effect.catchTag(GenServer.stop(supervisor, reason), "CallTimeout", Effect.die)

/**
 * Starts a supervisor that is stopped (children in reverse order) when the scope closes. If it
 * already exited by then (it gave up, or was stopped), closing the scope does nothing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ChildSpec, Process, ProcessRuntime, Supervisor } from "effect-otp"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const sup = yield* Supervisor.startScoped({
 *       children: [ChildSpec.worker({ id: "loop", start: Process.spawnLink((self) => Effect.forever(self.receive)) })]
 *     })
 *     yield* Effect.log(`running under ${sup}`)
 *   })
 * ) // the tree is stopped here
 *
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const startScoped = <S extends SupervisorSpec<unknown>>(
  spec: S,
  options?: StartOptions
): Effect.Effect<Pid, StartError, Services<S> | ProcessRuntime | Scope.Scope> =>
  Effect.acquireRelease(start(spec, options), (pid) => Effect.ignore(stop(pid)))

/**
 * A supervision tree as a Layer: built (children started in order) when the layer is built,
 * stopped (children in reverse order, each within its shutdown time) when the layer's scope
 * closes. Put it before the layers that use its servers, which can then reach them by name (see
 * `Client.layer`).
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { ChildSpec, GenServer, ProcessRuntime, Protocol, Supervisor } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 * })
 *
 * const Tree = Supervisor.layer({
 *   children: [ChildSpec.genServer("counter", counter, undefined, { name: "counter" })]
 * })
 *
 * const main = GenServer.call("counter", Counter.Get()).pipe(
 *   Effect.provide(Layer.provideMerge(Tree, ProcessRuntime.layer()))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <S extends SupervisorSpec<unknown>>(
  spec: S,
  options?: StartOptions
): Layer.Layer<never, StartError, Exclude<Services<S>, Scope.Scope> | ProcessRuntime> =>
  Layer.effectDiscard(startScoped(spec, options))

/**
 * A supervisor as the child of another supervisor: started with {@link startLink}, of type
 * `supervisor`, with shutdown `infinity` by default (it needs the time to stop its own children).
 *
 * @example
 * ```ts
 * import { Supervisor } from "effect-otp"
 *
 * const root = Supervisor.start({
 *   strategy: "one_for_one",
 *   children: [Supervisor.child("workers", { strategy: "one_for_all", children: [] })]
 * })
 * ```
 *
 * @category child specs
 * @since 0.1.0
 */
export const child = <S extends SupervisorSpec<unknown>>(
  id: string,
  spec: S,
  options?: ChildOptions & StartOptions
): ChildSpec<Services<S> | ProcessRuntime> =>
  supervisorChild(id, startLink(spec, options?.name === undefined ? undefined : { name: options.name }), options)

/**
 * Adds a child to a running supervisor and starts it (at the end of the start order). Fails with
 * `ChildAlreadyStarted` / `ChildAlreadyPresent` if the id is taken, `InvalidChildSpec`, or
 * `ChildStartFailed`. The start effect gets the caller's services (and the supervisor's).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ChildSpec, Process, Supervisor } from "effect-otp"
 *
 * const addWorker = (supervisor: Process.Target, id: string) =>
 *   Effect.gen(function*() {
 *     const pid = yield* Supervisor.startChild(
 *       supervisor,
 *       ChildSpec.worker({ id, start: Process.spawnLink((self) => Effect.forever(self.receive)), restart: "transient" })
 *     )
 *     yield* Supervisor.terminateChild(supervisor, id) // stopped, its spec kept
 *     yield* Supervisor.restartChild(supervisor, id) // started again from the spec
 *     yield* Supervisor.terminateChild(supervisor, id)
 *     yield* Supervisor.deleteChild(supervisor, id) // forgotten
 *     return pid
 *   })
 * ```
 *
 * @category child operations
 * @since 0.1.0
 */
export const startChild = <R>(
  supervisor: Target,
  spec: ChildSpec<R>
): Effect.Effect<
  Pid,
  InvalidChildSpec | ChildAlreadyStarted | ChildAlreadyPresent | ChildStartFailed | CallError,
  R | ProcessRuntime
> =>
  Effect.contextWith((caller: Context.Context<R>) =>
    callSupervisor(supervisor, protocol.SupervisorProtocol.StartChild({ spec, context: caller }))
  )

/**
 * Stops a child (per its shutdown policy). Its spec stays (restart it with {@link restartChild}),
 * except for a temporary child, which is forgotten. Does not count as a restart and never
 * triggers auto-shutdown.
 *
 * @category child operations
 * @since 0.1.0
 */
export const terminateChild = (
  supervisor: Target,
  id: string
): Effect.Effect<void, ChildNotFound | CallError, ProcessRuntime> =>
  callSupervisor(supervisor, protocol.SupervisorProtocol.TerminateChild({ id }))

/**
 * Starts a stopped child again from its spec. Fails with `ChildRunning` if it is running (or
 * being restarted), `ChildNotFound`, or `ChildStartFailed`.
 *
 * @category child operations
 * @since 0.1.0
 */
export const restartChild = (
  supervisor: Target,
  id: string
): Effect.Effect<Pid, ChildNotFound | ChildRunning | ChildStartFailed | CallError, ProcessRuntime> =>
  callSupervisor(supervisor, protocol.SupervisorProtocol.RestartChild({ id }))

/**
 * Removes the spec of a stopped child. Fails with `ChildRunning` if it is running.
 *
 * @category child operations
 * @since 0.1.0
 */
export const deleteChild = (
  supervisor: Target,
  id: string
): Effect.Effect<void, ChildNotFound | ChildRunning | CallError, ProcessRuntime> =>
  callSupervisor(supervisor, protocol.SupervisorProtocol.DeleteChild({ id }))

/**
 * The supervisor's children, in start order, with their status (`running` with its pid,
 * `restarting`, or `stopped`).
 *
 * @category introspection
 * @since 0.1.0
 */
export const whichChildren = (supervisor: Target): Effect.Effect<ReadonlyArray<ChildInfo>, CallError, ProcessRuntime> =>
  callSupervisor(supervisor, protocol.SupervisorProtocol.WhichChildren())

/**
 * How many children the supervisor has, running, and of each type.
 *
 * @category introspection
 * @since 0.1.0
 */
export const countChildren = (supervisor: Target): Effect.Effect<ChildCounts, CallError, ProcessRuntime> =>
  callSupervisor(supervisor, protocol.SupervisorProtocol.CountChildren())
