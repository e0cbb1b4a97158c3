/**
 * A counter GenServer: a protocol declared with Schema (calls with a reply and a typed error, a
 * cast), a behaviour implementing it, calls by pid and by registered name, a call timeout, and a
 * stop that runs `terminate`.
 *
 * Run with `npm run example:counter`. No external service; ends by itself.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Schema } from "effect"
import { ExitReason, GenServer, ProcessRuntime, Protocol } from "../src/index.ts"

class Overflow extends Schema.TaggedError<Overflow>()("Overflow", { limit: Schema.Number, value: Schema.Number }) {}

// The protocol: what the server answers, and how it may fail. Across nodes, these schemas encode it.
const Counter = Protocol.make({
  Get: Protocol.call({ success: Schema.Number }),
  Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number, error: Overflow }),
  /** Answers after `ms`: used to show a call timeout. */
  Slow: Protocol.call({ payload: { ms: Schema.Number }, success: Schema.Number }),
  Reset: Protocol.cast()
})

// The behaviour: the state is the count, bounded by `limit` (the start argument).
const counter = GenServer.behaviour(Counter)({
  init: (limit: number) => Effect.succeed({ limit, count: 0 }),
  handleCall: {
    Get: (_, state) => Effect.succeed(GenServer.reply(state.count, state)),
    Add: ({ n }, state) =>
      state.count + n > state.limit
        ? Effect.fail(new Overflow({ limit: state.limit, value: state.count + n }))
        : Effect.succeed(GenServer.reply(state.count + n, { ...state, count: state.count + n })),
    Slow: ({ ms }, state) => Effect.as(Effect.sleep(ms), GenServer.reply(state.count, state))
  },
  handleCast: {
    Reset: (_, state) => Effect.succeed(GenServer.noReply({ ...state, count: 0 }))
  },
  terminate: (reason, state) =>
    Effect.log(`counter stops (${ExitReason.format(reason)}) at ${state.count}`).pipe(Effect.asVoid)
})

const program = Effect.gen(function* () {
  const pid = yield* GenServer.start(counter, 10, { name: "counter" })
  console.log(`started counter ${pid}, registered as "counter", limit 10`)

  console.log(`Add 3 -> ${yield* GenServer.call(pid, Counter.Add({ n: 3 }))}`)
  console.log(`Add 4 by name -> ${yield* GenServer.call("counter", Counter.Add({ n: 4 }))}`)

  // A typed error: the call fails with Overflow, and the server keeps its state.
  const refused = yield* GenServer.call(pid, Counter.Add({ n: 5 })).pipe(
    Effect.map((n) => `${n}`),
    Effect.catchTag("Overflow", (error) => Effect.succeed(`Overflow (limit ${error.limit}, would be ${error.value})`))
  )
  console.log(`Add 5 -> ${refused}`)
  console.log(`Get -> ${yield* GenServer.call(pid, Counter.Get())}`)

  // Every call has a timeout (5 s by default): past it, CallTimeout; the late reply is dropped.
  const late = yield* Effect.flip(GenServer.call(pid, Counter.Slow({ ms: 200 }), { timeout: 50 }))
  console.log(`Slow 200 ms with a 50 ms timeout -> ${late._tag}`)

  // A cast: no reply; the next call sees its effect (messages from one sender arrive in order).
  yield* GenServer.cast(pid, Counter.Reset())
  console.log(`Reset (cast), then Get -> ${yield* GenServer.call(pid, Counter.Get())}`)

  yield* GenServer.stop(pid, ExitReason.normal)
  console.log("stopped")
})

NodeRuntime.runMain(program.pipe(Effect.provide(ProcessRuntime.layer({ node: "counter@127.0.0.1" }))))
