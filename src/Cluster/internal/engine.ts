/**
 * The distribution engine of one node: implements the process runtime's remote bridge over the
 * transport, and serves the frames other nodes send. Hot paths are plain synchronous code.
 *
 * Bookkeeping, per remote node, so that nothing is left pending when a node goes down:
 * - calls and spawns this node is waiting for (failed with `NodeDown`),
 * - monitors held here on remote processes (fired with `noconnection`),
 * - monitors held there on local processes (dropped),
 * - links between local and remote processes (broken with a `noconnection` exit signal).
 *
 * @internal
 */
import { Cause, Context, Effect, Exit, Schema, Tracer } from "effect"
import { MailboxFull, NameTaken, NodeDown, NoProcess, RemoteDecodeError } from "../../Process/Errors.ts"
import * as ExitReason from "../../Process/ExitReason.ts"
import { CallTimeout, InitFailed, ServerExited } from "../../Process/GenServer.ts"
import * as GenServer from "../../Process/GenServer.ts"
import { CallEnvelope, deliverCall } from "../../Process/internal/callEnvelope.ts"
import { exitedError } from "../../Process/internal/errors.ts"
import type { Cell } from "../../Process/internal/cell.ts"
import { Offer } from "../../Process/internal/mailbox.ts"
import { notAServer, stopServer } from "../../Process/internal/server.ts"
import type { RemoteBridge, RemoteTarget } from "../../Process/internal/remote.ts"
import type { Runtime } from "../../Process/internal/runtime.ts"
import { startTimeout } from "../../Process/internal/timer.ts"
import * as Pid from "../../Process/Pid.ts"
import { ProcessRuntime } from "../../Process/ProcessRuntime.ts"
import * as Protocol from "../../Process/Protocol.ts"
import { specOf } from "../../Process/internal/protocol.ts"
import { RemoteName } from "../../Process/RemoteName.ts"
import * as Signal from "../../Process/Signal.ts"
import { type BehaviourRegistry, type BehaviourSpec, UnknownBehaviour } from "../BehaviourRegistry.ts"
import {
  type DistFrame,
  fromWirePid,
  fromWireReason,
  parseTraceparent,
  toWirePid,
  toWireReason,
  toWireTarget,
  traceparentOf,
  type WirePid,
  type WireTarget
} from "../DistributionFrame.ts"
import type { SendError } from "../../Transport/TransportError.ts"
import { codecsOf, describe } from "./protocolCodec.ts"

/** How the engine reaches other nodes: the transport, through the distribution channel. */
export interface Wire {
  /** Sends at once, ignoring the high-water mark (answers, signals); false if not linked or unencodable. */
  readonly post: (node: string, frame: DistFrame) => boolean
  /** Sends at once if the link is below its high-water mark; false (nothing sent) otherwise. */
  readonly tryPost: (node: string, frame: DistFrame) => boolean
  /** Sends from a fiber, waiting while the link is above its high-water mark. */
  readonly postWaiting: (node: string, frame: DistFrame) => Effect.Effect<void, SendError>
  /** Runs an effect on its own (a send that has to wait for room); returns how to interrupt it. */
  readonly fork: (effect: Effect.Effect<void>) => () => void
  readonly isConnected: (node: string) => boolean
}

/** Counters behind `Distribution.stats` (and the metrics). */
export interface Counters {
  totalCalls: number
  totalCasts: number
  callFailures: Record<string, number>
  spawnsInitiated: number
  spawnsSucceeded: number
  spawnsFailed: number
}

interface PendingCall {
  readonly node: string
  readonly target: RemoteTarget
  readonly tag: string
  readonly spec: Protocol.AnySpec
  readonly resume: (effect: Effect.Effect<unknown, unknown>) => void
  readonly timer: ReturnType<typeof setTimeout> | undefined
  /** Interrupts the send of the Call frame while it still waits for room on the link. */
  cancelSend: (() => void) | undefined
}

interface PendingSpawn {
  readonly node: string
  /** The name asked for, if any (for `NameTaken`). */
  readonly name: string | undefined
  readonly resume: (effect: Effect.Effect<Pid.Pid, SpawnError>) => void
  readonly timer: ReturnType<typeof setTimeout> | undefined
  readonly onSpawned: (pid: Pid.Pid) => void
}

interface OutgoingMonitor {
  readonly node: string
  readonly target: RemoteTarget
  /** Delivers the Down (to a watcher's mailbox, or to an awaitExit callback). */
  readonly fire: (pid: Pid.Pid, reason: ExitReason.ExitReason) => void
  /** Stops watching the local watcher's exit. */
  release: () => void
}

interface IncomingMonitor {
  readonly target: Cell
  readonly localRef: number
}

interface RemoteLink {
  readonly local: Cell
  readonly remote: Pid.Pid
  release: () => void
}

const noop = () => {}

/** A request waiting for its answer from another node, with the timer that ends the wait. */
interface Pending {
  readonly timer: ReturnType<typeof setTimeout> | undefined
}

/** Removes a pending request and stops its timer; `undefined` if it was already settled. */
const take = <P extends Pending>(pending: Map<number, P>, ref: number): P | undefined => {
  const entry = pending.get(ref)
  if (entry === undefined) return undefined
  pending.delete(ref)
  if (entry.timer !== undefined) clearTimeout(entry.timer)
  return entry
}

/** A `GenServer.stop` waiting for the server's node to answer. */
interface PendingStop {
  readonly node: string
  readonly target: RemoteTarget
  readonly timeout: number | undefined
  readonly resume: (effect: Effect.Effect<void, NoProcess | CallTimeout | NodeDown>) => void
  readonly timer: ReturnType<typeof setTimeout> | undefined
}

/** How long past its timeout a remote stop waits for the server's node to answer. */
const stopAnswerGraceMs = 2000

/** Why a remote spawn failed. */
export type SpawnError = NodeDown | CallTimeout | InitFailed | NameTaken | UnknownBehaviour | RemoteDecodeError

const pidKey = (pid: WirePid | Pid.Pid) => `${pid.node}/${pid.id}/${pid.incarnation}`

/** The placeholder pid a `Down` carries when a monitored name never resolved to a process. */
const namePid = (target: RemoteTarget): Pid.Pid => (target instanceof RemoteName ? Pid.make(target.node, 0, 0) : target)

export class Engine implements RemoteBridge {
  private nextRef = 1
  readonly pendingCalls = new Map<number, PendingCall>()
  private readonly pendingSpawns = new Map<number, PendingSpawn>()
  private readonly pendingStops = new Map<number, PendingStop>()
  readonly outgoingMonitors = new Map<number, OutgoingMonitor>()
  /** Key: `${node}/${ref}`. */
  readonly incomingMonitors = new Map<string, IncomingMonitor>()
  /** Key: `${local pid id}|${remote pid key}`. */
  private readonly links = new Map<string, RemoteLink>()
  /** Messages and calls from other nodes queued behind full mailboxes (see `park`). */
  parkedMessages = 0
  /** Frame kinds from newer nodes already logged (once each). */
  private readonly unknownKinds = new Set<string>()
  readonly counters: Counters = {
    totalCalls: 0,
    totalCasts: 0,
    callFailures: {},
    spawnsInitiated: 0,
    spawnsSucceeded: 0,
    spawnsFailed: 0
  }

  private readonly post: Wire["post"]
  private readonly isConnected: Wire["isConnected"]

  constructor(
    private readonly runtime: Runtime,
    private readonly wire: Wire,
    private readonly behaviours: BehaviourRegistry["Service"],
    private readonly log: (message: string) => void
  ) {
    this.post = wire.post
    this.isConnected = wire.isConnected
  }

  // -------------------------------------------------------------------------------------------
  // Outgoing: the remote bridge
  // -------------------------------------------------------------------------------------------

  send = (_from: Pid.Pid | undefined, target: RemoteTarget, message: unknown): Effect.Effect<void> =>
    Effect.ignore(this.wire.postWaiting(target.node, { _tag: "Send", to: toWireTarget(target), message }))

  call = (
    target: RemoteTarget,
    request: object,
    timeout: number,
    span: Tracer.AnySpan | undefined
  ): Effect.Effect<unknown, unknown> =>
    Effect.callback<unknown, unknown>((resume) => {
      const node = target.node
      const typed = request as Protocol.AnyCallRequest
      this.counters.totalCalls++
      if (!this.isConnected(node))
        return resume(this.failCall("node_down", new NodeDown({ node, reason: "not connected" })))
      const spec = specOf(typed)
      let payload: unknown
      try {
        payload = codecsOf(spec).encodePayload(typed)
      } catch (error) {
        return resume(
          this.failCall("decode", new RemoteDecodeError({ node, what: "request", detail: describe(error) }))
        )
      }
      const ref = this.nextRef++
      const timer = startTimeout(timeout, () => {
        if (this.takeCall(ref) === undefined) return
        resume(
          this.failCall("timeout", new CallTimeout({ server: String(target), request: typed._tag, timeoutMs: timeout }))
        )
      })
      const pending: PendingCall = { node, target, tag: typed._tag, spec, resume, timer, cancelSend: undefined }
      this.pendingCalls.set(ref, pending)
      const traceparent = span?._tag === "Span" ? traceparentOf(span) : undefined
      const frame: DistFrame = {
        _tag: "Call",
        ref,
        to: toWireTarget(target),
        tag: typed._tag,
        payload,
        ...(traceparent === undefined ? {} : { traceparent })
      }
      if (!this.wire.tryPost(node, frame)) {
        if (!this.isConnected(node)) {
          this.takeCall(ref)
          return resume(this.failCall("node_down", new NodeDown({ node, reason: "not connected" })))
        }
        // Above the link's high-water mark: the call waits for room (within its timeout) like a
        // send, so callers cannot make this node buffer without bound.
        pending.cancelSend = this.wire.fork(
          Effect.flatMap(Effect.exit(this.wire.postWaiting(node, frame)), (exit) =>
            Effect.sync(() => {
              // Sent; or interrupted because the call already ended (timeout, caller, node down).
              if (Exit.isSuccess(exit) || this.takeCall(ref) === undefined) return
              const error = Cause.findErrorOption(exit.cause)
              resume(
                error._tag === "None"
                  ? Effect.failCause(exit.cause)
                  : error.value._tag === "NotConnected"
                    ? this.failCall("node_down", new NodeDown({ node, reason: "not connected" }))
                    : this.failCall(
                        "decode",
                        new RemoteDecodeError({ node, what: "request", detail: error.value.message })
                      )
              )
            })
          )
        )
      }
      return Effect.sync(() => void this.takeCall(ref))
    })

  /** Removes a pending call, its timer and any send still waiting for room; `undefined` if settled. */
  private takeCall(ref: number): PendingCall | undefined {
    const pending = take(this.pendingCalls, ref)
    pending?.cancelSend?.()
    return pending
  }

  private failCall(reason: string, error: unknown): Effect.Effect<never, unknown> {
    this.counters.callFailures[reason] = (this.counters.callFailures[reason] ?? 0) + 1
    return Effect.fail(error)
  }

  cast = (target: RemoteTarget, request: object, span: Tracer.AnySpan | undefined): Effect.Effect<void> => {
    const typed = request as Protocol.AnyCastRequest
    this.counters.totalCasts++
    let payload: unknown
    try {
      payload = codecsOf(specOf(typed)).encodePayload(typed)
    } catch (error) {
      this.log(`cast ${typed._tag} to ${target} dropped: its payload does not encode (${describe(error)})`)
      return Effect.void
    }
    const traceparent = span?._tag === "Span" ? traceparentOf(span) : undefined
    return Effect.ignore(
      this.wire.postWaiting(target.node, {
        _tag: "Cast",
        to: toWireTarget(target),
        tag: typed._tag,
        payload,
        ...(traceparent === undefined ? {} : { traceparent })
      })
    )
  }

  exit = (from: Pid.Pid, target: RemoteTarget, reason: ExitReason.ExitReason, untrappable: boolean): void => {
    this.post(target.node, {
      _tag: "Exit",
      from: toWirePid(from),
      to: toWireTarget(target),
      reason: toWireReason(reason),
      kill: untrappable,
      link: false
    })
  }

  stop = (
    target: RemoteTarget,
    reason: ExitReason.ExitReason,
    timeout: number | undefined
  ): Effect.Effect<void, NoProcess | CallTimeout | NodeDown> =>
    Effect.callback<void, NoProcess | CallTimeout | NodeDown>((resume) => {
      const node = target.node
      const notConnected = () => resume(Effect.fail(new NodeDown({ node, reason: "not connected" })))
      if (!this.isConnected(node)) return notConnected()
      const ref = this.nextRef++
      // The server's node keeps the timeout; this backstop covers an answer that never comes (a
      // silent node not yet declared down).
      const timer =
        timeout === undefined
          ? undefined
          : startTimeout(timeout + stopAnswerGraceMs, () => {
              if (take(this.pendingStops, ref) === undefined) return
              // No answer at all: the server may still have stopped (or be stopping) over there.
              const waited = timeout + stopAnswerGraceMs
              resume(Effect.fail(new CallTimeout({ server: String(target), request: "stop", timeoutMs: waited })))
            })
      this.pendingStops.set(ref, { node, target, timeout, resume, timer })
      const frame = { ref, to: toWireTarget(target), reason: toWireReason(reason), timeout: timeout ?? null }
      if (!this.post(node, { _tag: "Stop", ...frame })) {
        take(this.pendingStops, ref)
        return notConnected()
      }
      // An interrupted caller stops waiting; the stop itself goes on over there.
      return Effect.sync(() => void take(this.pendingStops, ref))
    })

  link = (local: Cell, remote: Pid.Pid): void => {
    if (!this.isConnected(remote.node)) {
      local.signalExit(remote, ExitReason.noconnection, false)
      return
    }
    if (this.addLink(local, remote))
      this.post(remote.node, { _tag: "Link", from: toWirePid(local.pid), to: toWirePid(remote) })
  }

  unlink = (local: Cell, remote: Pid.Pid): void => {
    if (this.removeLink(local, remote)) {
      this.post(remote.node, { _tag: "Unlink", from: toWirePid(local.pid), to: toWirePid(remote) })
    }
  }

  monitor = (watcher: Cell, target: RemoteTarget, ref: Signal.MonitorRef): void => {
    this.monitorWith(
      watcher.pid,
      target,
      ref.id,
      (pid, reason) => watcher.mailbox.offerSystem(Signal.makeDown(ref, pid, reason)),
      watcher
    )
  }

  demonitor = (watcher: Cell, ref: Signal.MonitorRef): boolean => {
    const monitor = this.outgoingMonitors.get(ref.id)
    if (monitor === undefined) return false
    this.outgoingMonitors.delete(ref.id)
    monitor.release()
    this.post(monitor.node, { _tag: "Demonitor", ref: ref.id, watcher: toWirePid(watcher.pid) })
    return true
  }

  watchExit = (target: RemoteTarget, onExit: (reason: ExitReason.ExitReason) => void): (() => void) => {
    const refId = this.runtime.newRefId()
    this.monitorWith(this.runtime.systemPid, target, refId, (_, reason) => onExit(reason), undefined)
    return () => {
      const monitor = this.outgoingMonitors.get(refId)
      if (monitor === undefined) return
      this.outgoingMonitors.delete(refId)
      this.post(monitor.node, { _tag: "Demonitor", ref: refId, watcher: toWirePid(this.runtime.systemPid) })
    }
  }

  private monitorWith(
    watcherPid: Pid.Pid,
    target: RemoteTarget,
    refId: number,
    fire: OutgoingMonitor["fire"],
    watcher: Cell | undefined
  ): void {
    const node = target.node
    if (!this.isConnected(node)) {
      fire(namePid(target), ExitReason.noconnection)
      return
    }
    this.post(node, { _tag: "Monitor", ref: refId, watcher: toWirePid(watcherPid), to: toWireTarget(target) })
    this.trackMonitor(refId, node, target, fire, watcher)
  }

  /**
   * Records a monitor held here on a remote process. The entry goes in first: a watcher that has
   * already exited drops it at once (and tells the other node), like one that exits later.
   */
  private trackMonitor(
    refId: number,
    node: string,
    target: RemoteTarget,
    fire: OutgoingMonitor["fire"],
    watcher: Cell | undefined
  ): void {
    const monitor: OutgoingMonitor = { node, target, fire, release: noop }
    this.outgoingMonitors.set(refId, monitor)
    if (watcher === undefined) return
    monitor.release = this.runtime.watchExit(watcher, () => {
      if (this.outgoingMonitors.delete(refId)) {
        this.post(node, { _tag: "Demonitor", ref: refId, watcher: toWirePid(watcher.pid) })
      }
    })
  }

  /** Starts a registered behaviour on another node. */
  spawn(
    node: string,
    spec: BehaviourSpec<unknown>,
    args: unknown,
    options: {
      readonly name?: string | undefined
      readonly linkTo?: Cell | undefined
      readonly monitorFrom?: { readonly watcher: Cell; readonly ref: Signal.MonitorRef } | undefined
      readonly timeout: number
    }
  ): Effect.Effect<Pid.Pid, SpawnError> {
    return Effect.callback<Pid.Pid, SpawnError>((resume) => {
      this.counters.spawnsInitiated++
      const fail = (error: SpawnError) => {
        this.counters.spawnsFailed++
        resume(Effect.fail(error))
      }
      if (!this.isConnected(node)) return fail(new NodeDown({ node, reason: "not connected" }))
      let encoded: unknown
      try {
        encoded = Schema.encodeUnknownSync(spec.args)(args)
      } catch (error) {
        return fail(new RemoteDecodeError({ node, what: `start arguments of ${spec.name}`, detail: describe(error) }))
      }
      const ref = this.nextRef++
      const timer = startTimeout(options.timeout, () => {
        if (take(this.pendingSpawns, ref) !== undefined) {
          fail(new CallTimeout({ server: node, request: `spawn ${spec.name}`, timeoutMs: options.timeout }))
        }
      })
      this.pendingSpawns.set(ref, {
        node,
        name: options.name,
        timer,
        resume,
        onSpawned: (pid) => {
          if (options.linkTo !== undefined) this.addLink(options.linkTo, pid)
          if (options.monitorFrom !== undefined) {
            const { watcher, ref: monitorRef } = options.monitorFrom
            const fire: OutgoingMonitor["fire"] = (downPid, reason) =>
              watcher.mailbox.offerSystem(Signal.makeDown(monitorRef, downPid, reason))
            this.trackMonitor(monitorRef.id, node, pid, fire, watcher)
          }
        }
      })
      const sent = this.post(node, {
        _tag: "Spawn",
        ref,
        behaviour: spec.name,
        args: encoded,
        timeout: options.timeout,
        ...(options.name === undefined ? {} : { name: options.name }),
        ...(options.linkTo === undefined ? {} : { linkTo: toWirePid(options.linkTo.pid) }),
        ...(options.monitorFrom === undefined
          ? {}
          : { monitor: { watcher: toWirePid(options.monitorFrom.watcher.pid), ref: options.monitorFrom.ref.id } })
      })
      if (!sent) {
        take(this.pendingSpawns, ref)
        return fail(
          this.isConnected(node)
            ? new RemoteDecodeError({ node, what: `spawn of ${spec.name}`, detail: "the frame could not be sent" })
            : new NodeDown({ node, reason: "not connected" })
        )
      }
      return Effect.sync(() => void take(this.pendingSpawns, ref))
    })
  }

  // -------------------------------------------------------------------------------------------
  // Links
  // -------------------------------------------------------------------------------------------

  /** Records a link between a local and a remote process; false if it already existed. */
  private addLink(local: Cell, remote: Pid.Pid): boolean {
    const key = `${local.pid.id}|${pidKey(remote)}`
    if (this.links.has(key)) return false
    // The entry goes in first: a local process that has already exited breaks the link at once,
    // telling the remote side (a process spawned linked to a dead parent must not outlive it).
    const link: RemoteLink = { local, remote, release: noop }
    this.links.set(key, link)
    link.release = this.runtime.watchExit(local, (reason) => {
      if (!this.links.delete(key)) return
      this.post(remote.node, {
        _tag: "Exit",
        from: toWirePid(local.pid),
        to: toWirePid(remote),
        reason: toWireReason(reason),
        kill: false,
        link: true
      })
    })
    return true
  }

  private removeLink(local: Cell, remote: Pid.Pid): boolean {
    const key = `${local.pid.id}|${pidKey(remote)}`
    const link = this.links.get(key)
    if (link === undefined) return false
    this.links.delete(key)
    link.release()
    return true
  }

  // -------------------------------------------------------------------------------------------
  // Incoming frames
  // -------------------------------------------------------------------------------------------

  /** Handles one frame from `node` (synchronously, in arrival order). */
  receive(frame: DistFrame, node: string): void {
    switch (frame._tag) {
      case "Send":
        return this.onSend(frame.to, frame.message, node)
      case "Call":
        return this.onCall(frame, node)
      case "Reply":
        return this.onReply(frame, node)
      case "Cast":
        return this.onCast(frame, node)
      case "Exit":
        return this.onExit(frame, node)
      case "Unknown": {
        // Logged once per kind (a bounded number of kinds, shortened: the peer chooses them).
        const kind = frame.kind.slice(0, 64)
        if (this.unknownKinds.size < 32 && !this.unknownKinds.has(kind)) {
          this.unknownKinds.add(kind)
          this.log(`distribution frames of kind "${kind}" from ${node} dropped: this node does not know it`)
        }
        return
      }
      case "Stop":
        return this.onStop(frame, node)
      case "Stopped":
        return this.onStopped(frame)
      case "Link":
        return this.onLink(frame.from, frame.to, node)
      case "Unlink": {
        const local = this.runtime.lookup(fromWirePid(frame.to))
        if (local !== undefined) this.removeLink(local, fromWirePid(frame.from))
        return
      }
      case "Monitor":
        return this.onMonitor(frame, node)
      case "Demonitor": {
        const key = `${node}/${frame.ref}`
        const monitor = this.incomingMonitors.get(key)
        if (monitor === undefined) return
        this.incomingMonitors.delete(key)
        monitor.target.unwatch(monitor.localRef)
        return
      }
      case "Down": {
        const monitor = this.outgoingMonitors.get(frame.ref)
        if (monitor === undefined) return
        this.outgoingMonitors.delete(frame.ref)
        monitor.release()
        monitor.fire(fromWirePid(frame.pid), fromWireReason(frame.reason, node))
        return
      }
      case "Spawn":
        return this.onSpawn(frame, node)
      case "Spawned":
        return this.onSpawned(frame, node)
    }
  }

  private resolve(target: WireTarget): Cell | undefined {
    return "name" in target ? this.runtime.resolve(target.name) : this.runtime.lookup(fromWirePid(target))
  }

  private onSend(to: WireTarget, message: unknown, node: string): void {
    const cell = this.resolve(to)
    if (cell !== undefined && this.deliver(cell, message) === Offer.Full) {
      this.log(`message from ${node} to ${cell.pid} dropped: its mailbox is full (policy fail)`)
    }
  }

  /** Puts a message from another node in a mailbox, honouring its overflow policy. */
  private deliver(cell: Cell, message: unknown): Offer {
    const mailbox = cell.mailbox
    const offered = mailbox.offer(message)
    if (offered === Offer.Full && mailbox.overflow === "suspend") {
      // The link's reader cannot wait: the message queues behind the mailbox, without a bound
      // (holding the whole link instead would stall every other conversation with that node).
      mailbox.enqueueBlocked(message, this.park())
      return Offer.Delivered
    }
    return offered
  }

  /**
   * Counts a message (or call) queued behind a full mailbox with policy `suspend`; returns what to
   * call, once, when it leaves that queue (the mailbox wakes each queued sender exactly once;
   * `deliverCall` also covers a withdrawn call).
   */
  private park(): () => void {
    this.parkedMessages++
    return this.unpark
  }

  private readonly unpark = (): void => {
    this.parkedMessages--
  }

  private onCall(frame: Extract<DistFrame, { _tag: "Call" }>, node: string): void {
    const reply = (outcome: Extract<DistFrame, { _tag: "Reply" }>): boolean => this.post(node, outcome)
    const cell = this.resolve(frame.to)
    if (cell === undefined || !cell.alive) return void reply({ _tag: "Reply", ref: frame.ref, outcome: "noproc" })
    const protocol = cell.behaviour?.protocol as Protocol.Protocol<Record<string, Protocol.AnySpec>> | undefined
    const spec = protocol?.[Protocol.SpecTypeId][frame.tag]
    if (protocol === undefined || spec === undefined || spec.kind !== "call") {
      return void reply({
        _tag: "Reply",
        ref: frame.ref,
        outcome: "badrequest",
        detail: `${cell.pid} has no call "${frame.tag}"`
      })
    }
    const codecs = codecsOf(spec)
    let request: Protocol.AnyCallRequest
    try {
      request = (protocol[frame.tag] as (payload: object) => Protocol.AnyCallRequest)(
        codecs.decodePayload(frame.payload)
      )
    } catch (error) {
      return void reply({ _tag: "Reply", ref: frame.ref, outcome: "badrequest", detail: describe(error) })
    }
    const parent = parseTraceparent(frame.traceparent)
    const span = parent === undefined ? undefined : Tracer.externalSpan(parent)
    const envelope = new CallEnvelope(
      request,
      cell.pid,
      (effect) => {
        // A reply too large for a frame (or unencodable) still answers the call.
        if (!reply(replyFrame(frame.ref, effect as Exit.Exit<unknown, unknown>, codecs))) {
          reply({ _tag: "Reply", ref: frame.ref, outcome: "badreply", detail: "the reply could not be sent" })
        }
      },
      span,
      exitedError
    )
    deliverCall(cell, envelope, () => this.park())
  }

  private onReply(frame: Extract<DistFrame, { _tag: "Reply" }>, node: string): void {
    const pending = this.takeCall(frame.ref)
    if (pending === undefined) return // timed out or interrupted: a late reply is dropped
    const codecs = codecsOf(pending.spec)
    const decodeFailure = (what: string, error: unknown) =>
      this.failCall("decode", new RemoteDecodeError({ node, what, detail: describe(error) }))
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
        return pending.resume(this.failCall("exited", new ServerExited({ server, reason })))
      }
      case "noproc":
        return pending.resume(this.failCall("noproc", new NoProcess({ target: String(pending.target) })))
      case "full":
        return pending.resume(
          this.failCall(
            "full",
            new MailboxFull({ target: String(pending.target), capacity: Number(frame.detail ?? 0) })
          )
        )
      case "badrequest":
        return pending.resume(decodeFailure(`request ${pending.tag}`, frame.detail))
      case "badreply":
        return pending.resume(decodeFailure(`reply to ${pending.tag}`, frame.detail))
      case "defect":
        return pending.resume(
          this.failCall(
            "defect",
            new ServerExited({ server: namePid(pending.target), reason: ExitReason.custom(frame.detail) })
          )
        )
    }
  }

  private onCast(frame: Extract<DistFrame, { _tag: "Cast" }>, node: string): void {
    const cell = this.resolve(frame.to)
    if (cell === undefined) return
    const protocol = cell.behaviour?.protocol as Protocol.Protocol<Record<string, Protocol.AnySpec>> | undefined
    const spec = protocol?.[Protocol.SpecTypeId][frame.tag]
    if (protocol === undefined || spec === undefined || spec.kind !== "cast") {
      return this.log(`cast "${frame.tag}" from ${node} to ${cell.pid} dropped: the server has no such cast`)
    }
    try {
      const request = (protocol[frame.tag] as (payload: object) => object)(codecsOf(spec).decodePayload(frame.payload))
      this.deliver(cell, request)
    } catch (error) {
      this.log(`cast "${frame.tag}" from ${node} dropped: ${describe(error)}`)
    }
  }

  private onStop(frame: Extract<DistFrame, { _tag: "Stop" }>, node: string): void {
    const answer = (outcome: Extract<DistFrame, { _tag: "Stopped" }>["outcome"], detail?: string) =>
      this.post(node, { _tag: "Stopped", ref: frame.ref, outcome, ...(detail === undefined ? {} : { detail }) })
    const cell = this.resolve(frame.to)
    if (cell === undefined || !cell.alive) return void answer("noproc")
    if (cell.behaviour === undefined) return void answer("not_genserver", notAServer(cell.pid).message)
    stopServer(
      this.runtime,
      cell,
      fromWireReason(frame.reason, node),
      frame.timeout ?? undefined,
      (timedOut) => void answer(timedOut ? "timeout" : "ok")
    )
  }

  private onStopped(frame: Extract<DistFrame, { _tag: "Stopped" }>): void {
    const pending = take(this.pendingStops, frame.ref)
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
    }
  }

  private onExit(frame: Extract<DistFrame, { _tag: "Exit" }>, node: string): void {
    const from = fromWirePid(frame.from)
    const cell = this.resolve(frame.to)
    if (cell === undefined) return
    // A link's exit signal removes the link: it fired.
    if (frame.link && !this.removeLink(cell, from)) return
    cell.signalExit(from, fromWireReason(frame.reason, node), frame.kill)
  }

  private onLink(fromWire: WirePid, toWire: WirePid, node: string): void {
    const remote = fromWirePid(fromWire)
    const local = this.runtime.lookup(fromWirePid(toWire))
    if (local === undefined || !local.alive) {
      this.post(node, {
        _tag: "Exit",
        from: toWire,
        to: fromWire,
        reason: toWireReason(ExitReason.noproc),
        kill: false,
        link: true
      })
      return
    }
    this.addLink(local, remote)
  }

  private onMonitor(frame: Extract<DistFrame, { _tag: "Monitor" }>, node: string): void {
    const cell = this.resolve(frame.to)
    const down = (pid: WirePid, reason: ExitReason.ExitReason) =>
      this.post(node, { _tag: "Down", ref: frame.ref, watcher: frame.watcher, pid, reason: toWireReason(reason) })
    const key = `${node}/${frame.ref}`
    const localRef = this.runtime.newRefId()
    if (
      cell === undefined ||
      !cell.watch(localRef, (reason) => {
        this.incomingMonitors.delete(key)
        down(toWirePid(cell.pid), reason)
      })
    ) {
      const pid = "name" in frame.to ? { node: this.runtime.node, id: 0, incarnation: 0 } : frame.to
      down(pid, ExitReason.noproc)
      return
    }
    this.incomingMonitors.set(key, { target: cell, localRef })
  }

  private onSpawn(frame: Extract<DistFrame, { _tag: "Spawn" }>, node: string): void {
    const answer = (result: Omit<Extract<DistFrame, { _tag: "Spawned" }>, "_tag" | "ref">): void => {
      this.post(node, { _tag: "Spawned", ref: frame.ref, ...result })
    }
    const spec = this.behaviours.get(frame.behaviour)
    if (spec === undefined) {
      return answer({
        error: {
          kind: "unknown_behaviour",
          detail: `behaviour "${frame.behaviour}" is not registered on ${this.runtime.node}`
        }
      })
    }
    let args: unknown
    try {
      args = Schema.decodeUnknownSync(spec.args)(frame.args)
    } catch (error) {
      return answer({ error: { kind: "bad_args", detail: describe(error) } })
    }
    const start = GenServer.start(
      spec.behaviour as GenServer.Behaviour<unknown, unknown, unknown, ProcessRuntime>,
      args,
      {
        name: frame.name,
        timeout: frame.timeout
      }
    )
    const runtime = this.runtime
    Effect.runForkWith(spec.services ?? Context.empty())(
      Effect.matchEffect(start, {
        onFailure: (error) =>
          Effect.sync(() =>
            answer({
              error:
                error instanceof NameTaken
                  ? { kind: "name_taken", detail: error.owner }
                  : { kind: "init_failed", detail: error.message, reason: toWireReason(error.reason) }
            })
          ),
        onSuccess: (pid) =>
          Effect.sync(() => {
            const cell = runtime.lookup(pid)
            // Link and monitor before the answer leaves: frames on one link arrive in order, so an
            // exit right after the spawn reaches the requester after the answer.
            if (frame.linkTo !== undefined) {
              if (cell !== undefined) this.addLink(cell, fromWirePid(frame.linkTo))
            }
            if (frame.monitor !== undefined) {
              this.onMonitor(
                { _tag: "Monitor", ref: frame.monitor.ref, watcher: frame.monitor.watcher, to: toWirePid(pid) },
                node
              )
            }
            answer({ pid: toWirePid(pid) })
            if (cell === undefined && frame.linkTo !== undefined) {
              // It already exited: the link never existed, so say so like a link to a dead pid.
              this.onLink(frame.linkTo, toWirePid(pid), node)
            }
          })
      }).pipe(Effect.provideService(ProcessRuntime, runtime))
    )
  }

  private onSpawned(frame: Extract<DistFrame, { _tag: "Spawned" }>, node: string): void {
    const pending = take(this.pendingSpawns, frame.ref)
    if (pending === undefined) {
      // Its requester gave up (timeout, interruption): nobody will ever know this process, so it
      // must not run on unowned.
      if (frame.pid !== undefined) {
        this.post(node, {
          _tag: "Exit",
          from: toWirePid(this.runtime.systemPid),
          to: frame.pid,
          reason: toWireReason(ExitReason.killed),
          kill: true,
          link: false
        })
      }
      return
    }
    if (frame.pid !== undefined) {
      const pid = fromWirePid(frame.pid)
      this.counters.spawnsSucceeded++
      pending.onSpawned(pid)
      return pending.resume(Effect.succeed(pid))
    }
    this.counters.spawnsFailed++
    const error = frame.error!
    switch (error.kind) {
      case "unknown_behaviour":
        return pending.resume(Effect.fail(new UnknownBehaviour({ node, detail: error.detail })))
      case "bad_args":
        return pending.resume(
          Effect.fail(new RemoteDecodeError({ node, what: "start arguments", detail: error.detail }))
        )
      case "name_taken":
        return pending.resume(Effect.fail(new NameTaken({ name: pending.name ?? "", owner: error.detail })))
      case "init_failed":
        return pending.resume(
          Effect.fail(
            new InitFailed({
              server: Pid.make(node, 0, 0),
              reason: fromWireReason(error.reason ?? { tag: "Failure", detail: error.detail }, node)
            })
          )
        )
    }
  }

  // -------------------------------------------------------------------------------------------
  // A node went down
  // -------------------------------------------------------------------------------------------

  /** Fails, fires and breaks everything that depended on `node`, at once. */
  nodeDown(node: string, reason: string): void {
    for (const [ref, pending] of this.pendingStops) {
      if (pending.node !== node) continue
      take(this.pendingStops, ref)
      pending.resume(Effect.fail(new NodeDown({ node, reason })))
    }
    for (const [ref, pending] of this.pendingCalls) {
      if (pending.node !== node) continue
      this.takeCall(ref)
      pending.resume(this.failCall("node_down", new NodeDown({ node, reason })))
    }
    for (const [ref, pending] of this.pendingSpawns) {
      if (pending.node !== node) continue
      take(this.pendingSpawns, ref)
      this.counters.spawnsFailed++
      pending.resume(Effect.fail(new NodeDown({ node, reason })))
    }
    for (const [ref, monitor] of this.outgoingMonitors) {
      if (monitor.node !== node) continue
      this.outgoingMonitors.delete(ref)
      monitor.release()
      monitor.fire(namePid(monitor.target), ExitReason.noconnection)
    }
    for (const [key, monitor] of this.incomingMonitors) {
      if (!key.startsWith(`${node}/`)) continue
      this.incomingMonitors.delete(key)
      monitor.target.unwatch(monitor.localRef)
    }
    for (const [key, link] of this.links) {
      if (link.remote.node !== node) continue
      this.links.delete(key)
      link.release()
      link.local.signalExit(link.remote, ExitReason.noconnection, false)
    }
  }

  /** Live links to remote processes (for stats). */
  get linkCount(): number {
    return this.links.size
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
