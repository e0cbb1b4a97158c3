/**
 * The benchmark's peer process: a bare node:tls PSK echo server (no library code) and a Transport
 * node that echoes pings and counts bulk frames. Prints `{"rawPort":..,"transportPort":..}` when ready.
 */
import { Duration, Effect } from "effect"
import * as TcpTransport from "../../src/Transport/TcpTransport.ts"
import { Bulk, Done, Flush, Ping, Pong, secret, busyPollWindow } from "./protocol.ts"
import { startEchoServer } from "../support/rawTls.ts"
import { defaultBusyPollWindow } from "../../src/Transport/TransportOptions.ts"

const defaultBusyPollMicros = Duration.toMillis(defaultBusyPollWindow) * 1000

const program = Effect.gen(function* () {
  const rawPort = yield* Effect.promise(() => startEchoServer(secret))
  const rawBusyPollPort = yield* Effect.promise(() => startEchoServer(secret, defaultBusyPollMicros))
  const transport = yield* TcpTransport.make({ name: "peer", security: { secret }, busyPollWindow })
  let bulk = 0
  // Handlers answer with `sendUnsafe`, the transport's synchronous path (what distribution uses for replies).
  yield* transport.register(Ping, (message, from) => transport.sendUnsafe(from.name, Pong, message))
  yield* transport.register(Bulk, () => {
    bulk++
  })
  yield* transport.register(Flush, (_, from) => {
    transport.sendUnsafe(from.name, Done, bulk)
    bulk = 0
  })
  process.stdout.write(`${JSON.stringify({ rawPort, rawBusyPollPort, transportPort: transport.address.port })}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped)

Effect.runFork(program)
process.on("SIGTERM", () => process.exit(0))
