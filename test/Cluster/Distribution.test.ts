import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Schema, Scope, Tracer } from "effect"
import { TestClock } from "effect/testing"
import * as BehaviourRegistry from "../../src/Cluster/BehaviourRegistry.ts"
import { UnknownBehaviour } from "../../src/Cluster/BehaviourRegistry.ts"
import { ExitReason, GenServer, Pid, Process, ProcessErrors, Protocol, RemoteName, Signal } from "../../src/index.ts"
import * as Channel from "../../src/Transport/Channel.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import { awaitNodesUp, clusterEvents, tcpClusterNode } from "../support/clusterHarness.ts"
import {
  distNode,
  FailingSpec,
  Kv,
  kv,
  KvSpec,
  memoryDistNode,
  Overflow,
  SlowSpec,
  type TestNode
} from "../support/distHarness.ts"
import { inProcess, receiveOrFail } from "../support/process.ts"
import { eventually, LogCapture } from "../support/transportHarness.ts"

/** Two connected nodes a and b. */
const pair = Effect.gen(function* () {
  const a = yield* distNode({ nodeName: "a" })
  const b = yield* distNode({ nodeName: "b", seeds: [a.seed] })
  yield* awaitNodesUp(a.cluster, ["b"])
  yield* awaitNodesUp(b.cluster, ["a"])
  return { a, b }
})

const startKv = (node: TestNode, name?: string, limit = 10) =>
  node.run(GenServer.start(kv, limit, name === undefined ? undefined : { name }))

describe("remote calls and casts", () => {
  it.live("typed calls and casts work both ways, by pid and by name", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const onB = yield* startKv(b, "store")
      const onA = yield* startKv(a, "store")
      assert.strictEqual(yield* a.run(GenServer.call(onB, Kv.Put({ key: "x", value: "1" }))), 1)
      const value: string | null = yield* a.run(GenServer.call(RemoteName.make("store", "b"), Kv.Get({ key: "x" })))
      assert.strictEqual(value, "1")
      assert.strictEqual(yield* b.run(GenServer.call(onA, Kv.Put({ key: "y", value: "2" }))), 1)
      yield* a.run(GenServer.cast(onB, Kv.Note({ key: "z", value: "cast" })))
      // Frames on one link arrive in order: the call after the cast sees it.
      assert.strictEqual(yield* a.run(GenServer.call(onB, Kv.Get({ key: "z" }))), "cast")
      assert.strictEqual(yield* a.run(GenServer.call(onB, Kv.Whoami())), String(onB))
      const stats = yield* a.distribution.stats
      assert.strictEqual(stats.remoteCall.totalCalls, 4)
      assert.strictEqual(stats.remoteCall.totalCasts, 1)
      assert.strictEqual(stats.remoteCall.pendingCalls, 0)
    })
  )

  it.live("the handler's declared error arrives as the same typed error", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b, undefined, 1)
      yield* a.run(GenServer.call(server, Kv.Put({ key: "1", value: "a" })))
      const error = yield* Effect.flip(a.run(GenServer.call(server, Kv.Put({ key: "2", value: "b" }))))
      assert.instanceOf(error, Overflow)
      assert.strictEqual((error as Overflow).limit, 1)
    })
  )

  it.live("a dead remote pid, a pid of a previous incarnation and an unknown name fail with NoProcess", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      yield* b.run(GenServer.stop(server))
      assert.instanceOf(yield* Effect.flip(a.run(GenServer.call(server, Kv.Whoami()))), ProcessErrors.NoProcess)
      const live = yield* startKv(b)
      const stale = Pid.make(live.node, live.id, live.incarnation + 1)
      assert.instanceOf(yield* Effect.flip(a.run(GenServer.call(stale, Kv.Whoami()))), ProcessErrors.NoProcess)
      const unknown = yield* Effect.flip(a.run(GenServer.call(RemoteName.make("nobody", "b"), Kv.Whoami())))
      assert.instanceOf(unknown, ProcessErrors.NoProcess)
    })
  )

  it.live("a call to a node that is not connected fails with NodeDown at once", () =>
    Effect.gen(function* () {
      const { a } = yield* pair
      const error = yield* Effect.flip(a.run(GenServer.call(Pid.make("ghost", 1, 1), Kv.Whoami())))
      assert.instanceOf(error, ProcessErrors.NodeDown)
    })
  )

  it.live("a remote server crash fails the call with ServerExited and the remote reason", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      const error = yield* Effect.flip(a.run(GenServer.call(server, Kv.Crash())))
      assert.instanceOf(error, GenServer.ServerExited)
      assert.include(ExitReason.format((error as GenServer.ServerExited).reason), "kv crashed")
      assert.isTrue(Pid.equals((error as GenServer.ServerExited).server, server))
    })
  )

  it.live("a call times out with CallTimeout; a late reply is dropped", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      const error = yield* Effect.flip(a.run(GenServer.call(server, Kv.Hang(), { timeout: 50 })))
      assert.instanceOf(error, GenServer.CallTimeout)
      assert.strictEqual(yield* a.run(GenServer.call(server, Kv.Put({ key: "k", value: "v" }))), 1)
      assert.strictEqual((yield* a.distribution.stats).remoteCall.failures.timeout, 1)
    })
  )

  it.live("a payload that does not decode fails only that call, with RemoteDecodeError, and the link stays up", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      // The caller's declaration of Put disagrees with the server's (a version skew).
      const Skewed = Protocol.make({
        Put: Protocol.call({ payload: { key: Schema.Number }, success: Schema.Number })
      })
      // Only an untyped pid lets such a request compile: a pid typed by Kv accepts Kv's requests only.
      const untyped: Pid.Pid = server
      const error = yield* Effect.flip(a.run(GenServer.call(untyped, Skewed.Put({ key: 7 }))))
      assert.instanceOf(error, ProcessErrors.RemoteDecodeError)
      assert.include(error.message, "Put")
      // A reply that the caller cannot decode.
      const WrongReply = Protocol.make({ Whoami: Protocol.call({ success: Schema.Number }) })
      const bad = yield* Effect.flip(a.run(GenServer.call(untyped, WrongReply.Whoami())))
      assert.instanceOf(bad, ProcessErrors.RemoteDecodeError)
      assert.strictEqual(yield* a.run(GenServer.call(server, Kv.Put({ key: "still", value: "up" }))), 1)
    })
  )

  it.live("plain sends reach a remote process's mailbox", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const got = yield* Deferred.make<unknown>()
      yield* b.run(
        Process.spawn((self) => Effect.flatMap(self.receive, (m) => Deferred.succeed(got, m)), { name: "inbox" })
      )
      yield* a.run(Process.send(RemoteName.make("inbox", "b"), { hello: "world", n: [1, 2] }))
      assert.deepStrictEqual(yield* Deferred.await(got), { hello: "world", n: [1, 2] })
    })
  )
})

/** Polls `effect` until `predicate` holds (every 5 ms, at most `ms`). */
/**
 * A Kv server whose state counts its Gets (each answers the count so far), optionally waiting for
 * `getWaitsFor` first, or never finishing `terminate`; the other requests answer trivially.
 */
const counter = (options: { readonly getWaitsFor?: Deferred.Deferred<void>; readonly terminateNever?: boolean }) =>
  GenServer.behaviour(Kv)({
    init: () => Effect.succeed(0),
    handleCall: {
      Get: (_, n) =>
        Effect.as(
          options.getWaitsFor === undefined ? Effect.void : Deferred.await(options.getWaitsFor),
          GenServer.reply(String(n), n + 1)
        ),
      Put: (_, n) => Effect.succeed(GenServer.reply(n, n)),
      Whoami: (_, n) => Effect.succeed(GenServer.reply("counter", n)),
      Hang: (_, n) => Effect.succeed(GenServer.noReply(n)),
      Crash: () => Effect.die("crash")
    },
    handleCast: { Note: (_, n) => Effect.succeed(GenServer.noReply(n)) },
    terminate: () => (options.terminateNever === true ? Effect.never : Effect.void)
  })

describe("full mailboxes", () => {
  it.live("remote sends to a full mailbox (policy suspend) wait behind it, are counted, and arrive in order", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const total = 200
      const gate = yield* Deferred.make<void>()
      const received: Array<number> = []
      const consumer = yield* b.run(
        Process.spawn(
          (self) =>
            Effect.gen(function* () {
              yield* Deferred.await(gate)
              while (received.length < total) received.push((yield* self.receive) as number)
            }),
          { mailboxCapacity: 16 }
        )
      )
      yield* a.run(
        Effect.forEach(
          Array.from({ length: total }, (_, i) => i),
          (i) => Process.send(consumer, i),
          { discard: true }
        )
      )
      yield* eventually(b.distribution.stats, (stats) => stats.parkedMessages === total - 16)
      yield* Deferred.succeed(gate, undefined)
      yield* eventually(
        Effect.sync(() => received.length),
        (n) => n === total
      )
      assert.deepStrictEqual(
        received,
        Array.from({ length: total }, (_, i) => i)
      )
      // Each queued message is counted out when it is admitted (its sender is woken just after).
      yield* eventually(b.distribution.stats, (stats) => stats.parkedMessages === 0)
    })
  )

  it.live("remote calls queued behind a full mailbox are counted, then answered in order as it drains", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const gate = yield* Deferred.make<void>()
      const server = yield* b.run(GenServer.start(counter({ getWaitsFor: gate }), undefined, { mailboxCapacity: 1 }))
      // One call in the handler, one in the mailbox, two queued behind it.
      const calls = yield* Effect.forEach(Array.from({ length: 4 }), () =>
        Effect.forkChild(a.run(GenServer.call(server, Kv.Get({ key: "k" }))), { startImmediately: true })
      )
      yield* eventually(b.distribution.stats, (stats) => stats.parkedMessages === 2)
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.joinAll(calls), ["0", "1", "2", "3"])
      yield* eventually(b.distribution.stats, (stats) => stats.parkedMessages === 0)
    })
  )
  it.live("remote calls wait for room on a link above its high-water mark instead of piling up there", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 9 })
      const highWaterMarkBytes = 4096
      const a = yield* memoryDistNode(network, { nodeName: "a", transport: { highWaterMarkBytes } })
      const b = yield* memoryDistNode(network, { nodeName: "b", seeds: ["a@a:0"] })
      yield* awaitNodesUp(a.cluster, ["b"])
      const server = yield* startKv(b, undefined, 100)
      network.stall("a", "b")
      const value = "x".repeat(1000)
      const calls = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) =>
          Effect.forkChild(a.run(GenServer.call(server, Kv.Put({ key: `k${i}`, value }), { timeout: 30_000 })), {
            startImmediately: true
          })
      )
      // 50 calls of ~1 KB: only what fits under the mark (plus one frame) is on the link.
      const buffered = a.cluster.transport.linkUnsafe("b")?.bufferedBytes ?? 0
      assert.isAtLeast(buffered, highWaterMarkBytes)
      assert.isAtMost(buffered, highWaterMarkBytes + 2 * 1100)
      network.heal("a", "b")
      const sizes = yield* Fiber.joinAll(calls).pipe(Effect.timeout(10_000))
      assert.deepStrictEqual(
        [...sizes].sort((x, y) => x - y),
        Array.from({ length: 50 }, (_, i) => i + 1)
      )
    })
  )

  it.live("a call waiting for room times out unsent, or fails with the link's reason when it drops", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 10 })
      const a = yield* memoryDistNode(network, { nodeName: "a", transport: { highWaterMarkBytes: 4096 } })
      const b = yield* memoryDistNode(network, { nodeName: "b", seeds: ["a@a:0"], heartbeatMissThreshold: 1000 })
      yield* awaitNodesUp(a.cluster, ["b"])
      const server = yield* startKv(b, undefined, 100)
      network.stall("a", "b")
      // One large request fills the link past its mark; the next ones wait for room.
      const big = yield* Effect.forkChild(
        a.run(GenServer.call(server, Kv.Put({ key: "big", value: "x".repeat(6000) }))),
        {
          startImmediately: true
        }
      )
      const late = yield* Effect.flip(
        a.run(GenServer.call(server, Kv.Put({ key: "late", value: "v" }), { timeout: 100 }))
      )
      assert.instanceOf(late, GenServer.CallTimeout)
      network.heal("a", "b")
      assert.strictEqual(yield* Fiber.join(big), 1)
      assert.isNull(yield* a.run(GenServer.call(server, Kv.Get({ key: "late" }))), "a timed-out call is never sent")
      // Again, but the link drops while the call waits: it fails with the link's own reason.
      network.stall("a", "b")
      yield* Effect.forkChild(a.run(GenServer.call(server, Kv.Put({ key: "big2", value: "x".repeat(6000) }))), {
        startImmediately: true
      })
      const waiting = yield* Effect.forkChild(
        a.run(Effect.flip(GenServer.call(server, Kv.Put({ key: "w", value: "v" })))),
        {
          startImmediately: true
        }
      )
      yield* a.cluster.transport.disconnect("b", "heartbeat_timeout")
      const down = yield* Fiber.join(waiting)
      assert.instanceOf(down, ProcessErrors.NodeDown)
      assert.strictEqual(down instanceof ProcessErrors.NodeDown && down.reason, "heartbeat_timeout")
      network.heal("a", "b")
    })
  )
})

describe("node loss", () => {
  it.live("every call pending to a node fails with NodeDown the moment it goes down", () =>
    Effect.gen(function* () {
      const a = yield* distNode({ nodeName: "a" })
      const scope = yield* Scope.make()
      const b = yield* distNode({ nodeName: "b", seeds: [a.seed] }).pipe(Scope.provide(scope))
      yield* awaitNodesUp(a.cluster, ["b"])
      const server = yield* startKv(b)
      const calls = yield* Effect.forEach(Array.from({ length: 20 }), () =>
        Effect.forkChild(a.run(GenServer.call(server, Kv.Hang(), { timeout: 60_000 })), { startImmediately: true })
      )
      assert.strictEqual((yield* a.distribution.stats).remoteCall.pendingCalls, 20)
      const start = Date.now()
      yield* Scope.close(scope, Exit.void)
      for (const call of calls) {
        const exit = yield* Fiber.await(call)
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
        assert.instanceOf(error, ProcessErrors.NodeDown)
      }
      assert.isBelow(Date.now() - start, 2000)
      assert.strictEqual((yield* a.distribution.stats).remoteCall.pendingCalls, 0)
      assert.strictEqual((yield* a.distribution.stats).remoteCall.failures.node_down, 20)
    })
  )

  it.live("a dropped link fails its calls before anything else runs, so calls on the next link are safe", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      const pending = yield* Effect.forkChild(a.run(GenServer.call(server, Kv.Hang(), { timeout: 60_000 })), {
        startImmediately: true
      })
      // Failed synchronously with the link, not by an event handled later (which, after a quick
      // reconnect, would also fail calls already sent on the new link).
      const pendingAfterDisconnect = yield* Effect.sync(() => {
        Effect.runSync(a.cluster.transport.disconnect("b", "heartbeat_timeout"))
        return Effect.runSync(a.distribution.stats).remoteCall.pendingCalls
      })
      assert.strictEqual(pendingAfterDisconnect, 0)
      const exit = yield* Fiber.await(pending)
      assert.instanceOf(
        Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined,
        ProcessErrors.NodeDown
      )
      yield* a.cluster.transport.connect(b.cluster.transport.address)
      const fresh = yield* Effect.forkChild(a.run(GenServer.call(server, Kv.Hang(), { timeout: 60_000 })), {
        startImmediately: true
      })
      assert.strictEqual((yield* a.distribution.stats).remoteCall.pendingCalls, 1)
      // Let every fiber that handles link events run: the call on the new link stays pending.
      yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow, { discard: true })
      assert.strictEqual((yield* a.distribution.stats).remoteCall.pendingCalls, 1)
      yield* Fiber.interrupt(fresh)
    })
  )
})

/** A server on `node` whose `terminate` never returns (so only a kill ends it). */
const startStubborn = (node: TestNode) => node.run(GenServer.start(counter({ terminateNever: true }), undefined))

describe("remote stop", () => {
  it.live("GenServer.stop stops a server on another node, by pid or by name, with the given reason", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const byPid = yield* startKv(b)
      const byName = yield* startKv(b, "named")
      const reasons = yield* a.run(
        inProcess(() =>
          Effect.gen(function* () {
            const waitPid = yield* Effect.forkChild(Process.awaitExit(byPid), { startImmediately: true })
            const waitName = yield* Effect.forkChild(Process.awaitExit(byName), { startImmediately: true })
            yield* GenServer.stop(byPid, ExitReason.shutdown("by pid"))
            yield* GenServer.stop(RemoteName.make("named", "b"), ExitReason.shutdown("by name"), 5_000)
            return [yield* Fiber.join(waitPid), yield* Fiber.join(waitName)].map(ExitReason.format)
          })
        )
      )
      assert.deepStrictEqual(reasons, ["shutdown(by pid)", "shutdown(by name)"])
      assert.isFalse(yield* b.run(Process.isAlive(byPid)))
      // Whatever reason the server exits with, even one that looks like a distribution failure.
      yield* a.run(GenServer.stop(yield* startKv(b), ExitReason.noconnection))
      yield* a.run(GenServer.stop(yield* startKv(b), ExitReason.noproc))
    })
  )

  it.live("a remote stop fails with NoProcess for a dead pid or an unknown name, NodeDown for an unknown node", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      yield* b.run(GenServer.stop(server))
      assert.instanceOf(yield* Effect.flip(a.run(GenServer.stop(server))), ProcessErrors.NoProcess)
      const unknown = yield* Effect.flip(a.run(GenServer.stop(RemoteName.make("nobody", "b"))))
      assert.instanceOf(unknown, ProcessErrors.NoProcess)
      const ghost = yield* Effect.flip(a.run(GenServer.stop(Pid.make("ghost", 1, 1), ExitReason.normal, 1_000)))
      assert.instanceOf(ghost, ProcessErrors.NodeDown)
    })
  )

  it.live("a remote server that does not stop in time is killed and stop fails with CallTimeout", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startStubborn(b)
      const waiter = yield* Effect.forkChild(a.run(Process.awaitExit(server)), { startImmediately: true })
      const error = yield* Effect.flip(a.run(GenServer.stop(server, ExitReason.normal, 200)))
      assert.instanceOf(error, GenServer.CallTimeout)
      assert.strictEqual(ExitReason.format(yield* Fiber.join(waiter).pipe(Effect.timeout(5_000))), "killed")
    })
  )

  it.live("a remote stop whose answer never comes fails with CallTimeout shortly after its timeout", () =>
    Effect.gen(function* () {
      const a = yield* distNode({ nodeName: "a" })
      // A cluster member that runs no distribution: it drops the Stop frame unanswered.
      const mute = yield* tcpClusterNode({ nodeName: "mute", secret: "dist-test", seeds: [a.seed] })
      yield* awaitNodesUp(a.cluster, ["mute"])
      const started = Date.now()
      const target = Pid.make("mute", 1, mute.local.incarnation)
      const error = yield* Effect.flip(a.run(GenServer.stop(target, ExitReason.normal, 100)))
      assert.instanceOf(error, GenServer.CallTimeout)
      assert.isBelow(Date.now() - started, 5_000)
    })
  )

  it.live("a stop waiting on a node fails with NodeDown when the link is lost", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startStubborn(b)
      const stopping = yield* Effect.forkChild(a.run(Effect.flip(GenServer.stop(server))), { startImmediately: true })
      // The server is in its endless terminate once it no longer answers calls.
      yield* Effect.flip(a.run(GenServer.call(server, Kv.Whoami(), { timeout: 100 })))
      yield* a.cluster.transport.disconnect("b", "heartbeat_timeout")
      assert.instanceOf(yield* Fiber.join(stopping).pipe(Effect.timeout(5_000)), ProcessErrors.NodeDown)
    })
  )

  it.live("stopping a process that is not a GenServer is a defect, here or on another node; it gets no message", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const got: Array<unknown> = []
      const plain = yield* b.run(
        Process.spawn((self) => Effect.forever(Effect.map(self.receive, (message) => got.push(message))))
      )
      for (const node of [a, b]) {
        const exit = yield* node.run(Effect.exit(GenServer.stop(plain, ExitReason.normal, 1_000)))
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), `a defect on ${node.name}`)
        assert.include(Cause.pretty(Exit.isFailure(exit) ? exit.cause : Cause.empty), "is not a GenServer")
      }
      yield* b.run(Process.send(plain, "after"))
      yield* eventually(
        Effect.sync(() => got.length),
        (n) => n > 0
      )
      assert.deepStrictEqual(got, ["after"])
      assert.isTrue(yield* b.run(Process.isAlive(plain)))
    })
  )
})

describe("remote monitors and links", () => {
  it.live("a remote monitor delivers Down with the remote reason; noproc when already dead", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      yield* a.run(
        inProcess((self) =>
          Effect.gen(function* () {
            const ref = yield* Process.monitor(server)
            yield* Effect.flip(GenServer.call(server, Kv.Crash()))
            const down = (yield* receiveOrFail(self)) as Signal.Down
            assert.instanceOf(down, Signal.Down)
            assert.strictEqual(down.ref.id, ref.id)
            assert.isTrue(Pid.equals(down.pid, server))
            assert.include(ExitReason.format(down.reason), "kv crashed")
            const again = yield* Process.monitor(server)
            const noproc = (yield* receiveOrFail(self)) as Signal.Down
            assert.strictEqual(noproc.ref.id, again.id)
            assert.strictEqual(noproc.reason._tag, "NoProc")
          })
        )
      )
    })
  )

  it.live("demonitor cleans up both ends", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      yield* a.run(
        inProcess(() =>
          Effect.gen(function* () {
            const ref = yield* Process.monitor(server)
            yield* GenServer.call(server, Kv.Whoami()) // the Monitor frame was handled before the reply
            assert.strictEqual((yield* b.distribution.stats).remoteMonitor.activeIncomingCount, 1)
            assert.strictEqual((yield* a.distribution.stats).remoteMonitor.activeOutgoingCount, 1)
            assert.isTrue(yield* Process.demonitor(ref))
            yield* GenServer.call(server, Kv.Whoami())
            assert.strictEqual((yield* b.distribution.stats).remoteMonitor.activeIncomingCount, 0)
            assert.strictEqual((yield* a.distribution.stats).remoteMonitor.activeOutgoingCount, 0)
          })
        )
      )
    })
  )

  it.live("monitors and links fire with noconnection when the link to the node is lost", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      yield* a.run(
        inProcess((self) =>
          Effect.gen(function* () {
            yield* Process.trapExit(true)
            const ref = yield* Process.monitor(server)
            yield* Process.link(server)
            yield* GenServer.call(server, Kv.Whoami())
            // The connection drops (as a reset would): the remote process is still alive.
            yield* a.cluster.transport.disconnect("b", "connection_closed")
            const first = yield* receiveOrFail(self)
            const second = yield* receiveOrFail(self)
            const down = [first, second].find((m) => m instanceof Signal.Down) as Signal.Down
            const exit = [first, second].find((m) => m instanceof Signal.Exit) as Signal.Exit
            assert.strictEqual(down.ref.id, ref.id)
            assert.strictEqual(down.reason._tag, "NoConnection")
            assert.isTrue(Pid.equals(exit.pid, server))
            assert.strictEqual(exit.reason._tag, "NoConnection")
          })
        )
      )
      const stats = yield* a.distribution.stats
      assert.strictEqual(stats.remoteMonitor.activeOutgoingCount, 0)
      assert.strictEqual(stats.remoteLinks, 0)
    })
  )

  it.live("a node that stops gracefully reports its processes' real exit reason, or noconnection", () =>
    Effect.gen(function* () {
      const a = yield* distNode({ nodeName: "a" })
      const scope = yield* Scope.make()
      const b = yield* distNode({ nodeName: "b", seeds: [a.seed] }).pipe(Scope.provide(scope))
      yield* awaitNodesUp(a.cluster, ["b"])
      const server = yield* startKv(b)
      yield* a.run(
        inProcess((self) =>
          Effect.gen(function* () {
            const ref = yield* Process.monitor(server)
            yield* GenServer.call(server, Kv.Whoami())
            yield* Scope.close(scope, Exit.void)
            const down = (yield* receiveOrFail(self)) as Signal.Down
            assert.strictEqual(down.ref.id, ref.id)
            assert.oneOf(down.reason._tag, ["Shutdown", "NoConnection"])
          })
        )
      )
    })
  )

  it.live("links across nodes propagate exits both ways", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      // A remote crash reaches a trapping local process as an Exit message.
      const server = yield* startKv(b)
      yield* a.run(
        inProcess((self) =>
          Effect.gen(function* () {
            yield* Process.trapExit(true)
            yield* Process.link(server)
            yield* Effect.flip(GenServer.call(server, Kv.Crash()))
            const exit = (yield* receiveOrFail(self)) as Signal.Exit
            assert.instanceOf(exit, Signal.Exit)
            assert.isTrue(Pid.equals(exit.pid, server))
            assert.include(ExitReason.format(exit.reason), "kv crashed")
          })
        )
      )
      // A local crash kills a linked remote process that does not trap exits.
      const victim = yield* startKv(b)
      const watcher = yield* Effect.forkChild(b.run(Process.awaitExit(victim)), { startImmediately: true })
      const local = yield* a.run(
        Process.spawn((self) =>
          Effect.gen(function* () {
            yield* Process.link(victim)
            yield* self.receive
            return yield* Process.exitSelf(ExitReason.custom("local failure"))
          })
        )
      )
      yield* a.run(GenServer.call(victim, Kv.Whoami())) // the link is in place once this returns
      yield* a.run(Process.send(local, "go"))
      const reason = yield* Fiber.join(watcher)
      assert.include(ExitReason.format(reason), "local failure")
    })
  )

  it.live("a link to a dead remote pid delivers noproc", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      yield* b.run(GenServer.stop(server))
      yield* a.run(
        inProcess((self) =>
          Effect.gen(function* () {
            yield* Process.trapExit(true)
            yield* Process.link(server)
            const exit = (yield* receiveOrFail(self)) as Signal.Exit
            assert.strictEqual(exit.reason._tag, "NoProc")
          })
        )
      )
    })
  )

  it.live("awaitExit works on a remote pid", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      const waiter = yield* Effect.forkChild(a.run(Process.awaitExit(server)), { startImmediately: true })
      yield* a.run(GenServer.call(server, Kv.Whoami()))
      yield* a.run(Process.exit(server, ExitReason.shutdown("remote stop")))
      assert.strictEqual(ExitReason.format(yield* Fiber.join(waiter)), "shutdown(remote stop)")
    })
  )
})

describe("remote spawn", () => {
  it.live("spawns a registered behaviour with typed arguments, optionally named, linked and monitored", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const plain = yield* a.run(a.distribution.spawn("b", KvSpec, 2))
      assert.strictEqual(plain.pid.node, "b")
      assert.isUndefined(plain.monitor)
      assert.strictEqual(yield* a.run(GenServer.call(plain.pid, Kv.Put({ key: "k", value: "v" }))), 1)
      const named = yield* a.run(a.distribution.spawn("b", KvSpec, 2, { name: "spawned" }))
      assert.isTrue(Pid.equals(Option.getOrThrow(yield* b.run(Process.info("spawned"))).pid, named.pid))
      yield* a.run(
        inProcess((self) =>
          Effect.gen(function* () {
            yield* Process.trapExit(true)
            const linked = yield* a.distribution.spawn("b", KvSpec, 2, { link: true, monitor: true })
            assert.isDefined(linked.monitor)
            yield* Effect.flip(GenServer.call(linked.pid, Kv.Crash()))
            const messages = [yield* receiveOrFail(self), yield* receiveOrFail(self)]
            const exit = messages.find((m) => m instanceof Signal.Exit) as Signal.Exit
            const down = messages.find((m) => m instanceof Signal.Down) as Signal.Down
            assert.include(ExitReason.format(exit.reason), "kv crashed")
            assert.strictEqual(down.ref.id, linked.monitor!.id)
          })
        )
      )
      const stats = yield* a.distribution.stats
      assert.strictEqual(stats.remoteSpawn.totalInitiated, 3)
      assert.strictEqual(stats.remoteSpawn.succeeded, 3)
    })
  )

  it.live("spawn errors: unknown behaviour, init failure, node down, timeout", () =>
    Effect.gen(function* () {
      const { a } = yield* pair
      const onlyHere = { ...KvSpec, name: "not-there" }
      assert.instanceOf(yield* Effect.flip(a.run(a.distribution.spawn("b", onlyHere, 1))), UnknownBehaviour)
      const failed = yield* Effect.flip(a.run(a.distribution.spawn("b", FailingSpec, "no database")))
      assert.instanceOf(failed, GenServer.InitFailed)
      assert.include(ExitReason.format((failed as GenServer.InitFailed).reason), "no database")
      assert.instanceOf(yield* Effect.flip(a.run(a.distribution.spawn("ghost", KvSpec, 1))), ProcessErrors.NodeDown)
      const slow = yield* Effect.flip(a.run(a.distribution.spawn("b", SlowSpec, 1, { timeout: 100 })))
      assert.isTrue(slow instanceof GenServer.InitFailed || slow instanceof GenServer.CallTimeout)
      assert.strictEqual((yield* a.distribution.stats).remoteSpawn.failed, 4)
    })
  )
})

/** A server that logs and traces its work, for the tests of what remotely spawned processes run with. */
const Chatty = Protocol.make({ Hello: Protocol.call({ success: Schema.String }) })
const ChattySpec = BehaviourRegistry.define(
  "chatty",
  Schema.String,
  GenServer.behaviour(Chatty)({
    init: (greeting: string) => Effect.as(Effect.log(`chatty started with ${greeting}`), greeting),
    handleCall: {
      Hello: (_, greeting) =>
        Effect.log(`chatty says ${greeting}`).pipe(
          Effect.withSpan("chatty.hello"),
          Effect.as(GenServer.reply(greeting, greeting))
        )
    }
  })
)

describe("what remotely spawned processes run with", () => {
  it.live("a remotely spawned server logs through its node's logger and its spans go to its node's tracer", () => {
    const logsB = new LogCapture()
    const spans: Array<string> = []
    const tracerB = Tracer.make({
      span: (options) => {
        spans.push(options.name)
        return Tracer.nativeTracer.span(options)
      }
    })
    return Effect.gen(function* () {
      const a = yield* distNode({ nodeName: "a" })
      yield* distNode({ nodeName: "b", seeds: [a.seed] }, [ChattySpec]).pipe(
        Effect.provide(logsB.layer),
        Effect.withTracer(tracerB)
      )
      yield* awaitNodesUp(a.cluster, ["b"])
      const { pid } = yield* a.run(a.distribution.spawn("b", ChattySpec, "bonjour"))
      assert.strictEqual(yield* a.run(GenServer.call(pid, Chatty.Hello())), "bonjour")
      yield* logsB.awaitLine(/Info: chatty started with bonjour/)
      yield* logsB.awaitLine(/Info: chatty says bonjour/)
      assert.include(spans, "chatty.hello")
      // The server span of the call (named by its rpc.method): a call from another node starts a trace.
      assert.include(spans, "Hello")
    })
  })
})

describe("remote timers on Effect's Clock", () => {
  /** Waits on the live clock (for real events) inside a TestClock test. */
  const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => TestClock.testClockWith((clock) => clock.withLive(effect))
  /** Heartbeats far apart, so that jumps of test time do not look like silences. */
  const slow = { heartbeatInterval: "1 hour" } as const

  it.effect("a remote call times out after its timeout of test time, and leaves nothing pending", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 31 })
      const a = yield* memoryDistNode(network, { nodeName: "a", ...slow })
      const b = yield* memoryDistNode(network, { nodeName: "b", seeds: ["a@a:0"], ...slow })
      yield* live(awaitNodesUp(a.cluster, ["b"]))
      yield* live(awaitNodesUp(b.cluster, ["a"]))
      const server = yield* startKv(b)
      const call = yield* Effect.forkChild(a.run(GenServer.call(server, Kv.Hang(), { timeout: 10_000 })), {
        startImmediately: true
      })
      yield* TestClock.adjust(9_999)
      assert.isUndefined(call.pollUnsafe())
      assert.strictEqual((yield* a.distribution.stats).remoteCall.pendingCalls, 1)
      yield* TestClock.adjust(1)
      const error = yield* Effect.flip(Fiber.join(call))
      assert.instanceOf(error, GenServer.CallTimeout)
      assert.strictEqual((error as GenServer.CallTimeout).timeoutMs, 10_000)
      const stats = yield* a.distribution.stats
      assert.strictEqual(stats.remoteCall.pendingCalls, 0)
      assert.strictEqual(stats.remoteCall.failures["timeout"], 1)
    })
  )

  it.effect("a remote call whose timeout is already over (zero) fails with CallTimeout, not left waiting", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 33 })
      const a = yield* memoryDistNode(network, { nodeName: "a", ...slow })
      const b = yield* memoryDistNode(network, { nodeName: "b", seeds: ["a@a:0"], ...slow })
      yield* live(awaitNodesUp(a.cluster, ["b"]))
      const server = yield* startKv(b)
      // Under TestClock a zero sleep ends while its timer is being armed.
      const error = yield* Effect.flip(a.run(GenServer.call(server, Kv.Hang(), { timeout: 0 })))
      assert.instanceOf(error, GenServer.CallTimeout)
      assert.strictEqual((yield* a.distribution.stats).remoteCall.pendingCalls, 0)
      const spawnError = yield* Effect.flip(a.run(a.distribution.spawn("b", SlowSpec, 1, { timeout: 0 })))
      assert.instanceOf(spawnError, GenServer.CallTimeout)
    })
  )

  it.effect("a remote spawn whose init does not finish times out after its timeout of test time", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 32 })
      const a = yield* memoryDistNode(network, { nodeName: "a", ...slow })
      yield* memoryDistNode(network, { nodeName: "b", seeds: ["a@a:0"], ...slow })
      yield* live(awaitNodesUp(a.cluster, ["b"]))
      const spawn = yield* Effect.forkChild(a.run(a.distribution.spawn("b", SlowSpec, 1, { timeout: 60_000 })), {
        startImmediately: true
      })
      yield* TestClock.adjust(59_999)
      assert.isUndefined(spawn.pollUnsafe())
      yield* TestClock.adjust(1)
      const error = yield* Effect.flip(Fiber.join(spawn))
      // Both nodes time the init: whichever comes first, the spawn fails at the timeout.
      assert.isTrue(error instanceof GenServer.CallTimeout || error instanceof GenServer.InitFailed, String(error))
    })
  )
})

describe("tracing across nodes", () => {
  it.live("one trace covers the caller, the wire and the remote handler", () =>
    Effect.gen(function* () {
      const spans: Array<{
        name: string
        kind: string
        traceId: string
        spanId: string
        parent: string | undefined
      }> = []
      const recording = Tracer.make({
        span: (options) => {
          const span = Tracer.nativeTracer.span(options)
          spans.push({
            name: options.name,
            kind: options.kind,
            traceId: span.traceId,
            spanId: span.spanId,
            parent: Option.getOrUndefined(Option.map(options.parent, (p) => p.spanId))
          })
          return span
        }
      })
      const { a, b } = yield* pair
      const server = yield* b.run(GenServer.start(kv, 10).pipe(Effect.withTracer(recording)))
      yield* a.run(
        GenServer.call(server, Kv.Get({ key: "traced" })).pipe(
          Effect.withSpan("client request"),
          Effect.withTracer(recording)
        )
      )
      const root = spans.find((span) => span.name === "client request")!
      const call = spans.find((span) => span.name === "Get" && span.kind === "client")!
      const handle = spans.find((span) => span.name === "Get" && span.kind === "server")!
      assert.strictEqual(call.parent, root.spanId)
      assert.strictEqual(handle.parent, call.spanId)
      assert.strictEqual(handle.traceId, root.traceId)
    })
  )
})

describe("review regressions", () => {
  it.live("a request larger than the server's node accepts fails at once with MessageTooLarge", () =>
    Effect.gen(function* () {
      const a = yield* distNode({ nodeName: "a" })
      const b = yield* distNode({ nodeName: "b", seeds: [a.seed], transport: { maxFrameBytes: 4096 } })
      yield* awaitNodesUp(a.cluster, ["b"])
      const server = yield* startKv(b)
      const start = Date.now()
      const error = yield* Effect.flip(
        a.run(GenServer.call(server, Kv.Put({ key: "big", value: "x".repeat(10_000) }), { timeout: 60_000 }))
      )
      assert.instanceOf(error, ProcessErrors.MessageTooLarge)
      assert.strictEqual(error._tag === "MessageTooLarge" && error.node, "b")
      assert.strictEqual(error._tag === "MessageTooLarge" && error.limit, 4096)
      assert.isAbove(error._tag === "MessageTooLarge" ? error.size : 0, 10_000)
      assert.isBelow(Date.now() - start, 1000)
      assert.strictEqual((yield* a.distribution.stats).remoteCall.pendingCalls, 0)
      assert.strictEqual(yield* a.run(GenServer.call(server, Kv.Put({ key: "small", value: "ok" }))), 1)
    })
  )

  it.live("an interrupted remote caller leaves nothing pending", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      const caller = yield* Effect.forkChild(a.run(GenServer.call(server, Kv.Hang(), { timeout: 60_000 })), {
        startImmediately: true
      })
      assert.strictEqual((yield* a.distribution.stats).remoteCall.pendingCalls, 1)
      yield* Fiber.interrupt(caller)
      assert.strictEqual((yield* a.distribution.stats).remoteCall.pendingCalls, 0)
    })
  )

  it.live("a local process that exits drops its remote monitors and links on both nodes", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      const local = yield* a.run(
        Process.spawn((self) =>
          Effect.gen(function* () {
            yield* Process.monitor(server)
            yield* Process.link(server)
            yield* self.receive
          })
        )
      )
      yield* a.run(GenServer.call(server, Kv.Whoami())) // Monitor and Link frames were handled
      assert.strictEqual((yield* a.distribution.stats).remoteMonitor.activeOutgoingCount, 1)
      assert.strictEqual((yield* b.distribution.stats).remoteLinks, 1)
      yield* a.run(Process.send(local, "stop")) // a normal exit: the linked server survives
      yield* a.run(GenServer.call(server, Kv.Whoami())) // Demonitor and link Exit frames were handled
      assert.strictEqual((yield* a.distribution.stats).remoteMonitor.activeOutgoingCount, 0)
      assert.strictEqual((yield* b.distribution.stats).remoteMonitor.activeIncomingCount, 0)
      assert.strictEqual((yield* a.distribution.stats).remoteLinks, 0)
      assert.strictEqual((yield* b.distribution.stats).remoteLinks, 0)
      assert.isTrue(yield* b.run(Process.isAlive(server)))
    })
  )
})

describe("bad frames", () => {
  it.live("a malformed distribution frame closes that connection only; the nodes reconnect and calls work again", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      const events = yield* clusterEvents(a.cluster)
      // A peer speaking the channel with a broken Call form (ref is not a number).
      const raw = Channel.make("otp.dist", Schema.Unknown)
      assert.isTrue(a.cluster.transport.sendUnsafe("b", raw, ["C", "not-a-ref", "store", "Get", {}, null]))
      const down = yield* events((event) => event._tag === "NodeDown" && event.id === "b")
      assert.strictEqual(down._tag === "NodeDown" ? down.reason : undefined, "connection_closed")
      yield* events((event) => event._tag === "NodeUp" && event.id === "b")
      assert.strictEqual(yield* a.run(GenServer.call(server, Kv.Put({ key: "after", value: "reconnect" }))), 1)
    })
  )

  it.live("frames of a kind this node does not know (a newer node's) are dropped and the link stays up", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair
      const server = yield* startKv(b)
      const linkEvents: Array<string> = []
      yield* a.cluster.transport.onLinkEvent((event) => linkEvents.push(event._tag))
      const raw = Channel.make("otp.dist", Schema.Unknown)
      assert.isTrue(a.cluster.transport.sendUnsafe("b", raw, { _tag: "FromTheFuture", ref: 1 }))
      assert.isTrue(a.cluster.transport.sendUnsafe("b", raw, ["Z", 1, "payload"]))
      assert.strictEqual(yield* a.run(GenServer.call(server, Kv.Put({ key: "same", value: "link" }))), 1)
      assert.deepStrictEqual(linkEvents, [])
    })
  )
})

describe("requests a remote server does not understand", () => {
  it.live(
    "a call to a process that is not a GenServer, or with an undeclared tag, fails with RemoteDecodeError; a stray cast is dropped",
    () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const plain = yield* b.run(Process.spawn((self) => Effect.forever(self.receive)))
        const notServer = yield* Effect.flip(a.run(GenServer.call(plain, Kv.Whoami())))
        assert.instanceOf(notServer, ProcessErrors.RemoteDecodeError)
        const server = yield* startKv(b)
        const Other = Protocol.make({
          Unknown: Protocol.call({ success: Schema.Number }),
          Stray: Protocol.cast()
        })
        // Only an untyped pid lets such requests compile.
        const untyped: Pid.Pid = server
        assert.instanceOf(
          yield* Effect.flip(a.run(GenServer.call(untyped, Other.Unknown()))),
          ProcessErrors.RemoteDecodeError
        )
        yield* a.run(GenServer.cast(untyped, Other.Stray()))
        // The server and the link survive both.
        assert.strictEqual(yield* a.run(GenServer.call(server, Kv.Put({ key: "k", value: "v" }))), 1)
      })
  )
})
