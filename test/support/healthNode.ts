/**
 * Nodes with their probes served on their own HTTP endpoint, for the Health tests: a whole node on
 * a `MemoryNetwork`, a node without a cluster, and a probe request that keeps status and headers.
 */
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import type { ClusterConfig } from "../../src/Cluster/ClusterConfig.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { Health, HttpEndpoint, ProcessRuntime } from "../../src/index.ts"
import * as MemoryTransport from "../../src/Transport/MemoryTransport.ts"
import type { MemoryNetwork } from "../../src/Transport/MemoryNetwork.ts"
import { fast } from "./clusterHarness.ts"

/** A cluster node on `network` (seed `name@name:0`) as a context, living in the current scope. */
export const memoryNode = (network: MemoryNetwork, config: Partial<ClusterConfig> & { readonly nodeName: string }) =>
  Layer.build(
    Distribution.layerOnCluster(
      Cluster.layerOn({ insecure: true, ...fast, ...config }).pipe(
        Layer.provide(MemoryTransport.layer(network, { name: config.nodeName, handshakeTimeout: 500 }))
      )
    )
  )

/** Health and an HTTP endpoint on loopback over the services of `node`, living in `scope`. */
export const probed = <R extends ProcessRuntime.ProcessRuntime>(
  node: Context.Context<R>,
  options: Health.HealthOptions | undefined,
  scope: Scope.Scope
) =>
  Effect.gen(function* () {
    const context = yield* Layer.buildWithScope(
      Health.layer(options).pipe(Layer.provideMerge(HttpEndpoint.layer()), Layer.provide(Layer.succeedContext(node))),
      scope
    )
    const endpoint = Context.get(context, HttpEndpoint.HttpEndpoint)
    const merged = Context.merge(node, context)
    return {
      health: Context.get(context, Health.Health),
      base: `http://127.0.0.1:${endpoint.port}`,
      run: <A, E, R2>(effect: Effect.Effect<A, E, R2>) => Effect.provideContext(effect, merged as Context.Context<R2>)
    }
  })

/** A whole probed node on `network`, living in the current scope. */
export const healthNode = (
  network: MemoryNetwork,
  config: Partial<ClusterConfig> & { readonly nodeName: string },
  options?: Health.HealthOptions
) =>
  Effect.gen(function* () {
    const node = yield* memoryNode(network, config)
    const probes = yield* probed(node, options, yield* Effect.scope)
    return { ...probes, cluster: Context.get(node, Cluster.Cluster) }
  })

/** A probed node with a process runtime and no cluster, living in the current scope. */
export const standaloneNode = (options?: Health.HealthOptions) =>
  Effect.gen(function* () {
    const node = yield* Layer.build(ProcessRuntime.layer({ node: "solo" }))
    return yield* probed(node, options, yield* Effect.scope)
  })

/** A probe: one GET, with its status, the headers that matter and the body parsed as JSON. */
export const probe = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    const text = await response.text()
    return {
      status: response.status,
      contentType: response.headers.get("content-type"),
      cacheControl: response.headers.get("cache-control"),
      body: JSON.parse(text) as unknown
    }
  })
