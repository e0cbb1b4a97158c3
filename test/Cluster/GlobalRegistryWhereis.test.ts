import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Option } from "effect"
import * as GlobalRegistry from "../../src/Cluster/GlobalRegistry.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import { kv } from "../support/distHarness.ts"
import { GenServer } from "../../src/index.ts"
import { awaitOwner, awaitRegistryPeers, memoryGlobalNode } from "../support/globalHarness.ts"

/**
 * `whereis` is read synchronously when yielded in a generator (src/internal/serviceRead.ts) and is an
 * ordinary effect everywhere else: the two paths must agree in every way a caller can see.
 */
describe("GlobalRegistry.whereis, in and out of generators", () => {
  const twoNodes = Effect.gen(function* () {
    const network = MemoryNetwork.make({ seed: 71 })
    const a = yield* memoryGlobalNode(network, { nodeName: "a" })
    const b = yield* memoryGlobalNode(network, { nodeName: "b", seeds: ["a@a:0"] })
    yield* awaitRegistryPeers([a, b])
    const pid = yield* a.run(GenServer.start(kv, 1))
    yield* a.run(GlobalRegistry.register("kv", pid))
    yield* awaitOwner([a, b], "kv", String(pid))
    return { a, b, pid }
  })

  it.live("yield* in Effect.gen, Effect.fn and Effect.fnUntraced sees the owner and an unknown name as None", () =>
    Effect.gen(function* () {
      const { b, pid } = yield* twoNodes
      const inGen = yield* b.run(
        Effect.gen(function* () {
          return [yield* GlobalRegistry.whereis("kv"), yield* GlobalRegistry.whereis("nobody")] as const
        })
      )
      const traced = Effect.fn("lookup")(function* (name: string) {
        return yield* GlobalRegistry.whereis(name)
      })
      const untraced = Effect.fnUntraced(function* (name: string) {
        return yield* GlobalRegistry.whereis(name)
      })
      // The fast path is taken: in a fiber with the service, the iterator is done at once.
      const step = yield* b.run(Effect.sync(() => GlobalRegistry.whereis("kv")[Symbol.iterator]().next()))
      assert.isTrue(step.done)
      assert.strictEqual(String(Option.getOrUndefined(step.value as Option.Option<unknown>)), String(pid))
      for (const [found, missing] of [
        inGen,
        [yield* b.run(traced("kv")), yield* b.run(traced("nobody"))],
        [yield* b.run(untraced("kv")), yield* b.run(untraced("nobody"))]
      ] as const) {
        assert.strictEqual(String(Option.getOrUndefined(found)), String(pid))
        assert.isTrue(Option.isNone(missing))
      }
    })
  )

  it.live("out of generators (flatMap, map, runPromise) it is an ordinary effect with the same results", () =>
    Effect.gen(function* () {
      const { b, pid } = yield* twoNodes
      const mapped = yield* b.run(Effect.map(GlobalRegistry.whereis("kv"), (owner) => Option.map(owner, String)))
      assert.deepStrictEqual(mapped, Option.some(String(pid)))
      const chained = yield* b.run(GlobalRegistry.whereis("nobody").pipe(Effect.flatMap(Effect.succeed)))
      assert.isTrue(Option.isNone(chained))
      const promised = yield* Effect.promise(() =>
        Effect.runPromise(Effect.provideContext(GlobalRegistry.whereis("kv"), b.context))
      )
      assert.strictEqual(String(Option.getOrUndefined(promised)), String(pid))
    })
  )

  it.live("it reads when the generator reaches it, in the fiber that runs it, with that fiber's registry", () =>
    Effect.gen(function* () {
      const { a, b, pid } = yield* twoNodes
      // One effect value, made before the name exists, yielded later by fibers of different nodes.
      const lookup = GlobalRegistry.whereis("later")
      const before = yield* b.run(
        Effect.gen(function* () {
          return yield* lookup
        })
      )
      assert.isTrue(Option.isNone(before))
      yield* a.run(GlobalRegistry.register("later", pid))
      // a's replica has it as soon as register returns; b's may not yet.
      const onA = yield* a.run(
        Effect.gen(function* () {
          return yield* lookup
        })
      )
      assert.strictEqual(String(Option.getOrUndefined(onA)), String(pid))
      yield* awaitOwner([b], "later", String(pid))
      // A registry provided inside the generator's own fiber wins over the outer one.
      const empty = GlobalRegistry.GlobalRegistry.of({ ...a.registry, whereisUnsafe: () => undefined })
      const inner = yield* a.run(
        Effect.gen(function* () {
          return yield* lookup
        }).pipe(Effect.provideService(GlobalRegistry.GlobalRegistry, empty))
      )
      assert.isTrue(Option.isNone(inner))
      // Forked fibers read with their own context too.
      const forked = yield* b.run(
        Effect.forkChild(
          Effect.gen(function* () {
            return yield* lookup
          })
        )
      )
      assert.strictEqual(String(Option.getOrUndefined(yield* Fiber.join(forked))), String(pid))
    })
  )

  it("without a current fiber its iterator yields the effect itself, like any effect", () => {
    const lookup = GlobalRegistry.whereis("kv")
    const step = lookup[Symbol.iterator]().next()
    assert.isFalse(step.done)
    assert.strictEqual(step.value as unknown, lookup)
  })

  it("without the service it dies with the error Context.getUnsafe raises, which the generator cannot catch", () => {
    let caught = false
    const exit = Effect.runSyncExit(
      Effect.gen(function* () {
        try {
          return yield* GlobalRegistry.whereis("kv")
        } catch {
          caught = true
          return Option.none()
        }
      }) as Effect.Effect<Option.Option<unknown>>
    )
    assert.isFalse(caught)
    assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
    let expected = ""
    try {
      Context.getUnsafe(
        Context.empty() as Context.Context<GlobalRegistry.GlobalRegistry>,
        GlobalRegistry.GlobalRegistry
      )
    } catch (error) {
      expected = (error as Error).message
    }
    assert.include(String(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)), expected)
    // The same out of a generator.
    const flat = Effect.runSyncExit(GlobalRegistry.whereis("kv") as Effect.Effect<Option.Option<unknown>>)
    assert.include(String(Cause.squash((flat as Exit.Failure<unknown, unknown>).cause)), expected)
  })
})
