import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import { DistributedSupervisor, GenServer, GlobalRegistry, MemoryNetwork, Process } from "../../src/index.ts"
import { cluster, Counter, CounterSpec, type TestNode, until } from "../support/distSupHarness.ts"
import { eventually } from "../support/transportHarness.ts"

const named = (count: number) =>
  Array.from({ length: count }, (_, i) =>
    DistributedSupervisor.child(`c${i + 1}`, CounterSpec, (i + 1) * 10, { globalName: `counter-${i + 1}` })
  )

/** Waits until `count` reads `expected`; on timeout, fails saying what and what it read last. */
const settle = (what: string, count: Effect.Effect<number>, expected: number) =>
  Effect.catchTag(
    eventually(count, (n) => n === expected),
    "TimeoutError",
    () => Effect.flatMap(count, (last) => Effect.die(new Error(`${what}: still ${last} after 10 s`)))
  )

/** The pid registered under `name` as `node` sees it. */
const whereis = (node: TestNode, name: string) => node.run(GlobalRegistry.whereis(name))

describe("children under global names", () => {
  it.live("a child keeps its global name after its node is lost: a call by that name reaches the new instance", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const [a, b] = yield* cluster(network, ["a", "b", "c"])
      const sup = yield* a!.run(DistributedSupervisor.start({ selector: "round_robin", children: named(3) }))
      const before = yield* a!.run(DistributedSupervisor.whichChildren(sup.pid))
      assert.deepStrictEqual(
        before.map((child) => child.node),
        ["a", "b", "c"]
      )
      const name = GlobalRegistry.name("counter-2", Counter)
      assert.deepStrictEqual(yield* a!.run(GenServer.call(name, Counter.Get())), { value: 20, node: "b" })
      network.partition("a", "b")
      network.partition("b", "c")
      // The call by name succeeds again once the child runs elsewhere under the same name.
      const answer = yield* eventually(
        Effect.result(a!.run(GenServer.call(name, Counter.Get(), { timeout: 200 }))),
        (result) => result._tag === "Success" && result.success.node !== "b"
      )
      assert.strictEqual(answer._tag === "Success" && answer.success.value, 20)
      assert.strictEqual(String(Option.getOrThrow(yield* whereis(a!, "counter-2"))).startsWith("<b."), false)
      void b
    })
  )
})

describe("the supervisor as a cluster singleton", () => {
  it.live(
    "one active instance; when its node dies a standby takes over, adopts the live children, restarts the missing one",
    () =>
      Effect.gen(function* () {
        const network = MemoryNetwork.make()
        const [a, b, c] = yield* cluster(network, ["a", "b", "c"])
        const spec = { selector: "round_robin" as const, children: named(3) }
        const scopeOfA = yield* Scope.make()
        const onA = yield* a!.run(DistributedSupervisor.singleton(spec, { name: "jobs" })).pipe(Scope.provide(scopeOfA))
        yield* eventually(onA.localServer, Option.isSome)
        const onB = yield* b!.run(DistributedSupervisor.singleton(spec, { name: "jobs" }))
        const onC = yield* c!.run(DistributedSupervisor.singleton(spec, { name: "jobs" }))
        const jobs = GlobalRegistry.name("jobs")
        const before = yield* until(b!.run(DistributedSupervisor.whichChildren(jobs)))
        assert.deepStrictEqual(
          before.map((child) => `${child.id}@${child.node}`),
          ["c1@a", "c2@b", "c3@c"]
        )
        // Only a's instance is active.
        assert.isTrue(Option.isNone(yield* onB.localServer))
        assert.isTrue(Option.isNone(yield* onC.localServer))
        const cut = Date.now()
        network.partition("a", "b")
        network.partition("a", "c")
        // A standby (b or c) takes over.
        const takenOver = yield* eventually(
          Effect.map(Effect.all([onB.localServer, onC.localServer]), ([x, y]) => Option.isSome(x) || Option.isSome(y)),
          (active) => active
        )
        assert.isTrue(takenOver)
        const after = yield* until(
          b!.run(DistributedSupervisor.whichChildren(jobs)),
          (list) => list.length === 3 && list.every((child) => child.status === "running" && child.node !== "a")
        )
        const elapsed = Date.now() - cut
        // The children on b and c were adopted (same pids); only c1 (on a) was started again.
        assert.strictEqual(String(after[1]!.pid), String(before[1]!.pid))
        assert.strictEqual(String(after[2]!.pid), String(before[2]!.pid))
        assert.notStrictEqual(String(after[0]!.pid), String(before[0]!.pid))
        // Exactly one active instance, and every child reachable by its name.
        const active = [Option.isSome(yield* onB.localServer), Option.isSome(yield* onC.localServer)]
        assert.strictEqual(active.filter(Boolean).length, 1)
        for (let i = 1; i <= 3; i++) {
          const answer = yield* b!.run(GenServer.call(GlobalRegistry.name(`counter-${i}`, Counter), Counter.Get()))
          assert.strictEqual(answer.value, i * 10)
        }
        // Heartbeats 100 ms x 3: the takeover is well within a second or two here.
        assert.isBelow(elapsed, 3000)
        yield* Scope.close(scopeOfA, Exit.void)
      })
  )

  // Also a reproducer for GlobalRegistry: every node's replica must agree on the owner of each
  // name once the heal settles, even when the links come up one after the other.
  it.live("after a partition heals there is one active instance and exactly one instance of each child", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const nodes = yield* cluster(network, ["a", "b", "c"])
      const [a, b, c] = nodes
      // Local names too, to count the instances on every node.
      const spec = {
        selector: "round_robin" as const,
        children: [1, 2, 3].map((i) =>
          DistributedSupervisor.child(`c${i}`, CounterSpec, i * 10, { globalName: `counter-${i}`, name: `c${i}` })
        )
      }
      const onA = yield* a!.run(DistributedSupervisor.singleton(spec, { name: "jobs" }))
      yield* eventually(onA.localServer, Option.isSome)
      const onB = yield* b!.run(DistributedSupervisor.singleton(spec, { name: "jobs" }))
      const onC = yield* c!.run(DistributedSupervisor.singleton(spec, { name: "jobs" }))
      const jobs = GlobalRegistry.name("jobs")
      yield* until(b!.run(DistributedSupervisor.whichChildren(jobs)), (list) => list.length === 3)
      const instances = (id: string) =>
        Effect.map(
          Effect.forEach(nodes, (node) => node!.run(Process.info(id))),
          (found) => found.filter(Option.isSome).length
        )
      const actives = Effect.map(
        Effect.forEach([onA, onB, onC], (instance) => instance.localServer),
        (found) => found.filter(Option.isSome).length
      )
      // Split {a} | {b, c}: each side has its own active instance and its own copy of every child.
      network.partition("a", "b")
      network.partition("a", "c")
      yield* settle("split: two active instances", actives, 2)
      for (const id of ["c1", "c2", "c3"]) yield* settle(`split: two of ${id}`, instances(id), 2)
      network.heal("a", "b")
      network.heal("a", "c")
      // Once the registries have resolved their conflicts (the lower node name wins).
      yield* settle("healed: one active instance", actives, 1)
      for (const id of ["c1", "c2", "c3"]) yield* settle(`healed: one of ${id}`, instances(id), 1)
      const settled = yield* until(
        a!.run(DistributedSupervisor.whichChildren(jobs)),
        (list) => list.length === 3 && list.every((child) => child.status === "running")
      )
      for (let i = 1; i <= 3; i++) {
        const pids = yield* Effect.forEach(nodes, (node) => node!.run(GlobalRegistry.whereis(`counter-${i}`)))
        // Every node agrees on the owner, and it is the child the active supervisor reports.
        assert.deepStrictEqual(
          [...new Set(pids.map((pid) => String(Option.getOrThrow(pid))))],
          [String(settled[i - 1]!.pid)]
        )
      }
      assert.isTrue(Option.isSome(yield* onA.localServer))
    })
  )
})
