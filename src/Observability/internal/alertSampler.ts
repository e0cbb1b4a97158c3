/**
 * The AlertManager's sampler: one sweep reads the node's figures and feeds them to the engine.
 *
 * - mailbox size of every live process (`cell.mailbox.size`). A process whose mailbox was empty at
 *   every sweep has no state: its series is created, with those empty samples counted, when a sweep
 *   first finds a message waiting (how many sweeps it lived through is read from its pid id, since
 *   ids grow: see {@link SweepHistory});
 * - handler latency of every live process whose handlers were timed since the last sweep: the
 *   moving average of the sampled handler durations the runtime keeps per process
 *   (`mailbox.stats`, one message in `busySampleEvery` timed); processes with no new timed message
 *   give no sample (an idle process does not repeat its last figure into its baseline);
 * - restarts per minute of every live supervisor, from the `ChildRestarted` events counted since
 *   the last sweep;
 * - the node's event-loop delay: the 99th percentile (milliseconds) of the sampler's own reader of
 *   the thread's shared event-loop delay sampler (`eventLoopMonitor.ts`, 10 ms ticks) over the
 *   interval since the last sweep (skipped when it holds no sample). Resetting the reader at each
 *   sweep keeps the sampler's previous tick, so a block of the loop right after a sweep is seen;
 * - then every process with state that is no longer in the table is forgotten (its alerts resolve
 *   with reason `exited`).
 *
 * A sweep of 100,000 idle processes reads two fields of each and allocates nothing for them; the
 * layer runs a sweep in steps of a few thousand processes, yielding between them.
 *
 * @internal
 */
import { type LoopDelayReader, openReader } from "./eventLoopMonitor.ts"
import type { Cell } from "../../Process/internal/cell.ts"
import type { ProcessStats } from "../../Process/internal/processStats.ts"
import type { Runtime } from "../../Process/internal/runtime.ts"
import type * as Pid from "../../Process/Pid.ts"
import { type AlertEngine, NODE, type Transition } from "./alertEngine.ts"

const supervisorBehaviours = new Set(["supervisor", "dynamic_supervisor"])

/**
 * The highest pid id alive at each of the last sweeps (a running maximum, so non-decreasing).
 * Pid ids only grow, so a process alive now with id `n` was alive at every recorded sweep whose
 * maximum is at least `n`: {@link sweepsSince} counts them with a binary search.
 */
class SweepHistory {
  private readonly maxIds: Array<number> = []
  private highest = 0

  /** Records a sweep that saw ids up to `maxId`, keeping the last `keep` sweeps. */
  push(maxId: number, keep: number): void {
    if (maxId > this.highest) this.highest = maxId
    this.maxIds.push(this.highest)
    if (this.maxIds.length > keep) this.maxIds.splice(0, this.maxIds.length - keep)
  }

  /** Recorded sweeps that the process with this id lived through. */
  sweepsSince(id: number): number {
    const ids = this.maxIds
    let low = 0
    let high = ids.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (ids[mid]! >= id) high = mid
      else low = mid + 1
    }
    return ids.length - low
  }

  clear(): void {
    this.maxIds.length = 0
  }
}

/** Samples one node's runtime into one engine. */
export class AlertSampler {
  private readonly restarts = new Map<number, number>()
  /** Timed handler samples already seen, per process (weak: freed with the process). */
  private readonly latencySeen = new WeakMap<ProcessStats, number>()
  private readonly history = new SweepHistory()
  private readonly reader: LoopDelayReader
  private lastSweep: number

  constructor(
    private readonly runtime: Runtime,
    private readonly engine: AlertEngine,
    now: number
  ) {
    this.lastSweep = now
    this.reader = openReader()
  }

  /** The node's name (the subject of node alerts). */
  get node(): string {
    return this.runtime.node
  }

  /** Counts a restart by the supervisor `supervisor` (from a `ChildRestarted` event). */
  countRestart(supervisor: Pid.Pid): void {
    if (!this.isLive(supervisor)) return
    this.restarts.set(supervisor.id, (this.restarts.get(supervisor.id) ?? 0) + 1)
  }

  /** Whether a pid names a live process of this node (samples of anything else are dropped). */
  isLive(pid: Pid.Pid): boolean {
    return this.runtime.lookup(pid) !== undefined
  }

  /** Forgets the sweeps seen (the mailbox baselines were dropped: they start again). */
  resetHistory(): void {
    this.history.clear()
  }

  /**
   * One sweep in steps of at most `chunk` processes: each step yields the transitions it caused, so
   * that the caller can let other fibers run between steps. Processes spawned or exited meanwhile
   * are seen or skipped as the process table's iterator finds them.
   */
  *sweepSteps(now: number, wall: number, chunk: number): Generator<Array<Transition>, void> {
    const engine = this.engine
    let transitions: Array<Transition> = []
    const elapsed = Math.max(1, now - this.lastSweep)
    this.lastSweep = now
    const push = (transition: Transition | undefined) => {
      if (transition !== undefined) transitions.push(transition)
    }
    const mailboxes = engine.accepts("mailbox_size")
    const latencies = engine.accepts("handler_latency")
    const restarts = engine.accepts("restart_rate")
    let maxId = 0
    if (mailboxes || latencies || restarts) {
      const history = this.history
      let visited = 0
      for (const cell of this.runtime.processes()) {
        if (++visited > chunk) {
          yield transitions
          transitions = []
          visited = 1
        }
        if (!cell.alive) continue
        const pid = cell.pid
        const id = pid.id
        if (id > maxId) maxId = id
        if (mailboxes) {
          const size = cell.mailbox.size
          if (size !== 0 || engine.has("mailbox_size", id)) {
            push(engine.record("mailbox_size", id, pid, size, now, wall, history.sweepsSince(id)))
          }
        }
        if (latencies) {
          const stats = cell.mailbox.stats
          if (stats.samples > 0 && stats.samples > (this.latencySeen.get(stats) ?? 0)) {
            this.latencySeen.set(stats, stats.samples)
            push(engine.record("handler_latency", id, pid, stats.latencyMs, now, wall))
          }
        }
        if (restarts && isSupervisor(cell)) {
          const count = this.restarts.get(id) ?? 0
          push(engine.record("restart_rate", id, pid, (count * 60_000) / elapsed, now, wall))
        }
      }
    }
    this.restarts.clear()
    if (engine.accepts("mailbox_size")) {
      const settings = engine.settings
      this.history.push(maxId, Math.max(settings.minSamples, settings.baselineWindow))
    }
    const delay = this.reader.histogram
    if (engine.accepts("event_loop_delay") && delay.count > 0) {
      push(engine.record("event_loop_delay", NODE, undefined, delay.percentile(99) / 1e6, now, wall))
    }
    delay.reset()
    transitions.push(...this.forgetExited(wall))
    yield transitions
  }

  /** Frees the state of every process whose process exited. */
  forgetExited(wall: number): Array<Transition> {
    const gone = new Set<number>()
    for (const pid of this.engine.processSubjects()) if (this.runtime.lookup(pid) === undefined) gone.add(pid.id)
    return Array.from(gone).flatMap((id) => this.engine.forget(id, wall, "exited"))
  }

  /** Delay samples the event-loop monitor holds since the last sweep (tests wait on it). */
  get delaySamples(): number {
    return this.reader.histogram.count
  }

  close(): void {
    this.reader.close()
  }
}

const isSupervisor = (cell: Cell): boolean =>
  cell.behaviour !== undefined && supervisorBehaviours.has(cell.behaviour.name)
