import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Schema, Scope } from "effect"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer, ProcessErrors, Protocol, RemoteName } from "../../src/index.ts"
import { awaitNodesUp } from "../support/clusterHarness.ts"
import { distNode, Kv, kv, KvSpec } from "../support/distHarness.ts"

const Gate = Protocol.make({ Pass: Protocol.call({ success: Schema.String }) })

/** A server whose call is answered only once `open` is completed; `entered` says it started. */
const gate = (entered: Deferred.Deferred<void>, open: Deferred.Deferred<void>) =>
  GenServer.behaviour(Gate)({
    init: () => Effect.succeed(0),
    handleCall: {
      Pass: (_, n) =>
        Deferred.succeed(entered, undefined).pipe(
          Effect.andThen(Deferred.await(open)),
          Effect.as(GenServer.reply("passed", n + 1))
        )
    }
  })

const Poll = Protocol.make({ Next: Protocol.call({ success: Schema.String }) })

/** A long-poll server: it holds every call (`noReply`) and never answers; `entered` says one arrived. */
const holder = (entered: Deferred.Deferred<void>) =>
  GenServer.behaviour(Poll)({
    init: () => Effect.succeed(0),
    handleCall: {
      Next: (_, n) => Deferred.succeed(entered, undefined).pipe(Effect.as(GenServer.noReply(n + 1)))
    }
  })

describe("a node that refuses new work (graceful shutdown)", () => {
  it.live(
    "answers calls it accepted, refuses new calls and spawns with NodeDown(stopping), and reports when served calls are done",
    () =>
      Effect.gen(function* () {
        const a = yield* distNode({ nodeName: "a" })
        const b = yield* distNode({ nodeName: "b", seeds: [a.seed] })
        yield* awaitNodesUp(a.cluster, ["b"])
        const entered = yield* Deferred.make<void>()
        const open = yield* Deferred.make<void>()
        yield* b.run(GenServer.start(gate(entered, open), undefined, { name: "gate" }))
        yield* b.run(GenServer.start(kv, 10, { name: "store" }))

        // A call in flight on b.
        const inFlight = yield* Effect.forkChild(
          a.run(GenServer.call(RemoteName.make("gate", "b"), Gate.Pass(), { timeout: 10_000 }))
        )
        yield* Deferred.await(entered).pipe(Effect.timeout(5000))
        assert.strictEqual(yield* b.distribution.servingCalls, 1)

        yield* b.run(Distribution.refuseNewWork)
        const drained = yield* Effect.forkChild(b.run(Distribution.awaitServedCalls))

        // New work from other nodes is refused at once, with a typed error naming the reason.
        const refused = yield* Effect.flip(a.run(GenServer.call(RemoteName.make("store", "b"), Kv.Whoami())))
        assert.instanceOf(refused, ProcessErrors.NodeDown)
        assert.strictEqual((refused as ProcessErrors.NodeDown).reason, "stopping")
        assert.strictEqual(refused.message, "node b is down (stopping)")
        const spawnRefused = yield* Effect.flip(a.run(Distribution.spawn("b", KvSpec, 1)))
        assert.strictEqual(spawnRefused._tag, "NodeDown")
        assert.strictEqual((spawnRefused as ProcessErrors.NodeDown).reason, "stopping")
        // Local work on b is not refused.
        assert.isString(yield* b.run(GenServer.call(RemoteName.make("store", "b"), Kv.Whoami())))

        // The call accepted before is still served; the drain ends with it.
        assert.isTrue(Option.isNone(yield* Fiber.await(drained).pipe(Effect.timeoutOption(50))))
        yield* Deferred.succeed(open, undefined)
        assert.strictEqual(yield* Fiber.join(inFlight), "passed")
        assert.isTrue(Exit.isSuccess(yield* Fiber.await(drained).pipe(Effect.timeout(5000))))
        assert.strictEqual(yield* b.distribution.servingCalls, 0)
        const stats = yield* a.distribution.stats
        assert.strictEqual(stats.remoteCall.pendingCalls, 0)
      })
  )

  it.live("awaitServedCalls succeeds at once when no call is being served", () =>
    Effect.gen(function* () {
      const a = yield* distNode({ nodeName: "a" })
      yield* a.run(Distribution.refuseNewWork)
      yield* a.run(Distribution.awaitServedCalls).pipe(Effect.timeout(1000))
    })
  )

  it.live("the drain does not wait for a held call whose caller has timed out", () =>
    Effect.gen(function* () {
      const a = yield* distNode({ nodeName: "a" })
      const b = yield* distNode({ nodeName: "b", seeds: [a.seed] })
      yield* awaitNodesUp(a.cluster, ["b"])
      const entered = yield* Deferred.make<void>()
      yield* b.run(GenServer.start(holder(entered), undefined, { name: "poll" }))

      const call = yield* Effect.forkChild(
        Effect.flip(a.run(GenServer.call(RemoteName.make("poll", "b"), Poll.Next(), { timeout: 300 })))
      )
      yield* Deferred.await(entered).pipe(Effect.timeout(5000))
      assert.strictEqual(yield* b.distribution.servingCalls, 1)
      yield* b.run(Distribution.refuseNewWork)
      const drained = yield* Effect.forkChild(b.run(Distribution.awaitServedCalls))

      // The caller gives up after 300 ms; the server still holds the call, but nobody waits for it.
      assert.instanceOf(yield* Fiber.join(call), GenServer.CallTimeout)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(drained).pipe(Effect.timeout(5000))))
      assert.strictEqual(yield* b.distribution.servingCalls, 0)
    })
  )

  it.live("the drain does not wait for a call whose caller's node went down", () =>
    Effect.gen(function* () {
      const b = yield* distNode({ nodeName: "b" })
      const aScope = yield* Scope.make()
      const a = yield* distNode({ nodeName: "a", seeds: [b.seed] }).pipe(Scope.provide(aScope))
      yield* awaitNodesUp(b.cluster, ["a"])
      const entered = yield* Deferred.make<void>()
      yield* b.run(GenServer.start(holder(entered), undefined, { name: "poll" }))

      // A caller that would wait a minute.
      yield* Effect.forkChild(
        Effect.exit(a.run(GenServer.call(RemoteName.make("poll", "b"), Poll.Next(), { timeout: 60_000 })))
      )
      yield* Deferred.await(entered).pipe(Effect.timeout(5000))
      assert.strictEqual(yield* b.distribution.servingCalls, 1)
      yield* b.run(Distribution.refuseNewWork)
      const drained = yield* Effect.forkChild(b.run(Distribution.awaitServedCalls))

      yield* Scope.close(aScope, Exit.void)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(drained).pipe(Effect.timeout(5000))))
      assert.strictEqual(yield* b.distribution.servingCalls, 0)
    })
  )
})
