import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Tls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Metric, Queue, Schema, Scope, Stream } from "effect"
import * as Channel from "../../src/Transport/Channel.ts"
import * as Codec from "../../src/Transport/Codec.ts"
import { protocolVersion } from "../../src/Transport/Frame.ts"
import { encodeFrames, FrameDecoder } from "../../src/Transport/Framing.ts"
import { handshakesRefused } from "../../src/Transport/internal/refusals.ts"
import { derivePsk, pskCipher } from "../../src/Transport/Security.ts"
import { collect, isDown, isUp, linkEvents, LogCapture, tcpNode } from "../support/transportHarness.ts"

const Text = Channel.make("test.text", Schema.String)

/** Opens a raw socket to a node and resolves when the node closes it. */
const rawClient = (port: number, onConnect: (socket: Net.Socket) => void) =>
  Effect.callback<number>((resume) => {
    const started = Date.now()
    const socket = Net.connect({ host: "127.0.0.1", port }, () => onConnect(socket))
    socket.on("error", () => {})
    socket.on("close", () => resume(Effect.succeed(Date.now() - started)))
    return Effect.sync(() => socket.destroy())
  })

/** Opens a TLS-PSK connection to a node as `identity`; `onSecure` runs once TLS is up; resolves when the node closes it. */
const tlsClient = (port: number, secret: string, identity: string, onSecure: (socket: Tls.TLSSocket) => void) =>
  Effect.callback<number>((resume) => {
    const started = Date.now()
    const socket = Tls.connect({
      host: "127.0.0.1",
      port,
      ciphers: pskCipher,
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
      pskCallback: () => ({ psk: derivePsk(secret), identity }),
      checkServerIdentity: () => undefined
    })
    socket.on("error", () => {})
    socket.once("secureConnect", () => onSecure(socket))
    socket.on("close", () => resume(Effect.succeed(Date.now() - started)))
    return Effect.sync(() => socket.destroy())
  })

/** How many connections a node in this fiber's metric registry refused for `reason`. */
const refused = (reason: string) =>
  Effect.map(Metric.value(Metric.withAttributes(handshakesRefused, { reason })), (state) => state.count)

const fixture = (name: string) => Fs.readFileSync(Path.join(import.meta.dirname, "fixtures", name))

describe("TcpTransport", () => {
  it.live("two nodes with the same secret link up and exchange frames in order", () =>
    Effect.gen(function* () {
      const a = yield* tcpNode("a")
      const b = yield* tcpNode("b")
      const eventsA = yield* linkEvents(a)
      const eventsB = yield* linkEvents(b)
      const received = yield* collect(b, Text, 1000)
      const peer = yield* a.connect(b.address)
      assert.deepStrictEqual(peer, b.local)
      const upA = yield* eventsA(isUp("b"))
      const upB = yield* eventsB(isUp("a"))
      assert.deepStrictEqual(upA._tag === "LinkUp" && upA.node, b.local)
      assert.deepStrictEqual(upB._tag === "LinkUp" && upB.address, a.address)
      for (let i = 0; i < 1000; i++) yield* a.send("b", Text, `m${i}`)
      assert.deepStrictEqual(
        yield* received,
        Array.from({ length: 1000 }, (_, i) => `m${i}`)
      )
      assert.strictEqual((yield* a.links).length, 1)
      assert.strictEqual(a.linkUnsafe("b")?.node.incarnation, b.local.incarnation)
    })
  )

  it.live("a send to a node that is not connected fails with NotConnected", () =>
    Effect.gen(function* () {
      const a = yield* tcpNode("a")
      const error = yield* Effect.flip(a.send("nobody", Text, "hi"))
      assert.strictEqual(error._tag, "NotConnected")
    })
  )

  it.live("a dial to a closed port fails with ConnectFailed", () =>
    Effect.gen(function* () {
      const a = yield* tcpNode("a")
      const port = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) => {
            const server = Net.createServer().listen(0, "127.0.0.1", () => {
              const { port } = server.address() as Net.AddressInfo
              server.close(() => resolve(port))
            })
          })
      )
      const error = yield* Effect.flip(a.connect({ host: "127.0.0.1", port }))
      assert.strictEqual(error._tag, "ConnectFailed")
    })
  )

  it.live("a wrong secret is refused both ways and both nodes keep serving others", () => {
    const logs = new LogCapture()
    return Effect.gen(function* () {
      const a = yield* tcpNode("a", { secret: "one" })
      const b = yield* tcpNode("b", { secret: "two" })
      const c = yield* tcpNode("c", { secret: "one" })
      const ab = yield* Effect.flip(a.connect(b.address))
      assert.strictEqual(ab._tag, "ConnectFailed")
      yield* logs.awaitLine(/refused TLS connection/)
      const ba = yield* Effect.flip(b.connect(a.address))
      assert.strictEqual(ba._tag, "ConnectFailed")
      assert.strictEqual((yield* a.links).length + (yield* b.links).length, 0)
      const peer = yield* c.connect(a.address)
      assert.strictEqual(peer.name, "a")
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("plain TCP garbage and a plain-TCP node are refused by a TLS node, which keeps serving", () => {
    const logs = new LogCapture()
    return Effect.gen(function* () {
      const a = yield* tcpNode("a")
      yield* rawClient(a.address.port, (socket) => socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
      yield* rawClient(a.address.port, (socket) => socket.write(Buffer.from([0, 0, 0, 5, 1, 2, 3, 4, 5])))
      yield* logs.awaitLine(/refused TLS connection/)
      const plain = yield* tcpNode("plain", { insecure: true })
      const error = yield* Effect.flip(plain.connect(a.address))
      assert.strictEqual(error._tag, "ConnectFailed")
      const b = yield* tcpNode("b")
      assert.strictEqual((yield* b.connect(a.address)).name, "a")
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("an insecure node warns at start, and refuses a TLS client and garbage", () => {
    const logs = new LogCapture()
    return Effect.gen(function* () {
      const a = yield* tcpNode("a", { insecure: true })
      yield* logs.awaitLine(/Warn.*plain TCP without authentication/)
      const tls = yield* tcpNode("tls")
      const error = yield* Effect.flip(tls.connect(a.address))
      assert.strictEqual(error._tag, "ConnectFailed")
      yield* logs.awaitLine(/closing connection with .*exceeds the maximum/)
      yield* rawClient(a.address.port, (socket) => socket.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1])))
      yield* logs.awaitLine(/undecodable frame|malformed handshake frame/)
      const b = yield* tcpNode("b", { insecure: true })
      assert.strictEqual((yield* b.connect(a.address)).name, "a")
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("a client stalling in the TLS handshake or before its Hello is cut after the handshake timeout", () => {
    const logs = new LogCapture()
    return Effect.gen(function* () {
      const a = yield* tcpNode("a", { secret: "s" }, { handshakeTimeout: 300 })
      const silentTcp = yield* rawClient(a.address.port, () => {})
      assert.isAtLeast(silentTcp, 250)
      assert.isBelow(silentTcp, 2000)
      yield* logs.awaitLine(/TLS handshake timeout/)
      const silentHello = yield* Effect.callback<number>((resume) => {
        const started = Date.now()
        const socket = Tls.connect({
          host: "127.0.0.1",
          port: a.address.port,
          ciphers: pskCipher,
          minVersion: "TLSv1.2",
          maxVersion: "TLSv1.2",
          pskCallback: () => ({ psk: derivePsk("s"), identity: "mute" }),
          checkServerIdentity: () => undefined
        })
        socket.on("error", () => {})
        socket.on("close", () => resume(Effect.succeed(Date.now() - started)))
        return Effect.sync(() => socket.destroy())
      })
      assert.isAtLeast(silentHello, 250)
      assert.isBelow(silentHello, 2000)
      yield* logs.awaitLine(/inbound connection .* handshake timed out after 300 ms/)
      const b = yield* tcpNode("b", { secret: "s" })
      assert.strictEqual((yield* b.connect(a.address)).name, "a")
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("a message over the peer's announced limit fails on the sender with MessageTooLarge; the link stays up", () =>
    Effect.gen(function* () {
      const Big = Channel.make("test.big", Schema.Uint8Array)
      const a = yield* tcpNode("a", undefined, { maxFrameBytes: 1024 * 1024 })
      const b = yield* tcpNode("b", undefined, { maxFrameBytes: 16 * 1024 })
      const received = yield* Queue.unbounded<number>()
      yield* b.register(Big, (bytes) => Queue.offerUnsafe(received, bytes.length))
      yield* a.connect(b.address)
      for (const size of [2 * 1024 * 1024, 64 * 1024]) {
        const tooBig = yield* Effect.flip(a.send("b", Big, new Uint8Array(size)))
        assert.strictEqual(tooBig._tag, "MessageTooLarge")
        if (tooBig._tag !== "MessageTooLarge") return
        assert.strictEqual(tooBig.node, "b")
        assert.strictEqual(tooBig.limit, 16 * 1024)
        assert.isAbove(tooBig.size, size)
      }
      assert.isFalse(a.trySend("b", Big, new Uint8Array(64 * 1024)))
      assert.isFalse(a.sendUnsafe("b", Big, new Uint8Array(64 * 1024)))
      yield* a.send("b", Big, new Uint8Array(1000))
      assert.strictEqual(yield* Queue.take(received), 1000)
      // b accepts up to 1 MiB: it sends a's limit worth, in fragments.
      const Back = Channel.make("test.back", Schema.Uint8Array)
      yield* a.register(Back, (bytes) => Queue.offerUnsafe(received, bytes.length))
      yield* b.send("a", Back, new Uint8Array(1000 * 1000))
      assert.strictEqual(yield* Queue.take(received), 1000 * 1000)
      // The same link throughout (the incarnation would not tell a reconnection apart; the link's
      // direction and the absence of a LinkDown on b do).
      assert.isTrue(a.isLinkedUnsafe("b"))
      assert.strictEqual(b.linkUnsafe("a")?.direction, "inbound")
    })
  )

  it.live(
    "an over-limit frame from a peer that was not told the limit is dropped and logged; the link stays up",
    () => {
      const logs = new LogCapture()
      return Effect.gen(function* () {
        const Big = Channel.make("test.big", Schema.Uint8Array)
        const b = yield* tcpNode("b", { insecure: true }, { maxFrameBytes: 16 * 1024 })
        const received = yield* Queue.unbounded<number>()
        yield* b.register(Big, (bytes) => Queue.offerUnsafe(received, bytes.length))
        const codec = Codec.make()
        const frame = (value: unknown) => {
          const body = codec.encode(value)
          return encodeFrames([body], body.length)
        }
        // An older node: its Hello announces no limits, and it sends whole frames of any size.
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
          socket.write(frame({ _tag: "Hello", name: "old", incarnation: 1, version: protocolVersion, address: null }))
        })
        assert.strictEqual(welcome._tag, "Welcome")
        assert.strictEqual(welcome.maxFrameBytes, 16 * 1024)
        socket.write(frame(["test.big", new Uint8Array(100 * 1024)]))
        socket.write(frame(["test.big", new Uint8Array(10)]))
        assert.strictEqual(yield* Queue.take(received), 10)
        yield* logs.awaitLine(/dropped a message of \d+ bytes from node "old".*limit of 16384 bytes/)
        assert.isTrue(b.isLinkedUnsafe("old"))
      }).pipe(Effect.provide(logs.layer))
    }
  )

  it.live(
    "before its handshake, a frame header over 4 KiB closes the connection at once; after it, big frames pass",
    () => {
      const logs = new LogCapture()
      return Effect.gen(function* () {
        const Big = Channel.make("test.big", Schema.Uint8Array)
        const a = yield* tcpNode("a", { secret: "s" }, { handshakeTimeout: 5000 })
        const header = Buffer.alloc(4)
        header.writeUInt32BE(4097)
        const closedAfter = yield* tlsClient(a.address.port, "s", "mallory", (socket) =>
          socket.write(Buffer.concat([header, Buffer.alloc(1000)]))
        )
        assert.isBelow(closedAfter, 2500, "closed on the header, not at the 5 s handshake timeout")
        yield* logs.awaitLine(/closing connection with .*frame of 4097 bytes exceeds the maximum of 4096 bytes/)
        assert.strictEqual(yield* refused("oversized"), 1)
        const received = yield* collect(a, Big, 1)
        const b = yield* tcpNode("b", { secret: "s" })
        yield* b.connect(a.address)
        yield* b.send("a", Big, new Uint8Array(1024 * 1024))
        assert.strictEqual((yield* received)[0]!.length, 1024 * 1024)
      }).pipe(Effect.provide(logs.layer), Effect.provideService(Metric.MetricRegistry, new Map()))
    }
  )

  it.live("past maxPendingConnections, the connection waiting longest for its handshake is closed", () => {
    const logs = new LogCapture()
    return Effect.gen(function* () {
      const a = yield* tcpNode("a", { secret: "s" }, { handshakeTimeout: 5000, maxPendingConnections: 2 })
      const idle = (): Effect.Effect<
        { readonly socket: Net.Socket; readonly closed: Promise<void> },
        never,
        Scope.Scope
      > =>
        Effect.acquireRelease(
          Effect.callback<{ socket: Net.Socket; closed: Promise<void> }>((resume) => {
            const socket = Net.connect({ host: "127.0.0.1", port: a.address.port }).on("error", () => {})
            const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
            socket.once("connect", () => resume(Effect.succeed({ socket, closed })))
          }),
          ({ socket }) => Effect.sync(() => socket.destroy())
        )
      // One after the other: the kernel queues them, and the node accepts them, in this order.
      const first = yield* idle()
      const second = yield* idle()
      const b = yield* tcpNode("b", { secret: "s" })
      assert.strictEqual((yield* b.connect(a.address)).name, "a", "the newest connection gets in")
      yield* Effect.timeout(
        Effect.promise(() => first.closed),
        2500
      )
      assert.isFalse(second.socket.destroyed, "the second idle connection still waits")
      assert.strictEqual(yield* refused("too_many_pending"), 1)
      yield* logs.awaitLine(/more than 2 connections were waiting for their handshake \(too_many_pending\)/)
    }).pipe(Effect.provide(logs.layer), Effect.provideService(Metric.MetricRegistry, new Map()))
  })

  it.live("a payload that fails the channel's Schema closes that connection with a logged reason", () => {
    const logs = new LogCapture()
    return Effect.gen(function* () {
      const AsText = Channel.make("test.value", Schema.String)
      const AsNumber = Channel.make("test.value", Schema.Number)
      const a = yield* tcpNode("a")
      const b = yield* tcpNode("b")
      yield* b.register(AsNumber, () => {})
      const eventsA = yield* linkEvents(a)
      yield* a.connect(b.address)
      yield* a.send("b", AsText, "not a number")
      yield* eventsA(isDown("b"))
      yield* logs.awaitLine(/payload on channel "test.value" failed to decode/)
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("a second live node with a taken name is refused with duplicate_name", () =>
    Effect.gen(function* () {
      const a = yield* tcpNode("a")
      const b1 = yield* tcpNode("b")
      const b2 = yield* tcpNode("b")
      yield* b1.connect(a.address)
      const error = yield* Effect.flip(b2.connect(a.address))
      assert.strictEqual(error._tag, "HandshakeRejected")
      assert.strictEqual(error._tag === "HandshakeRejected" && error.reason, "duplicate_name")
      assert.match(error.message, /already connected/)
      const links = yield* a.links
      assert.deepStrictEqual(
        links.map((link) => link.node),
        [b1.local]
      )
      const error2 = yield* Effect.flip(a.connect(b2.address))
      assert.strictEqual(error2._tag === "HandshakeRejected" && error2.reason, "duplicate_name")
    })
  )

  it.live("a node that dials itself is refused", () =>
    Effect.gen(function* () {
      const a = yield* tcpNode("a")
      const error = yield* Effect.flip(a.connect(a.address))
      assert.strictEqual(error._tag === "HandshakeRejected" && error.reason, "self")
    })
  )

  it.live("simultaneous dials between two nodes end with one link each way and no spurious events", () =>
    Effect.gen(function* () {
      const a = yield* tcpNode("a")
      const b = yield* tcpNode("b")
      const counts = { up: 0, down: 0 }
      for (const node of [a, b]) {
        const events = yield* node.subscribe
        yield* Effect.forkScoped(
          Stream.runForEach(events, (event) =>
            Effect.sync(() => (event._tag === "LinkUp" ? counts.up++ : counts.down++))
          )
        )
      }
      const [ab, ba] = yield* Effect.all([a.connect(b.address), b.connect(a.address)], { concurrency: 2 })
      assert.strictEqual(ab.name, "b")
      assert.strictEqual(ba.name, "a")
      const atB = yield* collect(b, Text, 50)
      const atA = yield* collect(a, Text, 50)
      for (let i = 0; i < 50; i++) {
        yield* a.send("b", Text, `ab${i}`)
        yield* b.send("a", Text, `ba${i}`)
      }
      assert.strictEqual((yield* atB).length, 50)
      assert.strictEqual((yield* atA).length, 50)
      assert.strictEqual((yield* a.links).length, 1)
      assert.strictEqual((yield* b.links).length, 1)
      assert.deepStrictEqual(counts, { up: 2, down: 0 })
    })
  )

  it.live("closing a node's scope says goodbye: its peers see graceful_shutdown", () =>
    Effect.gen(function* () {
      const a = yield* tcpNode("a")
      const eventsA = yield* linkEvents(a)
      const scope = yield* Scope.make()
      const b = yield* tcpNode("b").pipe(Scope.provide(scope))
      yield* b.connect(a.address)
      yield* eventsA(isUp("b"))
      yield* Scope.close(scope, Exit.void)
      const down = yield* eventsA(isDown("b"))
      assert.strictEqual(down._tag === "LinkDown" && down.reason, "graceful_shutdown")
    })
  )

  it.live("disconnect reports the given reason locally and connection_closed at the peer", () =>
    Effect.gen(function* () {
      const a = yield* tcpNode("a")
      const b = yield* tcpNode("b")
      const eventsA = yield* linkEvents(a)
      const eventsB = yield* linkEvents(b)
      yield* a.connect(b.address)
      yield* a.disconnect("b", "heartbeat_timeout")
      const localDown = yield* eventsA(isDown("b"))
      assert.strictEqual(localDown._tag === "LinkDown" && localDown.reason, "heartbeat_timeout")
      const remoteDown = yield* eventsB(isDown("a"))
      assert.strictEqual(remoteDown._tag === "LinkDown" && remoteDown.reason, "connection_closed")
    })
  )

  it.live("certificate mTLS links nodes whose certificates the CA signed and refuses others", () =>
    Effect.gen(function* () {
      const tls = { ca: fixture("ca.crt"), cert: fixture("node.crt"), key: fixture("node.key") }
      const rogue = { ca: fixture("ca.crt"), cert: fixture("rogue.crt"), key: fixture("rogue.key") }
      const a = yield* tcpNode("a", { tls })
      const b = yield* tcpNode("b", { tls })
      const r = yield* tcpNode("r", { tls: rogue })
      assert.strictEqual((yield* b.connect(a.address)).name, "a")
      const error = yield* Effect.flip(r.connect(a.address))
      assert.strictEqual(error._tag, "ConnectFailed")
      const error2 = yield* Effect.flip(a.connect(r.address))
      assert.strictEqual(error2._tag, "ConnectFailed")
    })
  )

  it.live("with bindNodeName, a node must be named by its certificate, in both directions", () =>
    Effect.gen(function* () {
      const certified = (cert: string) => ({
        tls: { ca: fixture("ca.crt"), cert: fixture(`${cert}.crt`), key: fixture(`${cert}.key`), bindNodeName: true }
      })
      const a = yield* tcpNode("a", certified("a"))
      const b = yield* tcpNode("b", certified("b"))
      assert.strictEqual((yield* b.connect(a.address)).name, "a")
      // "c" holds a valid certificate of the cluster, but one that names "b".
      const impostor = yield* tcpNode("c", certified("b"))
      const outbound = yield* Effect.flip(impostor.connect(a.address))
      assert.strictEqual(outbound._tag === "HandshakeRejected" && outbound.reason, "identity_mismatch")
      const inbound = yield* Effect.flip(a.connect(impostor.address))
      assert.strictEqual(inbound._tag === "HandshakeRejected" && inbound.reason, "identity_mismatch")
      assert.include(inbound._tag === "HandshakeRejected" ? inbound.detail : "", 'the certificate names "b"')
      // A certificate that names another node is refused too (without bindNodeName, see above, it links).
      const anonymous = yield* tcpNode("d", certified("node"))
      assert.strictEqual((yield* Effect.flip(anonymous.connect(a.address)))._tag, "HandshakeRejected")
      assert.lengthOf(yield* a.links, 1)
    })
  )

  it.live("with bindNodeName, DNS subjectAltNames name the node; the CN counts only without them", () =>
    Effect.gen(function* () {
      const certified = (cert: string) => ({
        tls: { ca: fixture("ca.crt"), cert: fixture(`${cert}.crt`), key: fixture(`${cert}.key`), bindNodeName: true }
      })
      const b = yield* tcpNode("b", certified("b"))
      // mixed.crt: CN "a", subjectAltName DNS "c".
      const claimsCn = yield* tcpNode("a", certified("mixed"))
      const error = yield* Effect.flip(claimsCn.connect(b.address))
      assert.strictEqual(error._tag === "HandshakeRejected" && error.reason, "identity_mismatch")
      const named = yield* tcpNode("c", certified("mixed"))
      assert.strictEqual((yield* named.connect(b.address)).name, "b")
      // node.crt has no subjectAltName: its CN "node" names it.
      const byCn = yield* tcpNode("node", certified("node"))
      assert.strictEqual((yield* byCn.connect(b.address)).name, "b")
    })
  )
})
