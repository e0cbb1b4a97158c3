/**
 * The demo's job queue on a real process runtime: a driver that dies while waiting in `Take` is
 * dropped (monitored), so the next job goes to a live driver instead of being lost. And placement
 * on two in-memory nodes: a node that joins before its distribution listens still gets a worker.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Schedule } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { ChildSpec, Pid, Process, ProcessRuntime, Supervisor } from "../../src/index.ts"
import * as GenServer from "../../src/Process/GenServer.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import * as MemoryTransport from "../../src/Transport/MemoryTransport.ts"
import {
  type Job,
  type JobStats,
  jobs,
  Jobs,
  jobsName,
  placement,
  WorkerSpec
} from "../../src/demo/internal/jobQueue.ts"
import { fast } from "../support/clusterHarness.ts"
import { memoryDistNode } from "../support/distHarness.ts"
import { eventually } from "../support/transportHarness.ts"

const stats = GenServer.call(jobsName, Jobs.Stats())

/** Polls the queue's figures (every 5 ms, at most 5 s) until `predicate` holds. */
const statsUntil = (predicate: (s: JobStats) => boolean) =>
  stats.pipe(Effect.repeat({ until: predicate, schedule: Schedule.spaced("5 millis") }), Effect.timeout("5 seconds"))

/** A driver-like process: takes one job and hands it to `got`. */
const taker = (worker: string, got?: Deferred.Deferred<Job>) =>
  Process.spawn((self: Process.ProcessContext<never>) =>
    Effect.flatMap(GenServer.call(jobsName, Jobs.Take({ worker, driver: self.pid }), { timeout: Infinity }), (job) =>
      got === undefined ? Effect.void : Deferred.succeed(got, job)
    )
  )

describe("the demo's job queue", () => {
  it.live("a driver killed while waiting in Take is dropped: the next job goes to a live driver", () =>
    Effect.gen(function* () {
      yield* GenServer.start(jobs, undefined, { name: jobsName })
      const dead = yield* taker("dead")
      yield* statsUntil((s) => s.waiting === 1)
      yield* Process.kill(dead)
      // Its monitor fires: the server forgets it.
      yield* statsUntil((s) => s.waiting === 0)
      const got = yield* Deferred.make<Job>()
      const live = yield* taker("live", got)
      yield* statsUntil((s) => s.waiting === 1)
      yield* GenServer.cast(jobsName, Jobs.Submit({ input: 100 }))
      const job = yield* Deferred.await(got).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(job.id, 1)
      assert.strictEqual(job.attempt, 1)
      const after = yield* stats
      assert.strictEqual(after.waiting, 0)
      assert.strictEqual(after.queued, 0)
      assert.isTrue(Pid.isPid(live))
    }).pipe(Effect.provide(ProcessRuntime.layer({ node: "jobs" })))
  )

  it.live(
    "placement retries a worker whose spawn was lost: the node joined before its distribution listened",
    () =>
      Effect.gen(function* () {
        const network = MemoryNetwork.make({ seed: 71 })
        const a = yield* memoryDistNode(network, { nodeName: "a" }, [WorkerSpec])
        // b joins with membership only: frames on the distribution channel are dropped there, as
        // in the window of a starting node between its cluster joining and its distribution.
        const bCluster = yield* Layer.build(
          Cluster.layerOn({ insecure: true, ...fast, nodeName: "b", seeds: ["a@a:0"] }).pipe(
            Layer.provideMerge(MemoryTransport.layer(network, { name: "b", handshakeTimeout: 500 }))
          )
        )
        const settings = { jobIntervalMs: 1000, workMs: 1, callTimeoutMs: 5000 }
        yield* Layer.build(
          Supervisor.layer({
            strategy: "one_for_one",
            children: [ChildSpec.genServer("jobs", jobs, undefined, { name: "jobs" }), placement(settings)]
          })
        ).pipe(Effect.provideContext(a.context))
        // Placement's first spawn on b is lost and times out (5 s, the spawn's default)...
        yield* eventually(a.distribution.stats, (s) => s.remoteSpawn.failed >= 1, 15_000)
        // ...then b's distribution starts, on the cluster it already has.
        yield* Layer.build(Distribution.layerOnCluster(Layer.succeedContext(bCluster), { behaviours: [WorkerSpec] }))
        yield* a.run(GenServer.cast(jobsName, Jobs.Submit({ input: 100 })))
        const after = yield* a.run(
          GenServer.call(jobsName, Jobs.Stats()).pipe(
            Effect.repeat({ until: (s) => (s.byWorker["b"] ?? 0) >= 1, schedule: Schedule.spaced("5 millis") }),
            Effect.timeout("15 seconds")
          )
        )
        assert.strictEqual(after.byWorker["b"], 1)
      }),
    30_000
  )
})
