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
 * @internal
 */
import type * as Pid from "../../Process/Pid.ts"
import { Baseline } from "./alertBaseline.ts"

/** The kinds of alert. */
export type Kind = "mailbox_size" | "handler_latency" | "restart_rate" | "event_loop_delay"

/** Every kind, in a stable order. */
export const kinds: ReadonlyArray<Kind> = ["mailbox_size", "handler_latency", "restart_rate", "event_loop_delay"]

/** What a series is about: a process (by pid) or a node. `key` identifies it in the engine. */
export interface Subject {
  readonly key: string
  readonly node: string
  readonly pid: Pid.Pid | undefined
}

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
  readonly subject: Subject
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
  readonly subject: Subject
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

class Series {
  readonly baseline = new Baseline()
  alert: Triggered | undefined = undefined
  /** Consecutive samples below the resolve threshold while alerting. */
  below = 0
  /** Monotonic milliseconds of the last trigger. */
  lastTriggeredAt = Number.NEGATIVE_INFINITY
  lastValue = 0
}

interface SubjectState {
  readonly subject: Subject
  readonly series: Map<Kind, Series>
}

/** The engine of one AlertManager. */
export class AlertEngine {
  private readonly subjects = new Map<string, SubjectState>()
  private readonly active = new Map<Series, Triggered>()
  private enabledKinds: ReadonlySet<Kind>

  constructor(private current: Settings) {
    this.enabledKinds = new Set(current.kinds)
  }

  get settings(): Settings {
    return this.current
  }

  /** Subjects with state (for tests: nothing leaks). */
  get subjectCount(): number {
    return this.subjects.size
  }

  /** Subjects with state that are processes. */
  get processSubjectCount(): number {
    let n = 0
    for (const state of this.subjects.values()) if (state.subject.pid !== undefined) n++
    return n
  }

  /** The baseline of one series, if it has state. */
  baseline(
    key: string,
    kind: Kind
  ): { readonly count: number; readonly mean: number; readonly stddev: number } | undefined {
    return this.subjects.get(key)?.series.get(kind)?.baseline
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

  /** The subjects that are processes (to free those whose process exited). */
  *processSubjects(): IterableIterator<Subject> {
    for (const state of this.subjects.values()) if (state.subject.pid !== undefined) yield state.subject
  }

  /**
   * Feeds one sample. `now` is monotonic milliseconds (cooldown), `wall` wall-clock milliseconds
   * (the timestamps of the alerts).
   */
  record(kind: Kind, subject: Subject, value: number, now: number, wall: number): Transition | undefined {
    if (!this.accepts(kind) || !Number.isFinite(value)) return undefined
    let state = this.subjects.get(subject.key)
    if (state === undefined) {
      state = { subject, series: new Map() }
      this.subjects.set(subject.key, state)
    }
    let series = state.series.get(kind)
    if (series === undefined) {
      series = new Series()
      state.series.set(kind, series)
    }
    series.lastValue = value
    const settings = this.current
    const baseline = series.baseline
    const sigma = Math.max(baseline.stddev, settings.minStddev[kind])
    if (series.alert !== undefined) {
      const lower = baseline.mean + this.resolveMultiplier() * sigma
      if (value >= lower) {
        series.below = 0
        return undefined
      }
      series.below++
      if (series.below < settings.resolveSamples) return undefined
      return this.resolve(series, series.alert, value, lower, wall, "recovered")
    }
    const upper = baseline.mean + settings.sensitivityMultiplier * sigma
    if (baseline.count >= settings.minSamples && value > upper) {
      if (now - series.lastTriggeredAt < settings.cooldownMs) return undefined
      series.lastTriggeredAt = now
      series.below = 0
      const alert: Triggered = {
        _tag: "Triggered",
        kind,
        subject: state.subject,
        value,
        mean: baseline.mean,
        stddev: baseline.stddev,
        threshold: upper,
        at: wall
      }
      series.alert = alert
      this.active.set(series, alert)
      return alert
    }
    baseline.add(value, settings.baselineWindow)
    return undefined
  }

  /** Frees a subject's state; its active alerts resolve with `reason`. */
  forget(key: string, wall: number, reason: ResolveReason = "exited"): Array<Resolved> {
    const state = this.subjects.get(key)
    if (state === undefined) return []
    this.subjects.delete(key)
    const resolved: Array<Resolved> = []
    for (const series of state.series.values()) {
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
    for (const [key, state] of this.subjects) {
      for (const [kind, series] of state.series) {
        if (this.accepts(kind)) continue
        if (series.alert !== undefined) resolved.push(this.resolveNow(series, wall, "disabled"))
        state.series.delete(kind)
      }
      if (state.series.size === 0) this.subjects.delete(key)
    }
    return resolved
  }

  private resolveMultiplier(): number {
    const { resolveMultiplier, sensitivityMultiplier } = this.current
    return Math.min(resolveMultiplier ?? sensitivityMultiplier / 2, sensitivityMultiplier)
  }

  private resolveNow(series: Series, wall: number, reason: ResolveReason): Resolved {
    const sigma = Math.max(series.baseline.stddev, this.current.minStddev[series.alert!.kind])
    const lower = series.baseline.mean + this.resolveMultiplier() * sigma
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
      subject: alert.subject,
      value,
      mean: series.baseline.mean,
      stddev: series.baseline.stddev,
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
