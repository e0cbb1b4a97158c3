/**
 * Node up and node down as short root spans (`node_up`, `node_down`), one per event, with the
 * peer, its incarnation and (for a down) the reason. Roots of their own: a membership change is
 * not part of any request's trace, and a Jaeger user finds them by name or by
 * `effect_otp.peer.node`. Made only with a tracer in the node's context and unless
 * `TraceRoots` is `"none"`.
 *
 * @internal
 */
import { Context, Effect } from "effect"
import { Attr, installedTracer, TraceRoots } from "../../Process/internal/tracing.ts"
import type { ClusterEvent } from "../ClusterEvent.ts"

/** What records a membership event as a span (does nothing when there is no span to make). */
export const membershipSpans = (
  context: Context.Context<never>,
  node: () => string
): ((event: ClusterEvent) => void) => {
  if (installedTracer(context) === undefined) return () => {}
  const runSync = Effect.runSyncWith(context)
  return (event) => {
    if (event._tag !== "NodeUp" && event._tag !== "NodeDown") return
    if (Context.get(context, TraceRoots) === "none") return
    const attributes: Record<string, unknown> = {
      [Attr.node]: node(),
      [Attr.peer]: event.id,
      "effect_otp.peer.incarnation": event.incarnation
    }
    if (event._tag === "NodeDown") attributes["effect_otp.reason"] = event.reason
    else attributes["effect_otp.peer.status"] = event.status
    runSync(
      Effect.withSpan(Effect.void, event._tag === "NodeUp" ? "node_up" : "node_down", {
        attributes,
        kind: "internal",
        root: true,
        captureStackTrace: false
      })
    )
  }
}
