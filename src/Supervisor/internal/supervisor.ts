/**
 * The static supervisor: its children in start order, the restart strategies, restart intensity,
 * auto-shutdown, the dynamic child operations, and the GenServer behaviour that runs it all.
 *
 * Everything here runs in the supervisor process, one message at a time, as OTP's supervisor
 * does: a restart (stopping and starting a group of children) completes before the next message
 * is handled, and a failed restart is retried through the mailbox so that other requests (a stop,
 * a `terminateChild`) get their turn in between.
 *
 * @internal
 */
import { type Context, Effect } from "effect"
import * as ExitReason from "../../Process/ExitReason.ts"
import * as GenServer from "../../Process/GenServer.ts"
import * as Pid from "../../Process/Pid.ts"
import type { ProcessRuntime } from "../../Process/ProcessRuntime.ts"
import { withRuntime } from "../../Process/internal/context.ts"
import * as Signal from "../../Process/Signal.ts"
import type { ChildSpec } from "../ChildSpec.ts"
import {
  ChildAlreadyPresent,
  ChildAlreadyStarted,
  ChildNotFound,
  ChildRunning,
  ChildStartFailed,
  InvalidChildSpec
} from "../Errors.ts"
import { adopt, runStart, withCallerServices } from "./child.ts"
import { shouldRestart, SupervisorCore } from "./core.ts"
import { type ChildCounts, type ChildInfo, RetryRestart, SupervisorProtocol } from "./protocol.ts"
import type { SupervisorView } from "./observe.ts"
import { Reporter } from "./reporter.ts"
import { shutdownChild } from "./shutdown.ts"
import { type Resolved, resolveChild } from "./spec.ts"

/** How the children of a supervisor are restarted. */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one"

/** When the exit of significant children shuts the supervisor down. */
export type AutoShutdown = "never" | "any_significant" | "all_significant"

/** The supervisor's flags, defaults filled in. */
export interface Flags {
  readonly strategy: Strategy
  readonly maxRestarts: number
  readonly withinMs: number
  readonly autoShutdown: AutoShutdown
}

export { MAX_INTENSITY_DETAIL, maxIntensityReason } from "./core.ts"

/** A resolved static child spec: its id is known. */
export type StaticSpec = Resolved & { readonly id: string }

/** What the supervisor does after handling a message: keep running, or stop with a reason. */
type Outcome = ExitReason.ExitReason | undefined
const Continue: Outcome = undefined

/** One child: its spec and the process currently running it, if any. */
class Child {
  pid: Pid.Pid | undefined = undefined
  /** A restart failed and will be retried. */
  restarting = false
  /** How many times the supervisor started this child again after an exit. */
  restarts = 0
  constructor(readonly spec: StaticSpec) {}
  get id(): string {
    return this.spec.id
  }
}

/** Checks specs and their ids; the first problem wins. */
export const resolveAll = (
  specs: ReadonlyArray<ChildSpec<unknown>>,
  autoShutdown: AutoShutdown
): ReadonlyArray<StaticSpec> | InvalidChildSpec => {
  const seen = new Set<string>()
  const resolved: Array<StaticSpec> = []
  for (const spec of specs) {
    const child = resolveChild(spec, autoShutdown !== "never")
    if (child instanceof InvalidChildSpec) return child
    if (seen.has(spec.id)) return new InvalidChildSpec({ id: spec.id, problem: "duplicate child id" })
    seen.add(spec.id)
    resolved.push(child as StaticSpec)
  }
  return resolved
}

/** The state of one supervisor process. Mutated in place: only its own process touches it. */
export class SupervisorState extends SupervisorCore<Flags> {
  /** Children in start order. */
  readonly children: Array<Child> = []
  private readonly byPid = new Map<number, Child>()

  find(id: string): Child | undefined {
    return this.children.find((child) => child.id === id)
  }

  // -------------------------------------------------------------------------------------------
  // Starting and stopping one child
  // -------------------------------------------------------------------------------------------

  /** Starts `child`; on success it is running and linked. */
  private start(child: Child, restart: boolean): Effect.Effect<Pid.Pid, ChildStartFailed> {
    return Effect.matchEffect(runStart(child.spec.start), {
      onSuccess: (pid) => {
        child.pid = pid
        child.restarting = false
        this.byPid.set(pid.id, child)
        adopt(this.runtime, this.cell, pid)
        if (restart) {
          child.restarts++
          this.runtime.lifecycle?.restarted(this.pid, child.id, pid, child.restarts)
        }
        const report = restart ? this.reporter.restarted(child.id, pid) : this.reporter.started(child.id, pid)
        return Effect.as(report, pid)
      },
      onFailure: (reason) =>
        Effect.andThen(
          this.reporter.startError(child.id, reason),
          Effect.fail(new ChildStartFailed({ supervisor: this.pid, id: child.id, reason }, { disableChecks: true }))
        )
    })
  }

  /** Stops `child` if it is running (per its shutdown policy); it is then not running. */
  private stop(child: Child): Effect.Effect<void> {
    child.restarting = false
    const pid = child.pid
    if (pid === undefined) return Effect.void
    child.pid = undefined
    this.byPid.delete(pid.id)
    return Effect.flatMap(shutdownChild(this.runtime, this.cell, pid, child.spec.shutdown), (reason) =>
      this.reporter.exited(child.id, pid, reason, true)
    )
  }

  private remove(child: Child): void {
    const index = this.children.indexOf(child)
    if (index >= 0) this.children.splice(index, 1)
  }

  /** A child that is not running any more: a temporary one is forgotten, others keep their spec. */
  private forgetProcess(child: Child): void {
    child.pid = undefined
    child.restarting = false
    if (child.spec.restart === "temporary") this.remove(child)
  }

  /** Stops `children` in reverse order; temporary ones are forgotten. */
  private stopGroup(children: ReadonlyArray<Child>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const reversed = children.slice().reverse()
      return Effect.forEach(
        reversed,
        (child) =>
          Effect.map(this.stop(child), () => {
            if (child.spec.restart === "temporary") this.remove(child)
          }),
        { discard: true }
      )
    })
  }

  /** Starts the supervisor's initial children in order; on a failure, stops those started. */
  readonly startInitial: Effect.Effect<void, ChildStartFailed> = Effect.suspend(() =>
    Effect.forEach(this.children, (child) => this.start(child, false), { discard: true }).pipe(
      Effect.tapError(() => this.stopGroup(this.children))
    )
  )

  // -------------------------------------------------------------------------------------------
  // Exits and restarts
  // -------------------------------------------------------------------------------------------

  /** A linked process exited. Ignored unless it is a current child. */
  childExited(pid: Pid.Pid, reason: ExitReason.ExitReason): Effect.Effect<Outcome> {
    const child = this.byPid.get(pid.id)
    if (child === undefined || child.pid === undefined || !Pid.equals(child.pid, pid)) return Effect.succeed(Continue)
    this.byPid.delete(pid.id)
    child.pid = undefined
    return Effect.flatMap(this.reporter.exited(child.id, pid, reason, false), () => {
      if (shouldRestart(child.spec.restart, reason)) return this.restart(child)
      this.forgetProcess(child)
      return Effect.succeed(this.autoShutdown(child))
    })
  }

  /** A retry of a restart that failed earlier. */
  retry(id: string): Effect.Effect<Outcome> {
    const child = this.find(id)
    return child === undefined || !child.restarting ? Effect.succeed(Continue) : this.restart(child)
  }

  private restart(child: Child): Effect.Effect<Outcome> {
    return this.withinIntensity(
      () => this.forgetProcess(child),
      Effect.as(this.reporter.restartSpan(child.id, this.restartByStrategy(child)), Continue)
    )
  }

  private restartByStrategy(child: Child): Effect.Effect<void> {
    switch (this.flags.strategy) {
      case "one_for_one":
        return this.startOrRetry([child])
      case "one_for_all":
        return this.restartGroup(this.children.slice())
      case "rest_for_one":
        return this.restartGroup(this.children.slice(this.children.indexOf(child)))
    }
  }

  /** Stops a group in reverse order (temporary members are forgotten), then starts the rest in order. */
  private restartGroup(group: ReadonlyArray<Child>): Effect.Effect<void> {
    return Effect.flatMap(this.stopGroup(group), () =>
      this.startOrRetry(group.filter((child) => child.spec.restart !== "temporary"))
    )
  }

  /**
   * Starts `group` in order. At the first failure the child is marked restarting and a retry is
   * queued; the children after it stay stopped until the retry restarts them.
   */
  private startOrRetry(group: ReadonlyArray<Child>): Effect.Effect<void> {
    return Effect.suspend(() => {
      let failed = false
      return Effect.forEach(
        group,
        (child) =>
          failed
            ? Effect.void
            : Effect.catch(Effect.asVoid(this.start(child, true)), () => {
                failed = true
                child.restarting = true
                this.cell.mailbox.offerSystem(new RetryRestart(child.id))
                return Effect.void
              }),
        { discard: true }
      )
    })
  }

  /** Whether the exit of `child` (not restarted) shuts the supervisor down. */
  private autoShutdown(child: Child): Outcome {
    const mode = this.flags.autoShutdown
    if (mode === "never" || !child.spec.significant) return Continue
    if (mode === "any_significant") return ExitReason.shutdown()
    const anyLeft = this.children.some(
      (other) => other.spec.significant && (other.pid !== undefined || other.restarting)
    )
    return anyLeft ? Continue : ExitReason.shutdown()
  }

  /** Stops every child in reverse start order (the supervisor is stopping). */
  terminate(reason: ExitReason.ExitReason): Effect.Effect<void> {
    return Effect.flatMap(this.stopGroup(this.children), () => this.reporter.stopped(reason))
  }

  // -------------------------------------------------------------------------------------------
  // Dynamic operations
  // -------------------------------------------------------------------------------------------

  /** Adds and starts a child; `caller` holds the services of the caller of `startChild`. */
  startChild(
    spec: ChildSpec<unknown>,
    caller: Context.Context<never> | undefined
  ): Effect.Effect<Pid.Pid, InvalidChildSpec | ChildAlreadyStarted | ChildAlreadyPresent | ChildStartFailed> {
    const start = withCallerServices(spec.start as Effect.Effect<Pid.Pid, unknown>, caller, this.context)
    const resolved = resolveChild({ ...spec, start }, this.flags.autoShutdown !== "never")
    if (resolved instanceof InvalidChildSpec) return Effect.fail(resolved)
    const existing = this.find(spec.id)
    if (existing !== undefined) {
      return existing.pid !== undefined
        ? Effect.fail(new ChildAlreadyStarted({ id: spec.id, pid: existing.pid }))
        : Effect.fail(new ChildAlreadyPresent({ id: spec.id }))
    }
    const child = new Child(resolved as StaticSpec)
    return Effect.map(this.start(child, false), (pid) => {
      this.children.push(child)
      return pid
    })
  }

  terminateChild(id: string): Effect.Effect<void, ChildNotFound> {
    const child = this.find(id)
    if (child === undefined) return Effect.fail(new ChildNotFound({ id: `"${id}"` }))
    return Effect.map(this.stop(child), () => this.forgetProcess(child))
  }

  restartChild(id: string): Effect.Effect<Pid.Pid, ChildNotFound | ChildRunning | ChildStartFailed> {
    const child = this.find(id)
    if (child === undefined) return Effect.fail(new ChildNotFound({ id: `"${id}"` }))
    if (child.pid !== undefined || child.restarting) {
      return Effect.fail(new ChildRunning({ id, restarting: child.restarting }))
    }
    return this.start(child, false)
  }

  deleteChild(id: string): Effect.Effect<void, ChildNotFound | ChildRunning> {
    const child = this.find(id)
    if (child === undefined) return Effect.fail(new ChildNotFound({ id: `"${id}"` }))
    if (child.pid !== undefined || child.restarting) {
      return Effect.fail(new ChildRunning({ id, restarting: child.restarting }))
    }
    this.remove(child)
    return Effect.void
  }

  whichChildren(): ReadonlyArray<ChildInfo> {
    return this.children.map((child) => {
      const info = {
        id: child.id,
        status: child.pid !== undefined ? "running" : child.restarting ? "restarting" : "stopped",
        type: child.spec.type,
        restart: child.spec.restart
      } as const
      return child.pid === undefined ? info : { ...info, pid: child.pid }
    })
  }

  /** What an observer is shown: the flags and each child with its pid and restart count. */
  observe(): SupervisorView {
    return {
      kind: "supervisor",
      strategy: this.flags.strategy,
      maxRestarts: this.flags.maxRestarts,
      withinMs: this.flags.withinMs,
      children: this.children.map((child) => ({
        id: child.id,
        pid: child.pid,
        status: child.pid !== undefined ? "running" : child.restarting ? "restarting" : "stopped",
        type: child.spec.type,
        restart: child.spec.restart,
        restarts: child.restarts
      }))
    }
  }

  countChildren(): ChildCounts {
    let active = 0
    let supervisors = 0
    for (const child of this.children) {
      if (child.spec.type === "supervisor") supervisors++
      if (child.pid !== undefined && this.runtime.lookup(child.pid)?.alive === true) active++
    }
    return { specs: this.children.length, active, supervisors, workers: this.children.length - supervisors }
  }

  /** Adds the initial children (before {@link startInitial}). */
  addInitial(specs: ReadonlyArray<StaticSpec>): void {
    for (const spec of specs) this.children.push(new Child(spec))
  }
}

/** What the supervisor's `init` receives. */
export interface InitArgs {
  readonly flags: Flags
  readonly children: ReadonlyArray<StaticSpec>
}

const outcome = (state: SupervisorState) => (next: Outcome) =>
  next === undefined ? GenServer.noReply(state) : GenServer.stopWith(next, state)

const initState = (args: InitArgs, self: Pid.Pid): Effect.Effect<SupervisorState, ChildStartFailed, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const cell = runtime.current(fiber)!
    return Effect.flatMap(Reporter.make(self), (reporter) => {
      const state = new SupervisorState(runtime, cell, args.flags, reporter, fiber.context as Context.Context<never>)
      state.addInitial(args.children)
      return Effect.as(state.startInitial, state)
    })
  })

/** The supervisor, as a GenServer. Started trapping exits, with an unbounded start timeout. */
export const supervisorBehaviour = GenServer.behaviour(SupervisorProtocol)({
  name: "supervisor",
  init: (args: InitArgs, self) => initState(args, self),
  handleCall: {
    StartChild: ({ spec, context }, state) =>
      Effect.map(state.startChild(spec as ChildSpec<unknown>, context as Context.Context<never> | undefined), (pid) =>
        GenServer.reply(pid, state)
      ),
    TerminateChild: ({ id }, state) => Effect.as(state.terminateChild(id), GenServer.reply(undefined, state)),
    RestartChild: ({ id }, state) => Effect.map(state.restartChild(id), (pid) => GenServer.reply(pid, state)),
    DeleteChild: ({ id }, state) => Effect.as(state.deleteChild(id), GenServer.reply(undefined, state)),
    WhichChildren: (_, state) => Effect.succeed(GenServer.reply(state.whichChildren(), state)),
    CountChildren: (_, state) => Effect.succeed(GenServer.reply(state.countChildren(), state))
  },
  handleInfo: (message, state) => {
    if (message instanceof Signal.Exit)
      return Effect.map(state.childExited(message.pid, message.reason), outcome(state))
    if (message instanceof RetryRestart) return Effect.map(state.retry(message.key as string), outcome(state))
    return Effect.as(
      Effect.logWarning(`supervisor ${state.pid} ignored an unexpected message`),
      GenServer.noReply(state)
    )
  },
  terminate: (reason, state) => state.terminate(reason),
  formatStatus: (state) => state.observe(),
  tracing: false
})
