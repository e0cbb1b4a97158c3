import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Exit, Fiber, Layer, Option, Schema } from "effect"
import { TestConsole } from "effect/testing"
import {
  ChildSpec,
  ExitReason,
  GenServer,
  Logging,
  Process,
  ProcessRuntime,
  Protocol,
  Registry,
  Supervisor,
  SupervisorEvents
} from "../../src/index.ts"
import { eventLog, is, within } from "../Supervisor/helpers.ts"

const node = "logs@127.0.0.1"

/** The environment variables the logging layer reads, fed through a ConfigProvider. */
const configured = (env: Record<string, string>) =>
  Logging.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))

/** A node's runtime over the logging layer, writing to a test console whose lines we read. */
const withLogs = <A, E>(
  env: Record<string, string>,
  effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>
): Effect.Effect<A, E | unknown> =>
  Effect.provide(
    effect,
    Layer.provideMerge(ProcessRuntime.layer({ node }), Layer.merge(configured(env), TestConsole.layer))
  )

interface JsonRecord {
  readonly timestamp: string
  readonly level: string
  readonly message: unknown
  readonly node?: string
  readonly pid?: string
  readonly name?: string
  readonly traceId?: string
  readonly spanId?: string
  readonly annotations: Record<string, unknown>
  readonly cause?: string
}

/** Every line written so far, parsed: each must be one JSON object. */
const jsonRecords: Effect.Effect<Array<JsonRecord>> = Effect.map(TestConsole.logLines, (lines) =>
  lines.map((line) => {
    assert.strictEqual(typeof line, "string")
    assert.notInclude(line as string, "\n", "a JSON record is one line")
    return JSON.parse(line as string) as JsonRecord
  })
)

const Bomb = Protocol.make({
  Ping: Protocol.call({ success: Schema.String }),
  Boom: Protocol.call({ success: Schema.Void })
})

const bomb = GenServer.behaviour(Bomb)({
  name: "Bomb",
  init: () => Effect.succeed(0),
  handleCall: {
    Ping: (_, state) => Effect.succeed(GenServer.reply("pong", state)),
    Boom: () =>
      Effect.sync((): GenServer.Reply<void, number> => {
        throw new Error("kaboom")
      })
  }
})

const bombName = GenServer.name("bomb", Bomb)

describe("JSON records", () => {
  it.live("a log inside a process inside a span carries node, pid, registered name, traceId and spanId", () =>
    withLogs(
      { LOG_FORMAT: "json" },
      Effect.gen(function* () {
        const seen = yield* Deferred.make<{ readonly traceId: string; readonly spanId: string }>()
        const request = yield* Effect.orDie(Effect.currentSpan).pipe(Effect.withSpan("request"))
        const pid = yield* Process.spawn(
          () =>
            Effect.gen(function* () {
              const span = yield* Effect.orDie(Effect.currentSpan)
              yield* Effect.log("inside").pipe(Effect.annotateLogs("shard", 3))
              yield* Deferred.succeed(seen, { traceId: span.traceId, spanId: span.spanId })
            }).pipe(Effect.withSpan("work")),
          { name: "worker" }
        ).pipe(Effect.withSpan("request"))
        const span = yield* within()(Deferred.await(seen))
        yield* Process.awaitExit(pid)
        const records = (yield* jsonRecords).filter((record) => record.message === "inside")
        assert.strictEqual(records.length, 1)
        const record = records[0]!
        assert.strictEqual(record.level, "INFO")
        assert.match(record.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        assert.strictEqual(record.node, node)
        assert.strictEqual(record.pid, String(pid))
        assert.strictEqual(record.name, "worker")
        assert.strictEqual(record.traceId, span.traceId)
        assert.strictEqual(record.spanId, span.spanId)
        assert.notStrictEqual(record.spanId, request.spanId, "the span of the log, not of the spawner")
        assert.deepStrictEqual(record.annotations, { shard: 3 })
        assert.isUndefined(record.cause)
      })
    )
  )

  it.live("a log outside any process has no pid, name or span; outside any node, no node either", () =>
    Effect.gen(function* () {
      const onNode = yield* withLogs(
        { LOG_FORMAT: "json" },
        Effect.andThen(Effect.log("on the node, outside processes"), jsonRecords)
      )
      assert.strictEqual(onNode.length, 1)
      assert.strictEqual(onNode[0]!.node, node)
      for (const key of ["pid", "name", "traceId", "spanId", "cause"]) assert.notProperty(onNode[0], key)

      const nowhere = yield* Effect.andThen(
        Effect.logWarning("no node at all", new Error("bad input")),
        jsonRecords
      ).pipe(Effect.provide(Layer.merge(configured({ LOG_FORMAT: "json" }), TestConsole.layer)))
      assert.strictEqual(nowhere.length, 1)
      assert.strictEqual(nowhere[0]!.level, "WARN")
      for (const key of ["node", "pid", "name", "traceId", "spanId"]) assert.notProperty(nowhere[0], key)
      assert.deepStrictEqual(nowhere[0]!.message, ["no node at all", { name: "Error", message: "bad input" }])
    })
  )
})

describe("crash reports", () => {
  it.live(
    "a GenServer whose handler throws gives one error record with its pid, name, behaviour, last message and cause",
    () =>
      withLogs(
        { LOG_FORMAT: "json", LOG_LEVEL: "debug" },
        Effect.gen(function* () {
          const pid = yield* GenServer.start(bomb, undefined, { name: bombName })
          assert.strictEqual(yield* GenServer.call(pid, Bomb.Ping()), "pong")
          const exited = yield* Effect.forkChild(Process.awaitExit(pid), { startImmediately: true })
          assert.isTrue(Exit.isFailure(yield* Effect.exit(GenServer.call(pid, Bomb.Boom()))))
          assert.strictEqual((yield* Fiber.join(exited))._tag, "Failure")
          const errors = (yield* jsonRecords).filter((record) => record.level === "ERROR")
          assert.strictEqual(errors.length, 1, JSON.stringify(errors))
          const report = errors[0]!
          assert.strictEqual(report.message, `process ${pid} ("bomb") crashed`)
          assert.strictEqual(report.node, node)
          assert.strictEqual(report.pid, String(pid))
          assert.strictEqual(report.name, "bomb")
          assert.deepStrictEqual(report.annotations, {
            "otp.report": "crash",
            "otp.behaviour": "Bomb",
            "otp.lastMessage": "Boom"
          })
          assert.include(report.cause, "Error: kaboom")
        })
      )
  )

  it.live("a plain process that fails is reported; one that exits normally or is killed by a signal is not", () =>
    withLogs(
      { LOG_FORMAT: "json" },
      Effect.gen(function* () {
        const fine = yield* Process.spawn(() => Effect.void)
        const stuck = yield* Process.spawn((self) => self.receive)
        const failing = yield* Process.spawn(() => Effect.fail("no luck"))
        yield* Process.exit(stuck, ExitReason.killed)
        yield* Process.exit(stuck, ExitReason.custom("told to stop"))
        for (const pid of [fine, stuck, failing]) yield* Process.awaitExit(pid)
        const errors = (yield* jsonRecords).filter((record) => record.level === "ERROR")
        assert.strictEqual(errors.length, 1, JSON.stringify(errors))
        assert.strictEqual(errors[0]!.pid, String(failing))
        assert.notProperty(errors[0], "name")
        assert.deepStrictEqual(errors[0]!.annotations, { "otp.report": "crash", "otp.behaviour": "process" })
        assert.include(errors[0]!.cause, "no luck")
      })
    )
  )

  it.live("a process ended by a linked process's crash is not reported again: one crash, one record", () =>
    withLogs(
      { LOG_FORMAT: "json" },
      Effect.gen(function* () {
        const crashed = yield* Deferred.make<Process.ProcessContext<unknown>["pid"]>()
        const parent = yield* Process.spawn((self) =>
          Effect.gen(function* () {
            const child = yield* Process.spawnLink((childSelf) =>
              Effect.andThen(childSelf.receive, Effect.die(new Error("linked crash")))
            )
            yield* Deferred.succeed(crashed, child)
            yield* self.receive
          })
        )
        const child = yield* within()(Deferred.await(crashed))
        const parentExit = yield* Effect.forkChild(Process.awaitExit(parent), { startImmediately: true })
        yield* Process.send(child, "go")
        assert.strictEqual((yield* Fiber.join(parentExit))._tag, "Failure")
        const errors = (yield* jsonRecords).filter((record) => record.level === "ERROR")
        assert.strictEqual(errors.length, 1, JSON.stringify(errors))
        assert.strictEqual(errors[0]!.pid, String(child))
      })
    )
  )

  it.live(
    "a supervised GenServer's crash gives one record at warning level or above; the supervisor's are structured",
    () =>
      withLogs(
        { LOG_FORMAT: "json", LOG_LEVEL: "debug" },
        Effect.scoped(
          Effect.gen(function* () {
            const events = yield* eventLog
            const sup = yield* Supervisor.start({
              children: [ChildSpec.genServer("bomb", bomb, undefined, { name: bombName })]
            })
            const first = Option.getOrThrow(yield* Registry.whereis("bomb"))
            yield* Effect.exit(GenServer.call(bombName, Bomb.Boom()))
            const restarted = yield* events.next(is.restarted("bomb"))
            assert.strictEqual(yield* GenServer.call(restarted.pid, Bomb.Ping()), "pong")
            yield* Supervisor.stop(sup)
            const records = yield* jsonRecords
            const loud = records.filter((record) => record.level === "WARN" || record.level === "ERROR")
            assert.strictEqual(loud.length, 1, JSON.stringify(loud))
            assert.strictEqual(loud[0]!.annotations["otp.report"], "crash")
            assert.strictEqual(loud[0]!.pid, String(first))
            const supervisor = records.filter((record) => record.annotations["otp.report"] === "supervisor")
            const exited = supervisor.find((record) => record.annotations["otp.event"] === "child_exited")
            assert.isDefined(exited)
            assert.strictEqual(exited!.level, "DEBUG")
            assert.strictEqual(exited!.pid, String(sup), "logged by the supervisor process")
            assert.strictEqual(exited!.annotations["otp.supervisor"], String(sup))
            assert.strictEqual(exited!.annotations["otp.child"], "bomb")
            assert.strictEqual(exited!.annotations["otp.childPid"], String(first))
            assert.strictEqual(exited!.annotations["otp.reason"], "Error: kaboom")
            const restart = supervisor.find((record) => record.annotations["otp.event"] === "child_restarted")
            assert.isDefined(restart)
            assert.strictEqual(restart!.annotations["otp.childPid"], String(restarted.pid))
          })
        ).pipe(Effect.provide(SupervisorEvents.layer()))
      )
  )
})

describe("supervisor records", () => {
  it.live("a child killed by an exit signal has no crash report; its supervisor records the exit as a warning", () =>
    withLogs(
      { LOG_FORMAT: "json" },
      Effect.scoped(
        Effect.gen(function* () {
          const events = yield* eventLog
          const sup = yield* Supervisor.start({
            children: [ChildSpec.genServer("bomb", bomb, undefined, { name: bombName })]
          })
          const first = Option.getOrThrow(yield* Registry.whereis("bomb"))
          yield* Process.exit(first, ExitReason.killed)
          yield* events.next(is.restarted("bomb"))
          yield* Supervisor.stop(sup)
          const loud = (yield* jsonRecords).filter((record) => record.level === "WARN" || record.level === "ERROR")
          assert.strictEqual(loud.length, 1, JSON.stringify(loud))
          assert.strictEqual(loud[0]!.level, "WARN")
          assert.strictEqual(loud[0]!.message, `child "bomb" exited: killed`)
          assert.deepStrictEqual(loud[0]!.annotations, {
            "otp.supervisor": String(sup),
            "otp.report": "supervisor",
            "otp.event": "child_exited",
            "otp.child": "bomb",
            "otp.childPid": String(first),
            "otp.reason": "killed"
          })
        })
      ).pipe(Effect.provide(SupervisorEvents.layer()))
    )
  )
})

/** Terminal colour codes, which the pretty format adds when standard output is a terminal. */
const plain = (line: string): string => line.replace(/\x1b\[[0-9;]*m/g, "")

describe("readable records", () => {
  it.live("LOG_FORMAT=pretty writes one line per record with the level, the process and the message", () =>
    withLogs(
      { LOG_FORMAT: "pretty" },
      Effect.gen(function* () {
        const pid = yield* Process.spawn(
          () => Effect.logWarning("cache is cold").pipe(Effect.annotateLogs({ shard: "3", owner: "team a" })),
          { name: "cache" }
        )
        yield* Process.awaitExit(pid)
        yield* Effect.log("outside")
        const lines = (yield* TestConsole.logLines).map((line) => plain(String(line)))
        assert.strictEqual(lines.length, 2)
        for (const line of lines) assert.notInclude(line, "\n")
        assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN  /)
        assert.include(lines[0]!, `WARN  ${node} ${pid} cache: cache is cold shard=3 owner="team a"`)
        assert.include(lines[1]!, `INFO  ${node}: outside`)
      })
    )
  )
})

describe("configuration", () => {
  it.live("LOG_LEVEL sets the minimum level, in any case", () =>
    Effect.gen(function* () {
      const levels = (env: Record<string, string>) =>
        withLogs(
          { LOG_FORMAT: "json", ...env },
          Effect.gen(function* () {
            yield* Effect.logTrace("trace")
            yield* Effect.logDebug("debug")
            yield* Effect.logInfo("info")
            yield* Effect.logWarning("warn")
            yield* Effect.logError("error")
            return (yield* jsonRecords).map((record) => record.message)
          })
        )
      assert.deepStrictEqual(yield* levels({ LOG_LEVEL: "warn" }), ["warn", "error"])
      assert.deepStrictEqual(yield* levels({ LOG_LEVEL: "DEBUG" }), ["debug", "info", "warn", "error"])
      assert.deepStrictEqual(yield* levels({}), ["info", "warn", "error"])
    })
  )

  it.live("an invalid LOG_FORMAT or LOG_LEVEL fails the layer with a ConfigError naming the variable", () =>
    Effect.gen(function* () {
      const build = (env: Record<string, string>) => Effect.exit(Effect.scoped(Layer.build(configured(env))))
      const format = yield* build({ LOG_FORMAT: "xml" })
      assert.isTrue(Exit.isFailure(format))
      assert.include(String(Exit.isFailure(format) && format.cause), 'LOG_FORMAT: "xml" is not one of json, pretty')
      const level = yield* build({ LOG_LEVEL: "loud" })
      assert.isTrue(Exit.isFailure(level))
      assert.include(String(Exit.isFailure(level) && level.cause), 'LOG_LEVEL: "loud" is not one of')
    })
  )

  it.live("without LOG_FORMAT: pretty under NODE_ENV=development or on a terminal, JSON otherwise", () =>
    Effect.gen(function* () {
      const format = (env: Record<string, string>) =>
        Effect.gen(function* () {
          return yield* Logging.logFormat
        }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))
      assert.strictEqual(yield* format({ NODE_ENV: "development" }), "pretty")
      assert.strictEqual(yield* format({ NODE_ENV: "development", LOG_FORMAT: "JSON" }), "json")
      assert.strictEqual(yield* format({ NODE_ENV: "production" }), process.stdout.isTTY === true ? "pretty" : "json")
    })
  )
})
