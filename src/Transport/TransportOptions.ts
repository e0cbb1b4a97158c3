/**
 * Tuning shared by the transport implementations: frame and buffer sizes, handshake and shutdown
 * timeouts, and the TCP transport's busy polling.
 *
 * Every duration accepts Effect's `Duration.Input` (`"5 seconds"`, `Duration.seconds(5)`, ...); a
 * plain number is milliseconds.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"

/**
 * Tuning of a transport. Every field is optional and has a default.
 *
 * @example
 * ```ts
 * import type { TransportOptions } from "effect-otp"
 *
 * const tuning: TransportOptions.TransportTuning = {
 *   maxFrameBytes: 1024 * 1024,
 *   handshakeTimeout: "2 seconds",
 *   busyPollWindow: 0
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface TransportTuning {
  /**
   * The largest message this node accepts, in bytes: the whole encoded message (its frame body
   * before it is cut into fragments), not a fragment. Default 8 MiB (`Framing.defaultMaxFrameBytes`).
   *
   * - Peers learn it in the handshake. A message larger than the peer's limit is not sent: that
   *   one `send` (and the remote call, cast or send behind it) fails with `MessageTooLarge`
   *   (size, limit, node), and the link stays up. A peer of an earlier release announces no
   *   limit and is assumed to accept as much as this node does.
   * - A larger message that arrives anyway after the handshake (a peer that was not told, e.g. an
   *   older node) is skipped without being buffered and logged (rate-limited); the link stays up.
   * - Messages over 64 KiB travel in fragments of 64 KiB to peers that reassemble them,
   *   interleaved with the link's other frames (heartbeats and small frames first), so raising
   *   this limit does not let one large message hold up the link. A partly received message
   *   holds its full size in memory until it completes (or the connection closes).
   */
  readonly maxFrameBytes?: number | undefined
  /**
   * Bytes of whole frames that may be queued on one link before `send` suspends until it drains.
   * Default 16 MiB. Large messages in fragments are not counted (so they do not hold up small
   * frames): a `send` of one completes once its last fragment is written.
   */
  readonly highWaterMarkBytes?: number | undefined
  /**
   * Time allowed for the TLS and node handshakes of a connection, in both directions: a dial that
   * has not completed them fails with `ConnectFailed` (kind `timeout`), an accepted connection that
   * has not is closed and logged. Default 5 seconds.
   */
  readonly handshakeTimeout?: Duration.Input | undefined
  /**
   * Time allowed at shutdown for peers to acknowledge the goodbye before the connections are
   * destroyed. Default 2 seconds.
   */
  readonly shutdownTimeout?: Duration.Input | undefined
  /**
   * How long the link to a node may take to answer a probe when another incarnation of that node
   * (the same name: a restart the link has not noticed yet) connects. No answer: the old
   * incarnation is dead, its link is cut (`connection_closed`) and the new one takes over at once.
   * An answer: a second live node with that name, refused (`duplicate_name`). Default 500 ms, and
   * at most half the `handshakeTimeout` (the newcomer's handshake waits meanwhile).
   */
  readonly incarnationProbeTimeout?: Duration.Input | undefined
  /**
   * TCP only: how long the event loop keeps polling the sockets, instead of sleeping, after the
   * last frame sent or received. Default 100 µs (`"100 micros"`); 0 turns it off. A number is
   * milliseconds, as everywhere: write `"100 micros"` or `Duration.micros(100n)` for microseconds.
   *
   * A sleeping process takes tens of microseconds to wake when a packet arrives (more on virtual
   * machines), paid on every hop of a request and reply. Polling for a short window after traffic
   * removes that cost while a conversation lasts, as Erlang's schedulers do before sleeping
   * (`+sbwt`): sequential remote calls ran about 4x faster on the 2-core VM of our benchmarks. The
   * price is CPU: up to one window of busy polling per burst of traffic, so a node receiving one
   * frame every window spends a core on it. Set 0 where CPU matters more than latency.
   */
  readonly busyPollWindow?: Duration.Input | undefined
  /**
   * TCP only: how many accepted connections may wait at once for their TLS and node handshakes
   * (unauthenticated). Default 128 (`defaultMaxPendingConnections`). When one more arrives, the
   * one that has waited longest is closed (counted as `too_many_pending` in
   * `effect_otp_transport_handshakes_refused_total`): a real peer completes its handshake within
   * milliseconds, so a flood of idle or stalling clients pushes out only its own connections, and
   * the memory held by unauthenticated clients stays bounded (each may send at most a few KiB, the
   * Hello, before its handshake completes). Established links do not count.
   */
  readonly maxPendingConnections?: number | undefined
  /**
   * TCP only: the listen backlog, how many connections the kernel queues before the node accepts
   * them. Default 2048 (`defaultListenBacklog`); Linux caps it at `net.core.somaxconn` (4096 on
   * recent kernels). When the queue is full the kernel drops new connection attempts, and a peer
   * dialing then waits for its SYN to be sent again (one second, then longer).
   */
  readonly listenBacklog?: number | undefined
}

/**
 * The default of `TransportTuning.maxPendingConnections`: 128 connections waiting for their
 * handshake.
 *
 * @example
 * ```ts
 * import { TransportOptions } from "effect-otp"
 *
 * TransportOptions.defaultMaxPendingConnections // 128
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultMaxPendingConnections = 128

/**
 * The default of `TransportTuning.listenBacklog`: 2048.
 *
 * @example
 * ```ts
 * import { TransportOptions } from "effect-otp"
 *
 * TransportOptions.defaultListenBacklog // 2048
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultListenBacklog = 2048

/**
 * The default of `TransportTuning.busyPollWindow`: 100 microseconds.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { TransportOptions } from "effect-otp"
 *
 * Duration.toMillis(TransportOptions.defaultBusyPollWindow) // 0.1
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultBusyPollWindow: Duration.Duration = Duration.micros(100n)

/**
 * The default of `TransportTuning.handshakeTimeout`: 5 seconds.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { TransportOptions } from "effect-otp"
 *
 * Duration.toSeconds(TransportOptions.defaultHandshakeTimeout) // 5
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultHandshakeTimeout: Duration.Duration = Duration.seconds(5)

/**
 * The default of `TransportTuning.shutdownTimeout`: 2 seconds.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { TransportOptions } from "effect-otp"
 *
 * Duration.toSeconds(TransportOptions.defaultShutdownTimeout) // 2
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultShutdownTimeout: Duration.Duration = Duration.seconds(2)

/**
 * Default of `incarnationProbeTimeout`: 500 ms.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { TransportOptions } from "effect-otp"
 *
 * Duration.toMillis(TransportOptions.defaultIncarnationProbeTimeout) // 500
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultIncarnationProbeTimeout: Duration.Duration = Duration.millis(500)
