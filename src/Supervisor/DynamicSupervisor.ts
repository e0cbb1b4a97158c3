/**
 * Dynamic supervisors: start with no children and add them on demand, typically many alike
 * (sessions, connections, jobs) from a {@link template}. Elixir's `DynamicSupervisor`, OTP's
 * `simple_one_for_one`.
 *
 * Semantics:
 * - Each child is restarted on its own (`one_for_one`) according to its restart type, with the
 *   same restart intensity rules as a {@link Supervisor} (exceeding it stops every child and the
 *   supervisor exits with `Supervisor.maxIntensityReason`).
 * - `maxChildren` caps the number of children (running or being restarted); `startChild` beyond it
 *   fails with `MaxChildren`.
 * - Children are identified by pid. `terminateChild` stops one and forgets it. A restarted child
 *   has a new pid.
 * - When the supervisor stops, all its children are sent their stop signal at once and awaited
 *   together (each killed past its own shutdown time, on the runtime's clock), as OTP does for
 *   dynamic children: they have no order among themselves.
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
  type ChildType,
  type RestartType,
  type Shutdown,
  supervisor as supervisorChild
} from "./ChildSpec.ts"
import {
  type ChildNotFound,
  type ChildStartFailed,
  type InvalidChildSpec,
  InvalidSupervisorFlags,
  type MaxChildren
} from "./Errors.ts"
import { callSupervisor } from "./internal/call.ts"
import { type DynamicFlags, dynamicBehaviour } from "./internal/dynamic.ts"
import { DynamicProtocol } from "./internal/protocol.ts"
import { millisOf } from "./internal/spec.ts"
import type { CallError, ChildCounts, ChildInfo, StartOptions } from "./Supervisor.ts"

/**
 * The flags of a dynamic supervisor.
 *
 * @category models
 * @since 0.1.0
 */
export interface DynamicSupervisorSpec {
  /** The most children at once. Default: no limit. */
  readonly maxChildren?: number | undefined
  /** Restarts allowed `within` the window before the supervisor gives up. Default 3. */
  readonly maxRestarts?: number | undefined
  /**
   * The restart intensity window, a `Duration.Input` (a number is milliseconds). Default 5
   * seconds. Same rule as `Supervisor.SupervisorSpec.within`.
   */
  readonly within?: Duration.Input | undefined
}

/**
 * One child of a dynamic supervisor: like a {@link ChildSpec.ChildSpec} without an id (children are
 * known by pid) and without `significant`.
 *
 * @category models
 * @since 0.1.0
 */
export interface DynamicChildSpec<R = never> {
  readonly start: Effect.Effect<Pid, unknown, R>
  /** Default `permanent`. */
  readonly restart?: RestartType | undefined
  /** How it is stopped (see `ChildSpec.Shutdown`). Default 5 seconds for workers, `infinity` for supervisors. */
  readonly shutdown?: Shutdown | undefined
  /** Default `worker`. */
  readonly type?: ChildType | undefined
}

/**
 * A template for the children of a dynamic supervisor: how to start one from its arguments, and
 * how it is restarted and stopped.
 *
 * @category models
 * @since 0.1.0
 */
export interface Template<Args, R = never> {
  /** Starts one child (linked: `GenServer.startLink`, `Process.spawnLink`) from its arguments. */
  readonly start: (args: Args) => Effect.Effect<Pid, unknown, R>
  /** Default `permanent`. */
  readonly restart?: RestartType | undefined
  /** Default 5 seconds for workers, `infinity` for supervisors. */
  readonly shutdown?: Shutdown | undefined
  /** Default `worker`. */
  readonly type?: ChildType | undefined
}

/**
 * Makes a child template: a function from arguments to a {@link DynamicChildSpec}. Every child
 * started from it shares its restart type, shutdown and type; a restart re-runs `start` with the
 * same arguments.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DynamicSupervisor, GenServer, Protocol } from "effect-otp"
 *
 * const Session = Protocol.make({ User: Protocol.call({ success: Schema.String }) })
 * const session = GenServer.behaviour(Session)({
 *   init: (user: string) => Effect.succeed(user),
 *   handleCall: { User: (_, user) => Effect.succeed(GenServer.reply(user, user)) }
 * })
 *
 * const sessionChild = DynamicSupervisor.template({
 *   start: (user: string) => GenServer.startLink(session, user),
 *   restart: "transient",
 *   shutdown: 1000
 * })
 *
 * const program = Effect.gen(function*() {
 *   const sessions = yield* DynamicSupervisor.start({ maxChildren: 10_000 })
 *   const pid = yield* DynamicSupervisor.startChild(sessions, sessionChild("alice"))
 * })
 * ```
 *
 * @category child specs
 * @since 0.1.0
 */
export const template =
  <Args, R>(spec: Template<Args, R>) =>
  (args: Args): DynamicChildSpec<R> => ({
    start: spec.start(args),
    restart: spec.restart,
    shutdown: spec.shutdown,
    type: spec.type
  })

const DEFAULT_WINDOW = Duration.seconds(5)

/** A spec written for 0.1's `withinMs`, which would otherwise be ignored silently. */
const renamed = (): InvalidSupervisorFlags =>
  new InvalidSupervisorFlags({ problem: 'withinMs is now within (a Duration.Input, such as "5 seconds")' })

const flagsOf = (spec: DynamicSupervisorSpec | undefined): DynamicFlags | InvalidSupervisorFlags => {
  const maxChildren = spec?.maxChildren ?? Infinity
  if (!(maxChildren >= 0))
    return new InvalidSupervisorFlags({ problem: `maxChildren must be >= 0, got ${maxChildren}` })
  const maxRestarts = spec?.maxRestarts ?? 3
  if (!Number.isInteger(maxRestarts) || maxRestarts < 0) {
    return new InvalidSupervisorFlags({ problem: `maxRestarts must be an integer >= 0, got ${maxRestarts}` })
  }
  if (spec !== undefined && "withinMs" in spec) return renamed()
  const withinMs = millisOf(spec?.within ?? DEFAULT_WINDOW)
  if (withinMs === undefined || !(withinMs > 0)) {
    return new InvalidSupervisorFlags({ problem: `within must be a duration > 0, got ${String(spec?.within)}` })
  }
  return { maxChildren, maxRestarts, withinMs }
}

/**
 * Why a dynamic supervisor did not start.
 *
 * @category models
 * @since 0.1.0
 */
export type StartError = InvalidSupervisorFlags | NameTaken | GenServer.InitFailed

const startWith = (
  spec: DynamicSupervisorSpec | undefined,
  options: StartOptions | undefined,
  link: boolean
): Effect.Effect<Pid, StartError | NotAProcess, ProcessRuntime> =>
  Effect.suspend((): Effect.Effect<Pid, StartError | NotAProcess, ProcessRuntime> => {
    const flags = flagsOf(spec)
    if (flags instanceof InvalidSupervisorFlags) return Effect.fail(flags)
    const startOptions = { name: options?.name, trapExit: true, timeout: Infinity, overflow: "suspend" } as const
    return link
      ? GenServer.startLink(dynamicBehaviour, flags, startOptions)
      : GenServer.start(dynamicBehaviour, flags, startOptions)
  })

/**
 * Starts a dynamic supervisor with no children (not linked to the caller).
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const start = (
  spec?: DynamicSupervisorSpec,
  options?: StartOptions
): Effect.Effect<Pid, StartError, ProcessRuntime> =>
  startWith(spec, options, false) as Effect.Effect<Pid, StartError, ProcessRuntime>

/**
 * Starts a dynamic supervisor linked to the current process, its parent (see
 * `Supervisor.startLink`).
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const startLink = (
  spec?: DynamicSupervisorSpec,
  options?: StartOptions
): Effect.Effect<Pid, StartError | NotAProcess, ProcessRuntime> => startWith(spec, options, true)

/**
 * Stops a dynamic supervisor: all its children are stopped (at once), then it exits with `reason`
 * (default `shutdown`). Waits until it has exited.
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
 * Starts a dynamic supervisor that is stopped when the scope closes.
 *
 * @category starting and stopping
 * @since 0.1.0
 */
export const startScoped = (
  spec?: DynamicSupervisorSpec,
  options?: StartOptions
): Effect.Effect<Pid, StartError, ProcessRuntime | Scope.Scope> =>
  Effect.acquireRelease(start(spec, options), (pid) => Effect.ignore(stop(pid)))

/**
 * A dynamic supervisor as a Layer, started when the layer is built and stopped when its scope
 * closes. Give it a `name` to add children from anywhere in the application.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  spec?: DynamicSupervisorSpec,
  options?: StartOptions
): Layer.Layer<never, StartError, ProcessRuntime> => Layer.effectDiscard(startScoped(spec, options))

/**
 * A dynamic supervisor as the child of a supervisor (type `supervisor`, shutdown `infinity` by
 * default).
 *
 * @category child specs
 * @since 0.1.0
 */
export const child = (
  id: string,
  spec?: DynamicSupervisorSpec,
  options?: ChildOptions & StartOptions
): ChildSpec<ProcessRuntime> =>
  supervisorChild(id, startLink(spec, options?.name === undefined ? undefined : { name: options.name }), options)

/**
 * Starts a child under a dynamic supervisor and resolves to its pid. Fails with `MaxChildren`,
 * `InvalidChildSpec` or `ChildStartFailed`. The start effect runs in the supervisor process with
 * the caller's services added.
 *
 * @category child operations
 * @since 0.1.0
 */
export const startChild = <R>(
  supervisor: Target,
  spec: DynamicChildSpec<R>
): Effect.Effect<Pid, InvalidChildSpec | MaxChildren | ChildStartFailed | CallError, R | ProcessRuntime> =>
  Effect.contextWith((caller: Context.Context<R>) =>
    callSupervisor(supervisor, DynamicProtocol.StartChild({ spec, context: caller }))
  )

/**
 * Stops a child (per its shutdown policy) and forgets it: it is not restarted. Fails with
 * `ChildNotFound` if `pid` is not a current child (a restarted child has a new pid).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DynamicSupervisor, Process } from "effect-otp"
 *
 * const job = DynamicSupervisor.template({
 *   start: (name: string) =>
 *     Process.spawnLink((self) => Effect.andThen(Effect.log(`running ${name}`), Effect.forever(self.receive))),
 *   restart: "temporary"
 * })
 *
 * const runAndCancel = (jobs: Process.Target) =>
 *   Effect.gen(function*() {
 *     const pid = yield* DynamicSupervisor.startChild(jobs, job("report"))
 *     yield* DynamicSupervisor.terminateChild(jobs, pid)
 *   })
 * ```
 *
 * @category child operations
 * @since 0.1.0
 */
export const terminateChild = (
  supervisor: Target,
  pid: Pid
): Effect.Effect<void, ChildNotFound | CallError, ProcessRuntime> =>
  callSupervisor(supervisor, DynamicProtocol.TerminateChild({ pid }))

/**
 * The children, in the order they were added (a child keeps its place across restarts).
 *
 * @category introspection
 * @since 0.1.0
 */
export const whichChildren = (supervisor: Target): Effect.Effect<ReadonlyArray<ChildInfo>, CallError, ProcessRuntime> =>
  callSupervisor(supervisor, DynamicProtocol.WhichChildren())

/**
 * How many children there are, running, and of each type.
 *
 * @category introspection
 * @since 0.1.0
 */
export const countChildren = (supervisor: Target): Effect.Effect<ChildCounts, CallError, ProcessRuntime> =>
  callSupervisor(supervisor, DynamicProtocol.CountChildren())
