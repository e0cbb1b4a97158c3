/**
 * System messages that the runtime delivers to a process's mailbox: `Down` from monitors and
 * `Exit` from links when the process traps exits.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ExitReason } from "./ExitReason.ts"
import { Pid } from "./Pid.ts"

/**
 * A monitor reference, unique on its node. Returned by `monitor`, carried by {@link Down}.
 *
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
 * Delivered exactly once to the monitoring process when the monitored process exits (or at once,
 * with reason `noproc`, when it was already dead).
 *
 * @since 0.1.0
 */
export class Down extends Schema.TaggedClass<Down>()("Down", {
  ref: MonitorRef,
  pid: Pid,
  reason: ExitReason
}) {}

/**
 * An exit signal turned into a message because the receiving process traps exits.
 *
 * @since 0.1.0
 */
export class Exit extends Schema.TaggedClass<Exit>()("Exit", {
  pid: Pid,
  reason: ExitReason
}) {}

/**
 * A message the runtime itself may put into a mailbox.
 *
 * @since 0.1.0
 */
export type Signal = Down | Exit

/**
 * Whether a received message is a runtime signal (`Down` or `Exit`).
 *
 * @since 0.1.0
 */
export const isSignal = (u: unknown): u is Signal => u instanceof Down || u instanceof Exit
