/**
 * The `Transport` service: authenticated, framed links between named nodes.
 *
 * The transport knows nothing of processes. It keeps at most one link per remote node, moves typed
 * frames over it on named channels (see `Channel`), reports links going up and down, and refuses
 * bad peers without disturbing the others. Two implementations provide it: `TcpTransport`
 * (node:tls or plain TCP) and `MemoryTransport` (in-memory, with fault injection, for tests).
 *
 * Delivery: frames sent to one node arrive in order, at most once, while the link stays up.
 * Frames in flight when a link goes down are lost; upper layers learn it from `LinkDown`.
 *
 * Backpressure: each link has a high-water mark (bytes queued but not yet taken by the kernel).
 * Beyond it, `send` suspends until the link is back under half the mark, or fails with
 * `NotConnected` if the link goes down meanwhile (a silent peer is cut by heartbeat timeout, so the
 * wait is bounded).
 *
 * @since 0.1.0
 */
import { Context, Effect, Queue, Stream } from "effect"
import type { Scope } from "effect"
import type { Channel } from "./Channel.ts"
import type { Address, NodeIdentity } from "./Frame.ts"
import type { ChannelInUse, ConnectError, SendError } from "./TransportError.ts"

/**
 * Why a link went down.
 *
 * - `connection_closed`: the connection was reset or closed, or a bad frame closed it.
 * - `heartbeat_timeout`: an upper layer (the cluster's failure detector) cut a silent link.
 * - `graceful_shutdown`: the peer said goodbye (or this node is shutting down).
 *
 * @example
 * ```ts
 * import type { Transport } from "effect-otp"
 *
 * const expected = (reason: Transport.LinkDownReason) => reason === "graceful_shutdown"
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export type LinkDownReason = "connection_closed" | "heartbeat_timeout" | "graceful_shutdown"

/**
 * A link to a node came up (after a successful handshake). Frames sent to that node from now on
 * arrive in order, at most once, while the link stays up.
 *
 * @example
 * ```ts
 * import type { Transport } from "effect-otp"
 *
 * const describe = (event: Transport.LinkUp) => `${event.node.name} (${event.direction})`
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export interface LinkUp {
  readonly _tag: "LinkUp"
  readonly node: NodeIdentity
  /** The address the peer listens on, as it advertised it (null for a node that does not listen). */
  readonly address: Address | null
  readonly direction: "inbound" | "outbound"
}

/**
 * A link to a node went down. Frames in flight are lost; senders waiting for room fail with
 * `NotConnected`. When this event is delivered to `onLinkEvent` listeners, sends to the node already
 * fail.
 *
 * @example
 * ```ts
 * import type { Transport } from "effect-otp"
 *
 * const describe = (event: Transport.LinkDown) => `${event.node.name}: ${event.reason} (${event.detail})`
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export interface LinkDown {
  readonly _tag: "LinkDown"
  readonly node: NodeIdentity
  readonly reason: LinkDownReason
  /** Human-readable detail (socket error, protocol violation, ...). */
  readonly detail: string
}

/**
 * Link events, in the order they happened.
 *
 * @example
 * ```ts
 * import type { Transport } from "effect-otp"
 *
 * const isUp = (event: Transport.LinkEvent): event is Transport.LinkUp => event._tag === "LinkUp"
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export type LinkEvent = LinkUp | LinkDown

/**
 * A snapshot of one live link: its peer, how long it has been silent, how much is queued on it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transport } from "effect-otp"
 *
 * const silent = Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   const links = yield* transport.links
 *   return links.filter((link) => link.silentMs > 10_000).map((link) => link.node.name)
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface LinkInfo {
  readonly node: NodeIdentity
  readonly address: Address | null
  readonly direction: "inbound" | "outbound"
  /** Epoch milliseconds (wall clock, for display) of the last frame received on the link. */
  readonly lastReceivedAt: number
  /**
   * Milliseconds since the last frame received on the link, measured on the transport's monotonic
   * clock (Effect's `Clock`, so `TestClock` drives it; an NTP step or a VM resume does not).
   */
  readonly silentMs: number
  /** Bytes queued for sending and not yet taken by the kernel. */
  readonly bufferedBytes: number
  /** Frames received on the link's connection since it came up. */
  readonly framesIn: number
  /** Bytes of the frames received (frame bodies, without the length prefix) since the link came up. */
  readonly bytesIn: number
  /** Frames sent on the link's connection since it came up. */
  readonly framesOut: number
  /** Bytes of the frames sent (frame bodies) since the link came up. */
  readonly bytesOut: number
  /** The protocol version the link speaks: the highest both nodes speak (see `Frame.negotiate`). */
  readonly version: number
}

/**
 * A frame received on a channel, as delivered by `Transport.stream`: who sent it, and its decoded
 * value.
 *
 * @example
 * ```ts
 * import type { Transport } from "effect-otp"
 *
 * const line = (received: Transport.Received<string>) => `${received.from.name}: ${received.message}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Received<A> {
  readonly from: NodeIdentity
  readonly message: A
}

/**
 * The transport of one node: at most one authenticated link per remote node, typed frames on named
 * channels, link events. Provided by `TcpTransport` (and `Cluster.layer`) or `MemoryTransport`.
 *
 * - `connect` dials and handshakes (within `handshakeTimeout`); it fails with `ConnectFailed` (its
 *   `kind` says why) or `HandshakeRejected` (the peer's reason, e.g. `duplicate_name`).
 * - `send` waits while the link is above its high-water mark and fails with `NotConnected` if the link
 *   goes down meanwhile, `EncodeFailed` for a value the channel's Schema refuses, or
 *   `MessageTooLarge` for a message above the peer's `maxFrameBytes` (announced in the handshake).
 *   A message larger than a fragment (64 KiB) goes out in fragments interleaved with later frames;
 *   its `send` completes once the last fragment is written, so sends from one fiber stay in order.
 * - A frame that fails its channel's Schema on receipt closes that connection only (logged).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Transport } from "effect-otp"
 * import { Channel } from "effect-otp/wire"
 *
 * const Greeting = Channel.make("example.greeting", Schema.String)
 *
 * const program = Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   const peer = yield* transport.connect({ host: "127.0.0.1", port: 4370 })
 *   yield* transport.send(peer.name, Greeting, "hello")
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Transport extends Context.Service<
  Transport,
  {
    /** This node's name and incarnation. */
    readonly local: NodeIdentity
    /** The address peers reach this node at (the bound port when 0 was asked for). */
    readonly address: Address
    /**
     * Dials a node and completes the handshake; succeeds with the peer's identity once a link to
     * it is up (immediately if one already is). `expectedName` refuses a peer with another name.
     */
    readonly connect: (
      address: Address,
      options?: { readonly expectedName?: string | undefined }
    ) => Effect.Effect<NodeIdentity, ConnectError>
    /** Sends a value on a channel to a connected node. See the module doc for backpressure. */
    readonly send: <A>(node: string, channel: Channel<A>, message: A) => Effect.Effect<void, SendError>
    /**
     * Sends at once, from synchronous code (a frame handler answering, a process exit signalling):
     * never waits, so it ignores the high-water mark; callers must be bounded by what they answer.
     * Returns false when the node is not connected or the message does not encode (logged).
     */
    readonly sendUnsafe: <A>(node: string, channel: Channel<A>, message: A) => boolean
    /**
     * Sends at once if the link is connected and below its high-water mark; returns false (and
     * sends nothing) otherwise, and for a message that goes out in fragments or is over the peer's
     * limit, so the caller can fall back to {@link send} (which reuses the encoding). The fast path of
     * senders that must respect backpressure without allocating an effect per frame.
     */
    readonly trySend: <A>(node: string, channel: Channel<A>, message: A) => boolean
    /**
     * Handles frames received on a channel, for as long as the scope lives. The handler runs
     * synchronously on the read path, in frame order per link: keep it short and non-blocking
     * (e.g. offer to a `Queue`). A payload that fails the channel's Schema closes that connection.
     * Frames that arrived for the channel before it was registered are held while the transport
     * starts (its first 30 s, at most 4096 frames, all channels together) and handed to the
     * handler during this effect, in arrival order, if their link is still up and the 30 s are
     * not over: register once the handler is ready for them.
     */
    readonly register: <A>(
      channel: Channel<A>,
      handler: (message: A, from: NodeIdentity) => void
    ) => Effect.Effect<void, ChannelInUse, Scope.Scope>
    /** Closes the link to a node, reporting `reason` in its `LinkDown`. No-op if not connected. */
    readonly disconnect: (node: string, reason: LinkDownReason) => Effect.Effect<void>
    /** Snapshots of the live links. */
    readonly links: Effect.Effect<ReadonlyArray<LinkInfo>>
    /** The live link to a node, if any (synchronous). */
    readonly linkUnsafe: (node: string) => LinkInfo | undefined
    /** Whether a link to the node is up (synchronous and allocation-free, for hot paths). */
    readonly isLinkedUnsafe: (node: string) => boolean
    /**
     * Subscribes to link events now (so nothing that happens after this effect is missed) and
     * returns them as a stream. The subscription ends with the scope.
     */
    readonly subscribe: Effect.Effect<Stream.Stream<LinkEvent>, never, Scope.Scope>
    /**
     * Calls `listener` synchronously, for as long as the scope lives, at the moment a link comes up
     * or goes down: for a `LinkDown`, after the link is gone (sends to the node fail) and before
     * any frame of a later link to that node is delivered. For state that must never see a stale
     * event (a stream's consumer may run after a new link is already up). Keep it short; a
     * listener that throws is logged and ignored.
     */
    readonly onLinkEvent: (listener: (event: LinkEvent) => void) => Effect.Effect<void, never, Scope.Scope>
  }
>()("effect-otp/Transport") {}

/**
 * Receives a channel's frames as a `Stream`, buffering up to `capacity` frames (default 4096);
 * beyond that, frames are dropped with a logged warning so a fast peer cannot grow this node's
 * memory without bound. The handler is registered when this effect runs and stays for the scope.
 * For request/response or mailbox delivery prefer `register`.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Transport } from "effect-otp"
 * import { Channel } from "effect-otp/wire"
 *
 * const Greeting = Channel.make("example.greeting", Schema.String)
 * const program = Effect.gen(function* () {
 *   const greetings = yield* Transport.stream(Greeting)
 *   yield* Stream.runForEach(greetings, ({ from, message }) => Effect.log(`${from.name}: ${message}`))
 * })
 * ```
 *
 * @category streams
 * @since 0.1.0
 */
export const stream = Effect.fnUntraced(function* <A>(channel: Channel<A>, capacity = 4096) {
  const transport = yield* Transport
  const queue = yield* Effect.acquireRelease(Queue.bounded<Received<A>>(capacity), Queue.shutdown)
  const context = yield* Effect.context<never>()
  const warn = Effect.runForkWith(context)
  yield* transport.register(channel, (message, from) => {
    if (!Queue.offerUnsafe(queue, { from, message })) {
      warn(Effect.logWarning(`channel "${channel.name}": receive buffer full, frame from ${from.name} dropped`))
    }
  })
  return Stream.fromQueue(queue)
})

/**
 * The events of the transport as a stream, subscribing when the stream starts. Use
 * `transport.subscribe` instead when you must not miss an event that happens right after.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Transport } from "effect-otp"
 *
 * const logLinks = Transport.events.pipe(
 *   Stream.runForEach((event) => Effect.log(`${event._tag} ${event.node.name}`))
 * )
 * ```
 *
 * @category streams
 * @since 0.1.0
 */
export const events: Stream.Stream<LinkEvent, never, Transport> = Stream.unwrap(
  Effect.flatMap(Effect.service(Transport), (transport) => transport.subscribe)
)
