/**
 * Reading the process table for the Observer: one process's figures, the supervisors and the
 * restart counts of their children, and a bounded top-N selection. Plain data only; the Observer
 * module turns it into its Schema classes.
 *
 * @internal
 */
import type { Cell } from "../../Process/internal/cell.ts"
import type { Runtime } from "../../Process/internal/runtime.ts"
import type * as Pid from "../../Process/Pid.ts"
import { DynamicState } from "../../Supervisor/internal/dynamic.ts"
import type { ChildView, SupervisorView } from "../../Supervisor/internal/observe.ts"
import { SupervisorState } from "../../Supervisor/internal/supervisor.ts"

/** What a process is doing: `waiting` in receive, `running` (a handler or its body), or `exiting`. */
export type Status = "running" | "waiting" | "exiting"

/** A process's status, read now. */
export const statusOf = (cell: Cell): Status =>
  !cell.alive ? "exiting" : cell.mailbox.receiving ? "waiting" : "running"

/** The fields of one process's info (see `Observer.ProcessInfo`). */
export interface ProcessFields {
  readonly pid: Pid.Pid
  readonly name?: string
  readonly behaviour?: string
  readonly status: Status
  readonly mailboxSize: number
  readonly mailboxCapacity: number
  readonly messagesHandled: number
  readonly messagesPerSecond: number
  readonly busyShare: number
  readonly handlerLatencyMs: number
  readonly handlerSamples: number
  readonly restarts: number
  readonly links: number
  readonly monitors: number
  readonly monitoredBy: number
  readonly trapExit: boolean
  readonly startedAt: number
}

const round = (value: number, digits: number): number => {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** One process's figures at monotonic time `now` (the runtime's). */
export const processFields = (cell: Cell, now: number, restarts: number): ProcessFields => {
  const stats = cell.mailbox.stats
  const fields: {
    -readonly [K in keyof ProcessFields]: ProcessFields[K]
  } = {
    pid: cell.pid,
    status: statusOf(cell),
    mailboxSize: cell.mailbox.size,
    mailboxCapacity: cell.mailbox.capacity,
    messagesHandled: stats.handled,
    messagesPerSecond: round(stats.rate(now), 2),
    busyShare: round(stats.busyShare(now), 4),
    handlerLatencyMs: round(stats.latencyMs, 4),
    handlerSamples: stats.samples,
    restarts,
    links: cell.links?.size ?? 0,
    monitors: cell.monitoring?.size ?? 0,
    monitoredBy: cell.watchers?.size ?? 0,
    trapExit: cell.trapExit,
    startedAt: stats.startedAt
  }
  if (cell.name !== undefined) fields.name = cell.name
  if (cell.behaviour !== undefined) fields.behaviour = cell.behaviour.name
  return fields
}

/** A supervisor's view of itself, if `cell` runs a (static or dynamic) supervisor. */
export const supervisorViewOf = (cell: Cell): SupervisorView | undefined => {
  const behaviour = cell.behaviour
  if (behaviour === undefined) return undefined
  const state = behaviour.state
  return state instanceof SupervisorState || state instanceof DynamicState ? state.observe() : undefined
}

/** A live supervisor and its view. */
export interface Supervised {
  readonly cell: Cell
  readonly view: SupervisorView
}

/** Every live supervisor of the runtime (one pass over the table). */
export const supervisors = (runtime: Runtime): Array<Supervised> => {
  const found: Array<Supervised> = []
  for (const cell of runtime.processes()) {
    const behaviour = cell.behaviour
    if (behaviour === undefined || (behaviour.name !== "supervisor" && behaviour.name !== "dynamic_supervisor")) {
      continue
    }
    const view = supervisorViewOf(cell)
    if (view !== undefined) found.push({ cell, view })
  }
  return found
}

const isLocal = (runtime: Runtime, pid: Pid.Pid): boolean =>
  pid.node === runtime.node && pid.incarnation === runtime.incarnation

/** Restart counts of the local children of `found`, by pid id; and each child's supervisor. */
export const childIndex = (
  runtime: Runtime,
  found: ReadonlyArray<Supervised>
): Map<number, { readonly supervisor: Cell; readonly child: ChildView }> => {
  const index = new Map<number, { readonly supervisor: Cell; readonly child: ChildView }>()
  for (const { cell, view } of found) {
    for (const child of view.children) {
      if (child.pid !== undefined && isLocal(runtime, child.pid)) index.set(child.pid.id, { supervisor: cell, child })
    }
  }
  return index
}

/** The supervisor of `cell` and its record of it: through its parent, else by looking at every supervisor. */
export const supervisorOf = (
  runtime: Runtime,
  cell: Cell
): { readonly supervisor: Cell; readonly child: ChildView } | undefined => {
  const find = (supervisor: Cell) => {
    const view = supervisorViewOf(supervisor)
    const child = view?.children.find((child) => child.pid !== undefined && child.pid.id === cell.pid.id)
    return child === undefined || !isLocal(runtime, child.pid!) ? undefined : { supervisor, child }
  }
  if (cell.parent !== undefined) {
    const parent = runtime.lookup(cell.parent)
    const viaParent = parent === undefined ? undefined : find(parent)
    if (viaParent !== undefined) return viaParent
  }
  for (const { cell: supervisor } of supervisors(runtime)) {
    const found = find(supervisor)
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * The `limit` items with the highest scores, highest first, with a min-heap of size `limit` (one
 * pass, O(n log limit), nothing built for the others). Items scoring `NaN` are skipped; ties keep
 * the earlier item.
 */
export const selectTop = <T>(
  items: Iterable<T>,
  score: (item: T) => number,
  limit: number
): Array<{ readonly item: T; readonly score: number }> => {
  const heap: Array<{ readonly item: T; readonly score: number }> = []
  if (limit <= 0) return heap
  const less = (i: number, j: number) => heap[i]!.score < heap[j]!.score
  const swap = (i: number, j: number) => {
    const t = heap[i]!
    heap[i] = heap[j]!
    heap[j] = t
  }
  const down = (start: number) => {
    let i = start
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && less(l, m)) m = l
      if (r < heap.length && less(r, m)) m = r
      if (m === i) return
      swap(i, m)
      i = m
    }
  }
  for (const item of items) {
    const value = score(item)
    if (Number.isNaN(value)) continue
    if (heap.length < limit) {
      heap.push({ item, score: value })
      let i = heap.length - 1
      while (i > 0) {
        const p = (i - 1) >> 1
        if (!less(i, p)) break
        swap(i, p)
        i = p
      }
    } else if (value > heap[0]!.score) {
      heap[0] = { item, score: value }
      down(0)
    }
  }
  // Highest first; among equal scores, the earlier item first (a stable sort of the selection).
  return heap.sort((a, b) => b.score - a.score)
}
