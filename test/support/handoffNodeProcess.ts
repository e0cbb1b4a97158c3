/**
 * A node in its own OS process for the multi-process handoff test.
 *
 * Usage: handoffNodeProcess.ts <name> <port> <seeds comma-separated> <heartbeat ms> <nodes comma-separated> <host>
 * Runs `Distribution.layer` (TLS-PSK on 127.0.0.1) with the global registry and the handoff
 * counter of `handoffCounter.ts`, prints `EVENT {"_tag":"Ready","port":..}`, waits until every node
 * of <nodes> is up, then runs its instance of the singleton distributed supervisor "jobs" (one
 * child, "h1", under the global name "counter-h", placed on <host> while it is a candidate) with
 * `handoffOnLeave`, and prints `EVENT {"_tag":"Standby"}`. On SIGTERM (or when its stdin closes)
 * it leaves gracefully: the children on this node are handed off, then the node stops.
 */
import { Effect, Layer, Stream } from "effect"
import { Cluster, Distribution, DistributedSupervisor, GlobalRegistry } from "../../src/index.ts"
import { printEvent, runChildMain } from "./childMain.ts"
import { HandoffCounterSpec } from "./handoffCounter.ts"

const [name = "node", port = "0", seeds = "", heartbeat = "1000", nodes = "", host = "b"] = process.argv.slice(2)

const spec: DistributedSupervisor.DistributedSupervisorSpec = {
  selector: (candidates) => candidates.find((candidate) => candidate.node === host)?.node ?? candidates[0]?.node,
  children: [DistributedSupervisor.child("h1", HandoffCounterSpec, 0, { globalName: "counter-h" })]
}

const node = GlobalRegistry.layer.pipe(
  Layer.provideMerge(
    Distribution.layer(
      {
        nodeName: name,
        host: "127.0.0.1",
        port: Number(port),
        seeds: seeds.split(",").filter((seed) => seed.length > 0),
        secret: "handoff-test",
        heartbeatInterval: Number(heartbeat),
        heartbeatMissThreshold: 3,
        reconnectBaseDelay: 50,
        reconnectMaxDelay: 400,
        discoveryInterval: 200
      },
      { behaviours: [HandoffCounterSpec] }
    )
  )
)

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  printEvent({ _tag: "Ready", port: cluster.transport.address.port, node: cluster.local.name })
  yield* cluster.awaitNodes(nodes.split(",").filter((other) => other.length > 0 && other !== name))
  // Its own scope, closed before the node's layers: the handoff runs while the node is still up.
  return yield* Effect.scoped(
    Effect.gen(function* () {
      const instance = yield* DistributedSupervisor.singleton(spec, { name: "jobs" })
      const events = yield* instance.subscribe
      yield* Effect.forkScoped(
        Stream.runForEach(events, (event) => Effect.sync(() => printEvent({ _tag: "Supervisor", event: event._tag })))
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => printEvent({ _tag: "HandedOff" })))
      yield* DistributedSupervisor.handoffOnLeave(GlobalRegistry.name("jobs"))
      yield* Effect.addFinalizer(() => Effect.sync(() => printEvent({ _tag: "Leaving" })))
      printEvent({ _tag: "Standby" })
      return yield* Effect.never
    })
  )
}).pipe(Effect.provide(node))

runChildMain(`handoffNodeProcess ${name}`, program)
