import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Redacted } from "effect"
import * as NodeConfig from "../../src/Layers/NodeConfig.ts"
import * as AlertManager from "../../src/Observability/AlertManager.ts"

const load = (env: Record<string, string>) =>
  NodeConfig.load.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

const valid = { NODE_NAME: "a", CLUSTER_SECRET: "s3cret" }

/** The one message an environment is refused with. */
const refusal = (env: Record<string, string>) => Effect.map(Effect.flip(load(env)), (error) => error.message)

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "node-config-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

describe("NodeConfig.load", () => {
  it.effect("fills in the documented defaults", () =>
    Effect.gen(function* () {
      const config = yield* load({ ...valid, LOG_FORMAT: "json" })
      assert.strictEqual(config.cluster.nodeName, "a")
      assert.strictEqual(config.cluster.host, "0.0.0.0")
      assert.strictEqual(config.cluster.port, 4370)
      assert.deepStrictEqual(config.cluster.seeds, [])
      assert.deepStrictEqual(config.health, { host: "0.0.0.0", port: NodeConfig.defaultHealthPort })
      assert.deepStrictEqual(config.logging, { level: "Info", format: "json" })
      assert.isTrue(Duration.equals(config.shutdownDrain, Duration.millis(NodeConfig.defaultShutdownDrainMs)))
      // The documented defaults are the ones applied.
      const table = new Map(NodeConfig.variables.map((v) => [v.name, v.default]))
      assert.strictEqual(table.get("CLUSTER_PORT"), String(config.cluster.port))
      assert.strictEqual(table.get("HEALTH_PORT"), String(config.health.port))
      assert.strictEqual(table.get("SHUTDOWN_DRAIN_MS"), String(NodeConfig.defaultShutdownDrainMs))
      assert.strictEqual(table.get("HEARTBEAT_INTERVAL_MS"), String(config.cluster.heartbeatInterval))
    })
  )

  it.effect("reads every variable", () =>
    Effect.gen(function* () {
      const config = yield* load({
        NODE_NAME: "orders-0",
        CLUSTER_HOST: "127.0.0.1",
        CLUSTER_PORT: "4400",
        CLUSTER_ADVERTISE_HOST: "orders-0.orders",
        CLUSTER_SEEDS: " orders-0@127.0.0.1:4400, orders.default.svc.cluster.local:4400 ,",
        CLUSTER_DNS_SERVERS: "127.0.0.53,127.0.0.1:5353",
        CLUSTER_SECRET: "s3cret",
        HEARTBEAT_INTERVAL_MS: "1000",
        HEARTBEAT_MISS_THRESHOLD: "4",
        RECONNECT_BASE_DELAY_MS: "200",
        RECONNECT_MAX_DELAY_MS: "5000",
        BUSY_POLL_MICROS: "0",
        HEALTH_HOST: "127.0.0.1",
        HEALTH_PORT: "8081",
        LOG_LEVEL: "DEBUG",
        LOG_FORMAT: "pretty",
        SHUTDOWN_DRAIN_MS: "2500"
      })
      const { secret, ...cluster } = config.cluster
      assert.strictEqual(Redacted.value(secret as Redacted.Redacted<string>), "s3cret")
      assert.deepStrictEqual(cluster, {
        nodeName: "orders-0",
        host: "127.0.0.1",
        port: 4400,
        advertiseHost: "orders-0.orders",
        seeds: ["orders-0@127.0.0.1:4400", "orders.default.svc.cluster.local:4400"],
        dnsServers: ["127.0.0.53", "127.0.0.1:5353"],
        insecure: false,
        heartbeatInterval: 1000,
        heartbeatMissThreshold: 4,
        reconnectBaseDelay: 200,
        reconnectMaxDelay: 5000,
        transport: { busyPollWindow: Duration.micros(0n) }
      })
      assert.deepStrictEqual(config.health, { host: "127.0.0.1", port: 8081 })
      assert.deepStrictEqual(config.logging, { level: "Debug", format: "pretty" })
      assert.isTrue(Duration.equals(config.shutdownDrain, Duration.millis(2500)))
    })
  )

  it.effect("reads the secret from CLUSTER_SECRET_FILE, without its trailing newline", () =>
    Effect.gen(function* () {
      const file = Path.join(dir, "secret")
      Fs.writeFileSync(file, "from-a-file\n")
      const config = yield* load({ NODE_NAME: "a", CLUSTER_SECRET_FILE: file })
      assert.strictEqual(Redacted.value(config.cluster.secret as Redacted.Redacted<string>), "from-a-file")
    })
  )

  it.effect("insecure mode is explicit: CLUSTER_INSECURE=true and no secret", () =>
    Effect.gen(function* () {
      const config = yield* load({ NODE_NAME: "a", CLUSTER_INSECURE: "true" })
      assert.strictEqual(config.cluster.insecure, true)
      assert.isUndefined(config.cluster.secret)
    })
  )

  it.effect("a blank variable counts as unset", () =>
    Effect.gen(function* () {
      const config = yield* load({ ...valid, CLUSTER_PORT: "  ", CLUSTER_SEEDS: "" })
      assert.strictEqual(config.cluster.port, 4370)
      assert.deepStrictEqual(config.cluster.seeds, [])
    })
  )
})

describe("an invalid configuration is refused with a message naming the variable and why", () => {
  const cases: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
    ["no node name", { CLUSTER_SECRET: "s3cret" }, "NODE_NAME: is not set (every node needs a name)"],
    ["a node name with @", { ...valid, NODE_NAME: "a@b" }, 'NODE_NAME: "a@b" may not contain blanks, commas or "@"'],
    [
      "a cluster host with a blank",
      { ...valid, CLUSTER_HOST: "10.0.0.1 10.0.0.2" },
      'CLUSTER_HOST: "10.0.0.1 10.0.0.2" is not a host name or address'
    ],
    [
      "a port that is not a number",
      { ...valid, CLUSTER_PORT: "http" },
      'CLUSTER_PORT: "http" is not a port number (an integer from 0 to 65535)'
    ],
    [
      "a port out of range",
      { ...valid, CLUSTER_PORT: "70000" },
      'CLUSTER_PORT: "70000" is not a port number (an integer from 0 to 65535)'
    ],
    [
      "an advertised host with a slash",
      { ...valid, CLUSTER_ADVERTISE_HOST: "http://a" },
      'CLUSTER_ADVERTISE_HOST: "http://a" is not a host name or address'
    ],
    [
      "a seed without a port",
      { ...valid, CLUSTER_SEEDS: "b@10.0.0.2:4370,orders-headless" },
      'CLUSTER_SEEDS: seed "orders-headless" has no port (expected name@host:port or host:port)'
    ],
    [
      "a seed with a bad port",
      { ...valid, CLUSTER_SEEDS: "b@10.0.0.2:99999" },
      'CLUSTER_SEEDS: seed "b@10.0.0.2:99999" has an invalid port'
    ],
    [
      "a seed with an empty name",
      { ...valid, CLUSTER_SEEDS: "@10.0.0.2:4370" },
      'CLUSTER_SEEDS: seed "@10.0.0.2:4370" has an empty name'
    ],
    [
      "a DNS server that is not an address",
      { ...valid, CLUSTER_DNS_SERVERS: "dns.local" },
      'CLUSTER_DNS_SERVERS: "dns.local" is not an IP address or ip:port'
    ],
    [
      "no secret and no insecure mode",
      { NODE_NAME: "a" },
      "CLUSTER_SECRET: no cluster secret: set CLUSTER_SECRET or CLUSTER_SECRET_FILE (the same on every node), or CLUSTER_INSECURE=true to run without authentication nor encryption"
    ],
    [
      "both a secret and a secret file",
      { ...valid, CLUSTER_SECRET_FILE: "/run/secrets/cluster" },
      "CLUSTER_SECRET_FILE: is set together with CLUSTER_SECRET: give one of them"
    ],
    [
      "a secret file that does not exist",
      { NODE_NAME: "a", CLUSTER_SECRET_FILE: "/nonexistent/secret" },
      'CLUSTER_SECRET_FILE: cannot read "/nonexistent/secret" (ENOENT)'
    ],
    [
      "insecure mode together with a secret",
      { ...valid, CLUSTER_INSECURE: "true" },
      "CLUSTER_INSECURE: is true while a secret is given (CLUSTER_SECRET): choose one"
    ],
    [
      "insecure mode that is not a boolean",
      { NODE_NAME: "a", CLUSTER_INSECURE: "maybe" },
      'CLUSTER_INSECURE: "maybe" is not a boolean (true or false)'
    ],
    [
      "a heartbeat interval of zero",
      { ...valid, HEARTBEAT_INTERVAL_MS: "0" },
      'HEARTBEAT_INTERVAL_MS: "0" is not a positive number of milliseconds'
    ],
    [
      "a heartbeat interval with a unit",
      { ...valid, HEARTBEAT_INTERVAL_MS: "5s" },
      'HEARTBEAT_INTERVAL_MS: "5s" is not a positive number of milliseconds'
    ],
    [
      "a miss threshold of zero",
      { ...valid, HEARTBEAT_MISS_THRESHOLD: "0" },
      'HEARTBEAT_MISS_THRESHOLD: "0" is not a whole number of intervals from 1 to 1000'
    ],
    [
      "a reconnect base delay that is not a number",
      { ...valid, RECONNECT_BASE_DELAY_MS: "1.5" },
      'RECONNECT_BASE_DELAY_MS: "1.5" is not a positive number of milliseconds'
    ],
    [
      "a reconnect cap below the base delay",
      { ...valid, RECONNECT_BASE_DELAY_MS: "2000", RECONNECT_MAX_DELAY_MS: "500" },
      "RECONNECT_MAX_DELAY_MS: 500 is below RECONNECT_BASE_DELAY_MS (2000)"
    ],
    [
      "a negative busy-poll window",
      { ...valid, BUSY_POLL_MICROS: "-1" },
      'BUSY_POLL_MICROS: "-1" is not a whole number of microseconds from 0 to 1000000'
    ],
    [
      "a health port that is not a number",
      { ...valid, HEALTH_PORT: "ready" },
      'HEALTH_PORT: "ready" is not a port number (an integer from 0 to 65535)'
    ],
    [
      "an unknown log level",
      { ...valid, LOG_LEVEL: "loud" },
      'LOG_LEVEL: "loud" is not one of all, trace, debug, info, warn, error, fatal, none (any case)'
    ],
    [
      "an unknown log format",
      { ...valid, LOG_FORMAT: "xml" },
      'LOG_FORMAT: "xml" is not one of json, pretty (any case)'
    ],
    [
      "a drain that is not a number",
      { ...valid, SHUTDOWN_DRAIN_MS: "forever" },
      'SHUTDOWN_DRAIN_MS: "forever" is not a number of milliseconds from 0 to 3600000'
    ],
    [
      "alerts enabled that is not a boolean",
      { ...valid, ALERTS_ENABLED: "sometimes" },
      'ALERTS_ENABLED: "sometimes" is not a boolean (true or false)'
    ],
    [
      "a sensitivity of zero",
      { ...valid, ALERTS_SENSITIVITY_MULTIPLIER: "0" },
      'ALERTS_SENSITIVITY_MULTIPLIER: "0" is not a number > 0'
    ],
    [
      "a minimum of zero samples",
      { ...valid, ALERTS_MIN_SAMPLES: "0" },
      'ALERTS_MIN_SAMPLES: "0" is not an integer from 1 to 1000000'
    ],
    [
      "a negative cooldown",
      { ...valid, ALERTS_COOLDOWN_MS: "-5" },
      'ALERTS_COOLDOWN_MS: "-5" is not a number of milliseconds from 0 to 86400000'
    ],
    [
      "a sample interval too short",
      { ...valid, ALERTS_SAMPLE_INTERVAL_MS: "1" },
      'ALERTS_SAMPLE_INTERVAL_MS: "1" is not a number of milliseconds from 10 to 3600000'
    ]
  ]
  for (const [what, env, expected] of cases) {
    it.effect(what, () =>
      Effect.gen(function* () {
        assert.strictEqual(yield* refusal(env), `invalid node configuration (1 problem): ${expected}`)
      })
    )
  }

  it.effect("an empty secret file", () =>
    Effect.gen(function* () {
      const file = Path.join(dir, "empty")
      Fs.writeFileSync(file, "\n")
      assert.strictEqual(
        yield* refusal({ NODE_NAME: "a", CLUSTER_SECRET_FILE: file }),
        `invalid node configuration (1 problem): CLUSTER_SECRET_FILE: the file "${file}" is empty`
      )
    })
  )

  it.effect("every bad variable is named in one message, in the order of the table", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        load({
          CLUSTER_PORT: "http",
          CLUSTER_SEEDS: "b",
          HEARTBEAT_INTERVAL_MS: "-5",
          HEALTH_PORT: "99999",
          LOG_LEVEL: "loud",
          SHUTDOWN_DRAIN_MS: "x"
        })
      )
      assert.strictEqual(error._tag, "InvalidNodeConfig")
      assert.deepStrictEqual(
        error.problems.map((problem) => problem.variable),
        [
          "NODE_NAME",
          "CLUSTER_PORT",
          "CLUSTER_SEEDS",
          "CLUSTER_SECRET",
          "HEARTBEAT_INTERVAL_MS",
          "HEALTH_PORT",
          "LOG_LEVEL",
          "SHUTDOWN_DRAIN_MS"
        ]
      )
      assert.match(
        error.message,
        /^invalid node configuration \(8 problems\): NODE_NAME: is not set .*; SHUTDOWN_DRAIN_MS: "x" is not/
      )
    })
  )

  it.effect("the secret never appears in the message", () =>
    Effect.gen(function* () {
      const message = yield* refusal({ ...valid, CLUSTER_SECRET: "hunter2-very-secret", CLUSTER_INSECURE: "true" })
      assert.notInclude(message, "hunter2")
    })
  )
})

describe("the Observer and the AlertManager from the environment", () => {
  it.effect("ALERTS_* set the AlertManager's settings; unset ones are left to its defaults", () =>
    Effect.gen(function* () {
      const config = yield* load({ ...valid, ALERTS_SENSITIVITY_MULTIPLIER: "2.5", ALERTS_COOLDOWN_MS: "1000" })
      assert.strictEqual(config.alerts?.sensitivityMultiplier, 2.5)
      assert.strictEqual(config.alerts?.cooldownMs, 1000)
      assert.strictEqual(config.alerts?.minSamples, undefined)
      assert.strictEqual(config.observerKillToken, undefined)
    })
  )

  it.effect("OBSERVER_KILL_TOKEN is read as a redacted value", () =>
    Effect.gen(function* () {
      const token = "t0ken-of-16-char"
      const config = yield* load({ ...valid, OBSERVER_KILL_TOKEN: token })
      assert.isDefined(config.observerKillToken)
      assert.strictEqual(Redacted.value(config.observerKillToken!), token)
      assert.notInclude(String(config.observerKillToken), token)
    })
  )

  it.effect("an OBSERVER_KILL_TOKEN shorter than 16 characters is refused, and the message does not show it", () =>
    Effect.gen(function* () {
      const message = yield* refusal({ ...valid, OBSERVER_KILL_TOKEN: "t0ken-15-chars!" })
      assert.strictEqual(
        message,
        "invalid node configuration (1 problem): OBSERVER_KILL_TOKEN: is 15 characters long, fewer than 16 (use a random token, e.g. openssl rand -hex 16)"
      )
      assert.notInclude(message, "t0ken")
    })
  )

  it.effect("ALERTS_* are checked alike by NodeConfig.load and AlertManager.config (same ranges, same messages)", () =>
    Effect.gen(function* () {
      const standalone = (env: Record<string, string>) =>
        Effect.flip(
          AlertManager.config.pipe(
            Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
          )
        ).pipe(Effect.map((error) => error.message))
      // 5 ms: NodeConfig refused it while AlertManager.config (Config.Int) took it.
      const env = { ALERTS_SAMPLE_INTERVAL_MS: "5", ALERTS_SENSITIVITY_MULTIPLIER: "-1", ALERTS_MIN_SAMPLES: "2.5" }
      const expected =
        'ALERTS_SENSITIVITY_MULTIPLIER: "-1" is not a number > 0; ALERTS_MIN_SAMPLES: "2.5" is not an integer from 1 to 1000000; ALERTS_SAMPLE_INTERVAL_MS: "5" is not a number of milliseconds from 10 to 3600000'
      assert.include(yield* standalone(env), expected)
      assert.strictEqual(yield* refusal({ ...valid, ...env }), `invalid node configuration (3 problems): ${expected}`)
      const options = yield* AlertManager.config.pipe(
        Effect.provideService(
          ConfigProvider.ConfigProvider,
          ConfigProvider.fromEnv({ env: { ALERTS_ENABLED: "off", ALERTS_SAMPLE_INTERVAL_MS: "10" } })
        )
      )
      const config = yield* load({ ...valid, ALERTS_ENABLED: "off", ALERTS_SAMPLE_INTERVAL_MS: "10" })
      assert.deepStrictEqual(config.alerts, options)
      assert.strictEqual(options.enabled, false)
    })
  )
})

describe("NodeConfig.variables", () => {
  it("lists every variable once, with the names of the deployment guides", () => {
    const names = NodeConfig.variables.map((variable) => variable.name)
    assert.strictEqual(new Set(names).size, names.length)
    for (const name of [
      "NODE_NAME",
      "CLUSTER_HOST",
      "CLUSTER_PORT",
      "CLUSTER_ADVERTISE_HOST",
      "CLUSTER_SEEDS",
      "CLUSTER_SECRET",
      "CLUSTER_SECRET_FILE",
      "CLUSTER_INSECURE",
      "HEALTH_PORT",
      "HEARTBEAT_INTERVAL_MS",
      "HEARTBEAT_MISS_THRESHOLD",
      "RECONNECT_BASE_DELAY_MS",
      "RECONNECT_MAX_DELAY_MS",
      "LOG_LEVEL",
      "LOG_FORMAT",
      "BUSY_POLL_MICROS",
      "OTEL_*"
    ]) {
      assert.include(names, name)
    }
    for (const variable of NodeConfig.variables) assert.isAbove(variable.meaning.length, 10)
  })

  it('is the table of the README\'s "Running a node", row by row', () => {
    const readme = Fs.readFileSync(Path.join(import.meta.dirname, "..", "..", "README.md"), "utf8")
    const section = readme.slice(readme.indexOf("## Running a node"))
    const rows = section
      .slice(0, section.indexOf("\n## ", 5))
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => line.split(/(?<!\\) \| /).map((cell) => cell.replace(/^\| |\s*\|$/g, "").replace(/\\\|/g, "|")))
    const variables = rows.filter(([name]) => !/^`\d/.test(name!))
    assert.deepStrictEqual(
      variables,
      NodeConfig.variables.map((v) => [`\`${v.name}\``, v.default ?? "—", v.meaning])
    )
  })
})
