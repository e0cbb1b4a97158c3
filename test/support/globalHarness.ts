/**
 * Helpers for the GlobalRegistry and ProcessGroups tests: whole nodes (cluster, runtime,
 * distribution, global registry, process groups) on loopback TCP or on a MemoryNetwork, living in
 * the current scope.
 */
import { Context, Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import type { ClusterConfig } from "../../src/Cluster/ClusterConfig.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import * as GlobalRegistry from "../../src/Cluster/GlobalRegistry.ts"
import type { ProcessRuntime } from "../../src/index.ts"
import * as MemoryTransport from "../../src/Transport/MemoryTransport.ts"
import type { MemoryNetwork } from "../../src/Transport/MemoryNetwork.ts"
import { fast } from "./clusterHarness.ts"
import { KvSpec } from "./distHarness.ts"
import { eventually } from "./transportHarness.ts"

export type GlobalServices =
  | Distribution.Distribution
  | ProcessRuntime.ProcessRuntime
  | Cluster.Cluster
  | GlobalRegistry.GlobalRegistry

/** A node: its services, and a helper to run effects on it. */
export interface GlobalNode {
  readonly name: string
  readonly context: Context.Context<GlobalServices>
  readonly cluster: Cluster.Cluster["Service"]
  readonly registry: GlobalRegistry.GlobalRegistry["Service"]
  readonly seed: string
  readonly run: <A, E>(effect: Effect.Effect<A, E, GlobalServices>) => Effect.Effect<A, E>
}

const node = (name: string, context: Context.Context<GlobalServices>, seed: string): GlobalNode => ({
  name,
  context,
  cluster: Context.get(context, Cluster.Cluster),
  registry: Context.get(context, GlobalRegistry.GlobalRegistry),
  seed,
  run: (effect) => Effect.provideContext(effect, context)
})

/** A whole node on loopback TCP with the cluster secret, in the current scope. */
export const tcpGlobalNode = (config: Partial<ClusterConfig> & { readonly nodeName: string }) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      GlobalRegistry.layer.pipe(
        Layer.provideMerge(
          Distribution.layer(
            { host: "127.0.0.1", port: 0, secret: "global-test", ...fast, ...config },
            { behaviours: [KvSpec] }
          )
        )
      )
    )
    const cluster = Context.get(context, Cluster.Cluster)
    return node(config.nodeName, context, `${config.nodeName}@127.0.0.1:${cluster.transport.address.port}`)
  })

/** A whole node on a MemoryNetwork (for partitions), in the current scope; its seed is `name@name:0`. */
export const memoryGlobalNode = (network: MemoryNetwork, config: Partial<ClusterConfig> & { readonly nodeName: string }) =>
  Effect.gen(function* () {
    const transport = MemoryTransport.layer(network, { name: config.nodeName, handshakeTimeout: 500 })
    const context = yield* Layer.build(
      GlobalRegistry.layer.pipe(
        Layer.provideMerge(
          Distribution.layerOnCluster(
            Cluster.layerOn({ insecure: true, ...fast, ...config }).pipe(Layer.provide(transport)),
            { behaviours: [KvSpec] }
          )
        )
      )
    )
    return node(config.nodeName, context, `${config.nodeName}@${config.nodeName}:0`)
  })

/** Waits until every node's registry is in touch with all the others. */
export const awaitRegistryPeers = (nodes: ReadonlyArray<GlobalNode>, ms = 10_000) =>
  Effect.forEach(
    nodes,
    (n) => eventually(n.registry.stats, (stats) => stats.peers === nodes.length - 1, ms),
    { discard: true }
  )

/** Waits until `name` resolves to `expected` (a pid's string, or undefined) on every node. */
export const awaitOwner = (nodes: ReadonlyArray<GlobalNode>, name: string, expected: string | undefined, ms = 10_000) =>
  Effect.forEach(
    nodes,
    (n) => eventually(Effect.sync(() => n.registry.whereisUnsafe(name)), (pid) => String(pid ?? undefined) === String(expected), ms),
    { discard: true }
  )

/** Three connected TCP nodes a, b, c with their registries in touch. */
export const tcpTrio = Effect.gen(function* () {
  const a = yield* tcpGlobalNode({ nodeName: "a" })
  const b = yield* tcpGlobalNode({ nodeName: "b", seeds: [a.seed] })
  const c = yield* tcpGlobalNode({ nodeName: "c", seeds: [a.seed, b.seed] })
  yield* awaitRegistryPeers([a, b, c])
  return { a, b, c }
})
