import { spawn } from "node:child_process"
import { createServer } from "node:net"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import {
  Cluster,
  Distribution,
  GenServer,
  Health,
  HttpEndpoint,
  Observer,
  ObserverCluster,
  ObserverHttp,
  Protocol
} from "../../src/index.ts"

const main = Path.join(import.meta.dirname, "../../src/cli/main.ts")

interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** `effect-otp ...args` as a real child process (the sources through tsx), killed if it outlives 60 s. */
const cli = (...args: ReadonlyArray<string>) =>
  Effect.callback<CliRun>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", main, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const Counter = Protocol.make({ Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }) })
const counter = GenServer.behaviour(Counter)({
  name: "counter",
  init: () => Effect.succeed(0),
  handleCall: { Add: ({ n }, total) => Effect.succeed(GenServer.reply(total + n, total + n)) }
})

/**
 * Two real nodes in this process, linked over loopback TLS-PSK: `a` serves /health, /ready and the
 * Observer routes on a real HTTP endpoint and runs a registered counter; `b` runs the Observer's
 * system process. Both stop when the test's scope closes.
 */
const twoNodes = Effect.gen(function* () {
  const observed = ObserverCluster.layer().pipe(Layer.provideMerge(Observer.layer))
  const a = yield* Layer.build(
    Layer.mergeAll(Health.layer({ seeds: [] }), ObserverHttp.layer()).pipe(
      Layer.provideMerge(observed),
      Layer.provideMerge(HttpEndpoint.layer({ host: "127.0.0.1", port: 0 })),
      Layer.provideMerge(Distribution.layer({ nodeName: "cli-a", host: "127.0.0.1", port: 0, secret: "cli-test" }))
    )
  )
  const clusterA = Context.get(a, Cluster.Cluster)
  const seed = `cli-a@127.0.0.1:${clusterA.transport.address.port}`
  yield* Layer.build(
    observed.pipe(
      Layer.provideMerge(
        Distribution.layer({ nodeName: "cli-b", host: "127.0.0.1", port: 0, secret: "cli-test", seeds: [seed] })
      )
    )
  )
  yield* Effect.provideContext(Cluster.awaitNodes(["cli-b"], { timeout: "20 seconds" }), a)
  const pid = yield* Effect.provideContext(GenServer.start(counter, undefined, { name: "counter" }), a)
  yield* Effect.provideContext(GenServer.call(pid, Counter.Add({ n: 2 })), a)
  const endpoint = Context.get(a, HttpEndpoint.HttpEndpoint)
  return { url: `http://127.0.0.1:${endpoint.port}`, pid: String(pid) }
})

/** A loopback port nobody listens on (bound, then closed). */
const closedPort = Effect.callback<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    server.close(() => resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0)))
  })
})

describe("effect-otp (the CLI)", () => {
  it.live(
    "status prints health, readiness and the node's peers; --json prints both documents",
    () =>
      Effect.gen(function* () {
        const node = yield* twoNodes
        const table = yield* cli("status", node.url)
        assert.strictEqual(table.code, 0, table.stderr)
        assert.match(table.stdout, /^node\s+cli-a \(incarnation \d+\)$/m)
        assert.match(table.stdout, /^health\s+ok$/m)
        assert.match(table.stdout, /^ready\s+ready$/m)
        assert.match(table.stdout, /^cluster\s+running$/m)
        assert.match(table.stdout, /^peers\s+1: cli-b \(running\)$/m)

        const json = yield* cli("status", node.url.replace("http://", ""), "--json")
        assert.strictEqual(json.code, 0, json.stderr)
        const body = JSON.parse(json.stdout) as {
          health: { node: string; connectedNodes: Array<{ node: string }> }
          ready: { status: string }
        }
        assert.strictEqual(body.health.node, "cli-a")
        assert.deepStrictEqual(
          body.health.connectedNodes.map((peer) => peer.node),
          ["cli-b"]
        )
        assert.strictEqual(body.ready.status, "ready")
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "nodes lists every node through the cluster-wide Observer; processes shows the top table; process one pid",
    () =>
      Effect.gen(function* () {
        const node = yield* twoNodes
        const [nodes, processes, detail, json, nodesJson] = yield* Effect.all(
          [
            cli("nodes", node.url),
            cli("processes", node.url, "--sort", "rate", "--top", "50"),
            cli("process", node.url, node.pid),
            cli("processes", node.url, "--json", "--top", "3"),
            cli("nodes", node.url, "--json")
          ],
          { concurrency: "unbounded" }
        )
        assert.strictEqual(nodes.code, 0, nodes.stderr)
        assert.match(nodes.stdout, /^NODE\s+INCARNATION\s+UPTIME\s+PROCESSES/)
        assert.match(nodes.stdout, /^cli-a \(this node\)\s+\d+\s/m)
        assert.match(nodes.stdout, /^cli-b\s+\d+\s/m)

        assert.strictEqual(processes.code, 0, processes.stderr)
        assert.match(processes.stdout, /^PID\s+NAME\s+BEHAVIOUR\s+STATUS\s+MAILBOX/)
        const row = processes.stdout.split("\n").find((line) => line.startsWith(node.pid))
        assert.isDefined(row, processes.stdout)
        assert.match(row!, /\scounter\s+counter\s+waiting\s+0\s+1\s/)

        assert.strictEqual(detail.code, 0, detail.stderr)
        assert.match(detail.stdout, new RegExp(`^pid\\s+${node.pid.replace(/[.<>]/g, "\\$&")}$`, "m"))
        assert.match(detail.stdout, /^name\s+counter$/m)
        assert.match(detail.stdout, /^messages\s+1 handled/m)
        assert.match(detail.stdout, /^last message\s+Add$/m)

        assert.strictEqual(json.code, 0, json.stderr)
        const list = JSON.parse(json.stdout) as Array<{ mailboxSize: number }>
        assert.isAtMost(list.length, 3)
        assert.isAbove(list.length, 0)

        // nodes prints one row per node: it asks for no process list (processes=0), only the counts.
        assert.strictEqual(nodesJson.code, 0, nodesJson.stderr)
        const cluster = JSON.parse(nodesJson.stdout) as {
          nodes: Array<{ node: string; omittedProcesses: number; snapshot: { processes: Array<unknown> } }>
        }
        assert.strictEqual(cluster.nodes.length, 2)
        for (const entry of cluster.nodes) {
          assert.strictEqual(entry.snapshot.processes.length, 0, entry.node)
          assert.isAbove(entry.omittedProcesses, 0, entry.node)
        }
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "a node that cannot be reached, an unknown pid, a malformed pid: a clear message on stderr and exit 1",
    () =>
      Effect.gen(function* () {
        const node = yield* twoNodes
        const port = yield* closedPort
        const [down, unknown, malformed, badTop, badTimeout, zeroTimeout] = yield* Effect.all(
          [
            cli("status", `127.0.0.1:${port}`),
            cli("process", node.url, "<cli-a.999999.1>"),
            cli("process", node.url, "not-a-pid"),
            cli("processes", node.url, "--top", "0"),
            cli("nodes", node.url, "--timeout", "60001"),
            cli("status", node.url, "--timeout", "0")
          ],
          { concurrency: "unbounded" }
        )
        assert.strictEqual(down.code, 1)
        assert.match(
          down.stderr,
          new RegExp(`cannot reach the node at http://127\\.0\\.0\\.1:${port}/(health|ready): ECONNREFUSED`)
        )
        assert.strictEqual(down.stdout, "")

        assert.strictEqual(unknown.code, 1)
        assert.match(unknown.stderr, /answered 404: <cli-a\.999999\.1> is not alive/)

        assert.strictEqual(malformed.code, 1)
        assert.match(malformed.stderr, /answered 400: "not-a-pid" is not a pid/)

        assert.notStrictEqual(badTop.code, 0)
        assert.match(badTop.stderr, /--top must be from 1 to 1000, not 0/)

        // --timeout is checked before anything is asked, against what a node accepts.
        assert.notStrictEqual(badTimeout.code, 0)
        assert.match(
          badTimeout.stderr,
          /--timeout must be milliseconds from 1 to 60000 \(what a node accepts\), not 60001/
        )
        assert.notStrictEqual(zeroTimeout.code, 0)
        assert.match(
          zeroTimeout.stderr,
          /--timeout must be milliseconds from 1 to 60000 \(what a node accepts\), not 0/
        )
      }).pipe(Effect.scoped),
    120_000
  )
})
