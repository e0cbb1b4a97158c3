/**
 * The `Transport` over a `MemoryNetwork`: the same link engine, codec and handshake as the TCP
 * transport, with connections simulated in memory so tests are fast and faults are injectable.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Layer } from "effect"
import type { Scope } from "effect"
import type { Address } from "./Frame.ts"
import { makeLinkEngine } from "./internal/linkEngine.ts"
import type { AttachOptions } from "./internal/linkEngine.ts"
import { makeLog } from "./internal/logging.ts"
import type { MemoryNetwork } from "./MemoryNetwork.ts"
import { Transport } from "./Transport.ts"
import { ConnectFailed } from "./TransportError.ts"
import type { ConnectError } from "./TransportError.ts"
import { resolveTuning } from "./internal/tuning.ts"
import type { TransportTuning } from "./TransportOptions.ts"

/**
 * Options of an in-memory transport: the node's name (also its address) and the transport tuning.
 *
 * @example
 * ```ts
 * import type { MemoryTransport } from "effect-otp"
 *
 * const options: MemoryTransport.MemoryTransportOptions = { name: "a", handshakeTimeout: "500 millis" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface MemoryTransportOptions extends TransportTuning {
  /** The node's name; also its address on the network (`{ host: name, port: 0 }`). */
  readonly name: string
}

/**
 * Starts a node on an in-memory network, until the scope closes (then it says goodbye, as a TCP
 * node does). The same link engine, codec and handshake as the TCP transport; timers run on
 * Effect's `Clock`, so `TestClock` drives handshake timeouts.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MemoryNetwork, MemoryTransport } from "effect-otp"
 *
 * const network = MemoryNetwork.make()
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const a = yield* MemoryTransport.make(network, { name: "a" })
 *     yield* MemoryTransport.make(network, { name: "b" })
 *     return yield* a.connect({ host: "b", port: 0 })
 *   })
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* (
  network: MemoryNetwork,
  options: MemoryTransportOptions
): Effect.fn.Return<Transport["Service"], never, Scope.Scope> {
  const tuning = resolveTuning(options)
  const log = yield* makeLog(options.name)
  const engine = yield* makeLinkEngine({
    ...tuning,
    name: options.name,
    address: { host: options.name, port: 0 },
    log
  })
  const unlisten = network.listen(options.name, (conn) => void engine.attach(conn, "inbound"))
  yield* Effect.addFinalizer(() =>
    Effect.promise(() => {
      unlisten()
      return engine.shutdown(tuning.shutdownTimeoutMs)
    })
  )
  const dial = (target: Address, attachOptions: AttachOptions) => {
    const conn = network.dial(options.name, target.host)
    return typeof conn === "string"
      ? Promise.resolve(
          Exit.fail<ConnectError>(
            new ConnectFailed({
              address: `memory:${target.host}`,
              reason: conn,
              kind: conn === "connection refused" ? "refused" : "unreachable"
            })
          )
        )
      : engine.attach(conn, "outbound", attachOptions)
  }
  return engine.service(dial)
})

/**
 * An in-memory transport as a layer.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, MemoryTransport } from "effect-otp"
 *
 * const network = MemoryNetwork.make({ seed: 7 })
 * const NodeA = MemoryTransport.layer(network, { name: "a", handshakeTimeout: "200 millis" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (network: MemoryNetwork, options: MemoryTransportOptions): Layer.Layer<Transport> =>
  Layer.effect(Transport, make(network, options))
