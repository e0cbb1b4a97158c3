/**
 * Global registry benchmark, on three nodes in three OS processes over loopback with the cluster
 * secret (TLS-PSK): this process is node "c", two children (`global/peer.ts`) are "a" and "b", and
 * each child registers a process globally.
 * - `whereisPerSec`: `yield* GlobalRegistry.whereis` of a name owned by a process on "a", from "c" (a
 *   local read of c's replica, without a trip through the run loop), in one fiber.
 * - `whereisUnsafePerSec`: the same read through the service's synchronous `whereisUnsafe`.
 * - `effectYieldPerSec`: `yield* Effect.void` (a constant effect, an `Exit`) in the same kind of
 *   loop. A generator unwraps a yielded `Exit` inline, without a trip through the fiber's run loop,
 *   so this is the cost of the generator's `Exit` check, which `whereis` (its iterator is done at
 *   once) does not even pay.
 * - `effectSyncPerSec`: `yield* Effect.sync(() => ...)` in the same loop: one primitive evaluated by
 *   the run loop, the floor of an ordinary effect that computes its value when it runs (what
 *   `whereis` was before it read the running fiber's context from its iterator).
 * - `*CpuPerSec`: the same three loops measured on CPU time (`process.cpuUsage`), which the other
 *   processes of a loaded machine disturb less than wall time.
 * The three loops run interleaved, in rounds of 1M operations each, 5 rounds (best round on wall
 *   time; CPU time summed over the rounds).
 * - `registerPerSec`: sequential `register` + `unregister` pairs of a local process under fresh
 *   names from "c", whose arbiter is "a" (the lowest-named node): a `register` is a round trip to
 *   "a", which also tells "b"; the `unregister` of a name held by a process of "c" is decided on "c"
 *   and reaches "a" with the next request (see bench/README.md). Best of 3 rounds of 5,000 pairs
 *   after 1,000 of warm-up.
 * - `remoteCallsPerSec`: the baseline round trip on this machine at that moment: sequential
 *   `GenServer.call`s from "c" to the ping server on "a", by its global name (best of 3 x 5,000).
 *
 * Run with `npm run bench:global` (compiled JavaScript). Prints one JSON object on its last stdout
 * line and writes it to bench/results/global.json.
 */
import { spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { Effect, Layer } from "effect"
import * as Distribution from "../src/Cluster/Distribution.ts"
import * as GlobalRegistry from "../src/Cluster/GlobalRegistry.ts"
import { GenServer, GlobalName, Process } from "../src/index.ts"
import type { ProcessRuntime } from "../src/index.ts"
import { Ping, secret } from "./global/shared.ts"

const WHEREIS = 1_000_000
const WHEREIS_ROUNDS = 5
const PAIRS = 5_000
const WARMUP_PAIRS = 1_000
const ROUNDS = 3

const startPeer = (name: string, seeds: ReadonlyArray<string>) =>
  new Promise<{ port: number; kill: () => void }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, Path.join(import.meta.dirname, "global", "peer.js"), name, seeds.join(",")],
      { stdio: ["pipe", "pipe", "inherit"] }
    )
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`peer ${name} exited (${code}) before it was ready`)))
    let buffered = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const line = buffered.split("\n").find((l) => l.startsWith('{"port"'))
      if (line === undefined) return
      resolve({ port: (JSON.parse(line) as { port: number }).port, kill: () => child.kill("SIGKILL") })
    })
  })

const perSec = (count: number, millis: number) => Math.round((count / millis) * 1000)

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.map(effect, () => performance.now() - start)
  })

type Services = GlobalRegistry.GlobalRegistry | ProcessRuntime.ProcessRuntime

const whereisLoop = Effect.gen(function* () {
  let found = 0
  for (let i = 0; i < WHEREIS; i++) if ((yield* GlobalRegistry.whereis("owned-a"))._tag === "Some") found++
  if (found !== WHEREIS) throw new Error(`owned-a resolved ${found} times of ${WHEREIS}`)
})

/** What one `yield*` of a constant effect costs here: the generator's own share of a lookup. */
const yieldLoop = Effect.gen(function* () {
  for (let i = 0; i < WHEREIS; i++) yield* Effect.void
})

/** What one `yield*` of the cheapest effect computed when it runs costs here. */
let synced = 0
const readSynced = () => synced
const syncLoop = Effect.gen(function* () {
  for (let i = 0; i < WHEREIS; i++) synced += (yield* Effect.sync(readSynced)) === -1 ? 1 : 0
})

/**
 * The whereis, yield and sync loops interleaved (so that a change of load affects all three
 * alike): the best round of each on wall time, and each one's rate on the CPU time of all its rounds.
 */
const lookupLoops = Effect.gen(function* () {
  const loops = { whereis: whereisLoop, yield: yieldLoop, sync: syncLoop }
  const keys = Object.keys(loops) as Array<keyof typeof loops>
  const bestMs = { whereis: Infinity, yield: Infinity, sync: Infinity }
  const cpuMs = { whereis: 0, yield: 0, sync: 0 }
  for (let round = 0; round < WHEREIS_ROUNDS; round++) {
    for (const key of round % 2 === 0 ? keys : [...keys].reverse()) {
      const cpu = process.cpuUsage()
      const ms = yield* timed(loops[key])
      const used = process.cpuUsage(cpu)
      bestMs[key] = Math.min(bestMs[key], ms)
      cpuMs[key] += (used.user + used.system) / 1000
    }
  }
  return { bestMs, cpuMs }
})

const whereisUnsafeLoop = Effect.flatMap(GlobalRegistry.GlobalRegistry, (registry) =>
  Effect.sync(() => {
    let found = 0
    for (let i = 0; i < WHEREIS; i++) if (registry.whereisUnsafe("owned-a") !== undefined) found++
    if (found !== WHEREIS) throw new Error(`owned-a resolved ${found} times of ${WHEREIS}`)
  })
)

let round = 0
const pairs = (count: number) =>
  Effect.gen(function* () {
    const pid = yield* Process.spawn((self) => Effect.forever(self.receive))
    const prefix = `bench-${round++}-`
    for (let i = 0; i < count; i++) {
      yield* GlobalRegistry.register(`${prefix}${i}`, pid)
      yield* GlobalRegistry.unregister(`${prefix}${i}`)
    }
    yield* Process.kill(pid)
  })

const CALLS = 5_000
const owned = GlobalName.make("owned-a", Ping)
const calls = (count: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < count; i++) yield* GenServer.call(owned, Ping.Ping({ n: i }))
  })

const best = <E, R>(effect: Effect.Effect<number, E, R>) =>
  Effect.map(Effect.all(Array.from({ length: ROUNDS }, () => effect)), (times) => Math.min(...times))

const measure = (seeds: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      GlobalRegistry.layer.pipe(
        Layer.provideMerge(Distribution.layer({ nodeName: "c", host: "127.0.0.1", port: 0, secret, seeds: [...seeds] }))
      )
    )
    const run = <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.provideContext(effect, context)
    const registry = yield* run(Effect.service(GlobalRegistry.GlobalRegistry))
    // Until both peers' registries are in touch and both names are known here.
    yield* Effect.repeat(
      Effect.sync(
        () =>
          registry.statsUnsafe().peers === 2 &&
          registry.whereisUnsafe("owned-a") !== undefined &&
          registry.whereisUnsafe("owned-b") !== undefined
      ),
      { until: (ready) => ready }
    ).pipe(Effect.timeout("30 seconds"))
    const arbiter = registry.statsUnsafe().arbiter
    const lookups = yield* run(lookupLoops)
    const whereisUnsafeMs = yield* run(best(timed(whereisUnsafeLoop)))
    yield* run(pairs(WARMUP_PAIRS))
    const pairsMs = yield* run(best(timed(pairs(PAIRS))))
    yield* run(calls(WARMUP_PAIRS))
    const callsMs = yield* run(best(timed(calls(CALLS))))
    return {
      arbiter,
      whereisPerSec: perSec(WHEREIS, lookups.bestMs.whereis),
      whereisUnsafePerSec: perSec(WHEREIS, whereisUnsafeMs),
      effectYieldPerSec: perSec(WHEREIS, lookups.bestMs.yield),
      effectSyncPerSec: perSec(WHEREIS, lookups.bestMs.sync),
      whereisCpuPerSec: perSec(WHEREIS * WHEREIS_ROUNDS, lookups.cpuMs.whereis),
      effectYieldCpuPerSec: perSec(WHEREIS * WHEREIS_ROUNDS, lookups.cpuMs.yield),
      effectSyncCpuPerSec: perSec(WHEREIS * WHEREIS_ROUNDS, lookups.cpuMs.sync),
      registerPerSec: perSec(PAIRS, pairsMs),
      remoteCallsPerSec: perSec(CALLS, callsMs)
    }
  }).pipe(Effect.scoped)

const main = async () => {
  const a = await startPeer("a", [])
  const b = await startPeer("b", [`a@127.0.0.1:${a.port}`])
  try {
    const figures = await Effect.runPromise(measure([`a@127.0.0.1:${a.port}`, `b@127.0.0.1:${b.port}`]))
    const result = {
      benchmark: "global",
      node: process.version,
      nodes: 3,
      ...figures,
      targets: { whereisPerSec: 6_500_000, registerPerSec: 5_000 }
    }
    mkdirSync("bench/results", { recursive: true })
    writeFileSync("bench/results/global.json", JSON.stringify(result, null, 2))
    console.log(JSON.stringify(result))
  } finally {
    a.kill()
    b.kill()
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
