/**
 * Restart intensity: at most `max` restarts within `withinMs`.
 *
 * @internal
 */

/** The restart history of one supervisor. */
export class Intensity {
  /** Times of recent restarts, oldest first, from `head` on. */
  private times: Array<number> = []
  private head = 0

  constructor(
    readonly max: number,
    readonly withinMs: number
  ) {}

  /**
   * Records a restart at `now` (milliseconds). Returns false when this restart makes more than
   * `max` within the last `withinMs` (a restart exactly `withinMs` old has left the window).
   */
  add(now: number): boolean {
    const horizon = now - this.withinMs
    const times = this.times
    while (this.head < times.length && times[this.head]! <= horizon) this.head++
    if (this.head > 64 && this.head * 2 > times.length) {
      this.times = times.slice(this.head)
      this.head = 0
    }
    this.times.push(now)
    return this.times.length - this.head <= this.max
  }
}
