/**
 * The {@link LocalNode} that distribution uses, implemented over the process runtime: the only
 * place where distribution's requests touch process records and mailboxes.
 *
 * @internal
 */
import { Effect, type Exit } from "effect"
import * as GenServer from "../GenServer.ts"
import type { Pid } from "../Pid.ts"
import * as Protocol from "../Protocol.ts"
import { ProcessRuntime } from "../ProcessRuntime.ts"
import * as Signal from "./signals.ts"
import { CallEnvelope, deliverCall } from "./callEnvelope.ts"
import type { Cell } from "./cell.ts"
import { withRuntime } from "./context.ts"
import { exitedError } from "./errors.ts"
import { specOf } from "./protocol.ts"
import { Offer } from "./mailbox.ts"
import type { Delivery, LocalNode, LocalProcess, RequestHandler } from "./remote.ts"
import type { Runtime } from "./runtime.ts"
import { notAServer, stopServer } from "./server.ts"
import { TracedCast } from "./tracing.ts"

/** Handles are the runtime's process records: only this module looks inside them. */
const cellOf = (process: LocalProcess): Cell => process as Cell

type AnyProtocol = Protocol.Protocol<Record<string, Protocol.AnySpec>>

const handlerOf = (cell: Cell, kind: "call" | "cast", tag: string): RequestHandler | undefined => {
  const protocol = cell.behaviour?.protocol as AnyProtocol | undefined
  const spec = protocol?.[Protocol.SpecTypeId][tag]
  if (protocol === undefined || spec === undefined || spec.kind !== kind) return undefined
  return { spec, make: protocol[tag] as (payload: object) => object }
}

/** The local node of a runtime. */
export const make = (runtime: Runtime): LocalNode => ({
  name: runtime.node,
  systemPid: runtime.systemPid,
  newRefId: () => runtime.newRefId(),
  newMonitorRef: () => Signal.makeRef(runtime.node, runtime.newRefId()),
  resolve: (target: Pid | string) => (typeof target === "string" ? runtime.resolve(target) : runtime.lookup(target)),
  isAlive: (process) => cellOf(process).alive,
  current: Effect.withFiber((fiber) => Effect.succeed<LocalProcess | undefined>(runtime.current(fiber))),
  requestSpec: (request) => specOf(request as Protocol.AnyCallRequest),
  handler: (process, kind, tag) => handlerOf(cellOf(process), kind, tag),
  deliver: (process, message, parking): Delivery => {
    const mailbox = cellOf(process).mailbox
    const offered = mailbox.offer(message)
    if (offered === Offer.Delivered) return "delivered"
    if (offered === Offer.Closed) return "closed"
    // The link's reader cannot wait (holding the whole link would stall every other conversation
    // with that node), and the sender can no longer be failed: the message queues behind the
    // mailbox, as many as the sender's credit toward this process allows.
    const leave = parking.park(mailbox.overflow, mailbox.capacity)
    if (leave === undefined) return "refused"
    mailbox.enqueueBlocked(message, leave)
    return "parked"
  },
  castFromNode: (process, request, span) =>
    cellOf(process).behaviour === undefined ? request : new TracedCast(request, span, true),
  deliverCall: (process, request, span, reply: (exit: Exit.Exit<unknown, unknown>) => void, parking) => {
    const cell = cellOf(process)
    const envelope = new CallEnvelope(
      request as Protocol.AnyCallRequest,
      cell.pid,
      reply as (effect: Effect.Effect<unknown, unknown>) => void,
      span,
      exitedError
    )
    envelope.fromNode = true
    return deliverCall(cell, envelope, parking)
  },
  deliverDown: (watcher, ref, pid, reason) =>
    void cellOf(watcher).mailbox.offerSystem(Signal.makeDown(ref, pid, reason)),
  exitSignal: (process, from, reason, untrappable) => cellOf(process).signalExit(from, reason, untrappable),
  watchExit: (process, onExit) => runtime.watchExit(cellOf(process), onExit),
  stop: (process, reason, timeout, done) => {
    const cell = cellOf(process)
    if (!cell.alive) return done("noproc")
    if (cell.behaviour === undefined) return done("not_genserver", notAServer(cell.pid).message)
    stopServer(runtime, cell, reason, timeout, (timedOut) => done(timedOut ? "timeout" : "ok"))
  },
  start: (behaviour, args, options) =>
    GenServer.start(behaviour as GenServer.Behaviour<unknown, unknown, unknown, never>, args, options).pipe(
      Effect.provideService(ProcessRuntime, runtime)
    ),
  attach: (bridge) => runtime.attachRemote(bridge)
})

/** The local node of the current `ProcessRuntime`. */
export const current: Effect.Effect<LocalNode, never, ProcessRuntime> = withRuntime((runtime) =>
  Effect.succeed(make(runtime))
)
