/**
 * Liveness and readiness of a node, served on its HTTP endpoint for Kubernetes probes (and people).
 *
 * - `GET /health` (liveness) answers `200` with a {@link HealthReport} while the node runs, and
 *   `503` (status `stopping`) once it is stopping: after {@link markStopping}, or when its cluster
 *   is `stopping` or `stopped`.
 * - `GET /ready` (readiness) answers `200` with a {@link ReadyReport} only when every condition
 *   holds: the cluster is `running`; at least one peer is connected if seeds naming other nodes
 *   are configured; every name the application declared as required is registered on this node;
 *   every custom {@link check} passes within its timeout. Otherwise `503`, with `failures` naming
 *   each failing condition and why. Once stopping, `503` with status `stopping` and no check run:
 *   failure `stopping` ("node is shutting down") after {@link markStopping}, or `cluster`
 *   ("cluster is stopping" / "cluster is stopped") when the cluster is leaving or has left.
 *
 * Both answer JSON (`application/json`, `cache-control: no-store`) and are unauthenticated, as
 * probes must be. Custom checks run in parallel, each in a fiber of its own, on every `/ready`
 * request (requests that arrive while an evaluation runs share its answer); a check that fails,
 * dies or outlives its timeout (measured on Effect's `Clock`) makes the node not ready, with the
 * reason (`failed: <error>`, `died: <defect>`, `timed out after N ms`).
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Fiber, Layer, Option, Schema } from "effect"
import type { Scope } from "effect"
import * as Cluster from "../Cluster/Cluster.ts"
import { NodeStatus } from "../Cluster/ClusterEvent.ts"
import * as Timers from "../internal/timers.ts"
import { ProcessRuntime } from "../Process/ProcessRuntime.ts"
import * as Registry from "../Process/Registry.ts"
import { AlertManager } from "./AlertManager.ts"
import * as HttpEndpoint from "./HttpEndpoint.ts"
import { type Outcome, type RunnableCheck, runCheck } from "./internal/healthChecks.ts"

// --- Reports -----------------------------------------------------------------------------------

/**
 * A node this node is connected to, as `/health` lists it.
 *
 * @example
 * ```ts
 * import { Health } from "effect-otp"
 *
 * const peer = Health.HealthPeer.make({ node: "b", incarnation: 7, status: "running" })
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export class HealthPeer extends Schema.Class<HealthPeer>("effect-otp/HealthPeer")({
  /** Its node name. */
  node: Schema.String,
  /** Its incarnation. */
  incarnation: Schema.Number,
  /** Its status, as its last heartbeat reported it. */
  status: NodeStatus
}) {}

/**
 * An active alert, as `/health` lists it (from the node's `AlertManager`, or the `alerts` option
 * of {@link layer}).
 *
 * @example
 * ```ts
 * import { Health } from "effect-otp"
 *
 * const alert = Health.HealthAlert.make({ kind: "mailbox_size", subject: "<a.42.1>", value: 9000, threshold: 420, at: 1796300000000 })
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export class HealthAlert extends Schema.Class<HealthAlert>("effect-otp/HealthAlert")({
  /** What is measured (`mailbox_size`, `handler_latency`, `restart_rate`, `event_loop_delay`, ...). */
  kind: Schema.String,
  /** What it is about: a pid, a supervisor, the node. */
  subject: Schema.String,
  /** The value that triggered it. */
  value: Schema.Number,
  /** The threshold it crossed. */
  threshold: Schema.Number,
  /** When it triggered: wall-clock epoch milliseconds, for people. */
  at: Schema.Number
}) {}

/**
 * The memory of the OS process the node runs in (`process.memoryUsage()`, in bytes). Nodes that
 * share an OS process (tests) report the same figures.
 *
 * @example
 * ```ts
 * import { Health } from "effect-otp"
 *
 * const memory = Health.HealthMemory.make({ rssBytes: 80e6, heapUsedBytes: 30e6, heapTotalBytes: 40e6, externalBytes: 2e6 })
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export class HealthMemory extends Schema.Class<HealthMemory>("effect-otp/HealthMemory")({
  rssBytes: Schema.Number,
  heapUsedBytes: Schema.Number,
  heapTotalBytes: Schema.Number,
  externalBytes: Schema.Number
}) {}

/**
 * The body of `/health`: status `ok` while the node runs (HTTP 200), `stopping` once it is
 * stopping (HTTP 503). `clusterStatus` is `null` on a node without a cluster.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * const line = Effect.map(Health.report, (report) => `${report.node}: ${report.status}, ${report.processCount} processes`)
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export class HealthReport extends Schema.Class<HealthReport>("effect-otp/HealthReport")({
  /** `ok`, or `stopping` once the node is shutting down. */
  status: Schema.Literals(["ok", "stopping"]),
  /** This node's name. */
  node: Schema.String,
  /** This node's incarnation. */
  incarnation: Schema.Number,
  /** The cluster's status, or `null` when the node runs no cluster. */
  clusterStatus: Schema.NullOr(NodeStatus),
  /** The nodes connected now (linked and heard from), by name. */
  connectedNodes: Schema.Array(HealthPeer),
  /** Live processes on this node. */
  processCount: Schema.Number,
  /** Alerts active now (empty without an AlertManager or `alerts` source). */
  activeAlerts: Schema.Array(HealthAlert),
  /** Milliseconds since the node started (its cluster's uptime, else since Health started), monotonic. */
  uptimeMs: Schema.Number,
  /** Memory of the OS process. */
  memory: HealthMemory,
  /** When this report was made: ISO 8601, wall clock, for people. */
  checkedAt: Schema.String
}) {}

/**
 * The answer of one readiness condition: `ok`, or not with a `reason` in words. Built-in
 * conditions are named `stopping`, `cluster`, `peers` and `registered:<name>`; custom checks keep
 * the name given to {@link check}. `durationMs` is how long it took (custom checks; 0 for
 * built-in ones).
 *
 * @example
 * ```ts
 * import { Health } from "effect-otp"
 *
 * const failed = Health.CheckResult.make({ name: "db", ok: false, reason: "timed out after 1000 ms", durationMs: 1000 })
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export class CheckResult extends Schema.Class<CheckResult>("effect-otp/CheckResult")({
  name: Schema.String,
  ok: Schema.Boolean,
  /** Why it failed (absent when it passed). */
  reason: Schema.optionalKey(Schema.String),
  durationMs: Schema.Number
}) {}

/**
 * One reason the node is not ready: the condition and why, e.g.
 * `{ "check": "peers", "reason": "no peer connected (seeds: a@10.0.0.1:4370)" }`.
 *
 * @example
 * ```ts
 * import { Health } from "effect-otp"
 *
 * const failure = Health.ReadyFailure.make({ check: "registered:orders", reason: 'no process registered as "orders"' })
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export class ReadyFailure extends Schema.Class<ReadyFailure>("effect-otp/ReadyFailure")({
  check: Schema.String,
  reason: Schema.String
}) {}

/**
 * The body of `/ready`: status `ready` (HTTP 200), `not_ready` or `stopping` (HTTP 503). `checks`
 * lists every condition evaluated, in order (built-in ones first); `failures` only the failing
 * ones, each with its reason; `message` says the same in one line (`not ready: peers: no peer
 * connected; db: timed out after 1000 ms`) for logs that show the body as text.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * const why = Effect.map(Health.readiness, (report) => report.failures.map((f) => `${f.check}: ${f.reason}`))
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export class ReadyReport extends Schema.Class<ReadyReport>("effect-otp/ReadyReport")({
  status: Schema.Literals(["ready", "not_ready", "stopping"]),
  /** This node's name. */
  node: Schema.String,
  /** `ready`, or `not ready: ` followed by every failure. */
  message: Schema.String,
  failures: Schema.Array(ReadyFailure),
  checks: Schema.Array(CheckResult),
  /** When this report was made: ISO 8601, wall clock, for people. */
  checkedAt: Schema.String
}) {}

// --- Checks ------------------------------------------------------------------------------------

/**
 * A readiness check an application adds: a name, an effect that succeeds when the dependency is
 * usable, and a timeout. `R` is what the effect needs (provided when the check is added).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * const always: Health.Check = Health.check("always", Effect.void)
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export interface Check<R = never> {
  readonly name: string
  readonly effect: Effect.Effect<unknown, unknown, R>
  /** Its timeout in milliseconds. */
  readonly timeoutMs: number
}

/**
 * Options of {@link check}.
 *
 * @example
 * ```ts
 * import type { Health } from "effect-otp"
 *
 * const options: Health.CheckOptions = { timeout: "500 millis" }
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export interface CheckOptions {
  /**
   * How long the check may take (a number is milliseconds). Default 1 second. Keep it below the
   * probe's own timeout (Kubernetes' `timeoutSeconds`, default 1 s), or the probe gives up before
   * the body names the check.
   */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Builds a readiness check: `effect` succeeding means the dependency is usable (its value is
 * ignored). It runs on every `/ready` request, in parallel with the other checks, in a fiber of
 * its own. Failing makes the node not ready with reason `failed: <error>` (`Tag: message` for a
 * tagged error), dying with `died: <defect>`, taking longer than `timeout` with `timed out after
 * N ms` (the check is then interrupted, without waiting for it: a check that ignores interruption
 * cannot hold the probe). Add it with the `checks` option of {@link layer} or with {@link addCheck}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * const pingDb = Effect.tryPromise(() => fetch("http://127.0.0.1:5984/_up"))
 * const db = Health.check("db", pingDb, { timeout: "500 millis" })
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const check = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>, options?: CheckOptions): Check<R> => ({
  name,
  effect,
  timeoutMs: options?.timeout === undefined ? 1000 : Timers.toMillis(options.timeout)
})

// --- Service -----------------------------------------------------------------------------------

/**
 * The health of this node: its reports, and what readiness requires. Built by {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * const program = Effect.gen(function* () {
 *   const health = yield* Health.Health
 *   const ready = yield* health.readiness
 *   yield* Effect.log(ready.message)
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Health extends Context.Service<
  Health,
  {
    /** The `/health` body now. */
    readonly report: Effect.Effect<HealthReport>
    /** Evaluates readiness now (runs every check), as `/ready` does. */
    readonly readiness: Effect.Effect<ReadyReport>
    /** From now on `/health` and `/ready` answer 503 with status `stopping`. Idempotent. */
    readonly markStopping: Effect.Effect<void>
    /** Whether {@link markStopping} was called (or the cluster is stopping). */
    readonly stopping: Effect.Effect<boolean>
    /** Adds a check (its services provided) until the scope closes. */
    readonly addCheck: (check: Check) => Effect.Effect<void, never, Scope.Scope>
    /** Requires `name` to be registered on this node until the scope closes. */
    readonly requireName: (name: string) => Effect.Effect<void, never, Scope.Scope>
  }
>()("effect-otp/Health") {}

/**
 * An active alert as an alert source gives it (the `alerts` option of {@link layer}); the subject
 * is shown with `String(subject)` (a pid reads `<node.id.incarnation>`).
 *
 * @example
 * ```ts
 * import type { Health } from "effect-otp"
 *
 * const alert: Health.AlertInput = { kind: "event_loop_delay", subject: "a", value: 0.4, threshold: 0.05, at: Date.now() }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface AlertInput {
  readonly kind: string
  readonly subject: unknown
  readonly value: number
  readonly threshold: number
  readonly at: number
}

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * const options: Health.HealthOptions = {
 *   seeds: ["a@10.0.0.1:4370"],
 *   requiredNames: ["orders"],
 *   checks: [Health.check("cache", Effect.void, { timeout: 200 })]
 * }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface HealthOptions<R = never> {
  /** Custom readiness checks, run in parallel on every `/ready`. */
  readonly checks?: ReadonlyArray<Check<R>> | undefined
  /** Names that must be registered on this node (local `Registry`) for it to be ready. */
  readonly requiredNames?: ReadonlyArray<string> | undefined
  /**
   * The cluster's seeds, as given to the cluster (`ClusterConfig.seeds`). When any of them may
   * be another node (every seed but a `name@host:port` naming this node), `/ready` needs at least
   * one connected peer. A DNS seed counts even if it resolves only to this node: a one-node
   * deployment configures no seeds (or `requirePeer: false`).
   */
  readonly seeds?: ReadonlyArray<string> | undefined
  /** Whether `/ready` needs a connected peer. Default: whether `seeds` names another node (see above). */
  readonly requirePeer?: boolean | undefined
  /**
   * Whether `/ready` needs a `Cluster` service, and it `running`. Default `true`: a node whose
   * layers lack the cluster is not ready (check `cluster`: "no cluster on this node"). `false`
   * for a node that runs no cluster on purpose.
   */
  readonly requireCluster?: boolean | undefined
  /**
   * Where the active alerts of `/health` come from. Default: the `AlertManager`'s `activeAlerts`
   * when the layers beneath provide one, else none. It should answer at once (it is read on
   * every `/health`).
   */
  readonly alerts?: Effect.Effect<ReadonlyArray<AlertInput>, never, R> | undefined
}

/**
 * The services the checks and the alert source of some {@link HealthOptions} need: what
 * {@link layer} requires beyond the endpoint and the runtime.
 *
 * @example
 * ```ts
 * import { Context, Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * class Db extends Context.Service<Db, { readonly ping: Effect.Effect<void> }>()("app/Db") {}
 * const options = { checks: [Health.check("db", Effect.flatMap(Effect.service(Db), (db) => db.ping))] }
 * export type Needed = Health.Services<typeof options> // Db
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export type Services<Options> =
  | (Options extends { readonly checks?: ReadonlyArray<infer C> | undefined }
      ? C extends Check<infer R>
        ? R
        : never
      : never)
  | (Options extends { readonly alerts?: Effect.Effect<infer _A, infer _E, infer R> | undefined } ? R : never)

const memory = (): HealthMemory => {
  const usage = process.memoryUsage()
  return new HealthMemory({
    rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed,
    heapTotalBytes: usage.heapTotal,
    externalBytes: usage.external
  })
}

/** Whether a seed may be another node: anything but `name@host:port` naming this node. */
const namesAnotherNode = (seed: string, localName: string): boolean => {
  const at = seed.indexOf("@")
  return at < 0 || seed.slice(0, at) !== localName
}

const passed = (name: string): Outcome => ({ name, ok: true, reason: undefined, durationMs: 0 })
const failed = (name: string, reason: string): Outcome => ({ name, ok: false, reason, durationMs: 0 })

const toResult = (outcome: Outcome): CheckResult =>
  new CheckResult(
    outcome.reason === undefined
      ? { name: outcome.name, ok: outcome.ok, durationMs: outcome.durationMs }
      : { name: outcome.name, ok: outcome.ok, reason: outcome.reason, durationMs: outcome.durationMs }
  )

/** Adds `value` to `set` until the scope closes (a fresh key, so adding twice is removing twice). */
const addScoped = <A>(set: Set<{ readonly value: A }>, value: A): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(
    Effect.acquireRelease(
      Effect.sync(() => {
        const entry = { value }
        set.add(entry)
        return entry
      }),
      (entry) => Effect.sync(() => set.delete(entry))
    )
  )

/**
 * Builds the service (no routes): the reports of this node, from the services in context.
 */
const make = Effect.fnUntraced(function* <R>(options: HealthOptions<R> | undefined) {
  const context = yield* Effect.context<R | ProcessRuntime>()
  const runtime = yield* ProcessRuntime
  const cluster = Option.getOrUndefined(yield* Effect.serviceOption(Cluster.Cluster))
  const timers = yield* Timers.current
  const startedAt = timers.now()
  const node = cluster?.localNodeId ?? runtime.node
  const incarnation = cluster?.local.incarnation ?? runtime.incarnation
  const requireCluster = options?.requireCluster ?? true
  const seeds = options?.seeds ?? []
  const requirePeer = options?.requirePeer ?? seeds.some((seed) => namesAnotherNode(seed, node))
  const alertManager = Option.getOrUndefined(yield* Effect.serviceOption(AlertManager))
  const alerts =
    options?.alerts !== undefined ? Effect.provideContext(options.alerts, context) : alertManager?.activeAlerts

  let markedStopping = false
  const checks = new Set<{ readonly value: RunnableCheck }>()
  const requiredNames = new Set<{ readonly value: string }>()
  const runnable = (check: Check<never>): RunnableCheck => ({
    name: check.name,
    timeoutMs: check.timeoutMs,
    run: check.effect
  })
  for (const check of options?.checks ?? []) {
    checks.add({ value: runnable({ ...check, effect: Effect.provideContext(check.effect, context) }) })
  }
  for (const name of options?.requiredNames ?? []) requiredNames.add({ value: name })

  /** Why the node is stopping (the failure `/ready` reports then), or undefined while it runs. */
  const stoppingReason: Effect.Effect<Outcome | undefined> = Effect.map(
    cluster === undefined ? Effect.succeed(undefined) : cluster.status,
    (status) =>
      markedStopping
        ? failed("stopping", "node is shutting down")
        : status === "stopping" || status === "stopped"
          ? failed("cluster", `cluster is ${status}`)
          : undefined
  )
  const stopping = Effect.map(stoppingReason, (reason) => reason !== undefined)
  const checkedAt = Effect.map(
    Effect.clockWith((clock) => clock.currentTimeMillis),
    (millis) => new Date(millis).toISOString()
  )

  const report = Effect.gen(function* () {
    const isStopping = yield* stopping
    const peers = cluster === undefined ? [] : yield* cluster.nodes
    const active = alerts === undefined ? [] : yield* alerts
    return new HealthReport({
      status: isStopping ? "stopping" : "ok",
      node,
      incarnation,
      clusterStatus: cluster === undefined ? null : yield* cluster.status,
      connectedNodes: peers
        .map((peer) => new HealthPeer({ node: peer.id, incarnation: peer.incarnation, status: peer.status }))
        .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)),
      processCount: runtime.processCount,
      activeAlerts: active.map(
        (alert) =>
          new HealthAlert({
            kind: alert.kind,
            subject: String(alert.subject),
            value: alert.value,
            threshold: alert.threshold,
            at: alert.at
          })
      ),
      uptimeMs: Math.round(cluster === undefined ? timers.now() - startedAt : yield* cluster.uptimeMs),
      memory: memory(),
      checkedAt: yield* checkedAt
    })
  })

  /** The built-in conditions, evaluated now. */
  const builtIn = Effect.gen(function* () {
    const outcomes: Array<Outcome> = []
    if (cluster === undefined) {
      if (requireCluster)
        outcomes.push(failed("cluster", "no cluster on this node (none provided beneath Health.layer)"))
    } else {
      const status = yield* cluster.status
      outcomes.push(status === "running" ? passed("cluster") : failed("cluster", `cluster is ${status}, not running`))
      if (requirePeer) {
        const count = yield* cluster.connectedNodeCount
        outcomes.push(
          count > 0
            ? passed("peers")
            : failed("peers", seeds.length > 0 ? `no peer connected (seeds: ${seeds.join(", ")})` : "no peer connected")
        )
      }
    }
    for (const { value: name } of requiredNames) {
      const pid = yield* Effect.provideService(Registry.whereis(name), ProcessRuntime, runtime)
      outcomes.push(
        Option.isSome(pid)
          ? passed(`registered:${name}`)
          : failed(`registered:${name}`, `no process registered as "${name}"`)
      )
    }
    return outcomes
  })

  const stoppingReport = (stopped: Outcome) =>
    Effect.map(checkedAt, (at) => {
      const reason = stopped.reason ?? "stopping"
      return new ReadyReport({
        status: "stopping",
        node,
        message: `not ready: ${stopped.name}: ${reason}`,
        failures: [new ReadyFailure({ check: stopped.name, reason })],
        checks: [toResult(stopped)],
        checkedAt: at
      })
    })

  const evaluate = Effect.gen(function* () {
    const [own, custom] = yield* Effect.all(
      [
        builtIn,
        Effect.forEach(
          Array.from(checks, (entry) => entry.value),
          runCheck,
          { concurrency: "unbounded" }
        )
      ],
      { concurrency: "unbounded" }
    )
    const outcomes = [...own, ...custom]
    const failures = outcomes
      .filter((outcome) => !outcome.ok)
      .map((outcome) => new ReadyFailure({ check: outcome.name, reason: outcome.reason ?? "failed" }))
    return new ReadyReport({
      status: failures.length === 0 ? "ready" : "not_ready",
      node,
      message:
        failures.length === 0
          ? "ready"
          : `not ready: ${failures.map((failure) => `${failure.check}: ${failure.reason}`).join("; ")}`,
      failures,
      checks: outcomes.map(toResult),
      checkedAt: yield* checkedAt
    })
  })

  // One evaluation at a time: requests that arrive while one runs share its answer, so a flood of
  // (unauthenticated) probes cannot multiply the load the checks put on their dependencies. It
  // runs detached from the request that started it, so a client that hangs up stops nobody's answer.
  let inFlight: Fiber.Fiber<ReadyReport> | undefined
  const shared: Effect.Effect<ReadyReport> = Effect.suspend(() => {
    if (inFlight !== undefined) return Fiber.join(inFlight)
    return Effect.flatMap(Effect.forkDetach(evaluate), (fiber) => {
      inFlight = fiber
      fiber.addObserver(() => {
        if (inFlight === fiber) inFlight = undefined
      })
      return Fiber.join(fiber)
    })
  })
  // Stopping is decided first, so that no request answers from an evaluation begun before it.
  const readiness = Effect.flatMap(stoppingReason, (stopped) =>
    stopped === undefined ? shared : stoppingReport(stopped)
  )

  return Health.of({
    report,
    readiness,
    markStopping: Effect.sync(() => {
      markedStopping = true
    }),
    stopping,
    addCheck: (check) => addScoped(checks, runnable(check)),
    requireName: (name) => addScoped(requiredNames, name)
  })
})

const encodeHealth = Schema.encodeSync(HealthReport)
const encodeReady = Schema.encodeSync(ReadyReport)

/**
 * The health service, with `GET /health` and `GET /ready` mounted on the node's
 * {@link HttpEndpoint.HttpEndpoint} (see the module's summary for what each answers). It reads
 * the `Cluster` when the layers beneath provide one (peers, status, uptime), the `ProcessRuntime`
 * (process count, registered names), and the `AlertManager` when the layers beneath provide one
 * (or the source given in `options.alerts`). Checks given
 * in `options.checks` run with the services of the layer's context (`R`).
 *
 * Shutdown: call {@link markStopping} first (the node layer does, before it stops anything), so
 * that Kubernetes stops routing to the node while it drains; from then on both probes answer 503.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Distribution, Health, HttpEndpoint } from "effect-otp"
 *
 * const seeds = ["a@10.0.0.1:4370"]
 * const Probed = Health.layer({
 *   seeds,
 *   requiredNames: ["orders"],
 *   checks: [Health.check("db", Effect.void, { timeout: "500 millis" })]
 * }).pipe(
 *   Layer.provideMerge(HttpEndpoint.layer({ host: "0.0.0.0", port: 9464 })),
 *   Layer.provideMerge(Distribution.layer({ nodeName: "b", port: 4370, secret: "s3cret", seeds }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <Options extends HealthOptions<unknown> = HealthOptions>(
  options?: Options
): Layer.Layer<Health, never, HttpEndpoint.HttpEndpoint | ProcessRuntime | Services<Options>> =>
  Layer.effect(
    Health,
    Effect.gen(function* () {
      const health = yield* make(options as HealthOptions<Services<Options>> | undefined)
      // Loaded here, not at import: only a node that serves probes pays for the HTTP modules.
      const { HttpServerResponse } = yield* Effect.promise(() => import("effect/http"))
      const respond = (body: unknown, ok: boolean) =>
        HttpServerResponse.jsonUnsafe(body, { status: ok ? 200 : 503, headers: { "cache-control": "no-store" } })
      yield* HttpEndpoint.addRoute(
        "GET",
        "/health",
        Effect.map(health.report, (report) => respond(encodeHealth(report), report.status === "ok"))
      )
      yield* HttpEndpoint.addRoute(
        "GET",
        "/ready",
        Effect.map(health.readiness, (report) => respond(encodeReady(report), report.status === "ready"))
      )
      return health
    })
  )

/**
 * This node's `/health` report now.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * const peers = Effect.map(Health.report, (report) => report.connectedNodes.map((peer) => peer.node))
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export const report: Effect.Effect<HealthReport, never, Health> = Effect.flatMap(
  Effect.service(Health),
  (health) => health.report
)

/**
 * Evaluates readiness now, running every check, exactly as `/ready` does.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * const isReady = Effect.map(Health.readiness, (report) => report.status === "ready")
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export const readiness: Effect.Effect<ReadyReport, never, Health> = Effect.flatMap(
  Effect.service(Health),
  (health) => health.readiness
)

/**
 * Marks the node as stopping: from now on `/health` and `/ready` answer 503 with status
 * `stopping`, and no readiness check runs. Call it first in a graceful shutdown, so that the
 * orchestrator stops routing traffic to the node before it drains. There is no way back (a node
 * that stops does not resume); calling it again does nothing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "effect-otp"
 *
 * const shutdown = Effect.andThen(Health.markStopping, Effect.log("draining"))
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const markStopping: Effect.Effect<void, never, Health> = Effect.flatMap(
  Effect.service(Health),
  (health) => health.markStopping
)

/**
 * Adds a readiness check for as long as the scope lives (a layer's scope, typically); its effect
 * runs with the services of the context `addCheck` runs in.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Health } from "effect-otp"
 *
 * const CacheCheck = Layer.effectDiscard(Health.addCheck(Health.check("cache", Effect.void, { timeout: 200 })))
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const addCheck = <R>(check: Check<R>): Effect.Effect<void, never, Health | Scope.Scope | R> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const health = yield* Health
    yield* health.addCheck({ ...check, effect: Effect.provideContext(check.effect, context) })
  })

/**
 * Requires `name` to be registered on this node (local `Registry`) for it to be ready, for as
 * long as the scope lives. While it is not, `/ready` fails check `registered:<name>`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Health } from "effect-otp"
 *
 * const NeedsOrders = Layer.effectDiscard(Health.requireName("orders"))
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const requireName = (name: string): Effect.Effect<void, never, Health | Scope.Scope> =>
  Effect.flatMap(Effect.service(Health), (health) => health.requireName(name))
