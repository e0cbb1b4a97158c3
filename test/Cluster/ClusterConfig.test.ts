import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Redacted } from "effect"
import * as ClusterConfig from "../../src/Cluster/ClusterConfig.ts"

const load = (env: Record<string, string>) => ClusterConfig.fromEnv.parse(ConfigProvider.fromEnv({ env }))

describe("ClusterConfig.fromEnv", () => {
  it.effect("reads every variable", () =>
    Effect.gen(function* () {
      const config = yield* load({
        OTP_NODE_NAME: "a",
        OTP_HOST: "127.0.0.1",
        OTP_PORT: "4400",
        OTP_ADVERTISE_HOST: "a.cluster.local",
        OTP_SEEDS: "b@127.0.0.2:4400, otp-headless:4370,",
        OTP_CLUSTER_SECRET: "s3cret",
        OTP_HEARTBEAT_INTERVAL_MS: "1000",
        OTP_HEARTBEAT_MISS_THRESHOLD: "4",
        OTP_RECONNECT_BASE_DELAY_MS: "200",
        OTP_RECONNECT_MAX_DELAY_MS: "5000",
        OTP_BUSY_POLL_MICROS: "0"
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
      const config = yield* load({ OTP_NODE_NAME: "a", OTP_CLUSTER_SECRET: "s3cret" })
      assert.strictEqual(config.host, "0.0.0.0")
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
      const error = yield* Effect.flip(load({ OTP_NODE_NAME: "a", OTP_BUSY_POLL_MICROS: "lots" }))
      assert.include(String(error), "OTP_BUSY_POLL_MICROS")
    })
  )

  it.effect("fails without a node name", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(load({ OTP_CLUSTER_SECRET: "s3cret" }))
      assert.include(String(error), "OTP_NODE_NAME")
    })
  )
})
