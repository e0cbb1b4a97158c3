import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Scope } from "effect"
import {
  BehaviourRegistry,
  Client,
  Cluster,
  Distribution,
  ExitReason,
  GenServer,
  MemoryNetwork,
  MemoryTransport,
  Process,
  ProcessErrors,
  type ProcessRuntime,
  Protocol,
  RemoteName
} from "../../src/index.ts"
import { awaitNodesUp, fast } from "../support/clusterHarness.ts"
import { eventually } from "../support/transportHarness.ts"

/** An application service that a spawnable behaviour needs. */
class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("test/Greeter") {}

const Hello = Protocol.make({
  Hello: Protocol.call({ payload: { name: Schema.String }, success: Schema.String })
})

/** Greets with the prefix it was started with and the greeter of the node it runs on. */
const hello = GenServer.behaviour(Hello)({
  init: (prefix: string) => Effect.succeed(prefix),
  handleCall: {
    Hello: ({ name }, prefix) =>
      Effect.map(Greeter, (greeter) => GenServer.reply(`${prefix}${greeter.greet(name)}`, prefix))
  }
})

const HelloSpec = BehaviourRegistry.define("hello", Schema.String, hello)

/** A node on `network` registering `behaviours`, its layer provided with `services`; in the current scope. */
const node = <R>(
  network: MemoryNetwork.MemoryNetwork,
  name: string,
  seeds: ReadonlyArray<string>,
  services: Layer.Layer<R>,
  behaviours: ReadonlyArray<BehaviourRegistry.BehaviourSpec<string, typeof Hello, R>>
) =>
  Effect.gen(function* () {
    const transport = MemoryTransport.layer(network, { name, handshakeTimeout: 500 })
    const context = yield* Layer.build(
      Distribution.layerOnCluster(
        Cluster.layerOn({ nodeName: name, insecure: true, seeds, ...fast }).pipe(Layer.provide(transport)),
        { behaviours }
      ).pipe(Layer.provide(services))
    )
    return {
      cluster: Context.get(context, Cluster.Cluster),
      run: <A, E>(
        effect: Effect.Effect<A, E, Distribution.Distribution | ProcessRuntime.ProcessRuntime | Cluster.Cluster>
      ) => Effect.provideContext(effect, context)
    }
  })

/** Node a (no behaviours, no greeter) and node b (the hello behaviour and its greeter), connected. */
const pair = Effect.gen(function* () {
  const network = MemoryNetwork.make()
  const greeterOfB = Layer.succeed(Greeter, { greet: (name: string) => `hello ${name} from b` })
  const a = yield* node(network, "a", ["b@b:0"], Layer.empty, [])
  const b = yield* node(network, "b", ["a@a:0"], greeterOfB, [HelloSpec])
  yield* awaitNodesUp(a.cluster, ["b"])
  yield* awaitNodesUp(b.cluster, ["a"])
  return { a, b }
})

describe("remote spawn of behaviours that need application services", () => {
  it.live("a server spawned from another node runs with the services of the node that registered it", () =>
    Effect.gen(function* () {
      const { a } = yield* pair
      const spawned = yield* a.run(Distribution.spawn("b", HelloSpec, "> ", { timeout: "2 seconds" }))
      assert.strictEqual(spawned.pid.node, "b")
      assert.strictEqual(yield* a.run(GenServer.call(spawned.pid, Hello.Hello({ name: "ann" }))), "> hello ann from b")
    })
  )

  it.live("a remote spawn under a taken name fails with NameTaken, whose message says once what is wrong", () =>
    Effect.gen(function* () {
      const { a } = yield* pair
      const first = yield* a.run(Distribution.spawn("b", HelloSpec, "", { name: "worker" }))
      const error = yield* Effect.flip(a.run(Distribution.spawn("b", HelloSpec, "", { name: "worker" })))
      assert.instanceOf(error, ProcessErrors.NameTaken)
      assert.strictEqual(error.message, `name "worker" cannot be registered: already registered to ${first.pid}`)
    })
  )
})

describe("clients of servers on other nodes", () => {
  it.live("a Client made with a RemoteName calls the server registered under that name on its node", () =>
    Effect.gen(function* () {
      const { a } = yield* pair
      yield* a.run(Distribution.spawn("b", HelloSpec, "", { name: "greeter" }))
      const client = yield* a.run(Client.make(Hello, RemoteName.make("greeter", "b", Hello)))
      assert.strictEqual(yield* client.call(Hello.Hello({ name: "bob" })), "hello bob from b")
      assert.strictEqual(String(client.target), "greeter@b")
      // The name is resolved on its node at each call: this node does not know the pid.
      assert.isTrue(Option.isNone(yield* client.whereis))
    })
  )
})

describe("remote spawns whose requester's node goes down during init", () => {
  it.live("the linked server gets a noconnection exit signal once its init ends, instead of running unowned", () =>
    Effect.gen(function* () {
      const network = MemoryNetwork.make()
      const gate = yield* Deferred.make<void>()
      const GatedSpec = BehaviourRegistry.define(
        "gated",
        Schema.String,
        GenServer.behaviour(Hello)({
          init: (prefix: string) => Effect.as(Deferred.await(gate), prefix),
          handleCall: { Hello: ({ name }, prefix) => Effect.succeed(GenServer.reply(`${prefix}${name}`, prefix)) }
        })
      )
      const scopeOfA = yield* Scope.make()
      const a = yield* node(network, "a", ["b@b:0"], Layer.empty, []).pipe(Scope.provide(scopeOfA))
      const b = yield* node(network, "b", ["a@a:0"], Layer.empty, [GatedSpec])
      yield* awaitNodesUp(a.cluster, ["b"])
      yield* awaitNodesUp(b.cluster, ["a"])
      // A process on a spawns the server on b, linked, and waits for its init.
      yield* a.run(
        Process.spawn(() =>
          Effect.ignore(Distribution.spawn("b", GatedSpec, "", { link: true, name: "orphan", timeout: "1 minute" }))
        )
      )
      // The name is registered on b before init runs.
      yield* eventually(b.run(Process.info("orphan")), Option.isSome)
      const exited = yield* Effect.forkChild(b.run(Process.awaitExit("orphan")), { startImmediately: true })
      yield* Scope.close(scopeOfA, Exit.void)
      yield* eventually(b.cluster.nodes, (nodes) => nodes.length === 0)
      yield* Deferred.succeed(gate, undefined)
      const reason = yield* Fiber.join(exited)
      assert.strictEqual(reason._tag, "NoConnection", ExitReason.format(reason))
    })
  )
})
