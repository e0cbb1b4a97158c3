/**
 * Reading the process table for the Observer: one process's figures, the supervisors and the
 * restart counts of their children, and a bounded top-N selection. Plain data only; the Observer
 * module turns it into its Schema classes.
 *
 * @internal
 */
import type { Cell } from "../../Process/internal/cell.ts"
import { BUSY_WINDOW_MS } from "../../Process/internal/processStats.ts"
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

const round2 = (value: number): number => Math.round(value * 100) / 100
const round4 = (value: number): number => Math.round(value * 10_000) / 10_000

/**
 * Writes one process's figures at monotonic time `now` (the runtime's) into `target`, always in
 * the same order (one hidden class for every info of a snapshot) and with no intermediate object:
 * a snapshot of 100,000 processes makes 100,000 objects, not several times that.
 */
export const writeProcessFields = <T extends object>(target: T, cell: Cell, now: number, restarts: number): T => {
  const stats = cell.mailbox.stats
  const mailbox = cell.mailbox
  // The last window (ProcessStats.recent, inlined so that nothing is allocated).
  let span: number
  let busy: number
  let handled: number
  const inFlight = stats.sampleAt === 0 ? 0 : Math.max(0, now - stats.sampleAt)
  if (now - stats.windowStart >= BUSY_WINDOW_MS || stats.prevStart < 0) {
    span = now - stats.windowStart
    busy = stats.windowBusy + inFlight
    handled = stats.handled - stats.windowHandled
  } else {
    span = now - stats.prevStart
    busy = stats.prevBusy + stats.windowBusy + inFlight
    handled = stats.handled - stats.prevHandled
  }
  const fields = target as { -readonly [K in keyof ProcessFields]: ProcessFields[K] }
  fields.pid = cell.pid
  if (cell.name !== undefined) fields.name = cell.name
  if (cell.behaviour !== undefined) fields.behaviour = cell.behaviour.name
  fields.status = cell.exitReason !== undefined || cell.finished ? "exiting" : mailbox.receiving ? "waiting" : "running"
  fields.mailboxSize = mailbox.size
  fields.mailboxCapacity = mailbox.capacity
  fields.messagesHandled = stats.handled
  fields.messagesPerSecond = span <= 0 ? 0 : round2((handled * 1000) / span)
  fields.busyShare = span <= 0 ? 0 : round4(Math.min(1, busy / span))
  fields.handlerLatencyMs = round4(stats.latencyMs)
  fields.handlerSamples = stats.samples
  fields.restarts = restarts
  fields.links = cell.links?.size ?? 0
  fields.monitors = cell.monitoring?.size ?? 0
  fields.monitoredBy = cell.watchers?.size ?? 0
  fields.trapExit = cell.trapExit
  fields.startedAt = stats.startedAt
  return target
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
  /** `seq` orders ties: of two equal scores, the later item ranks lower. */
  const heap: Array<{ readonly item: T; readonly score: number; readonly seq: number }> = []
  if (limit <= 0) return heap
  const less = (i: number, j: number) => {
    const a = heap[i]!
    const b = heap[j]!
    return a.score < b.score || (a.score === b.score && a.seq > b.seq)
  }
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
  let seq = 0
  for (const item of items) {
    const value = score(item)
    seq++
    if (Number.isNaN(value)) continue
    if (heap.length < limit) {
      heap.push({ item, score: value, seq })
      let i = heap.length - 1
      while (i > 0) {
        const p = (i - 1) >> 1
        if (!less(i, p)) break
        swap(i, p)
        i = p
      }
    } else if (value > heap[0]!.score) {
      heap[0] = { item, score: value, seq }
      down(0)
    }
  }
  return heap.sort((a, b) => b.score - a.score || a.seq - b.seq)
}

/**
 * A maker of objects with `prototype` (a Schema class's) through a plain constructor: V8 then
 * gives them in-object slots for the fields written right after (`Object.create` does not).
 */
export const instanceMaker = <T extends object>(prototype: T): (() => T) => {
  function Instance() {}
  Instance.prototype = prototype
  return () => new (Instance as unknown as new () => T)()
}
