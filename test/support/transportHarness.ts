/**
 * Helpers for the transport and cluster tests: waiting on events with a deadline, building nodes.
 */
import { Deferred, Effect, Logger, Option, Schedule, Stream } from "effect"
import type { Cause, Scope } from "effect"
import type { Channel } from "../../src/Transport/Channel.ts"
import { Transport } from "../../src/Transport/Transport.ts"
import type { LinkEvent } from "../../src/Transport/Transport.ts"
import * as TcpTransport from "../../src/Transport/TcpTransport.ts"
import type { Security } from "../../src/Transport/Security.ts"
import type { TransportTuning } from "../../src/Transport/TransportOptions.ts"

/** Waits for the first element of `stream` matching `predicate`, failing after `ms`. */
export const awaitFirst = <A, E>(stream: Stream.Stream<A, E>, predicate: (a: A) => boolean, ms = 5000) =>
  stream.pipe(
    Stream.filter(predicate),
    Stream.runHead,
    Effect.flatMap((head) => (Option.isSome(head) ? Effect.succeed(head.value) : Effect.die("stream ended"))),
    Effect.timeout(ms)
  )

/**
 * Polls `effect` (every 5 ms) until `predicate` holds, failing after `ms`: for state that has no
 * event to wait on (stats, counters).
 */
export const eventually = <A, E>(effect: Effect.Effect<A, E>, predicate: (a: A) => boolean, ms = 10_000) =>
  effect.pipe(Effect.repeat({ until: predicate, schedule: Schedule.spaced("5 millis") }), Effect.timeout(ms))

/** A secure TCP transport on a free loopback port, living in the current scope. */
export const tcpNode = (
  name: string,
  security: Security = { secret: "test-secret" },
  tuning: TransportTuning = {}
): Effect.Effect<Transport["Service"], unknown, Scope.Scope> =>
  TcpTransport.make({ name, host: "127.0.0.1", port: 0, security, handshakeTimeout: 1000, ...tuning })

/** Subscribes to a node's link events now; returns a function awaiting the next matching one. */
export const linkEvents = Effect.fnUntraced(function* (transport: Transport["Service"]) {
  const events = yield* transport.subscribe
  return (predicate: (event: LinkEvent) => boolean, ms = 5000) => awaitFirst(events, predicate, ms)
})

export const isUp = (name: string) => (event: LinkEvent) => event._tag === "LinkUp" && event.node.name === name
export const isDown = (name: string) => (event: LinkEvent) => event._tag === "LinkDown" && event.node.name === name

export { Transport }

/** Captures log lines so tests can assert that a refusal was logged. */
export class LogCapture {
  readonly lines: Array<string> = []
  private waiters: Array<{ pattern: RegExp; wake: (line: string) => void }> = []
  readonly logger = Logger.make((options) => {
    const message = Array.isArray(options.message) ? options.message.join(" ") : String(options.message)
    const line = `${options.logLevel}: ${message}`
    this.lines.push(line)
    // Update the list before waking: a woken waiter may register a new one synchronously.
    const woken = this.waiters.filter((waiter) => waiter.pattern.test(line))
    this.waiters = this.waiters.filter((waiter) => !woken.includes(waiter))
    for (const waiter of woken) waiter.wake(line)
  })
  readonly layer = Logger.layer([this.logger])

  /** Waits (up to `ms`) for a line matching `pattern`, including lines already logged. */
  awaitLine(pattern: RegExp, ms = 5000): Effect.Effect<string, Cause.TimeoutError> {
    return Effect.callback<string>((resume) => {
      const found = this.lines.find((line) => pattern.test(line))
      if (found !== undefined) return resume(Effect.succeed(found))
      const waiter = { pattern, wake: (line: string) => resume(Effect.succeed(line)) }
      this.waiters.push(waiter)
      return Effect.sync(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
      })
    }).pipe(Effect.timeout(ms))
  }
}

/** Registers a handler collecting `count` frames of a channel; the returned effect awaits them. */
export const collect = Effect.fnUntraced(function* <A>(
  transport: Transport["Service"],
  channel: Channel<A>,
  count: number,
  ms = 5000
) {
  const received: Array<A> = []
  const done = yield* Deferred.make<ReadonlyArray<A>>()
  yield* transport.register(channel, (message) => {
    received.push(message)
    if (received.length === count) Deferred.doneUnsafe(done, Effect.succeed(received))
  })
  return Effect.timeout(Deferred.await(done), ms)
})
