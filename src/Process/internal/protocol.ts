/**
 * Run-time inspection of request values, for the server loop and distribution.
 *
 * @internal
 */
import { type AnyCallRequest, type AnyCastRequest, type AnySpec, CastTypeId, SpecTypeId } from "../Protocol.ts"

/** Whether a message is a cast request built by a protocol. */
export const isCastRequest = (u: unknown): u is AnyCastRequest =>
  typeof u === "object" && u !== null && (u as Record<symbol, unknown>)[CastTypeId] === true

/** The declaration behind a request value. */
export const specOf = (request: AnyCallRequest | AnyCastRequest): AnySpec =>
  (request as unknown as Record<symbol, AnySpec>)[SpecTypeId]!
