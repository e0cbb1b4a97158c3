/**
 * The distributed supervisor's server: places children on nodes with its selector, starts them
 * (locally with `GenServer.startLink`, elsewhere with a linked remote spawn), and restarts them when
 * they exit, on a surviving node when their node was lost. It traps exits: a child's exit, or the
 * `noconnection` exit of a child whose node went down, arrives as an `Exit` message.
 *
 * @internal
 */
import { Clock, Context, Deferred, Effect, Schedule, Schema } from "effect"
import type { CurrentProcess } from "../../Process/CurrentProcess.ts"
import { NodeDown } from "../../Process/Errors.ts"
import * as ExitReason from "../../Process/ExitReason.ts"
import * as GenServer from "../../Process/GenServer.ts"
import type { Pid } from "../../Process/Pid.ts"
import * as Process from "../../Process/Process.ts"
import type { ProcessRuntime } from "../../Process/ProcessRuntime.ts"
import * as Signal from "../../Process/Signal.ts"
import type { RestartType } from "../../Supervisor/ChildSpec.ts"
import { ChildAlreadyStarted, ChildNotFound } from "../../Supervisor/Errors.ts"
import { Intensity } from "../../Supervisor/internal/intensity.ts"
import { maxIntensityReason } from "../../Supervisor/Supervisor.ts"
import type { GlobalRegistry } from "../GlobalRegistry.ts"
import { type BehaviourRegistry, type BehaviourSpec, UnknownBehaviour } from "../BehaviourRegistry.ts"
import type { Cluster } from "../Cluster.ts"
import type { Distribution } from "../Distribution.ts"
import {
  ChildExited,
  ChildHandedOff,
  type ChildInfo,
  ChildRestarted,
  ChildStarted,
  ChildStartError,
  DistProtocol,
  type Event,
  PlacementFailed,
  SupervisorStopped
} from "./distSupModel.ts"
import * as Handoff from "./distSupHandoff.ts"
import { type Candidate, type PlacementState, type Selector, select } from "./distSupPlacement.ts"

/** A child spec with its defaults filled in. */
export interface ResolvedChild {
  readonly id: string
  readonly behaviour: BehaviourSpec<unknown, unknown, unknown>
  readonly args: unknown
  readonly restart: RestartType
  readonly name: string | undefined
  /** Milliseconds to wait for the child's `init`. */
  readonly startTimeout: number
  /** Milliseconds between the `shutdown` signal and a kill; 0 kills at once. */
  readonly shutdownMs: number
  /** Registered under this global name once started (and adopted by it, see `adopt`). */
  readonly globalName: string | undefined
  /** Set when the child is handed off with its state on a graceful leave (its behaviour supports it). */
  readonly handoff: Handoff.HandoffSupport | undefined
}

/** What the server works with, captured by `start`. */
export interface ServerEnv {
  readonly cluster: Cluster["Service"]
  readonly distribution: Distribution["Service"]
  readonly registry: BehaviourRegistry["Service"]
  readonly node: string
  readonly processCount: () => number
  readonly publish: (event: Event) => void
  readonly selector: Selector
  readonly maxRestarts: number
  readonly withinMs: number
  /** Milliseconds before a failed restart is tried again. */
  readonly retryMs: number
  readonly random: (bound: number) => number
  /** The cluster's global registry, when the children have global names. */
  readonly global: GlobalRegistry["Service"] | undefined
  /**
   * Monitor the children instead of linking them (the singleton: children outlive the supervisor's
   * node and are adopted by the instance that takes over).
   */
  readonly monitorChildren: boolean
  /** When the supervisor stops, stop only the children on its own node (the singleton). */
  readonly stopOnlyLocal: boolean
  /** Milliseconds an old instance keeps forwarding after its global name moved to the new one. */
  readonly handoffLingerMs: number
}

interface Child {
  readonly spec: ResolvedChild
  pid: Pid | undefined
  node: string | undefined
  status: "running" | "restarting"
  /** The node it ran on before its last exit. */
  previousNode: string | undefined
  nodeLost: boolean
}

interface State {
  readonly children: Map<string, Child>
  readonly byPid: Map<string, string>
  readonly intensity: Intensity
  readonly placement: PlacementState
  /** Nodes being left (see `Handoff`): no child is placed there until they are seen gone. */
  readonly leaving: Set<string>
}

type Handled = Effect.Effect<GenServer.HandleResult<State>, never, ProcessRuntime | CurrentProcess>

/** Asks the server to try a failed restart again. */
class Retry {
  constructor(readonly id: string) {}
}

const candidatesOf = (
  env: ServerEnv,
  tried: ReadonlySet<string>,
  leaving: Set<string>
): Effect.Effect<ReadonlyArray<Candidate>> =>
  Effect.map(env.cluster.nodes, (nodes) => {
    const all: Array<Candidate> = [{ node: env.node, processCount: env.processCount(), local: true }]
    for (const info of nodes) {
      if (info.status === "running") all.push({ node: info.id, processCount: info.processCount, local: false })
    }
    // A node that left (seen gone) may come back under its name: it is a candidate again then.
    for (const node of leaving) if (!all.some((candidate) => candidate.node === node)) leaving.delete(node)
    return all
      .filter((candidate) => !tried.has(candidate.node) && !leaving.has(candidate.node))
      .sort((x, y) => (x.node < y.node ? -1 : 1))
  })

type StartFailure = { readonly message: string; readonly _tag: string }

const REGISTER_RETRY_MS = 20
const REGISTER_RETRIES = 25

/** Starts `spec` on `node` (linked or monitored), then registers its global name if it has one. */
const startOn = (
  env: ServerEnv,
  node: string,
  spec: ResolvedChild
): Effect.Effect<Pid, StartFailure, ProcessRuntime> => {
  const started = startBare(env, node, spec)
  const global = env.global
  const globalName = spec.globalName
  if (globalName === undefined || global === undefined) return started
  return Effect.flatMap(started, (pid) =>
    Effect.as(
      Effect.onError(
        // After a node loss, the registry's arbiter may not have dropped the lost node's names yet
        // (each node sees the link go down on its own): a NameTaken is tried again for a while.
        Effect.retry(global.register(globalName, pid), {
          while: (error) => error._tag === "NameTaken",
          schedule: Schedule.spaced(REGISTER_RETRY_MS),
          times: REGISTER_RETRIES
        }),
        () => Effect.ignore(Process.kill(pid))
      ),
      pid
    )
  )
}

const startBare = (
  env: ServerEnv,
  node: string,
  spec: ResolvedChild
): Effect.Effect<Pid, StartFailure, ProcessRuntime> => {
  if (node !== env.node) {
    return Effect.map(
      env.distribution.spawn(node, spec.behaviour, spec.args, {
        link: !env.monitorChildren,
        monitor: env.monitorChildren,
        name: spec.name,
        timeout: spec.startTimeout
      }),
      (spawned) => spawned.pid as Pid
    )
  }
  const registered = env.registry.get(spec.behaviour.name)
  if (registered === undefined) {
    return Effect.fail(
      new UnknownBehaviour({ node, detail: `behaviour "${spec.behaviour.name}" is not registered on ${node}` })
    )
  }
  const behaviour = registered.behaviour as GenServer.Behaviour<unknown, unknown, unknown, unknown>
  const options = { timeout: spec.startTimeout, ...(spec.name === undefined ? {} : { name: spec.name }) }
  const started = (
    env.monitorChildren
      ? Effect.tap(GenServer.start(behaviour, spec.args, options), (pid) => Process.monitor(pid))
      : GenServer.startLink(behaviour, spec.args, options)
  ) as Effect.Effect<Pid, StartFailure, ProcessRuntime>
  const services = registered.services
  return services === undefined
    ? started
    : Effect.updateContext(started, (context: Context.Context<ProcessRuntime>) => Context.merge(context, services))
}

/** Whether a failed start on one node should be tried on another. */
const tryElsewhere = (error: StartFailure): boolean =>
  error instanceof NodeDown ||
  error instanceof UnknownBehaviour ||
  error instanceof GenServer.CallTimeout ||
  error._tag === "NotAProcess"

/** Places `spec` on a node chosen by the selector, trying the next choice when a node cannot take it. */
const place = (
  env: ServerEnv,
  state: State,
  spec: ResolvedChild,
  exclude: ReadonlySet<string>
): Effect.Effect<{ readonly pid: Pid; readonly node: string }, PlacementFailed, ProcessRuntime> => {
  const tried = new Set(exclude)
  const problems: Array<string> = []
  const attempt: Effect.Effect<{ readonly pid: Pid; readonly node: string }, PlacementFailed, ProcessRuntime> =
    Effect.flatMap(
      Effect.suspend(() => candidatesOf(env, tried, state.leaving)),
      (candidates) => {
        const node = select(env.selector, candidates, spec.id, state.placement)
        if (node === undefined) {
          return Effect.fail(
            new PlacementFailed({
              id: spec.id,
              detail: problems.length === 0 ? "the selector chose no node" : problems.join("; ")
            })
          )
        }
        return Effect.catch(
          Effect.map(startOn(env, node, spec), (pid) => ({ pid, node })),
          (error: StartFailure) => {
            problems.push(`${node}: ${error.message}`)
            if (!tryElsewhere(error))
              return Effect.fail(new PlacementFailed({ id: spec.id, detail: problems.join("; ") }))
            tried.add(node)
            return attempt
          }
        )
      }
    )
  return attempt
}

const key = (pid: Pid): string => String(pid)

/**
 * The live process already holding the child's global name, watched (monitored or linked) as a
 * child: how an instance that takes over finds the children that still run.
 */
const adopt = (
  env: ServerEnv,
  spec: ResolvedChild
): Effect.Effect<{ readonly pid: Pid; readonly node: string } | undefined, never, ProcessRuntime> => {
  const pid = spec.globalName === undefined ? undefined : env.global?.whereisUnsafe(spec.globalName)
  if (pid === undefined) return Effect.succeed(undefined)
  const watch = env.monitorChildren ? Effect.asVoid(Process.monitor(pid)) : Effect.ignore(Process.link(pid))
  return Effect.as(Effect.orDie(watch), { pid, node: pid.node })
}

const record = (state: State, child: Child, placed: { readonly pid: Pid; readonly node: string }) => {
  child.pid = placed.pid
  child.node = placed.node
  child.status = "running"
  state.byPid.set(key(placed.pid), child.spec.id)
}

/** A child newly started (or adopted) at `placed`: entered in the state and announced. */
const addChild = (
  env: ServerEnv,
  state: State,
  spec: ResolvedChild,
  placed: { readonly pid: Pid; readonly node: string },
  adopted: boolean
): void => {
  const child: Child = {
    spec,
    pid: undefined,
    node: undefined,
    status: "running",
    previousNode: undefined,
    nodeLost: false
  }
  state.children.set(spec.id, child)
  record(state, child, placed)
  env.publish(new ChildStarted({ id: spec.id, pid: placed.pid, node: placed.node, adopted }))
}

/** Stops one child: a `shutdown` exit signal, then a kill if it has not exited within its shutdown time. */
const stopChild = (pid: Pid, shutdownMs: number): Effect.Effect<void, never, ProcessRuntime> =>
  shutdownMs <= 0
    ? Effect.ignore(Process.kill(pid))
    : Effect.gen(function* () {
        yield* Effect.ignore(Process.exit(pid, ExitReason.shutdown()))
        const exited = yield* Effect.timeoutOption(Process.awaitExit(pid), shutdownMs)
        if (exited._tag === "None") yield* Effect.ignore(Process.kill(pid))
      })

/** Stops every running child (only those on this node for the singleton), in reverse start order. */
const stopAll = (env: ServerEnv, state: State): Effect.Effect<void, never, ProcessRuntime> =>
  Effect.forEach(
    [...state.children.values()].reverse(),
    (child) => {
      const pid = child.pid
      if (pid === undefined || (env.stopOnlyLocal && pid.node !== env.node)) return Effect.void
      state.byPid.delete(key(pid))
      child.pid = undefined
      return stopChild(pid, child.spec.shutdownMs)
    },
    { discard: true }
  )

/** Counts a restart (on the monotonic clock); true when the intensity is exceeded. */
const countRestart = (state: State): Effect.Effect<boolean> =>
  Clock.clockWith((clock) =>
    Effect.sync(() => !state.intensity.add(Number(clock.monotonicTimeNanosUnsafe() / 1_000_000n)))
  )

const giveUp = (env: ServerEnv, state: State): Handled =>
  Effect.as(stopAll({ ...env, stopOnlyLocal: false }, state), GenServer.stopWith(maxIntensityReason, state))

const restart = (env: ServerEnv, state: State, child: Child): Handled =>
  Effect.matchEffect(
    place(env, state, child.spec, child.nodeLost && child.previousNode ? new Set([child.previousNode]) : new Set()),
    {
      onFailure: (error) =>
        Effect.gen(function* () {
          env.publish(new ChildStartError({ id: child.spec.id, detail: error.detail }))
          yield* Process.sendAfter(yield* GenServer.self, new Retry(child.spec.id), env.retryMs)
          return GenServer.noReply(state)
        }),
      onSuccess: (placed) =>
        Effect.sync(() => {
          record(state, child, placed)
          env.publish(
            new ChildRestarted({
              id: child.spec.id,
              pid: placed.pid,
              node: placed.node,
              previousNode: child.previousNode ?? placed.node,
              nodeLost: child.nodeLost
            })
          )
          return GenServer.noReply(state)
        })
    }
  )

const onExit = (
  env: ServerEnv,
  state: State,
  exit: { readonly pid: Pid; readonly reason: ExitReason.ExitReason }
): Handled => {
  const id = state.byPid.get(key(exit.pid))
  const child = id === undefined ? undefined : state.children.get(id)
  if (child === undefined) return Effect.succeed(GenServer.noReply(state))
  state.byPid.delete(key(exit.pid))
  env.publish(
    new ChildExited({ id: child.spec.id, pid: exit.pid, node: child.node ?? exit.pid.node, reason: exit.reason })
  )
  const again =
    child.spec.restart === "permanent" || (child.spec.restart === "transient" && !ExitReason.isGraceful(exit.reason))
  if (!again) {
    state.children.delete(child.spec.id)
    return Effect.succeed(GenServer.noReply(state))
  }
  child.previousNode = child.node
  child.nodeLost = exit.reason._tag === "NoConnection"
  child.pid = undefined
  child.node = undefined
  child.status = "restarting"
  if (child.nodeLost) return restart(env, state, child)
  return Effect.flatMap(countRestart(state), (exceeded) => (exceeded ? giveUp(env, state) : restart(env, state, child)))
}

// ---------------------------------------------------------------------------------------------
// Handoff (a graceful leave)

/** Registers `pid` under `globalName`, retrying a `NameTaken` while the old owner's release spreads. */
const registerName = (env: ServerEnv, globalName: string, pid: Pid) =>
  Effect.retry(env.global!.register(globalName, pid), {
    while: (error) => error._tag === "NameTaken",
    schedule: Schedule.spaced(REGISTER_RETRY_MS),
    times: REGISTER_RETRIES
  })

/**
 * Asks the old instance for its state (it answers after the messages before the request): a
 * helper process receives the answer, or the `Down` of the old instance if it exits first.
 */
const freezeOf = (old: Pid, timeoutMs: number): Effect.Effect<Handoff.Frozen | undefined, never, ProcessRuntime> =>
  Effect.gen(function* () {
    const answer = yield* Deferred.make<Handoff.Frozen | undefined>()
    const ref = String(old)
    const helper = yield* Effect.orDie(
      Process.spawn((self) =>
        Effect.gen(function* () {
          yield* Process.monitor(old)
          yield* Effect.ignore(Process.send(old, Handoff.freeze(ref, self.pid)))
          while (true) {
            const message = yield* self.receive
            if (Handoff.isFrozen(message) && message.ref === ref) return yield* Deferred.succeed(answer, message)
            if (message instanceof Signal.Down) return yield* Deferred.succeed(answer, undefined)
          }
        })
      )
    )
    const frozen = yield* Effect.timeoutOption(Deferred.await(answer), timeoutMs)
    yield* Effect.ignore(Process.kill(helper))
    return frozen._tag === "Some" ? frozen.value : undefined
  })

/** Moves one child off its node: with its state if it declares handoff and gives it, else afresh. */
const moveChild = (
  env: ServerEnv,
  state: State,
  child: Child
): Effect.Effect<Pid | undefined, never, ProcessRuntime | CurrentProcess> =>
  Effect.gen(function* () {
    const old = child.pid!
    const previousNode = child.node ?? old.node
    const support = child.spec.handoff
    const frozen =
      support === undefined ? undefined : yield* freezeOf(old, Math.min(child.spec.shutdownMs, 30_000) || 5000)
    const carried =
      frozen !== undefined && frozen.ok ? Schema.decodeUnknownResult(support!.state)(frozen.state) : undefined
    if (carried === undefined || carried._tag === "Failure") {
      // No state to carry (no handoff, or the old instance could not give it): stop it, start afresh.
      if (frozen?.ok === true) yield* Effect.ignore(Process.send(old, Handoff.thaw))
      state.byPid.delete(key(old))
      yield* stopChild(old, child.spec.shutdownMs)
      const placed = yield* Effect.result(place(env, state, child.spec, new Set([previousNode])))
      if (placed._tag === "Failure") {
        child.pid = undefined
        child.node = undefined
        child.status = "restarting"
        child.previousNode = previousNode
        env.publish(new ChildStartError({ id: child.spec.id, detail: placed.failure.detail }))
        yield* Process.sendAfter(yield* GenServer.self, new Retry(child.spec.id), env.retryMs)
        return old
      }
      record(state, child, placed.success)
      env.publish(
        new ChildHandedOff({
          id: child.spec.id,
          pid: placed.success.pid,
          node: placed.success.node,
          previousPid: old,
          previousNode,
          withState: false
        })
      )
      return old
    }
    // Start the new instance from the state, without its global name yet.
    const startSpec: ResolvedChild = {
      ...child.spec,
      args: support!.startArgs(carried.success, old),
      globalName: undefined
    }
    const placed = yield* Effect.result(place(env, state, startSpec, new Set([previousNode])))
    if (placed._tag === "Failure") {
      // Nowhere to go: the old instance handles what it held and runs on.
      yield* Effect.ignore(Process.send(old, Handoff.thaw))
      env.publish(new ChildStartError({ id: child.spec.id, detail: placed.failure.detail }))
      return undefined
    }
    const fresh = placed.success.pid
    yield* Effect.ignore(Process.send(old, Handoff.forwardTo(fresh)))
    state.byPid.delete(key(old))
    record(state, child, placed.success)
    const globalName = child.spec.globalName
    if (globalName !== undefined && env.global !== undefined) {
      // One step on every node (no lookup finds the name unowned meanwhile). Should it be refused
      // (an arbiter of an older release, or another pid took the name), the old instance's
      // registration alone is released, and the name is registered to the new instance as soon as
      // it is free (a registration of another pid is left alone).
      const global = env.global
      yield* Effect.catch(global.transfer(globalName, old, fresh), () =>
        Effect.ignore(
          Effect.andThen(
            Effect.suspend(() => {
              const holder = global.whereisUnsafe(globalName)
              return holder !== undefined && String(holder) === String(old)
                ? Effect.asVoid(global.unregister(globalName))
                : Effect.void
            }),
            registerName(env, globalName, fresh)
          )
        )
      )
    }
    // Messages by the global name already on their way to the old instance are forwarded for a while.
    yield* Process.sendAfter(old, Handoff.release, env.handoffLingerMs)
    env.publish(
      new ChildHandedOff({
        id: child.spec.id,
        pid: fresh,
        node: placed.success.node,
        previousPid: old,
        previousNode,
        withState: true
      })
    )
    return old
  })

/** Moves every running child off `node` (in start order); the old instances' pids. */
const leave = (
  env: ServerEnv,
  state: State,
  node: string
): Effect.Effect<Array<Pid>, never, ProcessRuntime | CurrentProcess> =>
  Effect.gen(function* () {
    state.leaving.add(node)
    const moved: Array<Pid> = []
    for (const child of [...state.children.values()]) {
      if (child.pid === undefined || child.pid.node !== node) continue
      const old = yield* moveChild(env, state, child)
      if (old !== undefined) moved.push(old)
    }
    return moved
  })

const info = (child: Child): ChildInfo => ({
  id: child.spec.id,
  ...(child.pid === undefined ? {} : { pid: child.pid }),
  ...(child.node === undefined ? {} : { node: child.node }),
  status: child.status,
  restart: child.spec.restart
})

/** The server's behaviour for `env`, started with the initial children. */
export const server = (env: ServerEnv) =>
  GenServer.behaviour(DistProtocol)({
    name: "distributed_supervisor",
    init: (children: ReadonlyArray<ResolvedChild>) =>
      Effect.gen(function* () {
        const state: State = {
          children: new Map(),
          byPid: new Map(),
          intensity: new Intensity(env.maxRestarts, env.withinMs),
          placement: { next: 0, random: env.random },
          leaving: new Set()
        }
        for (const spec of children) {
          const adopted = yield* adopt(env, spec)
          const placed =
            adopted ?? (yield* Effect.onError(place(env, state, spec, new Set()), () => stopAll(env, state)))
          addChild(env, state, spec, placed, adopted !== undefined)
        }
        return state
      }),
    handleCall: {
      StartChild: ({ spec: raw }, state) =>
        Effect.gen(function* () {
          const spec = raw as ResolvedChild
          const existing = state.children.get(spec.id)
          if (existing !== undefined) {
            return yield* Effect.fail(
              new ChildAlreadyStarted({ id: spec.id, pid: existing.pid ?? (yield* GenServer.self) })
            )
          }
          const placed = yield* place(env, state, spec, new Set())
          addChild(env, state, spec, placed, false)
          return GenServer.reply(placed.pid, state)
        }),
      TerminateChild: ({ id }, state) =>
        Effect.gen(function* () {
          const child = state.children.get(id)
          if (child === undefined) return yield* Effect.fail(new ChildNotFound({ id }))
          state.children.delete(id)
          const pid = child.pid
          if (pid !== undefined) {
            state.byPid.delete(key(pid))
            yield* stopChild(pid, child.spec.shutdownMs)
          }
          return GenServer.reply(undefined, state)
        }),
      Handoff: ({ node }, state) => Effect.map(leave(env, state, node), (moved) => GenServer.reply(moved, state)),
      WhichChildren: (_, state) => Effect.succeed(GenServer.reply([...state.children.values()].map(info), state)),
      CountChildren: (_, state) =>
        Effect.sync(() => {
          const byNode: Record<string, number> = {}
          let active = 0
          for (const child of state.children.values()) {
            if (child.node === undefined) continue
            active++
            byNode[child.node] = (byNode[child.node] ?? 0) + 1
          }
          return GenServer.reply({ specs: state.children.size, active, byNode }, state)
        })
    },
    handleInfo: (message, state): Handled => {
      if (message instanceof Signal.Exit || message instanceof Signal.Down) return onExit(env, state, message)
      if (message instanceof Retry) {
        const child = state.children.get(message.id)
        if (child === undefined || child.status !== "restarting") return Effect.succeed(GenServer.noReply(state))
        return Effect.flatMap(countRestart(state), (exceeded) =>
          exceeded ? giveUp(env, state) : restart(env, state, child)
        )
      }
      return Effect.succeed(GenServer.noReply(state))
    },
    terminate: (reason, state) =>
      Effect.andThen(
        stopAll(env, state),
        Effect.sync(() => env.publish(new SupervisorStopped({ reason })))
      )
  })
