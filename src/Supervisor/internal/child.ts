/**
 * Starting a child inside its supervisor process, and linking to it.
 *
 * @internal
 */
import { type Cause, Context, Effect } from "effect"
import * as ExitReason from "../../Process/ExitReason.ts"
import { InitFailed } from "../../Process/GenServer.ts"
import type { Cell } from "../../Process/internal/cell.ts"
import type { Pid } from "../../Process/Pid.ts"
import type { Runtime } from "../../Process/internal/runtime.ts"

/**
 * Why a start effect failed, as an exit reason: the reason of a GenServer's failed `init` (or a
 * supervisor's failed start), otherwise the failure itself.
 */
export const startFailureReason = (cause: Cause.Cause<unknown>): ExitReason.ExitReason => {
  for (const reason of cause.reasons) {
    if (reason._tag === "Fail" && reason.error instanceof InitFailed) return reason.error.reason
  }
  return ExitReason.failure(cause)
}

/** Runs a start effect, resolving to the child's pid or to the reason it failed. */
export const runStart = (start: Effect.Effect<Pid, unknown>): Effect.Effect<Pid, ExitReason.ExitReason> =>
  Effect.catchCause(start, (cause) => Effect.fail(startFailureReason(cause)))

/**
 * Links the supervisor to a child it just started (a no-op when the start effect linked it
 * already). A local child that is already gone produces a `noproc` exit signal, as a link to a
 * dead process does, so the supervisor learns of its end like any other. Pids of other nodes are
 * left as they are: their start effect must link them.
 */
export const adopt = (runtime: Runtime, self: Cell, pid: Pid): void => {
  if (pid.node !== runtime.node || pid.incarnation !== runtime.incarnation) return
  const cell = runtime.lookup(pid)
  if (cell !== undefined && !cell.finished) self.link(cell)
  // Already gone: if it was linked, its real exit signal is queued first and this one is ignored.
  else self.signalExit(pid, ExitReason.noproc, false)
}

/**
 * The start effect of a child added by `startChild`, given the services of the caller: those the
 * supervisor's own context lacks are provided to it (the supervisor's win where both have one).
 * Usually the caller has nothing the supervisor lacks, and `start` is returned as is.
 */
export const withCallerServices = <A, E>(
  start: Effect.Effect<A, E>,
  caller: Context.Context<never> | undefined,
  own: Context.Context<never>
): Effect.Effect<A, E> => {
  if (caller === undefined) return start
  let missing: Map<string, unknown> | undefined
  for (const [key, service] of caller.mapUnsafe) {
    if (!own.mapUnsafe.has(key)) (missing ??= new Map()).set(key, service)
  }
  return missing === undefined ? start : Effect.provideContext(start, Context.makeUnsafe<never>(missing))
}
