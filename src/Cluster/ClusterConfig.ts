/**
 * Configuration of a cluster node: identity, listening address, seeds, security, timings.
 *
 * @since 0.1.0
 */
import { Config, Effect, Redacted, Schema } from "effect"
import type { Security } from "../Transport/Security.ts"
import type { CertificateOptions } from "../Transport/Security.ts"
import { defaultBusyPollMicros } from "../Transport/TransportOptions.ts"
import type { TransportTuning } from "../Transport/TransportOptions.ts"

/**
 * Everything a node needs to join a cluster. Exactly one of `secret`, `tls` and `insecure: true`
 * must be given.
 *
 * @since 0.1.0
 */
export interface ClusterConfig {
  /** This node's name, unique among live nodes of the cluster. */
  readonly nodeName: string
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Port to listen on. Default 0 (any free port). */
  readonly port?: number | undefined
  /** Host that peers should dial when it differs from `host` (e.g. the pod IP when `host` is `0.0.0.0`). */
  readonly advertiseHost?: string | undefined
  /**
   * Seeds: `name@host:port` (a known node) or `host:port` where host is a DNS name resolved to all
   * its addresses (e.g. a Kubernetes headless Service) and re-resolved every `discoveryIntervalMs`.
   */
  readonly seeds?: ReadonlyArray<string> | undefined
  /** Cluster secret: links use TLS 1.2 PSK derived from it. */
  readonly secret?: string | undefined
  /** Certificate mTLS instead of a secret (see `Security.CertificateOptions`, e.g. `bindNodeName`). */
  readonly tls?: CertificateOptions | undefined
  /** Plain TCP, no authentication nor encryption. Logs a warning at start. */
  readonly insecure?: boolean | undefined
  /** Heartbeat period per link. Default 5000 ms. */
  readonly heartbeatIntervalMs?: number | undefined
  /** A link silent for `heartbeatIntervalMs * heartbeatMissThreshold` is down. Default 3. */
  readonly heartbeatMissThreshold?: number | undefined
  /** First reconnect delay; doubles per failed attempt, with jitter. Default 1000 ms. */
  readonly reconnectBaseDelayMs?: number | undefined
  /** Cap of the reconnect delay. Default 30000 ms. */
  readonly reconnectMaxDelayMs?: number | undefined
  /** How often seeds are re-resolved and unknown seed addresses dialed. Default 10000 ms. */
  readonly discoveryIntervalMs?: number | undefined
  /** DNS servers (`ip` or `ip:port`) for seed names; default: the system resolver (getaddrinfo). */
  readonly dnsServers?: ReadonlyArray<string> | undefined
  /** Number of processes on this node, reported in heartbeats (plugged in by the process runtime). */
  readonly processCount?: Effect.Effect<number> | undefined
  /** Transport tuning (frame size, high-water mark, handshake timeout, busy polling). */
  readonly transport?: TransportTuning | undefined
}

/**
 * The configuration is not usable (no security mode, or several, or a malformed seed).
 *
 * @since 0.1.0
 */
export class InvalidClusterConfig extends Schema.TaggedError<InvalidClusterConfig>()("InvalidClusterConfig", {
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid cluster configuration: ${this.reason}`
  }
}

/**
 * The timings with their defaults filled in.
 *
 * @since 0.1.0
 */
export interface Timings {
  readonly heartbeatIntervalMs: number
  readonly heartbeatMissThreshold: number
  readonly reconnectBaseDelayMs: number
  readonly reconnectMaxDelayMs: number
  readonly discoveryIntervalMs: number
}

/**
 * Fills in the default timings: heartbeats every 5000 ms with 3 misses allowed, reconnects from
 * 1 s doubling to 30 s, discovery every 10 s.
 *
 * @since 0.1.0
 */
export const timings = (config: ClusterConfig): Timings => ({
  heartbeatIntervalMs: config.heartbeatIntervalMs ?? 5000,
  heartbeatMissThreshold: config.heartbeatMissThreshold ?? 3,
  reconnectBaseDelayMs: config.reconnectBaseDelayMs ?? 1000,
  reconnectMaxDelayMs: config.reconnectMaxDelayMs ?? 30000,
  discoveryIntervalMs: config.discoveryIntervalMs ?? 10000
})

/**
 * The link security the configuration asks for.
 *
 * @since 0.1.0
 */
export const security = (config: ClusterConfig): Effect.Effect<Security, InvalidClusterConfig> => {
  const modes = [config.secret !== undefined, config.tls !== undefined, config.insecure === true].filter(Boolean)
  if (modes.length !== 1) {
    return Effect.fail(new InvalidClusterConfig({ reason: "give exactly one of `secret`, `tls` or `insecure: true`" }))
  }
  if (config.secret !== undefined) {
    return config.secret.length === 0
      ? Effect.fail(new InvalidClusterConfig({ reason: "the cluster secret is empty" }))
      : Effect.succeed({ secret: config.secret })
  }
  return Effect.succeed(config.tls !== undefined ? { tls: config.tls } : { insecure: true as const })
}

/**
 * Reads a `ClusterConfig` from configuration (environment variables by default):
 * `OTP_NODE_NAME`, `OTP_HOST`, `OTP_PORT`, `OTP_ADVERTISE_HOST`, `OTP_SEEDS` (comma-separated),
 * `OTP_CLUSTER_SECRET`, `OTP_INSECURE`, `OTP_HEARTBEAT_INTERVAL_MS`, `OTP_HEARTBEAT_MISS_THRESHOLD`,
 * `OTP_RECONNECT_BASE_DELAY_MS`, `OTP_RECONNECT_MAX_DELAY_MS`, `OTP_BUSY_POLL_MICROS` (see
 * `TransportTuning.busyPollMicros`; 0 turns busy polling off).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ClusterConfig } from "effect-otp"
 *
 * const program = Effect.gen(function* () {
 *   const config = yield* ClusterConfig.fromEnv
 *   return config.nodeName
 * })
 * ```
 *
 * @since 0.1.0
 */
export const fromEnv: Config.Config<ClusterConfig> = Config.all({
  nodeName: Config.String("OTP_NODE_NAME"),
  host: Config.String("OTP_HOST").pipe(Config.withDefault("0.0.0.0")),
  port: Config.Int("OTP_PORT").pipe(Config.withDefault(4370)),
  advertiseHost: Config.option(Config.String("OTP_ADVERTISE_HOST")),
  seeds: Config.String("OTP_SEEDS").pipe(Config.withDefault("")),
  secret: Config.option(Config.Redacted("OTP_CLUSTER_SECRET")),
  insecure: Config.Boolean("OTP_INSECURE").pipe(Config.withDefault(false)),
  heartbeatIntervalMs: Config.Int("OTP_HEARTBEAT_INTERVAL_MS").pipe(Config.withDefault(5000)),
  heartbeatMissThreshold: Config.Int("OTP_HEARTBEAT_MISS_THRESHOLD").pipe(Config.withDefault(3)),
  reconnectBaseDelayMs: Config.Int("OTP_RECONNECT_BASE_DELAY_MS").pipe(Config.withDefault(1000)),
  reconnectMaxDelayMs: Config.Int("OTP_RECONNECT_MAX_DELAY_MS").pipe(Config.withDefault(30000)),
  busyPollMicros: Config.Int("OTP_BUSY_POLL_MICROS").pipe(Config.withDefault(defaultBusyPollMicros))
}).pipe(
  Config.map((c): ClusterConfig => ({
    nodeName: c.nodeName,
    host: c.host,
    port: c.port,
    advertiseHost: c.advertiseHost._tag === "Some" ? c.advertiseHost.value : undefined,
    seeds: c.seeds
      .split(",")
      .map((seed) => seed.trim())
      .filter((seed) => seed.length > 0),
    secret: c.secret._tag === "Some" ? Redacted.value(c.secret.value) : undefined,
    insecure: c.insecure,
    heartbeatIntervalMs: c.heartbeatIntervalMs,
    heartbeatMissThreshold: c.heartbeatMissThreshold,
    reconnectBaseDelayMs: c.reconnectBaseDelayMs,
    reconnectMaxDelayMs: c.reconnectMaxDelayMs,
    transport: { busyPollMicros: c.busyPollMicros }
  }))
)
