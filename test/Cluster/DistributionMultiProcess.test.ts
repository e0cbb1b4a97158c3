import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import type { ClusterEvent } from "../../src/Cluster/ClusterEvent.ts"
import { GenServer, Pid, Process, ProcessErrors, RemoteName, Signal } from "../../src/index.ts"
import { ChildProgram } from "../support/childNode.ts"
import { clusterEvents } from "../support/clusterHarness.ts"
import { distNode, Kv, type NodeServices, type TestNode } from "../support/distHarness.ts"

interface ReadyEvent {
  readonly _tag: "Ready"
  readonly port: number
  readonly node: string
  readonly incarnation: number
  readonly store: { readonly node: string; readonly id: number; readonly incarnation: number }
  readonly at: number
}

const script = Path.join(import.meta.dirname, "..", "support", "distNodeProcess.ts")

/** Spawns a child node in the current scope (always killed when the scope closes); waits until it is ready. */
const childNode = (name: string, port: number, seeds: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => new ChildProgram<{ readonly _tag: string }>(script, [name, String(port), seeds.join(",")])),
      (child) => Effect.promise(() => child.stop())
    )
    const ready = (yield* child.awaitEvent((event) => event._tag === "Ready", 20_000, 0, "Ready")) as ReadyEvent
    const store = Pid.make(ready.store.node, ready.store.id, ready.store.incarnation)
    return { child, ready, store }
  })

const isNodeUp = (id: string, incarnation: number) => (event: ClusterEvent) =>
  event._tag === "NodeUp" && event.id === id && event.incarnation === incarnation
const isNodeDown = (id: string) => (event: ClusterEvent) => event._tag === "NodeDown" && event.id === id

/**
 * A process on `node` that runs `setup` (inside the process), then waits for one message.
 * Resolves once `setup` has run; `message` completes with the first message received.
 */
const watcher = <A, E>(node: TestNode, setup: Effect.Effect<A, E, NodeServices>) =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<A, E>()
    const message = yield* Deferred.make<unknown>()
    yield* node.run(
      Process.spawn((self) =>
        Effect.gen(function* () {
          yield* Deferred.done(ready, yield* Effect.exit(setup))
          yield* Deferred.succeed(message, yield* self.receive)
        })
      )
    )
    const value = yield* Deferred.await(ready).pipe(Effect.timeout(5000))
    return { value, message }
  })

const CALLS = 50
/** Both nodes; kill -9 is seen as a closed connection, not through heartbeats. */
const heartbeatIntervalMs = 200

describe("Distribution across OS processes", () => {
  it.live(
    "calls across processes; kill -9 fails every pending call with NodeDown and fires monitors and links with noconnection; the restarted node has a new incarnation",
    () =>
      Effect.gen(function* () {
        const t = yield* distNode({ nodeName: "t", heartbeatInterval: heartbeatIntervalMs })
        const events = yield* clusterEvents(t.cluster)
        const c = yield* childNode("c", 0, [t.seed])
        yield* events(isNodeUp("c", c.ready.incarnation), 10_000)
        assert.strictEqual(c.ready.node, "c")
        assert.strictEqual(c.store.node, "c")

        // (1) Typed calls across processes, by name and by pid.
        const byName = RemoteName.make("store", "c")
        assert.strictEqual(yield* t.run(GenServer.call(byName, Kv.Put({ key: "x", value: "1" }))), 1)
        const value: string | null = yield* t.run(GenServer.call(byName, Kv.Get({ key: "x" })))
        assert.strictEqual(value, "1")
        assert.strictEqual(yield* t.run(GenServer.call(c.store, Kv.Whoami())), String(c.store))

        // (2) Calls in flight, a monitor and a trapping linked process; then kill -9.
        const monitor = yield* watcher(
          t,
          Effect.gen(function* () {
            const ref = yield* Process.monitor(c.store)
            yield* GenServer.call(c.store, Kv.Whoami()) // the Monitor frame was handled before the reply
            return ref
          })
        )
        const link = yield* watcher(
          t,
          Effect.gen(function* () {
            yield* Process.trapExit(true)
            yield* Process.link(c.store)
            yield* GenServer.call(c.store, Kv.Whoami())
          })
        )
        const calls = yield* Effect.forEach(Array.from({ length: CALLS }), (_, i) =>
          Effect.forkChild(t.run(GenServer.call(i % 2 === 0 ? c.store : byName, Kv.Hang(), { timeout: 60_000 })), {
            startImmediately: true
          })
        )
        // The server has handled every Hang once it answers a later call on the same link.
        yield* t.run(GenServer.call(c.store, Kv.Whoami()))
        const before = yield* t.distribution.stats
        assert.strictEqual(before.remoteCall.pendingCalls, CALLS)
        assert.strictEqual(before.remoteMonitor.activeOutgoingCount, 1)
        assert.strictEqual(before.remoteLinks, 1)
        assert.isUndefined(before.remoteCall.failures["node_down"])

        const killedAt = Date.now()
        c.child.signal("SIGKILL")
        const exits = yield* Effect.forEach(calls, Fiber.await).pipe(
          Effect.timeoutOrElse({
            duration: 10_000,
            orElse: () => Effect.die(`pending calls still unsettled 10 s after kill -9`)
          })
        )
        const settledAfter = Date.now() - killedAt
        for (const exit of exits) {
          assert.isTrue(Exit.isFailure(exit))
          const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
          assert.instanceOf(error, ProcessErrors.NodeDown)
          assert.strictEqual((error as ProcessErrors.NodeDown).node, "c")
        }
        assert.isBelow(settledAfter, 3000, `calls settled ${settledAfter} ms after kill -9`)

        const down = yield* Deferred.await(monitor.message).pipe(Effect.timeout(3000))
        assert.instanceOf(down, Signal.Down)
        assert.strictEqual((down as Signal.Down).ref.id, monitor.value.id)
        assert.isTrue(Pid.equals((down as Signal.Down).pid, c.store))
        assert.strictEqual((down as Signal.Down).reason._tag, "NoConnection")
        const exited = yield* Deferred.await(link.message).pipe(Effect.timeout(3000))
        assert.instanceOf(exited, Signal.Exit)
        assert.isTrue(Pid.equals((exited as Signal.Exit).pid, c.store))
        assert.strictEqual((exited as Signal.Exit).reason._tag, "NoConnection")

        const nodeDown = yield* events(isNodeDown("c"), 3000)
        assert.strictEqual(nodeDown._tag === "NodeDown" ? nodeDown.reason : undefined, "connection_closed")
        assert.strictEqual(nodeDown._tag === "NodeDown" ? nodeDown.incarnation : undefined, c.ready.incarnation)

        const after = yield* t.distribution.stats
        assert.strictEqual(after.remoteCall.pendingCalls, 0)
        assert.strictEqual(after.remoteCall.failures["node_down"], CALLS)
        assert.strictEqual(after.remoteMonitor.activeOutgoingCount, 0)
        assert.strictEqual(after.remoteLinks, 0)
        const { signal } = yield* Effect.promise(() => c.child.exited)
        assert.strictEqual(signal, "SIGKILL")

        // (3) Restarted on the same port: the same name, a new incarnation.
        const restarted = yield* childNode("c", c.ready.port, [t.seed])
        assert.notStrictEqual(restarted.ready.incarnation, c.ready.incarnation)
        yield* events(isNodeUp("c", restarted.ready.incarnation), 10_000)
        const stale = yield* Effect.flip(t.run(GenServer.call(c.store, Kv.Whoami(), { timeout: 5000 })))
        assert.isTrue(
          stale instanceof ProcessErrors.NoProcess || stale instanceof ProcessErrors.NodeDown,
          `a call to a pid of the killed incarnation failed with ${String(stale)}`
        )
        const staleMonitor = yield* watcher(t, Process.monitor(c.store))
        const staleDown = yield* Deferred.await(staleMonitor.message).pipe(Effect.timeout(3000))
        assert.instanceOf(staleDown, Signal.Down)
        assert.strictEqual((staleDown as Signal.Down).ref.id, staleMonitor.value.id)
        assert.strictEqual((staleDown as Signal.Down).reason._tag, "NoProc")
        // The name now resolves to the new incarnation's server, which starts empty.
        assert.strictEqual(yield* t.run(GenServer.call(byName, Kv.Get({ key: "x" }))), null)
        assert.strictEqual(yield* t.run(GenServer.call(byName, Kv.Whoami())), String(restarted.store))
        assert.strictEqual(restarted.store.incarnation, restarted.ready.incarnation)

        // SIGTERM: the child leaves gracefully.
        restarted.child.signal("SIGTERM")
        const left = yield* events(isNodeDown("c"), 5000)
        assert.strictEqual(left._tag === "NodeDown" ? left.reason : undefined, "graceful_shutdown")
        const { code } = yield* Effect.promise(() => restarted.child.exited)
        assert.strictEqual(code, 0)
      }),
    30_000
  )
})
