import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Effect } from "effect"
import { encodeFrames, FrameDecoder, headerBytes } from "../../src/Transport/Framing.ts"
import { BusyPoll } from "../../src/Transport/internal/busyPoll.ts"
import { FragmentQueue, isFragment, Reassembler } from "../../src/Transport/internal/fragments.ts"
import { encodeKeepingLargeBinaries, largeBinaryBytes } from "../../src/Transport/internal/largeBinaries.ts"
import { SocketConn } from "../../src/Transport/internal/socketConn.ts"
import * as Codec from "../../src/Transport/Codec.ts"
import * as Timers from "../../src/internal/timers.ts"

/** A message whose bytes say which message and offset they are (so misplaced bytes show). */
const message = (id: number, size: number) => {
  const bytes = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) bytes[i] = (id * 31 + i) & 0xff
  return bytes
}

/** Drains a queue into fragment bodies (length prefix removed), in the order they would be written. */
const drain = (queue: FragmentQueue) => {
  const bodies: Array<Buffer> = []
  for (let frame = queue.nextFrame(); frame !== undefined; frame = queue.nextFrame()) {
    assert.strictEqual(frame.readUInt32BE(0), frame.length - headerBytes)
    bodies.push(frame.subarray(headerBytes))
  }
  return bodies
}

const reassembler = (limit = 1 << 30) => {
  const messages: Array<Buffer> = []
  const dropped: Array<[number, number]> = []
  const errors: Array<string> = []
  const r = new Reassembler(
    limit,
    (body) => messages.push(body),
    (size, max) => dropped.push([size, max]),
    (detail) => errors.push(detail)
  )
  return { r, messages, dropped, errors }
}

describe("Fragments", () => {
  it("a slab whose fragments are all written is cut again, and the messages still come back whole", () => {
    // Fragments of 64 KiB: 16 to a 1 MiB slab; 4 MiB of messages need only a few slabs, reused.
    const queue = new FragmentQueue(64 * 1024)
    const sizes = [1_500_000, 2_000_000, 700_000]
    sizes.forEach((size, i) => queue.add(message(i, size), () => {}))
    const { r, messages, errors } = reassembler()
    const slabs = new Set<ArrayBufferLike>()
    for (let frame = queue.nextFrame(); frame !== undefined; frame = queue.nextFrame()) {
      slabs.add(frame.buffer)
      // The socket is done with it: the reassembler copied it.
      r.push(frame.subarray(headerBytes))
      queue.written(frame)
    }
    assert.deepStrictEqual(errors, [])
    // Interleaved, the messages complete in another order than they were queued.
    assert.strictEqual(messages.length, sizes.length)
    sizes.forEach((size, i) => assert.isTrue(messages.find((m) => m.length === size)?.equals(message(i, size))))
    assert.isAtMost(slabs.size, 2)
  })

  it("a slab with a fragment the socket has not written yet is never cut again", () => {
    const queue = new FragmentQueue(64 * 1024)
    queue.add(message(1, 3_000_000), () => {})
    const first = queue.nextFrame()!
    const kept = Buffer.from(first)
    const slabs = new Set<ArrayBufferLike>([first.buffer])
    for (let frame = queue.nextFrame(); frame !== undefined; frame = queue.nextFrame()) {
      slabs.add(frame.buffer)
      queue.written(frame)
    }
    // The first slab waited for its first fragment: the other fragments came from fresh slabs.
    assert.isTrue(first.equals(kept))
    assert.isAtLeast(slabs.size, 2)
  })

  it("a message comes back whole, in order, whatever its size relative to the fragment size", () =>
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 700 }), (size, fragmentBytes) => {
        const queue = new FragmentQueue(fragmentBytes)
        const body = message(1, size)
        let sent = 0
        queue.add(body, (ok) => (sent += ok ? 1 : 100))
        const fragments = drain(queue)
        assert.strictEqual(fragments.length, Math.ceil(size / fragmentBytes))
        assert.strictEqual(sent, 1)
        assert.strictEqual(queue.queuedBytes, 0)
        const { r, messages, errors } = reassembler()
        for (const fragment of fragments) {
          assert.isTrue(isFragment(fragment))
          r.push(fragment)
        }
        assert.deepStrictEqual(errors, [])
        assert.strictEqual(messages.length, 1)
        assert.isTrue(messages[0]!.equals(body))
        assert.strictEqual(r.partialMessages, 0)
        assert.strictEqual(r.partialBytes, 0)
      })
    ))

  it("several large messages interleave fragment by fragment and each is rebuilt exactly", () => {
    const queue = new FragmentQueue(100)
    const bodies = [message(1, 1000), message(2, 250), message(3, 730), message(4, 101), message(5, 999)]
    const completed: Array<number> = []
    bodies.forEach((body, i) => queue.add(body, (ok) => ok && completed.push(i + 1)))
    const fragments = drain(queue)
    // Round robin over the first four: message 1's second fragment comes after the first of 2, 3 and 4.
    const ids = fragments.map((fragment) => fragment.readUInt32BE(2))
    assert.deepStrictEqual(ids.slice(0, 5), [1, 2, 3, 4, 1])
    assert.isFalse(ids.slice(0, 4).includes(5))
    // The short ones finish first; the fifth starts once a slot is free and is not starved.
    assert.deepStrictEqual(completed.slice(0, 2), [4, 2])
    assert.sameMembers(completed, [1, 2, 3, 4, 5])
    const { r, messages, errors } = reassembler()
    for (const fragment of fragments) r.push(fragment)
    assert.deepStrictEqual(errors, [])
    assert.sameDeepMembers(
      messages.map((m) => m.toString("hex")),
      bodies.map((b) => b.toString("hex"))
    )
  })

  it("a message over the receiver's limit is dropped without being buffered; the next one arrives", () => {
    const queue = new FragmentQueue(64)
    queue.add(message(1, 1000), () => {})
    queue.add(message(2, 300), () => {})
    const { r, messages, dropped, errors } = reassembler(500)
    let most = 0
    for (const fragment of drain(queue)) {
      r.push(fragment)
      most = Math.max(most, r.partialBytes)
    }
    assert.deepStrictEqual(dropped, [[1000, 500]])
    assert.deepStrictEqual(errors, [])
    assert.strictEqual(messages.length, 1)
    assert.isTrue(messages[0]!.equals(message(2, 300)))
    assert.isAtMost(most, 300)
  })

  it("clear frees the partial messages; a broken fragment stream is an error", () => {
    const queue = new FragmentQueue(100)
    queue.add(message(1, 1000), () => {})
    queue.add(message(2, 1000), () => {})
    const fragments = drain(queue)
    const { r, messages, errors } = reassembler()
    for (const fragment of fragments.slice(0, 6)) r.push(fragment)
    assert.strictEqual(r.partialMessages, 2)
    assert.strictEqual(r.partialBytes, 600)
    r.clear()
    assert.strictEqual(r.partialMessages, 0)
    assert.strictEqual(r.partialBytes, 0)
    // A continuation of a message it no longer knows breaks the stream.
    r.push(fragments[6]!)
    assert.strictEqual(messages.length, 0)
    assert.match(errors[0]!, /fragment of unknown message/)
    r.push(fragments[0]!)
    assert.strictEqual(errors.length, 1)
  })

  it("clearing the sending queue reports every unsent message as not sent", () => {
    const queue = new FragmentQueue(10)
    const outcomes: Array<boolean> = []
    queue.add(message(1, 100), (ok) => outcomes.push(ok))
    queue.add(message(2, 100), (ok) => outcomes.push(ok))
    queue.nextFrame()
    queue.clear()
    assert.deepStrictEqual(outcomes, [false, false])
    assert.isTrue(queue.isEmpty)
    assert.strictEqual(queue.queuedBytes, 0)
  })

  it("a decoder told to skip oversized frames reads past them without buffering them", () =>
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (rawCuts) => {
        const stream = encodeFrames([Buffer.from([1]), Buffer.alloc(5000, 9), Buffer.from([2, 3])], 5003)
        const frames: Array<string> = []
        const skipped: Array<number> = []
        const decoder = new FrameDecoder(
          100,
          (body) => frames.push(body.toString("hex")),
          () => assert.fail("no error expected"),
          (size) => skipped.push(size)
        )
        let offset = 0
        for (const cut of rawCuts.map((c) => c % stream.length).sort((a, b) => a - b)) {
          decoder.push(stream.subarray(offset, cut))
          offset = cut
        }
        decoder.push(stream.subarray(offset))
        assert.deepStrictEqual(frames, ["01", "0203"])
        assert.deepStrictEqual(skipped, [5000])
      })
    ))

  it.live("a connection closed in the middle of a large message frees its partial buffer", () =>
    Effect.gen(function* () {
      const timers = yield* Timers.current
      const { server, client, close } = yield* Effect.promise(() => socketPair())
      yield* Effect.addFinalizer(() => Effect.sync(close))
      const receiving = new SocketConn(server, 1 << 24, new BusyPoll(0), timers)
      const frames: Array<Uint8Array> = []
      let closed = false
      receiving.handlers = {
        onFrame: (body) => frames.push(body),
        onFragment: () => {},
        onFramingError: (detail) => assert.fail(detail),
        onOversized: () => {},
        onClose: () => (closed = true)
      }
      receiving.opened({ peerFragmentBytes: 64 * 1024 })
      const internals = receiving as unknown as { reassembler: Reassembler }
      // The peer sends the first ten fragments of an 8 MiB message, then its connection drops.
      const queue = new FragmentQueue(64 * 1024)
      queue.add(message(1, 8 * 1024 * 1024), () => {})
      const arrived = new Promise<void>((resolve) =>
        server.on("data", () => internals.reassembler.partialBytes === 10 * 64 * 1024 && resolve())
      )
      for (let i = 0; i < 10; i++) client.write(queue.nextFrame()!)
      yield* Effect.promise(() => arrived).pipe(Effect.timeout(5000))
      assert.strictEqual(internals.reassembler.partialMessages, 1)
      const serverClosed = new Promise<void>((resolve) => server.once("close", () => resolve()))
      client.destroy()
      yield* Effect.promise(() => serverClosed).pipe(Effect.timeout(5000))
      assert.isTrue(closed)
      assert.strictEqual(frames.length, 0)
      assert.strictEqual(internals.reassembler.partialMessages, 0)
      assert.strictEqual(internals.reassembler.partialBytes, 0)
    })
  )

  it.live("a large message still queued when its connection closes is reported as not sent", () =>
    Effect.gen(function* () {
      const timers = yield* Timers.current
      const { server, client, close } = yield* Effect.promise(() => socketPair())
      yield* Effect.addFinalizer(() => Effect.sync(close))
      server.pause() // the peer reads nothing: fragments back up
      const sending = new SocketConn(client, 1 << 24, new BusyPoll(0), timers)
      sending.opened({ peerFragmentBytes: 64 * 1024 })
      const sent = new Promise<boolean>((resolve) => sending.writeFragmented(message(1, 64 * 1024 * 1024), resolve))
      // Only what fits under the low-water mark is handed to the socket; a small frame still goes first.
      yield* Effect.promise(() => new Promise<void>((resolve) => queueMicrotask(resolve)))
      assert.isAbove(sending.fragmentedBytes(), 60 * 1024 * 1024)
      assert.isBelow(sending.bufferedBytes(), 1024 * 1024)
      sending.destroy()
      assert.isFalse(yield* Effect.promise(() => sent).pipe(Effect.timeout(5000)))
      assert.strictEqual(sending.fragmentedBytes(), 0)
    })
  )
})

/** A connected pair of TCP sockets on loopback. */
const socketPair = () =>
  new Promise<{ server: Net.Socket; client: Net.Socket; close: () => void }>((resolve) => {
    const listener = Net.createServer((server) => {
      resolve({
        server,
        client,
        close: () => {
          server.destroy()
          client.destroy()
          listener.close()
        }
      })
    })
    let client: Net.Socket
    listener.listen(0, "127.0.0.1", () => {
      client = Net.connect((listener.address() as Net.AddressInfo).port, "127.0.0.1")
    })
  })

describe("large binaries", () => {
  const codec = Codec.make()
  it("are encoded as segments whose bytes are exactly the MessagePack encoding, without being copied", () => {
    const big = new Uint8Array(largeBinaryBytes + 5).fill(1)
    const other = Buffer.alloc(2 * largeBinaryBytes, 2)
    const value = ["chan", ["C", 1, "x", { data: big, list: [1, other, "s"], small: new Uint8Array(3) }, null]]
    const body = encodeKeepingLargeBinaries(value, codec.encode)
    assert.isFalse(body instanceof Uint8Array)
    if (body instanceof Uint8Array) return
    assert.isTrue(body.parts.includes(big))
    assert.isTrue(body.parts.includes(other))
    const bytes = Buffer.concat(body.parts as Array<Uint8Array>)
    assert.strictEqual(bytes.length, body.length)
    const decoded = codec.decode(bytes) as typeof value
    assert.deepStrictEqual(codec.decode(codec.encode(value)), decoded)
    // Fragments cut from the segments rebuild the same bytes.
    const queue = new FragmentQueue(100_000)
    queue.add(body, () => {})
    const { r, messages } = reassembler()
    for (const fragment of drain(queue)) r.push(fragment)
    assert.isTrue(messages[0]!.equals(bytes))
  })

  it("a value without large binaries is encoded as usual", () => {
    const value = ["chan", { data: new Uint8Array(1000), text: "x".repeat(2 * largeBinaryBytes) }]
    const body = encodeKeepingLargeBinaries(value, codec.encode)
    assert.isTrue(body instanceof Uint8Array)
  })
})
