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
 * `HEALTH_PORT`. SIGTERM or SIGINT stops the node gracefully, in `Node.runMain`'s phases (exit 0); an invalid
 * configuration is reported with every bad variable named, and exit code 1.
 *
 * @since 0.1.0
 */
import * as Node from "../Layers/Node.ts"
import * as DemoApp from "./internal/app.ts"

// The node serves the Observer (and its cluster-wide system process) and the AlertManager itself.
Node.runMain(DemoApp.layer, { behaviours: DemoApp.behaviours, serviceName: "effect-otp-demo" })
