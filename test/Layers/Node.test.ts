import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import { insecureMessage, warnInsecure } from "../../src/Layers/internal/insecureWarning.ts"
import * as Node from "../../src/Layers/Node.ts"
import * as NodeConfig from "../../src/Layers/NodeConfig.ts"
import * as HttpEndpoint from "../../src/Observability/HttpEndpoint.ts"
import { LogCapture } from "../support/transportHarness.ts"

const config = (insecure: boolean): NodeConfig.NodeConfig => ({
  cluster: {
    nodeName: "a",
    host: "127.0.0.1",
    port: 0,
    ...(insecure ? { insecure: true } : { secret: Redacted.make("node-test") })
  },
  health: { host: "127.0.0.1", port: 0 },
  logging: { level: "Warn", format: "json" },
  shutdownDrain: Duration.seconds(1)
})

const get = (port: number, path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: response.status, body: await response.text() }
  })

describe("Node.layer", () => {
  it.live("serves /health, /ready and /metrics on the HTTP endpoint, with the cluster running", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(Node.layerWith(config(false)))
      const endpoint = Context.get(context, HttpEndpoint.HttpEndpoint)
      const cluster = Context.get(context, Cluster.Cluster)
      assert.strictEqual(yield* cluster.status, "running")
      assert.strictEqual((yield* get(endpoint.port, "/health")).status, 200)
      const ready = yield* get(endpoint.port, "/ready")
      assert.strictEqual(ready.status, 200, ready.body)
      const metrics = yield* get(endpoint.port, "/metrics")
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.body, "effect_otp_")
    })
  )

  it.live("the application's layer is built on the node's services", () =>
    Effect.gen(function* () {
      const App = Layer.effectDiscard(
        Effect.gen(function* () {
          const cluster = yield* Cluster.Cluster
          assert.strictEqual(cluster.local.name, "a")
        })
      )
      yield* Layer.build(Node.layerWith(config(false), App))
    })
  )
})

describe("an insecure node", () => {
  it.effect("logs its warning at start and then every minute, on Effect's clock", () =>
    Effect.gen(function* () {
      const logs = new LogCapture()
      const warnings = () => logs.lines.filter((line) => line === `Warn: ${insecureMessage}`).length
      yield* warnInsecure.pipe(Effect.provide(logs.layer))
      yield* Effect.yieldNow
      assert.strictEqual(warnings(), 1)
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(warnings(), 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(warnings(), 2)
      yield* TestClock.adjust("3 minutes")
      assert.strictEqual(warnings(), 5)
    }).pipe(Effect.scoped)
  )

  it.live("a node started with insecure mode runs, and names what to set instead", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(Node.layerWith(config(true)))
      assert.strictEqual(yield* Context.get(context, Cluster.Cluster).status, "running")
      assert.include(insecureMessage, "CLUSTER_SECRET")
    })
  )
})
