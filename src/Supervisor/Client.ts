/**
 * Typed clients of named GenServers, to expose a supervised server to the rest of an application
 * as a `Context.Service`: callers use the service and never see a pid.
 *
 * A client calls its server by registered name (a local name, or a `RemoteName` on another node),
 * so each call reaches whichever incarnation is running: after the supervisor restarts the server,
 * calls go to the new process. A call made while the server is down (between its exit and its
 * restart, or after its supervisor gave up) fails with `NoProcess`; a call in flight when it
 * crashes fails with `ServerExited` (whether the request was handled is unknown, as in OTP). Calls
 * have the usual timeout (default 5 s). A client of a name on another node fails its calls with
 * `NodeDown` while that node is not connected.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import type { MailboxFull, MessageTooLarge, NoProcess } from "../Process/Errors.ts"
import * as GenServer from "../Process/GenServer.ts"
import type { Pid } from "../Process/Pid.ts"
import * as Process from "../Process/Process.ts"
import { ProcessRuntime } from "../Process/ProcessRuntime.ts"
import type * as Protocol from "../Process/Protocol.ts"
import { RemoteName, type RemoteServerName } from "../Process/RemoteName.ts"

/**
 * Where a client of protocol `P` sends: a local registered name or a `RemoteName`, typed by `P`
 * or untyped (a name typed by another protocol does not compile).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { type Client, GenServer, Protocol, RemoteName } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 * const targets: ReadonlyArray<Client.ClientTarget<typeof Counter>> = [
 *   "counter",
 *   GenServer.name("counter", Counter),
 *   RemoteName.make("counter", "b@127.0.0.1", Counter)
 * ]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ClientTarget<P> = (string | RemoteName) & { readonly [Protocol.SpeaksTypeId]?: (_: never) => P }

/**
 * A client of the GenServer registered under a name, speaking protocol `P`. Needs no services:
 * the process runtime is captured when the client is made.
 *
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import { Client, Protocol } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }), Reset: Protocol.cast() })
 * class CounterClient extends Context.Service<CounterClient, Client.Client<typeof Counter>>()("app/CounterClient") {}
 *
 * const resetIfLarge = Effect.gen(function*() {
 *   const counter = yield* CounterClient
 *   if ((yield* counter.call(Counter.Get())) > 100) yield* counter.cast(Counter.Reset())
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Client<P> {
  /** The name the client calls, typed by the protocol. */
  readonly target: GenServer.ServerName<P> | RemoteServerName<P>
  /** Calls the server; only the calls of `P` compile, typed by their declaration. */
  readonly call: <Req extends Protocol.CallRequestOf<P>>(
    request: Req,
    options?: GenServer.CallOptions
  ) => Effect.Effect<Protocol.SuccessOf<Req>, Protocol.ErrorOf<Req> | GenServer.CallError>
  /** Casts to the server. Fails with `NoProcess` while no local process holds the name. */
  readonly cast: (request: Protocol.CastRequestOf<P>) => Effect.Effect<void, NoProcess | MailboxFull | MessageTooLarge>
  /**
   * The pid currently registered under the name, if any. For a name on another node, always
   * `None` (the name is resolved there, at each call).
   */
  readonly whereis: Effect.Effect<Option.Option<Pid>>
}

/**
 * Makes a client of the server registered under `target`: a local name, or a `RemoteName`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Client, Protocol, RemoteName } from "effect-otp"
 *
 * const Counter = Protocol.make({ Get: Protocol.call({ success: Schema.Number }) })
 *
 * const program = Effect.gen(function*() {
 *   const local = yield* Client.make(Counter, "counter")
 *   const remote = yield* Client.make(Counter, RemoteName.make("counter", "b@127.0.0.1"))
 *   return (yield* local.call(Counter.Get())) + (yield* remote.call(Counter.Get(), { timeout: "1 second" }))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <P>(
  _protocol: P,
  target: ClientTarget<NoInfer<P>>
): Effect.Effect<Client<P>, never, ProcessRuntime> =>
  ProcessRuntime.useSync((runtime) => {
    const provide = Effect.provideService(ProcessRuntime, runtime)
    const typed = target as GenServer.ServerName<P> | RemoteServerName<P>
    const whereis: Effect.Effect<Option.Option<Pid>> =
      target instanceof RemoteName && target.node !== runtime.node
        ? Effect.succeed(Option.none())
        : provide(Effect.map(Process.info(target), (info) => Option.map(info, (process) => process.pid)))
    const client: Client<P> = {
      target: typed,
      call: (request, options) =>
        provide(GenServer.call(target as string, request as Protocol.AnyCallRequest, options)) as Effect.Effect<
          Protocol.SuccessOf<typeof request>,
          Protocol.ErrorOf<typeof request> | GenServer.CallError
        >,
      cast: (request) => provide(GenServer.cast(target as string, request as Protocol.AnyCastRequest)),
      whereis
    }
    return client
  })

/**
 * A layer providing `service` as a client of the server registered under `target`. Build it after
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
 * const Tree = Supervisor.layer({
 *   children: [ChildSpec.genServer("counter", counter, undefined, { name: "counter" })]
 * })
 * const CounterLive = Client.layer(CounterClient, Counter, "counter").pipe(Layer.provide(Tree))
 *
 * const program = Effect.gen(function*() {
 *   const counter = yield* CounterClient
 *   return yield* counter.call(Counter.Get())
 * }).pipe(Effect.provide(CounterLive), Effect.provide(ProcessRuntime.layer()))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <I, P>(
  service: Context.Key<I, Client<P>>,
  protocol: P,
  target: ClientTarget<NoInfer<P>>
): Layer.Layer<I, never, ProcessRuntime> => Layer.effect(service, make(protocol, target))
