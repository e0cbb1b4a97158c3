import * as Path from "node:path"
import * as OtelApi from "@opentelemetry/api"
import { ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer, ProcessRuntime, RemoteName, Tracing } from "../../src/index.ts"
import { ChildProgram } from "../support/childNode.ts"
import { fast } from "../support/clusterHarness.ts"
import { type OtlpReceiver, type ReceivedSpan, SpanKind, startOtlpReceiver } from "../support/otlpReceiver.ts"
import { Echo, echo, tracingSecret } from "../support/tracingHarness.ts"

const childScript = Path.join(import.meta.dirname, "..", "support", "tracedNodeProcess.ts")

const receiver = Effect.acquireRelease(
  Effect.promise(() => startOtlpReceiver()),
  (receiver) => Effect.promise(() => receiver.close())
)

const waitFor = (
  receiver: OtlpReceiver,
  predicate: (spans: ReadonlyArray<ReceivedSpan>) => boolean,
  what: string,
  ms = 20_000
) => Effect.promise(() => receiver.waitFor(predicate, ms, what))

const named = (spans: ReadonlyArray<ReceivedSpan>, name: string, kind: number, service: string) =>
  spans.find((span) => span.name === name && span.kind === kind && span.resource["service.name"] === service)

/** Runs `effect` with `env` set in this process (the SDK reads some variables when the layer starts). */
const withEnv = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const saved: Record<string, string | undefined> = {}
      for (const key of Object.keys(env)) {
        saved[key] = process.env[key]
        process.env[key] = env[key]
      }
      return saved
    }),
    (saved) =>
      Effect.sync(() => {
        for (const [key, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[key]
          else process.env[key] = value
        }
      })
  )

describe("Tracing.layerOtlp", () => {
  it.live(
    "a call, a failing call and a cast between two OS processes arrive at a real OTLP receiver (JSON from one, protobuf from the other) as one trace with the right parents, kinds and attributes",
    () =>
      Effect.gen(function* () {
        const otlp = yield* receiver
        const child = yield* Effect.acquireRelease(
          Effect.sync(
            () =>
              new ChildProgram<{ readonly _tag: string; readonly port?: number; readonly incarnation?: number }>(
                childScript,
                ["b"],
                {
                  ...process.env,
                  OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
                  OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
                  OTEL_SERVICE_NAME: "node-b",
                  OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test,team=otp%20core",
                  K8S_POD_NAME: "b-0",
                  K8S_NAMESPACE_NAME: "otp",
                  OTEL_BSP_SCHEDULE_DELAY: "50"
                }
              )
          ),
          (child) => Effect.promise(() => child.stop())
        )
        const ready = yield* child.awaitEvent((event) => event._tag === "Ready", 30_000, 0, "Ready")

        // Node a, in this process, exports JSON; its scope closes (and flushes) before the checks.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const node = Distribution.layer({
              nodeName: "a",
              host: "127.0.0.1",
              port: 0,
              secret: tracingSecret,
              seeds: [`b@127.0.0.1:${ready.port}`],
              ...fast
            }).pipe(
              // provideMerge: the program run with this context needs the tracer too.
              Layer.provideMerge(
                Tracing.layerOtlp({ url: otlp.url, protocol: "http/json", serviceName: "node-a", nodeName: "a" })
              )
            )
            const context = yield* Layer.build(node)
            const run = <A, E>(effect: Effect.Effect<A, E, Cluster.Cluster | ProcessRuntime.ProcessRuntime>) =>
              Effect.provideContext(effect, context as Context.Context<Cluster.Cluster | ProcessRuntime.ProcessRuntime>)
            yield* run(Cluster.awaitNodes(["b"], { timeout: "20 seconds" }))
            const server = RemoteName.make("echo", "b", Echo)
            const outcome = yield* run(
              Effect.gen(function* () {
                const n = yield* GenServer.call(server, Echo.Ping({ n: 7 }))
                const refused = yield* Effect.flip(GenServer.call(server, Echo.Fail()))
                yield* GenServer.cast(server, Echo.Note({ n: 1 }))
                // The cast is handled before this call (one sender, one server: in order).
                yield* GenServer.call(server, Echo.Ping({ n: 8 }))
                return { n, refused }
              }).pipe(Effect.withSpan("client request"))
            )
            assert.strictEqual(outcome.n, 7)
            assert.strictEqual(outcome.refused, "refused")
          })
        )
        // Node b flushes as it leaves.
        child.process.stdin!.end()
        yield* Effect.promise(() => child.exited)

        yield* waitFor(
          otlp,
          (spans) =>
            named(spans, "client request", SpanKind.internal, "node-a") !== undefined &&
            named(spans, "process echo", SpanKind.consumer, "node-b") !== undefined &&
            spans.filter((span) => span.name === "Echo/Ping" && span.kind === SpanKind.server).length === 2,
          "both nodes' spans"
        )
        const spans = otlp.spans
        assert.deepStrictEqual(otlp.errors, [])
        const root = named(spans, "client request", SpanKind.internal, "node-a")!
        const trace = spans.filter((span) => span.traceId === root.traceId)
        const byId = new Map(trace.map((span) => [span.spanId, span]))
        // Every span of the call belongs to the one trace, and every parent is in it.
        assert.strictEqual(root.parentSpanId, "")
        for (const span of trace) if (span !== root) assert.isTrue(byId.has(span.parentSpanId), span.name)

        const clients = trace.filter((span) => span.name === "Echo/Ping" && span.kind === SpanKind.client)
        const servers = trace.filter((span) => span.name === "Echo/Ping" && span.kind === SpanKind.server)
        assert.strictEqual(clients.length, 2)
        assert.strictEqual(servers.length, 2)
        for (const client of clients) {
          assert.strictEqual(client.parentSpanId, root.spanId)
          assert.strictEqual(client.encoding, "json")
          assert.strictEqual(client.attributes["rpc.system.name"], "effect_otp")
          assert.strictEqual(client.attributes["rpc.method"], "Echo/Ping")
          assert.strictEqual(client.attributes["server.address"], "b")
          assert.strictEqual(client.attributes["effect_otp.node"], "a")
        }
        for (const server of servers) {
          assert.isTrue(
            clients.some((client) => client.spanId === server.parentSpanId),
            "server span under a client span"
          )
          assert.strictEqual(server.encoding, "protobuf")
          assert.strictEqual(server.attributes["rpc.system.name"], "effect_otp")
          assert.strictEqual(server.attributes["rpc.method"], "Echo/Ping")
          assert.strictEqual(server.attributes["effect_otp.node"], "b")
          assert.strictEqual(server.attributes["effect_otp.registered_name"], "echo")
          assert.strictEqual(server.attributes["effect_otp.behaviour"], "Echo")
          assert.match(String(server.attributes["effect_otp.pid"]), /^<b\.\d+\.\d+>$/)
        }

        const failedClient = trace.find((span) => span.name === "Echo/Fail" && span.kind === SpanKind.client)!
        const failedServer = trace.find((span) => span.name === "Echo/Fail" && span.kind === SpanKind.server)!
        assert.strictEqual(failedServer.parentSpanId, failedClient.spanId)
        for (const span of [failedClient, failedServer]) {
          assert.strictEqual(span.statusCode, 2)
          assert.strictEqual(span.attributes["error.type"], "_OTHER")
        }

        const producer = trace.find((span) => span.kind === SpanKind.producer)!
        const consumer = trace.find((span) => span.kind === SpanKind.consumer)!
        assert.strictEqual(producer.name, "send echo")
        assert.strictEqual(producer.parentSpanId, root.spanId)
        assert.strictEqual(producer.attributes["messaging.operation.type"], "send")
        assert.strictEqual(producer.attributes["messaging.destination.name"], "echo")
        assert.strictEqual(producer.attributes["effect_otp.message"], "Echo/Note")
        assert.strictEqual(consumer.parentSpanId, producer.spanId)
        assert.strictEqual(consumer.attributes["messaging.operation.type"], "process")
        assert.strictEqual(consumer.attributes["messaging.system"], "effect_otp")

        // Resources: the standard variables (node b) and the options (node a).
        const b = servers[0]!.resource
        assert.strictEqual(b["service.name"], "node-b")
        assert.strictEqual(b["service.version"], "9.9.9")
        assert.match(String(b["service.instance.id"]), /^b#\d+$/)
        assert.strictEqual(b["k8s.pod.name"], "b-0")
        assert.strictEqual(b["k8s.namespace.name"], "otp")
        assert.strictEqual(b["deployment.environment.name"], "test")
        assert.strictEqual(b["team"], "otp core")
        assert.strictEqual(root.resource["service.name"], "node-a")
        assert.match(String(root.resource["service.instance.id"]), /^a#\d+$/)
      }).pipe(Effect.scoped),
    90_000
  )

  it.live(
    "a parent-based 10% ratio sampler keeps about 10% of 1,000 root traces, each with every one of its spans on both nodes, and unsampled traces leave no span anywhere",
    () =>
      Effect.gen(function* () {
        const otlp = yield* receiver
        yield* withEnv({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" })
        const ROOTS = 1000
        yield* Effect.scoped(
          Effect.gen(function* () {
            const tracing = yield* Layer.build(
              Tracing.layerOtlp({ url: otlp.url, protocol: "http/protobuf", serviceName: "sampled" })
            )
            const nodeLayer = (name: string, seeds: ReadonlyArray<string>) =>
              Distribution.layer({ nodeName: name, host: "127.0.0.1", port: 0, secret: tracingSecret, seeds, ...fast })
            const b = yield* Layer.build(nodeLayer("b", [])).pipe(Effect.provideContext(tracing))
            const bPort = Context.get(b, Cluster.Cluster).transport.address.port
            const a = yield* Layer.build(nodeLayer("a", [`b@127.0.0.1:${bPort}`])).pipe(Effect.provideContext(tracing))
            const on =
              (context: Context.Context<never>) =>
              <X, E>(effect: Effect.Effect<X, E, Cluster.Cluster | ProcessRuntime.ProcessRuntime>) =>
                effect.pipe(
                  Effect.provideContext(context as Context.Context<Cluster.Cluster | ProcessRuntime.ProcessRuntime>),
                  Effect.provide(tracing)
                )
            yield* on(b as Context.Context<never>)(GenServer.start(echo, undefined, { name: "echo" }))
            yield* on(a as Context.Context<never>)(Cluster.awaitNodes(["b"], { timeout: "20 seconds" }))
            const server = RemoteName.make("echo", "b", Echo)
            for (let i = 0; i < ROOTS; i++) {
              yield* on(a as Context.Context<never>)(
                GenServer.call(server, Echo.Ping({ n: i })).pipe(Effect.withSpan(`root ${i}`))
              )
            }
          })
        )
        // Closing the scope flushed the batch: every kept span has been posted.
        const roots = otlp.spans.filter((span) => span.name.startsWith("root "))
        const kept = roots.length
        // Binomial(1000, 0.1): mean 100, standard deviation 9.5; 100 ± 45 is a ±4.7σ band (a false
        // failure about once in 400,000 runs).
        assert.isTrue(kept >= 55 && kept <= 145, `kept ${kept} of ${ROOTS} root traces`)
        // The nodes' own node_up / node_down spans are roots of their own (sampled at 10% too).
        const membership = otlp.spans.filter((span) => span.name === "node_up" || span.name === "node_down")
        for (const span of membership) assert.strictEqual(span.parentSpanId, "")
        assert.strictEqual(
          otlp.spans.length - membership.length,
          kept * 3,
          "each kept trace has its root, client and server span"
        )
        for (const root of roots) {
          const trace = otlp.spans.filter((span) => span.traceId === root.traceId)
          const client = trace.find((span) => span.kind === SpanKind.client)
          const server = trace.find((span) => span.kind === SpanKind.server)
          assert.strictEqual(trace.length, 3)
          assert.strictEqual(client?.parentSpanId, root.spanId)
          assert.strictEqual(server?.parentSpanId, client?.spanId)
        }
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "roots sampled before any span is made: under a 50% ratio sampler, about half of 600 local calls and casts are traces, each complete, with the trace id the sampler decided on",
    () =>
      Effect.gen(function* () {
        const otlp = yield* receiver
        const CALLS = 600
        const ratio = new TraceIdRatioBasedSampler(0.5)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const pid = yield* GenServer.start(echo, undefined)
            for (let i = 0; i < CALLS; i++) {
              yield* GenServer.call(pid, Echo.Ping({ n: i }))
              yield* GenServer.cast(pid, Echo.Note({ n: i }))
            }
            yield* GenServer.stop(pid)
          }).pipe(
            Effect.provide(ProcessRuntime.layer()),
            Effect.provide(
              Tracing.layerOtlp({
                url: otlp.url,
                protocol: "http/protobuf",
                serviceName: "presampled",
                roots: "all",
                sampler: new ParentBasedSampler({ root: ratio })
              })
            )
          )
        )
        const clients = otlp.spans.filter((span) => span.kind === SpanKind.client)
        const producers = otlp.spans.filter((span) => span.kind === SpanKind.producer)
        // Binomial(600, 0.5): mean 300, standard deviation 12.2; 300 ± 60 is a ±4.9σ band. Sampling
        // twice (ahead, then again in the SDK) would keep about 150.
        for (const [what, roots] of [
          ["calls", clients],
          ["casts", producers]
        ] as const) {
          assert.isTrue(roots.length >= 240 && roots.length <= 360, `${roots.length} of ${CALLS} ${what} kept`)
          for (const root of roots) {
            assert.isTrue(!root.parentSpanId, "a root")
            // The SDK made the root with the trace id the sampler was asked about.
            assert.strictEqual(
              ratio.shouldSample(OtelApi.ROOT_CONTEXT, root.traceId).decision,
              SamplingDecision.RECORD_AND_SAMPLED
            )
            const trace = otlp.spans.filter((span) => span.traceId === root.traceId)
            assert.strictEqual(trace.length, 2, "the root and the server's span")
          }
        }
        assert.strictEqual(otlp.spans.length, 2 * (clients.length + producers.length), "no span of a dropped root")
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("with OTEL_SDK_DISABLED=true the layer installs no tracer: nothing is exported", () =>
    Effect.gen(function* () {
      const otlp = yield* receiver
      // Effect's default ConfigProvider reads process.env once: give this layer its own environment.
      const disabled = ConfigProvider.fromEnv({ env: { OTEL_SDK_DISABLED: "true" } })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const tracing = yield* Layer.build(Tracing.layerOtlp({ url: otlp.url })).pipe(
            Effect.provideService(ConfigProvider.ConfigProvider, disabled)
          )
          yield* Effect.void.pipe(Effect.withSpan("not exported"), Effect.provideContext(tracing))
        })
      )
      assert.strictEqual(otlp.spans.length, 0)
    }).pipe(Effect.scoped)
  )
})
