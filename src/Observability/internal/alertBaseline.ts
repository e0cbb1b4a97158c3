/**
 * A streaming baseline: mean and variance of a series, updated in O(1) per sample with no buffer.
 *
 * The first `window` samples are weighted equally (exactly Welford's running mean and population
 * variance); after that each sample has weight `2 / (window + 1)`, an exponentially weighted mean
 * and variance that follows slow drifts and forgets old behaviour.
 *
 * @internal
 */
export class Baseline {
  /** Samples that fed the baseline. */
  count = 0
  mean = 0
  variance = 0

  /** Adds one sample. `window` is the number of samples the exponential weighting spans. */
  add(value: number, window: number): void {
    this.count++
    const weight = Math.max(1 / this.count, 2 / (window + 1))
    const diff = value - this.mean
    const increment = weight * diff
    this.mean += increment
    this.variance = (1 - weight) * (this.variance + diff * increment)
  }

  get stddev(): number {
    return Math.sqrt(this.variance)
  }
}
