/**
 * One node of the demo application, configured only by environment variables: the node's own
 * (`NODE_NAME`, `CLUSTER_PORT`, `CLUSTER_SEEDS`, `CLUSTER_SECRET`, `HEALTH_PORT`, ...: the table of
 * `NodeConfig.variables`) and the demo's (`DEMO_ROLE`, `DEMO_JOB_INTERVAL_MS`, `DEMO_WORK_MS`,
 * `DEMO_CALL_TIMEOUT_MS`). This is what the Docker image, the compose file, the StatefulSet and
 * `npm start` run (built to `dist/demo/node.js`).
 *
 * The node runs a supervised job queue: the dispatcher (the node whose name ends in `-0` unless
 * `DEMO_ROLE` says otherwise) keeps the queue and spawns a worker on every other node that joins,
 * feeding it jobs through typed remote calls; when a worker's node goes down, its job goes back to
 * the queue and the others take it. `/health`, `/ready`, `/metrics` and `/observer` are served on
 * `HEALTH_PORT`. SIGTERM or SIGINT stops the node gracefully (exit 0); an invalid configuration is
 * reported with every bad variable named, and exit code 1.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Config, Effect, Exit, Layer, Runtime } from "effect"
import * as Distribution from "../Cluster/Distribution.ts"
import * as NodeConfig from "../Layers/NodeConfig.ts"
import * as Health from "../Observability/Health.ts"
import * as HttpEndpoint from "../Observability/HttpEndpoint.ts"
import * as Logging from "../Observability/Logging.ts"
import * as Metrics from "../Observability/Metrics.ts"
import * as Observer from "../Observability/Observer.ts"
import * as ObserverCluster from "../Observability/ObserverCluster.ts"
import * as ObserverHttp from "../Observability/ObserverHttp.ts"
import * as Tracing from "../Observability/Tracing.ts"
import * as DemoApp from "./internal/app.ts"

const main = Effect.gen(function* () {
  const config = yield* NodeConfig.load
  const node = Distribution.layer(config.cluster, { behaviours: DemoApp.behaviours })
  const endpoint = HttpEndpoint.layer(config.health)
  const observer = ObserverHttp.layer().pipe(
    Layer.provideMerge(ObserverCluster.layer()),
    Layer.provideMerge(Observer.layer)
  )
  const observability = Layer.mergeAll(
    Health.layer({ seeds: config.cluster.seeds ?? [] }),
    Metrics.layer(),
    Metrics.layerHttp,
    observer
  ).pipe(Layer.provideMerge(endpoint))
  const app = DemoApp.layer.pipe(Layer.provideMerge(observability), Layer.provideMerge(node))
  // Traces are exported only where a collector is named: the demo runs with no external service.
  const otlp = yield* Config.option(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT"))
  const otlpTraces = yield* Config.option(Config.String("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
  const tracing = otlp._tag === "Some" || otlpTraces._tag === "Some" ? Tracing.layerOtlp() : Layer.empty
  return yield* Layer.launch(app.pipe(Layer.provide(tracing)))
}).pipe(Effect.provide(Logging.layer))

// A stop by SIGTERM or SIGINT is a graceful end: exit 0 (runMain's default is 130).
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)

NodeRuntime.runMain(main, { teardown })
