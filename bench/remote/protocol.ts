/**
 * Shared by the remote benchmark and its peer process: the protocol of the echo server, the
 * cluster secret, and the peer's node name.
 */
import { Duration, Schema } from "effect"
import { Protocol } from "../../src/index.ts"

export const secret = "bench-secret"

/**
 * The transport tuning of both nodes: `BENCH_BUSY_POLL_MICROS` overrides the default busy-poll
 * window (0 turns it off), to measure what it buys and costs.
 */
export const transport: { readonly busyPollWindow?: Duration.Duration } =
  process.env.BENCH_BUSY_POLL_MICROS === undefined
    ? {}
    : { busyPollWindow: Duration.micros(BigInt(process.env.BENCH_BUSY_POLL_MICROS)) }
export const peerNode = "bench-server"

export const Echo = Protocol.make({
  Ping: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
  Count: Protocol.call({ success: Schema.Number }),
  Bump: Protocol.cast()
})
