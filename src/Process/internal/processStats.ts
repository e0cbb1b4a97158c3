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

/**
 * The measured handler times of a process, made at its first timed message. Apart from this, a
 * process's bookkeeping holds only small integers: V8 stores a number field that has ever held a
 * fraction in a box of its own (16 bytes) in every object of the class, even where it is 0, so an
 * idle process would carry a box per time field once any process had been timed.
 */
class HandlerTiming {
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
  /** The busy time of the current window and of the previous one. */
  windowBusy = 0
  prevBusy = 0
}

/** The bookkeeping of one process. Written by its mailbox; read by the Observer. */
export class ProcessStats {
  /** Messages the process took from its mailbox (signals included). */
  handled = 0
  /** Start (whole monotonic ms) of the current window, and the handled count at its start. */
  windowStart: number
  windowHandled = 0
  /** The previous window's start (-1 before the first roll) and handled count at its start. */
  prevStart = -1
  prevHandled = 0
  /** Wall-clock ms of the spawn, as an offset from the runtime's `sampling.wallOrigin` (whole ms). */
  private readonly startOffset: number
  private timing: HandlerTiming | undefined = undefined

  constructor(
    /** The runtime's sampling settings and clock, shared by all its processes. */
    readonly sampling: Sampling,
    /** Wall-clock milliseconds of the spawn, for display. */
    startedAt: number
  ) {
    this.windowStart = Math.floor(sampling.now())
    this.startOffset = Math.round(startedAt - sampling.wallOrigin)
  }

  /** Wall-clock milliseconds of the spawn. */
  get startedAt(): number {
    return this.sampling.wallOrigin + this.startOffset
  }

  /** `handled & mask` is 0 for the messages whose handler time is measured (-1: none). */
  get mask(): number {
    return this.sampling.mask
  }

  /** Monotonic time (ms) at which the message being timed was given to the receiver; 0 when none is. */
  get sampleAt(): number {
    return this.timing === undefined ? 0 : this.timing.sampleAt
  }

  /** Estimated time spent in handlers since the process started (sampled time x sample rate), ms. */
  get busyTotal(): number {
    return this.timing === undefined ? 0 : this.timing.busyTotal
  }

  /** Handler durations measured. */
  get samples(): number {
    return this.timing === undefined ? 0 : this.timing.samples
  }

  /** The last measured handler duration, ms. */
  get lastLatencyMs(): number {
    return this.timing === undefined ? 0 : this.timing.lastLatencyMs
  }

  /** An exponentially weighted moving average of the measured handler durations, ms. */
  get latencyMs(): number {
    return this.timing === undefined ? 0 : this.timing.latencyMs
  }

  /** Busy time (ms) in the current window. */
  get windowBusy(): number {
    return this.timing === undefined ? 0 : this.timing.windowBusy
  }

  /** Busy time (ms) in the previous window. */
  get prevBusy(): number {
    return this.timing === undefined ? 0 : this.timing.prevBusy
  }

  /** A sampled message was given to the receiver: note the time. */
  begin(): void {
    if (this.sampling.scale === 0) return
    ;(this.timing ??= new HandlerTiming()).sampleAt = this.sampling.now() || Number.MIN_VALUE
  }

  /** The receiver asks for its next message: the timed handler is done. */
  end(): void {
    const timing = this.timing!
    const now = this.sampling.now()
    const duration = Math.max(0, now - timing.sampleAt)
    timing.sampleAt = 0
    const estimate = duration * this.sampling.scale
    timing.busyTotal += estimate
    timing.windowBusy += estimate
    timing.lastLatencyMs = duration
    timing.latencyMs =
      timing.samples === 0 ? duration : timing.latencyMs + LATENCY_WEIGHT * (duration - timing.latencyMs)
    timing.samples++
    if (now - this.windowStart >= BUSY_WINDOW_MS) {
      this.prevStart = this.windowStart
      timing.prevBusy = timing.windowBusy
      this.prevHandled = this.windowHandled
      this.windowStart = Math.floor(now)
      timing.windowBusy = 0
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
    if (now - this.windowStart >= BUSY_WINDOW_MS || this.prevStart < 0) {
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
export const samplingOf = (every: number, now: () => number, wallOrigin: number): Sampling => {
  if (!(every >= 1)) return { mask: -1, scale: 0, now, wallOrigin }
  const power = 2 ** Math.min(30, Math.floor(Math.log2(every)))
  return { mask: power - 1, scale: power, now, wallOrigin }
}

/** How a runtime samples its processes' handler time: one object shared by all of them. */
export interface Sampling {
  /** `handled & mask` is 0 for a sampled message; -1 samples none. */
  readonly mask: number
  /** What one sampled message stands for (the sampling interval); 0 when sampling is off. */
  readonly scale: number
  /** The runtime's monotonic clock (milliseconds). */
  readonly now: () => number
  /** Wall-clock ms when the runtime started: processes keep their start as a small offset from it. */
  readonly wallOrigin: number
}
