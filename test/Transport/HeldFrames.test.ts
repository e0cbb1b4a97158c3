/**
 * Frames that arrive, while a node starts, on a channel not registered yet: held until it registers,
 * only while their link is up, and bounded in count and in bytes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Channel from "../../src/Transport/Channel.ts"
import * as MemoryNetwork from "../../src/Transport/MemoryNetwork.ts"
import * as MemoryTransport from "../../src/Transport/MemoryTransport.ts"
import type { Transport } from "../../src/Transport/Transport.ts"
import { collect } from "../support/transportHarness.ts"

let markers = 0

/** Waits until every frame `from` sent to `to` so far has arrived (links deliver in order). */
const flushed = (from: Transport["Service"], to: Transport["Service"], peer: string) =>
  Effect.gen(function* () {
    const Marker = Channel.make(`test.held-marker-${markers++}`, Schema.Number)
    const marker = yield* collect(to, Marker, 1)
    yield* from.send(peer, Marker, 0)
    yield* marker
  })

const pair = (tuning: MemoryTransport.MemoryTransportOptions | undefined = undefined) =>
  Effect.gen(function* () {
    const network = MemoryNetwork.make()
    const a = yield* MemoryTransport.make(network, { name: "a", ...tuning })
    const b = yield* MemoryTransport.make(network, { ...tuning, name: "b" })
    yield* a.connect({ host: "b", port: 0 })
    return { a, b }
  })

describe("frames held for a channel not registered yet", () => {
  it.live("frames from before a LinkDown are not delivered, even when the same incarnation links again", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair()
      const Late = Channel.make("test.held-relinked", Schema.Number)
      yield* a.send("b", Late, 1)
      yield* flushed(a, b, "b")
      yield* b.disconnect("a", "connection_closed")
      // The same two incarnations link again within the first 30 s.
      yield* a.connect({ host: "b", port: 0 })
      yield* a.send("b", Late, 2)
      yield* flushed(a, b, "b")
      const seen: Array<number> = []
      yield* b.register(Late, (n) => seen.push(n))
      assert.deepStrictEqual(seen, [2], "only the frame sent on the link that is up")
    }).pipe(Effect.scoped)
  )

  it.live("at most 4096 frames are held", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair()
      const Late = Channel.make("test.held-count", Schema.Number)
      for (let i = 0; i < 4100; i++) yield* a.send("b", Late, i)
      yield* flushed(a, b, "b")
      const seen: Array<number> = []
      yield* b.register(Late, (n) => seen.push(n))
      assert.strictEqual(seen.length, 4096)
      assert.deepStrictEqual(seen.slice(0, 3), [0, 1, 2], "the first ones, in order")
      assert.strictEqual(seen[4095], 4095)
    }).pipe(Effect.scoped)
  )

  it.live("at most 64 MiB of frames are held", () =>
    Effect.gen(function* () {
      const { a, b } = yield* pair({ name: "", maxFrameBytes: 8 * 1024 * 1024 })
      const Late = Channel.make("test.held-bytes", Schema.String)
      // 16 frames of just under 4 MiB fit in 64 MiB; the 17th does not.
      const text = (i: number) => String.fromCharCode(65 + i) + "x".repeat(4 * 1024 * 1024 - 4096)
      for (let i = 0; i < 17; i++) yield* a.send("b", Late, text(i))
      yield* flushed(a, b, "b")
      const seen: Array<string> = []
      yield* b.register(Late, (s) => seen.push(s[0]!))
      assert.deepStrictEqual(
        seen,
        Array.from({ length: 16 }, (_, i) => String.fromCharCode(65 + i))
      )
    }).pipe(Effect.scoped)
  )
})
