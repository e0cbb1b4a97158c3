import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import * as GlobalRegistry from "../../src/Cluster/GlobalRegistry.ts"
import {
  ExitReason,
  GenServer,
  GlobalName,
  Metrics,
  type Pid,
  Process,
  ProcessErrors,
  Signal
} from "../../src/index.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import { awaitNodesUp } from "../support/clusterHarness.ts"
import { kv, Kv } from "../support/distHarness.ts"
import {
  awaitOwner,
  awaitRegistryPeers,
  type GlobalNode,
  memoryGlobalNode,
  tcpGlobalNode,
  tcpTrio
} from "../support/globalHarness.ts"
import { inProcess, receiveOrFail } from "../support/process.ts"
import { eventually } from "../support/transportHarness.ts"

const startKv = (node: GlobalNode) => node.run(GenServer.start(kv, 10))

describe("GlobalRegistry in a connected cluster", () => {
  it.live("a name registered on one node is seen and used from every node (call, cast, send, monitor)", () =>
    Effect.gen(function* () {
      const { a, b, c } = yield* tcpTrio
      const server = yield* startKv(b)
      yield* b.run(GlobalRegistry.register("store", server))
      yield* awaitOwner([a, b, c], "store", String(server))
      const store = GlobalName.make("store", Kv)
      assert.strictEqual(yield* a.run(GenServer.call(store, Kv.Put({ key: "k", value: "v" }))), 1)
      yield* c.run(GenServer.cast(store, Kv.Note({ key: "n", value: "cast" })))
      assert.strictEqual(yield* c.run(GenServer.call(store, Kv.Get({ key: "n" }))), "cast")
      assert.strictEqual(yield* b.run(GenServer.call(store, Kv.Whoami())), String(server))
      assert.deepStrictEqual(yield* a.run(GlobalRegistry.registeredNames), ["store"])
      const found = yield* c.run(GlobalRegistry.whereis("store"))
      assert.strictEqual(String(Option.getOrUndefined(found)), String(server))
      // A monitor through the global name fires when the server stops.
      const monitoring = yield* Deferred.make<void>()
      const downs = yield* Effect.forkChild(
        a.run(
          inProcess((self) =>
            Effect.gen(function* () {
              yield* Process.monitor(store)
              yield* Deferred.succeed(monitoring, undefined)
              return yield* receiveOrFail(self, 5000)
            })
          )
        ),
        { startImmediately: true }
      )
      yield* Deferred.await(monitoring)
      yield* b.run(GenServer.stop(server))
      const down = yield* Fiber.join(downs)
      assert.instanceOf(down, Signal.Down)
      assert.strictEqual(String((down as Signal.Down).pid), String(server))
      yield* awaitOwner([a, b, c], "store", undefined)
      // Nobody holds it now: a call by the name fails with NoProcess, a monitor gets noproc.
      const error = yield* Effect.flip(a.run(GenServer.call(store, Kv.Get({ key: "k" }))))
      assert.instanceOf(error, ProcessErrors.NoProcess)
      assert.strictEqual(yield* a.run(Process.awaitExit(store)), ExitReason.noproc)
      const stats = yield* b.registry.stats
      assert.strictEqual(stats.registrations, 1)
      assert.strictEqual(stats.localNames, 0)
      assert.strictEqual(stats.arbiter, "a")
    })
  )

  it.live("a process linked through a global name gets its exit signal; a name nobody holds is NoProcess", () =>
    Effect.gen(function* () {
      const { a, b } = yield* tcpTrio
      const target = yield* startKv(b)
      yield* b.run(GlobalRegistry.register("linked", target))
      yield* awaitOwner([a], "linked", String(target))
      const linked = yield* Deferred.make<void>()
      const watcher = yield* Effect.forkChild(
        a.run(
          inProcess((self) =>
            Effect.gen(function* () {
              yield* Process.trapExit(true)
              yield* Process.link(GlobalName.make("linked"))
              yield* Deferred.succeed(linked, undefined)
              return yield* receiveOrFail(self, 5000)
            })
          )
        ),
        { startImmediately: true }
      )
      yield* Deferred.await(linked)
      yield* b.run(Process.exit(target, ExitReason.custom("boom")))
      const signal = yield* Fiber.join(watcher)
      assert.instanceOf(signal, Signal.Exit)
      assert.strictEqual(String((signal as Signal.Exit).pid), String(target))
      const error = yield* a.run(inProcess(() => Effect.flip(Process.link(GlobalName.make("nobody")))))
      assert.instanceOf(error, ProcessErrors.NoProcess)
    })
  )

  it.live("unregister releases a name on every node; a node going down releases its names everywhere", () =>
    Effect.gen(function* () {
      const a = yield* tcpGlobalNode({ nodeName: "a" })
      const c = yield* tcpGlobalNode({ nodeName: "c", seeds: [a.seed] })
      const bScope = yield* Scope.make()
      const b = yield* Scope.provide(tcpGlobalNode({ nodeName: "b", seeds: [a.seed, c.seed] }), bScope)
      yield* awaitRegistryPeers([a, b, c])
      const onB = yield* startKv(b)
      const onC = yield* startKv(c)
      yield* b.run(GlobalRegistry.register("on-b", onB))
      yield* c.run(GlobalRegistry.register("on-c", onC))
      yield* awaitOwner([a, b, c], "on-b", String(onB))
      yield* awaitOwner([a, b, c], "on-c", String(onC))
      // Unregistered from a node that neither owns it nor arbitrates.
      assert.isTrue(yield* b.run(GlobalRegistry.unregister("on-c")))
      assert.isFalse(yield* b.run(GlobalRegistry.unregister("on-c")))
      yield* awaitOwner([a, b, c], "on-c", undefined)
      assert.isTrue(yield* c.run(Effect.map(Process.info(onC), Option.isSome)), "the process keeps running")
      // b goes away: its name is released on a and c.
      yield* Scope.close(bScope, Exit.void)
      yield* awaitOwner([a, c], "on-b", undefined)
      assert.deepStrictEqual(yield* a.run(GlobalRegistry.registeredNames), [])
    })
  )

  it.live("register refuses a taken name, a dead pid, and a call outside a process without a pid", () =>
    Effect.gen(function* () {
      const { a, b, c } = yield* tcpTrio
      const first = yield* startKv(c)
      const second = yield* startKv(b)
      yield* c.run(GlobalRegistry.register("single", first))
      const taken = yield* Effect.flip(b.run(GlobalRegistry.register("single", second)))
      assert.instanceOf(taken, ProcessErrors.NameTaken)
      assert.include(taken.message, String(first))
      // The same pid again is fine.
      yield* a.run(GlobalRegistry.register("single", first))
      yield* b.run(GenServer.stop(second))
      assert.instanceOf(yield* Effect.flip(b.run(GlobalRegistry.register("x", second))), ProcessErrors.NoProcess)
      assert.instanceOf(yield* Effect.flip(b.run(GlobalRegistry.register("x"))), ProcessErrors.NotAProcess)
      // A process registers itself.
      const self = yield* b.run(
        Process.spawn((context) =>
          Effect.andThen(GlobalRegistry.register("me"), receiveOrFail(context, 10_000)).pipe(
            Effect.provideService(GlobalRegistry.GlobalRegistry, b.registry)
          )
        )
      )
      yield* awaitOwner([a, b, c], "me", String(self))
      yield* b.run(Process.send(GlobalName.make("me"), "bye"))
      yield* b.run(Process.awaitExit(self))
      yield* awaitOwner([a, b, c], "me", undefined)
    })
  )

  it.live("nodes racing to register one name: exactly one wins, every node agrees, over many trials", () =>
    Effect.gen(function* () {
      const { a, b, c } = yield* tcpTrio
      const nodes = [a, b, c]
      const TRIALS = 60
      for (let trial = 0; trial < TRIALS; trial++) {
        const name = `race-${trial}`
        const pids = yield* Effect.forEach(nodes, startKv)
        const outcomes = yield* Effect.forEach(
          nodes,
          (n, i) => Effect.exit(n.run(GlobalRegistry.register(name, pids[i]!))),
          { concurrency: "unbounded" }
        )
        const winners = outcomes.flatMap((exit, i) => (Exit.isSuccess(exit) ? [pids[i]!] : []))
        assert.strictEqual(winners.length, 1, `trial ${trial}: ${winners.length} winners`)
        for (const exit of outcomes) {
          if (Exit.isFailure(exit)) {
            const error = exit.cause.reasons[0]
            assert.isTrue(error?._tag === "Fail" && error.error instanceof ProcessErrors.NameTaken, String(exit))
          }
        }
        yield* awaitOwner(nodes, name, String(winners[0]))
        yield* Effect.forEach(pids, (pid, i) => nodes[i]!.run(GenServer.stop(pid)), { discard: true })
      }
      yield* awaitOwner(nodes, "race-0", undefined)
    })
  )
})

describe("GlobalRegistry when the arbiter is slow or lost", () => {
  it.live(
    "a request the arbiter does not answer fails with RegistryTimeout; one in flight when it leaves goes to the next",
    () =>
      Effect.gen(function* () {
        const network = MemoryNetwork.make({ seed: 61 })
        const aScope = yield* Scope.make()
        const a = yield* Scope.provide(memoryGlobalNode(network, { nodeName: "a" }), aScope)
        const b = yield* memoryGlobalNode(network, { nodeName: "b", seeds: ["a@a:0"] })
        const c = yield* memoryGlobalNode(network, { nodeName: "c", seeds: ["a@a:0", "b@b:0"] })
        yield* awaitRegistryPeers([a, b, c])
        assert.strictEqual((yield* c.registry.stats).arbiter, "a")
        const pid = yield* startKv(c)
        // c's frames to a are held: the arbiter never hears the request.
        network.stall("c", "a")
        const timedOut = yield* Effect.flip(c.run(GlobalRegistry.register("slow", pid, { timeout: 200 })))
        assert.instanceOf(timedOut, GlobalRegistry.RegistryTimeout)
        assert.include(timedOut.message, "arbiter a")
        // Another request is held, then a leaves: it is asked again of b, the next arbiter.
        const pending = yield* Effect.forkChild(c.run(GlobalRegistry.register("moved", pid, { timeout: 30_000 })), {
          startImmediately: true
        })
        yield* Scope.close(aScope, Exit.void)
        yield* Fiber.join(pending).pipe(Effect.timeout(10_000))
        assert.strictEqual((yield* c.registry.stats).arbiter, "b")
        yield* awaitOwner([b, c], "moved", String(pid))
        network.heal("c", "a")
      })
  )
})

describe("GlobalRegistry across a partition", () => {
  const split = (seed: number) =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed })
      const a = yield* memoryGlobalNode(network, { nodeName: "a" })
      const b = yield* memoryGlobalNode(network, { nodeName: "b", seeds: ["a@a:0"] })
      yield* awaitRegistryPeers([a, b])
      network.partition("a", "b")
      yield* eventually(a.cluster.connectedNodeCount, (n) => n === 0)
      yield* eventually(b.cluster.connectedNodeCount, (n) => n === 0)
      return { network, a, b }
    })

  const heal = (network: MemoryNetwork.MemoryNetwork, a: GlobalNode, b: GlobalNode) =>
    Effect.gen(function* () {
      network.heal("a", "b")
      yield* awaitNodesUp(a.cluster, ["b"], 10_000)
      yield* awaitRegistryPeers([a, b])
    })

  it.live("both sides register; on heal the lower node's owner keeps it and the loser gets a trappable exit", () =>
    Effect.gen(function* () {
      const { network, a, b } = yield* split(41)
      const onA = yield* startKv(a)
      yield* a.run(GlobalRegistry.register("leader", onA))
      const registered = yield* Deferred.make<Pid.Pid>()
      const loser = yield* Effect.forkChild(
        b.run(
          inProcess((self) =>
            Effect.gen(function* () {
              yield* Process.trapExit(true)
              yield* b.run(GlobalRegistry.register("leader"))
              yield* Deferred.succeed(registered, self.pid)
              return yield* receiveOrFail(self, 15_000)
            })
          )
        ),
        { startImmediately: true }
      )
      const onB = yield* Deferred.await(registered)
      assert.strictEqual(String(b.registry.whereisUnsafe("leader")), String(onB))
      assert.strictEqual(String(a.registry.whereisUnsafe("leader")), String(onA))
      yield* heal(network, a, b)
      const signal = yield* Fiber.join(loser)
      assert.instanceOf(signal, Signal.Exit)
      const conflict = Option.getOrThrow(GlobalRegistry.conflictOf((signal as Signal.Exit).reason))
      assert.strictEqual(conflict.name, "leader")
      assert.strictEqual(String(conflict.winner), String(onA))
      yield* awaitOwner([a, b], "leader", String(onA))
      const stats = yield* b.registry.stats
      assert.strictEqual(stats.conflictsResolved, 1)
      assert.strictEqual(stats.localNames, 0)
      assert.strictEqual((yield* a.registry.stats).conflictsResolved, 0)
      assert.deepStrictEqual(yield* b.run(GlobalRegistry.registeredNames), ["leader"])
      // The figures are served as metrics.
      const metrics = yield* Layer.build(
        Metrics.layer().pipe(Layer.provideMerge(Metrics.layerRegistry), Layer.provide(Layer.succeedContext(b.context)))
      )
      const text = yield* Effect.provideContext(Metrics.render, metrics)
      const sample = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1])
      assert.strictEqual(sample("effect_otp_global_conflicts_resolved_total"), 1)
      assert.strictEqual(sample("effect_otp_global_registrations_total"), 1)
      assert.strictEqual(sample("effect_otp_global_names"), 1)
      assert.strictEqual(sample("effect_otp_global_local_names"), 0)
    })
  )

  it.live("exitLoser: an untrapped loser exits with {name_conflict, name, winner}", () =>
    Effect.gen(function* () {
      const { network, a, b } = yield* split(42)
      const onA = yield* startKv(a)
      const onB = yield* startKv(b)
      yield* a.run(GlobalRegistry.register("leader", onA))
      yield* b.run(GlobalRegistry.register("leader", onB))
      const exited = yield* Effect.forkChild(b.run(Process.awaitExit(onB)), { startImmediately: true })
      yield* heal(network, a, b)
      const reason = yield* Fiber.join(exited).pipe(Effect.timeout(10_000))
      const conflict = GlobalRegistry.conflictOf(reason)
      assert.isTrue(Option.isSome(conflict), ExitReason.format(reason))
      const value = Option.getOrThrow(conflict)
      assert.strictEqual(value.name, "leader")
      assert.strictEqual(String(value.winner), String(onA))
      assert.strictEqual(String(value.rival), String(onA))
      yield* awaitOwner([a, b], "leader", String(onA))
      assert.isTrue(Option.isSome(yield* a.run(Process.info(onA))))
    })
  )

  /** A process on `node` that registers `name` itself and returns the first message it receives. */
  const registerAndWait = (node: GlobalNode, name: string, onConflict: GlobalRegistry.OnConflict) =>
    Effect.gen(function* () {
      const registered = yield* Deferred.make<Pid.Pid>()
      const fiber = yield* Effect.forkChild(
        node.run(
          inProcess((self) =>
            Effect.gen(function* () {
              yield* node.run(GlobalRegistry.register(name, undefined, { onConflict }))
              yield* Deferred.succeed(registered, self.pid)
              return yield* receiveOrFail(self, 15_000)
            })
          )
        ),
        { startImmediately: true }
      )
      return { pid: yield* Deferred.await(registered), message: Fiber.join(fiber) }
    })

  it.live("notifyLoser: the loser keeps running and receives a NameConflict message", () =>
    Effect.gen(function* () {
      const { network, a, b } = yield* split(43)
      const onA = yield* registerAndWait(a, "svc", "notifyLoser")
      const onB = yield* registerAndWait(b, "svc", "notifyLoser")
      yield* heal(network, a, b)
      const message = yield* onB.message
      assert.instanceOf(message, GlobalRegistry.NameConflict)
      const conflict = message as GlobalRegistry.NameConflict
      assert.strictEqual(String(conflict.winner), String(onA.pid))
      assert.strictEqual(String(conflict.rival), String(onA.pid))
      yield* awaitOwner([a, b], "svc", String(onA.pid))
      assert.strictEqual((yield* b.registry.stats).conflictsResolved, 1)
      yield* a.run(Process.send(onA.pid, "done"))
      assert.strictEqual(yield* onA.message, "done")
    })
  )

  it.live("unregisterBoth: neither keeps the name and both are told", () =>
    Effect.gen(function* () {
      const { network, a, b } = yield* split(44)
      const onA = yield* registerAndWait(a, "both", "unregisterBoth")
      const onB = yield* registerAndWait(b, "both", "unregisterBoth")
      yield* heal(network, a, b)
      const toA = (yield* onA.message) as GlobalRegistry.NameConflict
      const toB = (yield* onB.message) as GlobalRegistry.NameConflict
      assert.instanceOf(toA, GlobalRegistry.NameConflict)
      assert.instanceOf(toB, GlobalRegistry.NameConflict)
      assert.isNull(toA.winner)
      assert.strictEqual(String(toA.rival), String(onB.pid))
      assert.strictEqual(String(toB.rival), String(onA.pid))
      yield* awaitOwner([a, b], "both", undefined)
      assert.deepStrictEqual(yield* a.run(GlobalRegistry.registeredNames), [])
    })
  )
})

describe("GlobalRegistry across a partition of three nodes", () => {
  it.live("{a} | {b, c} both register the same names; after every heal all three agree and every loser is told", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 71 })
      const a = yield* memoryGlobalNode(network, { nodeName: "a" })
      const b = yield* memoryGlobalNode(network, { nodeName: "b", seeds: ["a@a:0"] })
      const c = yield* memoryGlobalNode(network, { nodeName: "c", seeds: ["a@a:0", "b@b:0"] })
      const nodes = [a, b, c]
      yield* awaitRegistryPeers(nodes)
      const TRIALS = 6
      for (let trial = 0; trial < TRIALS; trial++) {
        const [near, far] = trial % 2 === 0 ? [b, c] : [c, b]
        // "held" is a's from before the split (b and c drop it when a's links go down); "both" is
        // registered on each side during the split.
        const held = yield* startKv(a)
        yield* a.run(GlobalRegistry.register(`held-${trial}`, held))
        yield* awaitOwner(nodes, `held-${trial}`, String(held))
        network.partition("a", "b")
        network.partition("a", "c")
        yield* eventually(a.cluster.connectedNodeCount, (n) => n === 0)
        yield* eventually(b.cluster.connectedNodeCount, (n) => n === 1)
        yield* eventually(c.cluster.connectedNodeCount, (n) => n === 1)
        yield* awaitOwner([b, c], `held-${trial}`, undefined)
        yield* near.run(GlobalRegistry.register(`held-${trial}`, yield* startKv(near)))
        const onA = yield* startKv(a)
        yield* a.run(GlobalRegistry.register(`both-${trial}`, onA))
        yield* far.run(GlobalRegistry.register(`both-${trial}`, yield* startKv(far)))
        const late = yield* startKv(a)
        yield* a.run(GlobalRegistry.register(`late-${trial}`, late))
        // c meets a again first; b, still cut off from a and its own arbiter, then grants the name
        // a holds to a process on c: c already knows a's registration, b and a do not know of
        // each other's. c must settle it with a.
        network.heal("a", "c")
        yield* eventually(c.registry.stats, (stats) => stats.peers === 2)
        yield* eventually(a.registry.stats, (stats) => stats.peers === 1)
        assert.strictEqual((yield* b.registry.stats).arbiter, "b")
        yield* b.run(GlobalRegistry.register(`late-${trial}`, yield* startKv(c)))
        network.heal("a", "b")
        yield* awaitNodesUp(a.cluster, ["b", "c"], 10_000)
        yield* awaitRegistryPeers(nodes)
        // The registration on the lower node wins everywhere, and every loser lost its name.
        yield* awaitOwner(nodes, `held-${trial}`, String(held))
        yield* awaitOwner(nodes, `both-${trial}`, String(onA))
        yield* awaitOwner(nodes, `late-${trial}`, String(late))
        yield* eventually(b.registry.stats, (stats) => stats.localNames === 0)
        yield* eventually(c.registry.stats, (stats) => stats.localNames === 0)
        for (const n of nodes) {
          assert.deepStrictEqual(
            (yield* n.run(GlobalRegistry.registeredNames)).filter((name) => name.endsWith(`-${trial}`)).sort(),
            [`both-${trial}`, `held-${trial}`, `late-${trial}`],
            `trial ${trial} on ${n.name}`
          )
        }
      }
    })
  )
})
