/**
 * A distributed node on loopback with its metrics served on its own HTTP endpoint, and its own
 * metric registry (several nodes share the test process).
 */
import { Context, Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import type { ClusterConfig } from "../../src/Cluster/ClusterConfig.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { HttpEndpoint, Metrics, RuntimeMetrics } from "../../src/index.ts"
import { fast } from "./clusterHarness.ts"
import { KvSpec } from "./distHarness.ts"

export const observedNode = (config: Partial<ClusterConfig> & { readonly nodeName: string }) =>
  Effect.gen(function* () {
    const layer = Layer.mergeAll(
      Metrics.layer(),
      RuntimeMetrics.layer({ sampleInterval: 200 }),
      Metrics.layerHttp
    ).pipe(
      Layer.provideMerge(HttpEndpoint.layer()),
      Layer.provideMerge(
        Distribution.layer(
          { host: "127.0.0.1", port: 0, secret: "metrics-test", ...fast, ...config },
          { behaviours: [KvSpec] }
        )
      ),
      Layer.provideMerge(Metrics.layerRegistry)
    )
    const context = yield* Layer.build(layer)
    const endpoint = Context.get(context, HttpEndpoint.HttpEndpoint)
    const cluster = Context.get(context, Cluster.Cluster)
    return {
      name: config.nodeName,
      context,
      cluster,
      distribution: Context.get(context, Distribution.Distribution),
      seed: `${config.nodeName}@127.0.0.1:${cluster.transport.address.port}`,
      metricsUrl: `http://127.0.0.1:${endpoint.port}/metrics`,
      port: endpoint.port,
      run: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideContext(effect, context as Context.Context<R>)
    }
  })

/** The body of a GET. */
export const httpGet = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
  })

/** The value of the series `name{labels}` in a Prometheus text, or undefined. */
export const sample = (text: string, name: string, labels = ""): number | undefined => {
  const prefix = labels === "" ? `${name} ` : `${name}{${labels}} `
  const line = text.split("\n").find((l) => l.startsWith(prefix))
  return line === undefined ? undefined : Number(line.slice(prefix.length))
}
