/**
 * A node in its own OS process for the distributed supervisor's multi-process test and failover
 * benchmark.
 *
 * Usage: distSupNodeProcess.ts <name> <port> <seeds comma-separated> <heartbeat ms> <nodes comma-separated>
 * Runs `Distribution.layer` (TLS-PSK on 127.0.0.1, heartbeats every <heartbeat ms> x 3) with the
 * global registry and the counter behaviour of `distSupHarness.ts`, prints
 * `EVENT {"_tag":"Ready","port":..}`, waits until every node of <nodes> is up, then runs its
 * instance of the singleton distributed supervisor "jobs" (round robin, children c1..c3 under the
 * global names counter-1..counter-3) and prints `EVENT {"_tag":"Standby"}`. Exits when its stdin
 * closes (the parent is gone) or on SIGTERM.
 */
import { Effect, Layer } from "effect"
import { Cluster, Distribution, DistributedSupervisor, GlobalRegistry } from "../../src/index.ts"
import { printEvent, runChildMain } from "./childMain.ts"
import { CounterSpec } from "./distSupHarness.ts"

const [name = "node", port = "0", seeds = "", heartbeat = "1000", nodes = ""] = process.argv.slice(2)

export const jobsSpec: DistributedSupervisor.DistributedSupervisorSpec = {
  selector: "round_robin",
  children: [1, 2, 3].map((i) =>
    DistributedSupervisor.child(`c${i}`, CounterSpec, i * 10, { globalName: `counter-${i}` })
  )
}

const node = GlobalRegistry.layer.pipe(
  Layer.provideMerge(
    Distribution.layer(
      {
        nodeName: name,
        host: "127.0.0.1",
        port: Number(port),
        seeds: seeds.split(",").filter((seed) => seed.length > 0),
        secret: "distsup-test",
        heartbeatInterval: Number(heartbeat),
        heartbeatMissThreshold: 3,
        reconnectBaseDelay: 50,
        reconnectMaxDelay: 400,
        discoveryInterval: 200
      },
      { behaviours: [CounterSpec] }
    )
  )
)

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  printEvent({ _tag: "Ready", port: cluster.transport.address.port, node: cluster.local.name })
  // No timeout: the other nodes start one after the other (slowly on a loaded machine), and the
  // parent kills this process if the cluster never forms.
  yield* cluster.awaitNodes(nodes.split(",").filter((other) => other.length > 0 && other !== name))
  yield* DistributedSupervisor.singleton(jobsSpec, { name: "jobs" })
  printEvent({ _tag: "Standby" })
  return yield* Effect.never
}).pipe(Effect.provide(node))

runChildMain(`distSupNodeProcess ${name}`, program)
