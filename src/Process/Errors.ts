/**
 * Errors raised by the process runtime. Each is a `Schema.TaggedError`: catch it by its tag
 * (`Effect.catchTag("NoProcess", ...)`), and it travels between nodes with its fields.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The target process does not exist: a pid that has exited (or belongs to a previous incarnation
 * of its node), or a name that nobody has registered. A send or cast to a dead pid is silently
 * dropped (as in Erlang); a call to it, or any message to an unknown name, fails with this.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ success: Schema.String }) })
 * const get = GenServer.call("kv", Kv.Get()).pipe(
 *   Effect.catchTag("NoProcess", (error) => Effect.succeed(`kv is not running (${error.target})`))
 * )
 * ```
 *
 * @category errors
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
 * A send to a full mailbox whose overflow policy is `fail` (with policy `suspend`, the default,
 * the sender waits for room instead).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const options = { mailboxCapacity: 100, overflow: "fail" } as const
 *   const pid = yield* Process.spawn((self) => Effect.forever(self.receive), options)
 *   yield* Process.send(pid, "work").pipe(Effect.catchTag("MailboxFull", (error) => Effect.logWarning(error.message)))
 * })
 * ```
 *
 * @category errors
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
 * A name cannot be registered: it is taken by another live process, or the process already has
 * another name. `owner` says which (`already registered to <pid>`, or `<pid> is already
 * registered as "other"`). The message reads `name "worker" cannot be registered: already
 * registered to <a.1.7>`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process } from "effect-otp"
 *
 * const program = Process.spawn((self) => Effect.forever(self.receive), { name: "worker" }).pipe(
 *   Effect.catchTag("NameTaken", (error) => Effect.logWarning(error.message))
 * )
 * ```
 *
 * @category errors
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
 * An operation that needs a current process (link, monitor, receive, trapExit, `startLink`) ran
 * on a fiber that is not a process. Operations typed with `CurrentProcess` cannot fail this way:
 * outside a process they do not compile.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process } from "effect-otp"
 *
 * const program = Process.trapExit(true).pipe(
 *   Effect.catchTag("NotAProcess", (error) => Effect.die(`run this inside Process.spawn: ${error.message}`))
 * )
 * ```
 *
 * @category errors
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
 * The node of the target process is down (or the connection to it was lost, or there is no
 * distribution). Every call pending to that node fails with this the moment the node is declared
 * down; a call made while it is not connected fails at once.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol, RemoteName } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ success: Schema.String }) })
 * const get = GenServer.call(RemoteName.make("kv", "b", Kv), Kv.Get()).pipe(
 *   Effect.catchTag("NodeDown", (error) => Effect.succeed(`b is unreachable: ${error.reason}`))
 * )
 * ```
 *
 * @category errors
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
 * A payload crossing nodes did not match its schema (request, reply or start arguments), for
 * example because the two nodes run different versions of a protocol. Only that one call fails;
 * the link stays up.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol, RemoteName } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ success: Schema.String }) })
 * const get = GenServer.call(RemoteName.make("kv", "b", Kv), Kv.Get()).pipe(
 *   Effect.catchTag("RemoteDecodeError", (error) => Effect.die(`version skew with ${error.node}: ${error.detail}`))
 * )
 * ```
 *
 * @category errors
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

export {
  /**
   * A message to another node (a call's request, a cast, a send, or a reply) is larger than that
   * node accepts: only that message fails, the link stays up. See `MessageTooLarge` in
   * `TransportError` (the same class).
   *
   * @category errors
   * @since 0.1.0
   */
  MessageTooLarge
} from "../internal/messageTooLarge.ts"
