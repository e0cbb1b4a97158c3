/**
 * Calls to a supervisor process.
 *
 * @internal
 */
import { Effect } from "effect"
import type { NoProcess } from "../../Process/Errors.ts"
import * as GenServer from "../../Process/GenServer.ts"
import type { Target } from "../../Process/Process.ts"
import type { ProcessRuntime } from "../../Process/ProcessRuntime.ts"
import type * as Protocol from "../../Process/Protocol.ts"

/**
 * Calls a supervisor with no timeout (it may be busy stopping or starting children, as in OTP).
 * Its mailbox suspends senders when full, so neither `CallTimeout` nor `MailboxFull` can happen;
 * should either show up, it is a defect.
 */
export const callSupervisor = <Req extends Protocol.AnyCallRequest>(
  supervisor: Target,
  request: Req
): Effect.Effect<Protocol.SuccessOf<Req>, Protocol.ErrorOf<Req> | NoProcess | GenServer.ServerExited, ProcessRuntime> =>
  Effect.catch(
    GenServer.call(supervisor, request as Protocol.AnyCallRequest, { timeout: Infinity }),
    (error: unknown) =>
      error instanceof GenServer.CallTimeout || (error as { _tag?: unknown })._tag === "MailboxFull"
        ? Effect.die(error)
        : Effect.fail(error)
  ) as Effect.Effect<
    Protocol.SuccessOf<Req>,
    Protocol.ErrorOf<Req> | NoProcess | GenServer.ServerExited,
    ProcessRuntime
  >
