/**
 * A stand-in for a node of another version, on real TLS-PSK over loopback: it speaks the framing
 * and codec of the wire, reads the dialer's Hello and answers with whatever control frame the test
 * gives (a `Reject`, a `Welcome` of another protocol version).
 */
import * as Net from "node:net"
import * as Tls from "node:tls"
import { Effect } from "effect"
import type { Scope } from "effect"
import * as Codec from "../../src/Transport/Codec.ts"
import type { ControlFrame } from "../../src/Transport/Frame.ts"
import { encodeFrames, FrameDecoder } from "../../src/Transport/Framing.ts"
import { derivePsk, pskCipher } from "../../src/Transport/Security.ts"

const psk12 = { ciphers: pskCipher, minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } as const

const frame = (codec: Codec.Codec, value: unknown) => {
  const body = codec.encode(value)
  return encodeFrames([body], body.length)
}

/** A TLS-PSK server on 127.0.0.1 answering every Hello with `answer(hello)`, in the current scope. */
export const fakePeer = (
  secret: string,
  answer: (hello: Record<string, unknown>) => ControlFrame
): Effect.Effect<{ readonly port: number; readonly hellos: Array<Record<string, unknown>> }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ port: number; hellos: Array<Record<string, unknown>>; server: Tls.Server }>((resume) => {
      const codec = Codec.make()
      const hellos: Array<Record<string, unknown>> = []
      const key = derivePsk(secret)
      const server = Tls.createServer({ ...psk12, pskIdentityHint: "effect-otp", pskCallback: () => key }, (socket) => {
        socket.on("error", () => {})
        const decoder = new FrameDecoder(
          1024 * 1024,
          (body) => {
            const hello = codec.decode(body) as Record<string, unknown>
            hellos.push(hello)
            socket.end(frame(codec, answer(hello)))
          },
          () => socket.destroy()
        )
        socket.on("data", (chunk: Buffer) => decoder.push(chunk))
      })
      server.on("tlsClientError", () => {})
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ port: (server.address() as Net.AddressInfo).port, hellos, server }))
      )
    }),
    ({ server }) => Effect.sync(() => server.close())
  )

/** Dials a node over TLS-PSK as node `name` and sends a Hello of protocol `version`; resolves when it closes. */
export const helloFrom = (port: number, secret: string, name: string, version: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const codec = Codec.make()
    const socket = Tls.connect({
      ...psk12,
      host: "127.0.0.1",
      port,
      pskCallback: () => ({ psk: derivePsk(secret), identity: name }),
      checkServerIdentity: () => undefined
    })
    socket.on("error", () => {})
    socket.once("secureConnect", () =>
      socket.write(frame(codec, { _tag: "Hello", name, incarnation: 1, version, address: null }))
    )
    socket.on("data", () => {})
    socket.once("close", () => resume(Effect.void))
    return Effect.sync(() => socket.destroy())
  })
