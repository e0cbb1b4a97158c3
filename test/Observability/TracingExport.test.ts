import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { setImmediate as nextTurn } from "node:timers/promises"
import { GenServer, ProcessRuntime, Tracing } from "../../src/index.ts"
import { SpanQueue } from "../../src/Observability/internal/tracingExport.ts"
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlpReceiver.ts"
import { Echo, echo } from "../support/tracingHarness.ts"

const receiver = Effect.acquireRelease(
  Effect.promise(() => startOtlpReceiver()),
  (receiver) => Effect.promise(() => receiver.close())
)

/** A real SDK provider whose only processor is `queue`, exporting over OTLP/HTTP protobuf to `otlp`. */
const providerWith = (otlp: OtlpReceiver, options: ConstructorParameters<typeof SpanQueue>[1]) => {
  const queue = new SpanQueue(new OTLPTraceExporter({ url: otlp.url }), options)
  const provider = new BasicTracerProvider({ spanProcessors: [queue] })
  return { queue, provider, tracer: provider.getTracer("test") }
}

const seriesValue = (text: string, name: string): number | undefined => {
  const line = text.split("\n").find((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
}

describe("Tracing's span queue", () => {
  it.live("spans that find the queue full are dropped and counted; the queued ones all arrive on flush", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      const { queue, provider, tracer } = providerWith(otlp, {
        maxQueueSize: 40,
        maxExportBatchSize: 10,
        scheduledDelayMillis: 60_000
      })
      yield* Effect.addFinalizer(() => Effect.promise(() => provider.shutdown()))
      // Ended in one synchronous run: no export can start before the 41st span meets a full queue.
      for (let i = 0; i < 100; i++) tracer.startSpan(`span ${i}`).end()
      assert.deepStrictEqual({ ...queue.counts }, { ended: 100, dropped: 60, exported: 0, failed: 0 })
      yield* Effect.promise(() => queue.forceFlush())
      assert.deepStrictEqual({ ...queue.counts }, { ended: 100, dropped: 60, exported: 40, failed: 0 })
      assert.strictEqual(otlp.spans.length, 40)
      // The first 40 (two batches may be in flight at once: their order of arrival is not fixed).
      assert.deepStrictEqual(
        otlp.spans.map((span) => Number(span.name.slice(5))).sort((x, y) => x - y),
        Array.from({ length: 40 }, (_, i) => i)
      )
      assert.strictEqual(queue.queued, 0)
    })
  )

  it.live("20,000 spans ended while batches are exported, then a shutdown: every one arrives, none dropped", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      const { queue, provider, tracer } = providerWith(otlp, {
        maxQueueSize: 65_536,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 50
      })
      yield* Effect.promise(async () => {
        for (let chunk = 0; chunk < 20; chunk++) {
          for (let i = 0; i < 1000; i++) tracer.startSpan(`span ${chunk * 1000 + i}`).end()
          // Let the exports scheduled by full batches run between chunks.
          await nextTurn()
        }
        await provider.shutdown()
      })
      assert.deepStrictEqual({ ...queue.counts }, { ended: 20_000, dropped: 0, exported: 20_000, failed: 0 })
      assert.strictEqual(otlp.spans.length, 20_000)
      assert.strictEqual(new Set(otlp.spans.map((span) => span.spanId)).size, 20_000)
      // Ended after shutdown: dropped, and counted.
      tracer.startSpan("late").end()
      assert.strictEqual(queue.counts.dropped, 1)
    })
  )

  it.live("Tracing.flush exports the spans ended so far without closing the layer, and the counts are metrics", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      yield* Effect.scoped(
        Effect.gen(function* () {
          const pid = yield* GenServer.start(echo, undefined)
          for (let i = 0; i < 5; i++) yield* GenServer.call(pid, Echo.Ping({ n: i }))
          // A 60 s schedule: nothing is exported yet, until the flush.
          assert.strictEqual(otlp.spans.length, 0)
          yield* Tracing.flush
          assert.strictEqual(otlp.spans.length, 10)
          const text = yield* PrometheusMetrics.format()
          assert.strictEqual(seriesValue(text, "effect_otp_tracing_spans_exported_total"), 10)
          assert.strictEqual(seriesValue(text, "effect_otp_tracing_spans_dropped_total"), 0)
          assert.strictEqual(seriesValue(text, "effect_otp_tracing_spans_export_failed_total"), 0)
          assert.strictEqual(seriesValue(text, "effect_otp_tracing_span_queue"), 0)
          yield* GenServer.stop(pid)
        }).pipe(
          Effect.provide(
            ProcessRuntime.layer().pipe(
              Layer.provideMerge(
                Tracing.layerOtlp({
                  url: otlp.url,
                  serviceName: "flush-test",
                  roots: "all",
                  batch: { scheduledDelayMillis: 60_000 }
                })
              )
            )
          )
        )
      )
      // Without the layer, flush does nothing.
      yield* Tracing.flush
    })
  )
})
