/**
 * Pub/sub across nodes: three nodes on loopback in this process, linked by TLS-PSK. Each runs a
 * small broker GenServer registered as `pubsub` that knows the subscribers of its own node (and
 * forgets them when they exit: it monitors them). Publishing casts the message to the broker of
 * every node that is up (the way Phoenix.PubSub's PG adapter works), each broker delivers it to its
 * local subscribers. Then a node leaves: the next message reaches the nodes that remain, and a
 * subscriber that exits is dropped by its broker.
 *
 * Run with `npm run example:pubsub`. No external service; ends by itself.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Deferred, Effect, Exit, Layer, Queue, References, Schema, Scope } from "effect"
import {
  Cluster,
  Distribution,
  ExitReason,
  GenServer,
  Pid,
  Process,
  ProcessRuntime,
  Protocol,
  RemoteName,
  Signal
} from "../src/index.ts"

// --- The broker: topics -> local subscribers ------------------------------------------------------

const PubSub = Protocol.make({
  Subscribe: Protocol.cast({ payload: { topic: Schema.String, subscriber: Pid.Pid } }),
  /** Sent by publishers to the broker of every node. */
  Deliver: Protocol.cast({ payload: { topic: Schema.String, text: Schema.String, from: Schema.String } })
})

/** What a subscriber receives. */
interface Published {
  readonly topic: string
  readonly text: string
  readonly from: string
}

const broker = GenServer.behaviour(PubSub)({
  init: () => Effect.succeed(new Map<string, Set<Pid.Pid>>()),
  handleCall: {},
  handleCast: {
    Subscribe: ({ topic, subscriber }, topics) =>
      Effect.gen(function* () {
        yield* Effect.orDie(Process.monitor(subscriber))
        topics.set(topic, new Set([...(topics.get(topic) ?? []), subscriber]))
        return GenServer.noReply(topics)
      }),
    Deliver: ({ topic, text, from }, topics) =>
      Effect.as(
        Effect.forEach(topics.get(topic) ?? [], (pid) => Effect.ignore(Process.send(pid, { topic, text, from })), {
          discard: true
        }),
        GenServer.noReply(topics)
      )
  },
  // A subscriber exited: forget it everywhere.
  handleInfo: (message, topics) =>
    Effect.sync(() => {
      if (message instanceof Signal.Down) {
        for (const subscribers of topics.values()) {
          for (const pid of subscribers) if (Pid.equals(pid, message.pid)) subscribers.delete(pid)
        }
      }
      return GenServer.noReply(topics)
    })
})

const brokerName = GenServer.name("pubsub", PubSub)

/** Publishes on every node that is up, this one included. */
const publish = (topic: string, text: string) =>
  Effect.gen(function* () {
    const local = yield* Cluster.localNode
    const peers = yield* Cluster.nodes
    yield* GenServer.cast(brokerName, PubSub.Deliver({ topic, text, from: local.name }))
    for (const peer of peers) {
      yield* Effect.ignore(
        GenServer.cast(RemoteName.make("pubsub", peer.id, PubSub), PubSub.Deliver({ topic, text, from: local.name }))
      )
    }
    return peers.length + 1
  })

// --- Nodes -------------------------------------------------------------------------------------------

type NodeServices = Distribution.Distribution | ProcessRuntime.ProcessRuntime | Cluster.Cluster

/** A node with its broker, alive until `scope` closes. */
const startNode = (name: string, seeds: ReadonlyArray<string>, scope: Scope.Scope) =>
  Effect.gen(function* () {
    const layer = Distribution.layer({ nodeName: name, host: "127.0.0.1", port: 0, secret: "pubsub-example", seeds })
    const context: Context.Context<NodeServices> = yield* Layer.build(layer).pipe(Scope.provide(scope))
    const run = <A, E>(effect: Effect.Effect<A, E, NodeServices>) => Effect.provideContext(effect, context)
    yield* run(GenServer.start(broker, undefined, { name: "pubsub" }))
    const port = Context.get(context, Cluster.Cluster).transport.address.port
    return { name, run, seed: `${name}@127.0.0.1:${port}` }
  })

/** A subscriber process on a node: reports what it receives to `received`. */
const subscriber = (label: string, topic: string, received: Queue.Queue<string>) =>
  Effect.gen(function* () {
    const pid = yield* Process.spawn((self: Process.ProcessContext<Published>) =>
      Effect.forever(
        Effect.flatMap(self.receive, (message) =>
          "text" in message
            ? Queue.offer(received, `${label} got "${message.text}" (from ${message.from})`)
            : Effect.void
        )
      )
    )
    yield* GenServer.cast(brokerName, PubSub.Subscribe({ topic, subscriber: pid }))
    return pid
  })

/** Takes `n` deliveries and prints them, sorted (they arrive concurrently). */
const expect = (received: Queue.Queue<string>, n: number) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    for (let i = 0; i < n; i++) lines.push(yield* Queue.take(received))
    for (const line of lines.sort()) console.log(`   ${line}`)
  }).pipe(Effect.timeout("10 seconds"))

const program = Effect.gen(function* () {
  const scopes = { a: yield* Scope.make(), b: yield* Scope.make(), c: yield* Scope.make() }
  yield* Effect.addFinalizer(() =>
    Effect.forEach([scopes.c, scopes.b, scopes.a], (scope) => Scope.close(scope, Exit.void))
  )
  const received = yield* Queue.unbounded<string>()

  console.log("1. three nodes: b and c join through a; each runs a broker registered as 'pubsub'")
  const a = yield* startNode("a", [], scopes.a)
  const b = yield* startNode("b", [a.seed], scopes.b)
  const c = yield* startNode("c", [a.seed], scopes.c)
  yield* a.run(Cluster.awaitNodes(["b", "c"], { timeout: "20 seconds" }))
  yield* b.run(Cluster.awaitNodes(["a", "c"], { timeout: "20 seconds" }))
  yield* c.run(Cluster.awaitNodes(["a", "b"], { timeout: "20 seconds" }))

  console.log("2. subscribers to 'news': one on a, two on b, one on c")
  yield* a.run(subscriber("a/ann", "news", received))
  const ben = yield* b.run(subscriber("b/ben", "news", received))
  yield* b.run(subscriber("b/bea", "news", received))
  yield* c.run(subscriber("c/cid", "news", received))

  console.log("3. c publishes 'rates are up': every subscriber on every node gets it")
  yield* c.run(publish("news", "rates are up"))
  yield* expect(received, 4)

  console.log("4. node c leaves, and ben exits: b's broker forgets ben (it monitored him)")
  const cDown = Deferred.makeUnsafe<string>()
  yield* a.run(
    Cluster.onEvent(
      (event) =>
        event._tag === "NodeDown" && event.id === "c" && Deferred.doneUnsafe(cDown, Effect.succeed(event.reason))
    ).pipe(Scope.provide(scopes.a))
  )
  yield* Scope.close(scopes.c, Exit.void)
  console.log(`   a sees c down: ${yield* Deferred.await(cDown)}`)
  yield* b.run(Process.exit(ben, ExitReason.shutdown()))
  console.log("   ben exited (shutdown)")
  console.log("5. a publishes 'markets closed': ann and bea get it")
  yield* a.run(publish("news", "markets closed"))
  yield* expect(received, 2)
  console.log("done")
})

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Warn")))
