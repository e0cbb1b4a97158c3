import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  BehaviourRegistry,
  GenServer,
  MemoryNetwork,
  ProcessErrors,
  RemoteSupervisor,
  Supervisor,
  SupervisorErrors
} from "../../src/index.ts"
import { cluster, Counter, CounterSpec } from "../support/distSupHarness.ts"

const twoNodes = Effect.gen(function* () {
  const [a, b] = yield* cluster(MemoryNetwork.make(), ["a", "b"])
  yield* b!.run(Supervisor.start({ children: [] }, { name: "workers" }))
  return { a: a!, b: b!, workers: RemoteSupervisor.ref("workers", "b") }
})

describe("supervisors reachable from other nodes", () => {
  it.live("a child started from another node runs there, under its supervisor, with the given arguments", () =>
    Effect.gen(function* () {
      const { a, b, workers } = yield* twoNodes
      const pid = yield* a.run(
        RemoteSupervisor.startChild(workers, { id: "c1", behaviour: CounterSpec, args: 41, name: "c1" })
      )
      assert.strictEqual(pid.node, "b")
      assert.deepStrictEqual(yield* a.run(GenServer.call(pid, Counter.Get())), { value: 41, node: "b" })
      // The supervisor on b holds it, as if started there.
      const local = yield* b.run(Supervisor.whichChildren("workers"))
      assert.deepStrictEqual(
        local.map((child) => [child.id, child.status, String(child.pid)]),
        [["c1", "running", String(pid)]]
      )
      const remote = yield* a.run(RemoteSupervisor.whichChildren(workers))
      assert.deepStrictEqual(
        remote.map((child) => [child.id, child.status, String(child.pid)]),
        [["c1", "running", String(pid)]]
      )
      assert.deepStrictEqual(yield* a.run(RemoteSupervisor.countChildren(workers)), {
        specs: 1,
        active: 1,
        supervisors: 0,
        workers: 1
      })
    })
  )

  it.live("terminate, restart and delete a remote child; a crashed one is restarted by its supervisor", () =>
    Effect.gen(function* () {
      const { a, workers } = yield* twoNodes
      const first = yield* a.run(RemoteSupervisor.startChild(workers, { id: "c1", behaviour: CounterSpec, args: 1 }))
      yield* a.run(RemoteSupervisor.terminateChild(workers, "c1"))
      const stopped = yield* a.run(RemoteSupervisor.whichChildren(workers))
      assert.deepStrictEqual(
        stopped.map((child) => [child.id, child.status]),
        [["c1", "stopped"]]
      )
      const second = yield* a.run(RemoteSupervisor.restartChild(workers, "c1"))
      assert.notStrictEqual(String(second), String(first))
      const running = yield* Effect.flip(a.run(RemoteSupervisor.deleteChild(workers, "c1")))
      assert.instanceOf(running, SupervisorErrors.ChildRunning)
      yield* a.run(GenServer.cast(second, Counter.Crash()))
      // The supervisor on b restarts it (permanent): a new pid shows up.
      const restarted = yield* a.run(RemoteSupervisor.whichChildren(workers)).pipe(
        Effect.repeat({
          until: (children) => children[0]?.pid !== undefined && String(children[0].pid) !== String(second)
        }),
        Effect.timeout("5 seconds")
      )
      assert.strictEqual(restarted[0]?.status, "running")
      yield* a.run(RemoteSupervisor.terminateChild(workers, "c1"))
      yield* a.run(RemoteSupervisor.deleteChild(workers, "c1"))
      assert.deepStrictEqual(yield* a.run(RemoteSupervisor.whichChildren(workers)), [])
      const missing = yield* Effect.flip(a.run(RemoteSupervisor.terminateChild(workers, "c1")))
      assert.instanceOf(missing, SupervisorErrors.ChildNotFound)
    })
  )

  it.live("the failures are typed: duplicate id, unknown behaviour, bad arguments, no such supervisor, node down", () =>
    Effect.gen(function* () {
      const { a, b, workers } = yield* twoNodes
      yield* a.run(RemoteSupervisor.startChild(workers, { id: "c1", behaviour: CounterSpec, args: 1 }))
      const duplicate = yield* Effect.flip(
        a.run(RemoteSupervisor.startChild(workers, { id: "c1", behaviour: CounterSpec, args: 1 }))
      )
      assert.instanceOf(duplicate, SupervisorErrors.ChildAlreadyStarted)
      const Unknown: typeof CounterSpec = { ...CounterSpec, name: "not-on-b" }
      const unknown = yield* Effect.flip(
        a.run(RemoteSupervisor.startChild(workers, { id: "x", behaviour: Unknown, args: 1 }))
      )
      assert.instanceOf(unknown, BehaviourRegistry.UnknownBehaviour)
      const noSupervisor = yield* Effect.flip(
        a.run(
          RemoteSupervisor.startChild(RemoteSupervisor.ref("nobody", "b"), { id: "x", behaviour: CounterSpec, args: 1 })
        )
      )
      assert.instanceOf(noSupervisor, ProcessErrors.NoProcess)
      yield* b.stop
      const down = yield* Effect.flip(a.run(RemoteSupervisor.whichChildren(workers)))
      assert.instanceOf(down, ProcessErrors.NodeDown)
    })
  )
})
