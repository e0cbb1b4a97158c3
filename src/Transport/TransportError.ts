/**
 * Errors raised by the transport.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { MessageTooLarge } from "../internal/messageTooLarge.ts"
import { RejectReason } from "./Frame.ts"

export {
  /**
   * A message is larger than the peer accepts (the limit it announced in the handshake): nothing
   * was sent, the link stays up. The same class as `ProcessErrors.MessageTooLarge`.
   *
   * @category errors
   * @since 0.1.0
   */
  MessageTooLarge
} from "../internal/messageTooLarge.ts"

/**
 * No link to that node is up: it was never connected, or it went down (also while a send waited
 * for room on its link).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Transport } from "effect-otp"
 * import { Channel } from "effect-otp/wire"
 *
 * const Ping = Channel.make("example.ping", Schema.Number)
 * const ping = Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   yield* transport.send("b", Ping, 1)
 * }).pipe(Effect.catchTag("NotConnected", (error) => Effect.logWarning(error.message)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class NotConnected extends Schema.TaggedError<NotConnected>()("NotConnected", {
  node: Schema.String
}) {
  override get message(): string {
    return `no link to node "${this.node}"`
  }
}

/**
 * What kind of failure ended a dial, for code that reacts to it (the cluster's join reporting):
 *
 * - `refused`: nothing listens at that address (connection refused).
 * - `unreachable`: the host cannot be reached or its name does not resolve.
 * - `timeout`: the TLS or node handshake did not complete within `handshakeTimeout`.
 * - `authentication`: the TLS handshake failed: with a cluster secret, the peer almost certainly has
 *   a different one; with certificates, one side does not accept the other's certificate.
 * - `protocol`: the peer does not speak this protocol (e.g. a plain-TCP node dialed with TLS).
 * - `closed`: the connection closed during the handshake, with no more detail.
 * - `closing`: this transport is shutting down, or the dial was interrupted.
 *
 * @example
 * ```ts
 * import { TransportError } from "effect-otp"
 *
 * const retryable = (kind: TransportError.ConnectFailure) => kind !== "authentication" && kind !== "protocol"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ConnectFailure = Schema.Literals([
  "refused",
  "unreachable",
  "timeout",
  "authentication",
  "protocol",
  "closed",
  "closing"
])

/**
 * @category models
 * @since 0.1.0
 */
export type ConnectFailure = typeof ConnectFailure.Type

/**
 * A dial failed before the handshake completed: refused, unreachable, TLS failure (e.g. a wrong
 * cluster secret), handshake timeout, or the transport is closing. `kind` classifies it (absent on
 * errors built by other code: treat it as `closed`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transport } from "effect-otp"
 *
 * const dial = Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   return yield* transport.connect({ host: "127.0.0.1", port: 4370 })
 * }).pipe(
 *   Effect.catchTag("ConnectFailed", (error) =>
 *     Effect.logWarning(`${error.address}: ${error.kind ?? "closed"}: ${error.reason}`)
 *   )
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ConnectFailed extends Schema.TaggedError<ConnectFailed>()("ConnectFailed", {
  address: Schema.String,
  reason: Schema.String,
  kind: Schema.optional(ConnectFailure)
}) {
  override get message(): string {
    return `cannot connect to ${this.address}: ${this.reason}`
  }
}

/**
 * The remote node refused the handshake, with a reason (e.g. `duplicate_name`: a live node with the
 * same name is already in the cluster; `version_mismatch`: it speaks another protocol version). The
 * dialing node learns it from this error; the cluster layer logs it with what to check.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transport } from "effect-otp"
 *
 * const dial = Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   return yield* transport.connect({ host: "127.0.0.1", port: 4370 })
 * }).pipe(
 *   Effect.catchTag("HandshakeRejected", (error) =>
 *     error.reason === "duplicate_name" ? Effect.die("this node's name is taken") : Effect.fail(error)
 *   )
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class HandshakeRejected extends Schema.TaggedError<HandshakeRejected>()("HandshakeRejected", {
  address: Schema.String,
  reason: RejectReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `handshake with ${this.address} refused (${this.reason}): ${this.detail}`
  }
}

/**
 * A value could not be sent: it does not match the channel's Schema. Nothing was sent; the link
 * stays up. (A value whose encoding is larger than the peer accepts fails with `MessageTooLarge`.)
 *
 * @example
 * ```ts
 * import { TransportError } from "effect-otp"
 *
 * const error = new TransportError.EncodeFailed({ channel: "example.big", reason: "frame too large" })
 * error.message // 'cannot send on channel "example.big": frame too large'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EncodeFailed extends Schema.TaggedError<EncodeFailed>()("EncodeFailed", {
  channel: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot send on channel "${this.channel}": ${this.reason}`
  }
}

/**
 * A channel with that name already has a handler on this node (one handler per channel and node).
 *
 * @example
 * ```ts
 * import { TransportError } from "effect-otp"
 *
 * new TransportError.ChannelInUse({ channel: "example.ping" }).message // 'channel "example.ping" already has a handler'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ChannelInUse extends Schema.TaggedError<ChannelInUse>()("ChannelInUse", {
  channel: Schema.String
}) {
  override get message(): string {
    return `channel "${this.channel}" already has a handler`
  }
}

/**
 * The transport could not listen on its address (port in use, no such interface, no permission).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpTransport } from "effect-otp"
 *
 * const transport = Effect.scoped(TcpTransport.make({ name: "a", port: 4370, security: { insecure: true } })).pipe(
 *   Effect.catchTag("ListenFailed", (error) => Effect.logError(error.message))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ListenFailed extends Schema.TaggedError<ListenFailed>()("ListenFailed", {
  address: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot listen on ${this.address}: ${this.reason}`
  }
}

/**
 * Any error of a dial.
 *
 * @example
 * ```ts
 * import type { TransportError } from "effect-otp"
 *
 * const retryable = (error: TransportError.ConnectError) =>
 *   error._tag === "ConnectFailed" ? error.kind !== "authentication" : error.reason === "shutting_down"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type ConnectError = ConnectFailed | HandshakeRejected

/**
 * Any error of a send.
 *
 * @example
 * ```ts
 * import type { TransportError } from "effect-otp"
 *
 * const lostLink = (error: TransportError.SendError) => error._tag === "NotConnected"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type SendError = NotConnected | EncodeFailed | MessageTooLarge
