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
