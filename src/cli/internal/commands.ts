/**
 * The `effect-otp` commands, on `effect/cli`: each GETs JSON from a node's HTTP endpoint (the
 * documents of `Health` and the Observer), prints a readable table or, with `--json`, the
 * document itself.
 *
 * @internal
 */
import { Console, Effect, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { HealthReport, ReadyReport } from "../../Observability/Health.ts"
import { ProcessDetail, ProcessInfo } from "../../Observability/Observer.ts"
import { ClusterSnapshot } from "../../Observability/ObserverCluster.ts"
import { MAX_TIMEOUT_MS } from "../../Observability/internal/observerHttpQuery.ts"
import { baseUrl, getJson } from "./client.ts"
import { bytes, duration, fields, percent, table } from "./render.ts"

const url = Argument.String("url").pipe(
  Argument.withDescription("The node's HTTP endpoint (HEALTH_PORT), e.g. http://127.0.0.1:9464 or 127.0.0.1:9464")
)

const json = Flag.Boolean("json").pipe(
  Flag.withDescription("Print the node's JSON document instead of a table (for scripts)"),
  Flag.withDefault(false)
)

const timeout = Flag.Int("timeout").pipe(
  Flag.withDescription(`Milliseconds to wait for the node's answer (1 to ${MAX_TIMEOUT_MS})`),
  Flag.filter(
    (ms) => ms >= 1 && ms <= MAX_TIMEOUT_MS,
    (ms) => `--timeout must be milliseconds from 1 to ${MAX_TIMEOUT_MS} (what a node accepts), not ${ms}`
  ),
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

const nodeColumns = [
  { header: "NODE" },
  { header: "INCARNATION", right: true },
  { header: "UPTIME", right: true },
  { header: "PROCESSES", right: true },
  { header: "RSS", right: true },
  { header: "HEAP", right: true },
  { header: "LOOP DELAY", right: true },
  { header: "ANSWER" }
] as const

/** Every node through `/observer/cluster`; a node without the Observer routes: from `/health`. */
const nodes = Command.make("nodes", { url, json, timeout }, (input) =>
  Effect.gen(function* () {
    const base = baseUrl(input.url)
    const cluster = yield* getJson(base, `/observer/cluster?timeout=${input.timeout}&processes=0`, ClusterSnapshot, {
      timeout: input.timeout + 1000,
      accept: [404]
    }).pipe(
      Effect.map((snapshot) => ({ snapshot })),
      Effect.catchTag("BadResponse", (error) =>
        error.status === 404 ? Effect.succeed({ snapshot: undefined }) : Effect.fail(error)
      )
    )
    if (cluster.snapshot !== undefined) {
      const snapshot = cluster.snapshot
      if (input.json) return yield* print(Schema.encodeSync(ClusterSnapshot)(snapshot))
      yield* Console.log(
        table(
          nodeColumns,
          snapshot.nodes.map((entry) => {
            if (entry._tag === "Unreachable") {
              return [entry.node, "-", "-", "-", "-", "-", "-", `${entry.reason}: ${entry.message}`]
            }
            const node = entry.snapshot.node
            return [
              entry.node + (entry.node === snapshot.node ? " (this node)" : ""),
              String(node.incarnation),
              duration(node.uptimeMs),
              String(node.processCount),
              bytes(node.memory.rss),
              `${bytes(node.memory.heapUsed)}/${bytes(node.memory.heapTotal)}`,
              `${node.eventLoop.delayMeanMs.toFixed(1)}ms`,
              `${Math.round(entry.elapsedMs)}ms`
            ]
          })
        )
      )
      return
    }
    const health = yield* getJson(base, "/health", HealthReport, { timeout: input.timeout, accept: [503] })
    const rows = [
      { node: health.node, incarnation: health.incarnation, status: health.clusterStatus ?? "-", self: true },
      ...health.connectedNodes.map((peer) => ({ ...peer, self: false }))
    ]
    if (input.json) return yield* print({ node: health.node, nodes: rows })
    yield* Console.log(
      table(
        [{ header: "NODE" }, { header: "INCARNATION", right: true }, { header: "STATUS" }],
        rows.map((row) => [row.node + (row.self ? " (this node)" : ""), String(row.incarnation), row.status])
      )
    )
  })
).pipe(
  Command.withDescription(
    "Every node of the cluster as one node sees it: uptime, processes, memory, event loop, or why it did not answer (/observer/cluster; /health on a node without the Observer)"
  ),
  Command.withExamples([
    { command: "effect-otp nodes http://127.0.0.1:9464", description: "The cluster seen from one node" }
  ])
)

const processes = Command.make(
  "processes",
  {
    url,
    json,
    timeout,
    sort: Flag.Literals("sort", ["mailbox", "busy", "rate"]).pipe(
      Flag.withDescription("Order by mailbox size, busy share of the last window, or messages per second"),
      Flag.withDefault("mailbox" as const)
    ),
    top: Flag.Int("top").pipe(
      Flag.withAlias("n"),
      Flag.withDescription("How many processes to show"),
      Flag.withDefault(20),
      Flag.filter(
        (n) => n >= 1 && n <= 1000,
        (n) => `--top must be from 1 to 1000, not ${n}`
      )
    )
  },
  (input) =>
    Effect.gen(function* () {
      const base = baseUrl(input.url)
      const list = yield* getJson(base, `/observer?top=${input.top}&sort=${input.sort}`, Schema.Array(ProcessInfo), {
        timeout: input.timeout
      })
      if (input.json) return yield* print(Schema.encodeSync(Schema.Array(ProcessInfo))(list))
      yield* Console.log(
        table(
          [
            { header: "PID" },
            { header: "NAME" },
            { header: "BEHAVIOUR" },
            { header: "STATUS" },
            { header: "MAILBOX", right: true },
            { header: "MSGS", right: true },
            { header: "MSG/S", right: true },
            { header: "BUSY", right: true },
            { header: "LATENCY", right: true },
            { header: "RESTARTS", right: true },
            { header: "LINKS", right: true }
          ],
          list.map((info) => [
            String(info.pid),
            info.name ?? "",
            info.behaviour ?? "",
            info.status,
            String(info.mailboxSize),
            String(info.messagesHandled),
            info.messagesPerSecond.toFixed(1),
            percent(info.busyShare),
            info.handlerSamples === 0 ? "-" : `${info.handlerLatencyMs.toFixed(2)}ms`,
            String(info.restarts),
            String(info.links)
          ])
        )
      )
    })
).pipe(
  Command.withDescription("The node's processes, the top N by mailbox size, busy share or message rate (/observer)"),
  Command.withExamples([
    { command: "effect-otp processes http://127.0.0.1:9464 --sort busy --top 10", description: "The ten busiest" }
  ])
)

const processCommand = Command.make(
  "process",
  {
    url,
    json,
    timeout,
    pid: Argument.String("pid").pipe(Argument.withDescription("The pid as printed, <node.id.incarnation>"))
  },
  (input) =>
    Effect.gen(function* () {
      const base = baseUrl(input.url)
      const detail = yield* getJson(base, `/observer/process/${encodeURIComponent(input.pid)}`, ProcessDetail, {
        timeout: input.timeout
      })
      if (input.json) return yield* print(Schema.encodeSync(ProcessDetail)(detail))
      const info = detail.info
      const pids = (list: ReadonlyArray<unknown>) => (list.length === 0 ? "none" : list.map(String).join(" "))
      const lines: Array<readonly [string, string]> = [
        ["pid", String(info.pid)],
        ["name", info.name ?? "-"],
        ["behaviour", info.behaviour ?? "-"],
        ["status", info.status],
        ["started", new Date(info.startedAt).toISOString()],
        ["mailbox", `${info.mailboxSize} of ${info.mailboxCapacity}`],
        ["messages", `${info.messagesHandled} handled, ${info.messagesPerSecond.toFixed(1)}/s`],
        ["busy", percent(info.busyShare)],
        [
          "latency",
          info.handlerSamples === 0 ? "-" : `${info.handlerLatencyMs.toFixed(2)}ms (${info.handlerSamples} samples)`
        ],
        ["restarts", String(info.restarts)],
        ["trap exit", String(info.trapExit)],
        ["links", pids(detail.links)],
        ["monitors", pids(detail.monitors)],
        ["parent", detail.parent === undefined ? "-" : String(detail.parent)],
        [
          "supervisor",
          detail.supervisor === undefined
            ? "-"
            : `${String(detail.supervisor)}${detail.childId === undefined ? "" : ` (child ${detail.childId})`}`
        ],
        ["last message", detail.lastMessage ?? "-"]
      ]
      yield* Console.log(fields(lines))
      if (detail.state !== undefined) {
        yield* Console.log(`state (${detail.stateSource ?? "state"}):\n${detail.state.replace(/^/gm, "  ")}`)
      }
    })
).pipe(
  Command.withDescription("One process in detail: links, monitors, supervisor, its state (/observer/process/PID)"),
  Command.withExamples([
    { command: "effect-otp process http://127.0.0.1:9464 '<node-0.5.1733>'", description: "One process" }
  ])
)

/**
 * The root command: `effect-otp status|nodes|processes|process URL ...`.
 */
export const command = Command.make("effect-otp").pipe(
  Command.withDescription("Look at a running effect-otp node through its HTTP endpoint"),
  Command.withSubcommands([status, nodes, processes, processCommand])
)
