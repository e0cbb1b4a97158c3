/**
 * A real OTLP/HTTP traces receiver on loopback, for tests and benchmarks: it accepts
 * `POST /v1/traces` in protobuf (`application/x-protobuf`, decoded by the protobufjs decoders that
 * OpenTelemetry generated from its own .proto definitions and shipped in
 * `@opentelemetry/otlp-transformer@0.52`, installed under the alias `otlp-transformer-protobufjs`:
 * the current versions encode by hand and ship no decoder) or JSON (`application/json`), and keeps
 * every span it decoded, flattened with its resource's attributes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { createRequire } from "node:module"

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  /** Empty for a root span. */
  readonly parentSpanId: string
  readonly name: string
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number
  readonly attributes: Readonly<Record<string, unknown>>
  readonly resource: Readonly<Record<string, unknown>>
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number
  /** How the batch that carried it was encoded. */
  readonly encoding: "protobuf" | "json"
}

export const SpanKind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const

/** The generated protobufjs message class of an OTLP trace export request. */
interface ExportTraceServiceRequestType {
  decode(body: Uint8Array): object
  toObject(message: object, options: object): unknown
}

let requestType: ExportTraceServiceRequestType | undefined

const exportRequestType = (): ExportTraceServiceRequestType => {
  if (requestType !== undefined) return requestType
  const require = createRequire(import.meta.url)
  const root = require("otlp-transformer-protobufjs/build/src/generated/root.js") as {
    readonly opentelemetry: {
      readonly proto: {
        readonly collector: {
          readonly trace: { readonly v1: { readonly ExportTraceServiceRequest: ExportTraceServiceRequestType } }
        }
      }
    }
  }
  requestType = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest
  return requestType
}

interface AnyValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  readonly intValue?: string | number
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values?: ReadonlyArray<AnyValue> }
}
interface KeyValue {
  readonly key: string
  readonly value?: AnyValue
}
interface WireSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind?: number
  readonly attributes?: ReadonlyArray<KeyValue>
  readonly status?: { readonly code?: number }
}
interface WireRequest {
  readonly resourceSpans?: ReadonlyArray<{
    readonly resource?: { readonly attributes?: ReadonlyArray<KeyValue> }
    readonly scopeSpans?: ReadonlyArray<{ readonly spans?: ReadonlyArray<WireSpan> }>
  }>
}

const valueOf = (value: AnyValue | undefined): unknown => {
  if (value === undefined) return undefined
  if (value.stringValue !== undefined) return value.stringValue
  if (value.boolValue !== undefined) return value.boolValue
  if (value.intValue !== undefined) return Number(value.intValue)
  if (value.doubleValue !== undefined) return value.doubleValue
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf)
  return undefined
}

const attributesOf = (list: ReadonlyArray<KeyValue> | undefined): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {}
  for (const { key, value } of list ?? []) attributes[key] = valueOf(value)
  return attributes
}

/** Flattens a decoded request (ids as lowercase hex, as OTLP/JSON has them). */
const spansOf = (request: WireRequest, encoding: "protobuf" | "json"): Array<ReceivedSpan> => {
  const spans: Array<ReceivedSpan> = []
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes)
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          traceId: span.traceId.toLowerCase(),
          spanId: span.spanId.toLowerCase(),
          parentSpanId: (span.parentSpanId ?? "").toLowerCase(),
          name: span.name,
          kind: span.kind ?? 0,
          attributes: attributesOf(span.attributes),
          resource,
          statusCode: span.status?.code ?? 0,
          encoding
        })
      }
    }
  }
  return spans
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

const decodeProtobuf = (body: Buffer): WireRequest => {
  const type = exportRequestType()
  // Bytes fields (ids) become hex strings, enums numbers, 64-bit integers strings.
  const object = type.toObject(type.decode(body), { longs: String, enums: Number, bytes: Array, defaults: false })
  const fixIds = (span: Record<string, unknown>) => ({
    ...span,
    traceId: hex(Uint8Array.from(span.traceId as Array<number>)),
    spanId: hex(Uint8Array.from(span.spanId as Array<number>)),
    parentSpanId: span.parentSpanId === undefined ? "" : hex(Uint8Array.from(span.parentSpanId as Array<number>))
  })
  const request = object as {
    resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }>
  }
  for (const resourceSpans of request.resourceSpans ?? []) {
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      scopeSpans.spans = (scopeSpans.spans ?? []).map(fixIds)
    }
  }
  return request as unknown as WireRequest
}

export interface OtlpReceiver {
  /** The traces URL to export to (`http://127.0.0.1:<port>/v1/traces`). */
  readonly url: string
  /** The endpoint for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`). */
  readonly endpoint: string
  readonly spans: ReadonlyArray<ReceivedSpan>
  /** Requests refused (undecodable bodies), with the reason. */
  readonly errors: ReadonlyArray<string>
  /** Resolves once `predicate` holds for the spans received so far; rejects after `ms`. */
  waitFor(predicate: (spans: ReadonlyArray<ReceivedSpan>) => boolean, ms: number, what: string): Promise<void>
  close(): Promise<void>
}

/** Starts a receiver on 127.0.0.1 (an ephemeral port). */
export const startOtlpReceiver = (): Promise<OtlpReceiver> =>
  new Promise((resolve, reject) => {
    const spans: Array<ReceivedSpan> = []
    const errors: Array<string> = []
    let waiters: Array<() => void> = []
    const notify = () => {
      const current = waiters
      waiters = []
      for (const wake of current) wake()
    }
    const handle = (request: IncomingMessage, response: ServerResponse, body: Buffer) => {
      const type = request.headers["content-type"] ?? ""
      try {
        if (request.method !== "POST" || request.url !== "/v1/traces") {
          response.writeHead(404).end()
          return
        }
        if (type.startsWith("application/x-protobuf")) {
          spans.push(...spansOf(decodeProtobuf(body), "protobuf"))
          response.writeHead(200, { "content-type": "application/x-protobuf" }).end()
        } else if (type.startsWith("application/json")) {
          spans.push(...spansOf(JSON.parse(body.toString("utf8")) as WireRequest, "json"))
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        } else {
          errors.push(`unsupported content type ${type}`)
          response.writeHead(415).end()
        }
      } catch (error) {
        errors.push(String(error))
        response.writeHead(400).end()
      }
      notify()
    }
    const server: Server = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => handle(request, response, Buffer.concat(chunks)))
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (address === null || typeof address === "string") return reject(new Error("no address"))
      const endpoint = `http://127.0.0.1:${address.port}`
      resolve({
        url: `${endpoint}/v1/traces`,
        endpoint,
        spans,
        errors,
        waitFor: (predicate, ms, what) =>
          new Promise<void>((done, fail) => {
            if (predicate(spans)) return done()
            const timer = setTimeout(() => {
              waiters = waiters.filter((waiter) => waiter !== check)
              fail(
                new Error(`${what}: not received within ${ms} ms (${spans.length} spans; errors: ${errors.join("; ")})`)
              )
            }, ms)
            const check = () => {
              if (predicate(spans)) {
                clearTimeout(timer)
                done()
              } else waiters.push(check)
            }
            waiters.push(check)
          }),
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
