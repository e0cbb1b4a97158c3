/**
 * Heartbeats: each node sends one per link every interval, carrying its status, process count and
 * uptime; a link with no traffic at all for `interval x missThreshold` is cut as `heartbeat_timeout`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Channel from "../Transport/Channel.ts"
import type { LinkInfo } from "../Transport/Transport.ts"
import { NodeStatus } from "./ClusterEvent.ts"

/**
 * The heartbeat frame.
 *
 * @since 0.1.0
 */
export const Heartbeat = Schema.Struct({
  status: NodeStatus,
  processCount: Schema.Number,
  uptimeMs: Schema.Number
})

/**
 * @since 0.1.0
 */
export type Heartbeat = typeof Heartbeat.Type

/**
 * The heartbeat channel.
 *
 * @since 0.1.0
 */
export const channel = Channel.make("otp.cluster.heartbeat", Heartbeat)

/**
 * The links that have been silent (no frame of any kind) for longer than `timeoutMs` at `now`.
 *
 * @example
 * ```ts
 * import { Heartbeat } from "effect-otp"
 * Heartbeat.silentLinks([], Date.now(), 15000) // []
 * ```
 *
 * @since 0.1.0
 */
export const silentLinks = (links: ReadonlyArray<LinkInfo>, now: number, timeoutMs: number): ReadonlyArray<LinkInfo> =>
  links.filter((link) => now - link.lastReceivedAt > timeoutMs)

/**
 * The delay before reconnect attempt `attempt` (0-based): `base * 2^attempt` capped at `max`, with
 * "equal jitter" (uniform in [d/2, d]) so that nodes that lost a peer together do not retry in step.
 *
 * @since 0.1.0
 */
export const backoffDelay = (attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random) => {
  const delay = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return delay / 2 + random() * (delay / 2)
}
