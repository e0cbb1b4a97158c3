/**
 * The byte-level connection an implementation hands to the link engine.
 *
 * @internal
 */

/** Callbacks the engine installs on a connection. */
export interface ConnHandlers {
  /** A complete frame body arrived. */
  readonly onFrame: (body: Uint8Array) => void
  /** The byte stream violated the framing (oversized frame); the engine closes the connection. */
  readonly onFramingError: (detail: string) => void
  /** The connection is closed, for whatever reason. Called exactly once. */
  readonly onClose: (detail: string) => void
}

/** A connection carrying frame bodies; writes are batched by the implementation. */
export interface Conn {
  /** Remote address, for logs. */
  readonly remote: string
  handlers: ConnHandlers
  /** Queues a frame body; it is flushed with the others at the end of the current tick. */
  write(body: Uint8Array): void
  /** Bytes queued and not yet taken by the kernel (or the in-memory network). */
  bufferedBytes(): number
  /** Calls `callback` once, as soon as the buffered bytes are at or under `belowBytes` (or it closes). */
  onDrain(belowBytes: number, callback: () => void): void
  /** Flushes what is queued, then closes. */
  end(): void
  /** Closes at once, dropping what is queued. */
  destroy(): void
  /**
   * The node handshake completed: from now on frames up to the link's full limit are accepted
   * (before it, only frames up to `handshakeMaxFrameBytes`). Absent where frames are not limited.
   */
  handshakeCompleted?(): void
}

/** Handlers that do nothing, installed until the engine takes over a connection. */
export const noHandlers: ConnHandlers = {
  onFrame: () => {},
  onFramingError: () => {},
  onClose: () => {}
}
