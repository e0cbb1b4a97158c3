/**
 * The observability benchmark's peer: a distributed node with a `bench` server, over
 * `Tracing.layerOtlp` configured by the standard OTEL_* variables its parent sets (with
 * `OTEL_SDK_DISABLED=true`, no tracer). Prints `{"nodePort":..}` when ready; leaves (flushing its
 * spans) when stdin closes.
 */
import { Effect, Fiber, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer, Tracing } from "../../src/index.ts"
import { peerNode, secret, server } from "./protocol.ts"

const node = Distribution.layer({ nodeName: peerNode, host: "127.0.0.1", port: 0, secret }).pipe(
  Layer.provideMerge(Tracing.layerOtlp({ serviceName: "bench-peer", nodeName: peerNode }))
)

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  yield* GenServer.start(server, undefined, { name: "bench" })
  process.stdout.write(`${JSON.stringify({ nodePort: cluster.transport.address.port })}\n`)
  return yield* Effect.never
}).pipe(Effect.provide(node), Effect.scoped)

const fiber = Effect.runFork(program)
process.stdin.on("end", () => Effect.runFork(Fiber.interrupt(fiber)))
process.stdin.resume()
fiber.addObserver(() => process.exit(0))
