/**
 * A node with the global registry and process groups in its own OS process, for the multi-process
 * GlobalRegistry test.
 *
 * Usage: globalNodeProcess.ts <name> <port> <seeds comma-separated>
 * Runs `Distribution.layer` on 127.0.0.1 (secret "global-test", heartbeats every 200 ms) with
 * `GlobalRegistry.layer` and `ProcessGroups.layer`, waits until the registry and the groups of every
 * seed are in touch (so that the registration is made in a connected cluster, decided by the
 * cluster's arbiter, not by this node alone as in a partition), starts the `kv` GenServer of
 * `distHarness.ts`, registers it globally as `kv-<name>` and joins it to the group "g", then prints
 * `EVENT {"_tag":"Ready","port":..,"pid":"<..>"}` on stdout. Logs go to stderr. Exits when its stdin
 * closes (the parent is gone) or on SIGTERM.
 */
import { Effect, Layer, Schedule } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import * as GlobalRegistry from "../../src/Cluster/GlobalRegistry.ts"
import * as ProcessGroups from "../../src/Cluster/ProcessGroups.ts"
import { GenServer } from "../../src/index.ts"
import { fast } from "./clusterHarness.ts"
import { kv, KvSpec } from "./distHarness.ts"
import { printEvent, runChildMain } from "./childMain.ts"

const [name = "node", port = "0", seedList = ""] = process.argv.slice(2)
const seeds = seedList.split(",").filter((seed) => seed.length > 0)

const node = Layer.mergeAll(GlobalRegistry.layer, ProcessGroups.layer).pipe(
  Layer.provideMerge(
    Distribution.layer(
      {
        nodeName: name,
        host: "127.0.0.1",
        port: Number(port),
        seeds,
        secret: "global-test",
        ...fast,
        heartbeatInterval: 200
      },
      { behaviours: [KvSpec] }
    )
  )
)

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  const registry = yield* GlobalRegistry.GlobalRegistry
  const groups = yield* ProcessGroups.ProcessGroups
  const inTouch = Effect.zipWith(
    registry.stats,
    groups.peers,
    (stats, peers) => stats.peers >= seeds.length && peers.length >= seeds.length
  )
  yield* inTouch.pipe(Effect.repeat({ until: (ready) => ready, schedule: Schedule.spaced("5 millis") }))
  const store = yield* GenServer.start(kv, 1000)
  yield* GlobalRegistry.register(`kv-${name}`, store)
  yield* ProcessGroups.join("g", store)
  printEvent({ _tag: "Ready", port: cluster.transport.address.port, pid: String(store) })
  return yield* Effect.never
}).pipe(Effect.provide(node))

runChildMain(`globalNodeProcess ${name}`, program)
