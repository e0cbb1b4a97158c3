/**
 * A node's whole configuration from environment variables, with one table of variables
 * ({@link variables}, also the README's "Running a node"): the cluster's (`NODE_NAME`,
 * `CLUSTER_*`, heartbeats, reconnects, busy polling), the node's HTTP endpoint (`HEALTH_HOST`,
 * `HEALTH_PORT`), logs (`LOG_LEVEL`, `LOG_FORMAT`), the shutdown drain (`SHUTDOWN_DRAIN_MS`), and
 * the standard `OTEL_*` variables (read by `Tracing.layerOtlp`).
 *
 * {@link load} checks every variable before it reports anything: an invalid configuration fails
 * with one `InvalidNodeConfig` naming each bad variable and why.
 *
 * @since 0.1.0
 */
import { Config, ConfigProvider, Duration, Effect, Redacted, Schema } from "effect"
import * as ClusterConfig from "../Cluster/ClusterConfig.ts"
import * as clusterEnv from "../Cluster/internal/clusterEnv.ts"
import * as Env from "../internal/envConfig.ts"
import * as AlertManager from "../Observability/AlertManager.ts"
import * as alertEnv from "../Observability/internal/alertEnv.ts"
import * as Logging from "../Observability/Logging.ts"

/**
 * One environment variable of the table: its name, its default (as text, `undefined` when it has
 * none), and what it means. The one type of every table (`ClusterConfig.variables`,
 * `AlertManager.variables`, {@link variables}).
 *
 * @example
 * ```ts
 * import { NodeConfig } from "effect-otp"
 *
 * const port: NodeConfig.Variable | undefined = NodeConfig.variables.find((v) => v.name === "HEALTH_PORT")
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Variable = Env.Variable

/**
 * The default of `HEALTH_PORT`: 9464 (the port OpenTelemetry's Prometheus exporters use).
 *
 * @example
 * ```ts
 * import { NodeConfig } from "effect-otp"
 *
 * const url = `http://127.0.0.1:${NodeConfig.defaultHealthPort}/health`
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultHealthPort = 9464

/**
 * The default of `SHUTDOWN_DRAIN_MS`: 10 seconds.
 *
 * @example
 * ```ts
 * import { NodeConfig } from "effect-otp"
 *
 * const drainMs = NodeConfig.defaultShutdownDrainMs // 10000
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultShutdownDrainMs = 10_000

const nodeVariables: ReadonlyArray<Variable> = [
  {
    name: "HEALTH_HOST",
    default: "0.0.0.0",
    meaning: "Interface of the node's HTTP endpoint (`/health`, `/ready`, `/metrics`, `/observer`)."
  },
  { name: "HEALTH_PORT", default: String(defaultHealthPort), meaning: "Port of the node's HTTP endpoint." },
  {
    name: "LOG_LEVEL",
    default: "info",
    meaning: "Minimum level logged: trace, debug, info, warn, error, fatal, all or none (any case)."
  },
  {
    name: "LOG_FORMAT",
    default: "json (pretty on a terminal or with NODE_ENV=development)",
    meaning: "`json` (one JSON object per line) or `pretty` (readable lines)."
  },
  {
    name: "SHUTDOWN_DRAIN_MS",
    default: String(defaultShutdownDrainMs),
    meaning:
      "On SIGTERM, how long calls from other nodes already being served may take to finish before the supervision trees stop."
  },
  ...AlertManager.variables,
  {
    name: "OBSERVER_KILL_TOKEN",
    default: "(no kill route)",
    meaning:
      "A bearer token (at least 16 characters) that enables `POST /observer/process/<pid>/kill` on the HTTP endpoint (from a Secret; never logged). Unset: the Observer's routes are read-only."
  },
  {
    name: "OTEL_*",
    default: "(tracing off)",
    meaning:
      "The standard OpenTelemetry variables: traces are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED, ...)."
  }
]

/**
 * Every environment variable a node reads, in the order of the README's table: name, default and
 * meaning. Deployment files (the Dockerfile, the compose file, the Kubernetes manifests) are
 * checked against it by the tests. `OTEL_*` stands for the standard OpenTelemetry variables.
 *
 * @example
 * ```ts
 * import { NodeConfig } from "effect-otp"
 *
 * const table = NodeConfig.variables.map((v) => `${v.name}\t${v.default ?? "(required)"}\t${v.meaning}`).join("\n")
 * ```
 *
 * @category config
 * @since 0.1.0
 */
export const variables: ReadonlyArray<Variable> = [...clusterEnv.variables, ...nodeVariables]

/**
 * A node's configuration, as {@link load} reads it.
 *
 * @example
 * ```ts
 * import { Duration, Redacted } from "effect"
 * import type { NodeConfig } from "effect-otp"
 *
 * const config: NodeConfig.NodeConfig = {
 *   cluster: { nodeName: "a", host: "127.0.0.1", port: 4370, secret: Redacted.make("s3cret") },
 *   health: { host: "127.0.0.1", port: 9464 },
 *   logging: { level: "Info", format: "json" },
 *   shutdownDrain: Duration.seconds(10)
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface NodeConfig {
  /** The cluster node: name, addresses, seeds, security, timings (see `ClusterConfig.fromEnv`). */
  readonly cluster: ClusterConfig.ClusterConfig
  /** Where the node's HTTP endpoint listens (`HEALTH_HOST`, `HEALTH_PORT`). */
  readonly health: { readonly host: string; readonly port: number }
  /** `LOG_LEVEL` and `LOG_FORMAT`. */
  readonly logging: Logging.Settings
  /** `SHUTDOWN_DRAIN_MS`: the bound of the drain of in-flight remote calls at shutdown. */
  readonly shutdownDrain: Duration.Duration
  /** `ALERTS_*`: the AlertManager's settings (unset fields take `AlertManager.defaults`). */
  readonly alerts?: AlertManager.AlertOptions | undefined
  /** `OBSERVER_KILL_TOKEN`: enables the Observer's kill route, guarded by this bearer token. */
  readonly observerKillToken?: Redacted.Redacted<string> | undefined
}

/**
 * One bad variable and why.
 *
 * @example
 * ```ts
 * import { NodeConfig } from "effect-otp"
 *
 * const problem = new NodeConfig.ConfigProblem({ variable: "CLUSTER_PORT", reason: "\"x\" is not a port number" })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ConfigProblem extends Schema.Class<ConfigProblem>("effect-otp/NodeConfig/ConfigProblem")({
  variable: Schema.String,
  reason: Schema.String
}) {}

/**
 * The environment does not describe a node that can start. `problems` lists every bad variable
 * (not only the first), and the message names them all in one line:
 * `invalid node configuration (2 problems): NODE_NAME: is not set ...; CLUSTER_PORT: "x" is not a port number ...`.
 * It never contains the cluster secret.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeConfig } from "effect-otp"
 *
 * const program = NodeConfig.load.pipe(
 *   Effect.catchTag("InvalidNodeConfig", (error) =>
 *     Effect.logError(error.problems.map((problem) => problem.variable).join(", "))
 *   )
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidNodeConfig extends Schema.TaggedError<InvalidNodeConfig>()("InvalidNodeConfig", {
  problems: Schema.Array(ConfigProblem)
}) {
  override get message(): string {
    const count = this.problems.length
    return `invalid node configuration (${count} ${count === 1 ? "problem" : "problems"}): ${Env.describe(this.problems)}`
  }
}

/**
 * A `LOG_*` value from `Logging`'s own config, or its problem without the `SourceError: LOG_X: `
 * prefix. Blank counts as unset, as for every other variable: the config then reads an environment
 * without it.
 */
const logging = <A>(name: string, config: Config.Config<A>, blank: boolean): Effect.Effect<Env.Checked<A>> =>
  (blank
    ? Effect.flatMap(Config.String("NODE_ENV").pipe(Config.withDefault("")), (nodeEnv) =>
        config.parse(ConfigProvider.fromEnv({ env: { NODE_ENV: nodeEnv } }))
      )
    : config
  ).pipe(
    Effect.map(Env.ok),
    Effect.catch((error: Config.ConfigError) =>
      Effect.succeed(
        Env.bad(
          name,
          error.message
            .replace(/^SourceError: /, "")
            .replace(`${name}: `, "")
            .replace(/^Expected .*?, got (.*)$/, "$1")
        )
      )
    )
  )

const nodeTexts = Env.texts([
  "HEALTH_HOST",
  "HEALTH_PORT",
  "SHUTDOWN_DRAIN_MS",
  "LOG_LEVEL",
  "LOG_FORMAT",
  ...alertEnv.names,
  "OBSERVER_KILL_TOKEN"
])

/** Shortest `OBSERVER_KILL_TOKEN` accepted (16 characters: e.g. `openssl rand -hex 16` gives 32). */
const minKillTokenLength = 16

/** A bearer token of at least {@link minKillTokenLength} characters; the message never shows it. */
const killToken = (value: string): Env.Checked<Redacted.Redacted<string>> =>
  value.length >= minKillTokenLength
    ? Env.ok(Redacted.make(value))
    : Env.bad(
        "OBSERVER_KILL_TOKEN",
        `is ${value.length} characters long, fewer than ${minKillTokenLength} (use a random token, e.g. openssl rand -hex 16)`
      )

/**
 * Reads and checks every variable of {@link variables} from the current `ConfigProvider` (the
 * environment unless another is provided). Fails with one {@link InvalidNodeConfig} naming every
 * bad variable: a missing `NODE_NAME`, a malformed number or seed, no cluster secret without
 * `CLUSTER_INSECURE=true` (or both), an unreadable `CLUSTER_SECRET_FILE`, an unknown `LOG_LEVEL`...
 *
 * @example
 * ```ts
 * import { ConfigProvider, Effect } from "effect"
 * import { NodeConfig } from "effect-otp"
 *
 * const config = NodeConfig.load.pipe(
 *   Effect.provideService(
 *     ConfigProvider.ConfigProvider,
 *     ConfigProvider.fromEnv({ env: { NODE_NAME: "a", CLUSTER_SECRET: "s3cret" } })
 *   )
 * )
 * ```
 *
 * @category config
 * @since 0.1.0
 */
export const load: Effect.Effect<NodeConfig, InvalidNodeConfig> = Effect.gen(function* () {
  const source = (error: Config.ConfigError) =>
    new InvalidNodeConfig({ problems: [new ConfigProblem({ variable: "(configuration)", reason: error.message })] })
  const cluster = clusterEnv.check(yield* Effect.mapError(clusterEnv.texts, source))
  const env = yield* Effect.mapError(nodeTexts, source)
  const level = yield* logging("LOG_LEVEL", Logging.logLevel, env["LOG_LEVEL"] === undefined)
  const format = yield* logging("LOG_FORMAT", Logging.logFormat, env["LOG_FORMAT"] === undefined)
  const checked = Env.all({
    cluster,
    healthHost: Env.read(env, "HEALTH_HOST", (host) => Env.ok(host), Env.ok("0.0.0.0")),
    healthPort: Env.read(env, "HEALTH_PORT", Env.port("HEALTH_PORT"), Env.ok(defaultHealthPort)),
    level,
    format,
    drain: Env.read(
      env,
      "SHUTDOWN_DRAIN_MS",
      Env.integer("SHUTDOWN_DRAIN_MS", 0, 3_600_000, "a number of milliseconds from 0 to 3600000"),
      Env.ok(defaultShutdownDrainMs)
    ),
    alerts: alertEnv.check(env),
    observerKillToken: Env.read(env, "OBSERVER_KILL_TOKEN", killToken, Env.ok(undefined))
  })
  if (!checked.ok) {
    return yield* new InvalidNodeConfig({ problems: checked.problems.map((problem) => new ConfigProblem(problem)) })
  }
  const c = checked.value
  return {
    cluster: c.cluster,
    health: { host: c.healthHost, port: c.healthPort },
    logging: { level: c.level, format: c.format },
    shutdownDrain: Duration.millis(c.drain),
    alerts: c.alerts,
    observerKillToken: c.observerKillToken
  }
})
