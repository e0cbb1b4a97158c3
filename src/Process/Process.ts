/**
 * Processes: fibers with a pid and a bounded mailbox, linked and monitored as in Erlang/OTP.
 *
 * A process is spawned from an effect that receives from its own mailbox. Messages from one sender
 * to one receiver arrive in send order. When a process exits, its registered name is released, its
 * monitors fire (`Down`), and its links receive an exit signal with its exit reason.
 *
 * @since 0.1.0
 */
import { Effect, type Fiber, Option } from "effect"
import { MailboxFull, NameTaken, NoProcess, NotAProcess } from "./Errors.ts"
import * as ExitReason from "./ExitReason.ts"
import type { CurrentProcess } from "./CurrentProcess.ts"
import type { Cell } from "./internal/cell.ts"
import { exitWith } from "./internal/cell.ts"
import { Offer, type OverflowPolicy } from "./internal/mailbox.ts"
import { asRemote } from "./internal/remote.ts"
import type { Runtime } from "./internal/runtime.ts"
import type { Pid } from "./Pid.ts"
import type { ProcessRuntime } from "./ProcessRuntime.ts"
import { withRuntime } from "./internal/context.ts"
import { RemoteName } from "./RemoteName.ts"
import type * as Signal from "./Signal.ts"

/**
 * Where a message or signal goes: a pid (of this node or another), a name registered on this node,
 * or a name on a given node (`RemoteName`).
 *
 * @since 0.1.0
 */
export type Target = Pid | string | RemoteName

/**
 * What a process body gets: its pid and its mailbox. `M` is the type of the messages other
 * processes send it; runtime signals (`Down`, and `Exit` when trapping exits) arrive too.
 *
 * @since 0.1.0
 */
export interface ProcessContext<M> {
  /** This process's pid. */
  readonly pid: Pid
  /** Waits for the next message. Only the process itself may receive from its mailbox. */
  readonly receive: Effect.Effect<M | Signal.Signal>
  /** Waits for the next message at most `millis`; `None` if none arrived. */
  readonly receiveWithin: (millis: number) => Effect.Effect<Option.Option<M | Signal.Signal>>
}

/**
 * Options for spawning a process.
 *
 * @since 0.1.0
 */
export interface SpawnOptions {
  /** Register the process under this local name before it runs. Fails with `NameTaken` if taken. */
  readonly name?: string | undefined
  /** Start with exit signals turned into `Exit` messages. */
  readonly trapExit?: boolean | undefined
  /** Mailbox capacity. Default: the runtime's (10,000). Runtime signals never count against it. */
  readonly mailboxCapacity?: number | undefined
  /** What a send to a full mailbox does: `suspend` the sender (default) or `fail` with `MailboxFull`. */
  readonly overflow?: OverflowPolicy | undefined
}

/**
 * A pending `sendAfter` timer.
 *
 * @since 0.1.0
 */
export class TimerRef {
  constructor(readonly id: number) {}
}

const notAProcess = (operation: string) => Effect.fail(new NotAProcess({ operation }))

const targetLabel = (target: Target): string => (typeof target === "string" ? `"${target}"` : String(target))

/** @internal */
export const currentCell = (operation: string): Effect.Effect<Cell, NotAProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const cell = runtime.current(fiber)
    return cell === undefined ? notAProcess(operation) : Effect.succeed(cell)
  })

/**
 * Spawns a process, or returns why the name cannot be taken.
 *
 * @internal
 */
export const spawnCell = <M, E, R>(
  runtime: Runtime,
  fiber: Fiber.Fiber<unknown, unknown>,
  body: (self: ProcessContext<M>) => Effect.Effect<unknown, E, R>,
  options: SpawnOptions | undefined,
  linkTo: Cell | undefined,
  beforeStart?: (cell: Cell) => void
): Cell | NameTaken => {
  if (options?.name !== undefined) {
    const conflict = runtime.nameConflict(options.name, undefined)
    if (conflict !== undefined) return conflict
  }
  return runtime.spawn(
    fiber.context,
    body as unknown as (cell: Cell) => Effect.Effect<unknown, unknown>,
    linkTo === undefined && beforeStart === undefined ? options : { ...options, linkTo, beforeStart }
  )
}

const spawned = (result: Cell | NameTaken): Effect.Effect<Cell, NameTaken> =>
  result instanceof NameTaken ? Effect.fail(result) : Effect.succeed(result)

/**
 * Spawns a process running `body`. The process starts at once and is independent of the caller
 * (not linked, not interrupted with it). Its fiber inherits the caller's services.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process } from "effect-otp"
 *
 * const echo = Process.spawn<string, never, never>((self) =>
 *   Effect.forever(Effect.flatMap(self.receive, (message) => Effect.log(message)))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const spawn = <M, E = never, R = never>(
  body: (self: ProcessContext<M>) => Effect.Effect<unknown, E, R>,
  options?: SpawnOptions
): Effect.Effect<Pid, NameTaken, Exclude<R, CurrentProcess> | ProcessRuntime> =>
  withRuntime((runtime, fiber) =>
    Effect.map(spawned(spawnCell(runtime, fiber, body, options, undefined)), (cell) => cell.pid)
  ) as Effect.Effect<Pid, NameTaken, Exclude<R, CurrentProcess> | ProcessRuntime>

/**
 * Spawns a process linked to the current process (atomically: the link exists before the new
 * process runs). Must run inside a process.
 *
 * @since 0.1.0
 */
export const spawnLink = <M, E = never, R = never>(
  body: (self: ProcessContext<M>) => Effect.Effect<unknown, E, R>,
  options?: SpawnOptions
): Effect.Effect<Pid, NameTaken | NotAProcess, Exclude<R, CurrentProcess> | ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const parent = runtime.current(fiber)
    if (parent === undefined) return notAProcess("spawnLink")
    return Effect.map(spawned(spawnCell(runtime, fiber, body, options, parent)), (cell) => cell.pid)
  }) as Effect.Effect<Pid, NameTaken | NotAProcess, Exclude<R, CurrentProcess> | ProcessRuntime>

/**
 * Spawns a process and monitors it from the current process. Must run inside a process.
 *
 * @since 0.1.0
 */
export const spawnMonitor = <M, E = never, R = never>(
  body: (self: ProcessContext<M>) => Effect.Effect<unknown, E, R>,
  options?: SpawnOptions
): Effect.Effect<
  readonly [Pid, Signal.MonitorRef],
  NameTaken | NotAProcess,
  Exclude<R, CurrentProcess> | ProcessRuntime
> =>
  withRuntime((runtime, fiber) => {
    const watcher = runtime.current(fiber)
    if (watcher === undefined) return notAProcess("spawnMonitor")
    // The monitor is set before the body runs, so a child that exits at once reports its reason.
    let ref: Signal.MonitorRef | undefined
    const monitorIt = (cell: Cell) => void (ref = runtime.monitor(watcher, cell, cell.pid))
    return Effect.map(
      spawned(spawnCell(runtime, fiber, body, options, undefined, monitorIt)),
      (cell) => [cell.pid, ref!] as const
    )
  }) as Effect.Effect<
    readonly [Pid, Signal.MonitorRef],
    NameTaken | NotAProcess,
    Exclude<R, CurrentProcess> | ProcessRuntime
  >

/**
 * The pid of the current process.
 *
 * @since 0.1.0
 */
export const self: Effect.Effect<Pid, NotAProcess, ProcessRuntime> = Effect.map(currentCell("self"), (cell) => cell.pid)

/**
 * Sends a message. A send to a pid that is dead succeeds and the message is dropped, as in Erlang;
 * a send to a name nobody holds on this node fails with `NoProcess`. When the mailbox is full, the
 * sender waits for room (policy `suspend`) or the send fails with `MailboxFull` (policy `fail`).
 *
 * A send to another node goes over its link (MessagePack: plain data, arrays, strings, numbers,
 * booleans, null, `Uint8Array`; pids arrive as plain `{ node, id, incarnation }` objects, compare
 * them with `Pid.equals`). It is dropped if the node is unreachable, as in Erlang.
 *
 * @since 0.1.0
 */
export const send = (target: Target, message: unknown): Effect.Effect<void, NoProcess | MailboxFull, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const remote = asRemote(runtime.node, target)
    if (remote !== undefined) return runtime.remote?.send(runtime.current(fiber)?.pid, remote, message) ?? Effect.void
    const cell = runtime.resolve(target)
    if (cell === undefined) return noLocalProcess(target)
    return deliverTo(cell, message)
  })

/**
 * A local target that resolves to no process: silent for a pid (as Erlang drops sends to dead
 * pids), `NoProcess` for a name.
 *
 * @internal
 */
export const noLocalProcess = (target: Target): Effect.Effect<void, NoProcess> =>
  typeof target === "string" || target instanceof RemoteName
    ? Effect.fail(new NoProcess({ target: targetLabel(target) }))
    : Effect.void

/** @internal */
export const deliverTo = (cell: Cell, message: unknown): Effect.Effect<void, MailboxFull> => {
  const mailbox = cell.mailbox
  const result = mailbox.offer(message)
  if (result !== Offer.Full) return Effect.void
  if (mailbox.overflow === "fail") {
    return Effect.fail(new MailboxFull({ target: String(cell.pid), capacity: mailbox.capacity }))
  }
  return Effect.asVoid(mailbox.offerOrSuspend(message))
}

const signalSource = (runtime: Runtime, fiber: Fiber.Fiber<unknown, unknown>): Pid =>
  runtime.current(fiber)?.pid ?? runtime.systemPid

/**
 * Sends an exit signal to `target`, as `erlang:exit/2`. If the target traps exits it receives an
 * `Exit` message; otherwise `normal` is ignored and any other reason ends it with that reason.
 * A signal to a dead pid is ignored; to an unknown name it fails with `NoProcess`.
 *
 * @since 0.1.0
 */
export const exit = (target: Target, reason: ExitReason.ExitReason): Effect.Effect<void, NoProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => signal(runtime, fiber, target, reason, false))

const signal = (
  runtime: Runtime,
  fiber: Fiber.Fiber<unknown, unknown>,
  target: Target,
  reason: ExitReason.ExitReason,
  untrappable: boolean
): Effect.Effect<void, NoProcess> => {
  const from = signalSource(runtime, fiber)
  const remote = asRemote(runtime.node, target)
  if (remote !== undefined) {
    runtime.remote?.exit(from, remote, reason, untrappable)
    return Effect.void
  }
  const cell = runtime.resolve(target)
  if (cell === undefined) return noLocalProcess(target)
  cell.signalExit(from, reason, untrappable)
  return Effect.void
}

/**
 * Kills `target` with an untrappable signal: it exits with reason `killed` at once, for everyone,
 * even if its finalizers are still running.
 *
 * @since 0.1.0
 */
export const kill = (target: Target): Effect.Effect<void, NoProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => signal(runtime, fiber, target, ExitReason.killed, true))

/**
 * Ends the current process with `reason`. Its finalizers run; its links and monitors see `reason`.
 *
 * @since 0.1.0
 */
export const exitSelf = (reason: ExitReason.ExitReason): Effect.Effect<never> => exitWith(reason)

/**
 * Links the current process to `target` (both directions). When either exits with a reason other
 * than `normal`, the other receives an exit signal. Linking to a dead process delivers a `noproc`
 * exit signal to the caller at once. A link to a process on another node also breaks, with
 * `noconnection`, when that node goes down.
 *
 * @since 0.1.0
 */
export const link = (target: Pid | string): Effect.Effect<void, NotAProcess | NoProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const me = runtime.current(fiber)
    if (me === undefined) return notAProcess("link")
    if (typeof target !== "string" && target.node !== runtime.node) {
      if (runtime.remote === undefined) me.signalExit(target, ExitReason.noconnection, false)
      else runtime.remote.link(me, target)
      return Effect.void
    }
    const other = runtime.resolve(target)
    if (other === undefined) {
      if (typeof target === "string") return Effect.fail(new NoProcess({ target: targetLabel(target) }))
      me.signalExit(target, ExitReason.noproc, false)
      return Effect.void
    }
    me.link(other)
    return Effect.void
  })

/**
 * Removes the link between the current process and `target`. As in OTP, once `unlink` returns the
 * link has no further effect, but an `Exit` message that arrived before (when trapping exits) stays
 * in the mailbox.
 *
 * @since 0.1.0
 */
export const unlink = (target: Pid | string): Effect.Effect<void, NotAProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const me = runtime.current(fiber)
    if (me === undefined) return notAProcess("unlink")
    if (typeof target !== "string" && target.node !== runtime.node) {
      runtime.remote?.unlink(me, target)
      return Effect.void
    }
    const other = runtime.resolve(target)
    if (other !== undefined) me.unlink(other)
    return Effect.void
  })

/**
 * Monitors `target` from the current process. A `Down { ref, pid, reason }` arrives exactly once
 * when the target exits, or at once with reason `noproc` if it is not alive. A name is resolved
 * when the monitor is set. A monitor of a process on another node fires with `noconnection` when
 * that node goes down or is unreachable.
 *
 * @since 0.1.0
 */
export const monitor = (target: Target): Effect.Effect<Signal.MonitorRef, NotAProcess | NoProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const me = runtime.current(fiber)
    if (me === undefined) return notAProcess("monitor")
    const remote = asRemote(runtime.node, target)
    if (remote !== undefined) return Effect.succeed(runtime.monitorRemote(me, remote))
    const other = runtime.resolve(target)
    if (other === undefined && (typeof target === "string" || target instanceof RemoteName)) {
      return Effect.fail(new NoProcess({ target: targetLabel(target) }))
    }
    return Effect.succeed(runtime.monitor(me, other, other?.pid ?? (target as Pid)))
  })

/**
 * Removes a monitor. With `flush`, also removes its `Down` message if it already arrived, so none
 * is received after this returns. Resolves to whether the monitor was still active.
 *
 * @since 0.1.0
 */
export const demonitor = (
  ref: Signal.MonitorRef,
  options?: { readonly flush?: boolean }
): Effect.Effect<boolean, NotAProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const me = runtime.current(fiber)
    if (me === undefined) return notAProcess("demonitor")
    const active = runtime.demonitor(me, ref) || (runtime.remote?.demonitor(me, ref) ?? false)
    if (options?.flush === true) {
      me.mailbox.removeWhere(
        (message) =>
          typeof message === "object" &&
          message !== null &&
          (message as { _tag?: unknown })._tag === "Down" &&
          (message as Signal.Down).ref.id === ref.id &&
          (message as Signal.Down).ref.node === ref.node
      )
    }
    return Effect.succeed(active)
  })

/**
 * Sets whether the current process traps exits (exit signals become `Exit` messages, except
 * `kill`). Resolves to the previous setting.
 *
 * @since 0.1.0
 */
export const trapExit = (enabled: boolean): Effect.Effect<boolean, NotAProcess, ProcessRuntime> =>
  Effect.map(currentCell("trapExit"), (cell) => {
    const previous = cell.trapExit
    cell.trapExit = enabled
    return previous
  })

/**
 * Whether the process is alive.
 *
 * @since 0.1.0
 */
export const isAlive = (pid: Pid): Effect.Effect<boolean, never, ProcessRuntime> =>
  withRuntime((runtime) => Effect.succeed(runtime.lookup(pid)?.alive ?? false))

/**
 * Waits until `target` exits and resolves to its exit reason (`noproc` at once if it is not
 * alive). Works from any fiber, process or not.
 *
 * @since 0.1.0
 */
export const awaitExit = (target: Target): Effect.Effect<ExitReason.ExitReason, never, ProcessRuntime> =>
  withRuntime((runtime) =>
    Effect.callback<ExitReason.ExitReason>((resume) => {
      const onExit = (reason: ExitReason.ExitReason) => resume(Effect.succeed(reason))
      const remote = asRemote(runtime.node, target)
      if (remote === undefined) return Effect.sync(runtime.watchExit(runtime.resolve(target), onExit))
      if (runtime.remote === undefined) return onExit(ExitReason.noconnection)
      return Effect.sync(runtime.remote.watchExit(remote, onExit))
    })
  )

/**
 * Sends `message` to `target` after `millis`. A name is resolved when the timer fires; a timer
 * aimed at a pid is cancelled if that process exits first.
 *
 * @since 0.1.0
 */
export const sendAfter = (
  target: Target,
  message: unknown,
  millis: number
): Effect.Effect<TimerRef, never, ProcessRuntime> =>
  withRuntime((runtime) => {
    const remote = asRemote(runtime.node, target)
    // A timer aimed at a local pid is cancelled with its process; names resolve when it fires.
    const cell = typeof target === "string" || target instanceof RemoteName ? undefined : runtime.lookup(target)
    const id = runtime.startTimer(millis, cell, () => {
      if (remote !== undefined) {
        if (runtime.remote !== undefined) Effect.runFork(runtime.remote.send(undefined, remote, message))
        return
      }
      runtime.resolve(target)?.mailbox.offerSystem(message)
    })
    return Effect.succeed(new TimerRef(id))
  })

/**
 * Cancels a `sendAfter` timer. Resolves to the milliseconds it had left, or `None` if it already
 * fired or was cancelled.
 *
 * @since 0.1.0
 */
export const cancelTimer = (timer: TimerRef): Effect.Effect<Option.Option<number>, never, ProcessRuntime> =>
  withRuntime((runtime) => Effect.succeed(Option.fromUndefinedOr(runtime.cancelTimer(timer.id))))

/**
 * What the runtime knows about one live process.
 *
 * @since 0.1.0
 */
export interface ProcessInfo {
  readonly pid: Pid
  readonly name: string | undefined
  readonly messageQueueLength: number
  readonly mailboxCapacity: number
  readonly trapExit: boolean
  readonly links: ReadonlyArray<Pid>
  readonly monitoredBy: number
  readonly monitors: number
}

const infoOf = (cell: Cell): ProcessInfo => ({
  pid: cell.pid,
  name: cell.name,
  messageQueueLength: cell.mailbox.size,
  mailboxCapacity: cell.mailbox.capacity,
  trapExit: cell.trapExit,
  links: cell.links === undefined ? [] : [...cell.links].map((linked) => linked.pid),
  monitoredBy: cell.watchers?.size ?? 0,
  monitors: cell.monitoring?.size ?? 0
})

/**
 * Information about a live process, `None` if it is not alive.
 *
 * @since 0.1.0
 */
export const info = (target: Target): Effect.Effect<Option.Option<ProcessInfo>, never, ProcessRuntime> =>
  withRuntime((runtime) => {
    const cell = runtime.resolve(target)
    return Effect.succeed(cell === undefined || !cell.alive ? Option.none() : Option.some(infoOf(cell)))
  })

/**
 * The pids of all live processes on this node, oldest first.
 *
 * @since 0.1.0
 */
export const list: Effect.Effect<ReadonlyArray<Pid>, never, ProcessRuntime> = withRuntime((runtime) =>
  Effect.succeed(Array.from(runtime.processes(), (cell) => cell.pid))
)
