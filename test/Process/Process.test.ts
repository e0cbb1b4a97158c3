import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option } from "effect"
import * as fc from "fast-check"
import { ExitReason, Pid, Process, ProcessErrors, ProcessRuntime, RemoteName, Signal } from "../../src/index.ts"
import { runtimeOf } from "../../src/Process/internal/context.ts"
import { expectNoMessage, inProcess, receiveOrFail, runtimeLayer } from "../support/process.ts"

const run = <A, E>(effect: Effect.Effect<A, E, ProcessRuntime.ProcessRuntime>) => Effect.provide(effect, runtimeLayer)

/**
 * Starts waiting for the process's exit reason now (a process that is already dead reports
 * `noproc`, as a monitor would), and returns the fiber to join later.
 */
const watchExit = (pid: Pid.Pid) => Effect.forkChild(Process.awaitExit(pid), { startImmediately: true })

/** A process that waits forever (until a signal ends it). */
const idle = (self: Process.ProcessContext<unknown>) => Effect.forever(self.receive)

/** A process that exits with `reason` when it receives any message. */
const exitOnMessage = (reason: ExitReason.ExitReason) => (self: Process.ProcessContext<unknown>) =>
  Effect.flatMap(self.receive, () => Process.exitSelf(reason))

describe("Pid", () => {
  it("prints like <node.id.incarnation> and compares by value", () => {
    const pid = Pid.make("a@127.0.0.1", 7, 3)
    assert.strictEqual(String(pid), "<a@127.0.0.1.7.3>")
    assert.isTrue(Pid.equals(pid, Pid.make("a@127.0.0.1", 7, 3)))
    assert.isFalse(Pid.equals(pid, Pid.make("a@127.0.0.1", 7, 4)))
  })

  it.effect("round-trips through its schema", () =>
    Effect.gen(function* () {
      const { Schema } = yield* Effect.promise(() => import("effect"))
      const pid = Pid.make("n", 1, 2)
      const encoded = Schema.encodeSync(Pid.Pid)(pid)
      const decoded = Schema.decodeUnknownSync(Pid.Pid)(encoded)
      assert.isTrue(Pid.equals(decoded, pid))
      assert.instanceOf(decoded, Pid.Pid)
    })
  )
})

describe("spawn and send", () => {
  it.effect("a process receives what is sent to it, in order", () =>
    run(
      Effect.gen(function* () {
        const got = yield* Deferred.make<ReadonlyArray<unknown>>()
        const pid = yield* Process.spawn((self) =>
          Effect.gen(function* () {
            const received: Array<unknown> = []
            for (let i = 0; i < 3; i++) received.push(yield* self.receive)
            yield* Deferred.succeed(got, received)
          })
        )
        const exit = yield* watchExit(pid)
        yield* Process.send(pid, "a")
        yield* Process.send(pid, "b")
        yield* Process.send(pid, "c")
        assert.deepStrictEqual(yield* Deferred.await(got), ["a", "b", "c"])
        assert.isTrue(ExitReason.isNormal(yield* Fiber.join(exit)))
      })
    )
  )

  it.effect("a send to a dead pid is dropped silently; to an unknown name it fails with NoProcess", () =>
    run(
      Effect.gen(function* () {
        // The body finishes on the spawner's stack: the process is already dead.
        const pid = yield* Process.spawn(() => Effect.void)
        assert.isFalse(yield* Process.isAlive(pid))
        assert.strictEqual((yield* Process.awaitExit(pid))._tag, "NoProc")
        yield* Process.send(pid, "lost")
        const error = yield* Effect.flip(Process.send("nobody", "hello"))
        assert.instanceOf(error, ProcessErrors.NoProcess)
        assert.include(error.message, "nobody")
      })
    )
  )

  it.effect("a process that fails exits with a Failure carrying its cause", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* Process.spawn((self) => Effect.andThen(self.receive, Effect.fail("boom")))
        const exit = yield* watchExit(pid)
        yield* Process.send(pid, "go")
        const reason = yield* Fiber.join(exit)
        assert.strictEqual(reason._tag, "Failure")
        assert.include(ExitReason.format(reason), "boom")
      })
    )
  )

  it.effect("a process can send to itself", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          yield* Process.send(self.pid, "to me")
          assert.strictEqual(yield* receiveOrFail(self), "to me")
        })
      )
    )
  )

  it.effect("a long chain of processes relays a message without overflowing the stack", () =>
    run(
      Effect.gen(function* () {
        const done = yield* Deferred.make<number>()
        // Each process forwards what it receives to the next: 5,000 synchronous hand-overs deep.
        let next = yield* Process.spawn((self: Process.ProcessContext<number>) =>
          Effect.flatMap(self.receive, (n) => Deferred.succeed(done, n as number))
        )
        for (let i = 0; i < 5000; i++) {
          const target = next
          next = yield* Process.spawn((self: Process.ProcessContext<number>) =>
            Effect.flatMap(self.receive, (n) => Effect.orDie(Process.send(target, (n as number) + 1)))
          )
        }
        yield* Process.send(next, 0)
        assert.strictEqual(yield* Deferred.await(done), 5000)
      })
    )
  )

  it.effect("two runtimes in one OS process do not see each other's processes", () =>
    Effect.gen(function* () {
      const pid = yield* Process.spawn(idle).pipe(Effect.provide(ProcessRuntime.layer({ node: "a" })))
      const seen = yield* Process.isAlive(pid).pipe(Effect.provide(ProcessRuntime.layer({ node: "a" })))
      assert.isFalse(seen)
    })
  )

  it.effect("releasing the runtime layer stops every process with shutdown", () =>
    Effect.gen(function* () {
      const reason = yield* Deferred.make<ExitReason.ExitReason>()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const runtime = runtimeOf(yield* ProcessRuntime.ProcessRuntime)
          const pid = yield* Process.spawn(idle)
          runtime.watchExit(runtime.lookup(pid), (r) => Deferred.doneUnsafe(reason, Exit.succeed(r)))
        }).pipe(Effect.provide(ProcessRuntime.layer()))
      )
      assert.strictEqual((yield* Deferred.await(reason))._tag, "Shutdown")
    })
  )
})

describe("ordering", () => {
  it.effect("messages from one sender to one receiver arrive in send order (property)", () =>
    run(
      Effect.gen(function* () {
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.array(fc.integer(), { maxLength: 200 }),
              fc.integer({ min: 1, max: 16 }),
              fc.constantFrom<"suspend" | "fail">("suspend"),
              (messages, capacity, overflow) =>
                Effect.runPromise(
                  Effect.gen(function* () {
                    const got = yield* Deferred.make<ReadonlyArray<unknown>>()
                    const pid = yield* Process.spawn(
                      (self) =>
                        Effect.gen(function* () {
                          const received: Array<unknown> = []
                          for (let i = 0; i < messages.length; i++) received.push(yield* self.receive)
                          yield* Deferred.succeed(got, received)
                        }),
                      { mailboxCapacity: capacity, overflow }
                    )
                    for (const message of messages) yield* Process.send(pid, message)
                    const received = yield* Deferred.await(got)
                    return JSON.stringify(received) === JSON.stringify(messages)
                  }).pipe(Effect.provide(ProcessRuntime.layer()))
                )
            ),
            { numRuns: 100 }
          )
        )
      })
    )
  )

  it.effect("interleaved senders each keep their own order (property)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 60 }), (senders, perSender) =>
          Effect.runPromise(
            Effect.gen(function* () {
              const got = yield* Deferred.make<ReadonlyArray<readonly [number, number]>>()
              const total = senders * perSender
              const receiver = yield* Process.spawn(
                (self) =>
                  Effect.gen(function* () {
                    const received: Array<readonly [number, number]> = []
                    for (let i = 0; i < total; i++) received.push((yield* self.receive) as readonly [number, number])
                    yield* Deferred.succeed(got, received)
                  }),
                { mailboxCapacity: 4 }
              )
              for (let s = 0; s < senders; s++) {
                yield* Process.spawn(() =>
                  Effect.gen(function* () {
                    for (let i = 0; i < perSender; i++) {
                      yield* Process.send(receiver, [s, i] as const)
                      if (i % 7 === 0) yield* Effect.yieldNow
                    }
                  })
                )
              }
              const received = yield* Deferred.await(got)
              for (let s = 0; s < senders; s++) {
                const sequence = received.filter(([from]) => from === s).map(([, i]) => i)
                if (JSON.stringify(sequence) !== JSON.stringify(Array.from({ length: perSender }, (_, i) => i))) {
                  return false
                }
              }
              return true
            }).pipe(Effect.provide(ProcessRuntime.layer()))
          )
        ),
        { numRuns: 50 }
      )
    )
  )
})

describe("mailbox overflow", () => {
  it.effect("with policy fail, a send to a full mailbox fails with MailboxFull", () =>
    run(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const pid = yield* Process.spawn((self) => Effect.andThen(Deferred.await(gate), Effect.forever(self.receive)), {
          mailboxCapacity: 2,
          overflow: "fail"
        })
        yield* Process.send(pid, 1)
        yield* Process.send(pid, 2)
        const error = yield* Effect.flip(Process.send(pid, 3))
        assert.instanceOf(error, ProcessErrors.MailboxFull)
        assert.strictEqual(error.capacity, 2)
        const info = yield* Process.info(pid)
        assert.strictEqual(Option.getOrThrow(info).messageQueueLength, 2)
        yield* Process.kill(pid)
      })
    )
  )

  it.effect("with policy suspend, the sender waits for room and nothing is lost", () =>
    run(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const got = yield* Deferred.make<ReadonlyArray<unknown>>()
        const pid = yield* Process.spawn(
          (self) =>
            Effect.gen(function* () {
              yield* Deferred.await(gate)
              const received: Array<unknown> = []
              for (let i = 0; i < 5; i++) received.push(yield* self.receive)
              yield* Deferred.succeed(got, received)
            }),
          { mailboxCapacity: 2, overflow: "suspend" }
        )
        const sender = yield* Effect.forkChild(
          Effect.forEach([1, 2, 3, 4, 5], (n) => Process.send(pid, n), { discard: true })
        )
        // The sender fills the mailbox and then waits: it cannot finish while the receiver is gated.
        yield* Effect.yieldNow
        assert.isUndefined(sender.pollUnsafe())
        assert.strictEqual(Option.getOrThrow(yield* Process.info(pid)).messageQueueLength, 2)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(sender)
        assert.deepStrictEqual(yield* Deferred.await(got), [1, 2, 3, 4, 5])
      })
    )
  )

  it.effect("runtime signals are never refused by a full mailbox", () =>
    run(
      inProcess(
        (self) =>
          Effect.gen(function* () {
            yield* Process.trapExit(true)
            const worker = yield* Process.spawnLink(exitOnMessage(ExitReason.custom("crash")))
            for (let i = 0; i < 3; i++) yield* Process.send(self.pid, i)
            yield* Process.send(worker, "go")
            for (let i = 0; i < 3; i++) assert.strictEqual(yield* receiveOrFail(self), i)
            const exit = yield* receiveOrFail(self)
            assert.instanceOf(exit, Signal.Exit)
          }),
        { mailboxCapacity: 3, overflow: "fail" }
      )
    )
  )
})

describe("links and exit signals", () => {
  it.effect("an abnormal exit kills a linked process that does not trap exits", () =>
    run(
      Effect.gen(function* () {
        const parent = yield* Process.spawn((self) =>
          Effect.gen(function* () {
            yield* Process.spawnLink(exitOnMessage(ExitReason.custom("crash")), { name: "child" })
            yield* Effect.forever(self.receive)
          })
        )
        const exit = yield* watchExit(parent)
        yield* Process.send("child", "go")
        const reason = yield* Fiber.join(exit)
        assert.strictEqual(reason._tag, "Failure")
        assert.include(ExitReason.format(reason), "crash")
      })
    )
  )

  it.effect("a normal exit does not kill a linked process", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const child = yield* Process.spawnLink(exitOnMessage(ExitReason.normal))
          const ref = yield* Process.monitor(child)
          yield* Process.send(child, "go")
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.strictEqual(down.ref.id, ref.id)
          assert.isTrue(ExitReason.isNormal(down.reason))
          yield* expectNoMessage(self)
        })
      )
    )
  )

  it.effect("a trapping process receives Exit messages instead of dying", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          assert.isFalse(yield* Process.trapExit(true))
          const child = yield* Process.spawnLink(exitOnMessage(ExitReason.custom("crash")))
          yield* Process.send(child, "go")
          const message = yield* receiveOrFail(self)
          assert.instanceOf(message, Signal.Exit)
          assert.isTrue(Pid.equals((message as Signal.Exit).pid, child))
          assert.include(ExitReason.format((message as Signal.Exit).reason), "crash")
        })
      )
    )
  )

  it.effect("links propagate along a chain: the crash of the last ends every process", () =>
    run(
      Effect.gen(function* () {
        const pids = yield* Deferred.make<ReadonlyArray<Pid.Pid>>()
        // a -> b -> c -> d, each spawned (and linked) by the previous one.
        const chain =
          (
            depth: number,
            acc: ReadonlyArray<Pid.Pid>
          ): ((self: Process.ProcessContext<unknown>) => Effect.Effect<void, unknown, ProcessRuntime.ProcessRuntime>) =>
          (self) =>
            Effect.gen(function* () {
              const mine = [...acc, self.pid]
              if (depth === 0) {
                yield* Deferred.succeed(pids, mine)
                yield* self.receive
                return yield* Process.exitSelf(ExitReason.custom("end of chain"))
              }
              yield* Process.spawnLink(chain(depth - 1, mine))
              yield* Effect.forever(self.receive)
            })
        yield* Process.spawn(chain(3, []))
        const all = yield* Deferred.await(pids)
        assert.strictEqual(all.length, 4)
        const exits = yield* Effect.forEach(all, watchExit)
        yield* Process.send(all[3]!, "go")
        for (const exit of exits) {
          assert.include(ExitReason.format(yield* Fiber.join(exit)), "end of chain")
        }
      })
    )
  )

  it.effect("exit(pid, normal) is ignored by a process that does not trap exits", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* Process.spawn(idle)
        yield* Process.exit(pid, ExitReason.normal)
        assert.isTrue(yield* Process.isAlive(pid))
        const exit = yield* watchExit(pid)
        yield* Process.exit(pid, ExitReason.shutdown())
        assert.strictEqual((yield* Fiber.join(exit))._tag, "Shutdown")
      })
    )
  )

  it.effect("kill cannot be trapped and the process is dead at once", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* Process.spawn(idle, { trapExit: true })
        yield* Process.exit(pid, ExitReason.shutdown())
        assert.isTrue(yield* Process.isAlive(pid), "a trapping process survives shutdown")
        yield* Process.kill(pid)
        assert.isFalse(yield* Process.isAlive(pid))
        assert.strictEqual((yield* Process.awaitExit(pid))._tag, "NoProc")
      })
    )
  )

  it.effect("a killed process is reported dead even while its finalizers still run", () =>
    run(
      Effect.gen(function* () {
        const release = yield* Deferred.make<void>()
        const finalizerStarted = yield* Deferred.make<void>()
        const pid = yield* Process.spawn((self) =>
          Effect.forever(self.receive).pipe(
            Effect.ensuring(Effect.andThen(Deferred.succeed(finalizerStarted, undefined), Deferred.await(release)))
          )
        )
        const reason = yield* watchExit(pid)
        yield* Process.kill(pid)
        yield* Deferred.await(finalizerStarted)
        assert.strictEqual((yield* Fiber.join(reason))._tag, "Killed")
        assert.isFalse(yield* Process.isAlive(pid))
        yield* Deferred.succeed(release, undefined)
      })
    )
  )

  it.effect("linked processes killed by a kill see reason killed", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          yield* Process.trapExit(true)
          const child = yield* Process.spawnLink(idle)
          yield* Process.kill(child)
          const exit = (yield* receiveOrFail(self)) as Signal.Exit
          assert.strictEqual(exit.reason._tag, "Killed")
        })
      )
    )
  )

  it.effect("linking to a dead process delivers a noproc exit signal", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          yield* Process.trapExit(true)
          const dead = yield* Process.spawn(() => Effect.void)
          yield* Process.link(dead)
          const exit = (yield* receiveOrFail(self)) as Signal.Exit
          assert.strictEqual(exit.reason._tag, "NoProc")
        })
      )
    )
  )

  it.effect("a link to a dead pid fails with NoProcess when the caller does not trap exits, and it lives on", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const dead = yield* Process.spawn(() => Effect.void)
          yield* Process.awaitExit(dead)
          const error = yield* Effect.flip(Process.link(dead))
          assert.instanceOf(error, ProcessErrors.NoProcess)
          assert.include(error.message, String(dead))
          assert.isTrue(yield* Process.isAlive(self.pid))
          assert.deepStrictEqual(Option.getOrThrow(yield* Process.info(self.pid)).links, [])
          yield* expectNoMessage(self)
        })
      )
    )
  )

  it.effect("a link to a name nobody holds fails with NoProcess, trapping exits or not", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          assert.instanceOf(yield* Effect.flip(Process.link("nobody")), ProcessErrors.NoProcess)
          yield* Process.trapExit(true)
          assert.instanceOf(yield* Effect.flip(Process.link("nobody")), ProcessErrors.NoProcess)
          yield* expectNoMessage(self)
        })
      )
    )
  )

  it.effect("after unlink, a crash no longer propagates", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const child = yield* Process.spawnLink(exitOnMessage(ExitReason.custom("crash")))
          yield* Process.unlink(child)
          const ref = yield* Process.monitor(child)
          yield* Process.send(child, "go")
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.strictEqual(down.ref.id, ref.id)
          // Still alive: the crash did not reach us.
          assert.isTrue(yield* Process.isAlive(self.pid))
        })
      )
    )
  )

  it.effect("operations that need a process fail with NotAProcess elsewhere", () =>
    run(
      Effect.gen(function* () {
        const error = yield* Effect.flip(Process.spawnLink(idle))
        assert.instanceOf(error, ProcessErrors.NotAProcess)
        assert.include(error.message, "spawnLink")
      })
    )
  )
})

describe("monitors", () => {
  it.effect("a monitor delivers Down with the exit reason", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const [pid, ref] = yield* Process.spawnMonitor(exitOnMessage(ExitReason.custom("bye")))
          yield* Process.send(pid, "go")
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.instanceOf(down, Signal.Down)
          assert.strictEqual(down.ref.id, ref.id)
          assert.isTrue(Pid.equals(down.pid, pid))
          assert.include(ExitReason.format(down.reason), "bye")
        })
      )
    )
  )

  it.effect("monitoring a dead pid delivers Down with noproc at once", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const dead = yield* Process.spawn(() => Effect.void)
          const ref = yield* Process.monitor(dead)
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.strictEqual(down.ref.id, ref.id)
          assert.strictEqual(down.reason._tag, "NoProc")
        })
      )
    )
  )

  it.effect("a monitor by name resolves the name when it is set", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const pid = yield* Process.spawn(exitOnMessage(ExitReason.normal), { name: "svc" })
          yield* Process.monitor("svc")
          yield* Process.send("svc", "go")
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.isTrue(Pid.equals(down.pid, pid))
        })
      )
    )
  )

  it.effect("monitoring a name nobody holds delivers Down with noproc at once, as a remote name does", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const node = self.pid.node
          const ref = yield* Process.monitor("nobody")
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.instanceOf(down, Signal.Down)
          assert.strictEqual(down.ref.id, ref.id)
          assert.strictEqual(down.reason._tag, "NoProc")
          assert.isTrue(Pid.equals(down.pid, Pid.make(node, 0, 0)), `the name's pid is <${node}.0.0>`)
          // A RemoteName of this node is the bare name.
          const byRemoteName = yield* Process.monitor(RemoteName.make("nobody", node))
          const again = (yield* receiveOrFail(self)) as Signal.Down
          assert.strictEqual(again.ref.id, byRemoteName.id)
          assert.strictEqual(again.reason._tag, "NoProc")
          assert.isTrue(Pid.equals(again.pid, Pid.make(node, 0, 0)))
          // A name on a node that cannot be reached reports that node's pid the same way.
          yield* Process.monitor(RemoteName.make("nobody", "other@127.0.0.1"))
          const unreachable = (yield* receiveOrFail(self)) as Signal.Down
          assert.strictEqual(unreachable.reason._tag, "NoConnection")
          assert.isTrue(Pid.equals(unreachable.pid, Pid.make("other@127.0.0.1", 0, 0)))
        })
      )
    )
  )

  it.effect("demonitor with flush removes a Down that already arrived", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const [pid, ref] = yield* Process.spawnMonitor(exitOnMessage(ExitReason.normal))
          yield* Process.send(pid, "go")
          yield* Process.awaitExit(pid)
          assert.strictEqual(Option.getOrThrow(yield* Process.info(self.pid)).messageQueueLength, 1)
          assert.isFalse(yield* Process.demonitor(ref, { flush: true }))
          yield* expectNoMessage(self)
        })
      )
    )
  )

  it.effect("after demonitor, no Down arrives", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const [pid, ref] = yield* Process.spawnMonitor(exitOnMessage(ExitReason.normal))
          assert.isTrue(yield* Process.demonitor(ref))
          yield* Process.send(pid, "go")
          yield* Process.awaitExit(pid)
          yield* expectNoMessage(self)
          assert.strictEqual(Option.getOrThrow(yield* Process.info(self.pid)).monitors, 0)
        })
      )
    )
  )

  it.effect("every monitor fires exactly once, whatever the order of exits and monitors (property)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              target: fc.integer({ min: 0, max: 4 }),
              action: fc.constantFrom("monitor", "monitor", "kill", "exit", "stop", "demonitor")
            }),
            { maxLength: 40 }
          ),
          (steps) =>
            Effect.runPromise(
              inProcess((self) =>
                Effect.gen(function* () {
                  const targets: Array<Pid.Pid> = []
                  for (let i = 0; i < 5; i++) targets.push(yield* Process.spawn(exitOnMessage(ExitReason.normal)))
                  const active = new Map<number, Signal.MonitorRef>()
                  const expected = new Set<number>()
                  for (const step of steps) {
                    const target = targets[step.target]!
                    switch (step.action) {
                      case "monitor": {
                        const ref = yield* Process.monitor(target)
                        active.set(ref.id, ref)
                        expected.add(ref.id)
                        break
                      }
                      case "kill":
                        yield* Process.kill(target)
                        break
                      case "exit":
                        yield* Process.exit(target, ExitReason.custom("x"))
                        break
                      case "stop":
                        yield* Process.send(target, "go")
                        break
                      case "demonitor": {
                        const first = active.values().next()
                        if (!first.done) {
                          active.delete(first.value.id)
                          expected.delete(first.value.id)
                          yield* Process.demonitor(first.value, { flush: true })
                        }
                      }
                    }
                  }
                  for (const target of targets) yield* Process.kill(target)
                  const seen = new Map<number, number>()
                  while (true) {
                    const message = yield* self.receiveWithin(20)
                    if (Option.isNone(message)) break
                    const down = message.value as Signal.Down
                    seen.set(down.ref.id, (seen.get(down.ref.id) ?? 0) + 1)
                  }
                  return expected.size === seen.size && [...expected].every((id) => seen.get(id) === 1)
                })
              ).pipe(Effect.provide(ProcessRuntime.layer()))
            )
        ),
        { numRuns: 60 }
      )
    )
  )

  it.effect("awaitExit works from any fiber and sees the reason", () =>
    run(
      Effect.gen(function* () {
        const pid = yield* Process.spawn(exitOnMessage(ExitReason.shutdown("done")))
        const waiter = yield* watchExit(pid)
        yield* Process.send(pid, "go")
        const reason = yield* Fiber.join(waiter)
        assert.strictEqual(ExitReason.format(reason), "shutdown(done)")
      })
    )
  )
})

describe("timers", () => {
  it.effect("sendAfter delivers through the mailbox", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const start = Date.now()
          yield* Process.sendAfter(self.pid, "tick", 30)
          assert.strictEqual(yield* receiveOrFail(self), "tick")
          assert.isAtLeast(Date.now() - start, 25)
        })
      )
    )
  )

  it.effect("a cancelled timer never fires and cancel reports the time left", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const timer = yield* Process.sendAfter(self.pid, "never", 1000)
          const left = yield* Process.cancelTimer(timer)
          assert.isTrue(
            Option.isSome(left) && Duration.toMillis(left.value) > 900 && Duration.toMillis(left.value) <= 1000
          )
          assert.isTrue(Option.isNone(yield* Process.cancelTimer(timer)))
          yield* Process.sendAfter(self.pid, "later", 40)
          assert.strictEqual(yield* receiveOrFail(self), "later")
        })
      )
    )
  )

  it.effect("a timer aimed at a process is cancelled when the process exits", () =>
    run(
      Effect.gen(function* () {
        const timerRef = yield* Deferred.make<Process.TimerRef>()
        const pid = yield* Process.spawn((self) =>
          Effect.gen(function* () {
            yield* Deferred.succeed(timerRef, yield* Process.sendAfter(self.pid, "late", 5000))
            yield* self.receive
          })
        )
        yield* Process.send(pid, "exit now")
        yield* Process.awaitExit(pid)
        assert.isTrue(Option.isNone(yield* Process.cancelTimer(yield* Deferred.await(timerRef))))
      })
    )
  )
})

describe("pids of other nodes without a cluster", () => {
  const elsewhere = Pid.make("other@127.0.0.1", 1, 1)

  it.effect("a monitor fires Down with noconnection at once", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const ref = yield* Process.monitor(elsewhere)
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.strictEqual(down.ref.id, ref.id)
          assert.strictEqual(down.reason._tag, "NoConnection")
        })
      )
    )
  )

  it.effect("a link delivers a noconnection exit signal and awaitExit reports noconnection", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          yield* Process.trapExit(true)
          yield* Process.link(elsewhere)
          const exit = (yield* receiveOrFail(self)) as Signal.Exit
          assert.strictEqual(exit.reason._tag, "NoConnection")
          assert.strictEqual((yield* Process.awaitExit(elsewhere))._tag, "NoConnection")
          // A send is dropped, as in Erlang.
          yield* Process.send(elsewhere, "lost")
        })
      )
    )
  )
})

describe("stuck finalizers", () => {
  it.effect("kill ends a process that is already exiting but stuck in its finalizers", () =>
    run(
      Effect.gen(function* () {
        const finalizing = yield* Deferred.make<void>()
        const pid = yield* Process.spawn((self) =>
          Effect.forever(self.receive).pipe(
            Effect.ensuring(Effect.andThen(Deferred.succeed(finalizing, undefined), Effect.never))
          )
        )
        const exit = yield* Effect.forkChild(Process.awaitExit(pid), { startImmediately: true })
        yield* Process.exit(pid, ExitReason.shutdown())
        yield* Deferred.await(finalizing)
        assert.isUndefined(exit.pollUnsafe(), "still exiting: the shutdown finalizer hangs")
        yield* Process.kill(pid)
        assert.strictEqual((yield* Fiber.join(exit))._tag, "Killed")
        assert.isFalse(yield* Process.isAlive(pid))
      })
    )
  )

  it.live("releasing the runtime kills processes whose finalizers outlive its shutdown timeout", () =>
    Effect.gen(function* () {
      const start = Date.now()
      const waiter = yield* Effect.scoped(
        Effect.gen(function* () {
          const pid = yield* Process.spawn((self) => Effect.forever(self.receive).pipe(Effect.ensuring(Effect.never)))
          // Detached: it outlives the scope, to see the reason the runtime's release gives.
          return yield* Effect.forkDetach(Process.awaitExit(pid), { startImmediately: true })
        }).pipe(Effect.provide(ProcessRuntime.layer({ shutdownTimeout: 50 })))
      )
      assert.strictEqual((yield* Fiber.join(waiter))._tag, "Killed")
      assert.isBelow(Date.now() - start, 2000)
    })
  )
})

describe("review regressions", () => {
  it.effect("spawnMonitor reports the real reason of a child that exits at once", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const [, ref] = yield* Process.spawnMonitor(() => Process.exitSelf(ExitReason.custom("boom")))
          const down = (yield* receiveOrFail(self)) as Signal.Down
          assert.strictEqual(down.ref.id, ref.id)
          assert.include(ExitReason.format(down.reason), "boom")
        })
      )
    )
  )

  it.live("a chain of 3,000 processes each spawning the next runs to the end", () =>
    run(
      Effect.gen(function* () {
        const done = yield* Deferred.make<number>()
        const link = (n: number): Effect.Effect<unknown, never, ProcessRuntime.ProcessRuntime> =>
          n === 0 ? Deferred.succeed(done, 3000) : Effect.orDie(Process.spawn(() => link(n - 1)))
        yield* Process.spawn(() => link(3000))
        assert.strictEqual(yield* Deferred.await(done), 3000)
      })
    )
  )

  it.effect("demonitor with flush on a full mailbox lets a waiting sender in", () =>
    run(
      inProcess(
        (self) =>
          Effect.gen(function* () {
            const dead = yield* Process.spawn(() => Effect.void)
            const ref = yield* Process.monitor(dead) // its Down fills the mailbox
            const sender = yield* Effect.forkChild(Process.send(self.pid, "hello"), { startImmediately: true })
            assert.isUndefined(sender.pollUnsafe(), "the sender waits for room")
            yield* Process.demonitor(ref, { flush: true })
            assert.strictEqual(yield* receiveOrFail(self), "hello")
            yield* Fiber.join(sender)
          }),
        { mailboxCapacity: 1 }
      )
    )
  )
})

describe("very long timers", () => {
  it.live("a sendAfter beyond what setTimeout can wait does not fire at once and can be cancelled", () =>
    run(
      inProcess((self) =>
        Effect.gen(function* () {
          const timer = yield* Process.sendAfter(self.pid, "much later", 2 ** 31)
          yield* expectNoMessage(self, 30)
          const left = yield* Process.cancelTimer(timer)
          assert.isTrue(Option.isSome(left) && Duration.toMillis(left.value) > 2 ** 31 - 1000)
        })
      )
    )
  )
})
