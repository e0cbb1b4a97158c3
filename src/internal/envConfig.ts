/**
 * Reading a configuration made of environment variables so that every bad variable is reported,
 * not the first: each variable is read as text (never failing on its value), checked by a small
 * function that returns the value or the reason it is wrong, and the problems are collected.
 *
 * @internal
 */
import { Config, ConfigProvider, Option } from "effect"

/** A variable of the table: its name, its default as the text one would write, and its meaning. */
export interface Variable {
  readonly name: string
  readonly default: string | undefined
  readonly meaning: string
}

/** What is wrong with one variable. */
export interface Problem {
  readonly variable: string
  readonly reason: string
}

/** The result of checking one variable: its value, or why it is wrong. */
export type Checked<A> =
  { readonly ok: true; readonly value: A } | { readonly ok: false; readonly problems: ReadonlyArray<Problem> }

export const ok = <A>(value: A): Checked<A> => ({ ok: true, value })

export const bad = (variable: string, reason: string): Checked<never> => ({
  ok: false,
  problems: [{ variable, reason }]
})

/** The text of some variables: `undefined` when unset or blank (`FOO=` in a compose file means "not set"). */
export type Texts = Readonly<Record<string, string | undefined>>

/**
 * Reads the text of every variable in `names`, trimmed; never fails on a value (the checks come
 * after, so that every bad variable is reported).
 */
export const texts = (names: ReadonlyArray<string>): Config.Config<Texts> =>
  Config.all(Object.fromEntries(names.map((name) => [name, Config.option(Config.String(name))]))).pipe(
    Config.map((values) => {
      const result: Record<string, string | undefined> = {}
      for (const [name, value] of Object.entries(values as Record<string, Option.Option<string>>)) {
        const trimmed = Option.isSome(value) ? value.value.trim() : ""
        result[name] = trimmed.length > 0 ? trimmed : undefined
      }
      return result
    })
  )

/** Checks the variable `name` of `env`; `fallback` is the result when it is unset. */
export const read = <A>(
  env: Texts,
  name: string,
  parse: (value: string) => Checked<A>,
  fallback: Checked<A>
): Checked<A> => {
  const value = env[name]
  return value === undefined ? fallback : parse(value)
}

/** Combines checked values: all the values, or all the problems. */
export const all = <const R extends Record<string, Checked<unknown>>>(
  record: R
): Checked<{ readonly [K in keyof R]: R[K] extends Checked<infer A> ? A : never }> => {
  const problems: Array<Problem> = []
  const values: Record<string, unknown> = {}
  for (const [key, checked] of Object.entries(record)) {
    if (checked.ok) values[key] = checked.value
    else problems.push(...checked.problems)
  }
  return problems.length === 0
    ? ok(values as { readonly [K in keyof R]: R[K] extends Checked<infer A> ? A : never })
    : { ok: false, problems }
}

/** `problems` as one line: `A: reason; B: reason`. */
export const describe = (problems: ReadonlyArray<Problem>): string =>
  problems.map((p) => `${p.variable}: ${p.reason}`).join("; ")

/** A `ConfigError` naming every problem (for values read as `Config`). */
export const toConfigError = (problems: ReadonlyArray<Problem>): Config.ConfigError =>
  new Config.ConfigError(new ConfigProvider.SourceError({ message: describe(problems) }))

// ---------------------------------------------------------------------------------------------
// Parsers

const integerPattern = /^[+-]?\d+$/

/** An integer within `[min, max]`. */
export const integer =
  (name: string, min: number, max: number, what: string) =>
  (value: string): Checked<number> => {
    const n = integerPattern.test(value) ? Number(value) : Number.NaN
    return Number.isSafeInteger(n) && n >= min && n <= max ? ok(n) : bad(name, `"${value}" is not ${what}`)
  }

/** A port number (0 to 65535). */
export const port = (name: string) => integer(name, 0, 65535, "a port number (an integer from 0 to 65535)")

const truthy = ["true", "1", "yes", "on"]
const falsy = ["false", "0", "no", "off"]

/** `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), in any case. */
export const boolean =
  (name: string) =>
  (value: string): Checked<boolean> => {
    const lower = value.toLowerCase()
    if (truthy.includes(lower)) return ok(true)
    if (falsy.includes(lower)) return ok(false)
    return bad(name, `"${value}" is not a boolean (true or false)`)
  }

/** A comma-separated list, blanks trimmed and empty items dropped. */
export const list = (value: string): ReadonlyArray<string> =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
