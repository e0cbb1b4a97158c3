import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Schema } from "effect"
import * as Channel from "../../src/Transport/Channel.ts"
import type { Transport } from "../../src/Transport/Transport.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import * as MemoryTransport from "../../src/Transport/MemoryTransport.ts"
import { tcpNode } from "../support/transportHarness.ts"

const Seq = Channel.make("test.dial-seq", Schema.Number)
const AT_LINK_UP = 20
const AFTER_CONNECT = 50

/**
 * Node `self` sends `AT_LINK_UP` numbered frames from its link-up listener (as the registry and
 * groups layers greet a peer) and records what it receives; `done` once all of the peer's arrived.
 */
const prepare = Effect.fnUntraced(function* (self: Transport["Service"], peer: string) {
  const received: Array<number> = []
  const done = yield* Deferred.make<void>()
  yield* self.register(Seq, (n) => {
    received.push(n)
    if (received.length === AT_LINK_UP + AFTER_CONNECT) Deferred.doneUnsafe(done, Effect.void)
  })
  yield* self.onLinkEvent((event) => {
    if (event._tag === "LinkUp" && event.node.name === peer) {
      for (let i = 0; i < AT_LINK_UP; i++) self.sendUnsafe(peer, Seq, i)
    }
  })
  return { received, done }
})

/** Both nodes dial each other at once, send at link up and after `connect`; every frame arrives, in order. */
const crossedDials = (a: Transport["Service"], b: Transport["Service"]) =>
  Effect.gen(function* () {
    const atA = yield* prepare(a, "b")
    const atB = yield* prepare(b, "a")
    yield* Effect.all([a.connect(b.address), b.connect(a.address)], { concurrency: 2 })
    for (let i = AT_LINK_UP; i < AT_LINK_UP + AFTER_CONNECT; i++) {
      yield* a.send("b", Seq, i)
      yield* b.send("a", Seq, i)
    }
    yield* Effect.timeout(Effect.all([Deferred.await(atA.done), Deferred.await(atB.done)]), 5000).pipe(
      Effect.catch(() => Effect.void)
    )
    const expected = Array.from({ length: AT_LINK_UP + AFTER_CONNECT }, (_, i) => i)
    assert.deepStrictEqual(atB.received, expected, "frames a sent, as b received them")
    assert.deepStrictEqual(atA.received, expected, "frames b sent, as a received them")
    assert.strictEqual((yield* a.links).length, 1)
    assert.strictEqual((yield* b.links).length, 1)
  })

describe("simultaneous dials", () => {
  it.live("over TCP, frames sent at link up and right after connect all arrive in order, over 10 trials", () =>
    Effect.gen(function* () {
      for (let trial = 0; trial < 10; trial++) {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const a = yield* tcpNode("a")
            const b = yield* tcpNode("b")
            yield* crossedDials(a, b)
          })
        )
      }
    })
  )

  it.live("over the in-memory network, the same holds", () =>
    Effect.gen(function* () {
      for (let trial = 0; trial < 10; trial++) {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const network = MemoryNetwork.make()
            const a = yield* MemoryTransport.make(network, { name: "a" })
            const b = yield* MemoryTransport.make(network, { name: "b" })
            yield* crossedDials(a, b)
          })
        )
      }
    })
  )
})
