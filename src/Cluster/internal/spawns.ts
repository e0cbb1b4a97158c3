/**
 * Remote spawns of registered behaviours. What it keeps: the spawns this node is waiting for, each
 * with its timer; a spawn whose requester gave up is killed on arrival.
 *
 * The behaviours other nodes start here run with this node's context (captured when distribution
 * was built: its logger, tracer, references and services), merged with the services their registry
 * entry was built with, if any.
 *
 * @internal
 */
import { Context, Effect, Schema, type Tracer } from "effect"
import { NameTaken, NodeDown, RemoteDecodeError } from "../../Process/Errors.ts"
import * as ExitReason from "../../Process/ExitReason.ts"
import { CallTimeout, InitFailed } from "../../Process/GenServer.ts"
import type { LocalProcess } from "../../Process/internal/remote.ts"
import { annotateFailure, Attr, systemName } from "../../Process/internal/tracing.ts"
import * as Pid from "../../Process/Pid.ts"
import type { MonitorRef } from "../../Process/Signal.ts"
import type { CancelTimer } from "../../internal/timers.ts"
import { type BehaviourRegistry, type BehaviourSpec, UnknownBehaviour } from "../BehaviourRegistry.ts"
import type { DistFrame } from "../DistributionFrame.ts"
import type { Links } from "./links.ts"
import type { Monitors } from "./monitors.ts"
import { describe } from "./protocolCodec.ts"
import type { RemoteTracing } from "./remoteTracing.ts"
import { noop, refusalsSince, type Shared, take } from "./shared.ts"
import { fromWirePid, fromWireReason, toWirePid, toWireReason, traceparentOf } from "./wireForms.ts"

/** Why a remote spawn failed. */
export type SpawnError = NodeDown | CallTimeout | InitFailed | NameTaken | UnknownBehaviour | RemoteDecodeError

/** How a spawn is asked for. */
export interface SpawnRequest {
  readonly name?: string | undefined
  readonly linkTo?: LocalProcess | undefined
  readonly monitorFrom?: { readonly watcher: LocalProcess; readonly ref: MonitorRef } | undefined
  /** Milliseconds to wait for the remote `init`. */
  readonly timeout: number
  /** The requester's span (its `spawn` CLIENT span, or an unsampled parent): sent as `traceparent`. */
  readonly span?: Tracer.AnySpan | undefined
}

interface PendingSpawn {
  readonly node: string
  /** The name asked for, if any (for `NameTaken`). */
  readonly name: string | undefined
  readonly resume: (effect: Effect.Effect<Pid.Pid, SpawnError>) => void
  cancelTimer: CancelTimer
  readonly onSpawned: (pid: Pid.Pid) => void
}

/** A registry entry, with the services its layer was built with (when the registry provides them). */
type RegisteredBehaviour = BehaviourSpec<unknown> & { readonly services?: Context.Context<never> | undefined }

export class Spawns {
  private readonly pending = new Map<number, PendingSpawn>()
  private readonly run: (effect: Effect.Effect<void>, services: Context.Context<never> | undefined) => void

  constructor(
    private readonly shared: Shared,
    private readonly behaviours: BehaviourRegistry["Service"],
    private readonly links: Links,
    private readonly monitors: Monitors,
    /** The node's context: what remotely spawned processes run with. */
    context: Context.Context<never>,
    private readonly tracing: RemoteTracing
  ) {
    const runNode = Effect.runForkWith(context)
    this.run = (effect, services) =>
      void (services === undefined ? runNode(effect) : Effect.runForkWith(Context.merge(context, services))(effect))
  }

  // ---------------------------------------------------------------------------------------------
  // Outgoing

  /** Starts a registered behaviour on another node. */
  spawn(
    node: string,
    spec: BehaviourSpec<unknown>,
    args: unknown,
    options: SpawnRequest
  ): Effect.Effect<Pid.Pid, SpawnError> {
    return Effect.callback<Pid.Pid, SpawnError>((resume) => {
      const shared = this.shared
      shared.counters.spawnsInitiated++
      const fail = (error: SpawnError) => {
        shared.counters.spawnsFailed++
        resume(Effect.fail(error))
      }
      if (!shared.isConnected(node)) return fail(new NodeDown({ node, reason: "not connected" }))
      let encoded: unknown
      try {
        encoded = Schema.encodeUnknownSync(spec.args)(args)
      } catch (error) {
        return fail(new RemoteDecodeError({ node, what: `start arguments of ${spec.name}`, detail: describe(error) }))
      }
      const ref = shared.nextRef()
      const pending: PendingSpawn = {
        node,
        name: options.name,
        cancelTimer: noop,
        resume,
        onSpawned: (pid) => {
          if (options.linkTo !== undefined) this.links.add(options.linkTo, pid)
          if (options.monitorFrom !== undefined) {
            const { watcher, ref: monitorRef } = options.monitorFrom
            this.monitors.track(
              monitorRef.id,
              node,
              pid,
              (downPid, reason) => shared.local.deliverDown(watcher, monitorRef, downPid, reason),
              watcher
            )
          }
        }
      }
      this.pending.set(ref, pending)
      pending.cancelTimer = shared.timers.start(options.timeout, () => {
        if (take(this.pending, ref) !== undefined) {
          fail(new CallTimeout({ server: node, request: `spawn ${spec.name}`, timeoutMs: options.timeout }))
        }
      })
      const traceparent = traceparentOf(options.span)
      const sent = shared.post(node, {
        _tag: "Spawn",
        ...(traceparent === undefined ? {} : { traceparent }),
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
        take(this.pending, ref)
        return fail(
          shared.isConnected(node)
            ? new RemoteDecodeError({ node, what: `spawn of ${spec.name}`, detail: "the frame could not be sent" })
            : new NodeDown({ node, reason: "not connected" })
        )
      }
      return Effect.sync(() => void take(this.pending, ref))
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming

  onSpawn(frame: Extract<DistFrame, { _tag: "Spawn" }>, node: string): void {
    const shared = this.shared
    const local = shared.local
    const answer = (result: Omit<Extract<DistFrame, { _tag: "Spawned" }>, "_tag" | "ref">): void => {
      shared.post(node, { _tag: "Spawned", ref: frame.ref, ...result })
    }
    if (shared.stopping) {
      const detail = `${local.name} is shutting down`
      // A peer on a version before the refusals gets the nearest answer it knows.
      return answer({
        error: shared.speaks(node, refusalsSince)
          ? { kind: "node_stopping", detail }
          : { kind: "init_failed", detail, reason: { tag: "Shutdown", detail } }
      })
    }
    const spec = this.behaviours.get(frame.behaviour) as RegisteredBehaviour | undefined
    if (spec === undefined) {
      return answer({
        error: {
          kind: "unknown_behaviour",
          detail: `behaviour "${frame.behaviour}" is not registered on ${local.name}`
        }
      })
    }
    let args: unknown
    try {
      args = Schema.decodeUnknownSync(spec.args)(frame.args)
    } catch (error) {
      return answer({ error: { kind: "bad_args", detail: describe(error) } })
    }
    const start = this.traced(
      local.start(spec.behaviour, args, { name: frame.name, timeout: frame.timeout }),
      frame,
      node
    )
    this.run(
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
            const process = local.resolve(pid)
            const linkTo = frame.linkTo === undefined ? undefined : fromWirePid(frame.linkTo)
            if (!shared.isConnected(node)) {
              // The requester's node went down while `init` ran: its node-down cleanup came too
              // early to see this process. A link to it is broken as any link to a lost node is
              // (`noconnection`); a monitor has nobody left to tell.
              if (process !== undefined && linkTo !== undefined) {
                local.exitSignal(process, linkTo, ExitReason.noconnection, false)
              }
              return
            }
            const monitor = () =>
              frame.monitor !== undefined &&
              this.monitors.onMonitor(
                { _tag: "Monitor", ref: frame.monitor.ref, watcher: frame.monitor.watcher, to: toWirePid(pid) },
                node
              )
            if (process !== undefined) {
              // Link and monitor before the answer leaves: frames on one link arrive in order, so an
              // exit right after the spawn reaches the requester after the answer.
              if (linkTo !== undefined) this.links.add(process, linkTo)
              monitor()
              answer({ pid: toWirePid(pid) })
            } else {
              // It already exited: answer first, then say so as for a dead pid (a noproc exit
              // signal for the link, a noproc Down for the monitor), which the requester, holding
              // the pid by then, can match.
              answer({ pid: toWirePid(pid) })
              if (frame.linkTo !== undefined) this.links.onLink(frame.linkTo, toWirePid(pid), node)
              monitor()
            }
          })
      }),
      spec.services
    )
  }

  /**
   * The start of a behaviour asked for by `node`, inside a SERVER `spawn <behaviour>` span, child of
   * the requester's CLIENT span (when there is a span to make, see `remoteTracing.ts`).
   */
  private traced<E>(
    start: Effect.Effect<Pid.Pid, E>,
    frame: Extract<DistFrame, { _tag: "Spawn" }>,
    node: string
  ): Effect.Effect<Pid.Pid, E> {
    if (this.tracing.placement(frame.traceparent) === undefined) return start
    const attributes: Record<string, unknown> = {
      "rpc.system.name": systemName,
      "rpc.method": "spawn",
      [Attr.node]: this.tracing.node,
      [Attr.behaviour]: frame.behaviour,
      [Attr.peer]: node
    }
    if (frame.name !== undefined) attributes[Attr.name] = frame.name
    return this.tracing.wrap(
      annotateFailure(Effect.tap(start, (pid) => Effect.annotateCurrentSpan(Attr.pid, String(pid)))),
      frame.traceparent,
      `spawn ${frame.behaviour}`,
      "server",
      attributes
    )
  }

  onSpawned(frame: Extract<DistFrame, { _tag: "Spawned" }>, node: string): void {
    const shared = this.shared
    const pending = take(this.pending, frame.ref)
    if (pending === undefined) {
      // Its requester gave up (timeout, interruption): nobody will ever know this process, so it
      // must not run on unowned.
      if (frame.pid !== undefined) {
        shared.post(node, {
          _tag: "Exit",
          from: toWirePid(shared.local.systemPid),
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
      shared.counters.spawnsSucceeded++
      pending.onSpawned(pid)
      return pending.resume(Effect.succeed(pid))
    }
    shared.counters.spawnsFailed++
    const error = frame.error
    if (error === undefined) {
      return pending.resume(
        Effect.fail(new RemoteDecodeError({ node, what: "spawn answer", detail: "neither a pid nor an error" }))
      )
    }
    switch (error.kind) {
      case "unknown_behaviour":
        return pending.resume(Effect.fail(new UnknownBehaviour({ node, detail: error.detail })))
      case "bad_args":
        return pending.resume(
          Effect.fail(new RemoteDecodeError({ node, what: "start arguments", detail: error.detail }))
        )
      case "name_taken":
        return pending.resume(Effect.fail(new NameTaken({ name: pending.name ?? "", owner: error.detail })))
      case "node_stopping":
        return pending.resume(Effect.fail(new NodeDown({ node, reason: "stopping" })))
      case "init_failed":
        return pending.resume(
          Effect.fail(
            new InitFailed({
              server: Pid.make(node, 0, 0),
              reason: fromWireReason(error.reason ?? { tag: "Failure", detail: error.detail }, node)
            })
          )
        )
      default:
        // A failure of a newer release: this spawn fails, the link stays up.
        return pending.resume(
          Effect.fail(
            new RemoteDecodeError({
              node,
              what: "spawn answer",
              detail: `a spawn failure this node does not know ("${error.kind.slice(0, 64)}", from a newer node): ${error.detail}`
            })
          )
        )
    }
  }

  // ---------------------------------------------------------------------------------------------
  // A node went down

  /** The peer answered the `Spawn` `ref` as unsupported: that spawn fails with `RemoteDecodeError`. */
  onUnsupported(ref: number, node: string, detail: string): void {
    const pending = take(this.pending, ref)
    if (pending === undefined) return
    this.shared.counters.spawnsFailed++
    pending.resume(Effect.fail(new RemoteDecodeError({ node, what: "spawn request", detail })))
  }

  /** Fails every spawn pending on `node` with `NodeDown`, at once. */
  nodeDown(node: string, reason: string): void {
    for (const [ref, pending] of this.pending) {
      if (pending.node !== node) continue
      take(this.pending, ref)
      this.shared.counters.spawnsFailed++
      pending.resume(Effect.fail(new NodeDown({ node, reason })))
    }
  }
}
