/**
 * Helpers for the cluster tests: nodes in the current scope, waiting on membership events, a stub
 * DNS server.
 */
import * as Dgram from "node:dgram"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import type { ClusterConfig } from "../../src/Cluster/ClusterConfig.ts"
import type { ClusterEvent } from "../../src/Cluster/ClusterEvent.ts"
import * as MemoryTransport from "../../src/Transport/MemoryTransport.ts"
import type { MemoryNetwork } from "../../src/Transport/MemoryNetwork.ts"
import { awaitFirst } from "./transportHarness.ts"

/** Fast timings for tests. */
export const fast = {
  heartbeatInterval: 100,
  heartbeatMissThreshold: 3,
  reconnectBaseDelay: 50,
  reconnectMaxDelay: 400,
  discoveryInterval: 500
} as const

/** A TCP cluster node on loopback, living in the current scope. */
export const tcpClusterNode = (config: Partial<ClusterConfig> & { readonly nodeName: string }) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      Cluster.layer({ host: "127.0.0.1", port: 0, secret: "cluster-test", ...fast, ...config })
    )
    return yield* Effect.provideContext(Effect.service(Cluster.Cluster), context)
  })

/** A cluster node on an in-memory network, living in the current scope. */
export const memoryClusterNode = (
  network: MemoryNetwork,
  config: Partial<ClusterConfig> & { readonly nodeName: string }
) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      Cluster.layerOn({ insecure: true, ...fast, ...config }).pipe(
        Layer.provide(
          MemoryTransport.layer(network, { name: config.nodeName, handshakeTimeout: 500, ...config.transport })
        )
      )
    )
    return yield* Effect.provideContext(Effect.service(Cluster.Cluster), context)
  })

type ClusterService = Cluster.Cluster["Service"]

/** Subscribes now; returns a function awaiting the next matching event. */
export const clusterEvents = Effect.fnUntraced(function* (cluster: ClusterService) {
  const events = yield* cluster.subscribe
  return (predicate: (event: ClusterEvent) => boolean, ms = 5000) => awaitFirst(events, predicate, ms)
})

/** Waits until `cluster` sees every node of `names` up (checking current state first). */
export const awaitNodesUp = (cluster: ClusterService, names: ReadonlyArray<string>, ms = 5000) =>
  Effect.scoped(
    Effect.gen(function* () {
      const events = yield* cluster.subscribe
      const missing = new Set(names)
      for (const node of yield* cluster.nodes) missing.delete(node.id)
      if (missing.size === 0) return
      yield* awaitFirst(
        events,
        (event) => {
          if (event._tag === "NodeUp") missing.delete(event.id)
          return missing.size === 0
        },
        ms
      )
    })
  )

export const isNodeUp = (id: string) => (event: ClusterEvent) => event._tag === "NodeUp" && event.id === id
export const isNodeDown = (id: string) => (event: ClusterEvent) => event._tag === "NodeDown" && event.id === id

/**
 * A DNS server on 127.0.0.1 answering every A query with `addresses` (and AAAA with no record),
 * living in the current scope. Returns its port and the names it was asked for.
 */
export const stubDns = (
  addresses: ReadonlyArray<string>
): Effect.Effect<{ port: number; asked: Array<string> }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ port: number; asked: Array<string>; socket: Dgram.Socket }>((resume) => {
      const socket = Dgram.createSocket("udp4")
      const asked: Array<string> = []
      socket.on("message", (query, remote) => {
        let offset = 12
        const labels: Array<string> = []
        while (query[offset]! > 0) {
          labels.push(query.subarray(offset + 1, offset + 1 + query[offset]!).toString())
          offset += query[offset]! + 1
        }
        const questionEnd = offset + 5
        const type = query.readUInt16BE(offset + 1)
        asked.push(`${labels.join(".")}/${type}`)
        const answers = type === 1 ? addresses : []
        const header = Buffer.alloc(12)
        query.copy(header, 0, 0, 2)
        header.writeUInt16BE(0x8180, 2)
        header.writeUInt16BE(1, 4)
        header.writeUInt16BE(answers.length, 6)
        const records = answers.map((address) => {
          const record = Buffer.alloc(16)
          record.writeUInt16BE(0xc00c, 0)
          record.writeUInt16BE(1, 2)
          record.writeUInt16BE(1, 4)
          record.writeUInt32BE(5, 6)
          record.writeUInt16BE(4, 10)
          address.split(".").forEach((part, i) => record.writeUInt8(Number(part), 12 + i))
          return record
        })
        socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...records]), remote.port, remote.address)
      })
      socket.bind(0, "127.0.0.1", () => resume(Effect.succeed({ port: socket.address().port, asked, socket })))
    }),
    ({ socket }) => Effect.sync(() => socket.close())
  )
