/**
 * The one error shared by the transport and the process runtime: both raise and re-export it
 * (`TransportError.MessageTooLarge` and `ProcessErrors.MessageTooLarge` are the same class), and
 * neither may import the other.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A message to another node is larger than that node accepts (the `maxFrameBytes` it announced
 * when the link came up; see `TransportOptions.TransportTuning.maxFrameBytes`). Nothing was sent:
 * only this call, cast or send fails, and the link stays up. `size` is the encoded message in
 * bytes, `limit` the peer's limit, `node` the peer.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol, RemoteName } from "effect-otp"
 *
 * const Files = Protocol.make({ Put: Protocol.call({ payload: { data: Schema.Uint8Array }, success: Schema.Void }) })
 * const put = (data: Uint8Array) =>
 *   GenServer.call(RemoteName.make("files", "b", Files), Files.Put({ data })).pipe(
 *     Effect.catchTag("MessageTooLarge", (error) =>
 *       Effect.logWarning(`${error.size} bytes is over the ${error.limit} bytes node ${error.node} accepts`)
 *     )
 *   )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class MessageTooLarge extends Schema.TaggedError<MessageTooLarge>()("MessageTooLarge", {
  node: Schema.String,
  size: Schema.Number,
  limit: Schema.Number
}) {
  override get message(): string {
    return `a message of ${this.size} bytes exceeds the ${this.limit} bytes node "${this.node}" accepts`
  }
}
