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
}

/**
 * Tuning with its defaults filled in.
 *
 * @since 0.1.0
 */
export const resolveTuning = (tuning: TransportTuning): Required<{ [K in keyof TransportTuning]: number }> => ({
  maxFrameBytes: tuning.maxFrameBytes ?? defaultMaxFrameBytes,
  highWaterMarkBytes: tuning.highWaterMarkBytes ?? 16 * 1024 * 1024,
  handshakeTimeoutMs: tuning.handshakeTimeoutMs ?? 5000,
  shutdownTimeoutMs: tuning.shutdownTimeoutMs ?? 2000
})

/**
 * A fresh incarnation number for a starting node: random, so that a restarted node (even within
 * the same millisecond) is told apart from its previous life.
 *
 * @since 0.1.0
 */
export const newIncarnation = (): number => randomInt(1, 2 ** 47)
