/**
 * The `effect-otp` commands, on `effect/cli`: each GETs JSON from a node's HTTP endpoint (the
 * documents of `Health` and the Observer), prints a readable table or, with `--json`, the
 * document itself.
 *
 * @internal
 */
import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { HealthReport, ReadyReport } from "../../Observability/Health.ts"
import { baseUrl, getJson } from "./client.ts"
import { bytes, duration, fields, table } from "./render.ts"

const url = Argument.String("url").pipe(
  Argument.withDescription("The node's HTTP endpoint (HEALTH_PORT), e.g. http://127.0.0.1:9464 or 127.0.0.1:9464")
)

const json = Flag.Boolean("json").pipe(
  Flag.withDescription("Print the node's JSON document instead of a table (for scripts)"),
  Flag.withDefault(false)
)

const timeout = Flag.Int("timeout").pipe(
  Flag.withDescription("Milliseconds to wait for the node's answer"),
  Flag.withDefault(5000)
)

const print = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** `/health` and `/ready` (both answer 503 with their document when the node is not well). */
const healthOf = (base: string, timeoutMs: number) =>
  Effect.all(
    [
      getJson(base, "/health", HealthReport, { timeout: timeoutMs, accept: [503] }),
      getJson(base, "/ready", ReadyReport, { timeout: timeoutMs, accept: [503] })
    ],
    { concurrency: 2 }
  )

const status = Command.make("status", { url, json, timeout }, (input) =>
  Effect.gen(function* () {
    const base = baseUrl(input.url)
    const [health, ready] = yield* healthOf(base, input.timeout)
    if (input.json) return yield* print({ health, ready })
    const peers = health.connectedNodes.map((peer) => `${peer.node} (${peer.status})`)
    const lines: Array<readonly [string, string]> = [
      ["node", `${health.node} (incarnation ${health.incarnation})`],
      ["health", health.status],
      ["ready", ready.status === "ready" ? "ready" : `${ready.status}: ${ready.message}`],
      ["cluster", health.clusterStatus ?? "no cluster"],
      ["peers", peers.length === 0 ? "none" : `${peers.length}: ${peers.join(", ")}`],
      ["processes", String(health.processCount)],
      ["uptime", duration(health.uptimeMs)],
      [
        "memory",
        `rss ${bytes(health.memory.rssBytes)}, heap ${bytes(health.memory.heapUsedBytes)} of ${bytes(health.memory.heapTotalBytes)}`
      ],
      [
        "alerts",
        health.activeAlerts.length === 0
          ? "none"
          : health.activeAlerts
              .map((alert) => `${alert.kind} on ${alert.subject} (${alert.value} > ${alert.threshold})`)
              .join("; ")
      ]
    ]
    yield* Console.log(fields(lines))
    for (const failure of ready.failures) yield* Console.log(`  not ready: ${failure.check}: ${failure.reason}`)
  })
).pipe(
  Command.withDescription("A node's health and readiness, and its view of the cluster (/health, /ready)"),
  Command.withExamples([{ command: "effect-otp status http://127.0.0.1:9464", description: "One node's status" }])
)

const nodes = Command.make("nodes", { url, json, timeout }, (input) =>
  Effect.gen(function* () {
    const base = baseUrl(input.url)
    const health = yield* getJson(base, "/health", HealthReport, { timeout: input.timeout, accept: [503] })
    const rows = [
      { node: health.node, incarnation: health.incarnation, status: health.clusterStatus ?? "-", self: true },
      ...health.connectedNodes.map((peer) => ({ ...peer, self: false }))
    ]
    if (input.json) return yield* print({ node: health.node, nodes: rows })
    yield* Console.log(
      table(
        [{ header: "NODE" }, { header: "INCARNATION", right: true }, { header: "STATUS" }, { header: "" }],
        rows.map((row) => [row.node, String(row.incarnation), row.status, row.self ? "(this node)" : ""])
      )
    )
  })
).pipe(
  Command.withDescription("The nodes a node is connected to, itself included (/health)"),
  Command.withExamples([
    { command: "effect-otp nodes http://127.0.0.1:9464", description: "The cluster seen from one node" }
  ])
)

/**
 * The root command: `effect-otp status|nodes|processes|process URL ...`.
 */
export const command = Command.make("effect-otp").pipe(
  Command.withDescription("Look at a running effect-otp node through its HTTP endpoint"),
  Command.withSubcommands([status, nodes])
)
