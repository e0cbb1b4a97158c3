import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { GenServer, Protocol, RemoteName } from "../../src/index.ts"

const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })

describe("RemoteName", () => {
  it("prints as name@node", () => {
    assert.strictEqual(String(RemoteName.make("kv", "b")), "kv@b")
    assert.strictEqual(`${RemoteName.make("kv", "b@127.0.0.1")}`, "kv@b@127.0.0.1")
  })

  it("a typed RemoteName is a plain RemoteName at run time, however it was made", () => {
    for (const name of [
      RemoteName.make("kv", "b", Kv),
      RemoteName.make(GenServer.name("kv", Kv), "b"),
      RemoteName.make("kv", "b")
    ]) {
      assert.isTrue(RemoteName.isRemoteName(name))
      assert.deepStrictEqual({ name: name.name, node: name.node }, { name: "kv", node: "b" })
      assert.deepStrictEqual(Object.keys(name).sort(), ["name", "node"])
    }
  })
})
