/**
 * Three nodes in child OS processes (`distSupNodeProcess.ts`), each running an instance of the
 * singleton distributed supervisor "jobs", and this process as a fourth node (no behaviours, no
 * supervisor) that watches and calls them: shared by the multi-process test and the failover
 * benchmark.
 */
import * as Path from "node:path"
import { Context, Effect, Layer, Option } from "effect"
import {
  Cluster,
  Distribution,
  DistributedSupervisor,
  GenServer,
  GlobalRegistry,
  type ProcessRuntime
} from "../../src/index.ts"
import { ChildProgram } from "./childNode.ts"
import { Counter } from "./distSupHarness.ts"

const script = Path.join(import.meta.dirname, "distSupNodeProcess.ts")

export type Services =
  Distribution.Distribution | ProcessRuntime.ProcessRuntime | Cluster.Cluster | GlobalRegistry.GlobalRegistry

/** Starts the three child nodes a, b, c and the local observer node "main", in the current scope. */
export const processes = (heartbeatMs: number) =>
  Effect.gen(function* () {
    const names = ["a", "b", "c"]
    const children = new Map<string, ChildProgram>()
    let seed = ""
    for (const name of names) {
      const child = yield* Effect.acquireRelease(
        Effect.sync(
          () => new ChildProgram(script, [name, "0", seed, String(heartbeatMs), [...names, "main"].join(",")])
        ),
        (child) => Effect.promise(() => child.stop())
      )
      const ready = yield* child.awaitEvent((event) => event._tag === "Ready", 30_000, 0, `${name} Ready`)
      if (seed === "") seed = `a@127.0.0.1:${ready.port}`
      children.set(name, child)
    }
    const context = yield* Layer.build(
      GlobalRegistry.layer.pipe(
        Layer.provideMerge(
          Distribution.layer({
            nodeName: "main",
            host: "127.0.0.1",
            port: 0,
            seeds: [seed],
            secret: "distsup-test",
            heartbeatInterval: heartbeatMs,
            heartbeatMissThreshold: 3,
            reconnectBaseDelay: 50,
            reconnectMaxDelay: 400,
            discoveryInterval: 200
          })
        )
      )
    )
    const run = <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.provideContext(effect, context)
    yield* run(Cluster.awaitNodes(names, { timeout: "30 seconds" }))
    for (const [name, child] of children) {
      yield* child.awaitEvent((event) => event._tag === "Standby", 30_000, 0, `${name} Standby`)
    }
    return { children, run, cluster: Context.get(context, Cluster.Cluster) }
  })

/** The supervisor's children as the active instance reports them (retried until it answers). */
export const whichChildren = (run: <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.Effect<A, E>) =>
  run(DistributedSupervisor.whichChildren(GlobalRegistry.name("jobs")))

/** The node of the active supervisor instance, if one holds the name. */
export const activeNode = (run: <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.Effect<A, E>) =>
  Effect.map(
    run(GlobalRegistry.whereis("jobs")),
    Option.map((pid) => pid.node)
  )

/** A call to the child registered as `counter-<i>`: its value and the node it answered from. */
export const callChild = (
  run: <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.Effect<A, E>,
  i: number,
  timeoutMs = 500
) => run(GenServer.call(GlobalRegistry.name(`counter-${i}`, Counter), Counter.Get(), { timeout: timeoutMs }))
