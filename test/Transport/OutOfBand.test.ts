/**
 * Messages whose large strings and binaries travel out of band (fragment kind 3): what goes in
 * comes out, whatever the characters, the fragment size and the cuts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fc from "fast-check"
import * as Channel from "../../src/Transport/Channel.ts"
import { WireSimulation } from "../../src/Transport/internal/wireSimulation.ts"
import { collect, isUp, linkEvents, tcpNode } from "../support/transportHarness.ts"
import { headerBytes } from "../../src/Transport/Framing.ts"
import { FragmentQueue, Reassembler, Rope } from "../../src/Transport/internal/fragments.ts"
import {
  encodeOutOfBand,
  largeValueChars,
  pairSafeEnd,
  placeValues,
  utf8Length
} from "../../src/Transport/internal/outOfBand.ts"
import * as Codec from "../../src/Transport/Codec.ts"
import { hasLarge } from "../../src/Transport/internal/largeBinaries.ts"

const codec = Codec.make()

/** Sends `value` out of band through a queue of `fragmentBytes` fragments and rebuilds it as the engine does. */
const roundTrip = (value: unknown, fragmentBytes = 64 * 1024) => {
  const body = encodeOutOfBand(value, codec.encode)
  assert.isDefined(body)
  const queue = new FragmentQueue(fragmentBytes)
  let sent = false
  queue.add(body!, (ok) => (sent = ok))
  const results: Array<unknown> = []
  const errors: Array<string> = []
  let largest = 0
  let fragments = 0
  const r = new Reassembler(
    1 << 30,
    () => assert.fail("a message with out-of-band values came as a whole frame"),
    () => assert.fail("dropped"),
    (detail) => errors.push(detail),
    (skeleton, values, size) => {
      assert.strictEqual(size, body!.length)
      results.push(placeValues(codec.decode(skeleton), values))
    }
  )
  for (let frame = queue.nextFrame(); frame !== undefined; frame = queue.nextFrame()) {
    assert.strictEqual(frame.readUInt32BE(0), frame.length - headerBytes)
    largest = Math.max(largest, frame.length - headerBytes)
    fragments++
    r.push(frame.subarray(headerBytes))
  }
  assert.deepStrictEqual(errors, [])
  assert.isTrue(sent)
  assert.strictEqual(queue.queuedBytes, 0)
  assert.strictEqual(results.length, 1)
  return { value: results[0], body: body!, largest, fragments }
}

/** A string of `length` characters cycling through `alphabet` (whose members may be several code units). */
const cycle = (alphabet: ReadonlyArray<string>, length: number) => {
  const parts: Array<string> = []
  let chars = 0
  for (let i = 0; chars < length; i++) {
    const piece = alphabet[i % alphabet.length]!
    parts.push(piece)
    chars += piece.length
  }
  return parts.join("")
}

describe("Out-of-band values", () => {
  it("a rope of pieces is the pieces joined, for any number of pieces", () =>
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "grapheme", maxLength: 40 }), { maxLength: 70 }), (pieces) => {
        const rope = new Rope()
        for (const piece of pieces) rope.add(piece)
        assert.strictEqual(rope.end(), pieces.join(""))
        // Ended, it is empty.
        assert.strictEqual(rope.end(), "")
      })
    ))

  it("a large string of mixed characters comes back equal, cut into fragments no larger than asked", () => {
    // ASCII, 2-, 3- and 4-byte characters, and lone surrogates (which travel as U+FFFD, as MessagePack's encoder writes them).
    const text = cycle(["a", "é", "€", "😀", "x", "\ud800", "b", "\udc00", "ß"], largeValueChars + 12_345)
    const { value, body, largest } = roundTrip(["chan", { text, n: 1 }], 4096)
    const expected = new TextDecoder().decode(new TextEncoder().encode(text))
    assert.deepStrictEqual(value, ["chan", { text: expected, n: 1 }])
    assert.strictEqual(body.pieces.length, 1)
    assert.strictEqual(utf8Length(text), Buffer.byteLength(text, "utf8"))
    assert.isAtMost(largest, 4096 + 16)
  })

  it("strings and binaries anywhere in the value come back at their places; small values stay in the skeleton", () => {
    const big = new Uint8Array(largeValueChars + 3).fill(9)
    const text = "é".repeat(largeValueChars)
    const value = ["chan", ["Reply", 7, "ok", { data: big, list: [1, text, "small"], inner: { t: text } }, null]]
    const { value: back, body } = roundTrip(value)
    assert.strictEqual(body.pieces.length, 3)
    assert.deepStrictEqual(back, value)
    assert.instanceOf((back as [string, [string, number, string, { data: unknown }]])[1][3].data, Uint8Array)
  })

  it("any cut of any characters into any fragment size rebuilds the string", () =>
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "é", "€", "😀", "\ud83d", "\ude00", "z"), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 4096, max: 9000 }),
        (alphabet, fragmentBytes) => {
          const text = cycle(alphabet, largeValueChars)
          const { value } = roundTrip(["c", text], fragmentBytes)
          assert.strictEqual((value as Array<string>)[1], new TextDecoder().decode(new TextEncoder().encode(text)))
        }
      ),
      { numRuns: 8 }
    ))

  it("a slice end never splits a surrogate pair", () => {
    const text = "ab😀cd"
    assert.strictEqual(pairSafeEnd(text, 0, 3), 2)
    assert.strictEqual(pairSafeEnd(text, 2, 3), 4)
    assert.strictEqual(pairSafeEnd(text, 0, 4), 4)
  })

  it("a value without large strings or binaries is not taken out of band", () => {
    assert.isUndefined(encodeOutOfBand(["chan", { text: "x".repeat(1000), data: new Uint8Array(10) }], codec.encode))
  })

  it("a skeleton whose paths do not lead to empty slots is refused", () => {
    assert.throws(() => placeValues([[[1, "x"]], ["c", { x: 1 }]], ["v"]))
    assert.throws(() => placeValues([[[1, "__proto__"]], ["c", {}]], ["v"]))
    assert.throws(() => placeValues([[[5]], ["c"]], ["v"]))
    assert.throws(() => placeValues([[[1]], ["c", null]], []))
    assert.throws(() => placeValues({ paths: [] }, []))
    assert.deepStrictEqual(placeValues([[[1, "x"]], ["c", { x: null }]], ["v"]), ["c", { x: "v" }])
  })

  it.live(
    "a node of the release before out-of-band values and a node of this one exchange large strings both ways",
    () =>
      Effect.gen(function* () {
        const Text = Channel.make("test.oob", Schema.Struct({ text: Schema.String, n: Schema.Number }))
        const older = yield* Effect.provideService(tcpNode("older"), WireSimulation, { withoutOutOfBand: true })
        const newer = yield* tcpNode("newer")
        const events = yield* linkEvents(older)
        const toNewer = yield* collect(newer, Text, 2, 20_000)
        const toOlder = yield* collect(older, Text, 2, 20_000)
        yield* older.connect(newer.address)
        yield* events(isUp("newer"))
        const text = cycle(["a", "é", "😀"], largeValueChars + 7)
        yield* older.send("newer", Text, { text, n: 1 })
        yield* older.send("newer", Text, { text: "small", n: 2 })
        yield* newer.send("older", Text, { text, n: 3 })
        yield* newer.send("older", Text, { text: "small", n: 4 })
        const expected = (n: number) => ({ text, n })
        assert.deepStrictEqual(yield* toNewer, [expected(1), { text: "small", n: 2 }])
        assert.deepStrictEqual(yield* toOlder, [expected(3), { text: "small", n: 4 }])
      })
  )
})

describe("the search for large values before a frame is encoded", () => {
  it("finds large binaries always and large strings only when asked, within the walk budget", () => {
    const text = "t".repeat(largeValueChars)
    const binary = new Uint8Array(1024 * 1024)
    assert.isFalse(hasLarge(["channel", { small: "x", list: [1, 2, new Uint8Array(8)] }], true))
    assert.isTrue(hasLarge(["channel", { deep: [{ text }] }], true))
    assert.isFalse(hasLarge(["channel", { deep: [{ text }] }], false))
    assert.isTrue(hasLarge(text, true))
    assert.isTrue(hasLarge(["channel", [binary]], false))
    // Beyond the first 64 nodes, nothing is looked for.
    assert.isFalse(hasLarge(["channel", Array.from({ length: 100 }, (_, i) => (i === 99 ? text : "s"))], true))
  })
})

describe("keys named __proto__", () => {
  it("a skeleton cannot set a decoded object's prototype", () => {
    // A peer's skeleton [[["__proto__"]], {"__proto__": null}], encoded by hand.
    const key = [0xa9, ...new TextEncoder().encode("__proto__")]
    const skeleton = codec.decode(new Uint8Array([0x92, 0x91, 0x91, ...key, 0x81, ...key, 0xc0]))
    let placed: unknown
    try {
      placed = placeValues(skeleton, [{ polluted: true }])
    } catch {
      placed = undefined
    }
    if (placed !== undefined) assert.strictEqual(Object.getPrototypeOf(placed), Object.prototype)
    assert.isUndefined((Object.prototype as { polluted?: unknown }).polluted)
  })

  it("an own __proto__ key of a message carrying a large value stays an own key", () => {
    const message = JSON.parse(`{"__proto__": {"x": 1}, "text": null}`) as Record<string, unknown>
    message.text = "t".repeat(largeValueChars)
    const out = roundTrip(message).value as Record<string, unknown>
    assert.strictEqual(Object.getPrototypeOf(out), Object.prototype)
    assert.isTrue(Object.hasOwn(out, "__proto__") || !("x" in out), "the key did not become the prototype")
    assert.strictEqual(out.text, message.text)
  })
})
