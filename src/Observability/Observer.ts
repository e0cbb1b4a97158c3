/**
 * The node-local Observer: what the node and each of its processes are doing, as Erlang's
 * `observer` and `recon` or Phoenix LiveDashboard's process pages show it.
 *
 * - {@link snapshot}: the node (name, incarnation, uptime, versions, memory, event loop), every
 *   process with its figures ({@link ProcessInfo}), and every supervisor with its children and
 *   their restart counts ({@link SupervisorTree}).
 * - {@link top}: the N processes with the largest mailboxes, the highest message rates or the
 *   highest busy shares, selected with a bounded heap (only those N are built).
 * - {@link process}: one process in detail, with its links, monitors and state ({@link ProcessDetail};
 *   a GenServer's `formatStatus` decides what of its state is shown).
 * - {@link stream}: snapshots at an interval; {@link events}: processes started, exited (with the
 *   reason) and restarted by their supervisors.
 *
 * Every snapshot and event is a Schema class: it encodes to JSON and crosses nodes (the
 * cluster-wide queries and the `/observer` routes are built on them).
 *
 * What the figures mean, and what they cost:
 * - `messagesHandled` counts the messages a process took from its mailbox (runtime signals such
 *   as `Exit` and `Down` included).
 * - `busyShare` is the share of the last window (5 to 10 seconds; since the start for a younger
 *   process) that the process spent between taking a message and asking for the next one: in a
 *   GenServer, in its handlers, suspended or not (a handler waiting for a call counts as busy). It
 *   is sampled: one message in `busySampleEvery` (a `ProcessRuntime` option, default 16) is timed on
 *   the runtime's monotonic clock and stands for the others, so a process that handles fewer
 *   messages than that shows a coarse figure. `messagesPerSecond` is over the same window. Nothing
 *   is measured while a process is idle and there is no timer per process: a process that went
 *   idle sees both figures decay as time passes.
 * - `handlerLatencyMs` is a moving average of the timed handler durations (the last ones weigh
 *   most): what an alert on handler latency watches.
 * - `status` is `waiting` when the process is suspended in receive on its mailbox, `exiting` once
 *   its exit is decided (its finalizers or `terminate` may still run), else `running`.
 * - Links and monitors are the local ones the runtime holds; `monitoredBy` counts every watcher of
 *   the process (monitors and the runtime's own exit hooks, such as a caller waiting for a reply).
 *
 * Time: windows and uptime are on the runtime's monotonic clock (`TestClock` drives them in
 * tests); `startedAt` and `takenAt` are wall-clock milliseconds, for people.
 *
 * @since 0.1.0
 */
import { Context, type Duration, Effect, Layer, Queue, Schema, type Scope, Stream } from "effect"
import * as ExitReason from "../Process/ExitReason.ts"
import { NoProcess } from "../Process/Errors.ts"
import type { Cell } from "../Process/internal/cell.ts"
import { runtimeOf } from "../Process/internal/context.ts"
import { trusted } from "../Process/internal/trusted.ts"
import type { Runtime } from "../Process/internal/runtime.ts"
import { Pid } from "../Process/Pid.ts"
import * as ProcessRuntime from "../Process/ProcessRuntime.ts"
import { renderStatus } from "./internal/observerFormat.ts"
import { LoopMonitor, readMemory, readVersions, type VersionFields } from "./internal/observerNode.ts"
import {
  childIndex,
  instanceMaker,
  writeProcessFields,
  selectTop,
  supervisorOf,
  supervisors,
  type Supervised
} from "./internal/observerTable.ts"

/** For the few objects made per snapshot or event: built from fields the runtime produced. */
const unchecked = { disableChecks: true } as const

// ---------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------

/**
 * The versions a node runs: Node.js, effect and effect-otp (`"unknown"` when a package's version
 * cannot be read).
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const versions = new Observer.Versions({ node: "22.19.0", effect: "4.1.0", effectOtp: "0.1.0" })
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export class Versions extends Schema.Class<Versions>("effect-otp/Observer/Versions")({
  node: Schema.String,
  effect: Schema.String,
  effectOtp: Schema.String
}) {}

/**
 * Memory of the OS process the node runs in, in bytes (`process.memoryUsage()`); two nodes in one
 * OS process show the same figures.
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const memory = new Observer.Memory({ rss: 80e6, heapUsed: 30e6, heapTotal: 40e6, external: 2e6 })
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export class Memory extends Schema.Class<Memory>("effect-otp/Observer/Memory")({
  rss: Schema.Number,
  heapUsed: Schema.Number,
  heapTotal: Schema.Number,
  external: Schema.Number
}) {}

/**
 * The event loop over the last interval (at least one second, since the previous snapshot): its
 * delay (mean, 99th percentile, maximum, in milliseconds, from `monitorEventLoopDelay` at a 10 ms
 * resolution) and its utilisation (0 to 1, `performance.eventLoopUtilization`). All 0 until the
 * Observer has watched the loop for a while.
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const loop = new Observer.EventLoop({ delayMeanMs: 10.2, delayP99Ms: 12.1, delayMaxMs: 15, utilization: 0.2 })
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export class EventLoop extends Schema.Class<EventLoop>("effect-otp/Observer/EventLoop")({
  delayMeanMs: Schema.Number,
  delayP99Ms: Schema.Number,
  delayMaxMs: Schema.Number,
  utilization: Schema.Number
}) {}

/**
 * The node: its name and incarnation (those its pids carry), uptime (monotonic milliseconds since
 * its process runtime was built), versions, memory, event loop and number of live processes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const program = Effect.gen(function* () {
 *   const { node } = yield* Observer.snapshot
 *   yield* Effect.log(`${node.name} runs ${node.processCount} processes, up ${node.uptimeMs} ms`)
 * })
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export class NodeInfo extends Schema.Class<NodeInfo>("effect-otp/Observer/NodeInfo")({
  name: Schema.String,
  incarnation: Schema.Number,
  uptimeMs: Schema.Number,
  versions: Versions,
  memory: Memory,
  eventLoop: EventLoop,
  processCount: Schema.Number
}) {}

/**
 * What a process is doing: `running` (its body or a handler runs, or is suspended inside a
 * handler), `waiting` (suspended in receive on its mailbox) or `exiting` (its exit is decided; its
 * finalizers or `terminate` may still run).
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const idle: Observer.ProcessStatus = "waiting"
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export const ProcessStatus = Schema.Literals(["running", "waiting", "exiting"])

/**
 * What a process is doing (see the {@link ProcessStatus} schema).
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const label = (status: Observer.ProcessStatus): string =>
 *   status === "running" ? "in a handler" : status === "waiting" ? "idle" : "stopping"
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export type ProcessStatus = typeof ProcessStatus.Type

/**
 * One process, as a snapshot or a top-N query shows it (the module documentation says what each
 * figure means and how it is measured).
 *
 * - `name`: its registered name; `behaviour`: its behaviour's name (`gen_server` unless the
 *   behaviour names itself; `supervisor`, `dynamic_supervisor`), absent for a plain process.
 * - `mailboxSize` / `mailboxCapacity`: messages waiting, and the bound.
 * - `messagesHandled` (since the start), `messagesPerSecond` and `busyShare` (0 to 1) over the
 *   last window, `handlerLatencyMs` (moving average of the timed handlers) from `handlerSamples`
 *   timed messages.
 * - `restarts`: how many times its supervisor started the child this process is again (0 for a
 *   process no supervisor started).
 * - `links`, `monitors` (held), `monitoredBy` (watchers), `trapExit`; `startedAt`: wall-clock
 *   milliseconds.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const busiest = Effect.gen(function* () {
 *   const [top] = yield* Observer.top({ by: "busy", limit: 1 })
 *   if (top !== undefined) yield* Effect.log(`${top.pid} ${top.behaviour ?? "process"} busy ${top.busyShare}`)
 * })
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export class ProcessInfo extends Schema.Class<ProcessInfo>("effect-otp/Observer/ProcessInfo")({
  pid: Pid,
  name: Schema.optional(Schema.String),
  behaviour: Schema.optional(Schema.String),
  status: ProcessStatus,
  mailboxSize: Schema.Number,
  mailboxCapacity: Schema.Number,
  messagesHandled: Schema.Number,
  messagesPerSecond: Schema.Number,
  busyShare: Schema.Number,
  handlerLatencyMs: Schema.Number,
  handlerSamples: Schema.Number,
  restarts: Schema.Number,
  links: Schema.Number,
  monitors: Schema.Number,
  monitoredBy: Schema.Number,
  trapExit: Schema.Boolean,
  startedAt: Schema.Number
}) {}

/**
 * One child of a supervisor: its id (absent for a dynamic supervisor's children), its process
 * (absent while stopped or being restarted), status, type, restart policy and how many times the
 * supervisor restarted it.
 *
 * @example
 * ```ts
 * import { Observer, Pid } from "effect-otp"
 *
 * const child = new Observer.SupervisorChild({
 *   id: "cache",
 *   pid: Pid.make("a@127.0.0.1", 7, 1),
 *   status: "running",
 *   type: "worker",
 *   restart: "permanent",
 *   restarts: 2
 * })
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export class SupervisorChild extends Schema.Class<SupervisorChild>("effect-otp/Observer/SupervisorChild")({
  id: Schema.optional(Schema.String),
  pid: Schema.optional(Pid),
  status: Schema.Literals(["running", "restarting", "stopped"]),
  type: Schema.Literals(["worker", "supervisor"]),
  restart: Schema.Literals(["permanent", "transient", "temporary"]),
  restarts: Schema.Number
}) {}

/**
 * One supervisor: its pid, name, kind, strategy and restart intensity (`maxRestarts` within
 * `withinMs`), its children in start order, the sum of their restarts, and `supervisor`, the pid
 * of the supervisor that supervises it (absent for the root of a tree). A snapshot lists every
 * supervisor of the node; the trees are read from the roots down through the children's pids.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const roots = Effect.map(Observer.snapshot, (snapshot) =>
 *   snapshot.supervisors.filter((tree) => tree.supervisor === undefined)
 * )
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export class SupervisorTree extends Schema.Class<SupervisorTree>("effect-otp/Observer/SupervisorTree")({
  pid: Pid,
  name: Schema.optional(Schema.String),
  kind: Schema.Literals(["supervisor", "dynamic_supervisor"]),
  strategy: Schema.Literals(["one_for_one", "one_for_all", "rest_for_one"]),
  maxRestarts: Schema.Number,
  withinMs: Schema.Number,
  maxChildren: Schema.optional(Schema.Number),
  supervisor: Schema.optional(Pid),
  restarts: Schema.Number,
  children: Schema.Array(SupervisorChild)
}) {}

/**
 * A snapshot of the node: {@link NodeInfo}, every live process in spawn order, every supervisor,
 * and `takenAt` (wall-clock milliseconds). Encodes to JSON with `Schema.encodeSync(NodeSnapshot)`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const json = Effect.map(Observer.snapshot, (snapshot) =>
 *   JSON.stringify(Schema.encodeSync(Observer.NodeSnapshot)(snapshot))
 * )
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export class NodeSnapshot extends Schema.Class<NodeSnapshot>("effect-otp/Observer/NodeSnapshot")({
  node: NodeInfo,
  processes: Schema.Array(ProcessInfo),
  supervisors: Schema.Array(SupervisorTree),
  takenAt: Schema.Number
}) {}

/**
 * One process in detail: its {@link ProcessInfo}; the pids it is linked to, monitors, and was
 * spawned linked to (`parent`); its supervisor and child id when a supervisor started it; the tag
 * of the message it is handling or handled last (GenServers); and its state as text.
 *
 * `state` is what the behaviour's `formatStatus` returns for the state (so that secrets can be
 * redacted, as with OTP's `format_status`), rendered like `util.inspect` does (cycles shown as
 * `[Circular]`, depth 4, at most 50 items per collection, strings cut at 1,024 characters, the
 * whole cut at 8,192 characters; never throws). A behaviour without `formatStatus` has its state
 * hidden (it may hold secrets, and the detail is served to whoever reaches the node's HTTP port):
 * `state` then says so, unless the Observer was built with `showState: true` ({@link layerWith}),
 * which shows the raw state. `stateSource` says which: `formatStatus`, `state` (raw, shown by
 * `showState`), `hidden`, or `formatStatusFailed` (it threw, and the state is not shown). Both are
 * absent for a plain process, which has no state the runtime knows.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer, Process } from "effect-otp"
 *
 * const program = Effect.gen(function* () {
 *   const self = yield* Process.self
 *   const detail = yield* Observer.process(self)
 *   yield* Effect.log(`${detail.info.pid} linked to ${detail.links.length}, state ${detail.state ?? "-"}`)
 * })
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export class ProcessDetail extends Schema.Class<ProcessDetail>("effect-otp/Observer/ProcessDetail")({
  info: ProcessInfo,
  links: Schema.Array(Pid),
  monitors: Schema.Array(Pid),
  parent: Schema.optional(Pid),
  supervisor: Schema.optional(Pid),
  childId: Schema.optional(Schema.String),
  lastMessage: Schema.optional(Schema.String),
  state: Schema.optional(Schema.String),
  stateSource: Schema.optional(Schema.Literals(["formatStatus", "state", "hidden", "formatStatusFailed"]))
}) {}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/**
 * A process started: its pid, registered name (if it was spawned with one), behaviour (when known
 * by the time the event is read), the pid it was spawned linked to, and `at` (wall-clock ms).
 *
 * @example
 * ```ts
 * import { Observer, Pid } from "effect-otp"
 *
 * const event = new Observer.ProcessStarted({ pid: Pid.make("a", 1, 1), at: Date.now() })
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class ProcessStarted extends Schema.TaggedClass<ProcessStarted>()("ProcessStarted", {
  pid: Pid,
  name: Schema.optional(Schema.String),
  behaviour: Schema.optional(Schema.String),
  parent: Schema.optional(Pid),
  at: Schema.Number
}) {}

/**
 * A process exited with `reason` (normal, shutdown, killed, a failure ...): its pid, the name it
 * was registered under and its behaviour, and `at` (wall-clock ms).
 *
 * @example
 * ```ts
 * import { ExitReason, Observer, Pid } from "effect-otp"
 *
 * const event = new Observer.ProcessExited({ pid: Pid.make("a", 1, 1), reason: ExitReason.normal, at: Date.now() })
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class ProcessExited extends Schema.TaggedClass<ProcessExited>()("ProcessExited", {
  pid: Pid,
  name: Schema.optional(Schema.String),
  behaviour: Schema.optional(Schema.String),
  reason: ExitReason.ExitReason,
  at: Schema.Number
}) {}

/**
 * A supervisor started its child `id` (absent for a dynamic supervisor's child) again, as `pid`,
 * after an exit (its own or, with `one_for_all` / `rest_for_one`, a sibling's); `restarts` is the
 * child's count so far. The new process's `ProcessStarted` comes first.
 *
 * @example
 * ```ts
 * import { Observer, Pid } from "effect-otp"
 *
 * const event = new Observer.ProcessRestarted({
 *   pid: Pid.make("a", 9, 1),
 *   supervisor: Pid.make("a", 2, 1),
 *   id: "worker",
 *   restarts: 1,
 *   at: Date.now()
 * })
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class ProcessRestarted extends Schema.TaggedClass<ProcessRestarted>()("ProcessRestarted", {
  pid: Pid,
  supervisor: Pid,
  id: Schema.optional(Schema.String),
  restarts: Schema.Number,
  at: Schema.Number
}) {}

/**
 * An event of {@link events}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const decode = Schema.decodeUnknownSync(Observer.ObserverEvent)
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const ObserverEvent = Schema.Union([ProcessStarted, ProcessExited, ProcessRestarted])

/**
 * An event of {@link events}: `ProcessStarted`, `ProcessExited` or `ProcessRestarted`.
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const describe = (event: Observer.ObserverEvent): string => {
 *   switch (event._tag) {
 *     case "ProcessStarted":
 *       return "started"
 *     case "ProcessExited":
 *       return "exited"
 *     case "ProcessRestarted":
 *       return "restarted"
 *   }
 * }
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export type ObserverEvent = ProcessStarted | ProcessExited | ProcessRestarted

/** How many events a slow subscriber may fall behind by; older ones are dropped beyond it. */
const EVENT_BUFFER = 4096

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link top}.
 *
 * - `by`: `mailbox` (messages waiting), `rate` (messages handled per second) or `busy` (share of
 *   time in handlers).
 * - `limit`: how many processes (default 10).
 * - `windowMs`: for `rate` and `busy`, measure over this window instead of the last one the
 *   processes keep: the query reads every process's counters, waits `windowMs` on the runtime's
 *   clock and reads them again (as `recon:proc_window` does), so it takes that long; processes
 *   that exited meanwhile are left out. Ignored for `mailbox`.
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const options: Observer.TopOptions = { by: "rate", limit: 5, windowMs: 1000 }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface TopOptions {
  readonly by: "mailbox" | "rate" | "busy"
  readonly limit?: number | undefined
  readonly windowMs?: number | undefined
}

/**
 * Options of {@link snapshotLimited}: `processLimit`, how many processes the snapshot includes,
 * the first in spawn order (its oldest: supervisors and long-lived servers); `Infinity` or absent
 * for all of them.
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const options: Observer.SnapshotOptions = { processLimit: 1000 }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface SnapshotOptions {
  readonly processLimit?: number | undefined
}

/**
 * A snapshot whose process list was cut at a limit, and how many processes were left out
 * (`snapshot.node.processCount` counts them all).
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const complete = (limited: Observer.LimitedSnapshot) => limited.omittedProcesses === 0
 * ```
 *
 * @category snapshots
 * @since 0.1.0
 */
export interface LimitedSnapshot {
  readonly snapshot: NodeSnapshot
  readonly omittedProcesses: number
}

/**
 * Options of {@link layerWith}: `showState` shows the raw state of a behaviour that defines no
 * `formatStatus` in {@link process} (hidden by default: states may hold secrets, and the Observer's
 * HTTP routes serve them to whoever reaches the port). A behaviour's own `formatStatus` is always
 * shown.
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const options: Observer.ObserverOptions = { showState: true }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface ObserverOptions {
  readonly showState?: boolean | undefined
}

/** What {@link ProcessDetail.state} says for a state the Observer does not show. */
const HIDDEN_STATE =
  "<hidden: this behaviour defines no formatStatus; define one, or build the Observer with Observer.layerWith({ showState: true }) to show raw states>"

/**
 * The Observer of this node (see the module documentation). Provided by {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function* () {
 *   const observer = yield* Observer.Observer
 *   const snapshot = yield* observer.snapshot
 *   yield* Effect.log(`${snapshot.processes.length} processes`)
 * })
 * Effect.runPromise(program.pipe(Effect.provide(Observer.layer), Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Observer extends Context.Service<
  Observer,
  {
    /** A snapshot of the node, its processes and supervisors (see {@link snapshot}). */
    readonly snapshot: Effect.Effect<NodeSnapshot>
    /** A snapshot with at most `processLimit` processes (see {@link snapshotLimited}). */
    readonly snapshotLimited: (options: SnapshotOptions) => Effect.Effect<LimitedSnapshot>
    /** The top processes by mailbox, rate or busy share (see {@link top}). */
    readonly top: (options: TopOptions) => Effect.Effect<ReadonlyArray<ProcessInfo>>
    /** One local process in detail; fails with `NoProcess` (see {@link process}). */
    readonly process: (pid: Pid) => Effect.Effect<ProcessDetail, NoProcess>
    /** Snapshots at an interval (see {@link stream}). */
    readonly stream: (interval: Duration.Input) => Stream.Stream<NodeSnapshot>
    /** Processes started, exited and restarted (see {@link events}). */
    readonly events: Stream.Stream<ObserverEvent>
  }
>()("effect-otp/Observer") {}

const restartsOf = (index: ReturnType<typeof childIndex>, cell: Cell): number =>
  index.get(cell.pid.id)?.child.restarts ?? 0

const newProcessInfo = instanceMaker(ProcessInfo.prototype)

/** An info made from the runtime's own figures: the prototype and own fields validated construction gives. */
const processInfo = (cell: Cell, now: number, restarts: number): ProcessInfo =>
  writeProcessFields(newProcessInfo(), cell, now, restarts)

const supervisorTree = ({ cell, view }: Supervised, index: ReturnType<typeof childIndex>): SupervisorTree => {
  let restarts = 0
  const children = view.children.map((child) => {
    restarts += child.restarts
    return trusted(SupervisorChild, {
      ...(child.id === undefined ? {} : { id: child.id }),
      ...(child.pid === undefined ? {} : { pid: child.pid }),
      status: child.status,
      type: child.type,
      restart: child.restart,
      restarts: child.restarts
    })
  })
  const parent = index.get(cell.pid.id)?.supervisor
  return trusted(SupervisorTree, {
    pid: cell.pid,
    ...(cell.name === undefined ? {} : { name: cell.name }),
    kind: view.kind,
    strategy: view.strategy,
    maxRestarts: view.maxRestarts,
    withinMs: view.withinMs,
    ...(view.maxChildren === undefined ? {} : { maxChildren: view.maxChildren }),
    ...(parent === undefined ? {} : { supervisor: parent.pid }),
    restarts,
    children
  })
}

const nodeInfo = (runtime: Runtime, versions: VersionFields, loop: LoopMonitor, now: number): NodeInfo =>
  trusted(NodeInfo, {
    name: runtime.node,
    incarnation: runtime.incarnation,
    uptimeMs: Math.max(0, Math.round(now - runtime.startedAtMonotonic)),
    versions: trusted(Versions, versions),
    memory: trusted(Memory, readMemory()),
    eventLoop: trusted(EventLoop, loop.read()),
    processCount: runtime.processCount
  })

/** A snapshot with the first `limit` processes (only those infos are built), and how many were left out. */
const takeSnapshot = (runtime: Runtime, versions: VersionFields, loop: LoopMonitor, limit: number): LimitedSnapshot => {
  const now = runtime.timers.now()
  const found = supervisors(runtime)
  const index = childIndex(runtime, found)
  const processes: Array<ProcessInfo> = []
  let omittedProcesses = 0
  for (const cell of runtime.processes()) {
    if (processes.length < limit) processes.push(processInfo(cell, now, restartsOf(index, cell)))
    else omittedProcesses++
  }
  const snapshot = trusted(NodeSnapshot, {
    node: nodeInfo(runtime, versions, loop, now),
    processes,
    supervisors: found.map((supervised) => supervisorTree(supervised, index)),
    takenAt: Date.now()
  })
  return { snapshot, omittedProcesses }
}

const limitOf = (options: SnapshotOptions): number => {
  const limit = options.processLimit
  return limit === undefined || Number.isNaN(limit) ? Infinity : Math.max(0, Math.floor(limit))
}

/** The processes with the highest `score`, as infos (only those are built). */
const topOf = (runtime: Runtime, score: (cell: Cell) => number, limit: number, now: number) => {
  const selected = selectTop(runtime.processes(), score, limit)
  if (selected.length === 0) return []
  const index = childIndex(runtime, supervisors(runtime))
  return selected.map(({ item }) => processInfo(item, now, restartsOf(index, item)))
}

const runTop = (runtime: Runtime, options: TopOptions): Effect.Effect<ReadonlyArray<ProcessInfo>> => {
  const limit = Math.max(0, Math.floor(options.limit ?? 10))
  const by = options.by
  if (by === "mailbox")
    return Effect.sync(() => topOf(runtime, (cell) => cell.mailbox.size, limit, runtime.timers.now()))
  const windowMs = options.windowMs
  if (windowMs === undefined) {
    return Effect.sync(() => {
      const now = runtime.timers.now()
      const score =
        by === "rate" ? (cell: Cell) => cell.mailbox.stats.rate(now) : (cell: Cell) => cell.mailbox.stats.busyShare(now)
      return topOf(runtime, score, limit, now)
    })
  }
  // recon:proc_window: read the counters, wait, read them again; the difference over the window.
  const read = (cell: Cell) => (by === "rate" ? cell.mailbox.stats.handled : cell.mailbox.stats.busyTotal)
  return Effect.suspend(() => {
    const before = new Map<Cell, number>()
    for (const cell of runtime.processes()) before.set(cell, read(cell))
    const started = runtime.timers.now()
    return Effect.map(runtime.sleep(Math.max(0, windowMs)), () => {
      const now = runtime.timers.now()
      const span = Math.max(now - started, Number.MIN_VALUE)
      const scale = by === "rate" ? 1000 / span : 1 / span
      return topOf(
        runtime,
        (cell) => {
          const previous = before.get(cell)
          return previous === undefined ? Number.NaN : (read(cell) - previous) * scale
        },
        limit,
        now
      )
    })
  })
}

const processDetail = (runtime: Runtime, pid: Pid, showState: boolean): Effect.Effect<ProcessDetail, NoProcess> =>
  Effect.suspend(() => {
    const cell = runtime.lookup(pid)
    if (cell === undefined) return Effect.fail(new NoProcess({ target: String(pid) }))
    const supervised = supervisorOf(runtime, cell)
    const info = processInfo(cell, runtime.timers.now(), supervised?.child.restarts ?? 0)
    const links: Array<Pid> = []
    if (cell.links !== undefined) for (const linked of cell.links) links.push(linked.pid)
    const monitors: Array<Pid> = []
    if (cell.monitoring !== undefined) for (const target of cell.monitoring.values()) monitors.push(target.pid)
    const behaviour = cell.behaviour
    const fields: {
      -readonly [K in keyof ProcessDetail]?: ProcessDetail[K]
    } & Pick<ProcessDetail, "info" | "links" | "monitors"> = { info, links, monitors }
    if (cell.parent !== undefined) fields.parent = cell.parent
    if (supervised !== undefined) {
      fields.supervisor = supervised.supervisor.pid
      if (supervised.child.id !== undefined) fields.childId = supervised.child.id
    }
    if (behaviour !== undefined) {
      const last = behaviour.crashInfo().lastMessage
      if (last !== undefined) fields.lastMessage = last
      if (behaviour.formatsStatus || showState) {
        const rendered = renderStatus(() => behaviour.status())
        fields.state = rendered.text
        fields.stateSource = rendered.failed ? "formatStatusFailed" : behaviour.formatsStatus ? "formatStatus" : "state"
      } else {
        fields.state = HIDDEN_STATE
        fields.stateSource = "hidden"
      }
    }
    return Effect.succeed(trusted(ProcessDetail, fields))
  })

interface RawEvent {
  readonly kind: "started" | "exited" | "restarted"
  readonly at: number
  readonly cell?: Cell
  readonly pid: Pid
  readonly name?: string | undefined
  readonly reason?: ExitReason.ExitReason
  readonly supervisor?: Pid
  readonly id?: string | undefined
  readonly restarts?: number
}

const toEvent = (raw: RawEvent): ObserverEvent => {
  const named = raw.name === undefined ? {} : { name: raw.name }
  const behaviourName = raw.cell?.behaviour?.name
  const behaviour = behaviourName === undefined ? {} : { behaviour: behaviourName }
  switch (raw.kind) {
    case "started": {
      const parent = raw.cell?.parent
      return new ProcessStarted(
        { pid: raw.pid, ...named, ...behaviour, ...(parent === undefined ? {} : { parent }), at: raw.at },
        unchecked
      )
    }
    case "exited":
      return new ProcessExited({ pid: raw.pid, ...named, ...behaviour, reason: raw.reason!, at: raw.at }, unchecked)
    case "restarted":
      return new ProcessRestarted(
        {
          pid: raw.pid,
          supervisor: raw.supervisor!,
          ...(raw.id === undefined ? {} : { id: raw.id }),
          restarts: raw.restarts!,
          at: raw.at
        },
        unchecked
      )
  }
}

const eventsOf = (runtime: Runtime): Stream.Stream<ObserverEvent> =>
  Stream.map(
    Stream.callback<RawEvent>(
      (queue) =>
        Effect.acquireRelease(
          Effect.sync(() =>
            runtime.listen({
              started: (cell) => {
                Queue.offerUnsafe(queue, { kind: "started", at: Date.now(), cell, pid: cell.pid, name: cell.name })
              },
              exited: (cell, reason) => {
                Queue.offerUnsafe(queue, {
                  kind: "exited",
                  at: Date.now(),
                  cell,
                  pid: cell.pid,
                  name: cell.name,
                  reason
                })
              },
              restarted: (supervisor, id, pid, restarts) => {
                Queue.offerUnsafe(queue, { kind: "restarted", at: Date.now(), pid, supervisor, id, restarts })
              }
            })
          ),
          (stop) => Effect.sync(stop)
        ),
      { bufferSize: EVENT_BUFFER, strategy: "sliding" }
    ),
    toEvent
  )

/**
 * Builds the Observer of the node's process runtime with `options` (see {@link ObserverOptions});
 * it watches the event loop until the scope closes. Prefer {@link layerWith}.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const ObserverLive = Layer.effect(Observer.Observer, Observer.makeWith({ showState: true }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWith = (
  options?: ObserverOptions
): Effect.Effect<Observer["Service"], never, ProcessRuntime.ProcessRuntime | Scope.Scope> =>
  Effect.gen(function* () {
    const showState = options?.showState === true
    const runtime = runtimeOf(yield* ProcessRuntime.ProcessRuntime)
    const versions = readVersions()
    const loop = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const monitor = new LoopMonitor(runtime.timers.now)
        monitor.start()
        return monitor
      }),
      (monitor) => Effect.sync(() => monitor.stop())
    )
    const snapshot = Effect.sync(() => takeSnapshot(runtime, versions, loop, Infinity).snapshot)
    return Observer.of({
      snapshot,
      snapshotLimited: (limited) => Effect.sync(() => takeSnapshot(runtime, versions, loop, limitOf(limited))),
      top: (top) => runTop(runtime, top),
      process: (pid) => processDetail(runtime, pid, showState),
      stream: (interval) => Stream.mapEffect(Stream.tick(interval), () => snapshot),
      events: eventsOf(runtime)
    })
  })

/**
 * Builds the Observer of the node's process runtime (states without `formatStatus` hidden); it
 * watches the event loop until the scope closes. Prefer {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const ObserverLive = Layer.effect(Observer.Observer, Observer.make)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<Observer["Service"], never, ProcessRuntime.ProcessRuntime | Scope.Scope> = makeWith()

/**
 * The Observer of the node's process runtime. It watches the event loop (a
 * `monitorEventLoopDelay` histogram) while the layer lives; everything else is read when asked.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.flatMap(Observer.snapshot, (snapshot) => Effect.log(snapshot.node.name))
 * Effect.runPromise(program.pipe(Effect.provide(Observer.layer), Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<Observer, never, ProcessRuntime.ProcessRuntime> = Layer.effect(Observer, make)

/**
 * {@link layer} with options: `showState: true` shows the raw state of behaviours that define no
 * `formatStatus` in {@link process} (and so over the Observer's HTTP routes and to other nodes):
 * only where whoever can reach the node may see every state.
 *
 * @example
 * ```ts
 * import { Observer } from "effect-otp"
 *
 * const DebugObserver = Observer.layerWith({ showState: true })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerWith = (options?: ObserverOptions): Layer.Layer<Observer, never, ProcessRuntime.ProcessRuntime> =>
  Layer.effect(Observer, makeWith(options))

// ---------------------------------------------------------------------------------------------
// Accessors
// ---------------------------------------------------------------------------------------------

/**
 * A snapshot of the node, every process and every supervisor, taken synchronously (consistent at
 * one instant). It costs one pass over the process table and one object per process: about 100 ms
 * for 100,000 processes (see `npm run bench:observability`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const crowded = Effect.map(Observer.snapshot, (snapshot) =>
 *   snapshot.processes.filter((info) => info.mailboxSize > 1000)
 * )
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const snapshot: Effect.Effect<NodeSnapshot, never, Observer> = Observer.use((observer) => observer.snapshot)

/**
 * A snapshot of the node with at most `processLimit` processes, the first in spawn order: only
 * those are built (the rest are counted in `omittedProcesses`), so a large node answers a small
 * question cheaply. The node info and every supervisor are always included.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const program = Effect.gen(function* () {
 *   const { snapshot, omittedProcesses } = yield* Observer.snapshotLimited({ processLimit: 100 })
 *   yield* Effect.log(`${snapshot.processes.length} shown, ${omittedProcesses} left out`)
 * })
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const snapshotLimited = (options: SnapshotOptions): Effect.Effect<LimitedSnapshot, never, Observer> =>
  Observer.use((observer) => observer.snapshotLimited(options))

/**
 * The `limit` (default 10) processes with the largest mailboxes, the highest message rates or the
 * highest busy shares, highest first, selected in one pass with a bounded heap: only those are
 * built. With `windowMs`, rates and busy shares are measured over a window that the query waits
 * for (see {@link TopOptions}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const program = Effect.gen(function* () {
 *   const crowded = yield* Observer.top({ by: "mailbox", limit: 5 })
 *   const hottest = yield* Observer.top({ by: "rate", limit: 5, windowMs: 1000 })
 *   yield* Effect.log(crowded.map((info) => `${info.pid}: ${info.mailboxSize}`).join(", "))
 *   yield* Effect.log(hottest.map((info) => String(info.pid)).join(", "))
 * })
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const top = (options: TopOptions): Effect.Effect<ReadonlyArray<ProcessInfo>, never, Observer> =>
  Observer.use((observer) => observer.top(options))

/**
 * One local process in detail ({@link ProcessDetail}). Fails with `NoProcess` when the pid is not
 * a live process of this node (it exited, or it belongs to another node or incarnation; the
 * cluster-wide Observer asks other nodes).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observer, Pid } from "effect-otp"
 *
 * const program = Observer.process(Pid.make("nonode@nohost", 42, 1)).pipe(
 *   Effect.catchTag("NoProcess", (error) => Effect.log(error.message))
 * )
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const process = (pid: Pid): Effect.Effect<ProcessDetail, NoProcess, Observer> =>
  Observer.use((observer) => observer.process(pid))

/**
 * Snapshots as a Stream: one at once, then one every `interval` (on Effect's clock; `TestClock`
 * drives it in tests). A slow consumer delays the next snapshot rather than piling them up.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const program = Observer.stream("5 seconds").pipe(
 *   Stream.take(3),
 *   Stream.runForEach((snapshot) => Effect.log(`${snapshot.node.processCount} processes`))
 * )
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const stream = (interval: Duration.Input): Stream.Stream<NodeSnapshot, never, Observer> =>
  Stream.unwrap(Observer.use((observer) => Effect.succeed(observer.stream(interval))))

/**
 * Processes started, exited (with their reason) and restarted by their supervisors, from the
 * moment of subscription, as a Stream. With no subscriber nothing is recorded (a start or exit
 * then costs one check); each subscriber has its own buffer of 4,096 events, and one that falls
 * further behind loses the oldest.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Observer } from "effect-otp"
 *
 * const crashes = Observer.events.pipe(
 *   Stream.filter((event) => event._tag === "ProcessExited" && event.reason._tag === "Failure"),
 *   Stream.runForEach((event) => Effect.logWarning(`${event.pid} crashed`))
 * )
 * ```
 *
 * @category queries
 * @since 0.1.0
 */
export const events: Stream.Stream<ObserverEvent, never, Observer> = Stream.unwrap(
  Observer.use((observer) => Effect.succeed(observer.events))
)
