/**
 * Heartbeats: each node sends one per link every interval, carrying its status, process count and
 * uptime; a link with no traffic at all for `interval x missThreshold` is cut as `heartbeat_timeout`.
 * (Reconnection, with its backoff, is the cluster's: see `Cluster`.)
 *
 * @since 0.1.0
 */
import { Duration, Schema, SchemaTransformation } from "effect"
import * as Channel from "../Transport/Channel.ts"
import type { LinkInfo } from "../Transport/Transport.ts"
import { NodeStatus } from "./ClusterEvent.ts"

const knownStatuses: ReadonlySet<string> = new Set(NodeStatus.literals)

/**
 * A status on the wire: any string, so that a newer release may add statuses without closing the
 * link. One this release does not know is taken as `running`: the node sends heartbeats, so it is
 * up; a node that stops taking work says so with `stopping` in every release, and leaving or
 * being lost is seen on the link itself.
 */
const WireStatus = Schema.String.pipe(
  Schema.decodeTo(
    NodeStatus,
    SchemaTransformation.transform({
      decode: (status: string): NodeStatus => (knownStatuses.has(status) ? (status as NodeStatus) : "running"),
      encode: (status: NodeStatus): string => status
    })
  )
)

/**
 * The heartbeat frame: the sender's status, process count and uptime, and the timestamps from which
 * each side measures the link's round trip (older nodes send neither; both are optional). A
 * status this release does not know (a newer node's) is decoded as `running`, and the link stays up.
 *
 * @example
 * ```ts
 * import { Heartbeat } from "effect-otp/wire"
 *
 * const beat: Heartbeat.Heartbeat = { status: "running", processCount: 12, uptimeMs: 60_000 }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Heartbeat = Schema.Struct({
  status: WireStatus,
  processCount: Schema.Number,
  uptimeMs: Schema.Number,
  /** When the sender sent it, in milliseconds on the sender's monotonic clock (echoed back). */
  sentAt: Schema.optional(Schema.Number),
  /**
   * The `sentAt` of the last heartbeat the sender received on this link, and how long it held it
   * (milliseconds): the receiver's round trip is its time now, minus `sentAt`, minus `heldMs`.
   */
  echo: Schema.optional(Schema.Struct({ sentAt: Schema.Number, heldMs: Schema.Number }))
})

/**
 * @category models
 * @since 0.1.0
 */
export type Heartbeat = typeof Heartbeat.Type

/**
 * The heartbeat channel.
 *
 * @example
 * ```ts
 * import { Heartbeat } from "effect-otp/wire"
 *
 * Heartbeat.channel.name // "otp.cluster.heartbeat"
 * ```
 *
 * @category channels
 * @since 0.1.0
 */
export const channel = Channel.make("otp.cluster.heartbeat", Heartbeat)

/**
 * The links that have been silent (no frame of any kind) for longer than `timeout`, measured on the
 * transport's monotonic clock (`LinkInfo.silentMs`). The cluster's failure detector cuts them as
 * `heartbeat_timeout`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transport } from "effect-otp"
 * import { Heartbeat } from "effect-otp/wire"
 *
 * const silent = Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   return Heartbeat.silentLinks(yield* transport.links, "15 seconds")
 * })
 * ```
 *
 * @category failure detection
 * @since 0.1.0
 */
export const silentLinks = (links: ReadonlyArray<LinkInfo>, timeout: Duration.Input): ReadonlyArray<LinkInfo> => {
  const timeoutMs = Duration.toMillis(timeout)
  return links.filter((link) => link.silentMs > timeoutMs)
}
