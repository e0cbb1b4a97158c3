/**
 * What the parts of the distribution engine share: the wire to other nodes, the local node, the
 * clock, the counters, the credit toward and from other nodes' processes, and the ref numbers of
 * requests this node sends.
 *
 * @internal
 */
import type { Effect } from "effect"
import * as Pid from "../../Process/Pid.ts"
import { durationBounds, Histogram } from "../../Process/internal/stats.ts"
import type { LocalNode, RemoteTarget } from "../../Process/internal/remote.ts"
import { RemoteName } from "../../Process/RemoteName.ts"
import type { CancelTimer, Timers } from "../../internal/timers.ts"
import type { SendError } from "../../Transport/TransportError.ts"
import type { DistFrame, WirePid } from "../DistributionFrame.ts"
import { Inflows, Outflows } from "./credit.ts"

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
  /** The protocol version the link to `node` negotiated (`undefined`: not linked). */
  readonly versionOf: (node: string) => number | undefined
}

/**
 * The protocol version since which nodes know the refusals of a stopping node (the `stopping`
 * reply outcome and the `node_stopping` spawn failure). It is the lowest version spoken today, so
 * every peer gets them; the check is where a newer shape has to be kept from older links: a frame
 * shape added later is sent only to peers whose link's version is at least the one that added it.
 */
export const refusalsSince = 2

/** Counters behind `Distribution.stats` (and the metrics). */
export interface Counters {
  totalCalls: number
  totalCasts: number
  callFailures: Record<string, number>
  spawnsInitiated: number
  spawnsSucceeded: number
  spawnsFailed: number
  /** Durations of remote calls (seconds), from the call to its reply, failure or abandonment. */
  readonly callDurations: Histogram
}

/** The engine's shared state, handed to each of its parts. */
export class Shared {
  private refs = 1
  readonly counters: Counters = {
    totalCalls: 0,
    totalCasts: 0,
    callFailures: {},
    spawnsInitiated: 0,
    spawnsSucceeded: 0,
    spawnsFailed: 0,
    callDurations: new Histogram(durationBounds)
  }
  readonly post: Wire["post"]
  readonly isConnected: Wire["isConnected"]
  /** Credit this node has toward processes of other nodes (messages it sends). */
  readonly outflows = new Outflows()
  /** Credit this node owes other nodes for messages to its processes. */
  readonly inflows: Inflows

  /**
   * Set when the node shuts down: calls and spawns from other nodes are refused from then on (the
   * callers fail with `NodeDown`, reason `stopping`).
   */
  stopping = false
  /**
   * Calls from other nodes being served here (accepted, not yet answered), by a number of their
   * own: the caller's node, and the caller's deadline on {@link timers} (`Infinity`: none). No
   * timer per call: expired entries are dropped when counted, and only a waiting drain arms one
   * timer, for the earliest deadline.
   */
  private readonly served = new Map<number, { readonly node: string; readonly deadline: number }>()
  private servedIds = 1
  private idleWaiters: Array<() => void> = []
  private cancelExpiry: CancelTimer | undefined

  /**
   * Calls from other nodes being served here that someone still waits for: accepted, not yet
   * answered, their caller's node still connected and their caller's timeout not yet passed.
   */
  get serving(): number {
    this.dropExpired()
    return this.served.size
  }

  /**
   * A call from `node` is being served; `timeout` is its caller's (milliseconds, from now): past
   * it, the call no longer counts. Returns its number, for {@link endServing}.
   */
  beginServing(node: string, timeout: number | undefined): number {
    const id = this.servedIds++
    const deadline = timeout === undefined ? Infinity : this.timers.now() + Math.max(0, timeout)
    this.served.set(id, { node, deadline })
    return id
  }

  /** Served call `id` no longer counts (answered, its caller gone or past its timeout); idempotent. */
  endServing(id: number): void {
    if (this.served.delete(id) && this.idleWaiters.length > 0) this.wakeIfIdle()
  }

  /** `node` went down: nobody there waits for the calls this node serves for it any more. */
  servingNodeDown(node: string): void {
    for (const [id, entry] of this.served) if (entry.node === node) this.served.delete(id)
    if (this.idleWaiters.length > 0) this.wakeIfIdle()
  }

  /** Calls `wake` once no call from another node is being served (at once if none is); returns a canceller. */
  whenIdle(wake: () => void): () => void {
    if (this.serving === 0) {
      wake()
      return () => {}
    }
    this.idleWaiters.push(wake)
    this.armExpiry()
    return () => {
      this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== wake)
      if (this.idleWaiters.length === 0) this.disarmExpiry()
    }
  }

  private dropExpired(): void {
    const now = this.timers.now()
    for (const [id, entry] of this.served) if (entry.deadline <= now) this.served.delete(id)
  }

  private wakeIfIdle(): void {
    this.dropExpired()
    if (this.served.size > 0) return
    this.disarmExpiry()
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const wake of waiters) wake()
  }

  /** While a drain waits: one timer, for the earliest deadline of the calls still served. */
  private armExpiry(): void {
    if (this.cancelExpiry !== undefined) return
    let earliest = Infinity
    for (const entry of this.served.values()) if (entry.deadline < earliest) earliest = entry.deadline
    if (earliest === Infinity) return
    this.cancelExpiry = this.timers.start(Math.max(0, earliest - this.timers.now()), () => {
      this.cancelExpiry = undefined
      this.wakeIfIdle()
      if (this.idleWaiters.length > 0) this.armExpiry()
    })
  }

  private disarmExpiry(): void {
    this.cancelExpiry?.()
    this.cancelExpiry = undefined
  }

  constructor(
    readonly local: LocalNode,
    readonly wire: Wire,
    /** The clock of this node's distribution (captured when it was built). */
    readonly timers: Timers,
    readonly log: (message: string) => void
  ) {
    this.post = wire.post
    this.isConnected = wire.isConnected
    this.inflows = new Inflows(wire.post)
  }

  /** Whether the link to `node` speaks protocol `version` or later (false if not linked). */
  speaks(node: string, version: number): boolean {
    return (this.wire.versionOf(node) ?? 0) >= version
  }

  /** The ref number of a new request (call, stop, spawn) sent by this node. */
  nextRef(): number {
    return this.refs++
  }
}

/**
 * A request waiting for its answer from another node, with the timer that ends the wait. The timer
 * is armed after the entry is in its map (a timeout of zero may fire while it is being armed).
 */
export interface Pending {
  cancelTimer: CancelTimer
}

/** Removes a pending request and stops its timer; `undefined` if it was already settled. */
export const take = <P extends Pending>(pending: Map<number, P>, ref: number): P | undefined => {
  const entry = pending.get(ref)
  if (entry === undefined) return undefined
  pending.delete(ref)
  entry.cancelTimer()
  return entry
}

export const noop = (): void => {}

export const pidKey = (pid: WirePid | Pid.Pid): string => `${pid.node}/${pid.id}/${pid.incarnation}`

/** The placeholder pid a `Down` carries when a monitored name never resolved to a process. */
export const namePid = (target: RemoteTarget): Pid.Pid =>
  target instanceof RemoteName ? Pid.make(target.node, 0, 0) : target
