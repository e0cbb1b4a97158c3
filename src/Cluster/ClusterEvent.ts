/**
 * Membership events and the node information they carry.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The lifecycle status of a node: `starting` while it joins, `running`, `stopping` while it
 * leaves, `stopped`.
 *
 * @since 0.1.0
 */
export const NodeStatus = Schema.Literals(["starting", "running", "stopping", "stopped"])

/**
 * @since 0.1.0
 */
export type NodeStatus = typeof NodeStatus.Type

/**
 * Why a node went down: its link was silent too long, the connection closed (crash, reset,
 * protocol error), or it left gracefully.
 *
 * @since 0.1.0
 */
export type NodeDownReason = "heartbeat_timeout" | "connection_closed" | "graceful_shutdown"

/**
 * A node joined (its link is up and its first heartbeat arrived).
 *
 * @since 0.1.0
 */
export interface NodeUp {
  readonly _tag: "NodeUp"
  readonly id: string
  readonly incarnation: number
  readonly status: NodeStatus
  readonly processCount: number
  readonly uptimeMs: number
}

/**
 * A node went down.
 *
 * @since 0.1.0
 */
export interface NodeDown {
  readonly _tag: "NodeDown"
  readonly id: string
  readonly incarnation: number
  readonly reason: NodeDownReason
}

/**
 * This node's status changed.
 *
 * @since 0.1.0
 */
export interface StatusChanged {
  readonly _tag: "StatusChanged"
  readonly id: string
  readonly from: NodeStatus
  readonly to: NodeStatus
}

/**
 * Membership events.
 *
 * @since 0.1.0
 */
export type ClusterEvent = NodeUp | NodeDown | StatusChanged

/**
 * What this node knows about a connected node.
 *
 * @since 0.1.0
 */
export interface NodeInfo {
  readonly id: string
  readonly incarnation: number
  readonly status: NodeStatus
  readonly host: string | null
  readonly port: number | null
  /** Epoch milliseconds of its last heartbeat. */
  readonly lastHeartbeatAt: number
  readonly processCount: number
  /** Its uptime, extrapolated from its last heartbeat. */
  readonly uptimeMs: number
}
