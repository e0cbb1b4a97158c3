/**
 * System messages that the runtime delivers to a process's mailbox: `Down` from monitors and
 * `Exit` from links (and exit signals) when the process traps exits. They never count against the
 * mailbox's capacity: a full mailbox still takes them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, Signal } from "effect-otp"
 *
 * const handle = (message: unknown) => {
 *   if (message instanceof Signal.Down) return Effect.log(`${message.pid} is down: ${ExitReason.format(message.reason)}`)
 *   if (message instanceof Signal.Exit) return Effect.log(`exit signal from ${message.pid}`)
 *   return Effect.log(`message: ${String(message)}`)
 * }
 *
 * const watcher = Process.spawn((self) =>
 *   Effect.gen(function*() {
 *     yield* Process.trapExit(true)
 *     yield* Process.monitor("nobody")
 *     yield* Effect.forever(Effect.flatMap(self.receive, handle))
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ExitReason } from "./ExitReason.ts"
import { Pid } from "./Pid.ts"

/**
 * A monitor reference, unique on its node. Returned by `Process.monitor` and
 * `Process.spawnMonitor`, carried by {@link Down}; pass it to `Process.demonitor`. Compare refs
 * by `node` and `id`. It prints like `#Ref<node.id>`.
 *
 * @category models
 * @since 0.1.0
 */
export class MonitorRef extends Schema.Class<MonitorRef>("effect-otp/MonitorRef")({
  node: Schema.String,
  id: Schema.Number
}) {
  override toString(): string {
    return `#Ref<${this.node}.${this.id}>`
  }
}

/**
 * Delivered exactly once to the monitoring process when the monitored process exits, with its
 * exit reason; or at once, with reason `noproc`, when there was no such process when the monitor
 * was set, and with `noconnection` when its node is down or cannot be reached (Erlang's
 * `{'DOWN', Ref, process, Object, Info}`).
 *
 * `pid` is the monitored process; for a monitor by name that found nobody under the name, it is
 * `<node.0.0>` (the name's node, id and incarnation 0: no process has them), where Erlang reports
 * `{Name, Node}`.
 *
 * @category models
 * @since 0.1.0
 */
export class Down extends Schema.TaggedClass<Down>()("Down", {
  ref: MonitorRef,
  pid: Pid,
  reason: ExitReason
}) {}

/**
 * An exit signal turned into a message because the receiving process traps exits (Erlang's
 * `{'EXIT', Pid, Reason}`): from a linked process that exited, from `Process.exit`, or `noproc`
 * for a link to a process that did not exist. `kill` never arrives as a message.
 *
 * @category models
 * @since 0.1.0
 */
export class Exit extends Schema.TaggedClass<Exit>()("Exit", {
  pid: Pid,
  reason: ExitReason
}) {}

/**
 * A message the runtime itself may put into a mailbox.
 *
 * @category models
 * @since 0.1.0
 */
export type Signal = Down | Exit

/**
 * Whether a received message is a runtime signal (`Down` or `Exit`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "effect-otp"
 *
 * const onMessage = (message: unknown) =>
 *   Signal.isSignal(message) ? Effect.log(`signal ${message._tag} from ${message.pid}`) : Effect.log(message)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isSignal = (u: unknown): u is Signal => u instanceof Down || u instanceof Exit
