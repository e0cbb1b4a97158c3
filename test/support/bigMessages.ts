/**
 * Shared by the big-message tests and their child node (`bigMessageNodeProcess.ts`): a server that
 * echoes large payloads and answers small pings, and a probe of small-call latency and event-loop
 * blocking on one node.
 */
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { Effect, Schema } from "effect"
import { GenServer, Protocol, RemoteName } from "../../src/index.ts"

export const Stats = Schema.Struct({
  /** Worst event-loop delay since the last reset, in milliseconds. */
  maxEventLoopDelayMs: Schema.Number,
  /**
   * The most main-thread CPU time spent between two ticks of a 5 ms timer since the last reset, in
   * milliseconds: the longest block of the event loop by work done, without the time the OS gave
   * other processes (on a loaded machine the wall-clock delay is several times larger).
   */
  maxBlockCpuMs: Schema.Number,
  /** Longest garbage-collection pause since the last reset, in milliseconds. */
  maxGcPauseMs: Schema.Number,
  /** Worst latency of the small calls this node made to its peer since the last reset. */
  maxSmallCallMs: Schema.Number,
  smallCalls: Schema.Number,
  smallCallFailures: Schema.Array(Schema.String),
  nodeDowns: Schema.Number
})
export type Stats = typeof Stats.Type

export const Big = Protocol.make({
  Echo: Protocol.call({ payload: { data: Schema.Uint8Array }, success: Schema.Uint8Array }),
  EchoText: Protocol.call({ payload: { text: Schema.String }, success: Schema.String }),
  /** Answers the payload's size (a small reply to a large request). */
  Size: Protocol.call({ payload: { data: Schema.Uint8Array }, success: Schema.Number }),
  Store: Protocol.cast({ payload: { data: Schema.Uint8Array } }),
  Ping: Protocol.call({ success: Schema.Number }),
  /** Resets this node's probe. */
  Reset: Protocol.call({ success: Schema.Void }),
  Stats: Protocol.call({ success: Stats }),
  /** Makes this node call its peer's server with `Size` on `bytes` bytes; answers the outcome's tag. */
  SendBig: Protocol.call({ payload: { bytes: Schema.Number }, success: Schema.String })
})

/** CPU time of this thread (the event loop's) in microseconds. */
const threadCpuMicros = (): number => {
  const usage = process.threadCpuUsage()
  return usage.user + usage.system
}

/** Small-call latency and event-loop blocking on this node, and the NodeDowns it saw. */
export class Probe {
  private readonly delay = monitorEventLoopDelay({ resolution: 5 })
  maxGcPauseMs = 0
  maxBlockCpuMs = 0
  maxSmallCallMs = 0
  smallCalls = 0
  smallCallFailures: Array<string> = []
  nodeDowns = 0

  constructor() {
    this.delay.enable()
    const gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.maxGcPauseMs = Math.max(this.maxGcPauseMs, entry.duration)
    })
    gc.observe({ entryTypes: ["gc"] })
    // The observer must not keep a finished test's process alive.
    ;(gc as unknown as { unref?: () => void }).unref?.()
    let lastCpu = threadCpuMicros()
    setInterval(() => {
      const cpu = threadCpuMicros()
      this.maxBlockCpuMs = Math.max(this.maxBlockCpuMs, (cpu - lastCpu) / 1000)
      lastCpu = cpu
    }, 5).unref()
  }

  reset(): void {
    this.delay.reset()
    this.maxGcPauseMs = 0
    this.maxBlockCpuMs = 0
    this.maxSmallCallMs = 0
    this.smallCalls = 0
    this.smallCallFailures = []
  }

  stats(): Stats {
    return {
      maxEventLoopDelayMs: this.delay.max / 1e6,
      maxGcPauseMs: this.maxGcPauseMs,
      maxBlockCpuMs: this.maxBlockCpuMs,
      maxSmallCallMs: this.maxSmallCallMs,
      smallCalls: this.smallCalls,
      smallCallFailures: this.smallCallFailures.slice(0, 5),
      nodeDowns: this.nodeDowns
    }
  }

  /** Calls the peer's server with a small `Ping` every `everyMs`, forever, recording latencies. */
  pingLoop(peer: string, everyMs = 20) {
    const server = RemoteName.make("ping", peer, Big)
    const probe = this
    return Effect.forever(
      Effect.gen(function* () {
        const started = performance.now()
        const exit = yield* Effect.exit(GenServer.call(server, Big.Ping(), { timeout: 10_000 }))
        const took = performance.now() - started
        probe.smallCalls++
        probe.maxSmallCallMs = Math.max(probe.maxSmallCallMs, took)
        if (exit._tag === "Failure") probe.smallCallFailures.push(String(exit.cause))
        yield* Effect.sleep(everyMs)
      })
    )
  }
}

/**
 * The server every node of these tests runs twice: as "big" (large payloads) and as "ping" (the
 * probe's small calls, so that they never queue behind a large request in the same mailbox).
 */
export const bigServer = (probe: Probe, peer: string) =>
  GenServer.behaviour(Big)({
    init: () => Effect.succeed(0),
    handleCall: {
      Echo: ({ data }, n) => Effect.succeed(GenServer.reply(data, n + 1)),
      EchoText: ({ text }, n) => Effect.succeed(GenServer.reply(text, n + 1)),
      Size: ({ data }, n) => Effect.succeed(GenServer.reply(data.length, n + 1)),
      Ping: (_, n) => Effect.succeed(GenServer.reply(n, n)),
      Reset: (_, n) => Effect.sync(() => (probe.reset(), GenServer.reply(undefined, n))),
      Stats: (_, n) => Effect.sync(() => GenServer.reply(probe.stats(), n)),
      SendBig: ({ bytes }, n) =>
        Effect.map(
          Effect.exit(
            GenServer.call(RemoteName.make("big", peer, Big), Big.Size({ data: new Uint8Array(bytes) }), {
              timeout: 60_000
            })
          ),
          (exit) => GenServer.reply(exit._tag === "Success" ? `ok ${exit.value}` : errorTag(exit.cause), n)
        )
    },
    handleCast: {
      Store: (_, n) => Effect.succeed(GenServer.noReply(n + 1))
    }
  })

const errorTag = (cause: unknown): string => {
  const failure = (cause as { reasons?: ReadonlyArray<{ _tag: string; error?: { _tag?: string } }> }).reasons?.find(
    (reason) => reason._tag === "Fail"
  )
  return failure?.error?._tag ?? "defect"
}
