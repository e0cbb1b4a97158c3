/**
 * A counter that can be handed off: its state (a value, and per sender the last sequence number
 * it handled, how many it handled and how many came out of order) crosses nodes by its Schema.
 * The handoff and multi-process handoff tests count with it that no message is lost, doubled or
 * reordered during a move.
 */
import { Effect, Schema } from "effect"
import { DistributedSupervisor, GenServer, Protocol } from "../../src/index.ts"

export const HandoffState = Schema.Struct({
  value: Schema.Number,
  last: Schema.Record(Schema.String, Schema.Number),
  handled: Schema.Number,
  outOfOrder: Schema.Number
})

export type HandoffState = typeof HandoffState.Type

export const HandoffCounter = Protocol.make({
  Get: Protocol.call({
    success: Schema.Struct({ state: HandoffState, node: Schema.String })
  }),
  Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
  /** Sequence number `seq` of `sender` (1, 2, 3, ...): counted, checked against the last one. */
  Note: Protocol.cast({ payload: { sender: Schema.String, seq: Schema.Number } })
})

export const HandoffCounterSpec = DistributedSupervisor.defineHandoff(
  "handoff_counter",
  Schema.Number,
  GenServer.behaviour(HandoffCounter)({
    init: (value: number) => Effect.succeed<HandoffState>({ value, last: {}, handled: 0, outOfOrder: 0 }),
    handleCall: {
      Get: (_, state) => Effect.map(GenServer.self, (self) => GenServer.reply({ state, node: self.node }, state)),
      Add: ({ n }, state) => Effect.succeed(GenServer.reply(state.value + n, { ...state, value: state.value + n }))
    },
    handleCast: {
      Note: ({ sender, seq }, state) =>
        Effect.succeed(
          GenServer.noReply({
            ...state,
            last: { ...state.last, [sender]: seq },
            handled: state.handled + 1,
            outOfOrder: state.outOfOrder + (seq === (state.last[sender] ?? 0) + 1 ? 0 : 1)
          })
        )
    }
  }),
  { state: HandoffState }
)
