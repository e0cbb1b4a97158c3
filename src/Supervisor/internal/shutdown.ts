/**
 * Stopping children, as OTP's supervisor does: unlink, send `shutdown` (or kill at once for
 * `brutal`), wait for the exit, and kill what is still running when the shutdown time is up.
 *
 * @internal
 */
import { Effect, Exit } from "effect"
import * as ExitReason from "../../Process/ExitReason.ts"
import type { Cell } from "../../Process/internal/cell.ts"
import type { Pid } from "../../Process/Pid.ts"
import type { Runtime } from "../../Process/internal/runtime.ts"
import { startTimeout } from "../../Process/internal/timer.ts"
import type { StopPolicy } from "./spec.ts"

const shutdownReason = ExitReason.shutdown()

/** Kills `cell` with the untrappable signal (which also ends a process stuck in its finalizers). */
const kill = (self: Cell, cell: Cell): void => cell.signalExit(self.pid, ExitReason.killed, true)

/** Sends the first stop signal of `policy`. */
const signal = (self: Cell, cell: Cell, policy: StopPolicy): void => {
  if (policy === "brutal") kill(self, cell)
  else cell.signalExit(self.pid, shutdownReason, false)
}

/**
 * Stops one child of `self` and resolves to its exit reason (`noproc` if it was already gone).
 * The link is removed first, so no `Exit` message arrives for it.
 */
export const shutdownChild = (
  runtime: Runtime,
  self: Cell,
  pid: Pid,
  policy: StopPolicy
): Effect.Effect<ExitReason.ExitReason> =>
  Effect.callback<ExitReason.ExitReason>((resume) => {
    const cell = runtime.lookup(pid)
    if (cell === undefined || cell.finished) {
      resume(Exit.succeed(ExitReason.noproc))
      return
    }
    self.unlink(cell)
    let timer: ReturnType<typeof setTimeout> | undefined
    let done = false
    const cancel = runtime.watchExit(cell, (reason) => {
      done = true
      if (timer !== undefined) clearTimeout(timer)
      resume(Exit.succeed(reason))
    })
    signal(self, cell, policy)
    if (!done && policy !== "brutal") timer = startTimeout(policy, () => kill(self, cell))
    return Effect.sync(() => {
      cancel()
      if (timer !== undefined) clearTimeout(timer)
    })
  })

/** A child to stop in a group. */
export interface Stopping {
  readonly pid: Pid
  readonly shutdown: StopPolicy
}

/**
 * Stops many children of `self` at once (a dynamic supervisor's shutdown): every child is sent its
 * stop signal, then all are awaited together; those still running when their shutdown time is up
 * are killed. `exited` is told each child's exit reason as it arrives.
 */
export const shutdownGroup = (
  runtime: Runtime,
  self: Cell,
  children: ReadonlyArray<Stopping>,
  exited: (child: Stopping, reason: ExitReason.ExitReason) => void
): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const targets: Array<readonly [Stopping, Cell]> = []
    for (const child of children) {
      const cell = runtime.lookup(child.pid)
      if (cell === undefined || cell.finished) exited(child, ExitReason.noproc)
      else {
        self.unlink(cell)
        targets.push([child, cell])
      }
    }
    let pending = targets.length
    if (pending === 0) {
      resume(Exit.void)
      return
    }
    const timers: Array<ReturnType<typeof setTimeout>> = []
    const cancels: Array<() => void> = []
    const finished = (): void => {
      for (const timer of timers) clearTimeout(timer)
      resume(Exit.void)
    }
    // Watch everyone before signalling anyone: a child may exit synchronously when signalled.
    for (const [child, cell] of targets) {
      cancels.push(
        runtime.watchExit(cell, (reason) => {
          exited(child, reason)
          if (--pending === 0) finished()
        })
      )
    }
    const byTimeout = new Map<number, Array<Cell>>()
    for (const [child, cell] of targets) {
      signal(self, cell, child.shutdown)
      if (child.shutdown === "brutal") continue
      let group = byTimeout.get(child.shutdown)
      if (group === undefined) byTimeout.set(child.shutdown, (group = []))
      group.push(cell)
    }
    if (pending > 0) {
      for (const [millis, cells] of byTimeout) {
        // `infinity` (and any wait beyond what setTimeout can do) arms no timer.
        const timer = startTimeout(millis, () => {
          for (const cell of cells) kill(self, cell)
        })
        if (timer !== undefined) timers.push(timer)
      }
    }
    return Effect.sync(() => {
      for (const cancel of cancels) cancel()
      for (const timer of timers) clearTimeout(timer)
    })
  })
