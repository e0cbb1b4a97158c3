/**
 * Links between local and remote processes. What it keeps: every such link, so that an exit on
 * either side reaches the other once, and losing the node breaks them all with `noconnection`.
 *
 * @internal
 */
import * as ExitReason from "../../Process/ExitReason.ts"
import type { LocalProcess } from "../../Process/internal/remote.ts"
import type { Pid } from "../../Process/Pid.ts"
import type { DistFrame, WirePid } from "../DistributionFrame.ts"
import { noop, pidKey, type Shared } from "./shared.ts"
import { fromWirePid, fromWireReason, toWirePid, toWireReason } from "./wireForms.ts"

interface RemoteLink {
  readonly local: LocalProcess
  readonly remote: Pid
  release: () => void
}

export class Links {
  /** Key: `${local pid id}|${remote pid key}`. */
  private readonly links = new Map<string, RemoteLink>()

  constructor(private readonly shared: Shared) {}

  /** Live links to remote processes (for stats). */
  get size(): number {
    return this.links.size
  }

  // ---------------------------------------------------------------------------------------------
  // Outgoing

  link = (local: LocalProcess, remote: Pid): void => {
    if (!this.shared.isConnected(remote.node)) {
      this.shared.local.exitSignal(local, remote, ExitReason.noconnection, false)
      return
    }
    if (this.add(local, remote)) {
      this.shared.post(remote.node, { _tag: "Link", from: toWirePid(local.pid), to: toWirePid(remote) })
    }
  }

  unlink = (local: LocalProcess, remote: Pid): void => {
    if (this.remove(local, remote)) {
      this.shared.post(remote.node, { _tag: "Unlink", from: toWirePid(local.pid), to: toWirePid(remote) })
    }
  }

  /** Records a link between a local and a remote process; false if it already existed. */
  add(local: LocalProcess, remote: Pid): boolean {
    const key = `${local.pid.id}|${pidKey(remote)}`
    if (this.links.has(key)) return false
    // The entry goes in first: a local process that has already exited breaks the link at once,
    // telling the remote side (a process spawned linked to a dead parent must not outlive it).
    const link: RemoteLink = { local, remote, release: noop }
    this.links.set(key, link)
    link.release = this.shared.local.watchExit(local, (reason) => {
      if (!this.links.delete(key)) return
      this.shared.post(remote.node, {
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

  /** Forgets a link; false if there was none. */
  remove(local: LocalProcess, remote: Pid): boolean {
    const key = `${local.pid.id}|${pidKey(remote)}`
    const link = this.links.get(key)
    if (link === undefined) return false
    this.links.delete(key)
    link.release()
    return true
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming

  onLink(fromWire: WirePid, toWire: WirePid, node: string): void {
    const local = this.shared.local
    const process = local.resolve(fromWirePid(toWire))
    if (process === undefined || !local.isAlive(process)) {
      this.shared.post(node, {
        _tag: "Exit",
        from: toWire,
        to: fromWire,
        reason: toWireReason(ExitReason.noproc),
        kill: false,
        link: true
      })
      return
    }
    this.add(process, fromWirePid(fromWire))
  }

  onUnlink(frame: Extract<DistFrame, { _tag: "Unlink" }>): void {
    const process = this.shared.local.resolve(fromWirePid(frame.to))
    if (process !== undefined) this.remove(process, fromWirePid(frame.from))
  }

  /** The exit signal of a link: the link fired, so it is gone (ignored if it was already). */
  onLinkExit(frame: Extract<DistFrame, { _tag: "Exit" }>, node: string): void {
    const local = this.shared.local
    const from = fromWirePid(frame.from)
    const process = local.resolve("name" in frame.to ? frame.to.name : fromWirePid(frame.to))
    if (process === undefined || !this.remove(process, from)) return
    local.exitSignal(process, from, fromWireReason(frame.reason, node), frame.kill)
  }

  // ---------------------------------------------------------------------------------------------
  // A node went down

  /** Breaks every link to a process of `node` with a `noconnection` exit signal. */
  nodeDown(node: string): void {
    for (const [key, link] of this.links) {
      if (link.remote.node !== node) continue
      this.links.delete(key)
      link.release()
      this.shared.local.exitSignal(link.local, link.remote, ExitReason.noconnection, false)
    }
  }
}
