import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as TcpTransport from "../../src/Transport/TcpTransport.ts"
import { isUp, linkEvents } from "../support/transportHarness.ts"

/** A raw TCP server on `host` that tells the source address of the first connection it accepts. */
const rawServer = (host: string) =>
  Effect.gen(function* () {
    let resolveSource: (address: string) => void = () => {}
    const source = new Promise<string>((resolve) => (resolveSource = resolve))
    const server = yield* Effect.acquireRelease(
      Effect.callback<Net.Server>((resume) => {
        const server = Net.createServer((socket) => {
          resolveSource(socket.remoteAddress ?? "unknown")
          socket.destroy()
        })
        server.listen(0, host, () => resume(Effect.succeed(server)))
      }),
      (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
    )
    const port = (server.address() as Net.AddressInfo).port
    return { port, source: Effect.promise(() => source).pipe(Effect.timeout(5000)) }
  })

const node = (name: string, host: string) =>
  TcpTransport.make({ name, host, port: 0, security: { secret: "dial-source" }, handshakeTimeout: 1000 })

describe("TcpTransport dialing", () => {
  it.live("a node bound to 127.0.0.3 dials its peers from 127.0.0.3", () =>
    Effect.gen(function* () {
      const peer = yield* rawServer("127.0.0.1")
      const a = yield* node("a", "127.0.0.3")
      yield* Effect.ignore(a.connect({ host: "127.0.0.1", port: peer.port }))
      assert.strictEqual(yield* peer.source, "127.0.0.3")
    })
  )

  it.live("a node that listens on a specific address dials a peer given by name from that address", () =>
    Effect.gen(function* () {
      const peer = yield* rawServer("127.0.0.1")
      const a = yield* node("a", "127.0.0.4")
      yield* Effect.ignore(a.connect({ host: "localhost", port: peer.port }))
      assert.strictEqual(yield* peer.source, "127.0.0.4")
    })
  )

  it.live("nodes that dial from their own loopback addresses link up", () =>
    Effect.gen(function* () {
      const a = yield* node("a", "127.0.0.3")
      const b = yield* node("b", "127.0.0.5")
      const eventsB = yield* linkEvents(b)
      assert.deepStrictEqual(yield* a.connect(b.address), b.local)
      const up = yield* eventsB(isUp("a"))
      assert.deepStrictEqual(up._tag === "LinkUp" && up.address, { host: "127.0.0.3", port: a.address.port })
    })
  )
})
