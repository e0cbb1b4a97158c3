/**
 * Per-process credit between nodes: what a node holds for a slow process stays bounded, remote
 * senders are suspended (or get `MailboxFull`) as local ones are, and nothing else on the link
 * waits for them.
 */
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schema } from "effect"
import { GenServer, Pid, ProcessErrors, Protocol, RemoteName } from "../../src/index.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import { ChildProgram } from "../support/childNode.ts"
import { awaitNodesUp } from "../support/clusterHarness.ts"
import { Gate, Sink as ChildSink } from "../support/creditHarness.ts"
import { distNode, Kv, kv, memoryDistNode, type TestNode } from "../support/distHarness.ts"
import { eventually } from "../support/transportHarness.ts"

/** The credit window of `src/Cluster/internal/credit.ts`: messages one node may have on their way to one process. */
const WINDOW = 4096

const Sink = Protocol.make({
  Put: Protocol.cast({ payload: { from: Schema.String, n: Schema.Number } }),
  Seen: Protocol.call({ success: Schema.Number })
})

/**
 * A consumer that handles nothing until `gate` opens, then records each cast and the number of
 * messages its node holds behind full mailboxes at that moment.
 */
const makeSink = (node: TestNode, gate: Deferred.Deferred<void>) => {
  const received: Array<{ readonly from: string; readonly n: number }> = []
  const watch = { maxParked: 0 }
  const behaviour = GenServer.behaviour(Sink)({
    init: () => Effect.succeed(undefined),
    handleCast: {
      Put: ({ from, n }, state) =>
        Effect.gen(function* () {
          yield* Deferred.await(gate)
          received.push({ from, n })
          const stats = yield* node.distribution.stats
          watch.maxParked = Math.max(watch.maxParked, stats.parkedMessages)
          return GenServer.noReply(state)
        })
    },
    handleCall: { Seen: (_, state) => Effect.succeed(GenServer.reply(received.length, state)) }
  })
  return { behaviour, received, watch }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/**
 * Failure detection slow enough that a loaded machine does not cut the link while a sender's burst
 * holds the event loop (these tests count every message on one link).
 */
const patient = { heartbeatInterval: 1000, heartbeatMissThreshold: 5 } as const

const pair = Effect.gen(function* () {
  const a = yield* distNode({ nodeName: "a", ...patient })
  const b = yield* distNode({ nodeName: "b", seeds: [a.seed], ...patient })
  yield* awaitNodesUp(a.cluster, ["b"])
  yield* awaitNodesUp(b.cluster, ["a"])
  return { a, b }
})

const parked = (node: TestNode) => Effect.map(node.distribution.stats, (stats) => stats.parkedMessages)

describe("credit between nodes", () => {
  it.live(
    "casts to a slow consumer hold at most a window per sender there, suspend the senders until it drains, and arrive complete and in order",
    () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const gate = yield* Deferred.make<void>()
        const sink = makeSink(b, gate)
        const server = yield* b.run(GenServer.start(sink.behaviour, undefined, { name: "sink", mailboxCapacity: 16 }))
        // Two senders on a: one by pid, one by name (each its own window), 5,000 casts each. Without
        // credit, b would hold all but 17 of the 10,000 behind the mailbox.
        const total = 5000
        const progress: Record<string, number> = { pid: 0, name: 0 }
        const sender = (label: string, target: typeof server | RemoteName.RemoteName) =>
          a.run(
            Effect.forEach(
              range(total),
              (n) => Effect.map(GenServer.cast(target, Sink.Put({ from: label, n })), () => void progress[label]!++),
              { discard: true }
            )
          )
        const senders = [
          yield* Effect.forkChild(sender("pid", server), { startImmediately: true }),
          yield* Effect.forkChild(sender("name", RemoteName.make("sink", "b")), { startImmediately: true })
        ]
        // Both windows spent: one message in the handler, 16 in the mailbox, the rest held behind it
        // (the 17 taken in are granted back within a second, then all 2 x 4,096 wait).
        yield* eventually(parked(b), (n) => n === 2 * WINDOW)
        assert.strictEqual(progress.pid! + progress.name!, 2 * WINDOW + 17)
        for (const fiber of senders) assert.isUndefined(fiber.pollUnsafe(), "a sender should be suspended")

        // Other traffic on the same link flows: another process's calls to another server.
        const store = yield* b.run(GenServer.start(kv, 100))
        let worst = 0
        for (let i = 0; i < 100; i++) {
          const start = performance.now()
          yield* a.run(GenServer.call(store, Kv.Put({ key: "k", value: String(i) })))
          worst = Math.max(worst, performance.now() - start)
        }
        assert.isBelow(worst, 500, `worst call latency ${worst.toFixed(1)} ms while the senders wait`)
        console.log(`credit: worst call latency on the link while two senders wait: ${worst.toFixed(1)} ms`)

        // The consumer drains: the suspended casts resume, and everything arrives, in order per sender.
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.joinAll(senders)
        yield* eventually(
          Effect.sync(() => sink.received.length),
          (n) => n === 2 * total,
          60_000
        )
        for (const label of ["pid", "name"]) {
          assert.deepStrictEqual(
            sink.received.filter((m) => m.from === label).map((m) => m.n),
            range(total)
          )
        }
        assert.isAtMost(sink.watch.maxParked, 2 * WINDOW)
        yield* eventually(parked(b), (n) => n === 0)
      }),
    120_000
  )

  it.live(
    "a cast to a full mailbox with policy fail gets MailboxFull on the remote sender, and flows again once it drains",
    () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const gate = yield* Deferred.make<void>()
        const sink = makeSink(b, gate)
        const server = yield* b.run(
          GenServer.start(sink.behaviour, undefined, { mailboxCapacity: 4, overflow: "fail" })
        )
        // Casts until the sender is told the mailbox is full (at most a window past it).
        let sent = 0
        let refused: unknown = undefined
        while (refused === undefined && sent < 3 * WINDOW) {
          const result = yield* Effect.result(a.run(GenServer.cast(server, Sink.Put({ from: "a", n: sent }))))
          if (result._tag === "Failure") refused = result.failure
          else sent++
        }
        assert.instanceOf(refused, ProcessErrors.MailboxFull)
        assert.strictEqual((refused as ProcessErrors.MailboxFull).capacity, 4)
        assert.isAtMost(sent, 1 + 4 + WINDOW)
        assert.isAtMost(yield* parked(b), WINDOW)
        // A call fails the same way, at once.
        assert.instanceOf(
          yield* Effect.flip(a.run(GenServer.call(server, Sink.Seen(), { timeout: 5000 }))),
          ProcessErrors.MailboxFull
        )
        // Nothing accepted is lost: what was sent before the refusal is handled, in order.
        yield* Deferred.succeed(gate, undefined)
        yield* eventually(
          Effect.sync(() => sink.received.length),
          (n) => n === sent
        )
        assert.deepStrictEqual(
          sink.received.map((m) => m.n),
          range(sent)
        )
        // Drained: the sender is told the mailbox has room, and casts flow again.
        yield* eventually(
          Effect.result(a.run(GenServer.cast(server, Sink.Put({ from: "a", n: sent })))),
          (r) => r._tag === "Success"
        )
        yield* eventually(
          Effect.sync(() => sink.received.length),
          (n) => n === sent + 1
        )
      })
  )

  it.live(
    "senders waiting for credit toward a process that exits are released (their messages dropped, as to a dead pid)",
    () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const gate = yield* Deferred.make<void>()
        const sink = makeSink(b, gate)
        const server = yield* b.run(GenServer.start(sink.behaviour, undefined, { mailboxCapacity: 16 }))
        const total = 3 * WINDOW
        let done = 0
        const sender = yield* Effect.forkChild(
          a.run(
            Effect.forEach(
              range(total),
              (n) => Effect.map(GenServer.cast(server, Sink.Put({ from: "a", n })), () => void done++),
              { discard: true }
            )
          ),
          { startImmediately: true }
        )
        yield* eventually(parked(b), (n) => n === WINDOW)
        assert.strictEqual(done, WINDOW + 17)
        assert.isUndefined(sender.pollUnsafe(), "the sender should be suspended")
        // A call behind the casts waits for credit too.
        const call = yield* Effect.forkChild(a.run(GenServer.call(server, Sink.Seen(), { timeout: 30_000 })), {
          startImmediately: true
        })
        yield* b.run(GenServer.stop(server, undefined, 100).pipe(Effect.ignore))
        // Its held messages are dropped with its mailbox, their credit comes back, and the rest go
        // out to be dropped there too; the waiting call is sent and answered NoProcess.
        yield* Fiber.join(sender)
        assert.strictEqual(done, total)
        assert.instanceOf(yield* Effect.flip(Fiber.join(call)), ProcessErrors.NoProcess)
        yield* eventually(parked(b), (n) => n === 0)
      })
  )

  it.live(
    "senders waiting for credit when the link drops are released: casts are dropped, a call fails with NodeDown",
    () =>
      Effect.gen(function* () {
        const network = MemoryNetwork.make({ seed: 5 })
        const a = yield* memoryDistNode(network, { nodeName: "a" })
        const b = yield* memoryDistNode(network, { nodeName: "b", seeds: ["a@a:0"] })
        yield* awaitNodesUp(a.cluster, ["b"])
        yield* awaitNodesUp(b.cluster, ["a"])
        const gate = yield* Deferred.make<void>()
        const sink = makeSink(b, gate)
        const server = yield* b.run(GenServer.start(sink.behaviour, undefined, { mailboxCapacity: 16 }))
        let done = 0
        const sender = yield* Effect.forkChild(
          a.run(
            Effect.forEach(
              range(3 * WINDOW),
              (n) => Effect.map(GenServer.cast(server, Sink.Put({ from: "a", n })), () => void done++),
              { discard: true }
            )
          ),
          { startImmediately: true }
        )
        yield* eventually(parked(b), (n) => n === WINDOW)
        assert.strictEqual(done, WINDOW + 17)
        assert.isUndefined(sender.pollUnsafe(), "the sender should be suspended")
        const call = yield* Effect.forkChild(a.run(GenServer.call(server, Sink.Seen(), { timeout: 30_000 })), {
          startImmediately: true
        })
        network.partition("a", "b")
        yield* Fiber.join(sender)
        assert.strictEqual(done, 3 * WINDOW)
        assert.instanceOf(yield* Effect.flip(Fiber.join(call)), ProcessErrors.NodeDown)
        // What b held from a is still delivered, in order, once the consumer drains.
        yield* Deferred.succeed(gate, undefined)
        yield* eventually(
          Effect.sync(() => sink.received.length),
          (n) => n === WINDOW + 17
        )
        assert.deepStrictEqual(
          sink.received.map((m) => m.n),
          range(WINDOW + 17)
        )
      })
  )

  it.live(
    "between OS processes: casts to a slow consumer in another process hold at most a window there and arrive in order",
    () =>
      Effect.gen(function* () {
        const a = yield* distNode({ nodeName: "a", ...patient })
        const script = Path.join(import.meta.dirname, "..", "support", "creditNodeProcess.ts")
        const child = yield* Effect.acquireRelease(
          Effect.sync(() => new ChildProgram<{ readonly _tag: string }>(script, ["c", a.seed])),
          (child) => Effect.promise(() => child.stop())
        )
        const ready = (yield* child.awaitEvent((event) => event._tag === "Ready", 30_000, 0, "Ready")) as unknown as {
          readonly sink: { readonly node: string; readonly id: number; readonly incarnation: number }
        }
        yield* awaitNodesUp(a.cluster, ["c"])
        const sink = Pid.make(ready.sink.node, ready.sink.id, ready.sink.incarnation)
        const gate = RemoteName.make("gate", "c")
        const report = a.run(GenServer.call(gate, Gate.Report(), { timeout: 10_000 }))
        const total = 5000
        let done = 0
        const sender = yield* Effect.forkChild(
          a.run(
            Effect.forEach(
              range(total),
              (n) => Effect.map(GenServer.cast(sink, ChildSink.Put({ n })), () => void done++),
              {
                discard: true
              }
            )
          ),
          { startImmediately: true }
        )
        // The gate's calls are other traffic on the same link: they are answered while the sender waits.
        yield* eventually(report, (r) => r.parked === WINDOW, 20_000)
        assert.strictEqual(done, WINDOW + 17)
        assert.isUndefined(sender.pollUnsafe(), "the sender should be suspended")
        yield* a.run(GenServer.call(gate, Gate.Open()))
        yield* Fiber.join(sender)
        const final = yield* eventually(report, (r) => r.received === total, 60_000)
        assert.isTrue(final.inOrder)
        assert.isAtMost(final.maxParked, WINDOW)
      }),
    120_000
  )
})
