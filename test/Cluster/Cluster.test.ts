import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Queue, Schema, Scope, Stream } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Channel from "../../src/Transport/Channel.ts"
import type { ClusterEvent } from "../../src/Cluster/ClusterEvent.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import { eventually } from "../support/transportHarness.ts"
import {
  awaitNodesUp,
  clusterEvents,
  fast,
  isNodeDown,
  isNodeUp,
  memoryClusterNode,
  stubDns,
  tcpClusterNode
} from "../support/clusterHarness.ts"

const certificate = (name: string) => ({
  ca: Fs.readFileSync(Path.join(import.meta.dirname, "..", "Transport", "fixtures", "ca.crt")),
  cert: Fs.readFileSync(Path.join(import.meta.dirname, "..", "Transport", "fixtures", `${name}.crt`)),
  key: Fs.readFileSync(Path.join(import.meta.dirname, "..", "Transport", "fixtures", `${name}.key`)),
  bindNodeName: true
})

describe("Cluster", () => {
  it.live("certificate mTLS with bindNodeName from the cluster config: members join, an impostor is refused", () =>
    Effect.gen(function* () {
      const a = yield* tcpClusterNode({ nodeName: "a", secret: undefined, tls: certificate("a") })
      const seed = `a@127.0.0.1:${a.transport.address.port}`
      const b = yield* tcpClusterNode({ nodeName: "b", secret: undefined, tls: certificate("b"), seeds: [seed] })
      yield* awaitNodesUp(a, ["b"])
      yield* awaitNodesUp(b, ["a"])
      const impostor = yield* tcpClusterNode({ nodeName: "c", secret: undefined, tls: certificate("b") })
      const error = yield* Effect.flip(impostor.transport.connect(a.transport.address))
      assert.strictEqual(error._tag === "HandshakeRejected" && error.reason, "identity_mismatch")
    })
  )

  it.live("nodes joining through one seed discover each other by gossip and form a full mesh", () =>
    Effect.gen(function* () {
      const a = yield* tcpClusterNode({ nodeName: "a" })
      const seed = `a@127.0.0.1:${a.transport.address.port}`
      const b = yield* tcpClusterNode({ nodeName: "b", seeds: [seed] })
      const c = yield* tcpClusterNode({ nodeName: "c", seeds: [seed] })
      const d = yield* tcpClusterNode({ nodeName: "d", seeds: [seed] })
      yield* awaitNodesUp(a, ["b", "c", "d"])
      yield* awaitNodesUp(b, ["a", "c", "d"])
      yield* awaitNodesUp(c, ["a", "b", "d"])
      yield* awaitNodesUp(d, ["a", "b", "c"])
      assert.strictEqual(yield* b.connectedNodeCount, 3)
      const seen = (yield* c.nodes).find((node) => node.id === "b")!
      assert.strictEqual(seen.incarnation, b.local.incarnation)
      assert.strictEqual(seen.status, "running")
      assert.strictEqual(seen.port, b.transport.address.port)
      assert.isAtLeast(seen.uptimeMs, 0)
      assert.strictEqual(yield* a.status, "running")
      assert.isAtLeast(yield* a.uptimeMs, 0)
    })
  )

  it.live("a DNS seed is resolved to all its addresses and every node behind it is joined", () =>
    Effect.gen(function* () {
      const first = yield* tcpClusterNode({ nodeName: "n1", host: "127.0.0.1" })
      const port = first.transport.address.port
      yield* tcpClusterNode({ nodeName: "n2", host: "127.0.0.2", port })
      yield* tcpClusterNode({ nodeName: "n3", host: "127.0.0.3", port })
      const dns = yield* stubDns(["127.0.0.1", "127.0.0.2", "127.0.0.3"])
      const joiner = yield* tcpClusterNode({
        nodeName: "joiner",
        host: "127.0.0.4",
        seeds: [`otp-headless.test:${port}`],
        dnsServers: [`127.0.0.1:${dns.port}`]
      })
      yield* awaitNodesUp(joiner, ["n1", "n2", "n3"])
      assert.include(dns.asked, "otp-headless.test/1")
      yield* awaitNodesUp(first, ["n2", "n3", "joiner"])
    })
  )

  it.live("a host seed without DNS servers goes through the system resolver", () =>
    Effect.gen(function* () {
      const a = yield* tcpClusterNode({ nodeName: "a" })
      const b = yield* tcpClusterNode({ nodeName: "b", seeds: [`localhost:${a.transport.address.port}`] })
      yield* awaitNodesUp(b, ["a"])
    })
  )

  it.live("a malformed seed or a missing security mode is a configuration error", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(tcpClusterNode({ nodeName: "a", seeds: ["nohost"] }))
      assert.strictEqual(bad._tag, "InvalidClusterConfig")
      const none = yield* Effect.flip(tcpClusterNode({ nodeName: "a", secret: undefined }))
      assert.strictEqual(none._tag, "InvalidClusterConfig")
    })
  )

  it.live("a node leaving gracefully is reported as graceful_shutdown and goes through stopping to stopped", () =>
    Effect.gen(function* () {
      const a = yield* tcpClusterNode({ nodeName: "a" })
      const scope = yield* Scope.make()
      const b = yield* tcpClusterNode({ nodeName: "b", seeds: [`a@127.0.0.1:${a.transport.address.port}`] }).pipe(
        Scope.provide(scope)
      )
      yield* awaitNodesUp(a, ["b"])
      const statuses: Array<string> = []
      yield* b.onEvent((event) => {
        if (event._tag === "StatusChanged") statuses.push(`${event.from}->${event.to}`)
      })
      const eventsA = yield* clusterEvents(a)
      yield* Scope.close(scope, Exit.void)
      const down = yield* eventsA(isNodeDown("b"))
      assert.strictEqual(down._tag === "NodeDown" && down.reason, "graceful_shutdown")
      assert.deepStrictEqual(statuses, ["running->stopping", "stopping->stopped"])
      assert.strictEqual(yield* a.connectedNodeCount, 0)
    })
  )

  it.live("a peer that stops reading does not silence this node's heartbeats to the others", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 5 })
      const a = yield* memoryClusterNode(network, { nodeName: "a", transport: { highWaterMarkBytes: 1024 } })
      // b is slow to judge (it keeps its link to a while a's frames to it are held).
      const b = yield* memoryClusterNode(network, { nodeName: "b", seeds: ["a@a:0"], heartbeatMissThreshold: 1000 })
      const c = yield* memoryClusterNode(network, { nodeName: "c", seeds: ["a@a:0"] })
      yield* awaitNodesUp(a, ["b", "c"])
      yield* awaitNodesUp(b, ["a"])
      yield* awaitNodesUp(c, ["a"])
      // a's frames to b are held and a's application traffic to b waits above the high-water mark.
      network.stall("a", "b")
      const bulk = Channel.make("test.bulk", Schema.Uint8Array)
      yield* Effect.forkChild(
        Effect.forEach(
          Array.from({ length: 10 }),
          () => Effect.ignore(a.transport.send("b", bulk, new Uint8Array(1000))),
          {
            discard: true
          }
        )
      )
      const stalledAt = Date.now()
      // c keeps hearing from a well past its failure timeout (3 intervals).
      const heardAfter = fast.heartbeatInterval * fast.heartbeatMissThreshold * 2
      const heardAt = Effect.map(c.nodes, (nodes) => nodes.find((node) => node.id === "a")?.lastHeartbeatAt ?? 0)
      yield* eventually(heardAt, (at) => at - stalledAt > heardAfter, 5_000)
      assert.isTrue((yield* c.nodes).some((node) => node.id === "a" && node.status === "running"))
      network.heal("a", "b")
    })
  )

  it.live(
    "a silent peer (partition) is reported as heartbeat_timeout within interval x threshold + one interval, and rejoins after healing",
    () =>
      Effect.gen(function* () {
        const network = MemoryNetwork.make({ seed: 3 })
        const a = yield* memoryClusterNode(network, { nodeName: "a" })
        const b = yield* memoryClusterNode(network, { nodeName: "b", seeds: ["a@a:0"] })
        yield* awaitNodesUp(a, ["b"])
        yield* awaitNodesUp(b, ["a"])
        const eventsA = yield* clusterEvents(a)
        const eventsB = yield* clusterEvents(b)
        const cut = Date.now()
        network.partition("a", "b")
        const down = yield* eventsA(isNodeDown("b"))
        const detectedAfter = Date.now() - cut
        assert.strictEqual(down._tag === "NodeDown" && down.reason, "heartbeat_timeout")
        const bound = fast.heartbeatInterval * fast.heartbeatMissThreshold + fast.heartbeatInterval
        assert.isBelow(detectedAfter, bound + 1, `detected after ${detectedAfter} ms, bound ${bound} ms`)
        yield* eventsB(isNodeDown("a"))
        network.heal("a", "b")
        const up = yield* eventsA(isNodeUp("b"))
        assert.strictEqual(up._tag === "NodeUp" && up.incarnation, b.local.incarnation)
      })
  )

  it.live("membership holds with lossy, duplicating, delayed links", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make({ seed: 11 })
      for (const [from, to] of [
        ["a", "b"],
        ["b", "a"],
        ["c", "a"]
      ] as const) {
        network.faults(from, to, { duplicate: 0.2, delay: 5 })
      }
      const a = yield* memoryClusterNode(network, { nodeName: "a" })
      const b = yield* memoryClusterNode(network, { nodeName: "b", seeds: ["a@a:0"] })
      const c = yield* memoryClusterNode(network, { nodeName: "c", seeds: ["a@a:0"] })
      yield* awaitNodesUp(a, ["b", "c"])
      yield* awaitNodesUp(b, ["a", "c"])
      yield* awaitNodesUp(c, ["a", "b"])
    })
  )

  it.live("event callbacks see the same events as the stream", () =>
    Effect.gen(function* () {
      const a = yield* tcpClusterNode({ nodeName: "a" })
      const seen: Array<ClusterEvent["_tag"]> = []
      yield* a.onEvent((event) => seen.push(event._tag))
      const eventsA = yield* clusterEvents(a)
      yield* tcpClusterNode({ nodeName: "b", seeds: [`a@127.0.0.1:${a.transport.address.port}`] })
      const up = yield* eventsA(isNodeUp("b"))
      assert.strictEqual(up._tag === "NodeUp" && up.status, "running")
      assert.include(seen, "NodeUp")
    })
  )

  it.live("awaitNodes resolves once every named node is up, and at once when they already are", () =>
    Effect.gen(function* () {
      const a = yield* tcpClusterNode({ nodeName: "a" })
      const seed = `a@127.0.0.1:${a.transport.address.port}`
      const awaitBC = Cluster.awaitNodes(["b", "c"], { timeout: "10 seconds" }).pipe(
        Effect.provideService(Cluster.Cluster, a)
      )
      const waiting = yield* Effect.forkChild(awaitBC, { startImmediately: true })
      yield* tcpClusterNode({ nodeName: "b", seeds: [seed] })
      yield* tcpClusterNode({ nodeName: "c", seeds: [seed] })
      yield* Fiber.join(waiting)
      const ids = (yield* a.nodes).map((node) => node.id).sort()
      assert.deepStrictEqual(ids, ["b", "c"])
      // Already up: no waiting, and no timeout needed.
      yield* Cluster.awaitNodes(["c"]).pipe(Effect.provideService(Cluster.Cluster, a))
      yield* Cluster.awaitNodes([]).pipe(Effect.provideService(Cluster.Cluster, a))
      // A readiness list shared by every node names the node itself: it counts as up.
      yield* Cluster.awaitNodes(["a", "b", "c"], { timeout: "1 second" }).pipe(
        Effect.provideService(Cluster.Cluster, a)
      )
    })
  )

  it.live(
    "membership starts with a NodeUp for every node already up, then follows joins and departures, once each",
    () =>
      Effect.gen(function* () {
        const a = yield* tcpClusterNode({ nodeName: "a" })
        const seed = `a@127.0.0.1:${a.transport.address.port}`
        const scopeB = yield* Scope.make()
        yield* tcpClusterNode({ nodeName: "b", seeds: [seed] }).pipe(Scope.provide(scopeB))
        yield* awaitNodesUp(a, ["b"])
        const seen = yield* Queue.unbounded<string>()
        yield* Effect.forkScoped(
          Stream.runForEach(Cluster.membership, (event) => Queue.offer(seen, `${event._tag} ${event.id}`)).pipe(
            Effect.provideService(Cluster.Cluster, a)
          )
        )
        const next = Effect.timeout(Queue.take(seen), 5_000)
        assert.strictEqual(yield* next, "NodeUp b")
        yield* tcpClusterNode({ nodeName: "c", seeds: [seed] })
        assert.strictEqual(yield* next, "NodeUp c")
        yield* Scope.close(scopeB, Exit.void)
        assert.strictEqual(yield* next, "NodeDown b")
        assert.strictEqual(yield* Queue.size(seen), 0)
      })
  )

  it.live("Cluster.events is a plain stream of every event, and the module accessors read this node's cluster", () =>
    Effect.gen(function* () {
      const a = yield* tcpClusterNode({ nodeName: "a" })
      const onA = Effect.provideService(Cluster.Cluster, a)
      const firstUp = yield* Effect.forkChild(
        Cluster.events.pipe(
          Stream.filter((event) => event._tag === "NodeUp"),
          Stream.runHead,
          onA
        ),
        { startImmediately: true }
      )
      const b = yield* tcpClusterNode({ nodeName: "b", seeds: [`a@127.0.0.1:${a.transport.address.port}`] })
      const up = yield* Effect.timeout(Fiber.join(firstUp), 5_000)
      assert.strictEqual(up._tag === "Some" && up.value._tag === "NodeUp" && up.value.id, "b")
      assert.deepStrictEqual(yield* onA(Cluster.localNode), a.local)
      assert.strictEqual(yield* onA(Cluster.status), "running")
      assert.strictEqual(yield* onA(Cluster.connectedNodeCount), 1)
      const nodes = yield* onA(Cluster.nodes)
      assert.deepStrictEqual(
        nodes.map((node) => [node.id, node.incarnation]),
        [["b", b.local.incarnation]]
      )
    })
  )
})
