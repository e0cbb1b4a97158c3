/**
 * Type-level tests of the GenServer API: typed references, the requests each target accepts, the
 * process-only requirements and the checks of call handlers. `tsc` checks them (the
 * `@ts-expect-error` lines must be errors, the `expectTypeOf` lines must hold); at run time they
 * only build effects, never run them.
 */
import { describe, expectTypeOf, it } from "vitest"
import { Effect, Schema } from "effect"
import type { Duration } from "effect"
import {
  CurrentProcess,
  GenServer,
  Pid,
  Process,
  type ProcessErrors,
  ProcessRuntime,
  Protocol,
  RemoteName
} from "../../src/index.ts"

class Overflow extends Schema.TaggedError<Overflow>()("Overflow", { limit: Schema.Number }) {}
class Other extends Schema.TaggedError<Other>()("Other", { why: Schema.String }) {}

const Counter = Protocol.make({
  Get: Protocol.call({ success: Schema.Number }),
  Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number, error: Overflow }),
  Wait: Protocol.call({ success: Schema.String }),
  Reset: Protocol.cast()
})
type Counter = typeof Counter

const Kv = Protocol.make({
  Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }),
  Note: Protocol.cast({ payload: { key: Schema.String } })
})

const counter = GenServer.behaviour(Counter)({
  init: (start: number) => Effect.succeed(start),
  handleCall: {
    Get: (_, n) => Effect.succeed(GenServer.reply(n, n)),
    Add: ({ n }, s) =>
      s + n > 100 ? Effect.fail(new Overflow({ limit: 100 })) : Effect.succeed(GenServer.reply(s + n, s + n)),
    Wait: (_, s) => Effect.succeed(GenServer.noReply(s))
  },
  handleCast: { Reset: () => Effect.succeed(GenServer.noReply(0)) }
})

// Built without the runtime (the effects below are never run): a typed pid is a plain pid at run time.
const untypedPid: Pid.Pid = Pid.make("a@127.0.0.1", 1, 1)
const pid = untypedPid as GenServer.ServerPid<Counter>

describe("typed references", () => {
  it("start returns a pid typed by the behaviour's protocol, usable as a plain Pid", () => {
    expectTypeOf(GenServer.start(counter, 0)).toEqualTypeOf<
      Effect.Effect<
        GenServer.ServerPid<Counter>,
        GenServer.InitFailed | ProcessErrors.NameTaken,
        ProcessRuntime.ProcessRuntime
      >
    >()
    expectTypeOf(pid).toExtend<Pid.Pid>()
    expectTypeOf(Process.monitor(pid)).toExtend<Effect.Effect<unknown, unknown, unknown>>()
  })

  it("a typed pid accepts its protocol's calls and casts, with their reply types", () => {
    expectTypeOf(GenServer.call(pid, Counter.Add({ n: 1 }))).toEqualTypeOf<
      Effect.Effect<number, Overflow | GenServer.CallError, ProcessRuntime.ProcessRuntime>
    >()
    expectTypeOf(GenServer.cast(pid, Counter.Reset())).toEqualTypeOf<
      Effect.Effect<
        void,
        ProcessErrors.NoProcess | ProcessErrors.MailboxFull | ProcessErrors.MessageTooLarge,
        ProcessRuntime.ProcessRuntime
      >
    >()
  })

  it("a typed pid refuses the requests of another protocol", () => {
    // @ts-expect-error Kv.Get is not a call of Counter
    GenServer.call(pid, Kv.Get({ key: "k" }))
    // @ts-expect-error Kv.Note is not a cast of Counter
    GenServer.cast(pid, Kv.Note({ key: "k" }))
  })

  it("a typed local name refuses the requests of another protocol, and start refuses it for another behaviour", () => {
    const name = GenServer.name("counter", Counter)
    expectTypeOf(name).toEqualTypeOf<GenServer.ServerName<Counter>>()
    expectTypeOf(name).toExtend<string>()
    GenServer.call(name, Counter.Get())
    // @ts-expect-error Kv.Get is not a call of Counter
    GenServer.call(name, Kv.Get({ key: "k" }))
    GenServer.start(counter, 0, { name })
    GenServer.start(counter, 0, { name: "untyped names are accepted" })
    // @ts-expect-error a name typed by Kv cannot name a Counter server
    GenServer.start(counter, 0, { name: GenServer.name("kv", Kv) })
  })

  it("a typed RemoteName (from a protocol or from a typed name) refuses the requests of another protocol", () => {
    const byProtocol = RemoteName.make("counter", "b", Counter)
    const byName = RemoteName.make(GenServer.name("counter", Counter), "b")
    expectTypeOf(byProtocol).toEqualTypeOf<RemoteName.RemoteServerName<Counter>>()
    expectTypeOf(byName).toEqualTypeOf<RemoteName.RemoteServerName<Counter>>()
    expectTypeOf(RemoteName.make("counter", "b")).toEqualTypeOf<RemoteName.RemoteName>()
    GenServer.call(byProtocol, Counter.Get())
    // @ts-expect-error Kv.Get is not a call of Counter
    GenServer.call(byProtocol, Kv.Get({ key: "k" }))
    // @ts-expect-error Kv.Note is not a cast of Counter
    GenServer.cast(byName, Kv.Note({ key: "k" }))
  })

  it("untyped pids and names accept the requests of any protocol, as in OTP", () => {
    expectTypeOf(GenServer.call(untypedPid, Kv.Get({ key: "k" }))).toEqualTypeOf<
      Effect.Effect<string, GenServer.CallError, ProcessRuntime.ProcessRuntime>
    >()
    GenServer.call("anything", Counter.Get())
    GenServer.cast(RemoteName.make("anything", "b"), Kv.Note({ key: "k" }))
  })

  it("a call of a cast request and a cast of a call request do not compile, whatever the target", () => {
    // @ts-expect-error Reset is a cast
    GenServer.call(pid, Counter.Reset())
    // @ts-expect-error Get is a call
    GenServer.cast(pid, Counter.Get())
    // @ts-expect-error Reset is a cast
    GenServer.call("counter", Counter.Reset())
    // @ts-expect-error Get is a call
    GenServer.cast("counter", Counter.Get())
  })
})

describe("durations", () => {
  it("call, start and stop timeouts accept a Duration.Input or milliseconds", () => {
    GenServer.call(pid, Counter.Get(), { timeout: "1 second" })
    GenServer.call(pid, Counter.Get(), { timeout: 1000 })
    GenServer.start(counter, 0, { timeout: "2 seconds" })
    GenServer.stop(pid, undefined, "5 seconds")
    expectTypeOf<NonNullable<GenServer.CallOptions["timeout"]>>().toEqualTypeOf<Duration.Input>()
    expectTypeOf<NonNullable<GenServer.StartOptions["timeout"]>>().toEqualTypeOf<Duration.Input>()
    expectTypeOf<NonNullable<ProcessRuntime.ProcessRuntimeOptions["shutdownTimeout"]>>().toEqualTypeOf<Duration.Input>()
  })
})

describe("inside a process", () => {
  it("GenServer.self and Process.self cannot fail, and need CurrentProcess", () => {
    expectTypeOf(GenServer.self).toEqualTypeOf<Effect.Effect<Pid.Pid, never, CurrentProcess.CurrentProcess>>()
    expectTypeOf(Process.self).toEqualTypeOf<Effect.Effect<Pid.Pid, never, CurrentProcess.CurrentProcess>>()
  })

  it("outside a process, the missing CurrentProcess is a compile error", () => {
    const outside = GenServer.self.pipe(Effect.provide(ProcessRuntime.layer()))
    // Never called: running it would only show at run time what the compiler says here.
    const run = () =>
      // @ts-expect-error CurrentProcess is not provided outside a process
      Effect.runFork(outside)
    expectTypeOf(run).toBeFunction()
  })

  it("callbacks may use CurrentProcess without it reaching the behaviour's or the spawner's requirements", () => {
    const Who = Protocol.make({ Whoami: Protocol.call({ success: Schema.String }) })
    const who = GenServer.behaviour(Who)({
      init: () => Effect.map(GenServer.self, String),
      handleCall: { Whoami: (_, state) => Effect.map(GenServer.self, (me) => GenServer.reply(String(me), state)) }
    })
    expectTypeOf(who).toEqualTypeOf<GenServer.Behaviour<typeof Who, unknown, string, never>>()
    expectTypeOf(Process.spawn(() => CurrentProcess.pid)).toEqualTypeOf<
      Effect.Effect<Pid.Pid, ProcessErrors.NameTaken, ProcessRuntime.ProcessRuntime>
    >()
  })

  it("the services callbacks use become the behaviour's requirements", () => {
    const Who = Protocol.make({ Whoami: Protocol.call({ success: Schema.String }) })
    const who = GenServer.behaviour(Who)({
      init: () => Effect.succeed("x"),
      handleCall: {
        Whoami: (_, state) =>
          Effect.as(GenServer.call("other", Counter.Get()), GenServer.reply(state, state)).pipe(Effect.orDie)
      }
    })
    expectTypeOf(who).toEqualTypeOf<GenServer.Behaviour<typeof Who, unknown, string, ProcessRuntime.ProcessRuntime>>()
  })

  it("a reply handle's type comes from the protocol and the call's tag", () => {
    expectTypeOf<GenServer.FromOf<Counter, "Wait">>().toEqualTypeOf<GenServer.From<string, never>>()
    expectTypeOf<GenServer.FromOf<Counter, "Add">>().toEqualTypeOf<GenServer.From<number, Overflow>>()
  })
})

describe("mistakes in call handlers", () => {
  it("a wrong reply type, a wrong state type, an undeclared error and a cast among the calls do not compile", () => {
    GenServer.behaviour(Counter)({
      init: (start: number) => Effect.succeed(start),
      handleCall: {
        // @ts-expect-error Get replies a number
        Get: (_, n) => Effect.succeed(GenServer.reply("not a number", n)),
        // @ts-expect-error Add declares only Overflow
        Add: (_, s) => (s > 1 ? Effect.fail(new Other({ why: "x" })) : Effect.succeed(GenServer.reply(s, s))),
        // @ts-expect-error the state is a number
        Wait: (_, n) => Effect.succeed(GenServer.reply(String(n), "not a number")),
        // @ts-expect-error Reset is a cast
        Reset: (_, s) => Effect.succeed(GenServer.noReply(s))
      }
    })
  })
})
