/**
 * A real Prometheus server (Debian's package), started by the test on loopback with a config in a
 * temporary directory, scrapes two nodes' `/metrics`; a query through its HTTP API returns each
 * node's `effect_otp_cluster_nodes_up`.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { awaitNodesUp } from "../support/clusterHarness.ts"
import { observedNode } from "../support/observedNode.ts"

const freePort = () =>
  Effect.promise(
    () =>
      new Promise<number>((resolve, reject) => {
        const server = Net.createServer()
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as Net.AddressInfo).port
          server.close(() => resolve(port))
        })
      })
  )

/** Prometheus scraping `targets` every 200 ms, stopped (and its directory removed) with the scope. */
const prometheus = (targets: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const port = yield* freePort()
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-otp-prometheus-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const config = [
      "global:",
      "  scrape_interval: 200ms",
      "  scrape_timeout: 150ms",
      "scrape_configs:",
      "  - job_name: effect_otp",
      "    static_configs:",
      `      - targets: [${targets.map((target) => `"${target}"`).join(", ")}]`,
      ""
    ].join("\n")
    writeFileSync(join(dir, "prometheus.yml"), config)
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(
          "prometheus",
          [
            `--config.file=${join(dir, "prometheus.yml")}`,
            `--storage.tsdb.path=${join(dir, "data")}`,
            `--web.listen-address=127.0.0.1:${port}`,
            "--log.level=warn"
          ],
          { stdio: ["ignore", "ignore", "pipe"] }
        )
      ),
      (child) =>
        Effect.promise(
          () =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null) return resolve()
              child.once("exit", () => resolve())
              child.kill("SIGTERM")
            })
        )
    )
    return `http://127.0.0.1:${port}`
  })

interface QueryResult {
  readonly metric: Record<string, string>
  readonly value: [number, string]
}

const query = (base: string, promql: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`)
    const json = (await response.json()) as { status: string; data: { result: Array<QueryResult> } }
    return json.data.result
  })

describe("Prometheus", () => {
  it.live(
    "a real Prometheus scrapes two nodes and its query API returns each node's nodes-up value",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const a = yield* observedNode({ nodeName: "pa" })
          const b = yield* observedNode({ nodeName: "pb", seeds: [a.seed] })
          yield* awaitNodesUp(a.cluster, ["pb"], 10_000)
          yield* awaitNodesUp(b.cluster, ["pa"], 10_000)
          const targets = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]
          const base = yield* prometheus(targets)
          // Polls the query API (Prometheus starts, then scrapes every 200 ms) until both series are in.
          const result = yield* query(base, "effect_otp_cluster_nodes_up").pipe(
            Effect.flatMap((result) => (result.length === 2 ? Effect.succeed(result) : Effect.fail("not yet"))),
            Effect.retry(Schedule.spaced("100 millis")),
            Effect.timeout("20 seconds")
          )
          const byInstance = new Map(result.map((series) => [series.metric["instance"], series.value[1]]))
          assert.strictEqual(byInstance.get(targets[0]), "1")
          assert.strictEqual(byInstance.get(targets[1]), "1")
          for (const series of result) assert.strictEqual(series.metric["job"], "effect_otp")
          const up = yield* query(base, "up")
          assert.deepStrictEqual(
            up.map((series) => series.value[1]),
            ["1", "1"]
          )
        })
      ),
    40_000
  )
})
