/**
 * Plain-text rendering for the CLI: aligned tables and human units.
 *
 * @internal
 */

/** A column: its header, and whether its cells align right (numbers). */
export interface Column {
  readonly header: string
  readonly right?: boolean
}

/**
 * Rows under headers, each column as wide as its widest cell, separated by two spaces; no
 * trailing spaces. An empty table prints its headers and `(none)`.
 */
export const table = (columns: ReadonlyArray<Column>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? ""
        const width = widths[i]!
        return column.right === true ? cell.padStart(width) : i === columns.length - 1 ? cell : cell.padEnd(width)
      })
      .join("  ")
      .trimEnd()
  const out = [line(columns.map((column) => column.header)), ...rows.map(line)]
  if (rows.length === 0) out.push("(none)")
  return out.join("\n")
}

/** `label  value` lines, labels padded to the widest. */
export const fields = (pairs: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(...pairs.map(([label]) => label.length))
  return pairs.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n")
}

/** Bytes in B, KB, MB, GB (powers of 1024, one decimal over 10). */
export const bytes = (n: number): string => {
  const units = ["B", "KB", "MB", "GB", "TB"]
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 || value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

/** Milliseconds as `850ms`, `12.3s`, `4m 05s`, `3h 02m`, `2d 04h`. */
export const duration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)}s`
  const two = (n: number) => String(Math.floor(n)).padStart(2, "0")
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${two((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d ${two((s % 86400) / 3600)}h`
}

/** A share in [0, 1] as a percentage with one decimal. */
export const percent = (share: number): string => `${(share * 100).toFixed(1)}%`
