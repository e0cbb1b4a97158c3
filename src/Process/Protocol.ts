/**
 * GenServer protocols declared with Schema: each call has a payload, a success and an error
 * schema; each cast has a payload schema. Locally, requests pass by reference; across nodes the
 * same schemas encode and decode them, so a remote call is exactly as typed as a local one.
 *
 * A protocol also types the references to the servers that speak it: `GenServer.start` returns a
 * pid typed by its protocol, and `GenServer.name` / `RemoteName.make` make typed names, so that
 * calling a server with another protocol's request does not compile.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The key under which a protocol keeps its declarations (in {@link Protocol}) and a request its
 * own declaration. Part of the public types; read the declarations through {@link Protocol}
 * rather than through this key.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * const declarations = Counter[Protocol.SpecTypeId] // { Get: CallSpec, Add: CallSpec, Reset: CastSpec }
 * const addPayload = declarations.Add.payload // { n: Schema.Number }
 * ```
 *
 * @category symbols
 * @since 0.1.0
 */
export const SpecTypeId: unique symbol = Symbol.for("effect-otp/Protocol/Spec")

/**
 * Marks a call request; in the type, it carries the reply's success and error types.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * type AddReply = Protocol.CallRequest<"Add", number, never>[typeof Protocol.CallTypeId] // { _A: number; _E: never }
 * ```
 *
 * @category symbols
 * @since 0.1.0
 */
export const CallTypeId: unique symbol = Symbol.for("effect-otp/Protocol/CallRequest")

/**
 * Marks a cast request.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * const isCast = (request: object) => Protocol.CastTypeId in request
 * ```
 *
 * @category symbols
 * @since 0.1.0
 */
export const CastTypeId: unique symbol = Symbol.for("effect-otp/Protocol/CastRequest")

/**
 * The key of the phantom protocol type of a typed reference ({@link Speaks}). It exists in types
 * only: typed pids and names are plain pids and names at run time.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * type Carried = GenServer.ServerName<typeof Counter>[typeof Protocol.SpeaksTypeId] // (_: never) => typeof Counter
 * ```
 *
 * @category symbols
 * @since 0.1.0
 */
export const SpeaksTypeId: unique symbol = Symbol.for("effect-otp/Protocol/Speaks")

/**
 * The declaration of one call: payload fields, and the schemas of its success and error.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const get: Protocol.CallSpec<{ readonly key: typeof Schema.String }, typeof Schema.String, typeof Schema.Never> =
 *   Protocol.call({ payload: { key: Schema.String }, success: Schema.String })
 * ```
 *
 * @category models
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
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const note: Protocol.CastSpec<{ readonly text: typeof Schema.String }> = Protocol.cast({
 *   payload: { text: Schema.String }
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CastSpec<Fields extends Schema.Struct.Fields> {
  readonly kind: "cast"
  readonly payload: Fields
}

/**
 * Any call or cast declaration.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * const specs: ReadonlyArray<Protocol.AnySpec> = Object.values(Counter[Protocol.SpecTypeId])
 * const kinds = specs.map((spec) => spec.kind) // ["call", "call", "cast"]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySpec = CallSpec<any, any, any> | CastSpec<any>

/**
 * Declares a call. Omitted schemas default to no payload, `Schema.Void` success and
 * `Schema.Never` error. The error schema is what a handler may fail with (the caller gets that
 * error); any other failure of the handler is a crash of the server.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { key: Schema.String }) {}
 *
 * const Kv = Protocol.make({
 *   Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String, error: NotFound }),
 *   Size: Protocol.call({ success: Schema.Number })
 * })
 * ```
 *
 * @category constructors
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
 * Declares a cast (a fire-and-forget request, answered by nobody).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Log = Protocol.make({ Write: Protocol.cast({ payload: { line: Schema.String } }), Flush: Protocol.cast() })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const cast = <const Fields extends Schema.Struct.Fields = {}>(options?: {
  readonly payload?: Fields
}): NoInfer<CastSpec<Fields>> => ({ kind: "cast", payload: (options?.payload ?? {}) as Fields })

/**
 * A call request value: the `_tag` and payload fields, plus (in its type only) the success and
 * error types of the reply.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const request: Protocol.CallRequest<"Get", number, never> = Counter.Get()
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CallRequest<Tag extends string, A, E> {
  readonly _tag: Tag
  readonly [CallTypeId]: { readonly _A: A; readonly _E: E }
}

/**
 * A cast request value.
 *
 * @example
 * ```ts
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Reset: Protocol.cast() })
 * const request: Protocol.CastRequest<"Reset"> = Counter.Reset()
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CastRequest<Tag extends string> {
  readonly _tag: Tag
  readonly [CastTypeId]: true
}

/**
 * The decoded type of payload fields (`{}` when there are none).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Protocol } from "effect-otp"
 *
 * type Payload = Protocol.PayloadOf<{ readonly key: typeof Schema.String }> // { readonly key: string }
 * type Empty = Protocol.PayloadOf<{}> // {}
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type PayloadOf<Fields> = Fields extends Schema.Struct.Fields
  ? keyof Fields extends never
    ? {}
    : Schema.Struct<Fields>["Type"]
  : never

/**
 * The request value type declared by `Spec` under `Tag`. (Indexed access rather than `infer`, which
 * would widen a `never` error type to `any`.)
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * type Add = Protocol.RequestOf<"Add", (typeof Counter)[typeof Protocol.SpecTypeId]["Add"]>
 * // CallRequest<"Add", number, never> & { readonly n: number }
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type RequestOf<Tag extends string, Spec> = Spec extends { readonly kind: "call" }
  ? Spec extends CallSpec<Schema.Struct.Fields, Schema.Top, Schema.Top>
    ? CallRequest<Tag, Spec["success"]["Type"], Spec["error"]["Type"]> & PayloadOf<Spec["payload"]>
    : never
  : Spec extends CastSpec<Schema.Struct.Fields>
    ? CastRequest<Tag> & PayloadOf<Spec["payload"]>
    : never

/**
 * A function building request values of one tag.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * const add: Protocol.Constructor<"Add", (typeof Counter)[typeof Protocol.SpecTypeId]["Add"]> = Counter.Add
 * const request = add({ n: 1 })
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
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
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * type Counter = typeof Counter // Protocol.Protocol<{ Get: ...; Reset: ... }>
 * const declarations = Counter[Protocol.SpecTypeId] // { Get: CallSpec, Reset: CastSpec }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Protocol<Specs extends Record<string, AnySpec>> = {
  readonly [Tag in keyof Specs & string]: Constructor<Tag, Specs[Tag]>
} & {
  readonly [SpecTypeId]: Specs
  /** The name given to {@link make}, if any. */
  readonly [NameId]: string | undefined
}

/**
 * The call tags of a protocol.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * type Calls = Protocol.CallTags<typeof Counter> // "Get" | "Add"
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type CallTags<P> =
  P extends Protocol<infer Specs>
    ? {
        [Tag in keyof Specs & string]: Specs[Tag] extends CallSpec<infer _F, infer _S, infer _E> ? Tag : never
      }[keyof Specs & string]
    : never

/**
 * The cast tags of a protocol.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * type Casts = Protocol.CastTags<typeof Counter> // "Reset"
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type CastTags<P> =
  P extends Protocol<infer Specs>
    ? { [Tag in keyof Specs & string]: Specs[Tag] extends CastSpec<infer _F> ? Tag : never }[keyof Specs & string]
    : never

/**
 * The request type of one tag of a protocol.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * type Add = Protocol.Request<typeof Counter, "Add"> // CallRequest<"Add", number, never> & { readonly n: number }
 * const request: Add = Counter.Add({ n: 1 })
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type Request<P, Tag extends string> = P extends Protocol<infer Specs> ? RequestOf<Tag, Specs[Tag]> : never

/**
 * Any call request of protocol `P` (the union over its call tags).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * const requests: ReadonlyArray<Protocol.CallRequestOf<typeof Counter>> = [Counter.Get()]
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type CallRequestOf<P> = { [Tag in CallTags<P>]: Request<P, Tag> }[CallTags<P>]

/**
 * Any cast request of protocol `P` (the union over its cast tags).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * const casts: ReadonlyArray<Protocol.CastRequestOf<typeof Counter>> = [Counter.Reset()]
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type CastRequestOf<P> = { [Tag in CastTags<P>]: Request<P, Tag> }[CastTags<P>]

/**
 * The success type of a call request. (Indexed access, not `infer`: inferring from a `never`
 * error type would widen it.)
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * type AddReply = Protocol.SuccessOf<ReturnType<typeof Counter.Add>> // number
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type SuccessOf<R> = R extends { readonly [CallTypeId]: { readonly _A: unknown } }
  ? R[typeof CallTypeId]["_A"]
  : never

/**
 * The error type of a call request.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * class Overflow extends Schema.TaggedError<Overflow>()("Overflow", {}) {}
 * const Counter = Protocol.make({
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number, error: Overflow })
 * })
 * type AddError = Protocol.ErrorOf<ReturnType<typeof Counter.Add>> // Overflow
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type ErrorOf<R> = R extends { readonly [CallTypeId]: { readonly _E: unknown } }
  ? R[typeof CallTypeId]["_E"]
  : never

/**
 * Any call request.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * const tagOf = (request: Protocol.AnyCallRequest): string => request._tag
 * const tag = tagOf(Counter.Get())
 * ```
 *
 * @category models
 * @since 0.1.0
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCallRequest = CallRequest<string, any, any>

/**
 * Any cast request.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({
 *   Get: Protocol.call({ success: Schema.Number }),
 *   Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
 *   Reset: Protocol.cast()
 * })
 * const tagOf = (request: Protocol.AnyCastRequest): string => request._tag
 * const tag = tagOf(Counter.Reset())
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type AnyCastRequest = CastRequest<string>

/**
 * A reference (pid or name) to a server that speaks protocol `P`, in its type only: at run time it
 * is the plain pid or name. `GenServer.call` and `GenServer.cast` accept only the requests of `P`
 * on such a reference; untyped pids and names accept any request, as in OTP.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const counter: GenServer.ServerName<typeof Counter> = GenServer.name("counter", Counter)
 * const speaks: Protocol.Speaks<typeof Counter> = counter
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Speaks<P> {
  readonly [SpeaksTypeId]: (_: never) => P
}

/**
 * The protocol a reference carries (`never` for an untyped pid or name).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { GenServer, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * type P = Protocol.ProtocolOf<GenServer.ServerName<typeof Counter>> // typeof Counter
 * type None = Protocol.ProtocolOf<string> // never
 * ```
 *
 * @category type-level
 * @since 0.1.0
 */
export type ProtocolOf<T> = T extends Speaks<infer P> ? P : never

/**
 * Where a protocol keeps its name, and each of its requests its qualified name (`Protocol/Tag`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) }, { name: "Counter" })
 * const name = Counter[Protocol.NameId] // "Counter"
 * ```
 *
 * @category symbols
 * @since 0.1.0
 */
export const NameId: unique symbol = Symbol.for("effect-otp/Protocol/Name")

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import { Protocol } from "effect-otp"
 *
 * const options: Protocol.MakeOptions = { name: "Counter" }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface MakeOptions {
  /**
   * The protocol's name, used by traces: a call's span is named `Name/Tag` (its `rpc.method`),
   * and the server's `effect_otp.behaviour` attribute is `Name`. Without one, spans use the tag
   * alone. Choose a name that is the same on every node (for example the constant's name).
   */
  readonly name?: string | undefined
}

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
 * @category constructors
 * @since 0.1.0
 */
export const make = <const Specs extends Record<string, AnySpec>>(
  specs: Specs,
  options?: MakeOptions
): Protocol<Specs> => {
  const name = options?.name
  const protocol: Record<string | symbol, unknown> = { [SpecTypeId]: specs, [NameId]: name }
  for (const tag of Object.keys(specs)) {
    const spec = specs[tag]!
    const proto = {
      [spec.kind === "call" ? CallTypeId : CastTypeId]: true,
      [SpecTypeId]: spec,
      // What traces call the request: `rpc.method` is `Protocol/Tag` (see the Tracing module).
      [NameId]: name === undefined ? tag : `${name}/${tag}`
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
