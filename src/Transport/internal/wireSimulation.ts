/**
 * A test-only switch that makes a node behave as one of a newer release on the wire: it announces
 * another range of protocol versions, and adds fields it does not define to every frame it sends
 * (an extra key in every map, an extra element at the end of every array: control frames, data
 * frames and the top level of their payloads). Nothing public reads it; tests provide it to the
 * fiber that builds a transport (`Effect.provideService(WireSimulation, {...})`).
 *
 * @internal
 */
import { Context } from "effect"
import type { VersionRange } from "../Frame.ts"

/** How a simulated newer node differs on the wire. */
export interface Simulation {
  /** The range of versions it announces (default: this release's). */
  readonly versions?: VersionRange | undefined
  /** Adds an unknown field to every frame it sends. */
  readonly extraFields?: boolean | undefined
  /**
   * Behaves as a node of the release before out-of-band values: it does not announce `outOfBand`
   * (its peers send it large messages as plain MessagePack fragments) and ignores a peer's
   * announcement (it sends them so too).
   */
  readonly withoutOutOfBand?: boolean | undefined
}

/** The simulation in effect for the transports built by this fiber (none by default). */
export const WireSimulation = Context.Reference<Simulation | undefined>("effect-otp/internal/WireSimulation", {
  defaultValue: () => undefined
})

/** What a simulated newer node adds to its frames. */
export const extraField = { fromTheFuture: "a field this release does not know" } as const

/** `value` with an unknown field added: an extra key in a map, an extra last element in an array. */
export const withExtraField = (value: unknown): unknown => {
  if (Array.isArray(value)) return [...value, extraField]
  if (typeof value === "object" && value !== null && !(value instanceof Uint8Array)) return { ...value, ...extraField }
  return value
}
