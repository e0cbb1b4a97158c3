/**
 * The runtime's timers follow the clock it was built with: under `it.effect`'s TestClock, a
 * runtime built inside the test times calls, starts, stops, `sendAfter`, `receiveWithin` and its own
 * release on the test clock. Every timeout here is an hour long and passes in milliseconds of real
 * time, driven by `TestClock.adjust`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Logger, Option, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { ExitReason, GenServer, Process, ProcessRuntime, Protocol, RemoteName } from "../../src/index.ts"
import { withRuntime } from "../../src/Process/internal/context.ts"
import type { RemoteBridge } from "../../src/Process/internal/remote.ts"
import { inProcess } from "../support/process.ts"

const HOUR = 3_600_000

/** Built inside the test, so that the runtime keeps the test's clock. */
const onTestClock = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) =>
  Effect.provide(effect, ProcessRuntime.layer({ node: "clock@127.0.0.1" }))

/** Real time elapsed since `start`, to show that an hour of test time took no real hour. */
const realMillisSince = (start: number) => performance.now() - start

const Slow = Protocol.make({
  /** Never answered. */
  Hang: Protocol.call({ success: Schema.Number })
})

const slowServer = GenServer.behaviour(Slow)({
  init: () => Effect.succeed(0),
  handleCall: { Hang: (_, state) => Effect.succeed(GenServer.noReply(state)) }
})

describe("timers on the test clock", () => {
  it.effect("a call with a 1-hour timeout fails with CallTimeout when the test clock passes the hour, not before", () =>
    onTestClock(
      Effect.gen(function* () {
        const start = performance.now()
        const pid = yield* GenServer.start(slowServer, undefined)
        const call = yield* Effect.forkChild(Effect.flip(GenServer.call(pid, Slow.Hang(), { timeout: HOUR })), {
          startImmediately: true
        })
        yield* TestClock.adjust("59 minutes")
        assert.isUndefined(call.pollUnsafe(), "59 minutes in, the call still waits")
        yield* TestClock.adjust("1 minute")
        const error = yield* Fiber.join(call)
        assert.instanceOf(error, GenServer.CallTimeout)
        assert.strictEqual((error as GenServer.CallTimeout).timeoutMs, HOUR)
        assert.isBelow(realMillisSince(start), 5000)
        yield* GenServer.stop(pid)
      })
    )
  )

  it.effect(
    "sendAfter delivers when the test clock reaches its delay, and cancelTimer reports the exact time left",
    () =>
      onTestClock(
        inProcess((self) =>
          Effect.gen(function* () {
            yield* Process.sendAfter(self.pid, "tick", "1 hour")
            const other = yield* Process.sendAfter(self.pid, "never", "2 hours")
            yield* TestClock.adjust("59 minutes")
            assert.isTrue(Option.isNone(yield* self.receiveWithin(0)), "not yet")
            yield* TestClock.adjust("1 minute")
            assert.deepStrictEqual(yield* self.receiveWithin(0), Option.some("tick"))
            const left = yield* Process.cancelTimer(other)
            assert.deepStrictEqual(Option.map(left, Duration.toMillis), Option.some(HOUR))
            yield* TestClock.adjust("2 hours")
            assert.isTrue(Option.isNone(yield* self.receiveWithin(0)), "a cancelled timer never fires")
          })
        )
      )
  )

  it.effect("receiveWithin gives up when the test clock passes its timeout, and takes a message sent in time", () =>
    onTestClock(
      Effect.gen(function* () {
        const results: Array<Option.Option<unknown>> = []
        const done = yield* Deferred.make<void>()
        const pid = yield* Process.spawn((self) =>
          Effect.gen(function* () {
            results.push(yield* self.receiveWithin("1 hour"))
            results.push(yield* self.receiveWithin("1 hour"))
            yield* Deferred.succeed(done, undefined)
          })
        )
        yield* TestClock.adjust("30 minutes")
        yield* Process.send(pid, "in time")
        assert.deepStrictEqual(results, [Option.some("in time")])
        yield* TestClock.adjust("59 minutes")
        assert.strictEqual(results.length, 1, "the second wait has a minute left")
        yield* TestClock.adjust("1 minute")
        yield* Deferred.await(done)
        assert.deepStrictEqual(results, [Option.some("in time"), Option.none()])
      })
    )
  )

  it.effect("a GenServer whose init outlives its 1-hour start timeout fails to start and is killed", () =>
    onTestClock(
      Effect.gen(function* () {
        const stuck = GenServer.behaviour(Slow)({
          init: () => Effect.never,
          handleCall: { Hang: (_, state: number) => Effect.succeed(GenServer.noReply(state)) }
        })
        const starting = yield* Effect.forkChild(Effect.flip(GenServer.start(stuck, undefined, { timeout: HOUR })), {
          startImmediately: true
        })
        yield* TestClock.adjust("59 minutes")
        assert.isUndefined(starting.pollUnsafe(), "init still has a minute")
        yield* TestClock.adjust("1 minute")
        const error = yield* Fiber.join(starting)
        assert.instanceOf(error, GenServer.InitFailed)
        const failed = error as GenServer.InitFailed
        assert.include(ExitReason.format(failed.reason), "init timeout")
        assert.isFalse(yield* Process.isAlive(failed.server))
      })
    )
  )

  it.effect("GenServer.stop kills a server whose terminate outlives its 1-hour timeout", () =>
    onTestClock(
      Effect.gen(function* () {
        const stubborn = GenServer.behaviour(Slow)({
          init: () => Effect.succeed(0),
          handleCall: { Hang: (_, state: number) => Effect.succeed(GenServer.noReply(state)) },
          terminate: () => Effect.never
        })
        const pid = yield* GenServer.start(stubborn, undefined)
        const exit = yield* Effect.forkChild(Process.awaitExit(pid), { startImmediately: true })
        const stopping = yield* Effect.forkChild(Effect.flip(GenServer.stop(pid, ExitReason.normal, HOUR)), {
          startImmediately: true
        })
        yield* TestClock.adjust("59 minutes")
        assert.isUndefined(stopping.pollUnsafe(), "terminate still has a minute")
        yield* TestClock.adjust("1 minute")
        assert.instanceOf(yield* Fiber.join(stopping), GenServer.CallTimeout)
        assert.strictEqual((yield* Fiber.join(exit))._tag, "Killed")
      })
    )
  )

  it.effect("releasing a runtime kills the processes still in their finalizers when its shutdown timeout passes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(ProcessRuntime.layer({ shutdownTimeout: HOUR }), scope)
      const finalizing = yield* Deferred.make<void>()
      const reason = yield* Effect.provide(
        Effect.gen(function* () {
          const pid = yield* Process.spawn((self) =>
            Effect.forever(self.receive).pipe(
              Effect.ensuring(Effect.andThen(Deferred.succeed(finalizing, undefined), Effect.never))
            )
          )
          return yield* Effect.forkDetach(Process.awaitExit(pid), { startImmediately: true })
        }),
        context
      )
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      yield* Deferred.await(finalizing)
      yield* TestClock.adjust("59 minutes")
      assert.isUndefined(closing.pollUnsafe(), "the runtime still waits for the finalizer")
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(closing)
      assert.strictEqual((yield* Fiber.join(reason))._tag, "Killed")
    })
  )
})

/** A reference the test sets around `sendAfter`, to see which context the timer's send runs with. */
const Caller = Context.Reference<string>("test/Caller", { defaultValue: () => "nobody" })

/** A bridge to other nodes that only records sends (no node is ever reached here). */
const recordingBridge = (onSend: Effect.Effect<void>): RemoteBridge => {
  const unused = () => {
    throw new Error("not used by this test")
  }
  return {
    send: () => onSend,
    call: unused,
    cast: unused,
    stop: unused,
    exit: unused,
    link: unused,
    unlink: unused,
    monitor: unused,
    demonitor: unused,
    watchExit: unused
  }
}

describe("timers aimed at other nodes", () => {
  it.effect("a sendAfter to another node sends with the services of the fiber that set it", () =>
    onTestClock(
      Effect.gen(function* () {
        const seen = yield* Deferred.make<string>()
        const logged: Array<unknown> = []
        const recorder = Logger.make((options) => void logged.push(options.message))
        const send = Effect.gen(function* () {
          yield* Effect.log("sending over the bridge")
          yield* Deferred.succeed(seen, yield* Caller)
        })
        const detach = yield* withRuntime((runtime) => Effect.succeed(runtime.attachRemote(recordingBridge(send))))
        yield* Process.sendAfter(RemoteName.make("svc", "other@127.0.0.1"), "hello", "1 hour").pipe(
          Effect.provideService(Caller, "the caller"),
          Effect.provide(Logger.layer([recorder]))
        )
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(yield* Deferred.await(seen), "the caller")
        assert.deepStrictEqual(logged, [["sending over the bridge"]])
        detach()
      })
    )
  )
})
