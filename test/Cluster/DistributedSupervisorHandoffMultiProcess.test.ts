import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import {
  Cluster,
  Distribution,
  DistributedSupervisor,
  GenServer,
  GlobalRegistry,
  type ProcessRuntime
} from "../../src/index.ts"
import { ChildProgram } from "../support/childNode.ts"
import { until } from "../support/distSupHarness.ts"
import { HandoffCounter } from "../support/handoffCounter.ts"
import { eventually } from "../support/transportHarness.ts"

const script = Path.join(import.meta.dirname, "../support/handoffNodeProcess.ts")

type Services =
  Distribution.Distribution | ProcessRuntime.ProcessRuntime | Cluster.Cluster | GlobalRegistry.GlobalRegistry

const counter = GlobalRegistry.name("counter-h", HandoffCounter)

/** Nodes a, b, c in child OS processes (the child placed on b), and this process as node "main". */
const processes = (heartbeatMs: number) =>
  Effect.gen(function* () {
    const names = ["a", "b", "c"]
    const children = new Map<string, ChildProgram>()
    let seed = ""
    for (const name of names) {
      const child = yield* Effect.acquireRelease(
        Effect.sync(
          () => new ChildProgram(script, [name, "0", seed, String(heartbeatMs), [...names, "main"].join(","), "b"])
        ),
        (child) => Effect.promise(() => child.stop())
      )
      const ready = yield* child.awaitEvent((event) => event._tag === "Ready", 30_000, 0, `${name} Ready`)
      if (seed === "") seed = `a@127.0.0.1:${ready.port}`
      children.set(name, child)
    }
    const context = yield* Layer.build(
      GlobalRegistry.layer.pipe(
        Layer.provideMerge(
          Distribution.layer({
            nodeName: "main",
            host: "127.0.0.1",
            port: 0,
            seeds: [seed],
            secret: "handoff-test",
            heartbeatInterval: heartbeatMs,
            heartbeatMissThreshold: 3,
            reconnectBaseDelay: 50,
            reconnectMaxDelay: 400,
            discoveryInterval: 200
          })
        )
      )
    )
    const run = <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.provideContext(effect, context)
    yield* run(Cluster.awaitNodes(names, { timeout: "30 seconds" }))
    for (const [name, child] of children) {
      yield* child.awaitEvent((event) => event._tag === "Standby", 30_000, 0, `${name} Standby`)
    }
    return { children, run }
  })

describe("handoff over three OS processes", () => {
  it.live(
    "SIGTERM of the node hosting a child hands the child off with its state; casts sent meanwhile arrive once each, in order",
    () =>
      Effect.gen(function* () {
        const { children, run } = yield* processes(1000)
        const placed = yield* until(
          run(DistributedSupervisor.whichChildren(GlobalRegistry.name("jobs"))),
          (list) => list.length === 1 && list[0]!.node === "b"
        )
        assert.strictEqual(placed[0]!.status, "running")
        yield* until(run(GenServer.call(counter, HandoffCounter.Get())))
        assert.strictEqual(yield* run(GenServer.call(counter, HandoffCounter.Add({ n: 42 }))), 42)

        const stop = yield* Deferred.make<void>()
        const progress = { sent: 0, resent: 0, callsOk: 0, callErrors: [] as Array<string> }
        const sender = yield* Effect.forkChild(
          run(
            Effect.gen(function* () {
              while (!(yield* Deferred.isDone(stop))) {
                const seq = progress.sent + 1
                while (true) {
                  const cast = yield* Effect.result(
                    GenServer.cast(counter, HandoffCounter.Note({ sender: "main", seq }))
                  )
                  if (cast._tag === "Success") break
                  if (cast.failure._tag !== "NoProcess") return yield* Effect.die(cast.failure)
                  progress.resent++
                  yield* Effect.yieldNow
                }
                progress.sent = seq
                if (seq % 20 === 0) {
                  const call = yield* Effect.result(GenServer.call(counter, HandoffCounter.Get(), { timeout: 5000 }))
                  if (call._tag === "Success") progress.callsOk++
                  else progress.callErrors.push(call.failure._tag)
                } else {
                  yield* Effect.yieldNow
                }
              }
            })
          ),
          { startImmediately: true }
        )
        yield* eventually(
          Effect.sync(() => progress.sent),
          (sent) => sent >= 200
        )
        const b = children.get("b")!
        b.signal("SIGTERM")
        const exited = yield* Effect.promise(() => b.exited)
        assert.strictEqual(exited.code, 0)
        const atExit = progress.sent
        yield* eventually(
          Effect.sync(() => progress.sent - atExit),
          (sent) => sent >= 200,
          20_000
        )
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(sender).pipe(Effect.timeout("10 seconds"))

        const answer = yield* run(GenServer.call(counter, HandoffCounter.Get()))
        for (const [name, child] of children) yield* Effect.log(`${name}: ${JSON.stringify(child.events)}`)
        assert.include(["a", "c"], answer.node)
        assert.strictEqual(answer.state.value, 42)
        assert.deepStrictEqual(answer.state.last, { main: progress.sent })
        assert.strictEqual(answer.state.handled, progress.sent)
        assert.strictEqual(answer.state.outOfOrder, 0)
        // The nodes run their program with a plain scope (runChildMain), not Node.runMain: b has no
        // refuse-new-work phase, so calls by the name wait for the new instance, except those made
        // while the name itself moves (NoProcess). Under Node.runMain they would fail with NodeDown
        // ("stopping") instead (see handoffOnLeave).
        for (const tag of progress.callErrors) assert.strictEqual(tag, "NoProcess")
        const leaving = b.events.find((event) => event._tag === "Leaving")
        const handedOff = b.events.find((event) => event._tag === "HandedOff")
        yield* Effect.log(
          `multi-process handoff: took ${handedOff!.at - leaving!.at} ms on b (with the 1 s linger); sent ${progress.sent} (${progress.resent} resent), calls ${progress.callsOk} ok, failed: ${progress.callErrors.join(",") || "none"}; now on ${answer.node}`
        )
        const after = yield* until(
          run(DistributedSupervisor.whichChildren(GlobalRegistry.name("jobs"))),
          (list) => list.length === 1 && list[0]!.node === answer.node
        )
        assert.strictEqual(
          String(after[0]!.pid),
          String(
            (yield* run(GlobalRegistry.whereis("counter-h"))).pipe((o) => (o._tag === "Some" ? o.value : undefined))
          )
        )
      }),
    90_000
  )
})
