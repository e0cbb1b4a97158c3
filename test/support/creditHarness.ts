/**
 * A gated consumer for the credit tests between OS processes: a sink that handles no cast until
 * its gate is opened, and the gate, which reports what the sink's node holds behind full mailboxes.
 */
import { Deferred, Effect, Schema } from "effect"
import type { DistributionStats } from "../../src/Cluster/Distribution.ts"
import { GenServer, Protocol } from "../../src/index.ts"

/** Failure detection slow enough that a loaded machine does not cut a link during a burst. */
export const patient = { heartbeatInterval: 1000, heartbeatMissThreshold: 5 } as const

export const Sink = Protocol.make({ Put: Protocol.cast({ payload: { n: Schema.Number } }) })

export const Gate = Protocol.make({
  Open: Protocol.call({ success: Schema.Void }),
  Report: Protocol.call({
    success: Schema.Struct({
      parked: Schema.Number,
      maxParked: Schema.Number,
      received: Schema.Number,
      inOrder: Schema.Boolean
    })
  })
})

/** The sink (handles casts once the gate is open, checking they come in order) and its gate. */
export const gatedSink = (stats: Effect.Effect<DistributionStats>) =>
  Effect.gen(function* () {
    const open = yield* Deferred.make<void>()
    const seen = { received: 0, inOrder: true, maxParked: 0 }
    const sink = GenServer.behaviour(Sink)({
      init: () => Effect.succeed(undefined),
      handleCast: {
        Put: ({ n }, state) =>
          Effect.gen(function* () {
            yield* Deferred.await(open)
            if (n !== seen.received) seen.inOrder = false
            seen.received++
            seen.maxParked = Math.max(seen.maxParked, (yield* stats).parkedMessages)
            return GenServer.noReply(state)
          })
      },
      handleCall: {}
    })
    const gate = GenServer.behaviour(Gate)({
      init: () => Effect.succeed(undefined),
      handleCall: {
        Open: (_, state) => Effect.as(Deferred.succeed(open, undefined), GenServer.reply(undefined, state)),
        Report: (_, state) =>
          Effect.map(stats, (now) => GenServer.reply({ parked: now.parkedMessages, ...seen }, state))
      }
    })
    return { sink, gate }
  })
