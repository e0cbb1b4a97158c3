/**
 * A registered name on a given node, Erlang's `{Name, Node}`: a target for send, call, cast,
 * monitor and exit that is resolved on that node when the message arrives.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A name registered on a node. On the local node it behaves like the bare name.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol, RemoteName } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })
 * const read = GenServer.call(RemoteName.make("kv", "b@127.0.0.1"), Kv.Get({ key: "x" }))
 * ```
 *
 * @since 0.1.0
 */
export class RemoteName extends Schema.Class<RemoteName>("effect-otp/RemoteName")({
  name: Schema.String,
  node: Schema.String
}) {
  override toString(): string {
    return `${this.name}@{${this.node}}`
  }
}

/**
 * The name `name` on node `node`.
 *
 * @since 0.1.0
 */
export const make = (name: string, node: string): RemoteName => new RemoteName({ name, node })

/**
 * Whether a value is a {@link RemoteName}.
 *
 * @since 0.1.0
 */
export const isRemoteName = (u: unknown): u is RemoteName => u instanceof RemoteName
