/**
 * Floods of unauthenticated connections against a node in its own OS process (issue 15, part 4):
 * the node's memory stays bounded, calls over an established link keep being answered, and the log
 * stays short.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref, Schedule, Schema } from "effect"
import * as Channel from "../../src/Transport/Channel.ts"
import { ChildProgram } from "../support/childNode.ts"
import { tcpNode } from "../support/transportHarness.ts"

const Ping = Channel.make("flood.ping", Schema.Number)
const Pong = Channel.make("flood.pong", Schema.Number)

interface FloodEvent {
  readonly _tag: string
  readonly port?: number
  readonly rss?: number
  readonly heapUsed?: number
  readonly peakRss?: number
  readonly peakHeapUsed?: number
  readonly maxLoopDelayMs?: number
  readonly logLines?: number
  readonly refused?: Record<string, number>
  readonly connected?: number
  readonly closedByPeer?: number
  readonly failed?: number
  readonly maxConnectMs?: number
  readonly elapsedMs?: number
}
type Stats = Required<Pick<FloodEvent, "rss" | "peakRss" | "peakHeapUsed" | "maxLoopDelayMs" | "logLines" | "refused">>

const MiB = 1024 * 1024
/** How much more memory than before an attack the node may hold at the peak of one. */
const memoryBoundBytes = 64 * MiB
/** The worst round trip of a ping over the healthy link during an attack (a loaded 2-core machine). */
const latencyBoundMs = 1000

const totalRefused = (stats: Stats): number => Object.values(stats.refused).reduce((sum, n) => sum + n, 0)

const support = (file: string) => Path.join(import.meta.dirname, "..", "support", file)

/** A child program in the current scope: killed when the scope closes, even on failure. */
const child = (script: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => new ChildProgram<FloodEvent>(support(script), args)),
    (program) => Effect.promise(() => program.stop())
  )

/** Kernel counter of connections dropped because a listen queue was full (all of this machine's loopback). */
const listenOverflows = (): number => {
  const lines = Fs.readFileSync("/proc/net/netstat", "utf8").split("\n")
  const names = lines.find((line) => line.startsWith("TcpExt:"))!.split(" ")
  const values = lines.filter((line) => line.startsWith("TcpExt:"))[1]!.split(" ")
  return Number(values[names.indexOf("ListenOverflows")])
}

describe("TcpTransport under floods of unauthenticated connections", () => {
  it.live(
    "big unfinished frames, 2,000 idle connections and bad handshakes: bounded memory, calls answered, a short log",
    () =>
      Effect.gen(function* () {
        const target = yield* child("floodTargetProcess.ts", [])
        const { port } = yield* target.awaitEvent((event) => event._tag === "Ready", 20000)
        const command = (line: string) => Effect.sync(() => target.process.stdin!.write(`${line}\n`))
        const stats = Effect.gen(function* () {
          const from = target.events.length
          yield* command("stats")
          return (yield* target.awaitEvent((event) => event._tag === "Stats", 5000, from)) as FloodEvent & Stats
        })
        /** Polls the node's stats until `predicate` holds (counters have no event to wait on). */
        const statsUntil = (predicate: (stats: Stats) => boolean, what: string) => {
          let last: Stats | undefined
          return stats.pipe(
            Effect.tap((s) => Effect.sync(() => void (last = s))),
            Effect.repeat({ until: predicate, schedule: Schedule.spaced("50 millis") }),
            Effect.timeout(20000),
            Effect.mapError(() => new Error(`${what}: not reached within 20 s; last stats: ${JSON.stringify(last)}`))
          )
        }
        const resetPeaks = Effect.gen(function* () {
          const from = target.events.length
          yield* command("reset")
          yield* target.awaitEvent((event) => event._tag === "Reset", 5000, from)
          return yield* stats
        })

        // The healthy peer: a node in this process, linked before the floods, pinging throughout.
        const healthy = yield* tcpNode("healthy", { secret: "flood-test" }, { handshakeTimeout: 10_000 })
        const waiting = new Map<number, Deferred.Deferred<void>>()
        yield* healthy.register(Pong, (n) => {
          const deferred = waiting.get(n)
          if (deferred !== undefined) Deferred.doneUnsafe(deferred, Effect.void)
        })
        yield* healthy.connect({ host: "127.0.0.1", port: port! })
        const linkEvents: Array<string> = []
        yield* healthy.onLinkEvent((event) => void linkEvents.push(event._tag))
        let next = 0
        const ping = Effect.gen(function* () {
          const n = next++
          const answered = yield* Deferred.make<void>()
          waiting.set(n, answered)
          const started = performance.now()
          yield* healthy.send("target", Ping, n)
          yield* Deferred.await(answered).pipe(
            Effect.timeout(5000),
            Effect.ensuring(Effect.sync(() => waiting.delete(n)))
          )
          return performance.now() - started
        })
        yield* ping // warm up the link

        /** Runs `attack` while pinging over the healthy link every 5 ms; every ping must be answered. */
        const whilePinging = <A, E>(attack: Effect.Effect<A, E>) =>
          Effect.gen(function* () {
            const latencies = yield* Ref.make<Array<number>>([])
            const pinger = yield* ping.pipe(
              Effect.flatMap((ms) => Ref.update(latencies, (all) => [...all, ms])),
              Effect.andThen(Effect.sleep("5 millis")),
              Effect.forever,
              Effect.forkChild
            )
            const result = yield* attack
            yield* Fiber.interrupt(pinger)
            const all = yield* Ref.get(latencies)
            assert.isAbove(all.length, 0, "pings were answered during the attack")
            return { result, pings: all.length, worstPingMs: Math.max(...all) }
          })

        /**
         * One attacker process: starts and runs until Done, then `meanwhile` runs while its
         * connections are still open; then it is killed (its sockets closed), even on failure.
         */
        const attack = <A = void>(
          kind: string,
          count: number,
          options: { readonly bytes?: number; readonly meanwhile?: Effect.Effect<A, Error> } = {}
        ) =>
          Effect.scoped(
            Effect.gen(function* () {
              const args = [String(port), kind, String(count), String(options.bytes ?? 0)]
              const attacker = yield* child("floodAttackerProcess.ts", args)
              const done = yield* attacker.awaitEvent((event) => event._tag === "Done", 60000, 0, `${kind} attack`)
              const meanwhile = options.meanwhile === undefined ? undefined : yield* options.meanwhile
              return { ...done, meanwhile }
            })
          )

        const report: Record<string, unknown> = {}
        const before = yield* resetPeaks
        report.startRssMB = before.rss / MiB

        // 1. 50 TLS connections (right secret), each sending the header of an 8 MiB frame and 4 MiB of it.
        {
          const start = yield* resetPeaks
          const { result, worstPingMs, pings } = yield* whilePinging(attack("bigframe", 50, { bytes: 4 * MiB }))
          const after = yield* stats
          report.bigFrames = {
            closedByNode: result.closedByPeer,
            allClosedAfterMs: result.elapsedMs,
            refused: after.refused,
            peakRssGrowthMB: (after.peakRss - start.rss) / MiB,
            peakHeapMB: after.peakHeapUsed / MiB,
            maxLoopDelayMs: after.maxLoopDelayMs,
            worstPingMs,
            pings
          }
          assert.strictEqual(result.closedByPeer, 50)
          assert.isBelow(after.peakRss - start.rss, memoryBoundBytes, JSON.stringify(report))
          assert.isBelow(worstPingMs, latencyBoundMs, JSON.stringify(report))
          assert.strictEqual(
            after.refused["oversized"],
            50,
            `each closed on its frame header: ${JSON.stringify(report)}`
          )
        }

        // 2. 2,000 idle TCP connections to the TLS port, opened at once.
        {
          const start = yield* resetPeaks
          const overflowsBefore = listenOverflows()
          const { result, worstPingMs, pings } = yield* whilePinging(
            attack("idle", 2000, {
              meanwhile: statsUntil(
                (s) => (s.refused["too_many_pending"] ?? 0) >= 2000 - 128,
                "the oldest pending connections closed"
              )
            })
          )
          const after = result.meanwhile!
          const idle = {
            connected: result.connected,
            failed: result.failed,
            maxConnectMs: result.maxConnectMs,
            listenOverflowsOnThisMachine: listenOverflows() - overflowsBefore,
            closedAsTooManyPending: after.refused["too_many_pending"],
            peakRssGrowthMB: (after.peakRss - start.rss) / MiB,
            maxLoopDelayMs: after.maxLoopDelayMs,
            worstPingMs,
            pings
          }
          report.idleConnections = idle
          assert.strictEqual(result.connected, 2000, JSON.stringify(report))
          // A connection dropped from a full listen queue waits at least 1 s for its SYN to be sent
          // again. The kernel's counter is machine-wide: nothing else here floods a listener.
          assert.strictEqual(idle.listenOverflowsOnThisMachine, 0, JSON.stringify(report))
          assert.isBelow(after.peakRss - start.rss, memoryBoundBytes, JSON.stringify(report))
          assert.isBelow(worstPingMs, latencyBoundMs, JSON.stringify(report))
        }

        // 3. Bad handshakes: 300 each of a wrong secret, a frame that is no Hello, and plain HTTP.
        {
          const start = yield* resetPeaks
          const { result, worstPingMs, pings } = yield* whilePinging(
            Effect.all([attack("wrongsecret", 300), attack("badhello", 300), attack("nottls", 300)], {
              concurrency: "unbounded"
            })
          )
          // Each is counted once, under its reason (or as too_many_pending if it waited too long).
          const after = yield* statsUntil((s) => totalRefused(s) - totalRefused(start) >= 900, "900 refusals counted")
          report.badHandshakes = {
            closedByNode: result.map((r) => r.closedByPeer),
            refused: after.refused,
            logLinesDuringAttack: after.logLines - start.logLines,
            peakRssGrowthMB: (after.peakRss - start.rss) / MiB,
            maxLoopDelayMs: after.maxLoopDelayMs,
            worstPingMs,
            pings
          }
          assert.deepStrictEqual(
            result.map((r) => r.closedByPeer),
            [300, 300, 300]
          )
          assert.isBelow(after.peakRss - start.rss, memoryBoundBytes, JSON.stringify(report))
          assert.isBelow(worstPingMs, latencyBoundMs, JSON.stringify(report))
        }

        // The log: a few lines per source and reason (here one source, 127.0.0.2), not one per connection.
        const end = yield* stats
        report.logLines = end.logLines
        report.refused = end.refused
        console.log(`flood report: ${JSON.stringify(report)}`)
        assert.isAtMost(end.logLines - before.logLines, 12, JSON.stringify(report))
        assert.deepStrictEqual(linkEvents, [], "the healthy link never went down")
        // The node still accepts a new peer.
        const late = yield* tcpNode("late", { secret: "flood-test" }, { handshakeTimeout: 10_000 })
        assert.strictEqual((yield* late.connect({ host: "127.0.0.1", port: port! })).name, "target")
      }),
    120_000
  )
})
