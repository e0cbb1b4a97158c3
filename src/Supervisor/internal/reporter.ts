/**
 * Where a supervisor reports its lifecycle: the event hub (when one is provided), structured log
 * records (annotated with `otp.report: "supervisor"`, `otp.event`, `otp.supervisor` and the child's
 * `otp.child`, `otp.childPid`, `otp.reason`), and spans (when a tracer is installed).
 *
 * @internal
 */
import { Context, Duration, Effect, LogLevel, Metric, References, Tracer } from "effect"
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

export const restartsTotal = Metric.counter("effect_otp_supervisor_restarts_total", {
  description: "Children restarted by their supervisor",
  incremental: true
})

export const escalationsTotal = Metric.counter("effect_otp_supervisor_escalations_total", {
  description: "Supervisors that reached their maximum restart intensity and stopped their children",
  incremental: true
})

const childLabel = (id: string | undefined, pid: Pid | undefined): string =>
  id === undefined ? `child ${pid === undefined ? "" : String(pid)}`.trimEnd() : `child "${id}"`

/** The annotations of a child event. */
const childFields = (
  id: string | undefined,
  pid: Pid | undefined,
  reason: ExitReason.ExitReason | undefined
): Record<string, string | undefined> => ({
  "otp.child": id,
  "otp.childPid": pid === undefined ? undefined : String(pid),
  "otp.reason": reason === undefined ? undefined : summary(reason)
})

/**
 * An exit reason on one line: a failure's first line (`Error: boom`), not its stack trace, which
 * the crash report of the failed process carries.
 */
const summary = (reason: ExitReason.ExitReason): string => {
  const text = ExitReason.format(reason)
  const end = text.indexOf("\n")
  return end === -1 ? text : text.slice(0, end)
}

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

  /**
   * One structured record: the text, plus annotations naming the supervisor, the event and (when
   * there is one) the child's id, pid and exit reason.
   */
  private log(
    level: Level,
    event: string,
    fields: () => Record<string, string | undefined>,
    message: () => string
  ): Effect.Effect<void> {
    if (!LogLevel.isGreaterThanOrEqualTo(level, this.minimumLevel)) return Effect.void
    const text = message()
    const line =
      level === "Debug" ? Effect.logDebug(text) : level === "Warn" ? Effect.logWarning(text) : Effect.logError(text)
    const annotations: Record<string, string> = { ...this.annotations, "otp.report": "supervisor", "otp.event": event }
    for (const [key, value] of Object.entries(fields())) if (value !== undefined) annotations[key] = value
    return Effect.annotateLogs(line, annotations)
  }

  started(id: string | undefined, pid: Pid): Effect.Effect<void> {
    this.hub?.publish(
      new ChildStarted(
        id === undefined ? { supervisor: this.supervisor, pid } : { supervisor: this.supervisor, id, pid },
        trusted
      )
    )
    return this.log(
      "Debug",
      "child_started",
      () => childFields(id, pid, undefined),
      () => `${childLabel(id, undefined)} started as ${pid}`
    )
  }

  restarted(id: string | undefined, pid: Pid): Effect.Effect<void> {
    this.hub?.publish(
      new ChildRestarted(
        id === undefined ? { supervisor: this.supervisor, pid } : { supervisor: this.supervisor, id, pid },
        trusted
      )
    )
    return Effect.andThen(
      Metric.update(restartsTotal, 1),
      this.log(
        "Debug",
        "child_restarted",
        () => childFields(id, pid, undefined),
        () => `${childLabel(id, undefined)} restarted as ${pid}`
      )
    )
  }

  /**
   * A child exited. Logged as a warning only when it exited abnormally without a crash report of
   * its own: a failure reason means that the process crashed (and the runtime reported it) or was
   * stopped by the exit signal of one that crashed (reported there), so the supervisor's record
   * of it is a debug one and one crash gives one error record.
   */
  exited(id: string | undefined, pid: Pid, reason: ExitReason.ExitReason, bySupervisor: boolean): Effect.Effect<void> {
    const fields = { supervisor: this.supervisor, pid, reason, bySupervisor }
    this.hub?.publish(new ChildExited(id === undefined ? fields : { ...fields, id }, trusted))
    const quiet =
      ExitReason.isGraceful(reason) || reason._tag === "Failure" || (bySupervisor && reason._tag === "Killed")
    return this.log(
      quiet ? "Debug" : "Warn",
      "child_exited",
      () => childFields(id, pid, reason),
      () => `${childLabel(id, pid)} exited${bySupervisor ? " (stopped by its supervisor)" : ""}: ${summary(reason)}`
    )
  }

  startError(id: string | undefined, reason: ExitReason.ExitReason): Effect.Effect<void> {
    const fields = { supervisor: this.supervisor, reason }
    this.hub?.publish(new ChildStartError(id === undefined ? fields : { ...fields, id }, trusted))
    return this.log(
      "Warn",
      "child_start_error",
      () => childFields(id, undefined, reason),
      () => `${childLabel(id, undefined)} failed to start: ${summary(reason)}`
    )
  }

  escalated(reason: ExitReason.ExitReason, maxRestarts: number, withinMs: number): Effect.Effect<void> {
    const within = Duration.millis(withinMs)
    this.hub?.publish(new SupervisorEscalated({ supervisor: this.supervisor, reason, maxRestarts, within }, trusted))
    const log = Effect.andThen(
      Metric.update(escalationsTotal, 1),
      this.log(
        "Error",
        "escalated",
        () => ({ "otp.maxRestarts": String(maxRestarts), "otp.withinMs": String(withinMs) }),
        () =>
          `supervisor reached its maximum restart intensity (${maxRestarts} within ${Duration.format(within)}): stopping all children`
      )
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
    return this.log(
      "Debug",
      "stopped",
      () => ({ "otp.reason": summary(reason) }),
      () => `supervisor stopped: ${summary(reason)}`
    )
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
