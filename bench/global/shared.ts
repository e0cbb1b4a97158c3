/** What the global benchmark's processes share. */
import { Effect, Schema } from "effect"
import { GenServer, Protocol } from "../../src/index.ts"

export const secret = "bench-global-secret"

/** The protocol of the globally registered server on each peer: a ping, for a baseline round trip. */
export const Ping = Protocol.make({ Ping: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }) })

export const pinger = GenServer.behaviour(Ping)({
  init: () => Effect.succeed(undefined),
  handleCall: { Ping: ({ n }, state) => Effect.succeed(GenServer.reply(n, state)) }
})
