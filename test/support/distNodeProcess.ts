/**
 * A distributed node in its own OS process, for the distribution multi-process test.
 *
 * Usage: distNodeProcess.ts <name> <port> <seeds comma-separated>
 * Runs `Distribution.layer` on 127.0.0.1 with the distribution tests' secret and fast timings
 * (heartbeats every 200 ms), starts the `kv` GenServer of `distHarness.ts` registered as "store",
 * then prints `EVENT {"_tag":"Ready","port":..,"node":..,"incarnation":..,"store":{..}}` on stdout
 * (`store` is the server's pid as { node, id, incarnation }). Only EVENT lines go to stdout:
 * Effect's log lines go to stderr. Leaves the cluster gracefully on SIGTERM, and exits when its
 * stdin closes (the parent is gone).
 */
import { Effect } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer } from "../../src/index.ts"
import { fast } from "./clusterHarness.ts"
import { FailingSpec, kv, KvSpec, SlowSpec } from "./distHarness.ts"
import { printEvent, runChildMain } from "./childMain.ts"

const [name = "node", port = "0", seeds = ""] = process.argv.slice(2)

const print = printEvent

const node = Distribution.layer(
  {
    nodeName: name,
    host: "127.0.0.1",
    port: Number(port),
    seeds: seeds.split(",").filter((seed) => seed.length > 0),
    secret: "dist-test",
    ...fast,
    heartbeatInterval: 200
  },
  { behaviours: [KvSpec, FailingSpec, SlowSpec] }
)

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  const store = yield* GenServer.start(kv, 1000, { name: "store" })
  print({
    _tag: "Ready",
    port: cluster.transport.address.port,
    node: cluster.local.name,
    incarnation: cluster.local.incarnation,
    store: { node: store.node, id: store.id, incarnation: store.incarnation }
  })
  return yield* Effect.never
}).pipe(Effect.provide(node))

runChildMain(`distNodeProcess ${name}`, program)
