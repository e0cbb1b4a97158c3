/**
 * The Observer's part of `bench:observability`: what a snapshot of 100,000 processes costs, and
 * what the busy sampling costs bench:local's call loop.
 *
 * - `observerSnapshotMillis100k`: `Observer.snapshot` on a runtime with 100,000 idle GenServers
 *   (median of 7 after 2 warm-ups); `observerSnapshotEncodeMillis100k`: encoding it to JSON-ready
 *   values with its Schema (what an `/observer` route adds); `observerTopMillis100k`: a top-10 by
 *   mailbox over the same table.
 * - `busySamplingCostRatio`: bench:local's sequential call loop (200k calls after 20k of warm-up)
 *   in a runtime with the default sampling (one message in 16 timed) against one with sampling
 *   off, in ONE run, alternating (off, on, off, on ...): the median of the per-pair ratios (on /
 *   off), so that the load of the machine drifting between pairs cancels out.
 *   `busySamplingEvery1CostRatio` times every message (the worst case, for reference).
 */
import { cpus, loadavg } from "node:os"
import { Effect, Schema } from "effect"
import { GenServer, Observer, ProcessRuntime } from "../../src/index.ts"
import { server, Bench } from "./protocol.ts"

const PROCESSES = 100_000
const ROUND_TRIPS = 200_000
const WARMUP = 20_000
const PAIRS = 7

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = performance.now()
    const value = yield* effect
    return { value, millis: performance.now() - start }
  })

export const snapshotCost = Effect.gen(function* () {
  for (let i = 0; i < PROCESSES; i++) yield* GenServer.start(server, undefined)
  const snapshots: Array<number> = []
  const encodes: Array<number> = []
  const tops: Array<number> = []
  const encode = Schema.encodeSync(Observer.NodeSnapshot)
  let count = 0
  for (let round = 0; round < 9; round++) {
    const { value: snapshot, millis } = yield* timed(Observer.snapshot)
    count = snapshot.processes.length
    const start = performance.now()
    encode(snapshot)
    const encodeMillis = performance.now() - start
    const top = yield* timed(Observer.top({ by: "mailbox", limit: 10 }))
    if (round >= 2) {
      snapshots.push(millis)
      encodes.push(encodeMillis)
      tops.push(top.millis)
    }
  }
  return {
    processes: count,
    snapshotMillis: Number(median(snapshots).toFixed(1)),
    encodeMillis: Number(median(encodes).toFixed(1)),
    topMillis: Number(median(tops).toFixed(2))
  }
}).pipe(Effect.scoped, Effect.provide(Observer.layer), Effect.provide(ProcessRuntime.layer({ mailboxCapacity: 16 })))

/** bench:local's call loop, in a fresh runtime with this sample rate. */
const callRate = (busySampleEvery: number) =>
  Effect.gen(function* () {
    const pid = yield* GenServer.start(server, undefined)
    const loop = (count: number) =>
      Effect.gen(function* () {
        for (let i = 0; i < count; i++) yield* GenServer.call(pid, Bench.Ping({ n: i }))
      })
    yield* loop(WARMUP)
    const { millis } = yield* timed(loop(ROUND_TRIPS))
    yield* GenServer.stop(pid)
    return Math.round((ROUND_TRIPS / millis) * 1000)
  }).pipe(Effect.provide(ProcessRuntime.layer({ busySampleEvery })))

export const samplingCost = Effect.gen(function* () {
  const off: Array<number> = []
  const on: Array<number> = []
  const every1: Array<number> = []
  const ratios: Array<number> = []
  const ratios1: Array<number> = []
  for (let pair = 0; pair < PAIRS; pair++) {
    const a = yield* callRate(0)
    const b = yield* callRate(16)
    const c = yield* callRate(1)
    off.push(a)
    on.push(b)
    every1.push(c)
    ratios.push(b / a)
    ratios1.push(c / a)
    console.error(`${new Date().toISOString()} calls/s sampling off ${a}, 1 in 16 ${b}, every message ${c}`)
  }
  return {
    callsPerSecSamplingOff: median(off),
    callsPerSecSampling16: median(on),
    callsPerSecSampling1: median(every1),
    busySamplingCostRatio: Number(median(ratios).toFixed(3)),
    busySamplingEvery1CostRatio: Number(median(ratios1).toFixed(3)),
    ratios: ratios.map((ratio) => Number(ratio.toFixed(3)))
  }
})

/** How loaded the machine was: the 1-minute load average against its cores. */
export const load = () => ({ loadAverage1m: Number(loadavg()[0]!.toFixed(2)), cores: cpus().length })
