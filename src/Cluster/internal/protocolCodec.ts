/**
 * Encoders and decoders of GenServer protocol payloads, built once per declaration and cached.
 *
 * @internal
 */
import { Schema } from "effect"
import type { AnySpec } from "../../Process/Protocol.ts"

/** The codecs of one call or cast declaration. */
export interface SpecCodecs {
  readonly encodePayload: (request: object) => unknown
  readonly decodePayload: (payload: unknown) => object
  readonly encodeSuccess: (value: unknown) => unknown
  readonly decodeSuccess: (value: unknown) => unknown
  readonly encodeError: (error: unknown) => unknown
  readonly decodeError: (value: unknown) => unknown
}

const cache = new WeakMap<AnySpec, SpecCodecs>()

const unavailable = () => {
  throw new Error("a cast has no reply")
}

/** The codecs of `spec` (a pure function of the declaration, so the cache is safe to share). */
export const codecsOf = (spec: AnySpec): SpecCodecs => {
  let codecs = cache.get(spec)
  if (codecs === undefined) {
    const payload = Schema.Struct(spec.payload as Schema.Struct.Fields) as unknown as Schema.Codec<object, unknown>
    codecs = {
      encodePayload: Schema.encodeSync(payload) as (request: object) => unknown,
      decodePayload: Schema.decodeUnknownSync(payload) as (payload: unknown) => object,
      encodeSuccess: spec.kind === "call" ? Schema.encodeSync(spec.success) : unavailable,
      decodeSuccess: spec.kind === "call" ? Schema.decodeUnknownSync(spec.success) : unavailable,
      encodeError: spec.kind === "call" ? Schema.encodeSync(spec.error) : unavailable,
      decodeError: spec.kind === "call" ? Schema.decodeUnknownSync(spec.error) : unavailable
    }
    cache.set(spec, codecs)
  }
  return codecs
}

/** A short description of a thrown decode/encode error. */
export const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))
