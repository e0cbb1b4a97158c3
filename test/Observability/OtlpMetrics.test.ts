/**
 * Metrics pushed over OTLP/HTTP by the OpenTelemetry SDK's exporters, to a receiver the test runs on
 * loopback: JSON bodies are decoded and searched for the node's series; protobuf bodies carry the
 * metric names as UTF-8 strings.
 */
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Schema } from "effect"
import { GenServer, Metrics, ProcessRuntime, Protocol } from "../../src/index.ts"

interface Received {
  readonly path: string
  readonly contentType: string
  readonly body: Buffer
}

/** An OTLP/HTTP receiver on loopback; `until` resolves with the first request `accept`s. */
const receiver = (accept: (request: Received) => boolean) =>
  Effect.gen(function* () {
    const found = yield* Deferred.make<Received>()
    const server = yield* Effect.acquireRelease(
      Effect.promise(
        () =>
          new Promise<ReturnType<typeof createServer>>((resolve) => {
            const server = createServer((request: IncomingMessage, response) => {
              const chunks: Array<Buffer> = []
              request.on("data", (chunk: Buffer) => chunks.push(chunk))
              request.on("end", () => {
                const received = {
                  path: request.url ?? "",
                  contentType: request.headers["content-type"] ?? "",
                  body: Buffer.concat(chunks)
                }
                if (accept(received)) Deferred.doneUnsafe(found, Effect.succeed(received))
                response.writeHead(200, { "content-type": received.contentType }).end()
              })
            })
            server.listen(0, "127.0.0.1", () => resolve(server))
          })
      ),
      (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
    )
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`, found }
  })

const Ping = Protocol.make({ Ping: Protocol.call({ success: Schema.Number }) })
const pinger = GenServer.behaviour(Ping)({
  init: () => Effect.succeed(0),
  handleCall: { Ping: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
})

const callsTotalIn = (json: unknown): number | undefined => {
  const metrics = (
    json as {
      resourceMetrics?: Array<{
        scopeMetrics?: Array<{
          metrics?: Array<{ name: string; sum?: { dataPoints: Array<{ asDouble?: number; asInt?: number | string }> } }>
        }>
      }>
    }
  ).resourceMetrics
    ?.flatMap((r) => r.scopeMetrics ?? [])
    .flatMap((s) => s.metrics ?? [])
  const point = metrics?.find((metric) => metric.name === "effect_otp_calls_total")?.sum?.dataPoints[0]
  return point === undefined ? undefined : Number(point.asDouble ?? point.asInt)
}

const node = (options: Metrics.OtlpMetricsOptions) =>
  Layer.mergeAll(
    Metrics.layer(),
    Metrics.layerOtlp({ exportInterval: 200, serviceName: "otlp-test", ...options })
  ).pipe(Layer.provideMerge(ProcessRuntime.layer({ node: "otlp" })), Layer.provideMerge(Metrics.layerRegistry))

const callThrice = Effect.gen(function* () {
  const pid = yield* GenServer.start(pinger, undefined)
  for (let i = 0; i < 3; i++) yield* GenServer.call(pid, Ping.Ping())
})

describe("Metrics.layerOtlp", () => {
  it.live("pushes the node's metrics as OTLP/HTTP JSON that a receiver decodes", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, found } = yield* receiver(
          (request) =>
            request.contentType.startsWith("application/json") &&
            callsTotalIn(JSON.parse(request.body.toString())) === 3
        )
        const received = yield* Effect.provide(
          Effect.andThen(callThrice, Deferred.await(found)),
          node({ url, protocol: "http/json" })
        ).pipe(Effect.timeout("15 seconds"))
        assert.strictEqual(received.path, "/v1/metrics")
        const resource = JSON.stringify(JSON.parse(received.body.toString()).resourceMetrics[0].resource)
        assert.include(resource, "otlp-test")
      })
    )
  )

  it.live("pushes OTLP/HTTP protobuf by default", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, found } = yield* receiver(
          (request) =>
            request.contentType === "application/x-protobuf" && request.body.includes("effect_otp_calls_total")
        )
        yield* Effect.provide(Effect.andThen(callThrice, Deferred.await(found)), node({ url })).pipe(
          Effect.timeout("15 seconds")
        )
      })
    )
  )
})
