/**
 * The node under attack in the flood test, in its own OS process so that its memory is measured
 * alone.
 *
 * Usage: floodTargetProcess.ts
 * Runs a `TcpTransport` named "target" on 127.0.0.1 (TLS-PSK with the secret "flood-test", default
 * tuning) that answers every `flood.ping` with a `flood.pong` carrying the same number. Prints
 * `EVENT {"_tag":"Ready","port":..}`, then answers two commands on stdin:
 * - `reset`: forgets the peaks measured so far, prints `EVENT {"_tag":"Reset"}`;
 * - `stats`: prints `EVENT {"_tag":"Stats", rss, heapUsed, peakRss, peakHeapUsed, maxLoopDelayMs,
 *   logLines, refused }`: memory now and at its peak since the last reset (sampled every 10 ms),
 *   the worst event-loop delay since the last reset, the number of log lines written so far, and
 *   the refusal counter by reason.
 * Log lines go to stderr (logfmt). Exits when its stdin closes.
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Effect, Fiber, Logger, Metric, Schema } from "effect"
import * as Channel from "../../src/Transport/Channel.ts"
import { handshakesRefused } from "../../src/Transport/internal/refusals.ts"
import * as TcpTransport from "../../src/Transport/TcpTransport.ts"

const print = (event: object) => process.stdout.write(`EVENT ${JSON.stringify({ ...event, at: Date.now() })}\n`)

export const Ping = Channel.make("flood.ping", Schema.Number)
export const Pong = Channel.make("flood.pong", Schema.Number)

let logLines = 0
const logfmt = Logger.withConsoleError(Logger.formatLogFmt)
const counting = Logger.make<unknown, void>((options) => {
  logLines++
  logfmt.log(options)
})

let peakRss = 0
let peakHeapUsed = 0
const sample = () => {
  const { rss, heapUsed } = process.memoryUsage()
  peakRss = Math.max(peakRss, rss)
  peakHeapUsed = Math.max(peakHeapUsed, heapUsed)
  return { rss, heapUsed }
}
const sampler = setInterval(sample, 10)
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()

/** The refusal counter's value by reason (series that have been updated). */
const refusedByReason = Effect.map(Metric.snapshot, (snapshots) => {
  const byReason: Record<string, number> = {}
  for (const snapshot of snapshots) {
    if (snapshot.id !== handshakesRefused.id) continue
    const reason = String(snapshot.attributes?.["reason"])
    byReason[reason] = Number((snapshot.state as { count: number }).count)
  }
  return byReason
})

const program = Effect.gen(function* () {
  const transport = yield* TcpTransport.make({ name: "target", host: "127.0.0.1", security: { secret: "flood-test" } })
  yield* transport.register(Ping, (n, from) => void transport.sendUnsafe(from.name, Pong, n))
  const run = Effect.runForkWith(yield* Effect.context<never>())
  let input = ""
  process.stdin.on("data", (chunk: Buffer) => {
    input += chunk.toString()
    const lines = input.split("\n")
    input = lines.pop()!
    for (const command of lines) {
      if (command === "reset") {
        sample()
        peakRss = 0
        peakHeapUsed = 0
        loopDelay.reset()
        print({ _tag: "Reset" })
      } else if (command === "stats") {
        run(
          Effect.map(refusedByReason, (refused) =>
            print({
              _tag: "Stats",
              ...sample(),
              peakRss,
              peakHeapUsed,
              maxLoopDelayMs: loopDelay.max / 1e6,
              logLines,
              refused
            })
          )
        )
      }
    }
  })
  print({ _tag: "Ready", port: transport.address.port })
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.provide(Logger.layer([counting])))

const fiber = Effect.runFork(program)
process.stdin.on("end", () => Effect.runFork(Fiber.interrupt(fiber)))
fiber.addObserver(() => {
  clearInterval(sampler)
  process.exit(0)
})
