/**
 * Messages between nodes that keep no bookkeeping of their own: plain sends, casts and exit
 * signals (not those of links). Sends and casts (like calls) go under the target's credit (see
 * `credit.ts`): a sender out of credit waits, one toward a target reported full with policy
 * `fail` gets `MailboxFull`.
 *
 * @internal
 */
import { Effect, Tracer } from "effect"
import { MailboxFull, type MessageTooLarge } from "../../Process/Errors.ts"
import type * as ExitReason from "../../Process/ExitReason.ts"
import type { LocalProcess, RemoteTarget } from "../../Process/internal/remote.ts"
import type { Pid } from "../../Process/Pid.ts"
import { Attr, destinationOf, systemName } from "../../Process/internal/tracing.ts"
import type { DistFrame, WireTarget } from "../DistributionFrame.ts"
import { type Inflow, Spend, Waited } from "./credit.ts"
import { codecsOf, describe } from "./protocolCodec.ts"
import type { SendError } from "../../Transport/TransportError.ts"
import type { RemoteTracing } from "./remoteTracing.ts"
import type { Shared } from "./shared.ts"
import {
  fromWirePid,
  fromWireReason,
  parseTraceparent,
  toWirePid,
  toWireReason,
  toWireTarget,
  traceparentOf
} from "./wireForms.ts"

type MessageFrame = Extract<DistFrame, { _tag: "Send" | "Cast" }>

export class Messages {
  constructor(
    private readonly shared: Shared,
    private readonly tracing: RemoteTracing
  ) {}

  // ---------------------------------------------------------------------------------------------
  // Outgoing

  /**
   * A send to an unreachable node is dropped (as in Erlang); one the peer would refuse for its size
   * is logged and dropped. `span` (the sender's `send` span, or an unsampled parent) travels as
   * the frame's `traceparent`.
   */
  send = (
    _from: Pid | undefined,
    target: RemoteTarget,
    message: unknown,
    span?: Tracer.AnySpan | undefined
  ): Effect.Effect<void, MailboxFull> => {
    const traceparent = traceparentOf(span)
    return this.postUnderCredit(
      target,
      { _tag: "Send", to: toWireTarget(target), message, ...(traceparent === undefined ? {} : { traceparent }) },
      (error) => Effect.sync(() => this.shared.log(`message to ${target} dropped: ${error.message}`))
    )
  }

  cast = (
    target: RemoteTarget,
    request: object,
    span: Tracer.AnySpan | undefined
  ): Effect.Effect<void, MailboxFull | MessageTooLarge> => {
    const shared = this.shared
    shared.counters.totalCasts++
    const tag = (request as { readonly _tag: string })._tag
    let payload: unknown
    try {
      payload = codecsOf(shared.local.requestSpec(request)).encodePayload(request)
    } catch (error) {
      shared.log(`cast ${tag} to ${target} dropped: its payload does not encode (${describe(error)})`)
      return Effect.void
    }
    const traceparent = traceparentOf(span)
    return this.postUnderCredit(
      target,
      {
        _tag: "Cast",
        to: toWireTarget(target),
        tag,
        payload,
        ...(traceparent === undefined ? {} : { traceparent })
      },
      // Only a cast larger than the peer accepts fails; one to an unreachable node is dropped.
      Effect.fail
    )
  }

  /**
   * Sends a message frame once a credit toward its target is spent: at once on the fast path,
   * after earlier waiters when the credit is out, never when the target is reported full with
   * policy `fail` (`MailboxFull`). A message to a node that is not connected is dropped.
   */
  private postUnderCredit<E>(
    target: RemoteTarget,
    frame: MessageFrame,
    tooLarge: (error: MessageTooLarge) => Effect.Effect<void, E>
  ): Effect.Effect<void, MailboxFull | E> {
    const outflows = this.shared.outflows
    switch (outflows.spend(target)) {
      case Spend.Sent:
        return this.post(target, frame, tooLarge)
      case Spend.Full:
        return Effect.fail(this.full(target))
      case Spend.Wait: {
        // A credit granted to this sender is its own until `post` takes it over: if the sender is
        // interrupted in between, it goes back.
        let granted = false
        return Effect.onInterrupt(
          Effect.flatMap(
            Effect.callback<Waited>((resume) => {
              let waiting = true
              const withdraw = outflows.wait(target, (outcome) => {
                waiting = false
                granted = outcome === Waited.Granted
                resume(Effect.succeed(outcome))
              })
              return waiting ? Effect.sync(withdraw) : undefined
            }),
            (outcome): Effect.Effect<void, MailboxFull | E> => {
              granted = false
              return outcome === Waited.Granted
                ? this.post(target, frame, tooLarge)
                : outcome === Waited.Full
                  ? Effect.fail(this.full(target))
                  : Effect.void // the link went down: dropped, as a send to an unreachable node
            }
          ),
          () => Effect.sync(() => granted && outflows.refund(target))
        )
      }
    }
  }

  /**
   * Sends a frame a credit was spent for (given back if the frame is not sent). A frame larger than
   * the peer accepts is not sent: `tooLarge` decides what the sender sees.
   */
  private post<E>(
    target: RemoteTarget,
    frame: MessageFrame,
    tooLarge: (error: MessageTooLarge) => Effect.Effect<void, E>
  ): Effect.Effect<void, E> {
    const wire = this.shared.wire
    const node = target.node
    if (wire.tryPost(node, frame)) return Effect.void
    if (!wire.isConnected(node)) {
      this.shared.outflows.refund(target)
      return Effect.void
    }
    // Not sent (the link was not up, the frame did not encode or was too large, or the sender was
    // interrupted while waiting for room): the credit comes back. (A sender interrupted while a
    // large message's fragments go out refunds one the receiver grants back too: refunds never
    // raise a window above its size.)
    return Effect.onInterrupt(
      Effect.catch(wire.postWaiting(node, frame), (error: SendError) => {
        this.shared.outflows.refund(target)
        if (error._tag === "MessageTooLarge") return tooLarge(error)
        if (error._tag === "EncodeFailed") {
          this.shared.log(`message to ${target} dropped: ${error.message}`)
        }
        return Effect.void
      }),
      () => Effect.sync(() => this.shared.outflows.refund(target))
    )
  }

  private full(target: RemoteTarget): MailboxFull {
    return new MailboxFull({ target: String(target), capacity: this.shared.outflows.capacityOf(target) })
  }

  exit = (from: Pid, target: RemoteTarget, reason: ExitReason.ExitReason, untrappable: boolean): void => {
    this.shared.post(target.node, {
      _tag: "Exit",
      from: toWirePid(from),
      to: toWireTarget(target),
      reason: toWireReason(reason),
      kill: untrappable,
      link: false
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming

  /** The local process a frame is aimed at, if it is known. */
  resolve(target: WireTarget): LocalProcess | undefined {
    return this.shared.local.resolve("name" in target ? target.name : fromWirePid(target))
  }

  onSend(to: WireTarget, message: unknown, node: string, traceparent?: string): void {
    const inflow = this.shared.inflows.arrived(node, to)
    const process = this.resolve(to)
    if (process === undefined) return inflow.release()
    if (this.tracing.placement(traceparent) === undefined) return this.deliver(process, message, inflow)
    // A `receive` CONSUMER span around the delivery, child of the sender's `send`.
    const destination = "name" in to ? to.name : String(process.pid)
    this.tracing.around(
      () => this.deliver(process, message, inflow),
      traceparent,
      `receive ${destination}`,
      "consumer",
      {
        "messaging.system": systemName,
        "messaging.operation.name": "receive",
        "messaging.operation.type": "receive",
        "messaging.destination.name": destinationOf(destination),
        ...("name" in to ? {} : { "messaging.destination.anonymous": true }),
        [Attr.node]: this.tracing.node,
        [Attr.pid]: String(process.pid),
        [Attr.peer]: node
      }
    )
  }

  onCast(frame: Extract<DistFrame, { _tag: "Cast" }>, node: string): void {
    const local = this.shared.local
    const inflow = this.shared.inflows.arrived(node, frame.to)
    const process = this.resolve(frame.to)
    if (process === undefined) return inflow.release()
    const handler = local.handler(process, "cast", frame.tag)
    if (handler === undefined) {
      inflow.release()
      return this.shared.log(`cast "${frame.tag}" from ${node} to ${process.pid} dropped: the server has no such cast`)
    }
    let request: object
    try {
      request = handler.make(codecsOf(handler.spec).decodePayload(frame.payload))
    } catch (error) {
      inflow.release()
      return this.shared.log(`cast "${frame.tag}" from ${node} dropped: ${describe(error)}`)
    }
    const parent = parseTraceparent(frame.traceparent)
    const span = parent === undefined ? undefined : Tracer.externalSpan(parent)
    this.deliver(process, local.castFromNode(process, request, span), inflow)
  }

  /** Delivers a message from another node; its credit is given back once it is in the mailbox. */
  private deliver(process: LocalProcess, message: unknown, inflow: Inflow): void {
    const delivery = this.shared.local.deliver(process, message, inflow)
    if (delivery === "parked") return // given back when it gets in (or is dropped)
    inflow.release()
    if (delivery === "refused" && !inflow.warned) {
      inflow.warned = true
      this.shared.log(
        `messages from ${inflow.node} to ${process.pid} dropped: that node sent more than its credit while the mailbox was full`
      )
    }
  }

  /** An exit signal that does not come from a link. */
  onExit(frame: Extract<DistFrame, { _tag: "Exit" }>, node: string): void {
    const process = this.resolve(frame.to)
    if (process === undefined) return
    this.shared.local.exitSignal(process, fromWirePid(frame.from), fromWireReason(frame.reason, node), frame.kill)
  }
}
