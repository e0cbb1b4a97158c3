/**
 * A node run by `Node.runMain` in its own OS process for test/Layers/NodeMainHandoff.test.ts: it
 * can host the handoff counter of `handoffCounter.ts` (a behaviour other nodes spawn here), and its
 * application makes its leave a handoff for the distributed supervisor registered under the global
 * name "jobs" (`DistributedSupervisor.handoffOnLeave`). Configured by its environment; prints
 * `EVENT {"_tag":"Ready","clusterPort":..}` once the application started. Logs on standard output.
 */
import { Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import { DistributedSupervisor, GlobalRegistry } from "../../src/index.ts"
import * as Node from "../../src/Layers/Node.ts"
import { printEvent } from "./childMain.ts"
import { HandoffCounterSpec } from "./handoffCounter.ts"

const App = Layer.effectDiscard(
  Effect.gen(function* () {
    yield* DistributedSupervisor.handoffOnLeave(GlobalRegistry.name("jobs"))
    const cluster = yield* Cluster.Cluster
    printEvent({ _tag: "Ready", clusterPort: cluster.transport.address.port })
  })
)

Node.runMain(App, { behaviours: [HandoffCounterSpec] })
