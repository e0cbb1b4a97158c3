/**
 * Length-prefixed framing: every frame is a 4-byte big-endian length followed by that many bytes.
 *
 * The decoder hands out frame bodies as views into the received chunk (no copy) unless a frame
 * straddles chunks, in which case the pieces are joined once when the frame is complete.
 *
 * @since 0.1.0
 */

/**
 * Size of the length prefix in bytes.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-otp/wire"
 *
 * Framing.headerBytes // 4
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const headerBytes = 4

/**
 * The default maximum frame body size: 8 MiB (see `TransportTuning.maxFrameBytes`).
 *
 * @example
 * ```ts
 * import { Framing } from "effect-otp/wire"
 *
 * Framing.defaultMaxFrameBytes // 8388608
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultMaxFrameBytes = 8 * 1024 * 1024

/**
 * Splits a byte stream into frame bodies.
 *
 * `onFrame` is called for each complete body; `onError` once if a frame announces a size above
 * `maxFrameBytes` or zero, after which the decoder ignores further input.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-otp/wire"
 *
 * const decoder = new Framing.FrameDecoder(
 *   1024,
 *   (body) => console.log(body),
 *   (error) => console.error(error)
 * )
 * decoder.push(Framing.encodeFrames([new Uint8Array([1, 2, 3])], 3))
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export class FrameDecoder {
  private chunks: Array<Buffer> = []
  private buffered = 0
  private needed = headerBytes
  private failed = false

  constructor(
    /** The largest frame body accepted; it may be changed between chunks, or by `onFrame` for the frames after. */
    public maxFrameBytes: number,
    private readonly onFrame: (body: Buffer) => void,
    private readonly onError: (message: string) => void
  ) {}

  /** Feeds received bytes. */
  push(chunk: Buffer): void {
    if (this.failed) return
    if (this.chunks.length > 0) {
      this.chunks.push(chunk)
      this.buffered += chunk.length
      if (this.buffered < this.needed) return
      chunk = Buffer.concat(this.chunks, this.buffered)
      this.chunks = []
      this.buffered = 0
    }
    let offset = 0
    const length = chunk.length
    while (length - offset >= headerBytes) {
      const size = chunk.readUInt32BE(offset)
      if (size > this.maxFrameBytes || size === 0) {
        this.failed = true
        this.onError(
          size === 0 ? "empty frame" : `frame of ${size} bytes exceeds the maximum of ${this.maxFrameBytes} bytes`
        )
        return
      }
      const end = offset + headerBytes + size
      if (end > length) {
        this.needed = headerBytes + size
        break
      }
      this.onFrame(chunk.subarray(offset + headerBytes, end))
      if (this.failed) return
      offset = end
    }
    if (offset < length) {
      const rest = chunk.subarray(offset)
      this.chunks.push(rest)
      this.buffered = rest.length
      if (rest.length < headerBytes) this.needed = headerBytes
    } else {
      this.needed = headerBytes
    }
  }

  /** Stops decoding: later input is ignored. */
  stop(): void {
    this.failed = true
    this.chunks = []
  }
}

/**
 * Writes `bodies` (whose sizes add up to `totalBodyBytes`) as frames into one new buffer, ready for
 * a single socket write.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-otp/wire"
 *
 * const bytes = Framing.encodeFrames([new Uint8Array([1]), new Uint8Array([2, 3])], 3)
 * bytes.length // 11: two 4-byte headers and three bytes of bodies
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const encodeFrames = (bodies: ReadonlyArray<Uint8Array>, totalBodyBytes: number): Buffer => {
  const out = Buffer.allocUnsafe(totalBodyBytes + headerBytes * bodies.length)
  let offset = 0
  for (const body of bodies) {
    out.writeUInt32BE(body.length, offset)
    out.set(body, offset + headerBytes)
    offset += headerBytes + body.length
  }
  return out
}
