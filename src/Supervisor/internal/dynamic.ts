/**
 * The dynamic supervisor: children added on demand, each restarted on its own (`one_for_one`),
 * stopped all at once when the supervisor stops. The GenServer behaviour that runs it.
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
import { ChildNotFound, ChildStartFailed, InvalidChildSpec, MaxChildren } from "../Errors.ts"
import { adopt, runStart, withCallerServices } from "./child.ts"
import { shouldRestart, SupervisorCore } from "./core.ts"
import { type ChildCounts, type ChildInfo, DynamicProtocol, RetryRestart } from "./protocol.ts"
import type { SupervisorView } from "./observe.ts"
import { Reporter } from "./reporter.ts"
import { shutdownChild, shutdownGroup, type Stopping } from "./shutdown.ts"
import { type Resolved, resolve, type SpecLike } from "./spec.ts"

/** The dynamic supervisor's flags, defaults filled in. */
export interface DynamicFlags {
  readonly maxChildren: number
  readonly maxRestarts: number
  readonly withinMs: number
}

/** One dynamic child. `key` identifies it across restarts (its pid changes). */
class DynamicChild implements Stopping {
  pid: Pid.Pid = undefined!
  restarting = false
  /** How many times the supervisor started this child again after an exit. */
  restarts = 0
  constructor(
    readonly key: number,
    readonly spec: Resolved
  ) {}
  get shutdown() {
    return this.spec.shutdown
  }
}

type Outcome = ExitReason.ExitReason | undefined

/** The state of one dynamic supervisor process. */
export class DynamicState extends SupervisorCore<DynamicFlags> {
  /** Children by key, in the order they were added. */
  private readonly children = new Map<number, DynamicChild>()
  private readonly byPid = new Map<number, DynamicChild>()
  private nextKey = 1

  private start(child: DynamicChild, restart: boolean): Effect.Effect<Pid.Pid, ExitReason.ExitReason> {
    return Effect.matchEffect(runStart(child.spec.start), {
      onSuccess: (pid) => {
        child.pid = pid
        child.restarting = false
        this.byPid.set(pid.id, child)
        adopt(this.runtime, this.cell, pid)
        if (restart) {
          child.restarts++
          this.runtime.lifecycle?.restarted(this.pid, undefined, pid, child.restarts)
        }
        return Effect.as(restart ? this.reporter.restarted(undefined, pid) : this.reporter.started(undefined, pid), pid)
      },
      onFailure: (reason) => Effect.andThen(this.reporter.startError(undefined, reason), Effect.fail(reason))
    })
  }

  /** Adds and starts a child; `caller` holds the services of the caller of `startChild`. */
  startChild(
    spec: SpecLike,
    caller: Context.Context<never> | undefined
  ): Effect.Effect<Pid.Pid, InvalidChildSpec | MaxChildren | ChildStartFailed> {
    if (this.children.size >= this.flags.maxChildren) {
      return Effect.fail(new MaxChildren({ supervisor: this.pid, max: this.flags.maxChildren }))
    }
    const start = withCallerServices(spec.start as Effect.Effect<Pid.Pid, unknown>, caller, this.context)
    const resolved = resolve(undefined, { ...spec, start }, false)
    if (resolved instanceof InvalidChildSpec) return Effect.fail(resolved)
    const child = new DynamicChild(this.nextKey++, resolved)
    return Effect.matchEffect(this.start(child, false), {
      onSuccess: (pid) => {
        this.children.set(child.key, child)
        return Effect.succeed(pid)
      },
      onFailure: (reason) =>
        Effect.fail(new ChildStartFailed({ supervisor: this.pid, id: "(dynamic)", reason }, { disableChecks: true }))
    })
  }

  terminateChild(pid: Pid.Pid): Effect.Effect<void, ChildNotFound> {
    const child = this.byPid.get(pid.id)
    if (child === undefined || !Pid.equals(child.pid, pid)) return Effect.fail(new ChildNotFound({ id: String(pid) }))
    this.byPid.delete(pid.id)
    this.children.delete(child.key)
    return Effect.flatMap(shutdownChild(this.runtime, this.cell, pid, child.spec.shutdown), (reason) =>
      this.reporter.exited(undefined, pid, reason, true)
    )
  }

  childExited(pid: Pid.Pid, reason: ExitReason.ExitReason): Effect.Effect<Outcome> {
    const child = this.byPid.get(pid.id)
    if (child === undefined || child.restarting || !Pid.equals(child.pid, pid)) return Effect.succeed(undefined)
    this.byPid.delete(pid.id)
    return Effect.flatMap(this.reporter.exited(undefined, pid, reason, false), () => {
      if (shouldRestart(child.spec.restart, reason)) return this.restart(child)
      this.children.delete(child.key)
      return Effect.succeed(undefined)
    })
  }

  retry(key: number): Effect.Effect<Outcome> {
    const child = this.children.get(key)
    return child === undefined || !child.restarting ? Effect.succeed(undefined) : this.restart(child)
  }

  private restart(child: DynamicChild): Effect.Effect<Outcome> {
    const attempt = Effect.catch(Effect.asVoid(this.start(child, true)), () => {
      child.restarting = true
      this.cell.mailbox.offerSystem(new RetryRestart(child.key))
      return Effect.void
    })
    return this.withinIntensity(
      () => this.children.delete(child.key),
      Effect.as(this.reporter.restartSpan(undefined, attempt), undefined)
    )
  }

  /** Stops every running child at once, each within its shutdown time. */
  terminate(reason: ExitReason.ExitReason): Effect.Effect<void> {
    return Effect.suspend(() => {
      const running = [...this.children.values()].filter((child) => !child.restarting)
      this.children.clear()
      this.byPid.clear()
      const reports: Array<Effect.Effect<void>> = []
      return Effect.flatMap(
        shutdownGroup(this.runtime, this.cell, running, (child, exitReason) => {
          reports.push(this.reporter.exited(undefined, child.pid, exitReason, true))
        }),
        () => Effect.andThen(Effect.all(reports, { discard: true }), this.reporter.stopped(reason))
      )
    })
  }

  whichChildren(): ReadonlyArray<ChildInfo> {
    return Array.from(this.children.values(), (child) => {
      const info = { type: child.spec.type, restart: child.spec.restart }
      return child.restarting
        ? { ...info, status: "restarting" as const }
        : { ...info, status: "running" as const, pid: child.pid }
    })
  }

  /** What an observer is shown: the flags and each child with its pid and restart count. */
  observe(): SupervisorView {
    return {
      kind: "dynamic_supervisor",
      strategy: "one_for_one",
      maxRestarts: this.flags.maxRestarts,
      withinMs: this.flags.withinMs,
      maxChildren: this.flags.maxChildren,
      children: Array.from(this.children.values(), (child) => ({
        id: undefined,
        pid: child.restarting ? undefined : child.pid,
        status: child.restarting ? "restarting" : "running",
        type: child.spec.type,
        restart: child.spec.restart,
        restarts: child.restarts
      }))
    }
  }

  countChildren(): ChildCounts {
    let active = 0
    let supervisors = 0
    for (const child of this.children.values()) {
      if (child.spec.type === "supervisor") supervisors++
      if (!child.restarting && this.runtime.lookup(child.pid)?.alive === true) active++
    }
    const specs = this.children.size
    return { specs, active, supervisors, workers: specs - supervisors }
  }
}

const initState = (flags: DynamicFlags, self: Pid.Pid): Effect.Effect<DynamicState, never, ProcessRuntime> =>
  withRuntime((runtime, fiber) =>
    Effect.map(
      Reporter.make(self),
      (reporter) =>
        new DynamicState(runtime, runtime.current(fiber)!, flags, reporter, fiber.context as Context.Context<never>)
    )
  )

const outcome = (state: DynamicState) => (next: Outcome) =>
  next === undefined ? GenServer.noReply(state) : GenServer.stopWith(next, state)

/** The dynamic supervisor, as a GenServer. Started trapping exits. */
export const dynamicBehaviour = GenServer.behaviour(DynamicProtocol)({
  name: "dynamic_supervisor",
  init: (flags: DynamicFlags, self) => initState(flags, self),
  handleCall: {
    StartChild: ({ spec, context }, state) =>
      Effect.map(state.startChild(spec as SpecLike, context as Context.Context<never> | undefined), (pid) =>
        GenServer.reply(pid, state)
      ),
    TerminateChild: ({ pid }, state) => Effect.as(state.terminateChild(pid), GenServer.reply(undefined, state)),
    WhichChildren: (_, state) => Effect.succeed(GenServer.reply(state.whichChildren(), state)),
    CountChildren: (_, state) => Effect.succeed(GenServer.reply(state.countChildren(), state))
  },
  handleInfo: (message, state) => {
    if (message instanceof Signal.Exit)
      return Effect.map(state.childExited(message.pid, message.reason), outcome(state))
    if (message instanceof RetryRestart) return Effect.map(state.retry(message.key as number), outcome(state))
    return Effect.as(
      Effect.logWarning(`dynamic supervisor ${state.pid} ignored an unexpected message`),
      GenServer.noReply(state)
    )
  },
  terminate: (reason, state) => state.terminate(reason),
  formatStatus: (state) => state.observe(),
  tracing: false
})
