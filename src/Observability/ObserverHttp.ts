/**
 * The Observer over HTTP, on the node's endpoint (`HttpEndpoint`):
 *
 * - `GET /observer`: this node's snapshot as JSON; with `?top=N&sort=mailbox|busy|rate` its top-N
 *   table instead (default sort `mailbox`);
 * - `GET /observer/cluster`: the snapshot of every node (`ObserverCluster.snapshot`), or with
 *   `?top=N&sort=...` the cluster's top-N table; `?timeout=<ms>` sets the per-node timeout and
 *   `?processes=N|all` how many processes each node's snapshot includes (default 1,000). Always
 *   200 once the question is asked: nodes that did not answer are entries with their reason;
 * - `GET /observer/process/<pid>`: one process in detail, the pid in its printed form
 *   `<node.id.incarnation>` (angle brackets optional, percent-encoded or not). A pid of another
 *   node is asked of that node. 400 for a malformed pid, 404 when the process is not alive, 503
 *   when its node is down or runs no Observer, 504 when it does not answer in time;
 * - `POST /observer/process/<pid>/kill`: only when the layer is given a `kill` token. It kills a
 *   process of this node (exit reason `killed`, as `Process.kill`). The request needs
 *   `Authorization: Bearer <token>`: 401 without it or with another token (checked before
 *   anything else, in constant time; the token is never logged), then 400 / 404 as above (a pid of
 *   another node is 404: kill it through its own node). Without a token the route does not exist
 *   (404).
 *
 * Everything else is read-only. Errors are JSON `{ "error": <tag>, "message": <sentence> }`.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import type { HttpServerResponse as Response } from "effect/http"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { NoProcess } from "../Process/Errors.ts"
import * as Process from "../Process/Process.ts"
import * as ProcessRuntime from "../Process/ProcessRuntime.ts"
import * as HttpEndpoint from "./HttpEndpoint.ts"
import { bearerGuard } from "./internal/observerHttpAuth.ts"
import { parsePid } from "./internal/observerHttpPid.ts"
import { parseQuery } from "./internal/observerHttpQuery.ts"
import * as Observer from "./Observer.ts"
import * as ObserverCluster from "./ObserverCluster.ts"

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { ObserverHttp } from "effect-otp"
 *
 * const options: ObserverHttp.ObserverHttpOptions = { kill: { token: Redacted.make("a long random token") } }
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface ObserverHttpOptions {
  /**
   * Enables `POST /observer/process/<pid>/kill`, guarded by this bearer token (not empty). Without
   * it the node's Observer is read-only. Prefer a `Redacted` value (e.g. from
   * `Config.Redacted`), so that it cannot end up in a log.
   */
  readonly kill?: { readonly token: Redacted.Redacted<string> | string } | undefined
}

const RuntimeService = ProcessRuntime.ProcessRuntime

const json = (status: number, body: unknown): Response.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(body, { status })

const problem = (status: number, error: string, message: string, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe({ error, message }, { status, ...(headers === undefined ? {} : { headers }) })

/** Encodes `value` with `schema` into a JSON response (a value that does not encode is a 500). */
const encoded = <A>(schema: Schema.Codec<A, unknown>, value: A): Effect.Effect<Response.HttpServerResponse> =>
  Effect.match(Schema.encodeEffect(schema)(value), {
    onFailure: (error) => problem(500, "EncodeError", error.message),
    onSuccess: (body) => json(200, body)
  })

const searchParams = Effect.service(HttpServerRequest.ParsedSearchParams)

const pidParam = Effect.map(HttpRouter.params, (params) => {
  const text = params["pid"] ?? ""
  return { text, pid: parsePid(text) }
})

const malformedPid = (text: string) =>
  problem(400, "MalformedPid", `${JSON.stringify(text)} is not a pid (expected <node.id.incarnation>)`)

const notAlive = (error: NoProcess) => Effect.succeed(problem(404, "NoProcess", `${error.target} is not alive`))

const unreachable = (error: ObserverCluster.ProcessUnreachable) =>
  Effect.succeed(problem(error.reason === "timeout" ? 504 : 503, "ProcessUnreachable", error.message))

/**
 * Adds the Observer routes to the node's HTTP endpoint (see the module documentation), for as
 * long as the endpoint lives. Read-only unless `options.kill` gives a token.
 *
 * @example
 * ```ts
 * import { Config, Effect, Layer } from "effect"
 * import { HttpEndpoint, ObserverHttp } from "effect-otp"
 *
 * // Read-only: /observer, /observer/cluster, /observer/process/<pid>.
 * const ReadOnly = ObserverHttp.layer()
 * // With the kill route, its token from the environment.
 * const WithKill = Layer.unwrap(
 *   Effect.gen(function* () {
 *     const token = yield* Config.Redacted("OBSERVER_KILL_TOKEN")
 *     return ObserverHttp.layer({ kill: { token } })
 *   })
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options?: ObserverHttpOptions
): Layer.Layer<
  never,
  never,
  HttpEndpoint.HttpEndpoint | Observer.Observer | ObserverCluster.ObserverCluster | ProcessRuntime.ProcessRuntime
> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const endpoint = yield* HttpEndpoint.HttpEndpoint
      const observer = yield* Observer.Observer
      const cluster = yield* ObserverCluster.ObserverCluster
      const context = yield* Effect.context<ProcessRuntime.ProcessRuntime>()
      const runtime = yield* RuntimeService
      const local = Effect.provideService(Observer.Observer, observer)

      yield* endpoint.addRoute(
        "GET",
        "/observer",
        Effect.gen(function* () {
          const query = parseQuery(yield* searchParams, false)
          if ("malformed" in query) return problem(400, "MalformedQuery", query.malformed)
          if (query.top !== undefined) {
            return yield* encoded(Schema.Array(Observer.ProcessInfo), yield* local(Observer.top(query.top)))
          }
          return yield* encoded(Observer.NodeSnapshot, yield* local(Observer.snapshot))
        })
      )

      yield* endpoint.addRoute(
        "GET",
        "/observer/cluster",
        Effect.gen(function* () {
          const query = parseQuery(yield* searchParams, true)
          if ("malformed" in query) return problem(400, "MalformedQuery", query.malformed)
          const timeout = query.timeoutMs
          if (query.top !== undefined) {
            return yield* encoded(ObserverCluster.ClusterTop, yield* cluster.top({ ...query.top, timeout }))
          }
          const processLimit = query.processLimit
          return yield* encoded(ObserverCluster.ClusterSnapshot, yield* cluster.snapshot({ timeout, processLimit }))
        })
      )

      yield* endpoint.addRoute(
        "GET",
        "/observer/process/:pid",
        Effect.gen(function* () {
          const { text, pid } = yield* pidParam
          if (pid === undefined) return malformedPid(text)
          return yield* cluster.process(pid).pipe(
            Effect.flatMap((detail) => encoded(Observer.ProcessDetail, detail)),
            Effect.catchTags({ NoProcess: notAlive, ProcessUnreachable: unreachable })
          )
        })
      )

      const token = options?.kill?.token
      if (token === undefined) return undefined
      const secret = typeof token === "string" ? token : Redacted.value(token)
      if (secret.length === 0) return yield* Effect.die(new Error("ObserverHttp: the kill token is empty"))
      const guard = bearerGuard(secret)
      yield* endpoint.addRoute(
        "POST",
        "/observer/process/:pid/kill",
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          if (!guard.accepts(request.headers["authorization"])) {
            return problem(401, "Unauthorized", "this operation needs Authorization: Bearer <token>", {
              "www-authenticate": 'Bearer realm="observer"'
            })
          }
          const { text, pid } = yield* pidParam
          if (pid === undefined) return malformedPid(text)
          const alive = pid.node === runtime.node && (yield* Process.isAlive(pid).pipe(Effect.provideContext(context)))
          if (!alive) return problem(404, "NoProcess", `${String(pid)} is not a live process of this node`)
          // Untrappable: the process exits at once with reason killed (its links and monitors fire).
          yield* Effect.ignore(Process.kill(pid).pipe(Effect.provideContext(context)))
          yield* Effect.logWarning("Observer: process killed over HTTP").pipe(
            Effect.annotateLogs({ pid: String(pid), remote: Option.getOrElse(request.remoteAddress, () => "unknown") })
          )
          return json(200, { killed: String(pid) })
        })
      )
    })
  )
