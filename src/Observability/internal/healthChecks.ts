/**
 * Running one readiness check: in a fiber of its own, within its timeout, and naming why it
 * failed (its error, its defect, an interruption, or the timeout).
 *
 * @internal
 */
import { Cause, Duration, Effect, Exit, Fiber, Option, Result } from "effect"
import * as Timers from "../../internal/timers.ts"

/** A check with its services already provided. */
export interface RunnableCheck {
  readonly name: string
  readonly timeoutMs: number
  readonly run: Effect.Effect<unknown, unknown>
}

/** What one check answered. */
export interface Outcome {
  readonly name: string
  readonly ok: boolean
  readonly reason: string | undefined
  readonly durationMs: number
}

/** A short readable text for an error or defect: `Tag: message`, the message, or the value itself. */
export const describeValue = (value: unknown): string => {
  if (typeof value === "string") return value
  if (typeof value === "object" && value !== null) {
    const record = value as { readonly _tag?: unknown; readonly name?: unknown; readonly message?: unknown }
    const tag = typeof record._tag === "string" ? record._tag : typeof record.name === "string" ? record.name : ""
    const message = typeof record.message === "string" ? record.message : ""
    if (tag !== "" && message !== "" && tag !== message) return `${tag}: ${message}`
    if (message !== "") return message
    if (tag !== "") return tag
    try {
      return JSON.stringify(value)
    } catch {
      return String(value)
    }
  }
  return String(value)
}

/** Why an exit is not a success. */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) return `failed: ${describeValue(error.value)}`
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) return `died: ${describeValue(defect.success)}`
  return "interrupted"
}

/**
 * Runs `check` in a fiber of its own and waits for it at most `timeoutMs` on the current clock. A
 * check that outlives its timeout is interrupted without being waited for, so that a check that
 * ignores interruption cannot hold the probe.
 */
export const runCheck = (check: RunnableCheck): Effect.Effect<Outcome> =>
  Effect.gen(function* () {
    const timers = yield* Timers.current
    const startedAt = timers.now()
    const fiber = yield* Effect.forkDetach(check.run)
    const exit = yield* Effect.timeoutOption(Fiber.await(fiber), Duration.millis(check.timeoutMs))
    const durationMs = Math.round((timers.now() - startedAt) * 1000) / 1000
    if (Option.isNone(exit)) {
      yield* Effect.forkDetach(Fiber.interrupt(fiber))
      return { name: check.name, ok: false, reason: `timed out after ${check.timeoutMs} ms`, durationMs }
    }
    return Exit.isSuccess(exit.value)
      ? { name: check.name, ok: true, reason: undefined, durationMs }
      : { name: check.name, ok: false, reason: describeFailure(exit.value.cause), durationMs }
  })
