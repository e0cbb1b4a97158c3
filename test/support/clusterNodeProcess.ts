/**
 * A cluster node in its own OS process, for the multi-process tests.
 *
 * Usage: clusterNodeProcess.ts <name> <port> <seeds comma-separated> <heartbeatIntervalMs>
 * Prints `EVENT {json}` lines on stdout: `{ _tag: "Ready", port, incarnation }`, then every cluster
 * event with `at` (epoch ms). Leaves the cluster gracefully on SIGTERM.
 */
import { Effect, Fiber } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"

const [name = "node", port = "0", seeds = "", interval = "200"] = process.argv.slice(2)

const print = (event: object) => process.stdout.write(`EVENT ${JSON.stringify({ ...event, at: Date.now() })}\n`)

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  yield* cluster.onEvent(print)
  print({ _tag: "Ready", port: cluster.transport.address.port, incarnation: cluster.local.incarnation })
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(
    Cluster.layer({
      nodeName: name,
      host: "127.0.0.1",
      port: Number(port),
      seeds: seeds.split(",").filter((seed) => seed.length > 0),
      secret: "multi-process-secret",
      heartbeatInterval: Number(interval),
      heartbeatMissThreshold: 3,
      reconnectBaseDelay: 100,
      reconnectMaxDelay: 1000
    })
  )
)

const fiber = Effect.runFork(program)
process.on("SIGTERM", () => Effect.runFork(Fiber.interrupt(fiber)))
fiber.addObserver(() => process.exit(0))
