import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Channel from "../../src/Transport/Channel.ts"
import { blackholeProxy } from "../support/blackholeProxy.ts"
import type { LinkEvent } from "../../src/Transport/Transport.ts"
import { collect, isUp, linkEvents, tcpNode } from "../support/transportHarness.ts"

describe("another incarnation of a linked name", () => {
  it.live("is refused with duplicate_name while the linked node answers, and its link stays", () =>
    Effect.gen(function* () {
      // A long probe timeout (and handshakes long enough to outlast it).
      const patient = { handshakeTimeout: 20_000, incarnationProbeTimeout: 10_000 }
      const a = yield* tcpNode("a", undefined, patient)
      const b1 = yield* tcpNode("b")
      const b2 = yield* tcpNode("b", undefined, patient)
      yield* b1.connect(a.address)
      const started = Date.now()
      const error = yield* Effect.flip(b2.connect(a.address))
      const refusedAfterMs = Date.now() - started
      assert.strictEqual(error._tag === "HandshakeRejected" && error.reason, "duplicate_name")
      // The live link answers the probe at once: no waiting for the probe's timeout.
      assert.isBelow(refusedAfterMs, 3000, `refused after ${refusedAfterMs} ms`)
      yield* Effect.log(`a second live "b" was refused ${refusedAfterMs} ms after it dialed`)
      assert.deepStrictEqual(
        (yield* a.links).map((link) => link.node),
        [b1.local]
      )
    })
  )

  it.live("replaces a silent link after the probe's timeout: the old one goes down, then the new one up", () =>
    Effect.gen(function* () {
      const a = yield* tcpNode("a")
      const events = yield* linkEvents(a)
      const seen: Array<LinkEvent> = []
      yield* a.onLinkEvent((event) => seen.push(event))
      const proxy = yield* blackholeProxy(a.address)
      const b1 = yield* tcpNode("b")
      const b2 = yield* tcpNode("b", undefined, { incarnationProbeTimeout: 300 })
      yield* b1.connect({ host: "127.0.0.1", port: proxy.port })
      yield* events(isUp("b"))
      // b1's link goes silent, with no close either way (a crashed host, a partition).
      proxy.partition()
      const started = Date.now()
      const peer = yield* b2.connect(a.address)
      const acceptedAfterMs = Date.now() - started
      assert.deepStrictEqual(peer, a.local)
      // By the time the dial succeeded, the old link went down and then the new one came up.
      const [down, up] = seen.slice(1)
      assert.lengthOf(seen, 3)
      assert.deepStrictEqual(down?._tag === "LinkDown" && [down.node, down.reason], [b1.local, "connection_closed"])
      assert.match(down?._tag === "LinkDown" ? down.detail : "", /did not answer a probe within 500 ms/)
      assert.deepStrictEqual(up?._tag === "LinkUp" && up.node, b2.local)
      assert.deepStrictEqual(
        (yield* a.links).map((link) => link.node),
        [b2.local]
      )
      // a's probe timeout decides (the default, 500 ms: half of tcpNode's 1 s handshake), not b2's.
      assert.isAtLeast(acceptedAfterMs, 450, `accepted after ${acceptedAfterMs} ms`)
      assert.isBelow(acceptedAfterMs, 1500, `accepted after ${acceptedAfterMs} ms`)
      yield* Effect.log(`a silent link was replaced ${acceptedAfterMs} ms after the new incarnation dialed`)
    })
  )

  it.live(
    "when the surviving node dials the new incarnation, frames the new one sends while it is probed arrive once it is admitted",
    () =>
      Effect.gen(function* () {
        const Hello = Channel.make("test.hello", Schema.String)
        const a = yield* tcpNode("a")
        const events = yield* linkEvents(a)
        const proxy = yield* blackholeProxy(a.address)
        const b1 = yield* tcpNode("b")
        const b2 = yield* tcpNode("b")
        yield* b1.connect({ host: "127.0.0.1", port: proxy.port })
        yield* events(isUp("b"))
        proxy.partition()
        // b2 accepts a's connection and opens the link at once: it sends right away, while a is
        // still probing its silent link to b1.
        yield* b2.onLinkEvent((event) => {
          if (event._tag === "LinkUp") b2.sendUnsafe("a", Hello, "sent during the probe")
        })
        const received = yield* collect(a, Hello, 1)
        const peer = yield* a.connect(b2.address)
        assert.deepStrictEqual(peer, b2.local)
        assert.deepStrictEqual(yield* received, ["sent during the probe"])
        assert.deepStrictEqual(
          (yield* a.links).map((link) => link.node),
          [b2.local]
        )
      })
  )
})
