/**
 * Helpers for the distribution tests: whole nodes (cluster + runtime + distribution) on loopback,
 * living in the current scope, and a shared test protocol.
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as BehaviourRegistry from "../../src/Cluster/BehaviourRegistry.ts"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import type { ClusterConfig } from "../../src/Cluster/ClusterConfig.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { ExitReason, GenServer, Protocol } from "../../src/index.ts"
import type { ProcessRuntime } from "../../src/index.ts"
import * as MemoryTransport from "../../src/Transport/MemoryTransport.ts"
import type { MemoryNetwork } from "../../src/Transport/MemoryNetwork.ts"
import { fast } from "./clusterHarness.ts"

export class Overflow extends Schema.TaggedError<Overflow>()("Overflow", { limit: Schema.Number }) {}

/** The protocol every test node speaks. */
export const Kv = Protocol.make({
  Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.NullOr(Schema.String) }),
  Put: Protocol.call({
    payload: { key: Schema.String, value: Schema.String },
    success: Schema.Number,
    error: Overflow
  }),
  Whoami: Protocol.call({ success: Schema.String }),
  /** Never answers (the caller is kept). */
  Hang: Protocol.call({ success: Schema.Void }),
  Crash: Protocol.call({ success: Schema.Void }),
  Note: Protocol.cast({ payload: { key: Schema.String, value: Schema.String } })
})

/** A key-value server; at most `limit` keys. */
export const kv = GenServer.behaviour(Kv)({
  init: (limit: number) => Effect.succeed({ limit, entries: new Map<string, string>() }),
  handleCall: {
    Get: ({ key }, state) => Effect.succeed(GenServer.reply(state.entries.get(key) ?? null, state)),
    Put: ({ key, value }, state) =>
      state.entries.size >= state.limit && !state.entries.has(key)
        ? Effect.fail(new Overflow({ limit: state.limit }))
        : Effect.sync(() => {
            state.entries.set(key, value)
            return GenServer.reply(state.entries.size, state)
          }),
    Whoami: (_, state) => Effect.map(GenServer.self, (pid) => GenServer.reply(String(pid), state)).pipe(Effect.orDie),
    Hang: (_, state) => Effect.succeed(GenServer.noReply(state)),
    Crash: () => Effect.die("kv crashed")
  },
  handleCast: {
    Note: ({ key, value }, state) =>
      Effect.sync(() => {
        state.entries.set(key, value)
        return GenServer.noReply(state)
      })
  }
})

/** Spawnable: a kv server with a limit. */
export const KvSpec = BehaviourRegistry.define("kv", Schema.Number, kv)

const Failing = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
/** Spawnable: a server whose init fails. */
export const FailingSpec = BehaviourRegistry.define(
  "failing",
  Schema.String,
  GenServer.behaviour(Failing)({
    init: (why: string) => Effect.fail(why),
    handleCall: { Get: (_, n: number) => Effect.succeed(GenServer.reply(n, n)) }
  })
)

/** Spawnable: a server whose init never finishes. */
export const SlowSpec = BehaviourRegistry.define(
  "slow",
  Schema.Number,
  GenServer.behaviour(Failing)({
    init: () => Effect.never,
    handleCall: { Get: (_, n: number) => Effect.succeed(GenServer.reply(n, n)) }
  })
)

export type NodeServices = Distribution.Distribution | ProcessRuntime.ProcessRuntime | Cluster.Cluster

/** A node: its services, and a helper to run effects on it. */
export interface TestNode {
  readonly name: string
  readonly context: Context.Context<NodeServices>
  readonly cluster: Cluster.Cluster["Service"]
  readonly distribution: Distribution.Distribution["Service"]
  readonly seed: string
  readonly run: <A, E>(effect: Effect.Effect<A, E, NodeServices>) => Effect.Effect<A, E>
}

/** A whole node on loopback with the cluster secret (TLS-PSK), in the current scope. */
export const distNode = (
  config: Partial<ClusterConfig> & { readonly nodeName: string },
  behaviours: ReadonlyArray<BehaviourRegistry.BehaviourSpec<unknown>> = [KvSpec, FailingSpec, SlowSpec]
) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      Distribution.layer({ host: "127.0.0.1", port: 0, secret: "dist-test", ...fast, ...config }, { behaviours })
    )
    const cluster = Context.get(context, Cluster.Cluster)
    return testNode(config.nodeName, context, `${config.nodeName}@127.0.0.1:${cluster.transport.address.port}`)
  })

/** A whole node on a `MemoryNetwork` (for fault injection), in the current scope; its seed is `name@name:0`. */
export const memoryDistNode = (
  network: MemoryNetwork,
  config: Partial<ClusterConfig> & { readonly nodeName: string },
  behaviours: ReadonlyArray<BehaviourRegistry.BehaviourSpec<unknown>> = [KvSpec, FailingSpec, SlowSpec]
) =>
  Effect.gen(function* () {
    const transport = MemoryTransport.layer(network, {
      name: config.nodeName,
      handshakeTimeout: 500,
      ...config.transport
    })
    const context = yield* Layer.build(
      Distribution.layerOnCluster(
        Cluster.layerOn({ insecure: true, ...fast, ...config }).pipe(Layer.provide(transport)),
        {
          behaviours
        }
      )
    )
    return testNode(config.nodeName, context, `${config.nodeName}@${config.nodeName}:0`)
  })

const testNode = (name: string, context: Context.Context<NodeServices>, seed: string): TestNode => ({
  name,
  context,
  cluster: Context.get(context, Cluster.Cluster),
  distribution: Context.get(context, Distribution.Distribution),
  seed,
  run: (effect) => Effect.provideContext(effect, context)
})

export { ExitReason }
