/**
 * Cluster-wide unique names (Erlang's `global`): a name registered on one node is seen on every
 * connected node, and a `GlobalName` works wherever a pid does (send, call, cast, monitor, link,
 * exit), typed by protocol like local names.
 *
 * **Protocol.** Every node keeps a replica of all registrations; `whereis` reads it (no message).
 * Registrations and unregistrations (but see **Release**) are decided by one *arbiter*: the
 * lowest-named node among this node and the nodes whose registry it has heard from on their current
 * link (every node computes the same one in a connected cluster). The arbiter decides synchronously
 * (so of two nodes racing for a name exactly one gets it, the other `NameTaken`), sends the new
 * registration to every node, then answers; links are ordered, so the requester's replica has it
 * before its `register` returns. A registration on the arbiter itself costs no round trip. If the
 * arbiter's link drops while a request is on its way, the request goes to the next arbiter. No
 * cluster-wide lock and no wall clock. A {@link transfer} is decided the same way and sent as one
 * frame that each replica applies at once.
 *
 * **Release.** A name is released when its process exits (at once on its node, then by a message
 * to the others), when it is unregistered, and when its node goes down (each node drops that node's
 * registrations when it sees the link go down; each node sees it on its own, so right after this
 * node saw a node go down the arbiter may still refuse that node's names with `NameTaken` for a
 * moment: retry, or wait until the arbiter has seen it too). `unregister` of a name held by one of
 * this node's own processes (and by nobody else) is decided here, as an exit is (each node is the
 * authority on its processes): released in this replica at once, then the arbiter drops it and tells
 * every node it told of the registration, and this node tells the nodes it told (its greetings), so
 * that every node hears of the release (a node may hear it before the registration it ends: the
 * arbiter's release follows its registration, and settles it). Links are ordered, so the arbiter
 * has the release before any later request from this node; if the arbiter is lost first, the
 * release goes to the next one (or, with an arbiter of an older release, to the nodes this node told,
 * as for an exit). Any other `unregister` is decided by the arbiter, on every node, before it returns.
 *
 * **Greetings and grants.** Each grant of the arbiter is numbered; a greeting says the last grant
 * its sender had heard of from each arbiter, so a registration granted after the greeting was sent
 * (whose claim came first, over another link) is not taken for one that ended while the link was
 * down. The arbiter sends a grant to the owner's node even before that node has greeted it.
 *
 * **Partitions and membership changes.** Each side of a partition has its own arbiter and may
 * register a name the other side holds. A node that registers before its registry is in touch with
 * the others (e.g. at boot, before it has joined) is its own side: it is its own arbiter, and the
 * name is settled as below once it joins; wait for `stats.peers` to register in the cluster. When links come up, nodes exchange the registrations of
 * their own processes (each node is the authority on those), greeting again until the other's
 * greeting arrives (one sent as crossed connections are settled may be lost). Two registrations of one name are a
 * conflict, resolved without wall clocks: the registration whose pid is on the lower-named node
 * wins (then the lower incarnation, then the lower pid), and the winner's `onConflict` says what
 * happens to the loser:
 * - `exitLoser` (default): the loser gets an exit signal whose reason is a {@link NameConflict}
 *   (`{name_conflict, name, winner}`), which it may trap;
 * - `notifyLoser`: the loser keeps running and receives a {@link NameConflict} message;
 * - `unregisterBoth`: neither keeps the name, both receive a {@link NameConflict} message (with no
 *   winner).
 * Only the loser's own node acts, and only on what the winner's node itself says (a registration
 * relayed by a third node may be stale; a node granted a name it already knows a rival for tells
 * the rival's node itself), so a process is never told it lost to a process that had
 * already exited. While the exchange is in flight a node may briefly report the winner already;
 * once it settles every node agrees on one owner (or none) and at most one registration is left.
 *
 * @since 0.1.0
 */
import { Cause, Context, type Duration, Effect, Layer, Option, Schema, Scope } from "effect"
import { serviceRead } from "../internal/serviceRead.ts"
import * as Timers from "../internal/timers.ts"
import { NameTaken, NoProcess, NotAProcess } from "../Process/Errors.ts"
import type * as ExitReason from "../Process/ExitReason.ts"
import * as GlobalName from "../Process/GlobalName.ts"
import { runtimeOf } from "../Process/internal/context.ts"
import * as LocalNode from "../Process/internal/localNode.ts"
import { Pid } from "../Process/Pid.ts"
import * as Process from "../Process/Process.ts"
import * as ProcessRuntime from "../Process/ProcessRuntime.ts"
import type { Speaks } from "../Process/Protocol.ts"
import * as Cluster from "./Cluster.ts"
import { type ConflictMethod, conflictExit, GlobalEngine, type RequestFailure } from "./internal/globalEngine.ts"
import { channel } from "./internal/globalFrames.ts"

/**
 * What happens to the losing registration of a name after a partition heals (see the module doc):
 * `exitLoser` (default), `notifyLoser` or `unregisterBoth`.
 *
 * @example
 * ```ts
 * import type { GlobalRegistry } from "effect-otp"
 *
 * const method: GlobalRegistry.OnConflict = "notifyLoser"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type OnConflict = ConflictMethod

/**
 * Told to the loser of a name conflict: the exit reason of its exit signal (`exitLoser`, inside an
 * `ExitReason.custom`: read it with {@link conflictOf}; the signal comes from its node's system pid), or a message in its mailbox (`notifyLoser`,
 * `unregisterBoth`). `winner` is the pid that kept the name (`null` with `unregisterBoth`), `rival`
 * the other registration.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GlobalRegistry, Process } from "effect-otp"
 *
 * const worker = Process.spawn((self) =>
 *   Effect.gen(function*() {
 *     const message = yield* self.receive
 *     if (message instanceof GlobalRegistry.NameConflict) yield* Effect.log(`lost ${message.name} to ${message.winner}`)
 *   })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class NameConflict extends Schema.TaggedClass<NameConflict>()("NameConflict", {
  name: Schema.String,
  winner: Schema.NullOr(Pid),
  rival: Pid
}) {}

/**
 * The global registry did not answer in time: its arbiter (the node named in the error) is
 * overloaded or unreachable without its link being down yet. The operation may still take effect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GlobalRegistry } from "effect-otp"
 *
 * const tryRegister = GlobalRegistry.register("leader").pipe(
 *   Effect.catchTag("RegistryTimeout", (error) => Effect.logWarning(error.message))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RegistryTimeout extends Schema.TaggedError<RegistryTimeout>()("RegistryTimeout", {
  operation: Schema.String,
  name: Schema.String,
  arbiter: Schema.String,
  timeoutMs: Schema.Number
}) {
  override get message(): string {
    return `global ${this.operation} of "${this.name}": no answer from the arbiter ${this.arbiter} within ${this.timeoutMs} ms`
  }
}

/**
 * Options of {@link register}.
 *
 * @example
 * ```ts
 * import { GlobalRegistry } from "effect-otp"
 *
 * const options: GlobalRegistry.RegisterOptions = { onConflict: "notifyLoser", timeout: "2 seconds" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface RegisterOptions {
  /** How a conflict over this name is resolved after a partition heals (default `exitLoser`). */
  readonly onConflict?: OnConflict | undefined
  /** How long to wait for the arbiter's answer (default 5 seconds), then `RegistryTimeout`. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Figures of this node's registry (also served as metrics: see docs/METRICS.md).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GlobalRegistry } from "effect-otp"
 *
 * const report = Effect.map(GlobalRegistry.stats, (stats) => `${stats.names} global names, ${stats.localNames} here`)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface GlobalRegistryStats {
  /** Names registered in the cluster, as this node's replica knows them. */
  readonly names: number
  /** Names held by this node's processes. */
  readonly localNames: number
  /** Successful `register`s made on this node. */
  readonly registrations: number
  /** Successful `unregister`s made on this node. */
  readonly unregistrations: number
  /** Conflicts this node resolved for its own processes (a loser told, or both unregistered). */
  readonly conflictsResolved: number
  /** Nodes whose registry this node is in touch with. */
  readonly peers: number
  /** The node that decides registrations now. */
  readonly arbiter: string
}

/**
 * The global registry of this node.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GlobalRegistry } from "effect-otp"
 *
 * const count = Effect.flatMap(GlobalRegistry.GlobalRegistry, (registry) =>
 *   Effect.map(registry.registeredNames, (names) => names.length)
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class GlobalRegistry extends Context.Service<
  GlobalRegistry,
  {
    /** See {@link register}. */
    readonly register: (
      name: string,
      pid?: Pid,
      options?: RegisterOptions
    ) => Effect.Effect<void, NameTaken | NoProcess | NotAProcess | RegistryTimeout>
    /** See {@link transfer}. */
    readonly transfer: (
      name: string,
      from: Pid,
      to: Pid,
      options?: RegisterOptions
    ) => Effect.Effect<void, NameTaken | NoProcess | RegistryTimeout>
    /** See {@link unregister}. */
    readonly unregister: (
      name: string,
      options?: { readonly timeout?: Duration.Input | undefined }
    ) => Effect.Effect<boolean, RegistryTimeout>
    /** The owner of `name` in this node's replica, synchronously (the hot path of {@link whereis}). */
    readonly whereisUnsafe: (name: string) => Pid | undefined
    /** See {@link registeredNames}. */
    readonly registeredNames: Effect.Effect<ReadonlyArray<string>>
    /** See {@link stats}. */
    readonly stats: Effect.Effect<GlobalRegistryStats>
    /** The same figures, synchronously (read by the metrics layer when it renders). */
    readonly statsUnsafe: () => GlobalRegistryStats
  }
>()("effect-otp/GlobalRegistry") {}

/**
 * A typed {@link GlobalName.GlobalName} (the same as `GlobalName.make`): the target to use for a
 * globally registered server.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { GenServer, GlobalRegistry, Protocol } from "effect-otp"
 *
 * const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })
 * const read = GenServer.call(GlobalRegistry.name("kv", Kv), Kv.Get({ key: "x" }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const name: {
  <P>(name: string & Speaks<P>): GlobalName.GlobalServerName<P>
  <P>(name: string, protocol: P): GlobalName.GlobalServerName<P>
  (name: string): GlobalName.GlobalName
} = GlobalName.make

/**
 * Registers `pid` (default: the current process) under a cluster-wide unique name (Erlang's
 * `global:register_name/2`). Succeeds once the arbiter granted it; this node's replica has it by
 * then, the other nodes' shortly after. A pid may hold several global names.
 *
 * Fails with `NameTaken` when another pid holds the name (registering the same pid again succeeds),
 * `NoProcess` when `pid` is not alive (a pid of another node is checked by its node, which
 * releases the name at once if the process has already exited), `NotAProcess` without `pid` outside a process, and
 * `RegistryTimeout` when the arbiter does not answer within `options.timeout` (default 5 s). If the
 * arbiter's node goes down meanwhile the request goes to the next arbiter. `options.onConflict`
 * says what happens if a partition heals with the name registered on both sides (see the module
 * doc). The name is released when the process exits, on {@link unregister}, and when its node goes
 * down.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { GenServer, GlobalRegistry, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 * })
 *
 * const program = Effect.gen(function*() {
 *   const pid = yield* GenServer.start(counter, undefined)
 *   yield* GlobalRegistry.register("counter", pid)
 *   return yield* GenServer.call(GlobalRegistry.name("counter", Counter), Counter.Get())
 * })
 * ```
 *
 * @category registration
 * @since 0.1.0
 */
export const register = (
  name: string,
  pid?: Pid,
  options?: RegisterOptions
): Effect.Effect<void, NameTaken | NoProcess | NotAProcess | RegistryTimeout, GlobalRegistry> =>
  GlobalRegistry.use((registry) => registry.register(name, pid, options))

/**
 * Moves a global name from the pid `from` to the pid `to` in one step decided by the registry's
 * arbiter: every node's replica goes from `from` to `to` at once, so a lookup (or a call, cast or
 * send by the name) never finds the name unowned while it moves, as it would between an
 * {@link unregister} and a {@link register}. A node that has not yet heard of the move still finds
 * `from`. If nobody holds the name, it is registered to `to`; if `to` already holds it, this
 * succeeds. Fails with `NameTaken` when a pid other than `from` holds it, `NoProcess` when `to` is
 * not alive, and `RegistryTimeout` as {@link register} does. `options.onConflict` is the new
 * registration's. Every node of the cluster must run a release that knows transfers.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GlobalRegistry, Pid } from "effect-otp"
 *
 * // A new instance takes over the name of the old one without a gap.
 * const takeOver = (old: Pid.Pid, fresh: Pid.Pid) => GlobalRegistry.transfer("leader", old, fresh)
 * ```
 *
 * @category registration
 * @since 0.1.0
 */
export const transfer = (
  name: string,
  from: Pid,
  to: Pid,
  options?: RegisterOptions
): Effect.Effect<void, NameTaken | NoProcess | RegistryTimeout, GlobalRegistry> =>
  GlobalRegistry.use((registry) => registry.transfer(name, from, to, options))

/**
 * Releases a global name, whoever holds it, on every node (Erlang's `global:unregister_name/1`).
 * Resolves to whether it was registered. The process keeps running.
 *
 * When the name is held by a process of this node, it is released here at once, with no round trip
 * (as when the process exits): the arbiter and the other nodes hear of it within one message, the
 * arbiter before any later request from this node. Until then a `register` of the name from another
 * node may still be refused with `NameTaken` (send it again), and the other nodes may still resolve
 * the name to the process. Otherwise the arbiter decides: released on every node when it returns,
 * and `RegistryTimeout` when the arbiter does not answer in time (default 5 s).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GlobalRegistry } from "effect-otp"
 *
 * const release = Effect.flatMap(GlobalRegistry.unregister("leader"), (was) => Effect.log(`was registered: ${was}`))
 * ```
 *
 * @category registration
 * @since 0.1.0
 */
export const unregister = (
  name: string,
  options?: { readonly timeout?: Duration.Input | undefined }
): Effect.Effect<boolean, RegistryTimeout, GlobalRegistry> =>
  GlobalRegistry.use((registry) => registry.unregister(name, options))

/**
 * The pid registered under `name`, read from this node's replica (Erlang's
 * `global:whereis_name/1`): no message, no wait. Right after another node registered or released a
 * name, this node may not know it yet (it learns within one message). `yield*` in a generator reads
 * it synchronously, without a step of the fiber's run loop: a loop that polls for a name must sleep
 * or yield between reads (the replica is updated by frames that arrive between event-loop turns).
 *
 * `yield* GlobalRegistry.whereis(name)` in a generator (`Effect.gen`, `Effect.fn`) reads the replica
 * synchronously, without a trip through the fiber's run loop; elsewhere it is an ordinary effect.
 * Either way it reads when it runs, with the running fiber's registry (in a body that
 * `Effect.fnUntracedEager` runs eagerly, that is when the function is called).
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { GlobalRegistry, Process } from "effect-otp"
 *
 * const notify = (message: string) =>
 *   Effect.flatMap(GlobalRegistry.whereis("notifier"), (pid) =>
 *     Option.isSome(pid) ? Process.send(pid.value, message) : Effect.logWarning("no notifier in the cluster")
 *   )
 * ```
 *
 * @category lookup
 * @since 0.1.0
 */
export const whereis = (name: string): Effect.Effect<Option.Option<Pid>, never, GlobalRegistry> =>
  // `yield* whereis(name)` in a generator reads the replica without a trip through the run loop.
  serviceRead(GlobalRegistry, lookup, name)

const lookup = (registry: GlobalRegistry["Service"], name: string): Option.Option<Pid> => {
  const pid = registry.whereisUnsafe(name)
  return pid === undefined ? Option.none() : Option.some(pid)
}

/**
 * Every global name this node's replica knows (Erlang's `global:registered_names/0`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GlobalRegistry } from "effect-otp"
 *
 * const list = Effect.flatMap(GlobalRegistry.registeredNames, (names) => Effect.log(names.join(", ")))
 * ```
 *
 * @category lookup
 * @since 0.1.0
 */
export const registeredNames: Effect.Effect<ReadonlyArray<string>, never, GlobalRegistry> = GlobalRegistry.use(
  (registry) => registry.registeredNames
)

/**
 * This node's registry figures: names known, names held here, registrations, conflicts resolved,
 * peers and the current arbiter.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GlobalRegistry } from "effect-otp"
 *
 * const arbiter = Effect.map(GlobalRegistry.stats, (stats) => stats.arbiter)
 * ```
 *
 * @category lookup
 * @since 0.1.0
 */
export const stats: Effect.Effect<GlobalRegistryStats, never, GlobalRegistry> = GlobalRegistry.use(
  (registry) => registry.stats
)

/**
 * The {@link NameConflict} inside an exit reason, if the process was told it lost a name
 * (`exitLoser`): for a process that traps exits, or a supervisor's report.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { GlobalRegistry, Signal } from "effect-otp"
 *
 * const onExit = (signal: Signal.Exit) =>
 *   Option.match(GlobalRegistry.conflictOf(signal.reason), {
 *     onNone: () => Effect.void,
 *     onSome: (conflict) => Effect.log(`lost ${conflict.name} to ${conflict.winner}`)
 *   })
 * ```
 *
 * @category conflicts
 * @since 0.1.0
 */
export const conflictOf = (reason: ExitReason.ExitReason): Option.Option<NameConflict> => {
  if (reason._tag !== "Failure") return Option.none()
  const error = Cause.findErrorOption(reason.cause)
  return Option.isSome(error) && error.value instanceof NameConflict ? Option.some(error.value) : Option.none()
}

const millisOf = (input: Duration.Input | undefined): number => Timers.toMillis(input ?? 5000)

/**
 * Runs this node's global registry until the scope closes: its channel on the cluster's transport,
 * the replica, and the resolution of `GlobalName` targets in this node's runtime. For custom layer
 * compositions; {@link layer} uses it.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { GlobalRegistry } from "effect-otp"
 *
 * const Registry = Layer.effect(GlobalRegistry.GlobalRegistry, GlobalRegistry.make)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<
  GlobalRegistry["Service"],
  never,
  Scope.Scope | ProcessRuntime.ProcessRuntime | Cluster.Cluster
> = Effect.gen(function* () {
  const local = yield* LocalNode.current
  const runtime = runtimeOf(yield* ProcessRuntime.ProcessRuntime)
  const cluster = yield* Cluster.Cluster
  const transport = cluster.transport
  const timers = yield* Timers.current
  const context = yield* Effect.context<ProcessRuntime.ProcessRuntime>()
  const fork = Effect.runForkWith(context)
  const engine = new GlobalEngine({
    local,
    timers,
    send: (node, frame) => transport.sendUnsafe(node, channel, frame),
    tellLoser: (pid, name, winner, rival, exit) => {
      const conflict = new NameConflict({ name, winner: winner ?? null, rival })
      if (exit) {
        const process = local.resolve(pid)
        if (process !== undefined) local.exitSignal(process, local.systemPid, conflictExit(conflict), false)
      } else {
        fork(Effect.ignore(Process.send(pid, conflict)))
      }
    }
  })
  yield* transport.onLinkEvent((event) => {
    if (event._tag === "LinkUp") engine.greet(event.node.name)
    else engine.nodeDown(event.node.name)
  })
  for (const link of yield* transport.links) engine.greet(link.node.name)
  yield* Effect.acquireRelease(
    Effect.sync(() => runtime.attachGlobal((name) => engine.whereis(name))),
    (detach) =>
      Effect.sync(() => {
        detach()
        engine.close()
      })
  )
  // Registered last, once the engine follows links and resolves names: frames a peer sent since it
  // saw this node up are held by the transport until now and delivered here.
  yield* Effect.orDie(transport.register(channel, (frame, from) => engine.receive(frame, from.name)))

  /** Asks the arbiter, again if it is lost meanwhile (at most once per node of the cluster, plus one). */
  const ask = (
    operation: "register" | "unregister" | "transfer",
    name: string,
    pid: Pid | undefined,
    method: ConflictMethod,
    timeoutMs: number,
    previous?: Pid
  ): Effect.Effect<{ ok: boolean; detail: string }, RegistryTimeout> => {
    const attempt = (left: number): Effect.Effect<{ ok: boolean; detail: string }, RegistryTimeout> =>
      Effect.suspend(() => {
        const arbiter = engine.arbiter()
        if (arbiter === local.name) {
          if (operation === "unregister") return Effect.succeed({ ok: engine.revoke(name), detail: "" })
          const refusal =
            operation === "transfer" ? engine.transfer(name, previous!, pid!, method) : engine.grant(name, pid!, method)
          return Effect.succeed({ ok: refusal === undefined, detail: refusal ?? "" })
        }
        return Effect.flatMap(
          Effect.callback<{ ok: boolean; detail: string } | RequestFailure>((resume) => {
            const cancel = engine.request(
              arbiter,
              operation,
              name,
              pid,
              method,
              timeoutMs,
              (answer) => resume(Effect.succeed(answer)),
              previous
            )
            return Effect.sync(cancel)
          }),
          (answer) => {
            if (!("_tag" in answer)) return Effect.succeed(answer)
            if (answer._tag === "Timeout" || left <= 0) {
              return Effect.fail(new RegistryTimeout({ operation, name, arbiter, timeoutMs }))
            }
            return attempt(left - 1)
          }
        )
      })
    return attempt(engine.peers.size + 1)
  }

  const statsUnsafe = (): GlobalRegistryStats => ({
    names: engine.nameCount,
    localNames: engine.localNameCount,
    registrations: engine.counters.registrations,
    unregistrations: engine.counters.unregistrations,
    conflictsResolved: engine.counters.conflictsResolved,
    peers: engine.peers.size,
    arbiter: engine.arbiter()
  })

  return GlobalRegistry.of({
    register: (name, pid, options) =>
      Effect.flatMap(
        local.current,
        (current): Effect.Effect<void, NameTaken | NoProcess | NotAProcess | RegistryTimeout> => {
          const target = pid ?? current?.pid
          if (target === undefined) return Effect.fail(new NotAProcess({ operation: "GlobalRegistry.register" }))
          if (target.node === local.name) {
            const process = local.resolve(target)
            if (process === undefined || !local.isAlive(process)) {
              return Effect.fail(new NoProcess({ target: String(target) }))
            }
          }
          return Effect.flatMap(
            ask("register", name, target, options?.onConflict ?? "exitLoser", millisOf(options?.timeout)),
            (answer): Effect.Effect<void, NameTaken | NoProcess> => {
              if (answer.ok) {
                engine.counters.registrations++
                return Effect.void
              }
              return answer.detail.endsWith("is not alive")
                ? Effect.fail(new NoProcess({ target: String(target) }))
                : Effect.fail(new NameTaken({ name, owner: `${answer.detail} (global)` }))
            }
          )
        }
      ),
    transfer: (name, from, to, options) =>
      Effect.suspend((): Effect.Effect<void, NameTaken | NoProcess | RegistryTimeout> => {
        if (to.node === local.name) {
          const process = local.resolve(to)
          if (process === undefined || !local.isAlive(process))
            return Effect.fail(new NoProcess({ target: String(to) }))
        }
        const method = options?.onConflict ?? "exitLoser"
        return Effect.flatMap(
          ask("transfer", name, to, method, millisOf(options?.timeout), from),
          (answer): Effect.Effect<void, NameTaken | NoProcess> => {
            if (answer.ok) return Effect.void
            return answer.detail.endsWith("is not alive")
              ? Effect.fail(new NoProcess({ target: String(to) }))
              : Effect.fail(new NameTaken({ name, owner: `${answer.detail} (global)` }))
          }
        )
      }),
    unregister: (name, options) =>
      Effect.suspend(() => {
        // A name held by one of this node's processes is released here, without a round trip.
        if (engine.releaseOwn(name)) {
          engine.counters.unregistrations++
          return Effect.succeed(true)
        }
        return Effect.map(ask("unregister", name, undefined, "exitLoser", millisOf(options?.timeout)), (answer) => {
          if (answer.ok) engine.counters.unregistrations++
          return answer.ok
        })
      }),
    whereisUnsafe: (name) => engine.whereis(name),
    registeredNames: Effect.sync(() => engine.names()),
    stats: Effect.sync(statsUnsafe),
    statsUnsafe
  })
})

/**
 * The global registry of this node, over its cluster and process runtime (e.g. beneath
 * `Distribution.layer`). Every node that uses global names runs it; a node without it does not take
 * part (it is neither asked nor told). Releasing it stops resolving `GlobalName`s here.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Distribution, GlobalRegistry } from "effect-otp"
 *
 * const NodeLive = GlobalRegistry.layer.pipe(
 *   Layer.provideMerge(Distribution.layer({ nodeName: "a", port: 4370, secret: "s3cret" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<GlobalRegistry, never, ProcessRuntime.ProcessRuntime | Cluster.Cluster> = Layer.effect(
  GlobalRegistry,
  make
)
