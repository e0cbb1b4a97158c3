/**
 * Ordinary supervisors reachable from other nodes, as OTP's `supervisor:start_child({Sup, Node},
 * Spec)`: start, stop (terminate), restart, delete and list the children of a supervisor registered
 * under a name on another node.
 *
 * A child spec cannot cross the wire as it is (its start is an effect), so a remote child spec names
 * a behaviour of the `BehaviourRegistry` and carries its start arguments, encoded with the
 * behaviour's schema. The target node builds `ChildSpec.genServer` from the behaviour registered
 * there (with the services of that node's layer) and adds it to its supervisor. That node must run
 * {@link layer} (the agent that does this); terminate, restart, delete, `whichChildren` and
 * `countChildren` go to the supervisor itself and need no agent.
 *
 * Failures are those of the local operations plus those of distribution: `NodeDown` at once when
 * the node is not connected or goes down while the request is pending (whether it took effect there
 * is then unknown), `CallTimeout` past `options.timeout` (default 30 s: a supervisor may be slow
 * while it starts a child), `NoProcess` when no supervisor is registered under the name there,
 * `UnknownBehaviour` when the node has not registered the behaviour, `RemoteDecodeError` when the
 * arguments do not encode here or do not decode there.
 *
 * @since 0.1.0
 */
import { type Duration, Effect, Layer, Schema } from "effect"
import { toMillis } from "../internal/timers.ts"
import { RemoteDecodeError } from "../Process/Errors.ts"
import * as GenServer from "../Process/GenServer.ts"
import type { Pid } from "../Process/Pid.ts"
import { ProcessRuntime } from "../Process/ProcessRuntime.ts"
import * as RemoteName from "../Process/RemoteName.ts"
import type { RestartType, Shutdown } from "../Supervisor/ChildSpec.ts"
import type {
  ChildAlreadyPresent,
  ChildAlreadyStarted,
  ChildNotFound,
  ChildRunning,
  ChildStartFailed,
  InvalidChildSpec
} from "../Supervisor/Errors.ts"
import { SupervisorProtocol } from "../Supervisor/internal/protocol.ts"
import type { ChildCounts, ChildInfo } from "../Supervisor/Supervisor.ts"
import { type BehaviourSpec, BehaviourRegistry, type UnknownBehaviour } from "./BehaviourRegistry.ts"
import { AgentProtocol, agent, agentName } from "./internal/distSupAgent.ts"

/**
 * A supervisor registered under `name` on `node` (Erlang's `{Sup, Node}`).
 *
 * @example
 * ```ts
 * import { RemoteSupervisor } from "effect-otp"
 *
 * const workersOnB = RemoteSupervisor.ref("workers", "b")
 * console.log(String(workersOnB)) // workers@b
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const ref = (name: string, node: string): RemoteName.RemoteName => RemoteName.make(name, node)

/**
 * A child spec that can cross the wire: the child's id, a behaviour registered on the target node,
 * its start arguments, and the child's restart, shutdown and local registered name.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { BehaviourRegistry, GenServer, Protocol, RemoteSupervisor } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const CounterSpec = BehaviourRegistry.define(
 *   "counter",
 *   Schema.Number,
 *   GenServer.behaviour(Counter)({
 *     init: (n: number) => Effect.succeed(n),
 *     handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 *   })
 * )
 * const spec: RemoteSupervisor.RemoteChildSpec<number, typeof Counter> = {
 *   id: "counter-1",
 *   behaviour: CounterSpec,
 *   args: 0,
 *   restart: "transient",
 *   name: "counter-1"
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RemoteChildSpec<Args, P = unknown> {
  readonly id: string
  readonly behaviour: BehaviourSpec<Args, P, unknown>
  readonly args: Args
  /** Default `permanent`. */
  readonly restart?: RestartType | undefined
  /** Default 5 seconds. A `Duration` is sent as milliseconds. */
  readonly shutdown?: Shutdown | undefined
  /** Register the child under this name on its node. */
  readonly name?: string | undefined
}

/**
 * Options of the remote operations.
 *
 * @example
 * ```ts
 * import { RemoteSupervisor } from "effect-otp"
 *
 * const options: RemoteSupervisor.RemoteOptions = { timeout: "10 seconds" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface RemoteOptions {
  /** How long to wait for the answer (a number is milliseconds). Default 30 seconds. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * What a remote request may fail with besides the operation's own errors.
 *
 * @category errors
 * @since 0.1.0
 */
export type RemoteError = GenServer.CallError

/**
 * What {@link startChild} may fail with.
 *
 * @category errors
 * @since 0.1.0
 */
export type StartChildError =
  UnknownBehaviour | InvalidChildSpec | ChildAlreadyStarted | ChildAlreadyPresent | ChildStartFailed | RemoteError

const DEFAULT_TIMEOUT = 30_000

const call = <A, E>(
  supervisor: RemoteName.RemoteName,
  request: unknown,
  options: RemoteOptions | undefined
): Effect.Effect<A, E | RemoteError, ProcessRuntime> =>
  GenServer.call(supervisor, request as never, {
    timeout: options?.timeout ?? DEFAULT_TIMEOUT
  }) as unknown as Effect.Effect<A, E | RemoteError, ProcessRuntime>

/**
 * Adds a child to the supervisor registered as `supervisor.name` on `supervisor.node`, built
 * there from the behaviour `spec.behaviour` with `spec.args`, and starts it; resolves to its pid
 * (typed by the behaviour's protocol). The node must run {@link layer}; without it the request fails
 * with `NoProcess` (naming the agent). Other failures: see the module documentation.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { BehaviourRegistry, GenServer, Protocol, RemoteSupervisor } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const CounterSpec = BehaviourRegistry.define(
 *   "counter",
 *   Schema.Number,
 *   GenServer.behaviour(Counter)({
 *     init: (n: number) => Effect.succeed(n),
 *     handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 *   })
 * )
 *
 * const program = Effect.gen(function*() {
 *   const workers = RemoteSupervisor.ref("workers", "b")
 *   const pid = yield* RemoteSupervisor.startChild(workers, { id: "c1", behaviour: CounterSpec, args: 41 })
 *   const value = yield* GenServer.call(pid, Counter.Get())
 *   yield* RemoteSupervisor.terminateChild(workers, "c1")
 *   yield* RemoteSupervisor.deleteChild(workers, "c1")
 *   return value
 * })
 * ```
 *
 * @category child operations
 * @since 0.1.0
 */
export const startChild = <Args, P>(
  supervisor: RemoteName.RemoteName,
  spec: RemoteChildSpec<Args, P>,
  options?: RemoteOptions
): Effect.Effect<GenServer.ServerPid<P>, StartChildError | RemoteDecodeError, ProcessRuntime> =>
  Effect.suspend(() => {
    const encoded = Schema.encodeUnknownResult(spec.behaviour.args)(spec.args)
    if (encoded._tag === "Failure") {
      return Effect.fail(
        new RemoteDecodeError({
          node: supervisor.node,
          what: `start arguments of ${spec.behaviour.name}`,
          detail: encoded.failure.message
        })
      )
    }
    const shutdown = spec.shutdown
    const request = AgentProtocol.StartChild({
      supervisor: supervisor.name,
      id: spec.id,
      behaviour: spec.behaviour.name,
      args: encoded.success,
      ...(spec.restart === undefined ? {} : { restart: spec.restart }),
      ...(shutdown === undefined
        ? {}
        : { shutdown: shutdown === "brutal" || shutdown === "infinity" ? shutdown : toMillis(shutdown) }),
      ...(spec.name === undefined ? {} : { name: spec.name })
    })
    return call<GenServer.ServerPid<P>, StartChildError | RemoteDecodeError>(
      RemoteName.make(agentName, supervisor.node),
      request,
      options
    )
  })

/**
 * Stops a child of a remote supervisor (its spec stays, except for a temporary child), as
 * `Supervisor.terminateChild` does locally.
 *
 * @example
 * ```ts
 * import { RemoteSupervisor } from "effect-otp"
 *
 * const stopped = RemoteSupervisor.terminateChild(RemoteSupervisor.ref("workers", "b"), "c1", { timeout: 5000 })
 * ```
 *
 * @category child operations
 * @since 0.1.0
 */
export const terminateChild = (
  supervisor: RemoteName.RemoteName,
  id: string,
  options?: RemoteOptions
): Effect.Effect<void, ChildNotFound | RemoteError, ProcessRuntime> =>
  call(supervisor, SupervisorProtocol.TerminateChild({ id }), options)

/**
 * Starts a stopped child of a remote supervisor again from its spec, as `Supervisor.restartChild`.
 *
 * @example
 * ```ts
 * import { RemoteSupervisor } from "effect-otp"
 *
 * const pid = RemoteSupervisor.restartChild(RemoteSupervisor.ref("workers", "b"), "c1")
 * ```
 *
 * @category child operations
 * @since 0.1.0
 */
export const restartChild = (
  supervisor: RemoteName.RemoteName,
  id: string,
  options?: RemoteOptions
): Effect.Effect<Pid, ChildNotFound | ChildRunning | ChildStartFailed | RemoteError, ProcessRuntime> =>
  call(supervisor, SupervisorProtocol.RestartChild({ id }), options)

/**
 * Removes the spec of a stopped child of a remote supervisor, as `Supervisor.deleteChild`.
 *
 * @example
 * ```ts
 * import { RemoteSupervisor } from "effect-otp"
 *
 * const deleted = RemoteSupervisor.deleteChild(RemoteSupervisor.ref("workers", "b"), "c1")
 * ```
 *
 * @category child operations
 * @since 0.1.0
 */
export const deleteChild = (
  supervisor: RemoteName.RemoteName,
  id: string,
  options?: RemoteOptions
): Effect.Effect<void, ChildNotFound | ChildRunning | RemoteError, ProcessRuntime> =>
  call(supervisor, SupervisorProtocol.DeleteChild({ id }), options)

/**
 * The children of a remote supervisor, in start order, with their status and pids.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RemoteSupervisor } from "effect-otp"
 *
 * const running = Effect.map(RemoteSupervisor.whichChildren(RemoteSupervisor.ref("workers", "b")), (children) =>
 *   children.filter((child) => child.status === "running")
 * )
 * ```
 *
 * @category introspection
 * @since 0.1.0
 */
export const whichChildren = (
  supervisor: RemoteName.RemoteName,
  options?: RemoteOptions
): Effect.Effect<ReadonlyArray<ChildInfo>, RemoteError, ProcessRuntime> =>
  call(supervisor, SupervisorProtocol.WhichChildren(), options)

/**
 * The counts of a remote supervisor's children, as `Supervisor.countChildren`.
 *
 * @example
 * ```ts
 * import { RemoteSupervisor } from "effect-otp"
 *
 * const counts = RemoteSupervisor.countChildren(RemoteSupervisor.ref("workers", "b"))
 * ```
 *
 * @category introspection
 * @since 0.1.0
 */
export const countChildren = (
  supervisor: RemoteName.RemoteName,
  options?: RemoteOptions
): Effect.Effect<ChildCounts, RemoteError, ProcessRuntime> =>
  call(supervisor, SupervisorProtocol.CountChildren(), options)

/**
 * Runs this node's remote supervisor agent (registered as `effect_otp_remote_supervisor`) for as
 * long as the layer lives, so that other nodes can add children to its supervisors with
 * {@link startChild}. It reads the node's `BehaviourRegistry` (provided by `Distribution.layer`).
 * A crash of the agent fails only the request it was serving; it is not restarted.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Distribution, RemoteSupervisor } from "effect-otp"
 *
 * const NodeLive = RemoteSupervisor.layer.pipe(
 *   Layer.provideMerge(Distribution.layer({ nodeName: "b", port: 4371, secret: "s3cret" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<never, never, ProcessRuntime | BehaviourRegistry> = Layer.effectDiscard(
  Effect.gen(function* () {
    const registry = yield* BehaviourRegistry
    const runtime = yield* ProcessRuntime
    yield* Effect.acquireRelease(
      Effect.orDie(GenServer.start(agent(registry, runtime.node), undefined, { name: agentName })),
      (pid) => Effect.ignore(GenServer.stop(pid))
    )
  })
)
