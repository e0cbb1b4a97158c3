/**
 * Transport benchmark: two OS processes on loopback.
 *
 * - rawTlsRttPerSec: bare node:tls PSK ping-pong of a 32-byte payload (no library code).
 * - rawTlsBusyPollRttPerSec: the same with both ends busy-polling as the transport does by default
 *   (see `TransportTuning.busyPollWindow`): the like-for-like baseline.
 * - frameRttPerSec: the same ping-pong through the Transport: `sendUnsafe` on both sides (the
 *   synchronous send that frame handlers use), each pong's handler sending the next ping.
 * - frameRttFiberPerSec: the same, driven by an Effect fiber that awaits each pong (adds a fiber
 *   suspension and resumption per round trip).
 * - pipelinedFramesPerSec: 256-byte frames sent one way as fast as `send` allows, 1M frames or 10 s.
 *
 * The ping-pongs run interleaved, three rounds each (BENCH_RTT_ROUNDS), after a warm-up; the best round of each is kept.
 * Prints one JSON object on its last stdout line and writes it to bench/results/transport.json.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Duration, Effect } from "effect"
import * as TcpTransport from "../src/Transport/TcpTransport.ts"
import { Bulk, Done, Flush, Ping, Pong, secret, busyPollMicros, busyPollWindow } from "./transport/protocol.ts"
import { pingPong } from "./support/rawTls.ts"
import { defaultBusyPollWindow } from "../src/Transport/TransportOptions.ts"

const defaultBusyPollMicros = Duration.toMillis(defaultBusyPollWindow) * 1000

const rttSeconds = Number(process.env.BENCH_RTT_SECONDS ?? 2)
const rttRounds = Number(process.env.BENCH_RTT_ROUNDS ?? 3)
const pipelineFrames = Number(process.env.BENCH_PIPELINE_FRAMES ?? 1_000_000)
const pipelineMaxMs = 10_000
const payload = new Uint8Array(32).fill(7)

const peer = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_PEER_NODE_ARGS?.split(" ") ?? []),
    "--import",
    "tsx",
    Path.join(import.meta.dirname, "transport", "peer.ts")
  ],
  {
    stdio: ["ignore", "pipe", "inherit"]
  }
)
process.on("exit", () => peer.kill("SIGTERM"))

const ports = await new Promise<{ rawPort: number; rawBusyPollPort: number; transportPort: number }>((resolve) => {
  let buffered = ""
  peer.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString()
    const line = buffered.split("\n").find((l) => l.startsWith("{"))
    if (line !== undefined) resolve(JSON.parse(line))
  })
})

const rawTlsRtt = () => pingPong(ports.rawPort, secret, payload, rttSeconds)
const rawTlsBusyPollRtt = () =>
  pingPong(ports.rawBusyPollPort, secret, payload, rttSeconds, { busyPollMicros: defaultBusyPollMicros })

const transportBench = Effect.gen(function* () {
  const transport = yield* TcpTransport.make({ name: "bench", security: { secret }, busyPollWindow })
  yield* transport.connect({ host: "127.0.0.1", port: ports.transportPort })
  let frameRttPerSec = 0
  let frameRttFiberPerSec = 0
  let rawTlsRttPerSec = 0
  let rawTlsBusyPollRttPerSec = 0
  let wake: (() => void) | undefined
  yield* transport.register(Pong, () => wake?.())
  const awaitPong = Effect.callback<void>((resume) => {
    wake = () => {
      wake = undefined
      resume(Effect.void)
    }
  })
  // warm-up
  for (let i = 0; i < 2000; i++) {
    yield* transport.send("peer", Ping, payload)
    yield* awaitPong
  }
  // Interleaved rounds of each ping-pong; the best of each round is kept (the machine is noisy).
  for (let round = 0; round < rttRounds; round++) {
    rawTlsRttPerSec = Math.max(rawTlsRttPerSec, yield* Effect.promise(rawTlsRtt))
    rawTlsBusyPollRttPerSec = Math.max(rawTlsBusyPollRttPerSec, yield* Effect.promise(rawTlsBusyPollRtt))
    let count = 0
    const started = performance.now()
    while (performance.now() - started < rttSeconds * 1000) {
      for (let i = 0; i < 100; i++) {
        yield* transport.send("peer", Ping, payload)
        yield* awaitPong
      }
      count += 100
    }
    frameRttFiberPerSec = Math.max(frameRttFiberPerSec, (count / (performance.now() - started)) * 1000)
    // The transport's own path: each pong's handler sends the next ping (send + handler, no fiber hop).
    const chained = yield* Effect.callback<number>((resume) => {
      let n = 0
      const t0 = performance.now()
      const ping = () => transport.sendUnsafe("peer", Ping, payload)
      wake = function next() {
        n++
        const elapsed = performance.now() - t0
        if (elapsed >= rttSeconds * 1000) return resume(Effect.succeed((n / elapsed) * 1000))
        wake = next
        ping()
      }
      ping()
    })
    frameRttPerSec = Math.max(frameRttPerSec, chained)
  }
  let done: ((count: number) => void) | undefined
  yield* transport.register(Done, (n) => done?.(n))
  const awaitDone = Effect.callback<number>((resume) => {
    done = (n) => resume(Effect.succeed(n))
  })
  const frame = new Uint8Array(256).fill(1)
  const pipelineStart = performance.now()
  let sent = 0
  while (sent < pipelineFrames && performance.now() - pipelineStart < pipelineMaxMs) {
    for (let i = 0; i < 1000; i++) yield* transport.send("peer", Bulk, frame)
    sent += 1000
  }
  yield* transport.send("peer", Flush, sent)
  const delivered = yield* awaitDone
  const pipelineMs = performance.now() - pipelineStart
  return {
    rawTlsRttPerSec,
    rawTlsBusyPollRttPerSec,
    frameRttPerSec,
    frameRttFiberPerSec,
    pipelinedFramesPerSec: (delivered / pipelineMs) * 1000,
    delivered
  }
}).pipe(Effect.scoped)

const measured = await Effect.runPromise(transportBench)
const result = {
  busyPollMicros: busyPollMicros ?? defaultBusyPollMicros,
  rawTlsRttPerSec: Math.round(measured.rawTlsRttPerSec),
  rawTlsBusyPollRttPerSec: Math.round(measured.rawTlsBusyPollRttPerSec),
  frameRttPerSec: Math.round(measured.frameRttPerSec),
  frameRttRatio: Number((measured.frameRttPerSec / measured.rawTlsRttPerSec).toFixed(3)),
  frameRttVsBusyPollRaw: Number((measured.frameRttPerSec / measured.rawTlsBusyPollRttPerSec).toFixed(3)),
  frameRttFiberPerSec: Math.round(measured.frameRttFiberPerSec),
  pipelinedFramesPerSec: Math.round(measured.pipelinedFramesPerSec),
  pipelinedFrames: measured.delivered,
  payloadBytes: { rtt: payload.length, pipelined: 256 },
  node: process.version
}
const resultsDir = Path.join(import.meta.dirname, "results")
Fs.mkdirSync(resultsDir, { recursive: true })
Fs.writeFileSync(Path.join(resultsDir, "transport.json"), `${JSON.stringify(result, null, 2)}\n`)
peer.kill("SIGTERM")
console.log(JSON.stringify(result))
process.exit(0)
