/**
 * A process mailbox: a bounded ring buffer with a single receiver.
 *
 * Two ways in. A call ({@link Mailbox.offer}) that finds the receiver suspended hands the message
 * over by resuming it directly: the receiver runs at once on the sender's stack, with no queue and
 * no scheduler hop, and the answer is there when the offer returns. Chains of such hand-overs
 * nest, so their depth is bounded by the {@link Trampoline}, beyond which the receiver is woken
 * once the stack has unwound instead. A cast ({@link Mailbox.post}) is handed over the same way
 * when it is the first to this mailbox since the stack last unwound; the casts after it (a burst)
 * are only buffered, and the receiver is woken once the sender's stack has unwound (a microtask
 * of the trampoline) and drains them in one run of its fiber, taking each buffered message
 * synchronously instead of suspending once per message.
 *
 * @internal
 */
import { Effect, Exit, Fiber } from "effect"
import type { CancelTimer, Timers } from "../../internal/timers.ts"
import type { ProcessStats } from "./processStats.ts"

/** What becomes of a send to a full mailbox. */
export type OverflowPolicy = "suspend" | "fail"

/** A message can carry this hook to learn that it will never be handled (its receiver exited). */
export const Undeliverable: unique symbol = Symbol.for("effect-otp/Undeliverable")

/** A message that wants to know when it is dropped undelivered. */
export interface UndeliverableAware {
  readonly [Undeliverable]: (reason: unknown) => void
}

const notifyUndeliverable = (message: unknown, reason: unknown): void => {
  if (typeof message === "object" && message !== null && Undeliverable in message) {
    ;(message as UndeliverableAware)[Undeliverable](reason)
  }
}

type Resume = (effect: Effect.Effect<unknown>) => void

/**
 * Counts the depth of synchronous hand-overs, wakes receivers once the stack has unwound, and runs
 * the wake-ups of senders admitted into a mailbox from a macrotask. One per runtime.
 */
export class Trampoline {
  /** Synchronous hand-overs currently on the stack. */
  depth = 0
  private queue: Array<() => void> = []
  private armed = false
  /** Receivers to wake for posted messages, in posting order (appended to while others are woken). */
  private wakes: Array<Mailbox | undefined> = []
  /** Receivers being woken by {@link flushWakes}, from {@link wakesHead} on; swapped with `wakes`, never sliced. */
  private waking: Array<Mailbox | undefined> = []
  private wakesHead = 0
  private wakesArmed = false
  /** Mailboxes in a burst of casts, to be reset once the stack unwinds. */
  private bursts: Array<Mailbox> = []
  constructor(readonly maxDepth: number) {}

  /** Notes that `mailbox` is in a burst of casts until the current stack unwinds (see `Mailbox.post`). */
  inBurst(mailbox: Mailbox): void {
    if (this.bursts.push(mailbox) === 1) queueMicrotask(this.endBursts)
  }

  private endBursts = (): void => {
    const bursts = this.bursts
    this.bursts = []
    for (let i = 0; i < bursts.length; i++) bursts[i]!.bursting = false
  }

  /**
   * Wakes `mailbox`'s receiver once the current stack has unwound: from a microtask, up to
   * {@link WAKE_BUDGET} receivers per turn (wakes made by woken receivers run in the same turn),
   * then from a macrotask, so that a chain of posts (a ring of processes) lets I/O in.
   */
  wakeSoon(mailbox: Mailbox): void {
    this.wakes.push(mailbox)
    if (!this.wakesArmed) {
      this.wakesArmed = true
      queueMicrotask(this.flushWakes)
    }
  }

  private flushWakes = (): void => {
    let budget = WAKE_BUDGET
    for (;;) {
      const waking = this.waking
      while (this.wakesHead < waking.length) {
        if (budget === 0) {
          setImmediate(this.flushWakes)
          return
        }
        budget--
        const mailbox = waking[this.wakesHead]!
        waking[this.wakesHead++] = undefined
        mailbox.wakeReceiver()
      }
      waking.length = 0
      this.wakesHead = 0
      // Wakes made meanwhile (by woken receivers, or since the last turn) come next, in order.
      if (this.wakes.length === 0) break
      this.waking = this.wakes
      this.wakes = waking
    }
    this.wakesArmed = false
  }

  schedule(task: () => void): void {
    this.queue.push(task)
    if (!this.armed) {
      this.armed = true
      setImmediate(this.flush)
    }
  }

  private flush = (): void => {
    this.armed = false
    const tasks = this.queue
    this.queue = []
    for (let i = 0; i < tasks.length; i++) tasks[i]!()
  }
}

interface BlockedSender {
  readonly message: unknown
  /** Called once: `true` when the message was admitted, `false` when the receiver exited. */
  readonly wake: (admitted: boolean) => void
}

/** The result of {@link Mailbox.offer}. */
export const enum Offer {
  Delivered = 0,
  Full = 1,
  Closed = 2
}

/**
 * Receivers woken per microtask turn before the rest wait for a macrotask (so that I/O gets in):
 * a wake-up may run a batch of messages, or a chain of up to `maxHandoverDepth` hand-overs.
 */
const WAKE_BUDGET = 256

/**
 * The ring's first size, a power of two: the buffer doubles, so indices wrap with a mask. It is
 * made on the first buffered message: an idle process (most of a million) has none.
 */
const INITIAL_SLOTS = 4
/** The buffer of every mailbox that has never buffered a message (never written: size 0). */
const NO_SLOTS: Array<unknown> = []
const TIMED_OUT: unique symbol = Symbol.for("effect-otp/Mailbox/TimedOut")

/** A bounded single-receiver mailbox. */
export class Mailbox {
  private buffer: Array<unknown>
  private head = 0
  /** Messages currently buffered. */
  size = 0
  private waiter: Resume | undefined = undefined
  private waiterTimer: CancelTimer | undefined = undefined
  /** Senders waiting for room, in arrival order (a Set: O(1) admit and withdraw). */
  private blocked: Set<BlockedSender> | undefined = undefined
  private wakeScheduled = false
  /** A cast was handed over since the stack last unwound: further casts are buffered (see {@link post}). */
  bursting = false
  /** Set once the owner exited: offers are refused from then on. */
  closed = false

  /** {@link take}, made on first use (most processes are GenServers, which use {@link takeFrom}). */
  private ownTake: Effect.Effect<unknown> | undefined = undefined

  constructor(
    readonly capacity: number,
    readonly overflow: OverflowPolicy,
    private readonly trampoline: Trampoline,
    /** The owner's bookkeeping: messages given to it, sampled handler time (see `ProcessStats`). */
    readonly stats: ProcessStats
  ) {
    this.buffer = NO_SLOTS
  }

  /** Takes the next message, suspending while the mailbox is empty. One receiver only. */
  get take(): Effect.Effect<unknown> {
    if (this.ownTake !== undefined) return this.ownTake
    const cancelWait = Effect.sync(() => this.clearWaiter())
    return (this.ownTake = Effect.callback<unknown>((resume) => (this.takeOrWait(resume) ? undefined : cancelWait)))
  }

  /**
   * An effect that takes the next message from the mailbox `mailboxOf` finds for the fiber running
   * it, made once and shared by every process that runs it in its own fiber (a GenServer's loop):
   * an idle process then holds no effect or closure of its own for its wait (about 200 bytes).
   */
  static takeFrom(mailboxOf: (fiber: Fiber.Fiber<unknown, unknown>) => Mailbox): Effect.Effect<unknown> {
    const running = () => mailboxOf(Fiber.getCurrent()!)
    const cancelWait = Effect.sync(() => running().clearWaiter())
    return Effect.callback<unknown>((resume) => (running().takeOrWait(resume) ? undefined : cancelWait))
  }

  /** Resumes with the next message (true), or registers `resume` as the waiter (false). */
  private takeOrWait(resume: Resume): boolean {
    if (this.stats.sampleAt !== 0) this.stats.end()
    if (this.size > 0) {
      resume(Exit.succeed(this.shift()))
      return true
    }
    this.waiter = resume
    return false
  }

  /**
   * Takes the next message, or resolves to a timeout marker ({@link isTimeout}) after `millis` on
   * `timers` (the runtime's).
   */
  takeWithin(millis: number, timers: Timers): Effect.Effect<unknown> {
    return Effect.callback<unknown>((resume) => {
      if (this.stats.sampleAt !== 0) this.stats.end()
      if (this.size > 0) {
        resume(Exit.succeed(this.shift()))
        return
      }
      this.waiter = resume
      const cancel = timers.start(millis, () => {
        this.waiterTimer = undefined
        if (this.waiter !== resume) return
        this.waiter = undefined
        // A message handed over on a deep stack waits in the buffer for its wake-up: it arrived in time.
        resume(Exit.succeed(this.size > 0 ? this.shift() : TIMED_OUT))
      })
      // Under a test clock a wait due at once has already ended inside `start`.
      if (this.waiter === resume) this.waiterTimer = cancel
      return Effect.sync(() => this.clearWaiter())
    })
  }

  /** Whether a value returned by {@link takeWithin} means the wait timed out. */
  static isTimeout(u: unknown): u is typeof TIMED_OUT {
    return u === TIMED_OUT
  }

  /** Whether the receiver is suspended waiting for a message (in `receive`). */
  get receiving(): boolean {
    return this.waiter !== undefined
  }

  /** Offers a message within capacity; never blocks. */
  offer(message: unknown): Offer {
    if (this.closed) return Offer.Closed
    if (this.size >= this.capacity || this.blocked !== undefined) return Offer.Full
    if (this.waiter !== undefined) this.handOver(message)
    else this.push(message)
    return Offer.Delivered
  }

  /**
   * Offers a message within capacity for a cast: the first message of a burst to a suspended
   * receiver is handed over as {@link offer} does (the receiver runs it at once, on this stack);
   * the rest of the burst (every cast to this mailbox until the stack unwinds, see
   * {@link Trampoline.inBurst}) is buffered, and the receiver, woken once the stack has unwound,
   * drains it in one run. Never blocks.
   */
  post(message: unknown): Offer {
    if (this.closed) return Offer.Closed
    if (this.size >= this.capacity || this.blocked !== undefined) return Offer.Full
    if (this.waiter !== undefined) {
      if (!this.bursting) {
        this.bursting = true
        this.trampoline.inBurst(this)
        this.handOver(message)
        return Offer.Delivered
      }
      this.push(message)
      if (!this.wakeScheduled) {
        this.wakeScheduled = true
        this.trampoline.wakeSoon(this)
      }
      return Offer.Delivered
    }
    this.push(message)
    return Offer.Delivered
  }

  /** Offers a runtime signal: ignores capacity, so signals are never lost or blocked. */
  offerSystem(message: unknown): boolean {
    if (this.closed) return false
    if (this.waiter !== undefined) this.handOver(message)
    else this.push(message)
    return true
  }

  /**
   * Offers a message ({@link offer}, or {@link post} for a cast), suspending the sender while the
   * mailbox is full. Resolves to `false` if the receiver exited (the message was dropped, as sends
   * to dead processes are).
   */
  offerOrSuspend(message: unknown, cast: boolean): Effect.Effect<boolean> {
    return Effect.callback<boolean>((resume) => {
      const result = cast ? this.post(message) : this.offer(message)
      if (result !== Offer.Full) {
        resume(result === Offer.Delivered ? Exit.succeed(true) : Exit.succeed(false))
        return
      }
      const withdraw = this.enqueueBlocked(message, (admitted) => resume(Exit.succeed(admitted)))
      return Effect.sync(withdraw)
    })
  }

  /**
   * Queues a message behind a full mailbox; `wake` learns when it is admitted (or dropped because
   * the receiver exited). Returns a function that withdraws the message if it is still waiting.
   */
  enqueueBlocked(message: unknown, wake: (admitted: boolean) => void): () => void {
    const entry: BlockedSender = { message, wake }
    ;(this.blocked ??= new Set()).add(entry)
    return () => this.withdraw(entry)
  }

  /** Removes every buffered message matching `predicate` (used to flush `Down` on demonitor). */
  removeWhere(predicate: (message: unknown) => boolean): number {
    const kept: Array<unknown> = []
    let removed = 0
    while (this.size > 0) {
      const message = this.shiftRaw()
      if (predicate(message)) removed++
      else kept.push(message)
    }
    for (const message of kept) this.push(message)
    if (removed > 0 && this.blocked !== undefined) this.admitBlocked()
    return removed
  }

  /** Closes the mailbox and reports every message still in it as undeliverable. */
  close(reason: unknown): void {
    if (this.closed) return
    this.closed = true
    this.clearWaiter()
    // `shiftRaw`, not `shift`: waiting senders must not be admitted into a closed mailbox.
    while (this.size > 0) notifyUndeliverable(this.shiftRaw(), reason)
    const blocked = this.blocked
    this.blocked = undefined
    if (blocked !== undefined) {
      for (const entry of blocked) {
        notifyUndeliverable(entry.message, reason)
        entry.wake(false)
      }
    }
  }

  /**
   * Gives `message` to the waiting receiver. On a deep stack the message stays in the buffer and
   * the receiver is woken once the stack has unwound instead ({@link Trampoline.wakeSoon}), so it
   * is still drained (and reported undeliverable) if the receiver exits before waking, and later
   * messages cannot overtake it.
   */
  private handOver(message: unknown): void {
    if (this.size > 0 || this.trampoline.depth >= this.trampoline.maxDepth) {
      this.push(message)
      if (!this.wakeScheduled) {
        this.wakeScheduled = true
        this.trampoline.wakeSoon(this)
      }
      return
    }
    const resume = this.takeWaiter()!
    const stats = this.stats
    if ((++stats.handled & stats.mask) === 0) stats.begin()
    this.trampoline.depth++
    try {
      resume(Exit.succeed(message))
    } finally {
      this.trampoline.depth--
    }
  }

  /** Gives the next buffered message to the receiver if it is still waiting (the trampoline's wake-up). */
  wakeReceiver(): void {
    this.wake()
  }

  private wake(): void {
    this.wakeScheduled = false
    if (this.waiter === undefined || this.size === 0) return
    this.takeWaiter()!(Exit.succeed(this.shift()))
  }

  private takeWaiter(): Resume | undefined {
    const resume = this.waiter
    this.clearWaiter()
    return resume
  }

  private clearWaiter(): void {
    this.waiter = undefined
    if (this.waiterTimer !== undefined) {
      this.waiterTimer()
      this.waiterTimer = undefined
    }
  }

  private push(message: unknown): void {
    let buffer = this.buffer
    if (this.size === buffer.length) {
      const grown = new Array<unknown>(buffer.length === 0 ? INITIAL_SLOTS : buffer.length * 2)
      for (let i = 0; i < this.size; i++) grown[i] = buffer[(this.head + i) & (buffer.length - 1)]
      this.buffer = buffer = grown
      this.head = 0
    }
    buffer[(this.head + this.size) & (buffer.length - 1)] = message
    this.size++
  }

  /** Takes the next message for the receiver (counted, maybe timed). */
  private shift(): unknown {
    const stats = this.stats
    if ((++stats.handled & stats.mask) === 0) stats.begin()
    const message = this.shiftRaw()
    if (this.blocked !== undefined) this.admitBlocked()
    return message
  }

  private shiftRaw(): unknown {
    const buffer = this.buffer
    const message = buffer[this.head]
    buffer[this.head] = undefined
    this.head = (this.head + 1) & (buffer.length - 1)
    this.size--
    return message
  }

  /** Moves waiting senders' messages into freed slots, in arrival order, and wakes them later. */
  private admitBlocked(): void {
    const blocked = this.blocked!
    for (const entry of blocked) {
      if (this.size >= this.capacity) break
      blocked.delete(entry)
      this.push(entry.message)
      this.trampoline.schedule(() => entry.wake(true))
    }
    if (blocked.size === 0) this.blocked = undefined
  }

  private withdraw(entry: BlockedSender): void {
    const blocked = this.blocked
    if (blocked === undefined) return
    blocked.delete(entry)
    if (blocked.size === 0) this.blocked = undefined
  }
}
