/**
 * What busy polling costs in CPU, the resource a pod's limit throttles: one node process serves
 * `GenServer.call`s from another node (this process) over loopback TLS-PSK, and the SERVER's CPU
 * time (its own `process.cpuUsage()`) is read over windows of idle, 100 calls/s and 1,000 calls/s,
 * with the default `busyPollMicros` and with polling off (0). Both nodes use the same setting, as
 * a cluster would. Calls are paced evenly and open loop (one every 10 ms or 1 ms, catching up
 * when late, without waiting for the previous reply) and their round trips are recorded, so the
 * price can be weighed against the latency it buys.
 *
 * Run once with `npm run bench:busy-poll` (compiled JavaScript). `BENCH_BUSY_POLL_SECONDS` sets
 * each window (default 10) and `BENCH_BUSY_POLL_MODES` the windows to compare (default `100,0`,
 * microseconds). Prints one JSON object on its last stdout line and writes it to
 * bench/results/busyPollCpu.json, with the load average before and after (the figures mean little
 * on a busy machine).
 */
import { spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { Duration, Effect, Fiber, Layer, Schedule } from "effect"
import * as Distribution from "../src/Cluster/Distribution.ts"
import { GenServer, RemoteName } from "../src/index.ts"
import type { ProcessRuntime } from "../src/index.ts"
import { defaultBusyPollWindow } from "../src/Transport/TransportOptions.ts"
import { Echo, peerNode, secret } from "./remote/protocol.ts"

const defaultBusyPollMicros = Duration.toMillis(defaultBusyPollWindow) * 1000
const SECONDS = Number(process.env.BENCH_BUSY_POLL_SECONDS ?? 10)
const MODES = (process.env.BENCH_BUSY_POLL_MODES ?? `${defaultBusyPollMicros},0`).split(",").map(Number)
const RATES = [0, 100, 1000]

interface CpuUsage {
  readonly user: number
  readonly system: number
}

interface Server {
  readonly nodePort: number
  readonly cpu: () => Promise<CpuUsage>
  readonly stop: () => Promise<void>
}

const startServer = (micros: number) =>
  new Promise<Server>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, Path.join(import.meta.dirname, "busyPoll", "server.js")],
      {
        stdio: ["pipe", "pipe", "inherit"],
        env: { ...process.env, BUSY_POLL_MICROS: String(micros) }
      }
    )
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`the server exited (${code}) before it was ready`)))
    const waiting: Array<(usage: CpuUsage) => void> = []
    Readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith('{"nodePort"')) {
        const { nodePort } = JSON.parse(line) as { nodePort: number }
        resolve({
          nodePort,
          cpu: () =>
            new Promise<CpuUsage>((answer) => {
              waiting.push(answer)
              child.stdin!.write("cpu\n")
            }),
          stop: () => {
            child.stdin!.end()
            return exited
          }
        })
      } else if (line.startsWith('{"cpu"')) {
        waiting.shift()?.((JSON.parse(line) as { cpu: CpuUsage }).cpu)
      }
    })
  })

const echo = RemoteName.make("echo", peerNode)

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? null : Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(3))

/**
 * `rate` calls a second for `seconds`, evenly paced and open loop (each call is sent at its time,
 * whether or not the previous one was answered, as independent clients do); the round trips in
 * milliseconds, sorted.
 */
const paced = (rate: number, seconds: number) =>
  Effect.gen(function* () {
    const count = rate * seconds
    const latencies = new Float64Array(count)
    if (count === 0) {
      yield* Effect.sleep(Duration.seconds(seconds))
      return latencies
    }
    const interval = 1000 / rate
    const start = performance.now()
    const calls: Array<Fiber.Fiber<void, unknown>> = []
    for (let i = 0; i < count; i++) {
      const wait = start + i * interval - performance.now()
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      const sent = performance.now()
      calls.push(
        yield* Effect.forkChild(
          Effect.map(GenServer.call(echo, Echo.Ping({ n: i })), () => {
            latencies[i] = performance.now() - sent
          })
        )
      )
    }
    for (const call of calls) yield* Fiber.join(call)
    return latencies.sort()
  })

const measureMode = (micros: number) =>
  Effect.gen(function* () {
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => startServer(micros)),
      (server) => Effect.promise(() => server.stop())
    )
    const context = yield* Layer.build(
      Distribution.layer({
        nodeName: "bench-client",
        host: "127.0.0.1",
        port: 0,
        secret,
        transport: { busyPollWindow: Duration.micros(BigInt(micros)) },
        seeds: [`${peerNode}@127.0.0.1:${server.nodePort}`]
      })
    )
    const run = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) =>
      Effect.provideContext(effect, context)
    yield* run(
      Effect.retry(GenServer.call(echo, Echo.Ping({ n: 0 })), { schedule: Schedule.spaced("20 millis"), times: 250 })
    )
    // Warm up both ends (JIT, TLS), then let them settle.
    yield* run(paced(1000, 2))
    yield* Effect.sleep("1 second")
    const windows = []
    for (const rate of RATES) {
      const before = yield* Effect.promise(() => server.cpu())
      const clientBefore = process.cpuUsage()
      const started = performance.now()
      const latencies = yield* run(paced(rate, SECONDS))
      const elapsedMs = performance.now() - started
      const after = yield* Effect.promise(() => server.cpu())
      const client = process.cpuUsage(clientBefore)
      const serverMicros = after.user - before.user + (after.system - before.system)
      windows.push({
        callsPerSec: rate,
        achievedCallsPerSec: Math.round((latencies.length / elapsedMs) * 1000),
        seconds: Number((elapsedMs / 1000).toFixed(2)),
        serverCpuPercent: Number(((serverMicros / (elapsedMs * 1000)) * 100).toFixed(2)),
        serverCpuUserPercent: Number((((after.user - before.user) / (elapsedMs * 1000)) * 100).toFixed(2)),
        clientCpuPercent: Number((((client.user + client.system) / (elapsedMs * 1000)) * 100).toFixed(2)),
        roundTripMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
      })
    }
    return { busyPollMicros: micros, windows }
  }).pipe(Effect.scoped)

const main = async () => {
  const loadBefore = Os.loadavg()
  const modes = []
  for (const micros of MODES) modes.push(await Effect.runPromise(measureMode(micros)))
  const result = {
    benchmark: "busyPollCpu",
    node: process.version,
    cpus: Os.cpus().length,
    secondsPerWindow: SECONDS,
    defaultBusyPollMicros,
    loadAverage: {
      before: loadBefore.map((x) => Number(x.toFixed(2))),
      after: Os.loadavg().map((x) => Number(x.toFixed(2)))
    },
    modes
  }
  mkdirSync("bench/results", { recursive: true })
  writeFileSync("bench/results/busyPollCpu.json", JSON.stringify(result, null, 2))
  console.log(JSON.stringify(result))
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
