/**
 * The requests a supervisor and a dynamic supervisor serve (they are GenServers), and the shapes
 * of their replies.
 *
 * @internal
 */
import { Schema } from "effect"
import { Pid } from "../../Process/Pid.ts"
import * as Protocol from "../../Process/Protocol.ts"
import {
  ChildAlreadyPresent,
  ChildAlreadyStarted,
  ChildNotFound,
  ChildRunning,
  ChildStartFailed,
  InvalidChildSpec,
  MaxChildren
} from "../Errors.ts"

/** One child as `whichChildren` reports it. */
export const ChildInfo = Schema.Struct({
  /** The child's id (absent for the children of a dynamic supervisor). */
  id: Schema.optional(Schema.String),
  /** The running process, absent when the child is stopped or being restarted. */
  pid: Schema.optional(Pid),
  status: Schema.Literals(["running", "restarting", "stopped"]),
  type: Schema.Literals(["worker", "supervisor"]),
  restart: Schema.Literals(["permanent", "transient", "temporary"])
})

/** One child as `whichChildren` reports it. */
export type ChildInfo = typeof ChildInfo.Type

/** What `countChildren` reports. */
export const ChildCounts = Schema.Struct({
  /** Child specs held (running or not). */
  specs: Schema.Number,
  /** Children running now. */
  active: Schema.Number,
  /** Specs of type supervisor. */
  supervisors: Schema.Number,
  /** Specs of type worker. */
  workers: Schema.Number
})

/** What `countChildren` reports. */
export type ChildCounts = typeof ChildCounts.Type

export const SupervisorProtocol = Protocol.make({
  StartChild: Protocol.call({
    payload: { spec: Schema.Any, context: Schema.Any },
    success: Pid,
    error: Schema.Union([InvalidChildSpec, ChildAlreadyStarted, ChildAlreadyPresent, ChildStartFailed])
  }),
  TerminateChild: Protocol.call({ payload: { id: Schema.String }, error: ChildNotFound }),
  RestartChild: Protocol.call({
    payload: { id: Schema.String },
    success: Pid,
    error: Schema.Union([ChildNotFound, ChildRunning, ChildStartFailed])
  }),
  DeleteChild: Protocol.call({ payload: { id: Schema.String }, error: Schema.Union([ChildNotFound, ChildRunning]) }),
  WhichChildren: Protocol.call({ success: Schema.Array(ChildInfo) }),
  CountChildren: Protocol.call({ success: ChildCounts })
})

export const DynamicProtocol = Protocol.make({
  StartChild: Protocol.call({
    payload: { spec: Schema.Any, context: Schema.Any },
    success: Pid,
    error: Schema.Union([InvalidChildSpec, MaxChildren, ChildStartFailed])
  }),
  TerminateChild: Protocol.call({ payload: { pid: Pid }, error: ChildNotFound }),
  WhichChildren: Protocol.call({ success: Schema.Array(ChildInfo) }),
  CountChildren: Protocol.call({ success: ChildCounts })
})

/** Asks the supervisor itself to retry a failed restart, after the messages already queued. */
export class RetryRestart {
  constructor(readonly key: string | number) {}
}
