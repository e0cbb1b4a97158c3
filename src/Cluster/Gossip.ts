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
 * @example
 * ```ts
 * import { Gossip } from "effect-otp/wire"
 *
 * const member: Gossip.Member = { name: "b", incarnation: 7, host: "10.0.0.2", port: 4370 }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Member = Schema.Struct({
  name: Schema.String,
  incarnation: Schema.Number,
  host: Schema.String,
  port: Schema.Int
})

/**
 * @category models
 * @since 0.1.0
 */
export type Member = typeof Member.Type

/**
 * The gossip frame: the sender and the members it is connected to. Sent on every new link, to
 * every peer when a node comes up, and with every heartbeat (which heals missed updates).
 *
 * @example
 * ```ts
 * import { Gossip } from "effect-otp/wire"
 *
 * const frame: typeof Gossip.Gossip.Type = { members: [{ name: "a", incarnation: 1, host: "10.0.0.1", port: 4370 }] }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Gossip = Schema.Struct({ members: Schema.Array(Member) })

/**
 * The gossip channel.
 *
 * @example
 * ```ts
 * import { Gossip } from "effect-otp/wire"
 *
 * Gossip.channel.name // "otp.cluster.gossip"
 * ```
 *
 * @category channels
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
 * import { Gossip } from "effect-otp/wire"
 *
 * Gossip.dialsFirst("a", "b") // true
 * ```
 *
 * @category mesh
 * @since 0.1.0
 */
export const dialsFirst = (local: string, remote: string): boolean => local < remote
