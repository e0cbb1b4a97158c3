/**
 * Type-level tests of distribution: spawnable behaviours carry their protocol and the services they
 * need, a node's layer requires those services, and remote references are typed. `tsc` checks
 * them; at run time they only build values, never run them.
 */
import { describe, expectTypeOf, it } from "vitest"
import { Context, Effect, Layer, Schema } from "effect"
import {
  BehaviourRegistry,
  Client,
  Distribution,
  GenServer,
  type ProcessErrors,
  ProcessRuntime,
  Protocol,
  RemoteName
} from "../../src/index.ts"

class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("test/Greeter") {}
class Database extends Context.Service<Database, { readonly query: (sql: string) => string }>()("test/Database") {}

const Hello = Protocol.make({ Hello: Protocol.call({ payload: { name: Schema.String }, success: Schema.String }) })
const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })

const HelloSpec = BehaviourRegistry.define(
  "hello",
  Schema.String,
  GenServer.behaviour(Hello)({
    init: (prefix: string) => Effect.succeed(prefix),
    handleCall: {
      Hello: ({ name }, prefix) =>
        Effect.map(Greeter, (greeter) => GenServer.reply(prefix + greeter.greet(name), prefix))
    }
  })
)

const KvSpec = BehaviourRegistry.define(
  "kv",
  Schema.Void,
  GenServer.behaviour(Kv)({
    init: () => Effect.succeed(undefined),
    handleCall: {
      Get: ({ key }, state) =>
        Effect.gen(function* () {
          const db = yield* Database
          // The process runtime comes from the node, not from the application.
          yield* GenServer.call("cache", Kv.Get({ key })).pipe(Effect.ignore)
          return GenServer.reply(db.query(key), state)
        })
    }
  })
)

const config = { nodeName: "a", port: 0, secret: "s3cret" }

describe("spawnable behaviours", () => {
  it("a spec carries its arguments, protocol and the services it needs besides the process runtime", () => {
    expectTypeOf(HelloSpec).toEqualTypeOf<BehaviourRegistry.BehaviourSpec<string, typeof Hello, Greeter>>()
    expectTypeOf(KvSpec).toEqualTypeOf<BehaviourRegistry.BehaviourSpec<void, typeof Kv, Database>>()
  })

  it("the registry and the node's layer require the services of every spec they register", () => {
    expectTypeOf(BehaviourRegistry.layer([HelloSpec, KvSpec])).toEqualTypeOf<
      Layer.Layer<BehaviourRegistry.BehaviourRegistry, never, Greeter | Database>
    >()
    const NodeLive = Distribution.layer(config, { behaviours: [HelloSpec, KvSpec] })
    expectTypeOf<Layer.Services<typeof NodeLive>>().toEqualTypeOf<Greeter | Database>()
    const PlainNode = Distribution.layer(config)
    expectTypeOf<Layer.Services<typeof PlainNode>>().toEqualTypeOf<never>()
  })

  it("a node that does not provide a service its behaviours need does not compile", () => {
    const NodeLive = Distribution.layer(config, { behaviours: [HelloSpec, KvSpec] })
    const GreeterLive = Layer.succeed(Greeter, { greet: (name: string) => `hello ${name}` })
    const DatabaseLive = Layer.succeed(Database, { query: (sql: string) => sql })
    // Functions never called: launching would start a node.
    const complete = () => Effect.runFork(Layer.launch(NodeLive.pipe(Layer.provide([GreeterLive, DatabaseLive]))))
    const incomplete = () =>
      // @ts-expect-error Database is not provided
      Effect.runFork(Layer.launch(NodeLive.pipe(Layer.provide(GreeterLive))))
    expectTypeOf([complete, incomplete]).toBeArray()
  })
})

describe("remote references", () => {
  it("Distribution.spawn resolves to a pid typed by the spec's protocol, and documents its errors", () => {
    const spawned = Distribution.spawn("b", HelloSpec, "> ")
    expectTypeOf(spawned).toEqualTypeOf<
      Effect.Effect<
        Distribution.Spawned<typeof Hello>,
        Distribution.SpawnError | ProcessErrors.NotAProcess,
        Distribution.Distribution
      >
    >()
    Effect.flatMap(spawned, ({ pid }) => GenServer.call(pid, Hello.Hello({ name: "x" })))
    // @ts-expect-error Kv.Get is not a call of Hello
    Effect.flatMap(spawned, ({ pid }) => GenServer.call(pid, Kv.Get({ key: "x" })))
    // @ts-expect-error the arguments of hello are a string
    Distribution.spawn("b", HelloSpec, 42)
  })

  it("a Client accepts a local name or a RemoteName, typed by its protocol or not", () => {
    Client.make(Hello, "hello")
    Client.make(Hello, RemoteName.make("hello", "b"))
    Client.make(Hello, RemoteName.make("hello", "b", Hello))
    Client.make(Hello, GenServer.name("hello", Hello))
    // @ts-expect-error a name typed by Kv is not a Hello server
    Client.make(Hello, RemoteName.make("kv", "b", Kv))
    Effect.map(Client.make(Hello, RemoteName.make("hello", "b")), (client) => {
      client.call(Hello.Hello({ name: "x" }))
      // @ts-expect-error Kv.Get is not a call of Hello
      client.call(Kv.Get({ key: "x" }))
    })
  })
})

describe("the process runtime service", () => {
  it("shows the node's identity and size, not the runtime's internals", () => {
    expectTypeOf<ProcessRuntime.ProcessRuntime["Service"]>().toEqualTypeOf<{
      readonly node: string
      readonly incarnation: number
      readonly processCount: number
    }>()
  })
})
