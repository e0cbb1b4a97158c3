/**
 * Per-sender order with large messages: a large message sent without waiting (`sendUnsafe`, as a
 * reply or an exit signal is) holds its sender's later frames behind it on that link, and only
 * that sender's: other senders' small frames still go first.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import * as Channel from "../../src/Transport/Channel.ts"
import { collect, isUp, linkEvents, tcpNode } from "../support/transportHarness.ts"

const Text = Channel.make("test.order", Schema.String)

/** A string of `mb` MiB whose first character names it. */
const large = (name: string, mb: number) => name + "x".repeat(mb * 1024 * 1024)

const label = (message: string) => (message.length > 100 ? `${message[0]}:large` : message)

const linked = Effect.gen(function* () {
  const a = yield* tcpNode("a")
  const b = yield* tcpNode("b")
  const eventsA = yield* linkEvents(a)
  yield* a.connect(b.address)
  yield* eventsA(isUp("b"))
  return { a, b }
})

describe("Large messages and per-sender order", () => {
  it.live("a sender's frames after its unawaited large message arrive after it, whichever way they are sent", () =>
    Effect.gen(function* () {
      const { a, b } = yield* linked
      const received = yield* collect(b, Text, 5, 20_000)
      yield* Effect.sync(() => {
        assert.isTrue(a.sendUnsafe("b", Text, large("R", 6)))
        assert.isTrue(a.sendUnsafe("b", Text, "after-unsafe"))
      })
      // trySend declines while the sender's large message is unfinished; send waits behind it.
      assert.isFalse(yield* Effect.sync(() => a.trySend("b", Text, "not-taken")))
      yield* a.send("b", Text, "after-send")
      yield* Effect.sync(() => {
        assert.isTrue(a.sendUnsafe("b", Text, large("S", 2)))
      })
      yield* a.send("b", Text, "last")
      assert.deepStrictEqual((yield* received).map(label), ["R:large", "after-unsafe", "after-send", "S:large", "last"])
    })
  )

  it.live("another sender's small frames are not held behind it", () =>
    Effect.gen(function* () {
      const { a, b } = yield* linked
      const received = yield* collect(b, Text, 3, 20_000)
      yield* Effect.sync(() => {
        assert.isTrue(a.sendUnsafe("b", Text, large("R", 6)))
        assert.isTrue(a.sendUnsafe("b", Text, "same-sender"))
      })
      // Another fiber (another process, for distribution) sends a small frame meanwhile.
      const other = yield* Effect.forkChild(a.send("b", Text, "other-sender"))
      yield* Fiber.join(other)
      assert.deepStrictEqual((yield* received).map(label), ["other-sender", "R:large", "same-sender"])
    })
  )

  it.live(
    "a frame sent outside any fiber (a Down from an exit observer) waits for every large message unfinished when it is sent",
    () =>
      Effect.gen(function* () {
        const { a, b } = yield* linked
        const received = yield* collect(b, Text, 4, 20_000)
        yield* Effect.sync(() => {
          assert.isTrue(a.sendUnsafe("b", Text, large("R", 6)))
        })
        // As a process's exit observer does: no fiber runs the send.
        yield* Effect.promise(
          () =>
            new Promise<void>((resolve) =>
              setImmediate(() => {
                assert.isUndefined(Fiber.getCurrent())
                assert.isTrue(a.sendUnsafe("b", Text, "down"))
                assert.isTrue(a.sendUnsafe("b", Text, large("E", 2)))
                assert.isTrue(a.sendUnsafe("b", Text, "after-exit"))
                resolve()
              })
            )
        )
        assert.deepStrictEqual((yield* received).map(label), ["R:large", "down", "E:large", "after-exit"])
      })
  )

  it.live("a frame sent outside any fiber waits for every large message its sender's lane still holds", () =>
    Effect.gen(function* () {
      const { a, b } = yield* linked
      const received = yield* collect(b, Text, 3, 20_000)
      yield* Effect.sync(() => {
        // Two large messages from one fiber: the second waits in its lane behind the first.
        assert.isTrue(a.sendUnsafe("b", Text, large("R", 4)))
        assert.isTrue(a.sendUnsafe("b", Text, large("S", 4)))
      })
      yield* Effect.promise(
        () =>
          new Promise<void>((resolve) =>
            setImmediate(() => {
              assert.isUndefined(Fiber.getCurrent())
              assert.isTrue(a.sendUnsafe("b", Text, "down"))
              resolve()
            })
          )
      )
      assert.deepStrictEqual((yield* received).map(label), ["R:large", "S:large", "down"])
    })
  )
})
