/**
 * The Observer's part of `bench:observability`: what a snapshot of 100,000 processes costs, and
 * what the busy sampling costs bench:local's call loop.
 *
 * - `observerSnapshotMillis100k`: `Observer.snapshot` on a runtime with 100,000 idle GenServers
 *   (median of 7 after 2 warm-ups), wall-clock; `observerSnapshotCpuMillis100k`: the CPU time it
 *   used (user + system, `process.cpuUsage`: on a loaded machine, the wall-clock figure includes
 *   the time other processes had the cores); `observerSnapshotEncodeMillis100k`: encoding it to JSON-ready
 *   values with its Schema (what an `/observer` route adds); `observerTopMillis100k`: a top-10 by
 *   mailbox over the same table.
 * - `busySamplingCostRatio`: bench:local's sequential call loop (200k calls after 20k of warm-up)
 *   in a runtime with the default sampling (one message in 16 timed) against one with sampling
 *   off, in ONE run, alternating (off, on, off, on ...): the median of the per-pair ratios (on /
 *   off), so that the load of the machine drifting between pairs cancels out. Each round runs the
 *   three runtimes in a rotated order (a runtime measured after another pays for its garbage).
 *   `busySamplingEvery1CostRatio` times every message (the worst case, for reference);
 *   `busySamplingCpuCostRatio` is the same median ratio as `busySamplingCostRatio` in calls per
 *   CPU-second (`process.cpuUsage`), less disturbed by other processes on a loaded machine.
 */
import { cpus, loadavg } from "node:os"
import { Effect, Schema } from "effect"
import { GenServer, Observer, ProcessRuntime } from "../../src/index.ts"
import { server, Bench } from "./protocol.ts"

const PROCESSES = 100_000
const ROUND_TRIPS = 200_000
const WARMUP = 20_000
const ROUNDS = 9

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
  const cpu: Array<number> = []
  const encodes: Array<number> = []
  const tops: Array<number> = []
  const encode = Schema.encodeSync(Observer.NodeSnapshot)
  let count = 0
  for (let round = 0; round < 9; round++) {
    const cpuBefore = process.cpuUsage()
    const { value: snapshot, millis } = yield* timed(Observer.snapshot)
    const cpuUsed = process.cpuUsage(cpuBefore)
    count = snapshot.processes.length
    const start = performance.now()
    encode(snapshot)
    const encodeMillis = performance.now() - start
    const top = yield* timed(Observer.top({ by: "mailbox", limit: 10 }))
    if (round >= 2) {
      snapshots.push(millis)
      cpu.push((cpuUsed.user + cpuUsed.system) / 1000)
      encodes.push(encodeMillis)
      tops.push(top.millis)
    }
  }
  return {
    processes: count,
    snapshotMillis: Number(median(snapshots).toFixed(1)),
    snapshotCpuMillis: Number(median(cpu).toFixed(1)),
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
    const cpuBefore = process.cpuUsage()
    const { millis } = yield* timed(loop(ROUND_TRIPS))
    const cpu = process.cpuUsage(cpuBefore)
    yield* GenServer.stop(pid)
    return {
      perSec: Math.round((ROUND_TRIPS / millis) * 1000),
      perCpuSec: Math.round((ROUND_TRIPS / (cpu.user + cpu.system)) * 1e6)
    }
  }).pipe(Effect.provide(ProcessRuntime.layer({ busySampleEvery })))

export const samplingCost = Effect.gen(function* () {
  const off: Array<number> = []
  const on: Array<number> = []
  const every1: Array<number> = []
  const ratios: Array<number> = []
  const ratios1: Array<number> = []
  const cpuRatios: Array<number> = []
  const orders = [
    [0, 16, 1],
    [16, 1, 0],
    [1, 0, 16]
  ] as const
  for (let round = 0; round < ROUNDS; round++) {
    const rates = new Map<number, { readonly perSec: number; readonly perCpuSec: number }>()
    for (const every of orders[round % 3]!) rates.set(every, yield* callRate(every))
    const a = rates.get(0)!.perSec
    const b = rates.get(16)!.perSec
    const c = rates.get(1)!.perSec
    cpuRatios.push(rates.get(16)!.perCpuSec / rates.get(0)!.perCpuSec)
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
    busySamplingCpuCostRatio: Number(median(cpuRatios).toFixed(3)),
    ratios: ratios.map((ratio) => Number(ratio.toFixed(3)))
  }
})

/** How loaded the machine was: the 1-minute load average against its cores. */
export const load = () => ({ loadAverage1m: Number(loadavg()[0]!.toFixed(2)), cores: cpus().length })
