/**
 * Monitors across nodes. What it keeps: the monitors held here on remote processes (outgoing:
 * fired with `noconnection` when their node goes down) and those held there on local processes
 * (incoming: dropped when their node goes down).
 *
 * @internal
 */
import * as ExitReason from "../../Process/ExitReason.ts"
import type { LocalProcess, RemoteTarget } from "../../Process/internal/remote.ts"
import type { Pid } from "../../Process/Pid.ts"
import type { MonitorRef } from "../../Process/Signal.ts"
import type { DistFrame, WirePid } from "../DistributionFrame.ts"
import { namePid, noop, type Shared } from "./shared.ts"
import { fromWirePid, fromWireReason, toWirePid, toWireReason, toWireTarget } from "./wireForms.ts"

interface OutgoingMonitor {
  readonly node: string
  readonly target: RemoteTarget
  /** Delivers the Down (to a watcher's mailbox, or to an awaitExit callback). */
  readonly fire: (pid: Pid, reason: ExitReason.ExitReason) => void
  /** Stops watching the local watcher's exit. */
  release: () => void
}

export class Monitors {
  /** Monitors held here on remote processes, by ref id. */
  readonly outgoing = new Map<number, OutgoingMonitor>()
  /** Monitors held by other nodes on local processes: how to stop watching. Key: `${node}/${ref}`. */
  readonly incoming = new Map<string, () => void>()

  constructor(private readonly shared: Shared) {}

  // ---------------------------------------------------------------------------------------------
  // Outgoing

  monitor = (watcher: LocalProcess, target: RemoteTarget, ref: MonitorRef): void => {
    const local = this.shared.local
    this.monitorWith(
      watcher.pid,
      target,
      ref.id,
      (pid, reason) => local.deliverDown(watcher, ref, pid, reason),
      watcher
    )
  }

  demonitor = (watcher: LocalProcess, ref: MonitorRef): boolean => {
    const monitor = this.outgoing.get(ref.id)
    if (monitor === undefined) return false
    this.outgoing.delete(ref.id)
    monitor.release()
    this.shared.post(monitor.node, { _tag: "Demonitor", ref: ref.id, watcher: toWirePid(watcher.pid) })
    return true
  }

  watchExit = (target: RemoteTarget, onExit: (reason: ExitReason.ExitReason) => void): (() => void) => {
    const local = this.shared.local
    const refId = local.newRefId()
    this.monitorWith(local.systemPid, target, refId, (_, reason) => onExit(reason), undefined)
    return () => {
      const monitor = this.outgoing.get(refId)
      if (monitor === undefined) return
      this.outgoing.delete(refId)
      this.shared.post(monitor.node, { _tag: "Demonitor", ref: refId, watcher: toWirePid(local.systemPid) })
    }
  }

  private monitorWith(
    watcherPid: Pid,
    target: RemoteTarget,
    refId: number,
    fire: OutgoingMonitor["fire"],
    watcher: LocalProcess | undefined
  ): void {
    const node = target.node
    if (!this.shared.isConnected(node)) {
      fire(namePid(target), ExitReason.noconnection)
      return
    }
    this.shared.post(node, { _tag: "Monitor", ref: refId, watcher: toWirePid(watcherPid), to: toWireTarget(target) })
    this.track(refId, node, target, fire, watcher)
  }

  /**
   * Records a monitor held here on a remote process. The entry goes in first: a watcher that has
   * already exited drops it at once (and tells the other node), like one that exits later.
   */
  track(
    refId: number,
    node: string,
    target: RemoteTarget,
    fire: OutgoingMonitor["fire"],
    watcher: LocalProcess | undefined
  ): void {
    const monitor: OutgoingMonitor = { node, target, fire, release: noop }
    this.outgoing.set(refId, monitor)
    if (watcher === undefined) return
    monitor.release = this.shared.local.watchExit(watcher, () => {
      if (this.outgoing.delete(refId)) {
        this.shared.post(node, { _tag: "Demonitor", ref: refId, watcher: toWirePid(watcher.pid) })
      }
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming

  onMonitor(frame: Extract<DistFrame, { _tag: "Monitor" }>, node: string): void {
    const local = this.shared.local
    const process = local.resolve("name" in frame.to ? frame.to.name : fromWirePid(frame.to))
    const down = (pid: WirePid, reason: ExitReason.ExitReason) =>
      this.shared.post(node, {
        _tag: "Down",
        ref: frame.ref,
        watcher: frame.watcher,
        pid,
        reason: toWireReason(reason)
      })
    if (process === undefined) {
      const pid = "name" in frame.to ? { node: local.name, id: 0, incarnation: 0 } : frame.to
      down(pid, ExitReason.noproc)
      return
    }
    const key = `${node}/${frame.ref}`
    let fired = false
    const unwatch = local.watchExit(process, (reason) => {
      fired = true
      this.incoming.delete(key)
      down(toWirePid(process.pid), reason)
    })
    // A process that already exited answers at once (its reason), and nothing is kept.
    if (!fired) this.incoming.set(key, unwatch)
  }

  onDemonitor(frame: Extract<DistFrame, { _tag: "Demonitor" }>, node: string): void {
    const key = `${node}/${frame.ref}`
    const unwatch = this.incoming.get(key)
    if (unwatch === undefined) return
    this.incoming.delete(key)
    unwatch()
  }

  onDown(frame: Extract<DistFrame, { _tag: "Down" }>, node: string): void {
    const monitor = this.outgoing.get(frame.ref)
    if (monitor === undefined) return
    this.outgoing.delete(frame.ref)
    monitor.release()
    monitor.fire(fromWirePid(frame.pid), fromWireReason(frame.reason, node))
  }

  // ---------------------------------------------------------------------------------------------
  // A node went down

  /** Fires the monitors held on processes of `node` with `noconnection`; drops those it held here. */
  nodeDown(node: string): void {
    for (const [ref, monitor] of this.outgoing) {
      if (monitor.node !== node) continue
      this.outgoing.delete(ref)
      monitor.release()
      monitor.fire(namePid(monitor.target), ExitReason.noconnection)
    }
    const prefix = `${node}/`
    for (const [key, unwatch] of this.incoming) {
      if (!key.startsWith(prefix)) continue
      this.incoming.delete(key)
      unwatch()
    }
  }
}
