/**
 * Two releases of one application's protocol, for the rolling update tests: `BankV1` is what the
 * old nodes run, `BankV2` the next release, evolved compatibly (optional fields added to requests
 * and replies, a new call). Both register their server as "bank".
 */
import { Effect, Schema } from "effect"
import { GenServer, Protocol } from "../../src/index.ts"

export class NoAccount extends Schema.TaggedError<NoAccount>()("NoAccount", { id: Schema.String }) {}

const AccountV1 = Schema.Struct({ id: Schema.String, balance: Schema.Number })

/** The protocol of the release running now. */
export const BankV1 = Protocol.make({
  Open: Protocol.call({ payload: { id: Schema.String }, success: AccountV1 }),
  Deposit: Protocol.call({
    payload: { id: Schema.String, amount: Schema.Number },
    success: AccountV1,
    error: NoAccount
  }),
  Touch: Protocol.cast({ payload: { id: Schema.String } }),
  Touches: Protocol.call({ success: Schema.Number })
})

const AccountV2 = Schema.Struct({ id: Schema.String, balance: Schema.Number, currency: Schema.optional(Schema.String) })

/** The next release: every change is an addition an old node can ignore, plus a new call. */
export const BankV2 = Protocol.make({
  Open: Protocol.call({ payload: { id: Schema.String, currency: Schema.optional(Schema.String) }, success: AccountV2 }),
  Deposit: Protocol.call({
    payload: { id: Schema.String, amount: Schema.Number, memo: Schema.optional(Schema.String) },
    success: AccountV2,
    error: NoAccount
  }),
  Touch: Protocol.cast({ payload: { id: Schema.String, at: Schema.optional(Schema.Number) } }),
  Touches: Protocol.call({ success: Schema.Number }),
  /** New in this release: an old node does not know it. */
  Freeze: Protocol.call({ payload: { id: Schema.String }, success: Schema.Boolean })
})

interface State {
  readonly accounts: Map<string, { balance: number; currency?: string }>
  touches: number
}

const init = () => Effect.succeed<State>({ accounts: new Map(), touches: 0 })

/** The old release's server. */
export const bankV1 = GenServer.behaviour(BankV1)({
  init,
  handleCall: {
    Open: ({ id }, state) =>
      Effect.sync(() => {
        state.accounts.set(id, { balance: 0 })
        return GenServer.reply({ id, balance: 0 }, state)
      }),
    Deposit: ({ id, amount }, state) => {
      const account = state.accounts.get(id)
      if (account === undefined) return Effect.fail(new NoAccount({ id }))
      account.balance += amount
      return Effect.succeed(GenServer.reply({ id, balance: account.balance }, state))
    },
    Touches: (_, state) => Effect.succeed(GenServer.reply(state.touches, state))
  },
  handleCast: {
    Touch: (_, state) =>
      Effect.sync(() => {
        state.touches++
        return GenServer.noReply(state)
      })
  }
})

/** The new release's server: replies carry the new optional field. */
export const bankV2 = GenServer.behaviour(BankV2)({
  init,
  handleCall: {
    Open: ({ id, currency }, state) =>
      Effect.sync(() => {
        const account = { balance: 0, currency: currency ?? "EUR" }
        state.accounts.set(id, account)
        return GenServer.reply({ id, ...account }, state)
      }),
    Deposit: ({ id, amount }, state) => {
      const account = state.accounts.get(id)
      if (account === undefined) return Effect.fail(new NoAccount({ id }))
      account.balance += amount
      return Effect.succeed(GenServer.reply({ id, ...account }, state))
    },
    Touches: (_, state) => Effect.succeed(GenServer.reply(state.touches, state)),
    Freeze: ({ id }, state) => Effect.succeed(GenServer.reply(state.accounts.has(id), state))
  },
  handleCast: {
    Touch: (_, state) =>
      Effect.sync(() => {
        state.touches++
        return GenServer.noReply(state)
      })
  }
})
