/**
 * Helpers for the cluster-wide Observer tests: a whole node on loopback (distribution, the local
 * Observer, optionally the Observer system process and its HTTP routes on the node's endpoint),
 * living in the current scope; and a node of the same kind in a child OS process
 * (`observerNodeProcess.ts`).
 */
import * as Path from "node:path"
import { Context, Effect, Layer, Logger } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import type { ClusterConfig } from "../../src/Cluster/ClusterConfig.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { HttpEndpoint, Observer, ObserverCluster, ObserverHttp, Pid, type ProcessRuntime } from "../../src/index.ts"
import { ChildProgram } from "./childNode.ts"
import { fast } from "./clusterHarness.ts"
import { KvSpec } from "./distHarness.ts"

export const SECRET = "observer-test"

export interface ObservedNodeOptions {
  /** Run the Observer system process (default true). */
  readonly observerCluster?: boolean
  /** Options of `ObserverCluster.layer`. */
  readonly cluster?: ObserverCluster.ObserverClusterOptions
  /** Every log line of the node (JSON, with its annotations) is pushed here. */
  readonly logLines?: Array<string>
  /** Build the node's Observer with `showState: true` (default false: states without formatStatus hidden). */
  readonly showState?: boolean
  /** Serve the Observer's HTTP routes with these options (default: no HTTP endpoint). */
  readonly http?: ObserverHttp.ObserverHttpOptions
}

type Services =
  | Distribution.Distribution
  | ProcessRuntime.ProcessRuntime
  | Cluster.Cluster
  | Observer.Observer
  | ObserverCluster.ObserverCluster

const baseLayer = (config: Partial<ClusterConfig> & { readonly nodeName: string }, showState = false) =>
  Observer.layerWith({ showState }).pipe(
    Layer.provideMerge(
      Distribution.layer({ host: "127.0.0.1", port: 0, secret: SECRET, ...fast, ...config }, { behaviours: [KvSpec] })
    )
  )

const withObserverCluster = (
  config: Partial<ClusterConfig> & { readonly nodeName: string },
  options?: ObserverCluster.ObserverClusterOptions,
  showState = false
) => ObserverCluster.layer(options).pipe(Layer.provideMerge(baseLayer(config, showState)))

/** A node on loopback in the current scope. */
export const observedNode = (
  config: Partial<ClusterConfig> & { readonly nodeName: string },
  options?: ObservedNodeOptions
) =>
  Effect.gen(function* () {
    const base = baseLayer(config, options?.showState)
    // A node without the system process has no ObserverCluster service: only tests that do not
    // query it (or serve HTTP) build one.
    const withCluster = (
      options?.observerCluster === false ? base : withObserverCluster(config, options?.cluster, options?.showState)
    ) as ReturnType<typeof withObserverCluster>
    const layer =
      options?.http === undefined
        ? withCluster
        : ObserverHttp.layer(options.http).pipe(
            Layer.provideMerge(HttpEndpoint.layer()),
            Layer.provideMerge(withCluster)
          )
    const logged =
      options?.logLines === undefined
        ? layer
        : layer.pipe(
            Layer.provide(Logger.layer([Logger.map(Logger.formatJson, (line) => void options.logLines!.push(line))]))
          )
    const context = (yield* Layer.build(logged)) as Context.Context<Services | HttpEndpoint.HttpEndpoint>
    const cluster = Context.get(context, Cluster.Cluster)
    const port = options?.http === undefined ? 0 : Context.get(context, HttpEndpoint.HttpEndpoint).port
    return {
      name: config.nodeName,
      cluster,
      seed: `${config.nodeName}@127.0.0.1:${cluster.transport.address.port}`,
      url: `http://127.0.0.1:${port}`,
      run: <A, E>(effect: Effect.Effect<A, E, Services>) =>
        Effect.provideContext(effect, context as Context.Context<Services>)
    }
  })

export interface ReadyEvent {
  readonly _tag: "Ready"
  readonly port: number
  readonly incarnation: number
  readonly store: { readonly node: string; readonly id: number; readonly incarnation: number }
}

/**
 * A node with the Observer system process in a child OS process (killed when the scope closes),
 * ready when this resolves; `store` is the pid of a kv server it runs.
 */
export const observedChildNode = (name: string, seeds: ReadonlyArray<string>, heartbeatIntervalMs: number) =>
  Effect.gen(function* () {
    const script = Path.join(import.meta.dirname, "observerNodeProcess.ts")
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => new ChildProgram(script, [name, seeds.join(","), String(heartbeatIntervalMs)])),
      (child) => Effect.promise(() => child.stop())
    )
    const ready = (yield* child.awaitEvent(
      (event) => event._tag === "Ready",
      20_000,
      0,
      "Ready"
    )) as unknown as ReadyEvent
    return { child, ready, store: Pid.make(ready.store.node, ready.store.id, ready.store.incarnation) }
  })
