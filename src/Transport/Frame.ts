/**
 * The frames of the wire protocol and their Schemas.
 *
 * A frame body is one MessagePack value. Control frames (handshake, goodbye, liveness probe) are
 * maps tagged with `_tag`; data frames are arrays `[channel, payload]` whose payload is encoded by
 * the channel's own Schema (see `Channel`).
 *
 * ## Protocol versions
 *
 * Each node speaks a range of protocol versions ({@link minProtocolVersion}..{@link protocolVersion})
 * and announces it in its `Hello`; the accepting node picks the highest version both speak and
 * names it in its `Welcome` (the link's version, {@link negotiate}). Nodes with no common version
 * refuse each other (`version_mismatch`, logged on both sides, `HandshakeRejected` on the dialer).
 *
 * - **1**: the pre-release wire (until session 4 of the project). `Hello.version` was the one
 *   version a node spoke, and any other was refused. Never released.
 * - **2**: the first released protocol. Adds the liveness probe (`Ping`/`Pong`), the message limits
 *   of the handshake (`maxFrameBytes`, `fragmentBytes`) with fragmented large messages, per-process
 *   credit (the `Credit` distribution frame), the positional forms of `Send`/`Call`/`Reply`/`Cast`,
 *   and `Unsupported` answers. A node of version 1 dropped `Credit` frames, so a sender would stall
 *   on it: version 1 is not spoken any more. `Hello` gains `minVersion`.
 *
 * ## Compatibility rules (what every version keeps, so that rolling updates work)
 *
 * - Within a version, frames only grow: a newer release may add fields to map frames and
 *   elements at the end of positional frames and data frames; receivers ignore what they do not
 *   know. A field is never removed, retyped or given another meaning within a version. (Version 2
 *   itself grew so: a `Call` carries its caller's timeout as a 7th element, and `Hello`/`Welcome`
 *   gained `outOfBand`, which a sender needs before it uses fragments of kind 3.)
 * - The enumerated fields a release may extend are decoded as strings, and a value the receiver
 *   does not know fails only what it answers, never the link: a `Reply` outcome (that call fails
 *   with `RemoteDecodeError`), an exit reason's `tag` (an abnormal failure naming it), a `Spawned`
 *   error's `kind` (that spawn fails with `RemoteDecodeError`), a `Stopped` outcome (that stop
 *   dies), a heartbeat's `status` (taken as `running`). A new value whose generic handling is
 *   acceptable on older nodes may be added within a version; one that older nodes must
 *   understand needs a new version. Every other enumerated field (`Reject.reason` aside, see
 *   below) and every field's type is fixed: a frame whose known fields fail their schema closes
 *   the link as a broken peer.
 * - A new kind of control or distribution frame that an older node must act on (not merely drop,
 *   or answer `Unsupported`), a new enumerated value it must understand, or a changed meaning,
 *   needs a new version, and a node sends it only on links that negotiated that version: the
 *   distribution engine reads each link's version (`LinkInfo.version`) before it sends such a
 *   shape. Today that check guards the refusals of a stopping node (the `stopping` reply outcome
 *   and the `node_stopping` spawn failure, sent to links of version 2 or later, which is every
 *   link); a version 3 adding a shape would add its own check.
 * - A control frame of an unknown kind on an open link is logged and ignored; a distribution frame
 *   of an unknown kind is logged and dropped, and if it carries a numeric `ref` (a request) it is
 *   answered with `Unsupported`, so its sender fails that request at once instead of waiting.
 * - A `Reject` comes before any version is agreed, so a newer release may add reasons: one this
 *   release does not know fails the dial (`ConnectFailed`, kind `protocol`) with the peer's message.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The highest cluster protocol version this node speaks (sent as `version` in its `Hello`). See
 * the module's documentation for the history of versions.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * Frame.protocolVersion // 2
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const protocolVersion = 2

/**
 * The lowest cluster protocol version this node speaks (sent as `minVersion` in its `Hello`). A
 * peer whose range does not reach it is refused with `version_mismatch`.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * Frame.minProtocolVersion // 2
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const minProtocolVersion = 2

/**
 * A range of protocol versions, both ends included.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * const speaks: Frame.VersionRange = { min: Frame.minProtocolVersion, max: Frame.protocolVersion }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface VersionRange {
  readonly min: number
  readonly max: number
}

/**
 * The version a link between two nodes speaks: the highest version in both ranges, or `undefined`
 * if they have none in common (the handshake is then refused with `version_mismatch`).
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * Frame.negotiate({ min: 2, max: 2 }, { min: 2, max: 3 }) // 2
 * Frame.negotiate({ min: 2, max: 2 }, { min: 3, max: 3 }) // undefined
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const negotiate = (ours: VersionRange, theirs: VersionRange): number | undefined => {
  const highest = Math.min(ours.max, theirs.max)
  return highest >= Math.max(ours.min, theirs.min) ? highest : undefined
}

/**
 * A range as the logs show it: `2`, or `2..3`.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * Frame.formatRange({ min: 2, max: 3 }) // "2..3"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const formatRange = (range: VersionRange): string =>
  range.min === range.max ? `${range.max}` : `${range.min}..${range.max}`

/**
 * The range a `Hello` announces: `minVersion` (absent from a node of version 1: it spoke only
 * `version`) to `version`.
 *
 * @example
 * ```ts
 * import { Frame } from "effect-otp/wire"
 *
 * Frame.helloRange({ version: 3, minVersion: 2 }) // { min: 2, max: 3 }
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const helloRange = (hello: { readonly version: number; readonly minVersion?: number }): VersionRange => ({
  min: hello.minVersion !== undefined && hello.minVersion <= hello.version ? hello.minVersion : hello.version,
  max: hello.version
})

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
 * - `outOfBand`: `true` if the node also reassembles messages whose large strings and binaries
 *   travel out of band (fragments of kind 3, added within version 2): a sender then streams those
 *   values a fragment at a time instead of encoding the whole message at once. Absent (an earlier
 *   release): such messages go to it as plain MessagePack in fragments.
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
  fragmentBytes: Schema.optionalKey(Schema.Int),
  outOfBand: Schema.optionalKey(Schema.Boolean)
}

/**
 * First frame of a connection, sent by the dialing node once the TLS handshake (if any) is done,
 * with the dialer's {@link LinkLimits} and the range of protocol versions it speaks: `version` is
 * the highest, `minVersion` the lowest (absent: `version` only).
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
 *   minVersion: Frame.minProtocolVersion,
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
  minVersion: Schema.optionalKey(Schema.Int),
  address: Schema.NullOr(Address),
  ...LinkLimits
})

/**
 * The accepting node's answer to a `Hello` it admits, with its {@link LinkLimits}; the link is up
 * once it is exchanged. `version` is the version of the link (see {@link negotiate}): the dialer
 * refuses a Welcome whose version it does not speak.
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
 * - `version_mismatch`: the two nodes speak no common protocol version.
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
 * Every control frame (the handshake, the goodbye, and the liveness probe). Every one of them
 * decodes with fields it does not know (from a newer release) ignored; a control frame of another
 * kind on an open link is logged and ignored, during the handshake it closes the connection.
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
 * A data frame: the channel name and the payload as encoded by the channel's Schema. Elements
 * after the payload (from a newer release) are ignored.
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
export const DataFrame = Schema.TupleWithRest(Schema.Tuple([Schema.String, Schema.Unknown]), [Schema.Unknown])

/**
 * @category models
 * @since 0.1.0
 */
export type DataFrame = typeof DataFrame.Type
