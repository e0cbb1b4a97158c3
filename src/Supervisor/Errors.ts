/**
 * Errors raised by supervisors and dynamic supervisors.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as ExitReason from "../Process/ExitReason.ts"
import { Pid } from "../Process/Pid.ts"

/**
 * A child spec is invalid: a duplicate id, a negative shutdown, a significant permanent child,
 * and so on. Raised before anything is started.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidChildSpec extends Schema.TaggedError<InvalidChildSpec>()("InvalidChildSpec", {
  id: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `invalid child spec "${this.id}": ${this.problem}`
  }
}

/**
 * A supervisor's flags are invalid (an unknown strategy, a negative `maxRestarts`, ...).
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidSupervisorFlags extends Schema.TaggedError<InvalidSupervisorFlags>()("InvalidSupervisorFlags", {
  problem: Schema.String
}) {
  override get message(): string {
    return `invalid supervisor flags: ${this.problem}`
  }
}

/**
 * A child's start effect failed (or died). `reason` carries the cause. When this happens while a
 * supervisor starts, the children started before it are stopped (in reverse order) and the
 * supervisor does not start.
 *
 * @category errors
 * @since 0.1.0
 */
export class ChildStartFailed extends Schema.TaggedError<ChildStartFailed>()("ChildStartFailed", {
  supervisor: Pid,
  id: Schema.String,
  reason: ExitReason.ExitReason
}) {
  override get message(): string {
    return `supervisor ${this.supervisor} failed to start child "${this.id}": ${ExitReason.format(this.reason)}`
  }
}

/**
 * `startChild` with the id of a child that is running.
 *
 * @category errors
 * @since 0.1.0
 */
export class ChildAlreadyStarted extends Schema.TaggedError<ChildAlreadyStarted>()("ChildAlreadyStarted", {
  id: Schema.String,
  pid: Pid
}) {
  override get message(): string {
    return `child "${this.id}" is already started as ${this.pid}`
  }
}

/**
 * `startChild` with the id of a child spec that is present but not running (terminated): restart
 * it with `restartChild` or remove it with `deleteChild` first.
 *
 * @category errors
 * @since 0.1.0
 */
export class ChildAlreadyPresent extends Schema.TaggedError<ChildAlreadyPresent>()("ChildAlreadyPresent", {
  id: Schema.String
}) {
  override get message(): string {
    return `a child spec with id "${this.id}" is already present (not running)`
  }
}

/**
 * No child with this id (or pid, for a dynamic supervisor).
 *
 * @category errors
 * @since 0.1.0
 */
export class ChildNotFound extends Schema.TaggedError<ChildNotFound>()("ChildNotFound", {
  id: Schema.String
}) {
  override get message(): string {
    return `no child ${this.id}`
  }
}

/**
 * `restartChild` or `deleteChild` on a child that is running, or that the supervisor is
 * restarting (`restarting: true`, after a failed restart attempt that will be retried).
 *
 * @category errors
 * @since 0.1.0
 */
export class ChildRunning extends Schema.TaggedError<ChildRunning>()("ChildRunning", {
  id: Schema.String,
  restarting: Schema.Boolean
}) {
  override get message(): string {
    return `child "${this.id}" is ${this.restarting ? "being restarted" : "running"}: terminate it first`
  }
}

/**
 * A dynamic supervisor already has `maxChildren` children.
 *
 * @category errors
 * @since 0.1.0
 */
export class MaxChildren extends Schema.TaggedError<MaxChildren>()("MaxChildren", {
  supervisor: Pid,
  max: Schema.Number
}) {
  override get message(): string {
    return `dynamic supervisor ${this.supervisor} already has its maximum of ${this.max} children`
  }
}
