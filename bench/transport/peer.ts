/**
 * The benchmark's peer process: a bare node:tls PSK echo server (no library code) and a Transport
 * node that echoes pings and counts bulk frames. Prints `{"rawPort":..,"transportPort":..}` when ready.
 */
import { Effect } from "effect"
import * as TcpTransport from "../../src/Transport/TcpTransport.ts"
import { Bulk, Done, Flush, Ping, Pong, secret, busyPollMicros } from "./protocol.ts"
import { startEchoServer } from "../support/rawTls.ts"
import { defaultBusyPollMicros } from "../../src/Transport/TransportOptions.ts"

const program = Effect.gen(function* () {
  const rawPort = yield* Effect.promise(() => startEchoServer(secret))
  const rawBusyPollPort = yield* Effect.promise(() => startEchoServer(secret, defaultBusyPollMicros))
  const transport = yield* TcpTransport.make({ name: "peer", security: { secret }, busyPollMicros })
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
