/**
 * Property test: random sequences of child crashes, normal exits and dynamic operations against a
 * model of OTP's supervisor, checking after every step that the tree matches the model: which
 * children exist and run, in which order, which were restarted (new pid), the order in which
 * children were stopped and started, and whether the supervisor escalated.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { GenServer, Pid, Process } from "../../src/index.ts"
import type { RestartType } from "../../src/Supervisor/ChildSpec.ts"
import * as Supervisor from "../../src/Supervisor/Supervisor.ts"
import { type Journal, run, watchExit, Worker, workerChild } from "./helpers.ts"

type Op =
  | { readonly _tag: "crash"; readonly child: number }
  | { readonly _tag: "finish"; readonly child: number }
  | { readonly _tag: "terminate"; readonly child: number }
  | { readonly _tag: "restart"; readonly child: number }
  | { readonly _tag: "delete"; readonly child: number }
  | { readonly _tag: "start"; readonly restart: RestartType }

interface ModelChild {
  readonly id: string
  readonly restart: RestartType
  running: boolean
  /** Bumped every time the child is started: a changed value means a new pid. */
  incarnation: number
}

/** OTP's supervisor, as a plain state machine. */
class Model {
  restarts = 0
  escalated = false
  private nextId: number
  constructor(
    readonly strategy: Supervisor.Strategy,
    readonly maxRestarts: number,
    public children: Array<ModelChild>
  ) {
    this.nextId = children.length
  }

  /** What the journal gains (start:/stop: entries) and what the operation returns. */
  apply(op: Op, journal: Array<string>): string {
    if (op._tag === "start") {
      const id = `c${this.nextId++}`
      this.children.push({ id, restart: op.restart, running: true, incarnation: 1 })
      journal.push(`start:${id}`)
      return "ok"
    }
    const child = this.children[op.child % Math.max(1, this.children.length)]
    if (child === undefined) return "none"
    switch (op._tag) {
      case "crash":
      case "finish":
        if (!child.running) return "none"
        journal.push(`stop:${child.id}`)
        this.exited(child, op._tag === "crash", journal)
        return "ok"
      case "terminate":
        if (child.running) journal.push(`stop:${child.id}`)
        child.running = false
        if (child.restart === "temporary") this.remove(child)
        return "ok"
      case "restart":
        if (child.running) return "ChildRunning"
        this.start(child, journal)
        return "ok"
      case "delete":
        if (child.running) return "ChildRunning"
        this.remove(child)
        return "ok"
    }
  }

  private start(child: ModelChild, journal: Array<string>): void {
    child.running = true
    child.incarnation++
    journal.push(`start:${child.id}`)
  }

  private remove(child: ModelChild): void {
    this.children = this.children.filter((other) => other !== child)
  }

  private exited(child: ModelChild, abnormal: boolean, journal: Array<string>): void {
    child.running = false
    const restart = child.restart === "permanent" || (child.restart === "transient" && abnormal)
    if (!restart) {
      if (child.restart === "temporary") this.remove(child)
      return
    }
    this.restarts++
    if (this.restarts > this.maxRestarts) {
      this.escalated = true
      for (const other of this.children.slice().reverse()) {
        if (other.running) journal.push(`stop:${other.id}`)
        other.running = false
      }
      return
    }
    if (this.strategy === "one_for_one") return this.start(child, journal)
    const group =
      this.strategy === "one_for_all" ? this.children.slice() : this.children.slice(this.children.indexOf(child))
    for (const other of group.slice().reverse()) {
      if (other.running) journal.push(`stop:${other.id}`)
      other.running = false
      if (other.restart === "temporary") this.remove(other)
    }
    for (const other of group) if (other.restart !== "temporary") this.start(other, journal)
  }
}

const restartType = fc.constantFrom<RestartType>("permanent", "transient", "temporary")

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.nat(9).map((child): Op => ({ _tag: "crash", child })) },
  { weight: 2, arbitrary: fc.nat(9).map((child): Op => ({ _tag: "finish", child })) },
  { weight: 2, arbitrary: fc.nat(9).map((child): Op => ({ _tag: "terminate", child })) },
  { weight: 2, arbitrary: fc.nat(9).map((child): Op => ({ _tag: "restart", child })) },
  { weight: 1, arbitrary: fc.nat(9).map((child): Op => ({ _tag: "delete", child })) },
  { weight: 1, arbitrary: restartType.map((restart): Op => ({ _tag: "start", restart })) }
)

const scenario = fc.record({
  strategy: fc.constantFrom<Supervisor.Strategy>("one_for_one", "one_for_all", "rest_for_one"),
  maxRestarts: fc.integer({ min: 0, max: 6 }),
  initial: fc.array(restartType, { minLength: 1, maxLength: 5 }),
  ops: fc.array(op, { minLength: 1, maxLength: 25 })
})

type Scenario = typeof scenario extends fc.Arbitrary<infer A> ? A : never

/** Runs one scenario against a real supervisor and the model, comparing them after every step. */
const check = ({ strategy, maxRestarts, initial, ops }: Scenario) =>
  run(
    Effect.gen(function* () {
      const journal: Journal = []
      const expected: Array<string> = []
      const model = new Model(
        strategy,
        maxRestarts,
        initial.map((restart, i) => ({ id: `c${i}`, restart, running: true, incarnation: 1 }))
      )
      const child = (id: string, restart: RestartType) => workerChild(journal, id, { restart })
      const sup = yield* Supervisor.start({
        strategy,
        maxRestarts,
        within: "1 hour",
        children: model.children.map((c) => child(c.id, c.restart))
      })
      for (const c of model.children) expected.push(`start:${c.id}`)
      const supExit = yield* watchExit(sup)
      const pids = new Map<string, { pid: Pid.Pid; incarnation: number }>()
      const snapshot = () => {
        for (const c of model.children) pids.set(c.id, { pid: undefined!, incarnation: c.incarnation })
      }
      const compare = (step: string) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(journal, expected, `journal after ${step}`)
          if (model.escalated) {
            const reason = yield* supExit
            assert.isTrue(Supervisor.isMaxIntensity(reason), `escalation reason after ${step}`)
            return
          }
          const actual = yield* Supervisor.whichChildren(sup)
          assert.deepStrictEqual(
            actual.map((info) => [info.id, info.status]),
            model.children.map((c) => [c.id, c.running ? "running" : "stopped"]),
            `children after ${step}`
          )
          for (const info of actual) {
            const modelChild = model.children.find((c) => c.id === info.id)!
            const known = pids.get(info.id!)
            if (info.pid !== undefined) {
              assert.isTrue(yield* Process.isAlive(info.pid), `${info.id} alive after ${step}`)
              if (known?.pid !== undefined) {
                assert.strictEqual(
                  Pid.equals(known.pid, info.pid),
                  known.incarnation === modelChild.incarnation,
                  `${info.id} restarted iff the model restarted it, after ${step}`
                )
              }
            }
            pids.set(info.id!, { pid: info.pid!, incarnation: modelChild.incarnation })
          }
        })
      snapshot()
      yield* compare("start")
      for (const [index, next] of ops.entries()) {
        if (model.escalated) break
        const step = `#${index} ${JSON.stringify(next)}`
        const target = model.children[next._tag === "start" ? 0 : next.child % Math.max(1, model.children.length)]
        const outcome = model.apply(next, expected)
        const id = target?.id ?? "none"
        switch (next._tag) {
          case "crash":
          case "finish": {
            if (outcome !== "ok") break
            const pid = pids.get(id)!.pid
            const exited = yield* watchExit(pid)
            yield* GenServer.cast(pid, next._tag === "crash" ? Worker.Crash() : Worker.Finish())
            yield* exited
            break
          }
          case "terminate": {
            const result = yield* Effect.exit(Supervisor.terminateChild(sup, id))
            assert.strictEqual(Exit.isSuccess(result), outcome === "ok", step)
            break
          }
          case "restart": {
            const result = yield* Effect.exit(Supervisor.restartChild(sup, id))
            if (outcome === "ok") assert.isTrue(Exit.isSuccess(result), step)
            else assert.isTrue(Exit.isFailure(result), step)
            break
          }
          case "delete": {
            const result = yield* Effect.exit(Supervisor.deleteChild(sup, id))
            if (outcome === "ok") assert.isTrue(Exit.isSuccess(result), step)
            else assert.isTrue(Exit.isFailure(result), step)
            break
          }
          case "start": {
            const created = model.children[model.children.length - 1]!
            yield* Supervisor.startChild(sup, child(created.id, created.restart))
            break
          }
        }
        yield* compare(step)
      }
      if (!model.escalated) {
        yield* Supervisor.stop(sup)
        const running = model.children.filter((c) => c.running).reverse()
        assert.deepStrictEqual(
          journal.slice(expected.length),
          running.map((c) => `stop:${c.id}`),
          "final shutdown order"
        )
      }
      assert.isFalse(yield* Process.isAlive(sup))
      for (const { pid } of pids.values()) if (pid !== undefined) assert.isFalse(yield* Process.isAlive(pid))
    })
  )

describe("Supervisor against its model", () => {
  it("random crashes, exits and dynamic operations keep the tree equal to the model", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (s) => Effect.runPromise(check(s))),
      { numRuns: 200 }
    )
  })
})
