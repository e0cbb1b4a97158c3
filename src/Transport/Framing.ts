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
 * The largest frame (header included) that a {@link FrameDecoder} assembles in its reused buffer
 * when `transient` allows it: 1 MiB plus room for a header.
 *
 * @category decoding
 * @since 0.1.0
 */
export const transientFrameBytes = 1024 * 1024 + 64

const empty: Buffer = Buffer.alloc(0)

/** The byte at `index` of the chunks taken together (there are at least `index + 1` bytes). */
const byteAt = (chunks: ReadonlyArray<Buffer>, index: number): number => {
  for (const chunk of chunks) {
    if (index < chunk.length) return chunk[index]!
    index -= chunk.length
  }
  return -1
}

/**
 * Splits a byte stream into frame bodies.
 *
 * `onFrame` is called for each complete body. A frame that announces a size above `maxFrameBytes`
 * is, by default, an error: `onError` is called once and the decoder ignores further input. Given
 * `onOversized`, such a frame is skipped instead (its bytes are read and discarded, never
 * buffered), `onOversized` is told its size, and decoding goes on with the next frame. A frame of
 * size zero is always an error. `maxFrameBytes` and `onOversized` may be changed between chunks
 * (a connection accepts only small frames until its handshake is done, then skips what is over
 * its limit).
 *
 * A frame split across chunks is copied into one buffer of its own (the bytes after it are not
 * copied). If `transient` says a body's first byte marks a frame that `onFrame` reads at once and
 * never keeps, that frame is copied into a buffer the decoder reuses instead (at most
 * {@link transientFrameBytes} long), so that a stream of such frames allocates nothing per frame.
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
  /**
   * Whether a frame whose body starts with this byte is only read during `onFrame` (its body may
   * then be a view of a buffer that is reused for the next frame); unset: no frame is.
   */
  transient: ((firstByte: number) => boolean) | undefined = undefined
  private scratch: Buffer | undefined
  private chunks: Array<Buffer> = []
  private buffered = 0
  private needed = headerBytes
  private skipping = 0
  private failed = false

  constructor(
    /** The largest frame body accepted; it may be changed between chunks, or by `onFrame` for the frames after. */
    public maxFrameBytes: number,
    private readonly onFrame: (body: Buffer) => void,
    private readonly onError: (message: string) => void,
    public onOversized: ((size: number) => void) | undefined = undefined
  ) {}

  /** Feeds received bytes. */
  push(chunk: Buffer): void {
    if (this.failed) return
    if (this.skipping > 0) {
      if (chunk.length <= this.skipping) {
        this.skipping -= chunk.length
        return
      }
      chunk = chunk.subarray(this.skipping)
      this.skipping = 0
    }
    if (this.chunks.length > 0) {
      this.chunks.push(chunk)
      this.buffered += chunk.length
      if (this.buffered < this.needed) return
      if (this.needed > headerBytes && this.needed - headerBytes <= this.maxFrameBytes) {
        chunk = this.assemble(this.needed)
        if (this.failed) return
        this.needed = headerBytes
      } else {
        chunk = Buffer.concat(this.chunks, this.buffered)
        this.chunks = []
        this.buffered = 0
      }
    }
    let offset = 0
    const length = chunk.length
    while (length - offset >= headerBytes) {
      const size = chunk.readUInt32BE(offset)
      if (size > this.maxFrameBytes || size === 0) {
        const onOversized = this.onOversized
        if (size === 0 || onOversized === undefined) {
          this.failed = true
          this.chunks = []
          this.onError(
            size === 0 ? "empty frame" : `frame of ${size} bytes exceeds the maximum of ${this.maxFrameBytes} bytes`
          )
          return
        }
        onOversized(size)
        if (this.failed) return
        const available = length - offset - headerBytes
        if (available < size) {
          this.skipping = size - available
          this.needed = headerBytes
          return
        }
        offset += headerBytes + size
        continue
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

  /**
   * Copies the frame of `frameBytes` bytes (header included) that the buffered chunks begin with
   * into one buffer, hands its body to `onFrame`, and returns the bytes after it (the rest of the
   * last chunk).
   */
  private assemble(frameBytes: number): Buffer {
    const chunks = this.chunks
    this.chunks = []
    this.buffered = 0
    const target =
      frameBytes <= transientFrameBytes && this.transient?.(byteAt(chunks, headerBytes)) === true
        ? (this.scratch =
            this.scratch !== undefined && this.scratch.length >= frameBytes
              ? this.scratch
              : Buffer.allocUnsafe(Math.max(frameBytes, this.scratch?.length ?? 0)))
        : Buffer.allocUnsafe(frameBytes)
    let filled = 0
    let rest: Buffer = empty
    for (const chunk of chunks) {
      const take = Math.min(chunk.length, frameBytes - filled)
      chunk.copy(target, filled, 0, take)
      filled += take
      if (take < chunk.length) {
        rest = chunk.subarray(take)
        break
      }
    }
    this.onFrame(target.subarray(headerBytes, frameBytes))
    return rest
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
