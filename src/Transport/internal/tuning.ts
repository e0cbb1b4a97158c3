/**
 * Transport tuning resolved to plain numbers (milliseconds, microseconds, bytes), and node
 * incarnations.
 *
 * @internal
 */
import { randomInt } from "node:crypto"
import { defaultMaxFrameBytes } from "../Framing.ts"
import {
  defaultBusyPollWindow,
  defaultHandshakeTimeout,
  defaultIncarnationProbeTimeout,
  defaultListenBacklog,
  defaultMaxPendingConnections,
  defaultShutdownTimeout,
  type TransportTuning
} from "../TransportOptions.ts"
import { toMillis } from "../../internal/timers.ts"

/** Tuning with its defaults filled in. */
export interface Tuning {
  readonly maxFrameBytes: number
  readonly highWaterMarkBytes: number
  readonly handshakeTimeoutMs: number
  readonly shutdownTimeoutMs: number
  readonly incarnationProbeTimeoutMs: number
  readonly busyPollMicros: number
  readonly maxPendingConnections: number
  readonly listenBacklog: number
}

/**
 * The largest frame accepted before the node handshake completes (the Hello or the Welcome, a few
 * hundred bytes): an unauthenticated peer cannot make the node buffer more than this.
 */
export const handshakeMaxFrameBytes = 4096

export const resolveTuning = (tuning: TransportTuning): Tuning => ({
  maxFrameBytes: tuning.maxFrameBytes ?? defaultMaxFrameBytes,
  highWaterMarkBytes: tuning.highWaterMarkBytes ?? 16 * 1024 * 1024,
  handshakeTimeoutMs: toMillis(tuning.handshakeTimeout ?? defaultHandshakeTimeout),
  shutdownTimeoutMs: toMillis(tuning.shutdownTimeout ?? defaultShutdownTimeout),
  incarnationProbeTimeoutMs: toMillis(tuning.incarnationProbeTimeout ?? defaultIncarnationProbeTimeout),
  busyPollMicros: toMillis(tuning.busyPollWindow ?? defaultBusyPollWindow) * 1000,
  maxPendingConnections: Math.max(1, tuning.maxPendingConnections ?? defaultMaxPendingConnections),
  listenBacklog: tuning.listenBacklog ?? defaultListenBacklog
})

/**
 * A fresh incarnation number for a starting node: random, so that a restarted node (even within
 * the same millisecond) is told apart from its previous life.
 */
export const newIncarnation = (): number => randomInt(1, 2 ** 47)
