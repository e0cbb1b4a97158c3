/**
 * An in-memory network for deterministic multi-node tests, with fault injection.
 *
 * Nodes built with `MemoryTransport.layer(network, ...)` on the same network reach each other by
 * name (address `{ host: name, port: 0 }`). Frames go through the real codec and link engine; the
 * network only decides when, whether and how often each frame is delivered:
 *
 * - `partition(a, b)`: frames and closes between a and b are silently lost (links stay "up" until a
 *   failure detector cuts them), new connections are refused; `heal(a, b)` ends it.
 * - `stall(from, to)`: frames are held (and count as buffered bytes on the sender) until `heal`.
 * - `faults(from, to, { drop, duplicate, delay })`: drop or duplicate each frame with the given
 *   probability, delay delivery. Randomness comes from a seeded generator, so a run is repeatable.
 *
 * The network runs on the event loop's real time (`setImmediate`, and `setTimeout` for delays): it
 * is made outside any Effect, so `TestClock` drives the nodes' timers but not the network itself.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { toMillis } from "../internal/timers.ts"
import type { Conn, ConnHandlers } from "./internal/conn.ts"
import { joined, type Segments } from "./internal/largeBinaries.ts"
import { noHandlers } from "./internal/conn.ts"
import { isOutOfBand, type OutOfBand } from "./internal/outOfBand.ts"

/**
 * Per-direction fault settings of a {@link MemoryNetwork}.
 *
 * @example
 * ```ts
 * import type { MemoryNetwork } from "effect-otp"
 *
 * const lossy: MemoryNetwork.Faults = { drop: 0.1, duplicate: 0.05, delay: "5 millis" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Faults {
  /** Probability in [0, 1] that a frame is dropped. */
  readonly drop?: number | undefined
  /** Probability in [0, 1] that a frame is delivered twice. */
  readonly duplicate?: number | undefined
  /** Delay before delivery (a number is milliseconds). */
  readonly delay?: Duration.Input | undefined
}

type Accept = (conn: Conn) => void

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`)

/**
 * A simulated network. Create one per test with `MemoryNetwork.make()`.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "effect-otp"
 *
 * const network = MemoryNetwork.make({ seed: 42 })
 * network.partition("a", "b")
 * network.heal("a", "b")
 * network.faults("a", "b", { drop: 0.2 })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class MemoryNetwork {
  private readonly listeners = new Map<string, Accept>()
  private readonly partitions = new Set<string>()
  private readonly stalls = new Map<string, Array<() => void>>()
  private readonly directionFaults = new Map<string, Faults>()
  private readonly random: () => number

  constructor(seed: number) {
    this.random = mulberry32(seed)
  }

  /** Cuts a and b apart: frames between them are lost, dials refused. */
  partition(a: string, b: string): void {
    this.partitions.add(pairKey(a, b))
  }

  /** Holds frames from `from` to `to` until `heal`. */
  stall(from: string, to: string): void {
    if (!this.stalls.has(`${from}->${to}`)) this.stalls.set(`${from}->${to}`, [])
  }

  /** Ends partitions and stalls between a and b (releasing held frames in order). */
  heal(a: string, b: string): void {
    this.partitions.delete(pairKey(a, b))
    for (const key of [`${a}->${b}`, `${b}->${a}`]) {
      const held = this.stalls.get(key)
      this.stalls.delete(key)
      for (const deliver of held ?? []) deliver()
    }
  }

  /** Sets the faults of frames from `from` to `to` (replacing earlier settings). */
  faults(from: string, to: string, faults: Faults): void {
    this.directionFaults.set(`${from}->${to}`, faults)
  }

  /** @internal */
  listen(name: string, accept: Accept): () => void {
    if (this.listeners.has(name)) throw new Error(`memory network: name "${name}" is already listening`)
    this.listeners.set(name, accept)
    return () => {
      if (this.listeners.get(name) === accept) this.listeners.delete(name)
    }
  }

  /** @internal */
  dial(from: string, to: string): Conn | string {
    const accept = this.listeners.get(to)
    if (accept === undefined) return "connection refused"
    if (this.partitions.has(pairKey(from, to))) return "connection timed out (partitioned)"
    const client = new MemoryConn(this, from, to)
    const server = new MemoryConn(this, to, from)
    client.peer = server
    server.peer = client
    accept(server)
    return client
  }

  /** @internal Whether events between a and b are held, in either direction. */
  stalledBetween(a: string, b: string): boolean {
    return this.stalls.has(`${a}->${b}`) || this.stalls.has(`${b}->${a}`)
  }

  /**
   * @internal Moves one event (a frame or a close) from `from` to `to`, applying the faults.
   * `event(true)` delivers it; `event(false)` tells the sender it is lost.
   */
  transmit(from: string, to: string, event: (deliver: boolean) => void, isFrame: boolean): void {
    if (this.partitions.has(pairKey(from, to))) return event(false)
    const held = this.stalls.get(`${from}->${to}`)
    if (held !== undefined) {
      held.push(() => event(true))
      return
    }
    const faults = this.directionFaults.get(`${from}->${to}`)
    let copies = 1
    if (isFrame && faults !== undefined) {
      if (faults.drop !== undefined && this.random() < faults.drop) copies = 0
      else if (faults.duplicate !== undefined && this.random() < faults.duplicate) copies = 2
    }
    if (copies === 0) return event(false)
    const delay = faults?.delay === undefined ? 0 : toMillis(faults.delay)
    for (let i = 0; i < copies; i++) {
      if (delay > 0) setTimeout(event, delay, true)
      else setImmediate(event, true)
    }
  }
}

/** One end of an in-memory connection. */
class MemoryConn implements Conn {
  handlers: ConnHandlers = noHandlers
  peer: MemoryConn | undefined
  readonly remote: string
  private inFlight = 0
  private closed = false
  /**
   * Ended by this side (`end`): writes stop, but what the peer sent before it learns of the end is
   * still delivered, as on a half-closed TCP socket, until the peer closes its side in turn.
   */
  private ending = false
  private drainCallbacks: Array<() => void> = []
  private drainBelow = 0

  constructor(
    private readonly network: MemoryNetwork,
    private readonly local: string,
    private readonly remoteName: string
  ) {
    this.remote = `memory:${remoteName}`
  }

  write(body: Uint8Array): void {
    if (this.closed || this.ending) return
    const peer = this.peer!
    this.inFlight += body.length
    let counted = true
    this.network.transmit(
      this.local,
      this.remoteName,
      (deliver) => {
        if (counted) {
          counted = false
          this.inFlight -= body.length
          if (this.drainCallbacks.length > 0 && this.inFlight <= this.drainBelow) this.drained()
        }
        if (deliver && !peer.closed) peer.handlers.onFrame(body)
      },
      true
    )
  }

  /** Bodies travel whole in memory: nothing blocks a byte stream behind them. */
  fragmentThreshold(): number | undefined {
    return undefined
  }

  /** Bodies travel whole: never with out-of-band values. */
  outOfBand(): boolean {
    return false
  }

  writeFragmented(body: Uint8Array | Segments | OutOfBand, sent: (ok: boolean) => void): void {
    // The engine sends out-of-band values only where `outOfBand()` says so.
    if (isOutOfBand(body)) throw new Error("a memory connection takes no out-of-band values")
    const open = !this.closed && !this.ending
    this.write(joined(body))
    sent(open)
  }

  opened(): void {}

  fragmentedBytes(): number {
    return 0
  }

  private drained(): void {
    const callbacks = this.drainCallbacks
    this.drainCallbacks = []
    for (const callback of callbacks) callback()
  }

  bufferedBytes(): number {
    return this.inFlight
  }

  onDrain(belowBytes: number, callback: () => void): void {
    this.drainBelow = this.drainCallbacks.length === 0 ? belowBytes : Math.min(this.drainBelow, belowBytes)
    this.drainCallbacks.push(callback)
  }

  /**
   * Stops writing and tells the peer, which closes its side in turn (Node's sockets do not allow
   * half-open connections); frames the peer wrote before that still arrive here. If the end is
   * lost (a partition) or held (a stall), this side closes at once, as it did before.
   */
  end(): void {
    if (this.closed || this.ending) return
    if (this.network.stalledBetween(this.local, this.remoteName)) return this.close("connection closed by peer")
    this.ending = true
    const peer = this.peer!
    this.network.transmit(
      this.local,
      this.remoteName,
      (deliver) => (deliver ? peer.close("connection closed by peer") : this.close("connection closed")),
      false
    )
  }

  destroy(): void {
    this.close("connection reset by peer")
  }

  private close(detail: string): void {
    if (this.closed) return
    this.closed = true
    const peer = this.peer!
    setImmediate(() => {
      this.drained()
      this.handlers.onClose("connection closed")
    })
    // A peer that ended its side waits for this close: it closes even if the close is lost.
    this.network.transmit(
      this.local,
      this.remoteName,
      (deliver) => {
        if (deliver || peer.ending) peer.close(detail)
      },
      false
    )
  }
}

/**
 * Makes a network. `seed` (default 1) drives the drop and duplicate decisions, so a run is
 * repeatable.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, MemoryTransport } from "effect-otp"
 *
 * const network = MemoryNetwork.make({ seed: 3 })
 * const NodeA = MemoryTransport.layer(network, { name: "a" })
 * const NodeB = MemoryTransport.layer(network, { name: "b" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: { readonly seed?: number } = {}): MemoryNetwork => new MemoryNetwork(options.seed ?? 1)
