/**
 * Repeated log lines, written once and then rarely.
 *
 * A peer that keeps failing the same way (a wrong secret, a taken name) is retried with backoff for
 * as long as the node runs: its first failure is logged, the repeats only once per quiet period,
 * saying how many were left out in between. Keys come from peers (addresses, names), so their
 * number is bounded: past `maxKeys` the oldest key is forgotten.
 *
 * @internal
 */

/** How long repeats of one logged line stay quiet by default: five minutes. */
export const defaultQuietMs = 5 * 60 * 1000

export class LogThrottle {
  private readonly seen = new Map<string, { lastAt: number; skipped: number }>()

  constructor(
    /** Monotonic milliseconds (a `Timers.now`). */
    private readonly now: () => number,
    private readonly quietMs: number = defaultQuietMs,
    private readonly maxKeys: number = 1024
  ) {}

  /**
   * Whether a line with this key is written now: `undefined` to leave it out, otherwise how many
   * lines of the key were left out since the last one written (0 for the first).
   */
  admit(key: string): number | undefined {
    const now = this.now()
    const entry = this.seen.get(key)
    if (entry === undefined) {
      if (this.seen.size >= this.maxKeys) this.seen.delete(this.seen.keys().next().value!)
      this.seen.set(key, { lastAt: now, skipped: 0 })
      return 0
    }
    if (now - entry.lastAt < this.quietMs) {
      entry.skipped++
      return undefined
    }
    const skipped = entry.skipped
    entry.lastAt = now
    entry.skipped = 0
    return skipped
  }

  /** Forgets a key: the condition is over (the peer linked), so the next failure is news again. */
  forget(key: string): void {
    this.seen.delete(key)
  }
}

/** The suffix of a line written after repeats were left out. */
export const repeats = (skipped: number): string =>
  skipped === 0 ? "" : ` (${skipped} more time${skipped === 1 ? "" : "s"} since it was last logged)`
