/**
 * The Effect `Tracer` that `Tracing.layerOtlp` installs: OpenTelemetry spans from
 * `@effect/opentelemetry`'s tracer, except where the trace is not sampled, where it hands out one
 * cheap placeholder that carries the trace's ids (so that the unsampled decision still travels to
 * other nodes) and records nothing.
 *
 * A root is sampled **before** any OpenTelemetry span exists ({@link RootSampling}): the SDK's
 * tracer only samples inside `startSpan`, after it has drawn ids and built its context objects, so
 * a dropped root would cost a whole SDK span. {@link RootSampling} is both the provider's sampler
 * and its id generator, so that a root it kept is made by the SDK with the trace id it sampled and
 * without sampling again.
 *
 * @internal
 */
import * as Otel from "@opentelemetry/api"
import { type IdGenerator, type Sampler, SamplingDecision, type SamplingResult } from "@opentelemetry/sdk-trace-base"
import { Context, Exit, Option, Tracer } from "effect"
import { randomFillSync } from "node:crypto"
import type { RootSample, RootSampler } from "../../Process/internal/tracing.ts"

type SpanOptions = Parameters<Tracer.Tracer["span"]>[0]

const bigint0 = BigInt(0)
const endedStatus: Tracer.SpanStatus = { _tag: "Ended", startTime: bigint0, endTime: bigint0, exit: Exit.void }
const noAttributes: ReadonlyMap<string, unknown> = new Map()
const noLinks: ReadonlyArray<Tracer.SpanLink> = []

const POOL_BYTES = 4096
const zeroTraceId = "0".repeat(32)
const zeroSpanId = "0".repeat(16)

/**
 * Trace and span ids cut from a pool of random hex (4 KiB of `crypto` randomness turned into text at
 * once): a slice of a string is far cheaper than the SDK's generator, which formats 8 or 16 fresh
 * bytes per id (a dropped root pays for one trace id, every span for a span id).
 */
class IdPool implements IdGenerator {
  private readonly bytes = Buffer.allocUnsafe(POOL_BYTES)
  private hex = ""
  private offset = 0

  private next(chars: number, zero: string): string {
    if (this.offset + chars > this.hex.length) {
      randomFillSync(this.bytes)
      this.hex = this.bytes.toString("hex")
      this.offset = 0
    }
    const id = this.hex.substring(this.offset, (this.offset += chars))
    // W3C trace context forbids an all-zero id.
    return id === zero ? this.next(chars, zero) : id
  }

  generateTraceId(): string {
    return this.next(32, zeroTraceId)
  }

  generateSpanId(): string {
    return this.next(16, zeroSpanId)
  }
}

/** A span of an unsampled trace: it records nothing and exports nothing. */
class UnsampledSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly sampled = false
  readonly status = endedStatus
  readonly attributes = noAttributes
  readonly links = noLinks
  readonly annotations = Context.empty()
  private id: string | undefined

  constructor(
    readonly name: string,
    readonly kind: Tracer.SpanKind,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly traceId: string,
    /** The parent's id (a child of this placeholder is, for other nodes, a child of the last real span); `undefined` for a root: drawn when first read. */
    spanId: string | undefined,
    private readonly ids: IdGenerator
  ) {
    this.id = spanId
  }

  get spanId(): string {
    return (this.id ??= this.ids.generateSpanId())
  }

  end(): void {}
  attribute(): void {}
  event(): void {}
  addLinks(): void {}
}

/** The annotation that carries a root's decision from {@link RootSampling.sample} to the tracer. */
class KeptRoot extends Context.Service<KeptRoot, { readonly traceId: string; readonly result: SamplingResult }>()(
  "effect-otp/Tracing/KeptRoot"
) {}

/**
 * Samples roots ahead of the SDK with the provider's own sampler, and feeds a kept root's trace id
 * and decision to the SDK (as its id generator and sampler) when the span is made right after.
 */
export class RootSampling implements Sampler, RootSampler {
  readonly random = new IdPool()
  private pendingTraceId: string | undefined = undefined
  private pendingResult: SamplingResult | undefined = undefined

  constructor(readonly sampler: Sampler) {}

  /** The decision for a root named `name`: a placeholder when dropped, the annotations to make it with when kept. */
  sample(name: string, kind: Tracer.SpanKind): RootSample {
    const traceId = this.random.generateTraceId()
    const result = this.sampler.shouldSample(Otel.ROOT_CONTEXT, traceId, name, kindMap[kind], {}, [])
    if (result.decision !== SamplingDecision.RECORD_AND_SAMPLED) {
      return { _tag: "Dropped", span: new UnsampledSpan(name, kind, Option.none(), traceId, undefined, this.random) }
    }
    return { _tag: "Kept", annotations: Context.make(KeptRoot, { traceId, result }) }
  }

  /** Runs `make` (which creates one SDK root span) with this trace id and decision. */
  withDecision<A>(traceId: string, result: SamplingResult, make: () => A): A {
    this.pendingTraceId = traceId
    this.pendingResult = result
    try {
      return make()
    } finally {
      this.pendingTraceId = undefined
      this.pendingResult = undefined
    }
  }

  // IdGenerator
  generateTraceId = (): string => this.pendingTraceId ?? this.random.generateTraceId()
  generateSpanId = (): string => this.random.generateSpanId()

  // Sampler
  shouldSample(...args: Parameters<Sampler["shouldSample"]>): SamplingResult {
    const pending = this.pendingResult
    // Only the root the decision was taken for: it has the pending trace id (a child has its parent's).
    if (pending !== undefined && args[1] === this.pendingTraceId) return pending
    return this.sampler.shouldSample(...args)
  }

  toString(): string {
    return this.sampler.toString()
  }

  /** A root about to be made by the tracer: sampled here first (unless `options` carry a decision). */
  span(options: SpanOptions, make: () => Tracer.Span): Tracer.Span {
    const kept = Context.getOrUndefined(options.annotations, KeptRoot)
    if (kept !== undefined) return this.withDecision(kept.traceId, kept.result, make)
    const traceId = this.random.generateTraceId()
    const result = this.sampler.shouldSample(Otel.ROOT_CONTEXT, traceId, options.name, kindMap[options.kind], {}, [])
    if (result.decision !== SamplingDecision.RECORD_AND_SAMPLED) {
      return new UnsampledSpan(options.name, options.kind, options.parent, traceId, undefined, this.random)
    }
    return this.withDecision(traceId, result, make)
  }

  /** A placeholder child of an unsampled span. */
  unsampledChild(options: SpanOptions, parent: Tracer.AnySpan): Tracer.Span {
    return new UnsampledSpan(options.name, options.kind, options.parent, parent.traceId, parent.spanId, this.random)
  }
}

const kindMap: Record<Tracer.SpanKind, Otel.SpanKind> = {
  internal: Otel.SpanKind.INTERNAL,
  client: Otel.SpanKind.CLIENT,
  server: Otel.SpanKind.SERVER,
  producer: Otel.SpanKind.PRODUCER,
  consumer: Otel.SpanKind.CONSUMER
}

/** Whether an OpenTelemetry span made for these options would be a root (no Effect parent, no active OpenTelemetry span). */
const isRoot = (options: SpanOptions): boolean =>
  Option.isNone(options.parent) && (options.root || Otel.trace.getSpan(Otel.context.active()) === undefined)

/**
 * Wraps `base` (the OpenTelemetry-backed tracer). `propagateContext` keeps its per-operation hook
 * that makes the current span OpenTelemetry's active one (for libraries instrumented with
 * OpenTelemetry's API, called from Effect code); without it, that hook's cost (an
 * `AsyncLocalStorage` context switch on every Effect operation inside a span) is saved.
 */
export const makeTracer = (base: Tracer.Tracer, propagateContext: boolean, roots: RootSampling): Tracer.Tracer =>
  Tracer.make({
    span(options) {
      const parent = options.parent
      if (Option.isSome(parent) && !parent.value.sampled) return roots.unsampledChild(options, parent.value)
      if (isRoot(options)) return roots.span(options, () => base.span(options))
      const span = base.span(options)
      // Dropped by a sampler that is not parent-based: keep its ids (they travel on), skip the
      // recording of attributes and the end that a non-recording OpenTelemetry span would still go through.
      return span.sampled
        ? span
        : new UnsampledSpan(options.name, options.kind, parent, span.traceId, span.spanId, roots.random)
    },
    ...(propagateContext && base.context !== undefined ? { context: base.context } : {})
  })
