/**
 * A peer node of the global benchmark, in its own OS process: distribution with the global
 * registry, and a ping server registered globally as `owned-<name>`. Prints `{"port":..}` when ready.
 *
 * Usage: peer.js <name> <seeds comma-separated>
 */
import { Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import * as GlobalRegistry from "../../src/Cluster/GlobalRegistry.ts"
import { GenServer } from "../../src/index.ts"
import { pinger, secret } from "./shared.ts"

const [name = "a", seeds = ""] = process.argv.slice(2)

const program = Effect.gen(function* () {
  const context = yield* Layer.build(
    GlobalRegistry.layer.pipe(
      Layer.provideMerge(
        Distribution.layer({
          nodeName: name,
          host: "127.0.0.1",
          port: 0,
          secret,
          seeds: seeds.split(",").filter((seed) => seed.length > 0)
        })
      )
    )
  )
  const cluster = yield* Effect.provideContext(Effect.service(Cluster.Cluster), context)
  yield* Effect.provideContext(
    Effect.gen(function* () {
      const pid = yield* GenServer.start(pinger, undefined)
      yield* GlobalRegistry.register(`owned-${name}`, pid)
    }),
    context
  )
  process.stdout.write(`${JSON.stringify({ port: cluster.transport.address.port })}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped)

Effect.runFork(program)
process.on("SIGTERM", () => process.exit(0))
process.stdin.on("end", () => process.exit(0))
process.stdin.resume()
