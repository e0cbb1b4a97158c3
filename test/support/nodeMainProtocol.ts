/** The protocols of the servers of `nodeMainProcess.ts`, shared with the tests that call them. */
import { Schema } from "effect"
import { Protocol } from "../../src/index.ts"

/** `Pass` is answered only once the opener got `Open`. */
export const Gate = Protocol.make({ Pass: Protocol.call({ success: Schema.String }) })

/** `Open` lets every waiting `Pass` through. */
export const Opener = Protocol.make({ Open: Protocol.cast({}) })
