/**
 * The frames of distribution (remote send, call, cast, exit signals, links, monitors, spawn) and
 * their wire forms. They travel on one transport channel, `otp.dist`. User payloads inside them
 * (requests, replies, start arguments) are already encoded with their own schemas, so the frame
 * schema carries them as opaque values and a payload that fails to decode fails only its own
 * call, never the link.
 *
 * Rolling updates (see `Frame` for the version rules): fields a frame kind does not define, and
 * elements after the last one of a positional form, are ignored; a frame of a kind this node does
 * not know is logged and dropped, and answered with `Unsupported` if it carries a numeric `ref`
 * (a request: its sender fails it at once with `RemoteDecodeError` instead of waiting for its
 * timeout). The fields of an enumerated meaning that a newer release may extend are decoded as
 * strings, and a value this release does not know is mapped to a generic failure of that one
 * request or signal: a `Reply` outcome (the call fails with `RemoteDecodeError`), an exit reason's
 * `tag` (a failure, see {@link WireReason}), a `Spawned` error's `kind` (the spawn fails with
 * `RemoteDecodeError` naming the kind and its detail), a `Stopped` outcome (the stop dies with a
 * defect naming it). A frame of a known kind whose defined fields do not
 * match their schema is a broken peer: that connection is closed (the node reconnects).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Channel from "../Transport/Channel.ts"

/**
 * A pid on the wire.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { DistributionFrame } from "effect-otp/wire"
 *
 * Schema.decodeUnknownSync(DistributionFrame.WirePid)({ node: "b", id: 12, incarnation: 7 })
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const WirePid = Schema.Struct({ node: Schema.String, id: Schema.Number, incarnation: Schema.Number })
/**
 * @category models
 * @since 0.1.0
 */
export type WirePid = typeof WirePid.Type

/**
 * A target on the wire: a pid, or a name registered on the receiving node.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { DistributionFrame } from "effect-otp/wire"
 *
 * Schema.decodeUnknownSync(DistributionFrame.WireTarget)({ name: "kv" })
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const WireTarget = Schema.Union([WirePid, Schema.Struct({ name: Schema.String })])
/**
 * @category models
 * @since 0.1.0
 */
export type WireTarget = typeof WireTarget.Type

/**
 * An exit reason on the wire. `tag` is one of `Normal`, `Shutdown`, `Killed`, `NoProc`,
 * `NoConnection`, `Failure`. A `Failure` travels as its pretty-printed cause (the Cause's values
 * are not necessarily serialisable) and arrives as a {@link RemoteFailure}.
 *
 * Rolling updates: `tag` is decoded as any string, so a newer release may add reasons. One this
 * release does not know arrives as a failure (abnormal: it kills a linked process that does not
 * trap exits, and a `Down` or a call's `ServerExited` carries it), whose cause names the tag and
 * its `detail`; the frame is handled and the link stays up.
 *
 * @example
 * ```ts
 * import { DistributionFrame } from "effect-otp/wire"
 *
 * const reason: DistributionFrame.WireReason = { tag: "Shutdown", detail: "maintenance" }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const WireReason = Schema.Struct({
  tag: Schema.String,
  detail: Schema.optional(Schema.String)
})
/**
 * @category models
 * @since 0.1.0
 */
export type WireReason = typeof WireReason.Type

/**
 * The failure of a process on another node, as it arrives here (in a remote exit reason, a
 * `Down`, an `InitFailed`): its node and its pretty-printed cause.
 *
 * @example
 * ```ts
 * import { DistributionFrame } from "effect-otp/wire"
 *
 * new DistributionFrame.RemoteFailure({ node: "b", cause: "Error: boom" }).message // "on b: Error: boom"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RemoteFailure extends Schema.TaggedError<RemoteFailure>()("RemoteFailure", {
  node: Schema.String,
  cause: Schema.String
}) {
  override get message(): string {
    return `on ${this.node}: ${this.cause}`
  }
}

/**
 * How a remote call ended, as the reply frame says.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { DistributionFrame } from "effect-otp/wire"
 *
 * Schema.decodeUnknownSync(DistributionFrame.ReplyOutcome)("noproc")
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const ReplyOutcome = Schema.Literals([
  /** `value` is the encoded success. */
  "ok",
  /** `value` is the encoded declared error. */
  "error",
  /** The server exited before replying; `reason` says why. */
  "exited",
  /** No such process (dead, unknown name, previous incarnation). */
  "noproc",
  /** The server's mailbox was full (policy `fail`). */
  "full",
  /** The server could not decode the request; `detail` says why. */
  "badrequest",
  /** The server could not encode its reply; `detail` says why. */
  "badreply",
  /** The handler died with a defect that is not an exit; `detail` has it. */
  "defect",
  /** The node is shutting down and refuses new calls (the caller fails with `NodeDown`, reason `stopping`). */
  "stopping"
])
/**
 * @category models
 * @since 0.1.0
 */
export type ReplyOutcome = typeof ReplyOutcome.Type

/**
 * The W3C `traceparent` of the sender's span, on the frames whose handling is traced as its child
 * (Send, Call, Cast, Stop, Spawn). Optional: a frame without it (from an untraced sender, or from an
 * older node) still decodes, and an older node ignores it in the map-form frames.
 */
const Trace = Schema.optional(Schema.String)

/**
 * Every distribution frame: `Send`, `Call`/`Reply`, `Cast`, `Exit`, `Stop`/`Stopped`,
 * `Link`/`Unlink`, `Monitor`/`Demonitor`/`Down`, `Spawn`/`Spawned`, `Credit`, `Unsupported`, and
 * `Unknown` (what a frame of a kind this node does not know decodes to: it is logged once and
 * dropped, the link stays up; one with a numeric `ref` is answered with `Unsupported`).
 *
 * @example
 * ```ts
 * import { DistributionFrame } from "effect-otp/wire"
 *
 * const send: DistributionFrame.DistFrame = { _tag: "Send", to: { name: "logger" }, message: "hello" }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const DistFrame = Schema.Union([
  Schema.TaggedStruct("Send", { to: WireTarget, message: Schema.Unknown, traceparent: Trace }),
  Schema.TaggedStruct("Call", {
    ref: Schema.Number,
    to: WireTarget,
    tag: Schema.String,
    payload: Schema.Unknown,
    traceparent: Trace,
    /**
     * The caller's timeout in milliseconds (absent: none, or a node that does not send it). The
     * server's node stops counting the call as being served (for the drain of a graceful
     * shutdown) once that long has passed since it arrived: nobody waits for its answer then. It
     * travels as the 7th element of the positional form, which older nodes ignore.
     */
    timeout: Schema.optional(Schema.Number)
  }),
  Schema.TaggedStruct("Reply", {
    ref: Schema.Number,
    outcome: ReplyOutcome,
    value: Schema.optional(Schema.Unknown),
    reason: Schema.optional(WireReason),
    /** For `exited`: the server's pid (the target may have been a name). */
    server: Schema.optional(WirePid),
    detail: Schema.optional(Schema.String)
  }),
  Schema.TaggedStruct("Cast", { to: WireTarget, tag: Schema.String, payload: Schema.Unknown, traceparent: Trace }),
  /** An exit signal; `link` says it comes from a link (which is then gone). */
  Schema.TaggedStruct("Exit", {
    from: WirePid,
    to: WireTarget,
    reason: WireReason,
    kill: Schema.Boolean,
    link: Schema.Boolean
  }),
  /**
   * `GenServer.stop` of a server on the receiving node: it terminates with `reason`, and is killed
   * after `timeout` ms (null: no limit). Answered by `Stopped`.
   */
  Schema.TaggedStruct("Stop", {
    ref: Schema.Number,
    to: WireTarget,
    reason: WireReason,
    timeout: Schema.NullOr(Schema.Number),
    traceparent: Trace
  }),
  Schema.TaggedStruct("Stopped", {
    ref: Schema.Number,
    /** `ok`, `noproc`, `timeout` or `not_genserver`; any other (a newer node's) fails the stop with a defect. */
    outcome: Schema.String,
    detail: Schema.optional(Schema.String)
  }),
  Schema.TaggedStruct("Link", { from: WirePid, to: WirePid }),
  Schema.TaggedStruct("Unlink", { from: WirePid, to: WirePid }),
  Schema.TaggedStruct("Monitor", { ref: Schema.Number, watcher: WirePid, to: WireTarget }),
  Schema.TaggedStruct("Demonitor", { ref: Schema.Number, watcher: WirePid }),
  Schema.TaggedStruct("Down", { ref: Schema.Number, watcher: WirePid, pid: WirePid, reason: WireReason }),
  Schema.TaggedStruct("Spawn", {
    ref: Schema.Number,
    behaviour: Schema.String,
    args: Schema.Unknown,
    name: Schema.optional(Schema.String),
    /** Link the new process to this pid before it runs. */
    linkTo: Schema.optional(WirePid),
    /** Monitor the new process on behalf of this pid, with this ref. */
    monitor: Schema.optional(Schema.Struct({ watcher: WirePid, ref: Schema.Number })),
    timeout: Schema.Number,
    traceparent: Trace
  }),
  /**
   * Never sent: what a frame of a kind this node does not know decodes to (one from a newer
   * version of this library). It is logged and dropped; the link stays up.
   */
  Schema.TaggedStruct("Unknown", { kind: Schema.String, ref: Schema.optional(Schema.Number) }),
  /**
   * The answer to a request (a frame with a `ref`) of a kind the receiving node does not know: the
   * pending call, stop or spawn with that `ref` fails at once with `RemoteDecodeError`. Never
   * answered itself.
   */
  Schema.TaggedStruct("Unsupported", { ref: Schema.Number, kind: Schema.String }),
  /**
   * Credit back to the sender of messages (sends, casts, calls) to `to`, a process of the node
   * that sends this frame, addressed as the sender addressed it: `grant` more messages may be on
   * their way. `full`, the mailbox's capacity, says its mailbox is full with policy `fail`: sends
   * fail with `MailboxFull` until a `Credit` without it. See docs/ARCHITECTURE.md.
   */
  Schema.TaggedStruct("Credit", { to: WireTarget, grant: Schema.Number, full: Schema.optional(Schema.Number) }),
  Schema.TaggedStruct("Spawned", {
    ref: Schema.Number,
    pid: Schema.optional(WirePid),
    error: Schema.optional(
      Schema.Struct({
        /**
         * `unknown_behaviour`, `bad_args`, `init_failed`, `name_taken` or `node_stopping`; any other
         * (a newer node's) fails the spawn with `RemoteDecodeError`, the link stays up.
         */
        kind: Schema.String,
        detail: Schema.String,
        reason: Schema.optional(WireReason)
      })
    )
  })
])
/**
 * @category models
 * @since 0.1.0
 */
export type DistFrame = typeof DistFrame.Type

/**
 * The transport channel distribution frames travel on.
 *
 * @example
 * ```ts
 * import { DistributionFrame } from "effect-otp/wire"
 *
 * DistributionFrame.channel.name // "otp.dist"
 * ```
 *
 * @category channels
 * @since 0.1.0
 */
export const channel = Channel.make("otp.dist", DistFrame)
