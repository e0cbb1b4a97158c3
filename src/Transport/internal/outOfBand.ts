/**
 * Out-of-band values: how a message carrying large strings or binaries travels without any step
 * that touches all of it at once.
 *
 * MessagePack encodes and decodes a string in one synchronous call (on this project's 2-core VM
 * about 2 ms per MB to encode and 1 ms per MB to decode), so a 100 MB string would block the event
 * loop of both nodes for a few hundred milliseconds. Here, for a peer that announced it
 * (`outOfBand` in its handshake), the large values of a message (strings of at least
 * {@link largeValueChars} characters and binaries of at least `largeBinaryBytes`, found within the
 * first `walkBudget` nodes of the value) are taken out of it:
 *
 * - the rest of the message, the *skeleton*, is the MessagePack encoding of
 *   `[paths, value with each large value replaced by null]` (a path is the list of keys and
 *   indices that leads to a value);
 * - each large value is a *piece*: a binary's bytes, or a string's UTF-8 bytes, encoded slice by
 *   slice as fragments go out (`TextEncoder.encodeInto`, never splitting a surrogate pair) and
 *   decoded fragment by fragment as they arrive (a `StringDecoder`), then joined;
 * - the pieces travel first, then the skeleton, as one fragmented message (see `fragments.ts`,
 *   fragment kind 3); the receiver decodes the skeleton and puts the values back at their paths.
 *
 * No step is proportional to a whole value: the receiver hands over a string as a rope of its
 * decoded pieces (see `Rope` in `fragments.ts`); V8 flattens it (one copy, about 1 ms per MB here,
 * most of it page faults of the new string's memory) on the first read of its characters, in the
 * code that reads them.
 *
 * @internal
 */
import { isPlainObject, largeBinaryBytes, largeStringChars, walkBudget } from "./largeBinaries.ts"

/** Strings of at least this many characters travel out of band: 1 Mi characters (1 MiB or more). */
export const largeValueChars = largeStringChars

/** At most this many values of one message travel out of band; any further ones stay in the skeleton. */
export const maxOutOfBandValues = 16

/** A string going out of band, with its size in UTF-8 bytes. */
export interface TextPiece {
  readonly text: string
  readonly bytes: number
}

/** A large value of a message: a binary's bytes, or a string. */
export type Piece = Uint8Array | TextPiece

/** A message whose large values travel out of band: the pieces, then the skeleton. */
export interface OutOfBand {
  readonly _tag: "OutOfBand"
  readonly pieces: ReadonlyArray<Piece>
  readonly skeleton: Uint8Array
  /** Bytes of the pieces and the skeleton together. */
  readonly length: number
}

/** The kind of a piece on the wire. */
export const binaryPiece = 1
export const textPiece = 2

export const pieceBytes = (piece: Piece): number => (piece instanceof Uint8Array ? piece.length : piece.bytes)

export const isOutOfBand = (body: unknown): body is OutOfBand =>
  typeof body === "object" && body !== null && (body as { _tag?: unknown })._tag === "OutOfBand"

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff

/**
 * An end for the slice `text[start, end)` that does not split a surrogate pair: one character
 * earlier if the slice would end between the two halves of one (or two later, if that would leave
 * it empty).
 */
export const pairSafeEnd = (text: string, start: number, end: number): number => {
  if (end >= text.length || end <= start || !isHighSurrogate(text.charCodeAt(end - 1))) return end
  return end - 1 > start ? end - 1 : Math.min(text.length, start + 2)
}

/** Characters measured per step by {@link utf8Length}. */
const measureChars = 1024 * 1024

/**
 * The size of `text` in UTF-8 as `TextEncoder` writes it (a lone surrogate as the 3 bytes of
 * U+FFFD), measured a slice at a time.
 */
export const utf8Length = (text: string): number => {
  let bytes = 0
  for (let at = 0; at < text.length;) {
    const end = pairSafeEnd(text, at, Math.min(text.length, at + measureChars))
    bytes += Buffer.byteLength(text.slice(at, end), "utf8")
    at = end
  }
  return bytes
}

const isLarge = (node: unknown): boolean =>
  typeof node === "string"
    ? node.length >= largeValueChars
    : node instanceof Uint8Array && node.length >= largeBinaryBytes

/**
 * The value with its large values (at most {@link maxOutOfBandValues}, within `walkBudget` nodes)
 * replaced by null, copied along their paths only; `undefined` if it has none.
 */
const takeLarge = (
  value: unknown
):
  | { readonly value: unknown; readonly paths: Array<Array<string | number>>; readonly found: Array<unknown> }
  | undefined => {
  const paths: Array<Array<string | number>> = []
  const found: Array<unknown> = []
  const path: Array<string | number> = []
  let budget = walkBudget
  const replace = (node: unknown): unknown => {
    if (budget-- <= 0 || found.length >= maxOutOfBandValues) return node
    if (isLarge(node)) {
      paths.push(path.slice())
      found.push(node)
      return null
    }
    if (typeof node !== "object" || node === null || node instanceof Uint8Array) return node
    if (Array.isArray(node)) {
      let copy: Array<unknown> | undefined
      for (let i = 0; i < node.length && budget > 0; i++) {
        const item: unknown = node[i]
        if (typeof item !== "string" && (typeof item !== "object" || item === null)) continue
        path.push(i)
        const replaced = replace(item)
        path.pop()
        if (replaced !== item) (copy ??= node.slice())[i] = replaced
      }
      return copy ?? node
    }
    if (!isPlainObject(node)) return node
    let copy: Record<string, unknown> | undefined
    for (const key in node) {
      if (budget <= 0) break
      const item = node[key]
      if (typeof item !== "string" && (typeof item !== "object" || item === null)) continue
      path.push(key)
      const replaced = replace(item)
      path.pop()
      if (replaced !== item) (copy ??= { ...node })[key] = replaced
    }
    return copy ?? node
  }
  const replaced = replace(value)
  return found.length === 0 ? undefined : { value: replaced, paths, found }
}

/**
 * Encodes `value` with its large values out of band, or returns `undefined` if it has none (the
 * caller then encodes it as usual).
 */
export const encodeOutOfBand = (value: unknown, encode: (value: unknown) => Uint8Array): OutOfBand | undefined => {
  const taken = takeLarge(value)
  if (taken === undefined) return undefined
  const skeleton = encode([taken.paths, taken.value])
  let length = skeleton.length
  const pieces = taken.found.map((found): Piece => {
    const piece = typeof found === "string" ? { text: found, bytes: utf8Length(found) } : (found as Uint8Array)
    length += pieceBytes(piece)
    return piece
  })
  return { _tag: "OutOfBand", pieces, skeleton, length }
}

const isContainer = (node: unknown): node is Record<string, unknown> | Array<unknown> =>
  typeof node === "object" &&
  node !== null &&
  !(node instanceof Uint8Array) &&
  (Array.isArray(node) || isPlainObject(node))

/**
 * Rebuilds a message from its decoded skeleton and its values; throws if the skeleton is not of
 * the form `[paths, value]` with one path per value, each through arrays and plain objects (own
 * keys, indices in range) to a null.
 */
export const placeValues = (skeleton: unknown, values: ReadonlyArray<unknown>): unknown => {
  if (!Array.isArray(skeleton) || skeleton.length !== 2 || !Array.isArray(skeleton[0])) {
    throw new Error("malformed out-of-band skeleton")
  }
  const paths = skeleton[0] as Array<unknown>
  if (paths.length !== values.length) throw new Error("out-of-band skeleton and values disagree")
  // The root itself may be a large value (a message that is one big string): paths start above it.
  const holder: Array<unknown> = [skeleton[1]]
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i]
    if (!Array.isArray(path)) throw new Error("malformed out-of-band path")
    let parent: Record<string | number, unknown> | Array<unknown> = holder
    let key: string | number = 0
    for (const step of path as Array<unknown>) {
      const child: unknown = (parent as Record<string | number, unknown>)[key]
      if (!isContainer(child)) throw new Error("out-of-band path through a value that is not a container")
      if (Array.isArray(child)) {
        if (typeof step !== "number" || !Number.isInteger(step) || step < 0 || step >= child.length) {
          throw new Error("out-of-band path with a bad index")
        }
      } else if (typeof step !== "string" || !Object.hasOwn(child, step)) {
        throw new Error("out-of-band path with a bad key")
      }
      parent = child
      key = step
    }
    if ((parent as Record<string | number, unknown>)[key] !== null) {
      throw new Error("out-of-band path to a slot that is not empty")
    }
    ;(parent as Record<string | number, unknown>)[key] = values[i]
  }
  return holder[0]
}
