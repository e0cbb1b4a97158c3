/**
 * The code of the README's tour, type-checked with the rest of the project (test/readme.test.ts
 * checks that every TypeScript block of the README appears here verbatim).
 */
import { Effect, Layer, Schema } from "effect"
import {
  ChildSpec,
  Distribution,
  ExitReason,
  GenServer,
  Process,
  ProcessRuntime,
  Protocol,
  Registry,
  RemoteName,
  Signal,
  Supervisor
} from "effect-otp"

// --- protocol ---
class Overflow extends Schema.TaggedError<Overflow>()("Overflow", { limit: Schema.Number }) {}

const Counter = Protocol.make({
  Get: Protocol.call({ success: Schema.Number }),
  Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number, error: Overflow }),
  Reset: Protocol.cast()
})
// --- end ---

// --- behaviour ---
const counter = GenServer.behaviour(Counter)({
  init: (start: number) => Effect.succeed(start),
  handleCall: {
    Get: (_, n) => Effect.succeed(GenServer.reply(n, n)),
    Add: ({ n }, total) =>
      total + n > 100
        ? Effect.fail(new Overflow({ limit: 100 })) // the caller gets Overflow; the state is kept
        : Effect.succeed(GenServer.reply(total + n, total + n))
  },
  handleCast: {
    Reset: () => Effect.succeed(GenServer.noReply(0))
  },
  terminate: (reason, total) => Effect.log(`stopping with ${total}: ${ExitReason.format(reason)}`)
})
// --- end ---

// --- calls ---
const program = Effect.gen(function* () {
  const pid = yield* GenServer.start(counter, 10, { name: "counter" })
  const total = yield* GenServer.call(pid, Counter.Add({ n: 5 })) // number; errors: Overflow | CallError
  yield* GenServer.cast("counter", Counter.Reset()) // a registered name works wherever a pid does
  const after = yield* GenServer.call("counter", Counter.Get(), { timeout: 1000 })
  yield* GenServer.stop("counter", ExitReason.shutdown())
  return [total, after]
})

Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
// --- end ---

// --- processes ---
const watcher = Effect.gen(function* () {
  const worker = yield* Process.spawn((self: Process.ProcessContext<string>) =>
    Effect.flatMap(self.receive, (job) => Effect.log(`working on ${String(job)}`))
  )
  const observer = yield* Process.spawn((self: Process.ProcessContext<never>) =>
    Effect.gen(function* () {
      yield* Process.monitor(worker) // Down arrives exactly once (noproc if already dead)
      const down = yield* self.receive
      if (down instanceof Signal.Down) yield* Effect.log(`${down.pid} exited: ${ExitReason.format(down.reason)}`)
    })
  )
  yield* Registry.register("worker", worker)
  yield* Process.send("worker", "report")
  return yield* Process.awaitExit(observer)
})
// --- end ---

export { program, watcher }

// --- supervision ---
const Tree = Supervisor.layer({
  strategy: "one_for_one", // also one_for_all, rest_for_one; at most 3 restarts in 5 s by default
  children: [ChildSpec.genServer("counter", counter, 0, { name: "counter", restart: "permanent" })]
})

// The rest of the app reaches the current incarnation by name, whatever restarts happened.
const AppLive = Tree.pipe(Layer.provideMerge(ProcessRuntime.layer()))
const read = GenServer.call("counter", Counter.Get()).pipe(Effect.provide(AppLive))
// --- end ---

// --- cluster ---
const NodeLive = Distribution.layer({
  nodeName: "a",
  host: "127.0.0.1",
  port: 4370,
  secret: "change-me", // every link is TLS 1.2 PSK (ECDHE-PSK-CHACHA20-POLY1305) derived from it
  seeds: ["b@127.0.0.1:4371"]
})

// The same call, to the counter registered on node b: same types, plus NodeDown / RemoteDecodeError.
const remote = GenServer.call(RemoteName.make("counter", "b"), Counter.Add({ n: 1 })).pipe(Effect.provide(NodeLive))
// --- end ---

export { read, remote }
