/**
 * A distributed node in its own OS process that exports its traces over OTLP, configured only by
 * the standard OTEL_* variables its parent sets.
 *
 * Usage: tracedNodeProcess.ts <name>
 * Runs `Distribution.layer` on 127.0.0.1 (an ephemeral port) over `Tracing.layerOtlp`, starts the
 * `echo` server registered as "echo", then prints `EVENT {"_tag":"Ready","port":..}`. Leaves on
 * SIGTERM or when its stdin closes: the layers close, which flushes the spans, then it exits.
 */
import { Effect, Layer } from "effect"
import * as Cluster from "../../src/Cluster/Cluster.ts"
import * as Distribution from "../../src/Cluster/Distribution.ts"
import { GenServer, Tracing } from "../../src/index.ts"
import { fast } from "./clusterHarness.ts"
import { echo, tracingSecret } from "./tracingHarness.ts"
import { printEvent, runChildMain } from "./childMain.ts"

const [name = "traced@127.0.0.1"] = process.argv.slice(2)

const print = printEvent

const node = Distribution.layer({ nodeName: name, host: "127.0.0.1", port: 0, secret: tracingSecret, ...fast }).pipe(
  Layer.provideMerge(Tracing.layerOtlp({ nodeName: name, serviceVersion: "9.9.9" }))
)

const program = Effect.gen(function* () {
  const cluster = yield* Cluster.Cluster
  yield* GenServer.start(echo, undefined, { name: "echo" })
  print({ _tag: "Ready", port: cluster.transport.address.port, incarnation: cluster.local.incarnation })
  return yield* Effect.never
}).pipe(Effect.provide(node))

runChildMain(`tracedNodeProcess ${name}`, program)
