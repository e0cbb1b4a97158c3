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
import { Cause, Effect, Exit, Fiber, Logger } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer } from "../../src/index.ts"
import { gatedSink, patient } from "./creditHarness.ts"

const [name = "node", seeds = ""] = process.argv.slice(2)

const print = (event: object) => process.stdout.write(`EVENT ${JSON.stringify({ ...event, at: Date.now() })}\n`)

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
}).pipe(
  Effect.provide(node),
  Effect.scoped,
  Effect.provide(Logger.layer([Logger.withConsoleError(Logger.formatLogFmt)]))
)

const fiber = Effect.runFork(program)
const leave = () => Effect.runFork(Fiber.interrupt(fiber))
process.on("SIGTERM", leave)
process.stdin.on("end", leave)
process.stdin.resume()
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
    process.stderr.write(`creditNodeProcess ${name} failed: ${Cause.pretty(exit.cause)}\n`)
    process.exit(1)
  }
  process.exit(0)
})
