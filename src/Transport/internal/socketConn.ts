/**
 * A `Conn` over a node:net or node:tls socket, with per-tick write batching.
 *
 * Frame bodies written during one tick are joined into one buffer and written with a single
 * `socket.write` at the end of the tick (a microtask), so pipelined traffic costs one TLS record
 * and one syscall per batch rather than per frame. Reads and writes keep the event loop polling
 * for a short while (see `BusyPoll`).
 *
 * @internal
 */
import type * as Net from "node:net"
import { encodeFrames, FrameDecoder } from "../Framing.ts"
import type { CancelTimer, Timers } from "../../internal/timers.ts"
import type { BusyPoll } from "./busyPoll.ts"
import { noHandlers } from "./conn.ts"
import { handshakeMaxFrameBytes } from "./tuning.ts"
import type { Conn, ConnHandlers } from "./conn.ts"

/** How long a closed connection waits for the peer to acknowledge the end before it is destroyed. */
const endTimeoutMs = 5000

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

  constructor(
    private readonly socket: Net.Socket,
    private readonly maxFrameBytes: number,
    private readonly busyPoll: BusyPoll,
    private readonly timers: Timers
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`
    socket.setNoDelay(true)
    // Until the node handshake completes, only small frames: an unauthenticated client announcing a
    // big one is closed on its header, before anything is buffered (see `handshakeCompleted`).
    this.decoder = new FrameDecoder(
      Math.min(handshakeMaxFrameBytes, maxFrameBytes),
      (body) => this.handlers.onFrame(body),
      (detail) => this.handlers.onFramingError(detail)
    )
    socket.on("data", (chunk: Buffer) => {
      busyPoll.touch()
      this.decoder.push(chunk)
    })
    socket.on("drain", () => this.drained())
    socket.on("error", (error) => {
      this.lastError = error.message
    })
    socket.once("close", () => {
      this.cancelEndTimer?.()
      this.decoder.stop()
      this.pending = []
      this.pendingBytes = 0
      this.drained()
      this.handlers.onClose(this.lastError ?? "connection closed by peer")
    })
  }

  write(body: Uint8Array): void {
    this.pending.push(body)
    this.pendingBytes += body.length
    if (!this.scheduled) {
      this.scheduled = true
      this.busyPoll.touch()
      queueMicrotask(this.flush)
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false
    if (this.pending.length === 0 || this.socket.destroyed) return
    const buffer = encodeFrames(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    // Progress is tracked per write only while senders wait for room (it costs on every write).
    if (this.socket.write(buffer, this.drainCallbacks.length > 0 ? this.written : undefined)) this.drained()
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

  onDrain(belowBytes: number, callback: () => void): void {
    this.drainBelow = this.drainCallbacks.length === 0 ? belowBytes : Math.min(this.drainBelow, belowBytes)
    this.drainCallbacks.push(callback)
  }

  end(): void {
    this.flush()
    this.socket.end()
    // A peer that never acknowledges the end must not keep the socket forever.
    this.cancelEndTimer ??= this.timers.start(endTimeoutMs, () => this.socket.destroy())
  }

  destroy(): void {
    this.socket.destroy()
  }

  handshakeCompleted(): void {
    this.decoder.maxFrameBytes = this.maxFrameBytes
  }
}
