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

/**
 * The node of the target process is down (or the connection to it was lost). Every call pending
 * to that node fails with this the moment the node is declared down.
 *
 * @since 0.1.0
 */
export class NodeDown extends Schema.TaggedError<NodeDown>()("NodeDown", {
  node: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `node ${this.node} is down (${this.reason})`
  }
}

/**
 * A payload crossing nodes did not match its schema (request, reply or start arguments). Only
 * that one call fails; the link stays up.
 *
 * @since 0.1.0
 */
export class RemoteDecodeError extends Schema.TaggedError<RemoteDecodeError>()("RemoteDecodeError", {
  node: Schema.String,
  what: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `could not decode the ${this.what} exchanged with ${this.node}: ${this.detail}`
  }
}
