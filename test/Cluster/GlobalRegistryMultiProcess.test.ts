import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as GlobalRegistry from "../../src/Cluster/GlobalRegistry.ts"
import * as ProcessGroups from "../../src/Cluster/ProcessGroups.ts"
import { GenServer, GlobalName, ProcessErrors } from "../../src/index.ts"
import { ChildProgram } from "../support/childNode.ts"
import { Kv, kv } from "../support/distHarness.ts"
import { awaitOwner, tcpGlobalNode } from "../support/globalHarness.ts"
import { eventually } from "../support/transportHarness.ts"

const script = Path.join(import.meta.dirname, "..", "support", "globalNodeProcess.ts")

interface Ready {
  readonly _tag: "Ready"
  readonly port: number
  readonly pid: string
}

/** A node in a child OS process (killed when the scope closes); waits until it registered its server. */
const childNode = (name: string, seeds: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => new ChildProgram<{ readonly _tag: string }>(script, [name, "0", seeds.join(",")])),
      (child) => Effect.promise(() => child.stop())
    )
    const ready = (yield* child.awaitEvent((event) => event._tag === "Ready", 30_000, 0, "Ready")) as Ready
    return { child, ready }
  })

describe("GlobalRegistry across OS processes", () => {
  it.live(
    "names and groups of nodes in other processes: used by name, released on exit and when a node is killed",
    () =>
      Effect.gen(function* () {
        // The test's node is "c"; the children "a" (the arbiter) and "b" run in their own processes.
        const c = yield* tcpGlobalNode({ nodeName: "c", heartbeatInterval: 200 })
        const a = yield* childNode("a", [c.seed])
        const b = yield* childNode("b", [c.seed, `a@127.0.0.1:${a.ready.port}`])
        yield* awaitOwner([c], "kv-a", a.ready.pid, 20_000)
        yield* awaitOwner([c], "kv-b", b.ready.pid, 20_000)
        yield* eventually(c.run(ProcessGroups.members("g")), (pids) => pids.length === 2, 20_000)
        // A call by global name reaches the server in the other process.
        const kvB = GlobalName.make("kv-b", Kv)
        assert.strictEqual(yield* c.run(GenServer.call(kvB, Kv.Put({ key: "k", value: "v" }))), 1)
        assert.strictEqual(yield* c.run(GenServer.call(kvB, Kv.Whoami())), b.ready.pid)
        // The name is taken: c's own server cannot have it (the arbiter a says so).
        const mine = yield* c.run(GenServer.start(kv, 10))
        assert.instanceOf(yield* Effect.flip(c.run(GlobalRegistry.register("kv-b", mine))), ProcessErrors.NameTaken)
        // The server on a crashes: its name is released here, and it leaves its group.
        yield* Effect.flip(c.run(GenServer.call(GlobalName.make("kv-a", Kv), Kv.Crash())))
        yield* awaitOwner([c], "kv-a", undefined)
        yield* eventually(c.run(ProcessGroups.members("g")), (pids) => pids.length === 1)
        // b is killed (kill -9): its name and its member go; the name can be registered again.
        b.child.signal("SIGKILL")
        yield* awaitOwner([c], "kv-b", undefined, 10_000)
        yield* eventually(c.run(ProcessGroups.members("g")), (pids) => pids.length === 0)
        // Each node drops b's names when it sees b's link go down: the arbiter a may see it a moment
        // after c does, and until then it still refuses the name (NameTaken), as documented.
        yield* eventually(
          c.run(Effect.exit(GlobalRegistry.register("kv-b", mine))),
          (exit) => exit._tag === "Success",
          10_000
        )
        yield* awaitOwner([c], "kv-b", String(mine))
        assert.strictEqual((yield* c.registry.stats).arbiter, "a")
      }),
    60_000
  )
})
