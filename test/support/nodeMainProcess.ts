/**
 * A node run by `Node.runMain` in its own OS process, configured only by its environment, for the
 * tests of test/Layers/NodeMain.test.ts.
 *
 * Usage: nodeMainProcess.ts <mode>
 * - `serve`: an application layer with three servers: `gate` (its `Pass` call is answered only
 *   once `opener` gets the `Open` cast; `EVENT {"_tag":"Entered"}` when a call enters it), `opener`,
 *   and `store` (the distribution tests' kv server). Runs until a signal.
 * - `defect`: an application effect that dies with a defect once the node runs.
 * Prints `EVENT {"_tag":"Ready","clusterPort":..,"healthPort":..}` once the application started.
 * Logs go to standard output (LOG_FORMAT of the environment); EVENT lines are told apart by prefix.
 */
import { Deferred, Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import { GenServer } from "../../src/index.ts"
import * as HttpEndpoint from "../../src/Observability/HttpEndpoint.ts"
import * as Node from "../../src/Layers/Node.ts"
import { kv } from "./distHarness.ts"
import { printEvent } from "./childMain.ts"
import { Gate, Opener } from "./nodeMainProtocol.ts"

const [mode = "serve"] = process.argv.slice(2)

const ready = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  const endpoint = yield* HttpEndpoint.HttpEndpoint
  printEvent({ _tag: "Ready", clusterPort: cluster.transport.address.port, healthPort: endpoint.port })
})

const servers = Effect.gen(function* () {
  const open = yield* Deferred.make<void>()
  yield* GenServer.start(
    GenServer.behaviour(Gate)({
      init: () => Effect.succeed(0),
      handleCall: {
        Pass: (_, n) =>
          Effect.sync(() => printEvent({ _tag: "Entered" })).pipe(
            Effect.andThen(Deferred.await(open)),
            Effect.as(GenServer.reply("passed", n + 1))
          )
      }
    }),
    undefined,
    { name: "gate" }
  )
  yield* GenServer.start(
    GenServer.behaviour(Opener)({
      init: () => Effect.succeed(0),
      handleCall: {},
      handleCast: { Open: (_, n) => Effect.as(Deferred.succeed(open, undefined), GenServer.noReply(n)) }
    }),
    undefined,
    { name: "opener" }
  )
  yield* GenServer.start(kv, 10, { name: "store" })
  yield* Effect.logInfo("application started")
  yield* ready
})

if (mode === "defect") {
  Node.runMain(
    Effect.gen(function* () {
      yield* ready
      return yield* Effect.die(new Error("boom in the application"))
    })
  )
} else {
  Node.runMain(Layer.effectDiscard(servers))
}
