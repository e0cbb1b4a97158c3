/**
 * Channels and settings shared by the transport benchmark and its peer process.
 */
import { Duration, Schema } from "effect"
import * as Channel from "../../src/Transport/Channel.ts"

export const secret = "bench-secret"

/**
 * The busy-poll window of both transports: `BENCH_BUSY_POLL_MICROS` overrides the default (0 turns
 * it off), to measure what it buys and costs.
 */
export const busyPollMicros =
  process.env.BENCH_BUSY_POLL_MICROS === undefined ? undefined : Number(process.env.BENCH_BUSY_POLL_MICROS)
export const busyPollWindow = busyPollMicros === undefined ? undefined : Duration.micros(BigInt(busyPollMicros))
export const Ping = Channel.make("bench.ping", Schema.Uint8Array)
export const Pong = Channel.make("bench.pong", Schema.Uint8Array)
export const Bulk = Channel.make("bench.bulk", Schema.Uint8Array)
export const Flush = Channel.make("bench.flush", Schema.Number)
export const Done = Channel.make("bench.done", Schema.Number)
