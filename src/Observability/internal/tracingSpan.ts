/**
 * Lean spans: what `Tracing.layerOtlp`'s tracer makes for a sampled span whose sampling needs no
 * question (a root it already kept, or a child of one of its own sampled spans under a sampler
 * that keeps every child of a sampled local parent: the SDK's parent-based samplers by default).
 *
 * `@effect/opentelemetry`'s `OtelSpan` makes an SDK `SpanImpl` through the SDK tracer (context
 * objects, the sampler again, span limits, per-attribute validation and a `Map` copy of every
 * attribute). A {@link LeanSpan} keeps its attributes in one plain object and, when it ends,
 * hands the span queue one `ReadableSpan` (the shape the OTLP exporters serialise) with the SDK
 * tracer's own resource and instrumentation scope, so that its spans and the SDK's are exported
 * together. Its status, exception events and `effect.fiber.interrupted` attribute follow
 * `OtelSpan`'s.
 *
 * It is used only when no `OTEL_*_LIMIT` variable is set (span limits are the SDK's business) and
 * `propagateOtelContext` is off; otherwise every span goes through `OtelSpan`.
 *
 * @internal
 */
import * as Otel from "@opentelemetry/api"
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Cause, type Context, type Exit, Option, type Tracer } from "effect"
import * as Inspectable from "effect/Inspectable"

/** The SDK tracer's resource and scope, to give lean spans the same ones. */
export interface LeanSpanSink {
  readonly processor: SpanProcessor
  readonly resource: ReadableSpan["resource"]
  readonly instrumentationScope: ReadableSpan["instrumentationScope"]
  readonly generateSpanId: () => string
}

const THOUSAND = BigInt(1000)
/** Microseconds since the epoch (exact in a double for millennia): one BigInt division per time. */
const micros = (nanos: bigint): number => Number(nanos / THOUSAND)
const hrTime = (us: number): Otel.HrTime => {
  const seconds = Math.floor(us / 1e6)
  return [seconds, Math.round((us - seconds * 1e6) * 1000)]
}

/** The OpenTelemetry attribute count limit's default (`OTEL_ATTRIBUTE_COUNT_LIMIT`). */
const MAX_ATTRIBUTES = 128

/** Effect's span kinds as OpenTelemetry's (also used by the tracer's root sampling). */
export const kindMap: Record<Tracer.SpanKind, Otel.SpanKind> = {
  internal: Otel.SpanKind.INTERNAL,
  client: Otel.SpanKind.CLIENT,
  server: Otel.SpanKind.SERVER,
  producer: Otel.SpanKind.PRODUCER,
  consumer: Otel.SpanKind.CONSUMER
}

const isHomogeneousPrimitiveArray = (array: ReadonlyArray<unknown>): boolean => {
  const type = typeof array[0]
  return (
    (array.length === 0 || type === "string" || type === "number" || type === "boolean") &&
    array.every((item) => typeof item === type)
  )
}

/** As `@effect/opentelemetry` converts an attribute value. */
const toAttributeValue = (value: unknown): Otel.AttributeValue => {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value
  if (typeof value === "bigint") return value.toString()
  if (Array.isArray(value) && isHomogeneousPrimitiveArray(value)) return value.slice() as Otel.AttributeValue
  return Inspectable.toStringUnknown(value)
}

const spanContextOf = (span: Tracer.AnySpan): Otel.SpanContext => ({
  traceId: span.traceId,
  spanId: span.spanId,
  traceFlags: span.sampled ? Otel.TraceFlags.SAMPLED : Otel.TraceFlags.NONE,
  isRemote: span._tag === "ExternalSpan"
})

const noLinks: Array<never> = []
const noEvents: Array<never> = []

interface TimedEvent {
  readonly name: string
  readonly time: Otel.HrTime
  readonly attributes?: Otel.Attributes
  readonly droppedAttributesCount: number
}

/** See the module documentation. */
export class LeanSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly sampled = true
  readonly spanId: string
  status: Tracer.SpanStatus
  // No prototype: a key such as "constructor" or "__proto__" is an attribute like any other.
  private readonly attrs: Record<string, Otel.AttributeValue> = Object.create(null)
  private attributeCount = 0
  private droppedAttributes = 0
  private attributeMap: Map<string, unknown> | undefined = undefined
  private events: Array<TimedEvent> | undefined = undefined
  readonly links: Array<Tracer.SpanLink>

  constructor(
    private readonly sink: LeanSpanSink,
    readonly name: string,
    readonly kind: Tracer.SpanKind,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly annotations: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    readonly traceId: string,
    startTime: bigint
  ) {
    this.spanId = sink.generateSpanId()
    this.status = { _tag: "Started", startTime }
    this.links = links.length === 0 ? [] : links.slice()
  }

  /** The attributes as Effect shows them (made on first read: the exporter reads the plain object). */
  get attributes(): ReadonlyMap<string, unknown> {
    return (this.attributeMap ??= new Map(Object.entries(this.attrs)))
  }

  attribute(key: string, value: unknown): void {
    if (this.status._tag === "Ended") return
    if (!Object.hasOwn(this.attrs, key)) {
      if (this.attributeCount >= MAX_ATTRIBUTES) {
        this.droppedAttributes++
        return
      }
      this.attributeCount++
    }
    this.attrs[key] = toAttributeValue(value)
    this.attributeMap?.set(key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.status._tag === "Ended") return
    const converted: Otel.Attributes | undefined =
      attributes === undefined
        ? undefined
        : Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, toAttributeValue(value)]))
    ;(this.events ??= []).push({
      name,
      time: hrTime(micros(startTime)),
      ...(converted === undefined ? {} : { attributes: converted }),
      droppedAttributesCount: 0
    })
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    if (this.status._tag === "Ended") return
    this.links.push(...links)
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    const startTime = this.status.startTime
    this.status = { _tag: "Ended", startTime, endTime, exit }
    let status: { code: Otel.SpanStatusCode; message?: string } = { code: Otel.SpanStatusCode.OK }
    if (exit._tag === "Failure") {
      if (Cause.hasInterruptsOnly(exit.cause)) {
        this.attribute("effect.fiber.interrupted", true)
        // `attribute` ignores an ended span: set it before the status says so.
        this.attrs["effect.fiber.interrupted"] = true
      } else {
        const errors = Cause.prettyErrors(exit.cause, { includeCauseInStack: true })
        const time = hrTime(micros(endTime))
        for (const error of errors) {
          const attributes: Otel.Attributes = {}
          const code = (error as { code?: unknown }).code
          if (code !== undefined && code !== null && code !== "") attributes["exception.type"] = String(code)
          else if (error.name) attributes["exception.type"] = error.name
          if (error.message) attributes["exception.message"] = error.message
          if (error.stack) attributes["exception.stacktrace"] = error.stack
          ;(this.events ??= []).push({ name: "exception", time, attributes, droppedAttributesCount: 0 })
        }
        if (errors.length > 0) status = { code: Otel.SpanStatusCode.ERROR, message: errors[0]!.message }
      }
    }
    const parent = Option.getOrUndefined(this.parent)
    const context: Otel.SpanContext = {
      traceId: this.traceId,
      spanId: this.spanId,
      traceFlags: Otel.TraceFlags.SAMPLED
    }
    const startUs = micros(startTime)
    const endUs = micros(endTime)
    // One shape for every span (a conditional spread would make each a dictionary-mode copy).
    const readable = {
      name: this.name,
      kind: kindMap[this.kind],
      spanContext: () => context,
      parentSpanContext: parent === undefined ? undefined : spanContextOf(parent),
      startTime: hrTime(startUs),
      endTime: hrTime(endUs),
      status,
      attributes: this.attrs,
      links:
        this.links.length === 0
          ? noLinks
          : this.links.map((link) => ({
              context: spanContextOf(link.span),
              attributes: Object.fromEntries(Object.entries(link.attributes).map(([k, v]) => [k, toAttributeValue(v)]))
            })),
      events: this.events ?? noEvents,
      duration: hrTime(endUs > startUs ? endUs - startUs : 0),
      ended: true,
      resource: this.sink.resource,
      instrumentationScope: this.sink.instrumentationScope,
      droppedAttributesCount: this.droppedAttributes,
      droppedEventsCount: 0,
      droppedLinksCount: 0
    } as ReadableSpan
    this.sink.processor.onEnd(readable)
  }
}

/** The SDK tracer's resource and scope, when it has them where the SDK (2.x) keeps them. */
export const sinkOf = (
  sdkTracer: unknown,
  processor: SpanProcessor,
  generateSpanId: () => string
): LeanSpanSink | undefined => {
  const tracer = sdkTracer as {
    _resource?: ReadableSpan["resource"]
    instrumentationScope?: ReadableSpan["instrumentationScope"]
  }
  if (tracer._resource === undefined || tracer.instrumentationScope === undefined) return undefined
  return { processor, resource: tracer._resource, instrumentationScope: tracer.instrumentationScope, generateSpanId }
}

/** Whether a span-limit variable is set (then spans are left to the SDK, which applies limits). */
export const spanLimitsSet = (env: NodeJS.ProcessEnv): boolean =>
  Object.keys(env).some((key) => key.startsWith("OTEL_") && key.endsWith("_LIMIT") && env[key] !== "")
