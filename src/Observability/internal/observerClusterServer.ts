/**
 * The Observer system process of a node: a GenServer registered under {@link SYSTEM_NAME} that
 * answers the cluster-wide queries (snapshot, top, one process) for its node from the local
 * Observer. Its protocol is declared with Schema, so other nodes call it through distribution with
 * the same types as locally.
 *
 * @internal
 */
import { Effect, Schema, type Scope, Semaphore } from "effect"
import * as GenServer from "../../Process/GenServer.ts"
import * as Pid from "../../Process/Pid.ts"
import * as Protocol from "../../Process/Protocol.ts"
import * as RemoteName from "../../Process/RemoteName.ts"
import * as Observer from "../Observer.ts"

/** The name the system process is registered under on every node (reserved). */
export const SYSTEM_NAME = "effect_otp_observer"

/** How a top-N table is sorted. */
export const TopBy = Schema.Literals(["mailbox", "busy", "rate"])

/**
 * The answer to a `Process` query for a pid that is not alive on the node asked. Distinct from
 * `NoProcess`, which a call gets when the node has no system process at all.
 */
export class NotAlive extends Schema.TaggedError<NotAlive>()("NotAlive", { pid: Pid.Pid }) {}

/** The queries the system process answers. */
export const ObserverProtocol = Protocol.make(
  {
    Snapshot: Protocol.call({
      payload: { processLimit: Schema.UndefinedOr(Schema.Number) },
      success: Schema.Struct({ snapshot: Observer.NodeSnapshot, omitted: Schema.Number })
    }),
    Top: Protocol.call({
      payload: { by: TopBy, limit: Schema.Number, windowMs: Schema.UndefinedOr(Schema.Number) },
      success: Schema.Array(Observer.ProcessInfo)
    }),
    Process: Protocol.call({ payload: { pid: Pid.Pid }, success: Observer.ProcessDetail, error: NotAlive })
  },
  { name: "ObserverCluster" }
)

/** The system process of `node`, typed by its protocol. */
export const systemProcessOn = (node: string): RemoteName.RemoteServerName<typeof ObserverProtocol> =>
  RemoteName.make(SYSTEM_NAME, node, ObserverProtocol)

/**
 * The most processes a node puts in a cluster snapshot: a snapshot crosses the wire as one
 * message, and this many (about 300 bytes each encoded) stay well under the default 8 MiB limit.
 */
export const MAX_SNAPSHOT_PROCESSES = 20_000

/** How many queries a system process works on at once; more wait for a turn (within their callers' timeouts). */
export const MAX_CONCURRENT_QUERIES = 4

/** What the system process needs besides the local Observer: where its work runs, and its bound. */
export interface Workers {
  /** The scope the queries' fibers run in (the layer's: closing it interrupts them). */
  readonly scope: Scope.Scope
  /** At most {@link MAX_CONCURRENT_QUERIES} queries at once. */
  readonly permits: Semaphore.Semaphore
}

/** The workers of a system process, for as long as `scope` lives. */
export const makeWorkers = (scope: Scope.Scope): Effect.Effect<Workers> =>
  Effect.map(Semaphore.make(MAX_CONCURRENT_QUERIES), (permits) => ({ scope, permits }))

/**
 * The behaviour of the system process, answering from `observer` (the local Observer). Every
 * query is answered later, from a fiber of its own (at most {@link MAX_CONCURRENT_QUERIES} at
 * once): a slow one (a top over a window, a large snapshot) does not hold up the others, and the
 * server's mailbox keeps moving.
 */
export const behaviour = (observer: Observer.Observer["Service"], workers: Workers) => {
  const answer = <A, E>(from: GenServer.From<A, E>, work: Effect.Effect<A, E, Observer.Observer>) =>
    work.pipe(
      Effect.provideService(Observer.Observer, observer),
      Effect.matchEffect({
        onFailure: (error) => GenServer.replyToFailure(from, error),
        onSuccess: (value) => GenServer.replyTo(from, value)
      }),
      workers.permits.withPermits(1),
      Effect.forkIn(workers.scope),
      Effect.as(GenServer.noReply(undefined))
    )
  return GenServer.behaviour(ObserverProtocol)({
    name: "observer",
    init: () => Effect.succeed(undefined),
    handleCall: {
      Snapshot: ({ processLimit }, _state: undefined, from) =>
        answer(
          from,
          Effect.map(
            Observer.snapshotLimited({ processLimit: Math.min(processLimit ?? Infinity, MAX_SNAPSHOT_PROCESSES) }),
            ({ snapshot, omittedProcesses }) => ({
              snapshot,
              omitted: omittedProcesses
            })
          )
        ),
      Top: ({ by, limit, windowMs }, _state: undefined, from) => answer(from, Observer.top({ by, limit, windowMs })),
      Process: ({ pid }, _state: undefined, from) =>
        answer(
          from,
          Effect.catchTag(Observer.process(pid), "NoProcess", () => Effect.fail(new NotAlive({ pid })))
        )
    }
  })
}
