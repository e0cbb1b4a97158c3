/**
 * A distributed node in its own OS process whose clocks a test reads (and may move, under
 * libfaketime), for the clock-jump and restart tests.
 *
 * Usage: clockNodeProcess.ts <name> <port> <seeds comma-separated> <heartbeatIntervalMs>
 * Runs `Distribution.layer` on 127.0.0.1 with the distribution tests' secret (miss threshold 3), starts the `ClockProbe`
 * server of `clockHarness.ts` registered as "clock", prints
 * `EVENT {"_tag":"Ready","port":..,"node":..,"incarnation":..,"server":{..}}`, then every cluster
 * event as an EVENT line. Log lines go to stderr. Exits when its stdin closes (the parent is gone).
 */
import { Effect } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer } from "../../src/index.ts"
import { ClockProbe } from "./clockHarness.ts"
import { printEvent, runChildMain } from "./childMain.ts"

const [name = "node", port = "0", seeds = "", interval = "200"] = process.argv.slice(2)

const print = printEvent

const clock = GenServer.behaviour(ClockProbe)({
  init: () => Effect.succeed(0),
  handleCall: {
    Now: (_, calls) =>
      Effect.sync(() => GenServer.reply({ wall: Date.now(), monotonic: performance.now() }, calls + 1)),
    Spin: ({ ms }, calls) =>
      Effect.sync(() => {
        const until = performance.now() + ms
        while (performance.now() < until) {
          // busy: the event loop does nothing else meanwhile
        }
        return GenServer.reply(calls + 1, calls + 1)
      })
  }
})

const node = Distribution.layer({
  nodeName: name,
  host: "127.0.0.1",
  port: Number(port),
  seeds: seeds.split(",").filter((seed) => seed.length > 0),
  secret: "dist-test",
  heartbeatInterval: Number(interval),
  heartbeatMissThreshold: 3,
  reconnectBaseDelay: 50,
  reconnectMaxDelay: 400,
  discoveryInterval: 500
})

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  yield* cluster.onEvent(print)
  const server = yield* GenServer.start(clock, undefined, { name: "clock" })
  print({
    _tag: "Ready",
    port: cluster.transport.address.port,
    node: cluster.local.name,
    incarnation: cluster.local.incarnation,
    server: { node: server.node, id: server.id, incarnation: server.incarnation }
  })
  return yield* Effect.never
}).pipe(Effect.provide(node))

runChildMain(`clockNodeProcess ${name}`, program)
