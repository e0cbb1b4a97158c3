/**
 * One event-loop delay sampler shared by every reader of the thread (RuntimeMetrics, the
 * Observer, the AlertManager, of every node the thread runs): a single unref'd 10 ms timer that
 * records the time between its ticks (nanoseconds, like `monitorEventLoopDelay`) into the
 * histogram of each open reader. The event loop belongs to the thread, not to a node, so the
 * thread has one sampler whatever the number of nodes and readers; it starts with the first
 * reader and stops with the last one (reference counted).
 *
 * Each reader owns its histogram and resets it at its own pace: readers never reset each other.
 * Unlike `monitorEventLoopDelay`, whose `reset()` and `enable()` drop the next tick (a block just
 * after a reset goes unseen), the sampler keeps its previous tick time across resets, so the first
 * tick after a reset (or after a reader opens) is recorded.
 *
 * @internal
 */
import { createHistogram, type RecordableHistogram } from "node:perf_hooks"

/** Interval of the sampler's timer, in milliseconds. */
export const RESOLUTION_MS = 10

/** A reader's view: its own histogram of tick intervals (nanoseconds) since its last reset. */
export interface LoopDelayReader {
  readonly histogram: RecordableHistogram
  /** Stops feeding this reader; the sampler stops with its last reader. Idempotent. */
  close(): void
}

interface Sampler {
  readonly timer: ReturnType<typeof setInterval>
  readonly readers: Set<RecordableHistogram>
  last: bigint
}

// The thread's sampler: the event loop is per thread, so is this (reference counted by readers).
let sampler: Sampler | undefined = undefined

const tick = (): void => {
  const current = sampler
  if (current === undefined) return
  const now = process.hrtime.bigint()
  const delta = Number(now - current.last)
  current.last = now
  if (delta < 1) return
  for (const histogram of current.readers) histogram.record(delta)
}

/** Opens a reader, starting the thread's sampler if it is the first one. */
export const openReader = (): LoopDelayReader => {
  if (sampler === undefined) {
    const timer = setInterval(tick, RESOLUTION_MS)
    timer.unref()
    sampler = { timer, readers: new Set(), last: process.hrtime.bigint() }
  }
  const histogram = createHistogram()
  sampler.readers.add(histogram)
  let open = true
  return {
    histogram,
    close: () => {
      if (!open) return
      open = false
      const current = sampler
      if (current === undefined) return
      current.readers.delete(histogram)
      if (current.readers.size === 0) {
        clearInterval(current.timer)
        sampler = undefined
      }
    }
  }
}

/** How many samplers (timers) run on this thread (0 or 1) and how many readers they feed (tests). */
export const activity = (): { readonly samplers: number; readonly readers: number } => ({
  samplers: sampler === undefined ? 0 : 1,
  readers: sampler?.readers.size ?? 0
})
