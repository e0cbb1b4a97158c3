/**
 * The cluster secret stays `Redacted` from `Config` to the handshake: it never shows in logs,
 * errors, or the printed form of the configuration, the layer and the transport.
 */
import { inspect } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Layer, Logger, Redacted, References } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as ClusterConfig from "../../src/Cluster/ClusterConfig.ts"
import { fast } from "../support/clusterHarness.ts"

const secret = "correct-horse-battery-staple"
const otherSecret = "tr0ub4dor-and-3"

/** Everything a logger is given, printed: message, annotations, cause, at every level. */
const capture = () => {
  const printed: Array<string> = []
  const logger = Logger.make((options) => {
    printed.push(inspect(options.message, { depth: 10 }))
    printed.push(Cause.pretty(options.cause))
    printed.push(inspect(options.fiber.getRef(References.CurrentLogAnnotations), { depth: 10 }))
  })
  return { printed, layer: Layer.merge(Logger.layer([logger]), Layer.succeed(References.MinimumLogLevel, "All")) }
}

const printedForms = (value: unknown): ReadonlyArray<string> => [
  String(value),
  JSON.stringify(value) ?? "",
  inspect(value, { depth: 10, showHidden: true })
]

describe("the cluster secret", () => {
  it.live("never appears in logs, errors, or the printed config, layer and transport", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const env = { NODE_NAME: "a", CLUSTER_HOST: "127.0.0.1", CLUSTER_PORT: "0", CLUSTER_SECRET: secret }
      const config = yield* ClusterConfig.fromEnv.parse(ConfigProvider.fromEnv({ env }))
      assert.isTrue(Redacted.isRedacted(config.secret))
      assert.include(JSON.stringify(config), '"secret":"<redacted>"')
      assert.include(String(config.secret), "<redacted>")
      const printed: Array<string> = [...printedForms(config), ...printedForms(config.secret)]

      const layer = Cluster.layer({ ...config, ...fast })
      printed.push(...printedForms(layer))
      const context = yield* Layer.build(layer)
      const a = yield* Effect.provideContext(Effect.service(Cluster.Cluster), context)
      printed.push(...printedForms(a), ...printedForms(a.transport), ...printedForms(context))

      // A node with another secret (a plain string: wrapped at once) is refused, both ways.
      const bLayer = Cluster.layer({ nodeName: "b", host: "127.0.0.1", port: 0, secret: otherSecret, ...fast })
      printed.push(...printedForms(bLayer))
      const b = yield* Effect.provideContext(Effect.service(Cluster.Cluster), yield* Layer.build(bLayer))
      const refused = yield* Effect.flip(b.transport.connect(a.transport.address))
      const refusedBack = yield* Effect.flip(a.transport.connect(b.transport.address))
      assert.strictEqual(refused._tag, "ConnectFailed")
      printed.push(...printedForms(refused), refused.message, ...printedForms(refusedBack), refusedBack.message)

      // Configuration errors.
      for (const bad of [
        { nodeName: "c", secret: Redacted.make(secret), insecure: true },
        { nodeName: "c", secret: Redacted.make(""), seeds: [secret] }
      ]) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(Cluster.layer(bad))))
        assert.strictEqual(error._tag, "InvalidClusterConfig")
        printed.push(...printedForms(error), error.message)
      }
      const security = yield* ClusterConfig.security({ nodeName: "c", secret })
      printed.push(...printedForms(security))

      assert.isAbove(logs.printed.length, 0)
      for (const text of [...printed, ...logs.printed]) {
        assert.notInclude(text, secret)
        assert.notInclude(text, otherSecret)
      }
    }).pipe(Effect.provide(logs.layer))
  })
})
