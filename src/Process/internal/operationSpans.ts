/**
 * Spans of the process operations that are not requests: spawns (local and remote), plain sends
 * to another node and remote stops. Made with the same decision as calls and casts (see
 * `tracing.ts`): only with a tracer installed, never under an unsampled parent; a local spawn only
 * inside a sampled trace (it never starts one).
 *
 * @internal
 */
import { Effect, type Fiber, type Tracer } from "effect"
import { Attr, decideFor, installedTracer, parentSpanOf, withSpan } from "./tracing.ts"

/**
 * Runs `run` with the span to hand to the other node: inside a new span of `kind` when the
 * decision is to make one, with the unsampled parent when there is only context to pass on, with
 * none otherwise. `pidOf` names the process the operation made (`effect_otp.pid`).
 */
export const tracedOperation = <A, E, R>(
  fiber: Fiber.Fiber<unknown, unknown>,
  remote: boolean,
  run: (span: Tracer.AnySpan | undefined, fiber: Fiber.Fiber<unknown, unknown>) => Effect.Effect<A, E, R>,
  name: string,
  kind: Tracer.SpanKind,
  attributes: () => Record<string, unknown>,
  pidOf?: (result: A) => unknown
): Effect.Effect<A, E, R> => {
  const decision = decideFor(fiber, remote)
  if (decision === "none") return run(undefined, fiber)
  if (decision === "propagate") return run(parentSpanOf(fiber), fiber)
  return inSpan(run, name, kind, attributes(), pidOf)
}

/**
 * A local spawn (`Process.spawn*`, `GenServer.start*`) inside an INTERNAL `spawn <behaviour>` span,
 * when the spawner runs in a sampled span and a tracer is installed. The new process is started
 * from inside that span, so spans it makes are its children.
 */
export const tracedSpawn = <A, E, R>(
  fiber: Fiber.Fiber<unknown, unknown>,
  node: string,
  behaviour: string,
  name: string | undefined,
  run: (fiber: Fiber.Fiber<unknown, unknown>) => Effect.Effect<A, E, R>,
  pidOf: (result: A) => unknown
): Effect.Effect<A, E, R> => {
  const parent = parentSpanOf(fiber)
  if (parent === undefined || !parent.sampled || installedTracer(fiber.context as never) === undefined)
    return run(fiber)
  const attributes: Record<string, unknown> = { [Attr.node]: node, [Attr.behaviour]: behaviour }
  if (name !== undefined) attributes[Attr.name] = name
  return inSpan((_, inner) => run(inner), `spawn ${behaviour}`, "internal", attributes, pidOf)
}

const inSpan = <A, E, R>(
  run: (span: Tracer.AnySpan | undefined, fiber: Fiber.Fiber<unknown, unknown>) => Effect.Effect<A, E, R>,
  name: string,
  kind: Tracer.SpanKind,
  attributes: Record<string, unknown>,
  pidOf: ((result: A) => unknown) | undefined
): Effect.Effect<A, E, R> =>
  withSpan(
    Effect.withFiber((inner) => {
      const effect = run(parentSpanOf(inner), inner)
      return pidOf === undefined
        ? effect
        : Effect.tap(effect, (result) => Effect.annotateCurrentSpan(Attr.pid, String(pidOf(result))))
    }),
    name,
    { attributes, kind },
    true
  )
