import { createHook } from "node:async_hooks"
import { performance } from "node:perf_hooks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { GenServer, Process, ProcessRuntime, Protocol } from "../../src/index.ts"

const IDLE = 100_000
const WINDOW_MILLIS = 250
const WINDOWS = 3

const Counter = Protocol.make({
  Get: Protocol.call({ success: Schema.Number }),
  Bump: Protocol.cast()
})

const counter = GenServer.behaviour(Counter)({
  init: () => Effect.succeed(0),
  handleCall: { Get: (_, state) => Effect.succeed(GenServer.reply(state, state)) },
  handleCast: { Bump: (_, state) => Effect.succeed(GenServer.noReply(state + 1)) }
})

/** Lets every macrotask queued so far run (the runtime's deferred hand-overs): one loop turn. */
const loopTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Live timers, immediates, sockets and other handles that keep the event loop busy. */
const activeResources = () => process.getActiveResourcesInfo().length

describe("idle processes", () => {
  it.live(
    "100k idle processes create no timers or handles and leave the event loop idle",
    () =>
      Effect.gen(function* () {
        yield* loopTurn
        const resourcesBefore = activeResources()
        const pids = new Array<GenServer.ServerPid<typeof Counter>>(IDLE / 2)
        for (let i = 0; i < IDLE / 2; i++) pids[i] = yield* GenServer.start(counter, undefined)
        for (let i = 0; i < IDLE / 2; i++) yield* Process.spawn((self) => Effect.forever(self.receive))
        const runtime = yield* ProcessRuntime.ProcessRuntime
        assert.isAtLeast(runtime.processCount, IDLE)
        yield* loopTurn
        // Nothing per process: a timer or handle each would add 100k here.
        const resourcesAfter = activeResources()
        assert.isAtMost(resourcesAfter - resourcesBefore, 2, process.getActiveResourcesInfo().join(", "))

        // Count every async resource (timer, immediate, promise callback, ...) created while idle.
        const created = new Map<string, number>()
        const hook = createHook({
          init: (_id, type) => {
            created.set(type, (created.get(type) ?? 0) + 1)
          }
        })
        const utilisations: Array<number> = []
        hook.enable()
        try {
          for (let w = 0; w < WINDOWS; w++) {
            const start = performance.eventLoopUtilization()
            yield* Effect.sleep(WINDOW_MILLIS)
            utilisations.push(performance.eventLoopUtilization(start).utilization)
          }
        } finally {
          hook.disable()
        }
        const total = [...created.values()].reduce((a, b) => a + b, 0)
        // The windows' own timers and the test runner's traffic: a handful, not one per process.
        assert.isBelow(total, 200, JSON.stringify(Object.fromEntries(created)))
        assert.isBelow(created.get("Timeout") ?? 0, 20, JSON.stringify(Object.fromEntries(created)))
        // A GC pause may land in one window; polling 100k processes would keep every window busy.
        assert.isBelow(Math.min(...utilisations), 0.3, `event loop utilisation per window: ${utilisations.join(", ")}`)

        // The idle processes still serve: they are waiting, not gone.
        for (const pid of [pids[0]!, pids[IDLE / 4]!, pids[IDLE / 2 - 1]!]) {
          yield* GenServer.cast(pid, Counter.Bump())
          assert.strictEqual(yield* GenServer.call(pid, Counter.Get()), 1)
        }
      }).pipe(Effect.provide(ProcessRuntime.layer())),
    120_000
  )
})
