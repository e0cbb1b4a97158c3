/**
 * Behaviours that other nodes may start here (remote spawn), registered by name before the cluster
 * starts, each with the Schema of its start arguments.
 *
 * @since 0.1.0
 */
import { Context, Layer, Schema } from "effect"
import type { Behaviour } from "../Process/GenServer.ts"
import type { ProcessRuntime } from "../Process/ProcessRuntime.ts"

/**
 * A spawnable behaviour: a cluster-wide name, the schema of its start arguments, and the
 * GenServer behaviour (which may use the process runtime, and no other service). Define it once in code shared by every node; register it where it may run,
 * and pass it to `Distribution.spawn` where it is started from.
 *
 * @since 0.1.0
 */
export interface BehaviourSpec<Args> {
  readonly name: string
  readonly args: Schema.Codec<Args, unknown>
  /** The behaviour, its types erased: a spawn only needs to start it with decoded arguments. */
  readonly behaviour: Behaviour<unknown, never, unknown, ProcessRuntime>
}

/**
 * Declares a spawnable behaviour.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { BehaviourRegistry, GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const counter = GenServer.behaviour(Counter)({
 *   init: (start: number) => Effect.succeed(start),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 * })
 * export const CounterSpec = BehaviourRegistry.define("counter", Schema.Number, counter)
 * ```
 *
 * @since 0.1.0
 */
export const define = <Args, I, P, S, R extends ProcessRuntime = never>(
  name: string,
  args: Schema.Codec<Args, I>,
  behaviour: Behaviour<P, Args, S, R>
): BehaviourSpec<Args> => ({
  name,
  args: args as Schema.Codec<Args, unknown>,
  behaviour: behaviour as unknown as Behaviour<unknown, never, unknown, ProcessRuntime>
})

/**
 * A remote spawn named a behaviour that the target node has not registered.
 *
 * @since 0.1.0
 */
export class UnknownBehaviour extends Schema.TaggedError<UnknownBehaviour>()("UnknownBehaviour", {
  node: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/**
 * The behaviours this node lets other nodes start.
 *
 * @since 0.1.0
 */
export class BehaviourRegistry extends Context.Service<
  BehaviourRegistry,
  {
    readonly get: (name: string) => BehaviourSpec<unknown> | undefined
    readonly names: ReadonlyArray<string>
  }
>()("effect-otp/BehaviourRegistry") {}

/**
 * A registry holding `specs`. Names must be unique.
 *
 * @since 0.1.0
 */
export const layer = (specs: ReadonlyArray<BehaviourSpec<unknown>>): Layer.Layer<BehaviourRegistry> =>
  Layer.sync(BehaviourRegistry, () => {
    const byName = new Map<string, BehaviourSpec<unknown>>()
    for (const spec of specs) {
      if (byName.has(spec.name)) throw new Error(`behaviour "${spec.name}" is registered twice`)
      byName.set(spec.name, spec)
    }
    return BehaviourRegistry.of({ get: (name) => byName.get(name), names: [...byName.keys()] })
  })

/**
 * A registry with no behaviours (remote spawns on this node fail with `unknown_behaviour`).
 *
 * @since 0.1.0
 */
export const empty: Layer.Layer<BehaviourRegistry> = layer([])
