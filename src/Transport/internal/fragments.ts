/**
 * Fragmentation of large messages on a link, after Erlang's fragmented distribution messages
 * (OTP 22): a message larger than the fragment size travels as a run of fragment frames, and the
 * fragments of several messages interleave with each other and with whole frames, so that a big
 * message does not hold up heartbeats and small frames behind it.
 *
 * A fragment is an ordinary length-prefixed frame whose body starts with the byte 0xc1, which
 * MessagePack never uses (so no whole frame can start with it):
 *
 * ```text
 * first fragment:        0xc1  0x01  id:u32  total:u32  bytes...
 * continuation fragment: 0xc1  0x02  id:u32  bytes...
 * ```
 *
 * `id` numbers the messages in fragments on one connection and direction; `total` is the size of
 * the whole message (the frame body it would have been), which the receiver checks against its
 * limit before it buffers anything. Erlang counts fragments down to 1 in each header; here the
 * receiver knows the message is complete when it holds `total` bytes. Fragments of one message
 * arrive in order (one TCP stream); fragments of different messages may interleave freely.
 *
 * Peers announce in the handshake whether they reassemble fragments; a peer that does not (an
 * older node) only ever gets whole frames.
 *
 * @internal
 */
import { headerBytes } from "../Framing.ts"
import type { Segments } from "./largeBinaries.ts"

/** First byte of a fragment body: a MessagePack code that no MessagePack value starts with. */
export const fragmentMarker = 0xc1
const firstKind = 0x01
const continuationKind = 0x02
const firstHeaderBytes = 10
const continuationHeaderBytes = 6

/** Size of the data in one fragment (the last one of a message may be shorter): 64 KiB. */
export const defaultFragmentBytes = 64 * 1024

/** Whether a frame body is a fragment (a whole frame never starts with 0xc1). */
export const isFragment = (body: Uint8Array): boolean => body.length > 0 && body[0] === fragmentMarker

/** How many messages a sender interleaves at once; later ones wait their turn in order. */
const defaultMaxInterleaved = 4

/** How many partial messages a receiver holds at once before it calls the stream broken. */
export const maxPartialMessages = 64

interface Outgoing {
  readonly id: number
  readonly parts: ReadonlyArray<Uint8Array>
  readonly length: number
  /** Bytes taken so far, and where the next one is: in `parts[part]` at `partOffset`. */
  offset: number
  part: number
  partOffset: number
  readonly sent: (ok: boolean) => void
}

/**
 * The sending side: large messages waiting to go out as fragments. `nextFrame` takes one fragment
 * at a time, round robin over the first few messages, so that several large messages progress
 * together and none waits for all the others.
 */
export class FragmentQueue {
  private readonly queue: Array<Outgoing> = []
  private turn = 0
  private nextId = 1
  private bytes = 0

  constructor(
    /** Data bytes per fragment. */
    readonly fragmentBytes: number = defaultFragmentBytes,
    private readonly maxInterleaved: number = defaultMaxInterleaved
  ) {}

  /** Queues a message; `sent(true)` is called once its last fragment is taken, `sent(false)` if cleared first. */
  add(body: Uint8Array | Segments, sent: (ok: boolean) => void): void {
    const id = this.nextId
    this.nextId = this.nextId === 0xffffffff ? 1 : this.nextId + 1
    const parts = body instanceof Uint8Array ? [body] : body.parts
    this.queue.push({ id, parts, length: body.length, offset: 0, part: 0, partOffset: 0, sent })
    this.bytes += body.length
  }

  /** Message bytes still to send. */
  get queuedBytes(): number {
    return this.bytes
  }

  get isEmpty(): boolean {
    return this.queue.length === 0
  }

  /** The next fragment as a whole wire frame (length prefix included), or undefined if none is queued. */
  nextFrame(): Buffer | undefined {
    const active = Math.min(this.queue.length, this.maxInterleaved)
    if (active === 0) return undefined
    if (this.turn >= active) this.turn = 0
    const index = this.turn
    const message = this.queue[index]!
    const first = message.offset === 0
    const header = first ? firstHeaderBytes : continuationHeaderBytes
    const size = Math.min(this.fragmentBytes, message.length - message.offset)
    const frame = Buffer.allocUnsafe(headerBytes + header + size)
    frame.writeUInt32BE(header + size, 0)
    frame[headerBytes] = fragmentMarker
    frame[headerBytes + 1] = first ? firstKind : continuationKind
    frame.writeUInt32BE(message.id, headerBytes + 2)
    if (first) frame.writeUInt32BE(message.length, headerBytes + 6)
    let at = headerBytes + header
    const end = at + size
    while (at < end) {
      const part = message.parts[message.part]!
      const take = Math.min(end - at, part.length - message.partOffset)
      frame.set(part.subarray(message.partOffset, message.partOffset + take), at)
      at += take
      message.partOffset += take
      if (message.partOffset === part.length) {
        message.part++
        message.partOffset = 0
      }
    }
    message.offset += size
    this.bytes -= size
    if (message.offset === message.length) {
      this.queue.splice(index, 1)
      // The message after it moves into this slot and takes the next turn.
      message.sent(true)
    } else {
      this.turn = index + 1
    }
    return frame
  }

  /** Drops every queued message (the connection closed); each one's `sent(false)` is called. */
  clear(): void {
    const dropped = this.queue.splice(0)
    this.bytes = 0
    for (const message of dropped) message.sent(false)
  }
}

interface Incoming {
  /** The whole message, filled as fragments arrive; undefined while it is being dropped. */
  readonly buffer: Buffer | undefined
  readonly total: number
  received: number
}

/**
 * The receiving side: rebuilds messages from their fragments. A message above `maxMessageBytes` is
 * announced by its first fragment and dropped without buffering any of it (`onDropped`); a
 * fragment that breaks the format (unknown id, data beyond the announced size, too many partial
 * messages) is an error of the stream (`onError`), after which nothing more is accepted.
 */
export class Reassembler {
  private readonly partial = new Map<number, Incoming>()
  private held = 0
  private failed = false

  constructor(
    public maxMessageBytes: number,
    private readonly onMessage: (body: Buffer) => void,
    private readonly onDropped: (size: number, limit: number) => void,
    private readonly onError: (detail: string) => void
  ) {}

  /** Bytes held in partial messages. */
  get partialBytes(): number {
    return this.held
  }

  /** Messages started and not complete (including those being dropped). */
  get partialMessages(): number {
    return this.partial.size
  }

  /** Handles one fragment body (starting with the marker). */
  push(fragment: Uint8Array): void {
    if (this.failed) return
    if (fragment.length < continuationHeaderBytes) return this.fail("truncated fragment header")
    const view = Buffer.from(fragment.buffer, fragment.byteOffset, fragment.length)
    const kind = view[1]
    const id = view.readUInt32BE(2)
    if (kind === firstKind) {
      if (view.length < firstHeaderBytes) return this.fail("truncated fragment header")
      if (this.partial.has(id)) return this.fail(`fragmented message ${id} started twice`)
      if (this.partial.size >= maxPartialMessages) {
        return this.fail(`more than ${maxPartialMessages} fragmented messages at once`)
      }
      const total = view.readUInt32BE(6)
      if (total === 0) return this.fail("fragmented message of 0 bytes")
      const over = total > this.maxMessageBytes
      const entry: Incoming = { buffer: over ? undefined : Buffer.allocUnsafe(total), total, received: 0 }
      this.partial.set(id, entry)
      if (over) this.onDropped(total, this.maxMessageBytes)
      return this.append(id, entry, view, firstHeaderBytes)
    }
    if (kind !== continuationKind) return this.fail(`unknown fragment kind ${kind}`)
    const entry = this.partial.get(id)
    if (entry === undefined) return this.fail(`fragment of unknown message ${id}`)
    this.append(id, entry, view, continuationHeaderBytes)
  }

  private append(id: number, entry: Incoming, view: Buffer, from: number): void {
    const size = view.length - from
    if (entry.received + size > entry.total) {
      return this.fail(`fragmented message ${id} exceeds its announced ${entry.total} bytes`)
    }
    if (entry.buffer !== undefined) {
      view.copy(entry.buffer, entry.received, from)
      this.held += size
    }
    entry.received += size
    if (entry.received < entry.total) return
    this.partial.delete(id)
    if (entry.buffer === undefined) return
    this.held -= entry.total
    this.onMessage(entry.buffer)
  }

  private fail(detail: string): void {
    this.clear()
    this.failed = true
    this.onError(detail)
  }

  /** Frees every partial message (the connection closed). */
  clear(): void {
    this.partial.clear()
    this.held = 0
  }
}
