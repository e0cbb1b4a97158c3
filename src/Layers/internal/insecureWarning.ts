/**
 * The reminder an insecure node logs: at start and then every minute (on Effect's `Clock`, so that
 * `TestClock` drives it), for as long as its scope lives.
 *
 * @internal
 */
import { Effect, Schedule, type Scope } from "effect"

/** The warning's text. */
export const insecureMessage =
  "CLUSTER_INSECURE=true: cluster links are plain TCP, with no authentication and no encryption; any host that reaches the cluster port can join and read every message. Set CLUSTER_SECRET (or CLUSTER_SECRET_FILE) on every node."

/** How often the warning is repeated. */
export const insecureWarningInterval = "1 minute"

/** Logs the warning now and every minute, in the background, until the scope closes. */
export const warnInsecure: Effect.Effect<void, never, Scope.Scope> = Effect.forkScoped(
  Effect.logWarning(insecureMessage).pipe(
    Effect.annotateLogs("otp.report", "insecure"),
    Effect.repeat(Schedule.spaced(insecureWarningInterval))
  )
).pipe(Effect.asVoid)
