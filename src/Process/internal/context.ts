/**
 * Access to the node's process runtime from library code.
 *
 * @internal
 */
import { Context, Effect, type Fiber } from "effect"
import { ProcessRuntime } from "../ProcessRuntime.ts"
import type { Runtime } from "./runtime.ts"

/**
 * The runtime behind the public `ProcessRuntime` service. The service is always a `Runtime` (only
 * `ProcessRuntime.make` builds one); its public type shows only what users may read.
 */
export const runtimeOf = (service: ProcessRuntime["Service"]): Runtime => service as Runtime

/**
 * Runs `f` with the runtime and the current fiber, without the overhead of a generator: for
 * library code on hot paths.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const withRuntime = <X extends Effect.Effect<any, any, any>>(
  f: (runtime: Runtime, fiber: Fiber.Fiber<unknown, unknown>) => X
): Effect.Effect<Effect.Success<X>, Effect.Error<X>, Effect.Services<X> | ProcessRuntime> =>
  Effect.withFiber((fiber) =>
    f(Context.getUnsafe(fiber.context as Context.Context<ProcessRuntime>, ProcessRuntime) as Runtime, fiber)
  )
