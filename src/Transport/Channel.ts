/**
 * Typed channels: how upper layers put their own frame kinds on the wire.
 *
 * A channel is a name plus a Schema. Senders encode values with the Schema before MessagePack;
 * receivers decode the payload with the same Schema, so a frame is exactly as typed on the far
 * node as it was on the near one. A payload that fails to decode closes that connection.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A named, typed frame kind: the name routes frames to their handler, the Schema encodes and decodes
 * them.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Channel } from "effect-otp/wire"
 *
 * const Ping: Channel.Channel<{ readonly seq: number }> = Channel.make("example.ping", Schema.Struct({ seq: Schema.Number }))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Channel<A> {
  readonly name: string
  readonly schema: Schema.Codec<A, unknown>
  /** Encodes a value to the form that MessagePack carries. Throws a `SchemaError` if the value is invalid. */
  readonly encode: (value: A) => unknown
  /** Decodes a received payload. Throws a `SchemaError` if it does not match the Schema. */
  readonly decode: (payload: unknown) => A
}

/**
 * Declares a channel. Names are global to the cluster protocol: prefix them with your layer
 * (`"otp.cluster.gossip"`, `"otp.process.send"`). The Schema's encoded form must be made of
 * MessagePack-friendly values: strings, numbers, booleans, null, arrays, plain objects and
 * `Uint8Array`s. A frame whose payload fails the Schema on receipt closes that connection.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Channel } from "effect-otp/wire"
 *
 * const Ping = Channel.make("example.ping", Schema.Struct({ seq: Schema.Number }))
 * Ping.decode(Ping.encode({ seq: 1 })) // { seq: 1 }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <A, I>(name: string, schema: Schema.Codec<A, I>): Channel<A> => {
  const encode = Schema.encodeSync(schema)
  const decode = Schema.decodeUnknownSync(schema)
  return { name, schema: schema as Schema.Codec<A, unknown>, encode, decode }
}
