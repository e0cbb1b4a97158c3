/**
 * The frames of the global registry's channel (`effect-otp.global`), between the registries of two
 * nodes. See `GlobalRegistry.ts` for the protocol.
 *
 * @internal
 */
import { Schema } from "effect"
import * as Channel from "../../Transport/Channel.ts"

const WirePid = Schema.Struct({ node: Schema.String, id: Schema.Number, incarnation: Schema.Number })
/** A pid as it travels. */
export type WirePid = typeof WirePid.Type

const Method = Schema.Literals(["exitLoser", "notifyLoser", "unregisterBoth"])

/**
 * Which grant made a registration: the granting arbiter's registry (`node:epoch`, new each time a
 * registry starts) and its grant number (1, 2, ... in the order it sent them).
 */
const Grant = Schema.Struct({ by: Schema.String, seq: Schema.Number })
/** Which grant made a registration. */
export type Grant = typeof Grant.Type

const WireClaim = Schema.Struct({ name: Schema.String, pid: WirePid, method: Method, grant: Schema.optionalKey(Grant) })
/** One registration: a name held by a pid, and how a conflict over it is resolved. */
export type WireClaim = typeof WireClaim.Type

/**
 * Asks the arbiter to register, unregister or transfer a name; answered with `Answer` of the same
 * ref. A `transfer` moves the name from `previous` to `pid` in one step (see `Transfer`); the
 * other operations have no `previous` (absent in the frames of releases before transfers).
 * `release`: the sender's node has released a name held by its process `pid` (an `unregister` there);
 * the arbiter drops that registration and tells the nodes it told of it, then acknowledges.
 */
const Request = Schema.Struct({
  _tag: Schema.Literal("Request"),
  ref: Schema.Number,
  op: Schema.Literals(["register", "unregister", "release", "transfer"]),
  name: Schema.String,
  pid: Schema.NullOr(WirePid),
  previous: Schema.optionalKey(WirePid),
  method: Method
})

/** The arbiter's answer: `ok`, or why not (`taken`: the current owner, printed). */
const Answer = Schema.Struct({
  _tag: Schema.Literal("Answer"),
  ref: Schema.Number,
  ok: Schema.Boolean,
  detail: Schema.String
})

/** A registration, from the arbiter (it granted it) or from the owner's node (it holds it). */
const Claim = Schema.Struct({ _tag: Schema.Literal("Claim"), claim: WireClaim })

/** A registration that ended (exit, unregister, lost conflict). Ignored unless the pid matches. */
const Release = Schema.Struct({ _tag: Schema.Literal("Release"), name: Schema.String, pid: WirePid })

/**
 * A name moved by the arbiter from one pid to another: each replica drops the old registration and
 * adds the new one in one step, so no node ever sees the name without an owner while it moves.
 */
const Transfer = Schema.Struct({ _tag: Schema.Literal("Transfer"), from: WirePid, claim: WireClaim })

/**
 * Every registration held by the sender's processes (it is authoritative for them): sent when a
 * link comes up and when a registry starts; `reply` asks for the receiver's own in return. `seen`:
 * the last grant the sender had heard of from each arbiter when it sent this, so that the receiver
 * does not drop a registration granted after it (one the sender did not know of yet).
 */
const Hello = Schema.Struct({
  _tag: Schema.Literal("Hello"),
  reply: Schema.Boolean,
  claims: Schema.Array(WireClaim),
  seen: Schema.optionalKey(Schema.Array(Grant))
})

/** A frame of the global registry. */
export const GlobalFrame = Schema.Union([Request, Answer, Claim, Release, Transfer, Hello])
/** A frame of the global registry. */
export type GlobalFrame = typeof GlobalFrame.Type

/** The channel. */
export const channel = Channel.make("effect-otp.global", GlobalFrame)
