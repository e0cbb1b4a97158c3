/**
 * The GenServer loop: one running server, its state, and the handling of each kind of message;
 * and the starter that waits for its `init`.
 *
 * @internal
 */
import { Cause, Context, Effect, Exit, Tracer } from "effect"
import * as ExitReason from "../ExitReason.ts"
import type { NameTaken } from "../Errors.ts"
import {
  type Behaviour,
  type CallResult,
  type HandleResult,
  InitContinue,
  InitFailed,
  type NoReply,
  type Reply
} from "../GenServer.ts"
import * as Pid from "../Pid.ts"
import type * as Protocol from "../Protocol.ts"
import * as Signal from "../Signal.ts"
import { CallEnvelope } from "./callEnvelope.ts"
import { isCastRequest } from "./protocol.ts"
import type { Cell } from "./cell.ts"
import type { CrashInfo } from "./crashReport.ts"
import { exitWith, runningCell } from "./cell.ts"
import { Mailbox } from "./mailbox.ts"
import type { Runtime } from "./runtime.ts"
import type { CancelTimer } from "../../internal/timers.ts"
import { Attr, installedTracer, methodOf, serviceOf, systemName, TracedCast, TraceRoots, withSpan } from "./tracing.ts"

/** A stop request (from {@link stop}), handled by the loop like a message. */
export class StopRequest {
  constructor(readonly reason: ExitReason.ExitReason) {}
}

/** The defect of a `stop` aimed at a process that is not a GenServer. */
export const notAServer = (pid: Pid.Pid): Error =>
  new Error(`GenServer.stop: ${pid} is not a GenServer (stop it with Process.exit)`)

/**
 * Asks a live server to stop with `reason` and tells `done` once it has exited (`false`) or, past
 * `timeout` milliseconds (on the runtime's timers; undefined: no limit), has been killed (`true`).
 * Returns a function that stops waiting (the stop request stands). Serves `stop` here and the
 * `Stop` frames of other nodes.
 *
 * @internal
 */
export const stopServer = (
  runtime: Runtime,
  cell: Cell,
  reason: ExitReason.ExitReason,
  timeout: number | undefined,
  done: (timedOut: boolean) => void
): (() => void) => {
  let finished = false
  let timer: CancelTimer | undefined
  const unwatch = runtime.watchExit(cell, () => {
    if (finished) return
    finished = true
    timer?.()
    done(false)
  })
  cell.mailbox.offerSystem(new StopRequest(reason))
  // An idle server may have stopped during the hand-over: then there is nothing to time.
  if (!finished && timeout !== undefined) {
    timer = runtime.timers.start(timeout, () => {
      if (finished) return
      finished = true
      unwatch()
      cell.signalExit(runtime.systemPid, ExitReason.killed, true)
      done(true)
    })
  }
  return () => {
    finished = true
    unwatch()
    timer?.()
  }
}

type AnyHandler = (request: unknown, state: unknown, from?: unknown) => Effect.Effect<unknown, unknown, unknown>

export interface StartSignal {
  readonly started: () => void
  readonly failed: (reason: ExitReason.ExitReason) => void
}

/** One running server: its state and the handling of each kind of message. */
/** The name and attributes of a server's spans for one kind and method (see `Server.spanShape`). */
interface SpanShape {
  readonly name: string
  readonly attributes: Readonly<Record<string, unknown>>
  /** The registered name they were made with (a server may register after it started). */
  readonly registeredName: string | undefined
}

const MAX_SPAN_SHAPES = 256

export class Server {
  state: unknown = undefined
  /** Calls received and not yet answered (including those kept with `noReply`). */
  private pending: Set<CallEnvelope> | undefined = undefined
  /** The call being handled. */
  private current: CallEnvelope | undefined = undefined
  private callMatch: MatchHandlers | undefined = undefined
  private handleMatch: MatchHandlers | undefined = undefined
  private tracer: boolean | undefined = undefined
  /** Made on the first traced message: an untraced server (most, and every idle one) never needs them. */
  private spanShapes: Record<"server" | "consumer" | "internal", Map<string, SpanShape>> | undefined = undefined
  /** The tag of the message being (or last) handled, for a crash report. */
  private lastTag: string | undefined = undefined
  /** This behaviour's count of handled messages (read by the metrics layer). */
  private readonly handledCount: { n: number }

  constructor(
    private readonly behaviour: Behaviour<unknown, unknown, unknown, unknown>,
    private readonly cell: Cell
  ) {
    cell.behaviour = this
    this.handledCount = cell.runtime.stats.handled.cell(behaviourName(behaviour))
  }

  /** The behaviour's name, for metrics and crash reports: its `name`, or `gen_server`. */
  get name(): string {
    return behaviourName(this.behaviour)
  }

  /** Runs `init`, reports the outcome to the starter, then serves messages until it stops. */
  run(args: unknown, signal: StartSignal): Effect.Effect<never, unknown, unknown> {
    return Effect.flatMap(
      Effect.matchCauseEffect(this.behaviour.init(args, this.cell.pid), {
        onFailure: (cause) => {
          const reason = ExitReason.failure(cause)
          signal.failed(reason)
          return exitWith(reason)
        },
        onSuccess: (initial) => {
          signal.started()
          return this.initialized(initial)
        }
      }),
      () => this.loop()
    )
  }

  private initialized(initial: unknown): Effect.Effect<void, unknown, unknown> {
    if (initial instanceof InitContinue) {
      this.state = initial.state
      return this.runContinue(initial.continueWith)
    }
    this.state = initial
    return Effect.void
  }

  private loop(): Effect.Effect<never, unknown, unknown> {
    return Effect.forever(
      Effect.flatMap(takeRunning, (message) => this.dispatch(message)),
      { disableYield: true }
    )
  }

  /** The protocol the server speaks (remote requests are decoded with it). */
  get protocol(): unknown {
    return this.behaviour.protocol
  }

  /** The process exited: fails every unanswered call. */
  processExited(reason: ExitReason.ExitReason): void {
    const current = this.current
    this.current = undefined
    current?.serverExited(reason)
    const pending = this.pending
    if (pending === undefined) return
    this.pending = undefined
    for (const envelope of pending) envelope.serverExited(reason)
  }

  /** The state as observers see it: the behaviour's `formatStatus` of it, or the state itself. */
  status(): unknown {
    const format = this.behaviour.formatStatus
    return format === undefined ? this.state : format(this.state)
  }

  /** Whether the behaviour shows observers its own view of the state. */
  get formatsStatus(): boolean {
    return this.behaviour.formatStatus !== undefined
  }

  /** The tag of the message being (or last) handled. */
  get lastMessage(): string | undefined {
    return this.lastTag
  }

  /** The behaviour's name and the tag of the last message handled, for a crash report. */
  crashInfo(): CrashInfo {
    return { behaviour: this.name, lastMessage: this.lastTag }
  }

  private dispatch(message: unknown): Effect.Effect<void, unknown, unknown> {
    this.handledCount.n++
    if (message instanceof CallEnvelope) {
      this.lastTag = message.request._tag
      return this.handleCall(message)
    }
    if (isCastRequest(message)) {
      this.lastTag = message._tag
      return this.handleCast(message, undefined, false)
    }
    if (message instanceof TracedCast) {
      this.lastTag = (message.request as Protocol.AnyCastRequest)._tag
      return this.handleCast(message.request as Protocol.AnyCastRequest, message.span, message.fromNode)
    }
    if (message instanceof StopRequest) {
      this.lastTag = "stop"
      return this.stopWith(message.reason)
    }
    this.lastTag = infoTag(message)
    if (message instanceof Signal.Exit && this.cell.parent !== undefined && Pid.equals(message.pid, this.cell.parent)) {
      return this.stopWith(message.reason)
    }
    return this.handleInfo(message)
  }

  /** Whether per-message spans may be made: tracing on, and a tracer installed in the server's context. */
  private get traced(): boolean {
    return (this.tracer ??=
      this.behaviour.tracing !== false &&
      this.cell.fiber !== undefined &&
      installedTracer(this.cell.fiber.context as Context.Context<never>) !== undefined)
  }

  /**
   * Wraps a handler in its span: a SERVER span for a call (named by its `rpc.method`), a CONSUMER
   * `process` span for a cast, an INTERNAL one for other messages. None when the caller's trace is
   * not sampled, nor without a parent unless {@link TraceRoots} lets this message start a trace
   * (`fromNode`: the message came from another node).
   */
  private span<A, E, R>(
    effect: Effect.Effect<A, E, R>,
    kind: "server" | "consumer" | "internal",
    method: string,
    parent: Tracer.AnySpan | undefined,
    fromNode: boolean
  ): Effect.Effect<A, E, R> {
    if (!this.traced) return effect
    if (parent !== undefined ? !parent.sampled : !this.rootAllowed(fromNode)) return effect
    const { name, attributes } = this.spanShape(kind, method)
    // Without the caller's span this message starts a trace: not a child of whatever span the
    // process was started in (a process inherits its spawner's context).
    return withSpan(
      effect,
      name,
      parent === undefined ? { attributes, kind, root: true } : { attributes, kind, parent },
      kind !== "internal"
    )
  }

  /**
   * A span's name and attributes, made once per kind and method (and registered name) of this
   * server rather than per message: the span only reads them.
   */
  private spanShape(kind: "server" | "consumer" | "internal", method: string): SpanShape {
    const shapes = (this.spanShapes ??= { server: new Map(), consumer: new Map(), internal: new Map() })[kind]
    const cached = shapes.get(method)
    if (cached !== undefined && cached.registeredName === this.cell.name) return cached
    const cell = this.cell
    const attributes: Record<string, unknown> = {
      [Attr.node]: cell.pid.node,
      [Attr.pid]: String(cell.pid)
    }
    if (cell.name !== undefined) attributes[Attr.name] = cell.name
    const service = serviceOf(method)
    if (service !== undefined) attributes[Attr.behaviour] = service
    let name: string
    if (kind === "server") {
      name = method
      attributes["rpc.system.name"] = systemName
      attributes["rpc.method"] = method
    } else if (kind === "consumer") {
      name = `process ${cell.name ?? String(cell.pid)}`
      attributes["messaging.system"] = systemName
      attributes["messaging.operation.name"] = "process"
      attributes["messaging.operation.type"] = "process"
      attributes["messaging.destination.name"] = cell.name ?? String(cell.pid)
      if (cell.name === undefined) attributes["messaging.destination.anonymous"] = true
      attributes["effect_otp.message"] = method
    } else {
      name = `handleInfo ${method}`
      attributes["effect_otp.message"] = method
    }
    const shape: SpanShape = { name, attributes, registeredName: cell.name }
    // A bound for servers whose info messages have ever new tags.
    if (shapes.size < MAX_SPAN_SHAPES) shapes.set(method, shape)
    return shape
  }

  private rootAllowed(fromNode: boolean): boolean {
    const roots = Context.get(this.cell.fiber!.context as Context.Context<never>, TraceRoots)
    return roots === "all" || (roots === "remote" && fromNode)
  }

  private handleCall(envelope: CallEnvelope): Effect.Effect<void, unknown, unknown> {
    if (envelope.settled) return Effect.void
    const tag = envelope.request._tag
    const handler = (this.behaviour.handleCall as Record<string, AnyHandler>)[tag]
    if (handler === undefined) {
      envelope.settle(Exit.die(new Error(`${this.cell.pid} has no handleCall for "${tag}"`)))
      return Effect.void
    }
    this.current = envelope
    return Effect.matchCauseEffect(
      this.span(
        handler(envelope.request, this.state, envelope),
        "server",
        methodOf(envelope.request),
        envelope.span,
        envelope.fromNode
      ),
      (this.callMatch ??= {
        onSuccess: (result) => this.callSucceeded(result as CallResult<unknown, unknown>),
        onFailure: (cause) => this.callFailed(cause)
      })
    )
  }

  private callSucceeded(outcome: CallResult<unknown, unknown>): Effect.Effect<void, unknown, unknown> {
    const envelope = this.current!
    this.current = undefined
    switch (outcome._tag) {
      case "Reply":
        envelope.succeed(outcome.value)
        return this.afterResult(outcome)
      case "NoReply":
        this.keep(envelope)
        return this.afterResult(outcome)
      case "Stop":
        if (outcome.reply !== undefined) envelope.succeed(outcome.reply.value)
        else this.keep(envelope)
        this.state = outcome.state
        return this.stopWith(outcome.reason)
    }
  }

  private callFailed(cause: Cause.Cause<unknown>): Effect.Effect<void, unknown, unknown> {
    const envelope = this.current!
    this.current = undefined
    if (isTypedFailure(cause)) {
      envelope.settle(Exit.failCause(cause))
      return Effect.void
    }
    this.keep(envelope)
    return this.crash(cause)
  }

  /** Keeps an unanswered call: answered later with `replyTo`, or failed when the server exits. */
  private keep(envelope: CallEnvelope): void {
    if (envelope.settled) return
    const pending = (this.pending ??= new Set())
    pending.add(envelope)
    envelope.keeper = pending
  }

  private handleCast(
    request: Protocol.AnyCastRequest,
    parent: Tracer.AnySpan | undefined,
    fromNode: boolean
  ): Effect.Effect<void, unknown, unknown> {
    const handler = (this.behaviour.handleCast as Record<string, AnyHandler> | undefined)?.[request._tag]
    if (handler === undefined) {
      return this.crash(Cause.die(new Error(`${this.cell.pid} has no handleCast for "${request._tag}"`)))
    }
    return this.handled(this.span(handler(request, this.state), "consumer", methodOf(request), parent, fromNode))
  }

  private handleInfo(message: unknown): Effect.Effect<void, unknown, unknown> {
    const handler = this.behaviour.handleInfo
    if (handler === undefined) return Effect.void
    return this.handled(this.span(handler(message, this.state), "internal", infoTag(message), undefined, false))
  }

  private runContinue(continueWith: unknown): Effect.Effect<void, unknown, unknown> {
    const handler = this.behaviour.handleContinue
    if (handler === undefined) {
      return this.crash(Cause.die(new Error(`${this.cell.pid} returned continue but has no handleContinue`)))
    }
    return this.handled(handler(continueWith, this.state))
  }

  /** Applies a cast/info/continue result; any failure crashes the server. */
  private handled(effect: Effect.Effect<unknown, unknown, unknown>): Effect.Effect<void, unknown, unknown> {
    return Effect.matchCauseEffect(
      effect,
      (this.handleMatch ??= {
        onSuccess: (result) => {
          const outcome = result as HandleResult<unknown>
          if (outcome._tag === "Stop") {
            this.state = outcome.state
            return this.stopWith(outcome.reason)
          }
          return this.afterResult(outcome)
        },
        onFailure: (cause) => this.crash(cause)
      })
    )
  }

  private afterResult(outcome: Reply<unknown, unknown> | NoReply<unknown>): Effect.Effect<void, unknown, unknown> {
    this.state = outcome.state
    return outcome.continue === undefined ? Effect.void : this.runContinue(outcome.continue)
  }

  private crash(cause: Cause.Cause<unknown>): Effect.Effect<never> {
    return this.stopWith(ExitReason.failure(cause))
  }

  /** Runs `terminate` (if any), then exits with `reason`. */
  private stopWith(reason: ExitReason.ExitReason): Effect.Effect<never> {
    const terminate = this.behaviour.terminate
    if (terminate === undefined) return exitWith(reason)
    return Effect.flatMap(Effect.exit(terminate(reason, this.state) as Effect.Effect<void>), () => exitWith(reason))
  }
}

const behaviourName = (behaviour: Behaviour<unknown, unknown, unknown, unknown>): string =>
  behaviour.name ?? "gen_server"

interface MatchHandlers {
  readonly onSuccess: (value: unknown) => Effect.Effect<void, unknown, unknown>
  readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<void, unknown, unknown>
}

const isTypedFailure = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.length > 0 && cause.reasons.every((reason) => reason._tag === "Fail")

const infoTag = (message: unknown): string =>
  typeof message === "object" && message !== null && typeof (message as { _tag?: unknown })._tag === "string"
    ? (message as { _tag: string })._tag
    : typeof message

/** Waits for a new server's `init` on behalf of `start`; the server reports to it. */
export class Starter implements StartSignal {
  cell: Cell | undefined = undefined
  private done = false
  private timer: CancelTimer | undefined = undefined

  constructor(
    private readonly resume: (effect: Effect.Effect<Pid.Pid, InitFailed | NameTaken>) => void,
    private readonly linkTo: Cell | undefined
  ) {}

  started(): void {
    this.finish(Effect.succeed(this.cell!.pid))
  }

  failed(reason: ExitReason.ExitReason): void {
    // The starter learns the failure from `start`; a linked starter is not also killed by it.
    if (this.linkTo !== undefined) this.linkTo.unlink(this.cell!)
    this.finish(Effect.fail(new InitFailed({ server: this.cell!.pid, reason }, { disableChecks: true })))
  }

  finish(effect: Effect.Effect<Pid.Pid, InitFailed | NameTaken>): void {
    if (this.done) return
    this.done = true
    this.timer?.()
    this.resume(effect)
  }

  /**
   * Arms the start timeout, in milliseconds on the runtime's timers (only when `init` did not
   * finish synchronously). Returns the canceller of the `start` that waits.
   */
  arm(timeoutMs: number): Effect.Effect<void> | undefined {
    if (this.done) return undefined
    const timer = this.cell!.runtime.timers.start(timeoutMs, () => {
      const cell = this.cell!
      if (this.linkTo !== undefined) this.linkTo.unlink(cell)
      cell.die(ExitReason.killed, true)
      this.finish(Effect.fail(new InitFailed({ server: cell.pid, reason: ExitReason.custom("init timeout") })))
    })
    // Under a test clock a timeout due at once has already fired inside `start`.
    if (!this.done) this.timer = timer
    return Effect.sync(() => {
      if (!this.done) this.cell?.die(ExitReason.killed, true)
      this.done = true
      this.timer?.()
    })
  }
}

/**
 * Every GenServer's take, made once: it runs in the server's own process fiber, which finds its
 * mailbox through the fiber's `CurrentProcess`, so that an idle server holds no effect or closure
 * of its own for its wait.
 */
const takeRunning = Mailbox.takeFrom((fiber) => runningCell(fiber).mailbox)
