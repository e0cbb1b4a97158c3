/**
 * The positional wire form of the hot distribution frames (Send, Call, Reply, Cast).
 *
 * On the wire these four travel as arrays (`["C", ref, to, tag, payload, traceparent]`) rather than
 * maps: MessagePack then writes no keys, which halves the encoding and decoding cost of a call's
 * two frames. Each form has its own Schema, checked on receipt like every other frame; the
 * engine sees the same object frames either way. The other frame kinds keep their map form, and so
 * does a Send with a `traceparent`: its positional form has no room for one, and the map form is
 * one that every node decodes (an older one ignores the field).
 *
 * A `Call` may carry a 7th element, its caller's timeout in milliseconds (sent when finite): a node
 * that does not know it ignores it, as any element after the last one of a form.
 *
 * Rolling updates: elements after the last one a form defines (a newer release's) are ignored, and
 * a `Reply` with an outcome this release does not know fails its call with `RemoteDecodeError`
 * (as a `badreply`) instead of closing the link.
 *
 * @internal
 */
import { Schema } from "effect"
import { SchemaJITCompiler } from "effect/schema"
import { type DistFrame, ReplyOutcome, WireReason, type WirePid, type WireTarget } from "../DistributionFrame.ts"
import type { ReplyOutcome as Outcome } from "../DistributionFrame.ts"

const CompactPid = Schema.Tuple([Schema.String, Schema.Number, Schema.Number])
/** A pid as `[node, id, incarnation]`, or a registered name as a string. */
const CompactTarget = Schema.Union([Schema.String, CompactPid])
const Trace = Schema.NullOr(Schema.String)

/**
 * A positional form: exactly these elements. A frame with more (a newer release's) is cut to them
 * before it is decoded: a plain tuple decodes about 20% faster than one with a rest element, and a
 * frame of this release's length is not copied.
 */
const Form = <S extends Schema.ConstraintDecoder<unknown> & { readonly elements: ReadonlyArray<unknown> }>(
  schema: S
) => {
  const decode = compiled(schema)
  const length = schema.elements.length
  return (payload: ReadonlyArray<unknown>): S["Type"] =>
    decode(payload.length > length ? payload.slice(0, length) : payload)
}

/**
 * The decoders of the four forms, built on first use: they refer to schemas of
 * `DistributionFrame.ts`, which imports this module.
 */
const makeDecoders = () => ({
  /** The reply outcomes this release knows. */
  outcomes: new Set<string>(ReplyOutcome.literals),
  /** `["S", to, message]` */
  send: Form(Schema.Tuple([Schema.Literal("S"), CompactTarget, Schema.Unknown])),
  /** `["C", ref, to, tag, payload, traceparent]`, then the caller's timeout (read apart: see `decode`) */
  call: Form(Schema.Tuple([Schema.Literal("C"), Schema.Number, CompactTarget, Schema.String, Schema.Unknown, Trace])),
  /** `["C", ref, to, tag, payload, traceparent, timeout]`: the form with the caller's timeout. */
  timedCall: Form(
    Schema.Tuple([
      Schema.Literal("C"),
      Schema.Number,
      CompactTarget,
      Schema.String,
      Schema.Unknown,
      Trace,
      Schema.Number
    ])
  ),
  /** `["R", ref, outcome, value, reason, server, detail]` */
  reply: Form(
    Schema.Tuple([
      Schema.Literal("R"),
      Schema.Number,
      // Checked against the outcomes this release knows after decoding (see `decode`).
      Schema.String,
      Schema.Unknown,
      Schema.NullOr(WireReason),
      Schema.NullOr(CompactPid),
      Schema.NullOr(Schema.String)
    ])
  ),
  /** `["K", to, tag, payload, traceparent]` */
  cast: Form(Schema.Tuple([Schema.Literal("K"), CompactTarget, Schema.String, Schema.Unknown, Trace]))
})

/**
 * A synchronous decoder compiled to plain JavaScript by Effect's schema JIT (about 3x faster than
 * the interpreter on these tuples; it falls back to the interpreter where code generation is not
 * allowed). Only these internal schemas are compiled, never an application's.
 */
const compiled = <S extends Schema.ConstraintDecoder<unknown>>(schema: S) => {
  SchemaJITCompiler.enable(schema.ast)
  return Schema.decodeUnknownSync(schema)
}

let decoders: ReturnType<typeof makeDecoders> | undefined

type Compact = typeof CompactPid.Type

const toCompactPid = (pid: WirePid): Compact => [pid.node, pid.id, pid.incarnation]
const fromCompactPid = ([node, id, incarnation]: Compact): WirePid => ({ node, id, incarnation })
const toCompactTarget = (target: WireTarget): string | Compact =>
  "name" in target ? target.name : toCompactPid(target)
const fromCompactTarget = (target: string | Compact): WireTarget =>
  typeof target === "string" ? { name: target } : fromCompactPid(target)

/** The wire form of a frame: positional for the hot kinds, the frame itself for the others. */
export const encode = (frame: DistFrame): unknown => {
  switch (frame._tag) {
    case "Send":
      return frame.traceparent === undefined ? ["S", toCompactTarget(frame.to), frame.message] : frame
    case "Call":
      return frame.timeout === undefined
        ? ["C", frame.ref, toCompactTarget(frame.to), frame.tag, frame.payload, frame.traceparent ?? null]
        : [
            "C",
            frame.ref,
            toCompactTarget(frame.to),
            frame.tag,
            frame.payload,
            frame.traceparent ?? null,
            frame.timeout
          ]
    case "Reply":
      return [
        "R",
        frame.ref,
        frame.outcome,
        frame.value,
        frame.reason ?? null,
        frame.server === undefined ? null : toCompactPid(frame.server),
        frame.detail ?? null
      ]
    case "Cast":
      return ["K", toCompactTarget(frame.to), frame.tag, frame.payload, frame.traceparent ?? null]
    default:
      return frame
  }
}

/**
 * Decodes a positional frame (throws a `SchemaError` if it does not match its form), or returns
 * `undefined` when the payload is not one: the caller decodes map frames.
 */
export const decode = (payload: unknown): DistFrame | undefined => {
  if (!Array.isArray(payload)) return undefined
  const {
    send: decodeSend,
    call: decodeCall,
    timedCall: decodeTimedCall,
    reply: decodeReply,
    cast: decodeCast,
    outcomes: knownOutcomes
  } = (decoders ??= makeDecoders())
  switch (payload[0]) {
    case "S": {
      const [, to, message] = decodeSend(payload)
      return { _tag: "Send", to: fromCompactTarget(to), message }
    }
    case "C": {
      // The caller's timeout, a trailing element that older nodes neither send nor read: anything
      // but a finite, non-negative number there (a newer node's meaning) is ignored. A frame of
      // exactly this release's form is decoded as it is, without a copy.
      const last = payload[6]
      const timeout = typeof last === "number" && Number.isFinite(last) && last >= 0 ? last : undefined
      const [, ref, to, tag, body, traceparent] =
        timeout !== undefined && payload.length === 7 ? decodeTimedCall(payload) : decodeCall(payload)
      const target = fromCompactTarget(to)
      if (timeout === undefined) {
        return traceparent === null
          ? { _tag: "Call", ref, to: target, tag, payload: body }
          : { _tag: "Call", ref, to: target, tag, payload: body, traceparent }
      }
      return traceparent === null
        ? { _tag: "Call", ref, to: target, tag, payload: body, timeout }
        : { _tag: "Call", ref, to: target, tag, payload: body, traceparent, timeout }
    }
    case "R": {
      const [, ref, outcome, value, reason, server, detail] = decodeReply(payload)
      if (!knownOutcomes.has(outcome)) {
        return {
          _tag: "Reply",
          ref,
          outcome: "badreply",
          detail: `the reply has an outcome this node does not know ("${outcome.slice(0, 64)}", from a newer node)`
        }
      }
      return {
        _tag: "Reply",
        ref,
        outcome: outcome as Outcome,
        ...(value === undefined ? {} : { value }),
        ...(reason === null ? {} : { reason }),
        ...(server === null ? {} : { server: fromCompactPid(server) }),
        ...(detail === null ? {} : { detail })
      }
    }
    case "K": {
      const [, to, tag, body, traceparent] = decodeCast(payload)
      const frame = { _tag: "Cast" as const, to: fromCompactTarget(to), tag, payload: body }
      return traceparent === null ? frame : { ...frame, traceparent }
    }
    default:
      // A positional kind from a newer node is dropped; anything else is refused with the Send
      // form's message.
      return typeof payload[0] === "string" && payload[0].length > 0
        ? { _tag: "Unknown", kind: payload[0] }
        : (decodeSend(payload) as never)
  }
}
