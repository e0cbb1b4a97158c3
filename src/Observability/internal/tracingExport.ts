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
 * - `forceFlush` exports everything queued and waits for every export in flight; `shutdown`
 *   flushes, then shuts the exporter down.
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
  private inFlight = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private immediate = false
  private closed = false
  private flushWaiters: Array<() => void> = []
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

  /** Exports full batches (and a partial one when `partial`) while export slots are free. */
  private pump(partial: boolean): void {
    const all = partial || this.flushWaiters.length > 0
    while (
      this.inFlight < this.maxConcurrent &&
      (this.queue.length >= this.batchSize || (all && this.queue.length > 0))
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
    this.inFlight++
    let done = false
    const finish = (ok: boolean) => {
      if (done) return
      done = true
      clearTimeout(timeout)
      this.inFlight--
      if (ok) this.counts.exported += batch.length
      else this.counts.failed += batch.length
      this.pump(false)
    }
    const timeout = setTimeout(() => finish(false), this.exportTimeout)
    timeout.unref()
    Otel.context.with(Otel.context.active().setValue(suppressTracingKey, true), () => {
      try {
        this.exporter.export(batch, (result) => finish(result.code === 0))
      } catch {
        finish(false)
      }
    })
  }

  private settleFlush(): void {
    if (this.flushWaiters.length === 0 || this.queue.length > 0 || this.inFlight > 0) return
    const waiters = this.flushWaiters
    this.flushWaiters = []
    for (const wake of waiters) wake()
  }

  /** Exports every queued span and waits for every export in flight (failed ones are counted, not retried). */
  forceFlush(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.flushWaiters.push(resolve)
      if (this.timer !== undefined) {
        clearTimeout(this.timer)
        this.timer = undefined
      }
      this.pump(true)
    })
  }

  /** Flushes, then shuts the exporter down; spans ended afterwards are dropped (and counted). */
  shutdown(): Promise<void> {
    return (this.shutdownPromise ??= this.forceFlush().then(() => {
      this.closed = true
      return this.exporter.shutdown()
    }))
  }
}
