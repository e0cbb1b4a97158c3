/**
 * A whole node from the environment: {@link layer} composes the process runtime, the cluster and
 * distribution, logs, metrics, traces, the Observer and the AlertManager, the HTTP endpoint with
 * `/health`, `/ready`, `/metrics` and `/observer`, and the application's own layers, configured by `NodeConfig` (environment variables). And
 * {@link runMain} runs it as the main program of an OS process, with a graceful shutdown in
 * ordered phases on SIGTERM or SIGINT.
 *
 * The shutdown, in the spirit of Akka's coordinated shutdown; each phase is logged when it starts
 * and ends, and has its own timeout (a phase past it is left running and the next one starts):
 *
 * 1. `mark-stopping` (2 s): `/health` and `/ready` answer 503 `stopping` (`Health.markStopping`), so
 *    the orchestrator stops routing traffic to the node;
 *
 *    then, only when the application called `DistributedSupervisor.handoffOnLeave`, `handoff`
 *    (15 s): the children of this node move to other nodes (those with handoff carrying their
 *    state) while the node still serves other nodes, so calls to them by their global names wait
 *    for the new instances instead of being refused (logged as phase 2 of 7, the later phases
 *    numbered one more);
 * 2. `refuse-new-work` (1 s): calls and spawns arriving from other nodes are refused; their callers
 *    fail at once with `NodeDown` whose reason is `stopping` (`Distribution.refuseNewWork`);
 * 3. `drain` (`SHUTDOWN_DRAIN_MS`, default 10 s): calls from other nodes already accepted are
 *    answered (`Distribution.awaitServedCalls`);
 * 4. `stop-applications` (15 s): the application's layers are released, so its supervision trees
 *    stop in reverse start order, each child within its shutdown timeout;
 * 5. `leave-cluster` (10 s): the node says goodbye to every peer (they report `NodeDown` with
 *    reason `graceful_shutdown` and do not redial it), its remaining processes stop, the HTTP
 *    endpoint closes;
 * 6. `flush-telemetry` (5 s): the spans still batched are exported.
 *
 * Then the process exits with code 0. The phases' timeouts add up to 58 s with the default drain
 * (43 s without a `handoff` phase):
 * give the orchestrator a longer grace period (`terminationGracePeriodSeconds`). A second SIGTERM
 * or SIGINT during the shutdown exits at once, with code 128 + the signal's number (143 for
 * SIGTERM, 130 for SIGINT). An invalid configuration is logged as one message naming every bad
 * variable and exits with code 1 before anything starts; a failure or defect that escapes the
 * application is logged with its cause, the node shuts down as above, and the exit code is 1.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Config, Context, Duration, Effect, Exit, Layer, Option, References, Scope } from "effect"
import type * as BehaviourRegistry from "../Cluster/BehaviourRegistry.ts"
import * as Cluster from "../Cluster/Cluster.ts"
import * as Distribution from "../Cluster/Distribution.ts"
import * as AlertManager from "../Observability/AlertManager.ts"
import * as GlobalRegistry from "../Cluster/GlobalRegistry.ts"
import * as ProcessGroups from "../Cluster/ProcessGroups.ts"
import * as Health from "../Observability/Health.ts"
import * as HttpEndpoint from "../Observability/HttpEndpoint.ts"
import * as Logging from "../Observability/Logging.ts"
import * as Metrics from "../Observability/Metrics.ts"
import * as Observer from "../Observability/Observer.ts"
import * as ObserverCluster from "../Observability/ObserverCluster.ts"
import * as ObserverHttp from "../Observability/ObserverHttp.ts"
import * as RuntimeMetrics from "../Observability/RuntimeMetrics.ts"
import * as Tracing from "../Observability/Tracing.ts"
import type * as ProcessRuntime from "../Process/ProcessRuntime.ts"
import * as SupervisorEvents from "../Supervisor/SupervisorEvents.ts"
import type { Transport } from "../Transport/Transport.ts"
import type { ListenFailed } from "../Transport/TransportError.ts"
import type { HttpServerError } from "effect/http"
import type { InvalidClusterConfig } from "../Cluster/ClusterConfig.ts"
import { LeaveHooks, makeLeaveHooks } from "../Cluster/internal/distSupLeave.ts"
import { warnInsecure } from "./internal/insecureWarning.ts"
import { detached, isCleanStop, type Phase, runPhases } from "./internal/shutdown.ts"
import * as NodeConfig from "./NodeConfig.ts"

/**
 * The services every node provides to the application's layers.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Cluster, Node } from "effect-otp"
 *
 * // An application layer that needs only what the node provides.
 * const App: Layer.Layer<never, never, Node.Services> = Layer.effectDiscard(
 *   Effect.flatMap(Cluster.status, (status) => Effect.log(`the cluster is ${status}`))
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Services =
  | ProcessRuntime.ProcessRuntime
  | Cluster.Cluster
  | Transport
  | Distribution.Distribution
  | GlobalRegistry.GlobalRegistry
  | ProcessGroups.ProcessGroups
  | HttpEndpoint.HttpEndpoint
  | Health.Health
  | SupervisorEvents.SupervisorEvents
  | Observer.Observer
  | ObserverCluster.ObserverCluster
  | AlertManager.AlertManager

/**
 * Why a node could not start: its cluster configuration is refused, its cluster port or its HTTP
 * port is taken.
 *
 * @example
 * ```ts
 * import type { Node } from "effect-otp"
 *
 * const explain = (error: Node.StartError): string =>
 *   error._tag === "ListenFailed" ? `the cluster port is taken: ${error.message}` : error.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type StartError =
  InvalidClusterConfig | ListenFailed | HttpServerError.ServeError | AlertManager.InvalidAlertSettings

/**
 * The bounds of the shutdown phases other than the drain (whose bound is `SHUTDOWN_DRAIN_MS`).
 *
 * @example
 * ```ts
 * import type { Node } from "effect-otp"
 *
 * const timeouts: Partial<Node.ShutdownTimeouts> = { stopApplications: "30 seconds" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface ShutdownTimeouts {
  /** Phase 1, readiness turns 503. Default 2 seconds. */
  readonly markStopping: Duration.Input
  /**
   * The `handoff` phase between phases 1 and 2 (only with `DistributedSupervisor.handoffOnLeave`):
   * this node's children moved elsewhere. Default 15 seconds.
   */
  readonly handoff: Duration.Input
  /** Phase 2, calls and spawns from other nodes refused. Default 1 second. */
  readonly refuseNewWork: Duration.Input
  /** Phase 4, the application's layers (supervision trees) released. Default 15 seconds. */
  readonly stopApplications: Duration.Input
  /** Phase 5, goodbye to the peers, remaining processes stopped. Default 10 seconds. */
  readonly leaveCluster: Duration.Input
  /** Phase 6, spans exported. Default 5 seconds. */
  readonly flushTelemetry: Duration.Input
}

/**
 * The default {@link ShutdownTimeouts}.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { Node } from "effect-otp"
 *
 * const stop = Duration.fromInputUnsafe(Node.defaultShutdownTimeouts.stopApplications) // 15 seconds
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export const defaultShutdownTimeouts: ShutdownTimeouts = {
  markStopping: "2 seconds",
  handoff: "15 seconds",
  refuseNewWork: "1 second",
  stopApplications: "15 seconds",
  leaveCluster: "10 seconds",
  flushTelemetry: "5 seconds"
}

/**
 * Options of {@link layer} and {@link runMain}: what the environment does not say.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health, type Node } from "effect-otp"
 *
 * const options: Node.NodeOptions = {
 *   serviceName: "orders",
 *   health: { requiredNames: ["orders"], checks: [Health.check("db", Effect.void, { timeout: "1 second" })] }
 * }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface NodeOptions<Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec> = []> {
  /** Behaviours other nodes may spawn on this one (see `Distribution.layer`). */
  readonly behaviours?: Specs | undefined
  /**
   * The services the behaviours' callbacks need (with {@link runMain}, which has nothing else to
   * take them from; with {@link layer}, they may also be provided to the node's layer).
   */
  readonly behaviourServices?: Layer.Layer<BehaviourRegistry.Services<Specs[number]>> | undefined
  /** Options of the process runtime (mailbox capacity, shutdown timeout, ...). */
  readonly runtime?: Distribution.NodeOptions["runtime"]
  /** Readiness: required names, custom checks (the seeds come from `CLUSTER_SEEDS`). */
  readonly health?: Omit<Health.HealthOptions<never>, "seeds"> | undefined
  /** `service.name` of the traces when `OTEL_SERVICE_NAME` does not set it. Default `effect-otp`. */
  readonly serviceName?: string | undefined
  /** `service.version` of the traces. */
  readonly serviceVersion?: string | undefined
  /**
   * Layers built on the node's services, below the application, released after it (in phase
   * `leave-cluster`): more routes on the endpoint, exporters, samplers. (The Observer, its
   * system process and routes, and the AlertManager are part of every node already.)
   */
  readonly observability?: ReadonlyArray<Layer.Layer<never, never, Services>> | undefined
  /** Bounds of the shutdown phases (see {@link ShutdownTimeouts}). */
  readonly shutdownTimeouts?: Partial<ShutdownTimeouts> | undefined
}

/** The logger of the configuration: format and minimum level. */
const loggingOf = (settings: Logging.Settings): Layer.Layer<never> =>
  Layer.merge(
    settings.format === "json" ? Logging.layerJson : Logging.layerPretty,
    Layer.succeed(References.MinimumLogLevel, settings.level)
  )

/** Traces over OTLP when an endpoint is configured (`OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`). */
const telemetryOf = (
  config: NodeConfig.NodeConfig,
  options: { readonly serviceName?: string | undefined; readonly serviceVersion?: string | undefined } | undefined
): Layer.Layer<never> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const endpoint = yield* Config.option(Config.String("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")).pipe(
        Effect.flatMap((traces) =>
          Option.isSome(traces) ? Effect.succeed(traces) : Config.option(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT"))
        ),
        Effect.orElseSucceed(() => Option.none<string>())
      )
      const exporter = yield* Config.String("OTEL_TRACES_EXPORTER").pipe(
        Config.withDefault("otlp"),
        Effect.orElseSucceed(() => "otlp")
      )
      if (Option.isNone(endpoint) || endpoint.value.trim() === "" || exporter.trim().toLowerCase() === "none") {
        return Layer.empty
      }
      return Tracing.layerOtlp({
        serviceName: options?.serviceName,
        serviceVersion: options?.serviceVersion,
        nodeName: config.cluster.nodeName
      })
    })
  )

/** The node's own services: cluster, runtime, distribution, HTTP endpoint, metrics, health. */
const coreOf = <const Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec>>(
  config: NodeConfig.NodeConfig,
  options: NodeOptions<Specs> | undefined
) => {
  const distribution = Distribution.layer(config.cluster, {
    behaviours: options?.behaviours,
    runtime: options?.runtime
  })
  const distributed =
    options?.behaviourServices === undefined
      ? distribution
      : Layer.provide(distribution, options.behaviourServices as Layer.Layer<BehaviourRegistry.Services<Specs[number]>>)
  // Global names and process groups on every node (they only talk to nodes that run them too).
  const node = Layer.mergeAll(GlobalRegistry.layer, ProcessGroups.layer).pipe(Layer.provideMerge(distributed))
  const endpoint = HttpEndpoint.layer(config.health)
  // What the node knows of itself: the Observer (and its system process for cluster-wide
  // queries) and the AlertManager, beneath the routes and the health report that read them.
  const insight = Layer.mergeAll(
    ObserverCluster.layer().pipe(Layer.provideMerge(Observer.layer)),
    AlertManager.layer(config.alerts)
  )
  const killToken = config.observerKillToken
  const served = Layer.mergeAll(
    Health.layer({ ...options?.health, seeds: config.cluster.seeds }),
    ObserverHttp.layer(killToken === undefined ? undefined : { kill: { token: killToken } }),
    Metrics.layer(),
    Metrics.layerHttp,
    RuntimeMetrics.layer(),
    config.cluster.insecure === true ? Layer.effectDiscard(warnInsecure) : Layer.empty
  )
  const observability = Layer.mergeAll(Layer.empty, ...(options?.observability ?? []))
  return observability.pipe(
    Layer.provideMerge(served),
    Layer.provideMerge(insight),
    Layer.provideMerge(endpoint),
    Layer.provideMerge(node),
    Layer.provideMerge(SupervisorEvents.layer())
  )
}

/**
 * The node as a layer, from an already loaded configuration (see {@link layer}, which loads it from
 * the environment). `app` is the application's layer, built on the node's {@link Services}.
 *
 * @example
 * ```ts
 * import { Duration, Layer, Redacted } from "effect"
 * import { Node } from "effect-otp"
 *
 * const NodeLive = Node.layerWith({
 *   cluster: { nodeName: "a", host: "127.0.0.1", port: 0, secret: Redacted.make("s3cret") },
 *   health: { host: "127.0.0.1", port: 0 },
 *   logging: { level: "Info", format: "json" },
 *   shutdownDrain: Duration.seconds(5)
 * }, Layer.empty)
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerWith = <
  ROut = never,
  E = never,
  RIn = never,
  const Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec> = []
>(
  config: NodeConfig.NodeConfig,
  app?: Layer.Layer<ROut, E, RIn>,
  options?: NodeOptions<Specs>
): Layer.Layer<Services | ROut, E | StartError, Exclude<RIn, Services> | BehaviourRegistry.Services<Specs[number]>> => {
  const core = coreOf(config, options)
  const withApp = (app ?? (Layer.empty as Layer.Layer<never>)).pipe(Layer.provideMerge(core)) as Layer.Layer<
    Services | ROut,
    E | StartError,
    Exclude<RIn, Services> | BehaviourRegistry.Services<Specs[number]>
  >
  return withApp.pipe(Layer.provide(telemetryOf(config, options)), Layer.provide(loggingOf(config.logging)))
}

/**
 * The whole node from the environment (`NodeConfig.load`): the process runtime, the cluster and
 * distribution (`NODE_NAME`, `CLUSTER_*`, ...), logs (`LOG_LEVEL`, `LOG_FORMAT`), metrics,
 * traces (`OTEL_*`, exported only when an OTLP endpoint is configured), the HTTP endpoint on
 * `HEALTH_HOST:HEALTH_PORT` with `/health`, `/ready`, `/metrics` and `/observer` (the Observer, its
 * cluster-wide system process, and the AlertManager from `ALERTS_*`), and `app` on top. An insecure
 * node (`CLUSTER_INSECURE=true`) logs a warning at start and every minute.
 *
 * Fails with `InvalidNodeConfig` naming every bad variable, or with what the cluster (the port is
 * taken) or `app` fail with. Releasing the layer stops `app`, then leaves the cluster gracefully,
 * then flushes the traces; {@link runMain} adds the phases before (readiness, refusing, draining).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Node } from "effect-otp"
 *
 * const App = Layer.effectDiscard(Effect.log("the application starts here"))
 * const NodeLive = Node.layer(App)
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <
  ROut = never,
  E = never,
  RIn = never,
  const Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec> = []
>(
  app?: Layer.Layer<ROut, E, RIn>,
  options?: NodeOptions<Specs>
): Layer.Layer<
  Services | ROut,
  E | StartError | NodeConfig.InvalidNodeConfig,
  Exclude<RIn, Services> | BehaviourRegistry.Services<Specs[number]>
> => Layer.unwrap(Effect.map(NodeConfig.load, (config) => layerWith(config, app, options)))

/**
 * What {@link runMain} runs: the application as a layer (the node runs until a signal), or as an
 * effect (the node shuts down gracefully when it ends, for a job or a demo that ends). Either may
 * use the node's {@link Services} and the services of `options.behaviours`.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import type { Node } from "effect-otp"
 *
 * // A service: it runs until SIGTERM.
 * const service: Node.App<never, never, never> = Layer.effectDiscard(Effect.log("serving"))
 * // A job: the node shuts down gracefully once it ends.
 * const job: Node.App<never, never, never> = Effect.log("the batch is done")
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type App<ROut, E, R> = Layer.Layer<ROut, E, R> | Effect.Effect<unknown, E, R | Scope.Scope>

const forcedExitCodes: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }

/** Counts SIGINT/SIGTERM while the scope lives: the first is runMain's, the second forces the exit. */
const forceOnSecondSignal = Effect.gen(function* () {
  const context = yield* Effect.context<never>()
  const log = Effect.runSyncWith(context)
  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    signals++
    if (signals === 1) {
      log(Effect.logInfo(`received ${signal}: shutting down gracefully (send it again to exit at once)`))
      return
    }
    const code = forcedExitCodes[signal] ?? 1
    log(Effect.logError(`received ${signal} again: exiting at once, before the shutdown ended (exit code ${code})`))
    process.exit(code)
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      process.on("SIGINT", onSignal)
      process.on("SIGTERM", onSignal)
    }),
    () =>
      Effect.sync(() => {
        process.removeListener("SIGINT", onSignal)
        process.removeListener("SIGTERM", onSignal)
      })
  )
})

const closePhase = (name: string, timeout: Duration.Input, scope: Scope.Closeable): Phase => ({
  name,
  timeout: Duration.fromInputUnsafe(timeout),
  run: Scope.close(scope, Exit.void)
})

/** The node's run: build in three scopes (telemetry, node, application), run, shut down in phases. */
const runNode = <ROut, E, R, const Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec>>(
  config: NodeConfig.NodeConfig,
  app: App<ROut, E, R>,
  options: NodeOptions<Specs> | undefined
): Effect.Effect<void, unknown> =>
  Effect.gen(function* () {
    yield* forceOnSecondSignal
    const timeouts = { ...defaultShutdownTimeouts, ...options?.shutdownTimeouts }
    const telemetryScope = yield* Scope.make()
    const coreScope = yield* Scope.make()
    const appScope = yield* Scope.make()
    let core: Context.Context<Services> | undefined
    const name = config.cluster.nodeName
    // What the application adds to run before the refusal of new work (handoffOnLeave).
    const leaveHooks = makeLeaveHooks()

    const start = Effect.gen(function* () {
      yield* Effect.logInfo(`node ${name} starting`)
      const telemetry = yield* Layer.buildWithScope(telemetryOf(config, options), telemetryScope)
      // With runMain, the behaviours' services come from `options.behaviourServices`.
      const coreLayer = coreOf(config, options) as Layer.Layer<Services, StartError>
      core = (yield* Layer.buildWithScope(coreLayer, coreScope).pipe(
        Effect.provide(telemetry)
      )) as Context.Context<Services>
      const cluster = Context.get(core, Cluster.Cluster)
      const endpoint = Context.get(core, HttpEndpoint.HttpEndpoint)
      const address = cluster.transport.address
      yield* Effect.logInfo(
        `node ${name} running: cluster port ${address.host}:${address.port}, ` +
          `HTTP endpoint http://${endpoint.host}:${endpoint.port} (/health, /ready, /metrics, /observer)`
      )
      const services = Context.add(Context.merge(telemetry, core), LeaveHooks, leaveHooks.service)
      // `services` holds every service `R` may name (R extends Services).
      if (Layer.isLayer(app)) {
        yield* Layer.buildWithScope(app as Layer.Layer<ROut, E, never>, appScope).pipe(Effect.provide(services))
        return yield* Effect.never
      }
      return yield* (app as Effect.Effect<unknown, E, Scope.Scope>).pipe(
        Effect.provideService(Scope.Scope, appScope),
        Effect.provide(services)
      )
    })

    const shutdown = (exit: Exit.Exit<unknown, unknown>) =>
      Effect.gen(function* () {
        if (!isCleanStop(exit)) {
          yield* Effect.logError(`node ${name} failed; shutting down`, (exit as Exit.Failure<unknown, unknown>).cause)
        } else {
          yield* Effect.logInfo(`node ${name} shutting down`)
        }
        const phases: Array<Phase> = []
        const services = core
        if (services !== undefined) {
          phases.push(
            {
              name: "mark-stopping",
              timeout: Duration.fromInputUnsafe(timeouts.markStopping),
              run: Effect.provideContext(Health.markStopping, services)
            },
            ...(leaveHooks.size() === 0
              ? []
              : [{ name: "handoff", timeout: Duration.fromInputUnsafe(timeouts.handoff), run: leaveHooks.runAll }]),
            {
              name: "refuse-new-work",
              timeout: Duration.fromInputUnsafe(timeouts.refuseNewWork),
              run: Effect.provideContext(Distribution.refuseNewWork, services)
            },
            {
              name: "drain",
              timeout: config.shutdownDrain,
              run: Effect.gen(function* () {
                const serving = yield* Context.get(services, Distribution.Distribution).servingCalls
                if (serving > 0) yield* Effect.logInfo(`waiting for ${serving} calls from other nodes to be answered`)
                yield* Effect.provideContext(Distribution.awaitServedCalls, services)
              })
            }
          )
        }
        phases.push(
          closePhase("stop-applications", timeouts.stopApplications, appScope),
          closePhase("leave-cluster", timeouts.leaveCluster, coreScope),
          closePhase("flush-telemetry", timeouts.flushTelemetry, telemetryScope)
        )
        yield* runPhases(phases)
        yield* Effect.logInfo(`node ${name} stopped`)
      })

    // The signal interrupts the build or the run; the shutdown, uninterruptible, runs in a fiber of
    // its own (interruptible, so that its phases can time out).
    yield* start.pipe(Effect.onExit((exit) => Effect.asVoid(detached(shutdown(exit)))))
  }).pipe(Effect.scoped, Effect.provide(loggingOf(config.logging)))

/**
 * Runs a node as the main program of this OS process, on `@effect/platform-node`'s
 * `NodeRuntime.runMain`: reads `NodeConfig` from the environment, builds the node of
 * {@link layer} with `app` on top, logs `node <name> running` with its addresses, and on SIGTERM
 * or SIGINT shuts down in the ordered phases described in the module's documentation, then exits
 * with code 0. A second signal exits at once (code 143 for SIGTERM, 130 for SIGINT).
 *
 * - `app` as a `Layer`: the node runs until a signal.
 * - `app` as an `Effect`: the node shuts down gracefully when it ends (exit code 0), or when it
 *   fails (the failure is logged with its cause, exit code 1).
 *
 * An invalid configuration is logged as one message naming every bad variable, and the process
 * exits with code 1 before anything starts; so does a node that cannot start (its cluster port is
 * taken). Logs follow `LOG_FORMAT` and `LOG_LEVEL` (JSON lines by default, on standard output).
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { GenServer, Node, Protocol, Supervisor } from "effect-otp"
 *
 * const Counter = Protocol.make({ Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }) })
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: { Add: ({ n }, total) => Effect.succeed(GenServer.reply(total + n, total + n)) }
 * })
 * const App = Layer.effectDiscard(GenServer.start(counter, undefined, { name: "counter" }))
 *
 * // NODE_NAME=a CLUSTER_SECRET=s3cret node main.js
 * Node.runMain(App)
 * ```
 *
 * @category running
 * @since 0.1.0
 */
export const runMain = <
  ROut,
  E,
  R extends Services,
  const Specs extends ReadonlyArray<BehaviourRegistry.AnyBehaviourSpec> = []
>(
  app: App<ROut, E, R>,
  options?: NodeOptions<Specs>
): void => {
  const program = Effect.gen(function* () {
    const loaded = yield* Effect.exit(NodeConfig.load)
    if (Exit.isFailure(loaded)) {
      // Logged with the LOG_FORMAT / LOG_LEVEL of the environment when they are valid.
      const logging = yield* Effect.orElseSucceed(Logging.config, () => ({
        level: "Info" as const,
        format: "json" as const
      }))
      const error = Option.getOrUndefined(Exit.findErrorOption(loaded))
      yield* Effect.logError(error === undefined ? loaded.cause : error.message).pipe(
        Effect.provide(loggingOf(logging))
      )
      return yield* Effect.failCause(loaded.cause)
    }
    return yield* runNode(loaded.value, app, options)
  })
  NodeRuntime.runMain(program, {
    // The node logs its failures itself, with its own logger.
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      const code = isCleanStop(exit) ? 0 : 1
      onExit(code)
      // Leftover handles (a socket of a peer being closed) must not keep a stopped node alive.
      process.exit(code)
    }
  })
}
