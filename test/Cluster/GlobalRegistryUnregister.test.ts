import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import * as GlobalRegistry from "../../src/Cluster/GlobalRegistry.ts"
import { GenServer } from "../../src/index.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import { kv } from "../support/distHarness.ts"
import { awaitOwner, awaitRegistryPeers, memoryGlobalNode, tcpTrio } from "../support/globalHarness.ts"

/**
 * `unregister` of a name held by one of the node's own processes releases it on that node at once
 * and has the arbiter pass the release on (no round trip); other names still go through the arbiter.
 */
describe("GlobalRegistry.unregister of a name held by a local process", () => {
  it.live("returns without the arbiter's answer; the arbiter and the others release it once they hear", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 81 })
      // Slow heartbeats: the stall below must not cut the link.
      const slow = { heartbeatInterval: 5_000 }
      const a = yield* memoryGlobalNode(network, { nodeName: "a", ...slow })
      const b = yield* memoryGlobalNode(network, { nodeName: "b", seeds: ["a@a:0"], ...slow })
      const c = yield* memoryGlobalNode(network, { nodeName: "c", seeds: ["a@a:0", "b@b:0"], ...slow })
      yield* awaitRegistryPeers([a, b, c])
      assert.strictEqual((yield* c.registry.stats).arbiter, "a")
      const pid = yield* c.run(GenServer.start(kv, 1))
      yield* c.run(GlobalRegistry.register("here", pid))
      yield* awaitOwner([a, b, c], "here", String(pid))
      // The arbiter hears nothing from c: unregister still returns, and c's replica has no owner.
      network.stall("c", "a")
      assert.isTrue(yield* c.run(GlobalRegistry.unregister("here")))
      assert.isUndefined(c.registry.whereisUnsafe("here"))
      assert.strictEqual(String(a.registry.whereisUnsafe("here")), String(pid), "a has not heard yet")
      assert.strictEqual(String(b.registry.whereisUnsafe("here")), String(pid), "b hears it from a")
      // A second unregister finds nothing here and asks the arbiter (held behind the release).
      const second = yield* Effect.forkChild(c.run(GlobalRegistry.unregister("here")), { startImmediately: true })
      network.heal("c", "a")
      yield* awaitOwner([a, b, c], "here", undefined)
      assert.isFalse(yield* Fiber.join(second))
      assert.strictEqual((yield* c.registry.stats).unregistrations, 1)
      // The name is free for anyone, and registering it again from c works at once.
      yield* c.run(GlobalRegistry.register("here", pid))
      yield* awaitOwner([a, b, c], "here", String(pid))
    })
  )

  it.live("a release the lost arbiter may not have passed on goes to the next arbiter", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 82 })
      const aScope = yield* Scope.make()
      const a = yield* Scope.provide(memoryGlobalNode(network, { nodeName: "a" }), aScope)
      const b = yield* memoryGlobalNode(network, { nodeName: "b", seeds: ["a@a:0"] })
      const c = yield* memoryGlobalNode(network, { nodeName: "c", seeds: ["a@a:0", "b@b:0"] })
      yield* awaitRegistryPeers([a, b, c])
      const pid = yield* c.run(GenServer.start(kv, 1))
      yield* c.run(GlobalRegistry.register("moving", pid))
      yield* awaitOwner([a, b, c], "moving", String(pid))
      // The release to a is held and a leaves: b (told of the name by a) must still hear of it.
      network.stall("c", "a")
      assert.isTrue(yield* c.run(GlobalRegistry.unregister("moving")))
      yield* Scope.close(aScope, Exit.void)
      yield* awaitOwner([b, c], "moving", undefined)
      assert.strictEqual((yield* c.registry.stats).arbiter, "b")
      network.heal("c", "a")
    })
  )

  it.live("register + unregister in a tight loop from the owner's node leaves every node agreeing", () =>
    Effect.gen(function* () {
      const { a, b, c } = yield* tcpTrio
      const pid = yield* c.run(GenServer.start(kv, 1))
      const other = yield* b.run(GenServer.start(kv, 2))
      for (let i = 0; i < 300; i++) {
        yield* c.run(GlobalRegistry.register("loop", pid))
        assert.isTrue(yield* c.run(GlobalRegistry.unregister("loop")))
        yield* c.run(GlobalRegistry.register(`loop-${i}`, pid))
        assert.isTrue(yield* c.run(GlobalRegistry.unregister(`loop-${i}`)))
      }
      yield* awaitOwner([a, b, c], "loop", undefined)
      // Released last: once every node has heard of it, none knows any name of the loop.
      yield* awaitOwner([a, b, c], "loop-299", undefined)
      for (const node of [a, b, c]) assert.deepStrictEqual(yield* node.run(GlobalRegistry.registeredNames), [])
      // Another node takes the name once it has heard of the release.
      yield* b.run(GlobalRegistry.register("loop", other))
      yield* awaitOwner([a, b, c], "loop", String(other))
      // A name held on another node is still unregistered by the arbiter, from any node.
      assert.isTrue(yield* c.run(GlobalRegistry.unregister("loop")))
      yield* awaitOwner([a, b, c], "loop", undefined)
    })
  )
})
