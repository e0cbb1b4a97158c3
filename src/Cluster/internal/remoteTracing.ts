/**
 * The spans this node makes for the handling of a frame from another node that is not a call or a
 * cast (those are traced by the server loop): a received send, a remote stop, a remote spawn. Each
 * is a child of the sender's span when the frame carries a sampled `traceparent`; none is made for
 * an unsampled one, nor without a tracer in the node's context; without trace context, only when
 * `TraceRoots` lets what comes from another node start a trace.
 *
 * @internal
 */
import { Context, Effect, Tracer } from "effect"
import { installedTracer, TraceRoots, withSpan } from "../../Process/internal/tracing.ts"
import { parseTraceparent } from "./wireForms.ts"

/** What to pass to `withSpan` for the handling of a frame: its parent, or a root. */
type Placement = { readonly parent: Tracer.AnySpan } | { readonly root: true }

export class RemoteTracing {
  private readonly traced: boolean
  private readonly runSync: <A, E>(effect: Effect.Effect<A, E>) => A

  constructor(
    /** The node's context: its tracer and `TraceRoots`. */
    private readonly context: Context.Context<never>,
    readonly node: string
  ) {
    this.traced = installedTracer(context) !== undefined
    this.runSync = Effect.runSyncWith(context)
  }

  /** Where the span of a frame's handling goes, or `undefined`: no span. */
  placement(traceparent: string | undefined): Placement | undefined {
    if (!this.traced) return undefined
    const parent = parseTraceparent(traceparent)
    if (parent !== undefined) return parent.sampled ? { parent: Tracer.externalSpan(parent) } : undefined
    const roots = Context.get(this.context, TraceRoots)
    return roots === "none" ? undefined : { root: true }
  }

  /** `effect` inside the span of a frame's handling, or `effect` itself when there is none. */
  wrap<A, E, R>(
    effect: Effect.Effect<A, E, R>,
    traceparent: string | undefined,
    name: string,
    kind: Tracer.SpanKind,
    attributes: Record<string, unknown>
  ): Effect.Effect<A, E, R> {
    const placement = this.placement(traceparent)
    if (placement === undefined) return effect
    return withSpan(effect, name, { attributes, kind, ...placement }, false)
  }

  /**
   * Runs `deliver` (synchronous, in arrival order) inside the span of a frame's handling when
   * there is one, at once otherwise.
   */
  around(
    deliver: () => void,
    traceparent: string | undefined,
    name: string,
    kind: Tracer.SpanKind,
    attributes: Record<string, unknown>
  ): void {
    const placement = this.placement(traceparent)
    if (placement === undefined) return deliver()
    this.runSync(withSpan(Effect.sync(deliver), name, { attributes, kind, ...placement }, false))
  }
}
