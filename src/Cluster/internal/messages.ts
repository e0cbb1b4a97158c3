/**
 * Messages between nodes that keep no bookkeeping: plain sends, casts and exit signals (not those
 * of links). What it keeps: the count of messages queued behind full mailboxes.
 *
 * @internal
 */
import { Effect, Tracer } from "effect"
import type * as ExitReason from "../../Process/ExitReason.ts"
import type { LocalProcess, RemoteTarget } from "../../Process/internal/remote.ts"
import type { Pid } from "../../Process/Pid.ts"
import type { DistFrame, WireTarget } from "../DistributionFrame.ts"
import { codecsOf, describe } from "./protocolCodec.ts"
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

export class Messages {
  /** Messages and calls from other nodes queued behind full mailboxes (see {@link park}). */
  parked = 0

  constructor(private readonly shared: Shared) {}

  // ---------------------------------------------------------------------------------------------
  // Outgoing

  send = (_from: Pid | undefined, target: RemoteTarget, message: unknown): Effect.Effect<void> =>
    Effect.ignore(this.shared.wire.postWaiting(target.node, { _tag: "Send", to: toWireTarget(target), message }))

  cast = (target: RemoteTarget, request: object, span: Tracer.AnySpan | undefined): Effect.Effect<void> => {
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
    return Effect.ignore(
      shared.wire.postWaiting(target.node, {
        _tag: "Cast",
        to: toWireTarget(target),
        tag,
        payload,
        ...(traceparent === undefined ? {} : { traceparent })
      })
    )
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

  onSend(to: WireTarget, message: unknown, node: string): void {
    const process = this.resolve(to)
    if (process !== undefined && this.shared.local.deliver(process, message, this.park) === "full") {
      this.shared.log(`message from ${node} to ${process.pid} dropped: its mailbox is full (policy fail)`)
    }
  }

  onCast(frame: Extract<DistFrame, { _tag: "Cast" }>, node: string): void {
    const local = this.shared.local
    const process = this.resolve(frame.to)
    if (process === undefined) return
    const handler = local.handler(process, "cast", frame.tag)
    if (handler === undefined) {
      return this.shared.log(`cast "${frame.tag}" from ${node} to ${process.pid} dropped: the server has no such cast`)
    }
    try {
      const request = handler.make(codecsOf(handler.spec).decodePayload(frame.payload))
      const parent = parseTraceparent(frame.traceparent)
      const span = parent === undefined ? undefined : Tracer.externalSpan(parent)
      local.deliver(process, local.castFromNode(process, request, span), this.park)
    } catch (error) {
      this.shared.log(`cast "${frame.tag}" from ${node} dropped: ${describe(error)}`)
    }
  }

  /** An exit signal that does not come from a link. */
  onExit(frame: Extract<DistFrame, { _tag: "Exit" }>, node: string): void {
    const process = this.resolve(frame.to)
    if (process === undefined) return
    this.shared.local.exitSignal(process, fromWirePid(frame.from), fromWireReason(frame.reason, node), frame.kill)
  }

  /**
   * Counts a message (or call) queued behind a full mailbox with policy `suspend`; returns what to
   * call, once, when it leaves that queue (the mailbox wakes each queued sender exactly once; a
   * withdrawn call is covered too).
   */
  readonly park = (): (() => void) => {
    this.parked++
    return this.unpark
  }

  private readonly unpark = (): void => {
    this.parked--
  }
}
