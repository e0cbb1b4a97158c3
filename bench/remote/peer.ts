/**
 * The remote benchmark's peer process: a bare node:tls PSK echo server (no library code) and a
 * distributed node with an `echo` GenServer. Prints `{"rawPort":..,"nodePort":..}` when ready.
 */
import { Duration, Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer } from "../../src/index.ts"
import { Echo, peerNode, secret, transport } from "./protocol.ts"
import { startEchoServer } from "../support/rawTls.ts"
import { defaultBusyPollWindow } from "../../src/Transport/TransportOptions.ts"

const defaultBusyPollMicros = Duration.toMillis(defaultBusyPollWindow) * 1000

const echo = GenServer.behaviour(Echo)({
  init: () => Effect.succeed(0),
  handleCall: {
    Ping: ({ n }, count) => Effect.succeed(GenServer.reply(n, count)),
    Count: (_, count) => Effect.succeed(GenServer.reply(count, 0))
  },
  handleCast: { Bump: (_, count) => Effect.succeed(GenServer.noReply(count + 1)) }
})

const program = Effect.gen(function* () {
  const rawPort = yield* Effect.promise(() => startEchoServer(secret))
  const rawBusyPollPort = yield* Effect.promise(() => startEchoServer(secret, defaultBusyPollMicros))
  const context = yield* Layer.build(
    Distribution.layer({ nodeName: peerNode, host: "127.0.0.1", port: 0, secret, transport })
  )
  const cluster = yield* Effect.provideContext(Effect.service(Cluster.Cluster), context)
  yield* Effect.provideContext(GenServer.start(echo, undefined, { name: "echo" }), context)
  process.stdout.write(`${JSON.stringify({ rawPort, rawBusyPollPort, nodePort: cluster.transport.address.port })}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped)

Effect.runFork(program)
process.on("SIGTERM", () => process.exit(0))
