/**
 * A process's state as bounded text for `Observer.process`: Node's `util.inspect` (it handles
 * cycles, class names, Maps and Sets, and values that render themselves, such as Effect's
 * `Redacted`), limited in depth, items per collection and string length, and cut at a maximum
 * length. Never throws.
 *
 * @internal
 */
import { inspect } from "node:util"

/** The longest state text shown, in characters. */
export const MAX_STATE_CHARS = 8192

const options = {
  depth: 4,
  maxArrayLength: 50,
  maxStringLength: 1024,
  breakLength: 120,
  compact: 3,
  getters: false,
  showProxy: false,
  sorted: false
} as const

const errorText = (error: unknown): string => {
  try {
    return error instanceof Error ? error.message : String(error)
  } catch {
    return "unknown error"
  }
}

/** `value` as at most {@link MAX_STATE_CHARS} characters of text. */
export const renderState = (value: unknown): string => {
  let text: string
  try {
    text = inspect(value, options)
  } catch (error) {
    return `<the state could not be rendered: ${errorText(error)}>`
  }
  return text.length <= MAX_STATE_CHARS
    ? text
    : `${text.slice(0, MAX_STATE_CHARS)}... (${text.length - MAX_STATE_CHARS} more characters)`
}

/** The state a behaviour shows (its `formatStatus`, or the state), rendered; a failure of `formatStatus` is reported. */
export const renderStatus = (status: () => unknown): { readonly text: string; readonly failed: boolean } => {
  let value: unknown
  try {
    value = status()
  } catch (error) {
    return { text: `<formatStatus failed: ${errorText(error)}>`, failed: true }
  }
  return { text: renderState(value), failed: false }
}
