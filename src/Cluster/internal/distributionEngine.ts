/**
 * The distribution engine of one node: implements the process runtime's remote bridge over the
 * transport, and dispatches the frames other nodes send to the part that keeps their state:
 *
 * - `calls.ts`: calls and stops this node waits for;
 * - `spawns.ts`: spawns this node waits for, and those it serves;
 * - `monitors.ts`: monitors held here on remote processes, and there on local ones;
 * - `links.ts`: links between local and remote processes;
 * - `messages.ts`: sends, casts and exit signals, which keep nothing;
 * - `credit.ts`: the credit of messages (sends, casts, calls) toward and from other nodes' processes.
 *
 * When a node goes down each part settles what depended on it, at once: calls, stops and spawns
 * fail with `NodeDown`, monitors fire `noconnection`, links break with `noconnection`. Hot paths
 * are plain synchronous code. The engine reaches the local runtime only through `LocalNode`.
 *
 * @internal
 */
import type { Context } from "effect"
import type { LocalNode, RemoteBridge } from "../../Process/internal/remote.ts"
import type { Timers } from "../../internal/timers.ts"
import type { BehaviourRegistry } from "../BehaviourRegistry.ts"
import type { DistFrame } from "../DistributionFrame.ts"
import { Calls } from "./calls.ts"
import { Links } from "./links.ts"
import { Messages } from "./messages.ts"
import { Monitors } from "./monitors.ts"
import { type Counters, Shared, type Wire } from "./shared.ts"
import { RemoteTracing } from "./remoteTracing.ts"
import { Spawns } from "./spawns.ts"

export type { Counters, Wire } from "./shared.ts"
export type { SpawnError, SpawnRequest } from "./spawns.ts"

export class DistributionEngine implements RemoteBridge {
  private readonly shared: Shared
  private readonly messages: Messages
  private readonly calls: Calls
  private readonly monitors: Monitors
  private readonly links: Links
  private readonly spawns: Spawns
  /** Frame kinds from newer nodes already logged (once each). */
  private readonly unknownKinds = new Set<string>()
  private readonly log: (message: string) => void

  readonly send: RemoteBridge["send"]
  readonly call: RemoteBridge["call"]
  readonly cast: RemoteBridge["cast"]
  readonly stop: RemoteBridge["stop"]
  readonly exit: RemoteBridge["exit"]
  readonly link: RemoteBridge["link"]
  readonly unlink: RemoteBridge["unlink"]
  readonly monitor: RemoteBridge["monitor"]
  readonly demonitor: RemoteBridge["demonitor"]
  readonly watchExit: RemoteBridge["watchExit"]
  /** Starts a registered behaviour on another node. */
  readonly spawn: Spawns["spawn"]

  constructor(
    local: LocalNode,
    wire: Wire,
    behaviours: BehaviourRegistry["Service"],
    log: (message: string) => void,
    /** The clock of this node's distribution. */
    timers: Timers,
    /** The node's context: remotely spawned processes run with it. */
    context: Context.Context<never>
  ) {
    const shared = new Shared(local, wire, timers, log)
    this.shared = shared
    this.log = log
    const tracing = new RemoteTracing(context, local.name)
    this.messages = new Messages(shared, tracing)
    this.calls = new Calls(shared, this.messages, tracing)
    this.monitors = new Monitors(shared)
    this.links = new Links(shared)
    this.spawns = new Spawns(shared, behaviours, this.links, this.monitors, context, tracing)
    this.send = this.messages.send
    this.cast = this.messages.cast
    this.exit = this.messages.exit
    this.call = this.calls.call
    this.stop = this.calls.stop
    this.link = this.links.link
    this.unlink = this.links.unlink
    this.monitor = this.monitors.monitor
    this.demonitor = this.monitors.demonitor
    this.watchExit = this.monitors.watchExit
    this.spawn = (node, spec, args, options) => this.spawns.spawn(node, spec, args, options)
  }

  /** Handles one frame from `node` (synchronously, in arrival order). */
  receive(frame: DistFrame, node: string): void {
    switch (frame._tag) {
      case "Send":
        return this.messages.onSend(frame.to, frame.message, node, frame.traceparent)
      case "Call":
        return this.calls.onCall(frame, node)
      case "Reply":
        return this.calls.onReply(frame, node)
      case "Cast":
        return this.messages.onCast(frame, node)
      case "Exit":
        return frame.link ? this.links.onLinkExit(frame, node) : this.messages.onExit(frame, node)
      case "Stop":
        return this.calls.onStop(frame, node)
      case "Stopped":
        return this.calls.onStopped(frame)
      case "Link":
        return this.links.onLink(frame.from, frame.to, node)
      case "Unlink":
        return this.links.onUnlink(frame)
      case "Monitor":
        return this.monitors.onMonitor(frame, node)
      case "Demonitor":
        return this.monitors.onDemonitor(frame, node)
      case "Down":
        return this.monitors.onDown(frame, node)
      case "Spawn":
        return this.spawns.onSpawn(frame, node)
      case "Spawned":
        return this.spawns.onSpawned(frame, node)
      case "Credit":
        return this.shared.outflows.onCredit(frame, node)
      case "Unknown": {
        // Logged once per kind (a bounded number of kinds, shortened: the peer chooses them).
        const kind = frame.kind.slice(0, 64)
        if (this.unknownKinds.size < 32 && !this.unknownKinds.has(kind)) {
          this.unknownKinds.add(kind)
          this.log(
            `distribution frames of kind "${kind}" from ${node} dropped: this node does not know it` +
              (frame.ref === undefined ? "" : " (requests are answered as unsupported)")
          )
        }
        // A request: its sender fails it now rather than at its timeout.
        if (frame.ref !== undefined) this.shared.post(node, { _tag: "Unsupported", ref: frame.ref, kind })
        return
      }
      case "Unsupported": {
        // Only for a request of that kind: a ref names a request of this node only with its kind.
        const detail = `node ${node} does not support frames of kind "${frame.kind.slice(0, 64)}"`
        if (frame.kind === "Call" || frame.kind === "Stop") return void this.calls.onUnsupported(frame, node, detail)
        if (frame.kind === "Spawn") return void this.spawns.onUnsupported(frame.ref, node, detail)
        return
      }
    }
  }

  /** Fails, fires and breaks everything that depended on `node`, at once. */
  nodeDown(node: string, reason: string): void {
    this.calls.nodeDown(node, reason)
    this.spawns.nodeDown(node, reason)
    this.monitors.nodeDown(node)
    this.links.nodeDown(node)
    // After the calls: a call waiting for credit has already failed with NodeDown; waiting sends
    // and casts are dropped, as sends to an unreachable node.
    this.shared.outflows.nodeDown(node)
    this.shared.inflows.nodeDown(node)
    // Calls served for it are still answered (to nobody), but the drain no longer waits for them.
    this.shared.servingNodeDown(node)
  }

  /**
   * From now on, calls and spawns from other nodes are refused (their callers fail with
   * `NodeDown`, reason `stopping`); calls already accepted are still answered.
   */
  refuseNewWork(): void {
    this.shared.stopping = true
  }

  /** Calls from other nodes accepted and not yet answered. */
  get servingCalls(): number {
    return this.shared.serving
  }

  /** Calls `wake` once no call from another node is being served; returns a canceller. */
  whenIdle(wake: () => void): () => void {
    return this.shared.whenIdle(wake)
  }

  /** Grants back the credit of messages taken in since the last batch (run every second). */
  flushCredit(): void {
    this.shared.inflows.flush()
  }

  // ---------------------------------------------------------------------------------------------
  // For stats

  get counters(): Counters {
    return this.shared.counters
  }

  get pendingCalls(): ReadonlyMap<number, unknown> {
    return this.calls.pending
  }

  get outgoingMonitors(): ReadonlyMap<number, unknown> {
    return this.monitors.outgoing
  }

  get incomingMonitors(): ReadonlyMap<string, unknown> {
    return this.monitors.incoming
  }

  get linkCount(): number {
    return this.links.size
  }

  get parkedMessages(): number {
    return this.shared.inflows.parked
  }

  /** Credit windows kept toward remote processes, and entries owed to other nodes (for tests). */
  get creditEntries(): { readonly outgoing: number; readonly incoming: number } {
    return { outgoing: this.shared.outflows.size, incoming: this.shared.inflows.size }
  }
}
