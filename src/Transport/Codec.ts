/**
 * The binary encoding of frame bodies: MessagePack via msgpackr.
 *
 * Binary values (`Uint8Array`) decode as views into the received buffer, without copying.
 *
 * @since 0.1.0
 */
import { Packr } from "msgpackr"

/**
 * Encodes and decodes frame bodies. One per transport (no shared state between nodes).
 *
 * @example
 * ```ts
 * import { Codec } from "effect-otp/wire"
 *
 * const roundTrip = (codec: Codec.Codec, value: unknown) => codec.decode(codec.encode(value))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Codec {
  readonly encode: (value: unknown) => Uint8Array
  readonly decode: (body: Uint8Array) => unknown
}

/**
 * Makes a MessagePack codec. Records and extension types are disabled so that the format stays plain
 * MessagePack and a peer cannot make the decoder build arbitrary objects. `decode` throws on
 * malformed input (the transport closes that connection).
 *
 * @example
 * ```ts
 * import { Codec } from "effect-otp/wire"
 *
 * const codec = Codec.make()
 * codec.decode(codec.encode(["ping", 1])) // ["ping", 1]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (): Codec => {
  const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true })
  return {
    encode: (value) => packr.pack(value),
    decode: (body) => packr.unpack(body)
  }
}
