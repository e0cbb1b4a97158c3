import { assert, describe, it } from "@effect/vitest"
import { Effect, References, Schema } from "effect"
import {
  CurrentProcess,
  ExitReason,
  GenServer,
  Pid,
  Process,
  type ProcessRuntime,
  Protocol,
  Signal
} from "../../src/index.ts"
import { EVENT_TIMEOUT, inProcess, receiveOrFail, runtimeLayer } from "../support/process.ts"

const run = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) => Effect.provide(effect, runtimeLayer)

/** A cast carries a number; the server records every number and every info message in order. */
const Log = Protocol.make({
  Put: Protocol.cast({ payload: { n: Schema.Number } }),
  Seen: Protocol.call({ success: Schema.Array(Schema.Unknown) })
})

const logger = (
  onPut?: (n: number) => Effect.Effect<void, never, ProcessRuntime.ProcessRuntime | CurrentProcess.CurrentProcess>
) =>
  GenServer.behaviour(Log)<void, ReadonlyArray<unknown>, ProcessRuntime.ProcessRuntime>({
    init: () => Effect.succeed([]),
    handleCall: { Seen: (_, seen) => Effect.succeed(GenServer.reply(seen, seen)) },
    handleCast: {
      Put: ({ n }, seen) => Effect.as(onPut?.(n) ?? Effect.void, GenServer.noReply([...seen, n]))
    },
    handleInfo: (message, seen) =>
      Effect.succeed(GenServer.noReply([...seen, message instanceof Signal.Exit ? "Exit" : message]))
  })

const COUNT = 5_000
/** Servers in the many-wakes test: far beyond one turn's budget of 256 wake-ups. */
const SERVERS = 100_000
/**
 * Generous: the drain takes about 1 s on a loaded 2-core machine (it took about 4 s when each turn of
 * 256 wake-ups copied the rest of the queue). This test checks that all are handled, in order.
 */
const DRAIN_TIMEOUT = 60_000

describe("casts drained in batches", () => {
  it.effect(
    "the first cast of a burst runs the server at once; the rest are drained once the caster's stack unwinds",
    () =>
      run(
        Effect.gen(function* () {
          let handled = 0
          const pid = yield* GenServer.start(
            logger(() => Effect.sync(() => void handled++)),
            undefined
          )
          yield* GenServer.cast(pid, Log.Put({ n: 1 }))
          assert.strictEqual(handled, 1, "a cast to a waiting server is handled during the cast")
          yield* GenServer.cast(pid, Log.Put({ n: 2 }))
          yield* GenServer.cast(pid, Log.Put({ n: 3 }))
          assert.strictEqual(handled, 1, "the rest of the burst waits in the mailbox")
          // A call behind the casts is answered after them: the server drains its mailbox in order.
          assert.deepStrictEqual(yield* GenServer.call(pid, Log.Seen()), [1, 2, 3])
          assert.strictEqual(handled, 3)
          yield* GenServer.stop(pid)
        })
      )
  )

  it.effect("thousands of casts from one sender are handled in order, each once", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(logger(), undefined)
        for (let i = 0; i < COUNT; i++) yield* GenServer.cast(pid, Log.Put({ n: i }))
        const seen = yield* GenServer.call(pid, Log.Seen())
        assert.strictEqual(seen.length, COUNT)
        for (let i = 0; i < COUNT; i++) assert.strictEqual(seen[i], i)
        yield* GenServer.stop(pid)
      })
    )
  )

  it.effect("casts beyond a small mailbox's capacity wait for room and none is lost", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(logger(), undefined, { mailboxCapacity: 8 })
        for (let i = 0; i < 200; i++) yield* GenServer.cast(pid, Log.Put({ n: i }))
        const seen = yield* GenServer.call(pid, Log.Seen())
        assert.deepStrictEqual(
          seen,
          Array.from({ length: 200 }, (_, i) => i)
        )
        yield* GenServer.stop(pid)
      })
    )
  )

  it.effect("a kill arriving in the middle of a drained batch stops the server before the next message", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const handled: Array<number> = []
          // The handler of the 10th cast sends the server's pid to a process waiting in receive,
          // which kills it: the kill lands while the server is still draining the casts buffered
          // behind the 10th (a send to a waiting receiver runs it at once).
          const killer = yield* Process.spawn((inner) =>
            Effect.flatMap(inner.receive, (pid) => Effect.orDie(Process.kill(pid as Pid.Pid)))
          )
          const pid = yield* GenServer.start(
            logger((n) =>
              Effect.flatMap(CurrentProcess.pid, (me) => {
                handled.push(n)
                return n === 9 ? Effect.orDie(Process.send(killer, me)) : Effect.void
              })
            ),
            undefined
          )
          const ref = yield* Process.monitor(pid)
          for (let i = 0; i < 100; i++) yield* GenServer.cast(pid, Log.Put({ n: i }))
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.strictEqual(down.ref.id, ref.id)
          assert.strictEqual(down.reason._tag, "Killed")
          // The 10th handler finishes (the kill is seen between messages), the 11th never starts.
          assert.deepStrictEqual(
            handled,
            Array.from({ length: 10 }, (_, i) => i)
          )
        })
      )
    )
  )

  it.effect("an exit signal to a trapping server is queued behind the casts already buffered", () =>
    run(
      inProcess(() =>
        Effect.gen(function* () {
          const pid = yield* GenServer.start(logger(), undefined, { trapExit: true })
          const linked = yield* Process.spawn(() =>
            Effect.gen(function* () {
              yield* Process.link(pid)
              for (let i = 0; i < 50; i++) yield* GenServer.cast(pid, Log.Put({ n: i }))
              // Ends with a non-normal reason: the trapping server gets an `Exit` message.
              return yield* Process.exitSelf(ExitReason.shutdown("done"))
            })
          )
          yield* Process.awaitExit(linked)
          const seen = yield* GenServer.call(pid, Log.Seen(), { timeout: EVENT_TIMEOUT })
          assert.strictEqual(seen.length, 51)
          for (let i = 0; i < 50; i++) assert.strictEqual(seen[i], i)
          assert.strictEqual(seen[50], "Exit")
          yield* GenServer.stop(pid)
        })
      )
    )
  )

  it.live(
    "second casts to 100k servers in one turn wake every server, in posting order",
    () =>
      run(
        Effect.gen(function* () {
          const log: Array<number> = []
          const server = logger((n) => Effect.sync(() => void log.push(n)))
          const pids = new Array<GenServer.ServerPid<typeof Log>>(SERVERS)
          for (let i = 0; i < SERVERS; i++) pids[i] = yield* GenServer.start(server, undefined)
          // Every cast in one run of the caster (no scheduler yield): server i's first cast (2i) is
          // handled at once, its second (2i + 1) is buffered and its wake-up queued, 100k in all.
          yield* Effect.forEach(
            pids,
            (pid, i) =>
              Effect.andThen(
                GenServer.cast(pid, Log.Put({ n: 2 * i })),
                GenServer.cast(pid, Log.Put({ n: 2 * i + 1 }))
              ),
            { discard: true }
          ).pipe(Effect.provideService(References.PreventSchedulerYield, true))
          // The last server's wake-up is the last queued: the call behind its cast returns after all of them.
          const last = yield* GenServer.call(pids[SERVERS - 1]!, Log.Seen(), { timeout: DRAIN_TIMEOUT })
          assert.deepStrictEqual(last, [2 * SERVERS - 2, 2 * SERVERS - 1])
          assert.strictEqual(log.length, 2 * SERVERS)
          // Each kind in posting order: the first casts as cast, the second ones as their wake-ups were queued.
          const firsts = log.filter((n) => n % 2 === 0)
          const seconds = log.filter((n) => n % 2 === 1)
          assert.strictEqual(firsts.length, SERVERS)
          for (let i = 0; i < SERVERS; i++) {
            if (firsts[i] !== 2 * i || seconds[i] !== 2 * i + 1) {
              assert.fail(`out of order at server ${i}: ${firsts[i]}, ${seconds[i]}`)
            }
          }
        })
      ),
    120_000
  )
})
