/**
 * Supervisor benchmark: how fast a crashed child is replaced, and how fast a DynamicSupervisor
 * starts and stops children.
 *
 * - `restartMicros`: median time from a child's crash (a cast whose handler dies) to its
 *   replacement answering a call by name, under a `one_for_one` supervisor. `restartMicrosP99` is
 *   the 99th percentile. Measured with log lines off (`restartMicrosLogged` is the same with the
 *   default logger writing the warning about each crash to the console).
 * - `dynamicStartPerSec` / `dynamicStopPerSec`: 10k GenServer children started with
 *   `DynamicSupervisor.startChild`, then stopped one by one with `terminateChild`.
 *   `dynamicShutdownPerSec`: 10k children stopped by stopping their supervisor (all at once).
 *   After one unmeasured warm-up round, the best of 5 rounds (each on a fresh runtime, from a
 *   collected heap).
 *
 * Run with `npm run bench:supervisor`. Prints one JSON object on its last stdout line and writes it
 * to bench/results/supervisor.json.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { Effect, Layer, References, Schema } from "effect"
import { GenServer, type Pid, ProcessRuntime, Protocol } from "../src/index.ts"
import * as ChildSpec from "../src/Supervisor/ChildSpec.ts"
import * as DynamicSupervisor from "../src/Supervisor/DynamicSupervisor.ts"
import * as Supervisor from "../src/Supervisor/Supervisor.ts"

const RESTARTS = 5_000
const RESTART_WARMUP = 500
const LOGGED_RESTARTS = 200
const CHILDREN = 10_000
const REPEATS = 5

const Bench = Protocol.make({
  Ping: Protocol.call({ success: Schema.Number }),
  Crash: Protocol.cast()
})

const server = GenServer.behaviour(Bench)({
  init: () => Effect.succeed(0),
  handleCall: { Ping: (_, state) => Effect.succeed(GenServer.reply(state, state)) },
  handleCast: { Crash: () => Effect.die("crash requested by the benchmark") }
})

const perSec = (count: number, millis: number) => Math.round((count / millis) * 1000)

const percentile = (samples: Array<number>, p: number): number => {
  const sorted = samples.slice().sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
}

const round = (micros: number) => Number(micros.toFixed(1))

/** Calls the server by name until the replacement answers (a call may race the restart). */
const pingUntilAnswered = Effect.gen(function* () {
  while (true) {
    const answer = yield* Effect.result(GenServer.call("victim", Bench.Ping()))
    if (answer._tag === "Success") return
  }
})

/** Crash-to-answer times in microseconds, one per restart. */
const restartTimes = (count: number, warmup: number) =>
  Effect.gen(function* () {
    const sup = yield* Supervisor.start({
      strategy: "one_for_one",
      maxRestarts: 1_000_000,
      within: "1 second",
      children: [ChildSpec.genServer("victim", server, undefined, { name: "victim" })]
    })
    const crash = Bench.Crash()
    const samples: Array<number> = []
    for (let i = 0; i < warmup + count; i++) {
      const start = performance.now()
      yield* GenServer.cast("victim", crash)
      yield* pingUntilAnswered
      if (i >= warmup) samples.push((performance.now() - start) * 1000)
    }
    yield* Supervisor.stop(sup)
    return samples
  })

const child = DynamicSupervisor.template({ start: () => GenServer.startLink(server, undefined) })

/** Collects garbage (when run with --expose-gc) so that a phase does not pay for the previous one's. */
const gc = () => {
  const collect = (globalThis as { gc?: () => void }).gc
  collect?.()
  collect?.()
}

const dynamic = Effect.gen(function* () {
  const sup = yield* DynamicSupervisor.start()
  const pids: Array<Pid.Pid> = new Array(CHILDREN)
  gc()
  let start = performance.now()
  for (let i = 0; i < CHILDREN; i++) pids[i] = yield* DynamicSupervisor.startChild(sup, child(undefined))
  const startMillis = performance.now() - start
  gc()
  start = performance.now()
  for (let i = 0; i < CHILDREN; i++) yield* DynamicSupervisor.terminateChild(sup, pids[i]!)
  const stopMillis = performance.now() - start
  for (let i = 0; i < CHILDREN; i++) yield* DynamicSupervisor.startChild(sup, child(undefined))
  gc()
  start = performance.now()
  yield* DynamicSupervisor.stop(sup)
  const shutdownMillis = performance.now() - start
  return {
    startPerSec: perSec(CHILDREN, startMillis),
    stopPerSec: perSec(CHILDREN, stopMillis),
    shutdownPerSec: perSec(CHILDREN, shutdownMillis)
  }
})

const quiet = Layer.merge(ProcessRuntime.layer(), Layer.succeed(References.MinimumLogLevel, "None"))

const main = Effect.gen(function* () {
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    console.error("run with node --expose-gc (npm run bench:supervisor does): phases then start on a clean heap")
  }
  gc()
  const samples = yield* restartTimes(RESTARTS, RESTART_WARMUP).pipe(Effect.provide(quiet))
  const logged = yield* restartTimes(LOGGED_RESTARTS, 20).pipe(Effect.provide(ProcessRuntime.layer()))
  // One unmeasured round first: the first 10k starts run mostly unoptimised code.
  yield* dynamic.pipe(Effect.provide(quiet))
  let best = { startPerSec: 0, stopPerSec: 0, shutdownPerSec: 0 }
  for (let i = 0; i < REPEATS; i++) {
    const run = yield* dynamic.pipe(Effect.provide(quiet))
    best = {
      startPerSec: Math.max(best.startPerSec, run.startPerSec),
      stopPerSec: Math.max(best.stopPerSec, run.stopPerSec),
      shutdownPerSec: Math.max(best.shutdownPerSec, run.shutdownPerSec)
    }
  }
  const result = {
    benchmark: "supervisor",
    node: process.version,
    restartMicros: round(percentile(samples, 50)),
    restartMicrosP99: round(percentile(samples, 99)),
    restartMicrosLogged: round(percentile(logged, 50)),
    dynamicChildren: CHILDREN,
    dynamicStartPerSec: best.startPerSec,
    dynamicStopPerSec: best.stopPerSec,
    dynamicShutdownPerSec: best.shutdownPerSec
  }
  mkdirSync("bench/results", { recursive: true })
  writeFileSync("bench/results/supervisor.json", JSON.stringify(result, null, 2))
  console.log(JSON.stringify(result))
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
