import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Channel from "../../src/Transport/Channel.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import * as MemoryTransport from "../../src/Transport/MemoryTransport.ts"
import { collect, isDown, linkEvents, LogCapture } from "../support/transportHarness.ts"

const Seq = Channel.make("test.seq", Schema.Number)
const Blob = Channel.make("test.blob", Schema.Uint8Array)

const pair = (network: MemoryNetwork.MemoryNetwork, tuning: { highWaterMarkBytes?: number } = {}) =>
  Effect.gen(function* () {
    const a = yield* MemoryTransport.make(network, { name: "a", ...tuning })
    const b = yield* MemoryTransport.make(network, { name: "b" })
    return { a, b }
  })

describe("MemoryTransport", () => {
  it.live("frames flow in order between nodes on the same network", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair(MemoryNetwork.make())
      const received = yield* collect(b, Seq, 100)
      yield* a.connect({ host: "b", port: 0 })
      for (let i = 0; i < 100; i++) yield* a.send("b", Seq, i)
      assert.deepStrictEqual(
        yield* received,
        Array.from({ length: 100 }, (_, i) => i)
      )
    })
  )

  it.live("a partition silently loses frames and refuses dials until healed", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const { a, b } = yield* pair(network)
      const seen: Array<number> = []
      yield* b.register(Seq, (n) => seen.push(n))
      yield* a.connect({ host: "b", port: 0 })
      network.partition("a", "b")
      yield* a.send("b", Seq, 1)
      const c = yield* MemoryTransport.make(network, { name: "c" })
      network.partition("c", "b")
      const refused = yield* Effect.flip(c.connect({ host: "b", port: 0 }))
      assert.strictEqual(refused._tag, "ConnectFailed")
      network.heal("a", "b")
      const after = yield* collect(a, Channel.make("test.ack", Schema.Number), 1)
      yield* b.send("a", Channel.make("test.ack", Schema.Number), 2)
      yield* after
      yield* a.send("b", Seq, 3)
      yield* b.send("a", Channel.make("test.ack", Schema.Number), 4).pipe(Effect.ignore)
      assert.notInclude(seen, 1)
    })
  )

  it.live("drop, duplicate and delay faults apply per direction", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 5 })
      const { a, b } = yield* pair(network)
      yield* a.connect({ host: "b", port: 0 })
      network.faults("a", "b", { duplicate: 1 })
      const doubled = yield* collect(b, Seq, 6)
      for (let i = 0; i < 3; i++) yield* a.send("b", Seq, i)
      assert.deepStrictEqual(yield* doubled, [0, 0, 1, 1, 2, 2])
      const Late = Channel.make("test.late", Schema.Number)
      network.faults("b", "a", { delay: 80 })
      const late = yield* collect(a, Late, 1)
      const sentAt = Date.now()
      yield* b.send("a", Late, 1)
      yield* late
      assert.isAtLeast(Date.now() - sentAt, 75)
      const Lost = Channel.make("test.lost", Schema.Number)
      network.faults("a", "b", { drop: 1 })
      const lost: Array<number> = []
      yield* b.register(Lost, (n) => lost.push(n))
      yield* a.send("b", Lost, 1)
      network.faults("a", "b", {})
      const marker = yield* collect(b, Channel.make("test.marker", Schema.Number), 1)
      yield* a.send("b", Channel.make("test.marker", Schema.Number), 1)
      yield* marker
      assert.deepStrictEqual(lost, [])
    })
  )

  it.live("beyond the high-water mark sends suspend until the link drains", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const { a, b } = yield* pair(network, { highWaterMarkBytes: 4096 })
      const received = yield* collect(b, Blob, 6)
      yield* a.connect({ host: "b", port: 0 })
      network.stall("a", "b")
      // Sends complete at once while under the mark: 5 frames of ~1 KB take the link past 4 KiB.
      for (let i = 0; i < 5; i++) yield* a.send("b", Blob, new Uint8Array(1000))
      assert.isAbove(a.linkUnsafe("b")!.bufferedBytes, 4096)
      const blocked = yield* Effect.forkChild(a.send("b", Blob, new Uint8Array(1000)))
      yield* Effect.yieldNow
      assert.isUndefined(blocked.pollUnsafe())
      network.heal("a", "b")
      yield* Fiber.join(blocked).pipe(Effect.timeout(2000))
      assert.strictEqual((yield* received).length, 6)
    })
  )

  it.live("a send suspended by backpressure fails with NotConnected when the link goes down", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const { a } = yield* pair(network, { highWaterMarkBytes: 1024 })
      const events = yield* linkEvents(a)
      yield* a.connect({ host: "b", port: 0 })
      network.stall("a", "b")
      for (let i = 0; i < 2; i++) yield* a.send("b", Blob, new Uint8Array(1000))
      const blocked = yield* Effect.forkChild(Effect.flip(a.send("b", Blob, new Uint8Array(1000))))
      yield* Effect.yieldNow
      yield* a.disconnect("b", "heartbeat_timeout")
      yield* events(isDown("b"))
      const error = yield* Fiber.join(blocked).pipe(Effect.timeout(2000))
      assert.strictEqual(error._tag, "NotConnected")
    })
  )

  it.live("a send waiting for a connection to drain goes on with the connection that replaces it", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const a = yield* MemoryTransport.make(network, { name: "a" })
      const c = yield* MemoryTransport.make(network, { name: "c", highWaterMarkBytes: 1024 })
      const received = yield* collect(a, Blob, 3)
      // c dials a; c's frames to a are held, so a third send has to wait for room.
      yield* c.connect({ host: "a", port: 0 })
      network.stall("c", "a")
      for (let i = 0; i < 2; i++) yield* c.send("a", Blob, new Uint8Array(1000))
      const blocked = yield* Effect.forkChild(c.send("a", Blob, new Uint8Array(1000)), { startImmediately: true })
      assert.isUndefined(blocked.pollUnsafe())
      // a dials c while the first link is up: the smaller name's dial replaces c's connection.
      const redial = yield* Effect.forkChild(a.connect({ host: "c", port: 0 }), { startImmediately: true })
      yield* Effect.yieldNow
      network.heal("a", "c")
      yield* Fiber.join(redial).pipe(Effect.timeout(2000))
      yield* Fiber.join(blocked).pipe(Effect.timeout(2000))
      assert.lengthOf(yield* received, 3)
    })
  )

  it.live("a waiting send goes on once the link is back under its mark, though traffic never lets it empty", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const { a, b } = yield* pair(network, { highWaterMarkBytes: 4096 })
      yield* b.register(Blob, () => {})
      yield* a.connect({ host: "b", port: 0 })
      network.faults("a", "b", { delay: 50 })
      // Steady small traffic: 150 bytes every 5 ms, about 1.5 KB always in flight.
      yield* Effect.forkChild(
        Effect.forever(Effect.andThen(Effect.ignore(a.send("b", Blob, new Uint8Array(150))), Effect.sleep("5 millis")))
      )
      yield* a.send("b", Blob, new Uint8Array(6000))
      const started = Date.now()
      yield* a.send("b", Blob, new Uint8Array(100)).pipe(Effect.timeout(2000))
      assert.isBelow(Date.now() - started, 2000)
    })
  )

  it.live("link listeners run synchronously: a LinkDown listener sees the link already gone", () =>
    Effect.gen(function* () {
      const { a } = yield* pair(MemoryNetwork.make())
      const seen: Array<string> = []
      /** Events where the allocation-free isLinkedUnsafe disagreed with linkUnsafe. */
      const disagreements: Array<string> = []
      const listening = yield* Scope.make()
      yield* Scope.provide(
        a.onLinkEvent((event) => {
          const linked = a.linkUnsafe(event.node.name) !== undefined
          if (a.isLinkedUnsafe(event.node.name) !== linked) disagreements.push(event._tag)
          const sent = a.sendUnsafe(event.node.name, Seq, 1)
          seen.push(`${event._tag} ${event.node.name} linked=${linked} sent=${sent}`)
        }),
        listening
      )
      yield* a.connect({ host: "b", port: 0 })
      assert.deepStrictEqual(seen, ["LinkUp b linked=true sent=true"])
      yield* a.disconnect("b", "heartbeat_timeout")
      // Already told when disconnect returns, without yielding to any other fiber.
      assert.deepStrictEqual(seen, ["LinkUp b linked=true sent=true", "LinkDown b linked=false sent=false"])
      assert.deepStrictEqual(disagreements, [])
      yield* Scope.close(listening, Exit.void)
      yield* a.connect({ host: "b", port: 0 })
      assert.strictEqual(seen.length, 2, "a listener is removed with its scope")
    })
  )
})

describe("MemoryTransport: simultaneous dials", () => {
  it.live("frames sent while two connections race to be the link are all delivered", () =>
    Effect.gen(function* () {
      for (let round = 0; round < 20; round++) {
        const { a, b } = yield* pair(MemoryNetwork.make({ seed: round }))
        const seenByB: Array<number> = []
        const seenByA: Array<number> = []
        yield* b.register(Seq, (n) => seenByB.push(n))
        yield* a.register(Seq, (n) => seenByA.push(n))
        // Both dial at once; each sends as soon as its own dial reports the link up.
        const fromA = yield* Effect.forkChild(
          Effect.andThen(a.connect({ host: "b", port: 0 }), () =>
            Effect.forEach([1, 2, 3], (n) => a.send("b", Seq, n), { discard: true })
          ),
          { startImmediately: true }
        )
        const fromB = yield* Effect.forkChild(
          Effect.andThen(b.connect({ host: "a", port: 0 }), () =>
            Effect.forEach([1, 2, 3], (n) => b.send("a", Seq, n), { discard: true })
          ),
          { startImmediately: true }
        )
        yield* Fiber.join(fromA)
        yield* Fiber.join(fromB)
        // Round trips on the surviving link prove everything sent before has been handled.
        const ackB = yield* collect(a, Channel.make("test.ack", Schema.Number), 1)
        yield* b.send("a", Channel.make("test.ack", Schema.Number), 0)
        yield* ackB
        const ackA = yield* collect(b, Channel.make("test.ack2", Schema.Number), 1)
        yield* a.send("b", Channel.make("test.ack2", Schema.Number), 0)
        yield* ackA
        assert.deepStrictEqual([...seenByB].sort(), [1, 2, 3], `round ${round}: b got ${seenByB}`)
        assert.deepStrictEqual([...seenByA].sort(), [1, 2, 3], `round ${round}: a got ${seenByA}`)
      }
    }).pipe(Effect.scoped)
  )

  it.effect("a connection that never sends its Hello is closed after the handshake timeout of test time", () => {
    const logs = new LogCapture()
    return Effect.gen(function* () {
      const network = MemoryNetwork.make()
      yield* MemoryTransport.make(network, { name: "a", handshakeTimeout: "2 seconds" })
      // A raw connection to "a" that never speaks.
      const mute = network.dial("mute", "a")
      assert.notStrictEqual(typeof mute, "string")
      yield* TestClock.adjust("1999 millis")
      assert.isFalse(logs.lines.some((line) => line.includes("handshake timed out")))
      yield* TestClock.adjust("1 millis")
      const line = yield* TestClock.testClockWith((clock) => clock.withLive(logs.awaitLine(/handshake timed out/)))
      assert.strictEqual(line, "Warn: inbound connection memory:mute: handshake timed out after 2000 ms; closed")
    }).pipe(Effect.provide(logs.layer))
  })
})
