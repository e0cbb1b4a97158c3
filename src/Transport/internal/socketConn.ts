/**
 * A `Conn` over a node:net or node:tls socket, with per-tick write batching and fragmentation of
 * large messages.
 *
 * Frame bodies written during one tick are joined into one buffer and written with a single
 * `socket.write` at the end of the tick (a microtask), so pipelined traffic costs one TLS record
 * and one syscall per batch rather than per frame. Reads and writes keep the event loop polling
 * for a short while (see `BusyPoll`).
 *
 * Large messages (see `fragments.ts`) are not handed to the socket at once: their fragments are
 * written only while the socket holds less than {@link fragmentLowWaterBytes}, after the whole
 * frames of the tick, and the rest waits for the socket to drain. A heartbeat or a small call
 * written meanwhile is therefore queued behind at most that much of a large message, not behind
 * all of it.
 *
 * @internal
 */
import type * as Net from "node:net"
import { encodeFrames, FrameDecoder } from "../Framing.ts"
import type { CancelTimer, Timers } from "../../internal/timers.ts"
import type { BusyPoll } from "./busyPoll.ts"
import { noHandlers } from "./conn.ts"
import { handshakeMaxFrameBytes } from "./tuning.ts"
import type { Conn, ConnHandlers, OpenedLink } from "./conn.ts"
import { defaultFragmentBytes, FragmentQueue, fragmentMarker, isFragment, Reassembler } from "./fragments.ts"
import type { Segments } from "./largeBinaries.ts"
import type { OutOfBand } from "./outOfBand.ts"

/** How long a closed connection waits for the peer to acknowledge the end before it is destroyed. */
const endTimeoutMs = 5000

/** Fragments are written while the socket's own buffer holds less than this. */
export const fragmentLowWaterBytes = 256 * 1024

/** Options of a socket connection beyond its frame limit. */
export interface SocketConnOptions {
  /**
   * The largest frame accepted before the handshake completes (default: the frame limit); a larger
   * one closes the connection. After the handshake, frames up to the full limit are accepted and
   * larger ones are skipped (see `ConnHandlers.onOversized`).
   */
  readonly maxFrameBytesBeforeHandshake?: number | undefined
  /** Data bytes per fragment of the messages this connection sends (default 64 KiB). */
  readonly fragmentBytes?: number | undefined
}

export class SocketConn implements Conn {
  handlers: ConnHandlers = noHandlers
  readonly remote: string
  private pending: Array<Uint8Array> = []
  private pendingBytes = 0
  private scheduled = false
  private drainCallbacks: Array<() => void> = []
  private drainBelow = 0
  private lastError: string | undefined
  private cancelEndTimer: CancelTimer | undefined
  private readonly decoder: FrameDecoder
  /** Reassembles the peer's fragmented messages once the handshake is done. */
  private reassembler: Reassembler | undefined
  /** Large messages going out as fragments, once the peer said it reassembles them. */
  private fragments: FragmentQueue | undefined
  /** Fragment writing is paused until the socket drains. */
  private awaitingDrain = false
  /** The peer takes messages with out-of-band values. */
  private peerOutOfBand = false
  private ending = false
  private readonly fragmentBytes: number

  constructor(
    private readonly socket: Net.Socket,
    private readonly maxFrameBytes: number,
    private readonly busyPoll: BusyPoll,
    private readonly timers: Timers,
    options: SocketConnOptions = {}
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`
    this.fragmentBytes = options.fragmentBytes ?? defaultFragmentBytes
    socket.setNoDelay(true)
    // Until the node handshake completes, only small frames: an unauthenticated client announcing a
    // big one is closed on its header, before anything is buffered (see `opened`).
    this.decoder = new FrameDecoder(
      options.maxFrameBytesBeforeHandshake ?? Math.min(handshakeMaxFrameBytes, maxFrameBytes),
      (body) => this.received(body),
      (detail) => this.handlers.onFramingError(detail)
    )
    socket.on("data", (chunk: Buffer) => {
      busyPoll.touch()
      this.decoder.push(chunk)
    })
    socket.on("drain", () => {
      if (this.awaitingDrain) {
        this.awaitingDrain = false
        this.pump()
      }
      this.drained()
    })
    socket.on("error", (error) => {
      this.lastError = error.message
    })
    socket.once("close", () => {
      this.cancelEndTimer?.()
      this.decoder.stop()
      this.reassembler?.clear()
      this.pending = []
      this.pendingBytes = 0
      this.fragments?.clear()
      this.drained()
      this.handlers.onClose(this.lastError ?? "connection closed by peer")
    })
  }

  private received(body: Buffer): void {
    // Before the handshake a fragment is just an undecodable frame (the engine closes the connection).
    if (this.reassembler === undefined || !isFragment(body)) return this.handlers.onFrame(body)
    this.handlers.onFragment()
    this.reassembler.push(body)
  }

  opened(link: OpenedLink): void {
    const limit = this.maxFrameBytes
    this.decoder.maxFrameBytes = limit
    this.decoder.onOversized = (size) => this.handlers.onOversized(size, limit)
    this.reassembler = new Reassembler(
      limit,
      (body) => this.handlers.onFrame(body),
      (size) => this.handlers.onOversized(size, limit),
      (detail) => {
        this.decoder.stop()
        this.handlers.onFramingError(detail)
      },
      (skeleton, values, size) => this.handlers.onParts?.(skeleton, values, size)
    )
    // The reassembler copies what it keeps of a fragment: fragments split across reads (all of
    // them, with TLS records of 16 KiB) are assembled in one reused buffer, not a new one each.
    this.decoder.transient = (firstByte) => firstByte === fragmentMarker
    if (link.peerFragmentBytes !== undefined && link.peerFragmentBytes > 0) {
      // Never below 4 KiB, whatever the peer announces: tiny fragments would multiply the frames.
      this.fragments = new FragmentQueue(Math.max(4096, Math.min(this.fragmentBytes, link.peerFragmentBytes)))
      this.peerOutOfBand = link.peerOutOfBand === true
    }
  }

  fragmentThreshold(): number | undefined {
    return this.fragments?.fragmentBytes
  }

  outOfBand(): boolean {
    return this.fragments !== undefined && this.peerOutOfBand
  }

  write(body: Uint8Array): void {
    this.pending.push(body)
    this.pendingBytes += body.length
    this.schedule()
  }

  writeFragmented(body: Uint8Array | Segments | OutOfBand, sent: (ok: boolean) => void): void {
    const fragments = this.fragments
    if (fragments === undefined || this.socket.destroyed) return sent(false)
    fragments.add(body, sent)
    this.schedule()
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true
      this.busyPoll.touch()
      queueMicrotask(this.flush)
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false
    if (this.socket.destroyed || this.socket.writableEnded) return
    this.writePending()
    this.pump()
  }

  /** Writes the whole frames queued so far, in one buffer. */
  private writePending(): void {
    if (this.pending.length === 0) return
    const buffer = encodeFrames(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    // Progress is tracked per write only while senders wait for room (it costs on every write).
    if (this.socket.write(buffer, this.drainCallbacks.length > 0 ? this.written : undefined)) this.drained()
  }

  /** Writes fragments while the socket has room for them; the rest waits for its `drain`. */
  private pump(): void {
    const fragments = this.fragments
    if (fragments !== undefined && !this.awaitingDrain && !this.socket.destroyed && !this.socket.writableEnded) {
      const lowWater = Math.max(fragmentLowWaterBytes, this.socket.writableHighWaterMark)
      while (!fragments.isEmpty && this.socket.writableLength < lowWater) {
        const frame = fragments.nextFrame()!
        // Its slab is cut again once the socket is done with all of its frames.
        this.socket.write(frame, () => fragments.written(frame))
        // Whole frames queued meanwhile go before the next fragment: those a sender's finished
        // large message released (they must precede that sender's next large one), and any other.
        this.writePending()
      }
      // The last write left the socket above its high-water mark, so `drain` will follow.
      if (!fragments.isEmpty) this.awaitingDrain = true
      else this.busyPoll.touch()
    }
    if (this.ending && (fragments === undefined || fragments.isEmpty)) this.endSocket()
  }

  /** A write reached the kernel: senders waiting for room may go on. */
  private readonly written = (): void => {
    if (this.drainCallbacks.length > 0 && this.bufferedBytes() <= this.drainBelow) this.drained()
  }

  private drained(): void {
    if (this.drainCallbacks.length === 0) return
    const callbacks = this.drainCallbacks
    this.drainCallbacks = []
    for (const callback of callbacks) callback()
  }

  bufferedBytes(): number {
    return this.pendingBytes + this.socket.writableLength
  }

  fragmentedBytes(): number {
    return this.fragments?.queuedBytes ?? 0
  }

  onDrain(belowBytes: number, callback: () => void): void {
    this.drainBelow = this.drainCallbacks.length === 0 ? belowBytes : Math.min(this.drainBelow, belowBytes)
    this.drainCallbacks.push(callback)
  }

  end(): void {
    this.ending = true
    this.flush()
    // A peer that never acknowledges the end (or never reads the rest of a large message) must
    // not keep the socket forever.
    this.cancelEndTimer ??= this.timers.start(endTimeoutMs, () => this.socket.destroy())
  }

  private endSocket(): void {
    if (!this.socket.writableEnded) this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }
}
