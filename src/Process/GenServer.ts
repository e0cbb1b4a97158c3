/**
 * GenServer: the generic server behaviour of OTP, with a typed protocol.
 *
 * A behaviour separates the generic part (this module: the server loop, calls with timeouts,
 * replies, shutdown) from the specific part (your callbacks). Calls and casts are declared with
 * {@link Protocol.make}; a handler's argument, reply and error types come from that declaration.
 *
 * Semantics, as in OTP:
 * - `init` runs in the new process before `start` returns; if it fails, `start` fails with
 *   `InitFailed` and the process exits. Calls sent (by name) before `init` finishes wait for it.
 * - Messages are handled one at a time, in mailbox order.
 * - `call` waits for the reply at most `timeout` (default 5 s) and fails with `CallTimeout`,
 *   `NoProcess` (dead or unknown server), `ServerExited` (the server exited before replying,
 *   with its exit reason), `MailboxFull` (policy `fail`), or the error the handler declared. A
 *   reply that arrives after the timeout is dropped. With distribution (`Distribution.layer`),
 *   the same call reaches servers on other nodes and may also fail with `NodeDown` or
 *   `RemoteDecodeError`; `CallError` names all of them, so the types do not change.
 * - A call handler that fails with its declared error replies that error; the server continues
 *   with its state unchanged. A defect in any handler crashes the server (after `terminate`).
 * - `terminate` runs when the server stops itself, when it is stopped with {@link stop}, after a
 *   crash in a callback, and (when it traps exits) on an exit signal from its parent. It does not
 *   run when the process is killed or when an untrapped exit signal ends it.
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, type Fiber, Schema, Tracer } from "effect"
import { MailboxFull, NameTaken, NodeDown, NoProcess, NotAProcess, RemoteDecodeError } from "./Errors.ts"
import * as ExitReason from "./ExitReason.ts"
import { CallEnvelope, deliverCall } from "./internal/callEnvelope.ts"
import { notAServer, Server, Starter, stopServer } from "./internal/server.ts"
import type { Cell } from "./internal/cell.ts"
import { currentCell, deliverTo, noLocalProcess, spawnCell } from "./internal/delivery.ts"
import { asRemote } from "./internal/remote.ts"
import type { Runtime } from "./internal/runtime.ts"
import * as Pid from "./Pid.ts"
import type { ProcessContext, SpawnOptions, Target } from "./Process.ts"
import type { ProcessRuntime } from "./ProcessRuntime.ts"
import { withRuntime } from "./internal/context.ts"
import * as Protocol from "./Protocol.ts"

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * A call got no reply within its timeout. The server may still handle it; its reply is dropped.
 *
 * @since 0.1.0
 */
export class CallTimeout extends Schema.TaggedError<CallTimeout>()("CallTimeout", {
  server: Schema.String,
  request: Schema.String,
  timeoutMs: Schema.Number
}) {
  override get message(): string {
    return `call ${this.request} to ${this.server} got no reply within ${this.timeoutMs} ms`
  }
}

/**
 * The server exited before replying to a call. `reason` is its exit reason.
 *
 * @since 0.1.0
 */
export class ServerExited extends Schema.TaggedError<ServerExited>()("ServerExited", {
  server: Pid.Pid,
  reason: ExitReason.ExitReason
}) {
  override get message(): string {
    return `server ${this.server} exited before replying: ${ExitReason.format(this.reason)}`
  }
}

/**
 * `init` failed (or did not finish within the start timeout); the server process has exited.
 *
 * @since 0.1.0
 */
export class InitFailed extends Schema.TaggedError<InitFailed>()("InitFailed", {
  server: Pid.Pid,
  reason: ExitReason.ExitReason
}) {
  override get message(): string {
    return `server ${this.server} failed to start: ${ExitReason.format(this.reason)}`
  }
}

/**
 * The errors any call can fail with, besides the handler's declared error.
 *
 * @since 0.1.0
 */
export type CallError = CallTimeout | NoProcess | ServerExited | MailboxFull | NodeDown | RemoteDecodeError

/** @internal */
export const exitedError = (server: Pid.Pid, reason: ExitReason.ExitReason): ServerExited =>
  new ServerExited({ server, reason }, { disableChecks: true })

// ---------------------------------------------------------------------------------------------
// Callback results
// ---------------------------------------------------------------------------------------------

/**
 * Reply `value` to the caller and continue with `state`.
 *
 * @since 0.1.0
 */
export interface Reply<A, S> {
  readonly _tag: "Reply"
  readonly value: A
  readonly state: S
  readonly continue?: unknown
}

/**
 * Continue with `state` without replying now (a call can be answered later with {@link replyTo}).
 *
 * @since 0.1.0
 */
export interface NoReply<S> {
  readonly _tag: "NoReply"
  readonly state: S
  readonly continue?: unknown
}

/**
 * Stop the server with `reason` (after `terminate`), optionally replying to the current call first.
 *
 * @since 0.1.0
 */
export interface Stop<A, S> {
  readonly _tag: "Stop"
  readonly reason: ExitReason.ExitReason
  readonly state: S
  readonly reply?: { readonly value: A }
}

/** What a call handler returns. @since 0.1.0 */
export type CallResult<A, S> = Reply<A, S> | NoReply<S> | Stop<A, S>

/** What cast, info and continue handlers return. @since 0.1.0 */
export type HandleResult<S> = NoReply<S> | Stop<never, S>

/** Options of a result: `continue` runs `handleContinue` before the next message. @since 0.1.0 */
export interface ContinueOption {
  readonly continue?: unknown
}

/**
 * Replies `value` and continues with `state`.
 *
 * @since 0.1.0
 */
export const reply = <A, S>(value: A, state: S, options?: ContinueOption): Reply<A, S> =>
  options?.continue === undefined
    ? { _tag: "Reply", value, state }
    : { _tag: "Reply", value, state, continue: options.continue }

/**
 * Continues with `state` without replying.
 *
 * @since 0.1.0
 */
export const noReply = <S>(state: S, options?: ContinueOption): NoReply<S> =>
  options?.continue === undefined ? { _tag: "NoReply", state } : { _tag: "NoReply", state, continue: options.continue }

/**
 * Stops the server with `reason` (after `terminate`); from a call handler, `replyValue` is sent to
 * the caller first.
 *
 * @since 0.1.0
 */
export const stopWith = <S, A = never>(
  reason: ExitReason.ExitReason,
  state: S,
  replyValue?: { readonly value: A }
): Stop<A, S> =>
  replyValue === undefined ? { _tag: "Stop", reason, state } : { _tag: "Stop", reason, state, reply: replyValue }

/**
 * What `init` may return instead of a bare state: a state plus a `continue` term handled by
 * `handleContinue` before any message (OTP's `{ok, State, {continue, C}}`).
 *
 * @since 0.1.0
 */
export class InitContinue<S> {
  constructor(
    readonly state: S,
    readonly continueWith: unknown
  ) {}
}

/**
 * The caller of a call that a handler keeps to answer later with {@link replyTo}.
 *
 * @since 0.1.0
 */
export interface From<A, E> {
  /** Phantom: the reply types. */
  readonly _From?: { readonly _A: A; readonly _E: E }
}

/**
 * Answers a call whose handler returned {@link noReply}. Does nothing if the call already timed
 * out or its caller was interrupted.
 *
 * @since 0.1.0
 */
export const replyTo = <A, E>(from: From<A, E>, value: A): Effect.Effect<void> =>
  Effect.sync(() => (from as unknown as CallEnvelope).succeed(value))

/**
 * Fails a call whose handler returned {@link noReply} with its declared error.
 *
 * @since 0.1.0
 */
export const replyToFailure = <A, E>(from: From<A, E>, error: E): Effect.Effect<void> =>
  Effect.sync(() => (from as unknown as CallEnvelope).settle(Exit.fail(error)))

// ---------------------------------------------------------------------------------------------
// Behaviour
// ---------------------------------------------------------------------------------------------

type CallHandlers<P, S, R> = {
  readonly [Tag in Protocol.CallTags<P>]: (
    request: Protocol.Request<P, Tag>,
    state: S,
    from: From<Protocol.SuccessOf<Protocol.Request<P, Tag>>, Protocol.ErrorOf<Protocol.Request<P, Tag>>>
  ) => Effect.Effect<
    CallResult<Protocol.SuccessOf<Protocol.Request<P, Tag>>, S>,
    Protocol.ErrorOf<Protocol.Request<P, Tag>>,
    R
  >
}

type CastHandlers<P, S, R> = {
  readonly [Tag in Protocol.CastTags<P>]: (
    request: Protocol.Request<P, Tag>,
    state: S
  ) => Effect.Effect<HandleResult<S>, never, R>
}

/**
 * The callbacks of a GenServer with protocol `P`, start arguments `Args` and state `S`.
 * Every call tag needs a handler; a cast without a handler crashes the server when it arrives.
 *
 * @since 0.1.0
 */
export interface Behaviour<P, Args, S, R = never> {
  readonly protocol: P
  /** Builds the initial state. Runs in the server process; `start` waits for it. */
  readonly init: (args: Args, self: Pid.Pid) => Effect.Effect<S | InitContinue<S>, unknown, R>
  readonly handleCall: CallHandlers<P, S, R>
  readonly handleCast?: CastHandlers<P, S, R>
  /** Messages that are not calls or casts: timers, `Down`, `Exit` (when trapping), plain sends. */
  readonly handleInfo?: (message: unknown, state: S) => Effect.Effect<HandleResult<S>, never, R>
  /** Runs after a result with `continue`, before the next message. */
  readonly handleContinue?: (continueWith: unknown, state: S) => Effect.Effect<HandleResult<S>, never, R>
  /** Runs when the server stops (see the module documentation for when it does not). */
  readonly terminate?: (reason: ExitReason.ExitReason, state: S) => Effect.Effect<void, never, R>
  /**
   * Per-message spans (`GenServer.handleCall`, `handleCast`, `handleInfo`). Default `true`; they
   * are only made when a tracer is installed. Set `false` to skip them even then.
   */
  readonly tracing?: boolean
}

/**
 * Declares a GenServer behaviour for a protocol. Curried so that the protocol fixes the types of
 * your callbacks: each handler's request, reply and error types come from its declaration.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 *
 * const counter = GenServer.behaviour(Counter)({
 *   init: (start: number) => Effect.succeed(start),
 *   handleCall: {
 *     Get: (_, state) => Effect.succeed(GenServer.reply(state, state)),
 *     Add: ({ n }, state) => Effect.succeed(GenServer.reply(state + n, state + n))
 *   },
 *   handleCast: {
 *     Reset: () => Effect.succeed(GenServer.noReply(0))
 *   }
 * })
 * ```
 *
 * @since 0.1.0
 */
export const behaviour =
  <P>(protocol: P) =>
  <Args, S, R = never>(callbacks: Callbacks<P, Args, S, R>): Behaviour<P, Args, S, R> => ({ ...callbacks, protocol })

/**
 * The callbacks part of a {@link Behaviour} (everything but the protocol).
 *
 * @since 0.1.0
 */
export type Callbacks<P, Args, S, R = never> = Omit<Behaviour<P, Args, S, R>, "protocol">

// ---------------------------------------------------------------------------------------------
// Starting and stopping
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link start} and {@link startLink}.
 *
 * @since 0.1.0
 */
export interface StartOptions extends SpawnOptions {
  /** How long `start` waits for `init`. Default 5000 ms; on expiry the server is killed. `Infinity` waits forever. */
  readonly timeout?: number | undefined
}

const startServer = <P, Args, S, R>(
  runtime: Runtime,
  fiber: Fiber.Fiber<unknown, unknown>,
  definition: Behaviour<P, Args, S, R>,
  args: Args,
  options: StartOptions | undefined,
  linkTo: Cell | undefined
): Effect.Effect<Pid.Pid, InitFailed | NameTaken> =>
  Effect.callback<Pid.Pid, InitFailed | NameTaken>((resume) => {
    const starter = new Starter(resume, linkTo)
    const spawned = spawnCell(
      runtime,
      fiber,
      (self: ProcessContext<unknown>) => {
        const cell = self as Cell
        starter.cell = cell
        return new Server(definition as Behaviour<unknown, unknown, unknown, unknown>, cell).run(args, starter)
      },
      options,
      linkTo
    )
    if (spawned instanceof NameTaken) {
      starter.finish(Effect.fail(spawned))
      return
    }
    starter.cell = spawned
    if (!spawned.alive) {
      starter.finish(
        Effect.fail(new InitFailed({ server: spawned.pid, reason: spawned.exitReason ?? ExitReason.noproc }))
      )
    }
    return starter.arm(options?.timeout ?? 5000)
  })

/**
 * Starts a GenServer process (not linked) and waits for its `init`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Echo = Protocol.make({ Echo: Protocol.call({ payload: { text: Schema.String }, success: Schema.String }) })
 * const echo = GenServer.behaviour(Echo)({
 *   init: () => Effect.succeed(undefined),
 *   handleCall: { Echo: ({ text }, state) => Effect.succeed(GenServer.reply(text, state)) }
 * })
 *
 * const program = Effect.gen(function*() {
 *   const pid = yield* GenServer.start(echo, undefined, { name: "echo" })
 *   const text = yield* GenServer.call("echo", Echo.Echo({ text: "hi" }))
 * })
 * ```
 *
 * @since 0.1.0
 */
export const start = <P, Args, S, R>(
  definition: Behaviour<P, Args, S, R>,
  args: Args,
  options?: StartOptions
): Effect.Effect<Pid.Pid, InitFailed | NameTaken, R | ProcessRuntime> =>
  withRuntime((runtime, fiber) => startServer(runtime, fiber, definition, args, options, undefined))

/**
 * Starts a GenServer linked to the current process (which must be a process) and waits for its
 * `init`. If `init` fails, the link is removed before the server exits: the caller gets
 * `InitFailed` rather than an exit signal.
 *
 * @since 0.1.0
 */
export const startLink = <P, Args, S, R>(
  definition: Behaviour<P, Args, S, R>,
  args: Args,
  options?: StartOptions
): Effect.Effect<Pid.Pid, InitFailed | NameTaken | NotAProcess, R | ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const parent = runtime.current(fiber)
    if (parent === undefined) return Effect.fail(new NotAProcess({ operation: "GenServer.startLink" }))
    return startServer(runtime, fiber, definition, args, options, parent)
  })

/**
 * Stops a server: it runs `terminate(reason)` and exits with `reason`. Waits at most `timeout`
 * (default: infinite); past it the server is killed and `stop` fails with `CallTimeout`.
 * Succeeds once the server has exited, whatever its final reason. Fails with `NoProcess` if the
 * server is not alive. Works on servers of other nodes too (by pid or `RemoteName`): the timeout is
 * then kept by the server's node, and `stop` fails with `NodeDown` if the link to it is lost first,
 * or with `CallTimeout` (after `timeout` + 2 s) if that node never answers; the server may then
 * have stopped all the same.
 * Stopping a process that is not a GenServer is a defect.
 *
 * @since 0.1.0
 */
export const stop = (
  target: Target,
  reason: ExitReason.ExitReason = ExitReason.normal,
  timeout?: number
): Effect.Effect<void, NoProcess | CallTimeout | NodeDown, ProcessRuntime> =>
  withRuntime((runtime) => {
    const remote = asRemote(runtime.node, target)
    if (remote !== undefined) {
      const bridge = runtime.remote
      if (bridge === undefined) return Effect.fail(new NodeDown({ node: remote.node, reason: "not connected" }))
      return bridge.stop(remote, reason, timeout)
    }
    const cell = runtime.resolve(target)
    if (cell === undefined || !cell.alive) return Effect.fail(new NoProcess({ target: String(target) }))
    if (cell.behaviour === undefined) return Effect.die(notAServer(cell.pid))
    return Effect.callback<void, CallTimeout>((resume) => {
      const cancel = stopServer(runtime, cell, reason, timeout, (timedOut) =>
        resume(
          timedOut
            ? Effect.fail(new CallTimeout({ server: String(cell.pid), request: "stop", timeoutMs: timeout! }))
            : Effect.void
        )
      )
      return Effect.sync(cancel)
    })
  })

// ---------------------------------------------------------------------------------------------
// Calls and casts
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link call}.
 *
 * @since 0.1.0
 */
export interface CallOptions {
  /** Milliseconds to wait for the reply. Default 5000. `Infinity` waits forever. */
  readonly timeout?: number | undefined
}

const DEFAULT_CALL_TIMEOUT = 5000

const parentSpanOf = (fiber: Fiber.Fiber<unknown, unknown>): Tracer.AnySpan | undefined =>
  Context.getOrUndefined(fiber.context, Tracer.ParentSpan)

const startCall = (
  cell: Cell,
  request: Protocol.AnyCallRequest,
  timeout: number,
  span: Tracer.AnySpan | undefined
): Effect.Effect<unknown, unknown> =>
  Effect.callback<unknown, unknown>((resume) => {
    const envelope = new CallEnvelope(request, cell.pid, resume, span, exitedError)
    deliverCall(cell, envelope)
    // Most local calls are answered during the hand-over above: only a waiting call needs a timer.
    if (envelope.settled) return
    envelope.timer = cell.runtime.timers.start(timeout, () =>
      envelope.settle(
        Exit.fail(new CallTimeout({ server: String(cell.pid), request: request._tag, timeoutMs: timeout }))
      )
    )
    return envelope.abandon
  })

/**
 * Calls a server and waits for its reply. The reply and error types come from the request's
 * protocol declaration.
 *
 * Fails with `CallTimeout` after `timeout` (default 5 s; a later reply is dropped), `NoProcess`
 * when the server is dead or the name unknown, `ServerExited` when it exits before replying,
 * `MailboxFull` when its mailbox is full and its policy is `fail`, or the handler's declared error.
 *
 * Traced as a `GenServer.call` span (attributes `otp.target`, `otp.message`) whose child is the
 * server's `GenServer.handleCall` span, when a tracer is installed (`Effect.withTracer`, or the
 * Observability layer). Without one, no span objects are made: a span costs about 2 µs, which
 * would cut a local round trip's rate by a factor of three.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const read = GenServer.call("counter", Counter.Get(), { timeout: 1000 })
 * //    ^? Effect<number, CallError, ProcessRuntime>
 * ```
 *
 * @since 0.1.0
 */
export const call = <Req extends Protocol.AnyCallRequest>(
  target: Target,
  request: Req,
  options?: CallOptions
): Effect.Effect<Protocol.SuccessOf<Req>, Protocol.ErrorOf<Req> | CallError, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const timeout = options?.timeout ?? DEFAULT_CALL_TIMEOUT
    const remote = asRemote(runtime.node, target)
    let start: (span: Tracer.AnySpan | undefined) => Effect.Effect<unknown, unknown>
    if (remote !== undefined) {
      const bridge = runtime.remote
      if (bridge === undefined) return Effect.fail(new NodeDown({ node: remote.node, reason: "not connected" }))
      start = (span) => bridge.call(remote, request, timeout, span)
    } else {
      const cell = runtime.resolve(target)
      if (cell === undefined) return Effect.fail(new NoProcess({ target: String(target) }))
      if (runtime.current(fiber) === cell) {
        return Effect.die(new Error(`${cell.pid} called itself (${request._tag}): that call could never be answered`))
      }
      start = (span) => startCall(cell, request, timeout, span)
    }
    if (Context.getOrUndefined(fiber.context, Tracer.Tracer) === undefined) return start(undefined)
    return Effect.withSpan(
      Effect.withFiber((inner) => start(parentSpanOf(inner))),
      "GenServer.call",
      {
        attributes: { "otp.target": String(target), "otp.message": request._tag },
        captureStackTrace: false,
        ...(remote === undefined ? {} : { kind: "client" as const })
      }
    )
  }) as Effect.Effect<Protocol.SuccessOf<Req>, Protocol.ErrorOf<Req> | CallError, ProcessRuntime>

/**
 * Sends a cast (fire and forget). A cast to a dead pid is dropped, as in OTP; to an unknown name it
 * fails with `NoProcess`. A full mailbox suspends the sender or fails with `MailboxFull`,
 * according to the server's overflow policy.
 *
 * @since 0.1.0
 */
export const cast = (
  target: Target,
  request: Protocol.AnyCastRequest
): Effect.Effect<void, NoProcess | MailboxFull, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const remote = asRemote(runtime.node, target)
    if (remote !== undefined) return runtime.remote?.cast(remote, request, parentSpanOf(fiber)) ?? Effect.void
    const cell = runtime.resolve(target)
    if (cell === undefined) return noLocalProcess(target)
    return deliverTo(cell, request)
  })

/**
 * The pid of the server currently running (inside a callback).
 *
 * @since 0.1.0
 */
export const self: Effect.Effect<Pid.Pid, NotAProcess, ProcessRuntime> = Effect.map(
  currentCell("GenServer.self"),
  (cell) => cell.pid
)
