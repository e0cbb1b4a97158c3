/**
 * The AlertManager: tells when a process or the node drifts from its own normal behaviour.
 *
 * Every `sampleInterval` (on Effect's `Clock`, so `TestClock` drives it) a sampler fiber reads the
 * node's figures and feeds each series to a streaming baseline: one series per process and
 * {@link AlertKind}, one per node for the event loop. Kinds and their units:
 *
 * | kind | subject | value |
 * |---|---|---|
 * | `mailbox_size` | each live process | messages waiting in its mailbox |
 * | `handler_latency` | each live process with timed handlers | moving average of its sampled handler durations, milliseconds (also fed through {@link record}) |
 * | `restart_rate` | each live supervisor | child restarts per minute over the last interval (needs `SupervisorEvents`) |
 * | `event_loop_delay` | the node | 99th percentile of the event-loop delay over the last interval, milliseconds |
 *
 * The baseline keeps a mean and a variance updated in O(1) per sample (Welford's running figures
 * for the first `baselineWindow` samples, exponentially weighted after that): no buffer of past
 * samples. With `sigma = max(stddev, minStddev[kind])`:
 *
 * - a sample above `mean + sensitivityMultiplier * sigma`, once `minSamples` samples fed the
 *   baseline, triggers an {@link AlertTriggered}, at most once per `cooldownMs` per subject and
 *   kind (a new trigger within the cooldown of the last one is not raised);
 * - anomalous samples (above that threshold) and all samples while an alert is active do not feed
 *   the baseline, so a lasting anomaly stays an alert instead of becoming the new normal;
 * - an active alert resolves ({@link AlertResolved}, reason `recovered`) after `resolveSamples`
 *   consecutive samples below `mean + resolveMultiplier * sigma` (hysteresis: values between the
 *   two thresholds neither resolve it nor raise it again, so it does not flap);
 * - a process that exits is forgotten at the next sweep: its alerts resolve with reason `exited`
 *   and its per-process state is freed;
 * - disabling the manager (or a kind) with {@link configure} resolves the active alerts it
 *   covers at once (reason `disabled`) and drops their baselines: enabled again, they learn from
 *   scratch (`minSamples` again). Other changes apply from the next sample.
 *
 * Cost: a process whose mailbox was always empty and whose handlers were never timed has no state
 * (its empty sweeps are counted when it first has a message waiting); a tracked series costs about
 * 190 bytes. A sweep reads the table in steps of 4,096 processes, letting other fibers run between
 * them. Measured on a 2-core machine at load average 14 (a single run each, after the first sweep,
 * which warms up): a sweep of 100,000 idle processes took 47-128 ms, and 160-640 ms when every one
 * of them had a message waiting (100,000 tracked series).
 *
 * Each transition is published to {@link subscribe}rs, written as a log record (`Warn` on trigger,
 * `Info` on resolve, annotated `otp.report: "alert"`) and counted in the metrics
 * `effect_otp_alerts_active{kind}` and `effect_otp_alerts_triggered_total{kind}`.
 *
 * @since 0.1.0
 */
import {
  Clock,
  Config,
  Context,
  Duration,
  Effect,
  Layer,
  Option,
  PubSub,
  Schema,
  type Scope,
  Semaphore,
  Stream
} from "effect"
import * as Env from "../internal/envConfig.ts"
import { runtimeOf } from "../Process/internal/context.ts"
import { Pid } from "../Process/Pid.ts"
import * as ProcessRuntime from "../Process/ProcessRuntime.ts"
import * as SupervisorEvents from "../Supervisor/SupervisorEvents.ts"
import { AlertEngine, attachInternals, kinds, NODE, type Settings, type Transition } from "./internal/alertEngine.ts"
import * as alertEnv from "./internal/alertEnv.ts"
import { AlertSampler } from "./internal/alertSampler.ts"
import { Collector } from "./internal/collector.ts"

/**
 * What an alert is about: `mailbox_size`, `handler_latency`, `restart_rate` or `event_loop_delay`
 * (units in the module's documentation).
 *
 * @example
 * ```ts
 * import { AlertManager } from "effect-otp"
 *
 * const kind: AlertManager.AlertKind = "mailbox_size"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const AlertKind = Schema.Literals(["mailbox_size", "handler_latency", "restart_rate", "event_loop_delay"])

/**
 * What an alert is about (see the `AlertKind` schema).
 *
 * @example
 * ```ts
 * import type { AlertManager } from "effect-otp"
 *
 * const perNode = (kind: AlertManager.AlertKind): boolean => kind === "event_loop_delay"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type AlertKind = typeof AlertKind.Type

/**
 * An alert was raised: `value` exceeded `threshold` (`mean + sensitivityMultiplier * sigma`) of the
 * subject's own baseline. `subject` is the process's pid as text (`<node.id.incarnation>`, with
 * `pid` set) or the node's name (for `event_loop_delay`); `mean` and `stddev` are the baseline's
 * before this sample; `at` is wall-clock milliseconds (for people; decisions use monotonic time).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { AlertManager } from "effect-otp"
 *
 * const firstAlert = Effect.gen(function*() {
 *   const alerts = yield* AlertManager.subscribe
 *   return yield* Stream.runHead(Stream.filter(alerts, (event) => event._tag === "AlertTriggered"))
 * })
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class AlertTriggered extends Schema.TaggedClass<AlertTriggered>()("AlertTriggered", {
  kind: AlertKind,
  subject: Schema.String,
  node: Schema.String,
  pid: Schema.optional(Pid),
  value: Schema.Number,
  mean: Schema.Number,
  stddev: Schema.Number,
  threshold: Schema.Number,
  at: Schema.Number
}) {}

/**
 * An alert ended. `reason` is `recovered` (`resolveSamples` consecutive samples below `threshold`,
 * the lower, resolve threshold), `exited` (its process exited) or `disabled` (the manager or its kind
 * was disabled). `value` is the last sample, `since` when the alert was triggered and `at` when it
 * ended (wall-clock milliseconds).
 *
 * @example
 * ```ts
 * import { AlertManager } from "effect-otp"
 *
 * const describe = (event: AlertManager.AlertResolved) =>
 *   `${event.kind} of ${event.subject} resolved (${event.reason}) after ${event.at - event.since} ms`
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class AlertResolved extends Schema.TaggedClass<AlertResolved>()("AlertResolved", {
  kind: AlertKind,
  subject: Schema.String,
  node: Schema.String,
  pid: Schema.optional(Pid),
  value: Schema.Number,
  mean: Schema.Number,
  stddev: Schema.Number,
  threshold: Schema.Number,
  at: Schema.Number,
  since: Schema.Number,
  reason: Schema.Literals(["recovered", "exited", "disabled"])
}) {}

/**
 * An alert transition.
 *
 * @example
 * ```ts
 * import { AlertManager } from "effect-otp"
 *
 * const isOpen = (event: AlertManager.AlertEvent) => event._tag === "AlertTriggered"
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export type AlertEvent = AlertTriggered | AlertResolved

/**
 * The schema of {@link AlertEvent} (to ship alerts to another node or decode them from JSON).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { AlertManager } from "effect-otp"
 *
 * const decode = Schema.decodeUnknownSync(AlertManager.AlertEvent)
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const AlertEvent = Schema.Union([AlertTriggered, AlertResolved])

/**
 * Settings that are out of range (a multiplier that is not positive, a sample count under 1, a
 * negative cooldown): {@link layer} and {@link configure} fail with this and change nothing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AlertManager } from "effect-otp"
 *
 * const program = AlertManager.configure({ minSamples: 0 }).pipe(
 *   Effect.catchTag("InvalidAlertSettings", (error) => Effect.logWarning(error.message))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidAlertSettings extends Schema.TaggedError<InvalidAlertSettings>()("InvalidAlertSettings", {
  setting: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `invalid AlertManager setting ${this.setting}: ${this.detail}`
  }
}

/**
 * The AlertManager's settings, complete (as {@link settings} returns them).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AlertManager } from "effect-otp"
 *
 * const show = Effect.map(AlertManager.settings, (settings) => `k = ${settings.sensitivityMultiplier}`)
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface AlertSettings {
  /** Whether samples are taken and evaluated. Default true. */
  readonly enabled: boolean
  /** `k`: a sample above `mean + k * sigma` triggers. Default 3. */
  readonly sensitivityMultiplier: number
  /**
   * `r`: an alert resolves below `mean + r * sigma` (at most `k`). Default `undefined`: half of
   * `sensitivityMultiplier`.
   */
  readonly resolveMultiplier: number | undefined
  /** Consecutive samples below the resolve threshold that resolve an alert. Default 3. */
  readonly resolveSamples: number
  /** Samples a baseline needs before it can trigger. Default 20. */
  readonly minSamples: number
  /** At most one trigger per subject and kind within this many milliseconds. Default 60,000. */
  readonly cooldownMs: number
  /**
   * Samples the baseline is averaged over: equal weights up to this many, then an exponential
   * weight of `2 / (baselineWindow + 1)` per sample. Default 120.
   */
  readonly baselineWindow: number
  /** How often the sampler reads the node. Default 5 seconds. */
  readonly sampleInterval: Duration.Duration
  /** The kinds evaluated. Default all four. */
  readonly kinds: ReadonlyArray<AlertKind>
  /**
   * The smallest standard deviation used in the thresholds, per kind, in the kind's unit, so that a
   * flat baseline (a mailbox always empty) does not alert on the first message. Defaults:
   * `mailbox_size` 5 messages, `handler_latency` 5 ms, `restart_rate` 10 per minute,
   * `event_loop_delay` 10 ms.
   */
  readonly minStddev: Readonly<Record<AlertKind, number>>
}

/**
 * Options of {@link layer} and {@link configure}: any subset of {@link AlertSettings} (`minStddev`
 * per kind), plus the subscribers' buffer (layer only).
 *
 * @example
 * ```ts
 * import { AlertManager } from "effect-otp"
 *
 * const options: AlertManager.AlertOptions = {
 *   sensitivityMultiplier: 4,
 *   minSamples: 30,
 *   cooldownMs: 300_000,
 *   sampleInterval: "10 seconds",
 *   kinds: ["mailbox_size", "event_loop_delay"]
 * }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface AlertOptions {
  readonly enabled?: boolean | undefined
  readonly sensitivityMultiplier?: number | undefined
  readonly resolveMultiplier?: number | undefined
  readonly resolveSamples?: number | undefined
  readonly minSamples?: number | undefined
  readonly cooldownMs?: number | undefined
  readonly baselineWindow?: number | undefined
  readonly sampleInterval?: Duration.Input | undefined
  readonly kinds?: ReadonlyArray<AlertKind> | undefined
  readonly minStddev?: Partial<Readonly<Record<AlertKind, number>>> | undefined
  /**
   * Events buffered per subscriber (layer only). A subscriber further behind loses the oldest
   * events; the sampler never waits for subscribers. Default 1,000.
   */
  readonly capacity?: number | undefined
}

/**
 * The default settings.
 *
 * @example
 * ```ts
 * import { AlertManager } from "effect-otp"
 *
 * const strict = { ...AlertManager.defaults, sensitivityMultiplier: 2 }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export const defaults: AlertSettings = {
  enabled: true,
  sensitivityMultiplier: 3,
  resolveMultiplier: undefined,
  resolveSamples: 3,
  minSamples: 20,
  cooldownMs: 60_000,
  baselineWindow: 120,
  sampleInterval: Duration.seconds(5),
  kinds,
  minStddev: { mailbox_size: 5, handler_latency: 5, restart_rate: 10, event_loop_delay: 10 }
}

/**
 * One sample for {@link record}: `pid` for a process of this node (samples of pids that are not
 * alive here are dropped), none for the node itself.
 *
 * @example
 * ```ts
 * import { AlertManager, Pid } from "effect-otp"
 *
 * const sample: AlertManager.AlertSample = { kind: "handler_latency", pid: Pid.make("a", 7, 1), value: 12.5 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AlertSample {
  readonly kind: AlertKind
  readonly pid?: Pid | undefined
  readonly value: number
}

/**
 * The node's AlertManager. Built by {@link layer}; used through the functions of this module.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { AlertManager, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const alerts = yield* AlertManager.activeAlerts
 *   yield* Effect.log(`${alerts.length} active alerts`)
 * }).pipe(Effect.provide(AlertManager.layer().pipe(Layer.provide(ProcessRuntime.layer()))))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class AlertManager extends Context.Service<
  AlertManager,
  {
    /** Changes settings from now on (see {@link configure}). */
    readonly configure: (options: AlertOptions) => Effect.Effect<void, InvalidAlertSettings>
    /** The current settings. */
    readonly settings: Effect.Effect<AlertSettings>
    /** Subscribes now; the stream has every transition published after that. */
    readonly subscribe: Effect.Effect<Stream.Stream<AlertEvent>, never, Scope.Scope>
    /** The alerts active now, oldest first. */
    readonly activeAlerts: Effect.Effect<ReadonlyArray<AlertTriggered>>
    /** Feeds one sample (see {@link record}). */
    readonly record: (sample: AlertSample) => Effect.Effect<void>
    /** Runs one sweep of the sampler now (see {@link sampleNow}). */
    readonly sampleNow: Effect.Effect<void>
  }
>()("effect-otp/AlertManager") {}

const positive = (setting: string, value: number) =>
  Number.isFinite(value) && value > 0 ? undefined : new InvalidAlertSettings({ setting, detail: `${value} is not > 0` })

const atLeastOne = (setting: string, value: number) =>
  Number.isInteger(value) && value >= 1
    ? undefined
    : new InvalidAlertSettings({ setting, detail: `${value} is not an integer >= 1` })

/** Applies `options` over `base`, or says which setting is wrong. */
const merge = (base: AlertSettings, options: AlertOptions | undefined): AlertSettings | InvalidAlertSettings => {
  const o = options ?? {}
  const settings: AlertSettings = {
    enabled: o.enabled ?? base.enabled,
    sensitivityMultiplier: o.sensitivityMultiplier ?? base.sensitivityMultiplier,
    resolveMultiplier: "resolveMultiplier" in o ? o.resolveMultiplier : base.resolveMultiplier,
    resolveSamples: o.resolveSamples ?? base.resolveSamples,
    minSamples: o.minSamples ?? base.minSamples,
    cooldownMs: o.cooldownMs ?? base.cooldownMs,
    baselineWindow: o.baselineWindow ?? base.baselineWindow,
    sampleInterval: o.sampleInterval === undefined ? base.sampleInterval : Duration.fromInputUnsafe(o.sampleInterval),
    kinds: o.kinds ?? base.kinds,
    minStddev: { ...base.minStddev, ...o.minStddev }
  }
  const error =
    positive("sensitivityMultiplier", settings.sensitivityMultiplier) ??
    (settings.resolveMultiplier === undefined || settings.resolveMultiplier >= 0
      ? undefined
      : new InvalidAlertSettings({
          setting: "resolveMultiplier",
          detail: `${settings.resolveMultiplier} is negative`
        })) ??
    atLeastOne("resolveSamples", settings.resolveSamples) ??
    atLeastOne("minSamples", settings.minSamples) ??
    atLeastOne("baselineWindow", settings.baselineWindow) ??
    (Number.isFinite(settings.cooldownMs) && settings.cooldownMs >= 0
      ? undefined
      : new InvalidAlertSettings({ setting: "cooldownMs", detail: `${settings.cooldownMs} is not >= 0` })) ??
    positive("sampleInterval", Duration.toMillis(settings.sampleInterval)) ??
    kinds.reduce<InvalidAlertSettings | undefined>(
      (found, kind) =>
        found ??
        (settings.minStddev[kind] >= 0
          ? undefined
          : new InvalidAlertSettings({
              setting: `minStddev.${kind}`,
              detail: `${settings.minStddev[kind]} is negative`
            })),
      undefined
    )
  return error ?? settings
}

const engineSettings = (settings: AlertSettings): Settings => ({
  enabled: settings.enabled,
  sensitivityMultiplier: settings.sensitivityMultiplier,
  resolveMultiplier: settings.resolveMultiplier,
  resolveSamples: settings.resolveSamples,
  minSamples: settings.minSamples,
  cooldownMs: settings.cooldownMs,
  baselineWindow: settings.baselineWindow,
  kinds: settings.kinds,
  minStddev: settings.minStddev
})

const toEvent = (node: string, transition: Transition): AlertEvent => {
  const pid = transition.pid
  const common = {
    kind: transition.kind,
    subject: pid === undefined ? node : String(pid),
    node: pid === undefined ? node : pid.node,
    ...(pid === undefined ? {} : { pid }),
    value: transition.value,
    mean: transition.mean,
    stddev: transition.stddev,
    threshold: transition.threshold,
    at: transition.at
  }
  return transition._tag === "Triggered"
    ? new AlertTriggered(common)
    : new AlertResolved({ ...common, since: transition.since, reason: transition.reason })
}

const round = (n: number) => Math.round(n * 1000) / 1000

const logEvent = (event: AlertEvent): Effect.Effect<void> => {
  const annotations = {
    "otp.report": "alert",
    "otp.event": event._tag === "AlertTriggered" ? "alert_triggered" : "alert_resolved",
    "otp.alert.kind": event.kind,
    "otp.alert.subject": event.subject,
    "otp.alert.value": round(event.value),
    "otp.alert.mean": round(event.mean),
    "otp.alert.stddev": round(event.stddev),
    "otp.alert.threshold": round(event.threshold),
    ...(event._tag === "AlertResolved" ? { "otp.alert.reason": event.reason } : {})
  }
  const log =
    event._tag === "AlertTriggered"
      ? Effect.logWarning(
          `alert: ${event.kind} of ${event.subject} is ${round(event.value)} (threshold ${round(event.threshold)})`
        )
      : Effect.logInfo(`alert resolved: ${event.kind} of ${event.subject} (${event.reason})`)
  return Effect.annotateLogs(log, annotations)
}

/** Processes a sweep reads before letting other fibers run. */
const SWEEP_CHUNK = 4096

const make = (options: AlertOptions | undefined) =>
  Effect.gen(function* () {
    const initial = merge(defaults, options)
    if (initial instanceof InvalidAlertSettings) return yield* initial
    let current = initial
    const runtime = runtimeOf(yield* ProcessRuntime.ProcessRuntime)
    const clock = yield* Clock.clockWith(Effect.succeed)
    const now = () => Number(clock.monotonicTimeNanosUnsafe()) / 1e6
    const wall = () => clock.currentTimeMillisUnsafe()
    const pubsub = yield* Effect.acquireRelease(PubSub.sliding<AlertEvent>(options?.capacity ?? 1000), PubSub.shutdown)
    const engine = new AlertEngine(engineSettings(current))
    const sampler = new AlertSampler(runtime, engine, now())
    yield* Effect.addFinalizer(() => Effect.sync(() => sampler.close()))

    const triggered: Record<AlertKind, number> = {
      mailbox_size: 0,
      handler_latency: 0,
      restart_rate: 0,
      event_loop_delay: 0
    }
    const collector = yield* Collector.make
    for (const kind of kinds) {
      collector.gauge("effect_otp_alerts_active", "Active alerts, by kind", () => engine.activeCount(kind), { kind })
      collector.counter("effect_otp_alerts_triggered_total", "Alerts triggered, by kind", () => triggered[kind], {
        kind
      })
    }

    const publish = (transitions: ReadonlyArray<Transition>): Effect.Effect<void> =>
      transitions.length === 0
        ? Effect.void
        : Effect.forEach(
            transitions,
            (transition) => {
              if (transition._tag === "Triggered") triggered[transition.kind]++
              const event = toEvent(runtime.node, transition)
              return Effect.andThen(PubSub.publish(pubsub, event), logEvent(event))
            },
            { discard: true }
          )

    // Restarts are counted from a subscription drained at each sweep: exactly the restarts
    // published before the sweep, with no fiber of its own.
    const supervisorEvents = yield* Effect.serviceOption(SupervisorEvents.SupervisorEvents)
    const restarts = Option.isSome(supervisorEvents)
      ? yield* PubSub.subscribe(supervisorEvents.value.pubsub)
      : undefined
    // While disabled, restarts are drained and dropped (a later sweep must not count them).
    const drainRestarts = (count: boolean) =>
      restarts === undefined
        ? Effect.void
        : Effect.map(PubSub.takeUpTo(restarts, Number.MAX_SAFE_INTEGER), (events) => {
            if (!count) return
            for (const event of events) if (event._tag === "ChildRestarted") sampler.countRestart(event.supervisor)
          })
    // A sweep runs in steps of SWEEP_CHUNK processes and lets other fibers run between them; one
    // sweep at a time (a `sampleNow` waits for the periodic one, and the other way round).
    const sweeping = yield* Semaphore.make(1)
    const sweep = Effect.suspend(() => {
      const steps = sampler.sweepSteps(now(), wall(), SWEEP_CHUNK)
      const step: Effect.Effect<void> = Effect.suspend(() => {
        const next = steps.next()
        if (next.done === true) return Effect.void
        return Effect.andThen(publish(next.value), Effect.andThen(Effect.yieldNow, step))
      })
      return step
    })
    const sampleNow = sweeping.withPermits(1)(
      Effect.suspend(() => (current.enabled ? Effect.andThen(drainRestarts(true), sweep) : drainRestarts(false)))
    )
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.andThen(
          Effect.suspend(() => Effect.sleep(current.sampleInterval)),
          sampleNow
        )
      )
    )

    const service = AlertManager.of({
      configure: (patch) =>
        Effect.suspend(() => {
          const next = merge(current, patch)
          if (next instanceof InvalidAlertSettings) return Effect.fail(next)
          current = next
          const resolved = engine.configure(engineSettings(next), wall())
          if (!engine.accepts("mailbox_size")) sampler.resetHistory()
          return publish(resolved)
        }),
      settings: Effect.sync(() => current),
      subscribe: Effect.map(PubSub.subscribe(pubsub), (subscription) => Stream.fromSubscription(subscription)),
      activeAlerts: Effect.sync(() =>
        engine.activeAlerts().map((alert) => toEvent(runtime.node, alert) as AlertTriggered)
      ),
      record: (sample) =>
        Effect.suspend(() => {
          if (!engine.accepts(sample.kind)) return Effect.void
          const pid = sample.pid
          if (pid !== undefined && !sampler.isLive(pid)) return Effect.void
          const transition = engine.record(sample.kind, pid?.id ?? NODE, pid, sample.value, now(), wall())
          return transition === undefined ? Effect.void : publish([transition])
        }),
      sampleNow
    })
    return attachInternals(service, { engine, sampler })
  })

/**
 * The node's AlertManager, living as long as the layer: a sampler fiber reads the process table
 * and the event loop every `sampleInterval`, and restarts from `SupervisorEvents` when that service
 * is in the context (without it, `restart_rate` has no samples). Fails with
 * {@link InvalidAlertSettings} when an option is out of range. Releasing the layer stops the sampler
 * and ends the subscribers' streams.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { AlertManager, ProcessRuntime, SupervisorEvents } from "effect-otp"
 *
 * const NodeLive = AlertManager.layer({ sensitivityMultiplier: 4, cooldownMs: 120_000 }).pipe(
 *   Layer.provideMerge(Layer.mergeAll(ProcessRuntime.layer({ node: "a" }), SupervisorEvents.layer()))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options?: AlertOptions
): Layer.Layer<AlertManager, InvalidAlertSettings, ProcessRuntime.ProcessRuntime> =>
  Layer.effect(AlertManager, make(options))

/**
 * Changes the settings at run time; unset fields keep their value. Thresholds, counts and the
 * cooldown apply from the next sample; a new `sampleInterval` from the next wait. Disabling the
 * manager (`enabled: false`) or removing a kind from `kinds` resolves the alerts it covers at once
 * (reason `disabled`) and drops their baselines, so no alert stays active that nothing evaluates;
 * enabled again, baselines start from scratch. Fails with {@link InvalidAlertSettings} (changing
 * nothing) when a value is out of range.
 *
 * @example
 * ```ts
 * import { AlertManager } from "effect-otp"
 *
 * const quieter = AlertManager.configure({ sensitivityMultiplier: 5, cooldownMs: 600_000 })
 * const off = AlertManager.configure({ enabled: false })
 * ```
 *
 * @category configuration
 * @since 0.1.0
 */
export const configure = (options: AlertOptions): Effect.Effect<void, InvalidAlertSettings, AlertManager> =>
  AlertManager.use((manager) => manager.configure(options))

/**
 * The current settings.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AlertManager } from "effect-otp"
 *
 * const enabled = Effect.map(AlertManager.settings, (settings) => settings.enabled)
 * ```
 *
 * @category configuration
 * @since 0.1.0
 */
export const settings: Effect.Effect<AlertSettings, never, AlertManager> = AlertManager.use(
  (manager) => manager.settings
)

/**
 * Subscribes now (for the life of the scope) and returns the stream of alert transitions
 * published from this point on: nothing published after `subscribe` returns is missed, however
 * late the stream is run. A subscriber more than `capacity` events behind loses the oldest ones.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { AlertManager } from "effect-otp"
 *
 * const printAlerts = Effect.gen(function*() {
 *   const alerts = yield* AlertManager.subscribe
 *   yield* Stream.runForEach(alerts, (event) => Effect.log(`${event._tag} ${event.kind} ${event.subject}`))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category subscribing
 * @since 0.1.0
 */
export const subscribe: Effect.Effect<Stream.Stream<AlertEvent>, never, AlertManager | Scope.Scope> = AlertManager.use(
  (manager) => manager.subscribe
)

/**
 * The transitions published from the moment the stream starts running (it subscribes then); use
 * {@link subscribe} when none may be missed between setting up and running.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { AlertManager } from "effect-otp"
 *
 * const triggers = AlertManager.stream.pipe(Stream.filter((event) => event._tag === "AlertTriggered"))
 * ```
 *
 * @category subscribing
 * @since 0.1.0
 */
export const stream: Stream.Stream<AlertEvent, never, AlertManager> = Stream.unwrap(subscribe)

/**
 * The alerts active now (triggered and not yet resolved), oldest first.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AlertManager } from "effect-otp"
 *
 * const summary = Effect.map(AlertManager.activeAlerts, (alerts) =>
 *   alerts.map((alert) => `${alert.kind} ${alert.subject} ${alert.value} > ${alert.threshold}`)
 * )
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const activeAlerts: Effect.Effect<ReadonlyArray<AlertTriggered>, never, AlertManager> = AlertManager.use(
  (manager) => manager.activeAlerts
)

/**
 * Feeds one sample to the subject's baseline, as the sampler does: for figures the sampler does not
 * read (the latency of work a plain process does between receives, measured by the application).
 * Samples of a kind the sampler also reads for that subject go into the same series. A sample of a
 * pid that is not a live process of this node, or of a disabled kind, is dropped. A process's
 * state is freed once it exits (at the next sweep).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AlertManager, CurrentProcess } from "effect-otp"
 *
 * const timed = <A, E, R>(handler: Effect.Effect<A, E, R>) =>
 *   Effect.gen(function*() {
 *     const self = yield* CurrentProcess.CurrentProcess
 *     const start = performance.now()
 *     const result = yield* handler
 *     yield* AlertManager.record({ kind: "handler_latency", pid: self.pid, value: performance.now() - start })
 *     return result
 *   })
 * ```
 *
 * @category recording
 * @since 0.1.0
 */
export const record = (sample: AlertSample): Effect.Effect<void, never, AlertManager> =>
  AlertManager.use((manager) => manager.record(sample))

/**
 * Runs one sweep of the sampler now, besides the periodic ones (a sweep also frees the state of
 * processes that exited). The periodic sampler needs no call to this.
 *
 * @example
 * ```ts
 * import { AlertManager } from "effect-otp"
 *
 * const refresh = AlertManager.sampleNow
 * ```
 *
 * @category recording
 * @since 0.1.0
 */
export const sampleNow: Effect.Effect<void, never, AlertManager> = AlertManager.use((manager) => manager.sampleNow)

/**
 * The environment variables {@link config} reads (name, default, meaning), in the shape of
 * `ClusterConfig.variables`, for a node's table of variables.
 *
 * @example
 * ```ts
 * import { AlertManager } from "effect-otp"
 *
 * const names = AlertManager.variables.map((variable) => variable.name) // ["ALERTS_ENABLED", ...]
 * ```
 *
 * @category configuration
 * @since 0.1.0
 */
export const variables: ReadonlyArray<Env.Variable> = [
  {
    name: "ALERTS_ENABLED",
    default: String(defaults.enabled),
    meaning: "Whether the AlertManager samples and alerts."
  },
  {
    name: "ALERTS_SENSITIVITY_MULTIPLIER",
    default: String(defaults.sensitivityMultiplier),
    meaning: "k: an alert fires when a sample exceeds mean + k x stddev of its own baseline."
  },
  {
    name: "ALERTS_MIN_SAMPLES",
    default: String(defaults.minSamples),
    meaning: "Samples a baseline needs before it can alert."
  },
  {
    name: "ALERTS_COOLDOWN_MS",
    default: String(defaults.cooldownMs),
    meaning: "At most one alert per process (or node) and kind within this many milliseconds."
  },
  {
    name: "ALERTS_SAMPLE_INTERVAL_MS",
    default: String(Duration.toMillis(defaults.sampleInterval)),
    meaning: "How often the AlertManager samples mailboxes, handler latency, restarts and the event loop."
  }
]

/**
 * Options from the environment, every variable optional ({@link variables}): `ALERTS_ENABLED` (boolean),
 * `ALERTS_SENSITIVITY_MULTIPLIER` (a number > 0), `ALERTS_MIN_SAMPLES` (1 to 1000000),
 * `ALERTS_COOLDOWN_MS` (0 to 86400000), `ALERTS_SAMPLE_INTERVAL_MS` (10 to 3600000). A blank variable
 * counts as unset. Every variable is checked before an error is reported: the `ConfigError` names
 * each bad one. `NodeConfig.load` reads them with the same check and ranges.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { AlertManager } from "effect-otp"
 *
 * const FromEnv = Layer.unwrap(Effect.map(AlertManager.config, AlertManager.layer))
 * ```
 *
 * @category configuration
 * @since 0.1.0
 */
export const config: Config.Config<AlertOptions> = Env.texts(alertEnv.names).pipe(
  Config.mapEffect((env) => {
    const checked = alertEnv.check(env)
    return checked.ok ? Effect.succeed(checked.value) : Effect.fail(Env.toConfigError(checked.problems))
  })
)
