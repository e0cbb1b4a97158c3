/**
 * The link engine shared by every transport implementation: handshake, link table, tie-breaks,
 * channel dispatch, backpressure and link events. Implementations only supply connections.
 *
 * Hot paths (`send`, frame dispatch) are plain synchronous code; the Effect surface is built on top.
 *
 * @internal
 */
import { Clock, Effect, Exit, Fiber, PubSub, Schema, Stream } from "effect"
import type { Context } from "effect"
import type { Channel } from "../Channel.ts"
import * as Codec from "../Codec.ts"
import { ControlFrame, formatRange, helloRange, minProtocolVersion, negotiate, protocolVersion } from "../Frame.ts"
import type { Address, NodeIdentity, RejectReason, VersionRange } from "../Frame.ts"
import type { LinkDownReason, LinkEvent, LinkInfo, Transport } from "../Transport.ts"
import {
  ChannelInUse,
  ConnectFailed,
  EncodeFailed,
  HandshakeRejected,
  MessageTooLarge,
  NotConnected
} from "../TransportError.ts"
import type { ConnectError, ConnectFailure, SendError } from "../TransportError.ts"
import * as Timers from "../../internal/timers.ts"
import type { CancelTimer } from "../../internal/timers.ts"
import type { Conn } from "./conn.ts"
import { repeats } from "../../internal/logThrottle.ts"
import { hostOf, Refusals } from "./refusals.ts"
import type { RefusalReason } from "./refusals.ts"
import { defaultFragmentBytes } from "./fragments.ts"
import { encodeKeepingLargeBinaries, hasLarge, joined, type Segments } from "./largeBinaries.ts"
import { encodeOutOfBand, isOutOfBand, type OutOfBand, placeValues } from "./outOfBand.ts"
import { newIncarnation } from "./tuning.ts"
import { type Simulation, WireSimulation, withExtraField } from "./wireSimulation.ts"

/** Log sink used from callbacks. */
export type Log = (level: "Debug" | "Info" | "Warn" | "Error", message: string) => void

/** Settings of an engine. */
export interface LinkEngineConfig {
  readonly local: NodeIdentity
  readonly address: Address
  /** The largest message this node accepts (announced to peers in the handshake). */
  readonly maxFrameBytes: number
  /** The largest fragment data this node accepts (announced to peers). Default 64 KiB. */
  readonly fragmentBytes?: number | undefined
  readonly highWaterMarkBytes: number
  readonly handshakeTimeoutMs: number
  /**
   * How long a linked peer has to answer a probe when another incarnation of its name connects
   * (see {@link LinkEngine.admitting}).
   */
  readonly incarnationProbeTimeoutMs: number
  readonly codec: Codec.Codec
  readonly log: Log
  /** The clock of the transport: handshake and shutdown timers, and link silences (monotonic). */
  readonly timers: Timers.Timers
  /** Wall-clock epoch milliseconds, for the timestamps shown to people. */
  readonly wallClockMillis: () => number
  /** The services of the fiber that built the engine (its metric registry, for refusals). */
  readonly context: Context.Context<never>
  /** Tests only: behave as a node of a newer release on the wire (see `wireSimulation.ts`). */
  readonly simulation?: Simulation | undefined
}

/**
 * The link engine of node `name` (with a new incarnation) at `address`, on the clock of the fiber
 * that builds it: the one construction every transport implementation shares.
 */
export const makeLinkEngine = (
  settings: Omit<LinkEngineConfig, "local" | "codec" | "timers" | "wallClockMillis" | "context" | "simulation"> & {
    readonly name: string
  }
): Effect.Effect<LinkEngine> =>
  Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    return Effect.succeed(
      new LinkEngine({
        ...settings,
        local: { name: settings.name, incarnation: newIncarnation() },
        codec: Codec.make(),
        timers: Timers.ofFiber(fiber),
        wallClockMillis: () => clock.currentTimeMillisUnsafe(),
        context: fiber.context,
        simulation: fiber.getRef(WireSimulation)
      })
    )
  })

/** Why a peer claiming `name` is not who its TLS authentication says, if it is not. */
const identityMismatch = (options: AttachOptions, name: string): string | undefined => {
  const authenticated = options.authenticated
  if (authenticated === undefined || authenticated.names.includes(name)) return undefined
  const names = authenticated.names.length === 0 ? "no node" : authenticated.names.map((n) => `"${n}"`).join(", ")
  return `${authenticated.by} names ${names}, but the peer claims to be "${name}"`
}

/** Options of a dial, as seen by the engine. */
export interface AttachOptions {
  /**
   * The node names the peer's TLS authentication vouches for (its PSK identity, or the names in
   * its certificate when node names are bound to certificates): the name it claims in its Hello
   * or Welcome must be one of them.
   */
  readonly authenticated?: { readonly names: ReadonlyArray<string>; readonly by: string } | undefined
  /** For outbound connections: the node name expected at that address. */
  readonly expectedName?: string | undefined
}

type Direction = "inbound" | "outbound"

interface Connection {
  readonly conn: Conn
  readonly direction: Direction
  state: "handshake" | "open" | "closed"
  peer: NodeIdentity | undefined
  peerAddress: Address | null
  /** Monotonic milliseconds (`timers.now`) of the last frame received. */
  lastReceivedAt: number
  /** The largest message the peer accepts (its handshake says; an older peer: this node's limit). */
  peerMaxFrameBytes: number
  /** The protocol version of the link (0 until the handshake agrees on one). */
  version: number
  /** Frames and bytes (frame bodies) sent and received on this connection, for the metrics. */
  framesIn: number
  bytesIn: number
  framesOut: number
  bytesOut: number
  /** The connection that took over this one's link (same peer incarnation), if one did. */
  replacedBy: Connection | undefined
  replacing: boolean
  /** The liveness probe running on this link (another incarnation of its peer is connecting). */
  probe: Probe | undefined
  /**
   * Data frames the accepting peer sent (it has already opened the link) while this dialing side
   * was still deciding whether to admit it (probing an old incarnation): dispatched once it opens.
   */
  early: Array<{ readonly frame: Array<unknown>; readonly size: number }> | undefined
  /**
   * Senders (fibers) with a large message not yet fully written on this connection that they did
   * not wait for (`sendUnsafe`), each with the frames it sent since, held in order behind it.
   */
  readonly lanes: Map<object, Array<Held>>
  /** Frames sent outside any fiber while large messages were unfinished (see `LinkEngine.post`). */
  readonly barrier: Array<Barrier>
  /** `conn.opened` was called: the connection accepts frames up to its full limit. */
  connOpened: boolean
  /** Cancels the handshake timer while it runs. */
  cancelTimer: CancelTimer | undefined
  settle: ((exit: Exit.Exit<NodeIdentity, ConnectError>) => void) | undefined
  readonly waiters: Set<() => void>
  readonly options: AttachOptions
}

/** A frame held behind its sender's unfinished large message; `done` is told when it is written (or not). */
interface Held {
  readonly body: Body
  readonly done: ((ok: boolean) => void) | undefined
}

/** A frame from outside any fiber, waiting for the large messages unfinished when it was sent. */
interface Barrier {
  readonly held: Held
  readonly waitingFor: Set<object>
}

/** The lane key of frames sent outside any fiber (see `LinkEngine.post`). */
const systemSender: object = { sender: "none" }

/** The sender of a frame, for per-sender order: the fiber sending it (a process), if any. */
const currentSender = (): object | undefined => Fiber.getCurrent()

/** A probe of a link: whoever waits for its outcome, and its timer. */
interface Probe {
  readonly waiters: Array<(alive: boolean) => void>
  cancel: CancelTimer
}

/** What the engine decides about a handshaking connection. */
type Admission = "admitted" | { reason: RejectReason; message: string; node: NodeIdentity | null }

interface Registration {
  readonly channel: Channel<unknown>
  readonly handler: (message: unknown, from: NodeIdentity) => void
}

const decodeControl = Schema.decodeUnknownExit(ControlFrame)

const controlTags: ReadonlySet<unknown> = new Set(
  ControlFrame.members.map((member) => member.fields._tag.schema.literal)
)

/** A map tagged with a kind that is not a control frame of this release. */
const isUnknownControl = (value: unknown): value is { readonly _tag: string } =>
  typeof value === "object" &&
  value !== null &&
  !Array.isArray(value) &&
  typeof (value as { _tag?: unknown })._tag === "string" &&
  !controlTags.has((value as { _tag: string })._tag)

/**
 * A `Reject` whose reason this release does not know (a newer node's): what to tell, with the
 * peer's own message; `undefined` for anything else.
 */
const unknownRefusal = (value: unknown): string | undefined => {
  if (typeof value !== "object" || value === null || (value as { _tag?: unknown })._tag !== "Reject") return undefined
  const { reason, message } = value as { reason?: unknown; message?: unknown }
  if (typeof reason !== "string" || typeof message !== "string") return undefined
  return `the peer refused the connection for a reason this node does not know ("${reason.slice(0, 64)}"): ${message.slice(0, 500)}`
}

/** What a simulated newer node appends to its data frames. */
const extraElement = { fromTheFuture: true }

/** How long after the engine starts frames for channels not registered yet are held (milliseconds). */
const HELD_FRAMES_GRACE_MS = 30_000

/** At most this many such frames are held, all channels together. */
const HELD_FRAMES_MAX = 4096

/** At most this many bytes of such frames (their size on the wire) are held, all channels together. */
const HELD_BYTES_MAX = 64 * 1024 * 1024

const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** An encoded message: whole, in segments (large binaries not copied), or with out-of-band values. */
type Body = Uint8Array | Segments | OutOfBand

/** The bytes of a body that goes out whole (never one with out-of-band values: those are always fragmented). */
const whole = (body: Body): Uint8Array => {
  if (isOutOfBand(body)) throw new Error("a message with out-of-band values cannot go out whole")
  return joined(body)
}

/** Writes a whole frame body on the connection, counting it. */
const emit = (c: Connection, body: Uint8Array): void => {
  c.framesOut++
  c.bytesOut += body.length
  c.conn.write(body)
}

/** Queues a large message as fragments, counting it as one frame of its whole size. */
const emitFragmented = (c: Connection, body: Body, sent: (ok: boolean) => void): void => {
  c.framesOut++
  c.bytesOut += body.length
  c.conn.writeFragmented(body, sent)
}

/**
 * The accepting side's log line for a refused handshake: what it means and what to check, with the
 * detail sent to the peer. Refusals that are part of normal operation are only debug lines.
 */
const refusalLine = (
  reason: RejectReason,
  remote: string,
  message: string,
  claimed: string | undefined
): { readonly level: "Debug" | "Warn"; readonly line: string } => {
  const who = claimed === undefined ? `a node at ${remote}` : `node "${claimed}" at ${remote}`
  switch (reason) {
    case "duplicate_name":
      return {
        level: "Warn",
        line:
          `refused ${who}: its name is already taken by a live node (${message}). Two live nodes cannot ` +
          `share a name: give every node a unique name (duplicate_name)`
      }
    case "version_mismatch":
      return {
        level: "Warn",
        line:
          `refused ${who}: it speaks another version of the cluster protocol (${message}). Every node must ` +
          `run a compatible version of effect-otp (version_mismatch)`
      }
    case "identity_mismatch":
      return {
        level: "Warn",
        line:
          `refused ${who}: it is not the node it claims to be (${message}). Its TLS identity must name it ` +
          `(identity_mismatch)`
      }
    default:
      return { level: "Debug", line: `refused ${who} (${reason}): ${message}` }
  }
}

/** The engine: owns every connection of one node. */
export class LinkEngine {
  private readonly links = new Map<string, Connection>()
  private readonly connections = new Set<Connection>()
  private readonly channels = new Map<string, Registration>()
  /**
   * Frames that arrived, while this node starts, on a channel not registered yet: a peer sees this
   * node up (its first heartbeat) before the node's later layers (distribution, global names,
   * groups) have registered their channels. Delivered in arrival order when the channel registers,
   * if their link is still up; bounded in count, bytes and time ({@link HELD_FRAMES_MAX},
   * {@link HELD_BYTES_MAX}, {@link HELD_FRAMES_GRACE_MS}: a timer drops them all then), and a
   * link's frames are dropped when it goes down. Each layer registers its channel as the last step
   * of its start, once its handler is ready for any frame (see docs/ARCHITECTURE.md).
   */
  private held:
    Map<string, Array<{ readonly c: Connection; readonly frame: Array<unknown>; readonly size: number }>> | undefined =
    new Map()
  private heldCount = 0
  private heldBytes = 0
  /** Ends the holding when the start is over; running only while frames are held. */
  private cancelHolding: CancelTimer | undefined
  private readonly startedAt: number
  /** Channels registered at some point: a frame for one of them after it is gone is dropped, not held. */
  private readonly registeredOnce = new Set<string>()
  private closing = false
  readonly events: PubSub.PubSub<LinkEvent>
  private readonly linkListeners = new Set<(event: LinkEvent) => void>()
  private readonly now: () => number
  /** Refused connections: counted by reason, logged once per host and reason, then rarely. */
  readonly refusals: Refusals
  /** The protocol versions this node speaks. */
  readonly versions: VersionRange
  /** Tests only: adds an unknown field to every frame sent (a simulated newer node). */
  private readonly extraFields: boolean
  /** Whether this node takes and sends messages with out-of-band values (tests may simulate an older node). */
  private readonly outOfBand: boolean
  /** Kinds of unknown control frames already logged (a bounded number: the peer chooses them). */
  private readonly unknownControls = new Set<string>()

  constructor(readonly config: LinkEngineConfig) {
    this.events = Effect.runSync(PubSub.unbounded<LinkEvent>())
    this.now = config.timers.now
    this.startedAt = this.now()
    this.refusals = new Refusals(config.log, config.timers.now, config.context)
    this.versions = config.simulation?.versions ?? { min: minProtocolVersion, max: protocolVersion }
    this.extraFields = config.simulation?.extraFields === true
    this.outOfBand = config.simulation?.withoutOutOfBand !== true
  }

  /** Counts a connection from `remote` refused for `reason`, and logs `line` once per host and reason, then rarely. */
  refuse(reason: RefusalReason, level: "Debug" | "Warn", remote: string, line: string): void {
    this.refusals.refuse(reason, level, remote, line)
  }

  // ---------------------------------------------------------------------------------------------
  // connections

  /**
   * Takes over a connection whose transport-level security is established. For outbound
   * connections the returned exit settles when the handshake does.
   */
  attach(
    conn: Conn,
    direction: Direction,
    options: AttachOptions = {}
  ): Promise<Exit.Exit<NodeIdentity, ConnectError>> {
    const c: Connection = {
      conn,
      direction,
      state: "handshake",
      peer: undefined,
      peerAddress: null,
      lastReceivedAt: this.now(),
      peerMaxFrameBytes: this.config.maxFrameBytes,
      version: 0,
      framesIn: 0,
      bytesIn: 0,
      framesOut: 0,
      bytesOut: 0,
      replacedBy: undefined,
      replacing: false,
      probe: undefined,
      early: undefined,
      lanes: new Map(),
      barrier: [],
      connOpened: false,
      cancelTimer: undefined,
      settle: undefined,
      waiters: new Set(),
      options
    }
    const settled = new Promise<Exit.Exit<NodeIdentity, ConnectError>>((resolve) => {
      c.settle = resolve
    })
    conn.handlers = {
      onFrame: (body) => this.onFrame(c, body),
      onParts: (skeleton, values, size) =>
        // A simulated older node breaks on them, as that release did.
        this.outOfBand ? this.onParts(c, skeleton, values, size) : this.protocolError(c, "unknown fragment kind 3"),
      onFragment: () => {
        c.lastReceivedAt = this.now()
      },
      onFramingError: (detail) => this.protocolError(c, detail, "oversized"),
      onOversized: (size, limit) => this.oversized(c, size, limit),
      onClose: (detail) => this.onClose(c, detail)
    }
    this.connections.add(c)
    if (this.closing) {
      this.settle(c, Exit.fail(this.connectFailed(c, "transport is shutting down", "closing")))
      conn.destroy()
      return settled
    }
    c.cancelTimer = this.config.timers.start(this.config.handshakeTimeoutMs, () => this.handshakeTimeout(c))
    if (direction === "outbound") {
      const { local, address } = this.config
      this.writeControl(c, {
        _tag: "Hello",
        name: local.name,
        incarnation: local.incarnation,
        version: this.versions.max,
        minVersion: this.versions.min,
        address,
        ...this.limits()
      })
    }
    return settled
  }

  /** What this node announces in its Hello or Welcome. */
  private limits(): { readonly maxFrameBytes: number; readonly fragmentBytes: number; readonly outOfBand?: true } {
    const limits = {
      maxFrameBytes: this.config.maxFrameBytes,
      fragmentBytes: this.config.fragmentBytes ?? defaultFragmentBytes
    }
    return this.outOfBand ? { ...limits, outOfBand: true } : limits
  }

  /** A message over this node's limit arrived anyway: it was skipped, the link goes on. */
  private oversized(c: Connection, size: number, limit: number): void {
    const who = c.peer ? `node "${c.peer.name}" (${c.conn.remote})` : c.conn.remote
    // Not a refusal (the link stays up), but logged through the same throttle: an older peer that
    // keeps sending large messages writes one line now and then, with the count.
    const skipped = this.refusals.throttle.admit(`${hostOf(c.conn.remote)}|message_too_large`)
    if (skipped === undefined) return
    this.config.log(
      "Warn",
      `dropped a message of ${size} bytes from ${who}: it exceeds this node's limit of ${limit} bytes ` +
        `(maxFrameBytes); the link stays up` +
        repeats(skipped)
    )
  }

  private connectFailed(c: Connection, reason: string, kind: ConnectFailure): ConnectFailed {
    return new ConnectFailed({ address: c.conn.remote, reason, kind })
  }

  private settle(c: Connection, exit: Exit.Exit<NodeIdentity, ConnectError>): void {
    const settle = c.settle
    c.settle = undefined
    settle?.(exit)
  }

  private handshakeTimeout(c: Connection): void {
    if (c.state !== "handshake") return
    const detail = `handshake timed out after ${this.config.handshakeTimeoutMs} ms`
    const line = `${c.direction} connection ${c.conn.remote}: ${detail}; closed`
    if (c.direction === "inbound") this.refuse("handshake_timeout", "Warn", c.conn.remote, line)
    else this.config.log("Debug", line)
    this.settle(c, Exit.fail(this.connectFailed(c, detail, "timeout")))
    this.finish(c, "connection_closed", detail)
    c.conn.destroy()
  }

  private writeControl(c: Connection, frame: ControlFrame): void {
    emit(c, this.config.codec.encode(this.extraFields ? withExtraField(frame) : frame))
  }

  private reject(
    c: Connection,
    reason: RejectReason,
    message: string,
    node: NodeIdentity | null = null,
    claimed?: string
  ): void {
    const { level, line } = refusalLine(reason, c.conn.remote, message, claimed)
    this.refuse(reason, level, c.conn.remote, line)
    this.writeControl(c, { _tag: "Reject", reason, message, node })
    this.finish(c, "connection_closed", message)
    c.conn.end()
  }

  /**
   * A violation of the protocol by the peer: log it and close that connection only. Before an
   * inbound handshake completes, it is a refusal (counted, and logged once per host and reason).
   */
  private protocolError(c: Connection, detail: string, reason: RefusalReason = "bad_handshake"): void {
    if (c.state === "closed") return
    const who = c.peer ? `node "${c.peer.name}" (${c.conn.remote})` : c.conn.remote
    const line = `closing connection with ${who}: ${detail}`
    if (c.state === "handshake" && c.direction === "inbound") this.refuse(reason, "Warn", c.conn.remote, line)
    else this.config.log("Warn", line)
    this.settle(c, Exit.fail(this.connectFailed(c, detail, "protocol")))
    this.finish(c, "connection_closed", detail)
    c.conn.destroy()
  }

  private onClose(c: Connection, detail: string): void {
    if (c.state === "closed") return
    if (c.state === "handshake") {
      this.config.log("Debug", `${c.direction} connection ${c.conn.remote} closed during handshake: ${detail}`)
    }
    this.settle(c, Exit.fail(this.connectFailed(c, detail, "closed")))
    this.finish(c, "connection_closed", detail)
  }

  /** Marks a connection closed and, if it carried a link, reports the link down. */
  private finish(c: Connection, reason: LinkDownReason, detail: string): void {
    if (c.state === "closed") return
    const wasOpen = c.state === "open"
    c.state = "closed"
    this.connections.delete(c)
    c.cancelTimer?.()
    c.cancelTimer = undefined
    const carriedLink = wasOpen && c.peer !== undefined && this.links.get(c.peer.name) === c
    if (carriedLink) this.links.delete(c.peer!.name)
    // Listeners first (they may send, and fail at once): they learn the real reason before the
    // senders waiting for room are woken to find no link.
    if (carriedLink && c.replacedBy === undefined) {
      this.publish({ _tag: "LinkDown", node: c.peer!, reason, detail })
    }
    this.wake(c)
    // A link that closes while probed is not alive: whoever waits on the probe goes on.
    this.endProbe(c, false)
    // Frames held from a link that went down are dropped (a replaced connection's link goes on).
    if (c.replacedBy === undefined) this.dropUncarried()
  }

  /** Tells the synchronous listeners first, then the subscribers' streams. */
  private publish(event: LinkEvent): void {
    for (const listener of this.linkListeners) {
      try {
        listener(event)
      } catch (error) {
        this.config.log("Error", `a link event listener threw: ${describeError(error)}`)
      }
    }
    PubSub.publishUnsafe(this.events, event)
  }

  private wake(c: Connection): void {
    if (c.waiters.size === 0) return
    const waiters = Array.from(c.waiters)
    c.waiters.clear()
    for (const wake of waiters) wake()
  }

  // ---------------------------------------------------------------------------------------------
  // receiving

  private onFrame(c: Connection, body: Uint8Array): void {
    if (!this.accepts(c, body.length)) return
    let value: unknown
    try {
      value = this.config.codec.decode(body)
    } catch (error) {
      return this.protocolError(c, `undecodable frame: ${describeError(error)}`)
    }
    this.onValue(c, value, body.length)
  }

  /** A message with out-of-band values arrived: its skeleton is decoded and its values put back. */
  private onParts(c: Connection, skeleton: Uint8Array, values: Array<unknown>, size: number): void {
    if (!this.accepts(c, size)) return
    let value: unknown
    try {
      value = placeValues(this.config.codec.decode(skeleton), values)
    } catch (error) {
      return this.protocolError(c, `undecodable frame: ${describeError(error)}`)
    }
    this.onValue(c, value, size)
  }

  /** Whether a message of `size` bytes that arrived on `c` is taken (counted, and the link marked alive). */
  private accepts(c: Connection, size: number): boolean {
    // A connection replaced by another one to the same peer incarnation still delivers the data
    // frames the peer sent on it before it learned of the switch: dropping them would lose, say, a
    // call whose caller then waits for its timeout. (Their order relative to frames already
    // arriving on the new connection is not guaranteed in that short window.) Only while the link
    // that replaced it lives: after its LinkDown, upper layers have forgotten the peer.
    if (c.state === "closed" && !this.replacementLives(c)) return false
    c.lastReceivedAt = this.now()
    // Anything received while probed shows the peer is alive (a Pong may queue behind data).
    if (c.probe !== undefined) this.endProbe(c, true)
    if (size > this.config.maxFrameBytes) {
      this.oversized(c, size, this.config.maxFrameBytes)
      return false
    }
    c.framesIn++
    c.bytesIn += size
    return true
  }

  /** Dispatches a decoded frame: data to its channel, control frames to the handshake and the link. */
  private onValue(c: Connection, value: unknown, size: number): void {
    if (Array.isArray(value) && (c.state === "open" || c.replacedBy !== undefined) && c.peer !== undefined) {
      return this.dispatch(c, value, size)
    }
    if (Array.isArray(value) && c.early !== undefined) {
      c.early.push({ frame: value, size })
      return
    }
    if (c.state === "closed") return
    const decoded = decodeControl(value)
    if (Exit.isFailure(decoded)) {
      if (c.state === "open" && isUnknownControl(value)) return this.unknownControl(c, value._tag)
      const refusal = c.state === "handshake" && c.direction === "outbound" ? unknownRefusal(value) : undefined
      if (refusal !== undefined) return this.protocolError(c, refusal)
      return this.protocolError(c, c.state === "open" ? "malformed frame" : "malformed handshake frame")
    }
    const frame = decoded.value
    switch (frame._tag) {
      case "Hello":
        return c.state === "handshake" && c.direction === "inbound"
          ? this.onHello(c, frame)
          : this.protocolError(c, "unexpected Hello")
      case "Welcome":
        return c.state === "handshake" && c.direction === "outbound"
          ? this.onWelcome(c, frame)
          : this.protocolError(c, "unexpected Welcome")
      case "Reject":
        return c.state === "handshake" && c.direction === "outbound"
          ? this.onReject(c, frame)
          : this.protocolError(c, "unexpected Reject")
      case "Goodbye":
        if (c.state !== "open") return this.protocolError(c, "unexpected Goodbye")
        this.finish(c, "graceful_shutdown", "peer left the cluster")
        return c.conn.end()
      case "Ping":
        if (c.state !== "open") return this.protocolError(c, "unexpected Ping")
        return this.writeControl(c, { _tag: "Pong" })
      case "Pong":
        // Its arrival already ended the probe (above).
        return c.state === "open" ? undefined : this.protocolError(c, "unexpected Pong")
    }
  }

  /** Whether a replaced connection's link goes on (through the connections that replaced it). */
  private replacementLives(c: Connection): boolean {
    let next = c.replacedBy
    while (next !== undefined && next.state === "closed") next = next.replacedBy
    return next !== undefined && this.links.get(next.peer!.name) === next
  }

  /**
   * A control frame of a kind this release does not know, on an open link (a newer peer's): logged
   * once per kind, ignored; the link stays up.
   */
  private unknownControl(c: Connection, tag: string): void {
    const kind = tag.slice(0, 64)
    if (this.unknownControls.size >= 32 || this.unknownControls.has(kind)) return
    this.unknownControls.add(kind)
    this.config.log(
      "Warn",
      `ignored a control frame of kind "${kind}" from node "${c.peer?.name}": this node does not know it ` +
        `(the link speaks protocol ${c.version}; a newer node should not send it); the link stays up`
    )
  }

  private dispatch(c: Connection, frame: Array<unknown>, size: number): void {
    const name = frame[0]
    // Elements after the payload come from a newer release: ignored.
    if (typeof name !== "string" || frame.length < 2) return this.protocolError(c, "malformed data frame")
    const registration = this.channels.get(name)
    if (registration === undefined) {
      if (this.hold(name, c, frame, size)) return
      return this.config.log("Debug", `frame on unknown channel "${name}" from ${c.peer?.name} dropped`)
    }
    this.deliver(c, name, registration, frame)
  }

  /** Holds a frame for a channel not registered yet, while the node starts; false once that is over. */
  private hold(name: string, c: Connection, frame: Array<unknown>, size: number): boolean {
    const held = this.held
    if (held === undefined || this.registeredOnce.has(name) || this.holdingOver()) return false
    if (this.heldCount >= HELD_FRAMES_MAX || this.heldBytes + size > HELD_BYTES_MAX) return false
    let frames = held.get(name)
    if (frames === undefined) held.set(name, (frames = []))
    frames.push({ c, frame, size })
    this.heldCount++
    this.heldBytes += size
    this.cancelHolding ??= this.config.timers.start(HELD_FRAMES_GRACE_MS - (this.now() - this.startedAt), () => {
      this.cancelHolding = undefined
      this.endHolding()
    })
    return true
  }

  /** Whether the node's start is over (then frames held until now are dropped, and no more are held). */
  private holdingOver(): boolean {
    if (this.held === undefined) return true
    if (this.now() - this.startedAt <= HELD_FRAMES_GRACE_MS) return false
    this.endHolding()
    return true
  }

  /** Drops every held frame, and holds no more. */
  private endHolding(): void {
    this.held = undefined
    this.heldCount = 0
    this.heldBytes = 0
    this.cancelHolding?.()
    this.cancelHolding = undefined
  }

  /**
   * Whether a frame that arrived on `c` may still be delivered: its link is up, on `c` or on the
   * connection that replaced it (still in its handshake, or open and carrying the link).
   */
  private carries(c: Connection): boolean {
    let next: Connection | undefined = c
    while (next !== undefined && next.state === "closed") next = next.replacedBy
    if (next === undefined) return false
    if (next.state === "handshake") return next !== c
    return this.links.get(next.peer!.name) === next
  }

  /** Drops the held frames whose link is down (a connection closed). */
  private dropUncarried(): void {
    const held = this.held
    if (held === undefined || this.heldCount === 0) return
    for (const [name, frames] of held) {
      const kept = frames.filter(({ c }) => this.carries(c))
      if (kept.length === frames.length) continue
      for (const { c, size } of frames) {
        if (this.carries(c)) continue
        this.heldCount--
        this.heldBytes -= size
      }
      if (kept.length === 0) held.delete(name)
      else held.set(name, kept)
    }
    this.stopHoldingTimerIfIdle()
  }

  /** No frame held: the timer is not needed until the next one (it would keep a process alive). */
  private stopHoldingTimerIfIdle(): void {
    if (this.heldCount > 0) return
    this.cancelHolding?.()
    this.cancelHolding = undefined
  }

  /**
   * Delivers the frames held for `name`, in arrival order, whose sender is still linked with the
   * same incarnation (a connection superseded by a newer one to that incarnation continues its link).
   */
  private releaseHeld(name: string, registration: Registration): void {
    const frames = this.held?.get(name)
    if (frames === undefined || this.holdingOver()) return
    this.held!.delete(name)
    for (const { size } of frames) this.heldBytes -= size
    this.heldCount -= frames.length
    this.stopHoldingTimerIfIdle()
    // Only frames whose link is still up: after its LinkDown, upper layers have forgotten the peer
    // (a new link to the same incarnation does not bring them back).
    for (const { c, frame } of frames) if (this.carries(c)) this.deliver(c, name, registration, frame)
  }

  private deliver(c: Connection, name: string, registration: Registration, frame: Array<unknown>): void {
    let message: unknown
    try {
      message = registration.channel.decode(frame[1])
    } catch (error) {
      return this.protocolError(c, `payload on channel "${name}" failed to decode: ${describeError(error)}`)
    }
    try {
      registration.handler(message, c.peer!)
    } catch (error) {
      this.config.log("Error", `handler of channel "${name}" threw: ${describeError(error)}`)
    }
  }

  private onHello(c: Connection, hello: typeof import("../Frame.ts").Hello.Type): void {
    const { local } = this.config
    const claimed = hello.name
    if (this.closing) return this.reject(c, "shutting_down", `node "${local.name}" is shutting down`, null, claimed)
    const theirs = helloRange(hello)
    const version = negotiate(this.versions, theirs)
    if (version === undefined) {
      return this.reject(
        c,
        "version_mismatch",
        `it speaks protocol ${formatRange(theirs)}, node "${local.name}" speaks protocol ${formatRange(this.versions)}`,
        null,
        claimed
      )
    }
    if (hello.name === local.name) {
      return this.reject(
        c,
        hello.incarnation === local.incarnation ? "self" : "duplicate_name",
        hello.incarnation === local.incarnation
          ? "a node cannot connect to itself"
          : `node name "${hello.name}" is already taken by this node`,
        null,
        claimed
      )
    }
    const mismatch = identityMismatch(c.options, hello.name)
    if (mismatch !== undefined) return this.reject(c, "identity_mismatch", mismatch, null, claimed)
    const peer = { name: hello.name, incarnation: hello.incarnation }
    this.admitting(c, peer, (admission) => {
      if (admission !== "admitted") {
        return this.reject(c, admission.reason, admission.message, admission.node, claimed)
      }
      this.writeControl(c, {
        _tag: "Welcome",
        name: local.name,
        incarnation: local.incarnation,
        version,
        address: this.config.address,
        ...this.limits()
      })
      c.version = version
      this.open(c, peer, hello.address, hello)
    })
  }

  private onWelcome(c: Connection, welcome: typeof import("../Frame.ts").Welcome.Type): void {
    // The dialer gets the error (the cluster layer reports join failures): only a debug line here.
    const fail = (reason: RejectReason, detail: string) => {
      this.config.log("Debug", `handshake with ${c.conn.remote} failed (${reason}): ${detail}`)
      this.settle(c, Exit.fail(new HandshakeRejected({ address: c.conn.remote, reason, detail })))
      this.finish(c, "connection_closed", detail)
      c.conn.destroy()
    }
    // The accepting node chose the link's version from this node's range: one outside it is a
    // node that does not negotiate (or a broken one).
    if (welcome.version < this.versions.min || welcome.version > this.versions.max) {
      const detail =
        `it answered with protocol ${welcome.version}, node "${this.config.local.name}" speaks protocol ` +
        formatRange(this.versions)
      return fail("version_mismatch", detail)
    }
    c.version = welcome.version
    const expected = c.options.expectedName
    if (expected !== undefined && expected !== welcome.name) {
      return fail("unexpected_peer", `expected node "${expected}", found "${welcome.name}"`)
    }
    if (welcome.name === this.config.local.name) return fail("self", "a node cannot connect to itself")
    const mismatch = identityMismatch(c.options, welcome.name)
    if (mismatch !== undefined) return fail("identity_mismatch", mismatch)
    const peer = { name: welcome.name, incarnation: welcome.incarnation }
    // The accepting peer has opened the link and may send data frames (heartbeats, gossip, calls)
    // while this side probes an old incarnation before admitting it: accept them at the full limit
    // (the Welcome is authenticated) and keep them for when the link opens here.
    this.markOpened(c, welcome)
    c.early = []
    this.admitting(c, peer, (admission) => {
      if (admission === "admitted") return this.open(c, peer, welcome.address, welcome)
      c.early = undefined
      if (admission.reason === "superseded") {
        // The same node is already linked over a connection that wins the tie-break: keep that one.
        // The peer may already send on this one until it learns the same: keep delivering those.
        c.peer = peer
        c.replacedBy = this.links.get(peer.name)
        this.settle(c, Exit.succeed(peer))
        this.finish(c, "connection_closed", "superseded")
        return c.conn.end()
      }
      fail(admission.reason, admission.message)
    })
  }

  private onReject(c: Connection, reject: typeof import("../Frame.ts").Reject.Type): void {
    const existing = reject.node ? this.links.get(reject.node.name) : undefined
    if (reject.reason === "superseded" && existing && existing.peer!.incarnation === reject.node!.incarnation) {
      this.settle(c, Exit.succeed(existing.peer!))
    } else {
      this.settle(
        c,
        Exit.fail(new HandshakeRejected({ address: c.conn.remote, reason: reject.reason, detail: reject.message }))
      )
    }
    this.finish(c, "connection_closed", reject.message)
    c.conn.destroy()
  }

  /**
   * Decides whether a handshaking connection may carry the link to `peer`, and calls `then` with
   * the decision (at once, or after a probe).
   *
   * Another incarnation of a name this node is linked to is either that node restarted before
   * its old link noticed (killed, its connection's end lost), or a second live node with that
   * name. The old link is probed: if it shows no sign of life within `incarnationProbeTimeoutMs`
   * (at most half the handshake timeout) or closes, its node is gone, the link is cut (`connection_closed`, so its processes'
   * monitors fire at once) and the newcomer takes it; if it answers, the newcomer is refused as
   * `duplicate_name`. The newcomer's handshake waits meanwhile (its handshake timer still runs).
   */
  private admitting(c: Connection, peer: NodeIdentity, then: (admission: Admission) => void): void {
    const existing = this.links.get(peer.name)
    if (existing === undefined || existing.peer!.incarnation === peer.incarnation) return then(this.admit(c, peer))
    // Within the handshake timeout, which also runs for the newcomer meanwhile.
    const timeoutMs = Math.min(this.config.incarnationProbeTimeoutMs, this.config.handshakeTimeoutMs / 2)
    this.config.log(
      "Debug",
      `node "${peer.name}" connects as incarnation ${peer.incarnation} while linked as incarnation ` +
        `${existing.peer!.incarnation}: probing the old link (${timeoutMs} ms)`
    )
    this.probe(existing, timeoutMs, (alive) => {
      // Dead is dead, even if the newcomer gave up meanwhile.
      if (!alive && this.links.get(peer.name) === existing) {
        const detail =
          `replaced by incarnation ${peer.incarnation} of node "${peer.name}": the link to incarnation ` +
          `${existing.peer!.incarnation} did not answer a probe within ${timeoutMs} ms`
        this.config.log("Info", `closing link to node "${peer.name}": ${detail}`)
        this.finish(existing, "connection_closed", detail)
        existing.conn.destroy()
      }
      if (c.state !== "handshake") return
      if (this.closing) {
        return then({
          reason: "shutting_down",
          message: `node "${this.config.local.name}" is shutting down`,
          node: null
        })
      }
      then(this.admit(c, peer))
    })
  }

  /** Sends a Ping on a link; `done(true)` once anything arrives on it, `done(false)` on timeout or close. */
  private probe(c: Connection, timeoutMs: number, done: (alive: boolean) => void): void {
    if (c.probe !== undefined) return void c.probe.waiters.push(done)
    const probe: Probe = { waiters: [done], cancel: () => {} }
    c.probe = probe
    probe.cancel = this.config.timers.start(timeoutMs, () => this.endProbe(c, false))
    this.writeControl(c, { _tag: "Ping" })
  }

  private endProbe(c: Connection, alive: boolean): void {
    const probe = c.probe
    if (probe === undefined) return
    c.probe = undefined
    probe.cancel()
    for (const done of probe.waiters) done(alive)
  }

  /**
   * Decides at once whether a handshaking connection may carry the link to `peer`.
   *
   * A different incarnation of an already linked name (one that answered the probe) is a second
   * live node with that name: refused.
   * Two connections between the same two incarnations (simultaneous dials, or a dialer replacing a
   * connection it believes dead) keep the one dialed by the node with the smaller name; if both were
   * dialed by the same node, the newer wins. Both ends apply the same rule, so they agree.
   */
  private admit(c: Connection, peer: NodeIdentity): Admission {
    const existing = this.links.get(peer.name)
    if (existing === undefined) return "admitted"
    if (existing.peer!.incarnation !== peer.incarnation) {
      return {
        reason: "duplicate_name",
        message:
          `node "${peer.name}" is already connected (incarnation ${existing.peer!.incarnation}); ` +
          `refusing a second live node with that name (incarnation ${peer.incarnation})`,
        node: null
      }
    }
    const dialerOf = (x: Connection) => (x.direction === "outbound" ? this.config.local.name : peer.name)
    const incoming = dialerOf(c)
    const current = dialerOf(existing)
    if (incoming === current || incoming < current) {
      existing.replacedBy = c
      c.replacing = true
      // Senders waiting for the old connection to drain go on with the new one once it is open
      // (woken now, they would find no link and their frames would be lost).
      for (const wake of existing.waiters) c.waiters.add(wake)
      existing.waiters.clear()
      this.links.delete(peer.name)
      this.finish(existing, "connection_closed", "superseded")
      existing.conn.end()
      return "admitted"
    }
    return { reason: "superseded", message: "already connected", node: this.config.local }
  }

  private open(
    c: Connection,
    peer: NodeIdentity,
    address: Address | null,
    limits: { readonly maxFrameBytes?: number; readonly fragmentBytes?: number; readonly outOfBand?: boolean }
  ): void {
    c.state = "open"
    c.peer = peer
    c.peerAddress = address
    if (limits.maxFrameBytes !== undefined && limits.maxFrameBytes > 0) c.peerMaxFrameBytes = limits.maxFrameBytes
    this.markOpened(c, limits)
    c.cancelTimer?.()
    c.cancelTimer = undefined
    this.links.set(peer.name, c)
    this.settle(c, Exit.succeed(peer))
    this.wake(c)
    // A connection that replaced another one to the same incarnation continues the same link.
    if (!c.replacing) {
      this.publish({ _tag: "LinkUp", node: peer, address, direction: c.direction })
    }
    const early = c.early
    c.early = undefined
    if (early !== undefined) for (const { frame, size } of early) this.dispatch(c, frame, size)
  }

  /** The handshake is over on `c`: full frame limit, reassembly, and fragments if the peer takes them. */
  private markOpened(
    c: Connection,
    limits: { readonly fragmentBytes?: number | undefined; readonly outOfBand?: boolean | undefined }
  ): void {
    if (c.connOpened) return
    c.connOpened = true
    c.conn.opened({
      peerFragmentBytes: limits.fragmentBytes,
      peerOutOfBand: this.outOfBand && limits.outOfBand === true
    })
  }

  // ---------------------------------------------------------------------------------------------
  // the service

  private linkInfo(c: Connection): LinkInfo {
    const silentMs = Math.max(0, this.now() - c.lastReceivedAt)
    return {
      node: c.peer!,
      address: c.peerAddress,
      direction: c.direction,
      lastReceivedAt: this.config.wallClockMillis() - silentMs,
      silentMs,
      bufferedBytes: c.conn.bufferedBytes() + c.conn.fragmentedBytes(),
      framesIn: c.framesIn,
      bytesIn: c.bytesIn,
      framesOut: c.framesOut,
      bytesOut: c.bytesOut,
      version: c.version
    }
  }

  /** Encodes a data frame for the link `c`; fails if it does not encode or exceeds the peer's limit. */
  private encode<A>(
    c: Connection,
    node: string,
    channel: Channel<A>,
    message: A
  ): Body | EncodeFailed | MessageTooLarge {
    let body: Body
    try {
      const payload = channel.encode(message)
      const frame = this.extraFields ? [channel.name, withExtraField(payload), extraElement] : [channel.name, payload]
      const outOfBand = c.conn.outOfBand()
      // One search, allocating nothing, for the common frame without large values (heartbeats included).
      body = !hasLarge(frame, outOfBand)
        ? this.config.codec.encode(frame)
        : ((outOfBand ? encodeOutOfBand(frame, this.config.codec.encode) : undefined) ??
          encodeKeepingLargeBinaries(frame, this.config.codec.encode))
    } catch (error) {
      return new EncodeFailed({ channel: channel.name, reason: describeError(error) })
    }
    if (body.length > c.peerMaxFrameBytes) {
      return new MessageTooLarge({ node, size: body.length, limit: c.peerMaxFrameBytes })
    }
    return body
  }

  /** Whether a body goes out in fragments on this link (it is larger than one fragment). */
  private isLarge(c: Connection, body: Body): boolean {
    if (isOutOfBand(body)) return true
    const threshold = c.conn.fragmentThreshold()
    return threshold !== undefined && body.length > threshold
  }

  /**
   * What `trySend` encoded and did not send because it goes out in fragments or is over the limit:
   * the `send` that follows (the caller's fallback) takes it instead of encoding it again.
   */
  private deferred:
    | {
        readonly node: string
        readonly channel: Channel<unknown>
        readonly message: unknown
        readonly body: Body | MessageTooLarge
      }
    | undefined

  private takeDeferred(node: string, channel: Channel<unknown>, message: unknown): Body | MessageTooLarge | undefined {
    const deferred = this.deferred
    if (deferred === undefined) return undefined
    this.deferred = undefined
    return deferred.node === node && deferred.channel === channel && deferred.message === message
      ? deferred.body
      : undefined
  }

  /**
   * Writes a frame for `sender` without waiting, keeping the sender's order: behind its unfinished
   * large message if it has one; a large message holds the sender's later frames until its last
   * fragment is written. `done` is told when the frame is written (or dropped with its connection).
   *
   * A frame sent outside any fiber (`sender` undefined: the `Down` or exit signal of a process that
   * just ended, sent from its exit observer, or an answer from the receive path) may be on behalf of
   * any process, so it waits for every large message unfinished when it is sent (a barrier), and
   * such frames keep their order among themselves (they share one lane).
   */
  private post(c: Connection, sender: object | undefined, body: Body, done?: (ok: boolean) => void): void {
    if (sender === undefined) {
      const others = c.lanes.size - (c.lanes.has(systemSender) ? 1 : 0)
      if (c.barrier.length > 0 || others > 0) {
        return void c.barrier.push({ held: { body, done }, waitingFor: new Set(c.lanes.keys()) })
      }
      return this.emitSystem(c, { body, done })
    }
    const lane = c.lanes.get(sender)
    if (lane !== undefined) return void lane.push({ body, done })
    if (!this.isLarge(c, body)) {
      emit(c, whole(body))
      return done?.(true)
    }
    c.lanes.set(sender, [])
    const key = sender
    emitFragmented(c, body, (ok) => {
      done?.(ok)
      this.releaseLane(c, key, ok)
    })
  }

  /** The large message that opened `sender`'s lane is written (or dropped): its held frames go on, in order. */
  private releaseLane(c: Connection, sender: object, ok: boolean): void {
    const held = c.lanes.get(sender)
    if (held === undefined) return
    c.lanes.delete(sender)
    for (let i = 0; i < held.length; i++) {
      const next = held[i]!
      if (!ok) {
        next.done?.(false)
        continue
      }
      const reopened = c.lanes.get(sender)
      // A large frame among them opened the lane again: the rest wait behind it.
      if (reopened !== undefined) {
        reopened.push(...held.slice(i))
        break
      }
      if (sender === systemSender) this.emitSystem(c, next)
      else this.post(c, sender, next.body, next.done)
    }
    // A large frame among the held ones reopened the lane: the barrier still waits for it.
    if (c.barrier.length === 0 || c.lanes.has(sender)) return
    for (const waiting of c.barrier) waiting.waitingFor.delete(sender)
    while (c.barrier.length > 0 && c.barrier[0]!.waitingFor.size === 0) {
      const { held: next } = c.barrier.shift()!
      if (!ok) {
        next.done?.(false)
        continue
      }
      this.emitSystem(c, next)
    }
  }

  /** A frame from outside any fiber whose barrier is passed: in the shared lane of such frames. */
  private emitSystem(c: Connection, next: Held): void {
    const lane = c.lanes.get(systemSender)
    if (lane !== undefined) return void lane.push(next)
    if (!this.isLarge(c, next.body)) {
      emit(c, whole(next.body))
      return next.done?.(true)
    }
    c.lanes.set(systemSender, [])
    // The frames still behind the barrier now wait for this one too.
    for (const waiting of c.barrier) waiting.waitingFor.add(systemSender)
    emitFragmented(c, next.body, (ok) => {
      next.done?.(ok)
      this.releaseLane(c, systemSender, ok)
    })
  }

  private write(node: string, body: Body): Effect.Effect<void, NotConnected> {
    const c = this.links.get(node)
    if (c === undefined) return Effect.fail(new NotConnected({ node }))
    const sender = currentSender()
    if (sender !== undefined && c.lanes.has(sender)) {
      // Behind the sender's unfinished large message: written when its turn comes.
      return Effect.callback<void, NotConnected>((resume) => {
        this.post(c, sender, body, (ok) => resume(ok ? Effect.void : Effect.fail(new NotConnected({ node }))))
      })
    }
    // A large message does not count against the high-water mark (it would hold small frames
    // back); its sender waits until its last fragment is out, so a fiber's sends stay in order.
    if (this.isLarge(c, body)) {
      // Through the sender's lane, so that a frame sent outside any fiber meanwhile (its `Down`, if
      // it is killed while waiting) stays behind it.
      return Effect.callback<void, NotConnected>((resume) => {
        this.post(c, sender, body, (ok) => resume(ok ? Effect.void : Effect.fail(new NotConnected({ node }))))
      })
    }
    if (c.conn.bufferedBytes() <= this.config.highWaterMarkBytes) {
      emit(c, whole(body))
      return Effect.void
    }
    return Effect.flatMap(this.awaitDrain(c), () => this.write(node, body))
  }

  private awaitDrain(c: Connection): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      const wake = () => resume(Effect.void)
      // Woken at half the mark: refilling in large batches, not a frame at a time at the mark.
      if (c.waiters.size === 0) c.conn.onDrain(this.config.highWaterMarkBytes / 2, () => this.wake(c))
      c.waiters.add(wake)
      return Effect.sync(() => {
        c.waiters.delete(wake)
      })
    })
  }

  /** Builds the service on this engine; `dial` opens a transport-level connection and attaches it. */
  service(
    dial: (
      address: Address,
      options: AttachOptions,
      signal: AbortSignal
    ) => Promise<Exit.Exit<NodeIdentity, ConnectError>>
  ): Transport["Service"] {
    const { local, address } = this.config
    return {
      local,
      address,
      connect: (target, options) =>
        Effect.callback<NodeIdentity, ConnectError>((resume, signal) => {
          if (this.closing) {
            return resume(
              Effect.fail(
                new ConnectFailed({
                  address: `${target.host}:${target.port}`,
                  reason: "transport closed",
                  kind: "closing"
                })
              )
            )
          }
          const known = options?.expectedName !== undefined ? this.links.get(options.expectedName) : undefined
          if (known !== undefined) return resume(Effect.succeed(known.peer!))
          dial(target, { expectedName: options?.expectedName }, signal).then((exit) => resume(exit))
        }),
      send: <A>(node: string, channel: Channel<A>, message: A) =>
        Effect.suspend(() => {
          const c = this.links.get(node)
          if (c === undefined) return Effect.fail<SendError>(new NotConnected({ node }))
          const body =
            this.takeDeferred(node, channel as Channel<unknown>, message) ?? this.encode(c, node, channel, message)
          return body instanceof EncodeFailed || body instanceof MessageTooLarge
            ? Effect.fail<SendError>(body)
            : this.write(node, body)
        }),
      sendUnsafe: <A>(node: string, channel: Channel<A>, message: A) => {
        const c = this.links.get(node)
        if (c === undefined) return false
        const body = this.encode(c, node, channel, message)
        if (body instanceof EncodeFailed || body instanceof MessageTooLarge) {
          this.config.log("Warn", `frame on channel "${channel.name}" to "${node}" dropped: ${body.message}`)
          return false
        }
        this.post(c, currentSender(), body)
        return true
      },
      trySend: <A>(node: string, channel: Channel<A>, message: A) => {
        const c = this.links.get(node)
        if (c === undefined || c.conn.bufferedBytes() > this.config.highWaterMarkBytes) return false
        // Behind the sender's unfinished large message: `send` waits for its turn.
        if (c.lanes.size > 0) {
          const sender = currentSender()
          if (sender !== undefined && c.lanes.has(sender)) return false
        }
        const body = this.encode(c, node, channel, message)
        if (body instanceof EncodeFailed) return false
        if (body instanceof MessageTooLarge || this.isLarge(c, body)) {
          this.deferred = { node, channel: channel as Channel<unknown>, message, body }
          return false
        }
        emit(c, whole(body))
        return true
      },
      register: <A>(channel: Channel<A>, handler: (message: A, from: NodeIdentity) => void) =>
        Effect.suspend(() => {
          if (this.channels.has(channel.name)) return Effect.fail(new ChannelInUse({ channel: channel.name }))
          const registration: Registration = {
            channel: channel as Channel<unknown>,
            handler: handler as (message: unknown, from: NodeIdentity) => void
          }
          this.channels.set(channel.name, registration)
          this.registeredOnce.add(channel.name)
          this.releaseHeld(channel.name, registration)
          return Effect.addFinalizer(() =>
            Effect.sync(() => {
              if (this.channels.get(channel.name) === registration) this.channels.delete(channel.name)
            })
          )
        }),
      disconnect: (node, reason) =>
        Effect.sync(() => {
          const c = this.links.get(node)
          if (c === undefined) return
          this.config.log("Info", `closing link to node "${node}" (${reason})`)
          this.finish(c, reason, `closed by this node (${reason})`)
          c.conn.destroy()
        }),
      links: Effect.sync(() => Array.from(this.links.values(), (c) => this.linkInfo(c))),
      linkUnsafe: (node) => {
        const c = this.links.get(node)
        return c === undefined ? undefined : this.linkInfo(c)
      },
      isLinkedUnsafe: (node) => this.links.has(node),
      subscribe: Effect.map(PubSub.subscribe(this.events), Stream.fromSubscription),
      onLinkEvent: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            // A fresh function per registration, so the same listener can be registered twice.
            const registered = (event: LinkEvent) => listener(event)
            this.linkListeners.add(registered)
            return registered
          }),
          (registered) => Effect.sync(() => this.linkListeners.delete(registered))
        ).pipe(Effect.asVoid)
    }
  }

  /**
   * Graceful shutdown: refuses new connections, says goodbye on every link, reports each link down
   * locally with `graceful_shutdown`, and resolves when every connection is closed (or after
   * `timeoutMs`, destroying the rest).
   */
  shutdown(timeoutMs: number): Promise<void> {
    this.closing = true
    this.endHolding()
    const all = Array.from(this.connections)
    const closed = all.map(
      (c) =>
        new Promise<void>((resolve) => {
          const onClose = c.conn.handlers.onClose
          c.conn.handlers = { ...c.conn.handlers, onClose: (detail) => (onClose(detail), resolve()) }
        })
    )
    for (const c of all) {
      if (c.state === "open") {
        this.writeControl(c, { _tag: "Goodbye" })
        this.finish(c, "graceful_shutdown", "this node is shutting down")
        c.conn.end()
      } else {
        this.settle(c, Exit.fail(this.connectFailed(c, "transport is shutting down", "closing")))
        this.finish(c, "connection_closed", "this node is shutting down")
        c.conn.destroy()
      }
    }
    return new Promise<void>((resolve) => {
      const cancel = this.config.timers.start(timeoutMs, () => {
        for (const c of all) c.conn.destroy()
        resolve()
      })
      Promise.all(closed).then(() => {
        cancel()
        resolve()
      })
    }).then(() => Effect.runPromise(PubSub.shutdown(this.events)))
  }
}
