/**
 * The Node.js runtime's metrics under the names of prom-client's default metrics
 * (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`,
 * `nodejs_heap_size_used_bytes`, `nodejs_gc_duration_seconds`, ...), so that existing Grafana
 * dashboards for Node.js services work unchanged. Read from `process` and `perf_hooks` when the
 * registry is rendered; the event-loop figures come from the layer's reader of the thread's one
 * shared event-loop delay sampler (10 ms ticks), read and reset by a fiber of the layer.
 *
 * @since 0.1.0
 */
import { readdirSync, readFileSync } from "node:fs"
import { constants, type Histogram as NodeHistogram, performance, PerformanceObserver } from "node:perf_hooks"
import { getHeapSpaceStatistics } from "node:v8"
import { type Duration, Effect, Layer, Schedule } from "effect"
import { Histogram, histogramState } from "../Process/internal/stats.ts"
import { Collector } from "./internal/collector.ts"
import { openReader } from "./internal/eventLoopMonitor.ts"

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import { RuntimeMetrics } from "effect-otp"
 *
 * const options: RuntimeMetrics.RuntimeMetricsOptions = { sampleInterval: "5 seconds" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface RuntimeMetricsOptions {
  /**
   * How often the event-loop figures are refreshed (delay percentiles, utilisation, lag), each
   * over the interval just ended. Default 10 seconds.
   */
  readonly sampleInterval?: Duration.Input | undefined
  /** Upper bounds (seconds) of `nodejs_gc_duration_seconds`. Default prom-client's: 0.001, 0.01, 0.1, 1, 2, 5. */
  readonly gcDurationBuckets?: ReadonlyArray<number> | undefined
}

const gcKinds: ReadonlyArray<readonly [number, string]> = [
  [constants.NODE_PERFORMANCE_GC_MINOR, "minor"],
  [constants.NODE_PERFORMANCE_GC_MAJOR, "major"],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, "incremental"],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, "weakcb"]
]

const PAGE_SIZE = 4096

/** Resident and virtual memory from /proc (Linux); resident from `process.memoryUsage` elsewhere. */
const procStatus = (): { readonly resident: number; readonly virtual: number | undefined } => {
  try {
    const fields = readFileSync("/proc/self/statm", "utf8").split(" ")
    return { virtual: Number(fields[0]) * PAGE_SIZE, resident: Number(fields[1]) * PAGE_SIZE }
  } catch {
    return { resident: process.memoryUsage.rss(), virtual: undefined }
  }
}

const openFds = (): number | undefined => {
  try {
    return readdirSync("/proc/self/fd").length
  } catch {
    return undefined
  }
}

interface LoopSample {
  min: number
  max: number
  mean: number
  stddev: number
  p50: number
  p90: number
  p99: number
  lag: number
  utilization: number
}

const emptySample = (): LoopSample => ({
  min: 0,
  max: 0,
  mean: 0,
  stddev: 0,
  p50: 0,
  p90: 0,
  p99: 0,
  lag: 0,
  utilization: 0
})

const nanosToSeconds = (nanos: number): number => (Number.isFinite(nanos) ? nanos / 1e9 : 0)

/** Copies the delay histogram's figures into `sample` (seconds) and starts a new interval. */
const sampleLoop = (delay: NodeHistogram, sample: LoopSample): void => {
  if (delay.count > 0) {
    sample.min = nanosToSeconds(delay.min)
    sample.max = nanosToSeconds(delay.max)
    sample.mean = nanosToSeconds(delay.mean)
    sample.stddev = nanosToSeconds(delay.stddev)
    sample.p50 = nanosToSeconds(delay.percentile(50))
    sample.p90 = nanosToSeconds(delay.percentile(90))
    sample.p99 = nanosToSeconds(delay.percentile(99))
  }
  delay.reset()
}

/** How long a `setImmediate` waits for the event loop right now, in seconds. */
const measureLag = Effect.callback<number>((resume) => {
  const start = performance.now()
  const handle = setImmediate(() => resume(Effect.succeed((performance.now() - start) / 1000)))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Serves the Node.js runtime's metrics, under prom-client's default names, from the registry of the
 * context it is built in, while the layer lives. docs/METRICS.md lists them.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpEndpoint, Metrics, RuntimeMetrics } from "effect-otp"
 *
 * const Scraped = Layer.mergeAll(RuntimeMetrics.layer(), Metrics.layerHttp).pipe(
 *   Layer.provideMerge(HttpEndpoint.layer({ port: 9464 }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: RuntimeMetricsOptions): Layer.Layer<never> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const collector = yield* Collector.make
      const startTimeSeconds = Math.round((Date.now() - performance.now()) / 1000)

      collector.counter(
        "process_cpu_user_seconds_total",
        "Total user CPU time spent in seconds.",
        () => process.cpuUsage().user / 1e6
      )
      collector.counter(
        "process_cpu_system_seconds_total",
        "Total system CPU time spent in seconds.",
        () => process.cpuUsage().system / 1e6
      )
      collector.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", () => {
        const usage = process.cpuUsage()
        return (usage.user + usage.system) / 1e6
      })
      collector.gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        () => startTimeSeconds
      )
      collector.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", () => procStatus().resident)
      if (procStatus().virtual !== undefined) {
        collector.gauge(
          "process_virtual_memory_bytes",
          "Virtual memory size in bytes.",
          () => procStatus().virtual ?? 0
        )
      }
      collector.gauge("process_heap_bytes", "Process heap size in bytes.", () => process.memoryUsage().heapTotal)
      if (openFds() !== undefined) {
        collector.gauge("process_open_fds", "Number of open file descriptors.", () => openFds() ?? 0)
      }

      collector.gauge(
        "nodejs_heap_size_total_bytes",
        "Process heap size from Node.js in bytes.",
        () => process.memoryUsage().heapTotal
      )
      collector.gauge(
        "nodejs_heap_size_used_bytes",
        "Process heap size used from Node.js in bytes.",
        () => process.memoryUsage().heapUsed
      )
      collector.gauge(
        "nodejs_external_memory_bytes",
        "Node.js external memory size in bytes.",
        () => process.memoryUsage().external
      )
      for (const { space_name } of getHeapSpaceStatistics()) {
        const space = space_name.replace(/_space$/, "")
        const of = () => getHeapSpaceStatistics().find((s) => s.space_name === space_name)
        collector.gauge(
          "nodejs_heap_space_size_total_bytes",
          "Process heap space size total from Node.js in bytes.",
          () => of()?.space_size ?? 0,
          { space }
        )
        collector.gauge(
          "nodejs_heap_space_size_used_bytes",
          "Process heap space size used from Node.js in bytes.",
          () => of()?.space_used_size ?? 0,
          { space }
        )
        collector.gauge(
          "nodejs_heap_space_size_available_bytes",
          "Process heap space size available from Node.js in bytes.",
          () => of()?.space_available_size ?? 0,
          { space }
        )
      }
      const [major = "0", minor = "0", patch = "0"] = process.versions.node.split(".")
      collector.gauge("nodejs_version_info", "Node.js version info.", () => 1, {
        version: process.version,
        major,
        minor,
        patch
      })
      // Event loop: delay percentiles over the last interval, utilisation over it, and lag.
      const reader = yield* Effect.acquireRelease(Effect.sync(openReader), (reader) => Effect.sync(reader.close))
      const delay = reader.histogram
      const sample = emptySample()
      let lastUtilization = performance.eventLoopUtilization()
      const loopSeries: ReadonlyArray<readonly [string, string, keyof LoopSample]> = [
        ["nodejs_eventloop_lag_seconds", "Lag of event loop in seconds.", "lag"],
        ["nodejs_eventloop_lag_min_seconds", "The minimum recorded event loop delay.", "min"],
        ["nodejs_eventloop_lag_max_seconds", "The maximum recorded event loop delay.", "max"],
        ["nodejs_eventloop_lag_mean_seconds", "The mean of the recorded event loop delays.", "mean"],
        ["nodejs_eventloop_lag_stddev_seconds", "The standard deviation of the recorded event loop delays.", "stddev"],
        ["nodejs_eventloop_lag_p50_seconds", "The 50th percentile of the recorded event loop delays.", "p50"],
        ["nodejs_eventloop_lag_p90_seconds", "The 90th percentile of the recorded event loop delays.", "p90"],
        ["nodejs_eventloop_lag_p99_seconds", "The 99th percentile of the recorded event loop delays.", "p99"],
        [
          "nodejs_eventloop_utilization_ratio",
          "Share of the last sampling interval the event loop was busy (0 to 1).",
          "utilization"
        ]
      ]
      for (const [name, description, field] of loopSeries) collector.gauge(name, description, () => sample[field])
      const refresh = Effect.flatMap(measureLag, (lag) =>
        Effect.sync(() => {
          sampleLoop(delay, sample)
          const now = performance.eventLoopUtilization()
          sample.utilization = performance.eventLoopUtilization(now, lastUtilization).utilization
          lastUtilization = now
          sample.lag = lag
        })
      )
      yield* Effect.forkScoped(Effect.repeat(refresh, Schedule.spaced(options?.sampleInterval ?? "10 seconds")))

      // Garbage collection: each pause observed into a histogram per kind.
      const bounds = options?.gcDurationBuckets ?? [0.001, 0.01, 0.1, 1, 2, 5]
      const gc = new Map(gcKinds.map(([kind, name]) => [kind, { name, histogram: new Histogram(bounds) }]))
      for (const { name, histogram } of gc.values()) {
        collector.histogram(
          "nodejs_gc_duration_seconds",
          "Garbage collection duration by kind, one of major, minor, incremental or weakcb.",
          bounds,
          () => histogramState(histogram),
          { kind: name }
        )
      }
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          const kind = (entry as { readonly detail?: { readonly kind?: number } }).detail?.kind
          if (kind !== undefined) gc.get(kind)?.histogram.observe(entry.duration / 1000)
        }
      })
      observer.observe({ entryTypes: ["gc"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => observer.disconnect()))
    })
  )
