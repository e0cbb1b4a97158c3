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
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  type IdGenerator,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import { Context, Exit, Option, Tracer } from "effect"
import { randomFillSync } from "node:crypto"
import type { RootSample, RootSampler } from "../../Process/internal/tracing.ts"
import { kindMap, LeanSpan, type LeanSpanSink } from "./tracingSpan.ts"

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
  private trace: string | undefined
  private id: string | undefined

  constructor(
    readonly name: string,
    readonly kind: Tracer.SpanKind,
    readonly parent: Option.Option<Tracer.AnySpan>,
    /** The trace's id; `undefined` for a root dropped without one: drawn when first read (most never are). */
    traceId: string | undefined,
    /** The parent's id (a child of this placeholder is, for other nodes, a child of the last real span); `undefined` for a root: drawn when first read. */
    spanId: string | undefined,
    private readonly ids: IdGenerator
  ) {
    this.trace = traceId
    this.id = spanId
  }

  get traceId(): string {
    return (this.trace ??= this.ids.generateTraceId())
  }

  get spanId(): string {
    return (this.id ??= this.ids.generateSpanId())
  }

  end(): void {}
  attribute(): void {}
  event(): void {}
  addLinks(): void {}
}

const keptResult: SamplingResult = { decision: SamplingDecision.RECORD_AND_SAMPLED }

const TWO_32 = 4294967296

/**
 * How `sampler` decides a root without being asked, when it is one of the SDK's own root samplers
 * (always on, always off, a trace-id ratio; alone or as the root of a parent-based sampler): a
 * root is kept when a uniform 32-bit number is below `bound` (the ratio sampler's own threshold),
 * so that it costs one `Math.random()` and no trace id (a dropped root draws one only if something
 * reads it), and `ratio` is the sampler to make a kept root's trace id for. `undefined` for any
 * other sampler: it is asked, with a fresh trace id.
 */
const rootBoundOf = (sampler: Sampler): { bound: number; ratio: TraceIdRatioBasedSampler | undefined } | undefined => {
  // ParentBasedSampler asks its root sampler (a field of its own) for a span without a parent.
  const root = sampler instanceof ParentBasedSampler ? (sampler as unknown as { _root?: unknown })._root : sampler
  if (root instanceof AlwaysOnSampler) return { bound: TWO_32, ratio: undefined }
  if (root instanceof AlwaysOffSampler) return { bound: 0, ratio: undefined }
  if (root instanceof TraceIdRatioBasedSampler) {
    const text = /^TraceIdRatioBased\{(.*)\}$/.exec(root.toString())?.[1]
    const ratio = text === undefined ? Number.NaN : Number(text)
    if (!(ratio >= 0 && ratio <= 1)) return undefined
    // The SDK's threshold: a trace id is kept when the XOR of its four 32-bit parts is below it.
    const bound = ratio === 1 ? TWO_32 : Math.floor(ratio * 0xffffffff)
    return { bound, ratio: root }
  }
  return undefined
}

/**
 * A trace id that a ratio sampler keeps, for the uniform `below` (< its bound): 24 random hex
 * digits, then 8 whose XOR with the other three 32-bit parts is `below`. Uniform over the ids the
 * sampler keeps, so that it decides on this id as it was decided without one.
 */
const keptTraceId = (ids: IdPool, below: number): string => {
  const head = ids.generateTraceId().substring(0, 24)
  let last = below
  for (let i = 0; i < 24; i += 8) last = (last ^ Number.parseInt(head.substring(i, i + 8), 16)) >>> 0
  const id = head + last.toString(16).padStart(8, "0")
  return id === zeroTraceId ? keptTraceId(ids, below) : id
}

/** Whether {@link keptTraceId} agrees with `ratio` (checked once per layer, for a future SDK that decides otherwise). */
const agrees = (ids: IdPool, ratio: TraceIdRatioBasedSampler, bound: number): boolean => {
  const kept = (id: string) =>
    ratio.shouldSample(Otel.ROOT_CONTEXT, id).decision === SamplingDecision.RECORD_AND_SAMPLED
  for (let i = 0; i < 16; i++) {
    if (bound > 0 && !kept(keptTraceId(ids, Math.floor((i / 16) * bound)))) return false
    if (bound < TWO_32 && kept(keptTraceId(ids, bound + Math.floor((i / 16) * (TWO_32 - bound))))) return false
  }
  return true
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
  /** See {@link rootBoundOf}; `undefined`: the sampler is asked. */
  private readonly bound: number | undefined
  private readonly ratio: TraceIdRatioBasedSampler | undefined
  /** Roots decided here, kept and dropped (served as `effect_otp_tracing_roots_total`). */
  readonly counts = { kept: 0, dropped: 0 }

  constructor(readonly sampler: Sampler) {
    const known = rootBoundOf(sampler)
    const usable = known !== undefined && (known.ratio === undefined || agrees(this.random, known.ratio, known.bound))
    this.bound = usable ? known.bound : undefined
    this.ratio = usable ? known.ratio : undefined
  }

  /**
   * A root's decision: `undefined` when dropped (with `traceId` none drawn, when the ratio is
   * known), else the trace id and result to make it with.
   */
  private decide(name: string, kind: Tracer.SpanKind): { traceId: string; result: SamplingResult } | undefined {
    const bound = this.bound
    if (bound !== undefined) {
      const below = (Math.random() * TWO_32) >>> 0
      if (below < bound) {
        this.counts.kept++
        const ratio = this.ratio
        const traceId = ratio === undefined ? this.random.generateTraceId() : keptTraceId(this.random, below)
        return { traceId, result: keptResult }
      }
      this.counts.dropped++
      return undefined
    }
    const traceId = this.random.generateTraceId()
    const result = this.sampler.shouldSample(Otel.ROOT_CONTEXT, traceId, name, kindMap[kind], {}, [])
    if (result.decision !== SamplingDecision.RECORD_AND_SAMPLED) {
      this.counts.dropped++
      // The id the sampler saw stays the trace's (it travels unsampled to other nodes).
      this.droppedTraceId = traceId
      return undefined
    }
    this.counts.kept++
    return { traceId, result }
  }

  /** The trace id of the root {@link decide} just dropped after asking the sampler (`undefined`: none drawn). */
  private droppedTraceId: string | undefined = undefined

  private takeDroppedTraceId(): string | undefined {
    const traceId = this.droppedTraceId
    this.droppedTraceId = undefined
    return traceId
  }

  /** The decision for a root named `name`: a placeholder when dropped, the annotations to make it with when kept. */
  sample(name: string, kind: Tracer.SpanKind): RootSample {
    const kept = this.decide(name, kind)
    if (kept === undefined) {
      const span = new UnsampledSpan(name, kind, Option.none(), this.takeDroppedTraceId(), undefined, this.random)
      return { _tag: "Dropped", span }
    }
    return { _tag: "Kept", annotations: Context.make(KeptRoot, kept) }
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

  /** A root about to be made by the tracer: sampled here first (unless `options` carry a decision). `lean` makes a kept root without the SDK. */
  span(options: SpanOptions, make: () => Tracer.Span, lean?: (traceId: string) => Tracer.Span): Tracer.Span {
    const kept = Context.getOrUndefined(options.annotations, KeptRoot)
    if (kept !== undefined) {
      return lean !== undefined && kept.result === keptResult
        ? lean(kept.traceId)
        : this.withDecision(kept.traceId, kept.result, make)
    }
    const decision = this.decide(options.name, options.kind)
    if (decision === undefined) {
      const traceId = this.takeDroppedTraceId()
      return new UnsampledSpan(options.name, options.kind, options.parent, traceId, undefined, this.random)
    }
    return lean !== undefined && decision.result === keptResult
      ? lean(decision.traceId)
      : this.withDecision(decision.traceId, decision.result, make)
  }

  /** A placeholder child of an unsampled span. */
  unsampledChild(options: SpanOptions, parent: Tracer.AnySpan): Tracer.Span {
    return new UnsampledSpan(options.name, options.kind, options.parent, parent.traceId, parent.spanId, this.random)
  }
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
export const makeTracer = (
  base: Tracer.Tracer,
  propagateContext: boolean,
  roots: RootSampling,
  lean: LeanSpanSink | undefined
): Tracer.Tracer => {
  // Lean children only where the sampler would keep every child of a sampled local parent.
  const leanChildren = lean !== undefined && keepsSampledLocalChildren(roots.sampler)
  const leanSpan = (options: SpanOptions, traceId: string): Tracer.Span =>
    new LeanSpan(
      lean!,
      options.name,
      options.kind,
      options.parent,
      options.annotations,
      options.links,
      traceId,
      options.startTime
    )
  return Tracer.make({
    span(options) {
      const parent = options.parent
      if (Option.isSome(parent) && !parent.value.sampled) return roots.unsampledChild(options, parent.value)
      if (isRoot(options)) {
        return lean === undefined
          ? roots.span(options, () => base.span(options))
          : roots.span(
              options,
              () => base.span(options),
              (traceId) => leanSpan(options, traceId)
            )
      }
      // A child of one of this tracer's lean spans (not of a remote parent nor of a span the SDK
      // made, e.g. a server span under a remote parent or a root whose sampler set a trace state:
      // their trace state and sampling are the SDK's to handle).
      if (leanChildren && Option.isSome(parent) && parent.value instanceof LeanSpan) {
        return leanSpan(options, parent.value.traceId)
      }
      const span = base.span(options)
      // Dropped by a sampler that is not parent-based: keep its ids (they travel on), skip the
      // recording of attributes and the end that a non-recording OpenTelemetry span would still go through.
      return span.sampled
        ? span
        : new UnsampledSpan(options.name, options.kind, parent, span.traceId, span.spanId, roots.random)
    },
    ...(propagateContext && base.context !== undefined ? { context: base.context } : {})
  })
}

/** Whether `sampler` keeps every child of a sampled local parent without looking at it (the SDK's parent-based default). */
const keepsSampledLocalChildren = (sampler: Sampler): boolean =>
  sampler instanceof ParentBasedSampler &&
  (sampler as unknown as { _localParentSampled?: unknown })._localParentSampled instanceof AlwaysOnSampler
