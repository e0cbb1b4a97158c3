import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { DistributedSupervisor, GenServer, GlobalRegistry, MemoryNetwork } from "../../src/index.ts"
import { cluster, type TestNode, until } from "../support/distSupHarness.ts"
import { HandoffCounter, HandoffCounterSpec } from "../support/handoffCounter.ts"
import { eventually } from "../support/transportHarness.ts"

/** Places on a while a is a candidate, else on b, else on c. */
const onAThenB: DistributedSupervisor.Selector = (candidates) =>
  candidates.find((candidate) => candidate.node === "a")?.node ??
  candidates.find((candidate) => candidate.node === "b")?.node ??
  candidates[0]?.node

const h1 = GlobalRegistry.name("h1", HandoffCounter)
const jobs = GlobalRegistry.name("jobs")

describe("a singleton distributed supervisor whose active instance is on the leaving node", () => {
  it.live(
    "the children move off with their state first, then a standby takes over and adopts them (not restarted); calls by the children's names never fail",
    () =>
      Effect.gen(function* () {
        const network = MemoryNetwork.make()
        // Failure detection at 2 s (not 300 ms): under load a node must not be seen down meanwhile.
        const [a, b, c] = yield* cluster(network, ["a", "b", "c"], { heartbeatMissThreshold: 20 })
        const spec: DistributedSupervisor.DistributedSupervisorSpec = {
          selector: onAThenB,
          children: [DistributedSupervisor.child("h1", HandoffCounterSpec, 0, { globalName: "h1" })]
        }
        // a's instance, with its leave made a handoff (acquired after it: its finalizer runs first).
        const scopeOfA = yield* Scope.make()
        const onA = yield* a!
          .run(
            Effect.gen(function* () {
              const instance = yield* DistributedSupervisor.singleton(spec, { name: "jobs" })
              yield* DistributedSupervisor.handoffOnLeave(jobs)
              return instance
            })
          )
          .pipe(Scope.provide(scopeOfA))
        yield* eventually(onA.localServer, Option.isSome)
        const standbys = [
          yield* b!.run(DistributedSupervisor.singleton(spec, { name: "jobs" })),
          yield* c!.run(DistributedSupervisor.singleton(spec, { name: "jobs" }))
        ]
        const before = yield* until(b!.run(DistributedSupervisor.whichChildren(jobs)))
        assert.deepStrictEqual(
          before.map((child) => `${child.id}@${child.node}`),
          ["h1@a"]
        )
        yield* until(c!.run(GenServer.call(h1, HandoffCounter.Get())))
        assert.strictEqual(yield* c!.run(GenServer.call(h1, HandoffCounter.Add({ n: 42 }))), 42)
        // The standbys' events, from now on: the one that becomes active reports how it found h1.
        const streams = yield* Effect.forEach(standbys, (standby) => standby.subscribe)
        const started = yield* Effect.forkChild(
          Stream.runHead(
            Stream.filter(
              Stream.mergeAll(streams, { concurrency: "unbounded" }),
              (event) => event._tag === "ChildStarted"
            )
          ),
          { startImmediately: true }
        )

        const stop = yield* Deferred.make<void>()
        const failures: Array<string> = []
        const counts = { b: 0, c: 0 }
        const caller = (node: TestNode, id: "b" | "c") =>
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
          Effect.all([caller(b!, "b"), caller(c!, "c")], { concurrency: "unbounded" }),
          { startImmediately: true }
        )
        const progress = Effect.sync(() => Math.min(counts.b, counts.c))
        yield* eventually(progress, (n) => n >= 50)

        // a leaves: its scope closes (the handoff, then its instance stops).
        yield* Scope.close(scopeOfA, Exit.void)
        assert.isTrue(Option.isNone(yield* onA.localServer))
        const active = yield* eventually(
          Effect.map(
            Effect.forEach(standbys, (standby) => standby.localServer),
            (servers) => servers.filter(Option.isSome).length
          ),
          (n) => n === 1
        )
        assert.strictEqual(active, 1)
        const after = yield* until(
          b!.run(DistributedSupervisor.whichChildren(jobs)),
          (list) => list.length === 1 && list[0]!.status === "running" && list[0]!.node !== "a"
        )
        // The child the handoff started is the one the new active instance adopted.
        const owner = Option.getOrThrow(yield* b!.run(GlobalRegistry.whereis("h1")))
        assert.strictEqual(String(after[0]!.pid), String(owner))
        const event = Option.getOrThrow(yield* Fiber.join(started).pipe(Effect.timeout("10 seconds")))
        assert.isTrue(event._tag === "ChildStarted" && event.adopted, JSON.stringify(event))
        assert.strictEqual(String((event as DistributedSupervisor.ChildStarted).pid), String(owner))
        const afterLeave = yield* progress
        yield* eventually(progress, (n) => n >= afterLeave + 50)
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(callers).pipe(Effect.timeout("20 seconds"))

        assert.deepStrictEqual(failures, [])
        const answer = yield* c!.run(GenServer.call(h1, HandoffCounter.Get()))
        assert.strictEqual(answer.node, "b")
        assert.strictEqual(answer.state.value, 42 + counts.b + counts.c)
        assert.deepStrictEqual(answer.state.last, counts)
        assert.strictEqual(answer.state.handled, counts.b + counts.c)
        assert.strictEqual(answer.state.outOfOrder, 0)
        // Still the same instance a while later: the new active instance did not restart it.
        const still = yield* b!.run(DistributedSupervisor.whichChildren(jobs))
        assert.strictEqual(String(still[0]!.pid), String(owner))
      }),
    60_000
  )
})
