/**
 * `npm start`: the demo cluster. Three node processes of the demo entrypoint (`src/demo/node.ts`,
 * the program the Docker image runs as `dist/demo/node.js`) on loopback, each with its own cluster
 * and health port, a freshly generated cluster secret, and the same (symmetric) seeds. node-0 runs
 * the job queue and spawns a worker on node-1 and node-2; this launcher reads the nodes' JSON logs
 * and tells what happens: the nodes joining, the remote workers and the latency of their typed
 * calls, node-2 killed, NodeDown with its reason, its job moving to node-1, node-2 rejoining. Then
 * it prints the URLs of every node and keeps the cluster running until Ctrl-C, which stops the three
 * nodes gracefully (SIGTERM, then their exit codes).
 *
 * Options: `--once` (or `DEMO_ONCE=1`) stops the cluster after the story; `--dist` runs the built
 * entrypoint (`dist/demo/node.js`, after `npm run build`) instead of the sources through tsx.
 * No external service.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createServer } from "node:net"
import * as Path from "node:path"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Duration, Effect, Exit, Runtime, Schedule } from "effect"

const root = Path.join(import.meta.dirname, "..")
const once = process.argv.includes("--once") || ["1", "true", "yes"].includes(process.env["DEMO_ONCE"] ?? "")
const useDist = process.argv.includes("--dist")
const host = "127.0.0.1"
const startedAt = Date.now()

/** One line of the story, with the time since the launcher started. */
const say = (line: string) =>
  Effect.sync(() => console.log(`${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s  ${line}`))

// --- The nodes' log records --------------------------------------------------------------------

/** A JSON log record of a node (see `Logging`), with the node process it came from. */
interface LogRecord {
  readonly from: string
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

const eventOf = (record: LogRecord): string | undefined => record.annotations["demo.event"] as string | undefined

/**
 * Every record of every node process, in arrival order, and the waiters on future ones, while the
 * story is told: {@link stop} then drops them and ignores what follows (the cluster may run until
 * Ctrl-C, its logs are not kept).
 */
class Records {
  readonly all: Array<LogRecord> = []
  private waiters: Array<{ readonly match: (record: LogRecord) => boolean; readonly wake: (r: LogRecord) => void }> = []
  private recording = true

  /** Whether records are still kept (the node processes skip parsing their lines otherwise). */
  get active(): boolean {
    return this.recording
  }

  push(record: LogRecord): void {
    if (!this.recording) return
    this.all.push(record)
    if (this.waiters.length === 0) return
    const woken = this.waiters.filter((waiter) => waiter.match(record))
    if (woken.length === 0) return
    this.waiters = this.waiters.filter((waiter) => !woken.includes(waiter))
    for (const waiter of woken) waiter.wake(record)
  }

  /** The story is told: forget the records and keep none from now on. */
  stop(): void {
    this.recording = false
    this.all.length = 0
    this.waiters = []
  }

  /** The first record from index `from` on that matches, waiting for it at most `timeout`. */
  await(what: string, match: (record: LogRecord) => boolean, from = 0, timeout: Duration.Input = "60 seconds") {
    return Effect.callback<LogRecord>((resume) => {
      for (let i = from; i < this.all.length; i++) {
        const record = this.all[i]!
        if (match(record)) return resume(Effect.succeed(record))
      }
      const waiter = { match, wake: (record: LogRecord) => resume(Effect.succeed(record)) }
      this.waiters.push(waiter)
      return Effect.sync(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
      })
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new Error(
              `the story stalled: ${what} did not happen within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
            )
          )
      })
    )
  }
}

// --- Node processes ------------------------------------------------------------------------------

interface NodeSpec {
  readonly name: string
  readonly clusterPort: number
  readonly healthPort: number
}

/** A port to listen on: `preferred` when it is free on loopback, otherwise any free one. */
const freePort = (preferred: number) =>
  Effect.callback<number>((resume) => {
    const tryListen = (port: number) => {
      const server = createServer()
      server.once("error", () => tryListen(0))
      server.listen(port, host, () => {
        const address = server.address()
        server.close(() =>
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : port))
        )
      })
    }
    tryListen(preferred)
  })

/** A node process: its spec, the child, the end of its stderr (for failure messages), and its exit. */
class NodeProcess {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  stderr = ""

  constructor(
    readonly spec: NodeSpec,
    env: Readonly<Record<string, string>>,
    records: Records
  ) {
    const entry = useDist
      ? [Path.join(root, "dist/demo/node.js")]
      : ["--import", "tsx", Path.join(root, "src/demo/node.ts")]
    this.child = spawn(process.execPath, entry, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: Ctrl-C reaches the launcher only, which stops each node with one SIGTERM.
      detached: true
    })
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => resolve(signal === null ? code : null))
    )
    let buffered = ""
    this.child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      for (const line of lines) {
        if (!records.active || !line.startsWith("{")) continue
        try {
          const json = JSON.parse(line) as Omit<LogRecord, "from">
          records.push({
            from: spec.name,
            level: json.level,
            message: json.message,
            annotations: json.annotations ?? {}
          })
        } catch {
          // Not a record: ignored.
        }
      }
    })
    this.child.stderr!.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000)
    })
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal)
  }
}

/** Polls `/ready` until it answers 200 (at most `timeout`); fails with the node's stderr if it exits. */
const awaitReady = (node: NodeProcess, timeout: Duration.Input = "90 seconds") =>
  Effect.gen(function* () {
    const url = `http://${host}:${node.spec.healthPort}/ready`
    yield* Effect.tryPromise(async () => {
      if (!node.running) throw new Error(`${node.spec.name} exited (${node.child.exitCode}): ${node.stderr}`)
      const response = await fetch(url)
      if (response.status !== 200) throw new Error(`${url}: ${response.status}`)
    }).pipe(
      Effect.retry({ schedule: Schedule.spaced("200 millis"), while: () => node.running }),
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new Error(
              `${node.spec.name} was not ready within ${Duration.format(Duration.fromInputUnsafe(timeout))}: ${node.stderr}`
            )
          )
      })
    )
  })

/** Sends SIGTERM to every running node, waits for their exits (SIGKILL after 20 s), returns the codes. */
const stopAll = (nodes: ReadonlyArray<NodeProcess>) =>
  Effect.promise(async () => {
    for (const node of nodes) node.signal("SIGTERM")
    const force = setTimeout(() => nodes.forEach((node) => node.signal("SIGKILL")), 20_000)
    const codes = await Promise.all(nodes.map((node) => node.exited))
    clearTimeout(force)
    return codes
  })

// --- The story ---------------------------------------------------------------------------------------

const latencies = (records: ReadonlyArray<LogRecord>) => {
  const values = records.map((record) => Number(record.annotations["latencyMs"])).sort((a, b) => a - b)
  const at = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0
  return `p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms over ${values.length} calls`
}

const story = Effect.gen(function* () {
  const records = new Records()
  const secret = randomBytes(24).toString("base64url")
  const specs: Array<NodeSpec> = []
  for (let i = 0; i < 3; i++) {
    specs.push({ name: `node-${i}`, clusterPort: yield* freePort(4370 + i), healthPort: yield* freePort(9464 + i) })
  }
  const seeds = specs.map((spec) => `${spec.name}@${host}:${spec.clusterPort}`).join(",")
  const envOf = (spec: NodeSpec): Record<string, string> => ({
    NODE_NAME: spec.name,
    CLUSTER_HOST: host,
    CLUSTER_PORT: String(spec.clusterPort),
    CLUSTER_SEEDS: seeds,
    CLUSTER_SECRET: secret,
    HEALTH_HOST: host,
    HEALTH_PORT: String(spec.healthPort),
    HEARTBEAT_INTERVAL_MS: "1000",
    RECONNECT_BASE_DELAY_MS: "200",
    RECONNECT_MAX_DELAY_MS: "2000",
    LOG_FORMAT: "json",
    LOG_LEVEL: "info"
  })
  const nodes = new Map<string, NodeProcess>()
  // Should the launcher die without running its finalizers, its nodes (in their own process groups) go too.
  process.once("exit", () => nodes.forEach((node) => node.signal("SIGKILL")))
  const start = (spec: NodeSpec) => Effect.sync(() => nodes.set(spec.name, new NodeProcess(spec, envOf(spec), records)))
  // However the launcher ends (Ctrl-C, a failure), the nodes are stopped.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      const running = [...nodes.values()].filter((node) => node.running)
      if (running.length === 0) return
      yield* say(`stopping ${running.map((node) => node.spec.name).join(", ")} (SIGTERM)`)
      const codes = yield* stopAll(running)
      yield* say(`exit codes: ${running.map((node, i) => `${node.spec.name} ${codes[i]}`).join(", ")}`)
    })
  )

  yield* say(
    `starting node-0 (dispatcher), node-1 and node-2 (workers) on ${host}: ${useDist ? "dist/demo/node.js" : "src/demo/node.ts"}`
  )
  yield* say(`  a fresh cluster secret, the same seeds for all three: ${seeds}`)
  yield* Effect.forEach(specs, start)
  yield* Effect.forEach(
    specs,
    (spec) =>
      Effect.andThen(
        awaitReady(nodes.get(spec.name)!),
        say(`${spec.name} is ready (GET http://${host}:${spec.healthPort}/ready answers 200)`)
      ),
    { concurrency: "unbounded" }
  )
  // A full mesh is every node seeing both others up (node-0 seeing both says nothing about the
  // link between node-1 and node-2, which the failure below needs: a node never linked to node-2
  // sees no NodeDown for it).
  for (const watcher of ["node-0", "node-1", "node-2"]) {
    for (const peer of ["node-0", "node-1", "node-2"]) {
      if (peer === watcher) continue
      yield* records.await(
        `${watcher} seeing ${peer} up`,
        (r) => r.from === watcher && eventOf(r) === "node_up" && r.annotations["peer"] === peer
      )
    }
  }
  yield* say("every node sees the other two up: the three nodes are a full mesh")

  for (const worker of ["node-1", "node-2"]) {
    const started = yield* records.await(
      `a worker on ${worker}`,
      (r) => eventOf(r) === "worker_started" && r.annotations["worker"] === worker
    )
    yield* say(
      `node-0 spawned worker ${String(started.annotations["workerPid"])} on ${worker} (a remote spawn of a registered behaviour)`
    )
  }
  for (const worker of ["node-1", "node-2"]) {
    const done = yield* records.await(
      `a job done on ${worker}`,
      (r) => eventOf(r) === "job_done" && r.annotations["worker"] === worker
    )
    yield* say(`typed remote call: ${done.message}`)
  }
  // A few jobs on each before the failure.
  let doneOnNode2 = 0
  yield* records.await(
    "three jobs done on node-2",
    (r) => eventOf(r) === "job_done" && r.annotations["worker"] === "node-2" && ++doneOnNode2 === 3
  )
  const before = records.all.filter((r) => eventOf(r) === "job_done")
  yield* say(`${before.length} jobs done so far, remote call latency ${latencies(before)}`)

  const killedAt = records.all.length
  yield* say("killing node-2 (SIGKILL), in the middle of its work")
  nodes.get("node-2")!.signal("SIGKILL")
  for (const watcher of ["node-0", "node-1"]) {
    const down = yield* records.await(
      `${watcher} seeing node-2 down`,
      (r) => r.from === watcher && eventOf(r) === "node_down" && r.annotations["peer"] === "node-2",
      killedAt
    )
    yield* say(`${watcher}: NodeDown node-2, reason ${String(down.annotations["reason"])}`)
  }
  const moved = yield* records.await("a job moved back to the queue", (r) => eventOf(r) === "job_moved", killedAt)
  yield* say(moved.message)
  const retaken = yield* records.await(
    `job ${String(moved.annotations["job"])} done elsewhere`,
    (r) => eventOf(r) === "job_done" && r.annotations["job"] === moved.annotations["job"],
    killedAt
  )
  yield* say(`the work moved: ${retaken.message} (attempt ${String(retaken.annotations["attempt"])})`)

  const restartedAt = records.all.length
  yield* say("restarting node-2 with the same environment: it rejoins through its seeds")
  yield* start(specs[2]!)
  yield* awaitReady(nodes.get("node-2")!)
  const rejoined = yield* records.await(
    "node-0 seeing node-2 up again",
    (r) => r.from === "node-0" && eventOf(r) === "node_up" && r.annotations["peer"] === "node-2",
    restartedAt
  )
  yield* say(
    `node-0 sees node-2 up again (a new incarnation, ${String(rejoined.annotations["incarnation"])}); node-2 is ready`
  )
  const respawned = yield* records.await(
    "a new worker on node-2",
    (r) => eventOf(r) === "worker_started" && r.annotations["worker"] === "node-2",
    restartedAt
  )
  yield* say(`node-0 spawned a new worker ${String(respawned.annotations["workerPid"])} on node-2`)
  const back = yield* records.await(
    "a job done on node-2 again",
    (r) => eventOf(r) === "job_done" && r.annotations["worker"] === "node-2",
    restartedAt
  )
  yield* say(`node-2 works again: ${back.message}`)

  const done = records.all.filter((r) => eventOf(r) === "job_done")
  const byWorker = (worker: string) => done.filter((r) => r.annotations["worker"] === worker).length
  yield* say(
    `${done.length} jobs done (node-1: ${byWorker("node-1")}, node-2: ${byWorker("node-2")}), ${records.all.filter((r) => eventOf(r) === "job_moved").length} moved, latency ${latencies(done)}`
  )

  // The story is told: its records are no longer needed (the cluster may run for hours).
  records.stop()

  console.log("\nThe cluster:")
  for (const spec of specs) {
    const base = `http://${host}:${spec.healthPort}`
    console.log(
      `  ${spec.name}  cluster ${host}:${spec.clusterPort}  ${base}/health  ${base}/ready  ${base}/metrics  ${base}/observer`
    )
  }
  console.log(`  try: npm run cli -- status ${host}:${specs[0]!.healthPort}\n`)

  if (!once) {
    yield* say("the cluster keeps running; Ctrl-C stops the three nodes gracefully")
    return yield* Effect.never
  }
  yield* say("stopping the three nodes (SIGTERM)")
  const all = [...nodes.values()]
  const codes = yield* stopAll(all)
  yield* say(`exit codes: ${all.map((node, i) => `${node.spec.name} ${codes[i]}`).join(", ")}`)
  if (codes.some((code) => code !== 0)) return yield* Effect.fail(new Error("a node did not stop gracefully"))
  yield* say("done")
})

// Ctrl-C ends the launcher after the nodes stopped: exit 0 (runMain's default is 130).
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)

NodeRuntime.runMain(story.pipe(Effect.scoped), { teardown })
