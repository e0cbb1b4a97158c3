/**
 * A node run by `Node.runMain` in its own OS process, configured only by its environment, for the
 * tests of test/Layers/NodeMain.test.ts.
 *
 * Usage: nodeMainProcess.ts <mode>
 * - `serve`: an application layer, a supervision tree of three servers started in this order:
 *   `gate` (its `Pass` call is answered only once `opener` gets the `Open` cast;
 *   `EVENT {"_tag":"Entered"}` when a call enters it), `opener`, and `store` (the distribution
 *   tests' kv server). Each logs `terminated <name>` when stopped. Runs until a signal.
 * - `defect`: an application effect that dies with a defect once the node runs.
 * Prints `EVENT {"_tag":"Ready","clusterPort":..,"healthPort":..}` once the application started.
 * Logs go to standard output (LOG_FORMAT of the environment); EVENT lines are told apart by prefix.
 */
import { Deferred, Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import { ChildSpec, GenServer, Supervisor } from "../../src/index.ts"
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

/** Answers the gate's waiting calls once completed (one node per process: module state is fine here). */
const open = Deferred.makeUnsafe<void>()

/** Logs `terminated <name>` when the supervisor stops the server (it traps exits, so terminate runs). */
const terminate = (name: string) => () => Effect.logInfo(`terminated ${name}`)

const gate = GenServer.behaviour(Gate)({
  init: () => Effect.succeed(0),
  handleCall: {
    Pass: (_, n) =>
      Effect.sync(() => printEvent({ _tag: "Entered" })).pipe(
        Effect.andThen(Deferred.await(open)),
        Effect.as(GenServer.reply("passed", n + 1))
      )
  },
  terminate: terminate("gate")
})

const opener = GenServer.behaviour(Opener)({
  init: () => Effect.succeed(0),
  handleCall: {},
  handleCast: { Open: (_, n) => Effect.as(Deferred.succeed(open, undefined), GenServer.noReply(n)) },
  terminate: terminate("opener")
})

/** The application: one supervision tree, started gate, opener, store (stopped in reverse). */
const Tree = Supervisor.layer({
  children: [
    ChildSpec.genServer("gate", gate, undefined, { name: "gate", trapExit: true, shutdown: "1 second" }),
    ChildSpec.genServer("opener", opener, undefined, { name: "opener", trapExit: true }),
    ChildSpec.genServer("store", { ...kv, terminate: terminate("store") }, 10, { name: "store", trapExit: true })
  ]
})

/** Its start is a span ("application started"), exported when tracing is configured. */
const App = Layer.effectDiscard(
  Effect.andThen(Effect.logInfo("application started"), ready).pipe(Effect.withSpan("application started"))
).pipe(Layer.provide(Tree))

if (mode === "defect") {
  Node.runMain(
    Effect.gen(function* () {
      yield* ready
      return yield* Effect.die(new Error("boom in the application"))
    })
  )
} else {
  Node.runMain(App)
}
