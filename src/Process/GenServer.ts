/**
 * GenServer: the generic server behaviour of OTP, with a typed protocol.
 *
 * A behaviour separates the generic part (this module: the server loop, calls with timeouts,
 * replies, shutdown) from the specific part (your callbacks). Calls and casts are declared with
 * `Protocol.make`; a handler's argument, reply and error types come from that declaration, and
 * `start` returns a pid typed by it, so that calling a server with another protocol's request does
 * not compile.
 *
 * Semantics, as in OTP:
 * - `init` runs in the new process before `start` returns; if it fails, `start` fails with
 *   `InitFailed` and the process exits. Calls sent (by name) before `init` finishes wait for it.
 * - Messages are handled one at a time, in mailbox order.
 * - `call` waits for the reply at most `timeout` (default 5 s) and fails with `CallTimeout`,
 *   `NoProcess` (dead or unknown server), `ServerExited` (the server exited before replying,
 *   with its exit reason), `MailboxFull` (policy `fail`), or the error the handler declared. A
 *   reply that arrives after the timeout is dropped. With distribution (`Distribution.layer`),
 *   the same call reaches servers on other nodes and may also fail with `NodeDown` (the node is not
 *   connected, or went down while the call was pending), `RemoteDecodeError`, or `MessageTooLarge`
 *   (the request is larger than that node accepts: nothing is sent and the link stays up);
 *   `CallError` names all of them, so the types do not change.
 * - A call handler that fails with its declared error replies that error; the server continues
 *   with its state unchanged. A defect (or an undeclared failure) in any handler crashes the
 *   server (after `terminate`).
 * - `terminate` runs when the server stops itself, when it is stopped with {@link stop}, after a
 *   crash in a callback, and (when it traps exits) on an exit signal from its parent. It does not
 *   run when the process is killed or when an untrapped exit signal ends it.
 * - Callbacks run inside the server process: they may use `CurrentProcess` (for example
 *   {@link self}) without it appearing in the requirements of the behaviour.
 *
 * @since 0.1.0
 */
import { type Context, type Duration, Effect, Exit, type Fiber, Schema, type Tracer } from "effect"
import { toMillis } from "../internal/timers.ts"
import * as CurrentProcessModule from "./CurrentProcess.ts"
import type { CurrentProcess } from "./CurrentProcess.ts"
import {
  MailboxFull,
  type MessageTooLarge,
  NameTaken,
  NodeDown,
  NoProcess,
  NotAProcess,
  RemoteDecodeError
} from "./Errors.ts"
import * as ExitReason from "./ExitReason.ts"
import { CallEnvelope, deliverCall } from "./internal/callEnvelope.ts"
import type { Cell } from "./internal/cell.ts"
import { withRuntime } from "./internal/context.ts"
import { castTo, noLocalProcess, spawnCell } from "./internal/delivery.ts"
import { exitedError } from "./internal/errors.ts"
import { tracedOperation, tracedSpawn } from "./internal/operationSpans.ts"
import { asRemote } from "./internal/remote.ts"
import type { Runtime } from "./internal/runtime.ts"
import { notAServer, Server, Starter, stopServer } from "./internal/server.ts"
import {
  clientAttributes,
  decide,
  destinationOf,
  methodOf,
  outgoingSpan,
  parentSpanOf,
  producerAttributes,
  sampleRoot,
  TracedCast
} from "./internal/tracing.ts"
import * as Pid from "./Pid.ts"
import type { ProcessContext, SpawnOptions, Target } from "./Process.ts"
import type { ProcessRuntime } from "./ProcessRuntime.ts"
import type * as Protocol from "./Protocol.ts"
import type { RemoteServerName } from "./RemoteName.ts"

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * A call got no reply within its timeout. The server may still handle it; its reply is dropped.
 * Also the error of a {@link stop} whose server had to be killed after its timeout.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Slow = Protocol.make({ Work: Protocol.call({ success: Schema.String }) })
 * const work = GenServer.call("slow", Slow.Work(), { timeout: "1 second" }).pipe(
 *   Effect.catchTag("CallTimeout", (error) => Effect.succeed(`gave up after ${error.timeoutMs} ms`))
 * )
 * ```
 *
 * @category errors
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
 * The server exited before replying to a call. `reason` is its exit reason. Whether the request
 * was handled is unknown (as in OTP).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { ExitReason, GenServer, Protocol } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ success: Schema.String }) })
 * const get = GenServer.call("kv", Kv.Get()).pipe(
 *   Effect.catchTag("ServerExited", (error) => Effect.succeed(`kv exited: ${ExitReason.format(error.reason)}`))
 * )
 * ```
 *
 * @category errors
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
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { ExitReason, GenServer, Protocol } from "effect-otp"
 *
 * const Db = Protocol.make({ Ping: Protocol.call() })
 * const db = GenServer.behaviour(Db)({
 *   init: () => Effect.fail("no connection string"),
 *   handleCall: { Ping: (_, state: undefined) => Effect.succeed(GenServer.reply(undefined, state)) }
 * })
 * const started = GenServer.start(db, undefined).pipe(
 *   Effect.catchTag("InitFailed", (error) => Effect.logError(ExitReason.format(error.reason)))
 * )
 * ```
 *
 * @category errors
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
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const read = GenServer.call("counter", Counter.Get()).pipe(
 *   Effect.catch((error: GenServer.CallError) => Effect.succeed(`no answer: ${error._tag}`))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type CallError =
  CallTimeout | NoProcess | ServerExited | MailboxFull | NodeDown | RemoteDecodeError | MessageTooLarge

// ---------------------------------------------------------------------------------------------
// Typed references
// ---------------------------------------------------------------------------------------------

/**
 * The pid of a server that speaks protocol `P`: what {@link start} returns. It is a `Pid` (it
 * goes wherever a pid goes); its type also lets {@link call} and {@link cast} accept only the
 * requests of `P`. The protocol exists in the type only.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 * })
 *
 * const program = Effect.gen(function*() {
 *   const pid: GenServer.ServerPid<typeof Counter> = yield* GenServer.start(counter, undefined)
 *   return yield* GenServer.call(pid, Counter.Get())
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ServerPid<P> extends Pid.Pid, Protocol.Speaks<P> {}

/**
 * A local registered name of a server that speaks protocol `P`, made with {@link name}. At run time
 * it is the plain string.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const name: GenServer.ServerName<typeof Counter> = GenServer.name("counter", Counter)
 * const read = GenServer.call(name, Counter.Get()) // only Counter's calls compile
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ServerName<P> = string & Protocol.Speaks<P>

/**
 * Any typed reference to a server that speaks `P`: its pid, its local name, or its name on a node.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const reset = (server: GenServer.ServerRef<typeof Counter>) => GenServer.cast(server, Counter.Reset())
 * const program = reset(GenServer.name("counter", Counter))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ServerRef<P> = ServerPid<P> | ServerName<P> | RemoteServerName<P>

/**
 * A registered name typed by the protocol of the server that holds it. Pass it to
 * {@link StartOptions} `name` (a name of another protocol does not compile there) and to
 * {@link call} / {@link cast}, which then accept only the requests of that protocol.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const CounterName = GenServer.name("counter", Counter)
 *
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) },
 *   handleCast: { Reset: () => Effect.succeed(GenServer.noReply(0)) }
 * })
 *
 * const program = Effect.gen(function*() {
 *   yield* GenServer.start(counter, undefined, { name: CounterName })
 *   yield* GenServer.cast(CounterName, Counter.Reset())
 *   return yield* GenServer.call(CounterName, Counter.Get())
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const name = <P>(name: string, _protocol: P): ServerName<P> => name as ServerName<P>

/** A registered name that, if typed, is typed by `P`. */
type NameFor<P> = string & { readonly [Protocol.SpeaksTypeId]?: (_: never) => P }

/**
 * What {@link call} accepts as its request on target `T`: a call request, of `T`'s protocol when
 * `T` is typed. Otherwise the type is a message saying what is wrong.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * type Name = GenServer.ServerName<typeof Counter>
 * type Ok = GenServer.CallRequestFor<Name, ReturnType<typeof Counter.Get>> // the request
 * type Wrong = GenServer.CallRequestFor<string, ReturnType<typeof Counter.Reset>> // "Reset is a cast request: ..."
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type CallRequestFor<T, Req> = Req extends Protocol.AnyCastRequest
  ? `${Req["_tag"]} is a cast request: send it with GenServer.cast`
  : [Protocol.ProtocolOf<T>] extends [never]
    ? Req
    : Req extends Protocol.CallRequestOf<Protocol.ProtocolOf<T>>
      ? Req
      : `${Req extends Protocol.AnyCallRequest ? Req["_tag"] : "this request"} is not a call of the server's protocol`

/**
 * What {@link cast} accepts as its request on target `T`: a cast request, of `T`'s protocol when
 * `T` is typed. Otherwise the type is a message saying what is wrong.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * type Name = GenServer.ServerName<typeof Counter>
 * type Ok = GenServer.CastRequestFor<Name, ReturnType<typeof Counter.Reset>> // the request
 * type Wrong = GenServer.CastRequestFor<string, ReturnType<typeof Counter.Get>> // "Get is a call request: ..."
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type CastRequestFor<T, Req> = Req extends Protocol.AnyCallRequest
  ? `${Req["_tag"]} is a call request: send it with GenServer.call`
  : [Protocol.ProtocolOf<T>] extends [never]
    ? Req
    : Req extends Protocol.CastRequestOf<Protocol.ProtocolOf<T>>
      ? Req
      : `${Req extends Protocol.AnyCastRequest ? Req["_tag"] : "this request"} is not a cast of the server's protocol`

// ---------------------------------------------------------------------------------------------
// Callback results
// ---------------------------------------------------------------------------------------------

/**
 * Reply `value` to the caller and continue with `state` (made with {@link reply}).
 *
 * @example
 * ```ts
 * import { GenServer } from "effect-otp"
 *
 * const result: GenServer.Reply<number, { readonly count: number }> = GenServer.reply(1, { count: 1 })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Reply<A, S> {
  readonly _tag: "Reply"
  readonly value: A
  readonly state: S
  /** When set, `handleContinue` runs with it before the next message. */
  readonly continue: unknown
}

/**
 * Continue with `state` without replying now (made with {@link noReply}); a call can be answered
 * later with {@link replyTo}.
 *
 * @example
 * ```ts
 * import { GenServer } from "effect-otp"
 *
 * const result: GenServer.NoReply<ReadonlyArray<string>> = GenServer.noReply(["queued"])
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface NoReply<S> {
  readonly _tag: "NoReply"
  readonly state: S
  /** When set, `handleContinue` runs with it before the next message. */
  readonly continue: unknown
}

/**
 * Stop the server with `reason` (after `terminate`), optionally replying to the current call first
 * (made with {@link stopWith}).
 *
 * @example
 * ```ts
 * import { ExitReason, GenServer } from "effect-otp"
 *
 * const result: GenServer.Stop<string, number> = GenServer.stopWith(ExitReason.normal, 0, { value: "bye" })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Stop<A, S> {
  readonly _tag: "Stop"
  readonly reason: ExitReason.ExitReason
  readonly state: S
  /** The reply to send first, if any. */
  readonly reply: { readonly value: A } | undefined
}

/**
 * What a call handler returns.
 *
 * @example
 * ```ts
 * import { ExitReason, GenServer } from "effect-otp"
 *
 * const decide = (n: number): GenServer.CallResult<number, number> =>
 *   n > 10 ? GenServer.stopWith(ExitReason.normal, n, { value: n }) : GenServer.reply(n, n + 1)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CallResult<A, S> = Reply<A, S> | NoReply<S> | Stop<A, S>

/**
 * What cast, info and continue handlers return.
 *
 * @example
 * ```ts
 * import { ExitReason, GenServer } from "effect-otp"
 *
 * const onTick = (n: number): GenServer.HandleResult<number> =>
 *   n === 0 ? GenServer.stopWith(ExitReason.normal, n) : GenServer.noReply(n - 1)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type HandleResult<S> = NoReply<S> | Stop<never, S>

/**
 * Options of a result: `continue` runs `handleContinue` with it before the next message (OTP's
 * `{continue, Term}`).
 *
 * @example
 * ```ts
 * import { GenServer } from "effect-otp"
 *
 * const options: GenServer.ContinueOption = { continue: "flush" }
 * const result = GenServer.noReply([] as ReadonlyArray<string>, options) // handleContinue("flush", state) runs next
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface ContinueOption {
  readonly continue?: unknown
}

/**
 * Replies `value` and continues with `state`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Next: Protocol.call({ success: Schema.Number }) })
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: { Next: (_, n) => Effect.succeed(GenServer.reply(n + 1, n + 1)) }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const reply = <A, S>(value: A, state: S, options?: ContinueOption): Reply<A, S> => ({
  _tag: "Reply",
  value,
  state,
  continue: options?.continue
})

/**
 * Continues with `state` without replying (from a call handler: the caller keeps waiting, to be
 * answered with {@link replyTo}, or fails with `CallTimeout`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Log = Protocol.make({
 *   Write: Protocol.cast({ payload: { line: Schema.String } }),
 *   Count: Protocol.call({ success: Schema.Number })
 * })
 * const log = GenServer.behaviour(Log)({
 *   init: () => Effect.succeed<ReadonlyArray<string>>([]),
 *   handleCall: { Count: (_, lines) => Effect.succeed(GenServer.reply(lines.length, lines)) },
 *   handleCast: { Write: ({ line }, lines) => Effect.succeed(GenServer.noReply([...lines, line])) }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const noReply = <S>(state: S, options?: ContinueOption): NoReply<S> => ({
  _tag: "NoReply",
  state,
  continue: options?.continue
})

/**
 * Stops the server with `reason` (after `terminate`); from a call handler, `replyValue` is sent to
 * the caller first. Without a reply, the caller fails with `ServerExited`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { ExitReason, GenServer, Protocol } from "effect-otp"
 *
 * const Job = Protocol.make({ Finish: Protocol.call({ success: Schema.String }) })
 * const job = GenServer.behaviour(Job)({
 *   init: () => Effect.succeed("working"),
 *   handleCall: {
 *     Finish: (_, state) => Effect.succeed(GenServer.stopWith(ExitReason.normal, state, { value: "done" }))
 *   }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const stopWith = <S, A = never>(
  reason: ExitReason.ExitReason,
  state: S,
  replyValue?: { readonly value: A }
): Stop<A, S> => ({ _tag: "Stop", reason, state, reply: replyValue })

/**
 * What `init` may return instead of a bare state: a state plus a `continue` term handled by
 * `handleContinue` before any message (OTP's `{ok, State, {continue, C}}`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Cache = Protocol.make({ Size: Protocol.call({ success: Schema.Number }) })
 * const cache = GenServer.behaviour(Cache)({
 *   init: () => Effect.succeed(new GenServer.InitContinue(new Map<string, string>(), "warm up")),
 *   handleContinue: (_, state) => Effect.succeed(GenServer.noReply(state.set("hello", "world"))),
 *   handleCall: { Size: (_, state) => Effect.succeed(GenServer.reply(state.size, state)) }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export class InitContinue<S> {
  constructor(
    readonly state: S,
    readonly continueWith: unknown
  ) {}
}

/**
 * The caller of a call, kept by a handler to answer later with {@link replyTo}. `A` and `E` are the
 * reply's success and error types; name it from the protocol with {@link FromOf}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GenServer } from "effect-otp"
 *
 * const answerAll = (callers: ReadonlyArray<GenServer.From<string>>, text: string) =>
 *   Effect.forEach(callers, (from) => GenServer.replyTo(from, text), { discard: true })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface From<A, E = never> {
  /** Phantom: the reply types. */
  readonly _From?: { readonly _A: A; readonly _E: E }
}

/**
 * The reply handle of the call `Tag` of protocol `P`, for a state that keeps callers:
 * `GenServer.FromOf<typeof Counter, "Wait">` rather than spelling out the reply types.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Gate = Protocol.make({ Wait: Protocol.call({ success: Schema.String }), Open: Protocol.cast() })
 *
 * interface State {
 *   readonly waiting: ReadonlyArray<GenServer.FromOf<typeof Gate, "Wait">>
 * }
 *
 * const gate = GenServer.behaviour(Gate)({
 *   init: () => Effect.succeed<State>({ waiting: [] }),
 *   handleCall: { Wait: (_, state, from) => Effect.succeed(GenServer.noReply({ waiting: [...state.waiting, from] })) },
 *   handleCast: {
 *     Open: (_, state) =>
 *       Effect.as(
 *         Effect.forEach(state.waiting, (from) => GenServer.replyTo(from, "open"), { discard: true }),
 *         GenServer.noReply<State>({ waiting: [] })
 *       )
 *   }
 * })
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type FromOf<P, Tag extends Protocol.CallTags<P>> = From<
  Protocol.SuccessOf<Protocol.Request<P, Tag>>,
  Protocol.ErrorOf<Protocol.Request<P, Tag>>
>

/**
 * Answers a call whose handler returned {@link noReply}. Does nothing if the call already timed
 * out, its caller was interrupted, or it was already answered.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Echo = Protocol.make({ Echo: Protocol.call({ payload: { text: Schema.String }, success: Schema.String }) })
 * const echo = GenServer.behaviour(Echo)({
 *   init: () => Effect.succeed(undefined),
 *   handleCall: { Echo: ({ text }, state, from) => Effect.as(GenServer.replyTo(from, text), GenServer.noReply(state)) }
 * })
 * ```
 *
 * @category replies
 * @since 0.1.0
 */
export const replyTo = <A, E>(from: From<A, E>, value: A): Effect.Effect<void> =>
  Effect.sync(() => (from as unknown as CallEnvelope).succeed(value))

/**
 * Fails a call whose handler returned {@link noReply} with its declared error. Does nothing if the
 * call already settled.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * class Busy extends Schema.TaggedError<Busy>()("Busy", {}) {}
 * const Job = Protocol.make({ Run: Protocol.call({ success: Schema.Void, error: Busy }) })
 * const job = GenServer.behaviour(Job)({
 *   init: () => Effect.succeed(undefined),
 *   handleCall: {
 *     Run: (_, state, from) => Effect.as(GenServer.replyToFailure(from, new Busy()), GenServer.noReply(state))
 *   }
 * })
 * ```
 *
 * @category replies
 * @since 0.1.0
 */
export const replyToFailure = <A, E>(from: From<A, E>, error: E): Effect.Effect<void> =>
  Effect.sync(() => (from as unknown as CallEnvelope).settle(Exit.fail(error)))

// ---------------------------------------------------------------------------------------------
// Behaviour
// ---------------------------------------------------------------------------------------------

/**
 * The call handlers of protocol `P`: one per call tag, each replying that call's success type and
 * failing only with its declared error.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const handlers: GenServer.CallHandlers<typeof Counter, number, never> = {
 *   Get: (_, n) => Effect.succeed(GenServer.reply(n, n))
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CallHandlers<P, S, R> = {
  readonly [Tag in Protocol.CallTags<P>]: (
    request: Protocol.Request<P, Tag>,
    state: S,
    from: FromOf<P, Tag>
  ) => Effect.Effect<
    CallResult<Protocol.SuccessOf<Protocol.Request<P, Tag>>, S>,
    Protocol.ErrorOf<Protocol.Request<P, Tag>>,
    R | CurrentProcess
  >
}

/**
 * The cast handlers of protocol `P` (a cast has no caller to fail: any failure crashes the server).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const handlers: GenServer.CastHandlers<typeof Counter, number, never> = {
 *   Reset: () => Effect.succeed(GenServer.noReply(0))
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CastHandlers<P, S, R> = {
  readonly [Tag in Protocol.CastTags<P>]: (
    request: Protocol.Request<P, Tag>,
    state: S
  ) => Effect.Effect<HandleResult<S>, never, R | CurrentProcess>
}

/**
 * The callbacks of a GenServer with protocol `P`, start arguments `Args` and state `S`, needing
 * services `R` (besides `CurrentProcess`, which every callback has). Every call tag needs a
 * handler; a cast without a handler crashes the server when it arrives. Made with
 * {@link behaviour}.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const counter: GenServer.Behaviour<typeof Counter, number, number> = GenServer.behaviour(Counter)({
 *   init: (start: number) => Effect.succeed(start),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) },
 *   handleCast: { Reset: () => Effect.succeed(GenServer.noReply(0)) }
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Behaviour<P, Args, S, R = never> {
  readonly protocol: P
  /** Builds the initial state. Runs in the server process; `start` waits for it. */
  readonly init: (args: Args, self: Pid.Pid) => Effect.Effect<S | InitContinue<S>, unknown, R | CurrentProcess>
  readonly handleCall: CallHandlers<P, S, R>
  readonly handleCast?: CastHandlers<P, S, R>
  /** Messages that are not calls or casts: timers, `Down`, `Exit` (when trapping), plain sends. */
  readonly handleInfo?: (message: unknown, state: S) => Effect.Effect<HandleResult<S>, never, R | CurrentProcess>
  /** Runs after a result with `continue`, before the next message. */
  readonly handleContinue?: (
    continueWith: unknown,
    state: S
  ) => Effect.Effect<HandleResult<S>, never, R | CurrentProcess>
  /** Runs when the server stops (see the module documentation for when it does not). */
  readonly terminate?: (reason: ExitReason.ExitReason, state: S) => Effect.Effect<void, never, R | CurrentProcess>
  /**
   * Per-message spans (`GenServer.handleCall`, `handleCast`, `handleInfo`). Default `true`; they
   * are only made when a tracer is installed. Set `false` to skip them even then.
   */
  readonly tracing?: boolean
  /**
   * A short name for the behaviour (`"cache"`, `"session"`): the `behaviour` label of its metrics
   * (`effect_otp_messages_handled_total`) and the behaviour named in its crash reports (OTP's
   * reports name the callback module). Keep the set of names small: it is a metric label.
   * Default `"gen_server"`.
   */
  readonly name?: string
  /**
   * What observers are shown of the state (OTP's `format_status`): `Observer.process` renders the
   * value this returns instead of the state itself, so that secrets can be redacted. It runs
   * outside the server process, on the observer's fiber, and must be a pure function of the state;
   * if it throws, the detail says so instead of showing the state. Without it, the state is shown
   * as it is (rendered to bounded text).
   */
  readonly formatStatus?: (state: S) => unknown
}

/**
 * Declares a GenServer behaviour for a protocol. Curried so that the protocol fixes the types of
 * your callbacks: each handler's request, reply and error types come from its declaration, and
 * the services the callbacks use (except `CurrentProcess`) become the behaviour's `R`.
 *
 * Each call handler is checked against its call: a reply or state of the wrong type, an error the
 * call does not declare, or a cast among the calls is reported on that handler as one message
 * naming the call ({@link WrongReplyType}, {@link WrongStateType}, {@link UndeclaredError},
 * {@link NotACall}).
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
 * @category constructors
 * @since 0.1.0
 */
export const behaviour =
  <P>(protocol: P) =>
  <Args, S, R = never, Results extends Record<Protocol.CallTags<P>, unknown> = Record<Protocol.CallTags<P>, unknown>>(
    callbacks: Omit<Callbacks<P, Args, S, R>, "handleCall"> & {
      readonly handleCall: CheckedCallHandlers<P, S, Results>
    }
  ): Behaviour<P, Args, S, Exclude<R, CurrentProcess> | ResultServices<Results>> =>
    ({ ...callbacks, protocol }) as unknown as Behaviour<
      P,
      Args,
      S,
      Exclude<R, CurrentProcess> | ResultServices<Results>
    >

/**
 * The call handlers {@link behaviour} accepts: one per call tag, each given the request, state and
 * reply handle of its call; `Results` are what they return, each checked against the call's
 * declaration (see {@link CheckCallResult}), so that a mistake is reported in terms of the call.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * // What GenServer.behaviour checks its handleCall against: here, Get must reply a number.
 * type Results = { Get: Effect.Effect<GenServer.Reply<number, number>> }
 * type Handlers = GenServer.CheckedCallHandlers<typeof Counter, number, Results>
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type CheckedCallHandlers<P, S, Results> = {
  readonly [Tag in keyof Results]: Tag extends Protocol.CallTags<P>
    ? (request: Protocol.Request<P, Tag>, state: S, from: FromOf<P, Tag>) => CheckCallResult<P, S, Tag, Results[Tag]>
    : NotACall<P, S, Tag>
}

/** The services the results of call handlers need (`CurrentProcess` is the server's own). */
type ResultServices<Results> = Exclude<
  { [K in keyof Results]: Results[K] extends Effect.Effect<infer _A, infer _E, infer R> ? R : never }[keyof Results],
  CurrentProcess
>

/**
 * What the compiler reports when a call handler replies a type its declaration does not:
 * `declared` is the call's success type, `replied` what the handler replies. (A string type no
 * handler returns: it appears only in compile errors.)
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: {
 *     // @ts-expect-error Type 'Effect<Reply<string, number>, never, never>' is not assignable to type
 *     // 'WrongReplyType<"Get", { readonly declared: number; readonly replied: string; }>'.
 *     Get: (_, n) => Effect.succeed(GenServer.reply(String(n), n))
 *   }
 * })
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type WrongReplyType<
  Tag extends string,
  Types extends { readonly declared: unknown; readonly replied: unknown }
> = `${Tag} replies a value of another type than its declared success` & { readonly "~types"?: Types }

/**
 * What the compiler reports when a call handler continues with a state of another type than the
 * server's (`declared`, from `init`). (A string type no handler returns: it appears only in
 * compile errors.)
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: {
 *     // @ts-expect-error Type 'Effect<Reply<number, string>, never, never>' is not assignable to type
 *     // 'WrongStateType<"Get", { readonly declared: number; readonly returned: string; }>'.
 *     Get: (_, n) => Effect.succeed(GenServer.reply(n, String(n)))
 *   }
 * })
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type WrongStateType<
  Tag extends string,
  Types extends { readonly declared: unknown; readonly returned: unknown }
> = `${Tag} continues with a state of another type than the server's` & { readonly "~types"?: Types }

/**
 * What the compiler reports when a call handler fails with an error its declaration does not list:
 * `declared` is the call's error type, `undeclared` the failures that are not part of it. Declare
 * them in the protocol (`Protocol.call({ error })`), or handle them: an undeclared failure would
 * crash the server. (A string type no handler returns: it appears only in compile errors.)
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {}) {}
 * const Fetch = Protocol.make({ Get: Protocol.call({ success: Schema.String }) })
 *
 * const fetcher = GenServer.behaviour(Fetch)({
 *   init: () => Effect.succeed(undefined),
 *   handleCall: {
 *     // @ts-expect-error Type 'Effect<never, Timeout, never>' is not assignable to type
 *     // 'UndeclaredError<"Get", { readonly declared: never; readonly undeclared: Timeout; }>'.
 *     Get: () => Effect.fail(new Timeout())
 *   }
 * })
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type UndeclaredError<
  Tag extends string,
  Types extends { readonly declared: unknown; readonly undeclared: unknown }
> = `${Tag} fails with an error its declaration does not list` & { readonly "~types"?: Types }

/**
 * What the compiler reports for a `handleCall` entry whose tag is not a call of the protocol (a
 * cast, or a typo).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: {
 *     Get: (_, n) => Effect.succeed(GenServer.reply(n, n)),
 *     // @ts-expect-error Type 'Effect<NoReply<number>, never, never>' is not assignable to type
 *     // '"Reset is a cast: handle it in handleCast"'.
 *     Reset: (_, n) => Effect.succeed(GenServer.noReply(n))
 *   }
 * })
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type NotACall<P, S, Tag> = (
  request: never,
  state: S,
  from: never
) => Tag extends Protocol.CastTags<P>
  ? `${Tag & string} is a cast: handle it in handleCast`
  : `${Tag & string} is not a call of the protocol`

type ReplyValueOf<Res> = Res extends Reply<infer A, infer _S> ? A : Res extends Stop<infer A, infer _S> ? A : never

/**
 * What the handler of call `Tag` may return, given that it returns `Result`: `Result` itself when
 * it matches the declaration, otherwise a type that names the mistake ({@link WrongReplyType},
 * {@link WrongStateType}, {@link UndeclaredError}), which is what the compiler then reports.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * type Ok = GenServer.CheckCallResult<typeof Counter, number, "Get", Effect.Effect<GenServer.Reply<number, number>>>
 * type Wrong = GenServer.CheckCallResult<typeof Counter, number, "Get", Effect.Effect<GenServer.Reply<string, number>>>
 * // Wrong is WrongReplyType<"Get", { declared: number; replied: string }>
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type CheckCallResult<P, S, Tag extends Protocol.CallTags<P>, Result> = [Result] extends [
  Effect.Effect<infer Res, infer Err, infer _R>
]
  ? [ReplyValueOf<Res>] extends [Protocol.SuccessOf<Protocol.Request<P, Tag>>]
    ? [Res] extends [{ readonly state: S }]
      ? [Err] extends [Protocol.ErrorOf<Protocol.Request<P, Tag>>]
        ? Result
        : UndeclaredError<
            Tag,
            {
              readonly declared: Protocol.ErrorOf<Protocol.Request<P, Tag>>
              readonly undeclared: Exclude<Err, Protocol.ErrorOf<Protocol.Request<P, Tag>>>
            }
          >
      : WrongStateType<Tag, { readonly declared: S; readonly returned: StateOf<Res> }>
    : WrongReplyType<
        Tag,
        { readonly declared: Protocol.SuccessOf<Protocol.Request<P, Tag>>; readonly replied: ReplyValueOf<Res> }
      >
  : Effect.Effect<
      CallResult<Protocol.SuccessOf<Protocol.Request<P, Tag>>, S>,
      Protocol.ErrorOf<Protocol.Request<P, Tag>>,
      unknown
    >

type StateOf<Res> = Res extends { readonly state: infer S } ? S : never

/**
 * The callbacks part of a {@link Behaviour} (everything but the protocol).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const callbacks: GenServer.Callbacks<typeof Counter, number, number> = {
 *   init: (start) => Effect.succeed(start),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Callbacks<P, Args, S, R = never> = Omit<Behaviour<P, Args, S, R>, "protocol">

// ---------------------------------------------------------------------------------------------
// Starting and stopping
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link start} and {@link startLink}.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const options: GenServer.StartOptions<typeof Counter> = {
 *   name: GenServer.name("counter", Counter),
 *   timeout: "2 seconds",
 *   trapExit: true,
 *   mailboxCapacity: 1000
 * }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface StartOptions<P = unknown> extends SpawnOptions {
  /**
   * Register the server under this local name before `init` runs; `start` fails with `NameTaken`
   * if it is taken. A name made with {@link name} must be of the server's protocol.
   */
  readonly name?: NameFor<P> | undefined
  /**
   * How long `start` waits for `init`: a `Duration.Input` (a number is milliseconds). Default 5
   * seconds; on expiry the server is killed and `start` fails with `InitFailed`. `Infinity` waits
   * forever.
   */
  readonly timeout?: Duration.Input | undefined
}

const DEFAULT_START_TIMEOUT = 5000

/** Milliseconds of an optional duration (a number is milliseconds). */
const millisOf = (input: Duration.Input | undefined, otherwise: number): number =>
  input === undefined ? otherwise : typeof input === "number" ? input : toMillis(input)

const startServer = <P, Args, S, R>(
  runtime: Runtime,
  fiber: Fiber.Fiber<unknown, unknown>,
  definition: Behaviour<P, Args, S, R>,
  args: Args,
  options: StartOptions<P> | undefined,
  linkTo: Cell | undefined
): Effect.Effect<ServerPid<P>, InitFailed | NameTaken> =>
  Effect.callback<ServerPid<P>, InitFailed | NameTaken>((resume) => {
    const starter = new Starter(resume as (effect: Effect.Effect<Pid.Pid, InitFailed | NameTaken>) => void, linkTo)
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
    return starter.arm(millisOf(options?.timeout, DEFAULT_START_TIMEOUT))
  })

/**
 * Starts a GenServer process (not linked) and waits for its `init`. Resolves to the server's pid,
 * typed by its protocol. Fails with `InitFailed` when `init` fails, dies or outlives the start
 * timeout (the process has then exited), and with `NameTaken` when the name is taken.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, ProcessRuntime, Protocol } from "effect-otp"
 *
 * const Echo = Protocol.make({ Echo: Protocol.call({ payload: { text: Schema.String }, success: Schema.String }) })
 * const echo = GenServer.behaviour(Echo)({
 *   init: () => Effect.succeed(undefined),
 *   handleCall: { Echo: ({ text }, state) => Effect.succeed(GenServer.reply(text, state)) }
 * })
 *
 * const program = Effect.gen(function*() {
 *   const pid = yield* GenServer.start(echo, undefined, { timeout: "2 seconds" })
 *   return yield* GenServer.call(pid, Echo.Echo({ text: "hi" }))
 * })
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const start = <P, Args, S, R>(
  definition: Behaviour<P, Args, S, R>,
  args: Args,
  options?: StartOptions<NoInfer<P>>
): Effect.Effect<ServerPid<P>, InitFailed | NameTaken, R | ProcessRuntime> =>
  withRuntime((runtime, fiber) =>
    tracedSpawn(
      fiber,
      runtime.node,
      definition.name ?? "gen_server",
      options?.name,
      (inner) => startServer(runtime, inner, definition, args, options, undefined),
      (pid) => pid
    )
  )

/**
 * Starts a GenServer linked to the current process (which must be a process: otherwise it fails
 * with `NotAProcess`) and waits for its `init`. If `init` fails, the link is removed before the
 * server exits: the caller gets `InitFailed` rather than an exit signal. The usual start of a
 * supervised server (see `ChildSpec.genServer`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Process, Protocol } from "effect-otp"
 *
 * const Worker = Protocol.make({ Ping: Protocol.call({ success: Schema.String }) })
 * const worker = GenServer.behaviour(Worker)({
 *   init: () => Effect.succeed(undefined),
 *   handleCall: { Ping: (_, state) => Effect.succeed(GenServer.reply("pong", state)) }
 * })
 *
 * const parent = Process.spawn((self) =>
 *   Effect.gen(function*() {
 *     const child = yield* GenServer.startLink(worker, undefined)
 *     yield* GenServer.call(child, Worker.Ping())
 *     yield* self.receive
 *   })
 * )
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const startLink = <P, Args, S, R>(
  definition: Behaviour<P, Args, S, R>,
  args: Args,
  options?: StartOptions<NoInfer<P>>
): Effect.Effect<ServerPid<P>, InitFailed | NameTaken | NotAProcess, R | ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const parent = runtime.current(fiber)
    if (parent === undefined) return Effect.fail(new NotAProcess({ operation: "GenServer.startLink" }))
    return tracedSpawn(
      fiber,
      runtime.node,
      definition.name ?? "gen_server",
      options?.name,
      (inner) => startServer(runtime, inner, definition, args, options, parent),
      (pid) => pid
    )
  })

/**
 * Stops a server: it runs `terminate(reason)` and exits with `reason`. Waits at most `timeout` (a
 * `Duration.Input`, a number is milliseconds; default: infinite); past it the server is killed and
 * `stop` fails with `CallTimeout`. Succeeds once the server has exited, whatever its final reason.
 * Fails with `NoProcess` if the server is not alive. Works on servers of other nodes too (by pid or
 * `RemoteName`): the timeout is then kept by the server's node, and `stop` fails with `NodeDown` if
 * the link to it is lost first, or with `CallTimeout` (after `timeout` + 2 s) if that node never
 * answers; the server may then have stopped all the same.
 * Stopping a process that is not a GenServer is a defect.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { ExitReason, GenServer, Protocol } from "effect-otp"
 *
 * const Job = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const job = GenServer.behaviour(Job)({
 *   init: () => Effect.succeed(0),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) },
 *   terminate: (reason) => Effect.log(`stopping: ${ExitReason.format(reason)}`)
 * })
 *
 * const program = Effect.gen(function*() {
 *   const pid = yield* GenServer.start(job, undefined)
 *   yield* GenServer.stop(pid, ExitReason.shutdown(), "5 seconds")
 * })
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const stop = (
  target: Target,
  reason: ExitReason.ExitReason = ExitReason.normal,
  timeout?: Duration.Input
): Effect.Effect<void, NoProcess | CallTimeout | NodeDown, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const timeoutMs = timeout === undefined ? undefined : millisOf(timeout, Infinity)
    target = runtime.resolveGlobal(target)
    const remote = asRemote(runtime.node, target)
    if (remote !== undefined) {
      const bridge = runtime.remote
      if (bridge === undefined) return Effect.fail(new NodeDown({ node: remote.node, reason: "not connected" }))
      // A `GenServer.stop` CLIENT span; the server's node makes the SERVER span, its child.
      return tracedOperation(
        fiber,
        true,
        (span) => bridge.stop(remote, reason, timeoutMs, span),
        "GenServer.stop",
        "client",
        () => clientAttributes("GenServer.stop", runtime.node, target, remote.node)
      )
    }
    const cell = runtime.resolve(target)
    if (cell === undefined || !cell.alive) return Effect.fail(new NoProcess({ target: String(target) }))
    if (cell.behaviour === undefined) return Effect.die(notAServer(cell.pid))
    return Effect.callback<void, CallTimeout>((resume) => {
      const cancel = stopServer(runtime, cell, reason, timeoutMs, (timedOut) =>
        resume(
          timedOut
            ? Effect.fail(new CallTimeout({ server: String(cell.pid), request: "stop", timeoutMs: timeoutMs! }))
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
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const options: GenServer.CallOptions = { timeout: "500 millis" }
 * const read = GenServer.call("counter", Counter.Get(), options)
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface CallOptions {
  /**
   * How long to wait for the reply: a `Duration.Input` (a number is milliseconds). Default 5
   * seconds. `Infinity` waits forever.
   */
  readonly timeout?: Duration.Input | undefined
}

const DEFAULT_CALL_TIMEOUT = 5000

const startCall = (
  cell: Cell,
  request: Protocol.AnyCallRequest,
  timeout: number,
  span: Tracer.AnySpan | undefined
): Effect.Effect<unknown, unknown> =>
  Effect.callback<unknown, unknown>((resume) => {
    const envelope = new CallEnvelope(request, cell.pid, resume, span, exitedError)
    const runtime = cell.runtime
    envelope.stats = runtime.stats.calls
    envelope.startedAt = runtime.stats.calls.started(runtime.timers.now)
    envelope.now = runtime.timers.now
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
 * protocol declaration. On a typed reference (the pid `start` returned, a {@link name}, a typed
 * `RemoteName`), only the calls of that protocol compile.
 *
 * Fails with `CallTimeout` after `timeout` (default 5 s; a later reply is dropped), `NoProcess`
 * when the server is dead or the name unknown, `ServerExited` when it exits (crashes) before
 * replying, `MailboxFull` when its mailbox is full and its policy is `fail`, or the handler's
 * declared error. A call to a server on another node also fails with `NodeDown` the moment that
 * node is declared down (or at once when it is not connected), and with `RemoteDecodeError` when
 * the request or reply does not match its schema. A remote call is a message in the server's
 * mailbox: toward a full one it waits for credit like a cast (within its timeout), or fails with
 * `MailboxFull` (policy `fail`). A server calling itself is a defect.
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
 * const read = GenServer.call("counter", Counter.Get(), { timeout: "1 second" })
 * //    ^? Effect<number, CallError, ProcessRuntime>
 * ```
 *
 * @category messaging
 * @since 0.1.0
 */
export const call = <T extends Target, Req extends Protocol.AnyCallRequest | Protocol.AnyCastRequest>(
  target: T,
  request: CallRequestFor<T, Req>,
  options?: CallOptions
): Effect.Effect<Protocol.SuccessOf<Req>, Protocol.ErrorOf<Req> | CallError, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const message = request as Protocol.AnyCallRequest
    const timeout = millisOf(options?.timeout, DEFAULT_CALL_TIMEOUT)
    const resolved = runtime.resolveGlobal<Target>(target)
    const remote = asRemote(runtime.node, resolved)
    let start: (span: Tracer.AnySpan | undefined) => Effect.Effect<unknown, unknown>
    if (remote !== undefined) {
      const bridge = runtime.remote
      if (bridge === undefined) return Effect.fail(new NodeDown({ node: remote.node, reason: "not connected" }))
      start = (span) => bridge.call(remote, message, timeout, span)
    } else {
      const cell = runtime.resolve(resolved)
      if (cell === undefined) return Effect.fail(new NoProcess({ target: String(target) }))
      if (runtime.current(fiber) === cell) {
        return Effect.die(new Error(`${cell.pid} called itself (${message._tag}): that call could never be answered`))
      }
      start = (span) => startCall(cell, message, timeout, span)
    }
    const parent = parentSpanOf(fiber)
    const decision = decide(fiber.context as Context.Context<never>, parent, remote !== undefined)
    if (decision === "none") return start(undefined)
    // An unsampled trace: no span, but its context goes on (to another node: sampled flag unset).
    if (decision === "propagate") return start(parent)
    const method = methodOf(message)
    // A root is sampled first: a dropped one makes no span, only its unsampled context goes on.
    const root =
      parent === undefined ? sampleRoot(fiber.context as Context.Context<never>, method, "client") : undefined
    if (root?._tag === "Dropped") return start(root.span)
    return outgoingSpan(
      method,
      "client",
      clientAttributes(method, runtime.node, target, remote?.node),
      root?.annotations,
      start
    )
  }) as Effect.Effect<Protocol.SuccessOf<Req>, Protocol.ErrorOf<Req> | CallError, ProcessRuntime>

/**
 * Sends a cast (fire and forget). On a typed reference, only the casts of its protocol compile.
 * A cast to a dead pid is dropped, as in OTP; to an unknown local name it fails with `NoProcess`.
 * A full mailbox suspends the sender or fails with `MailboxFull`, according to the server's
 * overflow policy. A cast to another node is dropped when that node is unreachable, and fails
 * with `MessageTooLarge` (nothing sent, the link stays up) when it is larger than that node accepts.
 * Toward a full mailbox there, the sender is held back by per-process credit: it waits while 4,096
 * of its node's messages to that server are not yet in the mailbox (policy `suspend`), or fails with
 * `MailboxFull` once the server's node reports its mailbox full (policy `fail`).
 * Locally, a cast to a server waiting for a message is handled at once, on the caster's stack;
 * the casts that follow it before the caster's stack unwinds are queued in order and handled in
 * one run of the server once it unwinds (a burst costs the server one wake-up, not one per cast).
 * So when the caster, on that same stack, kills the server or sends it an exit signal it does not
 * trap, the casts after the first are not handled: they are still in the mailbox and are dropped
 * with it as undeliverable (as in Erlang, where a cast is only queued). `Process.send` and calls
 * are always handed over at once, even to a server in such a burst.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Log = Protocol.make({ Write: Protocol.cast({ payload: { line: Schema.String } }) })
 * const write = GenServer.cast(GenServer.name("log", Log), Log.Write({ line: "started" }))
 * ```
 *
 * @category messaging
 * @since 0.1.0
 */
export const cast = <T extends Target, Req extends Protocol.AnyCallRequest | Protocol.AnyCastRequest>(
  target: T,
  request: CastRequestFor<T, Req>
): Effect.Effect<void, NoProcess | MailboxFull | MessageTooLarge, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const message = request as Protocol.AnyCastRequest
    const resolved = runtime.resolveGlobal<Target>(target)
    const remote = asRemote(runtime.node, resolved)
    const context = fiber.context as Context.Context<never>
    const parent = parentSpanOf(fiber)
    const decision = decide(context, parent, remote !== undefined)
    // A root is sampled first: a dropped one makes no span, only its unsampled context goes on.
    const root =
      decision === "span" && parent === undefined
        ? sampleRoot(context, `send ${destinationOf(target)}`, "producer")
        : undefined
    const dropped = root?._tag === "Dropped" ? root.span : undefined
    const annotations = root?._tag === "Kept" ? root.annotations : undefined
    if (remote !== undefined) {
      const bridge = runtime.remote
      if (bridge === undefined) return Effect.void
      if (decision !== "span") return bridge.cast(remote, message, decision === "none" ? undefined : parent)
      if (dropped !== undefined) return bridge.cast(remote, message, dropped)
      return tracedSend(message, runtime.node, target, remote.node, annotations, (span) =>
        bridge.cast(remote, message, span)
      )
    }
    const cell = runtime.resolve(resolved)
    if (cell === undefined) return noLocalProcess(resolved)
    if (decision !== "span") return castTo(cell, message)
    if (dropped !== undefined) {
      return castTo(cell, cell.behaviour === undefined ? message : new TracedCast(message, dropped, false))
    }
    return tracedSend(message, runtime.node, target, undefined, annotations, (span) =>
      castTo(cell, cell.behaviour === undefined ? message : new TracedCast(message, span, false))
    )
  })

/** A cast inside a `send` PRODUCER span; `send` gets that span to hand to the receiver. */
const tracedSend = <E>(
  message: Protocol.AnyCastRequest,
  node: string,
  target: unknown,
  peer: string | undefined,
  annotations: Context.Context<never> | undefined,
  send: (span: Tracer.AnySpan) => Effect.Effect<void, E>
): Effect.Effect<void, E> => {
  const method = methodOf(message)
  return outgoingSpan(
    `send ${destinationOf(target)}`,
    "producer",
    producerAttributes(method, node, target, peer),
    annotations,
    send
  )
}

/**
 * The pid of the server whose callback is running. Cannot fail: it needs `CurrentProcess`, which
 * only a process has (outside one, the missing service is a compile error). In a fiber forked by a
 * callback, it is the server's pid too.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Who = Protocol.make({ Whoami: Protocol.call({ success: Schema.String }) })
 * const who = GenServer.behaviour(Who)({
 *   init: () => Effect.succeed(undefined),
 *   handleCall: { Whoami: (_, state) => Effect.map(GenServer.self, (pid) => GenServer.reply(String(pid), state)) }
 * })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const self: Effect.Effect<Pid.Pid, never, CurrentProcess> = CurrentProcessModule.pid
