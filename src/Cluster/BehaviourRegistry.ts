/**
 * Behaviours that other nodes may start here (remote spawn), registered by name before the cluster
 * starts, each with the Schema of its start arguments.
 *
 * A spawnable behaviour may need the application's services (a database client, an HTTP client):
 * they are provided once, to the node's layer, and every remotely spawned server gets them. The
 * types check it: {@link layer} (and so `Distribution.layer`) requires the services of all the
 * behaviours it registers, so a node that does not provide one does not compile.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema, Scope } from "effect"
import type { Behaviour } from "../Process/GenServer.ts"
import type { ProcessRuntime } from "../Process/ProcessRuntime.ts"

/**
 * The key of the phantom service type of a {@link BehaviourSpec}.
 *
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import { BehaviourRegistry, GenServer, Protocol } from "effect-otp"
 *
 * class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("app/Greeter") {}
 * const Hello = Protocol.make({ Hello: Protocol.call({ payload: { name: Schema.String }, success: Schema.String }) })
 * const HelloSpec = BehaviourRegistry.define(
 *   "hello",
 *   Schema.Void,
 *   GenServer.behaviour(Hello)({
 *     init: () => Effect.succeed(undefined),
 *     handleCall: { Hello: ({ name }, state) => Effect.map(Greeter, (g) => GenServer.reply(g.greet(name), state)) }
 *   })
 * )
 * type Needs = BehaviourRegistry.Services<typeof HelloSpec> // Greeter, read through ServicesTypeId
 * ```
 *
 * @category symbols
 * @since 0.1.0
 */
export const ServicesTypeId: unique symbol = Symbol.for("effect-otp/BehaviourRegistry/Services")

/**
 * A spawnable behaviour: a cluster-wide name, the schema of its start arguments, and the
 * GenServer behaviour. `P` is its protocol (the pid `Distribution.spawn` returns is typed by it)
 * and `R` the services it needs besides the process runtime, which the node registering it must
 * provide. Define it once in code shared by every node; register it where it may run, and pass
 * it to `Distribution.spawn` where it is started from.
 *
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import { BehaviourRegistry, GenServer, Protocol } from "effect-otp"
 *
 * class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("app/Greeter") {}
 * const Hello = Protocol.make({ Hello: Protocol.call({ payload: { name: Schema.String }, success: Schema.String }) })
 * const HelloSpec = BehaviourRegistry.define(
 *   "hello",
 *   Schema.Void,
 *   GenServer.behaviour(Hello)({
 *     init: () => Effect.succeed(undefined),
 *     handleCall: { Hello: ({ name }, state) => Effect.map(Greeter, (g) => GenServer.reply(g.greet(name), state)) }
 *   })
 * )
 * const spec: BehaviourRegistry.BehaviourSpec<void, typeof Hello, Greeter> = HelloSpec
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface BehaviourSpec<Args, P = unknown, R = never> {
  readonly name: string
  readonly args: Schema.Codec<Args, unknown>
  /** The behaviour, its types erased: a spawn only needs to start it with decoded arguments. */
  readonly behaviour: Behaviour<unknown, never, unknown, unknown>
  /** The protocol the behaviour speaks. */
  readonly protocol: P
  /** Phantom: the services the behaviour needs. */
  readonly [ServicesTypeId]?: (_: never) => R
}

/**
 * Any spawnable behaviour, whatever its arguments, protocol and services.
 *
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import { BehaviourRegistry, GenServer, Protocol } from "effect-otp"
 *
 * class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("app/Greeter") {}
 * const Hello = Protocol.make({ Hello: Protocol.call({ payload: { name: Schema.String }, success: Schema.String }) })
 * const HelloSpec = BehaviourRegistry.define(
 *   "hello",
 *   Schema.Void,
 *   GenServer.behaviour(Hello)({
 *     init: () => Effect.succeed(undefined),
 *     handleCall: { Hello: ({ name }, state) => Effect.map(Greeter, (g) => GenServer.reply(g.greet(name), state)) }
 *   })
 * )
 * const spawnable: ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec> = [HelloSpec]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type AnyBehaviourSpec = BehaviourSpec<unknown, unknown, unknown>

/**
 * The services the behaviours `Spec` need (a union over a list's elements).
 *
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import { BehaviourRegistry, GenServer, Protocol } from "effect-otp"
 *
 * class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("app/Greeter") {}
 * const Hello = Protocol.make({ Hello: Protocol.call({ payload: { name: Schema.String }, success: Schema.String }) })
 * const HelloSpec = BehaviourRegistry.define(
 *   "hello",
 *   Schema.Void,
 *   GenServer.behaviour(Hello)({
 *     init: () => Effect.succeed(undefined),
 *     handleCall: { Hello: ({ name }, state) => Effect.map(Greeter, (g) => GenServer.reply(g.greet(name), state)) }
 *   })
 * )
 * type Needs = BehaviourRegistry.Services<typeof HelloSpec> // Greeter
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type Services<Spec> = Spec extends { readonly [ServicesTypeId]?: (_: never) => infer R } ? R : never

/**
 * Declares a spawnable behaviour. Its callbacks may use any service: the process runtime comes
 * from the node, every other service from the layer of the node that registers it.
 *
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import { BehaviourRegistry, GenServer, Protocol } from "effect-otp"
 *
 * class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("app/Greeter") {}
 *
 * const Hello = Protocol.make({ Hello: Protocol.call({ payload: { name: Schema.String }, success: Schema.String }) })
 * const hello = GenServer.behaviour(Hello)({
 *   init: (prefix: string) => Effect.succeed(prefix),
 *   handleCall: {
 *     Hello: ({ name }, prefix) =>
 *       Effect.map(Greeter, (greeter) => GenServer.reply(`${prefix}${greeter.greet(name)}`, prefix))
 *   }
 * })
 *
 * export const HelloSpec = BehaviourRegistry.define("hello", Schema.String, hello)
 * //           ^? BehaviourSpec<string, typeof Hello, Greeter>
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const define = <Args, I, P, S, R = never>(
  name: string,
  args: Schema.Codec<Args, I>,
  behaviour: Behaviour<P, Args, S, R>
): BehaviourSpec<Args, P, Exclude<R, ProcessRuntime>> => ({
  name,
  args: args as Schema.Codec<Args, unknown>,
  behaviour: behaviour as unknown as Behaviour<unknown, never, unknown, unknown>,
  protocol: behaviour.protocol
})

/**
 * A remote spawn named a behaviour that the target node has not registered.
 *
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import { BehaviourRegistry, Distribution, GenServer, Protocol } from "effect-otp"
 *
 * class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("app/Greeter") {}
 * const Hello = Protocol.make({ Hello: Protocol.call({ payload: { name: Schema.String }, success: Schema.String }) })
 * const HelloSpec = BehaviourRegistry.define(
 *   "hello",
 *   Schema.Void,
 *   GenServer.behaviour(Hello)({
 *     init: () => Effect.succeed(undefined),
 *     handleCall: { Hello: ({ name }, state) => Effect.map(Greeter, (g) => GenServer.reply(g.greet(name), state)) }
 *   })
 * )
 * const spawned = Distribution.spawn("b", HelloSpec, undefined).pipe(
 *   Effect.catchTag("UnknownBehaviour", (error) => Effect.die(`b does not register hello: ${error.message}`))
 * )
 * ```
 *
 * @category errors
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
 * A behaviour as registered on this node: its spec, and the services its servers run with.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BehaviourRegistry } from "effect-otp"
 *
 * const describe = Effect.map(BehaviourRegistry.BehaviourRegistry, (registry) =>
 *   registry.names.map((name) => `${name}: ${registry.get(name)?.services === undefined ? "no" : "with"} services`)
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Registered extends BehaviourSpec<unknown, unknown, unknown> {
  /** The services of the node's layer, to merge over the node's context when a server is started. */
  readonly services?: Context.Context<never> | undefined
}

/**
 * The behaviours this node lets other nodes start.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BehaviourRegistry } from "effect-otp"
 *
 * const spawnable = Effect.map(BehaviourRegistry.BehaviourRegistry, (registry) => registry.names)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class BehaviourRegistry extends Context.Service<
  BehaviourRegistry,
  {
    /** The behaviour registered under `name`, if any. */
    readonly get: (name: string) => Registered | undefined
    /** The registered names. */
    readonly names: ReadonlyArray<string>
  }
>()("effect-otp/BehaviourRegistry") {}

/**
 * A registry holding `specs` (names must be unique: a duplicate is a defect when the layer is
 * built). It requires the services the specs need and captures them when it is built: servers
 * that other nodes spawn here run with them.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import { BehaviourRegistry, GenServer, Protocol } from "effect-otp"
 *
 * class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("app/Greeter") {}
 *
 * const Hello = Protocol.make({ Hello: Protocol.call({ payload: { name: Schema.String }, success: Schema.String }) })
 * const HelloSpec = BehaviourRegistry.define(
 *   "hello",
 *   Schema.Void,
 *   GenServer.behaviour(Hello)({
 *     init: () => Effect.succeed(undefined),
 *     handleCall: { Hello: ({ name }, state) => Effect.map(Greeter, (g) => GenServer.reply(g.greet(name), state)) }
 *   })
 * )
 *
 * const Registry = BehaviourRegistry.layer([HelloSpec]) // Layer<BehaviourRegistry, never, Greeter>
 * const RegistryLive = Registry.pipe(Layer.provide(Layer.succeed(Greeter, { greet: (name) => `hello ${name}` })))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <const Specs extends ReadonlyArray<AnyBehaviourSpec>>(
  specs: Specs
): Layer.Layer<BehaviourRegistry, never, Services<Specs[number]>> =>
  Layer.effect(
    BehaviourRegistry,
    Effect.map(Effect.context<Services<Specs[number]>>(), (captured) => {
      const services = Context.omit(Scope.Scope)(captured) as Context.Context<never>
      const byName = new Map<string, Registered>()
      for (const spec of specs as ReadonlyArray<BehaviourSpec<unknown, unknown, unknown>>) {
        if (byName.has(spec.name)) throw new Error(`behaviour "${spec.name}" is registered twice`)
        byName.set(spec.name, { ...spec, services })
      }
      return BehaviourRegistry.of({ get: (name) => byName.get(name), names: [...byName.keys()] })
    })
  )

/**
 * A registry with no behaviours (remote spawns on this node fail with `UnknownBehaviour`).
 *
 * @example
 * ```ts
 * import { BehaviourRegistry } from "effect-otp"
 *
 * const NoSpawns = BehaviourRegistry.empty
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const empty: Layer.Layer<BehaviourRegistry> = layer([])
