/**
 * Wall-clock jumps (an NTP step, `date -s`, a VM resume) must not declare live nodes down: a node
 * in a child process runs under libfaketime, its wall clock moved while the test watches.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import type { ClusterEvent } from "../../src/Cluster/ClusterEvent.ts"
import { GenServer, Process, RemoteName } from "../../src/index.ts"
import { ClockProbe, clockNode, faketimeEnv, libfaketime } from "../support/clockHarness.ts"
import { distNode } from "../support/distHarness.ts"

const heartbeatIntervalMs = 200
/** Interval x miss threshold of both nodes. */
const failureTimeoutMs = heartbeatIntervalMs * 3

const skipReason =
  "libfaketime is not installed (Debian package libfaketime): the wall clock of a child cannot be moved"

describe.skipIf(libfaketime === undefined)("wall-clock jumps", () => {
  it.live(
    "a node whose wall clock moves by +5 s and by -1 h, idle and busy, sees no NodeDown, no peer's monitor on its processes fires, and it still detects a silent peer",
    () =>
      Effect.gen(function* () {
        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "clock-jump-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
        const offsetFile = Path.join(dir, "offset")
        const setOffset = (offset: string) => Effect.sync(() => Fs.writeFileSync(offsetFile, `${offset}\n`))
        yield* setOffset("+0")

        const t = yield* distNode({ nodeName: "t", heartbeatInterval: heartbeatIntervalMs })
        const tEvents: Array<ClusterEvent> = []
        yield* t.cluster.onEvent((event) => tEvents.push(event))
        // j's wall clock moves; s (a third node, real clock) is stopped at the end, to show that j's
        // failure detection still works after its clock went back.
        const [j, s] = yield* Effect.all(
          [
            clockNode({ name: "j", seeds: [t.seed], heartbeatIntervalMs, env: faketimeEnv(offsetFile) }),
            clockNode({ name: "s", seeds: [t.seed], heartbeatIntervalMs })
          ],
          { concurrency: "unbounded" }
        )
        for (const peer of ["t", "s"]) {
          yield* j.child.awaitEvent(
            (event) => event._tag === "NodeUp" && event.id === peer,
            10_000,
            0,
            `j sees ${peer}`
          )
        }
        yield* t.cluster.awaitNodes(["j", "s"], { timeout: 10_000 })

        // A process on t monitors j's server: it must get no Down while j's clock jumps.
        const down = yield* Deferred.make<unknown>()
        const monitored = yield* Deferred.make<void>()
        yield* t.run(
          Process.spawn((self) =>
            Effect.gen(function* () {
              yield* Process.monitor(j.server)
              yield* Deferred.succeed(monitored, undefined)
              yield* Deferred.succeed(down, yield* self.receive)
            })
          )
        )
        yield* Deferred.await(monitored).pipe(Effect.timeout(5000))
        const byName = RemoteName.make("clock", "j")
        const now = t.run(GenServer.call(byName, ClockProbe.Now(), { timeout: 5000 }))

        /** Fails if j or t reported a NodeDown, or t's monitor on j's server fired, or j is not up on t. */
        const check = (phase: string) =>
          Effect.gen(function* () {
            const fired = yield* Deferred.poll(down)
            assert.isTrue(fired._tag === "None", `${phase}: t's monitor on j's server fired: ${JSON.stringify(fired)}`)
            const jDown = j.child.events.filter((event) => event._tag === "NodeDown")
            assert.deepStrictEqual(jDown, [], `${phase}: j reported NodeDown`)
            const tDown = tEvents.filter((event) => event._tag === "NodeDown")
            assert.deepStrictEqual(tDown, [], `${phase}: t reported NodeDown`)
            assert.deepStrictEqual(
              (yield* t.cluster.nodes).map((node) => node.id).sort(),
              ["j", "s"],
              `${phase}: j is not up on t`
            )
          })

        /**
         * Moves j's wall clock to each offset in turn (seconds from real time) and watches each
         * step for two failure-detection periods (a Down ends the watch at once), then checks
         * that j's wall clock is where the last step put it. Idle phases send j nothing while
         * they watch: with silences measured on the wall clock, j's failure detector would see
         * every link silent for the size of the jump before the next heartbeat arrives.
         */
        const jumps = Effect.fnUntraced(function* (phase: string, offsets: ReadonlyArray<number>) {
          for (const offset of offsets) {
            yield* setOffset(offset >= 0 ? `+${offset}` : `${offset}`)
            yield* Deferred.await(down).pipe(Effect.timeout(2 * failureTimeoutMs), Effect.ignore)
            yield* check(`${phase}, wall clock moved to ${offset} s`)
          }
          const seen = yield* now
          const skew = seen.wall - Date.now()
          const expected = offsets[offsets.length - 1]! * 1000
          assert.approximately(skew, expected, 1000, `${phase}: j's wall clock is ${skew} ms off, not ${expected}`)
          yield* check(phase)
        })

        /** Calls running all through a phase: 4 callers, each a Now and a short Spin in a loop. */
        const busy = <A, E>(body: Effect.Effect<A, E>) =>
          Effect.gen(function* () {
            let running = true
            let calls = 0
            const callers = yield* Effect.forEach(Array.from({ length: 4 }), () =>
              Effect.forkChild(
                Effect.whileLoop({
                  while: () => running,
                  body: () =>
                    t.run(Effect.andThen(now, GenServer.call(byName, ClockProbe.Spin({ ms: 5 }), { timeout: 5000 }))),
                  step: () => void calls++
                })
              )
            )
            yield* body
            running = false
            for (const caller of callers) yield* Fiber.join(caller)
            assert.isAtLeast(calls, 8, "the busy phase made calls")
            return calls
          })

        // Idle: three steps of +5 s, then two of -1 h.
        yield* jumps("idle, +5 s", [5, 10, 15])
        yield* jumps("idle, -1 h", [-3600, -7200])
        // Busy: forward again (by 2 h and 5 s), then back by 1 h, with calls running.
        const forward = yield* busy(jumps("busy, forward", [5]))
        const backward = yield* busy(jumps("busy, -1 h", [-3595]))
        yield* Effect.log(`busy phases: ${forward} and ${backward} calls, all answered`)
        // The same incarnation all along: the link was never cut and re-made.
        assert.deepStrictEqual(
          (yield* t.cluster.nodes).filter((node) => node.id === "j").map((node) => node.incarnation),
          [j.ready.incarnation]
        )

        // A peer falls silent, and j's clock goes back another hour at once: the silence, which
        // spans the jump, is still seen in time.
        s.child.signal("SIGSTOP")
        const stoppedAt = Date.now()
        yield* setOffset("-7200")
        const sDown = yield* j.child.awaitEvent(
          (event) => event._tag === "NodeDown" && event.id === "s",
          10_000,
          0,
          "j sees the stopped s down"
        )
        const detectedAfterMs = Date.now() - stoppedAt
        assert.strictEqual(sDown.reason, "heartbeat_timeout")
        // interval x threshold plus half an interval, with room for a loaded machine.
        assert.isBelow(
          detectedAfterMs,
          failureTimeoutMs + 2000,
          `s declared down ${detectedAfterMs} ms after it stopped`
        )
        yield* Effect.log(`its clock moved back 1 h, j declared a stopped peer down after ${detectedAfterMs} ms`)
      }),
    90_000
  )
})

if (libfaketime === undefined) {
  describe("wall-clock jumps", () => {
    it.skip(`skipped: ${skipReason}`, () => {})
  })
}
