import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import * as OtelApi from "@opentelemetry/api"
import {
  BasicTracerProvider,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import { assert, describe, it } from "@effect/vitest"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { TraceState } from "@opentelemetry/core"
import type { ExportResult } from "@opentelemetry/core"
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import { Context, Effect, Exit, Layer, Metric, Option } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { setImmediate as nextTurn } from "node:timers/promises"
import { GenServer, ProcessRuntime, Tracing } from "../../src/index.ts"
import { SpanQueue } from "../../src/Observability/internal/tracingExport.ts"
import { LeanSpan } from "../../src/Observability/internal/tracingSpan.ts"
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

/**
 * The real OTLP exporter to `otlp`, with `answer` run where its answer to an export comes back
 * (`answer` calls `reply` when it wants the queue to see it).
 */
const exporterWith = (
  otlp: OtlpReceiver,
  answer: (reply: () => void, batch: ReadonlyArray<ReadableSpan>, result: ExportResult) => void
): SpanExporter & { calls: number } => {
  const inner = new OTLPTraceExporter({ url: otlp.url })
  const exporter = {
    calls: 0,
    export: (batch: Array<ReadableSpan>, done: (result: ExportResult) => void) => {
      exporter.calls++
      inner.export(batch, (result) => answer(() => done(result), batch, result))
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush()
  }
  return exporter
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

  /** Runs `calls` local calls, each its own root, under `sampler`; the spans received and the roots counted. */
  const rootsUnder = (otlp: OtlpReceiver, sampler: Sampler, calls: number, serviceName: string) =>
    Effect.scoped(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(echo, undefined)
        for (let i = 0; i < calls; i++) yield* GenServer.call(pid, Echo.Ping({ n: i }))
        yield* GenServer.stop(pid)
        yield* Tracing.flush
        const text = yield* PrometheusMetrics.format()
        return {
          kept: seriesValue(text, 'effect_otp_tracing_roots_total{decision="kept"}'),
          dropped: seriesValue(text, 'effect_otp_tracing_roots_total{decision="dropped"}'),
          spans: otlp.spans.filter((span) => span.resource["service.name"] === serviceName)
        }
      }).pipe(
        Effect.provide(
          ProcessRuntime.layer().pipe(
            Layer.provideMerge(Tracing.layerOtlp({ url: otlp.url, serviceName, roots: "all", sampler })),
            // A registry of this test's own: other tests' layers register the same series.
            Layer.provideMerge(Layer.succeed(Metric.MetricRegistry, new Map()))
          )
        )
      )
    )

  it.live(
    "the SDK's ratio sampler decides roots without a trace id: about a quarter of 1,000 are kept, counted, each with an id the sampler keeps",
    () =>
      Effect.gen(function* () {
        const otlp = yield* receiver
        const ratio = new TraceIdRatioBasedSampler(0.25)
        const { kept, dropped, spans } = yield* rootsUnder(otlp, new ParentBasedSampler({ root: ratio }), 1000, "ratio")
        // Binomial(1000, 0.25): mean 250, standard deviation 13.7; 250 ± 70 is a ±5σ band.
        assert.isTrue(kept !== undefined && kept >= 180 && kept <= 320, `${kept} kept`)
        assert.strictEqual(kept! + dropped!, 1000)
        assert.strictEqual(spans.length, 2 * kept!)
        const roots = spans.filter((span) => !span.parentSpanId)
        assert.strictEqual(roots.length, kept)
        for (const root of roots) {
          assert.strictEqual(
            ratio.shouldSample(OtelApi.ROOT_CONTEXT, root.traceId).decision,
            SamplingDecision.RECORD_AND_SAMPLED
          )
        }
        assert.strictEqual(new Set(roots.map((root) => root.traceId)).size, kept)
      })
  )

  it.live("a sampler of the application's own is asked for every root, with the trace id the root then has", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      const asked: Array<string> = []
      const everyOther: Sampler = {
        shouldSample: (context, traceId): SamplingResult => {
          // Not parent-based: the SDK asks it for the server's spans too (children of kept roots).
          if (OtelApi.trace.getSpanContext(context) !== undefined)
            return { decision: SamplingDecision.RECORD_AND_SAMPLED }
          asked.push(traceId)
          return {
            decision: asked.length % 2 === 0 ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD
          }
        },
        toString: () => "EveryOther"
      }
      const { kept, dropped, spans } = yield* rootsUnder(otlp, everyOther, 100, "every-other")
      assert.deepStrictEqual({ kept, dropped }, { kept: 50, dropped: 50 })
      const roots = spans.filter((span) => !span.parentSpanId)
      assert.deepStrictEqual(roots.map((root) => root.traceId).sort(), asked.filter((_, i) => i % 2 === 1).sort())
    })
  )

  it.live(
    "lean spans and the SDK's spans (the path taken when a span limit is set) arrive alike: names, kinds, parents, attributes, status",
    () =>
      Effect.gen(function* () {
        const otlp = yield* receiver
        const program = Effect.gen(function* () {
          const pid = yield* GenServer.start(echo, undefined)
          yield* GenServer.call(pid, Echo.Ping({ n: 1 }))
          yield* Effect.exit(GenServer.call(pid, Echo.Fail()))
          yield* Effect.annotateCurrentSpan({ count: 2, big: BigInt(7), list: ["a", "b"], nested: { x: 1 } })
          yield* Effect.exit(Effect.fail("boom").pipe(Effect.withSpan("failing child")))
          yield* Effect.void.pipe(Effect.withSpan("child", { kind: "producer", attributes: { flag: true } }))
          yield* GenServer.stop(pid)
        }).pipe(Effect.withSpan("outer", { attributes: { stage: "test" } }))
        const runUnder = (serviceName: string) =>
          Effect.scoped(
            program.pipe(
              Effect.provide(
                ProcessRuntime.layer().pipe(
                  Layer.provideMerge(Tracing.layerOtlp({ url: otlp.url, serviceName })),
                  Layer.provideMerge(Layer.succeed(Metric.MetricRegistry, new Map()))
                )
              )
            )
          )
        yield* runUnder("lean")
        const saved = process.env.OTEL_ATTRIBUTE_COUNT_LIMIT
        process.env.OTEL_ATTRIBUTE_COUNT_LIMIT = "128"
        yield* runUnder("sdk").pipe(
          Effect.ensuring(
            Effect.sync(() => {
              if (saved === undefined) delete process.env.OTEL_ATTRIBUTE_COUNT_LIMIT
              else process.env.OTEL_ATTRIBUTE_COUNT_LIMIT = saved
            })
          )
        )
        const shape = (service: string) => {
          const spans = otlp.spans.filter((span) => span.resource["service.name"] === service)
          const byId = new Map(spans.map((span) => [span.spanId, span]))
          return spans
            .map((span) => {
              // Pids differ from one run to the other.
              const { [`effect_otp.pid`]: _pid, [`effect_otp.target`]: _target, ...attributes } = span.attributes
              return {
                name: span.name,
                kind: span.kind,
                parent: span.parentSpanId ? byId.get(span.parentSpanId)?.name : undefined,
                sameTrace: spans.every((other) => other.traceId === span.traceId),
                attributes,
                statusCode: span.statusCode
              }
            })
            .sort((x, y) => (x.name + x.kind < y.name + y.kind ? -1 : 1))
        }
        const lean = shape("lean")
        // outer, spawn, two calls (CLIENT and SERVER each), the two children.
        assert.strictEqual(lean.length, 8, JSON.stringify(lean.map((span) => span.name)))
        assert.deepStrictEqual(lean, shape("sdk"))
        assert.strictEqual(lean.find((span) => span.name === "failing child")?.statusCode, 2)
      })
  )

  it.live(
    "a flush resolves while spans keep ending, with every span ended before it exported; so does a shutdown",
    () =>
      Effect.gen(function* () {
        const otlp = yield* receiver
        let producing = true
        // A span ends just before every answer from the collector, so an export is always running or due.
        let more: (() => void) | undefined
        const exporter = exporterWith(otlp, (reply) => {
          if (producing) more?.()
          reply()
        })
        const queue = new SpanQueue(exporter, { maxExportBatchSize: 10, scheduledDelayMillis: 60_000 })
        const provider = new BasicTracerProvider({ spanProcessors: [queue] })
        const tracer = provider.getTracer("test")
        more = () => tracer.startSpan("more").end()
        yield* Effect.addFinalizer(() => Effect.promise(() => provider.shutdown()))
        for (let i = 0; i < 50; i++) tracer.startSpan(`span ${i}`).end()
        const flushed = yield* Effect.promise(() => queue.forceFlush()).pipe(Effect.timeoutOption("10 seconds"))
        assert.isTrue(Option.isSome(flushed), "the flush resolved")
        const names = otlp.spans.map((span) => span.name).filter((name) => name !== "more")
        assert.deepStrictEqual(
          names.map((name) => Number(name.slice(5))).sort((x, y) => x - y),
          Array.from({ length: 50 }, (_, i) => i)
        )
        // Spans did end while it ran.
        assert.isTrue(queue.counts.ended > 50)
        // Still producing: the shutdown resolves too; what ends once it has begun is dropped and counted.
        const shut = yield* Effect.promise(() => provider.shutdown()).pipe(Effect.timeoutOption("10 seconds"))
        assert.isTrue(Option.isSome(shut), "the shutdown resolved")
        producing = false
        assert.isTrue(queue.counts.dropped >= 1)
        assert.strictEqual(queue.counts.failed, 0)
        assert.strictEqual(queue.counts.ended, queue.counts.exported + queue.counts.dropped)
        assert.strictEqual(otlp.spans.length, queue.counts.exported)
      })
  )

  it.live("an export that times out is counted failed and lets the flush go, but keeps its slot until it answers", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      const held: Array<() => void> = []
      let hold = true
      let answered!: () => void
      const firstAnswer = new Promise<void>((resolve) => (answered = resolve))
      const exporter = exporterWith(otlp, (reply) => {
        if (!hold) return reply()
        held.push(reply)
        answered()
      })
      const queue = new SpanQueue(exporter, {
        maxExportBatchSize: 10,
        scheduledDelayMillis: 60_000,
        exportTimeoutMillis: 50,
        maxConcurrentExports: 1
      })
      const provider = new BasicTracerProvider({ spanProcessors: [queue] })
      const tracer = provider.getTracer("test")
      yield* Effect.addFinalizer(() => Effect.promise(() => provider.shutdown()))
      for (let i = 0; i < 5; i++) tracer.startSpan(`span ${i}`).end()
      // The collector has the spans, its answer is held: the flush ends at the timeout.
      yield* Effect.promise(() => queue.forceFlush())
      assert.deepStrictEqual({ ...queue.counts }, { ended: 5, dropped: 0, exported: 0, failed: 5 })
      assert.strictEqual(exporter.calls, 1)
      // The request is still running: its slot is not free for the next batch.
      for (let i = 5; i < 8; i++) tracer.startSpan(`span ${i}`).end()
      const second = queue.forceFlush()
      assert.strictEqual(exporter.calls, 1)
      assert.strictEqual(queue.queued, 3)
      // Once the answer to the first request is let through, the next batch goes out; the late answer changes no count.
      yield* Effect.promise(() => firstAnswer)
      hold = false
      held.shift()!()
      assert.strictEqual(exporter.calls, 2)
      yield* Effect.promise(() => second)
      assert.deepStrictEqual({ ...queue.counts }, { ended: 8, dropped: 0, exported: 3, failed: 5 })
      yield* Effect.promise(() => provider.shutdown())
    })
  )

  it('a lean span\'s attributes are its own keys, "constructor" and "__proto__" included, counted against the limit', () => {
    const ended: Array<ReadableSpan> = []
    const span = new LeanSpan(
      {
        processor: {
          onStart: () => {},
          onEnd: (span) => ended.push(span),
          forceFlush: () => Promise.resolve(),
          shutdown: () => Promise.resolve()
        },
        resource: undefined as unknown as ReadableSpan["resource"],
        instrumentationScope: { name: "test" },
        generateSpanId: () => "00f067aa0ba902b7"
      },
      "attributes",
      "internal",
      Option.none(),
      Context.empty(),
      [],
      "4bf92f3577b34da6a3ce929d0e0e4736",
      BigInt(1_000_000)
    )
    span.attribute("constructor", 1)
    span.attribute("__proto__", ["a", "b"])
    span.attribute("toString", "text")
    for (let i = 3; i < 128; i++) span.attribute(`key ${i}`, i)
    // The 129th distinct key is over the limit; setting a present key again is not.
    span.attribute("over", true)
    span.attribute("constructor", 2)
    assert.strictEqual(span.attributes.get("__proto__") !== undefined, true)
    span.end(BigInt(2_000_000), Exit.void)
    const attributes = ended[0]!.attributes
    assert.strictEqual(Object.keys(attributes).length, 128)
    assert.strictEqual(ended[0]!.droppedAttributesCount, 1)
    assert.isTrue(Object.hasOwn(attributes, "__proto__"))
    assert.deepStrictEqual(attributes["__proto__"], ["a", "b"])
    assert.strictEqual(attributes["constructor"], 2)
    assert.strictEqual(attributes["toString"], "text")
    assert.isFalse(Object.hasOwn(attributes, "over"))
    assert.isFalse(Array.isArray(attributes))
  })

  it.live("a child of a span the SDK made keeps that span's trace state (it is not made lean)", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      const traceState = new TraceState("vendor=value")
      const withState: Sampler = {
        shouldSample: () => ({ decision: SamplingDecision.RECORD_AND_SAMPLED, traceState }),
        toString: () => "WithState"
      }
      const states = yield* Effect.gen(function* () {
        const root = yield* OtelTracer.currentOtelSpan
        const child = yield* OtelTracer.currentOtelSpan.pipe(Effect.withSpan("child"))
        return [root, child].map((span) => span.spanContext().traceState?.serialize())
      }).pipe(
        Effect.withSpan("root"),
        Effect.provide(
          Tracing.layerOtlp({
            url: otlp.url,
            serviceName: "trace-state",
            sampler: new ParentBasedSampler({ root: withState })
          })
        ),
        Effect.provide(Layer.succeed(Metric.MetricRegistry, new Map()))
      )
      assert.deepStrictEqual(states, ["vendor=value", "vendor=value"])
    })
  )
})
