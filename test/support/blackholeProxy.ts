/**
 * A TCP proxy on loopback that forwards to a target, and that hides the death of a client: when
 * the client's side closes, the target's side stays open and silent (what it sends is dropped), as
 * when a host crashes or a partition swallows the connection's FIN. The target learns nothing
 * until its own failure detection or a probe finds the link dead.
 */
import * as Net from "node:net"
import { Effect } from "effect"

export interface BlackholeProxy {
  readonly port: number
  /** How many client connections have died while their target side was kept open. */
  readonly swallowedCloses: () => number
  /** From now on, the open connections forward nothing either way (and stay open): a partition. */
  readonly partition: () => void
}

/** Starts the proxy in the current scope (every socket is destroyed when it closes). */
export const blackholeProxy = (target: { readonly host: string; readonly port: number }) =>
  Effect.gen(function* () {
    const sockets = new Set<Net.Socket>()
    let swallowed = 0
    let partitioned = false
    const track = (socket: Net.Socket) => {
      sockets.add(socket)
      socket.on("error", () => {})
      socket.once("close", () => sockets.delete(socket))
    }
    const server = yield* Effect.acquireRelease(
      Effect.callback<Net.Server>((resume) => {
        const server = Net.createServer((client) => {
          track(client)
          const upstream = Net.connect({ host: target.host, port: target.port })
          track(upstream)
          let clientAlive = true
          client.on("data", (chunk) => {
            if (!partitioned) upstream.write(chunk)
          })
          upstream.on("data", (chunk) => {
            if (clientAlive && !partitioned) client.write(chunk)
          })
          // The client died: keep the target's side open, say nothing, drop what it sends.
          client.once("close", () => {
            clientAlive = false
            if (!upstream.destroyed) swallowed++
          })
          // The target closed: pass it on.
          upstream.once("close", () => client.destroy())
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      port: (server.address() as Net.AddressInfo).port,
      swallowedCloses: () => swallowed,
      partition: () => void (partitioned = true)
    } satisfies BlackholeProxy
  })
