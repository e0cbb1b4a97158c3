/**
 * The Observer system process of a node: a GenServer registered under {@link SYSTEM_NAME} that
 * answers the cluster-wide queries (snapshot, top, one process) for its node from the local
 * Observer. Its protocol is declared with Schema, so other nodes call it through distribution with
 * the same types as locally.
 *
 * @internal
 */
import { Effect, Schema } from "effect"
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

/** `snapshot` with its first `limit` processes (all without a limit), and how many were left out. */
const limited = (snapshot: Observer.NodeSnapshot, limit: number | undefined) => {
  if (limit === undefined || snapshot.processes.length <= limit) return { snapshot, omitted: 0 }
  const kept = new Observer.NodeSnapshot({ ...snapshot, processes: snapshot.processes.slice(0, limit) })
  return { snapshot: kept, omitted: snapshot.processes.length - limit }
}

/** The behaviour of the system process, answering from `observer` (the local Observer). */
export const behaviour = (observer: Observer.Observer["Service"]) =>
  GenServer.behaviour(ObserverProtocol)({
    name: "observer",
    init: () => Effect.succeed(undefined),
    handleCall: {
      Snapshot: ({ processLimit }, state: undefined) =>
        Effect.map(Observer.snapshot, (snapshot) => GenServer.reply(limited(snapshot, processLimit), state)).pipe(
          Effect.provideService(Observer.Observer, observer)
        ),
      Top: ({ by, limit, windowMs }, state: undefined) =>
        Effect.map(Observer.top({ by, limit, windowMs }), (processes) => GenServer.reply(processes, state)).pipe(
          Effect.provideService(Observer.Observer, observer)
        ),
      Process: ({ pid }, state: undefined) =>
        Observer.process(pid).pipe(
          Effect.map((detail) => GenServer.reply(detail, state)),
          Effect.catchTag("NoProcess", () => Effect.fail(new NotAlive({ pid }))),
          Effect.provideService(Observer.Observer, observer)
        )
    }
  })
