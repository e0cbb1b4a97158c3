/**
 * Tracing to an OTLP endpoint: two nodes, `orders` and `billing`, linked over loopback. A checkout
 * on `orders` calls the `billing` GenServer on the other node; the trace context travels in the
 * call's frame, so the client span, the server span on `billing` and the handler's own span form
 * one trace. Each node exports its spans over OTLP/HTTP (`Tracing.layerOtlp`).
 *
 * Where the spans go: `OTEL_EXPORTER_OTLP_ENDPOINT` (e.g. Jaeger's `http://localhost:4318`, with
 * `docker run -p 16686:16686 -p 4318:4318 jaegertracing/all-in-one`, then open
 * http://localhost:16686 and search the trace id printed). Without it, the example receives them
 * itself on a loopback port (OTLP/JSON on the node's `HttpEndpoint`) and prints the trace.
 *
 * Run with `npm run example:tracing`. No external service needed; ends by itself.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Deferred, Effect, Layer, References, Schema, Scope, Exit } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { Cluster, Distribution, GenServer, HttpEndpoint, Protocol, RemoteName, Tracing } from "../src/index.ts"

const Billing = Protocol.make(
  { Charge: Protocol.call({ payload: { order: Schema.String, cents: Schema.Number }, success: Schema.String }) },
  { name: "Billing" }
)

const billing = GenServer.behaviour(Billing)({
  init: () => Effect.succeed(0),
  handleCall: {
    Charge: ({ order, cents }, receipts) =>
      Effect.as(
        // A span of the application's own, inside the server's span.
        Effect.sleep(5).pipe(
          Effect.withSpan("charge card", { attributes: { "order.id": order, "amount.cents": cents } })
        ),
        GenServer.reply(`receipt-${receipts + 1}`, receipts + 1)
      )
  }
})

// --- A tiny OTLP/JSON receiver, when no collector is configured ------------------------------------

interface ReceivedSpan {
  readonly service: string
  readonly name: string
  readonly kind: number
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string
  readonly durationMs: number
}

interface OtlpJson {
  readonly resourceSpans?: ReadonlyArray<{
    readonly resource?: { readonly attributes?: ReadonlyArray<{ key: string; value: { stringValue?: string } }> }
    readonly scopeSpans?: ReadonlyArray<{
      readonly spans?: ReadonlyArray<{
        name: string
        kind: number
        traceId: string
        spanId: string
        parentSpanId?: string
        startTimeUnixNano: string | number
        endTimeUnixNano: string | number
      }>
    }>
  }>
}

const flatten = (body: OtlpJson): Array<ReceivedSpan> =>
  (body.resourceSpans ?? []).flatMap((resource) => {
    const service =
      resource.resource?.attributes?.find((attribute) => attribute.key === "service.name")?.value.stringValue ?? "?"
    return (resource.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        service,
        name: span.name,
        kind: span.kind,
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? "",
        durationMs: Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6
      }))
    )
  })

/** An OTLP/HTTP JSON receiver on a loopback port: the spans received so far, and a wake-up on each batch. */
const receiver = Effect.gen(function* () {
  const spans: Array<ReceivedSpan> = []
  let onBatch = () => {}
  const context = yield* Layer.build(HttpEndpoint.layer({ host: "127.0.0.1", port: 0 }))
  const endpoint = Context.get(context, HttpEndpoint.HttpEndpoint)
  yield* endpoint.addRoute(
    "POST",
    "/v1/traces",
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const body = yield* Effect.orElseSucceed(request.json, () => ({}))
      spans.push(...flatten(body as OtlpJson))
      onBatch()
      return HttpServerResponse.jsonUnsafe({})
    })
  )
  /** Waits until `done(spans)` holds (checked after every batch), at most 10 seconds. */
  const until = (done: (spans: ReadonlyArray<ReceivedSpan>) => boolean) =>
    Effect.callback<void>((resume) => {
      onBatch = () => (done(spans) ? resume(Effect.void) : undefined)
      onBatch()
    }).pipe(Effect.timeout("10 seconds"))
  return { url: `http://127.0.0.1:${endpoint.port}/v1/traces`, spans, until }
})

// --- The two nodes --------------------------------------------------------------------------------------

const kinds: Record<number, string> = { 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer" }

const program = Effect.gen(function* () {
  const configured = process.env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? process.env["OTEL_EXPORTER_OTLP_ENDPOINT"]
  const local = configured === undefined || configured === "" ? yield* receiver : undefined
  const target =
    local === undefined ? { url: undefined, protocol: undefined } : { url: local.url, protocol: "http/json" as const }
  console.log(
    local === undefined
      ? `exporting spans to ${configured} (OTEL_EXPORTER_OTLP_*)`
      : `no OTEL_EXPORTER_OTLP_ENDPOINT set: receiving the spans here, at ${local.url}\n` +
          "  (to see them in Jaeger: docker run -p 16686:16686 -p 4318:4318 jaegertracing/all-in-one, then\n" +
          "   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 npm run example:tracing)"
  )

  const traceId = yield* Deferred.make<string>()
  // The nodes live in this scope: closing it flushes their last spans.
  const nodes = yield* Scope.make()
  const start = (name: string, seeds: ReadonlyArray<string>) =>
    Layer.build(
      Distribution.layer({ nodeName: name, host: "127.0.0.1", port: 0, secret: "tracing-example", seeds }).pipe(
        Layer.provideMerge(
          Tracing.layerOtlp({ ...target, serviceName: name, nodeName: name, batch: { scheduledDelayMillis: 100 } })
        )
      )
    ).pipe(Scope.provide(nodes))
  const billingNode = yield* start("billing", [])
  yield* Effect.provideContext(GenServer.start(billing, undefined, { name: "billing" }), billingNode)
  const port = Context.get(billingNode, Cluster.Cluster).transport.address.port
  const ordersNode = yield* start("orders", [`billing@127.0.0.1:${port}`])
  yield* Effect.provideContext(Cluster.awaitNodes(["billing"], { timeout: "20 seconds" }), ordersNode)

  const receipt = yield* Effect.provideContext(
    Effect.gen(function* () {
      const span = yield* Effect.currentSpan
      yield* Deferred.succeed(traceId, span.traceId)
      return yield* GenServer.call(
        RemoteName.make("billing", "billing", Billing),
        Billing.Charge({ order: "A-17", cents: 4200 })
      )
    }).pipe(Effect.withSpan("checkout", { attributes: { "order.id": "A-17" } })),
    ordersNode
  )
  const id = yield* Deferred.await(traceId)
  console.log(`checkout on orders -> ${receipt} from billing, trace ${id}`)
  yield* Scope.close(nodes, Exit.void)

  if (local === undefined) {
    console.log(`spans flushed to ${configured}: look for trace ${id}`)
    return
  }
  yield* local.until((spans) => {
    const trace = spans.filter((span) => span.traceId === id)
    return trace.some((span) => span.name === "charge card") && trace.some((span) => span.name === "checkout")
  })
  const trace = local.spans.filter((span) => span.traceId === id)
  console.log(`received ${trace.length} spans of trace ${id}:`)
  const print = (parent: string, depth: number): void => {
    for (const span of trace.filter((s) => s.parentSpanId === parent)) {
      console.log(
        `  ${"  ".repeat(depth)}${span.name} [${kinds[span.kind] ?? span.kind}] on ${span.service}, ${span.durationMs.toFixed(1)} ms`
      )
      print(span.spanId, depth + 1)
    }
  }
  print("", 0)
})

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Warn")))
