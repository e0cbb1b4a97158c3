/**
 * Shared by the remote benchmark and its peer process: the protocol of the echo server, the
 * cluster secret, and the peer's node name.
 */
import { Schema } from "effect"
import { Protocol } from "../../src/index.ts"

export const secret = "bench-secret"
export const peerNode = "bench-server"

export const Echo = Protocol.make({
  Ping: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number }),
  Count: Protocol.call({ success: Schema.Number }),
  Bump: Protocol.cast()
})
