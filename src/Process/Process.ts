/**
 * Processes: fibers with a pid and a bounded mailbox, linked and monitored as in Erlang/OTP.
 *
 * A process is spawned from an effect that receives from its own mailbox (its
 * {@link ProcessContext}). Messages from one sender to one receiver arrive in send order. When a
 * process exits, its registered name is released, its monitors fire (`Down`), its links receive
 * an exit signal with its exit reason, and the timers aimed at it are cancelled.
 *
 * Semantics, as in OTP:
 * - **Sends** never fail because the receiver died: a send to a dead pid is dropped. A send to a
 *   name nobody holds fails with `NoProcess`. A full mailbox makes the sender wait (policy
 *   `suspend`) or fails the send with `MailboxFull` (policy `fail`).
 * - **Exit signals** (from links, {@link exit}, {@link kill}): `normal` is ignored, any other
 *   reason ends the receiver with that reason, unless it traps exits ({@link trapExit}): then
 *   the signal arrives as a `Signal.Exit` message. `kill` cannot be trapped.
 * - **Other nodes** (with `Distribution.layer`): pids and `RemoteName`s of other nodes work with
 *   every operation here. When a node goes down or cannot be reached, sends to it are dropped,
 *   monitors of its processes fire with `noconnection`, and links to them deliver an exit signal
 *   `noconnection`.
 * - **Time**: {@link sendAfter} and `receiveWithin` run on the clock the runtime was built with,
 *   so `TestClock.adjust` drives them in tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const greeter = yield* Process.spawn<string>((self) =>
 *     Effect.forever(Effect.flatMap(self.receive, (name) => Effect.log(`hello, ${String(name)}`)))
 *   )
 *   yield* Process.send(greeter, "world")
 *   yield* Process.kill(greeter)
 *   yield* Effect.log(ExitReason.format(yield* Process.awaitExit(greeter))) // killed
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @since 0.1.0
 */
import { Duration, Effect, type Fiber, Option } from "effect"
import { toMillis } from "../internal/timers.ts"
import { type MailboxFull, NameTaken, NoProcess, type NotAProcess } from "./Errors.ts"
import * as ExitReason from "./ExitReason.ts"
import * as CurrentProcessModule from "./CurrentProcess.ts"
import type { CurrentProcess } from "./CurrentProcess.ts"
import type { Cell } from "./internal/cell.ts"
import { exitWith } from "./internal/cell.ts"
import { withRuntime } from "./internal/context.ts"
import { currentCell, deliverTo, noLocalProcess, notAProcess, spawnCell, targetLabel } from "./internal/delivery.ts"
import type { OverflowPolicy } from "./internal/mailbox.ts"
import { tracedOperation, tracedSpawn } from "./internal/operationSpans.ts"
import { asRemote } from "./internal/remote.ts"
import { Attr, destinationOf, systemName } from "./internal/tracing.ts"
import type { Runtime } from "./internal/runtime.ts"
import { unresolvedNamePid } from "./internal/signals.ts"
import type { Pid } from "./Pid.ts"
import type { ProcessRuntime } from "./ProcessRuntime.ts"
import { GlobalName } from "./GlobalName.ts"
import { RemoteName } from "./RemoteName.ts"
import type * as Signal from "./Signal.ts"

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * Where a message or signal goes: a pid (of this node or another), a name registered on this node,
 * a name on a given node (`RemoteName`), or a cluster-wide name (`GlobalName`, resolved on this
 * node through the `GlobalRegistry`). A name is resolved each time it is used.
 *
 * @category models
 * @since 0.1.0
 */
export type Target = Pid | string | RemoteName | GlobalName

/**
 * What a process body gets: its pid and its mailbox. `M` is the type of the messages other
 * processes send it; runtime signals (`Down`, and `Exit` when trapping exits) arrive too.
 *
 * @category models
 * @since 0.1.0
 */
export interface ProcessContext<M> {
  /** This process's pid. */
  readonly pid: Pid
  /** Waits for the next message. Only the process itself may receive from its mailbox. */
  readonly receive: Effect.Effect<M | Signal.Signal>
  /**
   * Waits for the next message at most `timeout` (a `Duration.Input`; a number is milliseconds):
   * `None` if none arrived in time (Erlang's `receive ... after`), on the runtime's clock. With `0`
   * it polls: a message already queued, or `None` at the timer's next turn.
   */
  readonly receiveWithin: (timeout: Duration.Input) => Effect.Effect<Option.Option<M | Signal.Signal>>
}

/**
 * Options for spawning a process.
 *
 * @category models
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
 * A pending {@link sendAfter} timer, to {@link cancelTimer} it. Made by `sendAfter`; valid on the
 * runtime that made it.
 *
 * @category models
 * @since 0.1.0
 */
export class TimerRef {
  constructor(
    /** Unique among the timers of its runtime. */
    readonly id: number
  ) {}
}

// ---------------------------------------------------------------------------------------------
// Spawning
// ---------------------------------------------------------------------------------------------

const spawned = (result: Cell | NameTaken): Effect.Effect<Cell, NameTaken> =>
  result instanceof NameTaken ? Effect.fail(result) : Effect.succeed(result)

/**
 * Spawns a process running `body`. The process starts at once and is independent of the caller
 * (not linked, not interrupted with it): it runs until its body ends (reason `normal`), fails or
 * dies (a failure reason carrying the `Cause`), or an exit signal ends it. Its fiber inherits the
 * caller's services. Fails with `NameTaken` if `options.name` is taken.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const echo = yield* Process.spawn<string>(
 *     (self) => Effect.forever(Effect.flatMap(self.receive, (message) => Effect.log(message))),
 *     { name: "echo" }
 *   )
 *   yield* Process.send("echo", "hello")
 *   yield* Process.exit(echo, ExitReason.shutdown())
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category spawning
 * @since 0.1.0
 */
export const spawn = <M, E = never, R = never>(
  body: (self: ProcessContext<M>) => Effect.Effect<unknown, E, R>,
  options?: SpawnOptions
): Effect.Effect<Pid, NameTaken, Exclude<R, CurrentProcess> | ProcessRuntime> =>
  withRuntime((runtime, fiber) =>
    tracedSpawn(
      fiber,
      runtime.node,
      "process",
      options?.name,
      (inner) => Effect.map(spawned(spawnCell(runtime, inner, body, options, undefined)), (cell) => cell.pid),
      (pid) => pid
    )
  ) as Effect.Effect<Pid, NameTaken, Exclude<R, CurrentProcess> | ProcessRuntime>

/**
 * Spawns a process linked to the current process, atomically: the link exists before the new
 * process runs, so even a child that fails at once takes the caller down (or reaches it as an
 * `Exit` message when it traps exits). Must run inside a process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, ProcessRuntime, Signal } from "effect-otp"
 *
 * const parent = Process.spawn((self) =>
 *   Effect.gen(function*() {
 *     yield* Process.trapExit(true)
 *     yield* Process.spawnLink(() => Process.exitSelf(ExitReason.custom("boom")))
 *     const message = yield* self.receive
 *     if (message instanceof Signal.Exit) yield* Effect.log(`child exited: ${ExitReason.format(message.reason)}`)
 *   })
 * )
 *
 * Effect.runPromise(parent.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category spawning
 * @since 0.1.0
 */
export const spawnLink = <M, E = never, R = never>(
  body: (self: ProcessContext<M>) => Effect.Effect<unknown, E, R>,
  options?: SpawnOptions
): Effect.Effect<Pid, NameTaken | NotAProcess, Exclude<R, CurrentProcess> | ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const parent = runtime.current(fiber)
    if (parent === undefined) return notAProcess("spawnLink")
    return tracedSpawn(
      fiber,
      runtime.node,
      "process",
      options?.name,
      (inner) => Effect.map(spawned(spawnCell(runtime, inner, body, options, parent)), (cell) => cell.pid),
      (pid) => pid
    )
  }) as Effect.Effect<Pid, NameTaken | NotAProcess, Exclude<R, CurrentProcess> | ProcessRuntime>

/**
 * Spawns a process and monitors it from the current process, atomically: the monitor is set
 * before the new process runs, so a child that exits at once still reports its real reason (not
 * `noproc`). Resolves to the pid and the monitor's ref. Must run inside a process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, ProcessRuntime, Signal } from "effect-otp"
 *
 * const watcher = Process.spawn((self) =>
 *   Effect.gen(function*() {
 *     const [pid, ref] = yield* Process.spawnMonitor(() => Effect.log("working"))
 *     const down = yield* self.receive
 *     if (down instanceof Signal.Down && down.ref.id === ref.id) {
 *       yield* Effect.log(`${pid} exited: ${ExitReason.format(down.reason)}`) // normal
 *     }
 *   })
 * )
 *
 * Effect.runPromise(watcher.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category spawning
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
    return tracedSpawn(
      fiber,
      runtime.node,
      "process",
      options?.name,
      (inner) =>
        Effect.map(
          spawned(spawnCell(runtime, inner, body, options, undefined, monitorIt)),
          (cell) => [cell.pid, ref!] as const
        ),
      ([pid]) => pid
    )
  }) as Effect.Effect<
    readonly [Pid, Signal.MonitorRef],
    NameTaken | NotAProcess,
    Exclude<R, CurrentProcess> | ProcessRuntime
  >

// ---------------------------------------------------------------------------------------------
// Messaging
// ---------------------------------------------------------------------------------------------

/**
 * Sends a message. A send to a pid that is dead succeeds and the message is dropped, as in Erlang;
 * a send to a name nobody holds on this node fails with `NoProcess`. When the mailbox is full, the
 * sender waits for room (policy `suspend`) or the send fails with `MailboxFull` (policy `fail`).
 *
 * A send to another node goes over its link (MessagePack: plain data, arrays, strings, numbers,
 * booleans, null, `Uint8Array`; pids arrive as plain `{ node, id, incarnation }` objects, compare
 * them with `Pid.equals`). It is dropped if the node is unreachable, as in Erlang; while the link
 * is above its high-water mark the sender waits for it to drain. A full mailbox there holds the
 * sender back as a local one does, through per-process credit: the sender waits while 4,096 of its
 * node's messages to that process are not yet in its mailbox (policy `suspend`, first come first
 * served), or fails with `MailboxFull` once that node reports the mailbox full (policy `fail`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, ProcessRuntime, RemoteName } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const pid = yield* Process.spawn((self) => Effect.forever(self.receive), { name: "inbox" })
 *   yield* Process.send(pid, { _tag: "Hello" }) // by pid
 *   yield* Process.send("inbox", "by name") // by a name registered on this node
 *   yield* Process.send(RemoteName.make("inbox", "b@10.0.0.2"), "to another node") // dropped without a cluster
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category messaging
 * @since 0.1.0
 */
export const send = (target: Target, message: unknown): Effect.Effect<void, NoProcess | MailboxFull, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    target = runtime.resolveGlobal(target)
    const remote = asRemote(runtime.node, target)
    if (remote !== undefined) {
      const bridge = runtime.remote
      if (bridge === undefined) return Effect.void
      const from = runtime.current(fiber)?.pid
      // A `send <destination>` PRODUCER span; its context travels in the frame.
      return tracedOperation(
        fiber,
        true,
        (span) => bridge.send(from, remote, message, span),
        `send ${destinationOf(remote)}`,
        "producer",
        () => ({
          "messaging.system": systemName,
          "messaging.operation.name": "send",
          "messaging.operation.type": "send",
          "messaging.destination.name": destinationOf(remote),
          ...(remote instanceof RemoteName ? {} : { "messaging.destination.anonymous": true }),
          [Attr.node]: runtime.node,
          [Attr.peer]: remote.node
        })
      )
    }
    const cell = runtime.resolve(target)
    if (cell === undefined) return noLocalProcess(target)
    return deliverTo(cell, message)
  })

// ---------------------------------------------------------------------------------------------
// Exit signals
// ---------------------------------------------------------------------------------------------

const signalSource = (runtime: Runtime, fiber: Fiber.Fiber<unknown, unknown>): Pid =>
  runtime.current(fiber)?.pid ?? runtime.systemPid

/**
 * Sends an exit signal to `target`, as `erlang:exit/2`. If the target traps exits it receives an
 * `Exit` message; otherwise `normal` is ignored (unless the target is the caller itself) and any
 * other reason ends it with that reason (its finalizers run). The signal's sender is the current
 * process, or the runtime's system pid outside any process. A signal to a dead pid is ignored; to
 * a name nobody holds it fails with `NoProcess`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const worker = yield* Process.spawn((self) => Effect.forever(self.receive))
 *   yield* Process.exit(worker, ExitReason.shutdown("maintenance"))
 *   yield* Effect.log(ExitReason.format(yield* Process.awaitExit(worker))) // shutdown(maintenance)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category exit signals
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
  target = runtime.resolveGlobal(target)
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
 * Kills `target` with an untrappable signal (Erlang's `exit(Pid, kill)`): it exits with reason
 * `killed` at once, for everyone (its name is free, its monitors and links fire), even if its
 * finalizers are still running or it traps exits. Ignored for a dead pid; `NoProcess` for a name
 * nobody holds.
 *
 * @category exit signals
 * @since 0.1.0
 */
export const kill = (target: Target): Effect.Effect<void, NoProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => signal(runtime, fiber, target, ExitReason.killed, true))

/**
 * Ends the current process with `reason` (Erlang's `exit/1`). Its finalizers run; its links and
 * monitors see `reason`. Outside a process it ends the fiber with a defect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process } from "effect-otp"
 *
 * const worker = Process.spawn<string>((self) =>
 *   Effect.flatMap(self.receive, (message) =>
 *     message === "stop" ? Process.exitSelf(ExitReason.shutdown()) : Effect.log(message)
 *   )
 * )
 * ```
 *
 * @category exit signals
 * @since 0.1.0
 */
export const exitSelf = (reason: ExitReason.ExitReason): Effect.Effect<never> => exitWith(reason)

/**
 * Sets whether the current process traps exits (Erlang's `process_flag(trap_exit, ...)`): exit
 * signals then arrive as `Signal.Exit` messages instead of ending the process, except `kill`.
 * Resolves to the previous setting. Must run inside a process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, Signal } from "effect-otp"
 *
 * const guardian = Process.spawn((self) =>
 *   Effect.gen(function*() {
 *     yield* Process.trapExit(true)
 *     yield* Process.spawnLink(() => Effect.die("crash"))
 *     const message = yield* self.receive
 *     if (Signal.isSignal(message) && message._tag === "Exit") {
 *       yield* Effect.log(`linked process exited: ${ExitReason.format(message.reason)}`)
 *     }
 *   })
 * )
 * ```
 *
 * @category exit signals
 * @since 0.1.0
 */
export const trapExit = (enabled: boolean): Effect.Effect<boolean, NotAProcess, ProcessRuntime> =>
  Effect.map(currentCell("trapExit"), (cell) => {
    const previous = cell.trapExit
    cell.trapExit = enabled
    return previous
  })

// ---------------------------------------------------------------------------------------------
// Links and monitors
// ---------------------------------------------------------------------------------------------

/**
 * Links the current process to `target`, both ways: when either exits with a reason other than
 * `normal`, the other receives an exit signal with that reason (see {@link exit}). Linking twice,
 * or to itself, does nothing. Must run inside a process.
 *
 * When the target does not exist, the rule is that of OTP's `link/1`, which raises a catchable
 * `noproc` error when the linkee is a local process that does not exist and the caller does not
 * trap exits, and otherwise sends the caller an exit signal with reason `noproc`:
 * - a pid of this node that is not alive (or of a previous incarnation of this node): the caller
 *   does not trap exits, so `link` fails with `NoProcess` and the caller goes on; or it traps
 *   exits, so `link` succeeds and `Exit { pid, reason: noproc }` arrives at once;
 * - a name nobody holds on this node: `link` fails with `NoProcess` (there is no pid to report);
 * - a pid of another node: `link` succeeds at once and the link is set up over the node's link; a
 *   pid that does not exist there sends back the exit signal `noproc`, an unreachable node (or no
 *   cluster at all) `noconnection`. Either ends a caller that does not trap exits.
 *
 * A link to a process on another node also breaks, with an exit signal `noconnection`, when that
 * node goes down.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const gone = yield* Process.spawn(() => Effect.void) // exits at once
 *   const caller = yield* Process.spawn(() =>
 *     Process.link(gone).pipe(
 *       Effect.catchTag("NoProcess", (error) => Effect.log(`not linked: ${error.message}`))
 *     )
 *   )
 *   yield* Process.awaitExit(caller) // normal: the failed link did not end it
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category links and monitors
 * @since 0.1.0
 */
export const link = (
  target: Pid | string | GlobalName
): Effect.Effect<void, NotAProcess | NoProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const me = runtime.current(fiber)
    if (me === undefined) return notAProcess("link")
    target = runtime.resolveGlobal(target)
    if (target instanceof GlobalName) return Effect.fail(new NoProcess({ target: targetLabel(target) }))
    if (typeof target !== "string" && target.node !== runtime.node) {
      if (runtime.remote === undefined) me.signalExit(target, ExitReason.noconnection, false)
      else runtime.remote.link(me, target)
      return Effect.void
    }
    const other = runtime.resolve(target)
    if (other === undefined) {
      if (typeof target === "string" || !me.trapExit) return Effect.fail(new NoProcess({ target: targetLabel(target) }))
      me.signalExit(target, ExitReason.noproc, false)
      return Effect.void
    }
    me.link(other)
    return Effect.void
  })

/**
 * Removes the link between the current process and `target`, if any. As in OTP, once `unlink`
 * returns the link has no further effect, but an `Exit` message that arrived before (when trapping
 * exits) stays in the mailbox. Unlinking a process that is not linked, dead or unknown does
 * nothing. Must run inside a process.
 *
 * @category links and monitors
 * @since 0.1.0
 */
export const unlink = (target: Pid | string | GlobalName): Effect.Effect<void, NotAProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const me = runtime.current(fiber)
    if (me === undefined) return notAProcess("unlink")
    target = runtime.resolveGlobal(target)
    if (target instanceof GlobalName) return Effect.void
    if (typeof target !== "string" && target.node !== runtime.node) {
      runtime.remote?.unlink(me, target)
      return Effect.void
    }
    const other = runtime.resolve(target)
    if (other !== undefined) me.unlink(other)
    return Effect.void
  })

/**
 * Monitors `target` from the current process (Erlang's `monitor(process, Target)`). A
 * `Down { ref, pid, reason }` arrives exactly once: when the target exits, with its exit reason;
 * or at once, with `noproc`, when there is no such process, whether a dead pid or a name nobody
 * holds. For a name nobody holds, `pid` is `<node.0.0>` (the name's node, id and incarnation 0),
 * for a name on this node as for one on another node. A name is resolved once, when the monitor
 * is set: a later registration of the name does not affect the monitor.
 *
 * A monitor of a process on another node fires with `noconnection` when that node goes down or
 * cannot be reached (at once without a cluster), and with `noproc` when the process does not
 * exist there. Monitors are one-way and independent: monitoring twice gives two refs and two
 * `Down`s. Must run inside a process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, ProcessRuntime, Signal } from "effect-otp"
 *
 * const program = Process.spawn((self) =>
 *   Effect.gen(function*() {
 *     const worker = yield* Process.spawn(() => Effect.fail("oops"))
 *     const ref = yield* Process.monitor(worker)
 *     const message = yield* self.receive
 *     if (message instanceof Signal.Down && message.ref.id === ref.id) {
 *       yield* Effect.log(`worker is down: ${ExitReason.format(message.reason)}`)
 *     }
 *     yield* Process.monitor("nobody") // Down with noproc arrives at once
 *   })
 * )
 *
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category links and monitors
 * @since 0.1.0
 */
export const monitor = (target: Target): Effect.Effect<Signal.MonitorRef, NotAProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const me = runtime.current(fiber)
    if (me === undefined) return notAProcess("monitor")
    target = runtime.resolveGlobal(target)
    const remote = asRemote(runtime.node, target)
    if (remote !== undefined) return Effect.succeed(runtime.monitorRemote(me, remote))
    const other = runtime.resolve(target)
    const pid =
      other?.pid ??
      (typeof target === "string" || target instanceof RemoteName || target instanceof GlobalName
        ? unresolvedNamePid(runtime.node)
        : target)
    return Effect.succeed(runtime.monitor(me, other, pid))
  })

/**
 * Removes a monitor. With `flush`, also removes its `Down` message if it already arrived, so none
 * is received after this returns (Erlang's `demonitor(Ref, [flush])`). Resolves to whether the
 * monitor was still active (`false`: its `Down` was already delivered, or it was removed before).
 * Must run inside a process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process } from "effect-otp"
 *
 * const watchBriefly = (target: string) =>
 *   Effect.gen(function*() {
 *     const ref = yield* Process.monitor(target)
 *     // ... work while the target is watched ...
 *     yield* Process.demonitor(ref, { flush: true })
 *   })
 * ```
 *
 * @category links and monitors
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
 * Waits until `target` exits and resolves to its exit reason: at once `noproc` if there is no such
 * process, `noconnection` for a process of a node that is unreachable or goes down meanwhile.
 * Works from any fiber, process or not, and leaves nothing behind when interrupted.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Process, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const job = yield* Process.spawn(() => Effect.log("done"))
 *   const reason = yield* Process.awaitExit(job)
 *   yield* Effect.log(ExitReason.format(reason)) // normal
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category links and monitors
 * @since 0.1.0
 */
export const awaitExit = (target: Target): Effect.Effect<ExitReason.ExitReason, never, ProcessRuntime> =>
  withRuntime((runtime) =>
    Effect.callback<ExitReason.ExitReason>((resume) => {
      const onExit = (reason: ExitReason.ExitReason) => resume(Effect.succeed(reason))
      target = runtime.resolveGlobal(target)
      const remote = asRemote(runtime.node, target)
      if (remote === undefined) return Effect.sync(runtime.watchExit(runtime.resolve(target), onExit))
      if (runtime.remote === undefined) return onExit(ExitReason.noconnection)
      return Effect.sync(runtime.remote.watchExit(remote, onExit))
    })
  )

// ---------------------------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------------------------

/**
 * Sends `message` to `target` after `delay` (a `Duration.Input`; a number is milliseconds), as
 * `erlang:send_after/3`. The delay runs on the clock the runtime was built with (`TestClock`
 * drives it in tests). A timer aimed at a local pid is cancelled if that process exits first; a
 * name is resolved when the timer fires (nobody holds it: the message is dropped). The message
 * bypasses the mailbox's capacity, like a runtime signal.
 *
 * A timer aimed at another node sends when it fires, with the services of the fiber that set it
 * (its logger, tracer and references), and is dropped if the node is unreachable then.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, ProcessRuntime } from "effect-otp"
 *
 * const ticker = Process.spawn((self) =>
 *   Effect.gen(function*() {
 *     yield* Process.sendAfter(self.pid, "tick", "1 second")
 *     yield* Effect.log(yield* self.receive) // "tick", a second later
 *   })
 * )
 *
 * Effect.runPromise(ticker.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category timers
 * @since 0.1.0
 */
export const sendAfter = (
  target: Target,
  message: unknown,
  delay: Duration.Input
): Effect.Effect<TimerRef, never, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const millis = toMillis(delay)
    target = runtime.resolveGlobal(target)
    const remote = asRemote(runtime.node, target)
    if (remote !== undefined) {
      // Sent as the caller would send it: with its services, not with an empty context.
      const fork = Effect.runForkWith(fiber.context)
      const id = runtime.startTimer(millis, undefined, () => {
        const bridge = runtime.remote
        if (bridge !== undefined) fork(Effect.ignore(bridge.send(undefined, remote, message)))
      })
      return Effect.succeed(new TimerRef(id))
    }
    // A timer aimed at a local pid is cancelled with its process; names resolve when it fires.
    const cell =
      typeof target === "string" || target instanceof RemoteName || target instanceof GlobalName
        ? undefined
        : runtime.lookup(target)
    const id = runtime.startTimer(millis, cell, () => {
      runtime.resolve(target)?.mailbox.offerSystem(message)
    })
    return Effect.succeed(new TimerRef(id))
  })

/**
 * Cancels a {@link sendAfter} timer (`erlang:cancel_timer/1`). Resolves to the time it had left,
 * or `None` if it already fired or was cancelled (or its process exited). Once this returns, the
 * timer's message will not be sent.
 *
 * @example
 * ```ts
 * import { Duration, Effect, Option } from "effect"
 * import { Process } from "effect-otp"
 *
 * const remindLater = (pid: Process.Target) =>
 *   Effect.gen(function*() {
 *     const timer = yield* Process.sendAfter(pid, "reminder", "10 minutes")
 *     const left = yield* Process.cancelTimer(timer)
 *     if (Option.isSome(left)) yield* Effect.log(`cancelled with ${Duration.format(left.value)} to go`)
 *   })
 * ```
 *
 * @category timers
 * @since 0.1.0
 */
export const cancelTimer = (timer: TimerRef): Effect.Effect<Option.Option<Duration.Duration>, never, ProcessRuntime> =>
  withRuntime((runtime) => {
    const left = runtime.cancelTimer(timer.id)
    return Effect.succeed(left === undefined ? Option.none() : Option.some(Duration.millis(left)))
  })

// ---------------------------------------------------------------------------------------------
// Introspection
// ---------------------------------------------------------------------------------------------

/**
 * The pid of the current process. It cannot fail: it requires `CurrentProcess`, which only process
 * bodies (and the fibers they fork, which act on behalf of their process) have, so using it outside
 * a process is a compile error rather than a run-time `NotAProcess`. Same as `GenServer.self`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process } from "effect-otp"
 *
 * const whoAmI = Process.spawn(() => Effect.flatMap(Process.self, (pid) => Effect.log(`I am ${pid}`)))
 * ```
 *
 * @category introspection
 * @since 0.1.0
 */
export const self: Effect.Effect<Pid, never, CurrentProcess> = CurrentProcessModule.pid

/**
 * Whether the process is alive: it exists on this node and is not exiting. `false` for pids of
 * other nodes (use {@link monitor} or {@link awaitExit} for those).
 *
 * @category introspection
 * @since 0.1.0
 */
export const isAlive = (pid: Pid): Effect.Effect<boolean, never, ProcessRuntime> =>
  withRuntime((runtime) => Effect.succeed(runtime.lookup(pid)?.alive ?? false))

/**
 * What the runtime knows about one live process (Erlang's `process_info/1`).
 *
 * @category models
 * @since 0.1.0
 */
export interface ProcessInfo {
  readonly pid: Pid
  /** Its registered name, if any. */
  readonly name: string | undefined
  /** Messages waiting in its mailbox (runtime signals included). */
  readonly messageQueueLength: number
  readonly mailboxCapacity: number
  readonly trapExit: boolean
  /** The local processes it is linked to. */
  readonly links: ReadonlyArray<Pid>
  /** How many monitors (and `awaitExit` waiters) watch it. */
  readonly monitoredBy: number
  /** How many local processes it monitors. */
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
 * Information about a live process of this node (by pid or registered name), `None` if it is not
 * alive or belongs to another node.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Process } from "effect-otp"
 *
 * const backlog = (name: string) =>
 *   Effect.map(Process.info(name), Option.map((info) => info.messageQueueLength))
 * ```
 *
 * @category introspection
 * @since 0.1.0
 */
export const info = (target: Target): Effect.Effect<Option.Option<ProcessInfo>, never, ProcessRuntime> =>
  withRuntime((runtime) => {
    const cell = runtime.resolve(runtime.resolveGlobal(target))
    return Effect.succeed(cell === undefined || !cell.alive ? Option.none() : Option.some(infoOf(cell)))
  })

/**
 * The pids of all live processes on this node, oldest first.
 *
 * @category introspection
 * @since 0.1.0
 */
export const list: Effect.Effect<ReadonlyArray<Pid>, never, ProcessRuntime> = withRuntime((runtime) =>
  Effect.succeed(Array.from(runtime.processes(), (cell) => cell.pid))
)
