/**
 * Rolling updates: a node of this release meets a node of a newer one, simulated by an internal
 * test flag (`WireSimulation`) that announces a higher protocol version and adds fields this
 * release does not know to every frame it sends (control frames, data frames, payloads). Real
 * TLS-PSK links over loopback TCP, in one process. Also: version ranges without a common version
 * are refused on both sides, unknown frames are ignored or answered, and symmetric seeds.
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Metric, Schema, Scope } from "effect"
import type { ClusterEvent } from "../../src/Cluster/ClusterEvent.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import * as Heartbeat from "../../src/Cluster/Heartbeat.ts"
import type { ClusterConfig } from "../../src/Cluster/ClusterConfig.ts"
import { ExitReason, GenServer, Process, ProcessErrors, RemoteName } from "../../src/index.ts"
import * as Channel from "../../src/Transport/Channel.ts"
import * as Codec from "../../src/Transport/Codec.ts"
import { minProtocolVersion, protocolVersion } from "../../src/Transport/Frame.ts"
import type { RejectReason } from "../../src/Transport/Frame.ts"
import { encodeFrames, FrameDecoder } from "../../src/Transport/Framing.ts"
import { handshakesRefused } from "../../src/Transport/internal/refusals.ts"
import { type Simulation, WireSimulation } from "../../src/Transport/internal/wireSimulation.ts"
import type { LinkEvent } from "../../src/Transport/Transport.ts"
import { ConnectFailed, HandshakeRejected } from "../../src/Transport/TransportError.ts"
import { awaitNodesUp, clusterEvents, isNodeUp } from "../support/clusterHarness.ts"
import { distNode, KvSpec } from "../support/distHarness.ts"
import { fakePeer } from "../support/fakePeer.ts"
import { BankV1, bankV1, BankV2, bankV2, NoAccount } from "../support/rollingProtocols.ts"
import { eventually, LogCapture, tcpNode } from "../support/transportHarness.ts"

type JoinFailed = Extract<ClusterEvent, { _tag: "JoinFailed" }>

/** A whole node with its own log capture, its join failures and link events; `simulation` makes it a newer release. */
const node = (config: Partial<ClusterConfig> & { readonly nodeName: string }, simulation?: Simulation) =>
  Effect.gen(function* () {
    const logs = new LogCapture()
    const registry: Metric.MetricRegistry = new Map()
    const built = distNode(config).pipe(
      Effect.provide(logs.layer),
      Effect.provideService(Metric.MetricRegistry, registry)
    )
    const n = yield* simulation === undefined ? built : Effect.provideService(built, WireSimulation, simulation)
    const joinFailures: Array<JoinFailed> = []
    yield* n.cluster.onEvent((event) => {
      if (event._tag === "JoinFailed") joinFailures.push(event)
    })
    const linkEvents: Array<LinkEvent> = []
    yield* n.cluster.transport.onLinkEvent((event) => linkEvents.push(event))
    /** Connections this node refused for `reason`. */
    const refused = (reason: string) =>
      Effect.map(Metric.value(Metric.withAttributes(handshakesRefused, { reason })), (state) => state.count).pipe(
        Effect.provideService(Metric.MetricRegistry, registry)
      )
    return { ...n, logs, joinFailures, linkEvents, refused }
  })

/** A node of the next release: it speaks protocol versions 2..3 and adds unknown fields to every frame. */
const newer: Simulation = { versions: { min: 2, max: protocolVersion + 1 }, extraFields: true }

const linked = Effect.gen(function* () {
  const old = yield* node({ nodeName: "old" })
  const next = yield* node({ nodeName: "next", seeds: [old.seed] }, newer)
  yield* awaitNodesUp(old.cluster, ["next"])
  yield* awaitNodesUp(next.cluster, ["old"])
  const oldBank = yield* old.run(GenServer.start(bankV1, undefined, { name: "bank" }))
  const nextBank = yield* next.run(GenServer.start(bankV2, undefined, { name: "bank" }))
  return { old, next, oldBank, nextBank }
})

describe("a node of this release and a node of a newer frame version", () => {
  it.live("link at the highest common version, and calls, casts and sends succeed both ways", () =>
    Effect.gen(function* () {
      const { old, next } = yield* linked
      assert.strictEqual(old.cluster.transport.linkUnsafe("next")?.version, protocolVersion)
      assert.strictEqual(next.cluster.transport.linkUnsafe("old")?.version, protocolVersion)

      // The newer node's frames really carry fields this release does not know.
      const Raw = Channel.make("test.raw", Schema.Unknown)
      const raw: Array<unknown> = []
      yield* old.cluster.transport.register(Raw, (message) => raw.push(message))
      assert.isTrue(next.cluster.transport.sendUnsafe("old", Raw, { n: 1 }))
      const [seen] = yield* eventually(
        Effect.sync(() => raw),
        (got) => got.length === 1
      )
      assert.deepStrictEqual(seen, { n: 1, fromTheFuture: "a field this release does not know" })

      // The newer node calls the old one with requests that have new optional fields.
      const onOld = RemoteName.make("bank", "old")
      assert.deepStrictEqual(yield* next.run(GenServer.call(onOld, BankV2.Open({ id: "alice", currency: "USD" }))), {
        id: "alice",
        balance: 0
      })
      assert.deepStrictEqual(
        yield* next.run(GenServer.call(onOld, BankV2.Deposit({ id: "alice", amount: 5, memo: "salary" }))),
        { id: "alice", balance: 5 }
      )
      const missing = yield* Effect.flip(next.run(GenServer.call(onOld, BankV2.Deposit({ id: "nobody", amount: 1 }))))
      assert.instanceOf(missing, NoAccount)
      yield* next.run(GenServer.cast(onOld, BankV2.Touch({ id: "alice", at: 1 })))
      assert.strictEqual(yield* next.run(GenServer.call(onOld, BankV2.Touches())), 1)

      // The old node calls the newer one; replies with a new optional field decode as before.
      const onNext = RemoteName.make("bank", "next")
      assert.deepStrictEqual(yield* old.run(GenServer.call(onNext, BankV1.Open({ id: "bob" }))), {
        id: "bob",
        balance: 0
      })
      assert.deepStrictEqual(yield* old.run(GenServer.call(onNext, BankV1.Deposit({ id: "bob", amount: 7 }))), {
        id: "bob",
        balance: 7
      })
      assert.instanceOf(
        yield* Effect.flip(old.run(GenServer.call(onNext, BankV1.Deposit({ id: "nobody", amount: 1 })))),
        NoAccount
      )
      yield* old.run(GenServer.cast(onNext, BankV1.Touch({ id: "bob" })))
      assert.strictEqual(yield* old.run(GenServer.call(onNext, BankV1.Touches())), 1)

      // Plain sends, and a monitor that fires across the versions.
      const inbox = yield* next.run(Process.spawn((self) => self.receive, { name: "inbox" }))
      yield* old.run(Process.send(RemoteName.make("inbox", "next"), "hello"))
      const down = yield* old.run(
        Process.spawn((self) =>
          Effect.gen(function* () {
            yield* Process.monitor(inbox)
            return yield* self.receive
          })
        )
      )
      yield* eventually(old.run(Process.isAlive(down)), (alive) => !alive)
      assert.isFalse(yield* next.run(Process.isAlive(inbox)))

      // The link came up once and nothing closed it.
      assert.deepStrictEqual(
        old.linkEvents.map((event) => event._tag),
        ["LinkUp"]
      )
      assert.deepStrictEqual(
        next.linkEvents.map((event) => event._tag),
        ["LinkUp"]
      )
    })
  )

  it.live("a call with a tag the old node does not know fails at once with RemoteDecodeError, not at its timeout", () =>
    Effect.gen(function* () {
      const { old, next } = yield* linked
      const onOld = RemoteName.make("bank", "old")
      const [elapsed, error] = yield* Effect.timed(
        Effect.flip(next.run(GenServer.call(onOld, BankV2.Freeze({ id: "alice" }), { timeout: "30 seconds" })))
      )
      assert.instanceOf(error, ProcessErrors.RemoteDecodeError)
      assert.match(error.message, /has no call "Freeze"/)
      assert.isBelow(Duration.toMillis(elapsed), 2000)
      // The old server and the link are fine.
      assert.deepStrictEqual(yield* next.run(GenServer.call(onOld, BankV2.Open({ id: "alice" }))), {
        id: "alice",
        balance: 0
      })
      assert.deepStrictEqual(
        old.linkEvents.map((event) => event._tag),
        ["LinkUp"]
      )
    })
  )
})

describe("versions without a common one", () => {
  it.live("are refused in both directions, with the reason logged on both sides", () =>
    Effect.gen(function* () {
      const old = yield* node({ nodeName: "old" })
      // A node that speaks only version 3 dials the old node.
      const future = yield* node({ nodeName: "future", seeds: [old.seed] }, { versions: { min: 3, max: 3 } })
      const reason = `it speaks protocol 3, node "old" speaks protocol ${protocolVersion}`
      const dialerLine = yield* future.logs.awaitLine(/cannot join the cluster through node "old"/)
      assert.include(dialerLine, `(version_mismatch: ${reason})`)
      assert.match(dialerLine, /^Error: /)
      const acceptorLine = yield* old.logs.awaitLine(/refused node "future"/)
      assert.include(acceptorLine, `(${reason})`)
      assert.match(acceptorLine, /^Warn: .*\(version_mismatch\)$/)
      yield* eventually(
        Effect.sync(() => future.joinFailures),
        (failures) => failures.length > 0
      )
      assert.strictEqual(future.joinFailures[0]!.reason, "version_mismatch")

      // The old node dials the future one: refused there, a typed error here.
      const error = yield* Effect.flip(old.cluster.transport.connect(future.cluster.transport.address))
      assert.instanceOf(error, HandshakeRejected)
      assert.strictEqual(error.reason, "version_mismatch")
      assert.strictEqual(error.detail, `it speaks protocol ${protocolVersion}, node "future" speaks protocol 3`)
      yield* future.logs.awaitLine(/refused node "old" .*\(version_mismatch\)$/)

      assert.deepStrictEqual(yield* old.cluster.nodes, [])
      assert.deepStrictEqual(yield* future.cluster.nodes, [])
    })
  )

  it.live("overlapping ranges link at the highest version both speak", () =>
    Effect.gen(function* () {
      const a = yield* node({ nodeName: "a" }, { versions: { min: 2, max: 5 } })
      const b = yield* node({ nodeName: "b", seeds: [a.seed] }, { versions: { min: 3, max: 4 } })
      yield* awaitNodesUp(b.cluster, ["a"])
      assert.strictEqual(a.cluster.transport.linkUnsafe("b")?.version, 4)
      assert.strictEqual(b.cluster.transport.linkUnsafe("a")?.version, 4)
    })
  )
})

describe("frames this release does not know", () => {
  it.live(
    "a request of an unknown kind is answered with Unsupported; positional frames with extra elements are understood; an unknown reply outcome fails only its call",
    () =>
      Effect.gen(function* () {
        const old = yield* node({ nodeName: "old" })
        yield* old.run(GenServer.start(bankV1, undefined, { name: "bank" }))
        // A bare transport speaking the distribution channel by hand, as a newer node would.
        const raw = yield* tcpNode("raw", { secret: "dist-test" })
        const Dist = Channel.make("otp.dist", Schema.Unknown)
        const received: Array<unknown> = []
        yield* raw.register(Dist, (frame) => received.push(frame))
        yield* raw.connect(old.cluster.transport.address)
        assert.isTrue(raw.sendUnsafe("old", Dist, { _tag: "Reserve", ref: 41, seats: 2 }))
        assert.isTrue(raw.sendUnsafe("old", Dist, ["C", 42, "bank", "Touches", {}, null, { deadline: 5 }]))
        const answers = yield* eventually(
          Effect.sync(() => received),
          (got) => got.length >= 2
        )
        assert.deepStrictEqual(answers, [
          { _tag: "Unsupported", ref: 41, kind: "Reserve" },
          ["R", 42, "ok", 0, null, null, null]
        ])
        yield* old.logs.awaitLine(/kind "Reserve" from raw dropped: .*answered as unsupported/)
        assert.isTrue(old.cluster.transport.isLinkedUnsafe("raw"))

        // A reply with an outcome this release does not know fails that call only, at once.
        received.length = 0
        const call = yield* Effect.forkChild(
          Effect.flip(
            old.run(GenServer.call(RemoteName.make("svc", "raw"), BankV1.Touches(), { timeout: "30 seconds" }))
          )
        )
        const [request] = yield* eventually(
          Effect.sync(() => received),
          (got) => got.length >= 1
        )
        assert.isTrue(Array.isArray(request) && request[0] === "C")
        const ref = (request as ReadonlyArray<unknown>)[1]
        assert.isTrue(raw.sendUnsafe("old", Dist, ["R", ref, "deferred", null, null, null, null, { retryIn: 5 }]))
        const [elapsed, error] = yield* Effect.timed(Fiber.join(call))
        assert.instanceOf(error, ProcessErrors.RemoteDecodeError)
        assert.match(error.message, /outcome this node does not know \("deferred"/)
        assert.isBelow(Duration.toMillis(elapsed), 2000)
        assert.isTrue(old.cluster.transport.isLinkedUnsafe("raw"))
      })
  )

  it.live(
    "values a newer node may add to a known frame fail only their request: an exit reason tag, a spawn failure kind, a stop outcome; an unknown heartbeat status is taken as running",
    () =>
      Effect.gen(function* () {
        const old = yield* node({ nodeName: "old" })
        yield* old.run(GenServer.start(bankV1, undefined, { name: "bank" }))
        const raw = yield* tcpNode("raw", { secret: "dist-test" })
        const Dist = Channel.make("otp.dist", Schema.Unknown)
        const received: Array<unknown> = []
        yield* raw.register(Dist, (frame) => received.push(frame))
        yield* raw.connect(old.cluster.transport.address)
        /** The next request `old` sends to `raw`, once it has arrived. */
        const nextRequest = Effect.map(
          eventually(
            Effect.sync(() => received),
            (got) => got.length >= 1
          ),
          (got) => got.splice(0, got.length)[0]
        )
        const svc = RemoteName.make("svc", "raw")

        // A call whose server exited for a reason this release does not know: ServerExited, with a
        // failure naming it (an abnormal reason).
        const call = yield* Effect.forkChild(
          Effect.flip(old.run(GenServer.call(svc, BankV1.Touches(), { timeout: "30 seconds" })))
        )
        const request = (yield* nextRequest) as ReadonlyArray<unknown>
        assert.strictEqual(request[0], "C")
        // The caller's timeout travels as the 7th element.
        assert.strictEqual(request[6], 30_000)
        assert.isTrue(
          raw.sendUnsafe("old", Dist, [
            "R",
            request[1],
            "exited",
            null,
            { tag: "Evicted", detail: "memory" },
            ["raw", 3, 1],
            null
          ])
        )
        const exited = yield* Fiber.join(call)
        assert.instanceOf(exited, GenServer.ServerExited)
        const reason = (exited as GenServer.ServerExited).reason
        assert.strictEqual(reason._tag, "Failure")
        assert.isFalse(ExitReason.isNormal(reason))
        assert.match(
          ExitReason.format(reason),
          /exit reason this node does not know \("Evicted", from a newer node\): memory/
        )

        // A spawn that failed for a reason this release does not know.
        const spawn = yield* Effect.forkChild(Effect.flip(old.run(Distribution.spawn("raw", KvSpec, 1))))
        const spawnFrame = (yield* nextRequest) as { readonly _tag: string; readonly ref: number }
        assert.strictEqual(spawnFrame._tag, "Spawn")
        assert.isTrue(
          raw.sendUnsafe("old", Dist, {
            _tag: "Spawned",
            ref: spawnFrame.ref,
            error: { kind: "quota_exceeded", detail: "10 processes at most", retryIn: 5 }
          })
        )
        const spawnError = yield* Fiber.join(spawn)
        assert.instanceOf(spawnError, ProcessErrors.RemoteDecodeError)
        assert.match(
          spawnError.message,
          /spawn failure this node does not know \("quota_exceeded", from a newer node\): 10 processes at most/
        )

        // A stop answered with an outcome this release does not know.
        const stop = yield* Effect.forkChild(Effect.exit(old.run(GenServer.stop(svc, ExitReason.normal, "5 seconds"))))
        const stopFrame = (yield* nextRequest) as { readonly _tag: string; readonly ref: number }
        assert.strictEqual(stopFrame._tag, "Stop")
        assert.isTrue(raw.sendUnsafe("old", Dist, { _tag: "Stopped", ref: stopFrame.ref, outcome: "deferred" }))
        const stopped = yield* Fiber.join(stop)
        assert.isTrue(Exit.isFailure(stopped))
        assert.match(
          String(Cause.squash((stopped as Exit.Failure<void, unknown>).cause)),
          /an answer this node does not know \("deferred"/
        )

        // A heartbeat with a status this release does not know; a call after it is still answered
        // on the same link, so the heartbeat was taken (frames of a link arrive in order).
        const Beat = Channel.make("otp.cluster.heartbeat", Schema.Unknown)
        assert.isTrue(raw.sendUnsafe("old", Beat, { status: "draining", processCount: 1, uptimeMs: 5 }))
        assert.isTrue(raw.sendUnsafe("old", Dist, ["C", 43, "bank", "Touches", {}, null]))
        const answer = yield* nextRequest
        assert.deepStrictEqual(answer, ["R", 43, "ok", 0, null, null, null])
        assert.strictEqual(
          Schema.decodeUnknownSync(Heartbeat.Heartbeat)({ status: "draining", processCount: 1, uptimeMs: 5 }).status,
          "running"
        )

        assert.isTrue(old.cluster.transport.isLinkedUnsafe("raw"))
        assert.deepStrictEqual(
          old.logs.lines.filter((line) => /failed to decode|protocol error/i.test(line)),
          []
        )
      })
  )

  it.live("a refusal for a reason this release does not know fails the dial with the peer's message", () =>
    Effect.gen(function* () {
      const future = yield* fakePeer("dist-test", () => ({
        _tag: "Reject",
        reason: "maintenance" as RejectReason,
        message: 'node "future" is being drained',
        node: null
      }))
      const dialer = yield* tcpNode("dialer", { secret: "dist-test" })
      const error = yield* Effect.flip(dialer.connect({ host: "127.0.0.1", port: future.port }))
      assert.instanceOf(error, ConnectFailed)
      assert.strictEqual(error.kind, "protocol")
      assert.include(error.reason, `a reason this node does not know ("maintenance"): node "future" is being drained`)
      // The Hello announced this release's range.
      assert.strictEqual(future.hellos[0]!["version"], protocolVersion)
      assert.strictEqual(future.hellos[0]!["minVersion"], minProtocolVersion)
    })
  )

  it.live("an unknown control frame on an open link is logged and ignored; extra elements of a data frame too", () =>
    Effect.gen(function* () {
      const logs = new LogCapture()
      const b = yield* tcpNode("b", { insecure: true }).pipe(Effect.provide(logs.layer))
      const Echo = Channel.make("test.echo", Schema.Struct({ n: Schema.Number }))
      const echoes: Array<{ readonly n: number }> = []
      yield* b.register(Echo, (message) => echoes.push(message))
      const downs: Array<LinkEvent> = []
      yield* b.onLinkEvent((event) => event._tag === "LinkDown" && downs.push(event))
      const codec = Codec.make()
      const frame = (value: unknown) => {
        const body = codec.encode(value)
        return encodeFrames([body], body.length)
      }
      const socket = yield* Effect.acquireRelease(
        Effect.sync(() => Net.connect({ host: "127.0.0.1", port: b.address.port })),
        (socket) => Effect.sync(() => socket.destroy())
      )
      socket.on("error", () => {})
      const welcome = yield* Effect.callback<Record<string, unknown>>((resume) => {
        const decoder = new FrameDecoder(
          1 << 20,
          (body) => resume(Effect.succeed(codec.decode(body) as Record<string, unknown>)),
          () => {}
        )
        socket.on("data", (chunk: Buffer) => decoder.push(chunk))
        // A Hello of a newer release: a wider range and a field this release does not know.
        socket.write(
          frame({
            _tag: "Hello",
            name: "newer",
            incarnation: 1,
            version: protocolVersion + 1,
            minVersion: protocolVersion,
            address: null,
            resumeToken: "abc"
          })
        )
      })
      assert.strictEqual(welcome._tag, "Welcome")
      assert.strictEqual(welcome.version, protocolVersion)
      socket.write(frame({ _tag: "Resume", token: 1 }))
      socket.write(frame(["test.echo", { n: 1, unit: "ms" }, { priority: "high" }]))
      yield* eventually(
        Effect.sync(() => echoes),
        (got) => got.length === 1
      )
      assert.deepStrictEqual(echoes, [{ n: 1 }])
      const line = yield* logs.awaitLine(/control frame of kind "Resume"/)
      assert.match(line, /^Warn: ignored a control frame of kind "Resume" from node "newer": .*the link stays up$/)
      assert.isTrue(b.isLinkedUnsafe("newer"))
      assert.deepStrictEqual(downs, [])
    })
  )
})

/** A free port on 127.0.0.1 (the kernel picks it; it is free again once this returns). */
const freePort = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("symmetric seeds", () => {
  it.live(
    "every node lists the same seeds, itself included: it skips itself, and a restarted seed rejoins at once",
    () =>
      Effect.gen(function* () {
        const ports = { a: yield* freePort, b: yield* freePort, c: yield* freePort }
        // Named and unnamed seeds; both name the node itself on each node.
        const seeds = [`a@127.0.0.1:${ports.a}`, `127.0.0.1:${ports.b}`, `c@127.0.0.1:${ports.c}`]
        // The others retry a lost peer only after 30 s and rediscover every minute: a restarted
        // node that is back within the test's seconds dialed them itself.
        const patient = { reconnectBaseDelay: 30_000, reconnectMaxDelay: 30_000, discoveryInterval: 60_000 }
        const firstA = yield* Scope.make()
        const a = yield* node({ nodeName: "a", port: ports.a, seeds }).pipe(Scope.provide(firstA))
        const b = yield* node({ nodeName: "b", port: ports.b, seeds, ...patient })
        const c = yield* node({ nodeName: "c", port: ports.c, seeds, ...patient })
        yield* awaitNodesUp(a.cluster, ["b", "c"])
        yield* awaitNodesUp(b.cluster, ["a", "c"])
        yield* awaitNodesUp(c.cluster, ["a", "b"])
        for (const n of [a, b, c]) {
          assert.deepStrictEqual(n.joinFailures, [], `${n.name} reported join failures`)
          assert.deepStrictEqual(
            n.logs.lines.filter((line) => /refused|cannot join/.test(line)),
            [],
            `${n.name} refused or failed a connection`
          )
        }

        const onB = yield* clusterEvents(b.cluster)
        yield* Scope.close(firstA, Exit.void)
        const restarted = yield* node({ nodeName: "a", port: ports.a, seeds })
        const up = yield* onB(isNodeUp("a"), 5000)
        assert.strictEqual(up._tag === "NodeUp" ? up.incarnation : undefined, restarted.cluster.local.incarnation)
        yield* awaitNodesUp(restarted.cluster, ["b", "c"], 5000)
        assert.deepStrictEqual(restarted.joinFailures, [])
      })
  )

  it.live("an address of its own it did not know (advertised under another name) is dialed once, then skipped", () =>
    Effect.gen(function* () {
      const ports = { solo: yield* freePort, peer: yield* freePort }
      // It listens on 127.0.0.1 but advertises "localhost": the seed's address is not known as its own.
      const solo = yield* node({
        nodeName: "solo",
        port: ports.solo,
        advertiseHost: "localhost",
        seeds: [`127.0.0.1:${ports.solo}`, `peer@127.0.0.1:${ports.peer}`]
      })
      // Several discovery rounds while the peer is not there yet.
      yield* eventually(
        Effect.sync(() => solo.joinFailures.length),
        (failures) => failures >= 4
      )
      const peer = yield* node({ nodeName: "peer", port: ports.peer })
      yield* awaitNodesUp(solo.cluster, ["peer"])
      assert.strictEqual(yield* solo.refused("self"), 1)
      assert.deepStrictEqual(
        solo.joinFailures.filter((failure) => failure.target.includes(`:${ports.solo}`)),
        []
      )
      assert.deepStrictEqual(yield* peer.refused("self"), 0)
    })
  )
})
