/**
 * Test helpers for the process runtime: run an effect as a process, wait for messages with a
 * timeout (never sleep to synchronise).
 */
import { Clock, Deferred, Effect, Exit, Layer, Option } from "effect"
import { ExitReason, Process, ProcessRuntime } from "../../src/index.ts"
import type { ProcessContext, SpawnOptions } from "../../src/Process/Process.ts"

/** How long a test waits for an event before failing. */
export const EVENT_TIMEOUT = 2000

/**
 * Runs `body` inside a fresh process and resolves to its result. If the process exits before
 * `body` finishes (an exit signal, a kill), the test dies with the exit reason. Lets tests use the
 * operations that need a current process (link, monitor, receive, trapExit).
 */
export const inProcess = <A, E, R, M = unknown>(
  body: (self: ProcessContext<M>) => Effect.Effect<A, E, R>,
  options?: SpawnOptions
): Effect.Effect<A, E, R | ProcessRuntime.ProcessRuntime> =>
  Effect.gen(function* () {
    const result = yield* Deferred.make<Exit.Exit<A, E>>()
    const pid = yield* Effect.orDie(
      Process.spawn<M, never, R>(
        (self) => Effect.flatMap(Effect.exit(body(self)), (exit) => Deferred.succeed(result, exit)),
        options
      )
    )
    const reason = yield* Process.awaitExit(pid)
    const done = yield* Deferred.poll(result)
    if (Option.isNone(done)) return yield* Effect.die(`test process ${pid} exited early: ${ExitReason.format(reason)}`)
    return yield* yield* done.value
  })

/** Receives the next message, failing the test if none arrives within the timeout. */
export const receiveOrFail = <M>(self: ProcessContext<M>, millis = EVENT_TIMEOUT) =>
  Effect.flatMap(self.receiveWithin(millis), (message) =>
    Option.isSome(message) ? Effect.succeed(message.value) : Effect.die(`no message within ${millis} ms`)
  )

/** Asserts that no message arrives within `millis` (used only to check that nothing happens). */
export const expectNoMessage = <M>(self: ProcessContext<M>, millis = 50) =>
  Effect.flatMap(self.receiveWithin(millis), (message) =>
    Option.isSome(message) ? Effect.die(`unexpected message: ${String(message.value)}`) : Effect.void
  )

/**
 * The process runtime layer of the tests that run in real time: its timers (call timeouts,
 * `sendAfter`, `receiveWithin`, ...) follow the live clock even under `it.effect`'s TestClock. A
 * test that drives time with `TestClock.adjust` builds its runtime inside the test instead
 * (`ProcessRuntime.layer()`), so that the runtime keeps the test clock.
 */
export const runtimeLayer = ProcessRuntime.layer({ node: "test@127.0.0.1" }).pipe(
  Layer.provide(Layer.succeed(Clock.Clock, Clock.Clock.defaultValue()))
)
