/**
 * The node-local process runtime: the process table, registered names, spawning, monitors and
 * timers. One instance per `ProcessRuntime` layer; nothing is shared between instances.
 *
 * @internal
 */
import { Context, Effect, type Exit, Fiber } from "effect"
import type { CancelTimer, Timers } from "../../internal/timers.ts"
import { CurrentProcess } from "../CurrentProcess.ts"
import { NameTaken } from "../Errors.ts"
import * as ExitReason from "../ExitReason.ts"
import * as Pid from "../Pid.ts"
import { GlobalName } from "../GlobalName.ts"
import { RemoteName } from "../RemoteName.ts"
import type * as Signal from "../Signal.ts"
import { Cell, type ExitWatcher } from "./cell.ts"
import { Lifecycle, type LifecycleListener } from "./lifecycle.ts"
import { Mailbox, type OverflowPolicy, Trampoline } from "./mailbox.ts"
import { ProcessStats, type Sampling, samplingOf } from "./processStats.ts"
import type { RemoteBridge, RemoteTarget } from "./remote.ts"
import { makeDown, makeRef, unresolvedNamePid } from "./signals.ts"
import { RuntimeStats } from "./stats.ts"

/** How a process is created. */
export interface CellOptions {
  readonly name?: string | undefined
  readonly trapExit?: boolean | undefined
  readonly mailboxCapacity?: number | undefined
  readonly overflow?: OverflowPolicy | undefined
  /** Link the new process to this one before it runs. */
  readonly linkTo?: Cell | undefined
  /** Runs once the process exists, before its body: to monitor it atomically with the spawn. */
  readonly beforeStart?: ((cell: Cell) => void) | undefined
}

/** Runtime-wide defaults. */
export interface RuntimeConfig {
  readonly node: string
  readonly incarnation: number
  readonly mailboxCapacity: number
  readonly overflow: OverflowPolicy
  /** Synchronous hand-overs allowed on one stack before resuming from a macrotask. */
  readonly maxHandoverDepth: number
  /** How long `shutdown` waits for processes to finish before killing the rest. */
  readonly shutdownTimeoutMs: number
  /** One handled message in how many has its handler time measured (a power of two; 0: none). */
  readonly busySampleEvery: number
}

interface PendingTimer {
  cancel: CancelTimer | undefined
  /** On the runtime's monotonic time ({@link Runtime.timers}); `Infinity` for a timer that never fires. */
  readonly deadline: number
  readonly target: Cell | undefined
}

/** The process runtime of one node. */
export class Runtime {
  readonly node: string
  readonly incarnation: number
  /** The pid used as the sender of signals that come from outside any process. */
  readonly systemPid: Pid.Pid
  readonly startedAt = Date.now()
  /** When the runtime was built, on {@link timers} (for its uptime). */
  readonly startedAtMonotonic: number
  /** Observers of process starts, exits and restarts; undefined while nobody listens. */
  lifecycle: Lifecycle | undefined = undefined
  private readonly sampling: Sampling
  readonly trampoline: Trampoline
  /** Counters read by the metrics layer when it renders (updating one is an increment). */
  readonly stats = new RuntimeStats()
  private readonly table = new Map<number, Cell>()
  private readonly names = new Map<string, Cell>()
  private readonly pendingTimers = new Map<number, PendingTimer>()
  private nextId = 1
  private nextRef = 1
  private closing = false
  /** How processes on other nodes are reached, once the cluster layer attached itself. */
  remote: RemoteBridge | undefined = undefined
  /** The pid a global name is registered to, once a `GlobalRegistry` attached itself. */
  globalResolver: ((name: string) => Pid.Pid | undefined) | undefined = undefined

  /**
   * @param timers Every timer and deadline of the runtime and of what runs on it (call, start,
   *   stop and shutdown timeouts, `sendAfter`, `receiveWithin`, supervisor restart intensity):
   *   the clock of the fiber that built the runtime, so that `TestClock` drives them all.
   */
  constructor(
    readonly config: RuntimeConfig,
    readonly timers: Timers
  ) {
    this.node = config.node
    this.incarnation = config.incarnation
    this.systemPid = Pid.make(config.node, 0, config.incarnation)
    this.trampoline = new Trampoline(config.maxHandoverDepth)
    this.startedAtMonotonic = timers.now()
    this.sampling = samplingOf(config.busySampleEvery, timers.now, Date.now())
  }

  /** Starts telling `listener` of process starts, exits and restarts; returns how to stop. */
  listen(listener: LifecycleListener): () => void {
    const lifecycle = (this.lifecycle ??= new Lifecycle())
    lifecycle.listeners.add(listener)
    return () => {
      lifecycle.listeners.delete(listener)
      if (lifecycle.listeners.size === 0 && this.lifecycle === lifecycle) this.lifecycle = undefined
    }
  }

  /** Number of live processes. */
  get processCount(): number {
    return this.table.size
  }

  /** Live processes in spawn order. */
  processes(): IterableIterator<Cell> {
    return this.table.values()
  }

  /** Registered names and their owners. */
  registeredNames(): IterableIterator<[string, Cell]> {
    return this.names.entries()
  }

  /**
   * Creates a process running `body` on a new fiber that starts at once, on the caller's stack, and
   * runs until it first suspends. The fiber inherits `context` (the spawner's services).
   * The name (if any) must be free: check with {@link nameConflict} first.
   */
  spawn(
    context: Fiber.Fiber<unknown, unknown>["context"],
    body: (cell: Cell) => Effect.Effect<unknown, unknown>,
    options: CellOptions | undefined
  ): Cell {
    const id = this.nextId++
    this.stats.spawns++
    const config = this.config
    const mailbox = new Mailbox(
      options?.mailboxCapacity ?? config.mailboxCapacity,
      options?.overflow ?? config.overflow,
      this.trampoline,
      new ProcessStats(this.sampling, Date.now())
    )
    const parent = options?.linkTo
    const cell = new Cell(
      this,
      Pid.make(config.node, id, config.incarnation),
      mailbox,
      options?.trapExit ?? false,
      parent?.pid
    )
    this.table.set(id, cell)
    if (options?.name !== undefined) {
      cell.name = options.name
      this.names.set(options.name, cell)
    }
    if (parent !== undefined) {
      if (parent.alive) parent.link(cell)
      else cell.exitReason = parent.exitReason ?? ExitReason.noproc
    }
    options?.beforeStart?.(cell)
    if (this.lifecycle !== undefined) this.lifecycle.started(cell)
    const run = Effect.withFiber((fiber) => {
      // Killed before it ran (possible when the start was deferred): nothing to run or register.
      if (cell.exitReason !== undefined) return Effect.interrupt
      cell.fiber = fiber
      return body(cell)
    })
    // The body starts on the spawner's stack, like a hand-over; chains of spawns (each process
    // spawning the next) would nest without bound, so deep ones start from the scheduler instead.
    const trampoline = this.trampoline
    const deferred = trampoline.depth >= trampoline.maxDepth
    trampoline.depth++
    let fiber: Fiber.Fiber<unknown, unknown>
    const processContext = Context.add(context, CurrentProcess, cell)
    try {
      fiber = Effect.runForkWith(processContext)(deferred ? Effect.andThen(Effect.yieldNow, run) : run)
    } finally {
      trampoline.depth--
    }
    // An ended fiber's context is emptied: a process that ended on the spawner's stack is given
    // the one it started with (for its crash report); the others still have theirs when told.
    const ended = fiber.pollUnsafe()
    if (ended !== undefined) cell.onFiberExit(ended, processContext)
    else fiber.addObserver(exitObserver(cell))
    return cell
  }

  /** The live process with this pid, if any. Pids of other nodes or incarnations are not here. */
  lookup(pid: Pid.Pid): Cell | undefined {
    if (pid.node !== this.node || pid.incarnation !== this.incarnation) return undefined
    return this.table.get(pid.id)
  }

  /**
   * A global name as the pid registered under it now (a local read of the registry's replica);
   * any other target, or a global name nobody holds, as it is.
   */
  resolveGlobal<T>(target: T | GlobalName): T | GlobalName | Pid.Pid {
    if (!(target instanceof GlobalName)) return target
    return this.globalResolver?.(target.name) ?? target
  }

  /** Lets a `GlobalRegistry` resolve global names. Returns the detach function. */
  attachGlobal(resolver: (name: string) => Pid.Pid | undefined): () => void {
    this.globalResolver = resolver
    return () => {
      if (this.globalResolver === resolver) this.globalResolver = undefined
    }
  }

  /** The live local process a pid or registered name refers to (none for an unresolved global name). */
  resolve(target: Pid.Pid | string | RemoteName | GlobalName): Cell | undefined {
    if (typeof target === "string") return this.names.get(target)
    if (target instanceof GlobalName) return undefined
    if (target instanceof RemoteName) return target.node === this.node ? this.names.get(target.name) : undefined
    return this.lookup(target)
  }

  /**
   * Lets the cluster layer route operations on remote processes. Returns the detach function
   * (called when the cluster layer is released).
   */
  attachRemote(bridge: RemoteBridge): () => void {
    this.remote = bridge
    return () => {
      if (this.remote === bridge) this.remote = undefined
    }
  }

  /**
   * The process running on `fiber`, if the fiber is a live process's own fiber of this runtime
   * (not one it forked). Read from the fiber's `CurrentProcess`: no table of fibers is kept.
   */
  current(fiber: Fiber.Fiber<unknown, unknown>): Cell | undefined {
    const cell = Context.getOrUndefined(fiber.context as Context.Context<never>, CurrentProcess)
    return cell instanceof Cell && cell.fiber === fiber && cell.runtime === this && !cell.finished ? cell : undefined
  }

  /** Removes a finished process from the table and the name index. */
  forget(cell: Cell): void {
    this.table.delete(cell.pid.id)
    if (cell.name !== undefined && this.names.get(cell.name) === cell) this.names.delete(cell.name)
    cell.name = undefined
  }

  /** Why `name` cannot be given to `cell` (or to a new process when `cell` is undefined). */
  nameConflict(name: string, cell: Cell | undefined): NameTaken | undefined {
    const owner = this.names.get(name)
    if (owner !== undefined && owner !== cell) {
      return new NameTaken({ name, owner: `already registered to ${owner.pid}` })
    }
    if (cell !== undefined && cell.name !== undefined && cell.name !== name) {
      return new NameTaken({ name, owner: `${cell.pid} is already registered as "${cell.name}"` })
    }
    return undefined
  }

  register(name: string, cell: Cell): NameTaken | undefined {
    const conflict = this.nameConflict(name, cell)
    if (conflict !== undefined) return conflict
    cell.name = name
    this.names.set(name, cell)
    return undefined
  }

  unregister(name: string): boolean {
    const owner = this.names.get(name)
    if (owner === undefined) return false
    this.names.delete(name)
    owner.name = undefined
    return true
  }

  newRefId(): number {
    return this.nextRef++
  }

  /**
   * Monitors `target` on behalf of `watcher`: a `Down` arrives in the watcher's mailbox exactly
   * once, at once with `noproc` when the target is already dead.
   */
  monitor(watcher: Cell, target: Cell | undefined, targetPid: Pid.Pid): Signal.MonitorRef {
    const refId = this.newRefId()
    const ref = makeRef(this.node, refId)
    if (target === undefined || !target.watch(refId, this.downDelivery(watcher, ref, targetPid))) {
      watcher.mailbox.offerSystem(makeDown(ref, targetPid, ExitReason.noproc))
      return ref
    }
    ;(watcher.monitoring ??= new Map()).set(refId, target)
    return ref
  }

  private downDelivery(watcher: Cell, ref: Signal.MonitorRef, targetPid: Pid.Pid): ExitWatcher {
    return (reason) => {
      watcher.monitoring?.delete(ref.id)
      watcher.mailbox.offerSystem(makeDown(ref, targetPid, reason))
    }
  }

  /**
   * Monitors a process on another node through the remote bridge; with no bridge (no cluster), the
   * node is unreachable and `Down` with `noconnection` arrives at once.
   */
  monitorRemote(watcher: Cell, target: RemoteTarget): Signal.MonitorRef {
    const ref = makeRef(this.node, this.newRefId())
    if (this.remote === undefined) {
      const pid = target instanceof RemoteName ? unresolvedNamePid(target.node) : target
      watcher.mailbox.offerSystem(makeDown(ref, pid, ExitReason.noconnection))
    } else {
      this.remote.monitor(watcher, target, ref)
    }
    return ref
  }

  /** Removes a monitor. Returns whether it was still active. */
  demonitor(watcher: Cell, ref: Signal.MonitorRef): boolean {
    const target = watcher.monitoring?.get(ref.id)
    if (target === undefined) return false
    watcher.monitoring!.delete(ref.id)
    return target.unwatch(ref.id)
  }

  /** Calls `onExit` once with the target's exit reason (`noproc` at once if it is not alive). */
  watchExit(target: Cell | undefined, onExit: ExitWatcher): () => void {
    const refId = this.newRefId()
    if (target === undefined || !target.watch(refId, onExit)) {
      onExit(target?.exitReason ?? ExitReason.noproc)
      return () => {}
    }
    return () => target.unwatch(refId)
  }

  /**
   * Schedules `deliver` after `millis` (on {@link timers}); cancelled if `target` exits first.
   * Returns the timer id.
   */
  startTimer(millis: number, target: Cell | undefined, deliver: () => void): number {
    const id = this.newRefId()
    const timer: PendingTimer = { cancel: undefined, deadline: this.timers.now() + millis, target }
    // Registered before it is armed: a timer due at once may fire inside `start` (under a test clock).
    this.pendingTimers.set(id, timer)
    if (target !== undefined) (target.timers ??= new Set()).add(id)
    const cancel = this.timers.start(millis, () => {
      if (!this.pendingTimers.delete(id)) return
      target?.timers?.delete(id)
      deliver()
    })
    if (this.pendingTimers.get(id) === timer) timer.cancel = cancel
    return id
  }

  /** Cancels a timer. Returns the milliseconds it had left, or undefined if it was not pending. */
  cancelTimer(id: number): number | undefined {
    const timer = this.pendingTimers.get(id)
    if (timer === undefined) return undefined
    timer.cancel?.()
    this.pendingTimers.delete(id)
    timer.target?.timers?.delete(id)
    return Math.max(0, timer.deadline - this.timers.now())
  }

  /**
   * Stops every process (newest first) with `shutdown` and waits for their fibers to end. Used
   * when the runtime's layer is released; supervisors stop their trees in order before this.
   */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.closing = true
    const cells = [...this.table.values()].reverse()
    const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
    for (const cell of cells) {
      if (cell.fiber !== undefined) fibers.push(cell.fiber)
      cell.die(ExitReason.shutdown(), false)
    }
    for (const timer of this.pendingTimers.values()) timer.cancel?.()
    this.pendingTimers.clear()
    // Processes whose finalizers outlive the shutdown timeout are killed and no longer waited for.
    const ended = Effect.forEach(fibers, (fiber) => Effect.asVoid(Fiber.await(fiber)), { discard: true })
    return Effect.raceFirst(
      ended,
      Effect.andThen(
        this.sleep(this.config.shutdownTimeoutMs),
        Effect.sync(() => {
          for (const cell of cells) if (!cell.finished) cell.die(ExitReason.killed, true)
        })
      )
    )
  })

  /** Waits `millis` on the runtime's {@link timers}. */
  sleep(millis: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      const cancel = this.timers.start(millis, () => resume(Effect.void))
      return Effect.sync(cancel)
    })
  }

  /** Whether the runtime is shutting down. */
  get isClosing(): boolean {
    return this.closing
  }
}

/**
 * The observer of a process fiber's end. Made outside `spawn` on purpose: a closure made there
 * would share `spawn`'s scope and keep the body and what it captured (a GenServer's starter, its
 * `init` arguments) alive for the whole life of the process.
 */
const exitObserver =
  (cell: Cell) =>
  (exit: Exit.Exit<unknown, unknown>): void =>
    cell.onFiberExit(exit, undefined)
