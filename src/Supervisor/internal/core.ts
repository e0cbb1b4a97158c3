/**
 * What the static and the dynamic supervisor share: their process, flags, reporter and services,
 * and the restart decision (whether a child is restarted, and whether restart intensity allows it).
 *
 * @internal
 */
import { Clock, type Context, Effect } from "effect"
import * as ExitReason from "../../Process/ExitReason.ts"
import type { Cell } from "../../Process/internal/cell.ts"
import type * as Pid from "../../Process/Pid.ts"
import type { Runtime } from "../../Process/internal/runtime.ts"
import type { RestartType } from "../ChildSpec.ts"
import { Intensity } from "./intensity.ts"
import type { Reporter } from "./reporter.ts"

/** The detail of the reason a supervisor exits with when it exceeds its restart intensity. */
export const MAX_INTENSITY_DETAIL = "reached_max_restart_intensity"
/** The reason a supervisor exits with when it exceeds its restart intensity. */
export const maxIntensityReason: ExitReason.ExitReason = ExitReason.shutdown(MAX_INTENSITY_DETAIL)

/** Whether a child that exited with `reason` is restarted (OTP's permanent / transient / temporary). */
export const shouldRestart = (restart: RestartType, reason: ExitReason.ExitReason): boolean =>
  restart === "permanent" || (restart === "transient" && !ExitReason.isGraceful(reason))

/** The flags every supervisor has. */
export interface RestartLimits {
  readonly maxRestarts: number
  readonly withinMs: number
}

/** The state both supervisors build on. Mutated in place: only its own process touches it. */
export abstract class SupervisorCore<F extends RestartLimits> {
  private readonly intensity: Intensity

  constructor(
    protected readonly runtime: Runtime,
    protected readonly cell: Cell,
    readonly flags: F,
    protected readonly reporter: Reporter,
    /** The services of the supervisor process. */
    protected readonly context: Context.Context<never>
  ) {
    this.intensity = new Intensity(flags.maxRestarts, flags.withinMs)
  }

  get pid(): Pid.Pid {
    return this.cell.pid
  }

  /**
   * Counts one restart against the intensity. Within it, runs `restart`; beyond it, calls `giveUp`
   * (the child is forgotten), reports the escalation and returns {@link maxIntensityReason}, the
   * reason the supervisor then exits with.
   */
  protected withinIntensity<A>(
    giveUp: () => void,
    restart: Effect.Effect<A>
  ): Effect.Effect<A | ExitReason.ExitReason> {
    return Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<A | ExitReason.ExitReason> => {
      if (this.intensity.add(now)) return restart
      giveUp()
      return Effect.as(
        this.reporter.escalated(maxIntensityReason, this.flags.maxRestarts, this.flags.withinMs),
        maxIntensityReason
      )
    })
  }
}
