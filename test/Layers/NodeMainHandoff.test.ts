/**
 * `DistributedSupervisor.handoffOnLeave` under `Node.runMain`, in a real child process: on SIGTERM
 * the node's children move in the shutdown's `handoff` phase, before the node refuses calls from
 * other nodes, so calls by the children's global names from other nodes never fail. The test
 * process is the other node (it runs the supervisor and receives the child).
 */
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import {
  type BehaviourRegistry,
  Cluster,
  Distribution,
  DistributedSupervisor,
  GenServer,
  GlobalRegistry,
  type ProcessRuntime
} from "../../src/index.ts"
import { ChildProgram } from "../support/childNode.ts"
import { HandoffCounter, HandoffCounterSpec } from "../support/handoffCounter.ts"
import { eventually } from "../support/transportHarness.ts"

const script = Path.join(import.meta.dirname, "..", "support", "nodeMainHandoffProcess.ts")

interface NodeEvent {
  readonly _tag: string
  readonly clusterPort?: number
}

/** The node program, with every line of its standard output kept (JSON log records and EVENT lines). */
class NodeProgram extends ChildProgram<NodeEvent> {
  readonly lines: Array<string> = []
  constructor(env: Record<string, string>) {
    super(script, [], env)
    let buffered = ""
    this.process.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      this.lines.push(...lines)
    })
  }

  /** The messages of its JSON log records, in order. */
  get messages(): ReadonlyArray<string> {
    return this.lines.flatMap((line) => {
      if (!line.startsWith("{")) return []
      const record = JSON.parse(line) as { message: unknown }
      return [Array.isArray(record.message) ? record.message.join(" ") : String(record.message)]
    })
  }
}

/** Unset in the child unless given: the parent's own environment must not configure it. */
const cleared = Object.fromEntries(
  [
    "CLUSTER_ADVERTISE_HOST",
    "CLUSTER_SEEDS",
    "CLUSTER_DNS_SERVERS",
    "CLUSTER_SECRET_FILE",
    "CLUSTER_INSECURE",
    "LOG_LEVEL",
    "SHUTDOWN_DRAIN_MS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER"
  ].map((name) => [name, ""])
)

type Services =
  | BehaviourRegistry.BehaviourRegistry
  | Distribution.Distribution
  | ProcessRuntime.ProcessRuntime
  | Cluster.Cluster
  | GlobalRegistry.GlobalRegistry

const counter = GlobalRegistry.name("counter-h", HandoffCounter)

/** Places on "a" while it is a candidate, else on "main". */
const onA: DistributedSupervisor.Selector = (candidates) =>
  candidates.find((candidate) => candidate.node === "a")?.node ??
  candidates.find((candidate) => candidate.node === "main")?.node

describe("Node.runMain with handoffOnLeave", () => {
  it.live(
    "SIGTERM hands the node's child off in the handoff phase, before new work is refused: calls and casts by its global name never fail, the state is kept",
    () =>
      Effect.gen(function* () {
        const child = yield* Effect.acquireRelease(
          Effect.sync(
            () =>
              new NodeProgram({
                ...cleared,
                NODE_NAME: "a",
                CLUSTER_HOST: "127.0.0.1",
                CLUSTER_PORT: "0",
                CLUSTER_SECRET: "handoff-main-test",
                HEALTH_HOST: "127.0.0.1",
                HEALTH_PORT: "0",
                HEARTBEAT_INTERVAL_MS: "500",
                HEARTBEAT_MISS_THRESHOLD: "6",
                LOG_FORMAT: "json"
              })
          ),
          (program) => Effect.promise(() => program.stop())
        )
        const ready = yield* child.awaitEvent((event) => event._tag === "Ready", 30_000, 0, "a Ready")
        const context = yield* Layer.build(
          GlobalRegistry.layer.pipe(
            Layer.provideMerge(
              Distribution.layer(
                {
                  nodeName: "main",
                  host: "127.0.0.1",
                  port: 0,
                  seeds: [`a@127.0.0.1:${ready.clusterPort}`],
                  secret: "handoff-main-test",
                  heartbeatInterval: 500,
                  heartbeatMissThreshold: 6
                },
                { behaviours: [HandoffCounterSpec] }
              )
            )
          )
        )
        const run = <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.provideContext(effect, context)
        yield* run(Cluster.awaitNodes(["a"], { timeout: "20 seconds" }))
        yield* eventually(run(GlobalRegistry.stats), (stats) => stats.peers === 1, 20_000)
        const sup = yield* run(
          DistributedSupervisor.start({
            selector: onA,
            children: [DistributedSupervisor.child("h1", HandoffCounterSpec, 0, { globalName: "counter-h" })]
          })
        )
        yield* run(GlobalRegistry.register("jobs", sup.pid))
        const placed = yield* run(DistributedSupervisor.whichChildren(sup.pid))
        assert.strictEqual(placed[0]!.node, "a")
        assert.strictEqual(yield* run(GenServer.call(counter, HandoffCounter.Add({ n: 42 }))), 42)

        const stop = yield* Deferred.make<void>()
        const failures: Array<string> = []
        const progress = { rounds: 0 }
        const caller = yield* Effect.forkChild(
          run(
            Effect.gen(function* () {
              while (!(yield* Deferred.isDone(stop))) {
                const seq = progress.rounds + 1
                const cast = yield* Effect.result(GenServer.cast(counter, HandoffCounter.Note({ sender: "main", seq })))
                if (cast._tag === "Failure") failures.push(`cast ${cast.failure._tag}: ${cast.failure.message}`)
                const call = yield* Effect.result(
                  GenServer.call(counter, HandoffCounter.Add({ n: 1 }), { timeout: 10_000 })
                )
                if (call._tag === "Failure") failures.push(`call ${call.failure._tag}: ${call.failure.message}`)
                progress.rounds = seq
              }
            })
          ),
          { startImmediately: true }
        )
        yield* eventually(
          Effect.sync(() => progress.rounds),
          (rounds) => rounds >= 100,
          20_000
        )
        child.signal("SIGTERM")
        const exited = yield* Effect.promise(() => child.exited)
        assert.strictEqual(exited.code, 0)
        const atExit = progress.rounds
        yield* eventually(
          Effect.sync(() => progress.rounds - atExit),
          (rounds) => rounds >= 100,
          20_000
        )
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(caller).pipe(Effect.timeout("20 seconds"))

        assert.deepStrictEqual(failures.slice(0, 5), [], `${failures.length} failed`)
        const messages = child.messages
        const handoffDone = messages.findIndex((m) => /^shutdown phase 2\/7 handoff: done/.test(m))
        const refusal = messages.findIndex((m) => m.startsWith("shutdown phase 3/7 refuse-new-work: started"))
        assert.isAbove(handoffDone, -1, messages.join("\n"))
        assert.isAbove(refusal, handoffDone)
        const answer = yield* run(GenServer.call(counter, HandoffCounter.Get()))
        assert.strictEqual(answer.node, "main")
        // Every cast and call handled once, in order, on top of the carried state.
        assert.strictEqual(answer.state.value, 42 + progress.rounds)
        assert.deepStrictEqual(answer.state.last, { main: progress.rounds })
        assert.strictEqual(answer.state.handled, progress.rounds)
        assert.strictEqual(answer.state.outOfOrder, 0)
        yield* Effect.log(
          `runMain handoff: ${progress.rounds} rounds (${atExit} before the exit), phase: ${messages[handoffDone]}`
        )
      }),
    90_000
  )
})
