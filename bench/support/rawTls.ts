/**
 * The baseline of the network benchmarks: a bare node:tls PSK echo server and ping-pong client,
 * with no library code beyond the key derivation and the cipher name.
 *
 * With `busyPollMicros` > 0, both ends keep their event loop polling after each read and write, as
 * the TCP transport does by default (`BusyPoll`): the like-for-like baseline for the library's own
 * round trips, which would otherwise be compared with a baseline that pays a process wake-up per hop.
 */
import * as Tls from "node:tls"
import { BusyPoll } from "../../src/Transport/internal/busyPoll.ts"
import { derivePsk, pskCipher } from "../../src/Transport/Security.ts"

const tlsOptions = { ciphers: pskCipher, minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } as const

/** Starts an echo server on 127.0.0.1 and resolves to its port. */
export const startEchoServer = (secret: string, busyPollMicros = 0): Promise<number> => {
  const key = derivePsk(secret)
  const busyPoll = new BusyPoll(busyPollMicros)
  const server = Tls.createServer({ ...tlsOptions, pskCallback: () => key }, (socket) => {
    socket.setNoDelay(true)
    socket.on("data", (data) => {
      busyPoll.touch()
      socket.write(data)
    })
    socket.on("error", () => {})
  })
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port))
  )
}

/**
 * Sequential round trips of `payload` to the echo server for `seconds` after `warmUp` round trips;
 * resolves to round trips per second.
 */
export const pingPong = (
  port: number,
  secret: string,
  payload: Uint8Array,
  seconds: number,
  { busyPollMicros = 0, warmUp = 2000 }: { readonly busyPollMicros?: number; readonly warmUp?: number } = {}
) =>
  new Promise<number>((resolve, reject) => {
    const key = derivePsk(secret)
    const busyPoll = new BusyPoll(busyPollMicros)
    const socket = Tls.connect({
      ...tlsOptions,
      host: "127.0.0.1",
      port,
      pskCallback: () => ({ psk: key, identity: "bench" }),
      checkServerIdentity: () => undefined
    })
    socket.setNoDelay(true)
    socket.once("error", reject)
    let count = -warmUp
    let received = 0
    let started = 0
    socket.on("secureConnect", () => socket.write(payload))
    socket.on("data", (data: Buffer) => {
      busyPoll.touch()
      received += data.length
      if (received < payload.length) return
      received -= payload.length
      if (++count === 0) started = performance.now()
      const elapsed = count <= 0 ? 0 : performance.now() - started
      if (elapsed >= seconds * 1000) {
        busyPoll.stop()
        socket.destroy()
        resolve(Math.round((count / elapsed) * 1000))
      } else socket.write(payload)
    })
  })
