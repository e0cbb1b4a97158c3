/**
 * Why this node failed to link to a seed or a member, told on this node's side: one clear log line
 * saying what is wrong and what to check, a metric, and a `JoinFailed` event.
 *
 * @internal
 */
import type { ConnectError } from "../../Transport/TransportError.ts"
import type { JoinFailureReason } from "../ClusterEvent.ts"

/** How this node secures its links, for the hint of an authentication failure. */
export type SecurityMode = "secret" | "tls" | "insecure"

/** A failed dial, as the cluster reports it. */
export interface JoinFailure {
  readonly reason: JoinFailureReason
  /**
   * Hold off dialing that address (for the cluster's refusal hold) instead of redialing with the
   * usual backoff: redialing cannot succeed while the cause lasts.
   */
  readonly final: boolean
  readonly level: "Info" | "Warn" | "Error"
  /** The detail from the transport (the peer's refusal, the TLS error). */
  readonly detail: string
  /** What to check, appended to the log line. */
  readonly advice: string
}

/**
 * Classifies a failed dial; `undefined` for the outcomes that are part of normal operation (a seed
 * that is this node, a peer that is shutting down, a dial interrupted by this node's shutdown).
 */
export const classify = (
  error: ConnectError,
  localName: string,
  security: SecurityMode,
  refusalHoldMs: number
): JoinFailure | undefined => {
  if (error._tag === "HandshakeRejected") {
    const detail = error.detail
    switch (error.reason) {
      case "duplicate_name":
        return {
          reason: "duplicate_name",
          final: true,
          level: "Error",
          detail,
          advice:
            `this node's name "${localName}" is already taken by a live node of the cluster (its link answered; ` +
            `a previous incarnation of this node whose link is silent would have been replaced). This node ` +
            `tries that address again only after ${refusalHoldMs} ms: give every node a unique name (NODE_NAME)`
        }
      case "version_mismatch":
        return {
          reason: "version_mismatch",
          final: false,
          level: "Error",
          detail,
          advice:
            "the node there speaks an incompatible version of the cluster protocol: run a compatible " +
            "version of effect-otp on every node. Retrying with backoff"
        }
      case "identity_mismatch":
        return {
          reason: "identity_mismatch",
          final: false,
          level: "Error",
          detail,
          advice:
            "a TLS identity does not match the node name it comes with: with `bindNodeName`, each node's " +
            "certificate must name that node. Retrying with backoff"
        }
      case "unexpected_peer":
        return {
          reason: "unexpected_peer",
          final: false,
          level: "Warn",
          detail,
          advice: "another node than the one expected answers at that address: check the seed. Retrying with backoff"
        }
      case "self":
      case "shutting_down":
      case "superseded":
        return undefined
    }
  }
  const detail = error.reason
  switch (error.kind ?? "closed") {
    case "authentication":
      return {
        reason: "authentication_failed",
        final: false,
        level: "Error",
        detail,
        advice:
          security === "secret"
            ? "the node there most likely has a different cluster secret: check that every node uses the " +
              "same secret (CLUSTER_SECRET). Retrying with backoff"
            : "the nodes do not accept each other's certificates: check that every certificate is signed by " +
              "the cluster's CA. Retrying with backoff"
      }
    case "protocol":
      return {
        reason: "protocol_mismatch",
        final: false,
        level: "Error",
        detail,
        advice:
          "the node there does not speak this node's protocol: do both use the same security mode " +
          "(a secret, certificates, or `insecure: true`)? Retrying with backoff"
      }
    case "refused":
    case "unreachable":
      return { reason: "unreachable", final: false, level: "Info", detail, advice: "retrying with backoff" }
    case "timeout":
      return {
        reason: "timeout",
        final: false,
        level: "Warn",
        detail,
        advice: "the handshake did not complete in time (a slow or overloaded node?). Retrying with backoff"
      }
    case "closed":
      return {
        reason: "closed",
        final: false,
        level: "Warn",
        detail,
        advice:
          security === "insecure"
            ? "the node there closed the connection during the handshake: does it expect TLS? Retrying with backoff"
            : "the node there closed the connection during the handshake: does it use the same security mode? " +
              "Retrying with backoff"
      }
    case "closing":
      return undefined
  }
}

/**
 * The log line of a failure: the target, what happened, what to check. A node with no member yet
 * is joining the cluster; one that has members is linking to one more.
 */
export const describeFailure = (target: string, failure: JoinFailure, joining: boolean): string =>
  `${joining ? "cannot join the cluster through" : "cannot link to"} ${target} (${failure.reason}: ${failure.detail}): ${failure.advice}`
