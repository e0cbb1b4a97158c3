/**
 * The CLI's side of a node's HTTP endpoint: a GET of a JSON document, decoded with the Schema
 * class the node encodes it with, and the two ways it fails (the node cannot be reached; it
 * answered something else than the document).
 *
 * @internal
 */
import { Duration, Effect, Schema } from "effect"
import { CliError } from "effect/cli"
import { FetchHttpClient, HttpClient } from "effect/http"

/** The node did not answer: refused, unknown host, timed out. */
export class NodeUnreachable extends Schema.TaggedError<NodeUnreachable>()("NodeUnreachable", {
  url: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot reach the node at ${this.url}: ${this.detail}`
  }
  override get [CliError.userMessage](): string {
    return this.message
  }
}

/** The node answered, but not with the document asked for (wrong status, not JSON, wrong shape). */
export class BadResponse extends Schema.TaggedError<BadResponse>()("BadResponse", {
  url: Schema.String,
  status: Schema.Number,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.url} answered ${this.status}: ${this.detail}`
  }
  override get [CliError.userMessage](): string {
    return this.message
  }
}

/**
 * `input` as the base URL of a node's endpoint: `http://` is added when no scheme is given, and a
 * trailing slash or path is dropped (`127.0.0.1:9464`, `http://node-0:9464/health` both give
 * `http://…:9464`).
 */
export const baseUrl = (input: string): string => {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `http://${input}`
  try {
    const url = new URL(withScheme)
    return `${url.protocol}//${url.host}`
  } catch {
    return withScheme.replace(/\/+$/, "")
  }
}

/** Why a request did not reach the node, in words: the system error code when there is one. */
const reasonOf = (error: unknown): string => {
  let current: unknown = error
  let innermost = String(error)
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) {
      const address = (current as { address?: unknown; port?: unknown }).address
      const port = (current as { port?: unknown }).port
      return address === undefined ? code : `${code} ${String(address)}${port === undefined ? "" : `:${String(port)}`}`
    }
    if (current instanceof Error && current.message !== "") innermost = current.message
    current = (current as { cause?: unknown }).cause
  }
  return innermost
}

/** The words of an error body: the `message` of a JSON error (`{ error, message }`), else the text. */
const errorText = (text: string): string => {
  try {
    const json = JSON.parse(text) as { readonly message?: unknown }
    if (typeof json.message === "string") return json.message
  } catch {
    // Not JSON: the text itself.
  }
  return text.trim().slice(0, 300) || "(no body)"
}

/** The options of every request. */
export interface RequestOptions {
  readonly timeout: Duration.Input
  /** Statuses whose body is the document too (`/health` and `/ready` answer 503 with one). */
  readonly accept?: ReadonlyArray<number>
}

/**
 * GETs `path` (with its query) from the node at `base` and decodes the JSON body with `schema`.
 * Fails with `NodeUnreachable` when no answer comes within `timeout`, with `BadResponse` when the
 * status is not 200 (nor one of `accept`) or the body is not the document. A 404's plain-text body
 * is kept in the detail.
 */
export const getJson = <S extends Schema.Top & { readonly DecodingServices: never }>(
  base: string,
  path: string,
  schema: S,
  options: RequestOptions
): Effect.Effect<S["Type"], NodeUnreachable | BadResponse> => {
  const url = `${base}${path}`
  return Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.get(url, { acceptJson: true }).pipe(
      Effect.timeoutOrElse({
        duration: options.timeout,
        orElse: () =>
          Effect.fail(
            new NodeUnreachable({
              url,
              detail: `no answer within ${Duration.format(Duration.fromInputUnsafe(options.timeout))}`
            })
          )
      }),
      Effect.catchTag("HttpClientError", (error) =>
        Effect.fail(new NodeUnreachable({ url, detail: reasonOf(error.reason.cause ?? error) }))
      )
    )
    const text = yield* Effect.orElseSucceed(response.text, () => "")
    if (response.status !== 200 && !(options.accept ?? []).includes(response.status)) {
      return yield* new BadResponse({ url, status: response.status, detail: errorText(text) })
    }
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: () => new BadResponse({ url, status: response.status, detail: "the body is not JSON" })
    })
    return yield* Schema.decodeUnknownEffect(schema)(json).pipe(
      Effect.mapError(
        (error) =>
          new BadResponse({
            url,
            status: response.status,
            detail: `unexpected document (is this an effect-otp node?): ${error.message.split("\n").slice(0, 3).join(" ")}`
          })
      )
    )
  }).pipe(Effect.provide(FetchHttpClient.layer))
}
