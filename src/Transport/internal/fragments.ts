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
 * first fragment of a message with out-of-band values:
 *                        0xc1  0x03  id:u32  total:u32  count:u8  (kind:u8  size:u32) x count  bytes...
 * ```
 *
 * A message with out-of-band values (kind 3, see `outOfBand.ts`; sent only to a peer that announced
 * `outOfBand` in its handshake) carries `count` values, each a binary (kind 1) or a UTF-8 string
 * (kind 2) of `size` bytes, in that order, then its skeleton (the rest of the `total` bytes). The
 * receiver copies each binary into its own buffer and decodes each string as its bytes arrive, so
 * that no step handles more than a fragment (a string is handed over as a rope of its pieces, see
 * {@link Rope}).
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
import { StringDecoder } from "node:string_decoder"
import { headerBytes } from "../Framing.ts"
import type { Segments } from "./largeBinaries.ts"
import {
  binaryPiece,
  isOutOfBand,
  maxOutOfBandValues,
  type OutOfBand,
  type Piece,
  pieceBytes,
  pairSafeEnd,
  textPiece
} from "./outOfBand.ts"

/** First byte of a fragment body: a MessagePack code that no MessagePack value starts with. */
export const fragmentMarker = 0xc1
const firstKind = 0x01
const continuationKind = 0x02
const outOfBandKind = 0x03
const firstHeaderBytes = 10
/** The fixed part of a kind-3 first fragment's header (before its value table). */
const outOfBandHeaderBytes = 11
const valueEntryBytes = 5
const continuationHeaderBytes = 6

/** Size of the data in one fragment (the last one of a message may be shorter): 64 KiB. */
export const defaultFragmentBytes = 64 * 1024

/** Whether a frame body is a fragment (a whole frame never starts with 0xc1). */
export const isFragment = (body: Uint8Array): boolean => body.length > 0 && body[0] === fragmentMarker

/**
 * Fragments are cut from slabs of this size (16 fragments of 64 KiB each), not allocated one by
 * one: a fresh 64 KiB buffer per fragment is an external allocation of its own, and 1,800 of them
 * for a 120 MB message made the garbage collector run far more often.
 */
const slabBytes = 1024 * 1024

/** Slabs kept for reuse once all their fragments are written (see `FragmentQueue.written`). */
const maxFreeSlabs = 4

/** A slab of fragment memory and how many of the frames cut from it the socket has written. */
interface Slab {
  readonly bytes: Buffer
  used: number
  cut: number
  written: number
  /** No further frame is cut from it. */
  full: boolean
}

/** How many messages a sender interleaves at once; later ones wait their turn in order. */
const defaultMaxInterleaved = 4

/** How many partial messages a receiver holds at once before it calls the stream broken. */
export const maxPartialMessages = 64

const encoder = new TextEncoder()

/**
 * Writes a sequence of pieces (binaries, and strings encoded to UTF-8 a slice at a time) into
 * fragments, in order.
 */
class PieceWriter {
  /** The piece being written, and the position in it: a byte offset, or a string's character index. */
  private piece = 0
  private at = 0

  constructor(private readonly pieces: ReadonlyArray<Piece>) {}

  /**
   * Writes at most `room` bytes at `offset` of `target`; returns how many it wrote. Fewer than
   * `room` (by at most 3) only when the next character of a string does not fit.
   */
  write(target: Uint8Array, offset: number, room: number): number {
    let written = 0
    while (written < room && this.piece < this.pieces.length) {
      const piece = this.pieces[this.piece]!
      if (piece instanceof Uint8Array) {
        const take = Math.min(room - written, piece.length - this.at)
        target.set(piece.subarray(this.at, this.at + take), offset + written)
        written += take
        this.at += take
        if (this.at === piece.length) this.next()
        continue
      }
      const text = piece.text
      const start = this.at
      // Each character takes at least one byte: `room - written` characters are enough to fill it.
      const end = pairSafeEnd(text, start, Math.min(text.length, start + room - written))
      const result = encoder.encodeInto(text.slice(start, end), target.subarray(offset + written, offset + room))
      written += result.written
      this.at += result.read
      if (this.at >= text.length) this.next()
      // The next character does not fit in what is left of this fragment.
      else if (result.read < end - start || result.read === 0) break
    }
    return written
  }

  private next(): void {
    this.piece++
    this.at = 0
  }
}

interface Outgoing {
  readonly id: number
  readonly length: number
  /** The first fragment's header after the marker, kind and id (total, and the value table). */
  readonly firstHeader: Buffer
  readonly kind: number
  readonly writer: PieceWriter
  /** Bytes taken so far. */
  offset: number
  readonly sent: (ok: boolean) => void
}

/** The header fields of a first fragment after its id: the total, and for kind 3 its value table. */
const firstHeaderOf = (body: Uint8Array | Segments | OutOfBand): Buffer => {
  if (!isOutOfBand(body)) {
    const header = Buffer.allocUnsafe(4)
    header.writeUInt32BE(body.length, 0)
    return header
  }
  const header = Buffer.allocUnsafe(5 + valueEntryBytes * body.pieces.length)
  header.writeUInt32BE(body.length, 0)
  header[4] = body.pieces.length
  body.pieces.forEach((piece, i) => {
    header[5 + i * valueEntryBytes] = piece instanceof Uint8Array ? binaryPiece : textPiece
    header.writeUInt32BE(pieceBytes(piece), 6 + i * valueEntryBytes)
  })
  return header
}

const piecesOf = (body: Uint8Array | Segments | OutOfBand): ReadonlyArray<Piece> =>
  body instanceof Uint8Array ? [body] : isOutOfBand(body) ? [...body.pieces, body.skeleton] : body.parts

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
  /** The slab fragments are being cut from. */
  private slab: Slab | undefined
  /** Slabs with frames the socket may still hold, by their memory. */
  private readonly slabs = new Map<ArrayBufferLike, Slab>()
  /** Slabs whose frames are all written, ready to be cut again. */
  private readonly freeSlabs: Array<Buffer> = []

  constructor(
    /** Data bytes per fragment. */
    readonly fragmentBytes: number = defaultFragmentBytes,
    private readonly maxInterleaved: number = defaultMaxInterleaved
  ) {}

  /** Queues a message; `sent(true)` is called once its last fragment is taken, `sent(false)` if cleared first. */
  add(body: Uint8Array | Segments | OutOfBand, sent: (ok: boolean) => void): void {
    const id = this.nextId
    this.nextId = this.nextId === 0xffffffff ? 1 : this.nextId + 1
    this.queue.push({
      id,
      length: body.length,
      firstHeader: firstHeaderOf(body),
      kind: isOutOfBand(body) ? outOfBandKind : firstKind,
      writer: new PieceWriter(piecesOf(body)),
      offset: 0,
      sent
    })
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
    const header = first ? 6 + message.firstHeader.length : continuationHeaderBytes
    const room = Math.min(this.fragmentBytes, message.length - message.offset)
    const frame = this.allocate(headerBytes + header + room)
    frame[headerBytes] = fragmentMarker
    frame[headerBytes + 1] = first ? message.kind : continuationKind
    frame.writeUInt32BE(message.id, headerBytes + 2)
    if (first) message.firstHeader.copy(frame, headerBytes + 6)
    const size = message.writer.write(frame, headerBytes + header, room)
    frame.writeUInt32BE(header + size, 0)
    message.offset += size
    this.bytes -= size
    if (message.offset >= message.length) {
      this.queue.splice(index, 1)
      // The message after it moves into this slot and takes the next turn.
      message.sent(true)
    } else {
      this.turn = index + 1
    }
    return size === room ? frame : frame.subarray(0, headerBytes + header + size)
  }

  /** `size` bytes for a fragment, from the current slab (a new or recycled one when it is full). */
  private allocate(size: number): Buffer {
    let slab = this.slab
    if (slab === undefined || slab.bytes.length - slab.used < size) {
      if (slab !== undefined) {
        slab.full = true
        this.recycleIfDone(slab)
      }
      const free = size <= slabBytes ? this.freeSlabs.pop() : undefined
      slab = { bytes: free ?? Buffer.allocUnsafe(Math.max(slabBytes, size)), used: 0, cut: 0, written: 0, full: false }
      this.slab = slab
      this.slabs.set(slab.bytes.buffer, slab)
    }
    const frame = slab.bytes.subarray(slab.used, slab.used + size)
    slab.used += size
    slab.cut++
    return frame
  }

  /**
   * The socket is done with `frame` (a frame from {@link nextFrame}; its write callback ran): once
   * every frame cut from a full slab is written, the slab is used again for later fragments. Without
   * these calls slabs are simply left to the garbage collector. Reusing them matters: each fresh slab
   * is external memory to V8, and 1 MiB of it per 16 fragments made V8 collect garbage (scavenges,
   * then full mark-compacts) every 64 MiB sent, pauses of tens of milliseconds each.
   */
  written(frame: Uint8Array): void {
    const slab = this.slabs.get(frame.buffer)
    if (slab === undefined) return
    slab.written++
    this.recycleIfDone(slab)
  }

  private recycleIfDone(slab: Slab): void {
    if (!slab.full || slab.written < slab.cut) return
    this.slabs.delete(slab.bytes.buffer)
    if (slab.bytes.length === slabBytes && this.freeSlabs.length < maxFreeSlabs) this.freeSlabs.push(slab.bytes)
  }

  /** Drops every queued message (the connection closed); each one's `sent(false)` is called. */
  clear(): void {
    const dropped = this.queue.splice(0)
    this.bytes = 0
    this.slab = undefined
    this.slabs.clear()
    this.freeSlabs.length = 0
    for (const message of dropped) message.sent(false)
  }
}

/**
 * A string built from pieces without copying them: each `+` of two long strings makes a V8
 * ConsString (a pair of references, O(1)), and pieces are paired up as they come (like the carries
 * of a binary counter), so the result is a balanced tree of depth log2(pieces). The flat copy that a
 * join would make at once (about 1 ms per MB, in the receive path of the link) is made by V8 on the
 * first read of the string's characters instead, in the code that reads them; a string that is only
 * stored, measured or dropped is never copied.
 */
export class Rope {
  /** Partial ropes, each of `counts[i]` pieces; counts are powers of two, decreasing. */
  private readonly parts: Array<string> = []
  private readonly counts: Array<number> = []

  add(piece: string): void {
    if (piece.length === 0) return
    let text = piece
    let count = 1
    while (this.counts.length > 0 && this.counts[this.counts.length - 1] === count) {
      text = this.parts.pop()! + text
      count += this.counts.pop()!
    }
    this.parts.push(text)
    this.counts.push(count)
  }

  /** The whole string (the rope is empty afterwards). */
  end(): string {
    let text = ""
    while (this.parts.length > 0) {
      this.counts.pop()
      text = this.parts.pop()! + text
    }
    return text
  }
}

/** A value of a kind-3 message being received: a binary filled in place, or a string decoded as it comes. */
interface IncomingValue {
  readonly kind: number
  readonly size: number
  filled: number
  readonly buffer: Buffer | undefined
  readonly text: IncomingText | undefined
}

/** UTF-8 bytes of a string decoded at once: pieces of this size are large objects to V8. */
const textBatchBytes = 256 * 1024

/**
 * A string being received: its UTF-8 bytes are gathered into batches of {@link textBatchBytes}, each
 * decoded into one piece of a {@link Rope}. Pieces that large are allocated by V8 as large objects,
 * which a young-generation collection moves by whole pages; pieces of one fragment each (64 KiB)
 * were copied by every scavenge they lived through (for a 50 MB string, scavenges of 70-130 ms).
 */
class IncomingText {
  private readonly decoder = new StringDecoder("utf8")
  private readonly rope = new Rope()
  private batch: Buffer | undefined
  private batched = 0

  constructor(private readonly size: number) {}

  write(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length;) {
      const batch = (this.batch ??= Buffer.allocUnsafe(Math.min(textBatchBytes, this.size)))
      const take = Math.min(bytes.length - at, batch.length - this.batched)
      batch.set(bytes.subarray(at, at + take), this.batched)
      this.batched += take
      at += take
      if (this.batched === batch.length) this.flush()
    }
  }

  end(): string {
    this.flush()
    this.batch = undefined
    this.rope.add(this.decoder.end())
    return this.rope.end()
  }

  private flush(): void {
    if (this.batched === 0) return
    this.rope.add(this.decoder.write(this.batch!.subarray(0, this.batched)))
    this.batched = 0
  }
}

interface Incoming {
  /** The whole message (kind 1) or its skeleton (kind 3), filled as fragments arrive; undefined while it is being dropped. */
  readonly buffer: Buffer | undefined
  readonly total: number
  received: number
  /** Kind 3: its values, in order, then the skeleton (`buffer`); undefined for kind 1. */
  readonly values: Array<IncomingValue> | undefined
  /** Kind 3: the value being received (`values.length` once the skeleton is). */
  current: number
  /** Kind 3: bytes of the skeleton received. */
  skeletonFilled: number
}

/**
 * The receiving side: rebuilds messages from their fragments. A message above `maxMessageBytes` is
 * announced by its first fragment and dropped without buffering any of it (`onDropped`); a
 * fragment that breaks the format (unknown id, data beyond the announced size, too many partial
 * messages) is an error of the stream (`onError`), after which nothing more is accepted. A
 * message with out-of-band values is handed over as its skeleton's bytes and its values
 * (`onParts`; without it, such a message is an error of the stream).
 */
export class Reassembler {
  private readonly partial = new Map<number, Incoming>()
  private held = 0
  private failed = false

  constructor(
    public maxMessageBytes: number,
    private readonly onMessage: (body: Buffer) => void,
    private readonly onDropped: (size: number, limit: number) => void,
    private readonly onError: (detail: string) => void,
    private readonly onParts?: (skeleton: Buffer, values: Array<unknown>, size: number) => void
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
    if (kind === firstKind || (kind === outOfBandKind && this.onParts !== undefined)) {
      if (view.length < firstHeaderBytes) return this.fail("truncated fragment header")
      if (this.partial.has(id)) return this.fail(`fragmented message ${id} started twice`)
      if (this.partial.size >= maxPartialMessages) {
        return this.fail(`more than ${maxPartialMessages} fragmented messages at once`)
      }
      const total = view.readUInt32BE(6)
      if (total === 0) return this.fail("fragmented message of 0 bytes")
      const over = total > this.maxMessageBytes
      if (kind === firstKind) {
        const entry: Incoming = {
          buffer: over ? undefined : Buffer.allocUnsafe(total),
          total,
          received: 0,
          values: undefined,
          current: 0,
          skeletonFilled: 0
        }
        this.partial.set(id, entry)
        if (over) this.onDropped(total, this.maxMessageBytes)
        return this.append(id, entry, view, firstHeaderBytes)
      }
      if (view.length < outOfBandHeaderBytes) return this.fail("truncated fragment header")
      const count = view[10]!
      const dataAt = outOfBandHeaderBytes + count * valueEntryBytes
      if (count === 0 || count > maxOutOfBandValues) return this.fail(`fragmented message with ${count} values`)
      if (view.length < dataAt) return this.fail("truncated fragment header")
      const values: Array<IncomingValue> = []
      let valueBytes = 0
      for (let i = 0; i < count; i++) {
        const at = outOfBandHeaderBytes + i * valueEntryBytes
        const valueKind = view[at]!
        const size = view.readUInt32BE(at + 1)
        if (valueKind !== binaryPiece && valueKind !== textPiece) return this.fail(`unknown value kind ${valueKind}`)
        valueBytes += size
        values.push({
          kind: valueKind,
          size,
          filled: 0,
          buffer: !over && valueKind === binaryPiece ? Buffer.allocUnsafe(size) : undefined,
          text: !over && valueKind === textPiece ? new IncomingText(size) : undefined
        })
      }
      if (valueBytes >= total) return this.fail(`fragmented message ${id} has no room for its skeleton`)
      const entry: Incoming = {
        buffer: over ? undefined : Buffer.allocUnsafe(total - valueBytes),
        total,
        received: 0,
        values,
        current: 0,
        skeletonFilled: 0
      }
      this.partial.set(id, entry)
      if (over) this.onDropped(total, this.maxMessageBytes)
      return this.append(id, entry, view, dataAt)
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
    const dropping = entry.buffer === undefined
    if (entry.values === undefined) {
      if (!dropping) view.copy(entry.buffer, entry.received, from)
    } else {
      this.fill(entry, entry.values, view, from, dropping)
    }
    if (!dropping) this.held += size
    entry.received += size
    if (entry.received < entry.total) return
    this.partial.delete(id)
    if (dropping) return
    this.held -= entry.total
    if (entry.values === undefined) return this.onMessage(entry.buffer!)
    this.onParts!(
      entry.buffer!,
      entry.values.map((value) => (value.buffer !== undefined ? value.buffer : value.text!.end())),
      entry.total
    )
  }

  /** Routes the data of a kind-3 fragment into its values, then its skeleton. */
  private fill(entry: Incoming, values: Array<IncomingValue>, view: Buffer, from: number, dropping: boolean): void {
    while (from < view.length && entry.current < values.length) {
      const value = values[entry.current]!
      const take = Math.min(view.length - from, value.size - value.filled)
      if (!dropping) {
        if (value.buffer !== undefined) view.copy(value.buffer, value.filled, from, from + take)
        else value.text!.write(view.subarray(from, from + take))
      }
      value.filled += take
      from += take
      if (value.filled === value.size) {
        entry.current++
      }
    }
    if (from < view.length && !dropping) {
      view.copy(entry.buffer!, entry.skeletonFilled, from)
    }
    entry.skeletonFilled += view.length - from
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
