import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, Option, References, Scope, Stream, Tracer } from "effect"
import { GenServer, Pid, Process } from "../../src/index.ts"
import * as Client from "../../src/Supervisor/Client.ts"
import * as Supervisor from "../../src/Supervisor/Supervisor.ts"
import * as SupervisorEvents from "../../src/Supervisor/SupervisorEvents.ts"
import { eventLog, is, type Journal, run, whereis, within, Worker, workerChild } from "./helpers.ts"

class WorkerB extends Context.Service<WorkerB, Client.Client<typeof Worker>>()("test/WorkerB") {}

const tree = (journal: Journal) =>
  Supervisor.layer(
    {
      strategy: "one_for_one",
      children: [
        workerChild(journal, "a"),
        Supervisor.child("inner", {
          strategy: "one_for_all",
          children: [workerChild(journal, "b"), workerChild(journal, "c")]
        }),
        workerChild(journal, "d")
      ]
    },
    { name: "root" }
  )

describe("Supervisor.layer", () => {
  it.effect("builds the tree with the layer and stops it in reverse order when the layer's scope closes", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const scope = yield* Scope.make()
        yield* Layer.buildWithScope(tree(journal), scope)
        assert.deepStrictEqual(journal, ["start:a", "start:b", "start:c", "start:d"])
        const pids = [yield* whereis("root"), yield* whereis("a"), yield* whereis("b"), yield* whereis("d")]
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(journal.slice(4), ["stop:d", "stop:c", "stop:b", "stop:a"])
        for (const pid of pids) assert.isFalse(yield* Process.isAlive(pid))
      })
    )
  )

  it.effect("a layer whose tree cannot start fails to build and leaves nothing running", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const before = (yield* Process.list).length
        const scope = yield* Scope.make()
        const error = yield* Effect.flip(
          Layer.buildWithScope(
            Supervisor.layer({ children: [workerChild(journal, "a"), workerChild(journal, "b", { failInit: true })] }),
            scope
          )
        )
        assert.strictEqual(error._tag, "ChildStartFailed")
        assert.deepStrictEqual(journal, ["start:a", "stop:a"])
        assert.strictEqual((yield* Process.list).length, before)
        yield* Scope.close(scope, Exit.void)
      })
    )
  )

  it.effect("a supervised server exposed as a typed service is reached after its restarts", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const live = Client.layer(WorkerB, Worker, "b").pipe(Layer.provide(tree(journal)))
        yield* Effect.gen(function* () {
          const client = yield* WorkerB
          assert.strictEqual(yield* client.call(Worker.Ping()), "b")
          const first = yield* client.whereis
          yield* client.cast(Worker.Crash())
          yield* events.next(is.restarted("c"))
          assert.strictEqual(yield* client.call(Worker.Ping()), "b")
          const second = yield* client.whereis
          assert.isTrue(Option.isSome(first) && Option.isSome(second) && !Pid.equals(first.value, second.value))
        }).pipe(Effect.provide(live))
        assert.deepStrictEqual(journal.slice(-4), ["stop:d", "stop:c", "stop:b", "stop:a"])
      })
    )
  )
})

describe("lifecycle reporting", () => {
  it.effect("events are a Stream: started, exited with its reason, restarted, stopped", () =>
    run(
      Effect.gen(function* () {
        const stream = yield* SupervisorEvents.subscribe
        const journal: Journal = []
        const sup = yield* Supervisor.start({ children: [workerChild(journal, "a")] })
        yield* GenServer.cast("a", Worker.Crash())
        const collected = yield* within()(Stream.runCollect(Stream.take(stream, 3)))
        yield* Supervisor.stop(sup)
        const events = Array.from(collected)
        assert.deepStrictEqual(
          events.map((event) => event._tag),
          ["ChildStarted", "ChildExited", "ChildRestarted"]
        )
        const exited = events[1]
        assert.isTrue(exited?._tag === "ChildExited" && exited.reason._tag === "Failure" && !exited.bySupervisor)
        assert.isTrue(events.every((event) => Pid.equals(event.supervisor, sup)))
      })
    )
  )

  it.effect("restarts are traced as Supervisor.restart spans when a tracer is installed", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const spans: Array<{ name: string; attributes: ReadonlyMap<string, unknown> }> = []
        const recording = Tracer.make({
          span: (options) => {
            const span = Tracer.nativeTracer.span(options)
            spans.push({ name: options.name, attributes: span.attributes })
            return span
          }
        })
        const journal: Journal = []
        const sup = yield* Effect.withTracer(Supervisor.start({ children: [workerChild(journal, "a")] }), recording)
        yield* GenServer.cast("a", Worker.Crash())
        yield* events.next(is.restarted("a"))
        const restart = spans.find((span) => span.name === "Supervisor.restart")
        assert.isDefined(restart)
        assert.strictEqual(restart!.attributes.get("effect_otp.child.id"), "a")
        assert.strictEqual(restart!.attributes.get("effect_otp.supervisor"), String(sup))
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect(
    "a crash is logged once, as the child's crash report; its exit is a debug record; an escalation an error",
    () =>
      run(
        Effect.gen(function* () {
          const events = yield* eventLog
          const lines: Array<{ level: string; message: string }> = []
          const recorder = Logger.make((options) => {
            lines.push({ level: options.logLevel, message: String(options.message) })
          })
          const journal: Journal = []
          const sup = yield* Supervisor.start({ maxRestarts: 1, children: [workerChild(journal, "a")] }).pipe(
            Effect.provideService(Logger.CurrentLoggers, new Set([recorder])),
            Effect.provideService(References.MinimumLogLevel, "Debug")
          )
          yield* GenServer.cast("a", Worker.Crash())
          yield* events.next(is.restarted("a"))
          yield* GenServer.cast("a", Worker.Crash())
          yield* events.next(is.escalated(sup))
          // One error record per crash (the crash report of the child), no warning besides.
          const crashes = lines.filter((line) => line.level === "Error" && line.message.includes("crashed"))
          assert.strictEqual(crashes.length, 2)
          assert.isFalse(lines.some((line) => line.level === "Warn"))
          assert.isTrue(lines.some((line) => line.level === "Debug" && line.message.includes(`child "a"`)))
          assert.isTrue(lines.some((line) => line.level === "Error" && line.message.includes("restart intensity")))
          assert.isTrue(lines.some((line) => line.level === "Debug" && line.message.includes(`child "a" restarted`)))
        })
      )
  )
})
