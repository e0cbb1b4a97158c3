/**
 * The fan-out of cluster-wide Observer queries: one question to every node in parallel, each with
 * its own timeout, and for every node either its answer or why there is none. Generic over the
 * question (the public module asks snapshot, top and process queries with it).
 *
 * @internal
 */
import { Effect, Result } from "effect"
import type { NodeDownReason } from "../../Cluster/ClusterEvent.ts"
import * as Timers from "../../internal/timers.ts"

/**
 * Why a node gave no answer: it did not answer within the timeout, it is down (or not connected),
 * no Observer system process is registered there, or the query failed there.
 */
export type UnansweredReason = "timeout" | "node_down" | "no_observer" | "failed"

/** A node without an answer, and a sentence saying why. */
export interface Unanswered {
  readonly reason: UnansweredReason
  readonly message: string
}

/** A node to ask; `down` when membership has seen it go down (it is not asked, only named). */
export interface Target {
  readonly node: string
  readonly down?: { readonly reason: NodeDownReason; readonly forMs: number } | undefined
}

/** One node's outcome, with the time its answer (or its failure) took. */
export interface Asked<A> {
  readonly node: string
  readonly elapsedMs: number
  readonly result: Result.Result<A, Unanswered>
}

/** The errors of a GenServer call, as their tags, turned into a reason and a sentence. */
export const classify = (node: string, timeoutMs: number, error: unknown): Unanswered => {
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : undefined
  const detail = error instanceof Error ? error.message : String(error)
  switch (tag) {
    case "CallTimeout":
      return { reason: "timeout", message: `${node} did not answer within ${timeoutMs} ms` }
    case "NodeDown":
      return { reason: "node_down", message: `${node} is not connected: ${detail}` }
    case "NoProcess":
      return { reason: "no_observer", message: `${node} runs no Observer system process (ObserverCluster.layer)` }
    default:
      return { reason: "failed", message: `the query failed on ${node}: ${detail}` }
  }
}

/**
 * Asks every target in parallel with `ask(node)` (which should enforce `timeoutMs` itself, as a
 * GenServer call does; a safety timeout one second later also counts as `timeout`). Targets known
 * to be down are named at once without a question. The result keeps the order of `targets`.
 */
export const askAll = <A, E>(
  targets: ReadonlyArray<Target>,
  timeoutMs: number,
  ask: (node: string) => Effect.Effect<A, E>
): Effect.Effect<Array<Asked<A>>> =>
  Effect.flatMap(Timers.current, (timers) =>
    Effect.forEach(
      targets,
      (target): Effect.Effect<Asked<A>> => {
        if (target.down !== undefined) {
          const seconds = Math.round(target.down.forMs / 1000)
          return Effect.succeed({
            node: target.node,
            elapsedMs: 0,
            result: Result.fail({
              reason: "node_down",
              message: `${target.node} went down ${seconds} s ago (${target.down.reason})`
            })
          })
        }
        const started = timers.now()
        return ask(target.node).pipe(
          Effect.timeoutOrElse({
            duration: timeoutMs + 1000,
            orElse: () => Effect.fail({ _tag: "CallTimeout" } as const)
          }),
          Effect.result,
          Effect.map((result): Asked<A> => ({
            node: target.node,
            elapsedMs: Math.round((timers.now() - started) * 1000) / 1000,
            result: Result.mapError(result, (error) => classify(target.node, timeoutMs, error))
          }))
        )
      },
      { concurrency: "unbounded" }
    )
  )
