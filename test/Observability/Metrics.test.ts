/**
 * The node's metrics, read from a live node's `/metrics` as Prometheus renders them: what a call
 * counts, that labels never carry a pid, and that Prometheus's own linter accepts the text.
 */
import { spawnSync } from "node:child_process"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import {
  AlertManager,
  GenServer,
  HttpEndpoint,
  Metrics,
  Observer,
  ProcessRuntime,
  Protocol,
  RuntimeMetrics
} from "../../src/index.ts"
import { engineOf, NODE } from "../../src/Observability/internal/alertEngine.ts"
import { activity, openReader } from "../../src/Observability/internal/eventLoopMonitor.ts"
import { awaitNodesUp } from "../support/clusterHarness.ts"
import { Kv, KvSpec as KvSpecRef } from "../support/distHarness.ts"
import { httpGet, observedNode, sample } from "../support/observedNode.ts"
import { eventually } from "../support/transportHarness.ts"

const Echo = Protocol.make({
  Echo: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
  Fail: Protocol.call({ success: Schema.Number, error: Schema.String })
})

const echo = GenServer.behaviour(Echo)({
  name: "echo",
  init: () => Effect.succeed(0),
  handleCall: {
    Echo: ({ n }, state) => Effect.succeed(GenServer.reply(n, state)),
    Fail: () => Effect.fail("no")
  }
})

const localNode = Layer.mergeAll(Metrics.layer(), Metrics.layerHttp).pipe(
  Layer.provideMerge(HttpEndpoint.layer()),
  Layer.provideMerge(ProcessRuntime.layer({ node: "local" })),
  Layer.provideMerge(Metrics.layerRegistry)
)

const scrape = Effect.flatMap(Effect.service(HttpEndpoint.HttpEndpoint), (endpoint) =>
  httpGet(`http://127.0.0.1:${endpoint.port}/metrics`)
)

/** Every label value of every sample line. */
const labelValues = (text: string): Array<string> =>
  text
    .split("\n")
    .filter((line) => line.length > 0 && !line.startsWith("#"))
    .flatMap((line) => [...line.matchAll(/="((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]!))

describe("Metrics", () => {
  it.effect("a local call counts in the calls, the messages handled by its behaviour, and its failures by reason", () =>
    Effect.gen(function* () {
      const pid = yield* GenServer.start(echo, undefined)
      const before = (yield* scrape).body
      for (let i = 0; i < 64; i++) yield* GenServer.call(pid, Echo.Echo({ n: i }))
      yield* Effect.flip(GenServer.call(pid, Echo.Fail()))
      const { body, contentType } = yield* scrape
      assert.strictEqual(contentType, "text/plain; version=0.0.4; charset=utf-8")
      assert.strictEqual(sample(body, "effect_otp_calls_total")! - sample(before, "effect_otp_calls_total")!, 65)
      assert.strictEqual(sample(body, "effect_otp_messages_handled_total", 'behaviour="echo"'), 65)
      assert.strictEqual(sample(body, "effect_otp_call_failures_total", 'reason="error"'), 1)
      // One call in 16 is timed: 65 calls give at least 4 observations.
      assert.isAtLeast(sample(body, "effect_otp_call_duration_seconds_count")!, 4)
      assert.strictEqual(sample(body, "effect_otp_processes", 'kind="gen_server"'), 1)
      assert.strictEqual(sample(body, "effect_otp_spawns_total"), 1)
      yield* GenServer.stop(pid)
      const after = (yield* scrape).body
      assert.strictEqual(sample(after, "effect_otp_exits_total", 'reason="normal"'), 1)
      assert.strictEqual(sample(after, "effect_otp_processes", 'kind="gen_server"'), 0)
    }).pipe(Effect.provide(localNode))
  )

  it.effect("no label carries a pid, whatever the number of processes", () =>
    Effect.gen(function* () {
      const pids = yield* Effect.forEach(Array.from({ length: 50 }), () => GenServer.start(echo, undefined))
      for (const pid of pids) yield* GenServer.call(pid, Echo.Echo({ n: 1 }))
      const { body } = yield* scrape
      const values = labelValues(body)
      assert.isAbove(values.length, 0)
      for (const value of values) assert.notMatch(value, /<[^>]*\.\d+\.\d+>|^\d+\.\d+\.\d+$/, `label value ${value}`)
      assert.strictEqual(sample(body, "effect_otp_processes", 'kind="gen_server"'), 50)
      assert.strictEqual(
        body.split("\n").filter((line) => line.startsWith("effect_otp_messages_handled_total")).length,
        1
      )
    }).pipe(Effect.provide(localNode))
  )

  it.live(
    "promtool check metrics passes on a live node's /metrics, with remote traffic, nodes up and per-peer frames",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const a = yield* observedNode({ nodeName: "ma" })
          const b = yield* observedNode({ nodeName: "mb", seeds: [a.seed] })
          yield* awaitNodesUp(a.cluster, ["mb"], 10_000)
          yield* awaitNodesUp(b.cluster, ["ma"], 10_000)
          const { pid } = yield* b.run(a.distribution.spawn("mb", KvSpecRef, 0, { timeout: "5 seconds" }))
          for (let i = 0; i < 10; i++) yield* a.run(GenServer.call(pid, Kv.Get({ key: "k" })))
          yield* a.run(a.distribution.syncMetrics)
          const { body } = yield* httpGet(a.metricsUrl)
          assert.strictEqual(sample(body, "effect_otp_cluster_nodes_up"), 1)
          assert.strictEqual(sample(body, "effect_otp_cluster_status", 'status="running"'), 1)
          assert.strictEqual(sample(body, "effect_otp_remote_calls_total"), 10)
          assert.strictEqual(sample(body, "effect_otp_remote_call_duration_seconds_count"), 10)
          assert.isAtLeast(sample(body, "effect_otp_transport_frames_sent_total", 'peer="mb"')!, 11)
          assert.isAbove(sample(body, "effect_otp_transport_received_bytes_total", 'peer="mb"')!, 0)
          assert.strictEqual(sample(body, "effect_otp_cluster_node_events_total", 'event="up",reason="joined"'), 1)
          assert.isAbove(sample(body, "process_resident_memory_bytes")!, 0)
          assert.isDefined(sample(body, "nodejs_eventloop_lag_p99_seconds"))
          assert.isDefined(sample(body, "nodejs_gc_duration_seconds_count", 'kind="major"'))
          // Heartbeats (every 100 ms here) echo each other's timestamps: a round trip per peer.
          const withRoundTrip = yield* eventually(
            Effect.map(httpGet(a.metricsUrl), (response) => response.body),
            (text) => (sample(text, "effect_otp_cluster_heartbeat_rtt_seconds_count", 'peer="mb"') ?? 0) >= 2
          )
          const roundTripSum = sample(withRoundTrip, "effect_otp_cluster_heartbeat_rtt_seconds_sum", 'peer="mb"')!
          assert.isAbove(roundTripSum, 0)
          assert.isBelow(roundTripSum, 10)
          const check = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8" })
          assert.strictEqual(check.status, 0, `promtool: ${check.stdout}${check.stderr}`)
        })
      ),
    30_000
  )
})

/** Blocks the event loop for `ms` milliseconds (the input under test), then lets the timers run. */
const blockLoop = (ms: number) =>
  Effect.flatMap(
    Effect.sync(() => {
      const until = performance.now() + ms
      while (performance.now() < until) {
        // busy: the blocked loop is the input under test
      }
    }),
    () => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))
  )

describe("the event-loop delay sampler", () => {
  it.live("a node with runtime metrics, the Observer and the AlertManager runs one sampler; each sees a block", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(activity(), { samplers: 0, readers: 0 })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(
            Layer.mergeAll(
              RuntimeMetrics.layer({ sampleInterval: "20 millis" }),
              Observer.layer,
              // No periodic sweep during the test: sampleNow reads the interval.
              AlertManager.layer({ sampleInterval: "1 hour", kinds: ["event_loop_delay"] })
            ).pipe(
              Layer.provideMerge(ProcessRuntime.layer({ node: "loop" })),
              Layer.provideMerge(Metrics.layerRegistry)
            )
          )
          // One timer for the three readers (before: three monitorEventLoopDelay timers).
          assert.deepStrictEqual(activity(), { samplers: 1, readers: 3 })
          yield* Effect.gen(function* () {
            yield* blockLoop(150)
            // The Observer's first reading covers the interval since it started.
            const snapshot = yield* Observer.snapshot
            assert.isAtLeast(snapshot.node.eventLoop.delayMaxMs, 140, "Observer")
            // The runtime metrics' refreshes reset their own view only.
            const body = yield* eventually(Metrics.render, (text) => {
              const max = sample(text, "nodejs_eventloop_lag_max_seconds")
              return max !== undefined && max >= 0.14
            })
            assert.isAtLeast(sample(body, "nodejs_eventloop_lag_max_seconds")!, 0.14, "RuntimeMetrics")
            yield* AlertManager.sampleNow
            const manager = yield* AlertManager.AlertManager
            const baseline = engineOf(manager).baseline(NODE, "event_loop_delay")
            assert.strictEqual(baseline?.count, 1)
            assert.isAtLeast(baseline!.mean, 140, "AlertManager")
          }).pipe(Effect.provide(context))
        })
      )
      assert.deepStrictEqual(activity(), { samplers: 0, readers: 0 })
    })
  )

  it.live("a block right after a reader opens or resets is recorded (monitorEventLoopDelay drops that tick)", () =>
    Effect.acquireUseRelease(
      Effect.sync(openReader),
      (reader) =>
        Effect.gen(function* () {
          yield* blockLoop(100)
          assert.isAtLeast(reader.histogram.max / 1e6, 95)
          reader.histogram.reset()
          yield* blockLoop(100)
          assert.isAtLeast(reader.histogram.count, 1)
          assert.isAtLeast(reader.histogram.max / 1e6, 95)
        }),
      (reader) => Effect.sync(reader.close)
    )
  )
})
