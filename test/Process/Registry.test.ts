import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Schema } from "effect"
import {
  ExitReason,
  GenServer,
  Pid,
  Process,
  ProcessErrors,
  type ProcessRuntime,
  Protocol,
  Registry
} from "../../src/index.ts"
import { inProcess, receiveOrFail, runtimeLayer } from "../support/process.ts"

const run = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) => Effect.provide(effect, runtimeLayer)

const idle = (self: Process.ProcessContext<unknown>) => Effect.forever(self.receive)
const exitOnMessage = (self: Process.ProcessContext<unknown>) => Effect.asVoid(self.receive)

describe("unique names", () => {
  it.effect("register, whereis and unregister", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* Process.spawn(idle)
        yield* Registry.register("db", pid)
        assert.isTrue(Pid.equals(Option.getOrThrow(yield* Registry.whereis("db")), pid))
        assert.deepStrictEqual(yield* Registry.registered, ["db"])
        assert.isTrue(yield* Registry.unregister("db"))
        assert.isTrue(Option.isNone(yield* Registry.whereis("db")))
        assert.isFalse(yield* Registry.unregister("db"))
      })
    )
  )

  it.effect("a taken name is refused, and a process holds only one name", () =>
    run(
      Effect.gen(function* () {
        const a = yield* Process.spawn(idle, { name: "a" })
        const b = yield* Process.spawn(idle)
        const taken = yield* Effect.flip(Registry.register("a", b))
        assert.instanceOf(taken, ProcessErrors.NameTaken)
        assert.include(taken.message, String(a))
        const second = yield* Effect.flip(Registry.register("other", a))
        assert.instanceOf(second, ProcessErrors.NameTaken)
        assert.include(second.message, `already registered as "a"`)
        assert.instanceOf(yield* Effect.flip(Process.spawn(idle, { name: "a" })), ProcessErrors.NameTaken)
      })
    )
  )

  it.effect("a name is released when its process exits and can be reused", () =>
    run(
      Effect.gen(function* () {
        const first = yield* Process.spawn(exitOnMessage, { name: "worker" })
        const exit = yield* Effect.forkChild(Process.awaitExit(first), { startImmediately: true })
        yield* Process.send("worker", "stop")
        yield* Fiber.join(exit)
        assert.isTrue(Option.isNone(yield* Registry.whereis("worker")))
        const second = yield* Process.spawn(idle, { name: "worker" })
        assert.isTrue(Pid.equals(Option.getOrThrow(yield* Registry.whereis("worker")), second))
        assert.isFalse(Pid.equals(first, second))
      })
    )
  )

  it.effect("a name works wherever a pid does: send, call, cast, monitor, exit", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const Echo = Protocol.make({
            Echo: Protocol.call({ payload: { text: Schema.String }, success: Schema.String }),
            Note: Protocol.cast({ payload: { text: Schema.String } })
          })
          const notes = yield* Deferred.make<string>()
          const echo = GenServer.behaviour(Echo)({
            init: () => Effect.succeed(undefined),
            handleCall: { Echo: ({ text }, state) => Effect.succeed(GenServer.reply(text, state)) },
            handleCast: {
              Note: ({ text }, state) => Effect.as(Deferred.succeed(notes, text), GenServer.noReply(state))
            },
            handleInfo: (message, state) =>
              Effect.as(Deferred.succeed(notes, String(message)), GenServer.noReply(state))
          })
          const pid = yield* GenServer.start(echo, undefined, { name: "echo" })
          assert.strictEqual(yield* GenServer.call("echo", Echo.Echo({ text: "hi" })), "hi")
          yield* GenServer.cast("echo", Echo.Note({ text: "cast" }))
          assert.strictEqual(yield* Deferred.await(notes), "cast")
          yield* Process.monitor("echo")
          yield* Process.exit("echo", ExitReason.custom("by name"))
          const down = yield* receiveOrFail(self)
          assert.isTrue(Pid.equals((down as { pid: Pid.Pid }).pid, pid))
        })
      )
    )
  )
})

describe("duplicate-key registry", () => {
  it.effect("many processes under one key, each with a value, dispatched in registration order", () =>
    run(
      Effect.gen(function* () {
        const topics = yield* Registry.makeDuplicate<string, number>()
        const a = yield* Process.spawn(idle)
        const b = yield* Process.spawn(idle)
        yield* topics.register("news", 1, a)
        yield* topics.register("news", 2, b)
        yield* topics.register("sport", 3, a)
        const entries = yield* topics.lookup("news")
        assert.deepStrictEqual(
          entries.map(([pid, value]) => [String(pid), value]),
          [
            [String(a), 1],
            [String(b), 2]
          ]
        )
        assert.deepStrictEqual([...(yield* topics.keysOf(a))].sort(), ["news", "sport"])
        const seen: Array<number> = []
        yield* topics.dispatch("news", (_, value) => Effect.sync(() => seen.push(value)))
        assert.deepStrictEqual(seen, [1, 2])
        yield* topics.unregister("news", a)
        assert.strictEqual(yield* topics.count("news"), 1)
        assert.strictEqual(yield* topics.count("sport"), 1)
      })
    )
  )

  it.effect("entries are removed when their process exits", () =>
    run(
      Effect.gen(function* () {
        const topics = yield* Registry.makeDuplicate<string, string>()
        const pid = yield* Process.spawn(exitOnMessage)
        yield* topics.register("a", "x", pid)
        yield* topics.register("b", "y", pid)
        const exit = yield* Effect.forkChild(Process.awaitExit(pid), { startImmediately: true })
        yield* Process.send(pid, "stop")
        yield* Fiber.join(exit)
        assert.strictEqual(yield* topics.count("a"), 0)
        assert.strictEqual(yield* topics.count("b"), 0)
        assert.deepStrictEqual(yield* topics.keysOf(pid), [])
      })
    )
  )

  it.effect("a process registers itself and gets published messages", () =>
    run(
      Effect.gen(function* () {
        const topics = yield* Registry.makeDuplicate<string, undefined>()
        const got = yield* Deferred.make<unknown>()
        const subscribed = yield* Deferred.make<void>()
        yield* Process.spawn((self) =>
          Effect.gen(function* () {
            yield* topics.register("events", undefined)
            yield* Deferred.succeed(subscribed, undefined)
            yield* Deferred.succeed(got, yield* self.receive)
          })
        )
        yield* Deferred.await(subscribed)
        yield* topics.dispatch("events", (pid) => Process.send(pid, "published"))
        assert.strictEqual(yield* Deferred.await(got), "published")
      })
    )
  )

  it.effect("registering a dead pid fails with NoProcess", () =>
    run(
      Effect.gen(function* () {
        const topics = yield* Registry.makeDuplicate<string, number>()
        const dead = yield* Process.spawn(() => Effect.void)
        assert.instanceOf(yield* Effect.flip(topics.register("k", 1, dead)), ProcessErrors.NoProcess)
      })
    )
  )
})
