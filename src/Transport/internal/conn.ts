/**
 * The byte-level connection an implementation hands to the link engine.
 *
 * @internal
 */

import type { Segments } from "./largeBinaries.ts"
import type { OutOfBand } from "./outOfBand.ts"

/** Callbacks the engine installs on a connection. */
export interface ConnHandlers {
  /** A complete frame body arrived (a fragmented message once all its fragments are in). */
  readonly onFrame: (body: Uint8Array) => void
  /**
   * A message with out-of-band values arrived whole (see `outOfBand.ts`): its skeleton's bytes, its
   * values in order, and its size on the wire. Connections that never announce `outOfBand` never
   * call it.
   */
  readonly onParts?: (skeleton: Uint8Array, values: Array<unknown>, size: number) => void
  /** A fragment of a large message arrived: the link is not silent while it transfers. */
  readonly onFragment: () => void
  /** The byte stream violated the framing (oversized frame); the engine closes the connection. */
  readonly onFramingError: (detail: string) => void
  /**
   * A message above this node's limit arrived after the handshake and was skipped without being
   * buffered (a peer that ignored the limit it was told, or an older peer that was never told).
   */
  readonly onOversized: (size: number, limit: number) => void
  /** The connection is closed, for whatever reason. Called exactly once. */
  readonly onClose: (detail: string) => void
}

/** What a connection learns when its handshake completes. */
export interface OpenedLink {
  /**
   * The largest fragment data the peer accepts, if it reassembles fragmented messages (absent for
   * an older peer, which only ever gets whole frames).
   */
  readonly peerFragmentBytes: number | undefined
  /** Whether the peer takes messages with out-of-band values (it announced `outOfBand`). */
  readonly peerOutOfBand?: boolean | undefined
}

/** A connection carrying frame bodies; writes are batched by the implementation. */
export interface Conn {
  /** Remote address, for logs. */
  readonly remote: string
  handlers: ConnHandlers
  /** Queues a frame body; it is flushed with the others at the end of the current tick. */
  write(body: Uint8Array): void
  /**
   * Connections that cut large messages into fragments: the size above which `writeFragmented`
   * should be used (undefined until the handshake says the peer reassembles them, or if never).
   */
  fragmentThreshold(): number | undefined
  /**
   * Whether `writeFragmented` takes messages with out-of-band values (the connection fragments and
   * the peer reassembles them).
   */
  outOfBand(): boolean
  /**
   * Queues a message to be sent as fragments, interleaved with later frames (which go first);
   * `sent(true)` once its last fragment is handed to the socket, `sent(false)` if the connection
   * closed before.
   */
  writeFragmented(body: Uint8Array | Segments | OutOfBand, sent: (ok: boolean) => void): void
  /**
   * The node handshake completed: the connection now accepts frames up to its full limit (before
   * it, only frames up to `handshakeMaxFrameBytes`, so an unauthenticated peer cannot make the node
   * buffer more).
   */
  opened(link: OpenedLink): void
  /**
   * Bytes queued and not yet taken by the kernel (or the in-memory network), not counting
   * fragmented messages still waiting (see `fragmentedBytes`): the measure of the high-water mark.
   */
  bufferedBytes(): number
  /** Bytes of fragmented messages not yet handed to the socket. */
  fragmentedBytes(): number
  /** Calls `callback` once, as soon as the buffered bytes are at or under `belowBytes` (or it closes). */
  onDrain(belowBytes: number, callback: () => void): void
  /** Flushes what is queued (fragmented messages included), then closes. */
  end(): void
  /** Closes at once, dropping what is queued. */
  destroy(): void
}

/** Handlers that do nothing, installed until the engine takes over a connection. */
export const noHandlers: ConnHandlers = {
  onFrame: () => {},
  onFragment: () => {},
  onFramingError: () => {},
  onOversized: () => {},
  onClose: () => {}
}
