import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { ExitReason, GenServer, Pid, Process } from "../../src/index.ts"
import * as ChildSpec from "../../src/Supervisor/ChildSpec.ts"
import * as Supervisor from "../../src/Supervisor/Supervisor.ts"
import { eventLog, is, type Journal, run, watchExit, whereis, within, Worker, workerChild } from "./helpers.ts"

/** Waits `millis` of real time (tests run under the TestClock). */
const realDelay = (millis: number) =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

const ids = (children: ReadonlyArray<Supervisor.ChildInfo>) => children.map((child) => child.id)

describe("Supervisor start and stop", () => {
  it.effect("starts children in order and stops them in reverse order", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          children: ["a", "b", "c"].map((id) => workerChild(journal, id))
        })
        assert.deepStrictEqual(journal, ["start:a", "start:b", "start:c"])
        const children = yield* Supervisor.whichChildren(sup)
        assert.deepStrictEqual(ids(children), ["a", "b", "c"])
        assert.isTrue(children.every((child) => child.status === "running" && child.pid !== undefined))
        assert.strictEqual(yield* GenServer.call("b", Worker.Ping()), "b")
        yield* Supervisor.stop(sup)
        assert.deepStrictEqual(journal.slice(3), ["stop:c", "stop:b", "stop:a"])
        assert.isFalse(yield* Process.isAlive(sup))
        for (const child of children) assert.isFalse(yield* Process.isAlive(child.pid!))
      })
    )
  )

  it.effect("a child that fails to start stops those already started and fails the start", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const result = yield* Effect.exit(
          Supervisor.start({
            children: [
              workerChild(journal, "a"),
              workerChild(journal, "b"),
              workerChild(journal, "bad", { failInit: true }),
              workerChild(journal, "c")
            ]
          })
        )
        assert.isTrue(Exit.isFailure(result))
        if (Exit.isFailure(result)) {
          const error = result.cause.reasons[0]
          assert.strictEqual(error?._tag, "Fail")
          if (error?._tag === "Fail") {
            assert.strictEqual((error.error as { _tag: string })._tag, "ChildStartFailed")
            assert.strictEqual((error.error as { id: string }).id, "bad")
          }
        }
        assert.deepStrictEqual(journal, ["start:a", "start:b", "stop:b", "stop:a"])
      })
    )
  )

  it.effect("rejects duplicate ids and significant permanent children before starting anything", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const duplicate = yield* Effect.flip(
          Supervisor.start({ children: [workerChild(journal, "a"), workerChild(journal, "a")] })
        )
        assert.strictEqual(duplicate._tag, "InvalidChildSpec")
        const significant = yield* Effect.flip(
          Supervisor.start({
            autoShutdown: "any_significant",
            children: [workerChild(journal, "a", { significant: true })]
          })
        )
        assert.strictEqual(significant._tag, "InvalidChildSpec")
        assert.deepStrictEqual(journal, [])
      })
    )
  )
})

describe("restart strategies", () => {
  const crash = (id: string) => GenServer.cast(id, Worker.Crash())

  it.effect("one_for_one restarts only the child that crashed", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          strategy: "one_for_one",
          children: ["a", "b", "c"].map((id) => workerChild(journal, id))
        })
        const before = yield* whereis("b")
        journal.length = 0
        yield* crash("b")
        const restarted = yield* events.next(is.restarted("b"))
        assert.deepStrictEqual(journal, ["stop:b", "start:b"])
        assert.isFalse(Pid.equals(restarted.pid, before))
        assert.isTrue(Pid.equals(yield* whereis("b"), restarted.pid))
        assert.strictEqual(yield* GenServer.call("b", Worker.Ping()), "b")
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("one_for_all stops the others in reverse order and restarts all in order", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          strategy: "one_for_all",
          children: ["a", "b", "c", "d"].map((id) => workerChild(journal, id))
        })
        journal.length = 0
        yield* crash("b")
        yield* events.next(is.restarted("d"))
        assert.deepStrictEqual(journal, [
          "stop:b",
          "stop:d",
          "stop:c",
          "stop:a",
          "start:a",
          "start:b",
          "start:c",
          "start:d"
        ])
        const exits = events.seen.filter(is.exited())
        assert.deepStrictEqual(
          exits.map((event) => [event.id, event.bySupervisor]),
          [
            ["b", false],
            ["d", true],
            ["c", true],
            ["a", true]
          ]
        )
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("rest_for_one restarts the crashed child and those started after it", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          strategy: "rest_for_one",
          children: ["a", "b", "c", "d"].map((id) => workerChild(journal, id))
        })
        const a = yield* whereis("a")
        journal.length = 0
        yield* crash("b")
        yield* events.next(is.restarted("d"))
        assert.deepStrictEqual(journal, ["stop:b", "stop:d", "stop:c", "start:b", "start:c", "start:d"])
        assert.isTrue(Pid.equals(yield* whereis("a"), a))
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("a group restart forgets temporary siblings instead of restarting them", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          strategy: "one_for_all",
          children: [
            workerChild(journal, "a"),
            workerChild(journal, "t", { restart: "temporary" }),
            workerChild(journal, "c")
          ]
        })
        journal.length = 0
        yield* crash("a")
        yield* events.next(is.restarted("c"))
        assert.deepStrictEqual(journal, ["stop:a", "stop:c", "stop:t", "start:a", "start:c"])
        assert.deepStrictEqual(ids(yield* Supervisor.whichChildren(sup)), ["a", "c"])
        yield* Supervisor.stop(sup)
      })
    )
  )
})

describe("restart types", () => {
  it.effect("a transient child is restarted after a crash but not after a normal or shutdown exit", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          children: [
            workerChild(journal, "t", { restart: "transient" }),
            workerChild(journal, "u", { restart: "transient" })
          ]
        })
        yield* GenServer.cast("t", Worker.Crash())
        yield* events.next(is.restarted("t"))
        yield* GenServer.cast("t", Worker.Finish())
        const normal = yield* events.next(is.exited("t"))
        assert.isTrue(ExitReason.isNormal(normal.reason))
        yield* GenServer.cast("u", Worker.Quit())
        const shutdown = yield* events.next(is.exited("u"))
        assert.strictEqual(shutdown.reason._tag, "Shutdown")
        const children = yield* Supervisor.whichChildren(sup)
        assert.deepStrictEqual(
          children.map((child) => [child.id, child.status]),
          [
            ["t", "stopped"],
            ["u", "stopped"]
          ]
        )
        assert.strictEqual(events.seen.filter(is.restarted()).length, 1)
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("a permanent child is restarted even after a normal exit", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({ children: [workerChild(journal, "p")] })
        yield* GenServer.cast("p", Worker.Finish())
        yield* events.next(is.restarted("p"))
        assert.deepStrictEqual(journal, ["start:p", "stop:p", "start:p"])
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("a temporary child is never restarted and is forgotten when it exits", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          children: [workerChild(journal, "tmp", { restart: "temporary" }), workerChild(journal, "keep")]
        })
        yield* GenServer.cast("tmp", Worker.Crash())
        yield* events.next(is.exited("tmp"))
        assert.deepStrictEqual(ids(yield* Supervisor.whichChildren(sup)), ["keep"])
        assert.deepStrictEqual(journal, ["start:tmp", "start:keep", "stop:tmp"])
        assert.strictEqual(events.seen.filter(is.restarted()).length, 0)
        yield* Supervisor.stop(sup)
      })
    )
  )
})

describe("shutdown", () => {
  it.effect("a child that does not finish terminate within its shutdown time is killed, not before", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const terminating = yield* Deferred.make<void>()
        const sup = yield* Supervisor.start({
          children: [
            workerChild(journal, "calm"),
            workerChild(journal, "stubborn", {
              stubborn: true,
              shutdown: 50,
              onTerminate: () => Deferred.doneUnsafe(terminating, Exit.void)
            })
          ]
        })
        const stopping = yield* Effect.forkChild(Supervisor.stop(sup), { startImmediately: true })
        yield* within()(Deferred.await(terminating))
        yield* TestClock.adjust("49 millis")
        assert.isUndefined(stopping.pollUnsafe(), "the stubborn child still has 1 ms")
        yield* TestClock.adjust("1 millis")
        yield* within()(Fiber.join(stopping))
        const stubborn = yield* events.next(is.exited("stubborn"))
        assert.strictEqual(stubborn.reason._tag, "Killed")
        const calm = yield* events.next(is.exited("calm"))
        assert.strictEqual(calm.reason._tag, "Shutdown")
        assert.deepStrictEqual(journal, ["start:calm", "start:stubborn", "stop:stubborn", "stop:calm"])
      })
    )
  )

  it.effect("a brutal child is killed at once without running terminate", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({ children: [workerChild(journal, "b", { shutdown: "brutal" })] })
        yield* Supervisor.stop(sup)
        const exited = yield* events.next(is.exited("b"))
        assert.strictEqual(exited.reason._tag, "Killed")
        assert.deepStrictEqual(journal, ["start:b"])
      })
    )
  )

  it.effect("a process stuck in its finalizers after the shutdown signal is killed when its time is up", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const finalizing = yield* Deferred.make<void>()
        const sup = yield* Supervisor.start({
          children: [
            ChildSpec.worker({
              id: "stuck",
              // Its finalizer takes 200 ms of real time (the runtime waits for it at teardown).
              start: Process.spawnLink(() =>
                Effect.ensuring(Effect.never, Effect.andThen(Deferred.succeed(finalizing, undefined), realDelay(200)))
              ),
              shutdown: 30
            })
          ]
        })
        const started = Date.now()
        const stopping = yield* Effect.forkChild(Supervisor.stop(sup), { startImmediately: true })
        yield* within()(Deferred.await(finalizing))
        yield* TestClock.adjust("30 millis")
        yield* within()(Fiber.join(stopping))
        assert.isBelow(Date.now() - started, 150, "stop did not wait for the finalizer")
        const exited = yield* events.next(is.exited("stuck"))
        assert.strictEqual(exited.reason._tag, "Killed")
      })
    )
  )

  it.effect("startScoped stops the tree when its scope closes", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const sup = yield* Effect.scoped(
          Effect.gen(function* () {
            const sup = yield* Supervisor.startScoped({
              children: [workerChild(journal, "a"), workerChild(journal, "b")]
            })
            assert.isTrue(yield* Process.isAlive(sup))
            return sup
          })
        )
        assert.isFalse(yield* Process.isAlive(sup))
        assert.deepStrictEqual(journal, ["start:a", "start:b", "stop:b", "stop:a"])
      })
    )
  )

  it.effect("a plain process child that does not trap exits is ended by the shutdown signal", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const sup = yield* Supervisor.start({
          children: [ChildSpec.worker({ id: "loop", start: Process.spawnLink((self) => Effect.forever(self.receive)) })]
        })
        yield* Supervisor.stop(sup)
        const exited = yield* events.next(is.exited("loop"))
        assert.strictEqual(exited.reason._tag, "Shutdown")
      })
    )
  )
})

describe("restart intensity", () => {
  it.effect("restarts spread out over more than the window are fine", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({ maxRestarts: 2, within: 1000, children: [workerChild(journal, "w")] })
        for (let i = 0; i < 6; i++) {
          yield* GenServer.cast("w", Worker.Crash())
          yield* events.next(is.restarted("w"))
          yield* TestClock.adjust("600 millis")
        }
        assert.isTrue(yield* Process.isAlive(sup))
        assert.strictEqual(events.seen.filter(is.escalated()).length, 0)
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("a burst of more than maxRestarts within the window stops every child and escalates", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          maxRestarts: 2,
          within: 1000,
          children: [workerChild(journal, "a"), workerChild(journal, "w"), workerChild(journal, "z")]
        })
        const exit = yield* Effect.forkChild(Process.awaitExit(sup), { startImmediately: true })
        yield* GenServer.cast("w", Worker.Crash())
        yield* events.next(is.restarted("w"))
        yield* TestClock.adjust("999 millis")
        yield* GenServer.cast("w", Worker.Crash())
        yield* events.next(is.restarted("w"))
        journal.length = 0
        yield* GenServer.cast("w", Worker.Crash())
        const escalated = yield* events.next(is.escalated(sup))
        assert.isTrue(Supervisor.isMaxIntensity(escalated.reason))
        const reason = yield* within()(Fiber.join(exit))
        assert.isTrue(Supervisor.isMaxIntensity(reason))
        assert.deepStrictEqual(journal, ["stop:w", "stop:z", "stop:a"])
      })
    )
  )

  it.effect("a restart exactly the window (within) after an earlier one no longer counts it", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({ maxRestarts: 1, within: 1000, children: [workerChild(journal, "w")] })
        yield* GenServer.cast("w", Worker.Crash())
        yield* events.next(is.restarted("w"))
        yield* TestClock.adjust("1000 millis")
        yield* GenServer.cast("w", Worker.Crash())
        yield* events.next(is.restarted("w"))
        assert.isTrue(yield* Process.isAlive(sup))
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("maxRestarts 0 escalates on the first exit that needs a restart", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({ maxRestarts: 0, children: [workerChild(journal, "w")] })
        const exit = yield* watchExit(sup)
        yield* GenServer.cast("w", Worker.Crash())
        yield* events.next(is.escalated(sup))
        assert.isTrue(Supervisor.isMaxIntensity(yield* exit))
      })
    )
  )

  it.effect("a child whose restart fails is retried through the mailbox until it starts", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        let failures = 2
        const sup = yield* Supervisor.start({
          maxRestarts: 5,
          children: [workerChild(journal, "w", { failInit: () => journal.length > 0 && failures-- > 0 })]
        })
        yield* GenServer.cast("w", Worker.Crash())
        yield* events.next(is.restarted("w"))
        assert.strictEqual(events.seen.filter(is.startError("w")).length, 2)
        assert.strictEqual(yield* GenServer.call("w", Worker.Ping()), "w")
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("a child that never restarts makes the supervisor escalate", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          maxRestarts: 3,
          children: [
            workerChild(journal, "ok"),
            workerChild(journal, "w", { failInit: () => journal.includes("stop:w") })
          ]
        })
        const exit = yield* watchExit(sup)
        yield* GenServer.cast("w", Worker.Crash())
        yield* events.next(is.escalated(sup))
        assert.strictEqual(events.seen.filter(is.startError("w")).length, 3)
        assert.isTrue(Supervisor.isMaxIntensity(yield* exit))
        assert.deepStrictEqual(journal, ["start:ok", "start:w", "stop:w", "stop:ok"])
      })
    )
  )
})

describe("nested supervisors", () => {
  it.effect("a child supervisor that gives up is restarted by its parent, with fresh children", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const root = yield* Supervisor.start({
          maxRestarts: 3,
          children: [
            workerChild(journal, "sibling"),
            Supervisor.child("inner", { maxRestarts: 0, children: [workerChild(journal, "leaf")] }, { name: "inner" })
          ]
        })
        const inner = yield* whereis("inner")
        yield* GenServer.cast("leaf", Worker.Crash())
        yield* events.next(is.escalated(inner))
        const exited = yield* events.next(is.exited("inner"))
        assert.isTrue(Supervisor.isMaxIntensity(exited.reason))
        assert.isFalse(exited.bySupervisor)
        const restarted = yield* events.next(is.restarted("inner"))
        assert.isFalse(Pid.equals(restarted.pid, inner))
        assert.strictEqual(yield* GenServer.call("leaf", Worker.Ping()), "leaf")
        assert.deepStrictEqual(journal, ["start:sibling", "start:leaf", "stop:leaf", "start:leaf"])
        yield* Supervisor.stop(root)
        assert.deepStrictEqual(journal.slice(4), ["stop:leaf", "stop:sibling"])
      })
    )
  )

  it.effect("escalation climbs the tree until a supervisor can absorb it or the root gives up", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const root = yield* Supervisor.start({
          maxRestarts: 0,
          children: [
            workerChild(journal, "top"),
            Supervisor.child("mid", {
              maxRestarts: 0,
              children: [Supervisor.child("low", { maxRestarts: 0, children: [workerChild(journal, "leaf")] })]
            })
          ]
        })
        const exit = yield* Effect.forkChild(Process.awaitExit(root), { startImmediately: true })
        yield* GenServer.cast("leaf", Worker.Crash())
        const reason = yield* within()(Fiber.join(exit))
        assert.isTrue(Supervisor.isMaxIntensity(reason))
        assert.strictEqual((yield* events.drain).filter(is.escalated()).length, 3)
        assert.deepStrictEqual(journal, ["start:top", "start:leaf", "stop:leaf", "stop:top"])
      })
    )
  )

  it.effect("when its parent exits, a linked supervisor stops its children in reverse order and exits too", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const started = yield* Deferred.make<Pid.Pid>()
        const parent = yield* Process.spawn((self) =>
          Effect.gen(function* () {
            const sup = yield* Effect.orDie(
              Supervisor.startLink({ children: [workerChild(journal, "a"), workerChild(journal, "b")] })
            )
            yield* Deferred.succeed(started, sup)
            yield* self.receive
            return yield* Process.exitSelf(ExitReason.custom("parent crashed"))
          })
        )
        const sup = yield* Deferred.await(started)
        const exit = yield* Effect.forkChild(Process.awaitExit(sup), { startImmediately: true })
        yield* Process.send(parent, "go")
        const reason = yield* within()(Fiber.join(exit))
        assert.strictEqual(reason._tag, "Failure")
        assert.deepStrictEqual(journal, ["start:a", "start:b", "stop:b", "stop:a"])
      })
    )
  )

  it.effect("a killed supervisor takes its children down with it through their links", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const sup = yield* Supervisor.start({ children: [workerChild(journal, "a")] })
        const a = yield* whereis("a")
        const exit = yield* Effect.forkChild(Process.awaitExit(a), { startImmediately: true })
        yield* Process.kill(sup)
        const reason = yield* within()(Fiber.join(exit))
        assert.strictEqual(reason._tag, "Killed")
      })
    )
  )
})

describe("auto-shutdown", () => {
  it.effect("any_significant shuts the supervisor down when a significant child ends by itself", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          autoShutdown: "any_significant",
          children: [
            workerChild(journal, "main", { restart: "transient", significant: true }),
            workerChild(journal, "helper")
          ]
        })
        const exit = yield* watchExit(sup)
        yield* GenServer.cast("main", Worker.Finish())
        const reason = yield* exit
        assert.strictEqual(reason._tag, "Shutdown")
        assert.deepStrictEqual(journal, ["start:main", "start:helper", "stop:main", "stop:helper"])
      })
    )
  )

  it.effect("all_significant waits for the last significant child", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          autoShutdown: "all_significant",
          children: [
            workerChild(journal, "s1", { restart: "temporary", significant: true }),
            workerChild(journal, "s2", { restart: "transient", significant: true }),
            workerChild(journal, "other")
          ]
        })
        yield* GenServer.cast("s1", Worker.Crash())
        yield* events.next(is.exited("s1"))
        assert.isTrue(yield* Process.isAlive(sup))
        yield* GenServer.cast("s2", Worker.Crash())
        yield* events.next(is.restarted("s2"))
        assert.isTrue(yield* Process.isAlive(sup))
        const exit = yield* watchExit(sup)
        yield* GenServer.cast("s2", Worker.Quit())
        const reason = yield* exit
        assert.strictEqual(reason._tag, "Shutdown")
      })
    )
  )

  it.effect("terminateChild on a significant child does not shut the supervisor down", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          autoShutdown: "any_significant",
          children: [workerChild(journal, "s", { restart: "transient", significant: true })]
        })
        yield* Supervisor.terminateChild(sup, "s")
        assert.isTrue(yield* Process.isAlive(sup))
        yield* Supervisor.stop(sup)
      })
    )
  )
})

describe("dynamic child operations", () => {
  it.effect("startChild appends a child; duplicates are refused", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const sup = yield* Supervisor.start({ children: [workerChild(journal, "a")] })
        const b = yield* Supervisor.startChild(sup, workerChild(journal, "b"))
        assert.deepStrictEqual(ids(yield* Supervisor.whichChildren(sup)), ["a", "b"])
        const again = yield* Effect.flip(Supervisor.startChild(sup, workerChild(journal, "b")))
        assert.strictEqual(again._tag, "ChildAlreadyStarted")
        if (again._tag === "ChildAlreadyStarted") assert.isTrue(Pid.equals(again.pid, b))
        yield* Supervisor.terminateChild(sup, "b")
        const present = yield* Effect.flip(Supervisor.startChild(sup, workerChild(journal, "b")))
        assert.strictEqual(present._tag, "ChildAlreadyPresent")
        const failed = yield* Effect.flip(Supervisor.startChild(sup, workerChild(journal, "c", { failInit: true })))
        assert.strictEqual(failed._tag, "ChildStartFailed")
        assert.deepStrictEqual(ids(yield* Supervisor.whichChildren(sup)), ["a", "b"])
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("terminateChild stops a child and keeps its spec; restartChild and deleteChild need it stopped", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const sup = yield* Supervisor.start({ children: [workerChild(journal, "a"), workerChild(journal, "b")] })
        assert.strictEqual((yield* Effect.flip(Supervisor.restartChild(sup, "a")))._tag, "ChildRunning")
        assert.strictEqual((yield* Effect.flip(Supervisor.deleteChild(sup, "a")))._tag, "ChildRunning")
        yield* Supervisor.terminateChild(sup, "a")
        assert.deepStrictEqual(journal, ["start:a", "start:b", "stop:a"])
        const children = yield* Supervisor.whichChildren(sup)
        assert.deepStrictEqual(
          children.map((child) => [child.id, child.status]),
          [
            ["a", "stopped"],
            ["b", "running"]
          ]
        )
        assert.deepStrictEqual(yield* Supervisor.countChildren(sup), {
          specs: 2,
          active: 1,
          supervisors: 0,
          workers: 2
        })
        const a = yield* Supervisor.restartChild(sup, "a")
        assert.isTrue(Pid.equals(yield* whereis("a"), a))
        yield* Supervisor.terminateChild(sup, "a")
        yield* Supervisor.deleteChild(sup, "a")
        assert.deepStrictEqual(ids(yield* Supervisor.whichChildren(sup)), ["b"])
        assert.strictEqual((yield* Effect.flip(Supervisor.terminateChild(sup, "a")))._tag, "ChildNotFound")
        assert.strictEqual((yield* Effect.flip(Supervisor.restartChild(sup, "a")))._tag, "ChildNotFound")
        assert.strictEqual((yield* Effect.flip(Supervisor.deleteChild(sup, "a")))._tag, "ChildNotFound")
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("terminateChild forgets a temporary child", () =>
    run(
      Effect.gen(function* () {
        const journal: Journal = []
        const sup = yield* Supervisor.start({ children: [workerChild(journal, "t", { restart: "temporary" })] })
        yield* Supervisor.terminateChild(sup, "t")
        assert.deepStrictEqual(yield* Supervisor.whichChildren(sup), [])
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("a child started unlinked is linked by the supervisor and still supervised", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const sup = yield* Supervisor.start({
          children: [
            ChildSpec.worker({
              id: "loose",
              start: Process.spawn((self) => Effect.flatMap(self.receive, () => Effect.die("boom")))
            })
          ]
        })
        const first = yield* events.next(is.started("loose"))
        yield* Process.send(first.pid, "go")
        const restarted = yield* events.next(is.restarted("loose"))
        assert.isFalse(Pid.equals(first.pid, restarted.pid))
        yield* Supervisor.stop(sup)
        const stopped = yield* events.next(is.exited("loose"))
        assert.isTrue(stopped.bySupervisor)
      })
    )
  )

  it.effect("calls to a supervisor that is gone fail with NoProcess", () =>
    run(
      Effect.gen(function* () {
        const sup = yield* Supervisor.start({ children: [] })
        yield* Supervisor.stop(sup)
        const error = yield* Effect.flip(Supervisor.whichChildren(sup))
        assert.strictEqual(error._tag, "NoProcess")
      })
    )
  )
})
