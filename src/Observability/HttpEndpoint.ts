/**
 * The node's own small HTTP server, on a port of its own: `effect/http`'s router served by
 * `@effect/platform-node`'s Node server. It serves `/metrics` (added by `Metrics.layerHttp`) and
 * whatever routes other layers add with {@link addRoute}; anything else is answered `404` with a
 * short body. It listens while its layer lives.
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import { Context, Effect, Layer } from "effect"
import type { HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"

/**
 * Where the endpoint listens.
 *
 * @example
 * ```ts
 * import { HttpEndpoint } from "effect-otp"
 *
 * const options: HttpEndpoint.HttpEndpointOptions = { host: "0.0.0.0", port: 9464 }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface HttpEndpointOptions {
  /** The address to bind. Default `127.0.0.1` (loopback only); `0.0.0.0` to be scraped from outside. */
  readonly host?: string | undefined
  /** The port. Default 0: any free port (read it from {@link HttpEndpoint}'s `port`). */
  readonly port?: number | undefined
}

/**
 * A route handler: the response to a request. It runs in the endpoint's server, with the request,
 * its parsed query string (`HttpServerRequest.ParsedSearchParams`) and the matched route's path
 * parameters (`HttpRouter.RouteContext`, e.g. `HttpRouter.params`); a handler that needs other
 * services captures them when its layer is built.
 *
 * @since 0.1.0
 */
export type Handler = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  HttpServerRequest.HttpServerRequest | HttpServerRequest.ParsedSearchParams | HttpRouter.RouteContext
>

/**
 * The running endpoint: where it listens, and how other layers add routes to it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpEndpoint } from "effect-otp"
 *
 * const url = Effect.map(Effect.service(HttpEndpoint.HttpEndpoint), (endpoint) => `http://${endpoint.host}:${endpoint.port}/`)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class HttpEndpoint extends Context.Service<
  HttpEndpoint,
  {
    /** The address it is bound to. */
    readonly host: string
    /** The port it listens on (the one chosen when the options asked for 0). */
    readonly port: number
    /** Serves `handler` for `method` and `path` (a find-my-way pattern, e.g. `/metrics`, `/processes/:id`). */
    readonly addRoute: (method: "GET" | "POST" | "*", path: `/${string}`, handler: Handler) => Effect.Effect<void>
  }
>()("effect-otp/HttpEndpoint") {}

/**
 * The HTTP modules, loaded when an endpoint starts: importing them costs about as much as importing
 * `effect` itself, which a node without an endpoint (a child process in a test) should not pay.
 */
const loadHttp = Effect.promise(() =>
  Promise.all([import("@effect/platform-node/NodeHttpServer"), import("effect/http")])
)

/**
 * Starts the endpoint, listening at `options.host` (default `127.0.0.1`) and `options.port`, until
 * the layer is released. With no route added, every request is answered `404 not found`.
 * Fails with `ServeError` when it cannot listen (the port is taken).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpServerResponse } from "effect/http"
 * import { HttpEndpoint } from "effect-otp"
 *
 * const Hello = Layer.effectDiscard(
 *   HttpEndpoint.addRoute("GET", "/hello", Effect.succeed(HttpServerResponse.text("hello\n")))
 * )
 * const Served = Hello.pipe(Layer.provideMerge(HttpEndpoint.layer({ port: 9464 })))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: HttpEndpointOptions): Layer.Layer<HttpEndpoint, HttpServerError.ServeError> =>
  Layer.effect(
    HttpEndpoint,
    Effect.gen(function* () {
      const host = options?.host ?? "127.0.0.1"
      const [NodeHttpServer, { HttpRouter, HttpServerResponse }] = yield* loadHttp
      const router = yield* HttpRouter.make
      yield* router.add("*", "*", HttpServerResponse.text("not found\n", { status: 404 }))
      const server = yield* NodeHttpServer.make(() => createServer(), { host, port: options?.port ?? 0 })
      yield* server.serve(router.asHttpEffect())
      const address = server.address
      const port = address._tag === "UnixPathAddress" ? 0 : address.port
      return HttpEndpoint.of({
        host,
        port,
        addRoute: (method, path, handler) => router.add(method, path, handler)
      })
    })
  )

/**
 * Adds a route to the node's endpoint; it is served from then on.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpServerResponse } from "effect/http"
 * import { HttpEndpoint } from "effect-otp"
 *
 * const Health = Layer.effectDiscard(
 *   HttpEndpoint.addRoute("GET", "/health", Effect.succeed(HttpServerResponse.text("ok\n")))
 * )
 * ```
 *
 * @category routes
 * @since 0.1.0
 */
export const addRoute = (
  method: "GET" | "POST" | "*",
  path: `/${string}`,
  handler: Handler
): Effect.Effect<void, never, HttpEndpoint> => HttpEndpoint.use((endpoint) => endpoint.addRoute(method, path, handler))
