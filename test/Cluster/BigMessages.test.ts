/**
 * Large messages between nodes in separate OS processes (issue 15, part 2): fragments interleave
 * with heartbeats and small calls, and limits are learned in the handshake.
 */
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import { GenServer, ProcessErrors, RemoteName } from "../../src/index.ts"
import { Big, bigServer, Probe, type Stats } from "../support/bigMessages.ts"
import { ChildProgram } from "../support/childNode.ts"
import { clusterEvents } from "../support/clusterHarness.ts"
import { distNode } from "../support/distHarness.ts"

const script = Path.join(import.meta.dirname, "..", "support", "bigMessageNodeProcess.ts")
const MiB = 1024 * 1024
/** Heartbeats at 1000 ms x 3: a node silent for 3 s is down. */
const heartbeats = { heartbeatInterval: 1000, heartbeatMissThreshold: 3 } as const
/**
 * A small call's worst latency while large messages cross: below the 3 s heartbeat timeout even on
 * a 2-core machine shared with other work. At load average 9-16 on 2 cores the OS runs each
 * process a fraction of the time (worst event-loop delays of 0.3-1.2 s of wall time, while the
 * worst block by CPU time was 70-107 ms in the child), and wall-clock latency is dominated by that: 0.9-1.5 s
 * measured, 2.2 s once (1.3-1.7 s last session; 2.1-2.4 s before strings travelled out of band),
 * so no tighter bound holds there.
 */
const smallCallBoundMs = 2500
/**
 * The most event-loop CPU time the child node spends between two ticks of a 5 ms timer (its worst
 * block by work done, which the load does not stretch), with a 50 MB string and 120 MB binaries
 * crossing both ways. Measured 70-107 ms in eleven runs at load average 8-16 (58-121 ms last session,
 * 142 ms once before strings travelled out of band). What remains is V8 flattening the echoed
 * 50 MB string (one copy, about 1 ms per MB) when the echo server's reply is encoded: the string
 * arrives as a rope (no join in the receive path) and its first read copies it, which no code of
 * ours can split. The bound leaves room above that copy and guards against a regression (a whole
 * message encoded or decoded in one call, several hundred ms for these payloads);
 * test/Transport/OutOfBand.test.ts checks that no step handles more than a fragment. The child runs
 * only the node; the test's own node shares its process with the test runner, so its figure is
 * reported, not bounded (182-266 ms in that worker, against 26-42 ms for the same node in a plain
 * Node process: not explained yet).
 */
const childBlockCpuBoundMs = 200

/** Node "t" here and node "c" in a child process, each with its frame limit, both running "big" and pinging the other. */
const pair = (limits: { readonly t: number; readonly c: number }) =>
  Effect.gen(function* () {
    const probe = new Probe()
    const t = yield* distNode({
      nodeName: "t",
      secret: "big-test",
      ...heartbeats,
      transport: { maxFrameBytes: limits.t }
    })
    yield* t.run(GenServer.start(bigServer(probe, "c"), undefined, { name: "big" }))
    yield* t.run(GenServer.start(bigServer(probe, "c"), undefined, { name: "ping" }))
    const events = yield* clusterEvents(t.cluster)
    const subscription = yield* t.cluster.subscribe
    yield* Effect.forkScoped(
      Stream.runForEach(subscription, (event) =>
        Effect.sync(() => {
          if (event._tag === "NodeDown") {
            probe.nodeDowns++
            console.log(`NodeDown seen by t: ${JSON.stringify(event)}`)
          }
        })
      )
    )
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => new ChildProgram(script, ["c", t.seed, "t", String(limits.c)])),
      (child) => Effect.promise(() => child.stop())
    )
    yield* child.awaitEvent((event) => event._tag === "Ready", 20_000, 0, "Ready")
    yield* events((event) => event._tag === "NodeUp" && event.id === "c", 10_000)
    const c = RemoteName.make("big", "c", Big)
    yield* t.run(GenServer.call(c, Big.Ping()))
    yield* Effect.forkScoped(t.run(probe.pingLoop("c")))
    // Both sides ping before measuring starts (the child waits for the link to come up).
    yield* Effect.gen(function* () {
      while ((yield* t.run(GenServer.call(c, Big.Stats()))).smallCalls === 0) yield* Effect.yieldNow
    }).pipe(Effect.timeout(10_000))
    /** Starts measuring on both nodes (after the test has built its payloads). */
    const reset = Effect.gen(function* () {
      probe.reset()
      yield* t.run(GenServer.call(c, Big.Reset()))
    })
    /** The end of the child's log, for failure messages. */
    const childLog = () => (child as unknown as { readonly stderrTail: string }).stderrTail
    return { t, c, probe, reset, childLog }
  })

const report = (label: string, here: Stats, there: Stats) =>
  console.log(
    `${label}: small calls t->c worst ${here.maxSmallCallMs.toFixed(1)} ms (${here.smallCalls} calls), ` +
      `c->t worst ${there.maxSmallCallMs.toFixed(1)} ms (${there.smallCalls} calls); worst event-loop block ` +
      `t ${here.maxEventLoopDelayMs.toFixed(1)} ms, c ${there.maxEventLoopDelayMs.toFixed(1)} ms (CPU time ` +
      `t ${here.maxBlockCpuMs.toFixed(1)} ms, c ${there.maxBlockCpuMs.toFixed(1)} ms); longest GC pause ` +
      `t ${here.maxGcPauseMs.toFixed(1)} ms, c ${there.maxGcPauseMs.toFixed(1)} ms`
  )

describe("Large messages between OS processes", () => {
  it.live(
    "50 MB and 120 MB echoes both ways keep the link up and small calls both ways fast",
    () =>
      Effect.gen(function* () {
        const { t, c, probe, reset } = yield* pair({ t: 128 * MiB, c: 128 * MiB })
        const text = Buffer.alloc(50_000_000, "x").toString("latin1")
        const data = new Uint8Array(120_000_000).fill(7)
        yield* reset
        const [echoedText, sentBack50] = yield* Effect.all(
          [
            t.run(GenServer.call(c, Big.EchoText({ text }), { timeout: 60_000 })),
            t.run(GenServer.call(c, Big.SendBig({ bytes: 50_000_000 }), { timeout: 60_000 }))
          ],
          { concurrency: "unbounded" }
        )
        assert.strictEqual(echoedText.length, text.length)
        assert.strictEqual(sentBack50, "ok 50000000")
        const [echoed, sentBack120] = yield* Effect.all(
          [
            t.run(GenServer.call(c, Big.Echo({ data }), { timeout: 60_000 })),
            t.run(GenServer.call(c, Big.SendBig({ bytes: 120_000_000 }), { timeout: 60_000 }))
          ],
          { concurrency: "unbounded" }
        )
        assert.strictEqual(echoed.length, data.length)
        assert.strictEqual(echoed[119_999_999], 7)
        assert.strictEqual(sentBack120, "ok 120000000")
        const here = probe.stats()
        const there = yield* t.run(GenServer.call(c, Big.Stats()))
        report("50 MB + 120 MB both ways", here, there)
        assert.strictEqual(here.nodeDowns, 0)
        assert.strictEqual(there.nodeDowns, 0)
        assert.deepStrictEqual(here.smallCallFailures, [])
        assert.deepStrictEqual(there.smallCallFailures, [])
        assert.isAbove(here.smallCalls, 0)
        assert.isAbove(there.smallCalls, 0)
        assert.isBelow(here.maxSmallCallMs, smallCallBoundMs)
        assert.isBelow(there.maxSmallCallMs, smallCallBoundMs)
        assert.isBelow(there.maxBlockCpuMs, childBlockCpuBoundMs)
        // After the figures: the echoed string arrives as a rope, and comparing flattens it (one copy).
        assert.isTrue(echoedText === text)
      }),
    120_000
  )

  it.live(
    "with mismatched limits only the message over the receiver's limit fails, with MessageTooLarge; the link stays up",
    () =>
      Effect.gen(function* () {
        const { t, c, probe, reset, childLog } = yield* pair({ t: 128 * MiB, c: 16 * MiB })
        const data = new Uint8Array(50_000_000)
        yield* reset
        const call = yield* Effect.flip(t.run(GenServer.call(c, Big.Echo({ data }), { timeout: 60_000 })))
        assert.instanceOf(call, ProcessErrors.MessageTooLarge)
        if (!(call instanceof ProcessErrors.MessageTooLarge)) return
        assert.strictEqual(call.node, "c")
        assert.strictEqual(call.limit, 16 * MiB)
        assert.isAbove(call.size, 50_000_000)
        const cast = yield* Effect.exit(t.run(GenServer.cast(c, Big.Store({ data }))))
        assert.isTrue(Exit.isFailure(cast))
        assert.strictEqual(
          Exit.isFailure(cast) && cast.cause.reasons[0]?._tag === "Fail" && cast.cause.reasons[0].error._tag,
          "MessageTooLarge"
        )
        // The same link carries on: small calls, a message under c's limit, and t's larger limit the other way.
        assert.strictEqual(yield* t.run(GenServer.call(c, Big.Ping())), 0)
        const underLimit = new Uint8Array(10 * MiB).fill(3)
        assert.strictEqual(yield* t.run(GenServer.call(c, Big.Size({ data: underLimit }))), 10 * MiB)
        assert.strictEqual(
          yield* t.run(GenServer.call(c, Big.SendBig({ bytes: 50_000_000 }), { timeout: 60_000 })),
          "ok 50000000"
        )
        const here = probe.stats()
        const there = yield* t.run(GenServer.call(c, Big.Stats()))
        report("mismatched limits", here, there)
        assert.strictEqual(here.nodeDowns, 0, childLog())
        assert.strictEqual(there.nodeDowns, 0, childLog())
        assert.deepStrictEqual(here.smallCallFailures, [])
        assert.deepStrictEqual(there.smallCallFailures, [])
      }),
    120_000
  )
})
