/**
 * The server node of the busy-poll CPU benchmark, in its own OS process: a distributed node with an
 * `echo` GenServer, its busy-poll window from `BUSY_POLL_MICROS` (as the deployment sets it; unset:
 * the default). Prints `{"nodePort":..}` when ready; answers every `cpu` line on stdin with its
 * `process.cpuUsage()` as one JSON line, so the benchmark reads the server's own CPU time.
 */
import * as Readline from "node:readline"
import { Duration, Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer } from "../../src/index.ts"
import { Echo, peerNode, secret } from "../remote/protocol.ts"

const micros = process.env.BUSY_POLL_MICROS
const transport = micros === undefined ? {} : { busyPollWindow: Duration.micros(BigInt(micros)) }

const echo = GenServer.behaviour(Echo)({
  init: () => Effect.succeed(0),
  handleCall: {
    Ping: ({ n }, count) => Effect.succeed(GenServer.reply(n, count)),
    Count: (_, count) => Effect.succeed(GenServer.reply(count, 0))
  },
  handleCast: { Bump: (_, count) => Effect.succeed(GenServer.noReply(count + 1)) }
})

const program = Effect.gen(function* () {
  const context = yield* Layer.build(
    Distribution.layer({ nodeName: peerNode, host: "127.0.0.1", port: 0, secret, transport })
  )
  const cluster = yield* Effect.provideContext(Effect.service(Cluster.Cluster), context)
  yield* Effect.provideContext(GenServer.start(echo, undefined, { name: "echo" }), context)
  process.stdout.write(`${JSON.stringify({ nodePort: cluster.transport.address.port })}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped)

Readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "cpu") process.stdout.write(`${JSON.stringify({ cpu: process.cpuUsage() })}\n`)
})
process.stdin.once("end", () => process.exit(0))
Effect.runFork(program)
process.on("SIGTERM", () => process.exit(0))
