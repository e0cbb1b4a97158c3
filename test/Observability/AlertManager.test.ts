/**
 * The AlertManager: the pure engine with controlled samples and explicit times, then the layer on
 * a real process runtime whose sampler `TestClock.adjust` drives (no sleeps): baseline, spike,
 * minSamples, cooldown, hysteresis, a process exiting while alerting (nothing leaks), restarts of
 * a supervisor, configuration at run time, metrics and log lines.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Queue, Schema, type Scope, Stream } from "effect"
import { TestClock, TestConsole } from "effect/testing"
import {
  AlertManager,
  ChildSpec,
  ExitReason,
  GenServer,
  Logging,
  Metrics,
  Pid,
  Process,
  ProcessRuntime,
  Protocol,
  Supervisor,
  SupervisorEvents
} from "../../src/index.ts"
import {
  AlertEngine,
  engineOf,
  internalsOf,
  type Settings,
  type Subject
} from "../../src/Observability/internal/alertEngine.ts"
import { Baseline } from "../../src/Observability/internal/alertBaseline.ts"
import { sample as metricSample } from "../support/observedNode.ts"
import { eventLog, is, within } from "../Supervisor/helpers.ts"

// --- the engine --------------------------------------------------------------------------------

const engineSettings: Settings = {
  enabled: true,
  sensitivityMultiplier: 3,
  resolveMultiplier: undefined,
  resolveSamples: 3,
  minSamples: 10,
  cooldownMs: 1000,
  baselineWindow: 100,
  kinds: ["mailbox_size", "handler_latency", "restart_rate", "event_loop_delay"],
  minStddev: { mailbox_size: 1, handler_latency: 1, restart_rate: 1, event_loop_delay: 1 }
}

const subject = (id: number): Subject => {
  const pid = Pid.make("engine", id, 1)
  return { key: String(pid), node: "engine", pid }
}

/** Feeds `values` at times 0, 1, 2, ... ms from `start`; returns the transitions. */
const feed = (engine: AlertEngine, who: Subject, values: ReadonlyArray<number>, start = 0) =>
  values.flatMap((value, i) => {
    const transition = engine.record("mailbox_size", who, value, start + i, 1_000_000 + start + i)
    return transition === undefined ? [] : [transition]
  })

/** Ten samples alternating 10 and 12: mean 11, stddev 1 (so sigma 1, trigger above 14, resolve below 12.5). */
const steady = [10, 12, 10, 12, 10, 12, 10, 12, 10, 12]

describe("AlertEngine", () => {
  it("the baseline is Welford's mean and variance over the first window, then exponentially weighted", () => {
    const values = [3, 7, 1, 9, 4, 4, 8, 2]
    const baseline = new Baseline()
    for (const value of values) baseline.add(value, 100)
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length
    assert.closeTo(baseline.mean, mean, 1e-12)
    assert.closeTo(baseline.variance, variance, 1e-12)
    // Past the window, each sample weighs 2 / (window + 1): the mean moves by that share.
    const windowed = new Baseline()
    for (let i = 0; i < 9; i++) windowed.add(0, 9)
    windowed.add(100, 9)
    assert.closeTo(windowed.mean, 100 * (2 / 10), 1e-12)
  })

  it("below minSamples nothing triggers, however large the value", () => {
    const engine = new AlertEngine(engineSettings)
    const who = subject(1)
    assert.deepStrictEqual(feed(engine, who, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1e9]), [])
    assert.deepStrictEqual(engine.activeAlerts(), [])
    // That sample fed the baseline: the tenth.
    assert.strictEqual(engine.baseline(who.key, "mailbox_size")?.count, 10)
  })

  it("a spike above mean + k * stddev after minSamples triggers, with the baseline it was judged against", () => {
    const engine = new AlertEngine(engineSettings)
    const who = subject(1)
    assert.deepStrictEqual(feed(engine, who, [...steady, 14]), [], "14 is not above 11 + 3 * 1")
    const [alert, ...rest] = feed(engine, who, [30], 100)
    assert.deepStrictEqual(rest, [])
    assert.strictEqual(alert?._tag, "Triggered")
    assert.strictEqual(alert?.kind, "mailbox_size")
    assert.strictEqual(alert?.subject, who)
    assert.strictEqual(alert?.value, 30)
    // The baseline of the eleven samples before it (14 fed it, 30 did not).
    const fed = [...steady, 14]
    const mean = fed.reduce((a, b) => a + b, 0) / fed.length
    const stddev = Math.sqrt(fed.reduce((a, b) => a + (b - mean) ** 2, 0) / fed.length)
    assert.closeTo(alert!.mean, mean, 1e-9)
    assert.closeTo(alert!.stddev, stddev, 1e-9)
    assert.closeTo(alert!.threshold, mean + 3 * stddev, 1e-9)
    assert.strictEqual(alert?.at, 1_000_100)
    assert.strictEqual(engine.activeAlerts().length, 1)
    assert.strictEqual(engine.activeCount("mailbox_size"), 1)
    assert.strictEqual(engine.activeCount("handler_latency"), 0)
    // The anomaly did not feed the baseline, nor do samples while the alert is active.
    const count = engine.baseline(who.key, "mailbox_size")!.count
    feed(engine, who, [50, 60, 70], 200)
    assert.strictEqual(engine.baseline(who.key, "mailbox_size")!.count, count)
  })

  it("hysteresis: values around the trigger threshold give one alert; it resolves after resolveSamples in a row below the lower threshold", () => {
    const engine = new AlertEngine(engineSettings)
    const who = subject(1)
    feed(engine, who, steady)
    // Around the trigger threshold (14), never below the resolve threshold (11 + 1.5 = 12.5).
    const flapping = feed(engine, who, [20, 13, 15, 13, 16, 12.6, 14, 13, 15, 13], 100)
    assert.deepStrictEqual(
      flapping.map((t) => t._tag),
      ["Triggered"]
    )
    // Below 12.5 twice, then above: the count starts again.
    assert.deepStrictEqual(feed(engine, who, [11, 11, 13, 11, 11], 200), [])
    const [resolved] = feed(engine, who, [10], 300)
    assert.strictEqual(resolved?._tag, "Resolved")
    if (resolved?._tag !== "Resolved") return
    assert.strictEqual(resolved.reason, "recovered")
    assert.strictEqual(resolved.value, 10)
    assert.closeTo(resolved.threshold, 12.5, 1e-9)
    assert.strictEqual(resolved.since, 1_000_100)
    assert.deepStrictEqual(engine.activeAlerts(), [])
  })

  it("cooldown: no second trigger within cooldownMs of the last one, a trigger again once it passed", () => {
    const engine = new AlertEngine(engineSettings)
    const who = subject(1)
    feed(engine, who, steady)
    assert.strictEqual(feed(engine, who, [30], 100).length, 1)
    assert.strictEqual(feed(engine, who, [10, 10, 10], 200).length, 1, "resolved")
    // 300 ms after the first trigger: within the 1000 ms cooldown.
    assert.deepStrictEqual(feed(engine, who, [30, 30, 30], 400), [])
    assert.deepStrictEqual(engine.activeAlerts(), [])
    const again = feed(engine, who, [30], 1100)
    assert.deepStrictEqual(
      again.map((t) => t._tag),
      ["Triggered"]
    )
    // Another subject, or another kind of the same one, has its own cooldown.
    const other = subject(2)
    feed(engine, other, steady, 1100)
    assert.strictEqual(feed(engine, other, [30], 1200).length, 1)
  })

  it("forgetting a subject resolves its alerts (exited) and frees its state", () => {
    const engine = new AlertEngine(engineSettings)
    const who = subject(1)
    feed(engine, who, [...steady, 30])
    engine.record("handler_latency", who, 5, 0, 0)
    assert.strictEqual(engine.subjectCount, 1)
    const resolved = engine.forget(who.key, 42)
    assert.deepStrictEqual(
      resolved.map((r) => [r.kind, r.reason, r.value, r.at]),
      [["mailbox_size", "exited", 30, 42]]
    )
    assert.strictEqual(engine.subjectCount, 0)
    assert.deepStrictEqual(engine.activeAlerts(), [])
    assert.deepStrictEqual(engine.forget(who.key, 43), [])
  })

  it("disabling resolves active alerts (disabled) and drops baselines; a disabled kind takes no samples", () => {
    const engine = new AlertEngine(engineSettings)
    const who = subject(1)
    feed(engine, who, [...steady, 30])
    engine.record("handler_latency", who, 5, 0, 0)
    const resolved = engine.configure({ ...engineSettings, kinds: ["handler_latency"] }, 7)
    assert.deepStrictEqual(
      resolved.map((r) => [r.kind, r.reason]),
      [["mailbox_size", "disabled"]]
    )
    assert.isUndefined(engine.baseline(who.key, "mailbox_size"))
    assert.strictEqual(engine.baseline(who.key, "handler_latency")?.count, 1)
    assert.isUndefined(engine.record("mailbox_size", who, 1000, 1, 1))
    assert.isUndefined(engine.baseline(who.key, "mailbox_size"))
    engine.configure({ ...engineSettings, enabled: false }, 8)
    assert.strictEqual(engine.subjectCount, 0)
  })
})

// --- the layer on a process runtime ------------------------------------------------------------

const node = "alerts@127.0.0.1"
const interval = "1 second"

/** Options of the layer in these tests: 1 s sweeps, 5 samples to learn, mailbox sigma at least 2. */
const testOptions: AlertManager.AlertOptions = {
  sampleInterval: interval,
  minSamples: 5,
  resolveSamples: 2,
  cooldownMs: 10_000,
  kinds: ["mailbox_size", "handler_latency", "restart_rate"],
  minStddev: { mailbox_size: 2, handler_latency: 2, restart_rate: 10 }
}

/**
 * The AlertManager over a runtime, supervisor events, its own metric registry and JSON logs to a
 * test console. Built inside the test, so the sampler sleeps on the test's TestClock.
 */
const alertsLayer = (options?: AlertManager.AlertOptions) =>
  AlertManager.layer({ ...testOptions, ...options }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        ProcessRuntime.layer({ node, busySampleEvery: 1 }),
        SupervisorEvents.layer(),
        Metrics.layerRegistry,
        Logging.layerJson,
        TestConsole.layer
      )
    )
  )

type Services =
  AlertManager.AlertManager | ProcessRuntime.ProcessRuntime | SupervisorEvents.SupervisorEvents | Scope.Scope

const run = <A, E>(effect: Effect.Effect<A, E, Services>, options?: AlertManager.AlertOptions) =>
  Effect.scoped(Effect.provide(effect, alertsLayer(options)))

/** `n` sweeps of the sampler, by moving the test clock one interval at a time. */
const sweeps = (n: number) => Effect.repeat(TestClock.adjust(interval), { times: n - 1 })

/**
 * Every alert event published from now on, in order. Events of a sweep are all in `seen` when
 * `TestClock.adjust` returns (it waits for the fibers it woke); `waitFor(n)` waits (with a real-time
 * timeout) for events published by `record` or `configure`, whose subscriber runs afterwards.
 */
const recordEvents = Effect.gen(function* () {
  const seen: Array<AlertManager.AlertEvent> = []
  const arrived = yield* Queue.unbounded<void>()
  const events = yield* AlertManager.subscribe
  yield* Effect.forkScoped(
    Stream.runForEach(events, (event) =>
      Effect.andThen(
        Effect.sync(() => seen.push(event)),
        Queue.offer(arrived, undefined)
      )
    )
  )
  const waitFor = (n: number) =>
    within(
      2000,
      `${n} alert events`
    )(Effect.whileLoop({ while: () => seen.length < n, body: () => Queue.take(arrived), step: () => {} }))
  return Object.assign(seen, { waitFor })
})

/** A process whose mailbox the test fills with `fill(n)` and empties with `drain(n)`. */
const sink = Effect.gen(function* () {
  const gate = yield* Queue.unbounded<{ readonly n: number; readonly done: Deferred.Deferred<void> }>()
  const pid = yield* Process.spawn((self) =>
    Effect.forever(
      Effect.gen(function* () {
        const { done, n } = yield* Queue.take(gate)
        for (let i = 0; i < n; i++) yield* self.receive
        yield* Deferred.succeed(done, undefined)
      })
    )
  )
  const fill = (n: number) =>
    Effect.forEach(Array.from({ length: n }), (_, i) => Process.send(pid, i), { discard: true })
  const drain = (n: number) =>
    Effect.gen(function* () {
      const done = yield* Deferred.make<void>()
      yield* Queue.offer(gate, { n, done })
      yield* within(2000, "the sink's drain")(Deferred.await(done))
    })
  return { pid, fill, drain }
})

const engine = Effect.map(AlertManager.AlertManager, engineOf)

const scrape = Metrics.render

const jsonLines = Effect.map(TestConsole.logLines, (lines) =>
  lines.map(
    (line) =>
      JSON.parse(line as string) as {
        readonly level: string
        readonly message: string
        readonly annotations: Record<string, unknown>
      }
  )
)

const Sleepy = Protocol.make({ Sleep: Protocol.cast({ payload: { millis: Schema.Number } }) })

/** A GenServer whose handler sleeps on the clock as long as it is told. */
const sleeper = GenServer.behaviour(Sleepy)({
  name: "sleeper",
  init: () => Effect.succeed(0),
  handleCall: {},
  handleCast: { Sleep: ({ millis }, n) => Effect.as(Effect.sleep(millis), GenServer.noReply(n + 1)) }
})

describe("AlertManager", () => {
  it.effect(
    "a mailbox above its own baseline triggers once, shows in metrics and logs, and resolves when drained",
    () =>
      run(
        Effect.gen(function* () {
          const seen = yield* recordEvents
          const { drain, fill, pid } = yield* sink
          yield* fill(1)
          yield* sweeps(5)
          assert.deepStrictEqual([...seen], [], "a steady mailbox of 1 message")
          assert.strictEqual((yield* engine).baseline(String(pid), "mailbox_size")?.count, 5)
          yield* fill(20)
          yield* sweeps(1)
          assert.strictEqual(seen.length, 1)
          const alert = seen[0]!
          assert.strictEqual(alert._tag, "AlertTriggered")
          assert.strictEqual(alert.kind, "mailbox_size")
          assert.strictEqual(alert.subject, String(pid))
          assert.isTrue(Pid.equals(alert.pid!, pid))
          assert.strictEqual(alert.node, node)
          assert.strictEqual(alert.value, 21)
          assert.strictEqual(alert.mean, 1)
          assert.strictEqual(alert.stddev, 0)
          assert.strictEqual(alert.threshold, 7, "1 + 3 * max(0, 2)")
          const active = yield* AlertManager.activeAlerts
          assert.deepStrictEqual(
            active.map((a) => [a.kind, a.subject]),
            [["mailbox_size", String(pid)]]
          )
          const text = yield* scrape
          assert.strictEqual(metricSample(text, "effect_otp_alerts_active", 'kind="mailbox_size"'), 1)
          assert.strictEqual(metricSample(text, "effect_otp_alerts_active", 'kind="restart_rate"'), 0)
          assert.strictEqual(metricSample(text, "effect_otp_alerts_triggered_total", 'kind="mailbox_size"'), 1)
          // Still full: no second event.
          yield* sweeps(3)
          assert.strictEqual(seen.length, 1)
          // Drained to 1 (below 1 + 1.5 * 2): resolves after two sweeps in a row.
          yield* drain(20)
          yield* sweeps(1)
          assert.strictEqual(seen.length, 1)
          yield* sweeps(1)
          assert.strictEqual(seen.length, 2)
          const resolved = seen[1]!
          assert.strictEqual(resolved._tag, "AlertResolved")
          if (resolved._tag !== "AlertResolved") return
          assert.strictEqual(resolved.reason, "recovered")
          assert.strictEqual(resolved.value, 1)
          assert.strictEqual(resolved.since, alert.at)
          assert.strictEqual(resolved.at - resolved.since, 5000, "five sweeps later, on the test clock")
          assert.deepStrictEqual(yield* AlertManager.activeAlerts, [])
          assert.strictEqual(metricSample(yield* scrape, "effect_otp_alerts_active", 'kind="mailbox_size"'), 0)
          const logs = (yield* jsonLines).filter((line) => line.annotations["otp.report"] === "alert")
          assert.deepStrictEqual(
            logs.map((line) => [line.level, line.annotations["otp.event"], line.annotations["otp.alert.kind"]]),
            [
              ["WARN", "alert_triggered", "mailbox_size"],
              ["INFO", "alert_resolved", "mailbox_size"]
            ]
          )
          assert.strictEqual(logs[0]!.annotations["otp.alert.subject"], String(pid))
          assert.strictEqual(logs[0]!.annotations["otp.alert.value"], 21)
          assert.strictEqual(logs[0]!.annotations["otp.alert.threshold"], 7)
          assert.strictEqual(logs[1]!.annotations["otp.alert.reason"], "recovered")
          // The events are Schema classes: they encode to JSON and back.
          const decoded = yield* Effect.orDie(
            Effect.flatMap(Schema.encodeEffect(AlertManager.AlertEvent)(alert), (json) =>
              Schema.decodeUnknownEffect(AlertManager.AlertEvent)(JSON.parse(JSON.stringify(json)))
            )
          )
          assert.strictEqual(decoded._tag, "AlertTriggered")
          assert.isTrue(Pid.equals(decoded.pid!, pid))
        })
      )
  )

  it.effect("no alert before minSamples sweeps, however full the mailbox", () =>
    run(
      Effect.gen(function* () {
        const seen = yield* recordEvents
        const { fill } = yield* sink
        yield* sweeps(4)
        yield* fill(500)
        yield* sweeps(1)
        assert.deepStrictEqual([...seen], [])
        assert.deepStrictEqual(yield* AlertManager.activeAlerts, [])
      })
    )
  )

  it.effect("after a resolve, a new spike within the cooldown raises nothing; past the cooldown it does", () =>
    run(
      Effect.gen(function* () {
        const seen = yield* recordEvents
        const { drain, fill } = yield* sink
        yield* sweeps(5)
        yield* fill(50)
        yield* sweeps(1) // t = 6 s: triggered
        yield* drain(50)
        yield* sweeps(2) // t = 8 s: resolved
        assert.deepStrictEqual(
          seen.map((e) => e._tag),
          ["AlertTriggered", "AlertResolved"]
        )
        yield* fill(50)
        yield* sweeps(7) // t = 9 .. 15 s: within 10 s of the trigger at 6 s
        assert.strictEqual(seen.length, 2)
        assert.deepStrictEqual(yield* AlertManager.activeAlerts, [])
        yield* sweeps(1) // t = 16 s
        assert.deepStrictEqual(
          seen.map((e) => e._tag),
          ["AlertTriggered", "AlertResolved", "AlertTriggered"]
        )
      })
    )
  )

  it.effect("a mailbox hovering around the threshold raises one alert, not a flapping series", () =>
    run(
      Effect.gen(function* () {
        const seen = yield* recordEvents
        const { drain, fill } = yield* sink
        yield* sweeps(5) // baseline 0, trigger above 6, resolve below 3
        yield* fill(8)
        yield* sweeps(1)
        for (let i = 0; i < 5; i++) {
          yield* drain(3) // 5: between the thresholds
          yield* sweeps(1)
          yield* fill(3) // 8: above the trigger threshold
          yield* sweeps(1)
        }
        assert.deepStrictEqual(
          seen.map((e) => e._tag),
          ["AlertTriggered"]
        )
        assert.strictEqual((yield* AlertManager.activeAlerts).length, 1)
      })
    )
  )

  it.effect("a process that exits while alerting: its alert resolves (exited) and its state is freed", () =>
    run(
      Effect.gen(function* () {
        const seen = yield* recordEvents
        const sinks = yield* Effect.all([sink, sink, sink])
        yield* sweeps(5)
        const alerting = sinks[0]!
        yield* alerting.fill(100)
        yield* AlertManager.record({ kind: "handler_latency", pid: alerting.pid, value: 3 })
        yield* sweeps(1)
        assert.strictEqual((yield* AlertManager.activeAlerts).length, 1)
        assert.strictEqual((yield* engine).processSubjectCount, 3)
        yield* Process.kill(alerting.pid)
        yield* sweeps(1)
        const last = seen.at(-1)!
        assert.strictEqual(last._tag, "AlertResolved")
        if (last._tag !== "AlertResolved") return
        assert.strictEqual(last.reason, "exited")
        assert.strictEqual(last.subject, String(alerting.pid))
        assert.deepStrictEqual(yield* AlertManager.activeAlerts, [])
        assert.strictEqual((yield* engine).processSubjectCount, 2)
        assert.isUndefined((yield* engine).baseline(String(alerting.pid), "handler_latency"))
        // Every process gone: nothing left.
        for (const { pid } of sinks.slice(1)) yield* Process.kill(pid)
        yield* sweeps(1)
        assert.strictEqual((yield* engine).subjectCount, 0)
        // A sample of a dead pid is dropped, not stored.
        yield* AlertManager.record({ kind: "handler_latency", pid: alerting.pid, value: 1000 })
        assert.strictEqual((yield* engine).subjectCount, 0)
        assert.strictEqual(metricSample(yield* scrape, "effect_otp_alerts_active", 'kind="mailbox_size"'), 0)
      })
    )
  )

  it.effect("a supervisor whose child starts crashing raises a restart_rate alert", () =>
    run(
      Effect.gen(function* () {
        const seen = yield* recordEvents
        const supervisorEvents = yield* eventLog
        const sup = yield* Supervisor.start({
          maxRestarts: 100,
          within: "1 minute",
          children: [ChildSpec.worker({ id: "w", start: Process.spawn(() => Effect.never, { name: "w" }) })]
        })
        yield* sweeps(5)
        assert.strictEqual((yield* engine).baseline(String(sup), "restart_rate")?.count, 5)
        for (let i = 0; i < 3; i++) {
          yield* Process.exit("w", ExitReason.custom("boom"))
          yield* supervisorEvents.next(is.restarted("w"))
        }
        yield* sweeps(1)
        const alerts = seen.filter((e) => e.kind === "restart_rate")
        assert.strictEqual(alerts.length, 1)
        assert.strictEqual(alerts[0]!._tag, "AlertTriggered")
        assert.strictEqual(alerts[0]!.subject, String(sup))
        assert.strictEqual(alerts[0]!.value, 180, "3 restarts in 1 s: 180 per minute")
        // Quiet again: resolves after two sweeps with no restart.
        yield* sweeps(2)
        assert.deepStrictEqual(
          seen.filter((e) => e.kind === "restart_rate").map((e) => e._tag),
          ["AlertTriggered", "AlertResolved"]
        )
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect(
    "disabling at run time resolves active alerts (disabled) and stops sampling; enabled again it learns anew",
    () =>
      run(
        Effect.gen(function* () {
          const seen = yield* recordEvents
          const { fill, pid } = yield* sink
          yield* sweeps(5)
          yield* fill(30)
          yield* sweeps(1)
          assert.strictEqual((yield* AlertManager.activeAlerts).length, 1)
          yield* AlertManager.configure({ enabled: false })
          const last = seen.at(-1)!
          assert.strictEqual(last._tag === "AlertResolved" && last.reason, "disabled")
          assert.deepStrictEqual(yield* AlertManager.activeAlerts, [])
          assert.strictEqual((yield* AlertManager.settings).enabled, false)
          yield* sweeps(3)
          assert.strictEqual((yield* engine).subjectCount, 0, "no samples while disabled")
          yield* AlertManager.configure({ enabled: true, minSamples: 3 })
          yield* sweeps(3)
          assert.strictEqual((yield* engine).baseline(String(pid), "mailbox_size")?.count, 3, "30 is the new normal")
          assert.strictEqual(seen.length, 2)
          // Out-of-range settings fail and change nothing.
          const failed = yield* Effect.exit(AlertManager.configure({ sensitivityMultiplier: 0, minSamples: 9 }))
          assert.isTrue(Exit.isFailure(failed))
          const error = yield* Effect.flip(AlertManager.configure({ cooldownMs: -1 }))
          assert.strictEqual(error._tag, "InvalidAlertSettings")
          assert.strictEqual(error.message, "invalid AlertManager setting cooldownMs: -1 is not >= 0")
          assert.strictEqual((yield* AlertManager.settings).minSamples, 3)
          assert.strictEqual((yield* AlertManager.settings).sensitivityMultiplier, 3)
        })
      )
  )

  it.effect("a new sampleInterval and sensitivity apply from the next sweep", () =>
    run(
      Effect.gen(function* () {
        const seen = yield* recordEvents
        const { fill, pid } = yield* sink
        const count = () => Effect.map(engine, (e) => e.baseline(String(pid), "mailbox_size")?.count)
        yield* sweeps(5)
        yield* AlertManager.configure({ sampleInterval: "10 seconds", sensitivityMultiplier: 10 })
        yield* TestClock.adjust("1 second") // the sweep that was waiting runs at t = 6 s
        assert.strictEqual(yield* count(), 6)
        yield* TestClock.adjust("9 seconds") // t = 15 s: no sweep, the next one is at t = 16 s
        assert.strictEqual(yield* count(), 6)
        // 15 messages: above 0 + 3 * 2, below 0 + 10 * 2.
        yield* fill(15)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* count(), 7)
        assert.deepStrictEqual([...seen], [])
      })
    )
  )

  it.effect(
    "a GenServer whose handlers slow down raises a handler_latency alert, read from the runtime's timings",
    () =>
      run(
        Effect.gen(function* () {
          const seen = yield* recordEvents
          const pid = yield* GenServer.start(sleeper, undefined)
          // Each interval, one message whose handler sleeps 2 ms on the test clock (every message is
          // timed: busySampleEvery 1).
          for (let i = 0; i < 5; i++) {
            yield* GenServer.cast(pid, Sleepy.Sleep({ millis: 2 }))
            yield* sweeps(1)
          }
          const baseline = (yield* engine).baseline(String(pid), "handler_latency")
          assert.strictEqual(baseline?.count, 5)
          assert.strictEqual(baseline?.mean, 2)
          // An interval with no timed message adds no sample.
          yield* sweeps(1)
          assert.strictEqual((yield* engine).baseline(String(pid), "handler_latency")?.count, 5)
          // 50 ms: the moving average (weight 0.2) goes to 11.6 ms, above 2 + 3 * 2.
          yield* GenServer.cast(pid, Sleepy.Sleep({ millis: 50 }))
          yield* sweeps(1)
          assert.deepStrictEqual(
            seen.map((e) => [e._tag, e.kind, e.subject]),
            [["AlertTriggered", "handler_latency", String(pid)]]
          )
          assert.closeTo(seen[0]!.value, 11.6, 1e-9)
          yield* GenServer.stop(pid)
        })
      )
  )

  it.effect("handler latency fed through record alerts per process; a layer with invalid options fails", () =>
    Effect.gen(function* () {
      yield* run(
        Effect.gen(function* () {
          const seen = yield* recordEvents
          const { pid } = yield* sink
          for (let i = 0; i < 5; i++) yield* AlertManager.record({ kind: "handler_latency", pid, value: 4 + (i % 2) })
          yield* AlertManager.record({ kind: "handler_latency", pid, value: 40 })
          yield* seen.waitFor(1)
          assert.deepStrictEqual(
            seen.map((e) => [e._tag, e.kind, e.value]),
            [["AlertTriggered", "handler_latency", 40]]
          )
          // A disabled kind's samples are dropped.
          yield* AlertManager.record({ kind: "event_loop_delay", value: 1e6 })
          assert.isUndefined((yield* engine).baseline(`node:${node}`, "event_loop_delay"))
        })
      )
      const failed = yield* Effect.flip(run(Effect.void, { baselineWindow: 0 }))
      assert.strictEqual(failed._tag, "InvalidAlertSettings")
    })
  )

  it.effect("the event-loop delay is sampled per node: a blocked loop shows in the node's baseline", () =>
    run(
      Effect.gen(function* () {
        const seen = yield* recordEvents
        for (let i = 0; i < 5; i++) yield* AlertManager.record({ kind: "event_loop_delay", value: 1 })
        yield* AlertManager.record({ kind: "event_loop_delay", value: 100 })
        yield* seen.waitFor(1)
        assert.deepStrictEqual(
          seen.map((e) => [e._tag, e.kind, e.subject, e.pid]),
          [["AlertTriggered", "event_loop_delay", node, undefined]]
        )
        yield* AlertManager.configure({ enabled: false })
        yield* seen.waitFor(2)
        assert.strictEqual(seen.at(-1)?._tag, "AlertResolved")
        yield* AlertManager.configure({ enabled: true })
        const manager = yield* AlertManager.AlertManager
        // Node's delay monitor measures each tick against the previous one: wait (turns of the loop,
        // with a real-time bound) until it has ticked since it started, so that it has a reference.
        // Then block the event loop for 60 ms: the monitor's overdue timer records that in the next
        // timers phase, before a 0 ms timer queued after the block, and a sweep then reads the
        // interval. No sweep ran since the layer started, less than a second ago: fewer than 100
        // delay samples, so their 99th percentile is the block.
        const nextTimersPhase = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))
        yield* within(
          2000,
          "a tick of the delay monitor"
        )(
          Effect.whileLoop({
            while: () => internalsOf(manager).sampler.delaySamples === 0,
            body: () => nextTimersPhase,
            step: () => {}
          })
        )
        const blockedUntil = performance.now() + 60
        while (performance.now() < blockedUntil) {
          // busy: the blocked loop is the input under test
        }
        yield* nextTimersPhase
        yield* AlertManager.sampleNow
        const after = engineOf(manager).baseline(`node:${node}`, "event_loop_delay")
        assert.strictEqual(after?.count, 1)
        assert.isAtLeast(after!.mean, 40, `p99 delay of the interval with the block: ${after!.mean} ms`)
      }),
      { kinds: ["event_loop_delay"], minStddev: { event_loop_delay: 1 } }
    )
  )
})
