/** What the observability benchmark's two nodes share. */
import { Effect, Schema } from "effect"
import { GenServer, Protocol } from "../../src/index.ts"

export const Bench = Protocol.make(
  { Ping: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }) },
  { name: "Bench" }
)

export const server = GenServer.behaviour(Bench)({
  init: () => Effect.succeed(0),
  handleCall: { Ping: ({ n }, state) => Effect.succeed(GenServer.reply(n, state)) }
})

export const peerNode = "obs-peer"
export const secret = "observability-bench"
