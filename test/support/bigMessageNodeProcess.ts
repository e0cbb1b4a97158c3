/**
 * A distributed node in its own OS process for the big-message tests.
 *
 * Usage: bigMessageNodeProcess.ts <name> <seed> <peer name> <maxFrameBytes>
 * Runs `Distribution.layer` on 127.0.0.1 (heartbeats every 1000 ms, down after 3 missed) with the
 * given frame limit, starts the "big" server of `bigMessages.ts`, calls the peer's "ping" server
 * with a small `Ping` every 20 ms once the peer is up, counts NodeDown events, and prints
 * `EVENT {"_tag":"Ready","port":..}` on stdout. Exits when its stdin closes.
 */
import { Effect, Stream } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer } from "../../src/index.ts"
import { bigServer, Probe } from "./bigMessages.ts"
import { printEvent, runChildMain } from "./childMain.ts"

const [name = "node", seed = "", peer = "", maxFrameBytes = "8388608"] = process.argv.slice(2)

const print = printEvent

const probe = new Probe()

const node = Distribution.layer({
  nodeName: name,
  host: "127.0.0.1",
  port: 0,
  seeds: [seed],
  secret: "big-test",
  heartbeatInterval: 1000,
  heartbeatMissThreshold: 3,
  reconnectBaseDelay: 50,
  reconnectMaxDelay: 400,
  transport: { maxFrameBytes: Number(maxFrameBytes) }
})

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  yield* GenServer.start(bigServer(probe, peer), undefined, { name: "big" })
  yield* GenServer.start(bigServer(probe, peer), undefined, { name: "ping" })
  const events = yield* cluster.subscribe
  yield* Effect.forkChild(
    Stream.runForEach(events, (event) =>
      Effect.sync(() => {
        if (event._tag === "NodeDown") {
          probe.nodeDowns++
          process.stderr.write(`NodeDown seen by ${name}: ${JSON.stringify(event)}\n`)
        }
      })
    )
  )
  yield* Effect.forkChild(probe.pingLoop(peer))
  print({ _tag: "Ready", port: cluster.transport.address.port })
  return yield* Effect.never
}).pipe(Effect.provide(node))

runChildMain(`bigMessageNodeProcess ${name}`, program)
