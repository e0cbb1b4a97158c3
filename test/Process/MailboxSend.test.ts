import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Mailbox, Trampoline } from "../../src/Process/internal/mailbox.ts"
import { ProcessStats } from "../../src/Process/internal/processStats.ts"

/** A mailbox whose single receiver records every message it takes, forever. */
const receiving = (capacity: number) => {
  const mailbox = new Mailbox(
    capacity,
    "suspend",
    new Trampoline(64),
    new ProcessStats({ mask: -1, scale: 1, now: () => 0, wallOrigin: 0 }, 0)
  )
  const taken: Array<unknown> = []
  const fiber = Effect.runFork(
    Effect.forever(
      Effect.map(mailbox.take, (m) => void taken.push(m)),
      { disableYield: true }
    )
  )
  return { mailbox, taken, fiber }
}

describe("Mailbox: sends keep the synchronous hand-over", () => {
  it("a send through the suspending path is handed over even in a burst of casts", () => {
    const { fiber, mailbox, taken } = receiving(1)
    try {
      assert.isTrue(mailbox.receiving)
      // A cast starts a burst: it is handed over, and casts after it on this stack would be buffered.
      mailbox.post("cast")
      assert.deepStrictEqual(taken, ["cast"])
      // A send that had found the mailbox full retries in `offerOrSuspend`: it is a send, so the
      // waiting receiver takes it at once, on this stack, not after the stack unwinds.
      assert.isTrue(Effect.runSync(mailbox.offerOrSuspend("send", false)))
      assert.deepStrictEqual(taken, ["cast", "send"])
      // A cast through the same path is still part of the burst: buffered, the receiver woken later.
      assert.isTrue(Effect.runSync(mailbox.offerOrSuspend("late cast", true)))
      assert.deepStrictEqual(taken, ["cast", "send"])
      assert.strictEqual(mailbox.size, 1)
    } finally {
      Effect.runFork(Fiber.interrupt(fiber))
    }
  })
})
