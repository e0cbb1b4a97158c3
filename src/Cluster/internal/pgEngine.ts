/**
 * The process groups of one node: the memberships of its own processes (authoritative), and what
 * each peer node last said of its own. Handlers are synchronous, on the transport's read path.
 *
 * @internal
 */
import type { LocalNode } from "../../Process/internal/remote.ts"
import * as Pid from "../../Process/Pid.ts"
import type { Membership, PgFrame, WirePid } from "./pgFrames.ts"

/** A change in a group: pids that joined or left it (a pid once per join or leave). */
export interface GroupChange {
  readonly kind: "join" | "leave"
  readonly scope: string
  readonly group: string
  readonly pids: ReadonlyArray<Pid.Pid>
}

/** What the engine needs from its node. */
export interface PgDeps {
  readonly local: LocalNode
  readonly send: (node: string, frame: PgFrame) => boolean
}

/** Members of each group, keyed by scope then group. */
type Groups = Map<string, Map<string, Array<Pid.Pid>>>

const toWire = (pid: Pid.Pid): WirePid => ({ node: pid.node, id: pid.id, incarnation: pid.incarnation })
const fromWire = (pid: WirePid): Pid.Pid => Pid.make(pid.node, pid.id, pid.incarnation)

const membersOf = (groups: Groups, scope: string, group: string): Array<Pid.Pid> | undefined =>
  groups.get(scope)?.get(group)

const add = (groups: Groups, scope: string, group: string, pids: ReadonlyArray<Pid.Pid>): void => {
  let inScope = groups.get(scope)
  if (inScope === undefined) groups.set(scope, (inScope = new Map()))
  let members = inScope.get(group)
  if (members === undefined) inScope.set(group, (members = []))
  members.push(...pids)
}

/** Removes one occurrence of each pid; returns those that were there. */
const remove = (groups: Groups, scope: string, group: string, pids: ReadonlyArray<Pid.Pid>): Array<Pid.Pid> => {
  const members = membersOf(groups, scope, group)
  if (members === undefined) return []
  const removed: Array<Pid.Pid> = []
  for (const pid of pids) {
    const index = members.findIndex((member) => Pid.equals(member, pid))
    if (index >= 0) removed.push(...members.splice(index, 1))
  }
  if (members.length === 0) {
    const inScope = groups.get(scope)!
    inScope.delete(group)
    if (inScope.size === 0) groups.delete(scope)
  }
  return removed
}

export class PgEngine {
  /** Memberships of this node's processes. */
  private readonly local: Groups = new Map()
  /** Per peer node, the memberships it announced. */
  private readonly remote = new Map<string, Groups>()
  /** Per local pid, how many memberships it has and the hook watching its exit. */
  private readonly watched = new Map<string, { count: number; readonly stop: () => void }>()
  private readonly listeners = new Set<(change: GroupChange) => void>()
  /** Nodes whose groups synced with this node on their current link. */
  readonly peers = new Set<string>()
  /**
   * Nodes told of changes: those this node greeted on their current link (its later frames follow
   * the greeting on that link) and the peers. Not only the peers: a change made between greeting a
   * node and hearing back would otherwise never reach it.
   */
  private readonly audience = new Set<string>()
  private readonly self: string

  constructor(private readonly deps: PgDeps) {
    this.self = deps.local.name
  }

  listen(listener: (change: GroupChange) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(kind: "join" | "leave", scope: string, group: string, pids: ReadonlyArray<Pid.Pid>): void {
    if (pids.length === 0) return
    const change: GroupChange = { kind, scope, group, pids }
    for (const listener of this.listeners) listener(change)
  }

  // --------------------------------------------------------------------------------------------
  // Reads

  members(scope: string, group: string): Array<Pid.Pid> {
    const result = [...(membersOf(this.local, scope, group) ?? [])]
    for (const groups of this.remote.values()) result.push(...(membersOf(groups, scope, group) ?? []))
    return result
  }

  localMembers(scope: string, group: string): Array<Pid.Pid> {
    return [...(membersOf(this.local, scope, group) ?? [])]
  }

  groups(scope: string): Array<string> {
    const names = new Set(this.local.get(scope)?.keys() ?? [])
    for (const groups of this.remote.values()) for (const name of groups.get(scope)?.keys() ?? []) names.add(name)
    return [...names]
  }

  // --------------------------------------------------------------------------------------------
  // Local joins and leaves

  /** Joins a local pid (once more). False when it is not a live local process. */
  join(scope: string, group: string, pid: Pid.Pid): boolean {
    const process = this.deps.local.resolve(pid)
    if (process === undefined || !this.deps.local.isAlive(process)) return false
    const key = String(pid)
    const watch = this.watched.get(key)
    if (watch !== undefined) watch.count++
    else {
      let stop: () => void = () => {}
      this.watched.set(key, { count: 1, stop: () => stop() })
      stop = this.deps.local.watchExit(process, () => this.exited(pid))
    }
    add(this.local, scope, group, [pid])
    this.broadcast({ _tag: "Join", membership: { scope, group, pids: [toWire(pid)] } })
    this.emit("join", scope, group, [pid])
    return true
  }

  /** Removes one membership of a local pid. Whether it was a member. */
  leave(scope: string, group: string, pid: Pid.Pid): boolean {
    const removed = remove(this.local, scope, group, [pid])
    if (removed.length === 0) return false
    this.unwatch(pid, 1)
    this.broadcast({ _tag: "Leave", membership: { scope, group, pids: [toWire(pid)] } })
    this.emit("leave", scope, group, removed)
    return true
  }

  private unwatch(pid: Pid.Pid, count: number): void {
    const key = String(pid)
    const watch = this.watched.get(key)
    if (watch === undefined) return
    watch.count -= count
    if (watch.count <= 0) {
      this.watched.delete(key)
      watch.stop()
    }
  }

  /** A local member exited: it leaves every group it was in, here and everywhere. */
  private exited(pid: Pid.Pid): void {
    this.watched.delete(String(pid))
    for (const [scope, groups] of [...this.local]) {
      for (const [group, members] of [...groups]) {
        const mine = members.filter((member) => Pid.equals(member, pid))
        if (mine.length === 0) continue
        const removed = remove(this.local, scope, group, mine)
        this.broadcast({ _tag: "Leave", membership: { scope, group, pids: removed.map(toWire) } })
        this.emit("leave", scope, group, removed)
      }
    }
  }

  // --------------------------------------------------------------------------------------------
  // Frames and links

  receive(frame: PgFrame, from: string): void {
    switch (frame._tag) {
      case "Join":
      case "Leave": {
        const { scope, group } = frame.membership
        const pids = frame.membership.pids.map(fromWire).filter((pid) => pid.node === from)
        const groups = this.remoteOf(from)
        if (frame._tag === "Join") {
          add(groups, scope, group, pids)
          return this.emit("join", scope, group, pids)
        }
        return this.emit("leave", scope, group, remove(groups, scope, group, pids))
      }
      case "Sync": {
        this.peers.add(from)
        this.audience.add(from)
        // What the sender says replaces what this node knew of its processes.
        const before = this.remote.get(from) ?? new Map()
        const after: Groups = new Map()
        for (const membership of frame.groups) {
          const pids = membership.pids.map(fromWire).filter((pid) => pid.node === from)
          if (pids.length > 0) add(after, membership.scope, membership.group, pids)
        }
        this.remote.set(from, after)
        this.diff(before, after)
        if (frame.reply) this.deps.send(from, this.sync(false))
        return
      }
    }
  }

  /** Emits the joins and leaves that turn `before` into `after`. */
  private diff(before: Groups, after: Groups): void {
    const scopes = new Set([...before.keys(), ...after.keys()])
    for (const scope of scopes) {
      const names = new Set([...(before.get(scope)?.keys() ?? []), ...(after.get(scope)?.keys() ?? [])])
      for (const group of names) {
        const left = [...(membersOf(before, scope, group) ?? [])]
        const joined: Array<Pid.Pid> = []
        for (const pid of membersOf(after, scope, group) ?? []) {
          const index = left.findIndex((member) => Pid.equals(member, pid))
          if (index >= 0) left.splice(index, 1)
          else joined.push(pid)
        }
        this.emit("leave", scope, group, left)
        this.emit("join", scope, group, joined)
      }
    }
  }

  private remoteOf(node: string): Groups {
    let groups = this.remote.get(node)
    if (groups === undefined) this.remote.set(node, (groups = new Map()))
    return groups
  }

  sync(reply: boolean): PgFrame {
    const groups: Array<Membership> = []
    for (const [scope, inScope] of this.local) {
      for (const [group, pids] of inScope) groups.push({ scope, group, pids: pids.map(toWire) })
    }
    return { _tag: "Sync", reply, groups }
  }

  greet(node: string): void {
    if (this.deps.send(node, this.sync(true))) this.audience.add(node)
  }

  /** A node's link went down: its members are removed. */
  nodeDown(node: string): void {
    this.peers.delete(node)
    this.audience.delete(node)
    const groups = this.remote.get(node)
    if (groups === undefined) return
    this.remote.delete(node)
    this.diff(groups, new Map())
  }

  close(): void {
    for (const { stop } of this.watched.values()) stop()
    this.watched.clear()
    this.listeners.clear()
  }

  private broadcast(frame: PgFrame): void {
    for (const node of this.audience) this.deps.send(node, frame)
  }

  get localNode(): string {
    return this.self
  }
}
