/**
 * The child side of a handoff: a GenServer behaviour wrapped so that its instance can give its
 * state away and the next instance can start from it, with the messages in between carried over.
 *
 * The old instance, told `Freeze` (a message, so every call and cast before it is handled first),
 * sends its state (encoded by the declared Schema) to whoever asked and then holds every later
 * message; told `ForwardTo`, it forwards those held and every later one, in order, to the new
 * instance (calls are answered through it: the new instance sends the reply back and the old one
 * replies to the caller); told `Release`, it sends `End` and stops (`normal`) once the calls it
 * forwarded are answered. `Thaw` (the move failed) makes it handle what it held and run on.
 *
 * The new instance starts from the carried state in `receiving` mode: it handles what the old one
 * forwards, in order, and keeps the calls and casts that reach it directly (by the global name,
 * once it moved) until `End`, then handles those in their order. So each sender's messages are
 * handled in the order it sent them, once each.
 *
 * @internal
 */
import { type Context, Effect, Exit, Schema } from "effect"
import type { CurrentProcess } from "../../Process/CurrentProcess.ts"
import * as ExitReason from "../../Process/ExitReason.ts"
import * as GenServer from "../../Process/GenServer.ts"
import { Pid } from "../../Process/Pid.ts"
import * as Process from "../../Process/Process.ts"
import type { ProcessRuntime } from "../../Process/ProcessRuntime.ts"
import * as Protocol from "../../Process/Protocol.ts"
import * as Signal from "../../Process/Signal.ts"
import { codecsOf, describe } from "./protocolCodec.ts"

const prefix = "effect-otp/handoff/"

export const StartTag = `${prefix}Start`

/** How the handoff of a behaviour is declared (see `DistributedSupervisor.defineHandoff`). */
export interface HandoffDeclaration<S, C, R> {
  readonly state: Schema.Codec<C, unknown>
  readonly handoff?: ((state: S) => C) | undefined
  readonly resume?: ((carried: C, self: Pid) => Effect.Effect<S, unknown, R | CurrentProcess>) | undefined
}

/** What the supervisor reads on a handoff-capable behaviour spec. */
export interface HandoffSupport {
  readonly state: Schema.Codec<unknown, unknown>
  /** The start arguments of an instance that takes over `from` with `state` (decoded). */
  readonly startArgs: (state: unknown, from: Pid) => unknown
}

export const HandoffTypeId: unique symbol = Symbol.for("effect-otp/DistributedSupervisor/Handoff")

export const supportOf = (spec: object): HandoffSupport | undefined =>
  (spec as { readonly [HandoffTypeId]?: HandoffSupport })[HandoffTypeId]

const encodePid = Schema.encodeSync(Pid)
const decodePid = Schema.decodeUnknownSync(Pid)

// Control messages (plain data: they cross nodes as they are).
export const freeze = (ref: string, replyTo: Pid) => ({ _tag: `${prefix}Freeze`, ref, replyTo: encodePid(replyTo) })
export const forwardTo = (to: Pid) => ({ _tag: `${prefix}ForwardTo`, to: encodePid(to) })
export const thaw = { _tag: `${prefix}Thaw` }
export const release = { _tag: `${prefix}Release` }

/** The old instance's answer to `Freeze`. */
export type Frozen =
  | { readonly _tag: `${typeof prefix}Frozen`; readonly ref: string; readonly ok: true; readonly state: unknown }
  | { readonly _tag: `${typeof prefix}Frozen`; readonly ref: string; readonly ok: false; readonly detail: string }

export const isFrozen = (message: unknown): message is Frozen => tagOf(message) === `${prefix}Frozen`

const tagOf = (message: unknown): unknown =>
  typeof message === "object" && message !== null ? (message as { readonly _tag?: unknown })._tag : undefined

type Held =
  | {
      readonly kind: "call"
      readonly request: Protocol.AnyCallRequest
      readonly from: GenServer.From<unknown, unknown>
    }
  | { readonly kind: "cast"; readonly request: Protocol.AnyCastRequest }
  | { readonly kind: "info"; readonly message: unknown }
  /** A `Freeze` that reached a new instance while it was still receiving: answered at `End`, in its place. */
  | { readonly kind: "freeze"; readonly message: unknown }

/** A held call, cast or other message (what is handled or forwarded). */
type Message = Exclude<Held, { readonly kind: "freeze" }>

/** What a holding instance held (a `Freeze` is only kept while receiving, and answered at `End`). */
const messagesOf = (held: ReadonlyArray<Held>): Array<Message> =>
  held.filter((item): item is Message => item.kind !== "freeze")

/** A forwarded message as it crosses the wire. */
type Wire =
  | { readonly kind: "call"; readonly tag: string; readonly payload: unknown; readonly id: number }
  | { readonly kind: "cast"; readonly tag: string; readonly payload: unknown }
  | { readonly kind: "info"; readonly message: unknown }
  | { readonly kind: "end" }

interface Forwarded {
  readonly _tag: `${typeof prefix}Forwarded`
  readonly item: Wire
}

interface ReplyMessage {
  readonly _tag: `${typeof prefix}Reply`
  readonly id: number
  readonly ok: boolean
  readonly value: unknown
}

const DrainNow = { _tag: `${prefix}DrainNow` }
/** Tagged with the hold it ends: a stale one (of a hold that ended, the move failed) does nothing. */
const holdTimeout = (hold: number) => ({ _tag: `${prefix}HoldTimeout`, hold })
/** How long a frozen instance holds messages at most before it runs on by itself (the mover is gone). */
const HOLD_CAP_MS = 60_000
/** How long a released instance waits at most for the replies to the calls it forwarded. */
const RELEASE_CAP_MS = 30_000

/** The wrapped server's state. */
export class Box<S> {
  mode: "running" | "holding" | "forwarding" | "receiving" = "running"
  held: Array<Held> = []
  to: Pid | undefined = undefined
  readonly pending = new Map<
    number,
    { readonly from: GenServer.From<unknown, unknown>; readonly spec: Protocol.AnySpec }
  >()
  nextId = 1
  /** The number of the current (or last) hold, and the timer that ends it. */
  holds = 0
  holdTimer: Process.TimerRef | undefined = undefined
  releasing = false
  /** The old instance (in the new one, while receiving), and the monitor of it. */
  from: Pid | undefined = undefined
  watch: Signal.MonitorRef | undefined = undefined
  /** The process's services (the new instance): a forwarded call's reply may be sent outside a handler. */
  context: Context.Context<ProcessRuntime> | undefined = undefined
  constructor(public user: S) {}
}

type AnyBehaviour = GenServer.Behaviour<unknown, unknown, unknown, unknown>
type Services = ProcessRuntime | CurrentProcess
type Run<A> = Effect.Effect<A, never, Services>

const specsOf = (protocol: unknown): Record<string, Protocol.AnySpec> =>
  (protocol as { readonly [Protocol.SpecTypeId]: Record<string, Protocol.AnySpec> })[Protocol.SpecTypeId]

/**
 * `behaviour` wrapped for handoff, and the start-arguments schema that also accepts a handed-off
 * start (`{ _tag: StartTag, state, from }`, tried first).
 */
export const wrap = <S, C, R>(
  behaviour: AnyBehaviour,
  args: Schema.Codec<unknown, unknown>,
  declaration: HandoffDeclaration<S, C, R>
): {
  readonly behaviour: AnyBehaviour
  readonly args: Schema.Codec<unknown, unknown>
  readonly support: HandoffSupport
} => {
  const protocol = behaviour.protocol
  const specs = specsOf(protocol)
  const constructors = protocol as Record<string, (payload?: object) => object>
  const HandoffStart = Schema.Struct({ _tag: Schema.Literal(StartTag), state: declaration.state, from: Pid })
  const startArgs = Schema.Union([HandoffStart, args]) as unknown as Schema.Codec<unknown, unknown>
  const user = behaviour as unknown as {
    readonly handleCall: Record<
      string,
      (
        request: unknown,
        state: unknown,
        from: unknown
      ) => Effect.Effect<GenServer.CallResult<unknown, unknown>, unknown, Services>
    >
    readonly handleCast?: Record<
      string,
      (request: unknown, state: unknown) => Effect.Effect<GenServer.HandleResult<unknown>, never, Services>
    >
    readonly handleInfo?: (
      message: unknown,
      state: unknown
    ) => Effect.Effect<GenServer.HandleResult<unknown>, never, Services>
    readonly handleContinue?: (
      c: unknown,
      state: unknown
    ) => Effect.Effect<GenServer.HandleResult<unknown>, never, Services>
    readonly terminate?: (reason: ExitReason.ExitReason, state: unknown) => Effect.Effect<void, never, Services>
  }

  /** Runs `handleContinue` inline (between the messages a batch handles). */
  const continued = (
    box: Box<unknown>,
    result: { readonly _tag: string; readonly continue?: unknown; readonly state: unknown }
  ): Run<GenServer.HandleResult<Box<unknown>> | undefined> =>
    Effect.suspend(() => {
      box.user = result.state
      if (result._tag === "Stop") {
        const stop = result as GenServer.Stop<unknown, unknown>
        return Effect.succeed(GenServer.stopWith(stop.reason, box))
      }
      if (result.continue === undefined || user.handleContinue === undefined) return Effect.succeed(undefined)
      return Effect.flatMap(user.handleContinue(result.continue, box.user), (next) => continued(box, next))
    })

  /** Handles one message with the user's callbacks (outside their normal dispatch). */
  const handleOne = (box: Box<unknown>, item: Message): Run<GenServer.HandleResult<Box<unknown>> | undefined> => {
    if (item.kind === "cast") {
      const handler = user.handleCast?.[item.request._tag]
      if (handler === undefined) return Effect.die(new Error(`no handler for the cast ${item.request._tag}`))
      return Effect.flatMap(handler(item.request, box.user), (result) => continued(box, result))
    }
    if (item.kind === "info") {
      if (user.handleInfo === undefined) return Effect.succeed(undefined)
      return Effect.flatMap(user.handleInfo(item.message, box.user), (result) => continued(box, result))
    }
    const handler = user.handleCall[item.request._tag]!
    const from = item.from
    return Effect.matchEffect(handler(item.request, box.user, from), {
      onFailure: (error) => Effect.as(GenServer.replyToFailure(from, error), undefined),
      onSuccess: (result) =>
        Effect.andThen(
          result._tag === "Reply"
            ? GenServer.replyTo(from, result.value)
            : result._tag === "Stop" && result.reply !== undefined
              ? GenServer.replyTo(from, result.reply.value)
              : Effect.void,
          continued(box, result)
        )
    })
  }

  /** Handles `items` in order; stops at a `Stop`. */
  const handleAll = (box: Box<unknown>, items: ReadonlyArray<Message>): Run<GenServer.HandleResult<Box<unknown>>> =>
    Effect.gen(function* () {
      for (const item of items) {
        const stop = yield* handleOne(box, item)
        if (stop !== undefined) return stop
      }
      return GenServer.noReply(box)
    })

  /** A forwarded call's reply handle: the reply goes back to the old instance. */
  const remoteFrom = (
    box: Box<unknown>,
    old: Pid,
    id: number,
    spec: Protocol.AnySpec
  ): GenServer.From<unknown, unknown> => {
    const codecs = codecsOf(spec)
    let settled = false
    const answer = (ok: boolean, value: unknown) => {
      if (settled) return
      settled = true
      let encoded: unknown
      try {
        encoded = ok ? codecs.encodeSuccess(value) : codecs.encodeError(value)
      } catch (error) {
        ok = false
        encoded = { _tag: "HandoffReplyEncodeError", detail: describe(error) }
      }
      const message: ReplyMessage = { _tag: `${prefix}Reply`, id, ok, value: encoded }
      Effect.runFork(Effect.ignore(Process.send(old, message)).pipe(Effect.provideContext(box.context!)))
    }
    return {
      succeed: (value: unknown) => answer(true, value),
      settle: (exit: Exit.Exit<unknown, unknown>) => {
        if (Exit.isSuccess(exit)) return answer(true, exit.value)
        const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
        answer(false, failure === undefined ? undefined : (failure as { readonly error: unknown }).error)
      }
    } as unknown as GenServer.From<unknown, unknown>
  }

  const toWire = (box: Box<unknown>, item: Message): Wire => {
    if (item.kind === "info") return { kind: "info", message: item.message }
    const spec = specs[item.request._tag]!
    const payload = codecsOf(spec).encodePayload(item.request)
    if (item.kind === "cast") return { kind: "cast", tag: item.request._tag, payload }
    const id = box.nextId++
    box.pending.set(id, { from: item.from, spec })
    return { kind: "call", tag: item.request._tag, payload, id }
  }

  const forward = (box: Box<unknown>, items: ReadonlyArray<Message>): Run<void> =>
    Effect.forEach(
      items,
      (item) =>
        Effect.ignore(
          Process.send(box.to!, { _tag: `${prefix}Forwarded`, item: toWire(box, item) } satisfies Forwarded)
        ),
      { discard: true }
    )

  /** A message while not running: held, forwarded, or kept until `End`. */
  const divert = (box: Box<unknown>, item: Message): Run<void> => {
    if (box.mode === "forwarding") return forward(box, [item])
    return Effect.sync(() => void box.held.push(item))
  }

  const finishIfReleased = (box: Box<unknown>): GenServer.HandleResult<Box<unknown>> =>
    box.releasing && box.pending.size === 0 ? GenServer.stopWith(ExitReason.normal, box) : GenServer.noReply(box)

  /**
   * The old instance stopped forwarding (or is gone): what reached this one directly, in order. A
   * `Freeze` among them (the next handoff began while this instance still received) is answered in
   * its place: what came before it is in the state it gives, what came after is held for the next
   * instance.
   */
  const endReceiving = (box: Box<unknown>): Run<GenServer.HandleResult<Box<unknown>>> =>
    Effect.gen(function* () {
      if (box.watch !== undefined) yield* Effect.ignore(Process.demonitor(box.watch, { flush: true }))
      box.watch = undefined
      box.mode = "running"
      const kept = box.held
      box.held = []
      for (const item of kept) {
        if (item.kind === "freeze") {
          yield* freezeNow(box, item.message)
          continue
        }
        if (box.mode !== "running") {
          yield* divert(box, item)
          continue
        }
        const stop = yield* handleOne(box, item)
        if (stop !== undefined) return stop
      }
      return GenServer.noReply(box)
    })

  /** Answers a `Freeze`: the state, then holds what comes next (a second one while not running: refused). */
  const freezeNow = (box: Box<unknown>, message: unknown): Run<void> =>
    Effect.gen(function* () {
      const { ref, replyTo } = message as { ref: string; replyTo: unknown }
      let answer: Frozen
      if (box.mode !== "running") {
        answer = { _tag: `${prefix}Frozen`, ref, ok: false, detail: `already handing off (${box.mode})` }
      } else {
        try {
          const carried = declaration.handoff === undefined ? box.user : declaration.handoff(box.user as S)
          answer = {
            _tag: `${prefix}Frozen`,
            ref,
            ok: true,
            state: Schema.encodeSync(declaration.state)(carried as C)
          }
        } catch (error) {
          answer = { _tag: `${prefix}Frozen`, ref, ok: false, detail: describe(error) }
        }
      }
      if (answer.ok) {
        box.mode = "holding"
        box.holds++
        box.holdTimer = yield* Process.sendAfter(yield* GenServer.self, holdTimeout(box.holds), HOLD_CAP_MS)
      }
      yield* Effect.ignore(Process.send(decodePid(replyTo), answer))
    })

  /** The hold ended (forwarding, or thawed): its timer is cancelled. */
  const endHold = (box: Box<unknown>): Run<void> =>
    Effect.suspend(() => {
      const timer = box.holdTimer
      box.holdTimer = undefined
      return timer === undefined ? Effect.void : Effect.asVoid(Process.cancelTimer(timer))
    })

  const onControl = (box: Box<unknown>, message: unknown, tag: string): Run<GenServer.HandleResult<Box<unknown>>> =>
    Effect.gen(function* () {
      switch (tag) {
        case `${prefix}Freeze`: {
          // Still receiving from the instance before it: its state is not whole until `End`.
          if (box.mode === "receiving") box.held.push({ kind: "freeze", message })
          else yield* freezeNow(box, message)
          return GenServer.noReply(box)
        }
        case `${prefix}ForwardTo`: {
          yield* endHold(box)
          box.to = decodePid((message as { to: unknown }).to)
          box.mode = "forwarding"
          const held = messagesOf(box.held)
          box.held = []
          yield* forward(box, held)
          return GenServer.noReply(box)
        }
        // The move failed, or nobody told it where to forward in time: it handles what it held itself.
        case `${prefix}HoldTimeout`:
        case `${prefix}Thaw`: {
          if (box.mode !== "holding") return GenServer.noReply(box)
          if (tag === `${prefix}HoldTimeout` && (message as { hold?: unknown }).hold !== box.holds) {
            return GenServer.noReply(box)
          }
          yield* endHold(box)
          box.mode = "running"
          const held = messagesOf(box.held)
          box.held = []
          return yield* handleAll(box, held)
        }
        case `${prefix}Release`: {
          if (box.to !== undefined) {
            yield* Effect.ignore(
              Process.send(box.to, { _tag: `${prefix}Forwarded`, item: { kind: "end" } } satisfies Forwarded)
            )
          }
          box.releasing = true
          yield* Process.sendAfter(yield* GenServer.self, DrainNow, RELEASE_CAP_MS)
          return finishIfReleased(box)
        }
        case `${prefix}DrainNow`:
          return GenServer.stopWith(ExitReason.normal, box)
        case `${prefix}Reply`: {
          const reply = message as ReplyMessage
          const entry = box.pending.get(reply.id)
          if (entry !== undefined) {
            box.pending.delete(reply.id)
            const codecs = codecsOf(entry.spec)
            const decoded = Effect.try(() =>
              reply.ok ? codecs.decodeSuccess(reply.value) : codecs.decodeError(reply.value)
            )
            const value = yield* Effect.orDie(decoded)
            yield* reply.ok ? GenServer.replyTo(entry.from, value) : GenServer.replyToFailure(entry.from, value)
          }
          return finishIfReleased(box)
        }
        case `${prefix}Forwarded`: {
          const wire = (message as Forwarded).item
          if (wire.kind === "end") return yield* endReceiving(box)
          const item: Message =
            wire.kind === "info"
              ? { kind: "info", message: wire.message }
              : wire.kind === "cast"
                ? {
                    kind: "cast",
                    request: constructors[wire.tag]!(
                      codecsOf(specs[wire.tag]!).decodePayload(wire.payload)
                    ) as Protocol.AnyCastRequest
                  }
                : {
                    kind: "call",
                    request: constructors[wire.tag]!(
                      codecsOf(specs[wire.tag]!).decodePayload(wire.payload)
                    ) as Protocol.AnyCallRequest,
                    from: remoteFrom(box, box.from!, wire.id, specs[wire.tag]!)
                  }
          // Handed off again meanwhile (a `Freeze` answered at `End`): held or forwarded, in order.
          if (box.mode === "holding" || box.mode === "forwarding") {
            yield* divert(box, item)
            return GenServer.noReply(box)
          }
          const stop = yield* handleOne(box, item)
          return stop ?? GenServer.noReply(box)
        }
      }
      return GenServer.noReply(box)
    })

  const asBox = (state: unknown) => state as Box<unknown>

  const handleCall: Record<string, unknown> = {}
  for (const tag of Object.keys(user.handleCall)) {
    const handler = user.handleCall[tag]!
    handleCall[tag] = (request: Protocol.AnyCallRequest, state: unknown, from: GenServer.From<unknown, unknown>) => {
      const box = asBox(state)
      if (box.mode !== "running") return Effect.as(divert(box, { kind: "call", request, from }), GenServer.noReply(box))
      return Effect.map(handler(request, box.user, from), (result) => {
        box.user = result.state
        return { ...result, state: box }
      })
    }
  }
  const handleCast: Record<string, unknown> = {}
  for (const tag of Object.keys(user.handleCast ?? {})) {
    const handler = user.handleCast![tag]!
    handleCast[tag] = (request: Protocol.AnyCastRequest, state: unknown) => {
      const box = asBox(state)
      if (box.mode !== "running") return Effect.as(divert(box, { kind: "cast", request }), GenServer.noReply(box))
      return Effect.map(handler(request, box.user), (result) => {
        box.user = result.state
        return { ...result, state: box }
      })
    }
  }

  const wrapped = {
    ...behaviour,
    init: (start: unknown, self: Pid) =>
      Effect.gen(function* () {
        if (tagOf(start) === StartTag) {
          const { state, from } = start as { state: C; from: Pid }
          const resumed = declaration.resume === undefined ? state : yield* declaration.resume(state, self)
          const box = new Box<unknown>(resumed)
          box.context = yield* Effect.context<ProcessRuntime>()
          box.mode = "receiving"
          box.from = from
          // If the old instance is gone before it says `End` (its node lost), stop waiting for it.
          box.watch = yield* Effect.orDie(Process.monitor(from))
          return box
        }
        const initial = yield* behaviour.init(start, self)
        if (initial instanceof GenServer.InitContinue) {
          return new GenServer.InitContinue(new Box<unknown>(initial.state), initial.continueWith)
        }
        return new Box<unknown>(initial)
      }),
    handleCall,
    handleCast,
    handleInfo: (message: unknown, state: unknown) => {
      const box = asBox(state)
      const tag = tagOf(message)
      if (typeof tag === "string" && tag.startsWith(prefix)) return onControl(box, message, tag)
      if (message instanceof Signal.Down && box.watch !== undefined && message.ref.id === box.watch.id) {
        box.watch = undefined
        return box.mode === "receiving" ? endReceiving(box) : Effect.succeed(GenServer.noReply(box))
      }
      if (box.mode !== "running") return Effect.as(divert(box, { kind: "info", message }), GenServer.noReply(box))
      if (user.handleInfo === undefined) return Effect.succeed(GenServer.noReply(box))
      return Effect.map(user.handleInfo(message, box.user), (result) => {
        box.user = result.state
        return { ...result, state: box }
      })
    },
    ...(user.handleContinue === undefined
      ? {}
      : {
          handleContinue: (continueWith: unknown, state: unknown) => {
            const box = asBox(state)
            return Effect.map(user.handleContinue!(continueWith, box.user), (result) => {
              box.user = result.state
              return { ...result, state: box }
            })
          }
        }),
    ...(user.terminate === undefined
      ? {}
      : { terminate: (reason: ExitReason.ExitReason, state: unknown) => user.terminate!(reason, asBox(state).user) }),
    ...(behaviour.formatStatus === undefined
      ? {}
      : { formatStatus: (state: unknown) => behaviour.formatStatus!(asBox(state).user) })
  } as unknown as AnyBehaviour

  return {
    behaviour: wrapped,
    args: startArgs,
    support: {
      state: declaration.state as Schema.Codec<unknown, unknown>,
      startArgs: (state, from) => ({ _tag: StartTag, state, from })
    }
  }
}
