/**
 * The demo application's workload: a supervised job queue. On the dispatcher node, a `jobs`
 * GenServer holds a bounded queue of jobs that a producer fills, and a placement process starts a
 * worker on every other node that joins (a remote spawn) together with a local driver that feeds
 * it jobs through typed remote calls. When a worker's node goes down, the call in flight fails at
 * once with `NodeDown`, the driver puts the job back at the head of the queue and stops, and the
 * remaining drivers take it: the work moves. When the node comes back, a new worker starts there.
 *
 * Every step is logged with a `demo.event` annotation (`node_up`, `node_down`, `worker_started`,
 * `job_done`, `job_moved`), which is how `npm start` tells the story from the nodes' JSON logs.
 *
 * @internal
 */
import { Clock, Effect, Schema, Stream } from "effect"
import * as BehaviourRegistry from "../../Cluster/BehaviourRegistry.ts"
import * as Cluster from "../../Cluster/Cluster.ts"
import * as Distribution from "../../Cluster/Distribution.ts"
import * as ExitReason from "../../Process/ExitReason.ts"
import * as GenServer from "../../Process/GenServer.ts"
import * as Pid from "../../Process/Pid.ts"
import * as Process from "../../Process/Process.ts"
import * as Protocol from "../../Process/Protocol.ts"
import * as Signal from "../../Process/Signal.ts"
import * as ChildSpec from "../../Supervisor/ChildSpec.ts"

/**
 * A job: count the primes below `input`. `attempt` counts how many times it was handed out.
 */
export class Job extends Schema.Class<Job>("effect-otp/demo/Job")({
  id: Schema.Number,
  input: Schema.Number,
  attempt: Schema.Number
}) {}

/**
 * What the dispatcher's queue reports: jobs queued, drivers waiting for one, done (in total and per worker node), moved
 * back to the queue after a worker was lost, and dropped because the queue was full.
 */
export class JobStats extends Schema.Class<JobStats>("effect-otp/demo/JobStats")({
  queued: Schema.Number,
  waiting: Schema.Number,
  done: Schema.Number,
  moved: Schema.Number,
  dropped: Schema.Number,
  byWorker: Schema.Record(Schema.String, Schema.Number)
}) {}

/**
 * The protocol of the dispatcher's `jobs` server. `Take` waits while the queue is empty (the
 * caller is answered when a job arrives), so a driver calls it with an infinite timeout; it names
 * the driver's pid, which the server monitors while it waits, so that a driver that dies waiting
 * is dropped instead of being handed (and losing) the next job.
 */
export const Jobs = Protocol.make({
  Submit: Protocol.cast({ payload: { input: Schema.Number } }),
  Take: Protocol.call({ payload: { worker: Schema.String, driver: Pid.Pid }, success: Job }),
  Complete: Protocol.cast({ payload: { id: Schema.Number, worker: Schema.String } }),
  Requeue: Protocol.cast({ payload: { job: Job } }),
  Stats: Protocol.call({ success: JobStats })
})

/**
 * The registered name of the `jobs` server on the dispatcher node.
 */
export const jobsName: GenServer.ServerName<typeof Jobs> = GenServer.name("jobs", Jobs)

/** The queue's bound: a job submitted to a full queue is dropped (and counted). */
const MAX_QUEUED = 1_000

/** A driver waiting in `Take`: its reply handle, and the monitor on its process. */
interface Taker {
  readonly from: GenServer.FromOf<typeof Jobs, "Take">
  readonly ref: Signal.MonitorRef
}

interface JobsState {
  readonly nextId: number
  readonly queue: Array<Job>
  readonly takers: Array<Taker>
  readonly done: number
  readonly moved: number
  readonly dropped: number
  readonly byWorker: Record<string, number>
}

/** Hands queued jobs to waiting takers, in order (a taker is no longer monitored once served). */
const match = (state: JobsState) =>
  Effect.gen(function* () {
    while (state.queue.length > 0 && state.takers.length > 0) {
      const job = state.queue.shift()!
      const taker = state.takers.shift()!
      yield* Effect.ignore(Process.demonitor(taker.ref, { flush: true }))
      yield* GenServer.replyTo(taker.from, new Job({ id: job.id, input: job.input, attempt: job.attempt + 1 }))
    }
    return state
  })

/**
 * The dispatcher's queue: jobs in, jobs out to whoever calls `Take` first, counts of what happened.
 */
export const jobs = GenServer.behaviour(Jobs)({
  name: "demo_jobs",
  init: () =>
    Effect.succeed<JobsState>({ nextId: 1, queue: [], takers: [], done: 0, moved: 0, dropped: 0, byWorker: {} }),
  handleCall: {
    Take: ({ driver }, state, from) =>
      Effect.gen(function* () {
        // A driver already gone is Down at once (noproc) and dropped in handleInfo.
        const ref = yield* Effect.orDie(Process.monitor(driver))
        return GenServer.noReply(yield* match({ ...state, takers: [...state.takers, { from, ref }] }))
      }),
    Stats: (_, state) =>
      Effect.succeed(
        GenServer.reply(
          new JobStats({
            queued: state.queue.length,
            waiting: state.takers.length,
            done: state.done,
            moved: state.moved,
            dropped: state.dropped,
            byWorker: { ...state.byWorker }
          }),
          state
        )
      )
  },
  handleCast: {
    Submit: ({ input }, state) => {
      if (state.queue.length >= MAX_QUEUED)
        return Effect.succeed(GenServer.noReply({ ...state, dropped: state.dropped + 1 }))
      const job = new Job({ id: state.nextId, input, attempt: 0 })
      return Effect.map(match({ ...state, nextId: state.nextId + 1, queue: [...state.queue, job] }), GenServer.noReply)
    },
    Requeue: ({ job }, state) =>
      Effect.map(match({ ...state, moved: state.moved + 1, queue: [job, ...state.queue] }), GenServer.noReply),
    Complete: ({ worker }, state) =>
      Effect.succeed(
        GenServer.noReply({
          ...state,
          done: state.done + 1,
          byWorker: { ...state.byWorker, [worker]: (state.byWorker[worker] ?? 0) + 1 }
        })
      )
  },
  // A driver that died (or whose node was lost) while waiting in Take: forget it.
  handleInfo: (message, state) =>
    Effect.succeed(
      GenServer.noReply(
        message instanceof Signal.Down
          ? { ...state, takers: state.takers.filter((taker) => taker.ref.id !== message.ref.id) }
          : state
      )
    )
})

// --- Workers ---------------------------------------------------------------------------------

/**
 * A worker's answer: the job, the result, and the node that computed it.
 */
export class WorkResult extends Schema.Class<WorkResult>("effect-otp/demo/WorkResult")({
  id: Schema.Number,
  primes: Schema.Number,
  node: Schema.String
}) {}

/**
 * The protocol of a worker: one call, `Work`, answered with the job's result.
 */
export const Worker = Protocol.make({
  Work: Protocol.call({ payload: { job: Job }, success: WorkResult })
})

/** Counts the primes below `n` (a sieve: about a millisecond for 100,000). */
const countPrimes = (n: number): number => {
  const composite = new Uint8Array(Math.max(n, 2))
  let count = 0
  for (let i = 2; i < n; i++) {
    if (composite[i] === 1) continue
    count++
    for (let j = i * i; j < n; j += i) composite[j] = 1
  }
  return count
}

/**
 * A worker: computes jobs, each taking `workMs` more (on Effect's clock) to stand for I/O. It
 * monitors its driver and stops when the driver is gone (the dispatcher stopped, restarted or was
 * lost: `noconnection`), so that no worker is left behind.
 */
export const worker = GenServer.behaviour(Worker)({
  name: "demo_worker",
  init: (args: { readonly workMs: number; readonly driver: Pid.Pid }, self) =>
    Effect.as(Effect.orDie(Process.monitor(args.driver)), { workMs: args.workMs, node: self.node }),
  handleCall: {
    Work: ({ job }, state) =>
      Effect.as(
        Effect.sleep(state.workMs),
        GenServer.reply(new WorkResult({ id: job.id, primes: countPrimes(job.input), node: state.node }), state)
      )
  },
  handleInfo: (message, state) =>
    Effect.succeed(
      message instanceof Signal.Down ? GenServer.stopWith(ExitReason.normal, state) : GenServer.noReply(state)
    )
})

/**
 * The worker behaviour as other nodes may spawn it (every demo node registers it).
 */
export const WorkerSpec = BehaviourRegistry.define(
  "demo_worker",
  Schema.Struct({ workMs: Schema.Number, driver: Pid.Pid }),
  worker
)

// --- The dispatcher's processes ----------------------------------------------------------------

/**
 * How the dispatcher runs: a job every `jobIntervalMs`, each taking `workMs` on a worker, and the
 * timeout of a worker call.
 */
export interface Settings {
  readonly jobIntervalMs: number
  readonly workMs: number
  readonly callTimeoutMs: number
}

const event = (name: string, fields: Record<string, unknown>) => Effect.annotateLogs({ "demo.event": name, ...fields })

/** How long a driver waits before it tries again to start a worker that could not be started. */
const SPAWN_RETRY_MS = 1_000

const describe = (error: { readonly _tag: string; readonly message?: string }): string =>
  error.message === undefined || error.message === "" ? error._tag : `${error._tag}: ${error.message.split("\n")[0]}`

/**
 * The driver of the worker on `node` (up as `incarnation`): spawns the worker there (a spawn that
 * fails other than with `NodeDown` is tried again every second while that incarnation is up), then takes jobs from the queue and
 * calls the worker with each, logging the latency of the remote call. A failed call puts the job
 * back at the head of the queue. Then: the node is down (`NodeDown`): the driver stops, and a new
 * one starts when the node is up again; the worker is gone (`NoProcess`, `ServerExited`): a new
 * worker is spawned; the call timed out: the same worker gets the next job.
 */
const driver = (node: string, incarnation: number, settings: Settings, self: Pid.Pid) =>
  Effect.gen(function* () {
    while (true) {
      const spawned = yield* Effect.result(
        Distribution.spawn(node, WorkerSpec, { workMs: settings.workMs, driver: self })
      )
      if (spawned._tag === "Failure") {
        // Node down: this driver stops, the next NodeUp starts a new one. Anything else (a spawn
        // that timed out, e.g. because it reached the node before its distribution was listening,
        // which drops it; an init that failed): try again while the node stays up as the same
        // incarnation, or the node would be left without a worker until it leaves and rejoins.
        const retry = spawned.failure._tag !== "NodeDown"
        yield* Effect.logWarning(
          `could not start a worker on ${node}: ${describe(spawned.failure)}${retry ? `; retrying in ${SPAWN_RETRY_MS} ms` : ""}`
        ).pipe(event("worker_failed", { worker: node, error: spawned.failure._tag }))
        if (!retry) return
        yield* Effect.sleep(SPAWN_RETRY_MS)
        const members = yield* Cluster.nodes
        if (!members.some((member) => member.id === node && member.incarnation === incarnation)) return
        continue
      }
      const pid = spawned.success.pid
      yield* Effect.logInfo(`worker ${pid} started on ${node} (remote spawn)`).pipe(
        event("worker_started", { worker: node, workerPid: String(pid) })
      )
      let failed: string | undefined = undefined
      while (failed === undefined || failed === "CallTimeout") {
        const job = yield* GenServer.call(jobsName, Jobs.Take({ worker: node, driver: self }), { timeout: Infinity })
        const started = yield* Clock.monotonicTimeNanos
        const result = yield* Effect.result(
          GenServer.call(pid, Worker.Work({ job }), { timeout: settings.callTimeoutMs })
        )
        const latencyMs = Math.round(Number((yield* Clock.monotonicTimeNanos) - started) / 10_000) / 100
        if (result._tag === "Failure") {
          failed = result.failure._tag
          yield* GenServer.cast(jobsName, Jobs.Requeue({ job }))
          yield* Effect.logWarning(
            `job ${job.id} moved back to the queue: its call to ${node} failed (${describe(result.failure)})`
          ).pipe(event("job_moved", { job: job.id, worker: node, error: failed }))
          continue
        }
        failed = undefined
        yield* GenServer.cast(jobsName, Jobs.Complete({ id: job.id, worker: node }))
        yield* Effect.logInfo(
          `job ${job.id} done on ${result.success.node} in ${latencyMs} ms: ${result.success.primes} primes below ${job.input}`
        ).pipe(event("job_done", { job: job.id, worker: node, latencyMs, attempt: job.attempt }))
      }
      if (failed === "NodeDown") return
    }
  })

/**
 * The producer: submits a job every `jobIntervalMs` (its timer is the runtime's, the same clock
 * the rest of the node uses).
 */
export const producer = (settings: Settings) =>
  ChildSpec.worker({
    id: "producer",
    start: Process.spawnLink((self: Process.ProcessContext<never>) =>
      Effect.forever(
        Effect.flatMap(self.receiveWithin(settings.jobIntervalMs), () =>
          GenServer.cast(jobsName, Jobs.Submit({ input: 20_000 + Math.floor(Math.random() * 80_000) }))
        )
      )
    )
  })

/**
 * Placement: for every node that is up (now or later) other than this one, a driver process,
 * linked to placement, that starts a worker there and feeds it.
 */
export const placement = (settings: Settings) =>
  ChildSpec.worker({
    id: "placement",
    start: Process.spawnLink(() =>
      Cluster.membership.pipe(
        Stream.runForEach((member) =>
          member._tag === "NodeUp"
            ? Effect.asVoid(
                Process.spawnLink((driverProcess: Process.ProcessContext<never>) =>
                  driver(member.id, member.incarnation, settings, driverProcess.pid)
                )
              )
            : Effect.void
        )
      )
    )
  })

/**
 * Logs every node joining and leaving, with the reason it left, as this node sees it.
 */
export const logMembership: Effect.Effect<void, never, Cluster.Cluster> = Cluster.membership.pipe(
  Stream.runForEach((member) =>
    member._tag === "NodeUp"
      ? Effect.logInfo(`node up: ${member.id} (incarnation ${member.incarnation})`).pipe(
          event("node_up", { peer: member.id, incarnation: member.incarnation })
        )
      : Effect.logWarning(`node down: ${member.id} (${member.reason})`).pipe(
          event("node_down", { peer: member.id, reason: member.reason })
        )
  )
)
