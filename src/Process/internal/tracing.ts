/**
 * How the library names and attributes its spans (OpenTelemetry's RPC conventions for calls, its
 * messaging conventions for casts), and when it makes them at all: only with a tracer installed,
 * never under an unsampled parent, and without a parent only for the operations that
 * {@link TraceRoots} lets start a trace. Observability re-exports {@link TraceRoots}; the rest is
 * internal.
 *
 * @internal
 */
import { Cause, Context, Effect, type Fiber, References, Tracer } from "effect"
import { NameId } from "../Protocol.ts"

/**
 * Which operations start a trace of their own when they run outside any span:
 * - `"remote"` (default): what crosses nodes (remote calls, casts, sends, spawns and stops), the
 *   handling of a request that came from another node without trace context, supervisor restarts
 *   and escalations, and node up/down;
 * - `"all"`: also local calls and casts, and every message a server handles;
 * - `"none"`: nothing; spans are only made inside a trace the application started.
 */
export type TraceRootPolicy = "none" | "remote" | "all"

/** See {@link TraceRootPolicy}. */
export const TraceRoots = Context.Reference<TraceRootPolicy>("effect-otp/TraceRoots", {
  defaultValue: () => "remote"
})

/** The tracer explicitly installed in a context (`undefined`: only Effect's default, never used by us). */
export const installedTracer = (context: Context.Context<never>): Tracer.Tracer | undefined =>
  Context.getOrUndefined(context, Tracer.Tracer)

/** The span a fiber runs in, if any. */
export const parentSpanOf = (fiber: Fiber.Fiber<unknown, unknown>): Tracer.AnySpan | undefined =>
  Context.getOrUndefined(fiber.context, Tracer.ParentSpan)

/**
 * What to do for an operation about to be traced:
 * - `"none"`: make no span and propagate nothing (no tracer, or no parent and no root allowed);
 * - `"propagate"`: make no span, but pass the (unsampled) parent on, so that other nodes know;
 * - `"span"`: make a span.
 */
export type TraceDecision = "none" | "propagate" | "span"

/** Decides for an operation that may start a trace when `root` is `"remote"` or `"all"` permits. */
export const decide = (
  context: Context.Context<never>,
  parent: Tracer.AnySpan | undefined,
  remote: boolean
): TraceDecision => {
  if (installedTracer(context) === undefined) return "none"
  if (parent !== undefined) return parent.sampled ? "span" : "propagate"
  const roots = Context.get(context, TraceRoots)
  return roots === "all" || (roots === "remote" && remote) ? "span" : "none"
}

/** Same decision from a fiber's own context and span. */
export const decideFor = (fiber: Fiber.Fiber<unknown, unknown>, remote: boolean): TraceDecision =>
  decide(fiber.context as Context.Context<never>, parentSpanOf(fiber), remote)

/** The qualified name of a request (`Protocol/Tag`, or the tag of an unnamed protocol). */
export const methodOf = (request: object): string =>
  ((request as Record<symbol, unknown>)[NameId] as string | undefined) ?? (request as { _tag: string })._tag

/** The service part of a qualified method name (`Protocol`), if the protocol has a name. */
export const serviceOf = (method: string): string | undefined => {
  const slash = method.lastIndexOf("/")
  return slash < 0 ? undefined : method.slice(0, slash)
}

/** The RPC system name of every span of this library (`rpc.system.name`, `messaging.system`). */
export const systemName = "effect_otp"

/** Attribute names of our own (prefixed as OpenTelemetry asks of non-standard attributes). */
export const Attr = {
  node: "effect_otp.node",
  pid: "effect_otp.pid",
  name: "effect_otp.registered_name",
  behaviour: "effect_otp.behaviour",
  target: "effect_otp.target",
  peer: "effect_otp.peer.node",
  local: "effect_otp.local"
} as const

/** A target shown in attributes: a registered name as it is, a pid as text. */
export const targetLabel = (target: unknown): string => (typeof target === "string" ? target : String(target))

/** The attributes of a client span of a call (`GenServer.call`). */
export const clientAttributes = (
  method: string,
  node: string,
  target: unknown,
  peer: string | undefined
): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    "rpc.system.name": systemName,
    "rpc.method": method,
    [Attr.node]: node,
    [Attr.target]: targetLabel(target)
  }
  if (peer !== undefined) {
    attributes["server.address"] = peer
    attributes[Attr.peer] = peer
  } else {
    attributes[Attr.local] = true
  }
  return attributes
}

/** The attributes of a producer span of a cast (`send`). */
export const producerAttributes = (
  method: string,
  node: string,
  target: unknown,
  peer: string | undefined
): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    "messaging.system": systemName,
    "messaging.operation.name": "send",
    "messaging.operation.type": "send",
    "messaging.destination.name": destinationOf(target),
    [Attr.node]: node,
    [Attr.target]: targetLabel(target),
    "effect_otp.message": method
  }
  if (typeof target !== "string" && !isNamed(target)) attributes["messaging.destination.anonymous"] = true
  if (peer !== undefined) {
    attributes["server.address"] = peer
    attributes[Attr.peer] = peer
  }
  return attributes
}

const isNamed = (target: unknown): boolean =>
  typeof target === "object" && target !== null && typeof (target as { name?: unknown }).name === "string"

/** A destination for messaging attributes: a registered name, or the pid (anonymous). */
export const destinationOf = (target: unknown): string =>
  typeof target === "string" ? target : isNamed(target) ? (target as { name: string }).name : String(target)

/**
 * A cast with the span of its sender, for a server that traces it (`process` CONSUMER span, child
 * of the sender's `send`). Made for a local cast only when the sender's span is sampled, and for
 * every cast from another node to a GenServer; the server loop unwraps it.
 */
export class TracedCast {
  constructor(
    readonly request: object,
    readonly span: Tracer.AnySpan | undefined,
    /** It came from another node (then it may start a trace, see {@link TraceRoots}). */
    readonly fromNode: boolean
  ) {}
}

/** The `error.type` of a failed operation's cause (`undefined`: interrupted only). */
const failureTypeOf = (cause: Cause.Cause<unknown>): string | undefined => {
  const failure = cause.reasons.find(Cause.isFailReason)
  return failure !== undefined ? errorTypeOf(failure.error) : Cause.hasInterruptsOnly(cause) ? undefined : "_OTHER"
}

/** Records the `error.type` of a failed operation on the span it runs in. */
export const annotateFailure = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.onError(effect, (cause) => {
    const type = failureTypeOf(cause)
    return type === undefined ? Effect.void : Effect.annotateCurrentSpan("error.type", type)
  })

const noStack = (): string | undefined => undefined

/**
 * `Effect.withSpan(effect, name, { ...options, captureStackTrace: false })` for the spans of this
 * library that have children (a server's SERVER, CONSUMER or INTERNAL span, a remote frame's
 * handling, a spawn): the same span (made by Effect's `useSpan`) in the same context (the span as
 * parent, its name as a stack frame), set in one step: `Effect.withSpan` rebuilds the fiber's
 * context (and the cache derived from it) once for each. `recordFailure` records a failure's
 * `error.type` on the span, as {@link annotateFailure} does.
 */
export const withSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  options: {
    readonly attributes: Record<string, unknown>
    readonly kind: Tracer.SpanKind
    readonly parent?: Tracer.AnySpan | undefined
    readonly root?: boolean | undefined
  },
  recordFailure: boolean
): Effect.Effect<A, E, R> =>
  Effect.useSpan(name, options, (span) => {
    const inSpan = Effect.updateContext(effect, (context: Context.Context<R>) =>
      Context.add(Context.add(context, Tracer.ParentSpan, span), References.CurrentStackFrame, {
        name,
        stack: noStack,
        parent: Context.get(context, References.CurrentStackFrame)
      })
    )
    return recordFailure ? recordFailureOn(span, inSpan) : inSpan
  })

/** Records the `error.type` of a failure of `effect` on `span`. */
const recordFailureOn = <A, E, R>(span: Tracer.Span, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.onError(effect, (cause) => {
    const type = failureTypeOf(cause)
    if (type !== undefined) span.attribute("error.type", type)
    return Effect.void
  })

/**
 * Runs `run` in a new span (made as `Effect.withSpan` makes it, through Effect's `useSpan`: the
 * context's tracer, span annotations, links, trace levels and timing; ended when `run` ends) that
 * `run` is handed instead of running in it: for the CLIENT span of a call and the PRODUCER span
 * of a send, whose only child is made from the span handed on (by the server, or another node), so
 * that the caller's fiber context is not rebuilt for it (`Effect.withSpan` rebuilds it twice, for
 * the parent span and a stack frame: about half of what a span costs in Effect). A failure's
 * `error.type` is recorded on the span, as {@link annotateFailure} does.
 */
export const outgoingSpan = <A, E, R>(
  name: string,
  kind: Tracer.SpanKind,
  attributes: Record<string, unknown>,
  annotations: Context.Context<never> | undefined,
  run: (span: Tracer.Span) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.useSpan(name, annotations === undefined ? { attributes, kind } : { attributes, kind, annotations }, (span) =>
    recordFailureOn(span, run(span))
  )

/** The `error.type` of a failed call: the error's tag or class name, `_OTHER` otherwise. */
export const errorTypeOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const tag = (error as { _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    const name = (error as { name?: unknown }).name
    if (typeof name === "string" && name !== "Error") return name
  }
  return "_OTHER"
}

/**
 * A root's sampling decision taken before any span is made (installed by the tracing layer, which
 * samples with the same sampler as its OpenTelemetry provider): a dropped root then costs one
 * sampler call and a placeholder instead of a span, and the placeholder still carries the
 * unsampled decision on (to the server, to other nodes).
 */
export interface RootSampler {
  readonly sample: (name: string, kind: Tracer.SpanKind) => RootSample
}

/**
 * `Dropped`: run without a span, with `span` (unsampled) as the parent to pass on; `Kept`: make the
 * span with these `annotations` (they carry the decision, so that the tracer does not sample again).
 */
export type RootSample =
  | { readonly _tag: "Dropped"; readonly span: Tracer.AnySpan }
  | { readonly _tag: "Kept"; readonly annotations: Context.Context<never> }

/** See {@link RootSampler}; without one, the tracer decides when the span is made. */
export const TraceRootSampler = Context.Reference<RootSampler | undefined>("effect-otp/TraceRootSampler", {
  defaultValue: () => undefined
})

/** Samples a root about to be made in `context`, if the tracing layer installed a {@link RootSampler}. */
export const sampleRoot = (
  context: Context.Context<never>,
  name: string,
  kind: Tracer.SpanKind
): RootSample | undefined => Context.get(context, TraceRootSampler)?.sample(name, kind)
