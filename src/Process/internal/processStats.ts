/**
 * Per-process bookkeeping for the Observer: when the process started, how many messages it took
 * from its mailbox, and a sampled measure of how busy it is (the share of recent time it spent
 * handling a message rather than waiting in `receive`).
 *
 * Cost: the mailbox increments `handled` for every message it gives to the receiver; one message
 * in `sampleEvery` reads the monotonic clock when it is given and again when the receiver next
 * asks for a message (its handler is done). Nothing runs while the process is idle and there is
 * no timer per process: windows roll when a sample ends, and readers compute the shares from the
 * fields at the time they read.
 *
 * @internal
 */

/** One handled message in how many has its handler time measured, by default (a power of two). */
export const BUSY_SAMPLE_EVERY = 16

/** The length of the window the busy share and the message rate are reported over (milliseconds). */
export const BUSY_WINDOW_MS = 5000

/** Weight of a new sample in the moving average of handler latency. */
const LATENCY_WEIGHT = 0.2

/** The bookkeeping of one process. Written by its mailbox; read by the Observer. */
export class ProcessStats {
  /** Messages the process took from its mailbox (signals included). */
  handled = 0
  /** Monotonic time (ms) at which the message being timed was given to the receiver; 0 when none is. */
  sampleAt = 0
  /** Estimated time spent in handlers since the process started (sampled time x sample rate), ms. */
  busyTotal = 0
  /** Handler durations measured. */
  samples = 0
  /** The last measured handler duration, ms. */
  lastLatencyMs = 0
  /** An exponentially weighted moving average of the measured handler durations, ms. */
  latencyMs = 0
  /** Start (monotonic ms) of the current window, and the busy time and handled count at its start. */
  windowStart: number
  windowBusy = 0
  windowHandled = 0
  /** The previous window, if any (`prevStart` is NaN before the first roll). */
  prevStart = Number.NaN
  prevBusy = 0
  prevHandled = 0

  /**
   * @param mask `sampleEvery - 1` (a message is timed when the count masked with it is 0); -1 with
   *   sampling off.
   * @param scale how many messages one timed message stands for.
   * @param now the runtime's monotonic clock (milliseconds).
   * @param startedAt wall-clock milliseconds of the spawn, for display.
   */
  constructor(
    readonly mask: number,
    readonly scale: number,
    readonly now: () => number,
    readonly startedAt: number
  ) {
    this.windowStart = now()
  }

  /** A sampled message was given to the receiver: note the time. */
  begin(): void {
    if (this.scale === 0) return
    this.sampleAt = this.now() || Number.MIN_VALUE
  }

  /** The receiver asks for its next message: the timed handler is done. */
  end(): void {
    const now = this.now()
    const duration = Math.max(0, now - this.sampleAt)
    this.sampleAt = 0
    const estimate = duration * this.scale
    this.busyTotal += estimate
    this.windowBusy += estimate
    this.lastLatencyMs = duration
    this.latencyMs = this.samples === 0 ? duration : this.latencyMs + LATENCY_WEIGHT * (duration - this.latencyMs)
    this.samples++
    if (now - this.windowStart >= BUSY_WINDOW_MS) {
      this.prevStart = this.windowStart
      this.prevBusy = this.windowBusy
      this.prevHandled = this.windowHandled
      this.windowStart = now
      this.windowBusy = 0
      this.windowHandled = this.handled
    }
  }

  /** Time (ms) the handler being timed has run so far: counted as busy even before it ends. */
  private inFlight(now: number): number {
    return this.sampleAt === 0 ? 0 : Math.max(0, now - this.sampleAt)
  }

  /**
   * The last window at monotonic time `now` (between one and two {@link BUSY_WINDOW_MS}, or since
   * the start of a younger process): its length, and the messages handled and time spent in
   * handlers in it (a handler still running counts up to `now`). A process that went idle sees
   * its shares decay towards 0 as time passes.
   */
  recent(now: number): Recent {
    if (now - this.windowStart >= BUSY_WINDOW_MS || Number.isNaN(this.prevStart)) {
      return {
        span: now - this.windowStart,
        busy: this.windowBusy + this.inFlight(now),
        handled: this.handled - this.windowHandled
      }
    }
    return {
      span: now - this.prevStart,
      busy: this.prevBusy + this.windowBusy + this.inFlight(now),
      handled: this.handled - this.prevHandled
    }
  }

  /** The share (0 to 1) of the last window ({@link recent}) spent in handlers. */
  busyShare(now: number): number {
    return busyShareOf(this.recent(now))
  }

  /** Messages per second over the last window ({@link recent}). */
  rate(now: number): number {
    return rateOf(this.recent(now))
  }
}

/** A window of a process's activity. */
export interface Recent {
  readonly span: number
  readonly busy: number
  readonly handled: number
}

/** The share of `recent` spent in handlers, 0 to 1. */
export const busyShareOf = (recent: Recent): number => (recent.span <= 0 ? 0 : Math.min(1, recent.busy / recent.span))

/** Messages per second in `recent`. */
export const rateOf = (recent: Recent): number => (recent.span <= 0 ? 0 : (recent.handled * 1000) / recent.span)

/**
 * The mask and scale of a sample rate: `every` rounded down to a power of two (at most 2^30); 0,
 * a negative number or NaN for no sampling.
 */
export const samplingOf = (every: number): { readonly mask: number; readonly scale: number } => {
  if (!(every >= 1)) return { mask: -1, scale: 0 }
  const power = 2 ** Math.min(30, Math.floor(Math.log2(every)))
  return { mask: power - 1, scale: power }
}
