/**
 * Structured logs: JSON lines in production, readable lines in development, both on Effect's
 * `Logger` (`Effect.log*` everywhere, nothing to import in application code).
 *
 * A JSON record is one line:
 *
 * ```json
 * {"timestamp":"2026-11-02T10:00:00.000Z","level":"INFO","message":"ready","node":"a@host",
 *  "pid":"<a@host.7.1>","name":"cache","traceId":"…","spanId":"…","annotations":{"shard":"3"},
 *  "fiberId":"#42"}
 * ```
 *
 * - `timestamp` (ISO 8601, wall clock), `level`, `message`, `annotations` (`Effect.annotateLogs`),
 *   `spans` (`Effect.withLogSpan`, when any), `fiberId`, and `cause` (the pretty cause of a failure,
 *   when the record has one) come from Effect's `Logger.formatStructured`;
 * - `node`, `pid` and `name` (the registered name) when the record is made inside a process or a
 *   fiber it forked (`node` alone elsewhere on a node); `traceId` and `spanId` inside a span.
 *   They are read from the logging fiber's context when the record is written: nothing is added
 *   to processes, and a record below the minimum level costs nothing.
 *
 * Crash reports: every process that ends by its own failure (an error or defect in its code, a
 * GenServer handler that throws, a `stop` with a failure reason) logs one record at level `Error`:
 * message `process <pid> crashed`, `cause` the pretty cause, annotations `otp.report: "crash"`,
 * `otp.behaviour` (the GenServer's `name`, `"GenServer"` by default, or `"Process"`) and
 * `otp.lastMessage` (the tag of the last message a GenServer handled). A process stopped by an
 * exit signal (a linked process's crash, `kill`, `shutdown`) has none: the crash that started it
 * is reported where it happened, and its supervisor records the exit at `Debug`. Supervisor
 * records carry `otp.report: "supervisor"`, `otp.event` (`child_started`, `child_restarted`,
 * `child_exited`, `child_start_error`, `escalated`, `stopped`), `otp.supervisor`, `otp.child`,
 * `otp.childPid`, `otp.reason`.
 *
 * @since 0.1.0
 */
import { Config, ConfigProvider, Effect, Layer, Logger, type LogLevel, References } from "effect"
import * as internal from "./internal/loggingFormat.ts"

/**
 * The two output formats: `json` (one JSON object per line) and `pretty` (one readable line per
 * record).
 *
 * @category models
 * @since 0.1.0
 */
export type Format = "json" | "pretty"

/**
 * What {@link layer} reads from the configuration.
 *
 * @category models
 * @since 0.1.0
 */
export interface Settings {
  /** The minimum level written (`LOG_LEVEL`). */
  readonly level: LogLevel.LogLevel
  /** The output format (`LOG_FORMAT`). */
  readonly format: Format
}

const levels: ReadonlyArray<LogLevel.LogLevel> = ["All", "Trace", "Debug", "Info", "Warn", "Error", "Fatal", "None"]

const invalid = (variable: string, value: string, expected: string): Config.ConfigError =>
  new Config.ConfigError(
    new ConfigProvider.SourceError({ message: `${variable}: "${value}" is not one of ${expected} (any case)` })
  )

/**
 * `LOG_LEVEL`: `trace`, `debug`, `info`, `warn`, `error`, `fatal`, `all` or `none`, in any case;
 * default `info`. Any other value fails with a `ConfigError` naming the variable.
 *
 * @example
 * ```ts
 * import { ConfigProvider, Effect } from "effect"
 * import { Logging } from "effect-otp"
 *
 * const level = Effect.provideService(
 *   Effect.gen(function*() {
 *     return yield* Logging.logLevel
 *   }),
 *   ConfigProvider.ConfigProvider,
 *   ConfigProvider.fromEnv({ env: { LOG_LEVEL: "debug" } })
 * ) // Effect<"Debug", ConfigError>
 * ```
 *
 * @category config
 * @since 0.1.0
 */
export const logLevel: Config.Config<LogLevel.LogLevel> = Config.String("LOG_LEVEL").pipe(
  Config.withDefault("info"),
  Config.mapEffect((value) => {
    const level = levels.find((candidate) => candidate.toLowerCase() === value.trim().toLowerCase())
    return level === undefined
      ? Effect.fail(invalid("LOG_LEVEL", value, levels.map((name) => name.toLowerCase()).join(", ")))
      : Effect.succeed(level)
  })
)

const interactive = (): boolean => globalThis.process?.stdout?.isTTY === true

/**
 * `LOG_FORMAT`: `json` or `pretty` (any case). When it is not set: `pretty` if `NODE_ENV` is
 * `development` or standard output is a terminal, `json` otherwise (a container, a pipe, a file:
 * where a log collector reads). Any other value fails with a `ConfigError` naming the variable.
 *
 * @example
 * ```ts
 * import { ConfigProvider, Effect } from "effect"
 * import { Logging } from "effect-otp"
 *
 * const format = Effect.provideService(
 *   Effect.gen(function*() {
 *     return yield* Logging.logFormat
 *   }),
 *   ConfigProvider.ConfigProvider,
 *   ConfigProvider.fromEnv({ env: { NODE_ENV: "development" } })
 * ) // Effect<"pretty", ConfigError>
 * ```
 *
 * @category config
 * @since 0.1.0
 */
export const logFormat: Config.Config<Format> = Config.all({
  format: Config.option(Config.String("LOG_FORMAT")),
  nodeEnv: Config.String("NODE_ENV").pipe(Config.withDefault(""))
}).pipe(
  Config.mapEffect(({ format, nodeEnv }): Effect.Effect<Format, Config.ConfigError> => {
    if (format._tag === "None") {
      return Effect.succeed(nodeEnv === "development" || interactive() ? "pretty" : "json")
    }
    const value = format.value.trim().toLowerCase()
    return value === "json" || value === "pretty"
      ? Effect.succeed(value)
      : Effect.fail(invalid("LOG_FORMAT", format.value, "json, pretty"))
  })
)

/**
 * `LOG_LEVEL` and `LOG_FORMAT` together (see {@link logLevel} and {@link logFormat}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Logging } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const { level, format } = yield* Logging.config
 *   yield* Effect.log(`logging ${format} from ${level}`)
 * })
 * ```
 *
 * @category config
 * @since 0.1.0
 */
export const config: Config.Config<Settings> = Config.all({ level: logLevel, format: logFormat })

/**
 * The JSON-lines formatter: a `Logger` whose output is the record's line (no newline). For writing
 * records somewhere other than the console (`Logger.map`, `Logger.toFile`, `Logger.batched`).
 *
 * @example
 * ```ts
 * import { Effect, Logger } from "effect"
 * import { Logging } from "effect-otp"
 *
 * const lines: Array<string> = []
 * const collect = Logger.map(Logging.formatJson, (line) => {
 *   lines.push(line)
 * })
 * const program = Effect.log("hello").pipe(Effect.provide(Logger.layer([collect])))
 * ```
 *
 * @category formatters
 * @since 0.1.0
 */
export const formatJson: Logger.Logger<unknown, string> = internal.formatJson

/**
 * The readable formatter: `[10:00:00.000] INFO  a@host <a@host.7.1> cache: ready shard=3`, one line
 * per record (a failure's cause follows on indented lines). Levels are coloured when `colors` is
 * true.
 *
 * @example
 * ```ts
 * import { Effect, Logger } from "effect"
 * import { Logging } from "effect-otp"
 *
 * const toStderr = Logger.map(Logging.formatPretty({ colors: false }), (line) => {
 *   process.stderr.write(line + "\n")
 * })
 * const program = Effect.log("hello").pipe(Effect.provide(Logger.layer([toStderr])))
 * ```
 *
 * @category formatters
 * @since 0.1.0
 */
export const formatPretty = (options?: { readonly colors?: boolean | undefined }): Logger.Logger<unknown, string> =>
  internal.formatPretty(options?.colors ?? interactive())

/**
 * Writes JSON lines to the console (`Console`, standard output by default), replacing Effect's
 * default logger. Log records still become events of the current span (`Logger.tracerLogger`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Logging } from "effect-otp"
 *
 * const program = Effect.log("ready").pipe(Effect.annotateLogs("shard", 3), Effect.provide(Logging.layerJson))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerJson: Layer.Layer<never> = Logger.layer([Logger.withConsoleLog(formatJson), Logger.tracerLogger])

/**
 * Writes readable lines to the console (`Console`, standard output by default), replacing
 * Effect's default logger; levels are coloured when standard output is a terminal. Log records
 * still become events of the current span (`Logger.tracerLogger`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Logging } from "effect-otp"
 *
 * const program = Effect.log("ready").pipe(Effect.provide(Logging.layerPretty))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerPretty: Layer.Layer<never> = Logger.layer([
  Effect.sync(() => Logger.withConsoleLog(formatPretty())),
  Logger.tracerLogger
])

/**
 * The application's logging from the configuration: `LOG_FORMAT` chooses {@link layerJson} or
 * {@link layerPretty}, `LOG_LEVEL` the minimum level (see {@link config} for the values and the
 * defaults). Fails with a `ConfigError` naming the variable when either is invalid.
 *
 * Provide it under the application's layers, so that what they log while they are built is
 * formatted too.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Logging, Process, ProcessRuntime } from "effect-otp"
 *
 * // LOG_FORMAT=json LOG_LEVEL=debug node app.js
 * const program = Process.spawn(() => Effect.log("hello from a process"))
 * const main = program.pipe(Effect.provide(Layer.provideMerge(ProcessRuntime.layer(), Logging.layer)))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<never, Config.ConfigError> = Layer.unwrap(
  Effect.map(
    Effect.gen(function* () {
      return yield* config
    }),
    ({ level, format }) =>
      Layer.merge(format === "json" ? layerJson : layerPretty, Layer.succeed(References.MinimumLogLevel, level))
  )
)
