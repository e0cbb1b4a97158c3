/**
 * A cluster-wide registered name, Erlang's `{global, Name}`: a target for send, call, cast,
 * monitor, link and exit that is looked up in the node's replica of the `GlobalRegistry` each time
 * it is used (a local read: no message).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { Speaks } from "./Protocol.ts"

/**
 * A name in the cluster's `GlobalRegistry` (see `GlobalRegistry.register`). Used as a target it is
 * resolved on this node, at the moment of use, to the pid registered under it, and then behaves
 * exactly like that pid (local or on another node). While nobody holds the name (or without a
 * `GlobalRegistry` layer on this node) it behaves like a local name nobody holds: `send`, `cast`,
 * `call`, `exit` and `link` fail with `NoProcess`, `monitor` delivers `Down` with `noproc` at once,
 * `awaitExit` resolves to `noproc`. A timer of `Process.sendAfter` resolves it when it is set.
 * It prints as `global:name`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { GenServer, GlobalName, Protocol } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })
 * const kv = GlobalName.make("kv", Kv)
 * console.log(String(kv)) // global:kv
 * const read = GenServer.call(kv, Kv.Get({ key: "x" }))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class GlobalName extends Schema.Class<GlobalName>("effect-otp/GlobalName")({
  name: Schema.String
}) {
  /** `global:name`. */
  override toString(): string {
    return `global:${this.name}`
  }
}

/**
 * A {@link GlobalName} typed by the protocol `P` of the server registered under it:
 * `GenServer.call` and `GenServer.cast` accept only the requests of `P` on it. At run time it is a
 * plain `GlobalName`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { GenServer, GlobalName, Protocol } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })
 * const kv: GlobalName.GlobalServerName<typeof Kv> = GlobalName.make("kv", Kv)
 * const read = GenServer.call(kv, Kv.Get({ key: "x" }))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface GlobalServerName<P> extends GlobalName, Speaks<P> {}

/**
 * The global name `name`. Given the protocol of the server registered under it (or a name typed
 * with `GenServer.name`), the result is typed by it.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { GenServer, GlobalName, Protocol } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })
 * const untyped = GlobalName.make("kv")
 * const typed = GlobalName.make("kv", Kv)
 * const alsoTyped = GlobalName.make(GenServer.name("kv", Kv))
 * const read = GenServer.call(typed, Kv.Get({ key: "x" })) // only Kv's calls compile
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: {
  <P>(name: string & Speaks<P>): GlobalServerName<P>
  <P>(name: string, protocol: P): GlobalServerName<P>
  (name: string): GlobalName
} = ((name: string): GlobalName => new GlobalName({ name })) as typeof make

/**
 * Whether a value is a {@link GlobalName}.
 *
 * @example
 * ```ts
 * import { GlobalName } from "effect-otp"
 *
 * const target: unknown = GlobalName.make("kv")
 * if (GlobalName.isGlobalName(target)) console.log(target.name)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isGlobalName = (u: unknown): u is GlobalName => u instanceof GlobalName
