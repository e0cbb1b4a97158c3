import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Redacted, Schema, Scope } from "effect"
import { GenServer, Observer, Pid, Process } from "../../src/index.ts"
import { awaitNodesUp, clusterEvents } from "../support/clusterHarness.ts"
import { kv } from "../support/distHarness.ts"
import { observedNode } from "../support/observerHarness.ts"

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: unknown
  readonly text: string
}

/** A real HTTP request to a node's endpoint. */
const request = (url: string, init?: RequestInit) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
    const text = await response.text()
    let body: unknown = undefined
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    return { status: response.status, headers: response.headers, body, text }
  })

const TOKEN = "s3cret-observer-token"
const path = (pid: Pid.Pid) => encodeURIComponent(String(pid))

describe("ObserverHttp", () => {
  it.live(
    "GET /observer answers the local snapshot, and the top-N table with ?top=N&sort=...; a bad query is 400",
    () =>
      Effect.gen(function* () {
        const a = yield* observedNode({ nodeName: "a" }, { http: {} })
        const snapshot = yield* request(`${a.url}/observer`)
        assert.strictEqual(snapshot.status, 200)
        assert.strictEqual(snapshot.headers.get("content-type"), "application/json")
        assert.strictEqual((snapshot.body as { node: { name: string } }).node.name, "a")

        const top = yield* request(`${a.url}/observer?top=5&sort=busy`)
        assert.strictEqual(top.status, 200)
        assert.isArray(top.body)
        assert.isAtMost((top.body as Array<unknown>).length, 5)

        for (const query of ["top=0", "top=abc", "top=5&sort=size", "sort=busy", "timeout=100"]) {
          const bad = yield* request(`${a.url}/observer?${query}`)
          assert.strictEqual(bad.status, 400, query)
          assert.strictEqual((bad.body as { error: string }).error, "MalformedQuery", query)
        }
      })
  )

  it.live("GET /observer includes 1,000 processes by default and counts the others; ?processes= asks for more", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" }, { http: {} })
      yield* a.run(Effect.forEach(Array.from({ length: 1200 }), () => Process.spawn(() => Effect.never)))
      type Body = { processes: Array<unknown>; omittedProcesses: number; node: { processCount: number } }
      const capped = yield* request(`${a.url}/observer`)
      assert.strictEqual(capped.status, 200)
      const body = capped.body as Body
      assert.strictEqual(body.processes.length, 1000)
      assert.isAtLeast(body.omittedProcesses, 200)
      assert.strictEqual(body.processes.length + body.omittedProcesses, body.node.processCount)
      // The text is the Schema encoding of a NodeSnapshot (encoded in slices): it decodes back.
      const decoded = Schema.decodeUnknownSync(Observer.NodeSnapshot)(capped.body)
      assert.strictEqual(decoded.processes.length, 1000)
      assert.strictEqual(decoded.node.name, "a")

      const all = (yield* request(`${a.url}/observer?processes=all`)).body as Body
      assert.strictEqual(all.omittedProcesses, 0)
      assert.strictEqual(all.processes.length, all.node.processCount)
      const none = (yield* request(`${a.url}/observer?processes=0`)).body as Body
      assert.strictEqual(none.processes.length, 0)
      assert.strictEqual(none.omittedProcesses, none.node.processCount)
      assert.strictEqual((yield* request(`${a.url}/observer?processes=lots`)).status, 400)
    })
  )

  it.live("GET /observer/process/<pid> hides a state without formatStatus unless the Observer shows states", () =>
    Effect.gen(function* () {
      const hidden = yield* observedNode({ nodeName: "a" }, { http: {} })
      const shown = yield* observedNode({ nodeName: "b" }, { http: {}, showState: true })
      type Detail = { state: string; stateSource: string }
      const onA = yield* hidden.run(GenServer.start(kv, 10))
      const detail = (yield* request(`${hidden.url}/observer/process/${path(onA)}`)).body as Detail
      assert.strictEqual(detail.stateSource, "hidden")
      assert.include(detail.state, "showState")
      const onB = yield* shown.run(GenServer.start(kv, 10))
      const raw = (yield* request(`${shown.url}/observer/process/${path(onB)}`)).body as Detail
      assert.strictEqual(raw.stateSource, "state")
      assert.notInclude(raw.state, "hidden")
    })
  )

  it.live("a kill token shorter than 16 characters is refused when the layer is built", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.scoped(observedNode({ nodeName: "a" }, { http: { kill: { token: Redacted.make("too-short") } } }))
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.match(
        String(Exit.isFailure(exit) ? exit.cause : ""),
        /kill token must be at least 16 characters \(it has 9\)/
      )
    })
  )

  it.live("GET /observer/cluster answers every node's snapshot (or the cluster's top-N) as JSON", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" }, { http: {} })
      yield* observedNode({ nodeName: "b", seeds: [a.seed] })
      yield* awaitNodesUp(a.cluster, ["b"])
      const cluster = yield* request(`${a.url}/observer/cluster?timeout=2000`)
      assert.strictEqual(cluster.status, 200)
      const body = cluster.body as {
        node: string
        timeoutMs: number
        nodes: Array<{ _tag: string; node: string; snapshot: { node: { name: string } } }>
      }
      assert.strictEqual(body.node, "a")
      assert.strictEqual(body.timeoutMs, 2000)
      assert.deepStrictEqual(
        body.nodes.map((entry) => [entry.node, entry._tag, entry.snapshot.node.name]),
        [
          ["a", "Answered", "a"],
          ["b", "Answered", "b"]
        ]
      )
      const top = yield* request(`${a.url}/observer/cluster?top=3&sort=mailbox`)
      assert.strictEqual(top.status, 200)
      const topBody = top.body as {
        by: string
        limit: number
        nodes: Array<{ node: string; processes: Array<unknown> }>
      }
      assert.strictEqual(topBody.by, "mailbox")
      assert.strictEqual(topBody.limit, 3)
      assert.deepStrictEqual(
        topBody.nodes.map((entry) => entry.node),
        ["a", "b"]
      )
      const limited = yield* request(`${a.url}/observer/cluster?processes=1`)
      const limitedBody = limited.body as { nodes: Array<{ snapshot: { processes: Array<unknown> } }> }
      for (const entry of limitedBody.nodes) assert.strictEqual(entry.snapshot.processes.length, 1)
      assert.strictEqual((yield* request(`${a.url}/observer/cluster?processes=20000`)).status, 200)
      // More than fits in one message between nodes is refused before anything is asked.
      for (const query of ["processes=all", "processes=20001"]) {
        const tooMany = yield* request(`${a.url}/observer/cluster?${query}`)
        assert.strictEqual(tooMany.status, 400, query)
        assert.match((tooMany.body as { message: string }).message, /processes must be at most 20000/, query)
      }
      for (const query of ["timeout=0", "timeout=soon", "processes=-1", "processes=many", "top=3&sort=up"]) {
        const bad = yield* request(`${a.url}/observer/cluster?${query}`)
        assert.strictEqual(bad.status, 400, query)
      }
    })
  )

  it.live("GET /observer/cluster names a node that went down, with its reason, in the JSON", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" }, { http: {} })
      const scope = yield* Scope.make()
      yield* observedNode({ nodeName: "b", seeds: [a.seed] }).pipe(Scope.provide(scope))
      yield* awaitNodesUp(a.cluster, ["b"])
      const downs = yield* clusterEvents(a.cluster)
      yield* Scope.close(scope, Exit.void)
      yield* downs((event) => event._tag === "NodeDown" && event.id === "b")
      const answer = yield* request(`${a.url}/observer/cluster`)
      assert.strictEqual(answer.status, 200)
      const nodes = (answer.body as { nodes: Array<{ _tag: string; node: string; reason?: string; message?: string }> })
        .nodes
      assert.deepStrictEqual(
        nodes.map((entry) => [entry.node, entry._tag, entry.reason]),
        [
          ["a", "Answered", undefined],
          ["b", "Unreachable", "node_down"]
        ]
      )
      assert.include(nodes[1]!.message, "graceful_shutdown")
    })
  )

  it.live(
    "GET /observer/process/<pid>: 200 for a live process (of this node or another), 404 for a dead one, 400 for a malformed pid",
    () =>
      Effect.gen(function* () {
        const a = yield* observedNode({ nodeName: "a" }, { http: {} })
        const b = yield* observedNode({ nodeName: "b", seeds: [a.seed] })
        yield* awaitNodesUp(a.cluster, ["b"])
        const local = yield* a.run(GenServer.start(kv, 10))
        const remote = yield* b.run(GenServer.start(kv, 10))

        const found = yield* request(`${a.url}/observer/process/${path(local)}`)
        assert.strictEqual(found.status, 200, found.text)
        // The printed form without brackets, as typed on a command line.
        const bare = `${local.node}.${local.id}.${local.incarnation}`
        assert.strictEqual((yield* request(`${a.url}/observer/process/${bare}`)).status, 200)
        const there = yield* request(`${a.url}/observer/process/${path(remote)}`)
        assert.strictEqual(there.status, 200, there.text)

        yield* a.run(GenServer.stop(local))
        const dead = yield* request(`${a.url}/observer/process/${path(local)}`)
        assert.strictEqual(dead.status, 404)
        assert.strictEqual((dead.body as { error: string }).error, "NoProcess")
        const stale = Pid.make(remote.node, remote.id, remote.incarnation + 1)
        assert.strictEqual((yield* request(`${a.url}/observer/process/${path(stale)}`)).status, 404)

        for (const malformed of ["nonsense", "%3Ca.1%3E", "a.x.1", "%3Ca.1.1"]) {
          const bad = yield* request(`${a.url}/observer/process/${malformed}`)
          assert.strictEqual(bad.status, 400, malformed)
          assert.strictEqual((bad.body as { error: string }).error, "MalformedPid", malformed)
        }

        const unreachable = yield* request(`${a.url}/observer/process/${path(Pid.make("ghost", 1, 1))}`)
        assert.strictEqual(unreachable.status, 503)
        assert.strictEqual((unreachable.body as { error: string }).error, "ProcessUnreachable")
      })
  )

  it.live("read-only by default: without a kill token, POST /observer/process/<pid>/kill does not exist", () =>
    Effect.gen(function* () {
      const a = yield* observedNode({ nodeName: "a" }, { http: {} })
      const server = yield* a.run(GenServer.start(kv, 10))
      const answer = yield* request(`${a.url}/observer/process/${path(server)}/kill`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` }
      })
      assert.strictEqual(answer.status, 404)
      assert.isTrue(yield* a.run(Process.isAlive(server)))
    })
  )

  it.live(
    "with a token, the kill route needs it (401 without it or with another one) and kills a live local process",
    () =>
      Effect.gen(function* () {
        const logLines: Array<string> = []
        const a = yield* observedNode({ nodeName: "a" }, { http: { kill: { token: Redacted.make(TOKEN) } }, logLines })
        const b = yield* observedNode({ nodeName: "b", seeds: [a.seed] })
        yield* awaitNodesUp(a.cluster, ["b"])
        const server = yield* a.run(GenServer.start(kv, 10))
        const kill = (pid: string, authorization?: string) =>
          request(`${a.url}/observer/process/${pid}/kill`, {
            method: "POST",
            headers: authorization === undefined ? {} : { authorization }
          })

        for (const authorization of [
          undefined,
          "Bearer wrong-token",
          `Bearer ${TOKEN}x`,
          `Basic ${TOKEN}`,
          TOKEN,
          "Bearer"
        ]) {
          const refused = yield* kill(path(server), authorization)
          assert.strictEqual(refused.status, 401, String(authorization))
          assert.strictEqual(refused.headers.get("www-authenticate"), 'Bearer realm="observer"')
          assert.notInclude(refused.text, TOKEN)
        }
        // Checked before the pid: an unauthenticated caller learns nothing about it.
        assert.strictEqual((yield* kill("nonsense")).status, 401)
        assert.isTrue(yield* a.run(Process.isAlive(server)))

        const authorization = `Bearer ${TOKEN}`
        assert.strictEqual((yield* kill("nonsense", authorization)).status, 400)
        const remote = yield* b.run(GenServer.start(kv, 10))
        assert.strictEqual((yield* kill(path(remote), authorization)).status, 404, "a pid of another node")
        assert.isTrue(yield* b.run(Process.isAlive(remote)))

        const monitor = yield* a.run(Effect.forkChild(Process.awaitExit(server)))
        const killed = yield* kill(path(server), authorization)
        assert.strictEqual(killed.status, 200, killed.text)
        assert.deepStrictEqual(killed.body, { killed: String(server) })
        const reason = yield* Fiber.join(monitor).pipe(Effect.timeout(5000))
        assert.strictEqual(reason._tag, "Killed")
        assert.strictEqual((yield* kill(path(server), `bearer   ${TOKEN}`)).status, 404, "dead by then")
        // The kill is logged, with the pid; the token never is.
        assert.isTrue(
          logLines.some((line) => line.includes("process killed over HTTP") && line.includes(String(server)))
        )
        for (const line of logLines) assert.notInclude(line, TOKEN)
      })
  )
})
