/**
 * Options shared by the transport implementations.
 *
 * @since 0.1.0
 */
import { randomInt } from "node:crypto"
import { defaultMaxFrameBytes } from "./Framing.ts"

/**
 * Tuning of a transport.
 *
 * @since 0.1.0
 */
export interface TransportTuning {
  /** Largest frame body accepted or sent. Default 8 MiB. A larger incoming frame closes the connection. */
  readonly maxFrameBytes?: number | undefined
  /**
   * Bytes that may be queued on one link before `send` suspends until it drains. Default 16 MiB.
   */
  readonly highWaterMarkBytes?: number | undefined
  /** Time allowed for the TLS and node handshakes of a connection. Default 5000 ms. */
  readonly handshakeTimeoutMs?: number | undefined
  /** Time allowed at shutdown for peers to acknowledge the goodbye before sockets are destroyed. Default 2000 ms. */
  readonly shutdownTimeoutMs?: number | undefined
  /**
   * TCP only: how long the event loop keeps polling the sockets, instead of sleeping, after the
   * last frame sent or received. Default 100 µs; 0 turns it off.
   *
   * A sleeping process takes tens of microseconds to wake when a packet arrives (more on virtual
   * machines), paid on every hop of a request and reply. Polling for a short window after traffic
   * removes that cost while a conversation lasts, as Erlang's schedulers do before sleeping
   * (`+sbwt`): sequential remote calls ran about 4x faster on the 2-core VM of our benchmarks. The
   * price is CPU: up to one window of busy polling per burst of traffic, so a node receiving one
   * frame every window spends a core on it. Set 0 where CPU matters more than latency.
   */
  readonly busyPollMicros?: number | undefined
}

/**
 * The default of `TransportTuning.busyPollMicros`.
 *
 * @since 0.1.0
 */
export const defaultBusyPollMicros = 100

/**
 * Tuning with its defaults filled in.
 *
 * @since 0.1.0
 */
export const resolveTuning = (tuning: TransportTuning): Required<{ [K in keyof TransportTuning]: number }> => ({
  maxFrameBytes: tuning.maxFrameBytes ?? defaultMaxFrameBytes,
  highWaterMarkBytes: tuning.highWaterMarkBytes ?? 16 * 1024 * 1024,
  handshakeTimeoutMs: tuning.handshakeTimeoutMs ?? 5000,
  shutdownTimeoutMs: tuning.shutdownTimeoutMs ?? 2000,
  busyPollMicros: tuning.busyPollMicros ?? defaultBusyPollMicros
})

/**
 * A fresh incarnation number for a starting node: random, so that a restarted node (even within
 * the same millisecond) is told apart from its previous life.
 *
 * @since 0.1.0
 */
export const newIncarnation = (): number => randomInt(1, 2 ** 47)
