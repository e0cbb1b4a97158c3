/**
 * The phases of a graceful shutdown: each one logged when it starts and ends, each with its own
 * timeout. A phase that times out is left running in the background (its work is usually an
 * uninterruptible scope close) and the next phase starts; one that fails is logged and the next
 * starts too: a shutdown always reaches its end.
 *
 * @internal
 */
import { Cause, Clock, Duration, Effect, Exit, Fiber, Option } from "effect"

/** One phase: its name (kebab-case, as logged), its bound, and its work. */
export interface Phase {
  readonly name: string
  readonly timeout: Duration.Duration
  readonly run: Effect.Effect<void, unknown>
}

const elapsedMs = (start: bigint, end: bigint): number => Math.round(Number(end - start) / 1e5) / 10

/** Runs `phases` in order, logging each; never fails. */
export const runPhases = (phases: ReadonlyArray<Phase>): Effect.Effect<void> =>
  Effect.gen(function* () {
    const total = phases.length
    let index = 0
    for (const phase of phases) {
      index++
      const label = `shutdown phase ${index}/${total} ${phase.name}`
      const annotate = Effect.annotateLogs({ "otp.report": "shutdown", "otp.phase": phase.name })
      yield* Effect.logInfo(`${label}: started (timeout ${Duration.format(phase.timeout)})`).pipe(annotate)
      const start = yield* Clock.monotonicTimeNanos
      // Detached: a phase past its timeout keeps running while the next one starts.
      const fiber = yield* Effect.forkDetach(phase.run)
      const exit = yield* Fiber.await(fiber).pipe(Effect.timeoutOption(phase.timeout))
      const ms = elapsedMs(start, yield* Clock.monotonicTimeNanos)
      if (Option.isNone(exit)) {
        yield* Effect.logWarning(`${label}: timed out after ${ms} ms; going on with the next phase`).pipe(annotate)
      } else if (Exit.isFailure(exit.value)) {
        yield* Effect.logWarning(
          `${label}: failed after ${ms} ms; going on with the next phase`,
          exit.value.cause
        ).pipe(annotate)
      } else {
        yield* Effect.logInfo(`${label}: done in ${ms} ms`).pipe(annotate)
      }
    }
  })

/**
 * Runs `effect` in a fiber of its own, interruptible, and waits for it. The main fiber of a node is
 * interrupted by the signal that starts the shutdown; the shutdown itself must still be able to
 * time its phases out, so it does not run in the interrupted fiber.
 */
export const detached = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Exit.Exit<A, E>> =>
  Effect.flatMap(Effect.forkDetach(Effect.interruptible(effect)), Fiber.await)

/** Whether an exit is a success or an interruption only (a signal): a clean stop. */
export const isCleanStop = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)
