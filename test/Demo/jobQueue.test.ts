/**
 * The demo's job queue on a real process runtime: a driver that dies while waiting in `Take` is
 * dropped (monitored), so the next job goes to a live driver instead of being lost.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Schedule } from "effect"
import { Pid, Process, ProcessRuntime } from "../../src/index.ts"
import * as GenServer from "../../src/Process/GenServer.ts"
import { type Job, type JobStats, jobs, Jobs, jobsName } from "../../src/demo/internal/jobQueue.ts"

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
})
