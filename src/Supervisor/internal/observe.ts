/**
 * What a supervisor shows an observer of itself: its flags and its children with their pids and
 * restart counts. Read from the supervisor's state (plain data, made when asked).
 *
 * @internal
 */
import type * as Pid from "../../Process/Pid.ts"
import type { ChildType, RestartType } from "../ChildSpec.ts"

/** One child of a supervisor, as an observer sees it. */
export interface ChildView {
  /** The child's id (absent for the children of a dynamic supervisor). */
  readonly id: string | undefined
  /** The running process, absent when the child is stopped or being restarted. */
  readonly pid: Pid.Pid | undefined
  readonly status: "running" | "restarting" | "stopped"
  readonly type: ChildType
  readonly restart: RestartType
  /** How many times the supervisor started this child again after an exit. */
  readonly restarts: number
}

/** A supervisor, as an observer sees it. */
export interface SupervisorView {
  readonly kind: "supervisor" | "dynamic_supervisor"
  readonly strategy: "one_for_one" | "one_for_all" | "rest_for_one"
  readonly maxRestarts: number
  readonly withinMs: number
  readonly maxChildren?: number | undefined
  readonly children: ReadonlyArray<ChildView>
}
