/**
 * The demo application on one node: its settings from the environment (`DEMO_*`), and the layer
 * that runs the dispatcher's supervision tree on the dispatcher node (nothing but the membership
 * log on the others: their workers are spawned there by the dispatcher).
 *
 * @internal
 */
import { Config, Effect, Layer } from "effect"
import * as Cluster from "../../Cluster/Cluster.ts"
import type * as Distribution from "../../Cluster/Distribution.ts"
import type * as ProcessRuntime from "../../Process/ProcessRuntime.ts"
import * as ChildSpec from "../../Supervisor/ChildSpec.ts"
import * as Supervisor from "../../Supervisor/Supervisor.ts"
import { jobs, logMembership, placement, producer, type Settings, WorkerSpec } from "./jobQueue.ts"

/** Which part of the demo a node runs. */
export type Role = "dispatcher" | "worker"

/** The demo's own settings. */
export interface DemoSettings extends Settings {
  readonly role: "dispatcher" | "worker" | "auto"
}

/**
 * `DEMO_ROLE` (`dispatcher`, `worker` or `auto`, the default: the dispatcher is the node whose
 * name ends in `-0`, like pod 0 of a StatefulSet), `DEMO_JOB_INTERVAL_MS` (default 250),
 * `DEMO_WORK_MS` (default 20), `DEMO_CALL_TIMEOUT_MS` (default 5000).
 */
export const settings: Config.Config<DemoSettings> = Config.all({
  role: Config.Literals(["dispatcher", "worker", "auto"], "DEMO_ROLE").pipe(Config.withDefault("auto" as const)),
  jobIntervalMs: Config.Int("DEMO_JOB_INTERVAL_MS").pipe(Config.withDefault(250)),
  workMs: Config.Int("DEMO_WORK_MS").pipe(Config.withDefault(20)),
  callTimeoutMs: Config.Int("DEMO_CALL_TIMEOUT_MS").pipe(Config.withDefault(5000))
})

/** The role of node `name` under `setting`. */
export const roleOf = (setting: DemoSettings["role"], name: string): Role =>
  setting === "auto" ? (/-0$/.test(name) ? "dispatcher" : "worker") : setting

/** The behaviours every demo node lets others spawn on it. */
export const behaviours = [WorkerSpec] as const

/**
 * The application's layer: the membership log on every node; on the dispatcher, a supervision
 * tree (one_for_one) of the `jobs` queue, the producer and placement. Released in reverse order
 * when the node stops.
 */
export const layer: Layer.Layer<
  never,
  Config.ConfigError | Supervisor.StartError,
  Cluster.Cluster | Distribution.Distribution | ProcessRuntime.ProcessRuntime
> = Layer.unwrap(
  Effect.gen(function* () {
    const demo = yield* settings
    const local = yield* Cluster.localNode
    const role = roleOf(demo.role, local.name)
    const membership = Layer.effectDiscard(
      Effect.andThen(
        Effect.logInfo(`demo node ${local.name} runs as ${role}`).pipe(
          Effect.annotateLogs({ "demo.event": "role", role })
        ),
        Effect.forkScoped(logMembership)
      )
    )
    if (role === "worker") return membership
    const tree = Supervisor.layer({
      strategy: "one_for_one",
      children: [ChildSpec.genServer("jobs", jobs, undefined, { name: "jobs" }), producer(demo), placement(demo)]
    })
    return Layer.merge(membership, tree)
  })
)
