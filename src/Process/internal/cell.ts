/**
 * The runtime's record of one live process: its pid, mailbox, fiber, links and monitors, and the
 * handling of exit signals.
 *
 * @internal
 */
import { Cause, Context, type Duration, Effect, Exit, type Fiber, Option } from "effect"
import { toMillis } from "../../internal/timers.ts"
import { CurrentProcess } from "../CurrentProcess.ts"
import * as ExitReason from "../ExitReason.ts"
import * as Pid from "../Pid.ts"
import * as Signal from "./signals.ts"
import { Mailbox } from "./mailbox.ts"
import { type CrashInfo, reportCrash } from "./crashReport.ts"
import type { Runtime } from "./runtime.ts"
import { reasonLabel } from "./stats.ts"

/**
 * The process a fiber belongs to: the process's own fiber, or one it forked (they share its
 * context). Only for fibers known to be a process's (the runtime gives each its `CurrentProcess`).
 */
export const runningCell = (fiber: Fiber.Fiber<unknown, unknown>): Cell =>
  Context.getUnsafe(fiber.context, CurrentProcess) as unknown as Cell

/** A callback fired once with the exit reason of a watched process. */
export type ExitWatcher = (reason: ExitReason.ExitReason) => void

/** A process, as the runtime sees it. Also the `self` handle a process body receives. */
export class Cell {
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** Registered name, if any. */
  name: string | undefined = undefined
  /** The reason this process is exiting with, once decided (by a signal or by its own end). */
  exitReason: ExitReason.ExitReason | undefined = undefined
  /** Set when the runtime has finished the process's bookkeeping: it is dead for everyone. */
  finished = false
  /** Linked local processes. */
  links: Set<Cell> | undefined = undefined
  /** Watchers of this process, by monitor ref id: monitors and exit hooks. */
  watchers: Map<number, ExitWatcher> | undefined = undefined
  /** Monitors this process holds on others, by ref id, to clean them up when it exits. */
  monitoring: Map<number, Cell> | undefined = undefined
  /** Pending `sendAfter` timers aimed at this process, cancelled when it exits. */
  timers: Set<number> | undefined = undefined
  /**
   * The behaviour running in this process (a GenServer): told first when the process exits, and
   * asked for its protocol when a request arrives from another node.
   */
  behaviour:
    | {
        readonly processExited: ExitWatcher
        readonly protocol: unknown
        readonly name: string
        readonly crashInfo: () => CrashInfo
        /** The state as shown to observers (the behaviour's `formatStatus`, else the state itself). */
        readonly status: () => unknown
        /** Whether the behaviour has a `formatStatus`. */
        readonly formatsStatus: boolean
        /** The behaviour's state itself (supervisors are observed through theirs). */
        readonly state: unknown
      }
    | undefined = undefined

  constructor(
    readonly runtime: Runtime,
    readonly pid: Pid.Pid,
    readonly mailbox: Mailbox,
    public trapExit: boolean,
    readonly parent: Pid.Pid | undefined
  ) {}

  /** The next message (a process's own receive; one receiver only). */
  get receive(): Effect.Effect<unknown> {
    return this.mailbox.take
  }

  /** The next message, or `None` when nothing arrives within `timeout` (on the runtime's timers). */
  receiveWithin(timeout: Duration.Input): Effect.Effect<Option.Option<unknown>> {
    return Effect.map(this.mailbox.takeWithin(toMillis(timeout), this.runtime.timers), (message) =>
      Mailbox.isTimeout(message) ? Option.none() : Option.some(message)
    )
  }

  /** Whether the process is alive (not exiting, not finished). */
  get alive(): boolean {
    return this.exitReason === undefined && !this.finished
  }

  /**
   * Delivers an exit signal from `from` with the OTP rules: `kill` cannot be trapped; a trapping
   * process gets an `Exit` message; otherwise `normal` is ignored and any other reason ends the
   * process with that reason.
   */
  signalExit(from: Pid.Pid, reason: ExitReason.ExitReason, untrappable: boolean): void {
    if (this.finished) return
    // `kill` also ends a process that is already exiting but stuck in its finalizers.
    if (untrappable) return this.die(ExitReason.killed, true)
    if (!this.alive) return
    if (this.trapExit) {
      this.mailbox.offerSystem(Signal.makeExit(from, reason))
    } else if (reason._tag !== "Normal") {
      this.die(reason, false)
    } else if (Pid.equals(from, this.pid)) {
      this.die(reason, false)
    }
  }

  /**
   * Ends the process with `reason`: interrupts its fiber (its finalizers run). With `immediate`
   * (the untrappable kill), the process is dead for everyone at once even if finalizers still run.
   */
  die(reason: ExitReason.ExitReason, immediate: boolean): void {
    if (this.finished) return
    if (this.exitReason === undefined) this.exitReason = reason
    else if (immediate) this.exitReason = reason
    const fiber = this.fiber
    if (fiber !== undefined) fiber.interruptUnsafe()
    if (immediate && !this.finished) this.finish(reason)
  }

  /**
   * Called when the fiber ends: decides the reason from its Exit unless a signal decided it.
   * `context` (for a crash report: its loggers) is the one the process started with when its
   * fiber ended before it could be observed; otherwise the fiber's own, still there when told.
   */
  onFiberExit(exit: Exit.Exit<unknown, unknown>, context: Context.Context<never> | undefined): void {
    if (this.finished) return
    const signalled = this.exitReason
    const reason = signalled ?? reasonOfExit(exit)
    // Ended by its own failure (not by an exit signal): a crash report, while the name is known.
    if (signalled === undefined && reason._tag === "Failure") {
      const services = context ?? (this.fiber?.context as Context.Context<never> | undefined)
      if (services !== undefined) reportCrash(this, services, reason)
    }
    this.finish(reason)
  }

  /** Adds a watcher fired once with the exit reason. Returns false if the process already exited. */
  watch(refId: number, watcher: ExitWatcher): boolean {
    if (this.finished) return false
    ;(this.watchers ??= new Map()).set(refId, watcher)
    return true
  }

  unwatch(refId: number): boolean {
    return this.watchers?.delete(refId) ?? false
  }

  /** Bookkeeping at exit: free the name, drain the mailbox, signal links, fire monitors. */
  finish(reason: ExitReason.ExitReason): void {
    if (this.finished) return
    this.finished = true
    this.exitReason = reason
    const runtime = this.runtime
    if (runtime.lifecycle !== undefined) runtime.lifecycle.exited(this, reason)
    runtime.forget(this)
    runtime.stats.exits.add(reasonLabel(reason))
    if (this.behaviour !== undefined) this.behaviour.processExited(reason)
    this.mailbox.close(reason)
    if (this.timers !== undefined) {
      for (const id of this.timers) runtime.cancelTimer(id)
      this.timers = undefined
    }
    const monitoring = this.monitoring
    if (monitoring !== undefined) {
      this.monitoring = undefined
      for (const [refId, target] of monitoring) target.unwatch(refId)
    }
    const links = this.links
    if (links !== undefined) {
      this.links = undefined
      for (const linked of links) {
        linked.links?.delete(this)
        linked.signalExit(this.pid, reason, false)
      }
    }
    const watchers = this.watchers
    if (watchers !== undefined) {
      this.watchers = undefined
      for (const watcher of watchers.values()) watcher(reason)
    }
  }

  /** Links two live processes (both directions). */
  link(other: Cell): void {
    if (other === this) return
    ;(this.links ??= new Set()).add(other)
    ;(other.links ??= new Set()).add(this)
  }

  unlink(other: Cell): void {
    this.links?.delete(other)
    other.links?.delete(this)
  }
}

/** The exit reason implied by how a process fiber ended, when no signal decided it. */
export const reasonOfExit = (exit: Exit.Exit<unknown, unknown>): ExitReason.ExitReason => {
  if (Exit.isSuccess(exit)) return ExitReason.normal
  const cause = exit.cause
  if (Cause.hasInterruptsOnly(cause)) return ExitReason.killed
  for (const reason of cause.reasons) {
    if (reason._tag === "Die" && reason.defect instanceof ExitRequest) return reason.defect.reason
  }
  return ExitReason.failure(cause)
}

/**
 * A process body that dies with this ends with `reason` (how `Process.exitSelf` and a GenServer's
 * `stop` leave the fiber without widening its error type).
 */
export class ExitRequest {
  constructor(readonly reason: ExitReason.ExitReason) {}
}

/** Ends the current process with `reason`. */
export const exitWith = (reason: ExitReason.ExitReason): Effect.Effect<never> => Effect.die(new ExitRequest(reason))
