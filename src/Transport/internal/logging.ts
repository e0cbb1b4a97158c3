/**
 * Logging from plain callbacks (socket events) through the Effect logger of the layer that built
 * the transport.
 *
 * @internal
 */
import { Effect } from "effect"
import type { Log } from "./linkEngine.ts"

/** A `Log` that runs `Effect.logWithLevel` with the current services, annotated with the node name. */
export const makeLog = Effect.fnUntraced(function* (nodeName: string) {
  const run = Effect.runForkWith(yield* Effect.context<never>())
  const log: Log = (level, message) =>
    void run(Effect.logWithLevel(level)(message).pipe(Effect.annotateLogs({ node: nodeName })))
  return log
})
