/**
 * Timers and monotonic time on Effect's `Clock`, without a fiber per timer.
 *
 * Every timeout, interval and silence in the library (call timeouts, `sendAfter`, shutdown
 * timeouts, handshakes, heartbeats, failure detection, backoff) goes through a {@link Timers}
 * taken from the fiber that built the component. Under Effect's default clock a timer is a plain
 * `setTimeout` and time is `performance.now()` (monotonic: an NTP step or a VM resume moves
 * neither), so the hot paths cost what they did. Under any other clock (`TestClock`), a timer is a
 * fiber sleeping on that clock and time is the clock's monotonic time, so `TestClock.adjust`
 * drives every timer with no real waiting.
 *
 * @internal
 */
import { Clock, Context, Duration, Effect, type Fiber } from "effect"

/** Cancels a pending timer; does nothing once it fired or was cancelled. */
export type CancelTimer = () => void

/** Monotonic time and one-shot timers of one clock. */
export interface Timers {
  /** Monotonic milliseconds (fractional), comparable only with other readings of the same Timers. */
  readonly now: () => number
  /**
   * Runs `onTimeout` once after `millis`. An infinite delay (or `Infinity`) never fires and costs
   * nothing; a negative one fires at the next turn.
   */
  readonly start: (millis: number, onTimeout: () => void) => CancelTimer
  /** Whether these timers follow Effect's default (real) clock. */
  readonly live: boolean
}

const noop: CancelTimer = () => {}

/** setTimeout's longest delay; longer ones are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1

const liveStart = (millis: number, onTimeout: () => void): CancelTimer => {
  if (!(millis < Infinity)) return noop
  if (millis > MAX_TIMER_MS) {
    let cancel: CancelTimer = noop
    const handle = setTimeout(() => (cancel = liveStart(millis - MAX_TIMER_MS, onTimeout)), MAX_TIMER_MS)
    cancel = () => clearTimeout(handle)
    return () => cancel()
  }
  const handle = setTimeout(onTimeout, Math.max(0, millis))
  return () => clearTimeout(handle)
}

/** The timers of Effect's default clock: `setTimeout` and `performance.now()`. */
export const live: Timers = { now: () => performance.now(), start: liveStart, live: true }

const defaultClock: Clock.Clock = Context.get(Context.empty(), Clock.Clock)

/**
 * The timers of `clock`. Timers of a clock other than the default one run as fibers forked with
 * `context` (so that they run on that clock's scheduler).
 */
export const fromClock = (clock: Clock.Clock, context: Context.Context<never>): Timers => {
  if (clock === defaultClock || clock.constructor === defaultClock.constructor) return live
  const fork = Effect.runForkWith(context)
  return {
    live: false,
    now: () => Number(clock.monotonicTimeNanosUnsafe()) / 1e6,
    start: (millis, onTimeout) => {
      if (!(millis < Infinity)) return noop
      const fiber = fork(Effect.andThen(clock.sleep(Duration.millis(Math.max(0, millis))), Effect.sync(onTimeout)))
      return () => void fiber.interruptUnsafe()
    }
  }
}

/** The timers of the clock a fiber runs with. */
export const ofFiber = (fiber: Fiber.Fiber<unknown, unknown>): Timers =>
  fromClock(fiber.getRef(Clock.Clock), fiber.context as Context.Context<never>)

/** The timers of the current fiber's clock. */
export const current: Effect.Effect<Timers> = Effect.withFiber((fiber) => Effect.succeed(ofFiber(fiber)))

/**
 * Milliseconds of a duration given as Effect's `Duration.Input` (a number is milliseconds).
 * `Infinity` stays infinite.
 */
export const toMillis = (input: Duration.Input): number => Duration.toMillis(input)
