/**
 * Membership follows Effect's Clock: heartbeats, failure detection, reconnect backoff and
 * `awaitNodes` are driven by `TestClock.adjust`, with no real waiting. (The in-memory network
 * itself delivers frames on the event loop, which takes no test time.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import type { ClusterEvent } from "../../src/Cluster/ClusterEvent.ts"
import { backoff } from "../../src/Cluster/internal/reconnect.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import { awaitNodesUp, memoryClusterNode } from "../support/clusterHarness.ts"

/** Runs `effect` on the live clock (to wait for real events with a real deadline) inside a TestClock test. */
const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => TestClock.testClockWith((clock) => clock.withLive(effect))

const second = 1000

describe("Cluster on Effect's Clock", () => {
  it.effect("a stalled peer is declared down (heartbeat_timeout) after interval x threshold of test time", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 21 })
      const timing = { heartbeatInterval: "1 second", heartbeatMissThreshold: 3 } as const
      const a = yield* memoryClusterNode(network, { nodeName: "a", ...timing })
      // b judges slowly: only a's judgement of b is under test.
      const b = yield* memoryClusterNode(network, {
        nodeName: "b",
        seeds: ["a@a:0"],
        ...timing,
        heartbeatMissThreshold: 1_000
      })
      yield* live(awaitNodesUp(a, ["b"]))
      yield* live(awaitNodesUp(b, ["a"]))
      const clock = yield* Clock.Clock
      const down = yield* Deferred.make<Extract<ClusterEvent, { _tag: "NodeDown" }>>()
      const downAt: Array<number> = []
      yield* a.onEvent((event) => {
        if (event._tag !== "NodeDown") return
        downAt.push(clock.currentTimeMillisUnsafe())
        Deferred.doneUnsafe(down, Effect.succeed(event))
      })
      const stalledAt = yield* Clock.currentTimeMillis
      network.stall("b", "a")
      // Silent for exactly interval x threshold: not yet down (the limit is "more than").
      yield* TestClock.adjust(3 * second)
      assert.deepStrictEqual(downAt, [])
      assert.isTrue((yield* a.nodes).some((node) => node.id === "b"))
      // The detector looks every half interval: the next look cuts the link.
      yield* TestClock.adjust(second / 2)
      const event = yield* live(Effect.timeout(Deferred.await(down), 5_000))
      assert.strictEqual(event.reason, "heartbeat_timeout")
      assert.strictEqual(event.incarnation, b.local.incarnation)
      assert.deepStrictEqual(
        downAt.map((at) => at - stalledAt),
        [3.5 * second]
      )
      network.heal("b", "a")
    })
  )

  it.effect("reconnect delays double from the base delay, jittered within 20%, and are capped at the maximum", () =>
    Effect.gen(function* () {
      const attempts: Array<number> = []
      const fiber = yield* Effect.forkChild(
        Effect.retry(
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            attempts.push(now)
            return Effect.fail("refused")
          }),
          backoff(100, 1_000)
        )
      )
      yield* TestClock.adjust(10 * second)
      yield* Fiber.interrupt(fiber)
      const delays = attempts.slice(1).map((at, i) => at - attempts[i]!)
      assert.isAtLeast(delays.length, 8)
      delays.forEach((delay, n) => {
        const nominal = 100 * 2 ** n
        const low = Math.min(0.8 * nominal, 1_000) - 1e-6
        const high = Math.min(1.2 * nominal, 1_000) + 1e-6
        assert.isTrue(delay >= low && delay <= high, `retry ${n}: ${delay} ms, expected ${low}-${high} ms`)
      })
      assert.closeTo(delays.at(-1)!, 1_000, 1e-6)
    })
  )

  it.effect("awaitNodes fails with NodesNotUp naming the nodes still missing when its timeout passes", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 22 })
      // Heartbeats far apart: the 30 seconds of test time pass without any.
      const slow = { heartbeatInterval: "1 hour" } as const
      const a = yield* memoryClusterNode(network, { nodeName: "a", ...slow })
      yield* memoryClusterNode(network, { nodeName: "b", seeds: ["a@a:0"], ...slow })
      yield* live(awaitNodesUp(a, ["b"]))
      const waiting = yield* Effect.forkChild(
        Cluster.awaitNodes(["b", "c", "d"], { timeout: Duration.seconds(30) }).pipe(
          Effect.provideService(Cluster.Cluster, a)
        )
      )
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(waiting.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(waiting))
      assert.strictEqual(error._tag, "NodesNotUp")
      assert.deepStrictEqual(error.missing, ["c", "d"])
      assert.strictEqual(error.message, 'nodes "c", "d" not up within 30000 ms')
    })
  )
})
