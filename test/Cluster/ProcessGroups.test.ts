import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import * as ProcessGroups from "../../src/Cluster/ProcessGroups.ts"
import { Process, ProcessErrors } from "../../src/index.ts"
import type { Pid } from "../../src/index.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import { awaitNodesUp } from "../support/clusterHarness.ts"
import {
  awaitRegistryPeers,
  type GlobalNode,
  memoryGlobalNode,
  tcpGlobalNode,
  tcpTrio
} from "../support/globalHarness.ts"
import { eventually } from "../support/transportHarness.ts"

/** A process on `node` that runs until told to stop. */
const idle = (node: GlobalNode) => node.run(Process.spawn((self) => self.receive))

const sorted = (pids: ReadonlyArray<Pid.Pid>) => pids.map(String).sort()

/** Waits until `group` lists exactly `expected` (as a multiset) on each node. */
const awaitMembers = (
  nodes: ReadonlyArray<GlobalNode>,
  group: string,
  expected: ReadonlyArray<Pid.Pid>,
  options?: ProcessGroups.GroupOptions
) =>
  Effect.forEach(
    nodes,
    (n) =>
      eventually(
        n.groups.members(group, options),
        (pids) => JSON.stringify(sorted(pids)) === JSON.stringify(sorted(expected))
      ),
    { discard: true }
  )

describe("ProcessGroups", () => {
  it.live("joins (a pid several times), leaves and exits are seen on every node, in their scope", () =>
    Effect.gen(function* () {
      const { a, b, c } = yield* tcpTrio
      const nodes = [a, b, c]
      const events = yield* Effect.forkChild(
        c.run(Stream.runCollect(Stream.take(ProcessGroups.events("workers"), 5))),
        { startImmediately: true }
      )
      yield* Effect.yieldNow
      const w1 = yield* idle(a)
      const w2 = yield* idle(b)
      yield* a.run(ProcessGroups.join("workers", w1))
      yield* a.run(ProcessGroups.join("workers", w1))
      yield* b.run(ProcessGroups.join("workers", w2))
      yield* b.run(ProcessGroups.join("workers", w2, { scope: "other" }))
      yield* awaitMembers(nodes, "workers", [w1, w1, w2])
      yield* awaitMembers(nodes, "workers", [w2], { scope: "other" })
      assert.deepStrictEqual(sorted(yield* a.run(ProcessGroups.localMembers("workers"))), sorted([w1, w1]))
      assert.deepStrictEqual(yield* c.run(ProcessGroups.localMembers("workers")), [])
      assert.deepStrictEqual([...(yield* c.run(ProcessGroups.whichGroups()))], ["workers"])
      // One leave removes one membership.
      assert.isTrue(yield* a.run(ProcessGroups.leave("workers", w1)))
      yield* awaitMembers(nodes, "workers", [w1, w2])
      // An exit leaves every group, in every scope.
      yield* b.run(Process.kill(w2))
      yield* awaitMembers(nodes, "workers", [w1])
      yield* awaitMembers(nodes, "workers", [], { scope: "other" })
      assert.isFalse(yield* b.run(ProcessGroups.leave("workers", w2)))
      const seen = yield* Fiber.join(events).pipe(Effect.timeout(10_000))
      assert.deepStrictEqual(
        seen.map((event) => `${event._tag} ${event.pids.map(String).join(",")}`),
        [`Joined ${w1}`, `Joined ${w1}`, `Joined ${w2}`, `Left ${w1}`, `Left ${w2}`]
      )
      // Only local pids join; outside a process a pid is needed.
      assert.instanceOf(yield* Effect.flip(a.run(ProcessGroups.join("workers", w2))), ProcessErrors.NoProcess)
      const other = yield* idle(b)
      assert.instanceOf(yield* Effect.flip(a.run(ProcessGroups.join("workers", other))), ProcessErrors.NoProcess)
      assert.instanceOf(yield* Effect.flip(a.run(ProcessGroups.join("workers"))), ProcessErrors.NotAProcess)
    })
  )

  it.live("the members of a node that goes down are removed everywhere; a node that joins learns the groups", () =>
    Effect.gen(function* () {
      const a = yield* tcpGlobalNode({ nodeName: "a" })
      const c = yield* tcpGlobalNode({ nodeName: "c", seeds: [a.seed] })
      const bScope = yield* Scope.make()
      const b = yield* Scope.provide(tcpGlobalNode({ nodeName: "b", seeds: [a.seed, c.seed] }), bScope)
      yield* awaitRegistryPeers([a, b, c])
      const onA = yield* idle(a)
      const onB = yield* idle(b)
      yield* a.run(ProcessGroups.join("g", onA))
      yield* b.run(ProcessGroups.join("g", onB))
      yield* awaitMembers([a, b, c], "g", [onA, onB])
      const left = yield* Effect.forkChild(
        a.run(Stream.runHead(Stream.filter(ProcessGroups.events("g"), (event) => event._tag === "Left"))),
        { startImmediately: true }
      )
      yield* Effect.yieldNow
      yield* Scope.close(bScope, Exit.void)
      yield* awaitMembers([a, c], "g", [onA])
      const event = yield* Fiber.join(left).pipe(Effect.timeout(10_000))
      assert.strictEqual(event._tag === "Some" && String(event.value.pids[0]), String(onB))
      // A node joining later is sent the memberships of each node it links to.
      const d = yield* tcpGlobalNode({ nodeName: "d", seeds: [a.seed] })
      yield* awaitMembers([d], "g", [onA])
    })
  )

  it.live("views are eventually consistent and not transitive: a node lists the members of the nodes it sees", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 51 })
      const a = yield* memoryGlobalNode(network, { nodeName: "a" })
      const b = yield* memoryGlobalNode(network, { nodeName: "b", seeds: ["a@a:0"] })
      const c = yield* memoryGlobalNode(network, { nodeName: "c", seeds: ["a@a:0", "b@b:0"] })
      yield* awaitRegistryPeers([a, b, c])
      // a and c lose each other; b still sees both.
      network.partition("a", "c")
      yield* eventually(a.cluster.connectedNodeCount, (n) => n === 1)
      yield* eventually(c.cluster.connectedNodeCount, (n) => n === 1)
      const onC = yield* idle(c)
      yield* c.run(ProcessGroups.join("g", onC))
      yield* awaitMembers([b, c], "g", [onC])
      assert.deepStrictEqual(yield* a.run(ProcessGroups.members("g")), [])
      // Once a and c are linked again, a lists c's member too.
      network.heal("a", "c")
      yield* awaitNodesUp(a.cluster, ["c"], 10_000)
      yield* awaitMembers([a, b, c], "g", [onC])
    })
  )
})
