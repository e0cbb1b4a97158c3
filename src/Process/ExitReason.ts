/**
 * Why a process exited, as in OTP: `normal`, `shutdown`, `killed`, `noproc`, `noconnection`, or a
 * failure carrying the Effect `Cause`. Exit reasons travel in `Signal.Down` and `Signal.Exit`,
 * decide whether links propagate an exit (everything but `normal`) and whether a transient child
 * is restarted (everything but `normal` and `shutdown`), and cross nodes through their schema.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const pid = yield* Process.spawn(() => Effect.fail("disk full"))
 *   const reason = yield* Process.awaitExit(pid)
 *   if (!ExitReason.isGraceful(reason)) yield* Effect.logWarning(`crashed: ${ExitReason.format(reason)}`)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @since 0.1.0
 */
import { Cause, Schema } from "effect"

/**
 * The process finished its work. Links do not propagate it (unless the receiver traps exits) and
 * transient children are not restarted after it.
 *
 * @category models
 * @since 0.1.0
 */
export class Normal extends Schema.TaggedClass<Normal>()("Normal", {}) {}

/**
 * The process was asked to stop, usually by its supervisor. `detail` carries an optional term like
 * Erlang's `{shutdown, Term}`. Links propagate it; transient children are not restarted after it.
 *
 * @category models
 * @since 0.1.0
 */
export class Shutdown extends Schema.TaggedClass<Shutdown>()("Shutdown", {
  detail: Schema.optional(Schema.Unknown)
}) {}

/**
 * The process was killed with an untrappable `kill` signal (or its shutdown timeout expired).
 *
 * @category models
 * @since 0.1.0
 */
export class Killed extends Schema.TaggedClass<Killed>()("Killed", {}) {}

/**
 * The process did not exist when it was linked or monitored (or when `Process.awaitExit` was
 * called).
 *
 * @category models
 * @since 0.1.0
 */
export class NoProc extends Schema.TaggedClass<NoProc>()("NoProc", {}) {}

/**
 * The connection to the process's node was lost, or never existed: the process may still be
 * running there. Monitors and links of processes on a node that goes down fire with it.
 *
 * @category models
 * @since 0.1.0
 */
export class NoConnection extends Schema.TaggedClass<NoConnection>()("NoConnection", {}) {}

/**
 * The process failed: its effect failed or died, or another process sent it an exit signal with a
 * custom reason. `cause` is the full Effect `Cause`.
 *
 * @category models
 * @since 0.1.0
 */
export class Failure extends Schema.TaggedClass<Failure>()("Failure", {
  cause: Schema.Cause(Schema.Unknown, Schema.Unknown)
}) {}

/**
 * Any exit reason.
 *
 * @category models
 * @since 0.1.0
 */
export type ExitReason = Normal | Shutdown | Killed | NoProc | NoConnection | Failure

/**
 * The schema of {@link ExitReason} (for codecs and messages that carry a reason).
 *
 * @category schemas
 * @since 0.1.0
 */
export const ExitReason = Schema.Union([Normal, Shutdown, Killed, NoProc, NoConnection, Failure])

/**
 * `normal`: the process finished its work.
 *
 * @category constructors
 * @since 0.1.0
 */
export const normal: ExitReason = new Normal()

/**
 * `killed`: the reason of a process ended by the untrappable `kill` signal.
 *
 * @category constructors
 * @since 0.1.0
 */
export const killed: ExitReason = new Killed()

/**
 * `noproc`: there was no such process.
 *
 * @category constructors
 * @since 0.1.0
 */
export const noproc: ExitReason = new NoProc()

/**
 * `noconnection`: the process's node could not be reached.
 *
 * @category constructors
 * @since 0.1.0
 */
export const noconnection: ExitReason = new NoConnection()

const plainShutdown = new Shutdown({})

/**
 * `shutdown`, optionally with a detail term (`{shutdown, Term}` in Erlang).
 *
 * @example
 * ```ts
 * import { ExitReason } from "effect-otp"
 *
 * const reason = ExitReason.shutdown("maintenance")
 * console.log(ExitReason.format(reason), ExitReason.isGraceful(reason)) // shutdown(maintenance) true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const shutdown = (detail?: unknown): ExitReason =>
  detail === undefined ? plainShutdown : new Shutdown({ detail })

/**
 * A failure with the given cause (how a process whose effect failed or died exits).
 *
 * @category constructors
 * @since 0.1.0
 */
export const failure = (cause: Cause.Cause<unknown>): ExitReason => new Failure({ cause })

/**
 * A failure with a custom reason value, like `exit(Pid, my_reason)` in Erlang: a `Failure` whose
 * cause is `Cause.fail(reason)`.
 *
 * @example
 * ```ts
 * import { ExitReason, Process } from "effect-otp"
 *
 * const stop = (pid: Process.Target) => Process.exit(pid, ExitReason.custom("config_changed"))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const custom = (reason: unknown): ExitReason => failure(Cause.fail(reason))

/**
 * Whether the reason is `normal`.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isNormal = (reason: ExitReason): boolean => reason._tag === "Normal"

/**
 * Whether the reason is `normal` or `shutdown` (with or without detail): the reasons after which a
 * transient child is not restarted and a supervisor does not report an error.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isGraceful = (reason: ExitReason): boolean => reason._tag === "Normal" || reason._tag === "Shutdown"

/**
 * A short human-readable form: `normal`, `shutdown`, `killed`, `noproc`, `noconnection`, or the
 * pretty-printed cause.
 *
 * @category formatting
 * @since 0.1.0
 */
export const format = (reason: ExitReason): string => {
  switch (reason._tag) {
    case "Normal":
      return "normal"
    case "Shutdown":
      return reason.detail === undefined ? "shutdown" : `shutdown(${String(reason.detail)})`
    case "Killed":
      return "killed"
    case "NoProc":
      return "noproc"
    case "NoConnection":
      return "noconnection"
    case "Failure":
      return Cause.pretty(reason.cause)
  }
}
