/**
 * Construction of the runtime's signals (`Down`, `Exit`) and monitor references from fields the
 * runtime trusts, without schema validation (see `trusted.ts`).
 *
 * Re-exports the public `Signal` module, so that library code can take the signal classes and
 * their constructors from one namespace (`import * as Signal from ".../internal/signals.ts"`).
 *
 * @internal
 */
import type { ExitReason } from "../ExitReason.ts"
import * as Pid from "../Pid.ts"
import { Down, Exit, MonitorRef } from "../Signal.ts"
import { trusted } from "./trusted.ts"

export * from "../Signal.ts"

/** A monitor reference made by the runtime of `node`. */
export const makeRef = (node: string, id: number): MonitorRef => trusted(MonitorRef, { node, id })

/** The `Down` of monitor `ref` on `pid`, which exited (or was not alive) with `reason`. */
export const makeDown = (ref: MonitorRef, pid: Pid.Pid, reason: ExitReason): Down =>
  trusted(Down, { _tag: "Down", ref, pid, reason })

/** The `Exit` message of an exit signal from `pid` to a process that traps exits. */
export const makeExit = (pid: Pid.Pid, reason: ExitReason): Exit => trusted(Exit, { _tag: "Exit", pid, reason })

/**
 * The pid a `Down` carries when a monitor by name found no process under that name (on `node`,
 * this one or another): `<node.0.0>`. No process has id 0 or incarnation 0, so it never equals
 * the pid of a process; the remote path (a `Monitor` frame for a name nobody holds, or a node
 * that cannot be reached) reports the same pid.
 */
export const unresolvedNamePid = (node: string): Pid.Pid => Pid.make(node, 0, 0)
