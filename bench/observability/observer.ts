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
import { Effect, ManagedRuntime, Schema } from "effect"
import { GenServer, Observer, ProcessRuntime } from "../../src/index.ts"
import { server, Bench } from "./protocol.ts"

const PROCESSES = 100_000
const WARMUP = 20_000
/** Servers per sample rate, rounds, and calls per server and round: 4 x 60 x 2,500 = 600k calls per rate. */
const SERVERS_PER_RATE = Number(process.env.BENCH_SERVERS_PER_RATE ?? 4)
const CHUNKS = 240 / SERVERS_PER_RATE
const CHUNK_CALLS = 2_500

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

/** bench:local's call server, in its own runtime with this sample rate, kept for the whole measurement. */
const callServer = async (busySampleEvery: number) => {
  const runtime = ManagedRuntime.make(ProcessRuntime.layer({ busySampleEvery }))
  const pid = await runtime.runPromise(GenServer.start(server, undefined))
  const loop = (count: number) =>
    runtime.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < count; i++) yield* GenServer.call(pid, Bench.Ping({ n: i }))
      })
    )
  return { loop, dispose: () => runtime.runPromise(GenServer.stop(pid)).then(() => runtime.dispose()) }
}

/** Wall-clock and CPU milliseconds (every thread of this process: GC, exports) of one chunk. */
export const chunk = async (run: () => Promise<void>) => {
  const cpuBefore = process.cpuUsage()
  const start = performance.now()
  await run()
  const millis = performance.now() - start
  const cpu = process.cpuUsage(cpuBefore)
  return { millis, cpuMillis: (cpu.user + cpu.system) / 1000 }
}

export const samplingCost = Effect.promise(async () => {
  // SERVERS_PER_RATE servers for each sample rate (off, 1 in 16, every message), each in its own
  // runtime, measured in short chunks that rotate through all of them: the drift of the machine's
  // speed falls on every rate alike, and so does the few-percent difference one server shows
  // against another with the same settings (where its objects landed in the heap, the order in
  // which they were built), which a single server per rate would report as a cost.
  const rates = [0, 16, 1] as const
  const servers = await Promise.all(
    Array.from({ length: rates.length * SERVERS_PER_RATE }, (_, i) => callServer(rates[i % rates.length]!))
  )
  try {
    for (const s of servers) await s.loop(WARMUP)
    const totals = rates.map(() => ({ millis: 0, cpuMillis: 0 }))
    const roundRatios: Array<number> = []
    const roundRatios1: Array<number> = []
    for (let round = 0; round < CHUNKS; round++) {
      const times = rates.map(() => 0)
      for (let k = 0; k < servers.length; k++) {
        const index = (round + k) % servers.length
        const { millis, cpuMillis } = await chunk(() => servers[index]!.loop(CHUNK_CALLS))
        const rate = index % rates.length
        totals[rate]!.millis += millis
        totals[rate]!.cpuMillis += cpuMillis
        times[rate]! += millis
      }
      roundRatios.push(times[0]! / times[1]!)
      roundRatios1.push(times[0]! / times[2]!)
    }
    const calls = CHUNKS * CHUNK_CALLS * SERVERS_PER_RATE
    const perSec = (rate: number) => Math.round((calls / totals[rate]!.millis) * 1000)
    const perCpuSec = (rate: number) => (calls / totals[rate]!.cpuMillis) * 1000
    const result = {
      callsPerSecSamplingOff: perSec(0),
      callsPerSecSampling16: perSec(1),
      callsPerSecSampling1: perSec(2),
      busySamplingCostRatio: Number((perSec(1) / perSec(0)).toFixed(3)),
      busySamplingEvery1CostRatio: Number((perSec(2) / perSec(0)).toFixed(3)),
      busySamplingCpuCostRatio: Number((perCpuSec(1) / perCpuSec(0)).toFixed(3)),
      busySamplingMedianRoundRatio: Number(median(roundRatios).toFixed(3)),
      busySamplingEvery1MedianRoundRatio: Number(median(roundRatios1).toFixed(3))
    }
    console.error(`${new Date().toISOString()} busy sampling: ${JSON.stringify(result)}`)
    return result
  } finally {
    for (const s of servers) await s.dispose()
  }
})

/** How loaded the machine was: the 1-minute load average against its cores. */
export const load = () => ({ loadAverage1m: Number(loadavg()[0]!.toFixed(2)), cores: cpus().length })
