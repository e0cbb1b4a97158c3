/**
 * Encoding of messages that carry large binaries without copying them.
 *
 * MessagePack encoding copies every `Uint8Array` into the encoded buffer: for a 100 MB payload
 * that one synchronous copy (into freshly allocated memory) blocks the event loop for a long time
 * on a loaded machine. Here the large binaries of a value (at least {@link largeBinaryBytes},
 * found within the first {@link walkBudget} nodes of the value) are replaced by small placeholders
 * before encoding, and the encoded bytes are then given as segments: the encoding around each
 * placeholder, a `bin 32` header, and the caller's own bytes. Fragments are cut from the segments,
 * so the payload is copied a fragment at a time as it goes out. The bytes on the wire are exactly
 * the MessagePack encoding of the original value. The caller must not change a binary it sent
 * until the send completes (a `send` of a large message completes once its last fragment is out).
 *
 * @internal
 */
import { randomBytes } from "node:crypto"

/** Binaries at least this large are not copied into the encoding: 1 MiB. */
export const largeBinaryBytes = 1024 * 1024

/** At most this many nodes of a value are visited in search of large binaries. */
export const walkBudget = 64

/** An encoded message in pieces, `length` bytes in all. */
export interface Segments {
  readonly parts: ReadonlyArray<Uint8Array>
  readonly length: number
}

/** A random prefix for placeholders (unique to this process), followed by a 4-byte index. */
const token = randomBytes(12)

const placeholder = (index: number): Buffer => {
  const bytes = Buffer.allocUnsafe(16)
  token.copy(bytes, 0)
  bytes.writeUInt32BE(index, 12)
  return bytes
}

/** Strings of at least this many characters travel out of band (see `outOfBand.ts`): 1 Mi characters. */
export const largeStringChars = 1024 * 1024

/** Whether a value is a plain object (the only objects searched for large values). */
export const isPlainObject = (value: object): value is Record<string, unknown> => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Nodes left to visit in the current {@link hasLarge} search (searches are synchronous). */
let budgetLeft = 0
/** Whether the current search counts large strings too. */
let withStrings = false

/** Whether the current search visits `item` (strings only when it looks for large strings). */
const visited = (item: unknown): boolean =>
  (typeof item === "object" && item !== null) || (withStrings && typeof item === "string")

const hasLargeNode = (node: unknown): boolean => {
  if (budgetLeft-- <= 0) return false
  if (typeof node === "string") return node.length >= largeStringChars
  if (node instanceof Uint8Array) return node.length >= largeBinaryBytes
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length && budgetLeft > 0; i++) {
      const item: unknown = node[i]
      if (visited(item) && hasLargeNode(item)) return true
    }
    return false
  }
  if (!isPlainObject(node as object)) return false
  const record = node as Record<string, unknown>
  for (const key in record) {
    if (budgetLeft <= 0) return false
    const item = record[key]
    if (visited(item) && hasLargeNode(item)) return true
  }
  return false
}

/**
 * Whether a large binary (and, with `strings`, a large string) is among the first
 * {@link walkBudget} nodes of `value`: the one search, allocating nothing, that every frame sent
 * goes through before anything is taken out of it.
 */
export const hasLarge = (value: unknown, strings: boolean): boolean => {
  withStrings = strings
  budgetLeft = walkBudget
  return visited(value) && hasLargeNode(value)
}

/**
 * Encodes `value` with `encode`, keeping its large binaries out of the copy: segments if it has
 * any, else the plain encoding.
 */
export const encodeKeepingLargeBinaries = (
  value: unknown,
  encode: (value: unknown) => Uint8Array
): Uint8Array | Segments => {
  if (!hasLarge(value, false)) return encode(value)
  const binaries: Array<Uint8Array> = []
  let budget = walkBudget
  /** The value with its large binaries replaced (a copy along their paths only). */
  const replace = (node: unknown): unknown => {
    if (budget-- <= 0 || typeof node !== "object" || node === null) return node
    if (node instanceof Uint8Array) {
      if (node.length < largeBinaryBytes) return node
      binaries.push(node)
      return placeholder(binaries.length - 1)
    }
    if (Array.isArray(node)) {
      let copy: Array<unknown> | undefined
      for (let i = 0; i < node.length && budget > 0; i++) {
        const item = node[i]
        if (typeof item !== "object" || item === null) continue
        const replaced = replace(item)
        if (replaced !== item) (copy ??= node.slice())[i] = replaced
      }
      return copy ?? node
    }
    if (!isPlainObject(node)) return node
    let copy: Record<string, unknown> | undefined
    for (const key in node) {
      if (budget <= 0) break
      const item = node[key]
      if (typeof item !== "object" || item === null) continue
      const replaced = replace(item)
      if (replaced !== item) (copy ??= { ...node })[key] = replaced
    }
    return copy ?? node
  }
  const replaced = replace(value)
  if (binaries.length === 0) return encode(value)
  const small = encode(replaced)
  const encoded = Buffer.from(small.buffer, small.byteOffset, small.length)
  const parts: Array<Uint8Array> = []
  let length = 0
  let from = 0
  for (let index = 0; index < binaries.length; index++) {
    // The placeholder is encoded as `bin 8` of 16 bytes: 0xc4 0x10, then its bytes.
    const at = encoded.indexOf(placeholder(index), from)
    if (at < 2 || encoded[at - 2] !== 0xc4 || encoded[at - 1] !== 0x10) {
      // Not found as a binary (cannot happen with MessagePack): fall back to the plain encoding.
      return encode(value)
    }
    const binary = binaries[index]!
    const header = Buffer.allocUnsafe(5)
    header[0] = 0xc6
    header.writeUInt32BE(binary.length, 1)
    parts.push(encoded.subarray(from, at - 2), header, binary)
    length += at - 2 - from + 5 + binary.length
    from = at + 16
  }
  parts.push(encoded.subarray(from))
  length += encoded.length - from
  return { parts, length }
}

/** The bytes of an encoding as one buffer (copying segments). */
export const joined = (body: Uint8Array | Segments): Uint8Array =>
  body instanceof Uint8Array ? body : Buffer.concat(body.parts as Array<Uint8Array>, body.length)

/** The size of an encoding. */
export const sizeOf = (body: Uint8Array | Segments): number => body.length
