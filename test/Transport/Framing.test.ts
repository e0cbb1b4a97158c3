import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { encodeFrames, FrameDecoder } from "../../src/Transport/Framing.ts"

const decodeAll = (stream: Buffer, cuts: ReadonlyArray<number>, max = 1 << 20) => {
  const frames: Array<string> = []
  const errors: Array<string> = []
  const decoder = new FrameDecoder(
    max,
    (body) => frames.push(Buffer.from(body).toString("hex")),
    (error) => errors.push(error)
  )
  let offset = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    decoder.push(stream.subarray(offset, cut))
    offset = cut
  }
  decoder.push(stream.subarray(offset))
  return { frames, errors }
}

describe("Framing", () => {
  it("frames survive any split of the byte stream into chunks", () =>
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (bodies, rawCuts) => {
          const stream = encodeFrames(
            bodies,
            bodies.reduce((n, body) => n + body.length, 0)
          )
          const cuts = rawCuts.map((cut) => (stream.length === 0 ? 0 : cut % stream.length))
          const { frames, errors } = decodeAll(stream, cuts)
          assert.deepStrictEqual(errors, [])
          assert.deepStrictEqual(
            frames,
            bodies.map((body) => Buffer.from(body).toString("hex"))
          )
        }
      )
    ))

  it("a frame announcing more than the maximum size is an error and stops decoding", () => {
    const stream = encodeFrames([new Uint8Array(10), new Uint8Array(100), new Uint8Array(5)], 115)
    const { frames, errors } = decodeAll(stream, [3, 20], 50)
    assert.strictEqual(frames.length, 1)
    assert.match(errors[0]!, /frame of 100 bytes exceeds the maximum of 50 bytes/)
    assert.strictEqual(errors.length, 1)
  })

  it("a zero-length frame is an error", () => {
    const { errors } = decodeAll(Buffer.from([0, 0, 0, 0]), [])
    assert.deepStrictEqual(errors, ["empty frame"])
  })
})

describe("Framing: frames split across chunks", () => {
  /** Frames whose bodies start with `first`, cut into chunks of `chunk` bytes. */
  const split = (bodies: ReadonlyArray<Buffer>, chunk: number) => {
    const stream = encodeFrames(
      bodies,
      bodies.reduce((n, body) => n + body.length, 0)
    )
    const chunks: Array<Buffer> = []
    for (let at = 0; at < stream.length; at += chunk) chunks.push(stream.subarray(at, at + chunk))
    return chunks
  }
  const body = (first: number, size: number, seed: number) => {
    const bytes = Buffer.allocUnsafe(size)
    for (let i = 0; i < size; i++) bytes[i] = (seed * 7 + i) & 0xff
    bytes[0] = first
    return bytes
  }

  it("transient frames are assembled in one reused buffer; other frames keep buffers of their own", () => {
    const bodies = [
      body(0xc1, 5000, 1),
      body(0x92, 5000, 2),
      body(0xc1, 3000, 3),
      body(0xc1, 5000, 4),
      body(0x92, 10, 5)
    ]
    const seen: Array<Buffer> = []
    const copies: Array<string> = []
    const decoder = new FrameDecoder(
      1 << 20,
      (frame) => {
        seen.push(frame)
        copies.push(Buffer.from(frame).toString("hex"))
      },
      (error) => assert.fail(error)
    )
    decoder.transient = (first) => first === 0xc1
    for (const chunk of split(bodies, 1000)) decoder.push(chunk)
    // Every frame arrived whole and in order while it was being handled.
    assert.deepStrictEqual(
      copies,
      bodies.map((b) => b.toString("hex"))
    )
    // The transient frames shared one buffer (the third one was shorter than the first).
    assert.strictEqual(seen[0]!.buffer, seen[2]!.buffer)
    assert.strictEqual(seen[0]!.buffer, seen[3]!.buffer)
    // A frame kept after its turn is intact when it is not transient, however many frames follow.
    assert.strictEqual(seen[1]!.toString("hex"), bodies[1]!.toString("hex"))
    assert.notStrictEqual(seen[1]!.buffer, seen[0]!.buffer)
  })

  it("the bytes after an assembled frame in its last chunk are decoded without copying the chunk", () => {
    const bodies = [body(0xc1, 2500, 1), body(0x01, 3, 2), body(0x02, 4, 3)]
    const frames: Array<string> = []
    const decoder = new FrameDecoder(
      1 << 20,
      (frame) => frames.push(Buffer.from(frame).toString("hex")),
      (error) => assert.fail(error)
    )
    decoder.transient = () => true
    // The first frame ends inside the third chunk, which also holds both small frames.
    for (const chunk of split(bodies, 1000)) decoder.push(chunk)
    assert.deepStrictEqual(
      frames,
      bodies.map((b) => b.toString("hex"))
    )
  })
})
