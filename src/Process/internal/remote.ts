/**
 * The seam between the node-local runtime and distribution. The process runtime knows nothing of
 * the cluster: when an operation targets a process on another node, it hands it to the bridge the
 * cluster layer attached (or, with none attached, treats the node as unreachable).
 *
 * @internal
 */
import type { Effect, Tracer } from "effect"
import type { NodeDown, NoProcess } from "../Errors.ts"
import type * as ExitReason from "../ExitReason.ts"
import type { CallTimeout } from "../GenServer.ts"
import type { Pid } from "../Pid.ts"
import type { RemoteName } from "../RemoteName.ts"
import type { MonitorRef } from "../Signal.ts"
import type { Cell } from "./cell.ts"

/** A process on another node: by pid, or by name on a node. */
export type RemoteTarget = Pid | RemoteName

/** What the cluster layer provides so local processes can reach remote ones. */
export interface RemoteBridge {
  /**
   * Sends a message; dropped silently when the node is unreachable (as in Erlang). Waits while the
   * link is above its high-water mark, so a fast sender cannot grow the link's buffer without bound.
   */
  readonly send: (from: Pid | undefined, target: RemoteTarget, message: unknown) => Effect.Effect<void>
  /**
   * A GenServer call: encodes `request` with its protocol, waits for the reply at most `timeout`.
   * Fails with the same errors as a local call, plus `NodeDown` and `RemoteDecodeError`.
   */
  readonly call: (
    target: RemoteTarget,
    request: object,
    timeout: number,
    span: Tracer.AnySpan | undefined
  ) => Effect.Effect<unknown, unknown>
  /** A GenServer cast; dropped when the node is unreachable. Waits like {@link send}. */
  readonly cast: (target: RemoteTarget, request: object, span: Tracer.AnySpan | undefined) => Effect.Effect<void>
  /**
   * `GenServer.stop` of a remote server: its node stops it (killing it past `timeout`) and
   * answers; `NodeDown` if the link is lost first.
   */
  readonly stop: (
    target: RemoteTarget,
    reason: ExitReason.ExitReason,
    timeout: number | undefined
  ) => Effect.Effect<void, NoProcess | CallTimeout | NodeDown>
  /** An exit signal from `from` to a remote process. */
  readonly exit: (from: Pid, target: RemoteTarget, reason: ExitReason.ExitReason, untrappable: boolean) => void
  /** Links a local process to a remote one (a `noconnection` exit signal if its node is down). */
  readonly link: (local: Cell, remote: Pid) => void
  readonly unlink: (local: Cell, remote: Pid) => void
  /** Monitors a remote process: `Down` arrives in the watcher's mailbox (noconnection, noproc, ...). */
  readonly monitor: (watcher: Cell, target: RemoteTarget, ref: MonitorRef) => void
  /** Removes a monitor set with {@link monitor}. Returns whether it was still active. */
  readonly demonitor: (watcher: Cell, ref: MonitorRef) => boolean
  /** Calls `onExit` once with the remote process's exit reason (for `awaitExit`). */
  readonly watchExit: (target: RemoteTarget, onExit: (reason: ExitReason.ExitReason) => void) => () => void
}

/**
 * The target as a remote one, if it names a process on another node than `node`. (Not a type
 * guard: a local pid is not "not a pid".)
 */
export const asRemote = (node: string, target: Pid | string | RemoteName): RemoteTarget | undefined =>
  typeof target !== "string" && target.node !== node ? target : undefined
