/**
 * Failover of the distributed supervisor, three nodes in separate OS processes (heartbeat 1000 ms x
 * 3), each running an instance of the singleton supervisor "jobs" (children c1..c3 on a, b, c
 * under the global names counter-1..3), and this process as a fourth node that kills and calls:
 *
 * - `failoverMillis`: kill -9 of the node hosting a child (not the active supervisor's node) until a
 *   call by the child's global name succeeds again (answered from another node);
 * - `singletonFailoverMillis`: then kill -9 of the active supervisor's node until the child it
 *   hosted (missing now) answers again by its global name, restarted by the standby that took over;
 * - the same two with the node frozen (SIGSTOP) instead of killed: its sockets stay open, so only
 *   the heartbeats detect it (`...FrozenMillis`: the failure-detection bound, 3 x 1000 ms, plus the
 *   restart). A kill -9 on loopback closes the sockets at once, so the first two mostly measure the
 *   restart.
 *
 * Each figure is the median of `ROUNDS` (default 3) fresh clusters; all rounds are printed too.
 * Prints one JSON object on its last stdout line and writes bench/results/distsupFailover.json.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { Effect, Option } from "effect"
import { until } from "../test/support/distSupHarness.ts"
import { activeNode, callChild, processes, whichChildren } from "../test/support/distSupProcesses.ts"

const HEARTBEAT_MS = 1000
const ROUNDS = Number(process.env["ROUNDS"] ?? 3)

const round = (signal: "SIGKILL" | "SIGSTOP") =>
  Effect.scoped(
    Effect.gen(function* () {
      const { children, run } = yield* processes(HEARTBEAT_MS)
      const before = yield* until(whichChildren(run), (list) => list.length === 3)
      const active = Option.getOrThrow(yield* activeNode(run))
      const victim = ["a", "b", "c"].find((node) => node !== active)!
      const index = before.findIndex((child) => child.node === victim) + 1
      let start = performance.now()
      children.get(victim)!.signal(signal)
      yield* until(callChild(run, index, 200), (answer) => answer.node !== victim)
      const failover = performance.now() - start
      const activeIndex = before.findIndex((child) => child.node === active) + 1
      start = performance.now()
      children.get(active)!.signal(signal)
      yield* until(callChild(run, activeIndex, 200), (answer) => answer.node !== active)
      const singleton = performance.now() - start
      return { failover: Math.round(failover), singleton: Math.round(singleton) }
    })
  )

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.floor(sorted.length / 2)]!
}

const main = Effect.gen(function* () {
  const load = loadavg()[0]
  const killed: Array<{ failover: number; singleton: number }> = []
  const frozen: Array<{ failover: number; singleton: number }> = []
  for (let i = 0; i < ROUNDS; i++) killed.push(yield* round("SIGKILL"))
  for (let i = 0; i < ROUNDS; i++) frozen.push(yield* round("SIGSTOP"))
  const result = {
    heartbeat: `${HEARTBEAT_MS} ms x 3`,
    failoverMillis: median(killed.map((r) => r.failover)),
    singletonFailoverMillis: median(killed.map((r) => r.singleton)),
    failoverFrozenMillis: median(frozen.map((r) => r.failover)),
    singletonFailoverFrozenMillis: median(frozen.map((r) => r.singleton)),
    rounds: { killed, frozen },
    loadAverage: [load, loadavg()[0]]
  }
  mkdirSync("bench/results", { recursive: true })
  writeFileSync("bench/results/distsupFailover.json", JSON.stringify(result, null, 2))
  console.log(JSON.stringify(result))
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
