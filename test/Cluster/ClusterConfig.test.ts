import { assert, describe, it } from "@effect/vitest"
import * as Os from "node:os"
import { ConfigProvider, Duration, Effect, Redacted } from "effect"
import * as ClusterConfig from "../../src/Cluster/ClusterConfig.ts"

const load = (env: Record<string, string>) => ClusterConfig.fromEnv.parse(ConfigProvider.fromEnv({ env }))

describe("ClusterConfig.fromEnv", () => {
  it.effect("reads every variable", () =>
    Effect.gen(function* () {
      const config = yield* load({
        NODE_NAME: "a",
        CLUSTER_HOST: "127.0.0.1",
        CLUSTER_PORT: "4400",
        CLUSTER_ADVERTISE_HOST: "a.cluster.local",
        CLUSTER_SEEDS: "b@127.0.0.2:4400, otp-headless:4370,",
        CLUSTER_SECRET: "s3cret",
        HEARTBEAT_INTERVAL_MS: "1000",
        HEARTBEAT_MISS_THRESHOLD: "4",
        RECONNECT_BASE_DELAY_MS: "200",
        RECONNECT_MAX_DELAY_MS: "5000",
        BUSY_POLL_MICROS: "0"
      })
      const { secret, ...rest } = config
      // The secret stays redacted; only the key derivation reads it.
      assert.isTrue(Redacted.isRedacted(secret))
      assert.strictEqual(Redacted.value(secret as Redacted.Redacted<string>), "s3cret")
      assert.deepStrictEqual(rest, {
        nodeName: "a",
        host: "127.0.0.1",
        port: 4400,
        advertiseHost: "a.cluster.local",
        seeds: ["b@127.0.0.2:4400", "otp-headless:4370"],
        insecure: false,
        heartbeatInterval: 1000,
        heartbeatMissThreshold: 4,
        reconnectBaseDelay: 200,
        reconnectMaxDelay: 5000,
        transport: { busyPollWindow: Duration.micros(0n) }
      })
    })
  )

  it.effect("fills in the documented defaults", () =>
    Effect.gen(function* () {
      const config = yield* load({ NODE_NAME: "a", CLUSTER_SECRET: "s3cret" })
      assert.strictEqual(config.host, "0.0.0.0")
      // Peers cannot dial 0.0.0.0: the node advertises its host name unless told otherwise.
      assert.strictEqual(config.advertiseHost, Os.hostname())
      assert.strictEqual(config.port, 4370)
      assert.deepStrictEqual(config.seeds, [])
      assert.strictEqual(config.heartbeatInterval, 5000)
      assert.strictEqual(config.heartbeatMissThreshold, 3)
      assert.strictEqual(config.reconnectBaseDelay, 1000)
      assert.strictEqual(config.reconnectMaxDelay, 30000)
      assert.deepStrictEqual(config.transport, { busyPollWindow: Duration.micros(100n) })
    })
  )

  it.effect("refuses a busy-poll window that is not a whole number", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load({ NODE_NAME: "a", CLUSTER_SECRET: "s", BUSY_POLL_MICROS: "lots" }))
      assert.include(String(error), "BUSY_POLL_MICROS")
    })
  )

  it.effect("fails without a node name", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load({ CLUSTER_SECRET: "s3cret" }))
      assert.include(String(error), "NODE_NAME")
    })
  )

  it.effect("names every bad variable in one error, not only the first", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load({ CLUSTER_PORT: "http", HEARTBEAT_MISS_THRESHOLD: "0" }))
      assert.strictEqual(
        error.message,
        'SourceError: NODE_NAME: is not set (every node needs a name); CLUSTER_PORT: "http" is not a port number (an integer from 0 to 65535); CLUSTER_SECRET: no cluster secret: set CLUSTER_SECRET or CLUSTER_SECRET_FILE (the same on every node), or CLUSTER_INSECURE=true to run without authentication nor encryption; HEARTBEAT_MISS_THRESHOLD: "0" is not a whole number of intervals from 1 to 1000'
      )
    })
  )
})
