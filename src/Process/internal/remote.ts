/**
 * The seam between the node-local runtime and distribution, in both directions:
 *
 * - {@link RemoteBridge}: what the process runtime asks of the cluster layer when an operation
 *   targets a process on another node (with none attached, the node is unreachable);
 * - {@link LocalNode}: what distribution needs from the local runtime to serve other nodes
 *   (deliver a message or a signal to a local process, watch its exit, resolve a target, look up
 *   its protocol, start a behaviour). It is implemented in `localNode.ts` over the runtime.
 *
 * Distribution sees local processes only as {@link LocalProcess} handles: their pid, and what
 * `LocalNode` does with them. It never touches a mailbox or a process record, so the process
 * runtime can change without breaking the cluster.
 *
 * @internal
 */
import type { Effect, Exit, Tracer } from "effect"
import type { MailboxFull, MessageTooLarge, NameTaken, NodeDown, NoProcess } from "../Errors.ts"
import type * as ExitReason from "../ExitReason.ts"
import type { CallTimeout, InitFailed } from "../GenServer.ts"
import type { Pid } from "../Pid.ts"
import type { AnySpec } from "../Protocol.ts"
import { GlobalName } from "../GlobalName.ts"
import type { RemoteName } from "../RemoteName.ts"
import type { MonitorRef } from "../Signal.ts"
import type { OverflowPolicy } from "./mailbox.ts"

/** A process on another node: by pid, or by name on a node. */
export type RemoteTarget = Pid | RemoteName

/**
 * A local process as distribution sees it: a handle carrying its pid, given by {@link LocalNode}
 * (or by the runtime, to the bridge). Everything done with it goes through `LocalNode`.
 */
export interface LocalProcess {
  readonly pid: Pid
}

/** What the cluster layer provides so local processes can reach remote ones. */
export interface RemoteBridge {
  /**
   * Sends a message; dropped silently when the node is unreachable (as in Erlang). Waits while the
   * link is above its high-water mark, so a fast sender cannot grow the link's buffer without bound,
   * and while the target's credit is spent (its mailbox is full, policy `suspend`); fails with
   * `MailboxFull` while the target's node reports its mailbox full with policy `fail`.
   */
  readonly send: (
    from: Pid | undefined,
    target: RemoteTarget,
    message: unknown,
    /** The sender's span (its `send` span, or an unsampled parent): the frame's `traceparent`. */
    span?: Tracer.AnySpan | undefined
  ) => Effect.Effect<void, MailboxFull>
  /**
   * A GenServer call: encodes `request` with its protocol, waits for the reply at most `timeout`
   * milliseconds. Fails with the same errors as a local call, plus `NodeDown`, `RemoteDecodeError`
   * and `MessageTooLarge`.
   */
  readonly call: (
    target: RemoteTarget,
    request: object,
    timeout: number,
    span: Tracer.AnySpan | undefined
  ) => Effect.Effect<unknown, unknown>
  /**
   * A GenServer cast; dropped when the node is unreachable. Waits like {@link send}. Fails with
   * `MessageTooLarge` if it is larger than the node accepts (nothing is sent).
   */
  readonly cast: (
    target: RemoteTarget,
    request: object,
    span: Tracer.AnySpan | undefined
  ) => Effect.Effect<void, MailboxFull | MessageTooLarge>
  /**
   * `GenServer.stop` of a remote server: its node stops it (killing it past `timeout`) and
   * answers; `NodeDown` if the link is lost first.
   */
  readonly stop: (
    target: RemoteTarget,
    reason: ExitReason.ExitReason,
    timeout: number | undefined,
    /** The caller's span (its `GenServer.stop` span, or an unsampled parent): the frame's `traceparent`. */
    span?: Tracer.AnySpan | undefined
  ) => Effect.Effect<void, NoProcess | CallTimeout | NodeDown>
  /** An exit signal from `from` to a remote process. */
  readonly exit: (from: Pid, target: RemoteTarget, reason: ExitReason.ExitReason, untrappable: boolean) => void
  /** Links a local process to a remote one (a `noconnection` exit signal if its node is down). */
  readonly link: (local: LocalProcess, remote: Pid) => void
  readonly unlink: (local: LocalProcess, remote: Pid) => void
  /** Monitors a remote process: `Down` arrives in the watcher's mailbox (noconnection, noproc, ...). */
  readonly monitor: (watcher: LocalProcess, target: RemoteTarget, ref: MonitorRef) => void
  /** Removes a monitor set with {@link monitor}. Returns whether it was still active. */
  readonly demonitor: (watcher: LocalProcess, ref: MonitorRef) => boolean
  /** Calls `onExit` once with the remote process's exit reason (for `awaitExit`). */
  readonly watchExit: (target: RemoteTarget, onExit: (reason: ExitReason.ExitReason) => void) => () => void
}

/**
 * How a message from another node ended up: in the mailbox, queued behind it (`parked`), refused
 * (`refused`: its sender has more queued there than its credit allows), or dropped (`closed`: the
 * process exited).
 */
export type Delivery = "delivered" | "parked" | "refused" | "closed"

/**
 * What distribution is told when a message or call from another node has to wait behind a full
 * mailbox (of either policy for a message, policy `suspend` for a call: a call to a full `fail`
 * mailbox is answered with `MailboxFull`).
 */
export interface Parking {
  /**
   * The message waits; returns what to call, once, when it leaves that queue (admitted, dropped
   * because the receiver exited, or withdrawn), or `undefined` to refuse it.
   */
  readonly park: (policy: OverflowPolicy, capacity: number) => (() => void) | undefined
}

/** How a stop requested by another node ended (the `Stopped` frame's outcome). */
export type StopOutcome = "ok" | "timeout" | "noproc" | "not_genserver"

/** The handler of one call or cast of a local server, for a request from another node. */
export interface RequestHandler {
  /** The declaration of the request: its payload, success and error schemas. */
  readonly spec: AnySpec
  /** Builds the request value from its decoded payload. */
  readonly make: (payload: object) => object
}

/** What distribution needs from the node-local runtime (see `localNode.ts`). */
export interface LocalNode {
  /** This node's name. */
  readonly name: string
  /** The pid signals from outside any process come from. */
  readonly systemPid: Pid
  /** A fresh ref number, unique on this node. */
  readonly newRefId: () => number
  /** A fresh monitor ref of this node. */
  readonly newMonitorRef: () => MonitorRef
  /**
   * The local process a pid (of this node's current incarnation) or a registered name refers to,
   * while it is known to the runtime (it may be exiting: see {@link isAlive}).
   */
  readonly resolve: (target: Pid | string) => LocalProcess | undefined
  /** Whether the process is alive (not exiting, not exited). */
  readonly isAlive: (process: LocalProcess) => boolean
  /** The process the current fiber runs, if it is one. */
  readonly current: Effect.Effect<LocalProcess | undefined>
  /** The declaration behind a request value built by a protocol. */
  readonly requestSpec: (request: object) => AnySpec
  /** The call or cast `tag` of the server running in `process`, if it is a server that has one. */
  readonly handler: (process: LocalProcess, kind: "call" | "cast", tag: string) => RequestHandler | undefined
  /**
   * Puts a message from another node in the process's mailbox. A full mailbox (either policy: the
   * sender cannot be failed any more, its credit bounds how many wait) queues it behind, if
   * `parking` agrees (`parked`), or refuses it (`refused`, dropped).
   */
  readonly deliver: (process: LocalProcess, message: unknown, parking: Parking) => Delivery
  /**
   * What to {@link deliver} for a cast from another node: for a GenServer, the request with the
   * sender's span (`undefined`: the frame carried no trace context), so that its handling is
   * traced as the consumer of that cast; for another process, the request itself.
   */
  readonly castFromNode: (process: LocalProcess, request: object, span: Tracer.AnySpan | undefined) => unknown
  /**
   * Puts a call from another node in the server's mailbox; `reply` is called once with how the call
   * ended (a reply, the server's exit, `MailboxFull`, `NoProcess`). A full mailbox with policy
   * `suspend` queues it behind if `parking` agrees (else `MailboxFull`). Returns whether it was
   * queued behind the mailbox.
   */
  readonly deliverCall: (
    process: LocalProcess,
    request: object,
    span: Tracer.AnySpan | undefined,
    reply: (exit: Exit.Exit<unknown, unknown>) => void,
    parking: Parking
  ) => boolean
  /** Delivers `Down` for a monitor held by `watcher` (dropped if it exited). */
  readonly deliverDown: (watcher: LocalProcess, ref: MonitorRef, pid: Pid, reason: ExitReason.ExitReason) => void
  /** Delivers an exit signal, with the OTP rules (trapping, `normal`, untrappable `kill`). */
  readonly exitSignal: (process: LocalProcess, from: Pid, reason: ExitReason.ExitReason, untrappable: boolean) => void
  /**
   * Calls `onExit` once with the process's exit reason (at once if it has already exited).
   * Returns a function that stops watching.
   */
  readonly watchExit: (process: LocalProcess, onExit: (reason: ExitReason.ExitReason) => void) => () => void
  /**
   * Stops the server running in `process` with `reason` (killing it past `timeout` ms) and tells
   * `done` how it ended; `not_genserver` (with a detail) if it is not a server.
   */
  readonly stop: (
    process: LocalProcess,
    reason: ExitReason.ExitReason,
    timeout: number | undefined,
    done: (outcome: StopOutcome, detail?: string) => void
  ) => void
  /**
   * Starts a GenServer behaviour (types erased: a remote spawn decoded its arguments) and waits for
   * its `init`. Run it with the context the process should have (the node's logger, tracer and
   * services).
   */
  readonly start: (
    behaviour: unknown,
    args: unknown,
    options: { readonly name: string | undefined; readonly timeout: number }
  ) => Effect.Effect<Pid, InitFailed | NameTaken>
  /** Routes this runtime's operations on remote processes to `bridge`. Returns the detach function. */
  readonly attach: (bridge: RemoteBridge) => () => void
}

/**
 * The target as a remote one, if it names a process on another node than `node`. (Not a type
 * guard: a local pid is not "not a pid".)
 */
export const asRemote = (node: string, target: Pid | string | RemoteName | GlobalName): RemoteTarget | undefined =>
  typeof target !== "string" && !(target instanceof GlobalName) && target.node !== node ? target : undefined
