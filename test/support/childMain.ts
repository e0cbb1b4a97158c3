/**
 * The child side of the multi-process tests (see `childNode.ts` for the parent side): how a node
 * program in its own OS process reports events, logs and ends.
 */
import { Cause, Effect, Exit, Fiber, Logger, type Scope } from "effect"

/** Prints an `EVENT {json}` line on stdout for the parent, stamped with the wall-clock time. */
export const printEvent = (event: object): void => {
  process.stdout.write(`EVENT ${JSON.stringify({ ...event, at: Date.now() })}\n`)
}

/**
 * Runs a child's program (scoped) with its logs on stderr in logfmt, until SIGTERM or until its
 * stdin closes (the parent is gone): then the program is interrupted, its scope closes and the
 * process exits 0. A failure is written to stderr with `label` and exits 1.
 */
export const runChildMain = <E>(label: string, program: Effect.Effect<never, E, Scope.Scope>): void => {
  const fiber = Effect.runFork(
    program.pipe(
      Effect.scoped,
      // Outermost, so that the construction of the program's layers logs to stderr too.
      Effect.provide(Logger.layer([Logger.withConsoleError(Logger.formatLogFmt)]))
    )
  )
  const leave = () => Effect.runFork(Fiber.interrupt(fiber))
  process.on("SIGTERM", leave)
  process.stdin.on("end", leave)
  process.stdin.resume()
  fiber.addObserver((exit) => {
    if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
      process.stderr.write(`${label} failed: ${Cause.pretty(exit.cause)}\n`)
      process.exit(1)
    }
    process.exit(0)
  })
}
