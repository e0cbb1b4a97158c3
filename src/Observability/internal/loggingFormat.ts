/**
 * The two record formats of `Logging`: Effect's structured record (`Logger.formatStructured`:
 * timestamp, level, message, annotations, log spans, cause) plus the fields of the logging
 * fiber's context, as one JSON line or as one readable line.
 *
 * @internal
 */
import { Formatter, Logger } from "effect"
import { contextFields } from "./loggingContext.ts"

/** One JSON object per record, on one line. */
export const formatJson: Logger.Logger<unknown, string> = Logger.make((options) => {
  const record = Logger.formatStructured.log(options)
  const where = contextFields(options.fiber)
  return Formatter.formatJson({
    timestamp: record.timestamp,
    level: record.level,
    message: record.message,
    node: where.node,
    pid: where.pid,
    name: where.name,
    traceId: where.traceId,
    spanId: where.spanId,
    annotations: record.annotations,
    spans: isEmpty(record.spans) ? undefined : record.spans,
    fiberId: record.fiberId,
    cause: record.cause
  })
})

const isEmpty = (record: Record<string, unknown>): boolean => {
  for (const _ in record) return false
  return true
}

const levelColors: Record<string, string> = {
  TRACE: "90",
  DEBUG: "34",
  INFO: "32",
  WARN: "33",
  ERROR: "31",
  FATAL: "101;30"
}

const two = (n: number): string => n.toString().padStart(2, "0")

const clockTime = (date: Date): string =>
  `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${date.getMilliseconds().toString().padStart(3, "0")}`

/** A value as it reads in a `key=value` pair: plain text when it has no spaces, JSON otherwise. */
const text = (value: unknown): string =>
  typeof value === "string"
    ? /^[^\s"=]*$/.test(value) && value !== ""
      ? value
      : JSON.stringify(value)
    : Formatter.formatJson(value)

/**
 * One readable line per record: `[time] LEVEL node pid name: message key=value ...`; a failure's
 * cause follows on indented lines.
 */
export const formatPretty = (colors: boolean): Logger.Logger<unknown, string> =>
  Logger.make((options) => {
    const record = Logger.formatStructured.log(options)
    const where = contextFields(options.fiber)
    const level = record.level.padEnd(5)
    let line = `[${clockTime(options.date)}] ${colors ? `\x1b[${levelColors[record.level] ?? "0"}m${level}\x1b[0m` : level}`
    if (where.node !== undefined) line += ` ${where.node}`
    if (where.pid !== undefined) line += ` ${where.pid}`
    if (where.name !== undefined) line += ` ${where.name}`
    const message = Array.isArray(record.message) ? record.message : [record.message]
    line += ":"
    for (const part of message) line += ` ${typeof part === "string" ? part : Formatter.formatJson(part)}`
    for (const [label, millis] of Object.entries(record.spans)) line += ` ${label}=${millis}ms`
    for (const [key, value] of Object.entries(record.annotations)) line += ` ${key}=${text(value)}`
    if (record.cause !== undefined) line += "\n" + record.cause.replace(/^/gm, "    ")
    return line
  })
