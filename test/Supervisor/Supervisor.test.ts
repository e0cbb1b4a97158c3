import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { ExitReason, GenServer, Pid, Process } from "../../src/index.ts"
import * as ChildSpec from "../../src/Supervisor/ChildSpec.ts"
import * as Supervisor from "../../src/Supervisor/Supervisor.ts"
import { eventLog, is, type Journal, run, whereis, Worker, workerChild } from "./helpers.ts"

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
  it.effect("a child that does not finish terminate within its shutdown time is killed", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({
          children: [workerChild(journal, "calm"), workerChild(journal, "stubborn", { stubborn: true, shutdown: 50 })]
        })
        const started = Date.now()
        yield* Supervisor.stop(sup)
        const elapsed = Date.now() - started
        const stubborn = yield* events.next(is.exited("stubborn"))
        assert.strictEqual(stubborn.reason._tag, "Killed")
        const calm = yield* events.next(is.exited("calm"))
        assert.strictEqual(calm.reason._tag, "Shutdown")
        assert.deepStrictEqual(journal, ["start:calm", "start:stubborn", "stop:stubborn", "stop:calm"])
        assert.isAtLeast(elapsed, 45)
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
