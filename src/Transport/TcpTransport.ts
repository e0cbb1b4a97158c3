/**
 * The `Transport` over TCP: TLS 1.2 PSK, certificate mTLS, or (explicitly) plain TCP.
 *
 * Refused and logged, without affecting other links: a peer with the wrong secret or certificate,
 * a plain-TCP client hitting a TLS node (and the reverse), a client that stalls in the handshake
 * (after `handshakeTimeoutMs`), a peer sending an oversized or undecodable frame.
 *
 * @since 0.1.0
 */
import * as Net from "node:net"
import * as Tls from "node:tls"
import { Effect, Exit, Layer } from "effect"
import type { Scope } from "effect"
import * as Codec from "./Codec.ts"
import type { Address, NodeIdentity } from "./Frame.ts"
import { BusyPoll } from "./internal/busyPoll.ts"
import { LinkEngine } from "./internal/linkEngine.ts"
import type { AttachOptions } from "./internal/linkEngine.ts"
import { makeLog } from "./internal/logging.ts"
import { SocketConn } from "./internal/socketConn.ts"
import * as Security from "./Security.ts"
import { Transport } from "./Transport.ts"
import { ConnectFailed, ListenFailed } from "./TransportError.ts"
import type { ConnectError } from "./TransportError.ts"
import { newIncarnation, resolveTuning } from "./TransportOptions.ts"
import type { TransportTuning } from "./TransportOptions.ts"

/**
 * Options of a TCP transport.
 *
 * @since 0.1.0
 */
export interface TcpTransportOptions extends TransportTuning {
  /** This node's name, unique in the cluster. */
  readonly name: string
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Port to listen on; 0 (the default) picks a free one, see `Transport.address`. */
  readonly port?: number | undefined
  /** Host that peers should dial, when it differs from `host` (e.g. `host: "0.0.0.0"`). */
  readonly advertiseHost?: string | undefined
  /** Link security; see `Security.Security`. */
  readonly security: Security.Security
}

const listen = (server: Net.Server, host: string, port: number) =>
  Effect.callback<number, ListenFailed>((resume) => {
    const onError = (error: Error) =>
      resume(Effect.fail(new ListenFailed({ address: `${host}:${port}`, reason: error.message })))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resume(Effect.succeed((server.address() as Net.AddressInfo).port))
    })
  })

/**
 * Starts a TCP transport: listens, and serves until the scope closes, then leaves gracefully
 * (peers see `graceful_shutdown`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpTransport } from "effect-otp"
 *
 * const transport = TcpTransport.make({ name: "a", port: 0, security: { secret: "s3cret" } })
 * ```
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* (
  options: TcpTransportOptions
): Effect.fn.Return<Transport["Service"], ListenFailed, Scope.Scope> {
  const tuning = resolveTuning(options)
  const host = options.host ?? "127.0.0.1"
  const log = yield* makeLog(options.name)
  const security = options.security
  if ("insecure" in security) {
    yield* Effect.logWarning(
      `node "${options.name}": cluster links use plain TCP without authentication or encryption (insecure: true)`
    )
  }

  const identities = new WeakMap<Tls.TLSSocket, string>()
  const tlsServerOptions = Security.serverOptions(security, (socket, identity) => identities.set(socket, identity))
  const tlsClientOptions = Security.clientOptions(security, options.name)
  const server: Net.Server = tlsServerOptions
    ? Tls.createServer({ ...tlsServerOptions, handshakeTimeout: tuning.handshakeTimeoutMs })
    : Net.createServer()

  const rawSockets = new Set<Net.Socket>()
  server.on("connection", (socket: Net.Socket) => {
    rawSockets.add(socket)
    socket.once("close", () => rawSockets.delete(socket))
    socket.on("error", () => {})
  })

  const port = yield* Effect.acquireRelease(listen(server, host, options.port ?? 0), () =>
    Effect.sync(() => {
      server.close()
    })
  )
  const address: Address = { host: options.advertiseHost ?? host, port }
  const local: NodeIdentity = { name: options.name, incarnation: newIncarnation() }
  const engine = new LinkEngine({ ...tuning, local, address, codec: Codec.make(), log })
  const busyPoll = new BusyPoll(tuning.busyPollMicros)

  /** Who the TLS layer says the peer is (PSK identity, or certificate names when bound). */
  const authenticated = (socket: Tls.TLSSocket): AttachOptions["authenticated"] => {
    const identity = identities.get(socket)
    if (identity !== undefined) return { names: [identity], by: `PSK identity "${identity}"` }
    const names = Security.certificateNames(security, socket)
    return names === undefined ? undefined : { names, by: "the certificate" }
  }
  const accept = (socket: Net.Socket, attachOptions: AttachOptions) => {
    void engine.attach(new SocketConn(socket, tuning.maxFrameBytes, busyPoll), "inbound", attachOptions)
  }
  if (tlsServerOptions) {
    server.on("secureConnection", (socket: Tls.TLSSocket) => accept(socket, { authenticated: authenticated(socket) }))
    server.on("tlsClientError", (error: Error, socket: Tls.TLSSocket) => {
      const remote = socket.remoteAddress === undefined ? "a client" : `${socket.remoteAddress}:${socket.remotePort}`
      log("Warn", `refused TLS connection from ${remote}: ${error.message}`)
      socket.destroy()
    })
  } else {
    server.on("connection", (socket: Net.Socket) => accept(socket, {}))
  }

  const dial = (target: Address, attachOptions: AttachOptions, signal: AbortSignal) =>
    new Promise<Exit.Exit<NodeIdentity, ConnectError>>((resolve) => {
      const remote = `${target.host}:${target.port}`
      let attached = false
      const socket: Net.Socket = tlsClientOptions
        ? Tls.connect({ ...tlsClientOptions, host: target.host, port: target.port })
        : Net.connect({ host: target.host, port: target.port })
      const fail = (reason: string) => {
        if (attached) return
        attached = true
        clearTimeout(timer)
        socket.destroy()
        log("Debug", `connection to ${remote} failed: ${reason}`)
        resolve(Exit.fail(new ConnectFailed({ address: remote, reason })))
      }
      const timer = setTimeout(
        () => fail(`handshake timed out after ${tuning.handshakeTimeoutMs} ms`),
        tuning.handshakeTimeoutMs
      )
      socket.once("error", (error) => fail(error.message))
      socket.once(tlsClientOptions ? "secureConnect" : "connect", () => {
        if (attached) return
        attached = true
        clearTimeout(timer)
        const verified = tlsClientOptions
          ? { ...attachOptions, authenticated: authenticated(socket as Tls.TLSSocket) }
          : attachOptions
        engine.attach(new SocketConn(socket, tuning.maxFrameBytes, busyPoll), "outbound", verified).then((exit) => {
          signal.removeEventListener("abort", abort)
          resolve(exit)
        })
      })
      const abort = () => {
        fail("interrupted")
        if (attached) socket.destroy()
      }
      signal.addEventListener("abort", abort, { once: true })
    })

  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      await engine.shutdown(tuning.shutdownTimeoutMs)
      busyPoll.stop()
      for (const socket of rawSockets) socket.destroy()
    })
  )
  log("Info", `listening on ${host}:${port} (${Security.describe(security)}), incarnation ${local.incarnation}`)
  return engine.service(dial)
})

/**
 * The TCP transport as a layer.
 *
 * @example
 * ```ts
 * import { TcpTransport } from "effect-otp"
 *
 * const TransportLive = TcpTransport.layer({ name: "a", port: 4370, security: { secret: "s3cret" } })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: TcpTransportOptions): Layer.Layer<Transport, ListenFailed> =>
  Layer.effect(Transport, make(options))
