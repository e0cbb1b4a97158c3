/**
 * The node-level figures of an Observer snapshot: versions, memory, and the event loop's delay
 * (a reader of the thread's shared sampler, see `eventLoopMonitor.ts`) and utilisation, each over the interval since the previous
 * reading (at least {@link LOOP_WINDOW_MS} long).
 *
 * @internal
 */
import { createRequire } from "node:module"
import { type EventLoopUtilization, performance } from "node:perf_hooks"
import { type LoopDelayReader, openReader } from "./eventLoopMonitor.ts"

/** The versions a snapshot names. */
export interface VersionFields {
  readonly node: string
  readonly effect: string
  readonly effectOtp: string
}

const versionOf = (require: NodeJS.Require, path: string): string => {
  try {
    const version = (require(path) as { version?: unknown }).version
    return typeof version === "string" ? version : "unknown"
  } catch {
    return "unknown"
  }
}

/**
 * Node's, effect's and effect-otp's versions. effect-otp's own package.json is three directories
 * up, from src/Observability/internal as from dist/Observability/internal.
 */
export const readVersions = (): VersionFields => {
  const require = createRequire(import.meta.url)
  return {
    node: process.versions.node,
    effect: versionOf(require, "effect/package.json"),
    effectOtp: versionOf(require, "../../../package.json")
  }
}

/** The event loop over the last interval. */
export interface LoopFields {
  readonly delayMeanMs: number
  readonly delayP99Ms: number
  readonly delayMaxMs: number
  readonly utilization: number
}

/** Shortest interval the event-loop figures are computed over, in milliseconds. */
export const LOOP_WINDOW_MS = 1000

const round = (value: number): number => (Number.isFinite(value) ? Math.round(value * 1000) / 1000 : 0)

/** Samples the event loop while it is started; {@link read} gives the figures of the last interval. */
export class LoopMonitor {
  private reader: LoopDelayReader | undefined = undefined
  private utilizationMark: EventLoopUtilization | undefined = undefined
  private intervalStart = 0
  private last: LoopFields = { delayMeanMs: 0, delayP99Ms: 0, delayMaxMs: 0, utilization: 0 }
  private hasLast = false

  /** @param now monotonic milliseconds (the runtime's clock). */
  constructor(private readonly now: () => number) {}

  start(): void {
    if (this.reader !== undefined) return
    this.reader = openReader()
    this.utilizationMark = performance.eventLoopUtilization()
    this.intervalStart = this.now()
  }

  stop(): void {
    this.reader?.close()
    this.reader = undefined
  }

  /**
   * The figures of the interval just ended when it is at least {@link LOOP_WINDOW_MS} long (a new
   * one starts), otherwise those of the previous interval (or of the current one, if there is none).
   */
  read(): LoopFields {
    const histogram = this.reader?.histogram
    if (histogram === undefined || this.utilizationMark === undefined) return this.last
    const now = this.now()
    const current = (): LoopFields => ({
      delayMeanMs: histogram.count === 0 ? 0 : round(histogram.mean / 1e6),
      delayP99Ms: histogram.count === 0 ? 0 : round(histogram.percentile(99) / 1e6),
      delayMaxMs: histogram.count === 0 ? 0 : round(histogram.max / 1e6),
      utilization: round(performance.eventLoopUtilization(this.utilizationMark).utilization)
    })
    if (now - this.intervalStart < LOOP_WINDOW_MS) {
      return this.hasLast ? this.last : current()
    }
    this.last = current()
    this.hasLast = true
    histogram.reset()
    this.utilizationMark = performance.eventLoopUtilization()
    this.intervalStart = now
    return this.last
  }
}

/** Memory of this OS process, in bytes. */
export const readMemory = (): {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
} => {
  const usage = process.memoryUsage()
  return { rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external }
}
