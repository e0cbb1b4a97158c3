/**
 * The span processor that `Tracing.layerOtlp` puts in front of its OTLP exporter: a bounded queue
 * of ended spans, exported in batches, with every span it drops counted.
 *
 * It replaces the SDK's `BatchSpanProcessor`, which (2.x) exports one batch at a time and, once a
 * batch is full, serialises it synchronously inside the `span.end()` that filled it; spans that
 * arrive while its queue is full are dropped with one log line and no count a user can read. Here:
 * - a full batch is exported on the next turn of the event loop (`setImmediate`), not inside the
 *   `end()` of the span that completed it;
 * - up to `maxConcurrentExports` batches are in flight at once, so that a slow collector does not
 *   hold the queue at one request per round trip;
 * - what overflows the queue (`maxQueueSize`) or ends after shutdown is counted in `dropped`;
 *   exported and failed spans are counted too (the layer serves them as metrics);
 * - `forceFlush` exports the spans queued when it is called and waits until their exports have
 *   settled (succeeded, failed or timed out), so that it resolves even while spans keep ending;
 *   `shutdown` stops taking spans, flushes, waits (up to `exportTimeoutMillis`) for the requests
 *   still running, then shuts the exporter down;
 * - an export that times out is counted as failed at once, but keeps its slot until the exporter
 *   calls back, so that no more than `maxConcurrentExports` requests are ever running (an
 *   exporter that never calls back holds its slot for good; the OTLP exporters always call back,
 *   after their own timeout at the latest).
 *
 * @internal
 */
import * as Otel from "@opentelemetry/api"
import type { ReadableSpan, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base"

/** The settings of a {@link SpanQueue}; the defaults are the SDK's `BatchSpanProcessor`'s. */
export interface SpanQueueOptions {
  readonly maxQueueSize?: number | undefined
  readonly maxExportBatchSize?: number | undefined
  readonly scheduledDelayMillis?: number | undefined
  readonly exportTimeoutMillis?: number | undefined
  readonly maxConcurrentExports?: number | undefined
}

/** What a {@link SpanQueue} has done with the spans it was given. */
export interface SpanQueueCounts {
  /** Sampled spans handed to the queue. */
  ended: number
  /** Spans not queued: the queue was full, or the processor was shut down. */
  dropped: number
  /** Spans whose export succeeded. */
  exported: number
  /** Spans whose export failed or timed out. */
  failed: number
}

// The SDK's key (`@opentelemetry/core`'s suppressTracing): `createContextKey` is `Symbol.for`, so
// an instrumented HTTP client sees the same key and makes no span for the export request itself.
const suppressTracingKey = Otel.createContextKey("OpenTelemetry SDK Context Key SUPPRESS_TRACING")

/** See the module documentation. */
export class SpanQueue implements SpanProcessor {
  readonly counts: SpanQueueCounts = { ended: 0, dropped: 0, exported: 0, failed: 0 }
  readonly maxQueueSize: number
  private readonly batchSize: number
  private readonly delay: number
  private readonly exportTimeout: number
  private readonly maxConcurrent: number
  private queue: Array<ReadableSpan> = []
  /** Export requests running (a timed-out one included, until the exporter calls back). */
  private inFlight = 0
  /** Spans taken from the queue into batches, since the start (the queue's next span has this number). */
  private taken = 0
  /** The first span number of each batch whose export has not settled (in increasing order). */
  private unsettled: Array<number> = []
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private immediate = false
  private closed = false
  /** Each flush's first span number not to wait for (in increasing order). */
  private flushWaiters: Array<{ readonly until: number; readonly wake: () => void }> = []
  private idleWaiters: Array<() => void> = []
  private shutdownPromise: Promise<void> | undefined = undefined

  constructor(
    private readonly exporter: SpanExporter,
    options?: SpanQueueOptions
  ) {
    this.maxQueueSize = Math.max(1, options?.maxQueueSize ?? 2048)
    this.batchSize = Math.min(this.maxQueueSize, Math.max(1, options?.maxExportBatchSize ?? 512))
    this.delay = Math.max(0, options?.scheduledDelayMillis ?? 5000)
    this.exportTimeout = Math.max(1, options?.exportTimeoutMillis ?? 30_000)
    this.maxConcurrent = Math.max(1, options?.maxConcurrentExports ?? 2)
  }

  /** Spans waiting to be exported. */
  get queued(): number {
    return this.queue.length
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & Otel.TraceFlags.SAMPLED) === 0) return
    this.counts.ended++
    if (this.closed || this.queue.length >= this.maxQueueSize) {
      this.counts.dropped++
      return
    }
    this.queue.push(span)
    if (this.queue.length >= this.batchSize) {
      if (!this.immediate && this.inFlight < this.maxConcurrent) {
        this.immediate = true
        setImmediate(() => {
          this.immediate = false
          this.pump(false)
        })
      }
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.pump(true)
      }, this.delay)
      this.timer.unref()
    }
  }

  /** Exports full batches (and a partial one when `partial` or a flush waits for it) while export slots are free. */
  private pump(partial: boolean): void {
    const flushing = this.flushWaiters.length > 0 ? this.flushWaiters[this.flushWaiters.length - 1]!.until : 0
    while (
      this.inFlight < this.maxConcurrent &&
      (this.queue.length >= this.batchSize || (this.queue.length > 0 && (partial || this.taken < flushing)))
    ) {
      const batch = this.queue.length <= this.batchSize ? this.queue : this.queue.splice(0, this.batchSize)
      if (batch === this.queue) this.queue = []
      this.send(batch)
    }
    if (this.queue.length > 0 && this.timer === undefined && this.inFlight < this.maxConcurrent) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.pump(true)
      }, this.delay)
      this.timer.unref()
    }
    this.settleFlush()
  }

  private send(batch: Array<ReadableSpan>): void {
    const first = this.taken
    this.taken += batch.length
    this.unsettled.push(first)
    this.inFlight++
    let settled = false
    let released = false
    /** Counts the batch and lets flushes waiting for it go (at the exporter's answer or the timeout). */
    const settle = (ok: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timeout)
      const index = this.unsettled.indexOf(first)
      if (index >= 0) this.unsettled.splice(index, 1)
      if (ok) this.counts.exported += batch.length
      else this.counts.failed += batch.length
    }
    /** The exporter's answer: the request is over and its slot free. */
    const finish = (ok: boolean) => {
      settle(ok)
      if (!released) {
        released = true
        this.inFlight--
        if (this.inFlight === 0) {
          const waiters = this.idleWaiters
          this.idleWaiters = []
          for (const wake of waiters) wake()
        }
      }
      this.pump(false)
    }
    const timeout = setTimeout(() => {
      settle(false)
      this.settleFlush()
    }, this.exportTimeout)
    timeout.unref()
    Otel.context.with(Otel.context.active().setValue(suppressTracingKey, true), () => {
      try {
        this.exporter.export(batch, (result) => finish(result.code === 0))
      } catch {
        finish(false)
      }
    })
  }

  /** The first span number whose export has not settled (every one before it has). */
  private get settledUntil(): number {
    return this.unsettled.length > 0 ? this.unsettled[0]! : this.taken
  }

  private settleFlush(): void {
    const until = this.settledUntil
    while (this.flushWaiters.length > 0 && this.flushWaiters[0]!.until <= until) this.flushWaiters.shift()!.wake()
  }

  /**
   * Exports the spans queued now and waits until their exports have settled (failed ones are
   * counted, not retried); spans that end meanwhile are left to the schedule or the next flush.
   */
  forceFlush(): Promise<void> {
    const until = this.taken + this.queue.length
    if (until <= this.settledUntil) return Promise.resolve()
    return new Promise((wake) => {
      this.flushWaiters.push({ until, wake })
      if (this.timer !== undefined) {
        clearTimeout(this.timer)
        this.timer = undefined
      }
      this.pump(false)
    })
  }

  /** Waits until no request is running, or `exportTimeoutMillis`. */
  private idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timeout = setTimeout(done, this.exportTimeout)
      function done() {
        clearTimeout(timeout)
        resolve()
      }
      this.idleWaiters.push(done)
    })
  }

  /** Stops taking spans (later ones are dropped and counted), flushes, then shuts the exporter down. */
  shutdown(): Promise<void> {
    if (this.shutdownPromise === undefined) {
      this.closed = true
      this.shutdownPromise = this.forceFlush()
        .then(() => this.idle())
        .then(() => this.exporter.shutdown())
    }
    return this.shutdownPromise
  }
}
