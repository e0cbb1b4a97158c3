/**
 * Remote GenServer calls and stops. What it keeps: the calls and stops this node is waiting for,
 * each with its timer, so that a reply or the node's loss settles each exactly once.
 *
 * @internal
 */
import { Cause, Effect, Exit, Tracer } from "effect"
import { MailboxFull, NodeDown, NoProcess, RemoteDecodeError } from "../../Process/Errors.ts"
import * as ExitReason from "../../Process/ExitReason.ts"
import { CallTimeout, ServerExited } from "../../Process/GenServer.ts"
import type { RemoteTarget, StopOutcome } from "../../Process/internal/remote.ts"
import { annotateFailure, Attr, systemName } from "../../Process/internal/tracing.ts"
import type * as Protocol from "../../Process/Protocol.ts"
import type { CancelTimer } from "../../internal/timers.ts"
import type { DistFrame } from "../DistributionFrame.ts"
import { Spend, Waited } from "./credit.ts"
import type { Messages } from "./messages.ts"
import type { RemoteTracing } from "./remoteTracing.ts"
import { codecsOf, describe } from "./protocolCodec.ts"
import { namePid, noop, refusalsSince, type Shared, take } from "./shared.ts"
import {
  fromWirePid,
  fromWireReason,
  parseTraceparent,
  toWirePid,
  toWireReason,
  toWireTarget,
  traceparentOf
} from "./wireForms.ts"

interface PendingCall {
  readonly node: string
  readonly target: RemoteTarget
  readonly tag: string
  readonly spec: Protocol.AnySpec
  readonly resume: (effect: Effect.Effect<unknown, unknown>) => void
  /** When the call started, in milliseconds on the distribution's timers (for its duration). */
  readonly startedAt: number
  cancelTimer: CancelTimer
  /** Withdraws the Call frame while it still waits for credit, or for room on the link. */
  cancelSend: (() => void) | undefined
}

/** A `GenServer.stop` waiting for the server's node to answer. */
interface PendingStop {
  readonly node: string
  readonly target: RemoteTarget
  readonly timeout: number | undefined
  readonly resume: (effect: Effect.Effect<void, NoProcess | CallTimeout | NodeDown>) => void
  readonly cancelTimer: CancelTimer
}

/** How long past its timeout a remote stop waits for the server's node to answer. */
const stopAnswerGraceMs = 2000

type StopError = NoProcess | CallTimeout | NodeDown

const notConnected = (node: string) => new NodeDown({ node, reason: "not connected" })

export class Calls {
  readonly pending = new Map<number, PendingCall>()
  private readonly stops = new Map<number, PendingStop>()

  constructor(
    private readonly shared: Shared,
    private readonly messages: Messages,
    private readonly tracing: RemoteTracing
  ) {}

  // ---------------------------------------------------------------------------------------------
  // Outgoing

  call = (
    target: RemoteTarget,
    request: object,
    timeout: number,
    span: Tracer.AnySpan | undefined
  ): Effect.Effect<unknown, unknown> =>
    Effect.callback<unknown, unknown>((resume) => {
      const shared = this.shared
      const node = target.node
      const tag = (request as { readonly _tag: string })._tag
      shared.counters.totalCalls++
      if (!shared.isConnected(node)) return resume(this.fail("node_down", notConnected(node)))
      const spec = shared.local.requestSpec(request)
      let payload: unknown
      try {
        payload = codecsOf(spec).encodePayload(request)
      } catch (error) {
        return resume(this.fail("decode", new RemoteDecodeError({ node, what: "request", detail: describe(error) })))
      }
      const ref = shared.nextRef()
      const pending: PendingCall = {
        node,
        target,
        tag,
        spec,
        resume,
        startedAt: shared.timers.now(),
        cancelTimer: noop,
        cancelSend: undefined
      }
      this.pending.set(ref, pending)
      pending.cancelTimer = shared.timers.start(timeout, () => {
        if (this.take(ref) === undefined) return
        resume(this.fail("timeout", new CallTimeout({ server: String(target), request: tag, timeoutMs: timeout })))
      })
      const traceparent = traceparentOf(span)
      const frame: DistFrame = {
        _tag: "Call",
        ref,
        to: toWireTarget(target),
        tag,
        payload,
        ...(traceparent === undefined ? {} : { traceparent }),
        ...(Number.isFinite(timeout) ? { timeout } : {})
      }
      // A call is a message in the server's mailbox: it spends a credit toward the server like a
      // send (the reply needs none).
      const outflows = shared.outflows
      switch (outflows.spend(target)) {
        case Spend.Sent:
          this.post(ref, pending, frame, resume)
          break
        case Spend.Full:
          this.take(ref)
          return resume(this.fail("full", this.full(target)))
        case Spend.Wait:
          pending.cancelSend = outflows.wait(target, (outcome) => {
            pending.cancelSend = undefined
            if (outcome === Waited.Granted) {
              if (this.pending.has(ref)) return this.post(ref, pending, frame, resume)
              return outflows.refund(target)
            }
            if (this.take(ref) === undefined) return
            resume(
              outcome === Waited.Full
                ? this.fail("full", this.full(target))
                : this.fail("node_down", notConnected(node))
            )
          })
      }
      return Effect.sync(() => void this.take(ref))
    })

  /** Sends a call's frame, a credit spent for it (given back if the frame is not sent). */
  private post(
    ref: number,
    pending: PendingCall,
    frame: DistFrame,
    resume: (effect: Effect.Effect<unknown, unknown>) => void
  ): void {
    const shared = this.shared
    const wire = shared.wire
    const node = pending.node
    if (wire.tryPost(node, frame)) return
    if (!shared.isConnected(node)) {
      shared.outflows.refund(pending.target)
      this.take(ref)
      return resume(this.fail("node_down", notConnected(node)))
    }
    // Above the link's high-water mark: the call waits for room (within its timeout) like a
    // send, so callers cannot make this node buffer without bound.
    pending.cancelSend = wire.fork(
      Effect.flatMap(Effect.exit(wire.postWaiting(node, frame)), (exit) =>
        Effect.sync(() => {
          if (Exit.isSuccess(exit)) return
          // Not sent: the credit comes back. Interrupted because the call already ended (timeout,
          // caller, node down), or failed.
          shared.outflows.refund(pending.target)
          if (this.take(ref) === undefined) return
          const error = Cause.findErrorOption(exit.cause)
          resume(
            error._tag === "None"
              ? Effect.failCause(exit.cause)
              : error.value._tag === "NotConnected"
                ? this.fail("node_down", notConnected(node))
                : error.value._tag === "MessageTooLarge"
                  ? this.fail("too_large", error.value)
                  : this.fail("decode", new RemoteDecodeError({ node, what: "request", detail: error.value.message }))
          )
        })
      )
    )
  }

  private full(target: RemoteTarget): MailboxFull {
    return new MailboxFull({ target: String(target), capacity: this.shared.outflows.capacityOf(target) })
  }

  /** Removes a pending call, its timer and any send still waiting for room; `undefined` if settled. */
  private take(ref: number): PendingCall | undefined {
    const pending = take(this.pending, ref)
    if (pending === undefined) return undefined
    pending.cancelSend?.()
    this.shared.counters.callDurations.observe((this.shared.timers.now() - pending.startedAt) / 1000)
    return pending
  }

  private fail(reason: string, error: unknown): Effect.Effect<never, unknown> {
    const failures = this.shared.counters.callFailures
    failures[reason] = (failures[reason] ?? 0) + 1
    return Effect.fail(error)
  }

  stop = (
    target: RemoteTarget,
    reason: ExitReason.ExitReason,
    timeout: number | undefined,
    span?: Tracer.AnySpan | undefined
  ): Effect.Effect<void, StopError> =>
    Effect.callback<void, StopError>((resume) => {
      const shared = this.shared
      const node = target.node
      if (!shared.isConnected(node)) return resume(Effect.fail(notConnected(node)))
      const ref = shared.nextRef()
      // The server's node keeps the timeout; this backstop covers an answer that never comes (a
      // silent node not yet declared down).
      const waited = timeout === undefined ? Infinity : timeout + stopAnswerGraceMs
      const cancelTimer = shared.timers.start(waited, () => {
        if (take(this.stops, ref) === undefined) return
        // No answer at all: the server may still have stopped (or be stopping) over there.
        resume(Effect.fail(new CallTimeout({ server: String(target), request: "stop", timeoutMs: waited })))
      })
      this.stops.set(ref, { node, target, timeout, resume, cancelTimer })
      const traceparent = traceparentOf(span)
      const frame = {
        ref,
        to: toWireTarget(target),
        reason: toWireReason(reason),
        timeout: timeout ?? null,
        ...(traceparent === undefined ? {} : { traceparent })
      }
      if (!shared.post(node, { _tag: "Stop", ...frame })) {
        take(this.stops, ref)
        return resume(Effect.fail(notConnected(node)))
      }
      // An interrupted caller stops waiting; the stop itself goes on over there.
      return Effect.sync(() => void take(this.stops, ref))
    })

  // ---------------------------------------------------------------------------------------------
  // Incoming

  onCall(frame: Extract<DistFrame, { _tag: "Call" }>, node: string): void {
    const shared = this.shared
    const local = shared.local
    const reply = (outcome: Extract<DistFrame, { _tag: "Reply" }>): boolean => shared.post(node, outcome)
    const inflow = shared.inflows.arrived(node, frame.to)
    if (shared.stopping) {
      inflow.release()
      // A peer on a version before the refusals gets the nearest answer it knows.
      const outcome = shared.speaks(node, refusalsSince) ? "stopping" : "noproc"
      return void reply({ _tag: "Reply", ref: frame.ref, outcome })
    }
    const process = this.messages.resolve(frame.to)
    if (process === undefined || !local.isAlive(process)) {
      inflow.release()
      return void reply({ _tag: "Reply", ref: frame.ref, outcome: "noproc" })
    }
    const handler = local.handler(process, "call", frame.tag)
    if (handler === undefined) {
      inflow.release()
      return void reply({
        _tag: "Reply",
        ref: frame.ref,
        outcome: "badrequest",
        detail: `${process.pid} has no call "${frame.tag}"`
      })
    }
    const codecs = codecsOf(handler.spec)
    let request: object
    try {
      request = handler.make(codecs.decodePayload(frame.payload))
    } catch (error) {
      inflow.release()
      return void reply({ _tag: "Reply", ref: frame.ref, outcome: "badrequest", detail: describe(error) })
    }
    const parent = parseTraceparent(frame.traceparent)
    const span = parent === undefined ? undefined : Tracer.externalSpan(parent)
    // Counted for the drain of a graceful shutdown until answered, or until nobody waits for the
    // answer: the caller's node went down, or the caller's timeout has passed.
    const served = shared.beginServing(node, frame.timeout)
    const parked = local.deliverCall(
      process,
      request,
      span,
      (exit) => {
        shared.endServing(served)
        // A reply too large for a frame (or unencodable) still answers the call.
        if (!reply(replyFrame(frame.ref, exit, codecs))) {
          reply({ _tag: "Reply", ref: frame.ref, outcome: "badreply", detail: "the reply could not be sent" })
        }
      },
      inflow
    )
    // Its credit comes back once it is in the mailbox (or answered); if it waits behind the
    // mailbox, when it gets in.
    if (!parked) inflow.release()
  }

  onReply(frame: Extract<DistFrame, { _tag: "Reply" }>, node: string): void {
    const pending = this.take(frame.ref)
    if (pending === undefined) return // timed out or interrupted: a late reply is dropped
    const codecs = codecsOf(pending.spec)
    const decodeFailure = (what: string, error: unknown) =>
      this.fail("decode", new RemoteDecodeError({ node, what, detail: describe(error) }))
    switch (frame.outcome) {
      case "ok": {
        let value: unknown
        try {
          value = codecs.decodeSuccess(frame.value)
        } catch (error) {
          return pending.resume(decodeFailure(`reply to ${pending.tag}`, error))
        }
        return pending.resume(Effect.succeed(value))
      }
      case "error": {
        let error: unknown
        try {
          error = codecs.decodeError(frame.value)
        } catch (cause) {
          return pending.resume(decodeFailure(`error reply to ${pending.tag}`, cause))
        }
        return pending.resume(Effect.fail(error))
      }
      case "exited": {
        const reason = fromWireReason(frame.reason ?? { tag: "NoProc" }, node)
        const server = frame.server === undefined ? namePid(pending.target) : fromWirePid(frame.server)
        return pending.resume(this.fail("exited", new ServerExited({ server, reason })))
      }
      case "noproc":
        return pending.resume(this.fail("noproc", new NoProcess({ target: String(pending.target) })))
      case "full":
        return pending.resume(
          this.fail("full", new MailboxFull({ target: String(pending.target), capacity: Number(frame.detail ?? 0) }))
        )
      case "badrequest":
        return pending.resume(decodeFailure(`request ${pending.tag}`, frame.detail))
      case "badreply":
        return pending.resume(decodeFailure(`reply to ${pending.tag}`, frame.detail))
      case "stopping":
        return pending.resume(this.fail("stopping", new NodeDown({ node, reason: "stopping" })))
      case "defect":
        return pending.resume(
          this.fail(
            "defect",
            new ServerExited({ server: namePid(pending.target), reason: ExitReason.custom(frame.detail) })
          )
        )
    }
  }

  onStop(frame: Extract<DistFrame, { _tag: "Stop" }>, node: string): void {
    const answer = (outcome: Extract<DistFrame, { _tag: "Stopped" }>["outcome"], detail?: string) =>
      this.shared.post(node, { _tag: "Stopped", ref: frame.ref, outcome, ...(detail === undefined ? {} : { detail }) })
    const process = this.messages.resolve(frame.to)
    if (process === undefined) return void answer("noproc")
    const stop = (done: (outcome: StopOutcome, detail?: string) => void) =>
      this.shared.local.stop(
        process,
        fromWireReason(frame.reason, node),
        frame.timeout ?? undefined,
        (outcome, detail) => {
          answer(outcome, detail)
          done(outcome, detail)
        }
      )
    if (this.tracing.placement(frame.traceparent) === undefined) return stop(noop)
    // A SERVER span from the request to the server's exit, child of the caller's CLIENT span.
    const traced = Effect.callback<void, { readonly _tag: StopOutcome }>((resume) =>
      stop((outcome) => resume(outcome === "ok" ? Effect.void : Effect.fail({ _tag: outcome })))
    )
    this.shared.wire.fork(
      Effect.ignore(
        this.tracing.wrap(annotateFailure(traced), frame.traceparent, "GenServer.stop", "server", {
          "rpc.system.name": systemName,
          "rpc.method": "GenServer.stop",
          [Attr.node]: this.tracing.node,
          [Attr.pid]: String(process.pid),
          ...("name" in frame.to ? { [Attr.name]: frame.to.name } : {}),
          [Attr.peer]: node
        })
      )
    )
  }

  onStopped(frame: Extract<DistFrame, { _tag: "Stopped" }>): void {
    const pending = take(this.stops, frame.ref)
    if (pending === undefined) return
    const server = String(pending.target)
    switch (frame.outcome) {
      case "ok":
        return pending.resume(Effect.void)
      case "noproc":
        return pending.resume(Effect.fail(new NoProcess({ target: server })))
      case "timeout":
        return pending.resume(
          Effect.fail(new CallTimeout({ server, request: "stop", timeoutMs: pending.timeout ?? Infinity }))
        )
      case "not_genserver":
        return pending.resume(Effect.die(new Error(frame.detail ?? `GenServer.stop: ${server} is not a GenServer`)))
      default:
        // An answer of a newer release: this stop fails, the link stays up.
        return pending.resume(
          Effect.die(
            new Error(
              `GenServer.stop of ${server}: an answer this node does not know ("${frame.outcome.slice(0, 64)}", from a newer node)${frame.detail === undefined ? "" : `: ${frame.detail}`}`
            )
          )
        )
    }
  }

  /**
   * The peer answered a `Call` or `Stop` of this node as unsupported (it does not know that kind):
   * the call fails with `RemoteDecodeError`, the stop with a defect (every node of protocol 2 knows
   * both kinds: only a broken peer answers so).
   */
  onUnsupported(frame: { readonly ref: number; readonly kind: string }, node: string, detail: string): void {
    if (frame.kind === "Call") {
      const pending = this.take(frame.ref)
      if (pending === undefined) return
      return pending.resume(
        this.fail("decode", new RemoteDecodeError({ node, what: `request ${pending.tag}`, detail }))
      )
    }
    const stop = take(this.stops, frame.ref)
    stop?.resume(Effect.die(new Error(`GenServer.stop of ${String(stop.target)}: ${detail}`)))
  }

  // ---------------------------------------------------------------------------------------------
  // A node went down

  /** Fails every call and stop pending to `node` with `NodeDown`, at once. */
  nodeDown(node: string, reason: string): void {
    for (const [ref, pending] of this.stops) {
      if (pending.node !== node) continue
      take(this.stops, ref)
      pending.resume(Effect.fail(new NodeDown({ node, reason })))
    }
    for (const [ref, pending] of this.pending) {
      if (pending.node !== node) continue
      this.take(ref)
      pending.resume(this.fail("node_down", new NodeDown({ node, reason })))
    }
  }
}

/** Encodes a reply frame from how the call ended on this node. */
const replyFrame = (
  ref: number,
  exit: Exit.Exit<unknown, unknown>,
  codecs: ReturnType<typeof codecsOf>
): Extract<DistFrame, { _tag: "Reply" }> => {
  if (Exit.isSuccess(exit)) {
    try {
      return { _tag: "Reply", ref, outcome: "ok", value: codecs.encodeSuccess(exit.value) }
    } catch (error) {
      return { _tag: "Reply", ref, outcome: "badreply", detail: describe(error) }
    }
  }
  const failure = exit.cause.reasons.find(Cause.isFailReason)
  if (failure !== undefined) {
    const error = failure.error
    if (error instanceof ServerExited) {
      return {
        _tag: "Reply",
        ref,
        outcome: "exited",
        reason: toWireReason(error.reason),
        server: toWirePid(error.server)
      }
    }
    if (error instanceof NoProcess) return { _tag: "Reply", ref, outcome: "noproc" }
    if (error instanceof MailboxFull) return { _tag: "Reply", ref, outcome: "full", detail: String(error.capacity) }
    try {
      return { _tag: "Reply", ref, outcome: "error", value: codecs.encodeError(error) }
    } catch (cause) {
      return { _tag: "Reply", ref, outcome: "badreply", detail: describe(cause) }
    }
  }
  return { _tag: "Reply", ref, outcome: "defect", detail: Cause.pretty(exit.cause) }
}
