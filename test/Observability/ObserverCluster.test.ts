import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import type { ClusterEvent } from "../../src/Cluster/ClusterEvent.ts"
import { GenServer, Observer, ObserverCluster, Pid, Process, ProcessErrors, Registry } from "../../src/index.ts"
import { clusterEvents, awaitNodesUp } from "../support/clusterHarness.ts"
import { kv } from "../support/distHarness.ts"
import { observedChildNode, observedNode } from "../support/observerHarness.ts"
import { eventually } from "../support/transportHarness.ts"

const isNodeDown = (id: string) => (event: ClusterEvent) => event._tag === "NodeDown" && event.id === id

const entryOf = (snapshot: ObserverCluster.ClusterSnapshot | ObserverCluster.ClusterTop, node: string) => {
  const entry = snapshot.nodes.find((candidate) => candidate.node === node)
  assert.isDefined(entry, `${node} is named in the result`)
  return entry!
}

describe("ObserverCluster", () => {
  it.live(
    "a snapshot of three nodes names every node; after one is killed (kill -9 of its OS process) it is named as down",
    () =>
      Effect.gen(function* () {
        const a = yield* observedNode({ nodeName: "a" })
        const b = yield* observedNode({ nodeName: "b", seeds: [a.seed] })
        const c = yield* observedChildNode("c", [a.seed], 100)
        yield* awaitNodesUp(a.cluster, ["b", "c"], 10_000)
        yield* awaitNodesUp(b.cluster, ["a", "c"], 10_000)

        const before = yield* a.run(ObserverCluster.snapshot({ timeout: 2000 }))
        assert.deepStrictEqual(
          before.nodes.map((entry) => [entry.node, entry._tag]),
          [
            ["a", "Answered"],
            ["b", "Answered"],
            ["c", "Answered"]
          ]
        )
        assert.strictEqual(before.node, "a")
        for (const answer of before.answered) assert.strictEqual(answer.snapshot.node.name, answer.node)

        // The system process of each node is a process like the others, registered under its reserved name.
        const system = yield* a.run(Registry.whereis(ObserverCluster.systemName))
        assert.strictEqual(system._tag, "Some")

        const downs = yield* clusterEvents(a.cluster)
        c.child.signal("SIGKILL")
        yield* downs(isNodeDown("c"), 5000)

        const after = yield* a.run(ObserverCluster.snapshot({ timeout: 2000 }))
        assert.deepStrictEqual(
          after.nodes.map((entry) => [entry.node, entry._tag]),
          [
            ["a", "Answered"],
            ["b", "Answered"],
            ["c", "Unreachable"]
          ]
        )
        const gone = entryOf(after, "c")
        assert.strictEqual(gone._tag, "Unreachable")
        if (gone._tag === "Unreachable") {
          assert.strictEqual(gone.reason, "node_down")
          assert.include(gone.message, "connection_closed")
        }
        assert.deepStrictEqual(
          after.unreachable.map((entry) => entry.node),
          ["c"]
        )
      }),
    30_000
  )

  it.live(
    "a node that is up but does not answer (its OS process stopped) is named with timeout, and the query ends after the per-node timeout",
    () =>
      Effect.gen(function* () {
        // Slow heartbeats (5 s of silence before a node is down), so that the stopped node stays up.
        const slow = { heartbeatInterval: 1000, heartbeatMissThreshold: 5 }
        const a = yield* observedNode({ nodeName: "a", ...slow })
        yield* observedNode({ nodeName: "b", seeds: [a.seed], ...slow })
        const c = yield* observedChildNode("c", [a.seed], 1000)
        yield* awaitNodesUp(a.cluster, ["b", "c"], 10_000)
        c.child.signal("SIGSTOP")

        const started = performance.now()
        const result = yield* a.run(ObserverCluster.snapshot({ timeout: 300 }))
        const elapsed = performance.now() - started
        c.child.signal("SIGCONT")

        const stalled = entryOf(result, "c")
        assert.strictEqual(stalled._tag, "Unreachable")
        if (stalled._tag === "Unreachable") {
          assert.strictEqual(stalled.reason, "timeout")
          assert.include(stalled.message, "300 ms")
          assert.isAtLeast(stalled.elapsedMs, 290)
        }
        assert.strictEqual(entryOf(result, "a")._tag, "Answered")
        assert.strictEqual(entryOf(result, "b")._tag, "Answered")
        assert.strictEqual(result.timeoutMs, 300)
        assert.isAtLeast(elapsed, 290)
        assert.isBelow(elapsed, 2500, "the query ends with the per-node timeout, not when heartbeats give up (5 s)")
      }),
    30_000
  )

  it.live("a connected node without the Observer system process is named with no_observer", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" })
      yield* observedNode({ nodeName: "bare", seeds: [a.seed] }, { observerCluster: false })
      yield* awaitNodesUp(a.cluster, ["bare"])
      const result = yield* a.run(ObserverCluster.snapshot())
      const bare = entryOf(result, "bare")
      assert.strictEqual(bare._tag, "Unreachable")
      if (bare._tag === "Unreachable") assert.strictEqual(bare.reason, "no_observer")
      assert.strictEqual(entryOf(result, "a")._tag, "Answered")
    })
  )

  it.live("top asks every node for its own table and merges them into the cluster's top N", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" })
      const b = yield* observedNode({ nodeName: "b", seeds: [a.seed] })
      yield* awaitNodesUp(a.cluster, ["b"])
      // Processes that never receive: their mailboxes hold what they are sent.
      const stuffed = (node: typeof a, messages: number) =>
        node.run(
          Effect.gen(function* () {
            const pid = yield* Process.spawn(() => Effect.never)
            for (let i = 0; i < messages; i++) yield* Process.send(pid, i)
            return pid
          })
        )
      const onA = yield* stuffed(a, 7)
      const onB = yield* stuffed(b, 5)
      yield* stuffed(b, 1)
      const top = yield* a.run(ObserverCluster.top({ by: "mailbox", limit: 2 }))
      assert.deepStrictEqual(
        top.nodes.map((entry) => [entry.node, entry._tag]),
        [
          ["a", "Answered"],
          ["b", "Answered"]
        ]
      )
      assert.strictEqual(top.by, "mailbox")
      for (const answer of top.answered) {
        assert.isAtMost(answer.processes.length, 2)
        for (const info of answer.processes) assert.strictEqual(info.pid.node, answer.node)
      }
      assert.deepStrictEqual(
        top.processes.map((info) => [String(info.pid), info.mailboxSize]),
        [
          [String(onA), 7],
          [String(onB), 5]
        ]
      )
    })
  )

  it.live("each node includes at most processLimit processes in a cluster snapshot and counts the ones left out", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" })
      const b = yield* observedNode({ nodeName: "b", seeds: [a.seed] })
      yield* awaitNodesUp(a.cluster, ["b"])
      yield* b.run(Effect.forEach(Array.from({ length: 20 }), () => Process.spawn(() => Effect.never)))
      const total = (yield* b.run(Observer.snapshot)).processes.length
      assert.isAtLeast(total, 20)

      const limited = yield* a.run(ObserverCluster.snapshot({ processLimit: 5 }))
      const onB = limited.answered.find((answer) => answer.node === "b")!
      assert.strictEqual(onB.snapshot.processes.length, 5)
      assert.strictEqual(onB.omittedProcesses, total - 5)
      assert.strictEqual(onB.snapshot.node.processCount, total)

      const all = yield* a.run(ObserverCluster.snapshot({ processLimit: Infinity }))
      const whole = all.answered.find((answer) => answer.node === "b")!
      assert.strictEqual(whole.snapshot.processes.length, total)
      assert.strictEqual(whole.omittedProcesses, 0)
    })
  )

  it.live("a slow query (top over a window) does not hold up the other queries a node's system process answers", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" })
      const b = yield* observedNode({ nodeName: "b", seeds: [a.seed] })
      yield* awaitNodesUp(a.cluster, ["b"])
      const system = yield* b.run(Registry.whereis(ObserverCluster.systemName))
      assert.strictEqual(system._tag, "Some")
      if (system._tag !== "Some") return
      // Its figures, from b's local Observer (not through the system process itself).
      const handled = b.run(Effect.map(Observer.process(system.value), (detail) => detail.info.messagesHandled))
      const before = yield* handled
      // A top over a 4 s window: b's system process answers it 4 s from now.
      const slow = yield* Effect.forkChild(
        a.run(ObserverCluster.top({ by: "rate", limit: 3, windowMs: 4000, timeout: 15_000 }))
      )
      // Once b has taken that question from its mailbox, a snapshot still gets its answer at once.
      yield* eventually(handled, (count) => count > before)
      const quick = yield* a.run(ObserverCluster.snapshot({ timeout: 1000, processLimit: 0 }))
      assert.strictEqual(entryOf(quick, "b")._tag, "Answered", JSON.stringify(entryOf(quick, "b")))
      const detail = yield* a.run(ObserverCluster.process(system.value, { timeout: 1000 }))
      assert.strictEqual(String(detail.info.pid), String(system.value))
      assert.isUndefined(slow.pollUnsafe(), "the slow top is still measuring")
      const top = yield* Fiber.join(slow)
      assert.strictEqual(entryOf(top, "b")._tag, "Answered")
    })
  )

  it.live("a pid of this node is answered by the local Observer, even with no system process running", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" })
      const system = yield* a.run(Registry.whereis(ObserverCluster.systemName))
      assert.strictEqual(system._tag, "Some")
      if (system._tag !== "Some") return
      const server = yield* a.run(Registry.whereis(`${ObserverCluster.systemName}_sup`))
      assert.strictEqual(server._tag, "Some")
      if (server._tag !== "Some") return
      const own = yield* a.run(Process.spawn(() => Effect.never))
      // Without the system process (its supervisor gone, so nobody restarts it) a local pid is still served.
      yield* a.run(Process.kill(server.value))
      yield* eventually(a.run(Registry.whereis(ObserverCluster.systemName)), (pid) => pid._tag === "None", 5000)
      const detail = yield* a.run(ObserverCluster.process(own, { timeout: 1000 }))
      assert.strictEqual(String(detail.info.pid), String(own))
      const dead = yield* Effect.flip(a.run(ObserverCluster.process(Pid.make("a", 999_999, own.incarnation))))
      assert.strictEqual(dead._tag, "NoProcess")
    })
  )

  it.live("a node that left is named as down until forgetDownAfter has passed, then no longer", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" }, { cluster: { forgetDownAfter: 300 } })
      const scope = yield* Scope.make()
      yield* observedNode({ nodeName: "b", seeds: [a.seed] }).pipe(Scope.provide(scope))
      yield* awaitNodesUp(a.cluster, ["b"])
      const downs = yield* clusterEvents(a.cluster)
      yield* Scope.close(scope, Exit.void)
      yield* downs(isNodeDown("b"))

      const after = yield* a.run(ObserverCluster.snapshot())
      const left = entryOf(after, "b")
      assert.strictEqual(left._tag, "Unreachable")
      if (left._tag === "Unreachable") {
        assert.strictEqual(left.reason, "node_down")
        assert.include(left.message, "graceful_shutdown")
        assert.strictEqual(left.elapsedMs, 0, "a node known to be down is not asked")
      }
      const later = yield* eventually(a.run(ObserverCluster.snapshot()), (result) => result.nodes.length === 1, 5000)
      assert.deepStrictEqual(
        later.nodes.map((entry) => entry.node),
        ["a"]
      )
    })
  )

  it.live("the system process is supervised: killed, it is started again and answers", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" })
      const b = yield* observedNode({ nodeName: "b", seeds: [a.seed] })
      yield* awaitNodesUp(a.cluster, ["b"])
      const first = yield* b.run(Registry.whereis(ObserverCluster.systemName))
      assert.strictEqual(first._tag, "Some")
      if (first._tag !== "Some") return
      yield* b.run(Process.kill(first.value))
      const second = yield* eventually(
        b.run(Registry.whereis(ObserverCluster.systemName)),
        (pid) => pid._tag === "Some" && !Pid.equals(pid.value, first.value),
        5000
      )
      assert.strictEqual(second._tag, "Some")
      const result = yield* a.run(ObserverCluster.snapshot())
      assert.strictEqual(entryOf(result, "b")._tag, "Answered")
      // Its supervisor is part of the node's supervision trees.
      const onB = result.answered.find((answer) => answer.node === "b")!
      assert.isTrue(
        onB.snapshot.supervisors.some(
          (tree) => tree.name === `${ObserverCluster.systemName}_sup` && tree.restarts === 1
        )
      )
    })
  )

  it.live(
    "one process is asked of its own node: its detail, NoProcess when it is dead, ProcessUnreachable when its node is not connected",
    () =>
      Effect.gen(function* () {
        const a = yield* observedNode({ nodeName: "a" })
        const b = yield* observedNode({ nodeName: "b", seeds: [a.seed] })
        yield* awaitNodesUp(a.cluster, ["b"])
        const server = yield* b.run(GenServer.start(kv, 10))
        const detail = yield* a.run(ObserverCluster.process(server))
        assert.isTrue(Pid.equals(detail.info.pid, server))

        yield* b.run(GenServer.stop(server))
        const dead = yield* Effect.flip(a.run(ObserverCluster.process(server)))
        assert.instanceOf(dead, ProcessErrors.NoProcess)

        const elsewhere = yield* Effect.flip(a.run(ObserverCluster.process(Pid.make("ghost", 1, 1))))
        assert.instanceOf(elsewhere, ObserverCluster.ProcessUnreachable)
        if (elsewhere instanceof ObserverCluster.ProcessUnreachable) assert.strictEqual(elsewhere.reason, "node_down")
      })
  )
})
