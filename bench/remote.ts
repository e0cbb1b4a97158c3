/**
 * Remote benchmark, between two OS processes on loopback with the cluster secret set (TLS-PSK):
 * - `rawTlsRttPerSec`: a bare node:tls PSK ping-pong of a small payload (no library code);
 * - `rawTlsBusyPollRttPerSec`: the same with both ends busy-polling as the transport does by
 *   default (see `TransportTuning.busyPollWindow`), the like-for-like baseline;
 * - `remoteCallsPerSec`: sequential GenServer.call to a server on the other node;
 * - `remoteCallsPerSecConcurrent`: the same from 64 concurrent callers;
 * - `remoteCastsPerSec`: casts, then one call that returns how many arrived.
 *
 * Run with `npm run bench:remote` (compiled JavaScript; see bench:local). Prints one JSON object on
 * its last stdout line and writes it to bench/results/remote.json.
 */
import { spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { Duration, Effect, Layer, Schedule } from "effect"
import * as Distribution from "../src/Cluster/Distribution.ts"
import { GenServer, RemoteName } from "../src/index.ts"
import type { ProcessRuntime } from "../src/index.ts"
import { Echo, peerNode, secret, transport } from "./remote/protocol.ts"
import { pingPong } from "./support/rawTls.ts"
import { defaultBusyPollWindow } from "../src/Transport/TransportOptions.ts"

const defaultBusyPollMicros = Duration.toMillis(defaultBusyPollWindow) * 1000

const RAW_TLS_SECONDS = 4
const SEQUENTIAL_CALLS = 50_000
const CONCURRENT_CALLS = 300_000
const CALLERS = 64
const CASTS = 1_000_000
const WARMUP = 20_000

const perSec = (count: number, millis: number) => Math.round((count / millis) * 1000)

const startPeer = () =>
  new Promise<{ rawPort: number; rawBusyPollPort: number; nodePort: number; kill: () => void }>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, Path.join(import.meta.dirname, "remote", "peer.js")], {
      stdio: ["ignore", "pipe", "ignore"]
    })
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`the peer exited (${code}) before it was ready`)))
    let buffered = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const ready = buffered.split("\n").find((line) => line.startsWith('{"rawPort"'))
      if (ready === undefined) return
      const ports = JSON.parse(ready) as { rawPort: number; rawBusyPollPort: number; nodePort: number }
      resolve({ ...ports, kill: () => child.kill("SIGTERM") })
    })
  })

const echo = RemoteName.make("echo", peerNode)

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.map(effect, () => performance.now() - start)
  })

const sequential = (count: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < count; i++) yield* GenServer.call(echo, Echo.Ping({ n: i }))
  })

const concurrent = (count: number) =>
  Effect.forEach(Array.from({ length: CALLERS }), () => sequential(Math.ceil(count / CALLERS)), {
    concurrency: "unbounded",
    discard: true
  })

const casts = Effect.gen(function* () {
  yield* GenServer.call(echo, Echo.Count()) // resets the counter
  const bump = Echo.Bump()
  for (let i = 0; i < CASTS; i++) yield* GenServer.cast(echo, bump)
  const arrived = yield* GenServer.call(echo, Echo.Count(), { timeout: 120_000 })
  if (arrived !== CASTS) throw new Error(`only ${arrived} of ${CASTS} casts arrived`)
})

const measure = (nodePort: number) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      Distribution.layer({
        nodeName: "bench-client",
        host: "127.0.0.1",
        port: 0,
        secret,
        transport,
        seeds: [`${peerNode}@127.0.0.1:${nodePort}`]
      })
    )
    const run = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) =>
      Effect.provideContext(effect, context)
    // Wait for the link (and the peer's server) to be usable.
    yield* run(
      Effect.retry(GenServer.call(echo, Echo.Ping({ n: 0 })), { schedule: Schedule.spaced("20 millis"), times: 250 })
    )
    yield* run(sequential(WARMUP))
    const sequentialMs = yield* run(timed(sequential(SEQUENTIAL_CALLS)))
    if (process.env.BENCH_REMOTE_ONLY === "sequential") {
      return { remoteCallsPerSec: perSec(SEQUENTIAL_CALLS, sequentialMs) }
    }
    yield* run(concurrent(WARMUP))
    const concurrentMs = yield* run(timed(concurrent(CONCURRENT_CALLS)))
    const castsMs = yield* run(timed(casts))
    return {
      remoteCallsPerSec: perSec(SEQUENTIAL_CALLS, sequentialMs),
      remoteCallsPerSecConcurrent: perSec(CONCURRENT_CALLS, concurrentMs),
      remoteCastsPerSec: perSec(CASTS, castsMs)
    }
  }).pipe(Effect.scoped)

const main = async () => {
  const peer = await startPeer()
  try {
    const payload = Buffer.alloc(32, 7)
    const rawTlsRttPerSec = await pingPong(peer.rawPort, secret, payload, RAW_TLS_SECONDS)
    const rawTlsBusyPollRttPerSec = await pingPong(peer.rawBusyPollPort, secret, payload, RAW_TLS_SECONDS, {
      busyPollMicros: defaultBusyPollMicros
    })
    const figures = await Effect.runPromise(measure(peer.nodePort))
    const result = {
      benchmark: "remote",
      node: process.version,
      busyPollMicros:
        transport.busyPollWindow === undefined
          ? defaultBusyPollMicros
          : Duration.toMillis(transport.busyPollWindow) * 1000,
      rawTlsRttPerSec,
      rawTlsBusyPollRttPerSec,
      ...figures,
      callsVsRawTls: Number((figures.remoteCallsPerSec / rawTlsRttPerSec).toFixed(2)),
      callsVsBusyPollRawTls: Number((figures.remoteCallsPerSec / rawTlsBusyPollRttPerSec).toFixed(2))
    }
    mkdirSync("bench/results", { recursive: true })
    writeFileSync("bench/results/remote.json", JSON.stringify(result, null, 2))
    console.log(JSON.stringify(result))
  } finally {
    peer.kill()
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
