/**
 * A/B of two compiled builds of this library in ONE process (`npx tsc -p tsconfig.build.json` in
 * each checkout), measured in interleaved chunks so that both sides see the same machine load:
 * casts (a burst of 100k then a call), sequential calls (50k), a ring of 1,000 GenServers casting
 * a token 200k hops, the same ring of plain processes with `Process.send`, and 10k GenServer
 * starts. Each chunk runs in a fresh runtime; the order of the two sides alternates per round.
 * Reports ns per operation of wall and CPU time (`process.cpuUsage`) per side and their ratios.
 *
 * Usage: node bench/local/ab.mjs <baseBuildDir> <newBuildDir> [casts,calls,ringgs,ring,spawn]
 * (ROUNDS=<n> rounds per workload, default 6). The last stdout line is the JSON result.
 */
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { loadavg } from "node:os"
import { Deferred, Effect, Exit, Schema } from "effect"
const [baseDir, newDir, which = "casts,calls,ringgs,ring,spawn"] = process.argv.slice(2)
const load = (dir) => import(pathToFileURL(resolve(dir, "src/index.js")).href)
const libs = { base: await load(baseDir), new: await load(newDir) }
const CH = { casts: 100_000, calls: 50_000, ringgs: 200_000, ring: 200_000, spawn: 10_000 }
function makeWork(lib) {
  const { GenServer, Process, ProcessRuntime, Protocol } = lib
  const Bench = Protocol.make({
    Ping: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
    Bump: Protocol.cast()
  })
  const Ring = Protocol.make({ Hop: Protocol.cast({ payload: { n: Schema.Number } }) })
  const server = GenServer.behaviour(Bench)({
    init: () => Effect.succeed(0),
    handleCall: { Ping: ({ n }, s) => Effect.succeed(GenServer.reply(n, s)) },
    handleCast: { Bump: (_, s) => Effect.succeed(GenServer.noReply(s + 1)) }
  })
  const casts = (n) =>
    Effect.gen(function* () {
      const pid = yield* GenServer.start(server, undefined)
      const bump = Bench.Bump()
      for (let i = 0; i < n; i++) yield* GenServer.cast(pid, bump)
      yield* GenServer.call(pid, Bench.Ping({ n: 0 }), { timeout: 60_000 })
      yield* GenServer.stop(pid)
    })
  const calls = (n) =>
    Effect.gen(function* () {
      const pid = yield* GenServer.start(server, undefined)
      for (let i = 0; i < n; i++) yield* GenServer.call(pid, Bench.Ping({ n: i }))
      yield* GenServer.stop(pid)
    })
  const RING = 1000
  const ringgs = (hops) =>
    Effect.gen(function* () {
      const pids = new Array(RING)
      const done = Deferred.makeUnsafe()
      const hop = GenServer.behaviour(Ring)({
        init: (next) => Effect.succeed(next),
        handleCall: {},
        handleCast: {
          Hop: ({ n }, next) =>
            n === 0
              ? Effect.as(Deferred.succeed(done, undefined), GenServer.noReply(next))
              : Effect.as(Effect.orDie(GenServer.cast(pids[next], Ring.Hop({ n: n - 1 }))), GenServer.noReply(next))
        }
      })
      for (let i = 0; i < RING; i++) pids[i] = yield* GenServer.start(hop, (i + 1) % RING)
      yield* GenServer.cast(pids[0], Ring.Hop({ n: hops }))
      yield* Deferred.await(done)
      for (const pid of pids) yield* GenServer.stop(pid)
    })
  const ring = (hops) =>
    Effect.gen(function* () {
      const pids = new Array(RING)
      const done = Deferred.makeUnsafe()
      for (let i = 0; i < RING; i++) {
        const next = (i + 1) % RING
        pids[i] = yield* Process.spawn((self) =>
          Effect.forever(
            Effect.flatMap(self.receive, (n) =>
              n === 0 ? Deferred.succeed(done, undefined) : Effect.orDie(Process.send(pids[next], n - 1))
            ),
            { disableYield: true }
          )
        )
      }
      yield* Process.send(pids[0], hops)
      yield* Deferred.await(done)
      for (const pid of pids) yield* Process.kill(pid)
    })
  const spawn = (n) =>
    Effect.gen(function* () {
      const pids = new Array(n)
      for (let i = 0; i < n; i++) pids[i] = yield* GenServer.start(server, undefined)
      for (const pid of pids) yield* Process.kill(pid)
    })
  const all = { casts, calls, ringgs, ring, spawn }
  return (name, n) => Effect.runPromise(all[name](n).pipe(Effect.provide(ProcessRuntime.layer())))
}
const runners = { base: makeWork(libs.base), new: makeWork(libs.new) }
const ROUNDS = Number(process.env.ROUNDS ?? 6)
const out = {}
for (const name of which.split(",")) {
  const n = CH[name]
  for (const side of ["base", "new"]) await runners[side](name, n / 10) // warm-up
  const acc = { base: { wall: 0, cpu: 0 }, new: { wall: 0, cpu: 0 } }
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of r % 2 === 0 ? ["base", "new"] : ["new", "base"]) {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await runners[side](name, n)
      const c = process.cpuUsage(c0)
      acc[side].wall += performance.now() - t0
      acc[side].cpu += (c.user + c.system) / 1000
    }
  }
  const ns = (side, k) => Math.round((acc[side][k] * 1e6) / (n * ROUNDS))
  out[name] = {
    perOp: n,
    baseWallNs: ns("base", "wall"),
    newWallNs: ns("new", "wall"),
    baseCpuNs: ns("base", "cpu"),
    newCpuNs: ns("new", "cpu"),
    cpuSpeedup: Number((acc.base.cpu / acc.new.cpu).toFixed(2)),
    wallSpeedup: Number((acc.base.wall / acc.new.wall).toFixed(2))
  }
  console.error(name, JSON.stringify(out[name]))
}
console.log(JSON.stringify({ ...out, loadAverage: loadavg().map((x) => Number(x.toFixed(1))) }))
