/**
 * The frames of distribution (remote send, call, cast, exit signals, links, monitors, spawn) and
 * their wire forms. They travel on one transport channel, `otp.dist`. User payloads inside them
 * (requests, replies, start arguments) are already encoded with their own schemas, so the frame
 * schema carries them as opaque values and a payload that fails to decode fails only its own
 * call, never the link.
 *
 * @since 0.1.0
 */
import { Cause, Schema } from "effect"
import * as ExitReason from "../Process/ExitReason.ts"
import * as Pid from "../Process/Pid.ts"
import { RemoteName } from "../Process/RemoteName.ts"
import * as Channel from "../Transport/Channel.ts"
import * as Compact from "./internal/compactFrames.ts"

/** A pid on the wire. @since 0.1.0 */
export const WirePid = Schema.Struct({ node: Schema.String, id: Schema.Number, incarnation: Schema.Number })
/** @since 0.1.0 */
export type WirePid = typeof WirePid.Type

/** A target on the wire: a pid, or a name registered on the receiving node. @since 0.1.0 */
export const WireTarget = Schema.Union([WirePid, Schema.Struct({ name: Schema.String })])
/** @since 0.1.0 */
export type WireTarget = typeof WireTarget.Type

/**
 * An exit reason on the wire. A `Failure` travels as its pretty-printed cause (the Cause's values
 * are not necessarily serialisable) and arrives as a {@link RemoteFailure}.
 *
 * @since 0.1.0
 */
export const WireReason = Schema.Struct({
  tag: Schema.Literals(["Normal", "Shutdown", "Killed", "NoProc", "NoConnection", "Failure"]),
  detail: Schema.optional(Schema.String)
})
/** @since 0.1.0 */
export type WireReason = typeof WireReason.Type

/**
 * The failure of a process on another node, as it arrives here: its node and its pretty-printed
 * cause.
 *
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
  "defect"
])
/** @since 0.1.0 */
export type ReplyOutcome = typeof ReplyOutcome.Type

const Trace = Schema.optional(Schema.String)

/** @since 0.1.0 */
export const DistFrame = Schema.Union([
  Schema.TaggedStruct("Send", { to: WireTarget, message: Schema.Unknown }),
  Schema.TaggedStruct("Call", {
    ref: Schema.Number,
    to: WireTarget,
    tag: Schema.String,
    payload: Schema.Unknown,
    traceparent: Trace
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
    timeout: Schema.NullOr(Schema.Number)
  }),
  Schema.TaggedStruct("Stopped", {
    ref: Schema.Number,
    outcome: Schema.Literals(["ok", "noproc", "timeout", "not_genserver"]),
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
    timeout: Schema.Number
  }),
  /**
   * Never sent: what a frame of a kind this node does not know decodes to (one from a newer
   * version of this library). It is logged and dropped; the link stays up.
   */
  Schema.TaggedStruct("Unknown", { kind: Schema.String }),
  Schema.TaggedStruct("Spawned", {
    ref: Schema.Number,
    pid: Schema.optional(WirePid),
    error: Schema.optional(
      Schema.Struct({
        kind: Schema.Literals(["unknown_behaviour", "bad_args", "init_failed", "name_taken"]),
        detail: Schema.String,
        reason: Schema.optional(WireReason)
      })
    )
  })
])
/** @since 0.1.0 */
export type DistFrame = typeof DistFrame.Type

/**
 * The transport channel distribution frames travel on.
 *
 * @since 0.1.0
 */
export const channel = Channel.make("otp.dist", DistFrame)

/** One decoder per frame kind, chosen by `_tag`: the union's checks, without trying members. */
const decoders = new Map<unknown, (payload: unknown) => DistFrame>(
  DistFrame.members.map((member) => [member.fields._tag.schema.literal, Schema.decodeUnknownSync(member)])
)

const decodeFrame = (payload: unknown): DistFrame => {
  const compact = Compact.decode(payload)
  if (compact !== undefined) return compact
  const tag = typeof payload === "object" && payload !== null ? (payload as { _tag?: unknown })._tag : undefined
  const decode = decoders.get(tag)
  if (decode !== undefined && tag !== "Unknown") return decode(payload)
  // A kind from a newer node: dropped, not a broken link (rolling upgrades add kinds).
  if (typeof tag === "string") return { _tag: "Unknown", kind: tag }
  // Anything else is refused by the union's own decoder, with its message.
  return channel.decode(payload)
}

/**
 * The channel as distribution uses it. Send, Call, Reply and Cast travel in a positional form
 * (see `internal/compactFrames.ts`), the other frames as they are (every field is a primitive, a
 * literal or an opaque payload, so their encoded form is the value itself). Received frames are
 * decoded with the schema of their form or kind.
 *
 * @internal
 */
export const sendingChannel: Channel.Channel<DistFrame> = { ...channel, encode: Compact.encode, decode: decodeFrame }

/** @internal */
export const toWirePid = (pid: Pid.Pid): WirePid => ({ node: pid.node, id: pid.id, incarnation: pid.incarnation })

/** @internal */
export const fromWirePid = (pid: WirePid): Pid.Pid => Pid.make(pid.node, pid.id, pid.incarnation)

/** The target as the receiving node sees it. @internal */
export const toWireTarget = (target: Pid.Pid | RemoteName): WireTarget =>
  target instanceof RemoteName ? { name: target.name } : toWirePid(target)

/** @internal */
export const toWireReason = (reason: ExitReason.ExitReason): WireReason => {
  switch (reason._tag) {
    case "Shutdown":
      return reason.detail === undefined ? { tag: "Shutdown" } : { tag: "Shutdown", detail: String(reason.detail) }
    case "Failure":
      return { tag: "Failure", detail: ExitReason.format(reason) }
    default:
      return { tag: reason._tag }
  }
}

/** @internal */
export const fromWireReason = (reason: WireReason, node: string): ExitReason.ExitReason => {
  switch (reason.tag) {
    case "Normal":
      return ExitReason.normal
    case "Shutdown":
      return ExitReason.shutdown(reason.detail)
    case "Killed":
      return ExitReason.killed
    case "NoProc":
      return ExitReason.noproc
    case "NoConnection":
      return ExitReason.noconnection
    case "Failure":
      return ExitReason.failure(Cause.fail(new RemoteFailure({ node, cause: reason.detail ?? "unknown" })))
  }
}

/** The W3C `traceparent` of a span. @internal */
export const traceparentOf = (span: { traceId: string; spanId: string; sampled: boolean } | undefined) =>
  span === undefined ? undefined : `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** Parses a W3C `traceparent`. @internal */
export const parseTraceparent = (
  value: string | undefined
): { readonly traceId: string; readonly spanId: string; readonly sampled: boolean } | undefined => {
  if (value === undefined) return undefined
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value)
  if (match === null) return undefined
  return { traceId: match[1]!, spanId: match[2]!, sampled: (parseInt(match[3]!, 16) & 1) === 1 }
}
