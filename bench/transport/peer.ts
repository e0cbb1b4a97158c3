/**
 * The benchmark's peer process: a bare node:tls PSK echo server (no library code) and a Transport
 * node that echoes pings and counts bulk frames. Prints `{"rawPort":..,"transportPort":..}` when ready.
 */
import * as Tls from "node:tls"
import { Effect } from "effect"
import { derivePsk, pskCipher } from "../../src/Transport/Security.ts"
import * as TcpTransport from "../../src/Transport/TcpTransport.ts"
import { Bulk, Done, Flush, Ping, Pong, secret } from "./protocol.ts"

const key = derivePsk(secret)
const raw = Tls.createServer(
  { ciphers: pskCipher, minVersion: "TLSv1.2", maxVersion: "TLSv1.2", pskCallback: () => key },
  (socket) => {
    socket.setNoDelay(true)
    socket.on("data", (data) => socket.write(data))
    socket.on("error", () => {})
  }
)

const program = Effect.gen(function* () {
  const rawPort = yield* Effect.callback<number>((resume) => {
    raw.listen(0, "127.0.0.1", () => resume(Effect.succeed((raw.address() as { port: number }).port)))
  })
  const transport = yield* TcpTransport.make({ name: "peer", security: { secret } })
  let bulk = 0
  yield* transport.register(Ping, (message, from) => Effect.runSync(transport.send(from.name, Pong, message)))
  yield* transport.register(Bulk, () => {
    bulk++
  })
  yield* transport.register(Flush, (_, from) => {
    Effect.runSync(transport.send(from.name, Done, bulk))
    bulk = 0
  })
  process.stdout.write(`${JSON.stringify({ rawPort, transportPort: transport.address.port })}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped)

Effect.runFork(program)
process.on("SIGTERM", () => process.exit(0))
