/**
 * The global registry of one node: its replica of the cluster's registrations, the arbiter's
 * decisions when this node is the arbiter, and the requests it sends the arbiter otherwise. Every
 * handler is synchronous (frames arrive on the transport's read path, in order per link), so each
 * decision is atomic. See `GlobalRegistry.ts` for the protocol.
 *
 * @internal
 */
import type { CancelTimer, Timers } from "../../internal/timers.ts"
import * as ExitReason from "../../Process/ExitReason.ts"
import type { LocalNode, LocalProcess } from "../../Process/internal/remote.ts"
import * as Pid from "../../Process/Pid.ts"
import type { GlobalFrame, Grant, WireClaim, WirePid } from "./globalFrames.ts"

/** How a conflict over a name is resolved once two partitions heal. */
export type ConflictMethod = "exitLoser" | "notifyLoser" | "unregisterBoth"

/** One registration. */
export interface Claim {
  readonly pid: Pid.Pid
  method: ConflictMethod
  /** The arbiter's grant that made it, when known (see `Hello.seen`). */
  grant: Grant | undefined
}

/** What the engine needs from its node. */
export interface GlobalDeps {
  readonly local: LocalNode
  readonly timers: Timers
  /** Sends a frame now; false when the node is not linked. */
  readonly send: (node: string, frame: GlobalFrame) => boolean
  /** Tells a losing process of its loss: exit signal or message, per the method. */
  readonly tellLoser: (pid: Pid.Pid, name: string, winner: Pid.Pid | undefined, rival: Pid.Pid, exit: boolean) => void
}

/** Why a request to the arbiter did not get an answer. */
export type RequestFailure = { readonly _tag: "ArbiterLost" } | { readonly _tag: "Timeout"; readonly arbiter: string }

interface Pending {
  readonly arbiter: string
  readonly done: (answer: { ok: boolean; detail: string } | RequestFailure) => void
  readonly cancelTimer: CancelTimer
}

const toWire = (pid: Pid.Pid): WirePid => ({ node: pid.node, id: pid.id, incarnation: pid.incarnation })
const fromWire = (pid: WirePid): Pid.Pid => Pid.make(pid.node, pid.id, pid.incarnation)

/** The order of claims in a conflict: the lower node name first, then the lower pid. */
const before = (a: Pid.Pid, b: Pid.Pid): boolean =>
  a.node !== b.node ? a.node < b.node : a.incarnation !== b.incarnation ? a.incarnation < b.incarnation : a.id < b.id

/** How long a greeting waits for the peer's `Hello` before it is sent again (then doubling, up to the max). */
const greetRetryMs = 200
const greetRetryMaxMs = 3200
/** Greetings sent again at most this many times (a node without a registry never answers). */
const greetRetries = 8

/** Counters read by the metrics layer. */
export class GlobalCounters {
  /** Successful `register`s made on this node. */
  registrations = 0
  /** Successful `unregister`s made on this node. */
  unregistrations = 0
  /** Conflicts this node resolved for its own processes (a loser told, or both unregistered). */
  conflictsResolved = 0
}

export class GlobalEngine {
  /** Registrations per name; more than one only during a conflict. */
  private readonly claims = new Map<string, Array<Claim>>()
  /** The resolved owner of each name (what `whereis` reads). */
  private readonly owners = new Map<string, Pid.Pid>()
  /** Names held by this node's processes, with the hook that releases them on exit. */
  private readonly owned = new Map<string, { readonly pid: Pid.Pid; readonly stop: () => void }>()
  /** Nodes whose registry said hello on their current link. */
  readonly peers = new Set<string>()
  /**
   * Nodes told of changes: those this node greeted on their current link (its later frames follow
   * the greeting on that link) and the peers. Not only the peers: a change made between greeting a
   * node and hearing back would otherwise never reach it.
   */
  private readonly audience = new Set<string>()
  private readonly pending = new Map<number, Pending>()
  /**
   * Releases of this node's names told to the arbiter and not yet acknowledged: told to the next
   * arbiter if this one is lost first (it may not have passed them on).
   */
  private readonly releases = new Map<
    number,
    { readonly arbiter: string; readonly name: string; readonly pid: Pid.Pid }
  >()
  /** Greetings not yet answered by a `Hello`, each with the timer that sends it again. */
  private readonly greetings = new Map<string, CancelTimer>()
  private nextRef = 1
  /** This registry's grants, as the arbiter: who it is (a new epoch per start) and the last number. */
  private readonly grantKey: string
  private grantSeq = 0
  /** The last grant heard of from each arbiter (sent in `Hello.seen`). */
  private readonly seen = new Map<string, number>()
  /**
   * Peers whose registry knows `release` and `transfer` requests and `Transfer` frames (their
   * greeting has `seen`): a registry of an older release closes the link on a frame it cannot decode.
   */
  private readonly current = new Set<string>()
  readonly counters = new GlobalCounters()
  private readonly self: string

  constructor(private readonly deps: GlobalDeps) {
    this.self = deps.local.name
    this.grantKey = `${this.self}:${Math.floor(Math.random() * 2 ** 48).toString(36)}`
  }

  // --------------------------------------------------------------------------------------------
  // Reads

  whereis(name: string): Pid.Pid | undefined {
    return this.owners.get(name)
  }

  names(): Array<string> {
    return [...this.owners.keys()]
  }

  get nameCount(): number {
    return this.owners.size
  }

  get localNameCount(): number {
    return this.owned.size
  }

  /** The arbiter: the lowest-named node among this one and its registry peers. */
  arbiter(): string {
    let lowest = this.self
    for (const peer of this.peers) if (peer < lowest) lowest = peer
    return lowest
  }

  // --------------------------------------------------------------------------------------------
  // The arbiter's decisions

  /** Grants `name` to `pid` if nobody else holds it; broadcasts the claim. `undefined` means ok. */
  grant(name: string, pid: Pid.Pid, method: ConflictMethod): string | undefined {
    const current = this.claims.get(name)
    if (current !== undefined && current.length > 0) {
      const same = current.find((claim) => Pid.equals(claim.pid, pid))
      if (same !== undefined && current.length === 1) return undefined
      return `already registered to ${this.owners.get(name) ?? current[0]!.pid}`
    }
    if (pid.node === this.self) {
      const process = this.deps.local.resolve(pid)
      if (process === undefined || !this.deps.local.isAlive(process)) return `${pid} is not alive`
    }
    const grant = this.nextGrant()
    this.addClaim(name, pid, method, this.self, grant)
    this.tellGranted(pid, { _tag: "Claim", claim: { name, pid: toWire(pid), method, grant } })
    return undefined
  }

  private nextGrant(): Grant {
    return { by: this.grantKey, seq: ++this.grantSeq }
  }

  /**
   * Sends a grant to every node told of changes, and to the owner's node even if it is not one yet
   * (it must learn that its process holds the name: it alone releases it when the process exits).
   */
  private tellGranted(owner: Pid.Pid, frame: GlobalFrame): void {
    this.broadcast(frame)
    if (owner.node !== this.self && !this.audience.has(owner.node)) this.deps.send(owner.node, frame)
  }

  /**
   * Moves `name` from `from` to `to` in one step if `from` holds it alone (or nobody does: then a
   * grant); broadcasts one `Transfer`, so no replica sees the name unowned. `undefined` means ok.
   */
  transfer(name: string, from: Pid.Pid, to: Pid.Pid, method: ConflictMethod): string | undefined {
    const current = this.claims.get(name)
    if (current === undefined || current.length === 0) return this.grant(name, to, method)
    if (current.length === 1 && Pid.equals(current[0]!.pid, to)) return undefined
    if (current.length > 1 || !Pid.equals(current[0]!.pid, from)) {
      return `already registered to ${this.owners.get(name) ?? current[0]!.pid}`
    }
    if (to.node === this.self) {
      const process = this.deps.local.resolve(to)
      if (process === undefined || !this.deps.local.isAlive(process)) return `${to} is not alive`
    }
    const claim: WireClaim = { name, pid: toWire(to), method, grant: this.nextGrant() }
    this.onTransfer(toWire(from), claim, this.self)
    const frame: GlobalFrame = { _tag: "Transfer", from: toWire(from), claim }
    for (const node of this.audience) this.sendTransfer(node, frame)
    if (to.node !== this.self && !this.audience.has(to.node)) this.sendTransfer(to.node, frame)
    return undefined
  }

  /** A `Transfer`, or to a registry of an older release the `Release` and `Claim` it stands for. */
  private sendTransfer(node: string, frame: GlobalFrame & { readonly _tag: "Transfer" }): void {
    if (this.current.has(node)) {
      this.deps.send(node, frame)
      return
    }
    this.deps.send(node, { _tag: "Release", name: frame.claim.name, pid: frame.from })
    this.deps.send(node, { _tag: "Claim", claim: frame.claim })
  }

  /** Removes every registration of `name`; broadcasts the releases. Whether there was one. */
  revoke(name: string): boolean {
    const current = this.claims.get(name)
    if (current === undefined) return false
    for (const claim of [...current]) {
      this.removeClaim(name, claim.pid)
      this.broadcast({ _tag: "Release", name, pid: toWire(claim.pid) })
    }
    return true
  }

  /**
   * Unregisters `name` here when it is held by one of this node's processes and by nobody else (this
   * node is the authority on its processes, as when one exits): released in this replica at once,
   * then by the arbiter on every node it told of the registration (links are ordered, so the arbiter
   * has the release before any later request from this node, and every node hears of it after the
   * arbiter's own `Claim`). False when the name is not held that way (the caller asks the arbiter).
   */
  releaseOwn(name: string): boolean {
    const mine = this.owned.get(name)
    const claims = this.claims.get(name)
    if (mine === undefined || claims === undefined || claims.length !== 1 || !Pid.equals(claims[0]!.pid, mine.pid)) {
      return false
    }
    this.removeClaim(name, mine.pid)
    this.tellRelease(name, mine.pid)
    return true
  }

  /** Has the arbiter release `pid`'s registration of `name` everywhere (this node's own replica has). */
  private tellRelease(name: string, pid: Pid.Pid): void {
    const arbiter = this.arbiter()
    // An arbiter of an older release knows no `release`: then this node tells its own audience, as
    // for an exit.
    if (arbiter !== this.self && this.current.has(arbiter)) {
      const ref = this.nextRef++
      const frame: GlobalFrame = { _tag: "Request", ref, op: "release", name, pid: toWire(pid), method: "exitLoser" }
      if (this.deps.send(arbiter, frame)) {
        this.releases.set(ref, { arbiter, name, pid })
        // Nodes that heard of it from this node (its greeting) may not be the arbiter's: told here too.
        for (const node of this.audience) {
          if (node !== arbiter) this.deps.send(node, { _tag: "Release", name, pid: toWire(pid) })
        }
        return
      }
    }
    this.broadcast({ _tag: "Release", name, pid: toWire(pid) })
  }

  // --------------------------------------------------------------------------------------------
  // Requests to the arbiter

  /**
   * Sends a request to the arbiter and calls `done` once with its answer, or with `ArbiterLost`
   * when the arbiter's link drops first (the caller asks the new arbiter), or `Timeout`.
   */
  request(
    arbiter: string,
    op: "register" | "unregister" | "transfer",
    name: string,
    pid: Pid.Pid | undefined,
    method: ConflictMethod,
    timeoutMs: number,
    done: Pending["done"],
    previous?: Pid.Pid
  ): () => void {
    if (op === "transfer" && arbiter !== this.self && !this.current.has(arbiter)) {
      done({ ok: false, detail: `the arbiter ${arbiter} runs a release without transfers` })
      return () => {}
    }
    const ref = this.nextRef++
    const cancelTimer = this.deps.timers.start(timeoutMs, () => {
      if (this.pending.delete(ref)) done({ _tag: "Timeout", arbiter })
    })
    this.pending.set(ref, { arbiter, done, cancelTimer })
    const sent = this.deps.send(arbiter, {
      _tag: "Request",
      ref,
      op,
      name,
      pid: pid === undefined ? null : toWire(pid),
      ...(previous === undefined ? {} : { previous: toWire(previous) }),
      method
    })
    if (!sent) this.settle(ref, { _tag: "ArbiterLost" })
    return () => {
      const entry = this.pending.get(ref)
      if (entry === undefined) return
      this.pending.delete(ref)
      entry.cancelTimer()
    }
  }

  private settle(ref: number, answer: { ok: boolean; detail: string } | RequestFailure): void {
    const entry = this.pending.get(ref)
    if (entry === undefined) return
    this.pending.delete(ref)
    entry.cancelTimer()
    entry.done(answer)
  }

  // --------------------------------------------------------------------------------------------
  // Frames and links

  receive(frame: GlobalFrame, from: string): void {
    switch (frame._tag) {
      case "Request": {
        const answer = this.answer(frame.op, frame.name, frame.pid, frame.method, from, frame.previous)
        this.deps.send(from, { _tag: "Answer", ref: frame.ref, ok: answer === undefined, detail: answer ?? "" })
        return
      }
      case "Answer":
        if (this.releases.delete(frame.ref)) return
        return this.settle(frame.ref, { ok: frame.ok, detail: frame.detail })
      case "Claim":
        return this.onClaim(frame.claim, from)
      case "Release":
        return this.removeClaim(frame.name, fromWire(frame.pid))
      case "Transfer":
        return this.onTransfer(frame.from, frame.claim, from)
      case "Hello": {
        this.peers.add(from)
        if (frame.seen !== undefined) this.current.add(from)
        else this.current.delete(from)
        this.greetings.get(from)?.()
        this.greetings.delete(from)
        this.audience.add(from)
        // The sender is authoritative for its own processes: its registrations that are not listed
        // ended while the link was down, unless the grant of one came after this greeting was sent
        // (an arbiter's claim can overtake the owner's greeting: another link).
        const listed = new Set(frame.claims.map((claim) => `${claim.name}\u0000${claim.pid.id}`))
        const seen = frame.seen === undefined ? undefined : new Map(frame.seen.map((g) => [g.by, g.seq]))
        for (const [name, claims] of [...this.claims]) {
          for (const claim of [...claims]) {
            if (claim.pid.node !== from || listed.has(`${name}\u0000${claim.pid.id}`)) continue
            if (seen !== undefined && claim.grant !== undefined && (seen.get(claim.grant.by) ?? 0) < claim.grant.seq) {
              continue
            }
            this.removeClaim(name, claim.pid)
          }
        }
        for (const claim of frame.claims) this.onClaim(claim, from)
        if (frame.reply) this.deps.send(from, this.hello(false))
        return
      }
    }
  }

  private answer(
    op: "register" | "unregister" | "release" | "transfer",
    name: string,
    pid: WirePid | null,
    method: ConflictMethod,
    from: string,
    previous: WirePid | undefined
  ): string | undefined {
    if (op === "unregister") return this.revoke(name) ? undefined : "not registered"
    if (pid === null) return "no pid"
    if (op === "release") {
      // The owner's node released it already; every other node hears it from here, after our Claim.
      // Only the owner's node releases this way (any other asks `unregister`).
      if (pid.node !== from) return "not the owner's node"
      const released = fromWire(pid)
      this.removeClaim(name, released)
      for (const node of this.audience) if (node !== from) this.deps.send(node, { _tag: "Release", name, pid })
      return undefined
    }
    if (op === "transfer") {
      return previous === undefined ? "no previous pid" : this.transfer(name, fromWire(previous), fromWire(pid), method)
    }
    return this.grant(name, fromWire(pid), method)
  }

  /** This node's own registrations, as a `Hello`. */
  hello(reply: boolean): GlobalFrame {
    const claims: Array<WireClaim> = []
    for (const [name, { pid }] of this.owned) {
      const claim = this.claims.get(name)?.find((c) => Pid.equals(c.pid, pid))
      if (claim !== undefined) claims.push({ name, pid: toWire(pid), method: claim.method })
    }
    const seen: Array<Grant> = []
    for (const [by, seq] of this.seen) seen.push({ by, seq })
    return { _tag: "Hello", reply, claims, seen }
  }

  /**
   * Says hello to a node whose link came up (or to every linked node when the registry starts), and
   * again every {@link greetRetryMs} (doubling) until its own `Hello` arrives: frames sent just as a
   * link comes up can be lost without the link going down (two crossed dials, one connection
   * superseded), and a node that never hears the other's registrations never resolves a conflict.
   * At most {@link greetRetries} times: a node without a global registry never answers.
   */
  greet(node: string, retryMs = greetRetryMs, retries = greetRetries): void {
    this.greetings.get(node)?.()
    this.greetings.delete(node)
    if (!this.deps.send(node, this.hello(true))) return
    this.audience.add(node)
    if (this.peers.has(node) || retries === 0) return
    this.greetings.set(
      node,
      this.deps.timers.start(retryMs, () => {
        this.greetings.delete(node)
        if (!this.peers.has(node)) this.greet(node, Math.min(retryMs * 2, greetRetryMaxMs), retries - 1)
      })
    )
  }

  /** A node's link went down: its registrations and requests to it end. */
  nodeDown(node: string): void {
    this.greetings.get(node)?.()
    this.greetings.delete(node)
    this.peers.delete(node)
    this.audience.delete(node)
    this.current.delete(node)
    for (const [name, claims] of [...this.claims]) {
      for (const claim of [...claims]) if (claim.pid.node === node) this.removeClaim(name, claim.pid)
    }
    // Releases the lost arbiter may not have passed on go to the next one, before requests are retried.
    for (const [ref, entry] of [...this.releases]) {
      if (entry.arbiter !== node) continue
      this.releases.delete(ref)
      this.tellRelease(entry.name, entry.pid)
    }
    for (const [ref, entry] of [...this.pending]) if (entry.arbiter === node) this.settle(ref, { _tag: "ArbiterLost" })
  }

  /** Stops watching local processes and fails pending requests (the registry is closing). */
  close(): void {
    for (const cancel of this.greetings.values()) cancel()
    this.greetings.clear()
    for (const { stop } of this.owned.values()) stop()
    this.owned.clear()
    this.releases.clear()
    for (const ref of [...this.pending.keys()]) this.settle(ref, { _tag: "ArbiterLost" })
  }

  private broadcast(frame: GlobalFrame): void {
    for (const node of this.audience) this.deps.send(node, frame)
  }

  // --------------------------------------------------------------------------------------------
  // The replica

  private onClaim(wire: WireClaim, from: string): void {
    const pid = fromWire(wire.pid)
    const name = wire.name
    this.addClaim(name, pid, wire.method, from, wire.grant)
    const mine = this.owned.get(name)
    if (mine === undefined) return
    if (Pid.equals(mine.pid, pid)) {
      // One of ours, granted while the name already had a rival here (an arbiter on our side of a
      // partition that had not heard of it): the rival's node must hear of ours from us, or the
      // conflict is never resolved (it may not be in that arbiter's audience).
      const claims = this.claims.get(name)!
      const myClaim = claims.find((claim) => Pid.equals(claim.pid, pid))!
      for (const claim of claims) {
        if (!Pid.equals(claim.pid, pid) && claim.pid.node !== this.self) {
          this.deps.send(claim.pid.node, { _tag: "Claim", claim: { name, pid: toWire(pid), method: myClaim.method } })
        }
      }
      return
    }
    // Two registrations of one name (a partition healed, or arbiters disagreed while membership
    // changed). Only the owner nodes act, and only on what the rival's own node says: a claim
    // relayed by a third node may be stale (its release still on the way).
    const claims = this.claims.get(name)!
    const myClaim = claims.find((claim) => Pid.equals(claim.pid, mine.pid))
    if (myClaim === undefined) return
    if (from !== pid.node) {
      this.deps.send(pid.node, { _tag: "Claim", claim: { name, pid: toWire(mine.pid), method: myClaim.method } })
      return
    }
    const rival = claims.find((claim) => Pid.equals(claim.pid, pid))!
    const iWin = before(mine.pid, pid)
    const method = iWin ? myClaim.method : rival.method
    if (iWin && method !== "unregisterBoth") {
      // The rival's node decides the same on hearing of us; make sure it does.
      this.deps.send(pid.node, { _tag: "Claim", claim: { name, pid: toWire(mine.pid), method: myClaim.method } })
      return
    }
    this.counters.conflictsResolved++
    // With unregisterBoth the rival loses too: it must hear our claim from us, even if its own
    // greeting reached us before it learned of ours (then its later greeting no longer lists it).
    if (method === "unregisterBoth") {
      this.deps.send(pid.node, { _tag: "Claim", claim: { name, pid: toWire(mine.pid), method: myClaim.method } })
    }
    this.removeClaim(name, mine.pid)
    this.broadcast({ _tag: "Release", name, pid: toWire(mine.pid) })
    const both = method === "unregisterBoth"
    this.deps.tellLoser(mine.pid, name, both ? undefined : pid, pid, method === "exitLoser")
  }

  /**
   * A name moved (the arbiter's `Transfer`): the old registration goes and the new one comes in one
   * synchronous step, so `whereis` never finds the name unowned here meanwhile.
   */
  private onTransfer(from: WirePid, claim: WireClaim, sender: string): void {
    this.removeClaim(claim.name, fromWire(from))
    this.onClaim(claim, sender)
  }

  private addClaim(name: string, pid: Pid.Pid, method: ConflictMethod, from: string, grant?: Grant): void {
    if (grant !== undefined && (this.seen.get(grant.by) ?? 0) < grant.seq) this.seen.set(grant.by, grant.seq)
    let claims = this.claims.get(name)
    if (claims === undefined) this.claims.set(name, (claims = []))
    const known = claims.find((claim) => Pid.equals(claim.pid, pid))
    if (known !== undefined) {
      if (from === pid.node) known.method = method
      known.grant ??= grant
    } else {
      claims.push({ pid, method, grant })
    }
    if (pid.node === this.self && !this.owned.has(name)) this.own(name, pid)
    this.resolveOwner(name)
  }

  private own(name: string, pid: Pid.Pid): void {
    const process: LocalProcess | undefined = this.deps.local.resolve(pid)
    if (process === undefined || !this.deps.local.isAlive(process)) {
      // Granted to a process that has already exited: released at once.
      queueMicrotask(() => this.releaseOwned(name, pid))
      this.owned.set(name, { pid, stop: () => {} })
      return
    }
    let stop: () => void = () => {}
    this.owned.set(name, { pid, stop: () => stop() })
    stop = this.deps.local.watchExit(process, () => this.releaseOwned(name, pid))
  }

  /** A local owner exited: its names are released here at once and everywhere by a broadcast. */
  private releaseOwned(name: string, pid: Pid.Pid): void {
    const mine = this.owned.get(name)
    if (mine === undefined || !Pid.equals(mine.pid, pid)) return
    this.removeClaim(name, pid)
    this.broadcast({ _tag: "Release", name, pid: toWire(pid) })
  }

  private removeClaim(name: string, pid: Pid.Pid): void {
    const claims = this.claims.get(name)
    if (claims === undefined) return
    const index = claims.findIndex((claim) => Pid.equals(claim.pid, pid))
    if (index < 0) return
    claims.splice(index, 1)
    if (claims.length === 0) this.claims.delete(name)
    const mine = this.owned.get(name)
    if (mine !== undefined && Pid.equals(mine.pid, pid)) {
      this.owned.delete(name)
      mine.stop()
    }
    this.resolveOwner(name)
  }

  /** The owner of a name: its only claim, or the winner of a conflict (none if both lose). */
  private resolveOwner(name: string): void {
    const claims = this.claims.get(name)
    if (claims === undefined || claims.length === 0) {
      this.owners.delete(name)
      return
    }
    let winner = claims[0]!
    for (const claim of claims) if (before(claim.pid, winner.pid)) winner = claim
    if (claims.length > 1 && winner.method === "unregisterBoth") this.owners.delete(name)
    else this.owners.set(name, winner.pid)
  }
}

/** The exit reason value of a lost conflict, for {@link GlobalDeps.tellLoser}. */
export const conflictExit = (conflict: unknown): ExitReason.ExitReason => ExitReason.custom(conflict)
