/**
 * Supervisors on the test clock: shutdown times and the restart-intensity window follow the clock
 * the runtime was built with (`it.effect`'s TestClock here), measured on monotonic time. Every
 * duration is an hour long and passes in milliseconds of real time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { GenServer, Process } from "../../src/index.ts"
import * as Supervisor from "../../src/Supervisor/Supervisor.ts"
import { eventLog, is, type Journal, run, watchExit, within, Worker, workerChild } from "./helpers.ts"

describe("supervisors on the test clock", () => {
  it.effect("a child that traps exits and never finishes terminate is killed when its 1-hour shutdown passes", () =>
    run(
      Effect.gen(function* () {
        const start = performance.now()
        const events = yield* eventLog
        const journal: Journal = []
        const terminating = yield* Deferred.make<void>()
        const sup = yield* Supervisor.start({
          children: [
            workerChild(journal, "stubborn", {
              stubborn: true,
              shutdown: "1 hour",
              onTerminate: () => Deferred.doneUnsafe(terminating, Exit.void)
            })
          ]
        })
        const stopping = yield* Effect.forkChild(Supervisor.stop(sup), { startImmediately: true })
        yield* within()(Deferred.await(terminating))
        yield* TestClock.adjust("59 minutes")
        assert.isUndefined(stopping.pollUnsafe(), "terminate still has a minute")
        assert.isTrue(yield* Process.isAlive(sup))
        yield* TestClock.adjust("1 minute")
        yield* within()(Fiber.join(stopping))
        const exited = yield* events.next(is.exited("stubborn"))
        assert.strictEqual(exited.reason._tag, "Killed")
        assert.isTrue(exited.bySupervisor)
        assert.deepStrictEqual(journal, ["start:stubborn", "stop:stubborn"])
        assert.isBelow(performance.now() - start, 5000)
      })
    )
  )

  it.effect("restarts an hour apart stay within an intensity of 1 per hour; two within the hour escalate", () =>
    run(
      Effect.gen(function* () {
        const events = yield* eventLog
        const journal: Journal = []
        const sup = yield* Supervisor.start({ maxRestarts: 1, within: "1 hour", children: [workerChild(journal, "w")] })
        const exit = yield* watchExit(sup)
        for (let i = 0; i < 3; i++) {
          yield* GenServer.cast("w", Worker.Crash())
          yield* events.next(is.restarted("w"))
          yield* TestClock.adjust("1 hour")
        }
        assert.isTrue(yield* Process.isAlive(sup))
        yield* GenServer.cast("w", Worker.Crash())
        yield* events.next(is.restarted("w"))
        yield* TestClock.adjust("59 minutes")
        yield* GenServer.cast("w", Worker.Crash())
        const escalated = yield* events.next(is.escalated(sup))
        assert.strictEqual(escalated.maxRestarts, 1)
        assert.strictEqual(Duration.toMillis(escalated.within), 3_600_000)
        assert.isTrue(Supervisor.isMaxIntensity(yield* exit))
      })
    )
  )

  it.effect(
    "the intensity window is measured on monotonic time: a wall-clock step back does not revive old restarts",
    () =>
      run(
        Effect.gen(function* () {
          const events = yield* eventLog
          const journal: Journal = []
          const sup = yield* Supervisor.start({
            maxRestarts: 1,
            within: "1 hour",
            children: [workerChild(journal, "w")]
          })
          yield* GenServer.cast("w", Worker.Crash())
          yield* events.next(is.restarted("w"))
          yield* TestClock.adjust("1 hour")
          // The wall clock steps back an hour (an NTP correction, a VM resume); monotonic time does not.
          yield* TestClock.setTime(0)
          yield* GenServer.cast("w", Worker.Crash())
          yield* events.next(is.restarted("w"))
          assert.isTrue(yield* Process.isAlive(sup))
          assert.strictEqual(events.seen.filter(is.escalated()).length, 0)
          yield* Supervisor.stop(sup)
        })
      )
  )
})
