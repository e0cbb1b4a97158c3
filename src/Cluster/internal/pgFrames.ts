/**
 * The frames of the process groups' channel (`effect-otp.pg`). See `ProcessGroups.ts`.
 *
 * @internal
 */
import { Schema } from "effect"
import * as Channel from "../../Transport/Channel.ts"

const WirePid = Schema.Struct({ node: Schema.String, id: Schema.Number, incarnation: Schema.Number })
/** A pid as it travels. */
export type WirePid = typeof WirePid.Type

const Membership = Schema.Struct({ scope: Schema.String, group: Schema.String, pids: Schema.Array(WirePid) })
/** Pids of the sender's node in one group (a pid once per join). */
export type Membership = typeof Membership.Type

/** Local pids of the sender joined a group. */
const Join = Schema.Struct({ _tag: Schema.Literal("Join"), membership: Membership })
/** Local pids of the sender left a group (once per pid listed). */
const Leave = Schema.Struct({ _tag: Schema.Literal("Leave"), membership: Membership })
/**
 * Every membership of the sender's own processes (it replaces what the receiver knew of them): when
 * a link comes up and when the groups start; `reply` asks for the receiver's in return.
 */
const Sync = Schema.Struct({ _tag: Schema.Literal("Sync"), reply: Schema.Boolean, groups: Schema.Array(Membership) })

/** A frame of the process groups. */
export const PgFrame = Schema.Union([Join, Leave, Sync])
/** A frame of the process groups. */
export type PgFrame = typeof PgFrame.Type

/** The channel. */
export const channel = Channel.make("effect-otp.pg", PgFrame)
