/**
 * What a log record says about where it was made: the node, the process and the span of the
 * fiber that logs, read from that fiber's context when the record is written (nothing is
 * computed for records that are never written).
 *
 * @internal
 */
import { Context, type Fiber, Tracer } from "effect"
import { CurrentProcess } from "../../Process/CurrentProcess.ts"
import { ProcessRuntime } from "../../Process/ProcessRuntime.ts"

/** The fields a record gets from its fiber's context; absent ones are undefined. */
export interface ContextFields {
  /** The node: the pid's node inside a process, the runtime's node elsewhere on a node. */
  readonly node: string | undefined
  /** The pid, inside a process (and in fibers forked by one). */
  readonly pid: string | undefined
  /** The registered name of the process, if it has one. */
  readonly name: string | undefined
  /** The current span's trace id, inside a span. */
  readonly traceId: string | undefined
  /** The current span's id, inside a span. */
  readonly spanId: string | undefined
}

/** Reads the {@link ContextFields} of the fiber that logs. */
export const contextFields = (fiber: Fiber.Fiber<unknown, unknown>): ContextFields => {
  const context = fiber.context as Context.Context<never>
  const process = Context.getOrUndefined(context, CurrentProcess)
  const span = Context.getOrUndefined(context, Tracer.ParentSpan)
  return {
    node: process !== undefined ? process.pid.node : Context.getOrUndefined(context, ProcessRuntime)?.node,
    pid: process === undefined ? undefined : String(process.pid),
    name: process?.name,
    traceId: span?.traceId,
    spanId: span?.spanId
  }
}
