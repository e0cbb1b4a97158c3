/**
 * A registered name on a given node, Erlang's `{Name, Node}`: a target for send, call, cast,
 * monitor and exit that is resolved on that node when the message arrives.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { Speaks } from "./Protocol.ts"

/**
 * A name registered on a node. On the local node it behaves like the bare name; on another node
 * it needs distribution (`Distribution.layer`): without it, or while that node is not connected,
 * a call fails with `NodeDown`, a send or cast is dropped, and a monitor fires with
 * `noconnection`. It prints as `name@node`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol, RemoteName } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })
 * const kv = RemoteName.make("kv", "b@127.0.0.1")
 * console.log(String(kv)) // kv@b@127.0.0.1
 * const read = GenServer.call(kv, Kv.Get({ key: "x" }))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class RemoteName extends Schema.Class<RemoteName>("effect-otp/RemoteName")({
  name: Schema.String,
  node: Schema.String
}) {
  /** `name@node`. */
  override toString(): string {
    return `${this.name}@${this.node}`
  }
}

/**
 * A {@link RemoteName} typed by the protocol `P` of the server registered under it (made with
 * {@link make} and a protocol): `GenServer.call` and `GenServer.cast` accept only the requests of
 * `P` on it. At run time it is a plain `RemoteName`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { GenServer, Protocol, RemoteName } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })
 * const kvOnB: RemoteName.RemoteServerName<typeof Kv> = RemoteName.make("kv", "b@127.0.0.1", Kv)
 * const read = GenServer.call(kvOnB, Kv.Get({ key: "x" }))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RemoteServerName<P> extends RemoteName, Speaks<P> {}

/**
 * The name `name` on node `node`. Given the protocol of the server registered there (or a name
 * typed with `GenServer.name`), the result is typed by it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol, RemoteName } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })
 *
 * const untyped = RemoteName.make("kv", "b@127.0.0.1")
 * const typed = RemoteName.make("kv", "b@127.0.0.1", Kv)
 * const alsoTyped = RemoteName.make(GenServer.name("kv", Kv), "b@127.0.0.1")
 *
 * const read = GenServer.call(typed, Kv.Get({ key: "x" })) // only Kv's calls compile
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: {
  <P>(name: string & Speaks<P>, node: string): RemoteServerName<P>
  <P>(name: string, node: string, protocol: P): RemoteServerName<P>
  (name: string, node: string): RemoteName
} = ((name: string, node: string): RemoteName => new RemoteName({ name, node })) as typeof make

/**
 * Whether a value is a {@link RemoteName}.
 *
 * @example
 * ```ts
 * import { RemoteName } from "effect-otp"
 *
 * const target: unknown = RemoteName.make("kv", "b@127.0.0.1")
 * if (RemoteName.isRemoteName(target)) console.log(target.node)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isRemoteName = (u: unknown): u is RemoteName => u instanceof RemoteName
