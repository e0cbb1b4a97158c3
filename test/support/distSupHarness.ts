/**
 * Nodes for the remote and distributed supervisor tests: in-memory cluster nodes (each in its own
 * scope, so a test can kill one), the behaviours they register, and helpers to run effects there.
 */
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import {
  BehaviourRegistry,
  Cluster,
  Distribution,
  ExitReason,
  GenServer,
  GlobalRegistry,
  MemoryTransport,
  ProcessRuntime,
  Protocol,
  RemoteSupervisor
} from "../../src/index.ts"
import type { MemoryNetwork } from "../../src/Transport/MemoryNetwork.ts"
import { awaitNodesUp, fast } from "./clusterHarness.ts"
import { HandoffCounterSpec } from "./handoffCounter.ts"
import { eventually } from "./transportHarness.ts"

/** A counter that answers with its value and the node it runs on. */
export const Counter = Protocol.make({
  Get: Protocol.call({ success: Schema.Struct({ value: Schema.Number, node: Schema.String }) }),
  Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
  Crash: Protocol.cast(),
  Stop: Protocol.cast()
})

export const CounterSpec = BehaviourRegistry.define(
  "counter",
  Schema.Number,
  GenServer.behaviour(Counter)({
    init: (start: number, self) => Effect.succeed({ value: start, node: self.node }),
    handleCall: {
      Get: (_, state) => Effect.succeed(GenServer.reply({ value: state.value, node: state.node }, state)),
      Add: ({ n }, state) => Effect.succeed(GenServer.reply(state.value + n, { ...state, value: state.value + n }))
    },
    handleCast: {
      Crash: () => Effect.die("crash asked for"),
      Stop: (_, state) => Effect.succeed(GenServer.stopWith(ExitReason.normal, state))
    }
  })
)

export type NodeServices =
  | Distribution.Distribution
  | ProcessRuntime.ProcessRuntime
  | Cluster.Cluster
  | BehaviourRegistry.BehaviourRegistry
  | GlobalRegistry.GlobalRegistry

export interface TestNode {
  readonly name: string
  readonly cluster: Cluster.Cluster["Service"]
  /** Runs `effect` with this node's services (any others, such as a Scope, come from the caller). */
  readonly run: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, Exclude<R, NodeServices>>
  /** Stops the node now (its processes, then a graceful leave). */
  readonly stop: Effect.Effect<void>
}

/** Overrides of the fast timings of clusterHarness.ts. */
export type Timings = { readonly [K in keyof typeof fast]?: number }

/** A node on `network` with the counter behaviour and the remote supervisor agent, in its own scope. */
export const node = (network: MemoryNetwork, name: string, seeds: ReadonlyArray<string>, timings: Timings = {}) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const transport = MemoryTransport.layer(network, { name, handshakeTimeout: 500 })
    // Heartbeats carry the process count (least_loaded reads it); the runtime exists once built.
    let runtime: ProcessRuntime.ProcessRuntime["Service"] | undefined
    const processCount = Effect.sync(() => runtime?.processCount ?? 0)
    const context = yield* Layer.build(
      Layer.mergeAll(RemoteSupervisor.layer, GlobalRegistry.layer).pipe(
        Layer.provideMerge(
          Distribution.layerOnCluster(
            Cluster.layerOn({ nodeName: name, insecure: true, seeds, processCount, ...fast, ...timings }).pipe(
              Layer.provide(transport)
            ),
            { behaviours: [CounterSpec, HandoffCounterSpec] }
          )
        )
      )
    ).pipe(Scope.provide(scope))
    runtime = Context.get(context, ProcessRuntime.ProcessRuntime)
    const node: TestNode = {
      name,
      cluster: Context.get(context, Cluster.Cluster),
      run: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.updateContext(effect as Effect.Effect<A, E, never>, (outer: Context.Context<never>) =>
          Context.merge(outer, context)
        ) as unknown as Effect.Effect<A, E, Exclude<R, NodeServices>>,
      stop: Scope.close(scope, Exit.void)
    }
    return node
  })

/**
 * Nodes named `names`, each seeded with all the others, connected to each other; `timings` override
 * the fast heartbeats (e.g. a higher miss threshold for a test that must not see a node down on a
 * loaded machine).
 */
export const cluster = (network: MemoryNetwork, names: ReadonlyArray<string>, timings: Timings = {}) =>
  Effect.gen(function* () {
    const nodes: Array<TestNode> = []
    for (const name of names) {
      nodes.push(
        yield* node(
          network,
          name,
          names.filter((other) => other !== name).map((other) => `${other}@${other}:0`),
          timings
        )
      )
    }
    for (const each of nodes) {
      yield* awaitNodesUp(
        each.cluster,
        names.filter((other) => other !== each.name)
      )
    }
    return nodes
  })

/** Retries `effect` until it succeeds with a value satisfying `predicate` (10 s at most); that value. */
export const until = <A, E>(effect: Effect.Effect<A, E>, predicate: (a: A) => boolean = () => true) =>
  Effect.flatMap(
    eventually(Effect.result(effect), (result) => result._tag === "Success" && predicate(result.success)),
    (result) => (result._tag === "Success" ? Effect.succeed(result.success) : Effect.die("not reached"))
  )
