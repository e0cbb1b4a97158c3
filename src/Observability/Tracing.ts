/**
 * Traces: OpenTelemetry export of the spans effect-otp makes (calls, casts, spawns, supervisor
 * restarts, node up/down) and of the application's own `Effect.withSpan`s, over OTLP/HTTP
 * (protobuf or JSON) through `@effect/opentelemetry`'s `NodeSdk` and the OpenTelemetry JS SDK.
 *
 * {@link layerOtlp} is the one layer to add. Put it at the **bottom** of the application's layer
 * graph (`appLayers.pipe(Layer.provideMerge(Tracing.layerOtlp(...)))`, so that the program gets the tracer too): a layer only sees the services of
 * the layers beneath it, so spans made while the layers above it are built (a supervisor starting
 * its children, a node joining its cluster) would otherwise go to Effect's no-op default.
 *
 * Configuration is OpenTelemetry's standard environment: the SDK reads `OTEL_TRACES_SAMPLER`,
 * `OTEL_TRACES_SAMPLER_ARG`, `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_HEADERS` / `..._TRACES_HEADERS` (and timeouts, compression, `OTEL_BSP_*`)
 * itself; this module reads, with Effect `Config`, `OTEL_SDK_DISABLED` (the layer then installs
 * nothing), `OTEL_EXPORTER_OTLP_PROTOCOL` / `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` (`http/protobuf`,
 * the default, or `http/json`), `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
 *
 * The resource carries `service.name` (`OTEL_SERVICE_NAME`, else `service.name` of
 * `OTEL_RESOURCE_ATTRIBUTES`, else the option, else `effect-otp`), `service.version` (option),
 * `service.instance.id` (`<node>#<incarnation>`: the options' node name and incarnation; without
 * an incarnation, a random one drawn when the layer starts), and `k8s.pod.name` /
 * `k8s.namespace.name` from `K8S_POD_NAME` (else `POD_NAME`) and `K8S_NAMESPACE_NAME` (else
 * `POD_NAMESPACE`), the variables a Kubernetes manifest sets from the downward API.
 *
 * Sampling is decided once, at a trace's root, by the SDK's sampler (parent-based by default:
 * with `OTEL_TRACES_SAMPLER=parentbased_traceidratio` and `OTEL_TRACES_SAMPLER_ARG=0.1`, one root
 * in ten is kept, with every span below it, on every node). A root is sampled before any span is
 * made, with that same sampler (and the trace id it decided on is the one the SDK then uses), so
 * that a dropped root costs a sampler call rather than a whole OpenTelemetry span; a dropped call
 * or cast root makes no span at all. With the SDK's own root samplers (always on, always off, a
 * trace-id ratio, alone or under a parent-based one: everything `OTEL_TRACES_SAMPLER` names) a
 * root is decided with one `Math.random()` and without a trace id, which a dropped root draws only
 * if something reads it (a remote call sends it on); its kept roots keep the configured ratio in
 * distribution, while their trace ids are drawn after the decision. Inside an unsampled trace effect-otp
 * makes no span objects at all, and this tracer answers the application's own spans with one
 * placeholder that records nothing; the unsampled flag still travels to other nodes in the W3C
 * `traceparent` of the frames, so they make no spans either. Which operations start a trace when
 * they run outside any span is {@link Roots}.
 *
 * Spans are exported in batches (a bounded queue, `OTEL_BSP_MAX_QUEUE_SIZE`, default 2,048 spans;
 * batches of `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512, sent when full or after
 * `OTEL_BSP_SCHEDULE_DELAY` ms, default 5,000; up to two requests in flight) and flushed when the
 * layer's scope closes, or on demand with {@link flush}. A span that finds the queue full is
 * dropped and counted: `effect_otp_tracing_spans_dropped_total`, next to
 * `effect_otp_tracing_spans_exported_total`, `effect_otp_tracing_spans_export_failed_total` and
 * the gauge `effect_otp_tracing_span_queue` (spans waiting), and `effect_otp_tracing_roots_total`
 * (by `decision`, `kept` or `dropped`: the roots sampled), served with the node's other metrics.
 *
 * @since 0.1.0
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import * as Resource from "@effect/opentelemetry/Resource"
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { OTLPTraceExporter as ProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import type { Sampler, SpanExporter } from "@opentelemetry/sdk-trace-base"
// The SDK's own reading of OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (not re-exported by its
// index): the sampler that decides roots ahead of the SDK must be the one the SDK would build.
import { buildSamplerFromEnv } from "@opentelemetry/sdk-trace-base/build/src/config.js"
import { Config, Context, type Duration, Effect, Layer, Option, Schema, Tracer } from "effect"
import { randomInt } from "node:crypto"
import { type TraceRootPolicy, TraceRootSampler, TraceRoots } from "../Process/internal/tracing.ts"
import { Collector } from "./internal/collector.ts"
import { SpanQueue } from "./internal/tracingExport.ts"
import { sinkOf, spanLimitsSet } from "./internal/tracingSpan.ts"
import { makeTracer, RootSampling } from "./internal/tracingTracer.ts"

/**
 * Which operations start a trace of their own when they run outside any span (a `Context.Reference`;
 * set it with `Layer.succeed(Tracing.Roots, "all")`, or the `roots` option of {@link layerOtlp}):
 * - `"remote"` (default): what crosses nodes (remote calls and casts), the handling of a call or
 *   cast that came from another node without trace context, supervisor restarts and escalations,
 *   and node up/down events;
 * - `"all"`: also local calls and casts, and every call, cast and info message a server handles;
 * - `"none"`: nothing starts a trace; effect-otp only adds spans to traces the application started.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Tracing } from "effect-otp"
 *
 * const everyCallIsATrace = Layer.succeed(Tracing.Roots, "all")
 * ```
 *
 * @category references
 * @since 0.1.0
 */
export const Roots = TraceRoots

/**
 * The values of {@link Roots}.
 *
 * @example
 * ```ts
 * import { Tracing } from "effect-otp"
 *
 * const roots: Tracing.RootPolicy = "remote"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RootPolicy = TraceRootPolicy

/**
 * The OTLP/HTTP encodings: protobuf (OpenTelemetry's default) or JSON.
 *
 * @example
 * ```ts
 * import { Tracing } from "effect-otp"
 *
 * const protocol: Tracing.OtlpProtocol = "http/json"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type OtlpProtocol = "http/protobuf" | "http/json"

/**
 * Options of {@link layerOtlp}. Every one is optional; the standard `OTEL_*` variables win over
 * the options that have one (service name), and the options win over the SDK's defaults.
 *
 * @example
 * ```ts
 * import { Tracing } from "effect-otp"
 *
 * const options: Tracing.OtlpOptions = { serviceName: "orders", serviceVersion: "1.4.2", nodeName: "orders@10.0.0.7" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface OtlpOptions {
  /** `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` sets it. Default `effect-otp`. */
  readonly serviceName?: string | undefined
  /** `service.version`. */
  readonly serviceVersion?: string | undefined
  /** The node's name, first part of `service.instance.id`. Default: the host's name (`HOSTNAME`) or `node`. */
  readonly nodeName?: string | undefined
  /** The node's incarnation, second part of `service.instance.id`. Default: random, drawn when the layer starts. */
  readonly incarnation?: number | undefined
  /** See {@link Roots}. Default `"remote"`. */
  readonly roots?: RootPolicy | undefined
  /** The encoding; overrides `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`. Default: that variable, else `http/protobuf`. */
  readonly protocol?: OtlpProtocol | undefined
  /**
   * The traces URL (for example `http://127.0.0.1:4318/v1/traces`); overrides the endpoint
   * variables. Default: what the exporter reads from them, else `http://localhost:4318/v1/traces`.
   */
  readonly url?: string | undefined
  /** Headers sent with every export, added to `OTEL_EXPORTER_OTLP_HEADERS`. */
  readonly headers?: Record<string, string> | undefined
  /** A sampler instead of the one `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` describe (read as the SDK reads them). */
  readonly sampler?: Sampler | undefined
  /** The batch queue's settings (default: `OTEL_BSP_*`, else the SDK's defaults: 2,048 / 512 / 5,000 ms / 30,000 ms). */
  readonly batch?:
    | {
        readonly maxQueueSize?: number | undefined
        readonly maxExportBatchSize?: number | undefined
        readonly scheduledDelayMillis?: number | undefined
        readonly exportTimeoutMillis?: number | undefined
      }
    | undefined
  /**
   * Make each effect-otp or application span OpenTelemetry's active span while Effect code runs in
   * it, so that libraries instrumented with OpenTelemetry's own API (HTTP clients, database
   * drivers) called from that code join the trace. Default `false`: it costs an
   * `AsyncLocalStorage` switch on every Effect operation inside a span (about half the cost of a
   * traced local call).
   */
  readonly propagateOtelContext?: boolean | undefined
  /** How long closing the layer may take to flush the last spans. Default 3 seconds. */
  readonly shutdownTimeout?: Duration.Input | undefined
}

const Protocol = Schema.Literals(["http/protobuf", "http/json", "grpc"])

const protocolConfig = Config.schema(Protocol, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").pipe(
  Config.orElse(() => Config.schema(Protocol, "OTEL_EXPORTER_OTLP_PROTOCOL")),
  Config.withDefault("http/protobuf" as const)
)

const optionalString = (name: string) => Config.option(Config.String(name))

/** An `OTEL_BSP_*` number, as the SDK reads it (unset, empty or not a number: the default). */
const bspConfig = (name: string) =>
  Config.option(Config.Number(name)).pipe(
    Effect.map((value) => (Option.isSome(value) && Number.isFinite(value.value) ? value.value : undefined)),
    Effect.catch(() => Effect.succeed(undefined))
  )

/** How the installed layer flushes its spans (`undefined`: no tracing layer). */
const TraceFlusher = Context.Reference<(() => Promise<void>) | undefined>("effect-otp/Tracing/Flusher", {
  defaultValue: () => undefined
})

/**
 * Exports every span ended so far and waits for the collector to accept them (or the export to
 * fail or time out), without closing the layer: before a process hands over (a serverless
 * function returning, a test reading the collector). Without {@link layerOtlp} it does nothing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tracing } from "effect-otp"
 *
 * const handler = Effect.log("handled").pipe(Effect.withSpan("handle"), Effect.andThen(Tracing.flush))
 * ```
 *
 * @category flushing
 * @since 0.1.0
 */
export const flush: Effect.Effect<void> = Effect.flatMap(Effect.service(TraceFlusher), (flushSpans) =>
  flushSpans === undefined ? Effect.void : Effect.promise(flushSpans)
)

const resourceAttributes = Config.Record(
  Schema.StringFromUriComponent,
  Schema.StringFromUriComponent,
  "OTEL_RESOURCE_ATTRIBUTES",
  { trim: true, keepEmptyValues: true }
).pipe(Config.withDefault({} as Record<string, string>))

const firstOf = (...options: ReadonlyArray<Option.Option<string>>): string | undefined => {
  for (const option of options) if (Option.isSome(option) && option.value !== "") return option.value
  return undefined
}

/** The resource's attributes that this module adds to what `OTEL_RESOURCE_ATTRIBUTES` says. */
const resourceOf = (options: OtlpOptions | undefined) =>
  Effect.gen(function* () {
    const serviceName = yield* optionalString("OTEL_SERVICE_NAME")
    const fromEnv = yield* resourceAttributes.pipe(Effect.catch(() => Effect.succeed({} as Record<string, string>)))
    const podName = firstOf(yield* optionalString("K8S_POD_NAME"), yield* optionalString("POD_NAME"))
    const namespace = firstOf(yield* optionalString("K8S_NAMESPACE_NAME"), yield* optionalString("POD_NAMESPACE"))
    const nodeName = options?.nodeName ?? firstOf(yield* optionalString("HOSTNAME")) ?? "node"
    const incarnation = options?.incarnation ?? randomInt(1, 2 ** 31)
    const attributes: Record<string, string> = { "service.instance.id": `${nodeName}#${incarnation}` }
    if (podName !== undefined) attributes["k8s.pod.name"] = podName
    if (namespace !== undefined) attributes["k8s.namespace.name"] = namespace
    if (options?.serviceVersion !== undefined) attributes["service.version"] = options.serviceVersion
    // Resource.layerFromEnv lets these added attributes win: add service.name only when the
    // environment does not set it, so that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES come first.
    if (Option.isNone(serviceName) && fromEnv["service.name"] === undefined) {
      attributes["service.name"] = options?.serviceName ?? "effect-otp"
    }
    return attributes
  })

const exporterOf = (options: OtlpOptions | undefined) =>
  Effect.gen(function* () {
    let protocol: "http/protobuf" | "http/json" | "grpc" = options?.protocol ?? (yield* protocolConfig)
    if (protocol === "grpc") {
      yield* Effect.logWarning("OTLP over gRPC is not supported by effect-otp: traces are exported over http/protobuf")
      protocol = "http/protobuf"
    }
    const config = {
      ...(options?.url === undefined ? {} : { url: options.url }),
      ...(options?.headers === undefined ? {} : { headers: options.headers })
    }
    const exporter: SpanExporter =
      protocol === "http/json" ? new JsonTraceExporter(config) : new ProtobufTraceExporter(config)
    return exporter
  })

/**
 * Installs OpenTelemetry tracing: an OTLP/HTTP exporter (protobuf or JSON) behind a batch span
 * processor, on `@effect/opentelemetry`'s `NodeSdk` tracer provider, configured by the standard
 * `OTEL_*` variables (see the module documentation), and the {@link Roots} policy. Closing the
 * layer flushes the spans still in the batch. With `OTEL_SDK_DISABLED=true` it installs nothing.
 *
 * Add it at the bottom of the layer graph, so that spans made while the other layers build are
 * exported too.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Distribution, Tracing } from "effect-otp"
 *
 * const node = Distribution.layer({ nodeName: "orders@127.0.0.1", host: "127.0.0.1", port: 4370, secret: "s3cret" })
 * const app = node.pipe(Layer.provideMerge(Tracing.layerOtlp({ serviceName: "orders", nodeName: "orders@127.0.0.1" })))
 * const program = Effect.log("running").pipe(Effect.provide(app))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerOtlp = (options?: OtlpOptions): Layer.Layer<never> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const disabled = yield* Config.Boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false))
      if (disabled) return Layer.empty
      const attributes = yield* resourceOf(options)
      const exporter = yield* exporterOf(options)
      const batch = options?.batch
      const processor = new SpanQueue(exporter, {
        maxQueueSize: batch?.maxQueueSize ?? (yield* bspConfig("OTEL_BSP_MAX_QUEUE_SIZE")),
        maxExportBatchSize: batch?.maxExportBatchSize ?? (yield* bspConfig("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")),
        scheduledDelayMillis: batch?.scheduledDelayMillis ?? (yield* bspConfig("OTEL_BSP_SCHEDULE_DELAY")),
        exportTimeoutMillis: batch?.exportTimeoutMillis ?? (yield* bspConfig("OTEL_BSP_EXPORT_TIMEOUT"))
      })
      // Roots are sampled before any span is made, with the sampler the provider uses too.
      const rootSampling = new RootSampling(options?.sampler ?? buildSamplerFromEnv())
      const provider = NodeSdk.layerTracerProvider(processor, {
        sampler: rootSampling,
        idGenerator: rootSampling,
        shutdownTimeout: options?.shutdownTimeout ?? 3000
      })
      const propagate = options?.propagateOtelContext === true
      const tracer = Layer.effect(
        Tracer.Tracer,
        Effect.gen(function* () {
          const base = yield* OtelTracer.make
          // Lean spans (see internal/tracingSpan.ts) unless span limits or OpenTelemetry's active context are asked for.
          const lean =
            propagate || spanLimitsSet(process.env)
              ? undefined
              : sinkOf(yield* OtelTracer.OtelTracer, processor, rootSampling.generateSpanId)
          return makeTracer(base, propagate, rootSampling, lean)
        })
      )
      const roots = Layer.succeed(TraceRoots, options?.roots ?? "remote")
      const sampler = Layer.succeed(TraceRootSampler, rootSampling)
      const flusher = Layer.succeed(TraceFlusher, () => processor.forceFlush())
      const metrics = Layer.effectDiscard(
        Effect.gen(function* () {
          const collector = yield* Collector.make
          const counts = processor.counts
          collector.counter(
            "effect_otp_tracing_spans_dropped_total",
            "Spans dropped before export: the export queue was full, or tracing was shut down",
            () => counts.dropped
          )
          collector.counter("effect_otp_tracing_spans_exported_total", "Spans exported", () => counts.exported)
          collector.counter(
            "effect_otp_tracing_spans_export_failed_total",
            "Spans whose export failed or timed out",
            () => counts.failed
          )
          collector.gauge("effect_otp_tracing_span_queue", "Ended spans waiting for export", () => processor.queued)
          for (const decision of ["kept", "dropped"] as const) {
            collector.counter(
              "effect_otp_tracing_roots_total",
              "Trace roots sampled, by decision",
              () => rootSampling.counts[decision],
              { decision }
            )
          }
        })
      )
      return Layer.mergeAll(tracer, roots, sampler, flusher, metrics).pipe(
        Layer.provide(OtelTracer.layerTracer),
        Layer.provide(provider),
        Layer.provide(Resource.layerFromEnv(attributes))
      )
    }).pipe(Effect.orDie)
  ) as Layer.Layer<never>
