/**
 * Error constructors for library code (not part of the public API).
 *
 * @internal
 */
import type * as ExitReason from "../ExitReason.ts"
import { ServerExited } from "../GenServer.ts"
import type { Pid } from "../Pid.ts"

/** The error of a call whose server exited before replying, built without schema checks. */
export const exitedError = (server: Pid, reason: ExitReason.ExitReason): ServerExited =>
  new ServerExited({ server, reason }, { disableChecks: true })
