/**
 * Supervisor lifecycle events (a child started, exited, restarted; a supervisor escalated or
 * stopped), published as a `Stream` for observers.
 *
 * Supervisors publish to the {@link SupervisorEvents} service found in the context they were
 * started with. Without the service, nothing is published (and nothing is paid for); the same
 * events are always written as log lines (abnormal exits at warning level, escalations at error
 * level, the rest at debug level), and restarts are traced as `Supervisor.restart` spans when a
 * tracer is installed.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, PubSub, Schema, type Scope, Stream } from "effect"
import * as ExitReason from "../Process/ExitReason.ts"
import { Pid } from "../Process/Pid.ts"

/**
 * A child was started: at supervisor start-up, by `startChild`, or by `restartChild`. `id` is
 * absent for the children of a dynamic supervisor.
 *
 * @category events
 * @since 0.1.0
 */
export class ChildStarted extends Schema.TaggedClass<ChildStarted>()("ChildStarted", {
  supervisor: Pid,
  id: Schema.optional(Schema.String),
  pid: Pid
}) {}

/**
 * A child exited. `bySupervisor` is true when the supervisor stopped it (shutdown, a restart of
 * its group, `terminateChild`), false when it exited by itself (a crash, a normal end, a signal
 * from elsewhere).
 *
 * @category events
 * @since 0.1.0
 */
export class ChildExited extends Schema.TaggedClass<ChildExited>()("ChildExited", {
  supervisor: Pid,
  id: Schema.optional(Schema.String),
  pid: Pid,
  reason: ExitReason.ExitReason,
  bySupervisor: Schema.Boolean
}) {}

/**
 * A child was started again by its supervisor after an exit (its own, or a sibling's under
 * `one_for_all` / `rest_for_one`).
 *
 * @category events
 * @since 0.1.0
 */
export class ChildRestarted extends Schema.TaggedClass<ChildRestarted>()("ChildRestarted", {
  supervisor: Pid,
  id: Schema.optional(Schema.String),
  pid: Pid
}) {}

/**
 * A child's start effect failed. During a restart the supervisor retries (each attempt counts
 * toward its restart intensity).
 *
 * @category events
 * @since 0.1.0
 */
export class ChildStartError extends Schema.TaggedClass<ChildStartError>()("ChildStartError", {
  supervisor: Pid,
  id: Schema.optional(Schema.String),
  reason: ExitReason.ExitReason
}) {}

/**
 * A supervisor reached its maximum restart intensity (more than `maxRestarts` restarts `within`
 * its window): it stops all its children and exits with `reason`
 * (`shutdown("reached_max_restart_intensity")`), escalating the failure to its parent.
 * `within` is encoded as milliseconds.
 *
 * @category events
 * @since 0.1.0
 */
export class SupervisorEscalated extends Schema.TaggedClass<SupervisorEscalated>()("SupervisorEscalated", {
  supervisor: Pid,
  reason: ExitReason.ExitReason,
  maxRestarts: Schema.Number,
  within: Schema.DurationFromMillis
}) {}

/**
 * A supervisor stopped all its children and is exiting with `reason`.
 *
 * @category events
 * @since 0.1.0
 */
export class SupervisorStopped extends Schema.TaggedClass<SupervisorStopped>()("SupervisorStopped", {
  supervisor: Pid,
  reason: ExitReason.ExitReason
}) {}

/**
 * Any supervisor lifecycle event.
 *
 * @category events
 * @since 0.1.0
 */
export type SupervisorEvent =
  ChildStarted | ChildExited | ChildRestarted | ChildStartError | SupervisorEscalated | SupervisorStopped

/**
 * The schema of {@link SupervisorEvent} (to ship events to a remote observer).
 *
 * @category schemas
 * @since 0.1.0
 */
export const SupervisorEvent = Schema.Union([
  ChildStarted,
  ChildExited,
  ChildRestarted,
  ChildStartError,
  SupervisorEscalated,
  SupervisorStopped
])

/**
 * Options of {@link SupervisorEvents.layer}.
 *
 * @category models
 * @since 0.1.0
 */
export interface SupervisorEventsOptions {
  /**
   * Events buffered per subscriber. A subscriber that falls further behind loses the oldest
   * events (the supervisors never wait for observers). Default 10,000.
   */
  readonly capacity?: number | undefined
}

/**
 * The node's supervisor event hub. Provide it where supervisors are started (it is looked up in
 * the context a supervisor is started with) and where observers subscribe.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { ProcessRuntime, Supervisor, SupervisorEvents } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const events = yield* SupervisorEvents.subscribe
 *   const sup = yield* Supervisor.start({ children: [] })
 *   yield* Supervisor.stop(sup)
 *   const [stopped] = yield* Stream.runCollect(Stream.take(events, 1))
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide([ProcessRuntime.layer(), SupervisorEvents.layer()])
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class SupervisorEvents extends Context.Service<
  SupervisorEvents,
  {
    /** Publishes an event to every current subscriber, without waiting. */
    readonly publish: (event: SupervisorEvent) => void
    /** The hub itself. */
    readonly pubsub: PubSub.PubSub<SupervisorEvent>
  }
>()("effect-otp/SupervisorEvents") {
  /**
   * An event hub that lives as long as the layer.
   *
   * @since 0.1.0
   */
  static readonly layer = (options?: SupervisorEventsOptions): Layer.Layer<SupervisorEvents> =>
    Layer.effect(
      SupervisorEvents,
      Effect.map(
        Effect.acquireRelease(PubSub.sliding<SupervisorEvent>(options?.capacity ?? 10_000), PubSub.shutdown),
        (pubsub) =>
          SupervisorEvents.of({
            pubsub,
            publish: (event) => {
              PubSub.publishUnsafe(pubsub, event)
            }
          })
      )
    )
}

/**
 * An event hub; see {@link SupervisorEvents.layer}.
 *
 * @category services
 * @since 0.1.0
 */
export const layer = (options?: SupervisorEventsOptions): Layer.Layer<SupervisorEvents> =>
  SupervisorEvents.layer(options)

/**
 * The events published from now on, as a stream that subscribes when it starts running. Use
 * {@link subscribe} when no event may be missed between setting up and running the stream.
 *
 * @category subscribing
 * @since 0.1.0
 */
export const stream: Stream.Stream<SupervisorEvent, never, SupervisorEvents> = Stream.unwrap(
  SupervisorEvents.useSync((events) => Stream.fromPubSub(events.pubsub))
)

/**
 * Subscribes now (for the life of the scope) and returns the stream of events published from
 * this point on: nothing published after `subscribe` returns is missed, however late the stream
 * is run.
 *
 * @category subscribing
 * @since 0.1.0
 */
export const subscribe: Effect.Effect<
  Stream.Stream<SupervisorEvent>,
  never,
  SupervisorEvents | Scope.Scope
> = SupervisorEvents.use((events) =>
  Effect.map(PubSub.subscribe(events.pubsub), (subscription) => Stream.fromSubscription(subscription))
)
