/**
 * `Node.runMain` in real child processes: configuration errors, the graceful shutdown on SIGTERM
 * (readiness, refusal, drain, goodbye, exit code 0), the forced exit on a second signal, and a
 * defect's exit code. The test process is the peer node.
 */
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { GenServer, ProcessErrors, RemoteName } from "../../src/index.ts"
import { ChildProgram } from "../support/childNode.ts"
import { awaitNodesUp, clusterEvents } from "../support/clusterHarness.ts"
import { distNode, Kv } from "../support/distHarness.ts"
import { Gate, Opener } from "../support/nodeMainProtocol.ts"
import { startOtlpReceiver } from "../support/otlpReceiver.ts"

const script = Path.join(import.meta.dirname, "..", "support", "nodeMainProcess.ts")

interface NodeEvent {
  readonly _tag: string
  readonly clusterPort?: number
  readonly healthPort?: number
}

/** The node program, with every line of its standard output kept (JSON log records and EVENT lines). */
class NodeProgram extends ChildProgram<NodeEvent> {
  readonly lines: Array<string> = []
  private lineWaiters: Array<{ pattern: RegExp; wake: () => void }> = []
  constructor(mode: string, env: Record<string, string>) {
    // The parent's environment, minus what would configure the child by accident.
    super(script, [mode], env)
    let buffered = ""
    this.process.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      for (const line of lines) {
        this.lines.push(line)
        const woken = this.lineWaiters.filter((waiter) => waiter.pattern.test(line))
        this.lineWaiters = this.lineWaiters.filter((waiter) => !woken.includes(waiter))
        for (const waiter of woken) waiter.wake()
      }
    })
  }

  /** The messages of its JSON log records, in order. */
  get messages(): ReadonlyArray<string> {
    return this.lines.flatMap((line) => {
      if (!line.startsWith("{")) return []
      const record = JSON.parse(line) as { message: unknown }
      return [Array.isArray(record.message) ? record.message.join(" ") : String(record.message)]
    })
  }

  /** Waits for an output line matching `pattern` (already printed or future). */
  awaitLine(pattern: RegExp, ms = 10_000) {
    return Effect.callback<void, Error>((resume) => {
      if (this.lines.some((line) => pattern.test(line))) return resume(Effect.void)
      const waiter = { pattern, wake: () => resume(Effect.void) }
      this.lineWaiters.push(waiter)
      return Effect.sync(() => {
        this.lineWaiters = this.lineWaiters.filter((w) => w !== waiter)
      })
    }).pipe(
      Effect.timeout(ms),
      Effect.mapError(() => new Error(`no line matching ${pattern} within ${ms} ms; output:\n${this.lines.join("\n")}`))
    )
  }

  get exit() {
    return Effect.promise(() => this.exited)
  }
}

/** Unset in the child unless a test gives them: the parent's own environment must not configure it. */
const cleared = Object.fromEntries(
  [
    "NODE_NAME",
    "CLUSTER_HOST",
    "CLUSTER_PORT",
    "CLUSTER_ADVERTISE_HOST",
    "CLUSTER_SEEDS",
    "CLUSTER_DNS_SERVERS",
    "CLUSTER_SECRET",
    "CLUSTER_SECRET_FILE",
    "CLUSTER_INSECURE",
    "HEALTH_HOST",
    "HEALTH_PORT",
    "LOG_LEVEL",
    "SHUTDOWN_DRAIN_MS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER"
  ].map((name) => [name, ""])
)

const nodeEnv = (env: Record<string, string> = {}) => ({
  ...cleared,
  NODE_NAME: "a",
  CLUSTER_HOST: "127.0.0.1",
  CLUSTER_PORT: "0",
  CLUSTER_SECRET: "dist-test",
  HEALTH_HOST: "127.0.0.1",
  HEALTH_PORT: "0",
  HEARTBEAT_INTERVAL_MS: "200",
  LOG_FORMAT: "json",
  ...env
})

/** Starts the node program in the scope (killed when it closes). */
const start = (mode: string, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => new NodeProgram(mode, env)),
    (child) => Effect.promise(() => child.stop())
  )

/** Starts a serving node `a` and a peer `b` (this process) connected to it. */
const servingPair = (env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const child = yield* start("serve", nodeEnv(env))
    const ready = yield* child.awaitEvent((event) => event._tag === "Ready", 20_000)
    const b = yield* distNode({ nodeName: "b", seeds: [`a@127.0.0.1:${ready.clusterPort}`] })
    yield* awaitNodesUp(b.cluster, ["a"], 10_000)
    return { child, b, healthPort: ready.healthPort! }
  })

const get = (port: number, path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: response.status, body: await response.text() }
  })

const phases = ["mark-stopping", "refuse-new-work", "drain", "stop-applications", "leave-cluster", "flush-telemetry"]

describe("Node.runMain", () => {
  it.live(
    "SIGTERM: readiness 503, new calls refused, the in-flight call drained, peers see graceful_shutdown, phases logged in order, exit 0",
    () =>
      Effect.gen(function* () {
        const { child, b, healthPort } = yield* servingPair()
        assert.strictEqual((yield* get(healthPort, "/ready")).status, 200)
        const events = yield* clusterEvents(b.cluster)

        // A call in flight on a when the signal comes.
        const inFlight = yield* Effect.forkChild(
          b.run(GenServer.call(RemoteName.make("gate", "a"), Gate.Pass(), { timeout: 20_000 }))
        )
        yield* child.awaitEvent((event) => event._tag === "Entered")
        child.signal("SIGTERM")
        yield* child.awaitLine(/shutdown phase 3\/6 drain: started/)

        // Draining: not ready any more, and new calls from other nodes are refused at once.
        const readiness = yield* get(healthPort, "/ready")
        assert.strictEqual(readiness.status, 503)
        assert.include(readiness.body, "stopping")
        const refused = yield* Effect.flip(b.run(GenServer.call(RemoteName.make("store", "a"), Kv.Whoami())))
        assert.instanceOf(refused, ProcessErrors.NodeDown)
        assert.strictEqual((refused as ProcessErrors.NodeDown).reason, "stopping")
        assert.isTrue(b.cluster.transport.isLinkedUnsafe("a"))

        // The call in flight is answered; then the node leaves and exits 0.
        yield* b.run(GenServer.cast(RemoteName.make("opener", "a"), Opener.Open()))
        assert.strictEqual(yield* Fiber.join(inFlight), "passed")
        const down = yield* events((event) => event._tag === "NodeDown", 20_000)
        assert.strictEqual(down._tag === "NodeDown" ? down.reason : "", "graceful_shutdown")
        const exit = yield* child.exit
        assert.deepStrictEqual(exit, { code: 0, signal: null })

        // Each phase logged, in order, started then done.
        const logged = child.messages.filter((message) => message.startsWith("shutdown phase"))
        assert.deepStrictEqual(
          logged.map((message) => message.replace(/ \(timeout .*\)$| in [\d.]+ ms$/, "")),
          phases.flatMap((phase, i) => [
            `shutdown phase ${i + 1}/6 ${phase}: started`,
            `shutdown phase ${i + 1}/6 ${phase}: done`
          ])
        )
        assert.include(child.messages, "node a stopped")
        assert.isTrue(
          child.messages.some((message) => message.startsWith("received SIGTERM: shutting down gracefully"))
        )
        // The supervision tree stops in phase 4, its children in reverse start order.
        const messages = child.messages
        const phase4 = messages.findIndex((m) => m.startsWith("shutdown phase 4/6 stop-applications: started"))
        const phase4Done = messages.findIndex((m) => m.startsWith("shutdown phase 4/6 stop-applications: done"))
        const terminated = messages.flatMap((m, i) => (m.startsWith("terminated ") ? [[m, i] as const] : []))
        assert.deepStrictEqual(
          terminated.map(([m]) => m),
          ["terminated store", "terminated opener", "terminated gate"]
        )
        for (const [, i] of terminated) assert.isTrue(i > phase4 && i < phase4Done, messages.join("\n"))
      }),
    60_000
  )

  it.live(
    "the spans still batched at SIGTERM are exported before the exit (phase flush-telemetry)",
    () =>
      Effect.gen(function* () {
        const receiver = yield* Effect.acquireRelease(
          Effect.promise(() => startOtlpReceiver()),
          (receiver) => Effect.promise(() => receiver.close())
        )
        // Batches are held for a minute: only the shutdown's flush can send this one in time.
        const child = yield* start(
          "serve",
          nodeEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "60000" })
        )
        yield* child.awaitEvent((event) => event._tag === "Ready", 20_000)
        assert.strictEqual(receiver.spans.length, 0)
        child.signal("SIGTERM")
        assert.deepStrictEqual(yield* child.exit, { code: 0, signal: null })
        const span = receiver.spans.find((s) => s.name === "application started")
        assert.isDefined(span, JSON.stringify(receiver.spans.map((s) => s.name)))
        assert.match(String(span!.resource["service.instance.id"]), /^a#\d+$/)
        assert.include(child.messages, "shutdown phase 6/6 flush-telemetry: started (timeout 5s)")
      }),
    60_000
  )

  it.live(
    "a second SIGTERM during the drain exits at once with code 143",
    () =>
      Effect.gen(function* () {
        const { child, b } = yield* servingPair()
        yield* Effect.forkChild(
          Effect.ignore(b.run(GenServer.call(RemoteName.make("gate", "a"), Gate.Pass(), { timeout: 20_000 })))
        )
        yield* child.awaitEvent((event) => event._tag === "Entered")
        child.signal("SIGTERM")
        yield* child.awaitLine(/shutdown phase 3\/6 drain: started/)
        child.signal("SIGTERM")
        const exit = yield* child.exit
        assert.deepStrictEqual(exit, { code: 143, signal: null })
        assert.isTrue(
          child.messages.some((message) => message.startsWith("received SIGTERM again: exiting at once")),
          child.lines.join("\n")
        )
        assert.isFalse(child.messages.some((message) => message.includes("drain: done")))
      }),
    60_000
  )

  it.live(
    "a drain that outlasts SHUTDOWN_DRAIN_MS is cut: the shutdown goes on and the node exits 0",
    () =>
      Effect.gen(function* () {
        const { child, b } = yield* servingPair({ SHUTDOWN_DRAIN_MS: "300" })
        const events = yield* clusterEvents(b.cluster)
        const stuck = yield* Effect.forkChild(
          Effect.flip(b.run(GenServer.call(RemoteName.make("gate", "a"), Gate.Pass(), { timeout: 20_000 })))
        )
        yield* child.awaitEvent((event) => event._tag === "Entered")
        child.signal("SIGTERM")
        assert.deepStrictEqual(yield* child.exit, { code: 0, signal: null })
        assert.isTrue(
          child.messages.some((m) => /^shutdown phase 3\/6 drain: timed out after [\d.]+ ms; going on/.test(m)),
          child.lines.join("\n")
        )
        // The call that never got its answer fails when its server is stopped: its supervisor kills
        // it after its shutdown timeout (1 s) in phase 4. Not at the call's timeout.
        const error = yield* Fiber.join(stuck)
        assert.strictEqual(error._tag, "ServerExited")
        assert.strictEqual(error._tag === "ServerExited" ? error.reason._tag : "", "Killed")
        yield* events((event) => event._tag === "NodeDown" && event.reason === "graceful_shutdown", 10_000)
      }),
    60_000
  )

  it.live(
    "a defect escaping the application is logged with its cause, the node shuts down, exit code 1",
    () =>
      Effect.gen(function* () {
        const child = yield* start("defect", nodeEnv())
        const exit = yield* child.exit
        assert.deepStrictEqual(exit, { code: 1, signal: null }, child.lines.join("\n"))
        const failed = child.lines.find((line) => line.includes("node a failed; shutting down"))
        assert.isDefined(failed, child.lines.join("\n"))
        assert.include(failed!, "boom in the application")
        assert.include(child.messages, "shutdown phase 6/6 flush-telemetry: started (timeout 5s)")
        assert.include(child.messages, "node a stopped")
      }),
    60_000
  )

  it.live(
    "an invalid configuration is refused with one message naming every bad variable, exit code 1",
    () =>
      Effect.gen(function* () {
        const child = yield* start(
          "serve",
          nodeEnv({ NODE_NAME: "", CLUSTER_PORT: "http", CLUSTER_SECRET: "", HEALTH_PORT: "-1", LOG_LEVEL: "loud" })
        )
        const exit = yield* child.exit
        assert.deepStrictEqual(exit, { code: 1, signal: null })
        const records = child.lines.filter((line) => line.startsWith("{"))
        assert.strictEqual(records.length, 1, child.lines.join("\n"))
        const record = JSON.parse(records[0]!) as { level: string; message: string }
        assert.strictEqual(record.level, "ERROR")
        assert.strictEqual(
          record.message,
          "invalid node configuration (5 problems): " +
            "NODE_NAME: is not set (every node needs a name); " +
            'CLUSTER_PORT: "http" is not a port number (an integer from 0 to 65535); ' +
            "CLUSTER_SECRET: no cluster secret: set CLUSTER_SECRET or CLUSTER_SECRET_FILE (the same on every node), or CLUSTER_INSECURE=true to run without authentication nor encryption; " +
            'HEALTH_PORT: "-1" is not a port number (an integer from 0 to 65535); ' +
            'LOG_LEVEL: "loud" is not one of all, trace, debug, info, warn, error, fatal, none (any case)'
        )
        assert.isFalse(child.events.some((event) => event._tag === "Ready"))
      }),
    60_000
  )
})
