/**
 * A single-node tour: a few GenServers with typed protocols, calls and casts, a typed error, a
 * call timeout, a crash seen through a monitor, and a registered name reused after a restart.
 *
 * Run with `npm run example:local`. No external service.
 */
import { Effect, Schema } from "effect"
import { ExitReason, GenServer, Process, ProcessRuntime, Protocol, Registry, Signal } from "../src/index.ts"

// --- A bank account: calls with a typed error, a cast, and a crash on purpose ------------------

class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  balance: Schema.Number,
  requested: Schema.Number
}) {}

const Account = Protocol.make({
  Balance: Protocol.call({ success: Schema.Number }),
  Withdraw: Protocol.call({ payload: { amount: Schema.Number }, success: Schema.Number, error: InsufficientFunds }),
  Deposit: Protocol.cast({ payload: { amount: Schema.Number } }),
  /** Replies after `delayMs`: used to show a call timeout. */
  Audit: Protocol.call({ payload: { delayMs: Schema.Number }, success: Schema.String }),
  Explode: Protocol.call({ success: Schema.Void })
})

const account = GenServer.behaviour(Account)({
  init: (opening: number) => Effect.succeed(opening),
  handleCall: {
    Balance: (_, balance) => Effect.succeed(GenServer.reply(balance, balance)),
    Withdraw: ({ amount }, balance) =>
      amount > balance
        ? Effect.fail(new InsufficientFunds({ balance, requested: amount }))
        : Effect.succeed(GenServer.reply(balance - amount, balance - amount)),
    Audit: ({ delayMs }, balance) => Effect.as(Effect.sleep(delayMs), GenServer.reply("audited", balance)),
    Explode: () => Effect.die(new Error("the vault exploded"))
  },
  handleCast: {
    Deposit: ({ amount }, balance) => Effect.succeed(GenServer.noReply(balance + amount))
  },
  terminate: (reason, balance) =>
    Effect.sync(() => console.log(`  account terminates (${short(reason)}) with balance ${balance}`))
})

const short = (reason: ExitReason.ExitReason) => ExitReason.format(reason).split("\n")[0]

// --- The tour -----------------------------------------------------------------------------------

const tour = Effect.gen(function* () {
  console.log("1. start an account GenServer registered as 'alice'")
  const alice = yield* GenServer.start(account, 100, { name: "alice" })
  console.log(`   pid ${alice}`)

  console.log("2. calls and casts by name")
  console.log(`   withdraw 30 -> balance ${yield* GenServer.call("alice", Account.Withdraw({ amount: 30 }))}`)
  yield* GenServer.cast("alice", Account.Deposit({ amount: 5 }))
  console.log(`   deposit 5 (cast), balance -> ${yield* GenServer.call("alice", Account.Balance())}`)

  console.log("3. a typed error from the handler; the server keeps its state")
  const refused = yield* Effect.flip(GenServer.call("alice", Account.Withdraw({ amount: 1000 })))
  console.log(`   ${refused._tag}: ${JSON.stringify(refused)}`)

  console.log("4. a call that takes longer than its timeout fails with CallTimeout")
  const late = yield* Effect.flip(GenServer.call("alice", Account.Audit({ delayMs: 200 }), { timeout: 50 }))
  console.log(`   ${late._tag}: ${late.message}`)
  console.log(
    `   the late reply is dropped; the next call gets its own answer: balance ${yield* GenServer.call("alice", Account.Balance())}`
  )

  console.log("5. a crash, seen by a watcher process through a monitor")
  const watcher = yield* Process.spawn((self: Process.ProcessContext<never>) =>
    Effect.gen(function* () {
      yield* Process.monitor("alice")
      const message = yield* self.receive
      if (message instanceof Signal.Down)
        console.log(`   watcher got Down from ${message.pid}: ${short(message.reason)}`)
    })
  )
  const crash = yield* Effect.flip(GenServer.call("alice", Account.Explode()))
  console.log(`   the caller got ${crash._tag}`)
  yield* Process.awaitExit(watcher)

  console.log("6. the name was released with the process; a new incarnation takes it")
  const bob = yield* GenServer.start(account, 7, { name: "alice" })
  console.log(`   'alice' is now ${bob} with balance ${yield* GenServer.call("alice", Account.Balance())}`)

  console.log("7. a pub/sub topic with a duplicate-key registry")
  const topics = yield* Registry.makeDuplicate<string, string>()
  for (const name of ["ann", "ben"]) {
    const subscriber = yield* Process.spawn((self: Process.ProcessContext<string>) =>
      Effect.flatMap(self.receive, (message) =>
        Effect.sync(() => console.log(`   ${name} received "${String(message)}"`))
      )
    )
    yield* topics.register("news", name, subscriber)
  }
  yield* topics.dispatch("news", (pid) => Process.send(pid, "rates are up"))

  console.log("8. stop: terminate runs with the reason")
  yield* GenServer.stop("alice", ExitReason.shutdown())
  console.log(`done: ${(yield* Process.list).length} processes left`)
})

Effect.runPromise(tour.pipe(Effect.provide(ProcessRuntime.layer({ node: "demo@127.0.0.1" })))).catch((error) => {
  console.error(error)
  process.exit(1)
})
