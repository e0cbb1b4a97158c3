/**
 * The demo cluster: three nodes on loopback (127.0.0.1) in one OS process, each with a supervision
 * tree, linked by TLS-PSK from a shared cluster secret. It shows membership by gossip, typed remote
 * calls by name, a supervised server restarting after a remote crash, remote spawn, a remote
 * monitor, and what the others see when a node leaves.
 *
 * Run with `npm start`. No external service.
 */
import { Context, Effect, Exit, Layer, Option, References, Schedule, Schema, Scope } from "effect"
import {
  BehaviourRegistry,
  ChildSpec,
  Cluster,
  Distribution,
  ExitReason,
  GenServer,
  Process,
  ProcessRuntime,
  Protocol,
  RemoteName,
  Signal,
  Supervisor
} from "../src/index.ts"

// --- A key-value store, supervised on every node -------------------------------------------------

const Kv = Protocol.make({
  Put: Protocol.call({ payload: { key: Schema.String, value: Schema.String }, success: Schema.Number }),
  Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.NullOr(Schema.String) }),
  Crash: Protocol.call({ success: Schema.Void })
})

const kv = GenServer.behaviour(Kv)({
  init: () => Effect.succeed(new Map<string, string>()),
  handleCall: {
    Put: ({ key, value }, store) => Effect.succeed(GenServer.reply(store.set(key, value).size, store)),
    Get: ({ key }, store) => Effect.succeed(GenServer.reply(store.get(key) ?? null, store)),
    Crash: () => Effect.die(new Error("disk on fire"))
  }
})

// --- A counter that other nodes may start here (remote spawn) -------------------------------------

const Counter = Protocol.make({ Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }) })
const CounterSpec = BehaviourRegistry.define(
  "counter",
  Schema.Number,
  GenServer.behaviour(Counter)({
    init: (start: number) => Effect.succeed(start),
    handleCall: { Add: ({ n }, total) => Effect.succeed(GenServer.reply(total + n, total + n)) }
  })
)

// --- Nodes ----------------------------------------------------------------------------------------

const secret = "demo-cluster-secret"

type NodeContext = Context.Context<Distribution.Distribution | ProcessRuntime.ProcessRuntime | Cluster.Cluster>

/** A node with its supervision tree, alive until `scope` closes. */
const startNode = (name: string, seeds: ReadonlyArray<string>, scope: Scope.Scope) =>
  Effect.gen(function* () {
    const node = Distribution.layer(
      { nodeName: name, host: "127.0.0.1", port: 0, secret, seeds, heartbeatInterval: 500 },
      { behaviours: [CounterSpec] }
    )
    const tree = Supervisor.layer({
      strategy: "one_for_one",
      children: [ChildSpec.genServer("kv", kv, undefined, { name: "kv" })]
    })
    const context: NodeContext = yield* Layer.build(Layer.provideMerge(tree, node)).pipe(Scope.provide(scope))
    const cluster = Context.get(context, Cluster.Cluster)
    yield* cluster
      .onEvent((event) => {
        if (event._tag === "NodeUp") console.log(`   [${name}] node up: ${event.id}`)
        if (event._tag === "NodeDown") console.log(`   [${name}] node down: ${event.id} (${event.reason})`)
      })
      .pipe(Scope.provide(scope))
    return {
      name,
      context,
      cluster,
      seed: `${name}@127.0.0.1:${cluster.transport.address.port}`,
      run: <A, E>(effect: Effect.Effect<A, E, Distribution.Distribution | ProcessRuntime.ProcessRuntime>) =>
        Effect.provideContext(effect, context)
    }
  })

/** Waits until `node` sees all of `names` up. */
const awaitMesh = (cluster: Cluster.Cluster["Service"], names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    while (true) {
      const up = new Set((yield* cluster.nodes).map((node) => node.id))
      if (names.every((name) => up.has(name))) return
      yield* Effect.sleep("20 millis")
    }
  }).pipe(Effect.timeout("10 seconds"))

const demo = Effect.gen(function* () {
  const alphaScope = yield* Scope.make()
  const betaScope = yield* Scope.make()
  const gammaScope = yield* Scope.make()
  yield* Effect.addFinalizer(() =>
    Effect.all([gammaScope, betaScope, alphaScope].map((scope) => Scope.close(scope, Exit.void)))
  )

  console.log("1. start alpha; beta and gamma join through alpha and find each other by gossip")
  const alpha = yield* startNode("alpha", [], alphaScope)
  const beta = yield* startNode("beta", [alpha.seed], betaScope)
  const gamma = yield* startNode("gamma", [alpha.seed], gammaScope)
  yield* awaitMesh(beta.cluster, ["alpha", "gamma"])
  yield* awaitMesh(gamma.cluster, ["alpha", "beta"])
  console.log(`   beta sees ${(yield* beta.cluster.nodes).map((n) => n.id).join(", ")}`)

  console.log("2. typed remote calls by registered name (the same protocol as locally)")
  const betaKv = RemoteName.make("kv", "beta")
  yield* alpha.run(GenServer.call(betaKv, Kv.Put({ key: "answer", value: "42" })))
  const read = yield* gamma.run(GenServer.call(betaKv, Kv.Get({ key: "answer" })))
  console.log(`   alpha put answer=42 on beta; gamma reads ${read}`)

  console.log("3. a remote crash: beta's supervisor restarts kv, calls by name reach the new one")
  const crash = yield* Effect.flip(alpha.run(GenServer.call(betaKv, Kv.Crash())))
  console.log(`   alpha's call failed with ${crash._tag}: ${crash.message.split("\n")[0]}`)
  // The restart is immediate; a call racing it could find no process yet, so retry briefly.
  const fresh = yield* alpha.run(
    Effect.retry(GenServer.call(betaKv, Kv.Get({ key: "answer" })), {
      times: 50,
      schedule: Schedule.spaced("10 millis")
    })
  )
  console.log(`   the restarted kv answers (its state is new): answer=${fresh}`)

  console.log("4. remote spawn: alpha starts a counter (a registered behaviour) on gamma")
  const spawned = yield* alpha.run(Distribution.spawn("gamma", CounterSpec, 100))
  console.log(
    `   counter ${spawned.pid} on gamma: 100 + 5 = ${yield* alpha.run(GenServer.call(spawned.pid, Counter.Add({ n: 5 })))}`
  )

  console.log("5. gamma leaves: alpha's monitor on a gamma process fires, calls fail with NodeDown")
  const gammaKv = yield* gamma.run(Effect.map(Process.info("kv"), (info) => Option.getOrUndefined(info)?.pid))
  const watcher = yield* alpha.run(
    Process.spawn((self: Process.ProcessContext<never>) =>
      Effect.gen(function* () {
        if (gammaKv === undefined) return
        yield* Process.monitor(gammaKv)
        const down = yield* self.receive
        if (down instanceof Signal.Down) {
          console.log(`   [alpha] Down from ${down.pid}: ${ExitReason.format(down.reason)}`)
        }
      })
    )
  )
  yield* alpha.run(GenServer.call(RemoteName.make("kv", "gamma"), Kv.Get({ key: "x" })))
  yield* Scope.close(gammaScope, Exit.void)
  yield* alpha.run(Process.awaitExit(watcher))
  const after = yield* Effect.flip(alpha.run(GenServer.call(RemoteName.make("kv", "gamma"), Kv.Get({ key: "x" }))))
  console.log(`   a call to gamma now fails with ${after._tag}`)

  const stats = yield* alpha.run(Effect.flatMap(Effect.service(Distribution.Distribution), (d) => d.stats))
  console.log(`6. alpha's distribution stats: ${JSON.stringify(stats)}`)
})

Effect.runPromise(
  // Supervisors log crashes at warning level; the demo prints its own account instead.
  demo.pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Error"))
).then(
  () => console.log("done"),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
