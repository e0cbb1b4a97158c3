/**
 * Distribution frames as the engine sends and receives them: the sending channel (with the compact
 * forms of the hot frames), and the conversions between runtime values and their wire forms.
 *
 * @internal
 */
import { Cause, Schema } from "effect"
import * as ExitReason from "../../Process/ExitReason.ts"
import * as Pid from "../../Process/Pid.ts"
import { RemoteName } from "../../Process/RemoteName.ts"
import type * as Channel from "../../Transport/Channel.ts"
import {
  channel,
  DistFrame,
  RemoteFailure,
  type WirePid,
  type WireReason,
  type WireTarget
} from "../DistributionFrame.ts"
import * as Compact from "./compactFrames.ts"

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
  // A kind from a newer node: dropped, not a broken link (rolling upgrades add kinds); a request
  // (it has a ref) is answered with Unsupported.
  if (typeof tag === "string") {
    const ref = (payload as { ref?: unknown }).ref
    return typeof ref === "number" ? { _tag: "Unknown", kind: tag, ref } : { _tag: "Unknown", kind: tag }
  }
  // Anything else is refused by the union's own decoder, with its message.
  return channel.decode(payload)
}

/**
 * The channel as distribution uses it. Send, Call, Reply and Cast travel in a positional form
 * (see `internal/compactFrames.ts`), the other frames as they are (every field is a primitive, a
 * literal or an opaque payload, so their encoded form is the value itself). Received frames are
 * decoded with the schema of their form or kind.
 *
 */
export const sendingChannel: Channel.Channel<DistFrame> = { ...channel, encode: Compact.encode, decode: decodeFrame }

export const toWirePid = (pid: Pid.Pid): WirePid => ({ node: pid.node, id: pid.id, incarnation: pid.incarnation })

export const fromWirePid = (pid: WirePid): Pid.Pid => Pid.make(pid.node, pid.id, pid.incarnation)

/** The target as the receiving node sees it. */
export const toWireTarget = (target: Pid.Pid | RemoteName): WireTarget =>
  target instanceof RemoteName ? { name: target.name } : toWirePid(target)

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
    default: {
      // A reason of a newer release: abnormal, so that a link still propagates it.
      const tag = reason.tag.slice(0, 64)
      const cause = `an exit reason this node does not know ("${tag}", from a newer node)`
      return ExitReason.failure(
        Cause.fail(
          new RemoteFailure({ node, cause: reason.detail === undefined ? cause : `${cause}: ${reason.detail}` })
        )
      )
    }
  }
}

/** The W3C `traceparent` of a span. */
export const traceparentOf = (span: { traceId: string; spanId: string; sampled: boolean } | undefined) =>
  span === undefined ? undefined : `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** Parses a W3C `traceparent`. */
export const parseTraceparent = (
  value: string | undefined
): { readonly traceId: string; readonly spanId: string; readonly sampled: boolean } | undefined => {
  if (value === undefined) return undefined
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value)
  if (match === null) return undefined
  return { traceId: match[1]!, spanId: match[2]!, sampled: (parseInt(match[3]!, 16) & 1) === 1 }
}
