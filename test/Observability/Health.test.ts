/**
 * Health and readiness over real HTTP: `/health` and `/ready` served by the node's endpoint on
 * 127.0.0.1, asked with fetch, for nodes on an in-memory network (and one without a cluster).
 * Every `/ready` failure reason is shown with its body.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { HttpServerError } from "effect/http"
import {
  AlertManager,
  Health,
  HttpEndpoint,
  MemoryNetwork,
  type Pid,
  Process,
  ProcessRuntime,
  Registry
} from "../../src/index.ts"
import { awaitNodesUp } from "../support/clusterHarness.ts"
import { eventually } from "../support/transportHarness.ts"
import { healthNode, memoryNode, probe, probed, standaloneNode } from "../support/healthNode.ts"

class DbDown extends Schema.TaggedError<DbDown>()("DbDown", { host: Schema.String }) {
  override get message(): string {
    return `database at ${this.host} refused the connection`
  }
}

class QueueDepth extends Context.Service<QueueDepth, number>()("test/QueueDepth") {}
class Primary extends Context.Service<Primary, { readonly ping: Effect.Effect<void> }>()("test/Primary") {}

const decodeHealth = Schema.decodeUnknownSync(Health.HealthReport)
const decodeReady = Schema.decodeUnknownSync(Health.ReadyReport)

/** The failures of a `/ready` body as `check: reason` lines. */
const failuresOf = (body: unknown) => decodeReady(body).failures.map((failure) => `${failure.check}: ${failure.reason}`)

describe("Health", () => {
  it.live("/health answers 200 with node, incarnation, connected nodes, process count, alerts, uptime and memory", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const a = yield* healthNode(network, { nodeName: "a" })
      let pid: Pid.Pid | undefined
      const b = yield* healthNode(
        network,
        { nodeName: "b", seeds: ["a@a:0"] },
        {
          seeds: ["a@a:0"],
          alerts: Effect.sync(() =>
            pid === undefined
              ? []
              : [{ kind: "mailbox_size", subject: pid, value: 9000, threshold: 420, at: 1_796_300_000_000 }]
          )
        }
      )
      yield* awaitNodesUp(b.cluster, ["a"])
      pid = yield* b.run(Process.spawn((self) => self.receive))

      const response = yield* probe(`${b.base}/health`)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.contentType, "application/json")
      assert.strictEqual(response.cacheControl, "no-store")
      const report = decodeHealth(response.body)
      assert.strictEqual(report.status, "ok")
      assert.strictEqual(report.node, "b")
      assert.strictEqual(report.incarnation, b.cluster.local.incarnation)
      assert.strictEqual(report.clusterStatus, "running")
      assert.deepStrictEqual(
        report.connectedNodes.map((peer) => ({ ...peer })),
        [{ node: "a", incarnation: a.cluster.local.incarnation, status: "running" }]
      )
      assert.strictEqual(report.processCount, 1)
      assert.deepStrictEqual(
        report.activeAlerts.map((alert) => ({ ...alert })),
        [{ kind: "mailbox_size", subject: String(pid), value: 9000, threshold: 420, at: 1_796_300_000_000 }]
      )
      assert.isAtLeast(report.uptimeMs, 0)
      assert.isAbove(report.memory.rssBytes, 0)
      assert.isAbove(report.memory.heapUsedBytes, 0)
      assert.isFalse(Number.isNaN(Date.parse(report.checkedAt)))
      // The same report from the service.
      assert.strictEqual((yield* b.run(Health.report)).node, "b")

      const ready = yield* probe(`${b.base}/ready`)
      assert.strictEqual(ready.status, 200)
      const readiness = decodeReady(ready.body)
      assert.strictEqual(readiness.status, "ready")
      assert.strictEqual(readiness.message, "ready")
      assert.deepStrictEqual(readiness.failures, [])
      assert.deepStrictEqual(
        readiness.checks.map((check) => [check.name, check.ok]),
        [
          ["cluster", true],
          ["peers", true]
        ]
      )
    })
  )

  it.live("/health lists the active alerts of the node's AlertManager", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const node = yield* memoryNode(network, { nodeName: "a" })
      const alerting = yield* Layer.build(
        AlertManager.layer({ minSamples: 5, kinds: ["event_loop_delay"], sampleInterval: "1 hour" }).pipe(
          Layer.provideMerge(Layer.succeedContext(node))
        )
      )
      const probes = yield* probed(alerting, undefined, yield* Effect.scope)
      assert.deepStrictEqual(decodeHealth((yield* probe(`${probes.base}/health`)).body).activeAlerts, [])
      for (let i = 0; i < 5; i++) yield* probes.run(AlertManager.record({ kind: "event_loop_delay", value: 1 }))
      yield* probes.run(AlertManager.record({ kind: "event_loop_delay", value: 1e6 }))
      const [active] = yield* eventually(probes.run(AlertManager.activeAlerts), (alerts) => alerts.length === 1)
      const response = yield* probe(`${probes.base}/health`)
      // Alerts do not make a node unhealthy: liveness is about the node running.
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(
        decodeHealth(response.body).activeAlerts.map((alert) => ({ ...alert })),
        [{ kind: "event_loop_delay", subject: "a", value: 1e6, threshold: active!.threshold, at: active!.at }]
      )
    })
  )

  it.live("/ready: 503 naming the missing peer while seeds are configured, 200 once the seed node is up", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const b = yield* healthNode(network, { nodeName: "b", seeds: ["a@a:0"] }, { seeds: ["a@a:0"] })
      const alone = yield* probe(`${b.base}/ready`)
      assert.strictEqual(alone.status, 503)
      const report = decodeReady(alone.body)
      assert.strictEqual(report.status, "not_ready")
      assert.strictEqual(report.node, "b")
      assert.strictEqual(report.message, "not ready: peers: no peer connected (seeds: a@a:0)")
      assert.deepStrictEqual(failuresOf(alone.body), ["peers: no peer connected (seeds: a@a:0)"])
      // Liveness does not depend on peers.
      assert.strictEqual((yield* probe(`${b.base}/health`)).status, 200)

      yield* memoryNode(network, { nodeName: "a" })
      yield* awaitNodesUp(b.cluster, ["a"])
      const joined = yield* probe(`${b.base}/ready`)
      assert.strictEqual(joined.status, 200)
      assert.strictEqual(decodeReady(joined.body).status, "ready")
    })
  )

  it.live("/ready: seeds naming only this node need no peer; requirePeer forces one", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const self = yield* healthNode(network, { nodeName: "a", seeds: ["a@a:0"] }, { seeds: ["a@a:0"] })
      assert.strictEqual((yield* probe(`${self.base}/ready`)).status, 200)
      const forced = yield* healthNode(network, { nodeName: "c" }, { requirePeer: true })
      const response = yield* probe(`${forced.base}/ready`)
      assert.strictEqual(response.status, 503)
      assert.deepStrictEqual(failuresOf(response.body), ["peers: no peer connected"])
    })
  )

  it.live("/ready: a required name missing is named until a process registers it", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const node = yield* healthNode(network, { nodeName: "a" }, { requiredNames: ["orders"] })
      const missing = yield* probe(`${node.base}/ready`)
      assert.strictEqual(missing.status, 503)
      assert.deepStrictEqual(failuresOf(missing.body), ['registered:orders: no process registered as "orders"'])
      assert.strictEqual(
        decodeReady(missing.body).message,
        'not ready: registered:orders: no process registered as "orders"'
      )

      const orders = yield* node.run(Process.spawn((self) => self.receive))
      yield* node.run(Registry.register("orders", orders))
      assert.strictEqual((yield* probe(`${node.base}/ready`)).status, 200)

      // A name required at run time, for as long as its scope lives.
      const scope = yield* Scope.make()
      yield* node.run(Scope.provide(Health.requireName("billing"), scope))
      const billing = yield* probe(`${node.base}/ready`)
      assert.strictEqual(billing.status, 503)
      assert.deepStrictEqual(failuresOf(billing.body), ['registered:billing: no process registered as "billing"'])
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* probe(`${node.base}/ready`)).status, 200)

      // The process dies: its name goes with it, and the node is not ready again.
      yield* node.run(Process.kill(orders))
      yield* node.run(Process.awaitExit(orders))
      assert.deepStrictEqual(failuresOf((yield* probe(`${node.base}/ready`)).body), [
        'registered:orders: no process registered as "orders"'
      ])
    })
  )

  it.live("/ready: a failing check and a dying check are named with their reasons; checks run in parallel", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      // Each of these two waits for the other to start: they pass only if they run at the same time.
      const left = yield* Deferred.make<void>()
      const right = yield* Deferred.make<void>()
      const node = yield* healthNode(
        network,
        { nodeName: "a" },
        {
          checks: [
            Health.check("db", Effect.fail(new DbDown({ host: "10.0.0.5" }))),
            Health.check("cache", Effect.die(new Error("cache client crashed"))),
            Health.check("left", Effect.andThen(Deferred.succeed(left, undefined), Deferred.await(right)), {
              timeout: "5 seconds"
            }),
            Health.check("right", Effect.andThen(Deferred.succeed(right, undefined), Deferred.await(left)), {
              timeout: "5 seconds"
            })
          ]
        }
      )
      const response = yield* probe(`${node.base}/ready`)
      assert.strictEqual(response.status, 503)
      const report = decodeReady(response.body)
      assert.deepStrictEqual(failuresOf(response.body), [
        "db: failed: DbDown: database at 10.0.0.5 refused the connection",
        "cache: died: Error: cache client crashed"
      ])
      assert.strictEqual(
        report.message,
        "not ready: db: failed: DbDown: database at 10.0.0.5 refused the connection; cache: died: Error: cache client crashed"
      )
      assert.deepStrictEqual(
        report.checks.map((check) => [check.name, check.ok]),
        [
          ["cluster", true],
          ["db", false],
          ["cache", false],
          ["left", true],
          ["right", true]
        ]
      )
    })
  )

  it.effect("/ready: a check that outlives its timeout is named, on Effect's clock, and does not hold the probe", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // Uninterruptible: the probe must answer without waiting for it to end.
      const hung = Effect.uninterruptible(Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(release)))
      const node = yield* standaloneNode({
        requireCluster: false,
        checks: [Health.check("slow", hung, { timeout: "30 seconds" }), Health.check("fast", Effect.void)]
      })
      const request = yield* Effect.forkChild(probe(`${node.base}/ready`))
      yield* Deferred.await(started)
      // No real waiting: the test clock moves until the probe has answered.
      yield* Effect.repeat(TestClock.adjust("10 seconds"), { until: () => request.pollUnsafe() !== undefined })
      const response = yield* Fiber.join(request)
      assert.strictEqual(response.status, 503)
      assert.deepStrictEqual(failuresOf(response.body), ["slow: timed out after 30000 ms"])
      const slow = decodeReady(response.body).checks.find((check) => check.name === "slow")
      assert.isAtLeast(slow?.durationMs ?? 0, 30_000)
      yield* Deferred.succeed(release, undefined)
    })
  )

  it.live("/ready: a node whose layers have no cluster is not ready, unless it runs none on purpose", () =>
    Effect.gen(function* () {
      const missing = yield* standaloneNode()
      const response = yield* probe(`${missing.base}/ready`)
      assert.strictEqual(response.status, 503)
      assert.deepStrictEqual(failuresOf(response.body), [
        "cluster: no cluster on this node (none provided beneath Health.layer)"
      ])
      const health = decodeHealth((yield* probe(`${missing.base}/health`)).body)
      assert.strictEqual(health.clusterStatus, null)
      assert.strictEqual(health.node, "solo")
      const alone = yield* standaloneNode({ requireCluster: false })
      assert.strictEqual((yield* probe(`${alone.base}/ready`)).status, 200)
    })
  )

  it.live("a cluster that has stopped: /ready and /health answer 503 with status stopping, naming the cluster", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const clusterScope = yield* Scope.make()
      const node = yield* Scope.provide(memoryNode(network, { nodeName: "a" }), clusterScope)
      const probes = yield* probed(node, undefined, yield* Effect.scope)
      assert.strictEqual((yield* probe(`${probes.base}/ready`)).status, 200)
      yield* Scope.close(clusterScope, Exit.void)

      const ready = yield* probe(`${probes.base}/ready`)
      assert.strictEqual(ready.status, 503)
      assert.strictEqual(decodeReady(ready.body).status, "stopping")
      assert.deepStrictEqual(failuresOf(ready.body), ["cluster: cluster is stopped"])
      const health = yield* probe(`${probes.base}/health`)
      assert.strictEqual(health.status, 503)
      const report = decodeHealth(health.body)
      assert.strictEqual(report.status, "stopping")
      assert.strictEqual(report.clusterStatus, "stopped")
    })
  )

  it.live("markStopping: both probes answer 503 with status stopping, and no check runs any more", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      let runs = 0
      const node = yield* healthNode(
        network,
        { nodeName: "a" },
        {
          checks: [
            Health.check(
              "counted",
              Effect.sync(() => runs++)
            )
          ]
        }
      )
      assert.strictEqual((yield* probe(`${node.base}/ready`)).status, 200)
      assert.strictEqual(runs, 1)
      yield* node.run(Health.markStopping)
      yield* node.run(Health.markStopping)

      const health = yield* probe(`${node.base}/health`)
      assert.strictEqual(health.status, 503)
      assert.strictEqual(decodeHealth(health.body).status, "stopping")
      const ready = yield* probe(`${node.base}/ready`)
      assert.strictEqual(ready.status, 503)
      const report = decodeReady(ready.body)
      assert.strictEqual(report.status, "stopping")
      assert.strictEqual(report.message, "not ready: stopping: node is shutting down")
      assert.deepStrictEqual(failuresOf(ready.body), ["stopping: node is shutting down"])
      assert.strictEqual(runs, 1)
      assert.isTrue(yield* node.health.stopping)
    })
  )

  it.live("checks given to the layer take their services from the layers beneath; the layer's type names them", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const node = yield* memoryNode(network, { nodeName: "a" })
      const probes: Layer.Layer<
        Health.Health | HttpEndpoint.HttpEndpoint,
        HttpServerError.ServeError,
        QueueDepth | Primary | ProcessRuntime.ProcessRuntime
      > = Health.layer({
        checks: [
          Health.check(
            "queue",
            Effect.flatMap(Effect.service(QueueDepth), (depth) => Effect.fail(`${depth} jobs`))
          ),
          Health.check(
            "primary",
            Effect.flatMap(Effect.service(Primary), (primary) => primary.ping)
          ),
          Health.check("plain", Effect.void)
        ]
      }).pipe(Layer.provideMerge(HttpEndpoint.layer()))
      const context = yield* Layer.build(
        probes.pipe(
          Layer.provide(Layer.succeed(QueueDepth, 7)),
          Layer.provide(Layer.succeed(Primary, { ping: Effect.die("primary lost") })),
          Layer.provide(Layer.succeedContext(node))
        )
      )
      const base = `http://127.0.0.1:${Context.get(context, HttpEndpoint.HttpEndpoint).port}`
      assert.deepStrictEqual(failuresOf((yield* probe(`${base}/ready`)).body), [
        "queue: failed: 7 jobs",
        "primary: died: primary lost"
      ])
    })
  )

  it.live("checks added at run time run with their own services until their scope closes", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const node = yield* healthNode(network, { nodeName: "a" })
      const scope = yield* Scope.make()
      const queueFull = Effect.flatMap(Effect.service(QueueDepth), (depth) =>
        depth > 100 ? Effect.fail(`queue holds ${depth} jobs`) : Effect.void
      )
      yield* node.run(
        Health.addCheck(Health.check("queue", queueFull)).pipe(
          Effect.provideService(QueueDepth, 250),
          Scope.provide(scope)
        )
      )
      const failing = yield* probe(`${node.base}/ready`)
      assert.deepStrictEqual(failuresOf(failing.body), ["queue: failed: queue holds 250 jobs"])
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* probe(`${node.base}/ready`)).status, 200)
    })
  )
  it.live("requests that arrive while an evaluation runs share its answer; the next one evaluates afresh", () =>
    Effect.gen(function* () {
      let runs = 0
      const entered = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const counted = Effect.gen(function* () {
        runs++
        yield* Deferred.succeed(entered, undefined)
        yield* Deferred.await(gate)
      })
      const node = yield* standaloneNode({ requireCluster: false, checks: [Health.check("counted", counted)] })
      const first = yield* Effect.forkChild(node.health.readiness)
      yield* Deferred.await(entered)
      const second = yield* Effect.forkChild(node.health.readiness)
      // The second request reaches the shared evaluation (a forked fiber runs before its parent resumes).
      yield* Effect.yieldNow
      assert.isUndefined(second.pollUnsafe())
      yield* Deferred.succeed(gate, undefined)
      const [a, b] = [yield* Fiber.join(first), yield* Fiber.join(second)]
      assert.strictEqual(runs, 1)
      assert.strictEqual(a, b)
      assert.strictEqual(a.status, "ready")
      assert.strictEqual((yield* probe(`${node.base}/ready`)).status, 200)
      assert.strictEqual(runs, 2)
    })
  )
})
