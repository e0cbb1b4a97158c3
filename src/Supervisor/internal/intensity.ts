/**
 * Restart intensity: at most `max` restarts within `withinMs`.
 *
 * @internal
 */

/** The restart history of one supervisor. */
export class Intensity {
  /** Times of the restarts still inside the window, oldest first. */
  private restarts: Array<number> = []

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
    let drop = 0
    while (drop < this.restarts.length && this.restarts[drop]! <= horizon) drop++
    if (drop > 0) this.restarts = this.restarts.slice(drop)
    this.restarts.push(now)
    return this.restarts.length <= this.max
  }
}
