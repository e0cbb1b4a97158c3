/**
 * The work a node does to leave gracefully while it still serves other nodes: `Node.runMain`
 * provides {@link LeaveHooks} to the application and runs what was added to it in its `handoff`
 * shutdown phase, before it refuses calls from other nodes; `handoffOnLeave` adds its handoff
 * there when the service is present (and runs it at the scope's close otherwise, or if the phase
 * did not run).
 *
 * @internal
 */
import { Context, Effect } from "effect"

/** Where a node's graceful-leave work is added (see the module doc). */
export class LeaveHooks extends Context.Service<
  LeaveHooks,
  {
    /** Adds `hook`; the returned function removes it. */
    readonly add: (hook: Effect.Effect<void>) => () => void
  }
>()("effect-otp/internal/LeaveHooks") {}

/** A fresh set of hooks: the service, and the effect that runs them all (concurrently). */
export const makeLeaveHooks = (): {
  readonly service: LeaveHooks["Service"]
  readonly size: () => number
  readonly runAll: Effect.Effect<void>
} => {
  const hooks = new Set<Effect.Effect<void>>()
  return {
    service: LeaveHooks.of({
      add: (hook) => {
        // Each addition its own entry, even if the same effect is added twice.
        const entry = Effect.suspend(() => hook)
        hooks.add(entry)
        return () => void hooks.delete(entry)
      }
    }),
    size: () => hooks.size,
    runAll: Effect.suspend(() =>
      Effect.forEach([...hooks], (hook) => hook, { concurrency: "unbounded", discard: true })
    )
  }
}
