/**
 * A slow consumer on another node: `CASTS` remote casts (default 1,000,000) from one sender to a
 * GenServer whose handler pauses 1 ms every `PAUSE_EVERY` casts (default 100),
 * slower than the sender here. Both nodes run in this process over loopback TCP with TLS-PSK.
 *
 * Reports how many messages the receiving node held behind the full mailbox at most (sampled at
 * every cast the consumer handles; bounded by the per-process credit window, 4,096 per sending
 * node and target), the growth of the retained heap over the run (after a collection, every
 * second; both nodes share this heap), the time the sender took and the consumer's rate. Before per-process credit the receiver
 * held nearly every cast (the issue measured 989,369 for 1M, about 140 bytes each).
 *
 * Run with `tsc -p tsconfig.build.json && node --expose-gc build/bench/slowConsumer.js`. Prints one
 * JSON object on its last stdout line.
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as Distribution from "../src/Cluster/Distribution.ts"
import { GenServer, Protocol } from "../src/index.ts"
import * as Cluster from "../src/Cluster/Cluster.ts"

const CASTS = Number(process.env.CASTS ?? 1_000_000)
const PAUSE_EVERY = Number(process.env.PAUSE_EVERY ?? 100)
const patient = { heartbeatInterval: 1000, heartbeatMissThreshold: 10 } as const

const Sink = Protocol.make({ Put: Protocol.cast(), Seen: Protocol.call({ success: Schema.Number }) })

const node = (nodeName: string, seeds: ReadonlyArray<string> = []) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      Distribution.layer({ nodeName, host: "127.0.0.1", port: 0, secret: "bench-secret", seeds, ...patient })
    )
    const cluster = Context.get(context, Cluster.Cluster)
    return {
      context,
      seed: `${nodeName}@127.0.0.1:${cluster.transport.address.port}`,
      cluster,
      distribution: Context.get(context, Distribution.Distribution)
    }
  })

const program = Effect.gen(function* () {
  const receiver = yield* node("receiver")
  const sender = yield* node("sender", [receiver.seed])
  yield* Effect.provideContext(Cluster.awaitNodes(["receiver"]), sender.context)
  const watch = { handled: 0, maxParked: 0 }
  const stats = receiver.distribution.stats
  const consumer = GenServer.behaviour(Sink)({
    init: () => Effect.succeed(undefined),
    handleCast: {
      Put: (_, state) =>
        Effect.gen(function* () {
          watch.handled++
          watch.maxParked = Math.max(watch.maxParked, (yield* stats).parkedMessages)
          if (watch.handled % PAUSE_EVERY === 0) yield* Effect.sleep(1)
          return GenServer.noReply(state)
        })
    },
    handleCall: { Seen: (_, state) => Effect.succeed(GenServer.reply(watch.handled, state)) }
  })
  const pid = yield* Effect.provideContext(GenServer.start(consumer, undefined), receiver.context)
  globalThis.gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  let heapPeak = heapBefore
  // Retained heap: collected first (with --expose-gc), so garbage not yet swept does not count.
  const sampler = setInterval(() => {
    globalThis.gc?.()
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)
  }, 1000)
  const start = performance.now()
  const put = Sink.Put()
  yield* Effect.provideContext(
    Effect.gen(function* () {
      for (let i = 0; i < CASTS; i++) yield* GenServer.cast(pid, put)
    }),
    sender.context
  )
  const sentMs = performance.now() - start
  while (watch.handled < CASTS) yield* Effect.sleep(20)
  const drainedMs = performance.now() - start
  clearInterval(sampler)
  return {
    benchmark: "slowConsumer",
    node: process.version,
    casts: CASTS,
    pauseEvery: PAUSE_EVERY,
    maxParkedOnReceiver: watch.maxParked,
    retainedHeapGrowthMB: Number(((heapPeak - heapBefore) / 1e6).toFixed(1)),
    senderSeconds: Number((sentMs / 1000).toFixed(1)),
    consumerCastsPerSec: Math.round((CASTS / drainedMs) * 1000)
  }
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  (result) => {
    console.log(JSON.stringify(result))
    process.exit(0)
  },
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
