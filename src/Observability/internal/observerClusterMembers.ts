/**
 * The nodes a cluster-wide Observer query names: this node, every node up, and every node seen
 * going down within the retention window (so that a node that crashed is named as down rather
 * than silently missing from the result). Kept from membership events, on the monotonic clock.
 *
 * @internal
 */
import { Effect, type Scope } from "effect"
import type * as Cluster from "../../Cluster/Cluster.ts"
import type { NodeDownReason } from "../../Cluster/ClusterEvent.ts"
import * as Timers from "../../internal/timers.ts"
import type { Target } from "./observerClusterFanout.ts"

interface Known {
  down: { readonly reason: NodeDownReason; readonly at: number } | undefined
}

/** The members to ask, this node first, then the others by name. */
export interface Members {
  readonly targets: () => ReadonlyArray<Target>
}

/**
 * Follows `cluster`'s membership for as long as the scope lives. A node down for longer than
 * `retentionMs` is forgotten (until it comes back).
 */
export const track = (
  cluster: Cluster.Cluster["Service"],
  retentionMs: number
): Effect.Effect<Members, never, Scope.Scope> =>
  Effect.gen(function* () {
    const timers = yield* Timers.current
    const self = cluster.local.name
    const known = new Map<string, Known>()
    // Listen first, then read the nodes already up: an event in between is applied twice at most.
    yield* cluster.onEvent((event) => {
      if (event._tag === "NodeUp" && event.id !== self) known.set(event.id, { down: undefined })
      else if (event._tag === "NodeDown" && event.id !== self) {
        known.set(event.id, { down: { reason: event.reason, at: timers.now() } })
      }
    })
    for (const node of yield* cluster.nodes) {
      if (node.id !== self && !known.has(node.id)) known.set(node.id, { down: undefined })
    }
    return {
      targets: () => {
        const now = timers.now()
        const others: Array<Target> = []
        for (const [node, state] of known) {
          if (state.down === undefined) others.push({ node })
          else if (now - state.down.at > retentionMs) known.delete(node)
          else others.push({ node, down: { reason: state.down.reason, forMs: now - state.down.at } })
        }
        others.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
        return [{ node: self }, ...others]
      }
    }
  })
