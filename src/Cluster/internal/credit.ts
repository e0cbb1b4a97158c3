/**
 * Per-process credit between nodes: how many messages (sends, casts, calls) a node may have on
 * their way to one process of another node before that process's node has taken them in.
 *
 * - The sending node keeps a window per target (pid, or name, as it addressed it): each message
 *   frame spends one credit; a sender out of credit waits, first come first served, and a target
 *   reported full with policy `fail` makes sends fail with `MailboxFull` at once.
 * - The receiving node counts, per sending node and target, the messages it has released (put in
 *   the mailbox, answered, or dropped) and grants them back in `Credit` frames, in batches; those
 *   waiting behind the full mailbox are released only when they get in. So what it holds behind a
 *   full mailbox is at most {@link creditWindow} messages per sending node and target.
 *
 * The protocol is described in docs/ARCHITECTURE.md ("Credit between nodes").
 *
 * @internal
 */
import type { OverflowPolicy } from "../../Process/internal/mailbox.ts"
import type { Parking, RemoteTarget } from "../../Process/internal/remote.ts"
import { RemoteName } from "../../Process/RemoteName.ts"
import type { DistFrame, WireTarget } from "../DistributionFrame.ts"

/** Messages a node may have on their way to one process of another node. */
export const creditWindow = 4096

/** The receiving node grants credit back once this many messages of a window are released. */
export const grantBatch = creditWindow / 8

type CreditFrame = Extract<DistFrame, { _tag: "Credit" }>

/** A pid as both sides see it (a `Pid`, or its wire form). */
interface PidLike {
  readonly id: number
  readonly incarnation: number
}

/**
 * Entries by target: by pid id (the usual case: a number key, no string built per message), by
 * name, and by `id/incarnation` for a pid whose id is held by another incarnation.
 */
class TargetTable<V extends { readonly incarnation: number }> {
  private readonly byId = new Map<number, V>()
  private readonly byName = new Map<string, V>()
  private others: Map<string, V> | undefined = undefined

  get size(): number {
    return this.byId.size + this.byName.size + (this.others?.size ?? 0)
  }

  get(name: string | undefined, pid: PidLike | undefined): V | undefined {
    if (name !== undefined) return this.byName.get(name)
    const entry = this.byId.get(pid!.id)
    if (entry === undefined || entry.incarnation === pid!.incarnation) return entry
    return this.others?.get(`${pid!.id}/${pid!.incarnation}`)
  }

  set(name: string | undefined, pid: PidLike | undefined, value: V): void {
    if (name !== undefined) return void this.byName.set(name, value)
    const entry = this.byId.get(pid!.id)
    if (entry === undefined || entry.incarnation === pid!.incarnation) return void this.byId.set(pid!.id, value)
    ;(this.others ??= new Map()).set(`${pid!.id}/${pid!.incarnation}`, value)
  }

  /** Removes `value` if it is still the entry of its target. */
  delete(name: string | undefined, pid: PidLike | undefined, value: V): void {
    if (name !== undefined) {
      if (this.byName.get(name) === value) this.byName.delete(name)
    } else if (this.byId.get(pid!.id) === value) {
      this.byId.delete(pid!.id)
    } else if (this.others?.get(`${pid!.id}/${pid!.incarnation}`) === value) {
      this.others.delete(`${pid!.id}/${pid!.incarnation}`)
    }
  }

  *values(): IterableIterator<V> {
    yield* this.byId.values()
    yield* this.byName.values()
    if (this.others !== undefined) yield* this.others.values()
  }
}

const nameOf = (target: RemoteTarget): string | undefined => (target instanceof RemoteName ? target.name : undefined)
const wireNameOf = (target: WireTarget): string | undefined => ("name" in target ? target.name : undefined)

// -----------------------------------------------------------------------------------------------
// Sending side

/** What {@link Outflows.spend} decided. */
export const enum Spend {
  /** A credit was spent: send now. */
  Sent = 0,
  /** The target's node reported its mailbox full, policy `fail`: fail with `MailboxFull`. */
  Full = 1,
  /** No credit: wait for it with {@link Outflows.wait}. */
  Wait = 2
}

/** How a wait for credit ended. */
export const enum Waited {
  /** A credit was spent for the waiter: send now. */
  Granted = 0,
  /** The target's mailbox is full with policy `fail`: `MailboxFull`. */
  Full = 1,
  /** The link to the target's node went down: the message is dropped (a call fails with `NodeDown`). */
  NodeDown = 2
}

type Waiter = (outcome: Waited) => void

/** The credit this node has toward one remote target. */
class Window {
  credit = creditWindow
  /** The capacity of the target's mailbox while its node reports it full (policy `fail`). */
  fullCapacity: number | undefined = undefined
  /** Senders waiting for credit, in arrival order (a Set: O(1) withdraw). */
  waiters: Set<Waiter> | undefined = undefined
  constructor(
    readonly name: string | undefined,
    readonly pid: PidLike | undefined,
    readonly incarnation: number
  ) {}
}

/** The windows this node has toward processes of other nodes. */
export class Outflows {
  private readonly nodes = new Map<string, TargetTable<Window>>()

  /** Windows currently kept (for tests and stats). */
  get size(): number {
    let size = 0
    for (const table of this.nodes.values()) size += table.size
    return size
  }

  /** Spends one credit toward `target` if it can (see {@link Spend}). */
  spend(target: RemoteTarget): Spend {
    const name = nameOf(target)
    const pid = name === undefined ? (target as PidLike) : undefined
    let table = this.nodes.get(target.node)
    if (table === undefined) this.nodes.set(target.node, (table = new TargetTable()))
    let window = table.get(name, pid)
    if (window === undefined) {
      window = new Window(name, pid, pid?.incarnation ?? 0)
      table.set(name, pid, window)
    }
    if (window.fullCapacity !== undefined) return Spend.Full
    if (window.credit > 0 && window.waiters === undefined) {
      window.credit--
      return Spend.Sent
    }
    return Spend.Wait
  }

  /** The capacity the target's node reported with its mailbox full (for `MailboxFull`). */
  capacityOf(target: RemoteTarget): number {
    const name = nameOf(target)
    return (
      this.nodes.get(target.node)?.get(name, name === undefined ? (target as PidLike) : undefined)?.fullCapacity ?? 0
    )
  }

  /**
   * Waits for a credit toward `target` (after {@link spend} said `Wait`), behind earlier waiters.
   * Returns a function that withdraws the wait (nothing is spent then).
   */
  wait(target: RemoteTarget, waiter: Waiter): () => void {
    const name = nameOf(target)
    const pid = name === undefined ? (target as PidLike) : undefined
    const table = this.nodes.get(target.node)
    const window = table?.get(name, pid)
    if (window === undefined) {
      // Gone since `spend` (its node went down in between): as a wait ended by the link's loss.
      waiter(Waited.NodeDown)
      return noop
    }
    ;(window.waiters ??= new Set()).add(waiter)
    return () => {
      const waiters = window.waiters
      if (waiters === undefined || !waiters.delete(waiter)) return
      if (waiters.size === 0) window.waiters = undefined
      this.tidy(table!, window)
    }
  }

  /** Gives back a credit spent for a frame that was not sent (its link was not up, or it did not encode). */
  refund(target: RemoteTarget): void {
    const name = nameOf(target)
    const table = this.nodes.get(target.node)
    const window = table?.get(name, name === undefined ? (target as PidLike) : undefined)
    if (window === undefined) return
    // Never above the window: a frame refunded although it went out after all (a large call whose
    // fragments kept going after the call timed out) is granted back by the receiver as well.
    if (window.credit < creditWindow) window.credit++
    this.admit(window)
    this.tidy(table!, window)
  }

  /** A `Credit` frame from `node`. */
  onCredit(frame: CreditFrame, node: string): void {
    const table = this.nodes.get(node)
    const name = wireNameOf(frame.to)
    const pid = name === undefined ? (frame.to as PidLike) : undefined
    const window = table?.get(name, pid)
    if (window === undefined) return // nothing outstanding toward it (or its link was replaced)
    // Never more than the window: a grant beyond it could only come from a confused peer.
    window.credit = Math.min(creditWindow, window.credit + (frame.grant > 0 ? frame.grant : 0))
    window.fullCapacity = frame.full
    if (frame.full !== undefined) {
      const waiters = window.waiters
      window.waiters = undefined
      if (waiters !== undefined) for (const waiter of waiters) waiter(Waited.Full)
    } else {
      this.admit(window)
    }
    this.tidy(table!, window)
  }

  /** The link to `node` went down: its windows are dropped and their waiters told. */
  nodeDown(node: string): void {
    const table = this.nodes.get(node)
    if (table === undefined) return
    this.nodes.delete(node)
    for (const window of table.values()) {
      const waiters = window.waiters
      window.waiters = undefined
      if (waiters !== undefined) for (const waiter of waiters) waiter(Waited.NodeDown)
    }
  }

  /** Spends credit for waiters, first come first served. */
  private admit(window: Window): void {
    const waiters = window.waiters
    if (waiters === undefined) return
    for (const waiter of waiters) {
      if (window.credit === 0) break
      window.credit--
      waiters.delete(waiter)
      waiter(Waited.Granted)
    }
    if (waiters.size === 0 && window.waiters === waiters) window.waiters = undefined
  }

  /** A full window with nobody waiting says nothing a new one would not: it is dropped. */
  private tidy(table: TargetTable<Window>, window: Window): void {
    if (window.credit < creditWindow || window.waiters !== undefined || window.fullCapacity !== undefined) return
    table.delete(window.name, window.pid, window)
  }
}

const noop = (): void => {}

// -----------------------------------------------------------------------------------------------
// Receiving side

/**
 * What this node owes one sending node for one target: messages released but not yet granted
 * back, and messages held behind the target's full mailbox. It is the {@link Parking} those
 * messages are delivered with.
 */
export class Inflow implements Parking {
  /** Released (in the mailbox, answered or dropped) and not yet granted back. */
  released = 0
  /** Held behind the target's full mailbox. */
  parked = 0
  /** The capacity of the target's mailbox while messages wait behind it with policy `fail`. */
  fullCapacity: number | undefined = undefined
  /** What the sender was last told of that (`undefined`: nothing, or that it has room again). */
  toldFull: number | undefined = undefined
  /** False once the link it came on went down: its grants would go to a newer link. */
  live = true
  /** Whether the overrun of its window has been logged. */
  warned = false
  readonly name: string | undefined
  readonly pid: PidLike | undefined
  readonly incarnation: number

  constructor(
    private readonly owner: Inflows,
    readonly node: string,
    readonly to: WireTarget
  ) {
    this.name = wireNameOf(to)
    this.pid = this.name === undefined ? (to as PidLike) : undefined
    this.incarnation = this.pid?.incarnation ?? 0
  }

  /** One message was taken in (delivered, answered or dropped). */
  release(): void {
    if (++this.released >= grantBatch) this.owner.grant(this)
  }

  /**
   * One message waits behind the full mailbox (see {@link Parking}); refused (`undefined`) once the
   * sender has more waiting than its window allows. With policy `fail` the sender is told the
   * mailbox is full, so that its next sends fail with `MailboxFull`.
   */
  park(policy: OverflowPolicy, capacity: number): (() => void) | undefined {
    if (this.parked >= creditWindow) return undefined
    this.parked++
    this.owner.parked++
    if (policy === "fail" && this.fullCapacity === undefined) {
      this.fullCapacity = capacity
      this.owner.grant(this)
    }
    let waiting = true
    return () => {
      if (!waiting) return
      waiting = false
      this.owner.parked--
      this.released++
      // The last one in: everything is granted back (and a full mailbox reported to have room).
      if (--this.parked === 0 || this.released >= grantBatch) this.owner.grant(this)
    }
  }
}

/** What this node owes other nodes, per sending node and target. */
export class Inflows {
  private readonly nodes = new Map<string, TargetTable<Inflow>>()
  /** Messages from other nodes held behind full mailboxes, all targets together. */
  parked = 0

  constructor(private readonly post: (node: string, frame: DistFrame) => boolean) {}

  /** Entries currently kept (for tests and stats). */
  get size(): number {
    let size = 0
    for (const table of this.nodes.values()) size += table.size
    return size
  }

  /** The entry of a message frame from `node` to `to` (made on first use). */
  arrived(node: string, to: WireTarget): Inflow {
    let table = this.nodes.get(node)
    if (table === undefined) this.nodes.set(node, (table = new TargetTable()))
    const name = wireNameOf(to)
    const pid = name === undefined ? (to as PidLike) : undefined
    let inflow = table.get(name, pid)
    if (inflow === undefined) {
      inflow = new Inflow(this, node, to)
      table.set(name, pid, inflow)
    }
    return inflow
  }

  /** Grants back what `inflow` has released, and drops it once it owes nothing. */
  grant(inflow: Inflow): void {
    if (inflow.parked === 0) inflow.fullCapacity = undefined
    const full = inflow.fullCapacity
    if (inflow.released === 0 && full === inflow.toldFull) return
    if (inflow.live) {
      const frame: CreditFrame = { _tag: "Credit", to: inflow.to, grant: inflow.released }
      this.post(inflow.node, full === undefined ? frame : { ...frame, full })
    }
    inflow.released = 0
    inflow.toldFull = full
    if (inflow.parked === 0) this.nodes.get(inflow.node)?.delete(inflow.name, inflow.pid, inflow)
  }

  /** Grants back every remainder smaller than a batch (run every second, so nothing lingers). */
  flush(): void {
    for (const table of this.nodes.values())
      for (const inflow of table.values()) if (inflow.released > 0) this.grant(inflow)
  }

  /**
   * The link to `node` went down: what was owed to it is forgotten (its windows are gone too).
   * Messages of it still behind a mailbox stay there, in order, and are delivered.
   */
  nodeDown(node: string): void {
    const table = this.nodes.get(node)
    if (table === undefined) return
    this.nodes.delete(node)
    for (const inflow of table.values()) inflow.live = false
  }
}
