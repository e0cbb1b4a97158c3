/**
 * A node with the local Observer and the Observer system process in its own OS process, for the
 * cluster-wide Observer tests.
 *
 * Usage: observerNodeProcess.ts <name> <seeds comma-separated> <heartbeat interval ms>
 * Runs `Distribution.layer` on 127.0.0.1 (any free port, the Observer tests' secret), the
 * `Observer` and `ObserverCluster` layers, starts the kv GenServer of `distHarness.ts` as "store",
 * then prints `EVENT {"_tag":"Ready","port":..,"incarnation":..,"store":{..}}` on stdout. Leaves
 * on SIGTERM or when its stdin closes.
 */
import { Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer, Observer, ObserverCluster } from "../../src/index.ts"
import { printEvent, runChildMain } from "./childMain.ts"
import { fast } from "./clusterHarness.ts"
import { kv, KvSpec } from "./distHarness.ts"
import { SECRET } from "./observerHarness.ts"

const [name = "node", seeds = "", heartbeat = "100"] = process.argv.slice(2)

const node = ObserverCluster.layer().pipe(
  Layer.provideMerge(Observer.layer),
  Layer.provideMerge(
    Distribution.layer(
      {
        nodeName: name,
        host: "127.0.0.1",
        port: 0,
        seeds: seeds.split(",").filter((seed) => seed.length > 0),
        secret: SECRET,
        ...fast,
        heartbeatInterval: Number(heartbeat)
      },
      { behaviours: [KvSpec] }
    )
  )
)

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  const store = yield* GenServer.start(kv, 1000, { name: "store" })
  printEvent({
    _tag: "Ready",
    port: cluster.transport.address.port,
    incarnation: cluster.local.incarnation,
    store: { node: store.node, id: store.id, incarnation: store.incarnation }
  })
  return yield* Effect.never
}).pipe(Effect.provide(node))

runChildMain(`observerNodeProcess ${name}`, program)
