/**
 * A call in flight: what the caller put in the server's mailbox, and how the reply gets back.
 *
 * The caller waits in an `Effect.callback`; the envelope holds its resume function, the call's
 * timeout timer and the caller's span. Settling is idempotent: the first of reply, timeout, caller
 * interruption, or server exit wins, and everything later is dropped (a late reply never reaches
 * the next call).
 *
 * @internal
 */
import { Effect, Exit, type Tracer } from "effect"
import type { CancelTimer } from "../../internal/timers.ts"
import type * as ExitReason from "../ExitReason.ts"
import type { Pid } from "../Pid.ts"
import type { AnyCallRequest } from "../Protocol.ts"
import { MailboxFull, NoProcess } from "../Errors.ts"
import * as ExitReasons from "../ExitReason.ts"
import type { Cell } from "./cell.ts"
import { Offer, Undeliverable, type UndeliverableAware } from "./mailbox.ts"
import type { Parking } from "./remote.ts"
import type { CallStats } from "./stats.ts"

const monotonicNow = (): number => performance.now()

type Resume = (effect: Effect.Effect<unknown, unknown>) => void

/** Builds the caller-facing error for a server that exited before replying. */
export type ExitedError = (server: Pid, reason: ExitReason.ExitReason) => unknown

export class CallEnvelope implements UndeliverableAware {
  settled = false
  /** Cancels the call's timeout (armed on the runtime's timers), if one is armed. */
  timer: CancelTimer | undefined = undefined
  /** Removes the envelope from the senders waiting for room in a full mailbox. */
  withdraw: (() => void) | undefined = undefined
  /** The server's set of calls kept for a later reply (`noReply`); left when the call settles. */
  keeper: Set<CallEnvelope> | undefined = undefined
  /** The caller's runtime counters (a local call), told how the call ended. */
  stats: CallStats | undefined = undefined
  /** When a sampled call started (milliseconds on {@link now}), else 0. */
  startedAt = 0
  now: () => number = monotonicNow
  /** The call came from another node (its handling may then start a trace). */
  fromNode = false

  constructor(
    readonly request: AnyCallRequest,
    readonly server: Pid,
    private readonly resume: Resume,
    readonly span: Tracer.AnySpan | undefined,
    private readonly exited: ExitedError
  ) {}

  /** Completes the call with `exit`, once. */
  settle(exit: Exit.Exit<unknown, unknown>): void {
    if (this.settled) return
    this.release()
    if (this.stats !== undefined) this.stats.settled(exit, this.startedAt, this.now)
    this.resume(exit)
  }

  succeed(value: unknown): void {
    this.settle(Exit.succeed(value))
  }

  /** The server exited before replying. */
  serverExited(reason: ExitReason.ExitReason): void {
    this.settle(Exit.fail(this.exited(this.server, reason)))
  }

  [Undeliverable](reason: unknown): void {
    this.serverExited(reason as ExitReason.ExitReason)
  }

  /** Marks the call abandoned by its caller (interrupted): a later reply is dropped. */
  get abandon(): Effect.Effect<void> {
    return Effect.sync(() => this.release())
  }

  private release(): void {
    this.settled = true
    if (this.timer !== undefined) this.timer()
    if (this.withdraw !== undefined) this.withdraw()
    if (this.keeper !== undefined) this.keeper.delete(this)
  }
}

/**
 * Puts a call in the server's mailbox, honouring its overflow policy: a full mailbox fails the
 * call with `MailboxFull` (policy `fail`) or queues it until there is room (policy `suspend`);
 * a closed one fails it with `NoProcess`. The envelope may be settled when this returns (a
 * waiting server answers during the hand-over). A call from another node comes with its
 * `parking`, told when the call queues behind a full mailbox (it may refuse: `MailboxFull`), and
 * given back once it leaves that queue (admitted, dropped or withdrawn). Returns whether the call
 * queues behind the mailbox.
 */
export const deliverCall = (cell: Cell, envelope: CallEnvelope, parking?: Parking): boolean => {
  const mailbox = cell.mailbox
  const offered = mailbox.offer(envelope)
  if (offered === Offer.Delivered) return false
  if (offered === Offer.Closed) {
    envelope.settle(Exit.fail(new NoProcess({ target: String(cell.pid) })))
    return false
  }
  let unpark: (() => void) | undefined
  if (mailbox.overflow === "suspend" && parking !== undefined) {
    unpark = parking.park("suspend", mailbox.capacity)
  }
  if (mailbox.overflow === "fail" || (parking !== undefined && unpark === undefined)) {
    envelope.settle(Exit.fail(new MailboxFull({ target: String(cell.pid), capacity: mailbox.capacity })))
    return false
  }
  const leave = () => {
    unpark?.()
    unpark = undefined
  }
  const withdraw = mailbox.enqueueBlocked(envelope, (admitted) => {
    envelope.withdraw = undefined
    leave()
    if (!admitted) envelope.serverExited(cell.exitReason ?? ExitReasons.noproc)
  })
  envelope.withdraw = () => {
    withdraw()
    leave()
  }
  return true
}
