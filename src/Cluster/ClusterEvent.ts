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
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ClusterEvent } from "effect-otp"
 *
 * Schema.decodeUnknownSync(ClusterEvent.NodeStatus)("running") // "running"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const NodeStatus = Schema.Literals(["starting", "running", "stopping", "stopped"])

/**
 * @category models
 * @since 0.1.0
 */
export type NodeStatus = typeof NodeStatus.Type

/**
 * Why a node went down: its link was silent too long, the connection closed (crash, reset,
 * protocol error), or it left gracefully.
 *
 * @example
 * ```ts
 * import type { ClusterEvent } from "effect-otp"
 *
 * const expected = (reason: ClusterEvent.NodeDownReason) => reason === "graceful_shutdown"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type NodeDownReason = "heartbeat_timeout" | "connection_closed" | "graceful_shutdown"

/**
 * A node joined (its link is up and its first heartbeat arrived).
 *
 * @example
 * ```ts
 * import type { ClusterEvent } from "effect-otp"
 *
 * const up: ClusterEvent.NodeUp = {
 *   _tag: "NodeUp",
 *   id: "b",
 *   incarnation: 1,
 *   status: "running",
 *   processCount: 3,
 *   uptimeMs: 1200
 * }
 * ```
 *
 * @category events
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
 * A node went down. Every call pending to it has failed with `NodeDown` by the time this event is
 * published, its monitors have fired `noconnection` and its links have broken.
 *
 * @example
 * ```ts
 * import type { ClusterEvent } from "effect-otp"
 *
 * const down: ClusterEvent.NodeDown = { _tag: "NodeDown", id: "b", incarnation: 1, reason: "heartbeat_timeout" }
 * ```
 *
 * @category events
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
 * @example
 * ```ts
 * import type { ClusterEvent } from "effect-otp"
 *
 * const changed: ClusterEvent.StatusChanged = { _tag: "StatusChanged", id: "a", from: "running", to: "stopping" }
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export interface StatusChanged {
  readonly _tag: "StatusChanged"
  readonly id: string
  readonly from: NodeStatus
  readonly to: NodeStatus
}

/**
 * Why this node could not link to a seed or a member:
 *
 * - `authentication_failed`: the TLS handshake failed (with a cluster secret: the other node has a
 *   different one; with certificates: one side does not accept the other's certificate);
 * - `duplicate_name`: a live node of the cluster already has this node's name;
 * - `version_mismatch`: the other node speaks an incompatible version of the cluster protocol;
 * - `identity_mismatch`: a TLS identity does not match the node name it comes with;
 * - `unexpected_peer`: another node than the one named by the seed answers at that address;
 * - `protocol_mismatch`: the other node does not speak this protocol (e.g. TLS against plain TCP);
 * - `unreachable`, `timeout`, `closed`: nothing listens there, the handshake took too long, or the
 *   connection closed during it.
 *
 * @example
 * ```ts
 * import type { ClusterEvent } from "effect-otp"
 *
 * const misconfigured = (reason: ClusterEvent.JoinFailureReason) =>
 *   reason === "authentication_failed" || reason === "duplicate_name" || reason === "version_mismatch"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type JoinFailureReason =
  | "authentication_failed"
  | "duplicate_name"
  | "version_mismatch"
  | "identity_mismatch"
  | "unexpected_peer"
  | "protocol_mismatch"
  | "unreachable"
  | "timeout"
  | "closed"

/**
 * This node failed to link to a seed or to a member it redials. Published on every failed attempt
 * (the log line is written once per address and reason, then at most every five minutes). With
 * `retrying: false` (a `duplicate_name`), this node holds off dialing that address for a while
 * (the longest reconnect delay, at least twice the failure-detection time) before it tries again.
 *
 * @example
 * ```ts
 * import type { ClusterEvent } from "effect-otp"
 *
 * const failed: ClusterEvent.JoinFailed = {
 *   _tag: "JoinFailed",
 *   id: "b",
 *   target: "127.0.0.1:4370",
 *   reason: "authentication_failed",
 *   detail: "TLS handshake failed (sslv3 alert bad record mac)",
 *   retrying: true
 * }
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export interface JoinFailed {
  readonly _tag: "JoinFailed"
  /** This node's name. */
  readonly id: string
  /** The address dialed (`host:port`), with the node name expected there if known (`name@host:port`). */
  readonly target: string
  readonly reason: JoinFailureReason
  /** The transport's detail: the peer's refusal, the TLS error. Never contains the secret. */
  readonly detail: string
  /** Whether this node keeps dialing that address with its usual backoff (`false`: it holds off first). */
  readonly retrying: boolean
}

/**
 * Membership events.
 *
 * @example
 * ```ts
 * import type { ClusterEvent } from "effect-otp"
 *
 * const describe = (event: ClusterEvent.ClusterEvent): string => {
 *   switch (event._tag) {
 *     case "NodeUp":
 *       return `${event.id} up`
 *     case "NodeDown":
 *       return `${event.id} down (${event.reason})`
 *     case "StatusChanged":
 *       return `${event.from} -> ${event.to}`
 *     case "JoinFailed":
 *       return `cannot join through ${event.target}: ${event.reason}`
 *   }
 * }
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export type ClusterEvent = NodeUp | NodeDown | StatusChanged | JoinFailed

/**
 * What this node knows about a connected node.
 *
 * @example
 * ```ts
 * import type { ClusterEvent } from "effect-otp"
 *
 * const label = (node: ClusterEvent.NodeInfo) => `${node.id}@${node.host}:${node.port} (${node.status})`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface NodeInfo {
  readonly id: string
  readonly incarnation: number
  readonly status: NodeStatus
  readonly host: string | null
  readonly port: number | null
  /** Epoch milliseconds (wall clock, for display) of its last heartbeat. */
  readonly lastHeartbeatAt: number
  readonly processCount: number
  /** Its uptime, extrapolated from its last heartbeat. */
  readonly uptimeMs: number
}
