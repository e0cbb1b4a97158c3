/**
 * Configuration of a cluster node: identity, listening address, seeds, security, timings.
 *
 * Every interval and delay accepts Effect's `Duration.Input` (`"5 seconds"`, `Duration.seconds(5)`,
 * ...); a plain number is milliseconds. The cluster secret is a `Redacted` from `Config` to the
 * handshake: it never appears in logs, errors or `toString` output.
 *
 * @since 0.1.0
 */
import { Config, type Duration, Effect, type Redacted, Schema } from "effect"
import * as Env from "../internal/envConfig.ts"
import * as Security from "../Transport/Security.ts"
import type { CertificateOptions } from "../Transport/Security.ts"
import type { TransportTuning } from "../Transport/TransportOptions.ts"
import * as clusterEnv from "./internal/clusterEnv.ts"

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
 * The cluster's environment variables (name, default, meaning), as in the README's table of
 * "Running a node"; `NodeConfig.variables` adds the node's own (health port, logs, shutdown).
 *
 * @example
 * ```ts
 * import { ClusterConfig } from "effect-otp"
 *
 * const names = ClusterConfig.variables.map((variable) => variable.name) // ["NODE_NAME", "CLUSTER_HOST", ...]
 * ```
 *
 * @category config
 * @since 0.1.0
 */
export const variables: ReadonlyArray<Env.Variable> = clusterEnv.variables

/**
 * Reads a `ClusterConfig` from configuration (environment variables by default), with the names
 * of {@link variables}: `NODE_NAME` (required), `CLUSTER_HOST` (default `0.0.0.0`), `CLUSTER_PORT`
 * (4370), `CLUSTER_ADVERTISE_HOST` (default `CLUSTER_HOST`, or the host name when that is a
 * wildcard), `CLUSTER_SEEDS` (comma-separated), `CLUSTER_DNS_SERVERS`, `CLUSTER_SECRET` or
 * `CLUSTER_SECRET_FILE` (kept in a `Redacted`), `CLUSTER_INSECURE`, `HEARTBEAT_INTERVAL_MS`,
 * `HEARTBEAT_MISS_THRESHOLD`, `RECONNECT_BASE_DELAY_MS`, `RECONNECT_MAX_DELAY_MS` (milliseconds),
 * `BUSY_POLL_MICROS` (microseconds, see `TransportTuning.busyPollWindow`; 0 turns busy polling off).
 * A blank variable counts as unset.
 *
 * Every variable is checked before any error is reported: the `ConfigError` names every bad
 * variable and why (`NODE_NAME: is not set; CLUSTER_PORT: "x" is not a port number ...`). A
 * configuration with neither a secret nor `CLUSTER_INSECURE=true` is refused, and so is one with
 * both; the secret never appears in the message.
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
export const fromEnv: Config.Config<ClusterConfig> = clusterEnv.texts.pipe(
  Config.mapEffect((env) => {
    const checked = clusterEnv.check(env)
    return checked.ok ? Effect.succeed(checked.value) : Effect.fail(Env.toConfigError(checked.problems))
  })
)
