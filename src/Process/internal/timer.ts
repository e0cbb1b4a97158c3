/**
 * Timeouts as the runtime understands them: a number of milliseconds, where `Infinity` (and any
 * value beyond what `setTimeout` can wait, about 24.8 days, which it would treat as 1 ms) means
 * no timeout at all.
 *
 * @internal
 */

const MAX_TIMER_MS = 2 ** 31 - 1

/** Runs `onTimeout` after `millis`, or never when the timeout is infinite. */
export const startTimeout = (millis: number, onTimeout: () => void): ReturnType<typeof setTimeout> | undefined =>
  Number.isFinite(millis) && millis <= MAX_TIMER_MS ? setTimeout(onTimeout, Math.max(0, millis)) : undefined
