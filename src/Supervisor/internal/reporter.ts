/**
 * Where a supervisor reports its lifecycle: the event hub (when one is provided), log lines, and
 * spans (when a tracer is installed).
 *
 * @internal
 */
import { Context, Duration, Effect, LogLevel, References, Tracer } from "effect"
import { TraceRoots } from "../../Process/internal/tracing.ts"
import * as ExitReason from "../../Process/ExitReason.ts"
import type { Pid } from "../../Process/Pid.ts"
import {
  ChildExited,
  ChildRestarted,
  ChildStarted,
  ChildStartError,
  SupervisorEscalated,
  SupervisorEvents,
  SupervisorStopped
} from "../SupervisorEvents.ts"

type Hub = (typeof SupervisorEvents)["Service"]

type Level = "Debug" | "Warn" | "Error"

const trusted = { disableChecks: true } as const

const childLabel = (id: string | undefined, pid: Pid | undefined): string =>
  id === undefined ? `child ${pid === undefined ? "" : String(pid)}`.trimEnd() : `child "${id}"`

/**
 * Reports the lifecycle of one supervisor. The hub, the tracer and the minimum log level are those
 * of the supervisor process's context, read once: lines below the minimum level are not even
 * formatted (a dynamic supervisor may start children at 100k/s).
 */
export class Reporter {
  private readonly annotations: Record<string, string>

  constructor(
    readonly supervisor: Pid,
    private readonly hub: Hub | undefined,
    private readonly traced: boolean,
    private readonly minimumLevel: LogLevel.LogLevel
  ) {
    this.annotations = { "otp.supervisor": String(supervisor) }
  }

  /** A reporter for the supervisor running on the current fiber. */
  static make(supervisor: Pid): Effect.Effect<Reporter> {
    return Effect.withFiber((fiber) =>
      Effect.succeed(
        new Reporter(
          supervisor,
          Context.getOrUndefined(fiber.context, SupervisorEvents),
          // Restarts and escalations start a trace of their own unless Tracing.Roots is "none".
          Context.getOrUndefined(fiber.context, Tracer.Tracer) !== undefined &&
            Context.get(fiber.context, TraceRoots) !== "none",
          Context.get(fiber.context, References.MinimumLogLevel)
        )
      )
    )
  }

  private log(level: Level, message: () => string): Effect.Effect<void> {
    if (!LogLevel.isGreaterThanOrEqualTo(level, this.minimumLevel)) return Effect.void
    const text = message()
    const line =
      level === "Debug" ? Effect.logDebug(text) : level === "Warn" ? Effect.logWarning(text) : Effect.logError(text)
    return Effect.annotateLogs(line, this.annotations)
  }

  started(id: string | undefined, pid: Pid): Effect.Effect<void> {
    this.hub?.publish(
      new ChildStarted(
        id === undefined ? { supervisor: this.supervisor, pid } : { supervisor: this.supervisor, id, pid },
        trusted
      )
    )
    return this.log("Debug", () => `${childLabel(id, undefined)} started as ${pid}`)
  }

  restarted(id: string | undefined, pid: Pid): Effect.Effect<void> {
    this.hub?.publish(
      new ChildRestarted(
        id === undefined ? { supervisor: this.supervisor, pid } : { supervisor: this.supervisor, id, pid },
        trusted
      )
    )
    return this.log("Debug", () => `${childLabel(id, undefined)} restarted as ${pid}`)
  }

  exited(id: string | undefined, pid: Pid, reason: ExitReason.ExitReason, bySupervisor: boolean): Effect.Effect<void> {
    const fields = { supervisor: this.supervisor, pid, reason, bySupervisor }
    this.hub?.publish(new ChildExited(id === undefined ? fields : { ...fields, id }, trusted))
    const graceful = ExitReason.isGraceful(reason) || (bySupervisor && reason._tag === "Killed")
    return this.log(
      graceful ? "Debug" : "Warn",
      () =>
        `${childLabel(id, pid)} exited${bySupervisor ? " (stopped by its supervisor)" : ""}: ${ExitReason.format(reason)}`
    )
  }

  startError(id: string | undefined, reason: ExitReason.ExitReason): Effect.Effect<void> {
    const fields = { supervisor: this.supervisor, reason }
    this.hub?.publish(new ChildStartError(id === undefined ? fields : { ...fields, id }, trusted))
    return this.log("Warn", () => `${childLabel(id, undefined)} failed to start: ${ExitReason.format(reason)}`)
  }

  escalated(reason: ExitReason.ExitReason, maxRestarts: number, withinMs: number): Effect.Effect<void> {
    const within = Duration.millis(withinMs)
    this.hub?.publish(new SupervisorEscalated({ supervisor: this.supervisor, reason, maxRestarts, within }, trusted))
    const log = this.log(
      "Error",
      () =>
        `supervisor reached its maximum restart intensity (${maxRestarts} within ${Duration.format(within)}): stopping all children`
    )
    if (!this.traced) return log
    // A short span of its own (a root unless the escalation happens inside a trace).
    return Effect.withSpan(log, "Supervisor.escalate", {
      attributes: {
        ...this.spanAttributes,
        "effect_otp.supervisor.max_restarts": maxRestarts,
        "effect_otp.supervisor.within_ms": withinMs,
        "error.type": "max_restart_intensity"
      },
      captureStackTrace: false
    })
  }

  stopped(reason: ExitReason.ExitReason): Effect.Effect<void> {
    this.hub?.publish(new SupervisorStopped({ supervisor: this.supervisor, reason }, trusted))
    return this.log("Debug", () => `supervisor stopped: ${ExitReason.format(reason)}`)
  }

  /** Wraps a restart in a `Supervisor.restart` span when a tracer is installed. */
  restartSpan<A, E, R>(id: string | undefined, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    if (!this.traced) return effect
    return Effect.withSpan(effect, "Supervisor.restart", {
      attributes: id === undefined ? this.spanAttributes : { ...this.spanAttributes, "effect_otp.child.id": id },
      captureStackTrace: false
    })
  }

  private get spanAttributes(): Record<string, string> {
    return { "effect_otp.node": this.supervisor.node, "effect_otp.supervisor": String(this.supervisor) }
  }
}
