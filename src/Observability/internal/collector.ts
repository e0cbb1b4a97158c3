/**
 * Series whose values are read when the metric registry is snapshot (a `/metrics` render), with
 * `Metric.registerUnsafe`: the source keeps plain numbers, and nothing runs between scrapes.
 *
 * @internal
 */
import { type Context, Effect, Metric, type Scope } from "effect"

type Attributes = Readonly<Record<string, string>>

/** Registers render-time series in one registry; all are removed when its scope closes. */
export class Collector {
  private readonly registrations = new Set<Metric.Registration>()

  constructor(private readonly context: Context.Context<never>) {}

  /** A Collector on the current context's registry, removing its series when the scope closes. */
  static readonly make: Effect.Effect<Collector, never, Scope.Scope> = Effect.acquireRelease(
    Effect.contextWith((context: Context.Context<never>) => Effect.sync(() => new Collector(context))),
    (collector) => Effect.sync(() => collector.removeAll())
  )

  private register<S>(metric: Metric.Metric<never, S>, attributes: Attributes | undefined, get: () => S): () => void {
    const series = attributes === undefined ? metric : Metric.withAttributes(metric, attributes)
    const registration = Metric.registerUnsafe(series, this.context, {
      get,
      update: () => {},
      modify: () => {}
    })
    this.registrations.add(registration)
    return () => {
      if (this.registrations.delete(registration)) registration.remove()
    }
  }

  gauge(name: string, description: string, get: () => number, attributes?: Attributes): () => void {
    return this.register(Metric.gauge(name, { description }), attributes, () => ({ value: get() }))
  }

  counter(name: string, description: string, get: () => number, attributes?: Attributes): () => void {
    return this.register(Metric.counter(name, { description, incremental: true }), attributes, () => ({
      count: get(),
      incremental: true
    }))
  }

  histogram(
    name: string,
    description: string,
    boundaries: ReadonlyArray<number>,
    get: () => Metric.HistogramState,
    attributes?: Attributes
  ): () => void {
    return this.register(Metric.histogram(name, { description, boundaries }), attributes, get)
  }

  /** Runs `effect`-free work on the collector's registry: counters updated from callbacks. */
  increment(metric: Metric.Metric<number, unknown>, attributes: Attributes, by = 1): void {
    Metric.withAttributes(metric, attributes).updateUnsafe(by, this.context)
  }

  removeAll(): void {
    for (const registration of this.registrations) registration.remove()
    this.registrations.clear()
  }
}
