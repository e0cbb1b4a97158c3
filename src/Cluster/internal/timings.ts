/**
 * The cluster's timings with their defaults filled in, in milliseconds.
 *
 * @internal
 */
import type { ClusterConfig } from "../ClusterConfig.ts"
import { toMillis } from "../../internal/timers.ts"

export interface Timings {
  readonly heartbeatIntervalMs: number
  readonly heartbeatMissThreshold: number
  readonly reconnectBaseDelayMs: number
  readonly reconnectMaxDelayMs: number
  readonly discoveryIntervalMs: number
}

/**
 * Heartbeats every 5 s with 3 misses allowed, reconnects from 1 s doubling to 30 s, discovery every
 * 10 s.
 */
export const timings = (config: ClusterConfig): Timings => ({
  heartbeatIntervalMs: toMillis(config.heartbeatInterval ?? 5000),
  heartbeatMissThreshold: config.heartbeatMissThreshold ?? 3,
  reconnectBaseDelayMs: toMillis(config.reconnectBaseDelay ?? 1000),
  reconnectMaxDelayMs: toMillis(config.reconnectMaxDelay ?? 30000),
  discoveryIntervalMs: toMillis(config.discoveryInterval ?? 10000)
})
