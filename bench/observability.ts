/**
 * Observability benchmark: what tracing costs a GenServer call, and what a Prometheus render of
 * 1,000 series costs.
 *
 * - `callsPerSecNoTracer` / `callsPerSecSampled10` / `callsPerSecFullTracing`: sequential local
 *   calls with no tracer; with `Tracing.layerOtlp` exporting over OTLP/HTTP (protobuf) to a
 *   receiver on loopback (in its own process, decoding every request), each call its own root
 *   (`Tracing.Roots` "all") under a parent-based 10% ratio sampler; the same with every trace kept.
 * - `remoteCallsPerSec*`: the same three for calls to a server on a peer node in another OS process
 *   (the peer exports too, following the caller's sampling decision).
 * - `metricsScrapeMillis`: one `PrometheusMetrics.format()` render with 1,000 distinct series
 *   (median of 20).
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
import { Effect, Layer, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import * as Cluster from "../src/Cluster/Cluster.ts"
import * as Distribution from "../src/Cluster/Distribution.ts"
import { GenServer, ProcessRuntime, RemoteName, Tracing } from "../src/index.ts"
import { Bench, peerNode, secret, server } from "./observability/protocol.ts"

const LOCAL_CALLS = 100_000
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

const ratio10: Sampler = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) })
const always: Sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() })

const never: Sampler = new ParentBasedSampler({ root: new AlwaysOffSampler() })

/** `dropped` (every root dropped, what an unsampled call costs) runs only when BENCH_MODES names it. */
type Mode = "none" | "sampled" | "full" | "dropped"

const tracingLayer = (endpoint: string, mode: Mode) =>
  mode === "none"
    ? Layer.empty
    : Tracing.layerOtlp({
        url: `${endpoint}/v1/traces`,
        protocol: "http/protobuf",
        serviceName: "bench",
        nodeName: "bench",
        roots: "all",
        sampler: mode === "sampled" ? ratio10 : mode === "dropped" ? never : always
      })

const localCalls = (endpoint: string, mode: Mode) =>
  Effect.gen(function* () {
    let top = 0
    for (let round = 0; round < REPEATS; round++) {
      const rate = yield* Effect.scoped(
        Effect.gen(function* () {
          const pid = yield* GenServer.start(server, undefined)
          const loop = (count: number) =>
            Effect.gen(function* () {
              for (let i = 0; i < count; i++) yield* GenServer.call(pid, Bench.Ping({ n: i }))
            })
          yield* loop(WARMUP)
          const start = performance.now()
          yield* loop(LOCAL_CALLS)
          const rate = perSec(LOCAL_CALLS, performance.now() - start)
          yield* GenServer.stop(pid)
          return rate
        }).pipe(Effect.provide(ProcessRuntime.layer()), Effect.provide(tracingLayer(endpoint, mode)))
      )
      top = Math.max(top, rate)
    }
    return top
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
    const rate = yield* Effect.scoped(
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
        return top
      }).pipe(
        Effect.provide(
          Distribution.layer({
            nodeName: "obs-bench",
            host: "127.0.0.1",
            port: 0,
            secret,
            seeds: [`${peerNode}@127.0.0.1:${nodePort}`]
          }).pipe(Layer.provideMerge(tracingLayer(endpoint, mode)))
        )
      )
    )
    yield* Effect.promise(() => peer.stop())
    return rate
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

const main = Effect.gen(function* () {
  const receiver = new Child("observability/receiver.js", process.env)
  const { endpoint } = (yield* Effect.promise(() => receiver.next("endpoint"))) as { endpoint: string }
  const spansSoFar = () => {
    receiver.process.stdin!.write("count\n")
    return Effect.promise(() => receiver.next("spans")).pipe(Effect.map((line) => line.spans as number))
  }
  // BENCH_PART=local | remote runs only that part (for profiling); the other figures are then 0.
  const part = process.env.BENCH_PART
  const local = part === undefined || part === "local"
  const remote = part === undefined || part === "remote"
  const modes = (process.env.BENCH_MODES ?? "none,sampled,full").split(",")
  const measure = <E>(run: boolean, mode: Mode, effect: (endpoint: string, mode: Mode) => Effect.Effect<number, E>) =>
    run && modes.includes(mode) ? effect(endpoint, mode) : Effect.succeed(0)
  const callsPerSecNoTracer = yield* measure(local, "none", localCalls)
  progress("callsPerSecNoTracer", callsPerSecNoTracer)
  if (modes.includes("dropped")) progress("callsPerSecDropped", yield* measure(local, "dropped", localCalls))
  const callsPerSecSampled10 = yield* measure(local, "sampled", localCalls)
  progress("callsPerSecSampled10", callsPerSecSampled10)
  const afterSampled = yield* spansSoFar()
  const callsPerSecFullTracing = yield* measure(local, "full", localCalls)
  progress("callsPerSecFullTracing", callsPerSecFullTracing)
  const afterFull = yield* spansSoFar()
  const remoteCallsPerSecNoTracer = yield* measure(remote, "none", remoteCalls)
  progress("remoteCallsPerSecNoTracer", remoteCallsPerSecNoTracer)
  const remoteCallsPerSecSampled10 = yield* measure(remote, "sampled", remoteCalls)
  progress("remoteCallsPerSecSampled10", remoteCallsPerSecSampled10)
  const remoteCallsPerSecFullTracing = yield* measure(remote, "full", remoteCalls)
  progress("remoteCallsPerSecFullTracing", remoteCallsPerSecFullTracing)
  const afterRemote = yield* spansSoFar()
  const scrape = yield* metricsScrape
  yield* Effect.promise(() => receiver.stop())
  const localTraced = REPEATS * (WARMUP + LOCAL_CALLS)
  const result = {
    benchmark: "observability",
    node: process.version,
    callsPerSecNoTracer,
    callsPerSecSampled10,
    callsPerSecFullTracing,
    sampledVsNoTracer: Number((callsPerSecSampled10 / callsPerSecNoTracer).toFixed(2)),
    fullVsNoTracer: Number((callsPerSecFullTracing / callsPerSecNoTracer).toFixed(2)),
    remoteCallsPerSecNoTracer,
    remoteCallsPerSecSampled10,
    remoteCallsPerSecFullTracing,
    remoteSampledVsNoTracer: Number((remoteCallsPerSecSampled10 / remoteCallsPerSecNoTracer).toFixed(2)),
    remoteFullVsNoTracer: Number((remoteCallsPerSecFullTracing / remoteCallsPerSecNoTracer).toFixed(2)),
    metricsScrapeMillis: scrape.millis,
    metricsScrapeLines: scrape.lines,
    // Checks that the exporter really ran: spans per traced local call (3 when every trace is kept:
    // root, client, server; about 0.3 at 10%). The batch processor drops spans when its queue is
    // full (2,048 by default), so the full-tracing figure may be below 3.
    spansPerLocalCallSampled10: Number((afterSampled / localTraced).toFixed(3)),
    spansPerLocalCallFull: Number(((afterFull - afterSampled) / localTraced).toFixed(3)),
    spansReceivedRemote: afterRemote - afterFull
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
