/**
 * Spans of the operations that are not calls or casts: remote sends, stops and spawns carry the
 * caller's trace context to the other node, whose spans are its children; local spawns make an
 * INTERNAL span; node up and down are short root spans. Two nodes on loopback, each with a
 * recording tracer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope, Tracer } from "effect"
import { GenServer, Process, RemoteName } from "../../src/index.ts"
import { awaitNodesUp } from "../support/clusterHarness.ts"
import { distNode, kv, KvSpec } from "../support/distHarness.ts"
import { eventually } from "../support/transportHarness.ts"

interface Recorded {
  readonly name: string
  readonly kind: Tracer.SpanKind
  readonly parent: string | undefined
  readonly span: Tracer.Span
}

/** A tracer that keeps every span it makes (Effect's native spans). */
const recorder = () => {
  const spans: Array<Recorded> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = Tracer.nativeTracer.span(options)
      spans.push({
        name: options.name,
        kind: options.kind,
        parent: Option.getOrUndefined(Option.map(options.parent, (parent) => parent.spanId)),
        span
      })
      return span
    }
  })
  return { spans, tracer }
}

const ended = (spans: ReadonlyArray<Recorded>, name: string, kind: Tracer.SpanKind) =>
  spans.find((entry) => entry.name === name && entry.kind === kind && entry.span.status._tag === "Ended")

/** Waits until a span with that name and kind has ended, and returns it. */
const awaitSpan = (spans: ReadonlyArray<Recorded>, name: string, kind: Tracer.SpanKind) =>
  eventually(
    Effect.sync(() => ended(spans, name, kind)),
    (found) => found !== undefined
  ).pipe(Effect.map((found) => found!))

const attribute = (entry: Recorded, key: string) => entry.span.attributes.get(key)

describe("tracing of sends, stops, spawns and membership", () => {
  it.live(
    "a remote send, a remote spawn, a remote stop and a local spawn inside a span are one trace, each remote side a child of its caller",
    () =>
      Effect.gen(function* () {
        const { spans, tracer } = recorder()
        const a = yield* distNode({ nodeName: "a" }).pipe(Effect.withTracer(tracer))
        const b = yield* distNode({ nodeName: "b", seeds: [a.seed] }).pipe(Effect.withTracer(tracer))
        yield* awaitNodesUp(a.cluster, ["b"])
        yield* awaitNodesUp(b.cluster, ["a"])
        yield* b.run(GenServer.start(kv, 10, { name: "inbox" }))

        const local = yield* a.run(
          Effect.gen(function* () {
            yield* Process.send(RemoteName.make("inbox", "b"), "hello")
            const { pid } = yield* a.distribution.spawn("b", KvSpec, 5, { name: "spawned" })
            yield* GenServer.stop(pid)
            return yield* GenServer.start(kv, 1)
          }).pipe(Effect.withSpan("client request"), Effect.withTracer(tracer))
        )

        const root = (yield* awaitSpan(spans, "client request", "internal")).span
        const childOf = (entry: Recorded, parent: Tracer.Span, what: string) => {
          assert.strictEqual(entry.parent, parent.spanId, `${what}: parent`)
          assert.strictEqual(entry.span.traceId, root.traceId, `${what}: trace`)
        }

        // Send: PRODUCER on a, a `receive` CONSUMER on b, its child.
        const send = yield* awaitSpan(spans, "send inbox", "producer")
        const receive = yield* awaitSpan(spans, "receive inbox", "consumer")
        childOf(send, root, "send")
        childOf(receive, send.span, "receive")
        assert.strictEqual(attribute(send, "messaging.destination.name"), "inbox")
        assert.strictEqual(attribute(receive, "effect_otp.node"), "b")
        assert.strictEqual(attribute(receive, "effect_otp.peer.node"), "a")

        // Remote spawn: CLIENT on a, SERVER on b, both with the new pid.
        const spawnClient = yield* awaitSpan(spans, "spawn kv", "client")
        const spawnServer = yield* awaitSpan(spans, "spawn kv", "server")
        childOf(spawnClient, root, "spawn client")
        childOf(spawnServer, spawnClient.span, "spawn server")
        const spawnedPid = attribute(spawnClient, "effect_otp.pid")
        assert.isString(spawnedPid)
        assert.strictEqual(attribute(spawnServer, "effect_otp.pid"), spawnedPid)
        assert.strictEqual(attribute(spawnServer, "effect_otp.behaviour"), "kv")
        assert.strictEqual(attribute(spawnServer, "effect_otp.registered_name"), "spawned")
        assert.strictEqual(attribute(spawnServer, "effect_otp.node"), "b")

        // Remote stop: CLIENT on a, SERVER on b (from the request to the server's exit).
        const stopClient = yield* awaitSpan(spans, "GenServer.stop", "client")
        const stopServer = yield* awaitSpan(spans, "GenServer.stop", "server")
        childOf(stopClient, root, "stop client")
        childOf(stopServer, stopClient.span, "stop server")
        assert.strictEqual(attribute(stopServer, "effect_otp.pid"), spawnedPid)

        // Local spawn: an INTERNAL span with the node, pid and behaviour.
        const localSpawn = spans.find(
          (entry) =>
            entry.name === "spawn gen_server" &&
            entry.kind === "internal" &&
            attribute(entry, "effect_otp.pid") === String(local)
        )
        assert.isDefined(localSpawn)
        childOf(localSpawn!, root, "local spawn")
        assert.strictEqual(attribute(localSpawn!, "effect_otp.node"), "a")
        assert.strictEqual(attribute(localSpawn!, "effect_otp.behaviour"), "gen_server")
      })
  )

  it.live("outside any span, sends, spawns and stops to a node that runs no tracer stay untraced there", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recorder()
      const a = yield* distNode({ nodeName: "a" }).pipe(Effect.withTracer(tracer))
      const b = yield* distNode({ nodeName: "b", seeds: [a.seed] })
      yield* awaitNodesUp(a.cluster, ["b"])
      yield* awaitNodesUp(b.cluster, ["a"])
      yield* b.run(GenServer.start(kv, 10, { name: "inbox" }))
      yield* a.run(
        Effect.gen(function* () {
          yield* Process.send(RemoteName.make("inbox", "b"), "hello")
          const { pid } = yield* a.distribution.spawn("b", KvSpec, 5)
          yield* GenServer.stop(pid)
        }).pipe(Effect.withTracer(tracer))
      )
      // What crosses nodes starts a trace on a (TraceRoots "remote"); b, without a tracer, makes none.
      yield* awaitSpan(spans, "send inbox", "producer")
      const client = yield* awaitSpan(spans, "spawn kv", "client")
      assert.isUndefined(client.parent)
      yield* awaitSpan(spans, "GenServer.stop", "client")
      assert.isUndefined(spans.find((entry) => entry.kind === "server" || entry.kind === "consumer"))
    })
  )

  it.live("node up and node down are short root spans with the peer and the reason", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recorder()
      const a = yield* distNode({ nodeName: "a" }).pipe(Effect.withTracer(tracer))
      const scopeB = yield* Scope.make()
      yield* distNode({ nodeName: "b", seeds: [a.seed] }).pipe(Scope.provide(scopeB))
      yield* awaitNodesUp(a.cluster, ["b"])
      const up = yield* awaitSpan(spans, "node_up", "internal")
      assert.isUndefined(up.parent)
      assert.strictEqual(attribute(up, "effect_otp.node"), "a")
      assert.strictEqual(attribute(up, "effect_otp.peer.node"), "b")
      assert.isNumber(attribute(up, "effect_otp.peer.incarnation"))
      yield* Scope.close(scopeB, Exit.void)
      const down = yield* awaitSpan(spans, "node_down", "internal")
      assert.isUndefined(down.parent)
      assert.strictEqual(attribute(down, "effect_otp.peer.node"), "b")
      assert.strictEqual(attribute(down, "effect_otp.reason"), "graceful_shutdown")
    })
  )
})
