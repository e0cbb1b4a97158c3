/**
 * The query strings of the `/observer` routes: `top=N`, `sort=mailbox|busy|rate` and (on
 * `/observer/cluster`) `timeout=<ms>`, and `processes=N|all`, checked into values or into a sentence for a 400 answer.
 *
 * @internal
 */

/** What `/observer` and `/observer/cluster` were asked for. */
export interface ObserverQuery {
  /** A top-N table instead of the whole snapshot. */
  readonly top: { readonly limit: number; readonly by: "mailbox" | "busy" | "rate" } | undefined
  /** The per-node timeout in milliseconds, when given. */
  readonly timeoutMs: number | undefined
  /** How many processes each node's snapshot includes, when given (`Infinity` for `all`). */
  readonly processLimit: number | undefined
  /** `processes` as given, for messages. */
  readonly processesText: string | undefined
}

/** The largest `top` asked for. */
export const MAX_TOP = 10_000
/** The longest per-node timeout `timeout` may ask for. */
export const MAX_TIMEOUT_MS = 60_000
/** The largest number `processes` may ask for (besides `all`). */
export const MAX_PROCESSES = 1_000_000

const single = (params: Readonly<Record<string, string | ReadonlyArray<string>>>, key: string) => {
  const value = params[key]
  return typeof value === "string" || value === undefined ? value : value[value.length - 1]
}

const integer = (text: string, min: number, max: number): number | undefined => {
  if (!/^\d{1,9}$/.test(text)) return undefined
  const n = Number(text)
  return n >= min && n <= max ? n : undefined
}

/** The query of `params`, or why it is malformed. */
export const parseQuery = (
  params: Readonly<Record<string, string | ReadonlyArray<string>>>,
  allowTimeout: boolean
): ObserverQuery | { readonly malformed: string } => {
  const topText = single(params, "top")
  const sortText = single(params, "sort")
  const timeoutText = single(params, "timeout")
  const processesText = single(params, "processes")
  const limit = topText === undefined ? undefined : integer(topText, 1, MAX_TOP)
  if (topText !== undefined && limit === undefined) {
    return { malformed: `top must be an integer from 1 to ${MAX_TOP}, not ${JSON.stringify(topText)}` }
  }
  if (sortText !== undefined && sortText !== "mailbox" && sortText !== "busy" && sortText !== "rate") {
    return { malformed: `sort must be mailbox, busy or rate, not ${JSON.stringify(sortText)}` }
  }
  if (sortText !== undefined && limit === undefined) return { malformed: "sort needs top=N" }
  if (timeoutText !== undefined && !allowTimeout) return { malformed: "timeout applies to /observer/cluster only" }
  const processLimit =
    processesText === undefined
      ? undefined
      : processesText === "all"
        ? Infinity
        : integer(processesText, 0, MAX_PROCESSES)
  if (processesText !== undefined && processLimit === undefined) {
    return {
      malformed: `processes must be all or an integer from 0 to ${MAX_PROCESSES}, not ${JSON.stringify(processesText)}`
    }
  }
  const timeoutMs = timeoutText === undefined ? undefined : integer(timeoutText, 1, MAX_TIMEOUT_MS)
  if (timeoutText !== undefined && timeoutMs === undefined) {
    return { malformed: `timeout must be milliseconds from 1 to ${MAX_TIMEOUT_MS}, not ${JSON.stringify(timeoutText)}` }
  }
  const top: ObserverQuery["top"] = limit === undefined ? undefined : { limit, by: sortText ?? "mailbox" }
  return { top, timeoutMs, processLimit, processesText }
}
