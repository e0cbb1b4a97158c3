/**
 * Errors raised by the process runtime.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The target process does not exist: a pid that has exited (or belongs to a previous incarnation
 * of its node), or a name that nobody has registered.
 *
 * @since 0.1.0
 */
export class NoProcess extends Schema.TaggedError<NoProcess>()("NoProcess", {
  target: Schema.String
}) {
  override get message(): string {
    return `no process ${this.target}`
  }
}

/**
 * A send to a full mailbox whose overflow policy is `fail`.
 *
 * @since 0.1.0
 */
export class MailboxFull extends Schema.TaggedError<MailboxFull>()("MailboxFull", {
  target: Schema.String,
  capacity: Schema.Number
}) {
  override get message(): string {
    return `mailbox of ${this.target} is full (capacity ${this.capacity})`
  }
}

/**
 * A registered name is already taken by another live process, or the process already has a name.
 *
 * @since 0.1.0
 */
export class NameTaken extends Schema.TaggedError<NameTaken>()("NameTaken", {
  name: Schema.String,
  owner: Schema.String
}) {
  override get message(): string {
    return `name "${this.name}" cannot be registered: ${this.owner}`
  }
}

/**
 * An operation that needs a current process (link, monitor, receive, trapExit) ran on a fiber that
 * is not a process.
 *
 * @since 0.1.0
 */
export class NotAProcess extends Schema.TaggedError<NotAProcess>()("NotAProcess", {
  operation: Schema.String
}) {
  override get message(): string {
    return `${this.operation} must run inside a process (spawn one, or pass the process context)`
  }
}
