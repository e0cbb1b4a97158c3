import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { GenServer, Pid, Process } from "../../src/index.ts"
import * as DynamicSupervisor from "../../src/Supervisor/DynamicSupervisor.ts"
import * as Supervisor from "../../src/Supervisor/Supervisor.ts"
import { eventLog, is, type Journal, run, watchExit, whereis, within, worker, Worker } from "./helpers.ts"

const session = (journal: Journal, options?: Omit<DynamicSupervisor.Template<string>, "start">) =>
  DynamicSupervisor.template({
    start: (id: string) => GenServer.startLink(worker(journal), id, { name: id, trapExit: true }),
    ...options
  })

describe("DynamicSupervisor", () => {
  it.effect("starts children on demand from a template and lists them in the order they were added", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const child = session(journal)
        const sup = yield* DynamicSupervisor.start()
        const a = yield* DynamicSupervisor.startChild(sup, child("a"))
        const b = yield* DynamicSupervisor.startChild(sup, child("b"))
        assert.strictEqual(yield* GenServer.call("b", Worker.Ping()), "b")
        const children = yield* DynamicSupervisor.whichChildren(sup)
        assert.deepStrictEqual(
          children.map((info) => info.pid),
          [a, b]
        )
        assert.deepStrictEqual(yield* DynamicSupervisor.countChildren(sup), {
          specs: 2,
          active: 2,
          supervisors: 0,
          workers: 2
        })
        yield* DynamicSupervisor.stop(sup)
        assert.deepStrictEqual(journal.slice(0, 2), ["start:a", "start:b"])
        assert.sameMembers(journal.slice(2), ["stop:a", "stop:b"])
        assert.isFalse(yield* Process.isAlive(a))
      })
    )
  )

  it.effect("refuses children beyond maxChildren", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const child = session(journal)
        const sup = yield* DynamicSupervisor.start({ maxChildren: 2 })
        yield* DynamicSupervisor.startChild(sup, child("a"))
        yield* DynamicSupervisor.startChild(sup, child("b"))
        const error = yield* Effect.flip(DynamicSupervisor.startChild(sup, child("c")))
        assert.strictEqual(error._tag, "MaxChildren")
        yield* DynamicSupervisor.terminateChild(sup, yield* whereis("a"))
        yield* DynamicSupervisor.startChild(sup, child("c"))
        assert.strictEqual((yield* DynamicSupervisor.countChildren(sup)).active, 2)
        yield* DynamicSupervisor.stop(sup)
      })
    )
  )

  it.effect("restarts a crashed child with the same arguments; terminateChild forgets a child", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const child = session(journal, { restart: "transient" })
        const sup = yield* DynamicSupervisor.start()
        const a = yield* DynamicSupervisor.startChild(sup, child("a"))
        yield* GenServer.cast("a", Worker.Crash())
        const restarted = yield* events.next(is.restarted())
        assert.isFalse(Pid.equals(a, restarted.pid))
        assert.strictEqual(yield* GenServer.call("a", Worker.Ping()), "a")
        yield* GenServer.cast("a", Worker.Finish())
        yield* events.next(is.exited())
        assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(sup), [])
        const b = yield* DynamicSupervisor.startChild(sup, child("b"))
        yield* DynamicSupervisor.terminateChild(sup, b)
        assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(sup), [])
        const missing = yield* Effect.flip(DynamicSupervisor.terminateChild(sup, b))
        assert.strictEqual(missing._tag, "ChildNotFound")
        yield* DynamicSupervisor.stop(sup)
      })
    )
  )

  it.effect("a failed start is reported and leaves no child", () =>
    run(
      Effect.gen(function* () {
        const sup = yield* DynamicSupervisor.start()
        const error = yield* Effect.flip(
          DynamicSupervisor.startChild(sup, { start: GenServer.startLink(worker([], { failInit: true }), "x") })
        )
        assert.strictEqual(error._tag, "ChildStartFailed")
        assert.deepStrictEqual(yield* DynamicSupervisor.countChildren(sup), {
          specs: 0,
          active: 0,
          supervisors: 0,
          workers: 0
        })
        yield* DynamicSupervisor.stop(sup)
      })
    )
  )

  it.effect("gives up after too many restarts and escalates to its parent supervisor", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const root = yield* Supervisor.start({
          children: [DynamicSupervisor.child("sessions", { maxRestarts: 1 }, { name: "sessions" })]
        })
        const sessions = yield* whereis("sessions")
        const exit = yield* watchExit(sessions)
        const child = session(journal)
        yield* DynamicSupervisor.startChild("sessions", child("a"))
        yield* DynamicSupervisor.startChild("sessions", child("b"))
        yield* GenServer.cast("a", Worker.Crash())
        yield* events.next(is.restarted())
        yield* GenServer.cast("a", Worker.Crash())
        assert.isTrue(Supervisor.isMaxIntensity(yield* exit))
        const restarted = yield* events.next(is.restarted("sessions"))
        assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(restarted.pid), [])
        assert.isFalse(yield* Process.isAlive(sessions))
        assert.isTrue(journal.includes("stop:b"))
        yield* Supervisor.stop(root)
      })
    )
  )

  it.effect("stopping kills the children that outlive their shutdown time, all at once", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const allTerminating = yield* Deferred.make<void>()
        let terminating = 0
        const onTerminate = () => {
          if (++terminating === 3) Deferred.doneUnsafe(allTerminating, Exit.void)
        }
        const stubborn = DynamicSupervisor.template({
          start: (id: string) =>
            GenServer.startLink(worker(journal, { stubborn: true, onTerminate }), id, { trapExit: true }),
          shutdown: 50
        })
        const sup = yield* DynamicSupervisor.start()
        for (const id of ["a", "b", "c"]) yield* DynamicSupervisor.startChild(sup, stubborn(id))
        const stopping = yield* Effect.forkChild(DynamicSupervisor.stop(sup), { startImmediately: true })
        yield* within()(Deferred.await(allTerminating))
        yield* TestClock.adjust("49 millis")
        assert.isUndefined(stopping.pollUnsafe(), "killed only when their shutdown time is up")
        // One shutdown time for all three: stopped one after another, they would need 150 ms.
        yield* TestClock.adjust("1 millis")
        yield* within()(Fiber.join(stopping))
        const exits = (yield* events.drain).filter(is.exited())
        assert.deepStrictEqual(
          exits.map((event) => event.reason._tag),
          ["Killed", "Killed", "Killed"]
        )
      })
    )
  )

  it.effect("a child's start effect gets the services of the caller of startChild", () =>
    run(
      Effect.gen(function* () {
        class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}
        const sup = yield* DynamicSupervisor.start()
        const child = DynamicSupervisor.template({
          start: (id: string) =>
            Greeting.use((greeting) =>
              GenServer.startLink(worker([]), `${greeting}-${id}`, { name: `${greeting}-${id}` })
            )
        })
        yield* Effect.provideService(DynamicSupervisor.startChild(sup, child("a")), Greeting, "hello")
        assert.strictEqual(yield* GenServer.call("hello-a", Worker.Ping()), "hello-a")
        yield* DynamicSupervisor.stop(sup)
      })
    )
  )
})
