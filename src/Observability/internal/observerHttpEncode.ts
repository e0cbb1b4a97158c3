/**
 * JSON text of the Observer's documents for the HTTP routes, encoded in slices: a snapshot's
 * process list (the only part that grows with the node) is encoded and stringified
 * {@link SLICE} processes at a time, with `Effect.yieldNow` between slices, so that a large answer
 * never blocks the event loop for long (other requests, heartbeats and processes run in
 * between). The text is what `Schema.encode` then `JSON.stringify` would give for the whole.
 *
 * @internal
 */
import { Effect, Schema } from "effect"
import * as Observer from "../Observer.ts"
import * as ObserverCluster from "../ObserverCluster.ts"

const unchecked = { disableChecks: true } as const

/** How many processes are encoded between two yields (about 10 ms of work). */
export const SLICE = 500

const encodeInfos = Schema.encodeSync(Schema.Array(Observer.ProcessInfo))

/** `items` as the JSON text of an array, encoded by slices with a yield between them. */
export const infosText = (items: ReadonlyArray<Observer.ProcessInfo>): Effect.Effect<string> =>
  Effect.gen(function* () {
    const parts: Array<string> = []
    for (let start = 0; start < items.length; start += SLICE) {
      if (start > 0) yield* Effect.yieldNow
      const text = JSON.stringify(encodeInfos(items.slice(start, start + SLICE)))
      parts.push(text.slice(1, -1))
    }
    return `[${parts.join(",")}]`
  })

/**
 * The JSON text of the object `encoded` (already Schema-encoded, plain data) with the values of
 * `raws`, already JSON text, in place of the values `encoded` has at those keys (added at the end
 * for keys it lacks).
 */
export const withRaw = (encoded: Record<string, unknown>, raws: Record<string, string>): string => {
  const fields = Object.keys(encoded).map(
    (name) => `${JSON.stringify(name)}:${name in raws ? raws[name] : JSON.stringify(encoded[name])}`
  )
  for (const name of Object.keys(raws)) if (!(name in encoded)) fields.push(`${JSON.stringify(name)}:${raws[name]}`)
  return `{${fields.join(",")}}`
}

const encodeSnapshot = Schema.encodeSync(Observer.NodeSnapshot)

/** A node snapshot's JSON text (its processes by slices). */
export const snapshotText = (snapshot: Observer.NodeSnapshot): Effect.Effect<string> =>
  Effect.map(infosText(snapshot.processes), (processes) => {
    const head = encodeSnapshot(new Observer.NodeSnapshot({ ...snapshot, processes: [] }, unchecked))
    return withRaw(head as unknown as Record<string, unknown>, { processes })
  })

const encodeClusterSnapshot = Schema.encodeSync(ObserverCluster.ClusterSnapshot)
const encodeClusterTop = Schema.encodeSync(ObserverCluster.ClusterTop)

/** The JSON text of an array of already-encoded entries, with `raw(i)` (JSON text) at `key` where it is given. */
const entriesText = (
  encoded: ReadonlyArray<Record<string, unknown>>,
  key: string,
  raws: ReadonlyArray<string | undefined>
): string =>
  `[${encoded.map((entry, i) => (raws[i] === undefined ? JSON.stringify(entry) : withRaw(entry, { [key]: raws[i]! }))).join(",")}]`

/** A cluster snapshot's JSON text (every node's processes by slices). */
export const clusterSnapshotText = (cluster: ObserverCluster.ClusterSnapshot): Effect.Effect<string> =>
  Effect.gen(function* () {
    const raws: Array<string | undefined> = []
    for (const entry of cluster.nodes)
      raws.push(entry._tag === "Answered" ? yield* snapshotText(entry.snapshot) : undefined)
    const emptied = new ObserverCluster.ClusterSnapshot(
      {
        ...cluster,
        nodes: cluster.nodes.map((entry) =>
          entry._tag === "Answered"
            ? new ObserverCluster.SnapshotAnswer(
                { ...entry, snapshot: new Observer.NodeSnapshot({ ...entry.snapshot, processes: [] }, unchecked) },
                unchecked
              )
            : entry
        )
      },
      unchecked
    )
    const head = encodeClusterSnapshot(emptied) as unknown as Record<string, unknown>
    const nodes = head["nodes"] as ReadonlyArray<Record<string, unknown>>
    return withRaw(head, { nodes: entriesText(nodes, "snapshot", raws) })
  })

/** A cluster top table's JSON text (the merged table and every node's by slices). */
export const clusterTopText = (top: ObserverCluster.ClusterTop): Effect.Effect<string> =>
  Effect.gen(function* () {
    const merged = yield* infosText(top.processes)
    const raws: Array<string | undefined> = []
    for (const entry of top.nodes) raws.push(entry._tag === "Answered" ? yield* infosText(entry.processes) : undefined)
    const emptied = new ObserverCluster.ClusterTop(
      {
        ...top,
        processes: [],
        nodes: top.nodes.map((entry) =>
          entry._tag === "Answered" ? new ObserverCluster.TopAnswer({ ...entry, processes: [] }, unchecked) : entry
        )
      },
      unchecked
    )
    const head = encodeClusterTop(emptied) as unknown as Record<string, unknown>
    const nodes = head["nodes"] as ReadonlyArray<Record<string, unknown>>
    return withRaw(head, { processes: merged, nodes: entriesText(nodes, "processes", raws) })
  })
