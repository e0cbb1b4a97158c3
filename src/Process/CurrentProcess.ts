/**
 * The process an effect runs in, as a service.
 *
 * The runtime provides `CurrentProcess` to every process it spawns: the body of `Process.spawn`,
 * a GenServer's callbacks (`init`, handlers, `terminate`), a supervisor's child starts. So an
 * operation that needs a process says so in its requirements (`GenServer.self` is
 * `Effect<Pid, never, CurrentProcess>`): inside a process it cannot fail, and outside one the
 * missing service is a compile error rather than a run-time `NotAProcess`.
 *
 * Fibers forked inside a process inherit the service: they act on behalf of their process (their
 * `GenServer.self` is the process's pid), as the process's own fiber does.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { Pid } from "./Pid.ts"

/**
 * The process this effect runs in. Present only inside processes; `Process.spawn`,
 * `GenServer.behaviour` and `GenServer.start` remove it from the requirements of the bodies and
 * callbacks they run, so it never reaches an application's layers.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CurrentProcess, Process } from "effect-otp"
 *
 * const program = Process.spawn(() =>
 *   Effect.gen(function*() {
 *     const me = yield* CurrentProcess.CurrentProcess
 *     yield* Effect.log(`running as ${me.pid}`)
 *   })
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class CurrentProcess extends Context.Service<
  CurrentProcess,
  {
    /** The pid of the process. */
    readonly pid: Pid
    /** The name the process is registered under at this moment, if any (loggers read it). */
    readonly name: string | undefined
  }
>()("effect-otp/CurrentProcess") {}

/**
 * The pid of the current process. Cannot fail: its requirement (`CurrentProcess`) is met only
 * inside a process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CurrentProcess, Process } from "effect-otp"
 *
 * const program = Process.spawn(() => Effect.flatMap(CurrentProcess.pid, (pid) => Effect.log(String(pid))))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const pid: Effect.Effect<Pid, never, CurrentProcess> = CurrentProcess.useSync((process) => process.pid)
