/**
 * The AlertManager's sampler: one sweep reads the node's figures and feeds them to the engine.
 *
 * - mailbox size of every live process (`cell.mailbox.size`);
 * - restarts per minute of every live supervisor, from the `ChildRestarted` events counted since
 *   the last sweep;
 * - the node's event-loop delay: the 99th percentile (milliseconds) of a `monitorEventLoopDelay`
 *   histogram over the interval since the last sweep (skipped when it holds no sample). Node's
 *   monitor measures each tick against the previous one, and the first tick after it is enabled or
 *   reset only sets that reference: a block of the loop right after a sweep is seen only if it
 *   lasts past that tick (10 ms);
 * - then every process subject whose process is no longer in the table is forgotten (its alerts
 *   resolve with reason `exited`).
 *
 * - handler latency of every live process whose handlers were timed since the last sweep: the
 *   moving average of the sampled handler durations the runtime keeps per process
 *   (`mailbox.stats`, one message in `busySampleEvery` timed); processes with no new timed message
 *   give no sample (an idle process does not repeat its last figure into its baseline);
 *
 * @internal
 */
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks"
import type * as Pid from "../../Process/Pid.ts"
import type { Cell } from "../../Process/internal/cell.ts"
import type { ProcessStats } from "../../Process/internal/processStats.ts"
import type { Runtime } from "../../Process/internal/runtime.ts"
import type { AlertEngine, Subject, Transition } from "./alertEngine.ts"

const supervisorBehaviours = new Set(["supervisor", "dynamic_supervisor"])

/** The subject of a process. */
export const processSubject = (pid: Pid.Pid): Subject => ({ key: String(pid), node: pid.node, pid })

/** The subject of a node. */
export const nodeSubject = (node: string): Subject => ({ key: `node:${node}`, node, pid: undefined })

/** Samples one node's runtime into one engine. */
export class AlertSampler {
  private readonly restarts = new Map<string, number>()
  /** Timed handler samples already seen, per process (weak: freed with the process). */
  private readonly latencySeen = new WeakMap<ProcessStats, number>()
  private readonly delay: IntervalHistogram
  private readonly node: Subject
  private lastSweep: number

  constructor(
    private readonly runtime: Runtime,
    private readonly engine: AlertEngine,
    now: number
  ) {
    this.node = nodeSubject(runtime.node)
    this.lastSweep = now
    this.delay = monitorEventLoopDelay({ resolution: 10 })
    this.delay.enable()
  }

  /** Counts a restart by the supervisor `supervisor` (from a `ChildRestarted` event). */
  countRestart(supervisor: Pid.Pid): void {
    const key = String(supervisor)
    this.restarts.set(key, (this.restarts.get(key) ?? 0) + 1)
  }

  /** Whether a pid names a live process of this node (samples of anything else are dropped). */
  isLive(pid: Pid.Pid): boolean {
    return this.runtime.lookup(pid) !== undefined
  }

  /** One sweep at monotonic `now` (ms), wall-clock `wall` (ms); returns the transitions it caused. */
  sweep(now: number, wall: number): Array<Transition> {
    const engine = this.engine
    const transitions: Array<Transition> = []
    const elapsed = Math.max(1, now - this.lastSweep)
    this.lastSweep = now
    const push = (transition: Transition | undefined) => {
      if (transition !== undefined) transitions.push(transition)
    }
    const mailboxes = engine.accepts("mailbox_size")
    const latencies = engine.accepts("handler_latency")
    const restarts = engine.accepts("restart_rate")
    if (mailboxes || latencies || restarts) {
      for (const cell of this.runtime.processes()) {
        if (!cell.alive) continue
        let subject: Subject | undefined
        const subjectOf = () => (subject ??= processSubject(cell.pid))
        if (mailboxes) push(engine.record("mailbox_size", subjectOf(), cell.mailbox.size, now, wall))
        if (latencies) {
          const stats = cell.mailbox.stats
          if (stats.samples > (this.latencySeen.get(stats) ?? 0)) {
            this.latencySeen.set(stats, stats.samples)
            push(engine.record("handler_latency", subjectOf(), stats.latencyMs, now, wall))
          }
        }
        if (restarts && isSupervisor(cell)) {
          const count = this.restarts.get(subjectOf().key) ?? 0
          push(engine.record("restart_rate", subjectOf(), (count * 60_000) / elapsed, now, wall))
        }
      }
    }
    this.restarts.clear()
    const delay = this.delay
    if (engine.accepts("event_loop_delay") && delay.count > 0) {
      push(engine.record("event_loop_delay", this.node, delay.percentile(99) / 1e6, now, wall))
    }
    delay.reset()
    transitions.push(...this.forgetExited(wall))
    return transitions
  }

  /** Frees the state of every process subject whose process exited. */
  forgetExited(wall: number): Array<Transition> {
    const gone: Array<string> = []
    for (const subject of this.engine.processSubjects()) {
      if (subject.pid !== undefined && this.runtime.lookup(subject.pid) === undefined) gone.push(subject.key)
    }
    return gone.flatMap((key) => this.engine.forget(key, wall, "exited"))
  }

  /** Delay samples the event-loop monitor holds since the last sweep (tests wait on it). */
  get delaySamples(): number {
    return this.delay.count
  }

  close(): void {
    this.delay.disable()
  }
}

const isSupervisor = (cell: Cell): boolean =>
  cell.behaviour !== undefined && supervisorBehaviours.has(cell.behaviour.name)
