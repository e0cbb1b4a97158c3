/**
 * Reconnection: the backoff between redials of a lost member or an unreachable seed.
 *
 * @internal
 */
import { Duration, Effect, Schedule } from "effect"

/**
 * The delays between attempts: `base * 2^n` for the n-th retry, scaled by a random factor in
 * [0.8, 1.2] (so that nodes that lost a peer together do not redial in step), then capped at
 * `max`. Runs on Effect's `Clock` (so `TestClock` drives it) and its `Random`.
 */
export const backoff = (baseMs: number, maxMs: number): Schedule.Schedule<Duration.Duration> =>
  Schedule.exponential(Duration.millis(baseMs), 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(maxMs))))
  )
