import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option, Schema, Tracer } from "effect"
import {
  CurrentProcess,
  ExitReason,
  GenServer,
  Pid,
  Process,
  ProcessErrors,
  type ProcessRuntime,
  Protocol,
  RemoteName,
  Signal
} from "../../src/index.ts"
import { runtimeOf } from "../../src/Process/internal/context.ts"
import { ProcessRuntime as ProcessRuntimeService } from "../../src/Process/ProcessRuntime.ts"
import { inProcess, receiveOrFail, runtimeLayer } from "../support/process.ts"

const run = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) => Effect.provide(effect, runtimeLayer)

class Overflow extends Schema.TaggedError<Overflow>()("Overflow", { limit: Schema.Number }) {}

const Counter = Protocol.make({
  Get: Protocol.call({ success: Schema.Number }),
  Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number, error: Overflow }),
  /** Replies only after `Release`: exercises noReply + replyTo. */
  Wait: Protocol.call({ success: Schema.String }),
  Release: Protocol.cast({ payload: { text: Schema.String } }),
  /** Never replies and never keeps the caller. */
  Ignore: Protocol.call({ success: Schema.Void }),
  Crash: Protocol.call({ success: Schema.Void }),
  /** Keeps the server busy forever inside the handler. */
  Hang: Protocol.call({ success: Schema.Void }),
  StopNow: Protocol.call({ success: Schema.String }),
  Reset: Protocol.cast(),
  Bump: Protocol.cast({ payload: { by: Schema.Number } })
})

interface CounterState {
  readonly value: number
  readonly waiting: ReadonlyArray<GenServer.FromOf<typeof Counter, "Wait">>
  readonly infos: ReadonlyArray<unknown>
}

const LIMIT = 100

const counter = (events?: Deferred.Deferred<ExitReason.ExitReason>) =>
  GenServer.behaviour(Counter)({
    init: (start: number) => Effect.succeed<CounterState>({ value: start, waiting: [], infos: [] }),
    handleCall: {
      Get: (_, state) => Effect.succeed(GenServer.reply(state.value, state)),
      Add: ({ n }, state) =>
        state.value + n > LIMIT
          ? Effect.fail(new Overflow({ limit: LIMIT }))
          : Effect.succeed(GenServer.reply(state.value + n, { ...state, value: state.value + n })),
      Wait: (_, state, from) => Effect.succeed(GenServer.noReply({ ...state, waiting: [...state.waiting, from] })),
      Ignore: (_, state) => Effect.succeed(GenServer.noReply(state)),
      Crash: () => Effect.die("handler crashed"),
      Hang: () => Effect.never,
      StopNow: (_, state) => Effect.succeed(GenServer.stopWith(ExitReason.shutdown("asked"), state, { value: "bye" }))
    },
    handleCast: {
      Reset: (_, state) => Effect.succeed(GenServer.noReply({ ...state, value: 0 })),
      Bump: ({ by }, state) => Effect.succeed(GenServer.noReply({ ...state, value: state.value + by })),
      Release: ({ text }, state) =>
        Effect.as(
          Effect.forEach(state.waiting, (from) => GenServer.replyTo(from, text), { discard: true }),
          GenServer.noReply({ ...state, waiting: [] })
        )
    },
    handleInfo: (message, state) => Effect.succeed(GenServer.noReply({ ...state, infos: [...state.infos, message] })),
    terminate: (reason) => (events === undefined ? Effect.void : Effect.asVoid(Deferred.succeed(events, reason)))
  })

/** A server whose init never finishes: only its start timeout ends it. */
const Slow = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
const slow = GenServer.behaviour(Slow)({
  init: () => Effect.never,
  handleCall: { Get: (_, state: number) => Effect.succeed(GenServer.reply(state, state)) }
})

/** A server whose terminate never finishes: only a kill ends it. */
const Stubborn = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
const stubborn = GenServer.behaviour(Stubborn)({
  init: () => Effect.succeed(0),
  handleCall: { Get: (_, state: number) => Effect.succeed(GenServer.reply(state, state)) },
  terminate: () => Effect.never
})

describe("GenServer calls and casts", () => {
  it.effect("call and cast are typed by the protocol and handled in order", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 10)
        const added: number = yield* GenServer.call(pid, Counter.Add({ n: 5 }))
        assert.strictEqual(added, 15)
        yield* GenServer.cast(pid, Counter.Bump({ by: 2 }))
        yield* GenServer.cast(pid, Counter.Reset())
        yield* GenServer.cast(pid, Counter.Bump({ by: 7 }))
        assert.strictEqual(yield* GenServer.call(pid, Counter.Get()), 7)
      })
    )
  )

  it.effect("a handler's declared error reaches the caller and the server keeps its state", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 90)
        const error = yield* Effect.flip(GenServer.call(pid, Counter.Add({ n: 20 })))
        assert.instanceOf(error, Overflow)
        assert.strictEqual((error as Overflow).limit, LIMIT)
        assert.strictEqual(yield* GenServer.call(pid, Counter.Get()), 90)
      })
    )
  )

  it.effect("a call by registered name reaches the server", () =>
    run(
      Effect.gen(function* () {
        yield* GenServer.start(counter(), 1, { name: "counter" })
        assert.strictEqual(yield* GenServer.call("counter", Counter.Get()), 1)
      })
    )
  )

  it.effect("a call to a dead pid fails with NoProcess", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 0)
        yield* GenServer.stop(pid)
        const error = yield* Effect.flip(GenServer.call(pid, Counter.Get()))
        assert.instanceOf(error, ProcessErrors.NoProcess)
        assert.instanceOf(yield* Effect.flip(GenServer.call("nobody", Counter.Get())), ProcessErrors.NoProcess)
      })
    )
  )

  it.effect("a call to a pid of a previous incarnation fails with NoProcess", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 0)
        const stale = Pid.make(pid.node, pid.id, pid.incarnation + 1)
        assert.instanceOf(yield* Effect.flip(GenServer.call(stale, Counter.Get())), ProcessErrors.NoProcess)
      })
    )
  )

  it.effect("a server crash during a call fails the call with ServerExited and the exit reason", () =>
    run(
      Effect.gen(function* () {
        const terminated = yield* Deferred.make<ExitReason.ExitReason>()
        const pid = yield* GenServer.start(counter(terminated), 0)
        const error = yield* Effect.flip(GenServer.call(pid, Counter.Crash()))
        assert.instanceOf(error, GenServer.ServerExited)
        const exited = error as GenServer.ServerExited
        assert.isTrue(Pid.equals(exited.server, pid))
        assert.include(ExitReason.format(exited.reason), "handler crashed")
        // terminate ran with the crash reason (OTP calls terminate after a callback crash).
        assert.include(ExitReason.format(yield* Deferred.await(terminated)), "handler crashed")
      })
    )
  )

  it.effect("calls still queued when the server dies fail with ServerExited, none hang", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 0)
        const call = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) =>
          Effect.forkChild(Effect.asVoid(effect), { startImmediately: true })
        // One call kept for later (noReply), one in the handler, three still in the mailbox.
        const kept = yield* call(GenServer.call(pid, Counter.Wait()))
        const inHandler = yield* call(GenServer.call(pid, Counter.Hang(), { timeout: 60_000 }))
        const queued = yield* Effect.forEach([1, 2, 3], () =>
          call(GenServer.call(pid, Counter.Get(), { timeout: 60_000 }))
        )
        assert.strictEqual(Option.getOrThrow(yield* Process.info(pid)).messageQueueLength, 3)
        yield* Process.exit(pid, ExitReason.custom("external"))
        for (const fiber of [kept, inHandler, ...queued]) {
          const exit = yield* Fiber.await(fiber)
          assert.isTrue(Exit.isFailure(exit))
          const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
          assert.strictEqual(error?._tag, "Fail")
          assert.instanceOf((error as { error: unknown }).error, GenServer.ServerExited)
        }
      })
    )
  )

  it.effect("a call times out with CallTimeout and its late reply is never delivered to the next call", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 0)
        const error = yield* Effect.flip(GenServer.call(pid, Counter.Wait(), { timeout: 30 }))
        assert.instanceOf(error, GenServer.CallTimeout)
        assert.include(error.message, "Wait")
        // The server now answers the timed-out Wait (late reply): it must be dropped.
        yield* GenServer.cast(pid, Counter.Release({ text: "late" }))
        assert.strictEqual(yield* GenServer.call(pid, Counter.Get()), 0)
        const next = yield* Effect.forkChild(GenServer.call(pid, Counter.Wait()), { startImmediately: true })
        yield* GenServer.cast(pid, Counter.Release({ text: "fresh" }))
        assert.strictEqual(yield* Fiber.join(next), "fresh")
      })
    )
  )

  it.effect("a handler can keep the caller and reply later with replyTo", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 0)
        const first = yield* Effect.forkChild(GenServer.call(pid, Counter.Wait()), { startImmediately: true })
        const second = yield* Effect.forkChild(GenServer.call(pid, Counter.Wait()), { startImmediately: true })
        assert.strictEqual(yield* GenServer.call(pid, Counter.Get()), 0, "the server keeps serving meanwhile")
        yield* GenServer.cast(pid, Counter.Release({ text: "go" }))
        assert.deepStrictEqual([yield* Fiber.join(first), yield* Fiber.join(second)], ["go", "go"])
      })
    )
  )

  it.effect("an interrupted caller does not disturb the server", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 0)
        const caller = yield* Effect.forkChild(GenServer.call(pid, Counter.Ignore()), { startImmediately: true })
        yield* Fiber.interrupt(caller)
        assert.strictEqual(yield* GenServer.call(pid, Counter.Get()), 0)
      })
    )
  )

  it.effect("non-protocol messages go to handleInfo", () =>
    run(
      inProcess(() =>
        Effect.gen(function* () {
          const Probe = Protocol.make({ Infos: Protocol.call({ success: Schema.Array(Schema.Unknown) }) })
          const server = GenServer.behaviour(Probe)({
            init: () => Effect.succeed<ReadonlyArray<unknown>>([]),
            handleCall: { Infos: (_, state) => Effect.succeed(GenServer.reply(state, state)) },
            handleInfo: (message, state) => Effect.succeed(GenServer.noReply([...state, message]))
          })
          const pid = yield* GenServer.start(server, undefined)
          yield* Process.send(pid, "plain")
          yield* Process.sendAfter(pid, { _tag: "Tick" }, 5)
          const deadline = Date.now() + 2000
          let infos: ReadonlyArray<unknown> = []
          while (infos.length < 2 && Date.now() < deadline) {
            infos = yield* GenServer.call(pid, Probe.Infos())
            if (infos.length < 2) yield* Effect.yieldNow
          }
          assert.deepStrictEqual(infos, ["plain", { _tag: "Tick" }])
        })
      )
    )
  )

  it.effect("a call that stops the server replies first, then terminate runs with the reason", () =>
    run(
      Effect.gen(function* () {
        const terminated = yield* Deferred.make<ExitReason.ExitReason>()
        const pid = yield* GenServer.start(counter(terminated), 0)
        const exit = yield* Effect.forkChild(Process.awaitExit(pid), { startImmediately: true })
        assert.strictEqual(yield* GenServer.call(pid, Counter.StopNow()), "bye")
        assert.strictEqual(ExitReason.format(yield* Deferred.await(terminated)), "shutdown(asked)")
        assert.strictEqual(ExitReason.format(yield* Fiber.join(exit)), "shutdown(asked)")
      })
    )
  )
})

describe("GenServer start and stop", () => {
  it.effect("init failure makes start fail with InitFailed carrying the reason", () =>
    run(
      Effect.gen(function* () {
        const Bad = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
        const bad = GenServer.behaviour(Bad)({
          init: () => Effect.fail("no config"),
          handleCall: { Get: (_, state: number) => Effect.succeed(GenServer.reply(state, state)) }
        })
        const error = yield* Effect.flip(GenServer.start(bad, undefined, { name: "bad" }))
        assert.instanceOf(error, GenServer.InitFailed)
        assert.include(ExitReason.format((error as GenServer.InitFailed).reason), "no config")
        assert.isFalse(yield* Process.isAlive((error as GenServer.InitFailed).server))
        // The name was released with the process.
        assert.isTrue(
          Option.isNone(
            yield* Effect.map(
              Process.info("bad"),
              Option.map((i) => i.pid)
            )
          )
        )
      })
    )
  )

  it.effect("a start whose init does not finish in time fails and kills the server", () =>
    run(
      Effect.gen(function* () {
        const error = yield* Effect.flip(GenServer.start(slow, undefined, { timeout: 30 }))
        assert.instanceOf(error, GenServer.InitFailed)
        assert.include(ExitReason.format((error as GenServer.InitFailed).reason), "init timeout")
        assert.isFalse(yield* Process.isAlive((error as GenServer.InitFailed).server))
      })
    )
  )

  it.effect("calls made before init finishes wait for it", () =>
    run(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const Gated = Protocol.make({ Get: Protocol.call({ success: Schema.String }) })
        const gated = GenServer.behaviour(Gated)({
          init: () => Effect.as(Deferred.await(gate), "ready"),
          handleCall: { Get: (_, state: string) => Effect.succeed(GenServer.reply(state, state)) }
        })
        const starting = yield* Effect.forkChild(GenServer.start(gated, undefined, { name: "gated" }), {
          startImmediately: true
        })
        const early = yield* Effect.forkChild(GenServer.call("gated", Gated.Get()), { startImmediately: true })
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(starting)
        assert.strictEqual(yield* Fiber.join(early), "ready")
      })
    )
  )

  it.effect("init can defer work to handleContinue before any message", () =>
    run(
      Effect.gen(function* () {
        const Lazy = Protocol.make({ Get: Protocol.call({ success: Schema.String }) })
        const lazy = GenServer.behaviour(Lazy)({
          init: () => Effect.succeed(new GenServer.InitContinue("empty", "load")),
          handleCall: { Get: (_, state: string) => Effect.succeed(GenServer.reply(state, state)) },
          handleContinue: (what, state) => Effect.succeed(GenServer.noReply(`${state} then ${String(what)}ed`))
        })
        const pid = yield* GenServer.start(lazy, undefined)
        assert.strictEqual(yield* GenServer.call(pid, Lazy.Get()), "empty then loaded")
      })
    )
  )

  it.effect("stop runs terminate with the reason", () =>
    run(
      Effect.gen(function* () {
        const terminated = yield* Deferred.make<ExitReason.ExitReason>()
        const pid = yield* GenServer.start(counter(terminated), 0)
        yield* GenServer.stop(pid, ExitReason.shutdown())
        assert.strictEqual((yield* Deferred.await(terminated))._tag, "Shutdown")
        assert.isFalse(yield* Process.isAlive(pid))
        assert.instanceOf(yield* Effect.flip(GenServer.stop(pid)), ProcessErrors.NoProcess)
      })
    )
  )

  it.effect("stop kills a server whose terminate outlives the timeout", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(stubborn, undefined)
        const exit = yield* Effect.forkChild(Process.awaitExit(pid), { startImmediately: true })
        const error = yield* Effect.flip(GenServer.stop(pid, ExitReason.normal, 30))
        assert.instanceOf(error, GenServer.CallTimeout)
        assert.strictEqual((yield* Fiber.join(exit))._tag, "Killed")
      })
    )
  )

  it.effect(
    "startLink links the server to the starting process; a trapping server terminates on its parent's exit",
    () =>
      run(
        Effect.gen(function* () {
          const terminated = yield* Deferred.make<ExitReason.ExitReason>()
          const serverPid = yield* Deferred.make<Pid.Pid>()
          const parent = yield* Process.spawn((self) =>
            Effect.gen(function* () {
              yield* Deferred.succeed(serverPid, yield* GenServer.startLink(counter(terminated), 0, { trapExit: true }))
              yield* self.receive
              return yield* Process.exitSelf(ExitReason.shutdown())
            })
          )
          const server = yield* Deferred.await(serverPid)
          assert.deepStrictEqual(Option.getOrThrow(yield* Process.info(server)).links.map(String), [String(parent)])
          yield* Process.send(parent, "go")
          assert.strictEqual((yield* Deferred.await(terminated))._tag, "Shutdown")
        })
      )
  )

  it.effect("a failed init under startLink does not take the starter down", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const Bad = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
          const bad = GenServer.behaviour(Bad)({
            init: () => Effect.die("broken"),
            handleCall: { Get: (_, state: number) => Effect.succeed(GenServer.reply(state, state)) }
          })
          yield* Process.trapExit(true)
          assert.instanceOf(yield* Effect.flip(GenServer.startLink(bad, undefined)), GenServer.InitFailed)
          const message = yield* self.receiveWithin(30)
          assert.isTrue(Option.isNone(message), "no Exit signal from the failed server")
        })
      )
    )
  )

  it.effect("a GenServer is monitorable like any process", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const pid = yield* GenServer.start(counter(), 0)
          const ref = yield* Process.monitor(pid)
          yield* Effect.flip(GenServer.call(pid, Counter.Crash()))
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.strictEqual(down.ref.id, ref.id)
          assert.strictEqual(down.reason._tag, "Failure")
        })
      )
    )
  )
})

describe("GenServer tracing", () => {
  it.effect("with a tracer installed, the handler span is a child of the call span", () =>
    run(
      Effect.gen(function* () {
        const spans: Array<{
          name: string
          kind: string
          parent: string | undefined
          id: string
          attributes: ReadonlyMap<string, unknown>
        }> = []
        const recording = Tracer.make({
          span: (options) => {
            const span = Tracer.nativeTracer.span(options)
            const record = {
              name: options.name,
              kind: options.kind,
              parent: Option.getOrUndefined(Option.map(options.parent, (p) => p.spanId)),
              id: span.spanId,
              attributes: span.attributes
            }
            spans.push(record)
            return span
          }
        })
        yield* Effect.gen(function* () {
          const pid = yield* GenServer.start(counter(), 3)
          // A local call outside any span starts no trace (Tracing.Roots "remote", the default).
          yield* GenServer.call(pid, Counter.Get())
          assert.strictEqual(spans.length, 0)
          yield* GenServer.call(pid, Counter.Get()).pipe(Effect.withSpan("request"))
        }).pipe(Effect.withTracer(recording))
        const root = spans.find((span) => span.name === "request")
        const callSpan = spans.find((span) => span.name === "Get" && span.kind === "client")
        const handleSpan = spans.find((span) => span.name === "Get" && span.kind === "server")
        assert.isDefined(callSpan)
        assert.isDefined(handleSpan)
        assert.strictEqual(callSpan!.parent, root!.id)
        assert.strictEqual(handleSpan!.parent, callSpan!.id)
        assert.strictEqual(handleSpan!.attributes.get("rpc.method"), "Get")
        assert.strictEqual(handleSpan!.attributes.get("rpc.system.name"), "effect_otp")
        assert.match(String(handleSpan!.attributes.get("effect_otp.pid")), /^<test@127\.0\.0\.1\.\d+\.\d+>$/)
      })
    )
  )
})

describe("GenServer misuse", () => {
  it.effect("a server that calls itself dies with a clear defect instead of waiting for its timeout", () =>
    run(
      Effect.gen(function* () {
        const Selfish = Protocol.make({ Loop: Protocol.call({ success: Schema.Number }) })
        const selfish = GenServer.behaviour(Selfish)({
          init: () => Effect.succeed(0),
          handleCall: {
            Loop: (_, state) =>
              Effect.map(
                Effect.flatMap(GenServer.self, (me) => GenServer.call(me, Selfish.Loop())),
                (n) => GenServer.reply(n, state)
              ).pipe(Effect.orDie)
          }
        })
        const pid = yield* GenServer.start(selfish, undefined)
        const error = yield* Effect.flip(GenServer.call(pid, Selfish.Loop(), { timeout: 60_000 }))
        assert.instanceOf(error, GenServer.ServerExited)
        assert.include(ExitReason.format((error as GenServer.ServerExited).reason), "called itself")
      })
    )
  )
})

describe("GenServer across nodes without a cluster", () => {
  it.effect("a call to a pid of another node fails with NodeDown", () =>
    run(
      Effect.gen(function* () {
        const error = yield* Effect.flip(GenServer.call(Pid.make("other@127.0.0.1", 1, 1), Counter.Get()))
        assert.instanceOf(error, ProcessErrors.NodeDown)
        assert.include(error.message, "other@127.0.0.1")
      })
    )
  )
})

describe("GenServer review regressions", () => {
  it.live("a call timeout beyond what setTimeout can wait means no timeout (not 1 ms)", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 0)
        const waiting = yield* Effect.forkChild(GenServer.call(pid, Counter.Wait(), { timeout: 2 ** 31 }), {
          startImmediately: true
        })
        // Absence of a timeout can only be observed over time: 30 ms is 30 times the mistaken 1 ms.
        yield* Effect.sleep("30 millis")
        assert.isUndefined(waiting.pollUnsafe())
        yield* GenServer.cast(pid, Counter.Release({ text: "late but fine" }))
        assert.strictEqual(yield* Fiber.join(waiting), "late but fine")
      })
    )
  )

  it.effect("calls answered later with replyTo are not kept by the server afterwards", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 0)
        for (let i = 0; i < 50; i++) {
          const waiting = yield* Effect.forkChild(GenServer.call(pid, Counter.Wait()), { startImmediately: true })
          yield* GenServer.cast(pid, Counter.Release({ text: "ok" }))
          yield* Fiber.join(waiting)
        }
        const runtime = runtimeOf(yield* ProcessRuntimeService)
        const server = runtime.lookup(pid)!.behaviour as unknown as { pending: Set<unknown> | undefined }
        assert.strictEqual(server.pending?.size ?? 0, 0)
      })
    )
  )
})

describe("GenServer targets", () => {
  it.effect("a cast to a name nobody holds fails with NoProcess, bare or as a RemoteName of this node", () =>
    run(
      Effect.gen(function* () {
        assert.instanceOf(yield* Effect.flip(GenServer.cast("nobody", Counter.Reset())), ProcessErrors.NoProcess)
        const local = RemoteName.make("nobody", "test@127.0.0.1")
        assert.instanceOf(yield* Effect.flip(GenServer.cast(local, Counter.Reset())), ProcessErrors.NoProcess)
        // A RemoteName of this node reaches the local server like its bare name.
        yield* GenServer.start(counter(), 4, { name: "here" })
        assert.strictEqual(yield* GenServer.call(RemoteName.make("here", "test@127.0.0.1"), Counter.Get()), 4)
      })
    )
  )
})

describe("GenServer typed references", () => {
  it.effect("the pid start returns is a plain Pid at run time, usable wherever a pid is", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 3)
        assert.isTrue(Pid.isPid(pid))
        assert.deepStrictEqual(Object.keys(pid).sort(), ["id", "incarnation", "node"])
        const plain: Pid.Pid = pid
        assert.isTrue(yield* Process.isAlive(plain))
        assert.strictEqual(yield* GenServer.call(pid, Counter.Get()), 3)
      })
    )
  )

  it.effect("a name typed with GenServer.name is the plain string: start registers it, call and cast reach it", () =>
    run(
      Effect.gen(function* () {
        const name = GenServer.name("typed-counter", Counter)
        assert.strictEqual(name, "typed-counter")
        const pid = yield* GenServer.start(counter(), 1, { name })
        yield* GenServer.cast(name, Counter.Bump({ by: 2 }))
        assert.strictEqual(yield* GenServer.call(name, Counter.Get()), 3)
        assert.isTrue(Pid.equals(Option.getOrThrow(yield* Process.info("typed-counter")).pid, pid))
        const remote = RemoteName.make(name, "test@127.0.0.1")
        assert.strictEqual(yield* GenServer.call(remote, Counter.Get()), 3)
      })
    )
  )
})

describe("GenServer durations", () => {
  it.effect("a call timeout given as a Duration fails the call with CallTimeout after that time", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(counter(), 0)
        const error = yield* Effect.flip(GenServer.call(pid, Counter.Wait(), { timeout: "30 millis" }))
        assert.instanceOf(error, GenServer.CallTimeout)
        assert.strictEqual((error as GenServer.CallTimeout).timeoutMs, 30)
      })
    )
  )

  it.effect("a start timeout given as a Duration fails start with InitFailed and kills the server", () =>
    run(
      Effect.gen(function* () {
        const error = yield* Effect.flip(GenServer.start(slow, undefined, { timeout: Duration.millis(30) }))
        assert.instanceOf(error, GenServer.InitFailed)
        assert.include(ExitReason.format((error as GenServer.InitFailed).reason), "init timeout")
        assert.isFalse(yield* Process.isAlive((error as GenServer.InitFailed).server))
      })
    )
  )

  it.effect("a stop timeout given as a Duration kills a server whose terminate outlives it", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* GenServer.start(stubborn, undefined)
        const exit = yield* Effect.forkChild(Process.awaitExit(pid), { startImmediately: true })
        const error = yield* Effect.flip(GenServer.stop(pid, ExitReason.normal, "30 millis"))
        assert.instanceOf(error, GenServer.CallTimeout)
        assert.strictEqual((error as GenServer.CallTimeout).timeoutMs, 30)
        assert.strictEqual((yield* Fiber.join(exit))._tag, "Killed")
      })
    )
  )
})

describe("GenServer inside its process", () => {
  it.effect("callbacks and the fibers they fork run with CurrentProcess: self is the server's pid", () =>
    run(
      Effect.gen(function* () {
        const Who = Protocol.make({
          Whoami: Protocol.call({ success: Schema.String }),
          Forked: Protocol.call({ success: Schema.String })
        })
        const initSelf = yield* Deferred.make<Pid.Pid>()
        const who = GenServer.behaviour(Who)({
          init: () => Effect.flatMap(GenServer.self, (pid) => Deferred.succeed(initSelf, pid)),
          handleCall: {
            Whoami: (_, state) => Effect.map(GenServer.self, (pid) => GenServer.reply(String(pid), state)),
            Forked: (_, state) =>
              Effect.map(Effect.flatMap(Effect.forkChild(CurrentProcess.pid), Fiber.join), (pid) =>
                GenServer.reply(String(pid), state)
              )
          }
        })
        const pid = yield* GenServer.start(who, undefined)
        assert.isTrue(Pid.equals(yield* Deferred.await(initSelf), pid))
        assert.strictEqual(yield* GenServer.call(pid, Who.Whoami()), String(pid))
        assert.strictEqual(yield* GenServer.call(pid, Who.Forked()), String(pid))
      })
    )
  )

  it.effect("a plain process body has CurrentProcess with its own pid", () =>
    run(
      Effect.gen(function* () {
        const seen = yield* Deferred.make<Pid.Pid>()
        const pid = yield* Process.spawn(() =>
          Effect.flatMap(CurrentProcess.CurrentProcess, (me) => Deferred.succeed(seen, me.pid))
        )
        assert.isTrue(Pid.equals(yield* Deferred.await(seen), pid))
      })
    )
  )
})

describe("GenServer errors", () => {
  it.effect("NameTaken says once which name could not be registered and why", () =>
    run(
      Effect.gen(function* () {
        const first = yield* GenServer.start(counter(), 0, { name: "worker" })
        const error = yield* Effect.flip(GenServer.start(counter(), 0, { name: "worker" }))
        assert.instanceOf(error, ProcessErrors.NameTaken)
        assert.strictEqual(error.message, `name "worker" cannot be registered: already registered to ${first}`)
      })
    )
  )
})
