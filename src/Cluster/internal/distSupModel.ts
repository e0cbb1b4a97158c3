/**
 * The values a distributed supervisor shows: its children as `whichChildren` reports them, its
 * lifecycle events, its errors, and the protocol it serves. Schemas, so that they cross nodes.
 *
 * @internal
 */
import { Schema } from "effect"
import * as ExitReason from "../../Process/ExitReason.ts"
import { Pid } from "../../Process/Pid.ts"
import * as Protocol from "../../Process/Protocol.ts"
import { ChildAlreadyStarted, ChildNotFound } from "../../Supervisor/Errors.ts"

export const ChildInfo = Schema.Struct({
  id: Schema.String,
  /** The running process, absent while the child is being restarted. */
  pid: Schema.optional(Pid),
  /** The node it runs on, absent while it is being restarted. */
  node: Schema.optional(Schema.String),
  status: Schema.Literals(["running", "restarting"]),
  restart: Schema.Literals(["permanent", "transient", "temporary"])
})

export type ChildInfo = typeof ChildInfo.Type

export const ChildCounts = Schema.Struct({
  specs: Schema.Number,
  active: Schema.Number,
  /** Running children by node. */
  byNode: Schema.Record(Schema.String, Schema.Number)
})

export type ChildCounts = typeof ChildCounts.Type

export class ChildStarted extends Schema.TaggedClass<ChildStarted>()("ChildStarted", {
  id: Schema.String,
  pid: Pid,
  node: Schema.String,
  /** Found running under its global name (by an instance that took over) rather than started. */
  adopted: Schema.Boolean
}) {}

export class ChildExited extends Schema.TaggedClass<ChildExited>()("ChildExited", {
  id: Schema.String,
  pid: Pid,
  node: Schema.String,
  reason: ExitReason.ExitReason
}) {}

export class ChildRestarted extends Schema.TaggedClass<ChildRestarted>()("ChildRestarted", {
  id: Schema.String,
  pid: Pid,
  node: Schema.String,
  previousNode: Schema.String,
  /** Whether it moved because its node was lost (such moves do not count toward the intensity). */
  nodeLost: Schema.Boolean
}) {}

export class ChildHandedOff extends Schema.TaggedClass<ChildHandedOff>()("ChildHandedOff", {
  id: Schema.String,
  pid: Pid,
  node: Schema.String,
  previousPid: Pid,
  previousNode: Schema.String,
  /** Whether its state was carried over (`handoff`), or it was started afresh (a child without handoff). */
  withState: Schema.Boolean
}) {}

export class ChildStartError extends Schema.TaggedClass<ChildStartError>()("ChildStartError", {
  id: Schema.String,
  detail: Schema.String
}) {}

export class SupervisorStopped extends Schema.TaggedClass<SupervisorStopped>()("SupervisorStopped", {
  reason: ExitReason.ExitReason
}) {}

export type Event = ChildStarted | ChildExited | ChildRestarted | ChildHandedOff | ChildStartError | SupervisorStopped

export const Event = Schema.Union([
  ChildStarted,
  ChildExited,
  ChildRestarted,
  ChildHandedOff,
  ChildStartError,
  SupervisorStopped
])

export class PlacementFailed extends Schema.TaggedError<PlacementFailed>()("PlacementFailed", {
  id: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `child "${this.id}" could not be started on any node: ${this.detail}`
  }
}

export const DistProtocol = Protocol.make({
  /** Local only: the spec holds the behaviour itself. */
  StartChild: Protocol.call({
    payload: { spec: Schema.Any },
    success: Pid,
    error: Schema.Union([ChildAlreadyStarted, PlacementFailed])
  }),
  TerminateChild: Protocol.call({ payload: { id: Schema.String }, error: ChildNotFound }),
  WhichChildren: Protocol.call({ success: Schema.Array(ChildInfo) }),
  /** Moves every child off `node`; answers with the pids of the instances that were moved (stopping). */
  Handoff: Protocol.call({ payload: { node: Schema.String }, success: Schema.Array(Pid) }),
  CountChildren: Protocol.call({ success: ChildCounts })
})
