/**
 * GenServer protocols declared with Schema: each call has a payload, a success and an error
 * schema; each cast has a payload schema. Locally, requests pass by reference; across nodes the
 * same schemas encode and decode them, so a remote call is exactly as typed as a local one.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** @internal */
export const SpecTypeId: unique symbol = Symbol.for("effect-otp/Protocol/Spec")

/**
 * The declaration of one call: payload fields, and the schemas of its success and error.
 *
 * @since 0.1.0
 */
export interface CallSpec<Fields extends Schema.Struct.Fields, Success extends Schema.Top, Failure extends Schema.Top> {
  readonly kind: "call"
  readonly payload: Fields
  readonly success: Success
  readonly error: Failure
}

/**
 * The declaration of one cast: its payload fields.
 *
 * @since 0.1.0
 */
export interface CastSpec<Fields extends Schema.Struct.Fields> {
  readonly kind: "cast"
  readonly payload: Fields
}

/** Any call or cast declaration. @since 0.1.0 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySpec = CallSpec<any, any, any> | CastSpec<any>

/**
 * Declares a call. Omitted schemas default to no payload, `Schema.Void` success and
 * `Schema.Never` error.
 *
 * @since 0.1.0
 */
export const call = <
  const Fields extends Schema.Struct.Fields = {},
  Success extends Schema.Top = typeof Schema.Void,
  Failure extends Schema.Top = typeof Schema.Never
>(options?: {
  readonly payload?: Fields
  readonly success?: Success
  readonly error?: Failure
}): NoInfer<CallSpec<Fields, Success, Failure>> => ({
  kind: "call",
  payload: (options?.payload ?? {}) as Fields,
  success: (options?.success ?? Schema.Void) as Success,
  error: (options?.error ?? Schema.Never) as Failure
})

/**
 * Declares a cast (a fire-and-forget request).
 *
 * @since 0.1.0
 */
export const cast = <const Fields extends Schema.Struct.Fields = {}>(options?: {
  readonly payload?: Fields
}): NoInfer<CastSpec<Fields>> => ({ kind: "cast", payload: (options?.payload ?? {}) as Fields })

/** @internal */
export const CallTypeId: unique symbol = Symbol.for("effect-otp/Protocol/CallRequest")

/** @internal */
export const CastTypeId: unique symbol = Symbol.for("effect-otp/Protocol/CastRequest")

/**
 * A call request value: the `_tag` and payload fields, plus (in its type only) the success and
 * error types of the reply.
 *
 * @since 0.1.0
 */
export interface CallRequest<Tag extends string, A, E> {
  readonly _tag: Tag
  readonly [CallTypeId]: { readonly _A: A; readonly _E: E }
}

/**
 * A cast request value.
 *
 * @since 0.1.0
 */
export interface CastRequest<Tag extends string> {
  readonly _tag: Tag
  readonly [CastTypeId]: true
}

/** The decoded type of payload fields (`{}` when there are none). @since 0.1.0 */
export type PayloadOf<Fields> = Fields extends Schema.Struct.Fields
  ? keyof Fields extends never
    ? {}
    : Schema.Struct<Fields>["Type"]
  : never

/**
 * The request value type declared by `Spec` under `Tag`. (Indexed access rather than `infer`, which
 * would widen a `never` error type to `any`.)
 *
 * @since 0.1.0
 */
export type RequestOf<Tag extends string, Spec> = Spec extends { readonly kind: "call" }
  ? Spec extends CallSpec<Schema.Struct.Fields, Schema.Top, Schema.Top>
    ? CallRequest<Tag, Spec["success"]["Type"], Spec["error"]["Type"]> & PayloadOf<Spec["payload"]>
    : never
  : Spec extends CastSpec<Schema.Struct.Fields>
    ? CastRequest<Tag> & PayloadOf<Spec["payload"]>
    : never

/** A function building request values of one tag. @since 0.1.0 */
export type Constructor<Tag extends string, Spec> = Spec extends { readonly payload: infer Fields }
  ? keyof Fields extends never
    ? () => RequestOf<Tag, Spec>
    : {} extends PayloadOf<Fields>
      ? (payload?: PayloadOf<Fields>) => RequestOf<Tag, Spec>
      : (payload: PayloadOf<Fields>) => RequestOf<Tag, Spec>
  : never

/**
 * A protocol: one request constructor per declared call and cast, plus the declarations.
 *
 * @since 0.1.0
 */
export type Protocol<Specs extends Record<string, AnySpec>> = {
  readonly [Tag in keyof Specs & string]: Constructor<Tag, Specs[Tag]>
} & {
  readonly [SpecTypeId]: Specs
}

/** The call tags of a protocol. @since 0.1.0 */
export type CallTags<P> =
  P extends Protocol<infer Specs>
    ? {
        [Tag in keyof Specs & string]: Specs[Tag] extends CallSpec<infer _F, infer _S, infer _E> ? Tag : never
      }[keyof Specs & string]
    : never

/** The cast tags of a protocol. @since 0.1.0 */
export type CastTags<P> =
  P extends Protocol<infer Specs>
    ? { [Tag in keyof Specs & string]: Specs[Tag] extends CastSpec<infer _F> ? Tag : never }[keyof Specs & string]
    : never

/** The request type of one tag of a protocol. @since 0.1.0 */
export type Request<P, Tag extends string> = P extends Protocol<infer Specs> ? RequestOf<Tag, Specs[Tag]> : never

/**
 * The success type of a call request. (Indexed access, not `infer`: inferring from a `never`
 * error type would widen it.)
 *
 * @since 0.1.0
 */
export type SuccessOf<R> = R extends { readonly [CallTypeId]: { readonly _A: unknown } }
  ? R[typeof CallTypeId]["_A"]
  : never

/** The error type of a call request. @since 0.1.0 */
export type ErrorOf<R> = R extends { readonly [CallTypeId]: { readonly _E: unknown } }
  ? R[typeof CallTypeId]["_E"]
  : never

/** Any call request. @since 0.1.0 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCallRequest = CallRequest<string, any, any>

/** Any cast request. @since 0.1.0 */
export type AnyCastRequest = CastRequest<string>

/**
 * Declares a protocol.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * class Overflow extends Schema.TaggedError<Overflow>()("Overflow", { limit: Schema.Number }) {}
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number, error: Overflow }),
 *   Reset: Protocol.cast()
 * })
 *
 * const request = Counter.Add({ n: 2 }) // typed: replies with a number or fails with Overflow
 * ```
 *
 * @since 0.1.0
 */
export const make = <const Specs extends Record<string, AnySpec>>(specs: Specs): Protocol<Specs> => {
  const protocol: Record<string | symbol, unknown> = { [SpecTypeId]: specs }
  for (const tag of Object.keys(specs)) {
    const spec = specs[tag]!
    const proto = {
      [spec.kind === "call" ? CallTypeId : CastTypeId]: true,
      [SpecTypeId]: spec
    }
    protocol[tag] = (payload?: object) => {
      const request = Object.create(proto) as Record<string, unknown>
      if (payload !== undefined) Object.assign(request, payload)
      request._tag = tag
      return request
    }
  }
  return protocol as Protocol<Specs>
}

/** Whether a message is a cast request built by a protocol. @internal */
export const isCastRequest = (u: unknown): u is AnyCastRequest =>
  typeof u === "object" && u !== null && (u as Record<symbol, unknown>)[CastTypeId] === true

/** The declaration behind a request value. @internal */
export const specOf = (request: AnyCallRequest | AnyCastRequest): AnySpec =>
  (request as unknown as Record<symbol, AnySpec>)[SpecTypeId]!
