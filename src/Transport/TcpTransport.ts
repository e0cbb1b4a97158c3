/**
 * The `Transport` over TCP: TLS 1.2 PSK, certificate mTLS, or (explicitly) plain TCP.
 *
 * Refused and logged, without affecting other links: a peer with the wrong secret or certificate,
 * a plain-TCP client hitting a TLS node (and the reverse), a client that stalls in the handshake
 * (after `handshakeTimeout`), a peer sending an oversized or undecodable frame. Each refusal is
 * logged with what it most likely means (a different cluster secret, a plain-TCP node, ...), once
 * per host and reason and then at most every five minutes, and counted in the metric
 * `effect_otp_transport_handshakes_refused_total` by `reason`. A failed dial fails with
 * `ConnectFailed`, whose `kind` classifies it, or `HandshakeRejected`.
 *
 * Unauthenticated connections are bounded: until its node handshake completes a connection may
 * send only frames of up to 4 KiB (a bigger frame header closes it before anything is buffered),
 * and at most `maxPendingConnections` accepted connections wait for their handshakes (one more
 * closes the oldest, as `too_many_pending`). The listen backlog is `listenBacklog`.
 *
 * Every timer (TLS and node handshakes, the dial, the goodbye at shutdown) runs on Effect's
 * `Clock` as it was when the transport was built.
 *
 * @since 0.1.0
 */
import * as Net from "node:net"
import * as Tls from "node:tls"
import { Effect, Exit, Layer } from "effect"
import type { Scope } from "effect"
import * as Timers from "../internal/timers.ts"
import type { Address, NodeIdentity } from "./Frame.ts"
import { BusyPoll } from "./internal/busyPoll.ts"
import { makeLinkEngine } from "./internal/linkEngine.ts"
import type { AttachOptions } from "./internal/linkEngine.ts"
import { makeLog } from "./internal/logging.ts"
import { PendingConnections } from "./internal/pendingConnections.ts"
import type { PendingConnection } from "./internal/pendingConnections.ts"
import type { RefusalReason } from "./internal/refusals.ts"
import { SocketConn } from "./internal/socketConn.ts"
import * as Security from "./Security.ts"
import * as TlsOptions from "./internal/tls.ts"
import { Transport } from "./Transport.ts"
import { ConnectFailed, ListenFailed } from "./TransportError.ts"
import type { ConnectError, ConnectFailure } from "./TransportError.ts"
import { resolveTuning } from "./internal/tuning.ts"
import type { TransportTuning } from "./TransportOptions.ts"

/**
 * Options of a TCP transport: its name and address, its security, and the transport tuning.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import type { TcpTransport } from "effect-otp"
 *
 * const options: TcpTransport.TcpTransportOptions = {
 *   name: "a",
 *   host: "0.0.0.0",
 *   advertiseHost: "10.0.0.1",
 *   port: 4370,
 *   security: { secret: Redacted.make("s3cret") },
 *   handshakeTimeout: "3 seconds"
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface TcpTransportOptions extends TransportTuning {
  /** This node's name, unique in the cluster. */
  readonly name: string
  /**
   * Interface to listen on. Default `127.0.0.1`. When it is a specific IP address (not `0.0.0.0` or
   * `::`), connections to peers also leave from it (their source address), so peers and firewall
   * rules see every connection of this node come from one address.
   */
  readonly host?: string | undefined
  /** Port to listen on; 0 (the default) picks a free one, see `Transport.address`. */
  readonly port?: number | undefined
  /** Host that peers should dial, when it differs from `host` (e.g. `host: "0.0.0.0"`). */
  readonly advertiseHost?: string | undefined
  /** Link security; see `Security.Security`. */
  readonly security: Security.Security
}

/** Whether `host` is an address of every interface (`0.0.0.0`, `::`): no source address to bind to. */
const isUnspecified = (host: string): boolean => host === "0.0.0.0" || (Net.isIPv6(host) && /^[0:]+$/.test(host))

/**
 * Where outgoing connections leave from: this node's own `host` when it is a specific IP address of
 * the same family as the target (or the target is a name, then resolved in that family), so that
 * peers and firewalls see every connection of a node come from the address it listens on.
 */
const dialSource = (
  host: string,
  target: string
): { readonly localAddress: string; readonly family?: 4 | 6 } | undefined => {
  const family = Net.isIP(host)
  if (family === 0 || isUnspecified(host)) return undefined
  const targetFamily = Net.isIP(target)
  if (targetFamily === 0) return { localAddress: host, family: family as 4 | 6 }
  return targetFamily === family ? { localAddress: host } : undefined
}

const listen = (server: Net.Server, host: string, port: number, backlog: number) =>
  Effect.callback<number, ListenFailed>((resume) => {
    const onError = (error: Error) =>
      resume(Effect.fail(new ListenFailed({ address: `${host}:${port}`, reason: error.message })))
    server.once("error", onError)
    server.listen({ port, host, backlog }, () => {
      server.off("error", onError)
      resume(Effect.succeed((server.address() as Net.AddressInfo).port))
    })
  })

/** node's own TLS handshake timer, behind the transport's: it only matters if that one never fires. */
const backstopMs = (millis: number): number => (millis < 2 ** 31 - 1 - 1000 ? millis + 1000 : 2 ** 31 - 1)

/** A node:tls or socket error's code, if any. */
const codeOf = (error: Error): string => {
  const code = (error as { code?: unknown }).code
  return typeof code === "string" ? code : ""
}

/** OpenSSL's short description of a TLS error (`decryption failed or bad record mac`), or its message. */
const tlsReasonOf = (error: Error): string => {
  const reason = (error as { reason?: unknown }).reason
  return typeof reason === "string" && reason.length > 0 ? reason : error.message.split("\n")[0]!
}

const notTlsCodes =
  /WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|RECORD_LENGTH_MISMATCH|RECORD_LAYER_FAILURE/
/** What a pre-shared key that differs from the peer's produces (on either side). */
const wrongKeyCodes = /BAD_RECORD_MAC|DECRYPT/
/** No common ground: one side uses a secret (PSK), the other certificates. */
const noSharedModeCodes = /HANDSHAKE_FAILURE|NO_SHARED_CIPHER|NO_CIPHERS|NO_SUITABLE|PSK_IDENTITY/
const certificateCodes = /CERT|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|PEER_DID_NOT_RETURN/

/** Why a dial failed, classified, with a readable reason (the TLS detail kept). */
const classifyDialError = (error: Error, tls: boolean): { readonly kind: ConnectFailure; readonly reason: string } => {
  const code = codeOf(error)
  switch (code) {
    case "ECONNREFUSED":
      return { kind: "refused", reason: "connection refused (no node listens there)" }
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EADDRNOTAVAIL":
      return { kind: "unreachable", reason: `unreachable (${error.message})` }
    case "ETIMEDOUT":
      return { kind: "timeout", reason: `connection timed out (${error.message})` }
  }
  if (code.startsWith("ERR_SSL_") && notTlsCodes.test(code)) {
    return { kind: "protocol", reason: `the peer does not speak TLS (${tlsReasonOf(error)})` }
  }
  if (code.startsWith("ERR_SSL_") && noSharedModeCodes.test(code)) {
    return { kind: "protocol", reason: `no TLS mode in common with the peer (${tlsReasonOf(error)})` }
  }
  if (code.startsWith("ERR_SSL_") || certificateCodes.test(code)) {
    return { kind: "authentication", reason: `TLS handshake failed (${tlsReasonOf(error)})` }
  }
  if (tls && /before secure TLS connection was established/.test(error.message)) {
    return { kind: "closed", reason: "the peer closed the connection during the TLS handshake" }
  }
  return { kind: "closed", reason: error.message }
}

/** The accepting side's account of a failed TLS handshake: what it most likely means. */
const describeTlsRefusal = (
  error: Error,
  security: Security.Security
): { readonly reason: RefusalReason | undefined; readonly text: string } => {
  const code = codeOf(error)
  const detail = tlsReasonOf(error)
  if (error.message.includes("TLS handshake timeout")) {
    return { reason: "tls_timeout", text: `TLS handshake timeout (${detail})` }
  }
  if (!code.startsWith("ERR_SSL_") && !certificateCodes.test(code)) {
    // The client went away mid-handshake (a reset, a dial given up): nothing to act on here.
    return { reason: undefined, text: `the client closed the connection during the TLS handshake (${detail})` }
  }
  if (notTlsCodes.test(code)) {
    return {
      reason: "not_tls",
      text: `it does not speak TLS (${detail}): a node with \`insecure: true\`, or a client that is not a cluster node`
    }
  }
  if (noSharedModeCodes.test(code)) {
    return {
      reason: "no_shared_mode",
      text:
        `no TLS mode in common (${detail}): one node uses a cluster secret, the other certificates; ` +
        `every node must use the same security mode`
    }
  }
  if ("secret" in security && wrongKeyCodes.test(code)) {
    return {
      reason: "wrong_secret",
      text:
        `its TLS handshake failed (${detail}): the other node most likely has a different cluster ` +
        `secret; check that every node uses the same one`
    }
  }
  if ("tls" in security) {
    return {
      reason: "bad_certificate",
      text: `its certificate was not accepted (${detail}): check that it is signed by the cluster's CA`
    }
  }
  return { reason: "tls_error", text: `its TLS handshake failed (${detail})` }
}

/**
 * Starts a TCP transport: listens, and serves until the scope closes, then leaves gracefully
 * (peers see `graceful_shutdown`; connections still open after `shutdownTimeout` are destroyed).
 * Fails with `ListenFailed` if it cannot listen.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpTransport } from "effect-otp"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const transport = yield* TcpTransport.make({ name: "a", port: 0, security: { secret: "s3cret" } })
 *     yield* Effect.log(`listening on port ${transport.address.port}`)
 *   })
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* (
  options: TcpTransportOptions
): Effect.fn.Return<Transport["Service"], ListenFailed, Scope.Scope> {
  const tuning = resolveTuning(options)
  const host = options.host ?? "127.0.0.1"
  const log = yield* makeLog(options.name)
  const timers = yield* Timers.current
  const security = Security.redact(options.security)
  if ("insecure" in security) {
    yield* Effect.logWarning(
      `node "${options.name}": cluster links use plain TCP without authentication or encryption (insecure: true)`
    )
  }

  const identities = new WeakMap<Tls.TLSSocket, string>()
  const tlsServerOptions = TlsOptions.serverOptions(security, (socket, identity) => identities.set(socket, identity))
  const tlsClientOptions = TlsOptions.clientOptions(security, options.name)
  // The TLS handshake of an accepted connection is timed below, on the transport's clock; node's
  // own timer (which `0` does not turn off) is only a backstop.
  const server: Net.Server = tlsServerOptions
    ? Tls.createServer({ ...tlsServerOptions, handshakeTimeout: backstopMs(tuning.handshakeTimeoutMs) })
    : Net.createServer()

  const rawSockets = new Set<Net.Socket>()
  /**
   * Accepted connections until their node handshake completes, oldest first and at most
   * `maxPendingConnections`: a flood of unauthenticated clients closes its own oldest connections.
   */
  const pending = new PendingConnections(tuning.maxPendingConnections, (connection) =>
    engine.refuse(
      "too_many_pending",
      "Warn",
      connection.remote,
      `closed connection from ${connection.remote} before its handshake completed: more than ` +
        `${tuning.maxPendingConnections} connections were waiting for their handshake (too_many_pending)`
    )
  )
  /** Accepted connections in their TLS handshake, by remote address: their pending entry and timer. */
  const handshaking = new Map<string, { readonly pending: PendingConnection; readonly cancel: Timers.CancelTimer }>()
  /** Accepted plain-TCP connections: their pending entry. */
  const pendingPlain = new WeakMap<Net.Socket, PendingConnection>()
  server.on("connection", (socket: Net.Socket) => {
    rawSockets.add(socket)
    socket.on("error", () => {})
    const remote = `${socket.remoteAddress}:${socket.remotePort}`
    const entry = pending.add(remote, () => socket.destroy())
    if (!tlsServerOptions) {
      pendingPlain.set(socket, entry)
      return void socket.once("close", () => {
        rawSockets.delete(socket)
        pending.delete(entry)
      })
    }
    const cancel = timers.start(tuning.handshakeTimeoutMs, () => {
      handshaking.delete(remote)
      engine.refuse(
        "tls_timeout",
        "Warn",
        remote,
        `refused TLS connection from ${remote}: TLS handshake timeout (not completed within ` +
          `${tuning.handshakeTimeoutMs} ms)`
      )
      socket.destroy()
    })
    handshaking.set(remote, { pending: entry, cancel })
    socket.once("close", () => {
      rawSockets.delete(socket)
      pending.delete(entry)
      if (handshaking.get(remote)?.cancel === cancel) handshaking.delete(remote)
      cancel()
    })
  })
  /** The TLS handshake of `socket` is over: its timer stops; its pending entry, if it still has one. */
  const tlsHandshakeDone = (socket: Net.Socket): PendingConnection | undefined => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`
    const entry = handshaking.get(remote)
    handshaking.delete(remote)
    entry?.cancel()
    return entry?.pending
  }

  const port = yield* Effect.acquireRelease(listen(server, host, options.port ?? 0, tuning.listenBacklog), () =>
    Effect.sync(() => {
      server.close()
    })
  )
  const address: Address = { host: options.advertiseHost ?? host, port }
  const engine = yield* makeLinkEngine({ ...tuning, name: options.name, address, log })
  const local = engine.config.local
  const busyPoll = new BusyPoll(tuning.busyPollMicros)

  /** Who the TLS layer says the peer is (PSK identity, or certificate names when bound). */
  const authenticated = (socket: Tls.TLSSocket): AttachOptions["authenticated"] => {
    const identity = identities.get(socket)
    if (identity !== undefined) return { names: [identity], by: `PSK identity "${identity}"` }
    const names = TlsOptions.certificateNames(security, socket)
    return names === undefined ? undefined : { names, by: "the certificate" }
  }
  /** Hands an accepted connection to the engine; it stops being pending when its node handshake settles. */
  const accept = (socket: Net.Socket, entry: PendingConnection | undefined, attachOptions: AttachOptions) => {
    if (entry === undefined) return void socket.destroy() // closed to make room, or timed out, meanwhile
    entry.close = () => socket.destroy()
    const conn = new SocketConn(socket, tuning.maxFrameBytes, busyPoll, timers)
    void engine.attach(conn, "inbound", attachOptions).then(() => pending.delete(entry))
  }
  if (tlsServerOptions) {
    server.on("secureConnection", (socket: Tls.TLSSocket) => {
      accept(socket, tlsHandshakeDone(socket), { authenticated: authenticated(socket) })
    })
    server.on("tlsClientError", (error: Error, socket: Tls.TLSSocket) => {
      tlsHandshakeDone(socket)
      const remote = socket.remoteAddress === undefined ? "a client" : `${socket.remoteAddress}:${socket.remotePort}`
      const refusal = describeTlsRefusal(error, security)
      const line = `refused TLS connection from ${remote}: ${refusal.text}`
      if (refusal.reason === undefined) log("Debug", line)
      else engine.refuse(refusal.reason, "Warn", remote, line)
      socket.destroy()
    })
  } else {
    server.on("connection", (socket: Net.Socket) => accept(socket, pendingPlain.get(socket), {}))
  }

  const dial = (target: Address, attachOptions: AttachOptions, signal: AbortSignal) =>
    new Promise<Exit.Exit<NodeIdentity, ConnectError>>((resolve) => {
      const remote = `${target.host}:${target.port}`
      let attached = false
      const endpoint = { host: target.host, port: target.port, ...dialSource(host, target.host) }
      const socket: Net.Socket = tlsClientOptions
        ? Tls.connect({ ...tlsClientOptions, ...endpoint })
        : Net.connect(endpoint)
      const fail = (reason: string, kind: ConnectFailure) => {
        if (attached) return
        attached = true
        cancelTimer()
        socket.destroy()
        log("Debug", `connection to ${remote} failed: ${reason}`)
        resolve(Exit.fail(new ConnectFailed({ address: remote, reason, kind })))
      }
      const cancelTimer = timers.start(tuning.handshakeTimeoutMs, () =>
        fail(`handshake timed out after ${tuning.handshakeTimeoutMs} ms`, "timeout")
      )
      socket.once("error", (error) => {
        const failure = classifyDialError(error, tlsClientOptions !== undefined)
        fail(failure.reason, failure.kind)
      })
      socket.once(tlsClientOptions ? "secureConnect" : "connect", () => {
        if (attached) return
        attached = true
        cancelTimer()
        const verified = tlsClientOptions
          ? { ...attachOptions, authenticated: authenticated(socket as Tls.TLSSocket) }
          : attachOptions
        const conn = new SocketConn(socket, tuning.maxFrameBytes, busyPoll, timers)
        engine.attach(conn, "outbound", verified).then((exit) => {
          signal.removeEventListener("abort", abort)
          resolve(exit)
        })
      })
      const abort = () => {
        fail("interrupted", "closing")
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
  log("Info", `listening on ${host}:${port} (${TlsOptions.describe(security)}), incarnation ${local.incarnation}`)
  return engine.service(dial)
})

/**
 * The TCP transport as a layer (see {@link make}).
 *
 * @example
 * ```ts
 * import { TcpTransport } from "effect-otp"
 *
 * const TransportLive = TcpTransport.layer({ name: "a", port: 4370, security: { secret: "s3cret" } })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: TcpTransportOptions): Layer.Layer<Transport, ListenFailed> =>
  Layer.effect(Transport, make(options))
