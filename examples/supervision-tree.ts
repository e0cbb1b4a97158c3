/**
 * A supervision tree: a root supervisor (`one_for_one`) over a cache and a pipeline supervisor
 * (`rest_for_one`) of three stages. Crashes show each strategy: the cache alone restarts; a crash
 * of the middle stage restarts it and the stage after it, not the one before. Then the cache
 * crashes faster than the restart intensity allows (3 restarts within 5 seconds) and the root gives
 * up: it stops its children in reverse order and exits. Every supervisor event is printed as it is
 * published (`SupervisorEvents`).
 *
 * Run with `npm run example:supervision`. No external service; ends by itself.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Option, PubSub, References, Schema } from "effect"
import {
  ChildSpec,
  ExitReason,
  GenServer,
  Pid,
  Process,
  ProcessRuntime,
  Protocol,
  Supervisor,
  SupervisorEvents
} from "../src/index.ts"

// One small server for every child: it answers Ping and crashes on Crash.
const Stage = Protocol.make({
  Ping: Protocol.call({ success: Schema.String }),
  Crash: Protocol.cast()
})

const stage = GenServer.behaviour(Stage)({
  init: (name: string) => Effect.succeed(name),
  handleCall: { Ping: (_, name) => Effect.succeed(GenServer.reply(`${name} ok`, name)) },
  handleCast: { Crash: (_, name) => Effect.die(new Error(`${name} crashed on purpose`)) }
})

const child = (name: string) => ChildSpec.genServer(name, stage, name, { name })

const tree = {
  strategy: "one_for_one",
  maxRestarts: 3,
  within: "5 seconds",
  children: [
    child("cache"),
    Supervisor.child("pipeline", {
      strategy: "rest_for_one",
      children: [child("reader"), child("parser"), child("writer")]
    })
  ]
} as const

const short = (reason: ExitReason.ExitReason) => ExitReason.format(reason).split("\n")[0]

/** The pid registered under each name now, to show which ones changed. */
const pids = (names: ReadonlyArray<string>) =>
  Effect.forEach(names, (name) =>
    Effect.map(Process.info(name), (info) =>
      Option.match(info, { onNone: () => `${name}=-`, onSome: (i) => `${name}=${i.pid}` })
    )
  ).pipe(Effect.map((list) => list.join(" ")))

const program = Effect.gen(function* () {
  // Subscribed before the tree starts: no event is missed. The tour waits on these events.
  const hub = yield* SupervisorEvents.SupervisorEvents
  const subscription = yield* PubSub.subscribe(hub.pubsub)
  /** Prints events as they come, until one matches. */
  const until = (match: (event: SupervisorEvents.SupervisorEvent) => boolean) =>
    Effect.gen(function* () {
      while (true) {
        const event = yield* PubSub.take(subscription)
        const id = "id" in event && event.id !== undefined ? ` ${event.id}` : ""
        const reason = "reason" in event ? ` (${short(event.reason)})` : ""
        console.log(`   event: ${event._tag}${id}${reason}`)
        if (match(event)) return event
      }
    })
  const restartedChild = (id: string) => (event: SupervisorEvents.SupervisorEvent) =>
    event._tag === "ChildRestarted" && event.id === id
  const names = ["cache", "reader", "parser", "writer"]

  console.log("1. start the tree: root (one_for_one) -> cache, pipeline (rest_for_one) -> reader, parser, writer")
  const root = yield* Supervisor.start(tree)
  yield* until((event) => event._tag === "ChildStarted" && event.id === "pipeline")
  console.log(`   ${yield* pids(names)}`)

  console.log("2. the cache crashes: one_for_one restarts the cache only")
  yield* GenServer.cast("cache", Stage.Crash())
  yield* until(restartedChild("cache"))
  console.log(`   ${yield* pids(names)}`)

  console.log("3. the parser crashes: rest_for_one restarts the parser and the writer, the reader keeps its pid")
  yield* GenServer.cast("parser", Stage.Crash())
  yield* until(restartedChild("writer"))
  console.log(`   ${yield* pids(names)}`)
  console.log(`   ${yield* GenServer.call("parser", Stage.Ping())}`)

  console.log("4. the cache crashes three times more within 5 seconds: the root gives up and stops the tree")
  for (let i = 0; i < 2; i++) {
    yield* GenServer.cast("cache", Stage.Crash())
    yield* until(restartedChild("cache"))
  }
  yield* GenServer.cast("cache", Stage.Crash())
  const stopped = yield* until((event) => event._tag === "SupervisorStopped" && Pid.equals(event.supervisor, root))
  console.log(`   the root stopped (${"reason" in stopped ? short(stopped.reason) : ""}); left: ${yield* pids(names)}`)
})

NodeRuntime.runMain(
  program.pipe(
    Effect.scoped,
    Effect.provide(ProcessRuntime.layer({ node: "tree@127.0.0.1" }).pipe(Layer.provideMerge(SupervisorEvents.layer()))),
    // The crashes are on purpose: their crash reports (level Error) would repeat what is printed here.
    Effect.provideService(References.MinimumLogLevel, "None")
  )
)
