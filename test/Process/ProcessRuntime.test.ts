import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit } from "effect"
import { ExitReason, Process, ProcessRuntime } from "../../src/index.ts"

describe("ProcessRuntime", () => {
  it.effect("the service reports the node, its incarnation and the number of live processes", () =>
    Effect.gen(function* () {
      const runtime = yield* ProcessRuntime.ProcessRuntime
      assert.strictEqual(runtime.node, "a@127.0.0.1")
      assert.strictEqual(runtime.incarnation, 7)
      const before = runtime.processCount
      const pid = yield* Process.spawn((self) => Effect.forever(self.receive))
      assert.strictEqual(pid.incarnation, 7)
      assert.strictEqual(runtime.processCount, before + 1)
      yield* Process.kill(pid)
      yield* Process.awaitExit(pid)
      assert.strictEqual(runtime.processCount, before)
    }).pipe(Effect.provide(ProcessRuntime.layer({ node: "a@127.0.0.1", incarnation: 7 })))
  )

  it.live("shutdownTimeout takes a Duration: past it, releasing the runtime kills processes stuck in finalizers", () =>
    Effect.gen(function* () {
      const reason = yield* Deferred.make<ExitReason.ExitReason>()
      const start = Date.now()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const pid = yield* Process.spawn((self) => Effect.forever(self.receive).pipe(Effect.ensuring(Effect.never)))
          // A watcher outside the runtime's layer: it sees the exit reason after the release.
          yield* Effect.forkDetach(
            Effect.flatMap(Process.awaitExit(pid), (r) => Deferred.done(reason, Exit.succeed(r))),
            { startImmediately: true }
          )
        }).pipe(Effect.provide(ProcessRuntime.layer({ shutdownTimeout: "50 millis" })))
      )
      assert.strictEqual((yield* Deferred.await(reason))._tag, "Killed")
      assert.isBelow(Date.now() - start, 2000)
    })
  )
})
