/**
 * The frames of the wire protocol and their Schemas.
 *
 * A frame body is one MessagePack value. Control frames (handshake, goodbye) are maps tagged with
 * `_tag`; data frames are two-element arrays `[channel, payload]` whose payload is encoded by the
 * channel's own Schema (see `Channel`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The cluster protocol version sent in every handshake. Nodes with different versions refuse each
 * other (`version_mismatch`), and both sides log it.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * Frame.protocolVersion // 1
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const protocolVersion = 1

/**
 * Where a node listens, as advertised to its peers (and gossiped to the rest of the cluster).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Frame } from "effect-otp/wire"
 *
 * Schema.decodeUnknownSync(Frame.Address)({ host: "10.0.0.1", port: 4370 })
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Address = Schema.Struct({ host: Schema.String, port: Schema.Int })

/**
 * @category models
 * @since 0.1.0
 */
export type Address = typeof Address.Type

/**
 * A node's identity on the wire: its name and the incarnation of this run of it.
 *
 * A node that restarts gets a new incarnation, so anything minted by its previous life (pids,
 * monitors) can be recognised as dead.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Frame } from "effect-otp/wire"
 *
 * Schema.decodeUnknownSync(Frame.NodeIdentity)({ name: "a", incarnation: 42 })
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const NodeIdentity = Schema.Struct({ name: Schema.String, incarnation: Schema.Number })

/**
 * @category models
 * @since 0.1.0
 */
export type NodeIdentity = typeof NodeIdentity.Type

/**
 * The limits a node announces in its `Hello` or `Welcome`, so that its peer never sends it what it
 * would refuse. Both fields are optional: a node of an earlier release sends neither, and is then
 * assumed to accept messages up to the receiver's own limit, in whole frames only.
 *
 * - `maxFrameBytes`: the largest message (an encoded frame body, before any fragmentation) the
 *   node accepts. A larger message fails on the sender with `MessageTooLarge`.
 * - `fragmentBytes`: present if the node reassembles fragmented messages; the largest fragment
 *   data it accepts. A sender cuts larger messages into fragments of at most this size.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Frame } from "effect-otp/wire"
 *
 * Schema.decodeUnknownSync(Schema.Struct(Frame.LinkLimits))({ maxFrameBytes: 8388608, fragmentBytes: 65536 })
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const LinkLimits = {
  maxFrameBytes: Schema.optionalKey(Schema.Int),
  fragmentBytes: Schema.optionalKey(Schema.Int)
}

/**
 * First frame of a connection, sent by the dialing node once the TLS handshake (if any) is done,
 * with the dialer's {@link LinkLimits}.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * const hello: typeof Frame.Hello.Type = {
 *   _tag: "Hello",
 *   name: "a",
 *   incarnation: 1,
 *   version: Frame.protocolVersion,
 *   address: { host: "127.0.0.1", port: 4370 }
 * }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Hello = Schema.TaggedStruct("Hello", {
  name: Schema.String,
  incarnation: Schema.Number,
  version: Schema.Int,
  address: Schema.NullOr(Address),
  ...LinkLimits
})

/**
 * The accepting node's answer to a `Hello` it admits, with its {@link LinkLimits}; the link is up
 * once it is exchanged.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * const welcome: typeof Frame.Welcome.Type = {
 *   _tag: "Welcome",
 *   name: "b",
 *   incarnation: 7,
 *   version: Frame.protocolVersion,
 *   address: null
 * }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Welcome = Schema.TaggedStruct("Welcome", {
  name: Schema.String,
  incarnation: Schema.Number,
  version: Schema.Int,
  address: Schema.NullOr(Address),
  ...LinkLimits
})

/**
 * Why a handshake was refused.
 *
 * - `duplicate_name`: another live node with that name (a different incarnation) is connected.
 * - `version_mismatch`: the protocol versions differ.
 * - `self`: the node dialed itself.
 * - `identity_mismatch`: the name in `Hello` is not the authenticated TLS identity.
 * - `superseded`: the same node is already connected over another connection that wins the tie-break.
 * - `shutting_down`: the accepting node is leaving.
 * - `unexpected_peer`: the dialer expected another node name at that address.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Frame } from "effect-otp/wire"
 *
 * Schema.decodeUnknownSync(Frame.RejectReason)("duplicate_name")
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const RejectReason = Schema.Literals([
  "duplicate_name",
  "version_mismatch",
  "self",
  "identity_mismatch",
  "superseded",
  "shutting_down",
  "unexpected_peer"
])

/**
 * @category models
 * @since 0.1.0
 */
export type RejectReason = typeof RejectReason.Type

/**
 * The accepting node refuses the connection; it closes right after. `node` is the refusing node's
 * identity when it is useful to the dialer (for `superseded`: the link it already has with it).
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * const reject: typeof Frame.Reject.Type = {
 *   _tag: "Reject",
 *   reason: "shutting_down",
 *   message: 'node "b" is shutting down',
 *   node: null
 * }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Reject = Schema.TaggedStruct("Reject", {
  reason: RejectReason,
  message: Schema.String,
  node: Schema.NullOr(NodeIdentity)
})

/**
 * Sent before a node closes its links on a graceful shutdown: peers report `graceful_shutdown`.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * const goodbye: typeof Frame.Goodbye.Type = { _tag: "Goodbye" }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Goodbye = Schema.TaggedStruct("Goodbye", {})

/**
 * Asks a linked peer to show it is alive (answered with {@link Pong}): sent when another
 * incarnation of that peer's name connects, to tell a restart from a second live node.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * const ping: typeof Frame.Ping.Type = { _tag: "Ping" }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Ping = Schema.TaggedStruct("Ping", {})

/**
 * The answer to a {@link Ping}.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * const pong: typeof Frame.Pong.Type = { _tag: "Pong" }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Pong = Schema.TaggedStruct("Pong", {})

/**
 * Every control frame (the handshake, the goodbye, and the liveness probe).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Frame } from "effect-otp/wire"
 *
 * const isControl = Schema.is(Frame.ControlFrame)
 * isControl({ _tag: "Goodbye" }) // true
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const ControlFrame = Schema.Union([Hello, Welcome, Reject, Goodbye, Ping, Pong])

/**
 * @category models
 * @since 0.1.0
 */
export type ControlFrame = typeof ControlFrame.Type

/**
 * A data frame: the channel name and the payload as encoded by the channel's Schema.
 *
 * The hot path checks this shape inline (an array whose first element is a string) instead of
 * running the Schema; the payload itself is always decoded with the channel's Schema.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Frame } from "effect-otp/wire"
 *
 * Schema.decodeUnknownSync(Frame.DataFrame)(["example.ping", { seq: 1 }])
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const DataFrame = Schema.Tuple([Schema.String, Schema.Unknown])

/**
 * @category models
 * @since 0.1.0
 */
export type DataFrame = typeof DataFrame.Type
