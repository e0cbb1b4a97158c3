import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import {
  BehaviourRegistry,
  Cluster,
  Distribution,
  GenServer,
  GlobalRegistry,
  MemoryNetwork,
  MemoryTransport,
  Process,
  ProcessGroups,
  Protocol,
  Transport
} from "../../src/index.ts"
import * as Channel from "../../src/Transport/Channel.ts"
import { awaitNodesUp, fast } from "../support/clusterHarness.ts"
import { collect, eventually } from "../support/transportHarness.ts"

const Echo = Protocol.make({
  Echo: Protocol.call({ payload: { text: Schema.String }, success: Schema.String })
})

const EchoSpec = BehaviourRegistry.define(
  "echo",
  Schema.Void,
  GenServer.behaviour(Echo)({
    init: () => Effect.succeed(undefined),
    handleCall: { Echo: ({ text }, state) => Effect.succeed(GenServer.reply(text, state)) }
  })
)

/** Membership (cluster + transport) of a node, without the layers above it: those start later. */
const membership = (network: MemoryNetwork.MemoryNetwork, name: string, seeds: ReadonlyArray<string>) =>
  Layer.build(
    Cluster.layerOn({ nodeName: name, insecure: true, seeds, ...fast }).pipe(
      Layer.provideMerge(MemoryTransport.layer(network, { name, handshakeTimeout: 500 }))
    )
  )

const Marker = Channel.make("test.readiness-marker", Schema.Number)

/**
 * Waits until every frame `from` sent to `to` so far has arrived there: links deliver in order, so a
 * marker sent now arrives after them.
 */
const flushed = (from: Context.Context<Cluster.Cluster>, to: Context.Context<Cluster.Cluster>, peer: string) =>
  Effect.gen(function* () {
    const marker = yield* collect(Context.get(to, Cluster.Cluster).transport, Marker, 1)
    yield* Context.get(from, Cluster.Cluster).transport.send(peer, Marker, 0)
    yield* marker
  })

/** The distribution, global registry and process groups of a node, over membership built before. */
const upperLayers = (context: Context.Context<Cluster.Cluster | Transport.Transport>) =>
  Layer.mergeAll(GlobalRegistry.layer, ProcessGroups.layer).pipe(
    Layer.provideMerge(Distribution.layerOnCluster(Layer.succeedContext(context), { behaviours: [EchoSpec] }))
  )

describe("frames sent to a node that is up before its layers registered their channels", () => {
  it.live("a remote spawn sent on NodeUp, while the target's distribution is still starting, succeeds", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const a = yield* Layer.build(upperLayers(yield* membership(network, "a", ["b@b:0"])))
      // b's membership is up (a sees b up on b's first heartbeat); its distribution is not yet.
      const bMembership = yield* membership(network, "b", ["a@a:0"])
      yield* awaitNodesUp(Context.get(a, Cluster.Cluster), ["b"])
      const spawn = yield* Effect.forkChild(
        Effect.provideContext(Distribution.spawn("b", EchoSpec, undefined, { timeout: "5 seconds" }), a)
      )
      // The spawn request has reached b (dropped there before this fix) before b's distribution starts.
      const stats = Context.get(a, Distribution.Distribution).stats
      yield* eventually(stats, (s) => s.remoteSpawn.totalInitiated === 1)
      yield* flushed(a, bMembership, "b")
      const b = yield* Layer.build(upperLayers(bMembership))
      const spawned = yield* Fiber.join(spawn)
      assert.strictEqual(spawned.pid.node, "b")
      const answer = yield* Effect.provideContext(GenServer.call(spawned.pid, Echo.Echo({ text: "hi" })), a)
      assert.strictEqual(answer, "hi")
      assert.isTrue(yield* Effect.provideContext(Process.isAlive(spawned.pid), b))
    }).pipe(Effect.scoped)
  )

  it.live("a group membership and a global name announced before the peer's layers started reach it", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const a = yield* Layer.build(upperLayers(yield* membership(network, "a", ["b@b:0"])))
      const bMembership = yield* membership(network, "b", ["a@a:0"])
      yield* awaitNodesUp(Context.get(a, Cluster.Cluster), ["b"])
      const member = yield* Effect.provideContext(
        Process.spawn(() => Effect.never),
        a
      )
      yield* Effect.provideContext(ProcessGroups.join("workers", member), a)
      yield* Effect.provideContext(GlobalRegistry.register("leader", member), a)
      yield* flushed(a, bMembership, "b")
      const b = yield* Layer.build(upperLayers(bMembership))
      const members = yield* eventually(
        Effect.provideContext(ProcessGroups.members("workers"), b),
        (pids) => pids.length === 1,
        2000
      )
      assert.strictEqual(String(members[0]), String(member))
      const owner = yield* Effect.provideContext(GlobalRegistry.whereis("leader"), b)
      assert.strictEqual(Option.map(owner, String).pipe(Option.getOrUndefined), String(member))
    }).pipe(Effect.scoped)
  )

  it.live("frames held for a node whose link went down before the channel registered are not delivered", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const Late = Channel.make("test.late", Schema.Number)
      const a = yield* MemoryTransport.make(network, { name: "a" })
      const b = yield* MemoryTransport.make(network, { name: "b" })
      yield* a.connect({ host: "b", port: 0 })
      yield* a.send("b", Late, 1)
      const marker = yield* collect(b, Marker, 1)
      yield* a.send("b", Marker, 0)
      yield* marker
      yield* b.disconnect("a", "connection_closed")
      const seen: Array<number> = []
      yield* b.register(Late, (n) => seen.push(n))
      assert.deepStrictEqual(seen, [])
    }).pipe(Effect.scoped)
  )

  it.effect("frames are held only while the transport starts: 30 s of (test) time, then dropped", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const Early = Channel.make("test.early", Schema.Number)
      const Late = Channel.make("test.late-start", Schema.Number)
      const a = yield* MemoryTransport.make(network, { name: "a" })
      const b = yield* MemoryTransport.make(network, { name: "b" })
      yield* a.connect({ host: "b", port: 0 })
      const sync = Effect.fnUntraced(function* (n: number) {
        const marker = yield* collect(b, Channel.make(`test.hold-marker-${n}`, Schema.Number), 1)
        yield* a.send("b", Channel.make(`test.hold-marker-${n}`, Schema.Number), 0)
        yield* marker
      })
      yield* a.send("b", Early, 1)
      yield* a.send("b", Late, 1)
      yield* sync(1)
      yield* TestClock.adjust("29 seconds")
      const early: Array<number> = []
      yield* b.register(Early, (n) => early.push(n))
      assert.deepStrictEqual(early, [1], "registered within 30 s: the held frame is delivered")
      yield* TestClock.adjust("2 seconds")
      yield* a.send("b", Late, 2)
      yield* sync(2)
      const late: Array<number> = []
      yield* b.register(Late, (n) => late.push(n))
      assert.deepStrictEqual(late, [], "registered after 30 s: nothing was kept")
    }).pipe(Effect.scoped)
  )
})
