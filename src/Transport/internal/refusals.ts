/**
 * Refused connections: counted in a metric by reason, and logged once per source and reason per
 * quiet period with the number of repeats left out, so that a flood of bad connections costs a
 * counter increment each and a handful of log lines.
 *
 * @internal
 */
import { Metric } from "effect"
import type { Context } from "effect"
import type { RejectReason } from "../Frame.ts"
import { LogThrottle, repeats } from "../../internal/logThrottle.ts"

/**
 * Why the accepting side refused a connection: the `reason` label of the refusal metric. A closed
 * set (never a peer address or name), so the metric has a bounded number of series.
 */
export type RefusalReason =
  /** TLS-PSK handshake failed the way a different cluster secret makes it fail. */
  | "wrong_secret"
  /** The client's certificate was not accepted. */
  | "bad_certificate"
  /** The client does not speak TLS (a plain-TCP node, an HTTP client, garbage). */
  | "not_tls"
  /** One side uses a cluster secret, the other certificates. */
  | "no_shared_mode"
  /** Another TLS handshake failure. */
  | "tls_error"
  /** The TLS handshake did not complete within `handshakeTimeout`. */
  | "tls_timeout"
  /** The node handshake (the Hello) did not complete within `handshakeTimeout`. */
  | "handshake_timeout"
  /** Before its node handshake completed, the client sent a frame over the handshake frame limit. */
  | "oversized"
  /** Before its node handshake completed, the client sent something that is not a handshake frame. */
  | "bad_handshake"
  /** Too many connections were waiting for their handshake: the oldest was closed. */
  | "too_many_pending"
  /** The node handshake was refused with this `Reject` reason. */
  | RejectReason

/** The counter of refused connections, by `reason`. */
export const handshakesRefused = Metric.counter("effect_otp_transport_handshakes_refused_total", {
  description: "Connections refused by this node before or during the node handshake, by reason",
  incremental: true
})

/** The host part of a connection's remote address (`host:port`): the source repeated refusals are grouped by. */
export const hostOf = (remote: string): string => {
  const colon = remote.lastIndexOf(":")
  return colon > 0 ? remote.slice(0, colon) : remote
}

type Level = "Debug" | "Info" | "Warn" | "Error"

/** Counts and logs refusals of one node. */
export class Refusals {
  /** Repeated refusals of the same host for the same reason are logged once, then rarely. */
  readonly throttle: LogThrottle
  private readonly counters = new Map<RefusalReason, Metric.Counter<number>>()

  constructor(
    private readonly log: (level: Level, message: string) => void,
    /** Monotonic milliseconds. */
    now: () => number,
    /** The services of the layer that built the transport: its metric registry. */
    private readonly context: Context.Context<never>
  ) {
    this.throttle = new LogThrottle(now)
  }

  /** Counts a refused connection from `remote` and logs `line`, once per host and reason, then rarely. */
  refuse(reason: RefusalReason, level: Level, remote: string, line: string): void {
    let counter = this.counters.get(reason)
    if (counter === undefined) {
      counter = Metric.withAttributes(handshakesRefused, { reason })
      this.counters.set(reason, counter)
    }
    counter.updateUnsafe(1, this.context)
    const skipped = this.throttle.admit(`${hostOf(remote)}|${reason}`)
    if (skipped !== undefined) this.log(level, line + repeats(skipped))
  }
}
