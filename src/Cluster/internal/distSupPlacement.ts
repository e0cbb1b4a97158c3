/**
 * Where a distributed supervisor places a child: the candidate nodes (this node and the nodes up),
 * and the selectors that pick one of them.
 *
 * @internal
 */

/** A node a child may be placed on. */
export interface Candidate {
  readonly node: string
  /** Processes running there: exact for this node, from the last heartbeat for the others. */
  readonly processCount: number
  readonly local: boolean
}

/** How a node is chosen: a named strategy, or a function of the candidates and the child's id. */
export type Selector =
  | "local_first"
  | "round_robin"
  | "least_loaded"
  | "random"
  | ((candidates: ReadonlyArray<Candidate>, childId: string) => string | undefined)

/** The state a selector keeps between placements (the round-robin position) and its randomness. */
export interface PlacementState {
  next: number
  readonly random: (bound: number) => number
}

const leastLoaded = (candidates: ReadonlyArray<Candidate>): Candidate | undefined => {
  let best: Candidate | undefined
  for (const candidate of candidates) {
    if (best === undefined || candidate.processCount < best.processCount) best = candidate
  }
  return best
}

/** The node `selector` picks among `candidates` (sorted by name), or undefined when there is none. */
export const select = (
  selector: Selector,
  candidates: ReadonlyArray<Candidate>,
  childId: string,
  state: PlacementState
): string | undefined => {
  if (candidates.length === 0) return undefined
  if (typeof selector === "function") {
    const chosen = selector(candidates, childId)
    return candidates.some((candidate) => candidate.node === chosen) ? chosen : undefined
  }
  switch (selector) {
    case "local_first":
      return (candidates.find((candidate) => candidate.local) ?? leastLoaded(candidates))?.node
    case "round_robin": {
      const chosen = candidates[state.next % candidates.length]!
      state.next++
      return chosen.node
    }
    case "least_loaded":
      return leastLoaded(candidates)?.node
    case "random":
      return candidates[state.random(candidates.length)]!.node
  }
}
