/**
 * The attacker of the flood test, in its own OS process (its TLS work and its sockets are not
 * charged to the test process, and killing it closes every one of its connections).
 *
 * Usage: floodAttackerProcess.ts <port> <attack> <count> [bytes]
 * Connects from 127.0.0.2 to 127.0.0.1:<port>, `count` times:
 * - `bigframe`: TLS-PSK with the right secret ("flood-test"), then the header of an 8 MiB frame and
 *   `bytes` bytes of its body, and nothing more;
 * - `idle`: plain TCP, sending nothing;
 * - `badhello`: TLS-PSK with the right secret, then a 3-byte frame that is no Hello;
 * - `wrongsecret`: TLS-PSK with another secret;
 * - `nottls`: plain TCP sending an HTTP request to the TLS port.
 * Prints `EVENT {"_tag":"Done", connected, closedByPeer, failed, maxConnectMs, elapsedMs}` once every
 * connection is closed by the node (`idle`: once every one is connected), then keeps its
 * connections open until its stdin closes (or it is killed).
 */
import * as Net from "node:net"
import * as Tls from "node:tls"
import { derivePsk, pskCipher } from "../../src/Transport/Security.ts"

const [port = "0", attack = "idle", count = "1", bytes = "0"] = process.argv.slice(2)
const target = { host: "127.0.0.1", port: Number(port), localAddress: "127.0.0.2" }

const print = (event: object) => process.stdout.write(`EVENT ${JSON.stringify({ ...event, at: Date.now() })}\n`)

const tlsTo = (secret: string, identity: string): Tls.TLSSocket =>
  Tls.connect({
    ...target,
    ciphers: pskCipher,
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.2",
    pskCallback: () => ({ psk: derivePsk(secret), identity }),
    checkServerIdentity: () => undefined
  })

const header = (size: number) => {
  const buffer = Buffer.alloc(4)
  buffer.writeUInt32BE(size)
  return buffer
}

const piece64k = Buffer.alloc(64 * 1024, 7)
const sockets: Array<Net.Socket> = []
let connected = 0
let closedByPeer = 0
let failed = 0
let settled = 0
let maxConnectMs = 0
const total = Number(count)
const startedAt = performance.now()

const settle = () => {
  if (++settled === total) {
    print({ _tag: "Done", connected, closedByPeer, failed, maxConnectMs, elapsedMs: performance.now() - startedAt })
  }
}

for (let i = 0; i < total; i++) {
  const started = performance.now()
  const tls = attack === "bigframe" || attack === "badhello" || attack === "wrongsecret"
  const socket: Net.Socket = tls
    ? tlsTo(attack === "wrongsecret" ? "not-the-secret" : "flood-test", `attacker-${i}`)
    : Net.connect(target)
  sockets.push(socket)
  let done = false
  const finish = (outcome: "closed" | "failed" | "connected") => {
    if (done) return
    done = true
    if (outcome === "closed") closedByPeer++
    if (outcome === "failed") failed++
    settle()
  }
  socket.once("connect", () => {
    connected++
    maxConnectMs = Math.max(maxConnectMs, performance.now() - started)
    if (attack === "idle") finish("connected")
    if (attack === "nottls") socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
  })
  socket.once(tls ? "secureConnect" : "connect", () => {
    if (attack === "bigframe") {
      // The body goes in pieces, each written once the previous one is taken: a node that closes
      // on the header costs the attacker (and this test) no more than the first piece.
      let sent = 0
      const more = (error?: Error | null) => {
        if ((error !== undefined && error !== null) || socket.destroyed || sent >= Number(bytes)) return
        const piece = piece64k.subarray(0, Math.min(piece64k.length, Number(bytes) - sent))
        sent += piece.length
        socket.write(piece, more)
      }
      socket.write(header(8 * 1024 * 1024), more)
    } else if (attack === "badhello") {
      socket.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]))
    }
  })
  socket.on("data", () => {})
  socket.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "ETIMEDOUT" || error.code === "ECONNREFUSED") finish("failed")
  })
  socket.once("close", () => finish("closed"))
}

process.stdin.on("end", () => {
  for (const socket of sockets) socket.destroy()
  process.exit(0)
})
process.stdin.resume()
