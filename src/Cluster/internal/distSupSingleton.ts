/**
 * The standby process of a singleton distributed supervisor, one on each node that runs it. The
 * instances elect the active one through the global registry: whoever registers the lock name
 * `<name>/active` is active and starts the supervisor's server (linked), registering its pid under
 * `<name>`; the others monitor the lock's holder and try again when it goes (its process exits, or
 * its node goes down: `noconnection` within the failure-detection bound). The registry's own
 * consistency (one owner in a connected cluster, conflicts resolved after a heal by node order with
 * an exit to the loser) is what makes one instance active.
 *
 * @internal
 */
import { Effect, Option } from "effect"
import * as ExitReason from "../../Process/ExitReason.ts"
import type { Pid } from "../../Process/Pid.ts"
import * as Process from "../../Process/Process.ts"
import type { ProcessRuntime } from "../../Process/ProcessRuntime.ts"
import * as Signal from "../../Process/Signal.ts"
import type { CurrentProcess } from "../../Process/CurrentProcess.ts"
import { conflictOf, type GlobalRegistry } from "../GlobalRegistry.ts"

export interface StandbyOptions {
  readonly name: string
  readonly global: GlobalRegistry["Service"]
  /** Starts the server linked to the calling process (the standby). */
  readonly startServer: Effect.Effect<Pid, unknown, ProcessRuntime | CurrentProcess>
  /** Milliseconds before trying again after a failed start. */
  readonly retryMs: number
  /** Told when this node's instance becomes active (its server pid) and stops being active. */
  readonly onActive: (server: Pid | undefined) => void
}

export const lockNameOf = (name: string): string => `${name}/active`

const same = (a: Pid, b: Pid) => String(a) === String(b)

/** The standby loop, run as a process that traps exits. */
export const standby =
  (options: StandbyOptions) =>
  (self: Process.ProcessContext<unknown>): Effect.Effect<never, never, ProcessRuntime | CurrentProcess> => {
    const lock = lockNameOf(options.name)
    const { global } = options

    /** Waits until this instance holds the lock. */
    const elect: Effect.Effect<void, never, ProcessRuntime> = Effect.suspend(() => {
      const owner = global.whereisUnsafe(lock)
      if (owner === undefined) {
        return Effect.flatMap(Effect.result(global.register(lock, self.pid)), (result) =>
          result._tag === "Success"
            ? Effect.void
            : result.failure._tag === "RegistryTimeout"
              ? Effect.andThen(Effect.sleep(options.retryMs), elect)
              : elect
        )
      }
      if (same(owner, self.pid)) return Effect.void
      return Effect.flatMap(Process.monitor(owner), (ref) =>
        Effect.andThen(
          Effect.repeat(self.receive, {
            until: (message) => message instanceof Signal.Down && message.ref.id === ref.id
          }),
          elect
        )
      ) as Effect.Effect<void, never, ProcessRuntime>
    })

    /** Runs the server until it exits or this instance loses the lock. */
    const active: Effect.Effect<void, never, ProcessRuntime | CurrentProcess> = Effect.gen(function* () {
      const started = yield* Effect.result(options.startServer)
      if (started._tag === "Failure") {
        yield* Effect.ignore(global.unregister(lock))
        yield* Effect.sleep(options.retryMs)
        return
      }
      const server = started.success
      options.onActive(server)
      yield* Effect.ignore(global.register(options.name, server))
      while (true) {
        const message = yield* self.receive
        if (!(message instanceof Signal.Exit)) continue
        if (same(message.pid, server)) {
          // The server gave up (restart intensity): free the lock so that an instance tries again.
          options.onActive(undefined)
          yield* Effect.ignore(global.unregister(lock))
          yield* Effect.sleep(options.retryMs)
          return
        }
        if (Option.isSome(conflictOf(message.reason))) {
          // Another instance won the lock after a partition healed: this one steps down.
          yield* Effect.ignore(Process.exit(server, ExitReason.shutdown()))
          yield* Process.awaitExit(server)
          options.onActive(undefined)
          return
        }
      }
    })

    return Effect.forever(Effect.andThen(elect, active)) as Effect.Effect<never, never, ProcessRuntime | CurrentProcess>
  }
