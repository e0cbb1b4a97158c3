import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { DistributedSupervisor, GenServer, GlobalRegistry, MemoryNetwork, Process } from "../../src/index.ts"
import { cluster, Counter, CounterSpec, type TestNode, until } from "../support/distSupHarness.ts"
import { HandoffCounter, HandoffCounterSpec } from "../support/handoffCounter.ts"
import { eventually } from "../support/transportHarness.ts"

const three = (network = MemoryNetwork.make(), timings: Parameters<typeof cluster>[2] = {}) =>
  Effect.map(cluster(network, ["a", "b", "c"], timings), ([a, b, c]) => ({ network, a: a!, b: b!, c: c! }))

/** Places on b while b is a candidate, else on the first candidate. */
const onB: DistributedSupervisor.Selector = (candidates) =>
  candidates.find((candidate) => candidate.node === "b")?.node ?? candidates[0]?.node

/** Places on b while b is a candidate, else on c (a remote start from a supervisor on a). */
const onBThenC: DistributedSupervisor.Selector = (candidates) =>
  candidates.find((candidate) => candidate.node === "b")?.node ??
  candidates.find((candidate) => candidate.node === "c")?.node

/** Places on b, else on c, else on a. */
const onBThenCThenA: DistributedSupervisor.Selector = (candidates) =>
  candidates.find((candidate) => candidate.node === "b")?.node ??
  candidates.find((candidate) => candidate.node === "c")?.node ??
  candidates.find((candidate) => candidate.node === "a")?.node

const h1 = GlobalRegistry.name("h1", HandoffCounter)

interface Progress {
  sent: number
  /** Casts refused with NoProcess (not delivered) and sent again. */
  resent: number
  callsOk: number
  callErrors: Array<string>
}

/**
 * Casts `Note`s numbered 1, 2, 3, ... by the global name until `stop`, a `Get` call by the name
 * after every 20th; a cast refused with `NoProcess` (not delivered: the name is moving) is sent again.
 */
const sender = (node: TestNode, id: string, stop: Deferred.Deferred<void>, progress: Progress) =>
  node.run(
    Effect.gen(function* () {
      while (!(yield* Deferred.isDone(stop))) {
        const seq = progress.sent + 1
        while (true) {
          const cast = yield* Effect.result(GenServer.cast(h1, HandoffCounter.Note({ sender: id, seq })))
          if (cast._tag === "Success") break
          if (cast.failure._tag !== "NoProcess") return yield* Effect.die(cast.failure)
          progress.resent++
          yield* Effect.yieldNow
        }
        progress.sent = seq
        if (seq % 20 === 0) {
          const call = yield* Effect.result(GenServer.call(h1, HandoffCounter.Get(), { timeout: 5000 }))
          if (call._tag === "Success") progress.callsOk++
          else progress.callErrors.push(call.failure._tag)
        } else {
          yield* Effect.yieldNow
        }
      }
    })
  )

describe("handoff on a graceful leave", () => {
  it.live(
    "a child with handoff moves off a leaving node with its state; casts sent meanwhile arrive once each, in order; a child without handoff restarts afresh",
    () =>
      Effect.gen(function* () {
        const { a, b, c } = yield* three()
        const sup = yield* a.run(
          DistributedSupervisor.start({
            selector: onB,
            children: [
              DistributedSupervisor.child("h1", HandoffCounterSpec, 0, { globalName: "h1" }),
              DistributedSupervisor.child("f1", CounterSpec, 7, { globalName: "f1" })
            ]
          })
        )
        const before = yield* a.run(DistributedSupervisor.whichChildren(sup.pid))
        assert.deepStrictEqual(
          before.map((child) => `${child.id}@${child.node}`),
          ["h1@b", "f1@b"]
        )
        // The name reaches c's replica shortly after the start.
        yield* until(c.run(GenServer.call(h1, HandoffCounter.Get())))
        assert.strictEqual(yield* c.run(GenServer.call(h1, HandoffCounter.Add({ n: 42 }))), 42)
        yield* until(c.run(GenServer.call(GlobalRegistry.name("f1", Counter), Counter.Get())))
        assert.strictEqual(yield* c.run(GenServer.call(GlobalRegistry.name("f1", Counter), Counter.Add({ n: 5 }))), 12)
        const events = yield* sup.subscribe
        const handedOff = yield* Effect.forkChild(
          Stream.runCollect(
            Stream.take(
              Stream.filter(events, (event) => event._tag === "ChildHandedOff"),
              2
            )
          ),
          { startImmediately: true }
        )

        const stop = yield* Deferred.make<void>()
        const fromA: Progress = { sent: 0, resent: 0, callsOk: 0, callErrors: [] }
        const fromC: Progress = { sent: 0, resent: 0, callsOk: 0, callErrors: [] }
        const senders = yield* Effect.forkChild(
          Effect.all([sender(a, "a", stop, fromA), sender(c, "c", stop, fromC)], { concurrency: "unbounded" }),
          { startImmediately: true }
        )
        yield* eventually(
          Effect.sync(() => Math.min(fromA.sent, fromC.sent)),
          (sent) => sent >= 100
        )
        const moved = yield* a.run(DistributedSupervisor.handoff(sup.pid, "b"))
        assert.strictEqual(moved, 2)
        const [sentA, sentC] = [fromA.sent, fromC.sent]
        yield* eventually(
          Effect.sync(() => Math.min(fromA.sent - sentA, fromC.sent - sentC)),
          (sent) => sent >= 100
        )
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(senders).pipe(Effect.timeout("10 seconds"))

        const after = yield* a.run(DistributedSupervisor.whichChildren(sup.pid))
        assert.isTrue(after.every((child) => child.status === "running" && child.node !== "b"))
        const answer = yield* c.run(GenServer.call(h1, HandoffCounter.Get()))
        assert.notStrictEqual(answer.node, "b")
        assert.strictEqual(answer.node, after.find((child) => child.id === "h1")!.node)
        // The state came along, and every cast was handled once, in each sender's order.
        assert.strictEqual(answer.state.value, 42)
        assert.deepStrictEqual(answer.state.last, { a: fromA.sent, c: fromC.sent })
        assert.strictEqual(answer.state.handled, fromA.sent + fromC.sent)
        assert.strictEqual(answer.state.outOfOrder, 0)
        // Calls during the move waited for the new instance, except those made while the name
        // itself moved (NoProcess, as documented).
        for (const tag of [...fromA.callErrors, ...fromC.callErrors]) assert.strictEqual(tag, "NoProcess")
        assert.isAbove(fromA.callsOk + fromC.callsOk, 0)
        // The child without handoff was started afresh from its arguments.
        const fresh = yield* c.run(GenServer.call(GlobalRegistry.name("f1", Counter), Counter.Get()))
        assert.strictEqual(fresh.value, 7)
        assert.notStrictEqual(fresh.node, "b")
        const moves = [...(yield* Fiber.join(handedOff).pipe(Effect.timeout("5 seconds")))]
        assert.deepStrictEqual(
          moves.map(
            (event) => `${event.id}:${event.previousNode}:${(event as DistributedSupervisor.ChildHandedOff).withState}`
          ),
          ["h1:b:true", "f1:b:false"]
        )
        yield* Effect.log(
          `handoff: a sent ${fromA.sent} (${fromA.resent} resent, calls ${fromA.callsOk} ok / ${fromA.callErrors.length} failed), c sent ${fromC.sent} (${fromC.resent} resent, calls ${fromC.callsOk} ok / ${fromC.callErrors.length} failed)`
        )

        // b leaves for good: nothing of the children was left there.
        yield* b.stop
        const later = yield* until(c.run(GenServer.call(h1, HandoffCounter.Get())))
        assert.strictEqual(later.state.value, 42)
        assert.strictEqual(later.state.handled, fromA.sent + fromC.sent)
      }),
    60_000
  )

  it.live(
    "a child with handoff whose node is lost (not a graceful leave) restarts afresh",
    () =>
      Effect.gen(function* () {
        const { network, a, c } = yield* three()
        const sup = yield* a.run(
          DistributedSupervisor.start({
            selector: onB,
            children: [DistributedSupervisor.child("h1", HandoffCounterSpec, 0, { globalName: "h1" })]
          })
        )
        // The name reaches c's replica shortly after the start.
        yield* until(c.run(GenServer.call(h1, HandoffCounter.Get())))
        assert.strictEqual(yield* c.run(GenServer.call(h1, HandoffCounter.Add({ n: 42 }))), 42)
        network.partition("a", "b")
        network.partition("b", "c")
        const restarted = yield* until(c.run(GenServer.call(h1, HandoffCounter.Get())), (answer) => answer.node !== "b")
        assert.strictEqual(restarted.state.value, 0)
        const children = yield* a.run(DistributedSupervisor.whichChildren(sup.pid))
        assert.strictEqual(children[0]!.node, restarted.node)
      }),
    30_000
  )

  it.live(
    "a child that declares handoff: false is started afresh on a graceful leave",
    () =>
      Effect.gen(function* () {
        const { a, c } = yield* three()
        const sup = yield* a.run(
          DistributedSupervisor.start({
            selector: onB,
            children: [DistributedSupervisor.child("h1", HandoffCounterSpec, 3, { globalName: "h1", handoff: false })]
          })
        )
        yield* until(c.run(GenServer.call(h1, HandoffCounter.Get())))
        assert.strictEqual(yield* c.run(GenServer.call(h1, HandoffCounter.Add({ n: 42 }))), 45)
        assert.strictEqual(yield* a.run(DistributedSupervisor.handoff(sup.pid, "b")), 1)
        const answer = yield* until(c.run(GenServer.call(h1, HandoffCounter.Get())))
        assert.strictEqual(answer.state.value, 3)
        assert.notStrictEqual(answer.node, "b")
      }),
    30_000
  )

  it.live(
    "while the old instance forwards, a call to it is answered by the new one, and a call that reaches the new one directly is answered after what was forwarded",
    () =>
      Effect.gen(function* () {
        const { a, c } = yield* three()
        const sup = yield* a.run(
          DistributedSupervisor.start({
            selector: onBThenC,
            // Long, so that the casts and calls to the old instance below reach it while it lingers
            // even on a loaded machine (the test waits on events; the linger only sets its length).
            handoffLinger: "6 seconds",
            children: [DistributedSupervisor.child("h1", HandoffCounterSpec, 0, { globalName: "h1" })]
          })
        )
        yield* until(c.run(GenServer.call(h1, HandoffCounter.Get())))
        assert.strictEqual(yield* c.run(GenServer.call(h1, HandoffCounter.Add({ n: 42 }))), 42)
        const events = yield* sup.subscribe
        const handedOff = yield* Effect.forkChild(
          Stream.runHead(Stream.filter(events, (event) => event._tag === "ChildHandedOff")),
          { startImmediately: true }
        )
        const moving = yield* Effect.forkChild(a.run(DistributedSupervisor.handoff(sup.pid, "b")), {
          startImmediately: true
        })
        const event = (yield* Fiber.join(handedOff).pipe(Effect.timeout("10 seconds"))).pipe((o) =>
          o._tag === "Some" ? (o.value as DistributedSupervisor.ChildHandedOff) : undefined
        )!
        assert.isTrue(event.withState)
        const old = event.previousPid as GenServer.ServerPid<typeof HandoffCounter>
        const fresh = event.pid as GenServer.ServerPid<typeof HandoffCounter>
        // The old instance is lingering: what it gets goes to the new one, which answers through it.
        yield* c.run(GenServer.cast(old, HandoffCounter.Note({ sender: "c", seq: 1 })))
        assert.strictEqual(yield* c.run(GenServer.call(old, HandoffCounter.Add({ n: 1 }))), 43)
        // A call straight to the new instance is kept until the forwarding ends, then sees it all.
        const direct = yield* Effect.forkChild(
          c.run(GenServer.call(fresh, HandoffCounter.Get(), { timeout: 20_000 })),
          {
            startImmediately: true
          }
        )
        const oldExit = yield* Effect.forkChild(c.run(Process.awaitExit(old)), { startImmediately: true })
        const answer = yield* Fiber.join(direct)
        // The old instance stops once it has sent the end of its forwarding.
        assert.isTrue(
          (yield* Fiber.join(oldExit).pipe(Effect.timeoutOption("5 seconds")))._tag === "Some",
          "the old instance exited"
        )
        assert.strictEqual(answer.state.value, 43)
        assert.deepStrictEqual(answer.state.last, { c: 1 })
        assert.strictEqual(answer.state.handled, 1)
        // Started on c by a remote spawn: the carried state crossed the wire in its start arguments.
        assert.strictEqual(answer.node, "c")
        assert.strictEqual(yield* Fiber.join(moving), 1)
      }),
    30_000
  )
  it.live(
    "two handoffs in a row (b, then at once c, while the new instance on c still receives from b): casts arrive once each, in order, and one instance runs at the end with the state",
    () =>
      Effect.gen(function* () {
        const { a, c } = yield* three()
        const sup = yield* a.run(
          DistributedSupervisor.start({
            selector: onBThenCThenA,
            children: [DistributedSupervisor.child("h1", HandoffCounterSpec, 0, { globalName: "h1" })]
          })
        )
        yield* until(c.run(GenServer.call(h1, HandoffCounter.Get())))
        assert.strictEqual(yield* c.run(GenServer.call(h1, HandoffCounter.Add({ n: 42 }))), 42)
        const events = yield* sup.subscribe
        const handedOff = yield* Effect.forkChild(
          Stream.runCollect(
            Stream.take(
              Stream.filter(events, (event) => event._tag === "ChildHandedOff"),
              2
            )
          ),
          { startImmediately: true }
        )
        const stop = yield* Deferred.make<void>()
        const fromA: Progress = { sent: 0, resent: 0, callsOk: 0, callErrors: [] }
        const fromC: Progress = { sent: 0, resent: 0, callsOk: 0, callErrors: [] }
        const senders = yield* Effect.forkChild(
          Effect.all([sender(a, "a", stop, fromA), sender(c, "c", stop, fromC)], { concurrency: "unbounded" }),
          { startImmediately: true }
        )
        yield* eventually(
          Effect.sync(() => Math.min(fromA.sent, fromC.sent)),
          (sent) => sent >= 100
        )
        // The second handoff starts as soon as the first has moved the child (the first old
        // instance still lingers, forwarding to the new one on c).
        const firstEvents = yield* sup.subscribe
        const firstEvent = yield* Effect.forkChild(
          Stream.runHead(Stream.filter(firstEvents, (event) => event._tag === "ChildHandedOff")),
          { startImmediately: true }
        )
        const first = yield* Effect.forkChild(a.run(DistributedSupervisor.handoff(sup.pid, "b")), {
          startImmediately: true
        })
        yield* Fiber.join(firstEvent).pipe(Effect.timeout("10 seconds"))
        const second = yield* a.run(DistributedSupervisor.handoff(sup.pid, "c"))
        assert.strictEqual(second, 1)
        assert.strictEqual(yield* Fiber.join(first), 1)
        const [sentA, sentC] = [fromA.sent, fromC.sent]
        yield* eventually(
          Effect.sync(() => Math.min(fromA.sent - sentA, fromC.sent - sentC)),
          (sent) => sent >= 100
        )
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(senders).pipe(Effect.timeout("10 seconds"))

        const moves = [...(yield* Fiber.join(handedOff).pipe(Effect.timeout("5 seconds")))].map(
          (event) => event as DistributedSupervisor.ChildHandedOff
        )
        assert.deepStrictEqual(
          moves.map((event) => `${event.previousNode}->${event.node}:${event.withState}`),
          ["b->c:true", "c->a:true"]
        )
        // Both old instances have stopped: one instance runs, on a.
        for (const event of moves) {
          const exited = yield* a.run(Process.awaitExit(event.previousPid)).pipe(Effect.timeoutOption("10 seconds"))
          assert.isTrue(exited._tag === "Some", `the instance on ${event.previousNode} exited`)
        }
        const after = yield* a.run(DistributedSupervisor.whichChildren(sup.pid))
        assert.deepStrictEqual(
          after.map((child) => `${child.id}@${child.node}:${child.status}`),
          ["h1@a:running"]
        )
        const answer = yield* c.run(GenServer.call(h1, HandoffCounter.Get()))
        assert.strictEqual(answer.node, "a")
        assert.strictEqual(answer.state.value, 42)
        assert.deepStrictEqual(answer.state.last, { a: fromA.sent, c: fromC.sent })
        assert.strictEqual(answer.state.handled, fromA.sent + fromC.sent)
        assert.strictEqual(answer.state.outOfOrder, 0)
        for (const tag of [...fromA.callErrors, ...fromC.callErrors]) assert.strictEqual(tag, "NoProcess")
      }),
    60_000
  )

  it.live(
    "calls and casts by the global name never fail while the name moves (it goes to the new instance in one step on every node)",
    () =>
      Effect.gen(function* () {
        // Failure detection at 2 s (not 300 ms): under load a node must not be seen down meanwhile.
        const { a, c } = yield* three(MemoryNetwork.make(), { heartbeatMissThreshold: 20 })
        // On c, not on the registry's arbiter (a): the name's move crosses links.
        const sup = yield* c.run(
          DistributedSupervisor.start({
            selector: onBThenCThenA,
            children: [DistributedSupervisor.child("h1", HandoffCounterSpec, 0, { globalName: "h1" })]
          })
        )
        yield* until(c.run(GenServer.call(h1, HandoffCounter.Get())))
        const stop = yield* Deferred.make<void>()
        const failures: Array<string> = []
        const counts = { a: 0, c: 0 }
        /** A cast then a call by the name, over and over; every failure is recorded. */
        const caller = (node: TestNode, id: "a" | "c") =>
          node.run(
            Effect.gen(function* () {
              while (!(yield* Deferred.isDone(stop))) {
                const seq = counts[id] + 1
                const cast = yield* Effect.result(GenServer.cast(h1, HandoffCounter.Note({ sender: id, seq })))
                if (cast._tag === "Failure") failures.push(`cast ${cast.failure._tag}`)
                const call = yield* Effect.result(GenServer.call(h1, HandoffCounter.Add({ n: 1 }), { timeout: 10_000 }))
                if (call._tag === "Failure") failures.push(`call ${call.failure._tag}`)
                counts[id] = seq
              }
            })
          )
        const callers = yield* Effect.forkChild(
          Effect.all([caller(a, "a"), caller(c, "c")], { concurrency: "unbounded" }),
          { startImmediately: true }
        )
        const progress = Effect.sync(() => Math.min(counts.a, counts.c))
        yield* eventually(progress, (n) => n >= 50)
        // Two moves (b to c, then c to a), each with calls running from both a and c.
        assert.strictEqual(yield* c.run(DistributedSupervisor.handoff(sup.pid, "b")), 1)
        const afterFirst = yield* progress
        yield* eventually(progress, (n) => n >= afterFirst + 50)
        assert.strictEqual(yield* c.run(DistributedSupervisor.handoff(sup.pid, "c")), 1)
        const afterSecond = yield* progress
        yield* eventually(progress, (n) => n >= afterSecond + 50)
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(callers).pipe(Effect.timeout("20 seconds"))
        assert.deepStrictEqual(failures, [])
        const answer = yield* c.run(GenServer.call(h1, HandoffCounter.Get()))
        assert.strictEqual(answer.node, "a")
        // Every cast and every call was handled once, in each sender's order, with the state carried.
        assert.strictEqual(answer.state.value, counts.a + counts.c)
        assert.deepStrictEqual(answer.state.last, counts)
        assert.strictEqual(answer.state.handled, counts.a + counts.c)
        assert.strictEqual(answer.state.outOfOrder, 0)
      }),
    60_000
  )
})
