/**
 * A distributed node in its own OS process with a consumer that handles nothing until told, for
 * the multi-process credit test.
 *
 * Usage: creditNodeProcess.ts <name> <seeds comma-separated>
 * Runs `Distribution.layer` on 127.0.0.1 (port 0) with the distribution tests' secret, starts the
 * gated sink of `creditHarness.ts` (mailbox capacity 16) and its gate registered as "gate", then
 * prints `EVENT {"_tag":"Ready","port":..,"sink":{..}}` on stdout. Leaves the cluster on SIGTERM,
 * and exits when its stdin closes (the parent is gone).
 */
import { Effect } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer } from "../../src/index.ts"
import { gatedSink, patient } from "./creditHarness.ts"
import { printEvent, runChildMain } from "./childMain.ts"

const [name = "node", seeds = ""] = process.argv.slice(2)

const print = printEvent

const node = Distribution.layer({
  nodeName: name,
  host: "127.0.0.1",
  port: 0,
  seeds: seeds.split(",").filter((seed) => seed.length > 0),
  secret: "dist-test",
  ...patient
})

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  const distribution = yield* Distribution.Distribution
  const { sink, gate } = yield* gatedSink(distribution.stats)
  const sinkPid = yield* GenServer.start(sink, undefined, { mailboxCapacity: 16 })
  yield* GenServer.start(gate, undefined, { name: "gate" })
  print({
    _tag: "Ready",
    port: cluster.transport.address.port,
    sink: { node: sinkPid.node, id: sinkPid.id, incarnation: sinkPid.incarnation }
  })
  return yield* Effect.never
}).pipe(Effect.provide(node))

runChildMain(`creditNodeProcess ${name}`, program)
