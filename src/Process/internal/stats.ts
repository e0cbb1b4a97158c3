/**
 * Plain counters a process runtime keeps for its metrics: spawns, exits by reason, messages
 * handled by behaviour, and local calls (count, failures by reason, a sampled duration histogram).
 * Updating one costs an increment; the metrics layer reads them when `/metrics` is rendered, so the
 * hot paths never touch a metric registry.
 *
 * @internal
 */
import { type Context, Effect, type Exit, Metric, type Scope } from "effect"
import type * as ExitReason from "../ExitReason.ts"

/** A histogram of plain numbers: `counts[i]` holds the values in `(bounds[i-1], bounds[i]]`. */
export class Histogram {
  readonly counts: Float64Array
  count = 0
  sum = 0
  min = Number.MAX_VALUE
  max = -Number.MAX_VALUE

  /** @param bounds ascending upper bounds; values above the last fall in the +Inf bucket. */
  constructor(readonly bounds: ReadonlyArray<number>) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe(value: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    this.counts[i]!++
    this.count++
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
  }
}

/** A counter per label value. */
export class Tally {
  readonly counts = new Map<string, { n: number }>()
  /** Told of each label when it is first counted (the metrics layer registers its series then). */
  private readonly listeners = new Set<(label: string, cell: { readonly n: number }) => void>()

  /** The cell of `label`, created at zero: keep it to count with `cell.n++`. */
  cell(label: string): { n: number } {
    let cell = this.counts.get(label)
    if (cell === undefined) {
      cell = { n: 0 }
      this.counts.set(label, cell)
      for (const listener of this.listeners) listener(label, cell)
    }
    return cell
  }

  /** Calls `listener` for every label, now and when one first appears; returns how to stop. */
  watch(listener: (label: string, cell: { readonly n: number }) => void): () => void {
    this.listeners.add(listener)
    for (const [label, cell] of this.counts) listener(label, cell)
    return () => this.listeners.delete(listener)
  }

  add(label: string, n = 1): void {
    this.cell(label).n += n
  }
}

/** Seconds: 50 µs to 10 s. */
export const durationBounds: ReadonlyArray<number> = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
]

/** One local call in how many has its duration observed (a power of two). */
export const CALL_SAMPLE_EVERY = 16

/** The exit reason as a metric label: `normal`, `shutdown`, `killed`, `noproc`, `noconnection`, `failure`. */
export const reasonLabel = (reason: ExitReason.ExitReason): string => {
  switch (reason._tag) {
    case "Normal":
      return "normal"
    case "Shutdown":
      return "shutdown"
    case "Killed":
      return "killed"
    case "NoProc":
      return "noproc"
    case "NoConnection":
      return "noconnection"
    case "Failure":
      return "failure"
  }
}

/** The `_tag` of a call's failure (`CallTimeout`, `NoProcess`, a declared error ...), or `defect`. */
export const failureLabel = (exit: Exit.Exit<unknown, unknown>): string => {
  if (exit._tag === "Success") return "none"
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Fail") {
      const error = reason.error
      const tag = typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag : undefined
      return typeof tag === "string" ? tag : "error"
    }
    if (reason._tag === "Interrupt") return "interrupted"
  }
  return "defect"
}

/** Local calls: their count, failures by reason and a sampled duration histogram (seconds). */
export class CallStats {
  total = 0
  readonly failures = new Tally()
  readonly durations = new Histogram(durationBounds)

  /** Counts a call; returns its start time (milliseconds on `now`) if it is sampled, else 0. */
  started(now: () => number): number {
    return (++this.total & (CALL_SAMPLE_EVERY - 1)) === 0 ? now() || Number.MIN_VALUE : 0
  }

  settled(exit: Exit.Exit<unknown, unknown>, startedAt: number, now: () => number): void {
    if (exit._tag === "Failure") this.failures.add(failureLabel(exit))
    if (startedAt !== 0) this.durations.observe(Math.max(0, now() - startedAt) / 1000)
  }
}

/** Everything a runtime counts. */
export class RuntimeStats {
  spawns = 0
  readonly exits = new Tally()
  /** Messages handled by GenServers, by behaviour name. */
  readonly handled = new Tally()
  readonly calls = new CallStats()
}

/** A histogram's state in the form Effect's `Metric` snapshots use (cumulative buckets, +Inf last). */
export const histogramState = (histogram: Histogram): Metric.HistogramState => {
  const buckets: Array<[number, number]> = []
  let cumulative = 0
  for (let i = 0; i < histogram.bounds.length; i++) {
    cumulative += histogram.counts[i]!
    buckets.push([histogram.bounds[i]!, cumulative])
  }
  buckets.push([Number.POSITIVE_INFINITY, histogram.count])
  return {
    buckets,
    count: histogram.count,
    sum: histogram.sum,
    min: histogram.count === 0 ? 0 : histogram.min,
    max: histogram.count === 0 ? 0 : histogram.max
  }
}

/**
 * Serves `histogram` as the series `metric` of the registry in `context` until `scope` closes: its
 * state is read when the registry is snapshot (a `/metrics` render), never on the hot path.
 */
export const registerHistogram = (
  metric: Metric.Metric<number, Metric.HistogramState>,
  histogram: Histogram
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.contextWith((context: Context.Context<never>) =>
      Effect.sync(() =>
        Metric.registerUnsafe(metric, context, {
          get: () => histogramState(histogram),
          update: () => {},
          modify: () => {}
        })
      )
    ),
    (registration) => Effect.sync(() => registration.remove())
  ).pipe(Effect.asVoid)
