/**
 * What the public process modules (`Process`, `GenServer`, `Registry`) share: finding the current
 * process, spawning one, and delivering a message to a local process with its overflow policy.
 *
 * @internal
 */
import { Effect, type Fiber } from "effect"
import { MailboxFull, NameTaken, NoProcess, NotAProcess } from "../Errors.ts"
import type { ProcessContext, SpawnOptions, Target } from "../Process.ts"
import type { ProcessRuntime } from "../ProcessRuntime.ts"
import { GlobalName } from "../GlobalName.ts"
import { RemoteName } from "../RemoteName.ts"
import type { Cell } from "./cell.ts"
import { withRuntime } from "./context.ts"
import { Offer } from "./mailbox.ts"
import type { Runtime } from "./runtime.ts"

/** The failure of an operation that needs a current process, run outside any. */
export const notAProcess = (operation: string): Effect.Effect<never, NotAProcess> =>
  Effect.fail(new NotAProcess({ operation }))

/** How a target reads in an error message: a name in quotes, a pid as `<node.id.incarnation>`. */
export const targetLabel = (target: Target): string => (typeof target === "string" ? `"${target}"` : String(target))

/** The current process, or `NotAProcess` naming `operation`. */
export const currentCell = (operation: string): Effect.Effect<Cell, NotAProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const cell = runtime.current(fiber)
    return cell === undefined ? notAProcess(operation) : Effect.succeed(cell)
  })

/**
 * Spawns a process with the services of `fiber`, or returns why the name cannot be taken.
 * `linkTo` is linked to it and `beforeStart` runs before its body (see `CellOptions`).
 */
export const spawnCell = <M, E, R>(
  runtime: Runtime,
  fiber: Fiber.Fiber<unknown, unknown>,
  body: (self: ProcessContext<M>) => Effect.Effect<unknown, E, R>,
  options: SpawnOptions | undefined,
  linkTo: Cell | undefined,
  beforeStart?: (cell: Cell) => void
): Cell | NameTaken => {
  if (options?.name !== undefined) {
    const conflict = runtime.nameConflict(options.name, undefined)
    if (conflict !== undefined) return conflict
  }
  return runtime.spawn(
    fiber.context,
    body as unknown as (cell: Cell) => Effect.Effect<unknown, unknown>,
    linkTo === undefined && beforeStart === undefined ? options : { ...options, linkTo, beforeStart }
  )
}

/**
 * A local target that resolves to no process: silent for a pid (as Erlang drops sends to dead
 * pids), `NoProcess` for a name.
 */
export const noLocalProcess = (target: Target): Effect.Effect<void, NoProcess> =>
  typeof target === "string" || target instanceof RemoteName || target instanceof GlobalName
    ? Effect.fail(new NoProcess({ target: targetLabel(target) }))
    : Effect.void

/**
 * Puts a message in a local process's mailbox: at once when there is room, otherwise per its
 * overflow policy (`MailboxFull`, or the sender waits for room). A closed mailbox drops it.
 * A receiver waiting for a message runs it at once, on the sender's stack (`Process.send`).
 */
export const deliverTo = (cell: Cell, message: unknown): Effect.Effect<void, MailboxFull> =>
  deliver(cell, message, cell.mailbox.offer(message), false)

/**
 * {@link deliverTo} for a GenServer cast: the first cast to a waiting receiver runs it at once, as
 * a send does; the casts that follow it before the sender's stack unwinds are buffered, and the
 * receiver drains them in one run of its fiber once woken (see `Mailbox.post`).
 */
export const castTo = (cell: Cell, message: unknown): Effect.Effect<void, MailboxFull> =>
  deliver(cell, message, cell.mailbox.post(message), true)

const deliver = (cell: Cell, message: unknown, result: Offer, cast: boolean): Effect.Effect<void, MailboxFull> => {
  if (result !== Offer.Full) return Effect.void
  const mailbox = cell.mailbox
  if (mailbox.overflow === "fail") {
    return Effect.fail(new MailboxFull({ target: String(cell.pid), capacity: mailbox.capacity }))
  }
  return Effect.asVoid(mailbox.offerOrSuspend(message, cast))
}
