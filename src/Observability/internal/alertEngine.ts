/**
 * The alert engine: pure bookkeeping with no effects and no clock of its own. Each sample of a
 * (subject, kind) series goes through {@link AlertEngine.record}, which returns the transition it
 * caused (an alert triggered or resolved) or `undefined`. The AlertManager layer drives it from a
 * sampler fiber and publishes the transitions.
 *
 * Rules, per (subject, kind):
 * - a sample above `mean + k * sigma` (after `minSamples` samples fed the baseline) triggers an
 *   alert, unless one was triggered less than `cooldownMs` ago; `sigma` is the baseline's standard
 *   deviation, at least the kind's `minStddev` (a flat baseline would otherwise alert on any change);
 * - samples above the trigger threshold, and every sample while an alert is active, do not feed
 *   the baseline: an anomaly does not become the new normal;
 * - an active alert resolves after `resolveSamples` consecutive samples below
 *   `mean + r * sigma` (`r` = `resolveMultiplier`, at most `k`): values between the two thresholds
 *   neither resolve it nor start a new one, so the alert does not flap;
 * - {@link AlertEngine.forget} frees a subject (its process exited), resolving its alerts.
 *
 * Subjects are numbers: a local process's pid id, or {@link NODE} for the node itself. A series is
 * one object (its baseline inline). A series can start with `priorZeros` samples of 0 already
 * counted, so that the sampler keeps no state at all for a process whose figure was always 0 (most
 * mailboxes): it creates the series when the first other value arrives.
 *
 * @internal
 */
import type * as Pid from "../../Process/Pid.ts"
import { Baseline } from "./alertBaseline.ts"

/** The kinds of alert. */
export type Kind = "mailbox_size" | "handler_latency" | "restart_rate" | "event_loop_delay"

/** Every kind, in a stable order. */
export const kinds: ReadonlyArray<Kind> = ["mailbox_size", "handler_latency", "restart_rate", "event_loop_delay"]

/** The subject id of the node itself (no process has id 0). */
export const NODE = 0

/** Why an alert resolved. */
export type ResolveReason = "recovered" | "exited" | "disabled"

/** The engine's settings, complete. */
export interface Settings {
  readonly enabled: boolean
  readonly sensitivityMultiplier: number
  /** `undefined`: half the sensitivity multiplier. */
  readonly resolveMultiplier: number | undefined
  readonly resolveSamples: number
  readonly minSamples: number
  readonly cooldownMs: number
  readonly baselineWindow: number
  readonly kinds: ReadonlyArray<Kind>
  readonly minStddev: Readonly<Record<Kind, number>>
}

/** An alert as it was triggered. */
export interface Triggered {
  readonly _tag: "Triggered"
  readonly kind: Kind
  /** The subject: a pid id, or {@link NODE}. */
  readonly id: number
  readonly pid: Pid.Pid | undefined
  readonly value: number
  readonly mean: number
  readonly stddev: number
  readonly threshold: number
  /** Wall-clock milliseconds. */
  readonly at: number
}

/** An alert that ended. */
export interface Resolved {
  readonly _tag: "Resolved"
  readonly kind: Kind
  readonly id: number
  readonly pid: Pid.Pid | undefined
  readonly value: number
  readonly mean: number
  readonly stddev: number
  /** The resolve (lower) threshold. */
  readonly threshold: number
  readonly at: number
  /** When the alert was triggered (wall-clock milliseconds). */
  readonly since: number
  readonly reason: ResolveReason
}

/** A change of an alert's state. */
export type Transition = Triggered | Resolved

/** One (subject, kind) series: its baseline and its alert state. */
class Series extends Baseline {
  alert: Triggered | undefined = undefined
  /** Consecutive samples below the resolve threshold while alerting. */
  below = 0
  /** Monotonic milliseconds of the last trigger. */
  lastTriggeredAt = Number.NEGATIVE_INFINITY
  lastValue = 0

  constructor(
    readonly kind: Kind,
    readonly id: number,
    readonly pid: Pid.Pid | undefined
  ) {
    super()
  }
}

/** The engine of one AlertManager. */
export class AlertEngine {
  private readonly series: Record<Kind, Map<number, Series>> = {
    mailbox_size: new Map(),
    handler_latency: new Map(),
    restart_rate: new Map(),
    event_loop_delay: new Map()
  }
  private readonly active = new Map<Series, Triggered>()
  private enabledKinds: ReadonlySet<Kind>

  constructor(private current: Settings) {
    this.enabledKinds = new Set(current.kinds)
  }

  get settings(): Settings {
    return this.current
  }

  /** Subjects with state, the node included (for tests: nothing leaks). */
  get subjectCount(): number {
    const ids = new Set<number>()
    for (const kind of kinds) for (const id of this.series[kind].keys()) ids.add(id)
    return ids.size
  }

  /** Subjects with state that are processes. */
  get processSubjectCount(): number {
    const ids = new Set<number>()
    for (const kind of kinds) for (const id of this.series[kind].keys()) if (id !== NODE) ids.add(id)
    return ids.size
  }

  /** Whether a series has state. */
  has(kind: Kind, id: number): boolean {
    return this.series[kind].has(id)
  }

  /** The baseline of one series, if it has state. */
  baseline(
    id: number,
    kind: Kind
  ): { readonly count: number; readonly mean: number; readonly stddev: number } | undefined {
    return this.series[kind].get(id)
  }

  /** Whether samples of `kind` are evaluated now. */
  accepts(kind: Kind): boolean {
    return this.current.enabled && this.enabledKinds.has(kind)
  }

  /** The alerts active now, oldest first. */
  activeAlerts(): Array<Triggered> {
    return Array.from(this.active.values())
  }

  /** Active alerts of one kind. */
  activeCount(kind: Kind): number {
    let n = 0
    for (const alert of this.active.values()) if (alert.kind === kind) n++
    return n
  }

  /** The processes that have state, with their pids (to free those that exited). */
  *processSubjects(): IterableIterator<Pid.Pid> {
    for (const kind of kinds) {
      for (const series of this.series[kind].values()) if (series.pid !== undefined) yield series.pid
    }
  }

  /**
   * Feeds one sample of subject `id` (`pid` for a process). `now` is monotonic milliseconds
   * (cooldown), `wall` wall-clock milliseconds (the timestamps of the alerts). A series created by
   * this sample first counts `priorZeros` samples of 0 (see the module's documentation).
   */
  record(
    kind: Kind,
    id: number,
    pid: Pid.Pid | undefined,
    value: number,
    now: number,
    wall: number,
    priorZeros = 0
  ): Transition | undefined {
    if (!this.accepts(kind) || !Number.isFinite(value)) return undefined
    const settings = this.current
    const map = this.series[kind]
    let series = map.get(id)
    if (series === undefined) {
      series = new Series(kind, id, pid)
      series.count = Math.min(priorZeros, Math.max(settings.minSamples, settings.baselineWindow))
      map.set(id, series)
    }
    series.lastValue = value
    const sigma = Math.max(series.stddev, settings.minStddev[kind])
    if (series.alert !== undefined) {
      const lower = series.mean + this.resolveMultiplier() * sigma
      if (value >= lower) {
        series.below = 0
        return undefined
      }
      series.below++
      if (series.below < settings.resolveSamples) return undefined
      return this.resolve(series, series.alert, value, lower, wall, "recovered")
    }
    const upper = series.mean + settings.sensitivityMultiplier * sigma
    if (series.count >= settings.minSamples && value > upper) {
      if (now - series.lastTriggeredAt < settings.cooldownMs) return undefined
      series.lastTriggeredAt = now
      series.below = 0
      const alert: Triggered = {
        _tag: "Triggered",
        kind,
        id,
        pid: series.pid,
        value,
        mean: series.mean,
        stddev: series.stddev,
        threshold: upper,
        at: wall
      }
      series.alert = alert
      this.active.set(series, alert)
      return alert
    }
    series.add(value, settings.baselineWindow)
    return undefined
  }

  /** Frees a subject's state; its active alerts resolve with `reason`. */
  forget(id: number, wall: number, reason: ResolveReason = "exited"): Array<Resolved> {
    const resolved: Array<Resolved> = []
    for (const kind of kinds) {
      const map = this.series[kind]
      const series = map.get(id)
      if (series === undefined) continue
      map.delete(id)
      if (series.alert !== undefined) resolved.push(this.resolveNow(series, wall, reason))
    }
    return resolved
  }

  /**
   * Changes the settings. Disabling the manager (or a kind) resolves its active alerts with reason
   * `disabled` and frees their baselines: enabled again, they start from scratch.
   */
  configure(settings: Settings, wall: number): Array<Resolved> {
    this.current = settings
    this.enabledKinds = new Set(settings.kinds)
    const resolved: Array<Resolved> = []
    for (const kind of kinds) {
      if (this.accepts(kind)) continue
      const map = this.series[kind]
      for (const series of map.values()) {
        if (series.alert !== undefined) resolved.push(this.resolveNow(series, wall, "disabled"))
      }
      map.clear()
    }
    return resolved
  }

  private resolveMultiplier(): number {
    const { resolveMultiplier, sensitivityMultiplier } = this.current
    return Math.min(resolveMultiplier ?? sensitivityMultiplier / 2, sensitivityMultiplier)
  }

  private resolveNow(series: Series, wall: number, reason: ResolveReason): Resolved {
    const sigma = Math.max(series.stddev, this.current.minStddev[series.kind])
    const lower = series.mean + this.resolveMultiplier() * sigma
    return this.resolve(series, series.alert!, series.lastValue, lower, wall, reason)
  }

  private resolve(
    series: Series,
    alert: Triggered,
    value: number,
    threshold: number,
    wall: number,
    reason: ResolveReason
  ): Resolved {
    series.alert = undefined
    series.below = 0
    this.active.delete(series)
    return {
      _tag: "Resolved",
      kind: alert.kind,
      id: alert.id,
      pid: alert.pid,
      value,
      mean: series.mean,
      stddev: series.stddev,
      threshold,
      at: wall,
      since: alert.at,
      reason
    }
  }
}

const internalsKey = Symbol.for("effect-otp/AlertManager/internals")

/** What a service built by the AlertManager layer runs on (tests read their state). */
export interface Internals {
  readonly engine: AlertEngine
  readonly sampler: { readonly delaySamples: number }
}

/** Marks a service as backed by these internals. */
export const attachInternals = <S extends object>(service: S, internals: Internals): S => {
  Object.defineProperty(service, internalsKey, { value: internals })
  return service
}

/** The internals behind an AlertManager service built by its layer. */
export const internalsOf = (service: object): Internals =>
  (service as { readonly [internalsKey]: Internals })[internalsKey]

/** The engine behind an AlertManager service built by its layer. */
export const engineOf = (service: object): AlertEngine => internalsOf(service).engine
