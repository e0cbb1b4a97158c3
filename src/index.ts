/**
 * effect-otp: Erlang/OTP's process model, supervision and distribution for TypeScript on Effect 4.
 *
 * @since 0.1.0
 */

/** Process identifiers. @since 0.1.0 */
export * as Pid from "./Process/Pid.ts"

/** Exit reasons: normal, shutdown, killed, noproc, noconnection, failure. @since 0.1.0 */
export * as ExitReason from "./Process/ExitReason.ts"

/** Runtime signals delivered as messages: Down, Exit. @since 0.1.0 */
export * as Signal from "./Process/Signal.ts"

/** Errors of the process runtime. @since 0.1.0 */
export * as ProcessErrors from "./Process/Errors.ts"

/** The node-local process runtime service. @since 0.1.0 */
export * as ProcessRuntime from "./Process/ProcessRuntime.ts"

/** Processes: spawn, send, links, monitors, exit signals, timers. @since 0.1.0 */
export * as Process from "./Process/Process.ts"

/** Local registries: unique names and duplicate-key registries. @since 0.1.0 */
export * as Registry from "./Process/Registry.ts"

/** Typed GenServer protocols. @since 0.1.0 */
export * as Protocol from "./Process/Protocol.ts"

/** The GenServer behaviour. @since 0.1.0 */
export * as GenServer from "./Process/GenServer.ts"

/** Names registered on a given node (`{Name, Node}`). @since 0.1.0 */
export * as RemoteName from "./Process/RemoteName.ts"
