/**
 * An effect that reads a service of the current fiber's context synchronously when it is yielded in
 * a generator (`yield* read` in `Effect.gen` / `Effect.fn`), and is an ordinary one-step effect
 * everywhere else (`flatMap`, `pipe`, `runPromise`, ...).
 *
 * Why: Effect's generator runner only goes back to the fiber's run loop when a generator yields a
 * value that is not an `Exit`, and `yield* x` asks `x[Symbol.iterator]()` for what to yield. Every
 * effect's iterator yields the effect itself (one trip through the run loop); this one's iterator is
 * done at once with the value read from the running fiber (`Fiber.getCurrent()`): `yield*` becomes a
 * plain function call. Semantics are those of `Effect.withFiberSucceed`: the read happens when the
 * generator reaches the `yield*`, in the fiber that runs it, with that fiber's context; a pure read
 * observes no interruption and makes no span in either path.
 *
 * It falls back to the ordinary behaviour (yield the effect to the run loop) when there is no
 * current fiber or the service is missing from its context, so a missing service dies with the same
 * error as before (`Context.getUnsafe`'s). One caveat, documented where it is used: in a body run
 * eagerly by `Effect.fnUntracedEager`, the read happens when the function is called (in the calling
 * fiber, if any), like the other synchronous parts of such a body.
 *
 * `read` must be synchronous and must not throw: it may run in either path.
 *
 * @internal
 */
import { Context, type Effect, Effectable, Exit, Fiber, Utils } from "effect"

class ServiceRead<I, S, P, A> {
  constructor(
    readonly key: Context.Key<I, S>,
    readonly read: (service: S, parameter: P) => A,
    readonly parameter: P
  ) {}

  [Symbol.iterator](): Iterator<unknown, A, unknown> {
    const fiber = Fiber.getCurrent()
    if (fiber !== undefined) {
      const service = Context.getOrUndefined(fiber.context as Context.Context<I>, this.key)
      if (service !== undefined)
        return { next: doneNext, done: true, value: this.read(service, this.parameter) } as DoneIterator<A>
    }
    return new Utils.SingleShotGen(this as unknown as Effect.Effect<A>) as unknown as Iterator<unknown, A, unknown>
  }
}

/** An iterator that is its own, finished, result: one allocation per `yield*`. */
interface DoneIterator<A> extends Iterator<unknown, A, unknown> {
  readonly value: A
  readonly done: true
}

function doneNext<A>(this: DoneIterator<A>): IteratorReturnResult<A> {
  return this as unknown as IteratorReturnResult<A>
}

// The rest of the Effect protocol (pipe, type id, evaluation by the run loop) comes from Effect's
// own primitive prototype; the class's `[Symbol.iterator]` shadows the prototype's.
Object.setPrototypeOf(
  ServiceRead.prototype,
  Effectable.Prototype<Effect.Effect<unknown>>({
    label: "ServiceRead",
    evaluate(this: Effect.Effect<unknown>, fiber) {
      const self = this as unknown as ServiceRead<unknown, unknown, unknown, unknown>
      return Exit.succeed(
        self.read(Context.getUnsafe(fiber.context as Context.Context<unknown>, self.key), self.parameter)
      )
    }
  })
)

/**
 * `read(service, parameter)` of the service `key` in the current fiber's context, as an effect that
 * a generator evaluates without a trip through the run loop (see the module doc). `read` is a
 * module-level function and `parameter` its argument, so that a call allocates no closure.
 */
export const serviceRead = <I, S, P, A>(
  key: Context.Key<I, S>,
  read: (service: S, parameter: P) => A,
  parameter: P
): Effect.Effect<A, never, I> => new ServiceRead(key, read, parameter) as unknown as Effect.Effect<A, never, I>
