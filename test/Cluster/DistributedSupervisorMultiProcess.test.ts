import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { until } from "../support/distSupHarness.ts"
import { activeNode, callChild, processes, whichChildren } from "../support/distSupProcesses.ts"

describe("a singleton distributed supervisor over three OS processes", () => {
  it.live(
    "kill -9 of a child's node moves the child (same global name); kill -9 of the active node hands over to a standby",
    () =>
      Effect.gen(function* () {
        const { children, run } = yield* processes(200)
        const before = yield* until(whichChildren(run), (list) => list.length === 3)
        assert.deepStrictEqual(
          before.map((child) => `${child.id}@${child.node}`),
          ["c1@a", "c2@b", "c3@c"]
        )
        const active = Option.getOrThrow(yield* activeNode(run))
        // A node that hosts a child but not the active supervisor.
        const victim = ["a", "b", "c"].find((node) => node !== active)!
        const index = before.findIndex((child) => child.node === victim) + 1
        children.get(victim)!.signal("SIGKILL")
        const moved = yield* until(callChild(run, index), (answer) => answer.node !== victim)
        assert.strictEqual(moved.value, index * 10)

        // Now the active supervisor's node.
        children.get(active)!.signal("SIGKILL")
        const survivor = ["a", "b", "c"].find((node) => node !== active && node !== victim)!
        const newActive = yield* until(activeNode(run), (node) => Option.isSome(node) && node.value === survivor)
        assert.strictEqual(Option.getOrThrow(newActive), survivor)
        const after = yield* until(
          whichChildren(run),
          (list) => list.length === 3 && list.every((child) => child.status === "running" && child.node === survivor)
        )
        // The child already on the survivor was adopted, not restarted.
        const kept = before.find((child) => child.node === survivor)!
        assert.strictEqual(String(after.find((child) => child.id === kept.id)!.pid), String(kept.pid))
        for (let i = 1; i <= 3; i++) {
          const answer = yield* until(callChild(run, i))
          assert.deepStrictEqual(answer, { value: i * 10, node: survivor })
        }
      }),
    60_000
  )
})
