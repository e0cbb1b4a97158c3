/**
 * A node's greeting (`Hello`) against registrations it had not heard of yet: the arbiter's claim for
 * one of the greeter's processes can overtake the greeting (it comes over another link), and must
 * not be dropped as "ended while the link was down". The engines are driven frame by frame.
 */
import { assert, describe, it } from "@effect/vitest"
import { GlobalEngine } from "../../src/Cluster/internal/globalEngine.ts"
import type { GlobalFrame } from "../../src/Cluster/internal/globalFrames.ts"
import type { Timers } from "../../src/internal/timers.ts"
import type { LocalNode } from "../../src/Process/internal/remote.ts"
import * as Pid from "../../src/Process/Pid.ts"

/** An engine of a node without processes of its own; `sent` records its frames. */
const engineOf = (name: string) => {
  const sent: Array<{ readonly to: string; readonly frame: GlobalFrame }> = []
  const engine = new GlobalEngine({
    local: { name, resolve: () => undefined, isAlive: () => false } as unknown as LocalNode,
    timers: { start: () => () => {}, now: () => 0 } as unknown as Timers,
    send: (to, frame) => {
      sent.push({ to, frame })
      return true
    },
    tellLoser: () => {}
  })
  return { engine, sent }
}

const owned = Pid.make("c", 1, 7)
const wire = { node: "c", id: 1, incarnation: 7 }
const claimFrom = (seq: number): GlobalFrame => ({
  _tag: "Claim",
  claim: { name: "x", pid: wire, method: "exitLoser", grant: { by: "a:epoch", seq } }
})

describe("GlobalRegistry greetings", () => {
  it("a greeting sent before the owner heard of a grant does not drop it", () => {
    const { engine } = engineOf("main")
    engine.receive(claimFrom(3), "a")
    engine.receive({ _tag: "Hello", reply: false, claims: [], seen: [{ by: "a:epoch", seq: 2 }] }, "c")
    assert.strictEqual(String(engine.whereis("x")), String(owned))
  })

  it("a greeting sent after the owner heard of the grant drops a registration it does not list", () => {
    const { engine } = engineOf("main")
    engine.receive(claimFrom(3), "a")
    engine.receive({ _tag: "Hello", reply: false, claims: [], seen: [{ by: "a:epoch", seq: 3 }] }, "c")
    assert.isUndefined(engine.whereis("x"))
  })

  it("a greeting of a node that sends no `seen` (an older release) drops it, as before", () => {
    const { engine } = engineOf("main")
    engine.receive(claimFrom(3), "a")
    engine.receive({ _tag: "Hello", reply: false, claims: [] }, "c")
    assert.isUndefined(engine.whereis("x"))
  })

  it("the arbiter sends a grant to the owner's node even before that node is told of changes", () => {
    const { engine, sent } = engineOf("a")
    assert.isUndefined(engine.grant("x", owned, "exitLoser"))
    const toOwner = sent.filter((entry) => entry.to === "c" && entry.frame._tag === "Claim")
    assert.strictEqual(toOwner.length, 1)
    // The greeting of a node lists the last grant it heard of from each arbiter.
    const hello = engine.hello(false)
    assert.strictEqual(hello._tag === "Hello" ? hello.seen?.length : -1, 1)
  })

  it("a transfer reaches a registry of an older release as the release and claim it stands for", () => {
    const { engine, sent } = engineOf("a")
    engine.receive({ _tag: "Hello", reply: false, claims: [] }, "b") // an older release: no `seen`
    engine.receive({ _tag: "Hello", reply: false, claims: [], seen: [] }, "d")
    assert.isUndefined(engine.grant("x", owned, "exitLoser"))
    sent.length = 0
    assert.isUndefined(engine.transfer("x", owned, Pid.make("d", 2, 9), "exitLoser"))
    assert.deepStrictEqual(
      sent.filter((entry) => entry.to === "b").map((entry) => entry.frame._tag),
      ["Release", "Claim"]
    )
    assert.deepStrictEqual(
      sent.filter((entry) => entry.to === "d").map((entry) => entry.frame._tag),
      ["Transfer"]
    )
  })

  it("a transfer is not asked of an arbiter of an older release (it would close the link)", () => {
    const { engine, sent } = engineOf("z")
    engine.receive({ _tag: "Hello", reply: false, claims: [] }, "a")
    assert.strictEqual(engine.arbiter(), "a")
    let detail = ""
    engine.request(
      "a",
      "transfer",
      "x",
      Pid.make("z", 2, 9),
      "exitLoser",
      1000,
      (answer) => {
        detail = "detail" in answer ? answer.detail : answer._tag
      },
      owned
    )
    assert.match(detail, /without transfers/)
    assert.deepStrictEqual(
      sent.filter((entry) => entry.frame._tag === "Request"),
      []
    )
  })
})
