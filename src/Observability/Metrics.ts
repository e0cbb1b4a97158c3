/**
 * The node's metrics as Effect `Metric`s, rendered in the Prometheus text format by
 * `effect/observability`'s `PrometheusMetrics`: processes, mailboxes, calls, supervisors,
 * membership and the links to other nodes. Every name starts with `effect_otp_`, values are in base
 * units (seconds, bytes), counters end in `_total`, and labels are bounded (kind, behaviour,
 * reason, peer node: never a pid). docs/METRICS.md lists them all.
 *
 * Most values are read when `/metrics` is rendered, from plain counters the runtime keeps, so the
 * hot paths (send, call, reply) never touch the metric registry.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Metric, Option } from "effect"
import * as Cluster from "../Cluster/Cluster.ts"
import type * as ClusterEvent from "../Cluster/ClusterEvent.ts"
import * as GlobalRegistry from "../Cluster/GlobalRegistry.ts"
import { runtimeOf } from "../Process/internal/context.ts"
import { CALL_SAMPLE_EVERY, durationBounds, Histogram, histogramState } from "../Process/internal/stats.ts"
import * as ProcessRuntime from "../Process/ProcessRuntime.ts"
import { escalationsTotal, restartsTotal } from "../Supervisor/internal/reporter.ts"
import * as HttpEndpoint from "./HttpEndpoint.ts"
import { Collector } from "./internal/collector.ts"

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import { Metrics } from "effect-otp"
 *
 * const options: Metrics.MetricsOptions = { mailboxDepthBuckets: [0, 10, 100, 1000] }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface MetricsOptions {
  /** Upper bounds of the `effect_otp_mailbox_depth` histogram. Default 0, 1, 10, 100, 1k, 10k, 100k. */
  readonly mailboxDepthBuckets?: ReadonlyArray<number> | undefined
}

const defaultDepthBuckets = [0, 1, 10, 100, 1000, 10_000, 100_000]

/** The kind of a process, from its behaviour: `process`, `gen_server` or `supervisor`. */
const kindOf = (behaviour: string | undefined): "process" | "gen_server" | "supervisor" =>
  behaviour === undefined
    ? "process"
    : behaviour === "supervisor" || behaviour === "dynamic_supervisor"
      ? "supervisor"
      : "gen_server"

const exitReasons = ["normal", "shutdown", "killed", "noproc", "noconnection", "failure"] as const

const nodeStatuses: ReadonlyArray<ClusterEvent.NodeStatus> = ["starting", "running", "stopping", "stopped"]

const nodeDownReasons: ReadonlyArray<ClusterEvent.NodeDownReason> = [
  "heartbeat_timeout",
  "connection_closed",
  "graceful_shutdown"
]

const nodeEventsTotal = Metric.counter("effect_otp_cluster_node_events_total", {
  description: "Other nodes seen going up or down, by event and reason",
  incremental: true
})

/**
 * One pass over the process table per render: `refresh` scans (the first series a render reads
 * calls it: the registry keeps registration order), `read` returns the last scan.
 */
const processScan = (runtime: ReturnType<typeof runtimeOf>, depthBuckets: ReadonlyArray<number>) => {
  const result = {
    byKind: { process: 0, gen_server: 0, supervisor: 0 },
    names: 0,
    maxDepth: 0,
    depths: new Histogram(depthBuckets)
  }
  const refresh = () => {
    result.byKind = { process: 0, gen_server: 0, supervisor: 0 }
    result.maxDepth = 0
    result.depths = new Histogram(depthBuckets)
    for (const cell of runtime.processes()) {
      result.byKind[kindOf(cell.behaviour?.name)]++
      const depth = cell.mailbox.size
      result.depths.observe(depth)
      if (depth > result.maxDepth) result.maxDepth = depth
    }
    let names = 0
    for (const _ of runtime.registeredNames()) names++
    result.names = names
    return result
  }
  return { refresh, read: () => result }
}

const registerRuntime = (
  collector: Collector,
  service: ProcessRuntime.ProcessRuntime["Service"],
  options?: MetricsOptions
) => {
  const runtime = runtimeOf(service)
  const stats = runtime.stats
  const scan = processScan(runtime, options?.mailboxDepthBuckets ?? defaultDepthBuckets)
  for (const kind of ["process", "gen_server", "supervisor"] as const) {
    const read = kind === "process" ? scan.refresh : scan.read
    collector.gauge("effect_otp_processes", "Live processes, by kind", () => read().byKind[kind], { kind })
  }
  collector.gauge("effect_otp_registered_names", "Locally registered process names", () => scan.read().names)
  collector.gauge("effect_otp_mailbox_depth_max", "Messages waiting in the fullest mailbox", () => scan.read().maxDepth)
  collector.histogram(
    "effect_otp_mailbox_depth",
    "Messages waiting per mailbox, over the live processes (read at scrape time)",
    scan.read().depths.bounds,
    () => histogramState(scan.read().depths)
  )
  collector.counter("effect_otp_spawns_total", "Processes spawned", () => stats.spawns)
  for (const reason of exitReasons) stats.exits.cell(reason)
  const unwatchExits = stats.exits.watch((reason, cell) =>
    collector.counter("effect_otp_exits_total", "Processes exited, by reason", () => cell.n, { reason })
  )
  const unwatchHandled = stats.handled.watch((behaviour, cell) =>
    collector.counter(
      "effect_otp_messages_handled_total",
      "Messages handled by GenServers, by behaviour",
      () => cell.n,
      {
        behaviour
      }
    )
  )
  collector.counter("effect_otp_calls_total", "Local GenServer calls made", () => stats.calls.total)
  const unwatchFailures = stats.calls.failures.watch((reason, cell) =>
    collector.counter("effect_otp_call_failures_total", "Failed local GenServer calls, by reason", () => cell.n, {
      reason
    })
  )
  collector.histogram(
    "effect_otp_call_duration_seconds",
    `Duration of local GenServer calls (one call in ${CALL_SAMPLE_EVERY} is timed)`,
    durationBounds,
    () => histogramState(stats.calls.durations)
  )
  return () => {
    unwatchExits()
    unwatchHandled()
    unwatchFailures()
  }
}

const registerCluster = (collector: Collector, cluster: Cluster.Cluster["Service"]) =>
  Effect.gen(function* () {
    let status: ClusterEvent.NodeStatus = yield* cluster.status
    for (const value of nodeStatuses) {
      collector.gauge(
        "effect_otp_cluster_status",
        "This node's status: 1 for the current one",
        () => (status === value ? 1 : 0),
        { status: value }
      )
    }
    let nodesUp = yield* cluster.connectedNodeCount
    collector.gauge("effect_otp_cluster_nodes_up", "Other nodes of the cluster that are up", () => nodesUp)
    collector.increment(nodeEventsTotal, { event: "up", reason: "joined" }, 0)
    for (const reason of nodeDownReasons) collector.increment(nodeEventsTotal, { event: "down", reason }, 0)
    yield* cluster.onEvent((event) => {
      switch (event._tag) {
        case "NodeUp":
          nodesUp++
          return collector.increment(nodeEventsTotal, { event: "up", reason: "joined" })
        case "NodeDown":
          nodesUp = Math.max(0, nodesUp - 1)
          return collector.increment(nodeEventsTotal, { event: "down", reason: event.reason })
        case "StatusChanged":
          if (event.id === cluster.localNodeId) status = event.to
          return
      }
    })
    // The events above keep the figures current; this corrects any drift (an event missed while
    // the layer was being built) at no cost between scrapes.
    nodesUp = yield* cluster.connectedNodeCount
    yield* registerLinks(collector, cluster)
  })

const linkSeries = [
  ["effect_otp_transport_frames_received_total", "Frames received from a peer node", "framesIn"],
  ["effect_otp_transport_frames_sent_total", "Frames sent to a peer node", "framesOut"],
  ["effect_otp_transport_received_bytes_total", "Bytes of frames received from a peer node", "bytesIn"],
  ["effect_otp_transport_sent_bytes_total", "Bytes of frames sent to a peer node", "bytesOut"]
] as const

/** Per peer: frames and bytes in and out on its link, and bytes waiting to be sent; while it is linked. */
const registerLinks = (collector: Collector, cluster: Cluster.Cluster["Service"]) => {
  const transport = cluster.transport
  const peers = new Map<string, Array<() => void>>()
  const add = (peer: string) => {
    if (peers.has(peer)) return
    const link = () => transport.linkUnsafe(peer)
    const removers = linkSeries.map(([name, description, field]) =>
      collector.counter(name, `${description} (since the link came up)`, () => link()?.[field] ?? 0, { peer })
    )
    removers.push(
      collector.gauge(
        "effect_otp_transport_buffered_bytes",
        "Bytes waiting to be sent to a peer node",
        () => link()?.bufferedBytes ?? 0,
        {
          peer
        }
      )
    )
    peers.set(peer, removers)
  }
  const remove = (peer: string) => {
    for (const stop of peers.get(peer) ?? []) stop()
    peers.delete(peer)
  }
  return Effect.gen(function* () {
    yield* transport.onLinkEvent((event) => (event._tag === "LinkUp" ? add(event.node.name) : remove(event.node.name)))
    for (const link of yield* transport.links) add(link.node.name)
  })
}

/**
 * Serves this node's metrics from the registry of the context it is built in (Effect's default
 * registry unless `Metric.MetricRegistry` is provided): the process table, local calls and, when
 * the node is in a cluster, its status, the other nodes and the traffic on each link. Values are
 * read when the registry is rendered; the series go away when the layer is released.
 *
 * Needs the node's `ProcessRuntime`; uses its `Cluster` and `GlobalRegistry` when there are. Remote calls, casts,
 * spawns, monitors and links are published by the distribution layer itself (`effect_otp_remote_*`).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpEndpoint, Metrics, ProcessRuntime } from "effect-otp"
 *
 * const Observed = Layer.mergeAll(Metrics.layer(), Metrics.layerHttp).pipe(
 *   Layer.provideMerge(HttpEndpoint.layer({ port: 9464 })),
 *   Layer.provideMerge(ProcessRuntime.layer({ node: "a" }))
 * )
 * const program = Effect.log("serving /metrics").pipe(Effect.provide(Observed))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: MetricsOptions): Layer.Layer<never, never, ProcessRuntime.ProcessRuntime> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const collector = yield* Collector.make
      const runtime = yield* ProcessRuntime.ProcessRuntime
      const stopWatching = registerRuntime(collector, runtime, options)
      yield* Effect.addFinalizer(() => Effect.sync(stopWatching))
      // Rare events counted where they happen: shown at zero before the first one.
      yield* Metric.update(restartsTotal, 0)
      yield* Metric.update(escalationsTotal, 0)
      const cluster = yield* Effect.serviceOption(Cluster.Cluster)
      if (Option.isSome(cluster)) yield* registerCluster(collector, cluster.value)
      const registry = yield* Effect.serviceOption(GlobalRegistry.GlobalRegistry)
      if (Option.isSome(registry)) registerGlobal(collector, registry.value)
    })
  )

/** The global registry's figures, read from its counters when rendered. */
const registerGlobal = (collector: Collector, registry: GlobalRegistry.GlobalRegistry["Service"]) => {
  const read = registry.statsUnsafe
  collector.gauge(
    "effect_otp_global_names",
    "Global names registered in the cluster, as this node knows them",
    () => read().names
  )
  collector.gauge(
    "effect_otp_global_local_names",
    "Global names held by this node's processes",
    () => read().localNames
  )
  collector.counter(
    "effect_otp_global_registrations_total",
    "Successful global registrations made on this node",
    () => read().registrations
  )
  collector.counter(
    "effect_otp_global_conflicts_resolved_total",
    "Global name conflicts (after a partition) this node resolved for its own processes",
    () => read().conflictsResolved
  )
}

/**
 * Renders every metric of the current registry in the Prometheus text format (version 0.0.4), as
 * `/metrics` serves it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Metrics } from "effect-otp"
 *
 * const program = Effect.map(Metrics.render, (text) => text.split("\n").length)
 * ```
 *
 * @category rendering
 * @since 0.1.0
 */
export const render: Effect.Effect<string> = Effect.flatMap(
  Effect.promise(() => import("effect/observability")),
  ({ PrometheusMetrics }) => PrometheusMetrics.format()
)

/**
 * The content type of {@link render}'s text.
 *
 * @since 0.1.0
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Serves {@link render} at `GET /metrics` on the node's {@link HttpEndpoint.HttpEndpoint}, from the
 * registry of the context this layer is built in.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpEndpoint, Metrics } from "effect-otp"
 *
 * const Scraped = Metrics.layerHttp.pipe(Layer.provideMerge(HttpEndpoint.layer({ port: 9464 })))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerHttp: Layer.Layer<never, never, HttpEndpoint.HttpEndpoint> = Layer.effectDiscard(
  Effect.gen(function* () {
    const context = yield* Effect.context<never>()
    // Loaded here, not at import: only a node that serves /metrics pays for these modules.
    const [{ HttpServerResponse }, { PrometheusMetrics }] = yield* Effect.promise(() =>
      Promise.all([import("effect/http"), import("effect/observability")])
    )
    const respond = Effect.sync(() => HttpServerResponse.text(PrometheusMetrics.formatUnsafe(context), { contentType }))
    yield* HttpEndpoint.addRoute("GET", "/metrics", respond)
  })
)

/**
 * A fresh, empty metric registry for the layers above it. A node alone in its OS process can use
 * Effect's default registry; give each node its own when several share a process (tests), or
 * their series mix.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Distribution, Metrics } from "effect-otp"
 *
 * const NodeA = Layer.mergeAll(Metrics.layer()).pipe(
 *   Layer.provideMerge(Distribution.layer({ nodeName: "a", port: 0, secret: "s3cret" })),
 *   Layer.provideMerge(Metrics.layerRegistry)
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRegistry: Layer.Layer<never> = Layer.effectContext(
  Effect.sync(() => Context.make(Metric.MetricRegistry, new Map()))
) as Layer.Layer<never>

/**
 * Options of {@link layerOtlp}. Unset fields come from the standard OpenTelemetry variables.
 *
 * @example
 * ```ts
 * import { Metrics } from "effect-otp"
 *
 * const options: Metrics.OtlpMetricsOptions = { serviceName: "shop", exportInterval: "15 seconds" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface OtlpMetricsOptions {
  /** `service.name` of the resource. Default `OTEL_SERVICE_NAME`, else `effect-otp`. */
  readonly serviceName?: string | undefined
  /** `service.version` of the resource. */
  readonly serviceVersion?: string | undefined
  /**
   * The metrics endpoint (`http://collector:4318/v1/metrics`). Default: the exporter's, from
   * `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/metrics`).
   */
  readonly url?: string | undefined
  /**
   * `http/protobuf` or `http/json`. Default `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, else
   * `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`.
   */
  readonly protocol?: "http/protobuf" | "http/json" | undefined
  /** How often metrics are pushed. Default `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds), else 60 seconds. */
  readonly exportInterval?: Duration.Input | undefined
}

/**
 * Pushes every metric of the registry it is built on (the same series `/metrics` serves) over
 * OTLP/HTTP with the OpenTelemetry JS SDK's exporter, through `@effect/opentelemetry`'s metric
 * producer, every `exportInterval` (the reader is shut down with the layer). Headers come
 * from `OTEL_EXPORTER_OTLP_HEADERS` (read by the exporter). With `OTEL_SDK_DISABLED=true` it does
 * nothing.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Distribution, Metrics } from "effect-otp"
 *
 * const NodeLive = Layer.mergeAll(Metrics.layer(), Metrics.layerOtlp({ serviceName: "shop" })).pipe(
 *   Layer.provideMerge(Distribution.layer({ nodeName: "a", port: 4370, secret: "s3cret" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerOtlp = (options?: OtlpMetricsOptions): Layer.Layer<never> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const env = process.env
      if (env["OTEL_SDK_DISABLED"]?.trim().toLowerCase() === "true") return Layer.empty
      const protocol =
        options?.protocol ??
        env["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] ??
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] ??
        "http/protobuf"
      // The OpenTelemetry SDK is loaded only when metrics are pushed.
      const [{ OtelMetrics, Resource }, json, proto, { PeriodicExportingMetricReader }] = yield* Effect.promise(() =>
        Promise.all([
          import("@effect/opentelemetry"),
          import("@opentelemetry/exporter-metrics-otlp-http"),
          import("@opentelemetry/exporter-metrics-otlp-proto"),
          import("@opentelemetry/sdk-metrics")
        ])
      )
      const config = options?.url === undefined ? {} : { url: options.url }
      const intervalFromEnv = Number(env["OTEL_METRIC_EXPORT_INTERVAL"])
      const exportIntervalMillis =
        options?.exportInterval !== undefined
          ? Duration.toMillis(Duration.fromInputUnsafe(options.exportInterval))
          : Number.isFinite(intervalFromEnv) && intervalFromEnv > 0
            ? intervalFromEnv
            : 60_000
      const reader = () =>
        new PeriodicExportingMetricReader({
          exporter:
            protocol === "http/json" ? new json.OTLPMetricExporter(config) : new proto.OTLPMetricExporter(config),
          exportIntervalMillis,
          exportTimeoutMillis: Math.min(30_000, exportIntervalMillis)
        })
      return OtelMetrics.layer(reader).pipe(
        Layer.provide(
          Resource.layer({
            serviceName: options?.serviceName ?? env["OTEL_SERVICE_NAME"] ?? "effect-otp",
            ...(options?.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion })
          })
        )
      )
    })
  )
