/**
 * Process lifecycle hooks for observers: a process started, exited, or was restarted by its
 * supervisor. The runtime holds a {@link Lifecycle} only while someone listens, so that with no
 * listener each hook costs one `undefined` check.
 *
 * @internal
 */
import type * as ExitReason from "../ExitReason.ts"
import type * as Pid from "../Pid.ts"
import type { Cell } from "./cell.ts"

/** What an observer of the runtime is told. Called synchronously: enqueue, never block or throw. */
export interface LifecycleListener {
  /** A process exists and is about to run its body (its name, if any, is registered). */
  readonly started: (cell: Cell) => void
  /** A process is finished with `reason` (told before its name is freed). */
  readonly exited: (cell: Cell, reason: ExitReason.ExitReason) => void
  /** A supervisor started `pid` again as its child `id` (absent for dynamic children). */
  readonly restarted: (supervisor: Pid.Pid, id: string | undefined, pid: Pid.Pid, restarts: number) => void
}

/** The listeners of one runtime. */
export class Lifecycle {
  readonly listeners = new Set<LifecycleListener>()

  started(cell: Cell): void {
    for (const listener of this.listeners) listener.started(cell)
  }

  exited(cell: Cell, reason: ExitReason.ExitReason): void {
    for (const listener of this.listeners) listener.exited(cell, reason)
  }

  restarted(supervisor: Pid.Pid, id: string | undefined, pid: Pid.Pid, restarts: number): void {
    for (const listener of this.listeners) listener.restarted(supervisor, id, pid, restarts)
  }
}
