/**
 * Test helpers for supervisors: a journaling worker GenServer, an event log over the supervisor
 * event hub, and waits with a (real-time) timeout. Never sleep to synchronise: wait for events.
 */
import { Effect, Fiber, Layer, Option, PubSub, References, Schema, type Scope } from "effect"
import { ExitReason, GenServer, Pid, Process, ProcessRuntime, Protocol } from "../../src/index.ts"
import * as ChildSpec from "../../src/Supervisor/ChildSpec.ts"
import * as SupervisorEvents from "../../src/Supervisor/SupervisorEvents.ts"

/** How long a test waits for an event before failing. */
export const EVENT_TIMEOUT = 2000

/**
 * Fails (dies) if `effect` does not finish within `millis` of real time. Uses a plain timer, so it
 * works under the TestClock that `it.effect` installs.
 */
export const within =
  (millis: number = EVENT_TIMEOUT, what = "the awaited event") =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.raceFirst(
      effect,
      Effect.callback<never>((resume) => {
        const timer = setTimeout(() => resume(Effect.die(`${what} did not happen within ${millis} ms`)), millis)
        return Effect.sync(() => clearTimeout(timer))
      })
    )

/**
 * The layers every supervisor test runs with. Log lines are off (the logging test turns them on
 * for itself): crashes are the point of these tests. Built inside the test, the runtime keeps the
 * test's clock (`it.effect`'s TestClock): restart intensity windows and shutdown times follow
 * `TestClock.adjust`.
 */
export const testLayer = Layer.mergeAll(
  ProcessRuntime.layer({ node: "test@127.0.0.1" }),
  SupervisorEvents.layer(),
  Layer.succeed(References.MinimumLogLevel, "None")
)

export type TestServices = ProcessRuntime.ProcessRuntime | SupervisorEvents.SupervisorEvents

/** Runs a scoped test body with a fresh runtime and event hub. */
export const run = <A, E>(effect: Effect.Effect<A, E, TestServices | Scope.Scope>): Effect.Effect<A, E> =>
  Effect.provide(Effect.scoped(effect), testLayer)

/** The events seen so far, in order, and a way to wait for the next matching one. */
export interface EventLog {
  /** Every event taken so far (by {@link next}), in publication order. */
  readonly seen: Array<SupervisorEvents.SupervisorEvent>
  /** Takes events until one matches; fails the test if none does in time. */
  readonly next: <E extends SupervisorEvents.SupervisorEvent>(
    predicate: (event: SupervisorEvents.SupervisorEvent) => event is E,
    what?: string
  ) => Effect.Effect<E>
  /** Takes every event published so far without waiting. */
  readonly drain: Effect.Effect<ReadonlyArray<SupervisorEvents.SupervisorEvent>>
}

/** Subscribes to the event hub for the rest of the scope. */
export const eventLog: Effect.Effect<EventLog, never, SupervisorEvents.SupervisorEvents | Scope.Scope> = Effect.gen(
  function* () {
    const hub = yield* SupervisorEvents.SupervisorEvents
    const subscription = yield* PubSub.subscribe(hub.pubsub)
    const seen: Array<SupervisorEvents.SupervisorEvent> = []
    const take = Effect.map(PubSub.take(subscription), (event) => {
      seen.push(event)
      return event
    })
    return {
      seen,
      next: <E extends SupervisorEvents.SupervisorEvent>(
        predicate: (event: SupervisorEvents.SupervisorEvent) => event is E,
        what = "event"
      ) =>
        within(
          EVENT_TIMEOUT,
          what
        )(
          Effect.gen(function* () {
            while (true) {
              const event = yield* take
              if (predicate(event)) return event
            }
          })
        ),
      drain: Effect.gen(function* () {
        const taken: Array<SupervisorEvents.SupervisorEvent> = []
        while (Option.getOrElse(PubSub.remainingUnsafe(subscription), () => 0) > 0) taken.push(yield* take)
        return taken
      })
    }
  }
)

/** Event predicates. */
export const is = {
  started:
    (id?: string) =>
    (event: SupervisorEvents.SupervisorEvent): event is SupervisorEvents.ChildStarted =>
      event._tag === "ChildStarted" && (id === undefined || event.id === id),
  restarted:
    (id?: string) =>
    (event: SupervisorEvents.SupervisorEvent): event is SupervisorEvents.ChildRestarted =>
      event._tag === "ChildRestarted" && (id === undefined || event.id === id),
  exited:
    (id?: string) =>
    (event: SupervisorEvents.SupervisorEvent): event is SupervisorEvents.ChildExited =>
      event._tag === "ChildExited" && (id === undefined || event.id === id),
  escalated:
    (supervisor?: Pid.Pid) =>
    (event: SupervisorEvents.SupervisorEvent): event is SupervisorEvents.SupervisorEscalated =>
      event._tag === "SupervisorEscalated" && (supervisor === undefined || Pid.equals(event.supervisor, supervisor)),
  stopped:
    (supervisor?: Pid.Pid) =>
    (event: SupervisorEvents.SupervisorEvent): event is SupervisorEvents.SupervisorStopped =>
      event._tag === "SupervisorStopped" && (supervisor === undefined || Pid.equals(event.supervisor, supervisor)),
  startError:
    (id?: string) =>
    (event: SupervisorEvents.SupervisorEvent): event is SupervisorEvents.ChildStartError =>
      event._tag === "ChildStartError" && (id === undefined || event.id === id)
}

/** The protocol of the test worker. */
export const Worker = Protocol.make({
  /** Replies with the worker's id. */
  Ping: Protocol.call({ success: Schema.String }),
  /** Crashes the worker (a defect in a handler). */
  Crash: Protocol.cast(),
  /** Stops the worker with reason `normal`. */
  Finish: Protocol.cast(),
  /** Stops the worker with reason `shutdown`. */
  Quit: Protocol.cast()
})

/** Where workers write `start:<id>` and `stop:<id>`, in the order it happens. */
export type Journal = Array<string>

export interface WorkerOptions {
  /** `terminate` never finishes (the worker must be killed). */
  readonly stubborn?: boolean
  /** `init` fails. */
  readonly failInit?: boolean | (() => boolean)
  /** Told when `terminate` starts (to know that a stop is under way). */
  readonly onTerminate?: (id: string) => void
}

/** A GenServer that journals its start and stop. Its state is its id. */
export const worker = (journal: Journal, options?: WorkerOptions) =>
  GenServer.behaviour(Worker)({
    init: (id: string) =>
      Effect.suspend(() => {
        const fail = typeof options?.failInit === "function" ? options.failInit() : options?.failInit === true
        if (fail) return Effect.fail(`init of ${id} failed`)
        journal.push(`start:${id}`)
        return Effect.succeed(id)
      }),
    handleCall: { Ping: (_, id) => Effect.succeed(GenServer.reply(id, id)) },
    handleCast: {
      Crash: () => Effect.die("crash requested"),
      Finish: (_, id) => Effect.succeed(GenServer.stopWith(ExitReason.normal, id)),
      Quit: (_, id) => Effect.succeed(GenServer.stopWith(ExitReason.shutdown(), id))
    },
    terminate: (_, id) =>
      Effect.suspend(() => {
        journal.push(`stop:${id}`)
        options?.onTerminate?.(id)
        return options?.stubborn === true ? Effect.never : Effect.void
      })
  })

/** A supervised worker registered under its id, trapping exits so that `terminate` runs on shutdown. */
export const workerChild = (
  journal: Journal,
  id: string,
  options?: ChildSpec.ChildOptions & WorkerOptions
): ChildSpec.ChildSpec<ProcessRuntime.ProcessRuntime> =>
  ChildSpec.genServer(id, worker(journal, options), id, {
    name: id,
    trapExit: true,
    restart: options?.restart,
    shutdown: options?.shutdown,
    significant: options?.significant
  })

/** The pid registered under `name` (dies if none). */
export const whereis = (name: string) =>
  Effect.flatMap(Process.info(name), (info) =>
    info._tag === "Some" ? Effect.succeed(info.value.pid) : Effect.die(`no process named ${name}`)
  )

/** Whether a process is registered under `name`. */
export const isRegistered = (name: string) => Effect.map(Process.info(name), (info) => info._tag === "Some")

/**
 * Starts waiting for `pid` to exit now (before whatever makes it exit), and returns the effect
 * that resolves to its exit reason, failing the test if it does not exit in time.
 */
export const watchExit = (pid: Pid.Pid) =>
  Effect.map(Effect.forkChild(Process.awaitExit(pid), { startImmediately: true }), (fiber) =>
    within(EVENT_TIMEOUT, `the exit of ${pid}`)(Fiber.join(fiber))
  )
