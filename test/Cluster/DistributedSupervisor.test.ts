import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import {
  DistributedSupervisor,
  GenServer,
  MemoryNetwork,
  Process,
  ProcessErrors,
  RemoteName,
  Supervisor
} from "../../src/index.ts"
import { cluster, Counter, CounterSpec, type TestNode } from "../support/distSupHarness.ts"
import { eventually } from "../support/transportHarness.ts"

const children = (count: number, options?: DistributedSupervisor.ChildOptions) =>
  Array.from({ length: count }, (_, i) => DistributedSupervisor.child(`c${i + 1}`, CounterSpec, i + 1, options))

const three = (network = MemoryNetwork.make()) =>
  Effect.map(cluster(network, ["a", "b", "c"]), ([a, b, c]) => ({ network, a: a!, b: b!, c: c! }))

const nodesOf = (node: TestNode, supervisor: Process.Target) =>
  Effect.map(node.run(DistributedSupervisor.whichChildren(supervisor)), (list) =>
    list.map((child) => `${child.id}@${child.node ?? "-"}`)
  )

/** Waits until a's view of `node` reports at least `count` processes (heartbeats carry the counts). */
const awaitCount = (a: TestNode, node: string, atLeast: number) =>
  eventually(a.cluster.nodes, (nodes) => (nodes.find((info) => info.id === node)?.processCount ?? 0) >= atLeast)

describe("placement by selector", () => {
  it.live("round_robin places children on each node in turn, and whichChildren answers from any node", () =>
    Effect.gen(function* () {
      const { a, b } = yield* three()
      const sup = yield* a.run(
        DistributedSupervisor.start({ selector: "round_robin", children: children(4) }, { name: "counters" })
      )
      assert.deepStrictEqual(yield* nodesOf(a, sup.pid), ["c1@a", "c2@b", "c3@c", "c4@a"])
      // Each child really runs where it is reported, with its arguments.
      for (const child of yield* a.run(DistributedSupervisor.whichChildren(sup.pid))) {
        const answer = yield* a.run(GenServer.call(child.pid!, Counter.Get()))
        assert.strictEqual(answer.node, child.node)
      }
      // From node b, by the supervisor's name on a.
      assert.deepStrictEqual(yield* nodesOf(b, RemoteName.make("counters", "a")), ["c1@a", "c2@b", "c3@c", "c4@a"])
      assert.deepStrictEqual(yield* b.run(DistributedSupervisor.countChildren(RemoteName.make("counters", "a"))), {
        specs: 4,
        active: 4,
        byNode: { a: 2, b: 1, c: 1 }
      })
    })
  )

  it.live("local_first places every child on the supervisor's node", () =>
    Effect.gen(function* () {
      const { a } = yield* three()
      const sup = yield* a.run(DistributedSupervisor.start({ selector: "local_first", children: children(3) }))
      assert.deepStrictEqual(yield* nodesOf(a, sup.pid), ["c1@a", "c2@a", "c3@a"])
    })
  )

  it.live("least_loaded places a child on the node running the fewest processes", () =>
    Effect.gen(function* () {
      const { a, b, c } = yield* three()
      const idle = (self: Process.ProcessContext<unknown>) => Effect.forever(self.receive)
      for (const node of [a, b]) {
        for (let i = 0; i < 40; i++) yield* node.run(Process.spawn(idle))
      }
      const base = (yield* c.run(Effect.map(Process.list, (list) => list.length))) + 40
      yield* awaitCount(a, "b", base)
      const sup = yield* a.run(DistributedSupervisor.start({ selector: "least_loaded", children: children(1) }))
      assert.deepStrictEqual(yield* nodesOf(a, sup.pid), ["c1@c"])
    })
  )

  it.live("random places children on the nodes of the cluster, more than one of them", () =>
    Effect.gen(function* () {
      const { a } = yield* three()
      const sup = yield* a.run(DistributedSupervisor.start({ selector: "random", children: children(12) }))
      const nodes = new Set((yield* a.run(DistributedSupervisor.whichChildren(sup.pid))).map((child) => child.node))
      assert.isTrue([...nodes].every((node) => node === "a" || node === "b" || node === "c"))
      assert.isAbove(nodes.size, 1)
    })
  )

  it.live("a function of the live nodes decides; a choice that is not a live node fails with PlacementFailed", () =>
    Effect.gen(function* () {
      const { a } = yield* three()
      const seen: Array<ReadonlyArray<string>> = []
      const sup = yield* a.run(
        DistributedSupervisor.start({
          selector: (candidates, id) => {
            seen.push(candidates.map((candidate) => candidate.node))
            return id === "c1" ? "c" : "b"
          },
          children: children(2)
        })
      )
      assert.deepStrictEqual(yield* nodesOf(a, sup.pid), ["c1@c", "c2@b"])
      assert.deepStrictEqual(seen[0], ["a", "b", "c"])
      const error = yield* Effect.flip(
        a.run(DistributedSupervisor.start({ selector: () => "z", children: children(1) }))
      )
      assert.instanceOf(error, DistributedSupervisor.PlacementFailed)
    })
  )
})

describe("restarts and node loss", () => {
  it.live("when a child's node is cut off, the child restarts on a surviving node, once, and the events say so", () =>
    Effect.gen(function* () {
      const { network, a, b } = yield* three()
      const sup = yield* a.run(DistributedSupervisor.start({ selector: "round_robin", children: children(3) }))
      const events = yield* sup.subscribe
      const collected = yield* Effect.forkChild(
        Stream.runCollect(
          Stream.take(
            Stream.filter(events, (event) => event._tag === "ChildRestarted"),
            1
          )
        ),
        { startImmediately: true }
      )
      const before = yield* a.run(DistributedSupervisor.whichChildren(sup.pid))
      const onB = before.find((child) => child.node === "b")!
      // b is unreachable from a and c: heartbeats time out (100 ms x 3), the link drops.
      network.partition("a", "b")
      network.partition("b", "c")
      const [restarted] = yield* Fiber.join(collected).pipe(Effect.timeout("5 seconds"))
      assert.instanceOf(restarted, DistributedSupervisor.ChildRestarted)
      assert.strictEqual(restarted.id, onB.id)
      assert.strictEqual(restarted.previousNode, "b")
      assert.isTrue(restarted.nodeLost)
      assert.notStrictEqual(restarted.node, "b")
      const after = yield* a.run(DistributedSupervisor.whichChildren(sup.pid))
      assert.deepStrictEqual(
        after.map((child) => child.status),
        ["running", "running", "running"]
      )
      assert.isTrue(after.every((child) => child.node !== "b"))
      // On b, cut off, the old instance got the noconnection exit of its link to the supervisor: one instance.
      yield* eventually(b.run(Process.isAlive(onB.pid!)), (alive) => !alive)
      const moved = after.find((child) => child.id === onB.id)!
      const answer = yield* a.run(GenServer.call(moved.pid!, Counter.Get()))
      assert.deepStrictEqual(answer, { value: 2, node: moved.node! })
    })
  )

  it.live("restart types: a crashed permanent child restarts, a transient one that ends normally is forgotten", () =>
    Effect.gen(function* () {
      const { a } = yield* three()
      const sup = yield* a.run(
        DistributedSupervisor.start({
          selector: "round_robin",
          children: [
            DistributedSupervisor.child("p", CounterSpec, 1),
            DistributedSupervisor.child("t", CounterSpec, 2, { restart: "transient" })
          ]
        })
      )
      const [p, t] = yield* a.run(DistributedSupervisor.whichChildren(sup.pid))
      yield* a.run(GenServer.cast(p!.pid!, Counter.Crash()))
      const restarted = yield* eventually(a.run(DistributedSupervisor.whichChildren(sup.pid)), (list) => {
        const child = list.find((each) => each.id === "p")
        return child?.pid !== undefined && String(child.pid) !== String(p!.pid)
      })
      assert.strictEqual(restarted.find((each) => each.id === "p")?.status, "running")
      yield* a.run(GenServer.cast(t!.pid!, Counter.Stop()))
      yield* eventually(a.run(DistributedSupervisor.whichChildren(sup.pid)), (list) => list.length === 1)
    })
  )

  it.live("more restarts than the intensity allows stop every child and the supervisor", () =>
    Effect.gen(function* () {
      const { a, b } = yield* three()
      const sup = yield* a.run(
        DistributedSupervisor.start({
          selector: "round_robin",
          maxRestarts: 2,
          within: "1 minute",
          children: children(2)
        })
      )
      const events = yield* sup.subscribe
      const stopped = yield* Effect.forkChild(
        Stream.runHead(Stream.filter(events, (event) => event._tag === "SupervisorStopped")),
        { startImmediately: true }
      )
      let last: ReadonlyArray<DistributedSupervisor.ChildInfo> = []
      for (let i = 0; i < 3; i++) {
        last = yield* eventually(a.run(DistributedSupervisor.whichChildren(sup.pid)), (list) =>
          list.every((child) => child.status === "running")
        )
        const first = last[0]
        yield* a.run(GenServer.cast(first!.pid!, Counter.Crash()))
        if (i < 2) {
          yield* eventually(a.run(DistributedSupervisor.whichChildren(sup.pid)), (list) =>
            list.every((child) => child.status === "running" && String(child.pid) !== String(first!.pid))
          )
        }
      }
      const event = yield* Fiber.join(stopped).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(
        Option.isSome(event) &&
          Supervisor.isMaxIntensity((event.value as DistributedSupervisor.SupervisorStopped).reason)
      )
      yield* eventually(a.run(Process.isAlive(sup.pid)), (alive) => !alive)
      // Its children (one of them on b) are gone too.
      for (const child of last) {
        const error = yield* Effect.flip(b.run(GenServer.call(child.pid!, Counter.Get())))
        assert.include(["NoProcess", "ServerExited"], error._tag)
      }
      const error = yield* Effect.flip(a.run(DistributedSupervisor.whichChildren(sup.pid)))
      assert.instanceOf(error, ProcessErrors.NoProcess)
    })
  )

  it.live("stopping the supervisor stops its children on every node", () =>
    Effect.gen(function* () {
      const { a } = yield* three()
      const sup = yield* a.run(DistributedSupervisor.start({ selector: "round_robin", children: children(3) }))
      const list = yield* a.run(DistributedSupervisor.whichChildren(sup.pid))
      yield* a.run(DistributedSupervisor.stop(sup.pid))
      for (const child of list) {
        const error = yield* Effect.flip(a.run(GenServer.call(child.pid!, Counter.Get())))
        assert.include(["NoProcess", "ServerExited"], error._tag)
      }
    })
  )
})
