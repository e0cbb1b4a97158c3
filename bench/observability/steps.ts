/**
 * Where a kept trace's CPU goes, step by step (`npx tsc -p tsconfig.build.json && node build/bench/observability/steps.js`;
 * `BENCH_STEPS=a,b` runs only those steps, `BENCH_ROUNDS`, `BENCH_CHUNK_CALLS` as in bench:observability): each step of
 * a traced local call measured alone, in nanoseconds of CPU per span or per call, in one process,
 * in short interleaved chunks (the machine's drift falls on every step alike).
 *
 * Local calls (per call, CLIENT + SERVER span when traced), each in a runtime of its own:
 * - `callBare`: no tracer;
 * - `callLeanDiscard`: the layer's tracer (lean spans, every root kept), spans thrown away at end;
 * - `callLeanQueue`: the same into the layer's `SpanQueue` with an exporter that answers at once;
 * - `callLeanSerialize`: the same, the exporter running the SDK's `ProtobufTraceSerializer`.
 *
 * Steps alone (per span): `spanId` (a span id from the id pool), `leanSpan` (a `LeanSpan` made, 5
 * attributes set, ended into a processor that drops it), `withSpan` (`Effect.withSpan` around
 * `Effect.void` with that tracer: a kept lean root, dropped at end; minus `Effect.void` alone), `queue` (`SpanQueue.onEnd` + export of
 * 4,096-span batches to an exporter that answers at once), `serialize<N>` (the SDK's protobuf
 * serialisation of a batch of N spans of a real call, per span), `http<N>` (the OTLP/HTTP exporter
 * sending a batch of N spans to the receiver, per span, serialisation included; CPU of this process).
 *
 * Prints one JSON object (last stdout line).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Path from "node:path"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { resourceFromAttributes } from "@opentelemetry/resources"
import {
  AlwaysOnSampler,
  ParentBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor
} from "@opentelemetry/sdk-trace-base"
import { Effect, Exit, Layer, ManagedRuntime, Option, Tracer } from "effect"
import { TraceRootSampler, TraceRoots } from "../../src/Process/internal/tracing.ts"
import { GenServer, ProcessRuntime } from "../../src/index.ts"
import { SpanQueue } from "../../src/Observability/internal/tracingExport.ts"
import { LeanSpan, type LeanSpanSink } from "../../src/Observability/internal/tracingSpan.ts"
import { makeTracer, RootSampling } from "../../src/Observability/internal/tracingTracer.ts"
import { chunk, load } from "./observer.ts"
import { Bench, server } from "./protocol.ts"

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20)
const CHUNK = Number(process.env.BENCH_CHUNK_CALLS ?? 2000)

const resource = resourceFromAttributes({ "service.name": "bench-steps", "service.instance.id": "bench#1" })
const instrumentationScope = { name: "@effect/opentelemetry" }

const discard: SpanProcessor = {
  onStart: () => {},
  onEnd: () => {},
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve()
}

/** An exporter that answers at once, after `work` on the batch. */
const exporterDoing = (work: (batch: ReadonlyArray<ReadableSpan>) => void): SpanExporter => ({
  export: (batch, done) => {
    work(batch)
    done({ code: 0 })
  },
  shutdown: () => Promise.resolve()
})

/** The layer's tracer (lean spans, every root kept), ending spans into `processor`. */
const tracerLayer = (processor: SpanProcessor) => {
  const roots = new RootSampling(new ParentBasedSampler({ root: new AlwaysOnSampler() }))
  const sink: LeanSpanSink = { processor, resource, instrumentationScope, generateSpanId: roots.generateSpanId }
  const base = Tracer.make({
    span: () => {
      throw new Error("every span of this bench is lean")
    }
  })
  return Layer.mergeAll(
    Layer.succeed(Tracer.Tracer, makeTracer(base, false, roots, sink)),
    Layer.succeed(TraceRoots, "all"),
    Layer.succeed(TraceRootSampler, roots)
  )
}

const callLane = async (name: string, tracing: Layer.Layer<never> | undefined, flush?: () => Promise<void>) => {
  const runtime = ManagedRuntime.make(
    tracing === undefined ? ProcessRuntime.layer() : ProcessRuntime.layer().pipe(Layer.provideMerge(tracing))
  )
  const pid = await runtime.runPromise(GenServer.start(server, undefined))
  const run = async (count: number) => {
    await runtime.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < count; i++) yield* GenServer.call(pid, Bench.Ping({ n: i }))
      })
    )
    if (flush !== undefined) await flush()
  }
  return { name, per: 1, run, dispose: () => runtime.dispose() }
}

/** Ended spans of real traced calls (CLIENT + SERVER), for the serialisation steps. */
const recordSpans = async (count: number): Promise<Array<ReadableSpan>> => {
  const spans: Array<ReadableSpan> = []
  const lane = await callLane("record", tracerLayer({ ...discard, onEnd: (span) => void spans.push(span) }))
  await lane.run(count)
  await lane.dispose()
  return spans
}

export type Step = { name: string; per: number; run: (count: number) => Promise<void>; dispose?: () => Promise<void> }

const syncStep = (name: string, body: (count: number) => void): Step => ({
  name,
  per: 1,
  run: (count) => {
    body(count)
    return Promise.resolve()
  }
})

class Child {
  readonly process: ChildProcess
  readonly endpoint: Promise<string>
  constructor(script: string) {
    this.process = spawn(process.execPath, [Path.join(import.meta.dirname, script)], {
      stdio: ["pipe", "pipe", "inherit"]
    })
    this.endpoint = new Promise((resolve) => {
      let buffered = ""
      this.process.stdout!.on("data", (data: Buffer) => {
        buffered += data.toString()
        const match = /"endpoint":"([^"]+)"/.exec(buffered)
        if (match !== null) resolve(match[1]!)
      })
    })
  }
  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.process.exitCode !== null) return resolve()
      this.process.once("exit", () => resolve())
      this.process.stdin!.end()
    })
  }
}

/** The call steps (see the module documentation), exported for an A/B run against another build of this file. */
export const callSteps = async (): Promise<Array<Step>> => {
  const queue = new SpanQueue(
    exporterDoing(() => {}),
    { maxQueueSize: 65536, maxExportBatchSize: 4096 }
  )
  const serializing = new SpanQueue(
    exporterDoing((batch) => void ProtobufTraceSerializer.serializeRequest(batch as Array<ReadableSpan>)),
    { maxQueueSize: 65536, maxExportBatchSize: 4096 }
  )
  return [
    await callLane("callBare", undefined),
    await callLane("callLeanDiscard", tracerLayer(discard)),
    await callLane("callLeanQueue", tracerLayer(queue), () => queue.forceFlush()),
    await callLane("callLeanSerialize", tracerLayer(serializing), () => serializing.forceFlush())
  ]
}

const main = async () => {
  const loadBefore = load()
  const receiver = new Child("receiver.js")
  const endpoint = await receiver.endpoint
  const recorded = await recordSpans(2048)
  const steps: Array<Step> = []
  try {
    steps.push(...(await callSteps()))

    const ids = new RootSampling(new ParentBasedSampler({ root: new AlwaysOnSampler() }))
    steps.push(
      syncStep("spanId", (count) => {
        for (let i = 0; i < count; i++) ids.generateSpanId()
      })
    )
    const sink: LeanSpanSink = {
      processor: discard,
      resource,
      instrumentationScope,
      generateSpanId: ids.generateSpanId
    }
    const exit = Exit.void
    steps.push(
      syncStep("leanSpan", (count) => {
        for (let i = 0; i < count; i++) {
          const start = process.hrtime.bigint()
          const span = new LeanSpan(sink, "Bench/Ping", "client", Option.none(), undefined as never, [], "t", start)
          span.attribute("rpc.system.name", "effect_otp")
          span.attribute("rpc.method", "Bench/Ping")
          span.attribute("effect_otp.node", "bench")
          span.attribute("effect_otp.target", "<bench.1.0>")
          span.attribute("effect_otp.local", true)
          span.end(process.hrtime.bigint(), exit)
        }
      })
    )
    const withSpanRuntime = ManagedRuntime.make(tracerLayer(discard))
    const attributes = { "rpc.system.name": "effect_otp", "rpc.method": "Bench/Ping" }
    const spanned = (count: number) =>
      Effect.gen(function* () {
        for (let i = 0; i < count; i++)
          yield* Effect.withSpan(Effect.void, "Bench/Ping", { attributes, kind: "client", captureStackTrace: false })
      })
    const plain = (count: number) =>
      Effect.gen(function* () {
        for (let i = 0; i < count; i++) yield* Effect.void
      })
    steps.push({ name: "withSpanLoop", per: 1, run: (count) => withSpanRuntime.runPromise(spanned(count)) })
    steps.push({ name: "voidLoop", per: 1, run: (count) => withSpanRuntime.runPromise(plain(count)) })

    const queueAlone = new SpanQueue(
      exporterDoing(() => {}),
      { maxQueueSize: 65536, maxExportBatchSize: 4096 }
    )
    steps.push({
      name: "queue",
      per: 1,
      run: async (count) => {
        for (let i = 0; i < count; i++) queueAlone.onEnd(recorded[i % recorded.length]!)
        await queueAlone.forceFlush()
      }
    })
    for (const size of [64, 512, 2048]) {
      const batch = recorded.slice(0, size)
      steps.push(
        syncStep(`serialize${size}`, (count) => {
          for (let done = 0; done < count; done += size) ProtobufTraceSerializer.serializeRequest(batch)
        })
      )
    }
    for (const size of [512, 2048]) {
      const batch = recorded.slice(0, size)
      const exporter = new OTLPTraceExporter({ url: `${endpoint}/v1/traces` })
      steps.push({
        name: `http${size}`,
        per: 1,
        run: async (count) => {
          for (let done = 0; done < count; done += size) {
            await new Promise<void>((resolve, reject) =>
              exporter.export(batch, (result) => (result.code === 0 ? resolve() : reject(result.error)))
            )
          }
        }
      })
    }

    // BENCH_STEPS=a,b measures only those steps (for profiling one).
    const only = process.env.BENCH_STEPS?.split(",")
    if (only !== undefined) steps.splice(0, steps.length, ...steps.filter((step) => only.includes(step.name)))
    const totals = new Map(steps.map((step) => [step.name, { cpuMillis: 0, millis: 0, count: 0 }]))
    for (const step of steps) await step.run(CHUNK * 2)
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < steps.length; k++) {
        const step = steps[(round + k) % steps.length]!
        const count = step.name.startsWith("http") ? CHUNK * 2 : CHUNK
        const { millis, cpuMillis } = await chunk(() => step.run(count))
        const total = totals.get(step.name)!
        total.cpuMillis += cpuMillis
        total.millis += millis
        total.count += count
      }
    }
    const nanos = (name: string, field: "cpuMillis" | "millis") => {
      const total = totals.get(name)!
      return Math.round((total[field] * 1e6) / total.count)
    }
    const cpuNs: Record<string, number> = {}
    const wallNs: Record<string, number> = {}
    for (const step of steps) {
      cpuNs[step.name] = nanos(step.name, "cpuMillis")
      wallNs[step.name] = nanos(step.name, "millis")
    }
    if (cpuNs.withSpanLoop !== undefined && cpuNs.voidLoop !== undefined) {
      cpuNs.withSpan = cpuNs.withSpanLoop - cpuNs.voidLoop
      wallNs.withSpan = wallNs.withSpanLoop! - wallNs.voidLoop!
    }
    await withSpanRuntime.dispose()
    console.log(
      JSON.stringify({ benchmark: "observability-steps", cpuNs, wallNs, load: { before: loadBefore, after: load() } })
    )
  } finally {
    for (const step of steps) await step.dispose?.()
    await receiver.stop()
  }
}

if (process.argv[1] === import.meta.filename) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}
