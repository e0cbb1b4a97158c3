/**
 * Typed clients of named GenServers, to expose a supervised server to the rest of an application
 * as a `Context.Service`: callers use the service and never see a pid.
 *
 * A client calls its server by registered name, so each call reaches whichever incarnation is
 * running: after the supervisor restarts the server, calls go to the new process. A call made
 * while the server is down (between its exit and its restart, or after its supervisor gave up)
 * fails with `NoProcess`; a call in flight when it crashes fails with `ServerExited` (whether the
 * request was handled is unknown, as in OTP). Calls have the usual timeout (default 5 s).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import type { MailboxFull, NoProcess } from "../Process/Errors.ts"
import * as GenServer from "../Process/GenServer.ts"
import type { Pid } from "../Process/Pid.ts"
import * as Process from "../Process/Process.ts"
import { ProcessRuntime } from "../Process/ProcessRuntime.ts"
import type * as Protocol from "../Process/Protocol.ts"

/**
 * Any call request of protocol `P`.
 *
 * @since 0.1.0
 */
export type CallRequestOf<P> = { [Tag in Protocol.CallTags<P>]: Protocol.Request<P, Tag> }[Protocol.CallTags<P>]

/**
 * Any cast request of protocol `P`.
 *
 * @since 0.1.0
 */
export type CastRequestOf<P> = { [Tag in Protocol.CastTags<P>]: Protocol.Request<P, Tag> }[Protocol.CastTags<P>]

/**
 * A client of the GenServer registered under `name`, speaking protocol `P`. Needs no services:
 * the process runtime is captured when the client is made.
 *
 * @since 0.1.0
 */
export interface Client<P> {
  /** The registered name the client calls. */
  readonly name: string
  /** Calls the server; typed by the request's declaration. */
  readonly call: <Req extends CallRequestOf<P>>(
    request: Req,
    options?: GenServer.CallOptions
  ) => Effect.Effect<Protocol.SuccessOf<Req>, Protocol.ErrorOf<Req> | GenServer.CallError>
  /** Casts to the server. Fails with `NoProcess` while no process holds the name. */
  readonly cast: (request: CastRequestOf<P>) => Effect.Effect<void, NoProcess | MailboxFull>
  /** The pid currently registered under the name, if any. */
  readonly whereis: Effect.Effect<Option.Option<Pid>>
}

/**
 * Makes a client of the server registered under `name`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Client, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 *
 * const program = Effect.gen(function*() {
 *   const counter = yield* Client.make(Counter, "counter")
 *   const n = yield* counter.call(Counter.Get())
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make = <P>(_protocol: P, name: string): Effect.Effect<Client<P>, never, ProcessRuntime> =>
  ProcessRuntime.useSync((runtime) => {
    const provide = Effect.provideService(ProcessRuntime, runtime)
    const client: Client<P> = {
      name,
      call: (request, options) =>
        provide(GenServer.call(name, request as Protocol.AnyCallRequest, options)) as Effect.Effect<
          Protocol.SuccessOf<typeof request>,
          Protocol.ErrorOf<typeof request> | GenServer.CallError
        >,
      cast: (request) => provide(GenServer.cast(name, request as Protocol.AnyCastRequest)),
      whereis: provide(Effect.map(Process.info(name), (info) => Option.map(info, (process) => process.pid)))
    }
    return client
  })

/**
 * A layer providing `service` as a client of the server registered under `name`. Build it after
 * the supervision tree that starts the server (for example `Layer.provide(Client.layer(...),
 * tree)`), so the server is up before the first call.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import { ChildSpec, Client, GenServer, ProcessRuntime, Protocol, Supervisor } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const counter = GenServer.behaviour(Counter)({
 *   init: () => Effect.succeed(0),
 *   handleCall: { Get: (_, n) => Effect.succeed(GenServer.reply(n, n)) }
 * })
 *
 * class CounterClient extends Context.Service<CounterClient, Client.Client<typeof Counter>>()("app/Counter") {}
 *
 * const Tree = Supervisor.layer({ children: [ChildSpec.genServer("counter", counter, undefined, { name: "counter" })] })
 * const CounterLive = Client.layer(CounterClient, Counter, "counter").pipe(Layer.provide(Tree))
 *
 * const program = Effect.gen(function*() {
 *   const counter = yield* CounterClient
 *   return yield* counter.call(Counter.Get())
 * }).pipe(Effect.provide(CounterLive), Effect.provide(ProcessRuntime.layer()))
 * ```
 *
 * @since 0.1.0
 */
export const layer = <I, P>(
  service: Context.Key<I, Client<P>>,
  protocol: P,
  name: string
): Layer.Layer<I, never, ProcessRuntime> => Layer.effect(service, make(protocol, name))
