/**
 * Observability benchmark: what tracing costs a GenServer call, and what a Prometheus render of
 * 1,000 series costs.
 *
 * - `callsPerSecNoTracer` / `callsPerSecDropped` / `callsPerSecSampled10` / `callsPerSecFullTracing`:
 *   sequential local calls with no tracer; with `Tracing.layerOtlp` exporting over OTLP/HTTP
 *   (protobuf) to a receiver on loopback (in its own process, decoding every request), each call its
 *   own root (`Tracing.Roots` "all"), under a parent-based sampler whose root sampler drops every
 *   root, keeps 10%, keeps all. The modes run at once, interleaved in short chunks in one process
 *   (see `localInterleaved`); `cpu` has the same rates per CPU-second of the process.
 * - `remoteCallsPerSec*`: the same three for calls to a server on a peer node in another OS process
 *   (the peer exports too, following the caller's sampling decision).
 * - `metricsScrapeMillis`: one `PrometheusMetrics.format()` render with 1,000 distinct series
 *   (median of 20).
 * - `observerSnapshotMillis100k`, `busySamplingCostRatio` and the other Observer figures: see
 *   bench/observability/observer.ts.
 *
 * Run with `npm run bench:observability` (compiled JavaScript, like bench:local). Prints one JSON
 * object on its last stdout line and writes it to bench/results/observability.json.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, ManagedRuntime, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import * as Cluster from "../src/Cluster/Cluster.ts"
import * as Distribution from "../src/Cluster/Distribution.ts"
import { GenServer, ProcessRuntime, RemoteName, Tracing } from "../src/index.ts"
import { chunk, load, samplingCost, snapshotCost } from "./observability/observer.ts"
import { Bench, peerNode, secret, server } from "./observability/protocol.ts"

const LANES_PER_MODE = 2
const CHUNK_CALLS = Number(process.env.BENCH_CHUNK_CALLS ?? 2000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30)
const REMOTE_CALLS = 20_000
const WARMUP = 10_000
const REPEATS = 3
const SERIES = 1000

const perSec = (count: number, millis: number) => Math.round((count / millis) * 1000)

/** A child process printing JSON lines; `next` waits for the next one matching `key`. */
class Child {
  private lines: Array<Record<string, unknown>> = []
  private waiters: Array<() => void> = []
  readonly process: ChildProcess
  constructor(script: string, env: NodeJS.ProcessEnv) {
    this.process = spawn(process.execPath, [Path.join(import.meta.dirname, script)], {
      stdio: ["pipe", "pipe", "inherit"],
      env
    })
    let buffered = ""
    this.process.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      for (const line of lines) if (line.startsWith("{")) this.lines.push(JSON.parse(line) as Record<string, unknown>)
      const waiters = this.waiters
      this.waiters = []
      for (const wake of waiters) wake()
    })
  }
  next(key: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.lines.findIndex((line) => key in line)
        if (index >= 0) return resolve(this.lines.splice(index, 1)[0]!)
        if (this.process.exitCode !== null) return reject(new Error(`${key}: the child exited`))
        this.waiters.push(check)
      }
      check()
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

/**
 * The SDK's own samplers (the layer decides their roots without asking them: see
 * `RootSampling`); the roots kept are read from the layer's `effect_otp_tracing_roots_total`.
 */
const samplerOf = (mode: Mode): Sampler =>
  new ParentBasedSampler({
    root:
      mode === "sampled"
        ? new TraceIdRatioBasedSampler(0.1)
        : mode === "dropped"
          ? new AlwaysOffSampler()
          : new AlwaysOnSampler()
  })

/** The tracing layer's counts, from a Prometheus render of the registry it registered in. */
const tracingCounts = Effect.map(PrometheusMetrics.format(), (text) => {
  const value = (series: string) => {
    const line = text.split("\n").find((line) => line.startsWith(`${series} `))
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
  }
  return {
    keptRoots: value('effect_otp_tracing_roots_total{decision="kept"}'),
    dropped: value("effect_otp_tracing_spans_dropped_total"),
    failed: value("effect_otp_tracing_spans_export_failed_total")
  }
})

/** A metric registry of its own, so that the layers of several lanes in this process do not share series. */
const ownRegistry = () => Layer.succeed(Metric.MetricRegistry, new Map())

/** `dropped` (every root dropped, what an unsampled call costs) runs only when BENCH_MODES names it. */
type Mode = "none" | "sampled" | "full" | "dropped"

const tracingLayer = (endpoint: string, mode: Mode, sampler: Sampler) =>
  mode === "none"
    ? Layer.empty
    : Tracing.layerOtlp({
        url: `${endpoint}/v1/traces`,
        protocol: "http/protobuf",
        serviceName: `bench-${mode}`,
        nodeName: "bench",
        roots: "all",
        sampler
      })

/** One local call server per lane, in a runtime of its own with that mode's tracing layer, kept for the whole measurement. */
const localLane = async (endpoint: string, mode: Mode) => {
  const runtime = ManagedRuntime.make(
    ProcessRuntime.layer().pipe(
      Layer.provideMerge(tracingLayer(endpoint, mode, samplerOf(mode))),
      Layer.provideMerge(ownRegistry())
    )
  )
  const pid = await runtime.runPromise(GenServer.start(server, undefined))
  // A chunk is its calls and the export of the spans they made (Tracing.flush: nothing without a
  // tracer), so that no lane's export runs, unaccounted, during another lane's chunk.
  const loop = (count: number) =>
    runtime.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < count; i++) yield* GenServer.call(pid, Bench.Ping({ n: i }))
        yield* Tracing.flush
      })
    )
  /** Stops the server, reads the counts (after a last flush), closes the runtime. */
  const dispose = async () => {
    await runtime.runPromise(GenServer.stop(pid))
    const counts = await runtime.runPromise(Effect.andThen(Tracing.flush, tracingCounts))
    await runtime.dispose()
    return counts
  }
  return { mode, loop, dispose }
}

/**
 * Local calls in every mode at once: LANES_PER_MODE servers per mode, each in its own runtime,
 * measured in CHUNK_CALLS-call chunks rotating through all of them for ROUNDS rounds, so that the
 * drift of a shared machine's speed falls on every mode alike. Rates are total calls over total
 * time (wall, and CPU time of the whole process) per mode.
 */
const localInterleaved = (endpoint: string, modes: ReadonlyArray<Mode>) =>
  Effect.promise(async () => {
    const lanes = await Promise.all(
      Array.from({ length: modes.length * LANES_PER_MODE }, (_, i) => localLane(endpoint, modes[i % modes.length]!))
    )
    const totals = new Map(
      modes.map((mode) => [mode, { millis: 0, cpuMillis: 0, calls: 0, keptRoots: 0, dropped: 0, failed: 0 }])
    )
    try {
      for (const lane of lanes) await lane.loop(WARMUP)
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < lanes.length; k++) {
          const lane = lanes[(round + k) % lanes.length]!
          const { millis, cpuMillis } = await chunk(() => lane.loop(CHUNK_CALLS))
          const total = totals.get(lane.mode)!
          total.millis += millis
          total.cpuMillis += cpuMillis
          total.calls += CHUNK_CALLS
        }
      }
    } finally {
      for (const lane of lanes) {
        const counts = await lane.dispose()
        const total = totals.get(lane.mode)!
        total.keptRoots += counts.keptRoots
        total.dropped += counts.dropped
        total.failed += counts.failed
      }
    }
    return new Map(
      [...totals].map(([mode, total]) => [
        mode,
        {
          rate: Math.round((total.calls / total.millis) * 1000),
          cpuRate: Math.round((total.calls / total.cpuMillis) * 1000),
          keptRoots: total.keptRoots,
          dropped: total.dropped,
          failed: total.failed
        }
      ])
    )
  })

const remoteCalls = (endpoint: string, mode: Mode) =>
  Effect.gen(function* () {
    const peer = new Child("observability/peer.js", {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_SDK_DISABLED: mode === "none" ? "true" : "false"
    })
    const { nodePort } = yield* Effect.promise(() => peer.next("nodePort"))
    const result = yield* Effect.scoped(
      Effect.gen(function* () {
        yield* Cluster.awaitNodes([peerNode], { timeout: "20 seconds" })
        const bench = RemoteName.make("bench", peerNode, Bench)
        const loop = (count: number) =>
          Effect.gen(function* () {
            for (let i = 0; i < count; i++) yield* GenServer.call(bench, Bench.Ping({ n: i }))
          })
        yield* loop(WARMUP)
        let top = 0
        for (let round = 0; round < REPEATS; round++) {
          const start = performance.now()
          yield* loop(REMOTE_CALLS)
          top = Math.max(top, perSec(REMOTE_CALLS, performance.now() - start))
        }
        const counts = yield* Effect.andThen(Tracing.flush, tracingCounts)
        return { rate: top, ...counts }
      }).pipe(
        Effect.provide(
          Distribution.layer({
            nodeName: "obs-bench",
            host: "127.0.0.1",
            port: 0,
            secret,
            seeds: [`${peerNode}@127.0.0.1:${nodePort}`]
          }).pipe(Layer.provideMerge(tracingLayer(endpoint, mode, samplerOf(mode))), Layer.provideMerge(ownRegistry()))
        )
      )
    )
    yield* Effect.promise(() => peer.stop())
    return result
  })

const metricsScrape = Effect.gen(function* () {
  const counter = Metric.counter("bench_series_total", { description: "one series per label value" })
  for (let i = 0; i < SERIES; i++) yield* Metric.update(Metric.withAttributes(counter, { series: String(i) }), 1)
  const times: Array<number> = []
  let lines = 0
  for (let i = 0; i < 20; i++) {
    const start = performance.now()
    const text = yield* PrometheusMetrics.format()
    times.push(performance.now() - start)
    lines = text.split("\n").length
  }
  times.sort((x, y) => x - y)
  return { millis: Number(times[10]!.toFixed(2)), lines }
})

/** Progress on stderr (stdout's last line is the result). */
const progress = (name: string, value: number) => console.error(`${new Date().toISOString()} ${name}: ${value}`)

// The batch processor's size, through the standard variables the SDK reads (the peer inherits
// them): large enough that full tracing drops no span here (the SDK's defaults, a queue of 2,048
// and batches of 512 every 5 s, drop most of them at tens of thousands of spans per second).
process.env.OTEL_BSP_MAX_QUEUE_SIZE ??= "65536"
process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE ??= "4096"
process.env.OTEL_BSP_SCHEDULE_DELAY ??= "200"

const main = Effect.gen(function* () {
  const receiver = new Child("observability/receiver.js", process.env)
  const { endpoint } = (yield* Effect.promise(() => receiver.next("endpoint"))) as { endpoint: string }
  const spansSoFar = () => {
    receiver.process.stdin!.write("count\n")
    return Effect.promise(() => receiver.next("spans")).pipe(Effect.map((line) => line.spans as number))
  }
  const spansByService = () => {
    receiver.process.stdin!.write("count\n")
    return Effect.promise(() => receiver.next("spans")).pipe(
      Effect.map((line) => line.byService as Record<string, number>)
    )
  }
  // BENCH_PART=local | remote | observer runs only that part (for profiling); the other figures are then 0.
  const part = process.env.BENCH_PART
  const local = part === undefined || part === "local"
  const remote = part === undefined || part === "remote"
  const observer = part === undefined || part === "observer"
  const loadBefore = load()
  const modes = (process.env.BENCH_MODES ?? "none,sampled,full").split(",")
  /** A remote rate, and the spans the receiver got during it against those expected (2 per kept root). */
  const measureRemote = (mode: Mode) =>
    Effect.gen(function* () {
      if (!remote || !modes.includes(mode)) return { rate: 0, spans: 0, expected: 0, dropped: 0 }
      const before = yield* spansSoFar()
      const { rate, keptRoots, dropped } = yield* remoteCalls(endpoint, mode)
      const spans = (yield* spansSoFar()) - before
      const expected = 2 * keptRoots
      progress(`remote ${mode}`, rate)
      if (spans !== expected) console.error(`  spans received ${spans}, expected ${expected} (dropped: ${dropped})`)
      return { rate, spans, expected, dropped }
    })
  // Local: every mode at once, interleaved (see localInterleaved); spans counted per mode by the
  // service name each mode's layer exports under, against 2 per root its layer counted as kept.
  const localModes = (["none", "dropped", "sampled", "full"] as const).filter((mode) => modes.includes(mode))
  const servicesBefore = local ? yield* spansByService() : {}
  const localRates = local ? yield* localInterleaved(endpoint, localModes) : new Map()
  const servicesAfter = local ? yield* spansByService() : {}
  const localOf = (mode: Mode) => {
    const rates = localRates.get(mode) ?? { rate: 0, cpuRate: 0, keptRoots: 0, dropped: 0, failed: 0 }
    const service = `bench-${mode}`
    const spans = (servicesAfter[service] ?? 0) - (servicesBefore[service] ?? 0)
    const expected = 2 * rates.keptRoots
    if (localRates.has(mode)) {
      progress(`local ${mode} (calls/s)`, rates.rate)
      progress(`local ${mode} (calls per CPU-second)`, rates.cpuRate)
      if (spans !== expected)
        console.error(`  spans received ${spans}, expected ${expected} (dropped: ${rates.dropped})`)
    }
    return { ...rates, spans, expected }
  }
  const localNone = localOf("none")
  const localDropped = localOf("dropped")
  const localSampled = localOf("sampled")
  const localFull = localOf("full")
  const remoteNone = yield* measureRemote("none")
  const remoteSampled = yield* measureRemote("sampled")
  const remoteFull = yield* measureRemote("full")
  const scrape = yield* metricsScrape
  const snapshot = observer
    ? yield* snapshotCost
    : { processes: 0, snapshotMillis: 0, snapshotCpuMillis: 0, encodeMillis: 0, topMillis: 0 }
  if (observer) progress("observer snapshot of 100k (ms)", snapshot.snapshotMillis)
  const sampling = observer ? yield* samplingCost : undefined
  yield* Effect.promise(() => receiver.stop())
  const ratio = (x: number, y: number) => Number((x / y).toFixed(2))
  const result = {
    benchmark: "observability",
    node: process.version,
    callsPerSecNoTracer: localNone.rate,
    callsPerSecSampled10: localSampled.rate,
    callsPerSecFullTracing: localFull.rate,
    sampledVsNoTracer: ratio(localSampled.rate, localNone.rate),
    fullVsNoTracer: ratio(localFull.rate, localNone.rate),
    callsPerSecDropped: localDropped.rate,
    droppedVsNoTracer: ratio(localDropped.rate, localNone.rate),
    // The same per CPU-second of the whole process (every thread: GC, the exports).
    cpu: {
      callsPerCpuSecNoTracer: localNone.cpuRate,
      callsPerCpuSecDropped: localDropped.cpuRate,
      callsPerCpuSecSampled10: localSampled.cpuRate,
      callsPerCpuSecFullTracing: localFull.cpuRate,
      droppedVsNoTracer: ratio(localDropped.cpuRate, localNone.cpuRate),
      sampledVsNoTracer: ratio(localSampled.cpuRate, localNone.cpuRate),
      fullVsNoTracer: ratio(localFull.cpuRate, localNone.cpuRate)
    },
    remoteCallsPerSecNoTracer: remoteNone.rate,
    remoteCallsPerSecSampled10: remoteSampled.rate,
    remoteCallsPerSecFullTracing: remoteFull.rate,
    remoteSampledVsNoTracer: ratio(remoteSampled.rate, remoteNone.rate),
    remoteFullVsNoTracer: ratio(remoteFull.rate, remoteNone.rate),
    metricsScrapeMillis: scrape.millis,
    metricsScrapeLines: scrape.lines,
    observerSnapshotMillis100k: snapshot.snapshotMillis,
    observerSnapshotCpuMillis100k: snapshot.snapshotCpuMillis,
    observerSnapshotEncodeMillis100k: snapshot.encodeMillis,
    observerTopMillis100k: snapshot.topMillis,
    busySamplingCostRatio: sampling?.busySamplingCostRatio ?? 0,
    busySamplingEvery1CostRatio: sampling?.busySamplingEvery1CostRatio ?? 0,
    busySamplingCpuCostRatio: sampling?.busySamplingCpuCostRatio ?? 0,
    callsPerSecSamplingOff: sampling?.callsPerSecSamplingOff ?? 0,
    callsPerSecSampling16: sampling?.callsPerSecSampling16 ?? 0,
    callsPerSecSampling1: sampling?.callsPerSecSampling1 ?? 0,
    busySamplingMedianRoundRatio: sampling?.busySamplingMedianRoundRatio ?? 0,
    busySamplingEvery1MedianRoundRatio: sampling?.busySamplingEvery1MedianRoundRatio ?? 0,
    load: { before: loadBefore, after: load() },
    // Spans the receiver decoded in each traced mode, against 2 per root the sampler kept (the
    // CLIENT and SERVER span; the peer follows the caller's decision): fewer means the batch
    // processor dropped spans (its queue was full) and the rate above is not the whole cost.
    spansReceived: {
      localSampled10: localSampled.spans,
      localFull: localFull.spans,
      remoteSampled10: remoteSampled.spans,
      remoteFull: remoteFull.spans
    },
    spansExpected: {
      localSampled10: localSampled.expected,
      localFull: localFull.expected,
      remoteSampled10: remoteSampled.expected,
      remoteFull: remoteFull.expected
    },
    spansLost:
      localSampled.expected +
      localFull.expected +
      remoteSampled.expected +
      remoteFull.expected -
      (localSampled.spans + localFull.spans + remoteSampled.spans + remoteFull.spans),
    // Spans the layers counted as dropped (queue full) in each traced mode (the caller's side only, remotely).
    spansDropped: {
      localSampled10: localSampled.dropped,
      localFull: localFull.dropped,
      remoteSampled10: remoteSampled.dropped,
      remoteFull: remoteFull.dropped
    },
    batch: {
      maxQueueSize: Number(process.env.OTEL_BSP_MAX_QUEUE_SIZE),
      maxExportBatchSize: Number(process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE),
      scheduledDelayMillis: Number(process.env.OTEL_BSP_SCHEDULE_DELAY)
    }
  }
  mkdirSync("bench/results", { recursive: true })
  writeFileSync("bench/results/observability.json", JSON.stringify(result, null, 2))
  console.log(JSON.stringify(result))
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
