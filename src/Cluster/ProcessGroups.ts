/**
 * Process groups (Erlang's `pg`): named groups of processes across the cluster, in scopes. A
 * process joins and leaves groups on its own node; every node knows the members of every group.
 * Use it for pub/sub across nodes, worker pools, or finding "some process that does X".
 *
 * **Consistency model** (as `pg`): each node is the authority on its own processes' memberships
 * and tells its peers of every join and leave, in order; when a link comes up the two nodes send
 * each other all their own memberships, which replace what the other knew. There is no global
 * order and no agreement step, so views are *eventually consistent*: right after a join on node A,
 * node B may not list the new member yet (it will within one message on the A-B link). Views are
 * *not transitive*: a node lists exactly the members of the nodes it is linked to, so during a
 * partition where A sees B and B sees C but A does not see C, A does not list C's members while B
 * lists both. A member whose process exits leaves all its groups (at once on its node, by a
 * message elsewhere), and the members of a node whose link goes down are removed on every node
 * that saw it go down.
 *
 * A pid may join a group several times: it is then listed that many times and must leave as many
 * times (or exit). Scopes are independent namespaces (`"default"` unless given).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Queue, Schema, type Scope, Stream } from "effect"
import { NoProcess, NotAProcess } from "../Process/Errors.ts"
import * as LocalNode from "../Process/internal/localNode.ts"
import { Pid } from "../Process/Pid.ts"
import type * as ProcessRuntime from "../Process/ProcessRuntime.ts"
import * as Cluster from "./Cluster.ts"
import { type GroupChange, PgEngine } from "./internal/pgEngine.ts"
import { channel } from "./internal/pgFrames.ts"

/**
 * The scope used when none is given.
 *
 * @example
 * ```ts
 * import { ProcessGroups } from "effect-otp"
 *
 * console.log(ProcessGroups.defaultScope) // "default"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultScope = "default"

/**
 * Options of every group operation: the scope (default {@link defaultScope}).
 *
 * @example
 * ```ts
 * import type { ProcessGroups } from "effect-otp"
 *
 * const inChat: ProcessGroups.GroupOptions = { scope: "chat" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface GroupOptions {
  readonly scope?: string | undefined
}

/**
 * Pids joined a group (a pid once per join), on this node or on a peer.
 *
 * @example
 * ```ts
 * import { ProcessGroups } from "effect-otp"
 *
 * const describe = (event: ProcessGroups.GroupEvent) =>
 *   event instanceof ProcessGroups.Joined ? `${event.pids.length} joined ${event.group}` : `left ${event.group}`
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class Joined extends Schema.TaggedClass<Joined>()("Joined", {
  scope: Schema.String,
  group: Schema.String,
  pids: Schema.Array(Pid)
}) {}

/**
 * Pids left a group (a pid once per membership removed): by `leave`, by exiting, or because their
 * node went down.
 *
 * @example
 * ```ts
 * import { ProcessGroups } from "effect-otp"
 *
 * const gone = (event: ProcessGroups.Left) => event.pids.map(String).join(", ")
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class Left extends Schema.TaggedClass<Left>()("Left", {
  scope: Schema.String,
  group: Schema.String,
  pids: Schema.Array(Pid)
}) {}

/**
 * A change in a group's membership.
 *
 * @example
 * ```ts
 * import type { ProcessGroups } from "effect-otp"
 *
 * const size = (event: ProcessGroups.GroupEvent) => (event._tag === "Joined" ? event.pids.length : -event.pids.length)
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export type GroupEvent = Joined | Left

/**
 * The process groups of this node.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProcessGroups } from "effect-otp"
 *
 * const count = Effect.flatMap(ProcessGroups.ProcessGroups, (groups) =>
 *   Effect.map(groups.members("workers"), (pids) => pids.length)
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class ProcessGroups extends Context.Service<
  ProcessGroups,
  {
    /** See {@link join}. */
    readonly join: (group: string, pid?: Pid, options?: GroupOptions) => Effect.Effect<void, NoProcess | NotAProcess>
    /** See {@link leave}. */
    readonly leave: (group: string, pid?: Pid, options?: GroupOptions) => Effect.Effect<boolean, NotAProcess>
    /** See {@link members}. */
    readonly members: (group: string, options?: GroupOptions) => Effect.Effect<ReadonlyArray<Pid>>
    /** See {@link localMembers}. */
    readonly localMembers: (group: string, options?: GroupOptions) => Effect.Effect<ReadonlyArray<Pid>>
    /** See {@link whichGroups}. */
    readonly whichGroups: (options?: GroupOptions) => Effect.Effect<ReadonlyArray<string>>
    /** See {@link events}. */
    readonly events: (group: string, options?: GroupOptions) => Stream.Stream<GroupEvent>
    /** Nodes whose groups this node is in touch with. */
    readonly peers: Effect.Effect<ReadonlyArray<string>>
  }
>()("effect-otp/ProcessGroups") {}

/**
 * Joins `pid` (default: the current process) to `group` (Erlang's `pg:join/3`), once more if it
 * is already a member. Only processes of this node join here; a process of another node joins on
 * its own node. Every node linked to this one lists it shortly after; it leaves when it exits.
 * Fails with `NoProcess` for a dead pid or one of another node, `NotAProcess` without `pid` outside
 * a process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, ProcessGroups } from "effect-otp"
 *
 * const worker = Process.spawn((self) =>
 *   Effect.gen(function*() {
 *     yield* ProcessGroups.join("workers", self.pid)
 *     yield* Effect.forever(self.receive)
 *   })
 * )
 * ```
 *
 * @category membership
 * @since 0.1.0
 */
export const join = (
  group: string,
  pid?: Pid,
  options?: GroupOptions
): Effect.Effect<void, NoProcess | NotAProcess, ProcessGroups> =>
  ProcessGroups.use((groups) => groups.join(group, pid, options))

/**
 * Removes one membership of `pid` (default: the current process) in `group` (Erlang's
 * `pg:leave/3`). Resolves to whether it was a member. Other nodes learn it shortly after.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProcessGroups } from "effect-otp"
 *
 * const quit = Effect.flatMap(ProcessGroups.leave("workers"), (was) => Effect.log(`was a member: ${was}`))
 * ```
 *
 * @category membership
 * @since 0.1.0
 */
export const leave = (
  group: string,
  pid?: Pid,
  options?: GroupOptions
): Effect.Effect<boolean, NotAProcess, ProcessGroups> =>
  ProcessGroups.use((groups) => groups.leave(group, pid, options))

/**
 * Every member of `group` this node knows of: its own first, then those of its linked peers (a
 * pid once per join). A local read, eventually consistent (see the module doc).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, ProcessGroups } from "effect-otp"
 *
 * const broadcast = (message: string) =>
 *   Effect.flatMap(ProcessGroups.members("chat"), (pids) =>
 *     Effect.forEach(pids, (pid) => Process.send(pid, message), { discard: true })
 *   )
 * ```
 *
 * @category lookup
 * @since 0.1.0
 */
export const members = (
  group: string,
  options?: GroupOptions
): Effect.Effect<ReadonlyArray<Pid>, never, ProcessGroups> =>
  ProcessGroups.use((groups) => groups.members(group, options))

/**
 * The members of `group` on this node (Erlang's `pg:get_local_members/2`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProcessGroups } from "effect-otp"
 *
 * const here = Effect.map(ProcessGroups.localMembers("workers"), (pids) => pids.length)
 * ```
 *
 * @category lookup
 * @since 0.1.0
 */
export const localMembers = (
  group: string,
  options?: GroupOptions
): Effect.Effect<ReadonlyArray<Pid>, never, ProcessGroups> =>
  ProcessGroups.use((groups) => groups.localMembers(group, options))

/**
 * The groups with at least one member this node knows of, in a scope (Erlang's
 * `pg:which_groups/1`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProcessGroups } from "effect-otp"
 *
 * const names = ProcessGroups.whichGroups({ scope: "chat" })
 * ```
 *
 * @category lookup
 * @since 0.1.0
 */
export const whichGroups = (options?: GroupOptions): Effect.Effect<ReadonlyArray<string>, never, ProcessGroups> =>
  ProcessGroups.use((groups) => groups.whichGroups(options))

/**
 * The joins and leaves of `group` as this node sees them, from the moment the stream starts
 * (Erlang's `pg:monitor/2`): local ones, those its peers announce, and the leaves of a peer that
 * went down. To start from the current members, read {@link members} after the stream has started.
 * The stream never ends by itself; events wait in an unbounded buffer for a slow consumer.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { ProcessGroups } from "effect-otp"
 *
 * const logChanges = Stream.runForEach(ProcessGroups.events("workers"), (event) =>
 *   Effect.log(`${event._tag}: ${event.pids.map(String).join(", ")}`)
 * )
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const events = (group: string, options?: GroupOptions): Stream.Stream<GroupEvent, never, ProcessGroups> =>
  Stream.unwrap(Effect.map(Effect.service(ProcessGroups), (groups) => groups.events(group, options)))

const toEvent = (change: GroupChange): GroupEvent =>
  change.kind === "join"
    ? new Joined({ scope: change.scope, group: change.group, pids: change.pids })
    : new Left({ scope: change.scope, group: change.group, pids: change.pids })

/**
 * Runs this node's process groups until the scope closes, on the cluster's transport. For custom
 * layer compositions; {@link layer} uses it.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { ProcessGroups } from "effect-otp"
 *
 * const Groups = Layer.effect(ProcessGroups.ProcessGroups, ProcessGroups.make)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<
  ProcessGroups["Service"],
  never,
  Scope.Scope | ProcessRuntime.ProcessRuntime | Cluster.Cluster
> = Effect.gen(function* () {
  const local = yield* LocalNode.current
  const cluster = yield* Cluster.Cluster
  const transport = cluster.transport
  const engine = new PgEngine({ local, send: (node, frame) => transport.sendUnsafe(node, channel, frame) })
  yield* transport.onLinkEvent((event) => {
    if (event._tag === "LinkUp") engine.greet(event.node.name)
    else engine.nodeDown(event.node.name)
  })
  for (const link of yield* transport.links) engine.greet(link.node.name)
  yield* Effect.addFinalizer(() => Effect.sync(() => engine.close()))
  // Registered last, once the engine follows links: frames a peer sent since it saw this node up are
  // held by the transport until now and delivered here.
  yield* Effect.orDie(transport.register(channel, (frame, from) => engine.receive(frame, from.name)))
  const scopeOf = (options: GroupOptions | undefined) => options?.scope ?? defaultScope
  const target = (pid: Pid | undefined, operation: string) =>
    Effect.flatMap(local.current, (current) =>
      pid !== undefined
        ? Effect.succeed(pid)
        : current !== undefined
          ? Effect.succeed(current.pid)
          : Effect.fail(new NotAProcess({ operation }))
    )
  return ProcessGroups.of({
    join: (group, pid, options) =>
      Effect.flatMap(target(pid, "ProcessGroups.join"), (member) =>
        member.node === local.name && engine.join(scopeOf(options), group, member)
          ? Effect.void
          : Effect.fail(new NoProcess({ target: String(member) }))
      ),
    leave: (group, pid, options) =>
      Effect.map(target(pid, "ProcessGroups.leave"), (member) => engine.leave(scopeOf(options), group, member)),
    members: (group, options) => Effect.sync(() => engine.members(scopeOf(options), group)),
    localMembers: (group, options) => Effect.sync(() => engine.localMembers(scopeOf(options), group)),
    whichGroups: (options) => Effect.sync(() => engine.groups(scopeOf(options))),
    events: (group, options) => {
      const scope = scopeOf(options)
      return Stream.callback<GroupEvent>(
        (queue) =>
          Effect.acquireRelease(
            Effect.sync(() =>
              engine.listen((change) => {
                if (change.scope === scope && change.group === group) Queue.offerUnsafe(queue, toEvent(change))
              })
            ),
            (stop) => Effect.sync(stop)
          ),
        { bufferSize: Number.POSITIVE_INFINITY }
      )
    },
    peers: Effect.sync(() => [...engine.peers])
  })
})

/**
 * The process groups of this node, over its cluster and process runtime (e.g. beneath
 * `Distribution.layer`). A node without it takes no part (its processes cannot join, it lists
 * nobody).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Distribution, ProcessGroups } from "effect-otp"
 *
 * const NodeLive = ProcessGroups.layer.pipe(
 *   Layer.provideMerge(Distribution.layer({ nodeName: "a", port: 4370, secret: "s3cret" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<ProcessGroups, never, ProcessRuntime.ProcessRuntime | Cluster.Cluster> = Layer.effect(
  ProcessGroups,
  make
)
