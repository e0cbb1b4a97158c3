/**
 * Child specs checked and completed with their defaults.
 *
 * @internal
 */
import { Duration, type Effect } from "effect"
import type { Pid } from "../../Process/Pid.ts"
import {
  type ChildSpec,
  type ChildType,
  DEFAULT_WORKER_SHUTDOWN,
  type RestartType,
  type Shutdown
} from "../ChildSpec.ts"
import { InvalidChildSpec } from "../Errors.ts"

/** How a child is stopped: killed at once, or sent `shutdown` and killed after `millis`. */
export type StopPolicy = "brutal" | number

/**
 * A child spec with every default filled in. `id` is undefined for dynamic children. The start
 * effect's services are those of the supervisor process (checked by the public start functions),
 * hence `never` here.
 */
export interface Resolved {
  readonly id: string | undefined
  readonly start: Effect.Effect<Pid, unknown, never>
  readonly restart: RestartType
  /** Milliseconds (`Infinity` for `infinity`) or `brutal`. */
  readonly shutdown: StopPolicy
  readonly type: ChildType
  readonly significant: boolean
}

/** The parts of a spec that a dynamic child shares with a static one. */
export interface SpecLike {
  readonly start: Effect.Effect<Pid, unknown, unknown>
  readonly restart?: RestartType | undefined
  readonly shutdown?: Shutdown | undefined
  readonly type?: ChildType | undefined
  readonly significant?: boolean | undefined
}

/** The milliseconds of a `Duration.Input` given by a user, or undefined if it is not one (or NaN). */
export const millisOf = (input: Duration.Input): number | undefined => {
  if (typeof input === "number") return Number.isNaN(input) ? undefined : input
  const duration = Duration.fromInput(input)
  return duration._tag === "Some" ? Duration.toMillis(duration.value) : undefined
}

const stopPolicy = (label: string, shutdown: Shutdown | undefined, type: ChildType): StopPolicy | InvalidChildSpec => {
  if (shutdown === undefined) return type === "supervisor" ? Infinity : Duration.toMillis(DEFAULT_WORKER_SHUTDOWN)
  if (shutdown === "brutal") return "brutal"
  if (shutdown === "infinity") return Infinity
  const millis = millisOf(shutdown)
  if (millis !== undefined && millis >= 0) return millis
  return new InvalidChildSpec({
    id: label,
    problem: `shutdown must be "brutal", "infinity" or a duration >= 0, got ${String(shutdown)}`
  })
}

/**
 * Checks a spec and fills in its defaults. `significantAllowed` is false when the supervisor's
 * auto-shutdown is `never`: the flag is then ignored, as in OTP.
 */
export const resolve = (
  id: string | undefined,
  spec: SpecLike,
  significantAllowed: boolean
): Resolved | InvalidChildSpec => {
  const label = id ?? "(dynamic)"
  if (id !== undefined && (typeof id !== "string" || id.length === 0)) {
    return new InvalidChildSpec({ id: String(id), problem: "the id must be a non-empty string" })
  }
  const restart = spec.restart ?? "permanent"
  if (restart !== "permanent" && restart !== "transient" && restart !== "temporary") {
    return new InvalidChildSpec({ id: label, problem: `unknown restart type ${String(restart)}` })
  }
  const type = spec.type ?? "worker"
  if (type !== "worker" && type !== "supervisor") {
    return new InvalidChildSpec({ id: label, problem: `unknown child type ${String(type)}` })
  }
  const shutdown = stopPolicy(label, spec.shutdown, type)
  if (shutdown instanceof InvalidChildSpec) return shutdown
  const significant = significantAllowed && spec.significant === true
  if (significant && restart === "permanent") {
    return new InvalidChildSpec({ id: label, problem: "a permanent child cannot be significant" })
  }
  return { id, start: spec.start as Effect.Effect<Pid, unknown, never>, restart, shutdown, type, significant }
}

/** Resolves a static spec (its id is required). */
export const resolveChild = (spec: ChildSpec<unknown>, significantAllowed: boolean): Resolved | InvalidChildSpec =>
  resolve(spec.id, spec, significantAllowed)
