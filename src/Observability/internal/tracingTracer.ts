/**
 * The Effect `Tracer` that `Tracing.layerOtlp` installs: OpenTelemetry spans from
 * `@effect/opentelemetry`'s tracer, except under an unsampled parent, where it hands out one cheap
 * placeholder that carries the parent's trace and span ids (so that the unsampled decision still
 * travels to other nodes) and records nothing.
 *
 * @internal
 */
import { Context, Exit, Option, Tracer } from "effect"

type SpanOptions = Parameters<Tracer.Tracer["span"]>[0]

const bigint0 = BigInt(0)
const endedStatus: Tracer.SpanStatus = { _tag: "Ended", startTime: bigint0, endTime: bigint0, exit: Exit.void }
const noAttributes: ReadonlyMap<string, unknown> = new Map()

/** A span inside an unsampled trace: it records nothing and exports nothing. */
class UnsampledSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly sampled = false
  readonly status = endedStatus
  readonly attributes = noAttributes
  readonly links: ReadonlyArray<Tracer.SpanLink> = []
  readonly annotations = Context.empty()
  readonly traceId: string
  readonly spanId: string
  readonly name: string
  readonly kind: Tracer.SpanKind
  readonly parent: Option.Option<Tracer.AnySpan>

  constructor(options: SpanOptions, parent: Tracer.AnySpan) {
    this.name = options.name
    this.kind = options.kind
    this.parent = options.parent
    this.traceId = parent.traceId
    // The parent's id: a child of this placeholder is, for every other node, a child of the last
    // real span (which is not exported either, since the whole trace is unsampled).
    this.spanId = parent.spanId
  }

  end(): void {}
  attribute(): void {}
  event(): void {}
  addLinks(): void {}
}

/**
 * Wraps `base` (the OpenTelemetry-backed tracer). `propagateContext` keeps its per-operation hook
 * that makes the current span OpenTelemetry's active one (for libraries instrumented with
 * OpenTelemetry's API, called from Effect code); without it, that hook's cost (an
 * `AsyncLocalStorage` context switch on every Effect operation inside a span) is saved.
 */
export const makeTracer = (base: Tracer.Tracer, propagateContext: boolean): Tracer.Tracer =>
  Tracer.make({
    span(options) {
      const parent = options.parent
      if (Option.isSome(parent) && !parent.value.sampled) return new UnsampledSpan(options, parent.value)
      const span = base.span(options)
      // A root the sampler dropped: keep its ids (they travel on), skip the recording of
      // attributes and the end that a non-recording OpenTelemetry span would still go through.
      return span.sampled ? span : new UnsampledSpan(options, span)
    },
    ...(propagateContext && base.context !== undefined ? { context: base.context } : {})
  })
