import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as GlobalRegistry from "../../src/Cluster/GlobalRegistry.ts"
import { GenServer, GlobalName, Process } from "../../src/index.ts"
import { Kv, kv } from "../support/distHarness.ts"
import { awaitOwner, type GlobalNode, tcpTrio } from "../support/globalHarness.ts"

const startKv = (node: GlobalNode) => node.run(GenServer.start(kv, 10))

/**
 * Reads `name` on every node at every turn of the event loop until `stop`; the lookups that found
 * no owner (after the first one that found one).
 */
const watchOwner = (nodes: ReadonlyArray<GlobalNode>, name: string, stop: Deferred.Deferred<void>) =>
  Effect.gen(function* () {
    const gaps: Array<string> = []
    let reads = 0
    while (!(yield* Deferred.isDone(stop))) {
      for (const node of nodes) {
        reads++
        if (node.registry.whereisUnsafe(name) === undefined) gaps.push(node.name)
      }
      yield* Effect.yieldNow
    }
    return { gaps, reads }
  })

describe("GlobalRegistry.transfer", () => {
  it.live("moves a name from one pid to another with no node ever seeing it unowned; the old pid's exit keeps it", () =>
    Effect.gen(function* () {
      const { a, b, c } = yield* tcpTrio
      const nodes = [a, b, c]
      const old = yield* startKv(b)
      const fresh = yield* startKv(c)
      yield* b.run(GlobalRegistry.register("moving", old))
      yield* awaitOwner(nodes, "moving", String(old))
      const stop = yield* Deferred.make<void>()
      const watcher = yield* Effect.forkChild(watchOwner(nodes, "moving", stop), { startImmediately: true })
      // Asked from a node that is neither the arbiter (a) nor an owner, so the frames cross links.
      yield* c.run(GlobalRegistry.transfer("moving", old, fresh))
      yield* awaitOwner(nodes, "moving", String(fresh))
      yield* Deferred.succeed(stop, undefined)
      const watched = yield* Fiber.join(watcher)
      assert.deepStrictEqual(watched.gaps, [])
      assert.isAbove(watched.reads, 3)
      // The name is the new pid's now: the old one's exit does not release it, the new one's does.
      yield* b.run(GenServer.stop(old))
      assert.strictEqual(yield* a.run(GenServer.call(GlobalName.make("moving", Kv), Kv.Whoami())), String(fresh))
      for (const node of nodes) assert.strictEqual(String(node.registry.whereisUnsafe("moving")), String(fresh))
      yield* c.run(GenServer.stop(fresh))
      yield* awaitOwner(nodes, "moving", undefined)
    })
  )

  it.live("transfers stay consistent over many moves back and forth, watched on every node", () =>
    Effect.gen(function* () {
      const { a, b, c } = yield* tcpTrio
      const nodes = [a, b, c]
      const pids = [yield* startKv(a), yield* startKv(b), yield* startKv(c)]
      yield* a.run(GlobalRegistry.register("ring", pids[0]))
      yield* awaitOwner(nodes, "ring", String(pids[0]))
      const stop = yield* Deferred.make<void>()
      const watcher = yield* Effect.forkChild(watchOwner(nodes, "ring", stop), { startImmediately: true })
      for (let i = 1; i <= 60; i++) {
        const from = pids[(i - 1) % 3]!
        const to = pids[i % 3]!
        // Asked from the new owner's node: in turn the arbiter (a) itself, then b and c.
        yield* nodes[i % 3]!.run(GlobalRegistry.transfer("ring", from, to))
      }
      yield* awaitOwner(nodes, "ring", String(pids[0]))
      yield* Deferred.succeed(stop, undefined)
      const watched = yield* Fiber.join(watcher)
      assert.deepStrictEqual(watched.gaps, [])
    })
  )

  it.live(
    "refuses a transfer from a pid that does not hold the name, or to a dead pid; registers an unowned name",
    () =>
      Effect.gen(function* () {
        const { a, b, c } = yield* tcpTrio
        const owner = yield* startKv(b)
        const other = yield* startKv(c)
        yield* b.run(GlobalRegistry.register("held", owner))
        const taken = yield* Effect.flip(c.run(GlobalRegistry.transfer("held", other, other)))
        assert.strictEqual(taken._tag, "NameTaken")
        const dead = yield* startKv(c)
        yield* c.run(GenServer.stop(dead))
        const noProcess = yield* Effect.flip(c.run(GlobalRegistry.transfer("held", owner, dead)))
        assert.strictEqual(noProcess._tag, "NoProcess")
        // A pid of another node is checked by the arbiter when it is the arbiter's own.
        const deadOnA = yield* startKv(a)
        yield* a.run(Process.kill(deadOnA))
        yield* a.run(Process.awaitExit(deadOnA))
        const remoteDead = yield* Effect.flip(c.run(GlobalRegistry.transfer("held", owner, deadOnA)))
        assert.strictEqual(remoteDead._tag, "NoProcess")
        assert.strictEqual(String(a.registry.whereisUnsafe("held")), String(owner))
        // Nobody holds "free": a transfer registers it.
        yield* b.run(GlobalRegistry.transfer("free", owner, other))
        yield* awaitOwner([a, b, c], "free", String(other))
      })
  )
})
