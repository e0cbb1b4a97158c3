/**
 * Crash reports, like OTP's SASL crash reports: one error-level log record for each process that
 * ends by its own failure. The only place the process runtime reports crashes from.
 *
 * @internal
 */
import { Context, Effect, LogLevel, References } from "effect"
import type * as ExitReason from "../ExitReason.ts"
import type { Cell } from "./cell.ts"

/** What a behaviour tells a crash report about itself (a GenServer knows its last message). */
export interface CrashInfo {
  readonly behaviour: string
  readonly lastMessage: string | undefined
}

/**
 * Logs the crash of `cell` with `reason` with the context the process started with: its loggers,
 * minimum level and span, and `CurrentProcess` (so a logger sees its node, pid and registered
 * name, as for any record made inside the process).
 * Called when the fiber has ended and before the process's bookkeeping frees its name.
 *
 * Only processes that end by their own failure are reported: an error or defect in their code,
 * or a `stop`/`exitSelf` with a failure reason. A process ended by an exit signal (a linked
 * process's crash, `kill`, `shutdown`) is not: the crash that started it was reported where it
 * happened.
 */
export const reportCrash = (cell: Cell, context: Context.Context<never>, reason: ExitReason.Failure): void => {
  if (!LogLevel.isGreaterThanOrEqualTo("Error", Context.get(context, References.MinimumLogLevel))) return
  const info: CrashInfo = cell.behaviour?.crashInfo() ?? { behaviour: "process", lastMessage: undefined }
  const name = cell.name
  const annotations: Record<string, string> = { "otp.report": "crash", "otp.behaviour": info.behaviour }
  if (info.lastMessage !== undefined) annotations["otp.lastMessage"] = info.lastMessage
  const who = name === undefined ? String(cell.pid) : `${cell.pid} ("${name}")`
  try {
    Effect.runSyncWith(context)(
      Effect.annotateLogs(Effect.logError(`process ${who} crashed`, reason.cause), annotations)
    )
  } catch {
    // A logger that throws must not break the process's exit bookkeeping.
  }
}
