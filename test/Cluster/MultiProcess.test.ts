import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { childNode } from "../support/childNode.ts"
import type { ChildEvent } from "../support/childNode.ts"

const interval = 200
const threshold = 3
const up = (id: string) => (event: ChildEvent) => event._tag === "NodeUp" && event.id === id
const down = (id: string) => (event: ChildEvent) => event._tag === "NodeDown" && event.id === id

describe("Cluster across OS processes", () => {
  it.live(
    "three processes form a mesh; a stopped one times out, a killed one closes, a restarted one rejoins with a new incarnation",
    () =>
      Effect.gen(function* () {
        const a = yield* childNode("a", 0, [], interval)
        const seed = `a@127.0.0.1:${a.port}`
        const [b, c] = yield* Effect.all([childNode("b", 0, [seed], interval), childNode("c", 0, [seed], interval)], {
          concurrency: 2
        })
        yield* a.child.awaitEvent(up("b"), 10000, 0, "a sees b")
        yield* a.child.awaitEvent(up("c"), 10000, 0, "a sees c")
        yield* b.child.awaitEvent(up("c"), 10000, 0, "b sees c")
        yield* c.child.awaitEvent(up("b"), 10000, 0, "c sees b")

        // A silent peer: SIGSTOP freezes c without closing its sockets.
        const stoppedAt = Date.now()
        c.child.signal("SIGSTOP")
        const silent = yield* a.child.awaitEvent(down("c"), 10000, 0, "a sees c down")
        assert.strictEqual(silent.reason, "heartbeat_timeout")
        const detectedAfter = silent.at - stoppedAt
        const bound = interval * threshold + interval
        assert.isBelow(detectedAfter, bound + 1, `detected after ${detectedAfter} ms, bound ${bound} ms`)
        assert.isAtLeast(detectedAfter, interval * (threshold - 1))
        yield* Effect.promise(() => c.child.stop())

        // A crash: kill -9 resets b's connections at once.
        const bEvents = a.child.events.length
        const killedAt = Date.now()
        b.child.signal("SIGKILL")
        const crashed = yield* a.child.awaitEvent(down("b"), 10000, bEvents, "a sees b down")
        assert.strictEqual(crashed.reason, "connection_closed")
        assert.isBelow(crashed.at - killedAt, interval * threshold)
        yield* Effect.promise(() => b.child.exited)

        // Restarted on the same port: reconnected, with a new incarnation.
        const restarted = yield* childNode("b", b.port, [], interval)
        const rejoined = yield* a.child.awaitEvent(up("b"), 10000, bEvents, "a sees b again")
        assert.strictEqual(rejoined.incarnation, restarted.incarnation)
        assert.notStrictEqual(rejoined.incarnation, b.incarnation)
      }),
    60_000
  )
})
