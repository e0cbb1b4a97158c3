/**
 * Child specifications: what a supervisor starts, when it restarts it, and how it stops it.
 *
 * @since 0.1.0
 */
import { Duration, type Effect } from "effect"
import * as GenServer from "../Process/GenServer.ts"
import type { Pid } from "../Process/Pid.ts"
import type { ProcessRuntime } from "../Process/ProcessRuntime.ts"

/**
 * When a child is restarted after it exits, as in OTP:
 * - `permanent`: always.
 * - `transient`: only after an abnormal exit (any reason but `normal` and `shutdown`).
 * - `temporary`: never; the child is forgotten when it exits.
 *
 * @category models
 * @since 0.1.0
 */
export type RestartType = "permanent" | "transient" | "temporary"

/**
 * How a child is stopped, as OTP's `shutdown`:
 * - a duration (`Duration.Input`: `"5 seconds"`, `Duration.seconds(5)`, or a number of
 *   milliseconds): it is sent an exit signal `shutdown` and killed (untrappable) if it has not
 *   exited (its `terminate` finished) within that time, on the runtime's clock;
 * - `"infinity"`: it is sent `shutdown` and waited for as long as it takes (the default for
 *   supervisors, which need the time to stop their own children);
 * - `"brutal"`: it is killed at once (OTP's `brutal_kill`: untrappable, no `terminate`).
 *
 * @category models
 * @since 0.1.0
 */
export type Shutdown = "brutal" | "infinity" | Duration.Input

/**
 * Whether a child is a worker or a supervisor. Informational (`whichChildren`,
 * `countChildren`), and it decides the default {@link Shutdown}.
 *
 * @category models
 * @since 0.1.0
 */
export type ChildType = "worker" | "supervisor"

/**
 * A child of a supervisor.
 *
 * `start` runs inside the supervisor process whenever the child is started or restarted, and
 * resolves to the pid of the new child. Start it linked (`GenServer.startLink`,
 * `Process.spawnLink`, `Supervisor.startLink`): the supervisor also links to the pid it gets, so
 * a child started unlinked is still supervised, but a GenServer only treats its supervisor as
 * its parent (stopping through `terminate` when the supervisor asks) when it was started with
 * `startLink`. A `start` that fails (or dies) is a failed start: at supervisor start-up it fails
 * the whole start; during a restart it is retried, each attempt counting toward the restart
 * intensity.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ChildSpec, Process, ProcessRuntime } from "effect-otp"
 *
 * const ticker: ChildSpec.ChildSpec<ProcessRuntime.ProcessRuntime> = {
 *   id: "ticker",
 *   start: Process.spawnLink((self) => Effect.forever(self.receive)),
 *   restart: "permanent",
 *   shutdown: 1000
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ChildSpec<R = never> {
  /** Unique among the supervisor's children. */
  readonly id: string
  /** Starts the child inside the supervisor process and resolves to its pid. */
  readonly start: Effect.Effect<Pid, unknown, R>
  /** Default `permanent`. */
  readonly restart?: RestartType | undefined
  /** How it is stopped. Default 5 seconds for workers, `infinity` for supervisors. */
  readonly shutdown?: Shutdown | undefined
  /** Default `worker`. */
  readonly type?: ChildType | undefined
  /**
   * Whether the child's own exit can shut the supervisor down (see the supervisor's
   * `autoShutdown`). Only `transient` and `temporary` children may be significant. Default false.
   */
  readonly significant?: boolean | undefined
}

/**
 * The services the start effects of child specs `C` need (distributes over a union of specs).
 *
 * @category models
 * @since 0.1.0
 */
export type Services<C> = C extends ChildSpec<infer R> ? R : never

/**
 * The restart, shutdown and significance of a child, without its id and start effect.
 *
 * @category models
 * @since 0.1.0
 */
export interface ChildOptions {
  readonly restart?: RestartType | undefined
  readonly shutdown?: Shutdown | undefined
  readonly significant?: boolean | undefined
}

/**
 * Default shutdown of a worker: 5 seconds (OTP's 5000 ms).
 *
 * @category defaults
 * @since 0.1.0
 */
export const DEFAULT_WORKER_SHUTDOWN: Duration.Duration = Duration.seconds(5)

/**
 * A worker child (the identity function with the type fixed to `worker`): reads better in a list
 * of children and infers `R` from `start`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ChildSpec, Process } from "effect-otp"
 *
 * const logger = ChildSpec.worker({
 *   id: "logger",
 *   start: Process.spawnLink((self) => Effect.forever(Effect.flatMap(self.receive, Effect.log)))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const worker = <R>(spec: ChildSpec<R>): ChildSpec<R> => ({ ...spec, type: "worker" })

/**
 * A supervisor child started by `start` (of type `supervisor`, so its shutdown defaults to
 * `infinity`). Used by `Supervisor.child` and `DynamicSupervisor.child`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const supervisor = <R>(
  id: string,
  start: Effect.Effect<Pid, unknown, R>,
  options?: ChildOptions
): ChildSpec<R> => ({
  id,
  start,
  type: "supervisor",
  restart: options?.restart,
  shutdown: options?.shutdown,
  significant: options?.significant
})

/**
 * Options of {@link genServer}: the GenServer's start options (its `name`, `trapExit`, init
 * `timeout`, mailbox) and the child's restart, shutdown and significance.
 *
 * @category models
 * @since 0.1.0
 */
export interface GenServerChildOptions<P = unknown> extends GenServer.StartOptions<P>, ChildOptions {}

/**
 * A GenServer child, started with `GenServer.startLink(behaviour, args, options)`. Give it a
 * `name` so that the rest of the application can call it without knowing its pid: calls by name
 * reach whichever incarnation is running after restarts.
 *
 * Set `trapExit: true` when `terminate` must run on shutdown: a GenServer that traps exits
 * handles the supervisor's `shutdown` signal as a stop request (runs `terminate`, then exits);
 * one that does not trap exits is ended by the signal at once.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { ChildSpec, GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const counter = GenServer.behaviour(Counter)({
 *   init: (start: number) => Effect.succeed(start),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 * })
 *
 * const child = ChildSpec.genServer("counter", counter, 0, { name: "counter", trapExit: true })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const genServer = <P, Args, S, R>(
  id: string,
  behaviour: GenServer.Behaviour<P, Args, S, R>,
  args: Args,
  options?: GenServerChildOptions<NoInfer<P>>
): ChildSpec<R | ProcessRuntime> => {
  const { restart, shutdown, significant, ...startOptions } = options ?? {}
  return {
    id,
    start: GenServer.startLink(behaviour, args, startOptions),
    restart,
    shutdown,
    type: "worker",
    significant
  }
}
