/**
 * Why a process exited, as in OTP: `normal`, `shutdown`, `killed`, `noproc`, `noconnection`, or a
 * failure carrying the Effect `Cause`.
 *
 * @since 0.1.0
 */
import { Cause, Schema } from "effect"

/**
 * The process finished its work. Links do not propagate it (unless the receiver traps exits) and
 * transient children are not restarted after it.
 *
 * @since 0.1.0
 */
export class Normal extends Schema.TaggedClass<Normal>()("Normal", {}) {}

/**
 * The process was asked to stop, usually by its supervisor. `detail` carries an optional term like
 * Erlang's `{shutdown, Term}`. Links propagate it; transient children are not restarted after it.
 *
 * @since 0.1.0
 */
export class Shutdown extends Schema.TaggedClass<Shutdown>()("Shutdown", {
  detail: Schema.optional(Schema.Unknown)
}) {}

/**
 * The process was killed with an untrappable `kill` signal (or its shutdown timeout expired).
 *
 * @since 0.1.0
 */
export class Killed extends Schema.TaggedClass<Killed>()("Killed", {}) {}

/**
 * The process did not exist when it was linked or monitored.
 *
 * @since 0.1.0
 */
export class NoProc extends Schema.TaggedClass<NoProc>()("NoProc", {}) {}

/**
 * The connection to the process's node was lost.
 *
 * @since 0.1.0
 */
export class NoConnection extends Schema.TaggedClass<NoConnection>()("NoConnection", {}) {}

/**
 * The process failed: its effect failed or died, or another process sent it an exit signal with a
 * custom reason. `cause` is the full Effect `Cause`.
 *
 * @since 0.1.0
 */
export class Failure extends Schema.TaggedClass<Failure>()("Failure", {
  cause: Schema.Cause(Schema.Unknown, Schema.Unknown)
}) {}

/**
 * Any exit reason.
 *
 * @since 0.1.0
 */
export type ExitReason = Normal | Shutdown | Killed | NoProc | NoConnection | Failure

/**
 * The schema of {@link ExitReason} (for codecs and messages that carry a reason).
 *
 * @since 0.1.0
 */
export const ExitReason = Schema.Union([Normal, Shutdown, Killed, NoProc, NoConnection, Failure])

/** @since 0.1.0 */
export const normal: ExitReason = new Normal()
/** @since 0.1.0 */
export const killed: ExitReason = new Killed()
/** @since 0.1.0 */
export const noproc: ExitReason = new NoProc()
/** @since 0.1.0 */
export const noconnection: ExitReason = new NoConnection()

const plainShutdown = new Shutdown({})

/**
 * `shutdown`, optionally with a detail term (`{shutdown, Term}` in Erlang).
 *
 * @since 0.1.0
 */
export const shutdown = (detail?: unknown): ExitReason =>
  detail === undefined ? plainShutdown : new Shutdown({ detail })

/**
 * A failure with the given cause.
 *
 * @since 0.1.0
 */
export const failure = (cause: Cause.Cause<unknown>): ExitReason => new Failure({ cause })

/**
 * A failure with a custom reason value, like `exit(Pid, my_reason)` in Erlang.
 *
 * @since 0.1.0
 */
export const custom = (reason: unknown): ExitReason => failure(Cause.fail(reason))

/**
 * Whether the reason is `normal`.
 *
 * @since 0.1.0
 */
export const isNormal = (reason: ExitReason): boolean => reason._tag === "Normal"

/**
 * Whether the reason is `normal` or `shutdown` (with or without detail): the reasons after which a
 * transient child is not restarted and a supervisor does not report an error.
 *
 * @since 0.1.0
 */
export const isGraceful = (reason: ExitReason): boolean => reason._tag === "Normal" || reason._tag === "Shutdown"

/**
 * A short human-readable form: `normal`, `shutdown`, `killed`, `noproc`, `noconnection`, or the
 * pretty-printed cause.
 *
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
