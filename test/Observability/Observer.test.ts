/**
 * The node-local Observer against a real runtime: a supervision tree with crashing children,
 * blocked and busy processes, formatStatus, and the lifecycle events. Time is `it.effect`'s
 * TestClock (the runtime is built inside each test, so its clock is the test's); waits for events
 * have a real-time bound (`within`), never a sleep.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Queue, Redacted, References, Schema, type Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  ChildSpec,
  ExitReason,
  DynamicSupervisor,
  GenServer,
  Observer,
  Pid,
  Process,
  ProcessRuntime,
  Protocol,
  Supervisor
} from "../../src/index.ts"
import * as fc from "fast-check"
import { runtimeOf } from "../../src/Process/internal/context.ts"
import { selectTop } from "../../src/Observability/internal/observerTable.ts"
import { within } from "../Supervisor/helpers.ts"

const Work = Protocol.make({
  Ping: Protocol.call({ success: Schema.Number }),
  Hold: Protocol.call({ success: Schema.Number }),
  Crash: Protocol.cast(),
  Sleep: Protocol.cast({ payload: { millis: Schema.Number } }),
  Noop: Protocol.cast()
})

/** A worker: Ping answers, Hold waits for the gate, Crash dies, Sleep sleeps on the clock. */
const worker = (gate?: Deferred.Deferred<void>) =>
  GenServer.behaviour(Work)({
    name: "worker",
    init: () => Effect.succeed(0),
    handleCall: {
      Ping: (_, n) => Effect.succeed(GenServer.reply(n + 1, n + 1)),
      Hold: (_, n) => Effect.as(gate === undefined ? Effect.void : Deferred.await(gate), GenServer.reply(n, n))
    },
    handleCast: {
      Crash: () => Effect.die(new Error("boom")),
      Sleep: ({ millis }, n) => Effect.as(Effect.sleep(millis), GenServer.noReply(n + 1)),
      Noop: (_, n) => Effect.succeed(GenServer.noReply(n + 1))
    }
  })

const Account = Protocol.make({ Get: Protocol.call({ success: Schema.String }) })

interface AccountState {
  readonly user: string
  readonly password: string
}

const account = (formatStatus?: (state: AccountState) => unknown) =>
  GenServer.behaviour(Account)({
    name: "account",
    init: () => Effect.succeed<AccountState>({ user: "ann", password: "hunter2" }),
    handleCall: { Get: (_, state) => Effect.succeed(GenServer.reply(state.user, state)) },
    ...(formatStatus === undefined ? {} : { formatStatus })
  })

/** A runtime (on the test's clock) timing every message, its Observer, and no log lines. */
const run = <A, E>(
  effect: Effect.Effect<A, E, Observer.Observer | ProcessRuntime.ProcessRuntime | Scope.Scope>,
  observer = Observer.layer
) =>
  effect.pipe(
    Effect.scoped,
    Effect.provide(observer),
    Effect.provide(
      Layer.mergeAll(
        ProcessRuntime.layer({ node: "obs@127.0.0.1", busySampleEvery: 1 }),
        Layer.succeed(References.MinimumLogLevel, "None")
      )
    )
  )

/** Subscribes to the Observer's events now; `next` takes the next one matching. */
const subscribe = Effect.gen(function* () {
  const queue = yield* Queue.unbounded<Observer.ObserverEvent>()
  yield* Effect.forkScoped(
    Stream.runForEach(Observer.events, (event) => Queue.offer(queue, event)),
    {
      startImmediately: true
    }
  )
  const next = <T extends Observer.ObserverEvent["_tag"]>(tag: T, pid?: Pid.Pid) =>
    within(
      2000,
      `${tag} ${pid === undefined ? "" : String(pid)}`
    )(
      Effect.gen(function* () {
        while (true) {
          const event = yield* Queue.take(queue)
          if (event._tag === tag && (pid === undefined || Pid.equals(event.pid, pid))) {
            return event as Extract<Observer.ObserverEvent, { readonly _tag: T }>
          }
        }
      })
    )
  return { next, queue }
})

const infoOf = (snapshot: Observer.NodeSnapshot, pid: Pid.Pid): Observer.ProcessInfo => {
  const info = snapshot.processes.find((process) => Pid.equals(process.pid, pid))
  assert.isDefined(info, `${pid} is in the snapshot`)
  return info!
}

describe("Observer", () => {
  it.effect("a snapshot shows the supervision tree with restart counts, statuses and mailbox sizes", () =>
    run(
      Effect.gen(function* () {
        const events = yield* subscribe
        const gate = yield* Deferred.make<void>()
        const sup = yield* Supervisor.start({
          strategy: "one_for_one",
          maxRestarts: 10,
          children: [
            ChildSpec.genServer("stable", worker(), undefined),
            ChildSpec.genServer("crasher", worker(), undefined),
            ChildSpec.genServer("blocked", worker(gate), undefined, { name: "blocked" })
          ]
        })
        const pidOf = (id: string) =>
          Effect.map(Supervisor.whichChildren(sup), (children) => children.find((child) => child.id === id)!.pid!)

        // The crasher crashes twice; each time its supervisor restarts it.
        for (let round = 1; round <= 2; round++) {
          const crasher = yield* pidOf("crasher")
          yield* GenServer.cast(crasher, Work.Crash())
          const exited = yield* events.next("ProcessExited", crasher)
          assert.strictEqual(exited.reason._tag, "Failure")
          const restarted = yield* events.next("ProcessRestarted")
          assert.strictEqual(restarted.id, "crasher")
          assert.strictEqual(restarted.restarts, round)
          assert.isTrue(Pid.equals(restarted.supervisor, sup))
        }

        // The blocked server is stuck in a call; five more messages wait in its mailbox.
        const blocked = yield* pidOf("blocked")
        const held = yield* Effect.forkChild(GenServer.call(blocked, Work.Hold()), { startImmediately: true })
        for (let i = 0; i < 5; i++) yield* GenServer.cast(blocked, Work.Noop())

        const snapshot = yield* Observer.snapshot
        assert.strictEqual(snapshot.node.name, "obs@127.0.0.1")
        assert.strictEqual(snapshot.node.processCount, snapshot.processes.length)
        assert.strictEqual(snapshot.processes.length, 4)
        assert.match(snapshot.node.versions.effect, /^4\./)
        assert.isAbove(snapshot.node.memory.heapUsed, 0)

        const [tree] = snapshot.supervisors
        assert.isDefined(tree)
        assert.isTrue(Pid.equals(tree!.pid, sup))
        assert.strictEqual(tree!.strategy, "one_for_one")
        assert.strictEqual(tree!.restarts, 2)
        assert.deepStrictEqual(
          tree!.children.map((child) => [child.id, child.status, child.restarts]),
          [
            ["stable", "running", 0],
            ["crasher", "running", 2],
            ["blocked", "running", 0]
          ]
        )

        const crasher = infoOf(snapshot, yield* pidOf("crasher"))
        assert.strictEqual(crasher.restarts, 2)
        assert.strictEqual(crasher.status, "waiting")
        assert.strictEqual(crasher.behaviour, "worker")
        assert.strictEqual(crasher.links, 1)

        const stuck = infoOf(snapshot, blocked)
        assert.strictEqual(stuck.name, "blocked")
        assert.strictEqual(stuck.status, "running")
        assert.strictEqual(stuck.mailboxSize, 5)
        assert.strictEqual(stuck.restarts, 0)

        const supervisor = infoOf(snapshot, sup)
        assert.strictEqual(supervisor.behaviour, "supervisor")
        assert.strictEqual(supervisor.trapExit, true)
        assert.strictEqual(supervisor.links, 3)
        assert.strictEqual(supervisor.status, "waiting")

        // The snapshot crosses nodes: it encodes to JSON and decodes back.
        const json = JSON.parse(JSON.stringify(Schema.encodeSync(Observer.NodeSnapshot)(snapshot)))
        const decoded = Schema.decodeUnknownSync(Observer.NodeSnapshot)(json)
        assert.strictEqual(decoded.processes.length, 4)
        assert.strictEqual(decoded.supervisors[0]!.children[1]!.restarts, 2)

        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(held)
        yield* Supervisor.stop(sup)
      })
    )
  )

  it.effect("a busy process shows a larger busy share than an idle one, on the test clock", () =>
    run(
      Effect.gen(function* () {
        const busy = yield* GenServer.start(worker(), undefined)
        const idle = yield* GenServer.start(worker(), undefined)
        // The busy one sleeps 100 ms in a handler; the idle one handles a message in no time.
        yield* GenServer.cast(busy, Work.Sleep({ millis: 100 }))
        yield* GenServer.cast(idle, Work.Noop())
        yield* TestClock.adjust(100)
        yield* GenServer.call(busy, Work.Ping())
        yield* TestClock.adjust(100)

        const snapshot = yield* Observer.snapshot
        const busyInfo = infoOf(snapshot, busy)
        const idleInfo = infoOf(snapshot, idle)
        // 100 ms in handlers out of the 200 ms the process has lived.
        assert.strictEqual(busyInfo.busyShare, 0.5)
        assert.strictEqual(idleInfo.busyShare, 0)
        assert.strictEqual(busyInfo.messagesHandled, 2)
        assert.strictEqual(busyInfo.handlerSamples, 2)
        assert.isAbove(busyInfo.handlerLatencyMs, 0)

        const [first] = yield* Observer.top({ by: "busy", limit: 1 })
        assert.isTrue(Pid.equals(first!.pid, busy))

        // Idle from now on: its share decays as time passes.
        yield* TestClock.adjust(9800)
        const later = infoOf(yield* Observer.snapshot, busy)
        assert.strictEqual(later.busyShare, 0.01)
      })
    )
  )

  it.effect("top-N selects by mailbox size, and by rate over a window it waits for", () =>
    run(
      Effect.gen(function* () {
        // Plain processes that never receive: their mailboxes only grow.
        const sizes = [3, 0, 7, 1, 5]
        const pids: Array<Pid.Pid> = []
        for (const size of sizes) {
          const pid = yield* Process.spawn(() => Effect.never)
          for (let i = 0; i < size; i++) yield* Process.send(pid, i)
          pids.push(pid)
        }
        const byMailbox = yield* Observer.top({ by: "mailbox", limit: 3 })
        assert.deepStrictEqual(
          byMailbox.map((info) => info.mailboxSize),
          [7, 5, 3]
        )
        assert.isTrue(Pid.equals(byMailbox[0]!.pid, pids[2]!))
        assert.strictEqual(byMailbox[0]!.status, "running")

        // Over a one-second window: 20 messages for `hot`, 4 for `warm`, none for the others.
        const hot = yield* GenServer.start(worker(), undefined)
        const warm = yield* GenServer.start(worker(), undefined)
        for (let i = 0; i < 50; i++) yield* GenServer.call(warm, Work.Ping())
        const query = yield* Effect.forkChild(Observer.top({ by: "rate", limit: 2, windowMs: 1000 }), {
          startImmediately: true
        })
        for (let i = 0; i < 20; i++) yield* GenServer.cast(hot, Work.Noop())
        for (let i = 0; i < 4; i++) yield* GenServer.cast(warm, Work.Noop())
        yield* TestClock.adjust(1000)
        const byRate = yield* Fiber.join(query)
        assert.deepStrictEqual(
          byRate.map((info) => String(info.pid)),
          [String(hot), String(warm)]
        )
        assert.deepStrictEqual(yield* Observer.top({ by: "mailbox", limit: 0 }), [])
      })
    )
  )

  it("the bounded top-N selection picks what a full sort would, highest first, earlier items first on ties", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), fc.nat(30), (scores, limit) => {
        const items = scores.map((score, index) => ({ score, index }))
        const selected = selectTop(items, (item) => item.score, limit).map(({ item }) => item.index)
        const sorted = [...items]
          .sort((a, b) => b.score - a.score || a.index - b.index)
          .slice(0, limit)
          .map((item) => item.index)
        assert.deepStrictEqual(selected, sorted)
      })
    )
  })

  it.effect("a process in detail: links, monitors, and the state through formatStatus", () =>
    run(
      Effect.gen(function* () {
        const redacted = yield* GenServer.start(
          account((state) => ({ user: state.user, password: "<redacted>" })),
          undefined
        )
        const plain = yield* GenServer.start(account(), undefined)
        const failing = yield* GenServer.start(
          account(() => {
            throw new Error("no status today")
          }),
          undefined
        )
        // A process linked to `redacted` and monitoring `plain`.
        const watcher = yield* Process.spawn((self) =>
          Effect.andThen(Effect.all([Process.link(redacted), Process.monitor(plain)]), Effect.forever(self.receive))
        )
        yield* GenServer.call(redacted, Account.Get())

        const detail = yield* Observer.process(redacted)
        assert.strictEqual(detail.stateSource, "formatStatus")
        assert.include(detail.state, "ann")
        assert.notInclude(detail.state, "hunter2")
        assert.strictEqual(detail.lastMessage, "Get")
        assert.deepStrictEqual(detail.links.map(String), [String(watcher)])
        assert.strictEqual(detail.info.links, 1)

        // Without formatStatus the state is hidden by default (it may hold secrets), and says how to show it.
        const kept = yield* Observer.process(plain)
        assert.strictEqual(kept.stateSource, "hidden")
        assert.notInclude(kept.state, "hunter2")
        assert.include(kept.state, "showState: true")
        assert.strictEqual(kept.info.monitoredBy, 1)
        // An Observer built with showState shows it.
        const showing = yield* Observer.makeWith({ showState: true })
        const shown = yield* showing.process(plain)
        assert.strictEqual(shown.stateSource, "state")
        assert.include(shown.state, "hunter2")
        assert.strictEqual((yield* showing.process(redacted)).stateSource, "formatStatus")

        const broken = yield* Observer.process(failing)
        assert.strictEqual(broken.stateSource, "formatStatusFailed")
        assert.include(broken.state, "no status today")
        assert.notInclude(broken.state, "hunter2")

        const watching = yield* Observer.process(watcher)
        assert.deepStrictEqual(watching.monitors.map(String), [String(plain)])
        assert.strictEqual(watching.info.monitors, 1)
        assert.isUndefined(watching.state)

        yield* Process.exit(watcher, ExitReason.killed)
        const gone = yield* Effect.flip(Observer.process(Pid.make("obs@127.0.0.1", 99_999, 1)))
        assert.strictEqual(gone._tag, "NoProcess")
      })
    )
  )

  it.effect("a cyclic or huge state is shown as bounded text, and a Redacted value stays hidden", () =>
    run(
      Effect.gen(function* () {
        const Any = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
        const holding = (state: unknown) =>
          GenServer.behaviour(Any)({
            init: () => Effect.succeed(state),
            handleCall: { Get: (_, s) => Effect.succeed(GenServer.reply(1, s)) }
          })
        const cyclic: Record<string, unknown> = { name: "loop" }
        cyclic.self = cyclic
        const huge = { items: Array.from({ length: 1_000_000 }, (_, i) => i), text: "x".repeat(1_000_000) }
        const secret = { token: Redacted.make("s3cr3t") }

        const loop = yield* Observer.process(yield* GenServer.start(holding(cyclic), undefined))
        assert.include(loop.state, "Circular")
        const big = yield* Observer.process(yield* GenServer.start(holding(huge), undefined))
        assert.isAtMost(big.state!.length, 8300)
        assert.include(big.state, "more items")
        const hidden = yield* Observer.process(yield* GenServer.start(holding(secret), undefined))
        assert.notInclude(hidden.state, "s3cr3t")
        assert.include(hidden.state, "token: <redacted>")
      }),
      Observer.layerWith({ showState: true })
    )
  )

  it.effect("events: started, exited with the reason, restarted; nothing is recorded without a subscriber", () =>
    run(
      Effect.gen(function* () {
        const runtime = runtimeOf(yield* ProcessRuntime.ProcessRuntime)
        assert.isUndefined(runtime.lifecycle, "no listener before anyone subscribes")
        yield* Effect.scoped(
          Effect.gen(function* () {
            const events = yield* subscribe
            const sup = yield* DynamicSupervisor.start({ maxRestarts: 5 })
            const started = yield* events.next("ProcessStarted", sup)
            assert.strictEqual(started.behaviour, "dynamic_supervisor")
            const child = yield* DynamicSupervisor.startChild(sup, {
              start: GenServer.startLink(worker(), undefined)
            })
            const childStarted = yield* events.next("ProcessStarted", child)
            assert.isTrue(Pid.equals(childStarted.parent!, sup))
            assert.strictEqual(childStarted.behaviour, "worker")

            yield* GenServer.cast(child, Work.Crash())
            const exited = yield* events.next("ProcessExited", child)
            assert.strictEqual(exited.reason._tag, "Failure")
            assert.strictEqual(exited.behaviour, "worker")
            const restarted = yield* events.next("ProcessRestarted")
            assert.isTrue(Pid.equals(restarted.supervisor, sup))
            assert.strictEqual(restarted.restarts, 1)
            assert.isUndefined(restarted.id)

            const tree = (yield* Observer.snapshot).supervisors.find((tree) => Pid.equals(tree.pid, sup))
            assert.strictEqual(tree?.kind, "dynamic_supervisor")
            assert.strictEqual(tree?.children[0]?.restarts, 1)
            assert.strictEqual(infoOf(yield* Observer.snapshot, restarted.pid).restarts, 1)

            const quitter = yield* Process.spawn(() => Effect.void)
            const normal = yield* events.next("ProcessExited", quitter)
            assert.strictEqual(normal.reason._tag, "Normal")

            // Events encode to JSON like snapshots.
            const json = Schema.encodeSync(Observer.ObserverEvent)(exited)
            assert.strictEqual((json as { _tag: string })._tag, "ProcessExited")
            yield* DynamicSupervisor.stop(sup)
          })
        )
        assert.isUndefined(runtime.lifecycle, "the listener is gone with the last subscriber")
      })
    )
  )

  it.effect("stream: one snapshot at once, then one per interval of the clock", () =>
    run(
      Effect.gen(function* () {
        const collected = yield* Effect.forkChild(Stream.runCollect(Stream.take(Observer.stream("1 second"), 3)), {
          startImmediately: true
        })
        yield* Process.spawn(() => Effect.never)
        yield* TestClock.adjust("1 second")
        yield* Process.spawn(() => Effect.never)
        yield* TestClock.adjust("1 second")
        const snapshots = yield* Fiber.join(collected)
        assert.deepStrictEqual(
          snapshots.map((snapshot) => snapshot.node.processCount),
          [0, 1, 2]
        )
        assert.deepStrictEqual(
          snapshots.map((snapshot) => snapshot.node.uptimeMs),
          [0, 1000, 2000]
        )
      })
    )
  )
})
