import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Cluster, Distribution, MemoryNetwork, MemoryTransport, Process } from "../../src/index.ts"
import { awaitNodesUp, fast } from "../support/clusterHarness.ts"
import { eventually } from "../support/transportHarness.ts"

/** A node built with `Distribution.layerOnCluster` (membership provided from elsewhere), in the current scope. */
const node = (
  network: MemoryNetwork.MemoryNetwork,
  name: string,
  seeds: ReadonlyArray<string>,
  processCount?: number
) =>
  Layer.build(
    Distribution.layerOnCluster(
      Cluster.layerOn({
        nodeName: name,
        insecure: true,
        seeds,
        ...fast,
        ...(processCount === undefined ? {} : { processCount: Effect.succeed(processCount) })
      }).pipe(Layer.provide(MemoryTransport.layer(network, { name, handshakeTimeout: 500 })))
    )
  )

/** How many processes `observer` sees on `node` in its heartbeats. */
const countSeen = (observer: Context.Context<Cluster.Cluster>, node: string) =>
  Effect.map(
    Context.get(observer, Cluster.Cluster).nodes,
    (nodes) => nodes.find((info) => info.id === node)?.processCount ?? -1
  )

describe("process counts in heartbeats", () => {
  it.live("a node built with Distribution.layerOnCluster reports its runtime's process count", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const a = yield* node(network, "a", ["b@b:0"])
      const b = yield* node(network, "b", ["a@a:0"])
      yield* awaitNodesUp(Context.get(a, Cluster.Cluster), ["b"])
      const base = yield* Effect.provideContext(
        Effect.map(Process.list, (list) => list.length),
        b
      )
      for (let i = 0; i < 3; i++)
        yield* Effect.provideContext(
          Process.spawn(() => Effect.never),
          b
        )
      const seen = yield* eventually(countSeen(a, "b"), (count) => count >= base + 3, 5000)
      assert.isAtLeast(seen, 3)
    }).pipe(Effect.scoped)
  )

  it.live("a processCount set in the cluster configuration takes precedence over the runtime's", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const a = yield* node(network, "a", ["b@b:0"])
      yield* node(network, "b", ["a@a:0"], 42)
      yield* awaitNodesUp(Context.get(a, Cluster.Cluster), ["b"])
      assert.strictEqual(yield* eventually(countSeen(a, "b"), (count) => count === 42, 5000), 42)
    }).pipe(Effect.scoped)
  )
})
