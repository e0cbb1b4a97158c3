/**
 * What the tracing tests' nodes share: a named protocol and its server.
 */
import { Effect, Schema } from "effect"
import { GenServer, Protocol } from "../../src/index.ts"

export const Echo = Protocol.make(
  {
    Ping: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
    Fail: Protocol.call({ success: Schema.Number, error: Schema.String }),
    Note: Protocol.cast({ payload: { n: Schema.Number } })
  },
  { name: "Echo" }
)

export const echo = GenServer.behaviour(Echo)({
  init: () => Effect.succeed(0),
  handleCall: {
    Ping: ({ n }, count) => Effect.succeed(GenServer.reply(n, count + 1)),
    Fail: () => Effect.fail("refused")
  },
  handleCast: { Note: ({ n }, count) => Effect.succeed(GenServer.noReply(count + n)) }
})

export const tracingSecret = "tracing-test"
