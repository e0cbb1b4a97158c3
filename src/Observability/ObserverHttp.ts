/**
 * The Observer over HTTP, on the node's endpoint (`HttpEndpoint`):
 *
 * - `GET /observer`: this node's snapshot as JSON, with its first 1,000 processes in spawn order
 *   and `omittedProcesses` counting the others (`?processes=N|all` to include more, up to all);
 *   with `?top=N&sort=mailbox|busy|rate` its top-N table instead (default sort `mailbox`);
 * - `GET /observer/cluster`: the snapshot of every node (`ObserverCluster.snapshot`), or with
 *   `?top=N&sort=...` the cluster's top-N table; `?timeout=<ms>` sets the per-node timeout and
 *   `?processes=N` how many processes each node's snapshot includes (default 1,000, at most
 *   20,000, what fits in one message between nodes: more, or `all`, is a 400 before anything is
 *   asked). Always 200 once the question is asked: nodes that did not answer are entries with
 *   their reason;
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
 * The routes are not authenticated: serve them on an interface only operators reach. Process
 * states are shown only through a behaviour's `formatStatus`, unless the node's Observer is built
 * with `Observer.layerWith({ showState: true })`.
 *
 * Large answers are encoded in slices of 500 processes with a yield between them, so that a
 * snapshot of a large node does not hold the event loop for long (only taking it does: about
 * 1 ms per 1,000 processes, at one instant).
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
import { clusterSnapshotText, clusterTopText, infosText, snapshotText } from "./internal/observerHttpEncode.ts"
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
   * Enables `POST /observer/process/<pid>/kill`, guarded by this bearer token (at least 16
   * characters: a shorter one makes the layer fail to build, a defect). Without
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

/** A JSON response from text already encoded. */
const jsonText = (text: string): Response.HttpServerResponse =>
  HttpServerResponse.text(text, { status: 200, contentType: "application/json" })

/** How many processes `GET /observer` includes unless `?processes=` says otherwise. */
const DEFAULT_PROCESSES = 1000

/** The shortest kill token accepted. */
const MIN_TOKEN_LENGTH = 16

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
          if (query.top !== undefined) return jsonText(yield* infosText(yield* local(Observer.top(query.top))))
          const processLimit = query.processLimit ?? DEFAULT_PROCESSES
          const { snapshot, omittedProcesses } = yield* local(Observer.snapshotLimited({ processLimit }))
          const text = yield* snapshotText(snapshot)
          return jsonText(`${text.slice(0, -1)},"omittedProcesses":${omittedProcesses}}`)
        })
      )

      yield* endpoint.addRoute(
        "GET",
        "/observer/cluster",
        Effect.gen(function* () {
          const query = parseQuery(yield* searchParams, true)
          if ("malformed" in query) return problem(400, "MalformedQuery", query.malformed)
          const timeout = query.timeoutMs
          if (query.top !== undefined)
            return jsonText(yield* clusterTopText(yield* cluster.top({ ...query.top, timeout })))
          const processLimit = query.processLimit
          if (processLimit !== undefined && processLimit > ObserverCluster.maxSnapshotProcesses) {
            const max = ObserverCluster.maxSnapshotProcesses
            return problem(
              400,
              "MalformedQuery",
              `processes must be at most ${max} on /observer/cluster (a node's snapshot crosses the wire as one message), not ${query.processesText}; ask top=N for the processes that matter, or /observer on the node itself`
            )
          }
          return jsonText(yield* clusterSnapshotText(yield* cluster.snapshot({ timeout, processLimit })))
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
      if (secret.length < MIN_TOKEN_LENGTH) {
        return yield* Effect.die(
          new Error(
            `ObserverHttp: the kill token must be at least ${MIN_TOKEN_LENGTH} characters (it has ${secret.length}); use a long random one, e.g. openssl rand -hex 32`
          )
        )
      }
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
