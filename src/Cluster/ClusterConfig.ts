/**
 * Configuration of a cluster node: identity, listening address, seeds, security, timings.
 *
 * Every interval and delay accepts Effect's `Duration.Input` (`"5 seconds"`, `Duration.seconds(5)`,
 * ...); a plain number is milliseconds. The cluster secret is a `Redacted` from `Config` to the
 * handshake: it never appears in logs, errors or `toString` output.
 *
 * @since 0.1.0
 */
import { Config, Duration, Effect, Redacted, Schema } from "effect"
import * as Security from "../Transport/Security.ts"
import type { CertificateOptions } from "../Transport/Security.ts"
import { defaultBusyPollWindow } from "../Transport/TransportOptions.ts"
import type { TransportTuning } from "../Transport/TransportOptions.ts"

/**
 * Everything a node needs to join a cluster. Exactly one of `secret`, `tls` and `insecure: true`
 * must be given.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import type { ClusterConfig } from "effect-otp"
 *
 * const config: ClusterConfig.ClusterConfig = {
 *   nodeName: "a",
 *   port: 4370,
 *   secret: Redacted.make("s3cret"),
 *   seeds: ["b@10.0.0.2:4370"],
 *   heartbeatInterval: "2 seconds",
 *   heartbeatMissThreshold: 3
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ClusterConfig {
  /** This node's name, unique among live nodes of the cluster. */
  readonly nodeName: string
  /**
   * Interface to listen on. Default `127.0.0.1`. A specific IP address (not `0.0.0.0` or `::`) is
   * also the source address of this node's connections to its peers.
   */
  readonly host?: string | undefined
  /** Port to listen on. Default 0 (any free port). */
  readonly port?: number | undefined
  /** Host that peers should dial when it differs from `host` (e.g. the pod IP when `host` is `0.0.0.0`). */
  readonly advertiseHost?: string | undefined
  /**
   * Seeds: `name@host:port` (a known node) or `host:port` where host is a DNS name resolved to all
   * its addresses (e.g. a Kubernetes headless Service) and re-resolved every `discoveryInterval`.
   */
  readonly seeds?: ReadonlyArray<string> | undefined
  /**
   * Cluster secret: links use TLS 1.2 PSK derived from it. Give it as a `Redacted` (as
   * `Config.Redacted` reads it); a plain string is wrapped in one at once.
   */
  readonly secret?: Redacted.Redacted<string> | string | undefined
  /** Certificate mTLS instead of a secret (see `Security.CertificateOptions`, e.g. `bindNodeName`). */
  readonly tls?: CertificateOptions | undefined
  /** Plain TCP, no authentication nor encryption. Logs a warning at start. */
  readonly insecure?: boolean | undefined
  /** Heartbeat period per link. Default 5 seconds. */
  readonly heartbeatInterval?: Duration.Input | undefined
  /** A link silent for `heartbeatInterval * heartbeatMissThreshold` is down. Default 3. */
  readonly heartbeatMissThreshold?: number | undefined
  /** First reconnect delay; doubles per failed attempt, with jitter. Default 1 second. */
  readonly reconnectBaseDelay?: Duration.Input | undefined
  /** Cap of the reconnect delay. Default 30 seconds. */
  readonly reconnectMaxDelay?: Duration.Input | undefined
  /** How often seeds are re-resolved and unknown seed addresses dialed. Default 10 seconds. */
  readonly discoveryInterval?: Duration.Input | undefined
  /** DNS servers (`ip` or `ip:port`) for seed names; default: the system resolver (getaddrinfo). */
  readonly dnsServers?: ReadonlyArray<string> | undefined
  /** Number of processes on this node, reported in heartbeats (plugged in by the process runtime). */
  readonly processCount?: Effect.Effect<number> | undefined
  /** Transport tuning (frame size, high-water mark, handshake timeout, busy polling). */
  readonly transport?: TransportTuning | undefined
}

/**
 * The configuration is not usable (no security mode, or several, an empty secret, or a malformed
 * seed). Its reason never contains the secret.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const program = Effect.scoped(Layer.build(Cluster.layer({ nodeName: "a", seeds: ["nohost"], insecure: true }))).pipe(
 *   Effect.catchTag("InvalidClusterConfig", (error) => Effect.logError(error.message))
 * )
 * ```
 *
 * @category errors
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
 * The link security the configuration asks for, with the secret (if any) in a `Redacted`. Fails
 * with `InvalidClusterConfig` unless exactly one mode is given, or when the secret is empty.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ClusterConfig } from "effect-otp"
 *
 * const security = ClusterConfig.security({ nodeName: "a", secret: "s3cret" })
 * Effect.runSync(security) // { secret: <redacted> }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const security = (config: ClusterConfig): Effect.Effect<Security.Security, InvalidClusterConfig> => {
  const modes = [config.secret !== undefined, config.tls !== undefined, config.insecure === true].filter(Boolean)
  if (modes.length !== 1) {
    return Effect.fail(new InvalidClusterConfig({ reason: "give exactly one of `secret`, `tls` or `insecure: true`" }))
  }
  if (config.secret !== undefined) {
    const redacted = Security.redact({ secret: config.secret }) as { readonly secret: Redacted.Redacted<string> }
    return Security.isEmptySecret(redacted.secret)
      ? Effect.fail(new InvalidClusterConfig({ reason: "the cluster secret is empty" }))
      : Effect.succeed(redacted)
  }
  return Effect.succeed(config.tls !== undefined ? { tls: config.tls } : { insecure: true as const })
}

/**
 * Reads a `ClusterConfig` from configuration (environment variables by default):
 * `OTP_NODE_NAME`, `OTP_HOST`, `OTP_PORT`, `OTP_ADVERTISE_HOST`, `OTP_SEEDS` (comma-separated),
 * `OTP_CLUSTER_SECRET` (read with `Config.Redacted`: it stays redacted), `OTP_INSECURE`,
 * `OTP_HEARTBEAT_INTERVAL_MS`, `OTP_HEARTBEAT_MISS_THRESHOLD`, `OTP_RECONNECT_BASE_DELAY_MS`,
 * `OTP_RECONNECT_MAX_DELAY_MS` (milliseconds), `OTP_BUSY_POLL_MICROS` (microseconds, see
 * `TransportTuning.busyPollWindow`; 0 turns busy polling off).
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
 * @category constructors
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
  busyPollMicros: Config.Int("OTP_BUSY_POLL_MICROS").pipe(
    Config.withDefault(Duration.toMillis(defaultBusyPollWindow) * 1000)
  )
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
    secret: c.secret._tag === "Some" ? c.secret.value : undefined,
    insecure: c.insecure,
    heartbeatInterval: c.heartbeatIntervalMs,
    heartbeatMissThreshold: c.heartbeatMissThreshold,
    reconnectBaseDelay: c.reconnectBaseDelayMs,
    reconnectMaxDelay: c.reconnectMaxDelayMs,
    transport: { busyPollWindow: Duration.micros(BigInt(c.busyPollMicros)) }
  }))
)
