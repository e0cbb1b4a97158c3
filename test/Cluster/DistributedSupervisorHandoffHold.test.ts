/**
 * The hold of a frozen handoff instance on the test clock: the cap on a hold (60 s) ends only the
 * hold it was set for. A move that failed (`Thaw`) and a new `Freeze` soon after must not be ended
 * by the first hold's timer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { GenServer, Process, ProcessRuntime } from "../../src/index.ts"
import * as Handoff from "../../src/Cluster/internal/distSupHandoff.ts"
import { HandoffCounter, HandoffCounterSpec } from "../support/handoffCounter.ts"
import { inProcess, receiveOrFail } from "../support/process.ts"

/** Built inside the test, so that the runtime keeps the test's clock. */
const onTestClock = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) =>
  Effect.provide(effect, ProcessRuntime.layer({ node: "hold@127.0.0.1" }))

describe("handoff hold", () => {
  it.effect("the cap of a hold that ended (the move failed) does not end a later hold", () =>
    onTestClock(
      inProcess((self) =>
        Effect.gen(function* () {
          const pid = yield* GenServer.start(
            HandoffCounterSpec.behaviour as unknown as GenServer.Behaviour<
              typeof HandoffCounter,
              number,
              unknown,
              never
            >,
            0
          )
          // First move: frozen, then it fails (Thaw).
          yield* Process.send(pid, Handoff.freeze("r", self.pid))
          assert.isTrue(Handoff.isFrozen(yield* receiveOrFail(self)))
          yield* Process.send(pid, Handoff.thaw)
          yield* TestClock.adjust("30 seconds")
          // Second move, 30 s later: frozen again; a cast sent now is held for the next instance.
          yield* Process.send(pid, Handoff.freeze("r", self.pid))
          const frozen = yield* receiveOrFail(self)
          assert.isTrue(Handoff.isFrozen(frozen) && frozen.ok)
          yield* GenServer.cast(pid, HandoffCounter.Note({ sender: "t", seq: 1 }))
          // The first hold's cap comes due (60 s after the first Freeze): the second hold goes on.
          yield* TestClock.adjust("31 seconds")
          yield* Process.send(pid, Handoff.forwardTo(self.pid))
          yield* GenServer.cast(pid, HandoffCounter.Note({ sender: "t", seq: 2 }))
          // Both casts are forwarded, in order: none was handled by the old instance.
          for (const seq of [1, 2]) {
            const message = (yield* receiveOrFail(self)) as {
              readonly _tag: string
              readonly item: { readonly kind: string; readonly payload?: { readonly seq: number } }
            }
            assert.strictEqual(message._tag, "effect-otp/handoff/Forwarded")
            assert.strictEqual(message.item.payload?.seq, seq)
          }
          yield* GenServer.stop(pid)
        })
      )
    )
  )
})
