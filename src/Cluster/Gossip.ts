/**
 * Gossip: nodes tell their peers which members they are connected to, so that a node joining
 * through one seed learns of every other member and the cluster forms a full mesh.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Channel from "../Transport/Channel.ts"

/**
 * One member as gossiped: name, incarnation and listening address.
 *
 * @since 0.1.0
 */
export const Member = Schema.Struct({
  name: Schema.String,
  incarnation: Schema.Number,
  host: Schema.String,
  port: Schema.Int
})

/**
 * @since 0.1.0
 */
export type Member = typeof Member.Type

/**
 * The gossip frame: the sender and the members it is connected to.
 *
 * @since 0.1.0
 */
export const Gossip = Schema.Struct({ members: Schema.Array(Member) })

/**
 * The gossip channel.
 *
 * @since 0.1.0
 */
export const channel = Channel.make("otp.cluster.gossip", Gossip)

/**
 * Which node of a pair dials the other when they learn of each other by gossip: the one with the
 * smaller name, so that the mesh forms without both dialing at once. (Seeds and reconnects dial
 * regardless; the transport's tie-break settles simultaneous dials.)
 *
 * @example
 * ```ts
 * import { Gossip } from "effect-otp"
 * Gossip.dialsFirst("a", "b") // true
 * ```
 *
 * @since 0.1.0
 */
export const dialsFirst = (local: string, remote: string): boolean => local < remote
