/**
 * The deployment files, run: the compose file's three node services, and the StatefulSet's pods 0, 1
 * and 2, as processes of the built entrypoint (the image's CMD in a copy of the image's /app, see
 * `deployImage.ts`), each with exactly the environment the Dockerfile's ENV and the service or pod
 * template declare. What a container runtime would provide differently on one machine is mapped,
 * and nothing else is changed:
 *
 * - each service or pod gets a loopback address of its own (compose: 127.77.0.1-3, pods:
 *   127.78.0.10-12) standing for its container's network namespace: the wildcard bind address
 *   `0.0.0.0` of `CLUSTER_HOST` and `HEALTH_HOST` becomes that address (three processes cannot all
 *   bind 0.0.0.0:4370 on one machine), and the HEALTHCHECK's `127.0.0.1` (the container's own
 *   loopback) too;
 * - compose: service names in host positions (`CLUSTER_ADVERTISE_HOST`, the seeds' hosts, the OTLP
 *   endpoint) become the services' addresses, as compose's DNS would resolve them; the mounted
 *   secret `/run/secrets/cluster_secret` is a temporary file holding a generated secret;
 * - the processes run as the Dockerfile's USER (1000) when the test runs as root, so the
 *   root-owned copy of /app is read-only to them as in the image; either way the test checks that
 *   nothing under it was written (the image runs with a read-only root filesystem);
 * - pods: the downward API fills in the pod's name, namespace and IP; the Secret is a generated
 *   secret; the headless Service's DNS name is answered by a DNS server on loopback (dns2) listing
 *   the pods, and the node is pointed at it with CLUSTER_DNS_SERVERS, the one variable added (in a
 *   cluster the system resolver does this).
 */
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, afterEach, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import type { Container, StatefulSet } from "../support/deployFiles.ts"
import {
  containerPort,
  defaultServices,
  durationSeconds,
  execForm,
  healthcheck,
  instructions,
  kubectl,
  loadCompose,
  loadDockerfile,
  only,
  podEnvironment,
  render,
  serviceEnvironment,
  stageEnv
} from "../support/deployFiles.ts"
import { startHeadlessDns } from "../support/deployDns.ts"
import type { HeadlessDns } from "../support/deployDns.ts"
import type { ImageLayout } from "../support/deployImage.ts"
import {
  buildImageLayout,
  changes,
  containerUser,
  ContainerProcess,
  probeUntil,
  runToEnd,
  snapshot
} from "../support/deployImage.ts"

const dockerfile = loadDockerfile()
const runtime = dockerfile.stages[dockerfile.stages.length - 1]!
const imageEnv = stageEnv(runtime)
const imageCommand = execForm(instructions(runtime, "CMD")[0]!)
const user = containerUser(instructions(runtime, "USER")[0])

/** Variables whose values name hosts (compose's service names are mapped in them). */
const hostVariables = new Set([
  "CLUSTER_ADVERTISE_HOST",
  "CLUSTER_SEEDS",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
])
const bindVariables = new Set(["CLUSTER_HOST", "HEALTH_HOST"])

/** Replaces the host names of `hosts` where they stand as hosts (`name@HOST:port`, `//HOST:port`, `HOST`). */
const mapHosts = (value: string, hosts: ReadonlyMap<string, string>): string =>
  value.replace(/(^|[@,/])([A-Za-z0-9.-]+)(?=$|[:,/])/g, (match, before: string, host: string) =>
    hosts.has(host) ? `${before}${hosts.get(host)}` : match
  )

/** The one-machine form of a container's environment (see the file's header). */
const onLoopback = (
  env: Readonly<Record<string, string>>,
  own: string,
  hosts: ReadonlyMap<string, string>,
  files: ReadonlyMap<string, string>
): Record<string, string> => {
  const result: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    result[name] =
      bindVariables.has(name) && (value === "0.0.0.0" || value === "::")
        ? own
        : hostVariables.has(name)
          ? mapHosts(value, hosts)
          : (files.get(value) ?? value)
  }
  return result
}

/** The peers a node's /health lists. */
const connectedNodes = async (url: string): Promise<Array<string>> => {
  const report = (await (await fetch(url)).json()) as { connectedNodes: Array<{ node: string }> }
  return report.connectedNodes.map((peer) => peer.node).sort()
}

/**
 * Waits until the node's last membership log line about each of `peers` is `node up: <peer>` (the
 * demo logs every change; a link can flap while the mesh forms, a `node down` after a `node up`),
 * then checks that its /health lists exactly `peers`.
 */
const awaitPeers = async (url: string, peers: ReadonlyArray<string>, ms: number, container: ContainerProcess) => {
  const escaped = (text: string) => text.replace(/[.*+?^$()|[\]{}\\]/g, "\\$&")
  // One pattern, tested on the whole output: every peer is up at the same point of the log.
  const up = (name: string) => `(?=[\\s\\S]*node up: ${name} \\((?![\\s\\S]*node down: ${name} \\())`
  await container.waitForLog(new RegExp(`^${peers.map((peer) => up(escaped(peer))).join("")}`), ms)
  const seen = await connectedNodes(url)
  assert.deepStrictEqual(
    seen,
    [...peers].sort(),
    `${container.name} lists ${JSON.stringify(seen)}, not ${JSON.stringify(peers)}\n${container.tail()}`
  )
}

let layout: ImageLayout | undefined
let layoutBefore = new Map<string, string>()
let running: Array<ContainerProcess> = []
let cleanups: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  layout = await buildImageLayout()
}, 300_000)

beforeEach(() => {
  layoutBefore = snapshot(layout!.dir)
})

afterEach(async () => {
  for (const container of running) container.kill()
  await Promise.all(running.map((container) => container.exited))
  running = []
  for (const cleanup of cleanups.reverse()) await cleanup()
  cleanups = []
  assert.deepStrictEqual(changes(layoutBefore, snapshot(layout!.dir)), [], "the containers wrote nothing into /app")
})

afterAll(() => layout?.remove())

const start = (name: string, command: ReadonlyArray<string>, env: Record<string, string>): ContainerProcess => {
  const container = new ContainerProcess(name, layout!, command, env, user)
  running.push(container)
  return container
}

describe("docker-compose.yml, run as processes", () => {
  it("its three node services form a cluster, pass /ready and the image's HEALTHCHECK, and stop gracefully", async () => {
    const compose = loadCompose()
    const services = defaultServices(compose)
    const addresses = new Map(services.map(([name], index) => [name, `127.77.0.${index + 1}`]))
    // The mounted secret: a file outside /app, readable by the container's user (compose mounts it 0444).
    const secrets = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-otp-secrets-"))
    Fs.chmodSync(secrets, 0o755)
    cleanups.push(() => Fs.rmSync(secrets, { recursive: true, force: true }))
    const secretFile = Path.join(secrets, "cluster_secret")
    Fs.writeFileSync(secretFile, randomBytes(32).toString("base64"), { mode: 0o444 })
    const files = new Map([["/run/secrets/cluster_secret", secretFile]])

    const nodes = services.map(([name, service]) => {
      const declared = { ...imageEnv, HOSTNAME: service.hostname ?? name, ...serviceEnvironment(service, {}) }
      const env = onLoopback(declared, addresses.get(name)!, addresses, files)
      const command = service.command === undefined ? imageCommand : [service.command].flat()
      return {
        name,
        env,
        container: start(name, command, env),
        grace: durationSeconds(service.stop_grace_period ?? "10s")
      }
    })
    const url = (node: (typeof nodes)[number], path: string) =>
      `http://${node.env["HEALTH_HOST"]}:${node.env["HEALTH_PORT"]}${path}`

    await Promise.all(nodes.map((node) => probeUntil(url(node, "/ready"), 200, 60_000, node.container)))
    for (const node of nodes) {
      const others = nodes.filter((other) => other !== node).map((other) => other.env["NODE_NAME"]!)
      await awaitPeers(url(node, "/health"), others, 20_000, node.container)
    }

    // The image's HEALTHCHECK, run as Docker runs it inside the seed's container.
    const { command } = healthcheck(runtime)
    const inSeed = command.map((arg) => arg.replaceAll("127.0.0.1", nodes[0]!.env["HEALTH_HOST"]!))
    const healthy = await runToEnd(inSeed, nodes[0]!.env, layout!.dir, 10_000, user)
    assert.strictEqual(healthy.code, 0, healthy.output)

    const stopping = nodes.map(async (node) => {
      const sent = performance.now()
      node.container.process.kill("SIGTERM")
      const exit = await node.container.exited
      return { node, exit, ms: exit.at - sent }
    })
    const stopped = await Promise.all(stopping)
    const unhealthy = await runToEnd(inSeed, nodes[0]!.env, layout!.dir, 10_000, user)
    assert.strictEqual(unhealthy.code, 1, "the HEALTHCHECK fails once the node is gone")
    for (const { exit, ms, node } of stopped) {
      assert.isBelow(ms, node.grace * 1000, `${node.name} stops within its stop_grace_period`)
      assert.strictEqual(exit.code, 0, `${node.name} exits 0 on SIGTERM\n${node.container.tail()}`)
    }
  }, 180_000)
})

describe.skipIf(kubectl === undefined)(
  `the production overlay's StatefulSet, run as processes${kubectl === undefined ? " (skipped: kubectl is not installed)" : ""}`,
  () => {
    it("pods 0, 1 and 2 mesh through the headless Service's DNS name, answer the manifest's probes and scrape annotations, and pod 2 drains on SIGTERM", async () => {
      const objects = render("overlays/production").objects
      const statefulSet = only<StatefulSet>(objects, "StatefulSet")
      const container: Container = statefulSet.spec.template.spec.containers[0]!
      const namespace = statefulSet.metadata.namespace ?? "default"
      const serviceName = `${statefulSet.spec.serviceName}.${namespace}.svc.cluster.local`
      const pods = [0, 1, 2].map((index) => ({
        index,
        name: `${statefulSet.metadata.name}-${index}`,
        ip: `127.78.0.${10 + index}`
      }))
      const dns: HeadlessDns = await startHeadlessDns(
        serviceName,
        pods.map((pod) => pod.ip)
      )
      cleanups.push(() => dns.close())
      const secret = randomBytes(32).toString("base64")
      const secretRef = container.env!.find((entry) => entry.name === "CLUSTER_SECRET")!.valueFrom!.secretKeyRef!

      const started = pods.map((pod) => {
        const declared = {
          ...imageEnv,
          HOSTNAME: pod.name,
          ...podEnvironment(container, {
            name: pod.name,
            namespace,
            podIP: pod.ip,
            secrets: { [secretRef.name]: { [secretRef.key]: secret } }
          })
        }
        const env = { ...onLoopback(declared, pod.ip, new Map(), new Map()), CLUSTER_DNS_SERVERS: dns.server }
        const command =
          container.command === undefined ? imageCommand : [...container.command, ...(container.args ?? [])]
        return { ...pod, env, container: start(pod.name, command, env) }
      })

      // The kubelet's probes, from the manifest: path and port, within the startup probe's budget.
      const probes = [container.startupProbe, container.readinessProbe, container.livenessProbe].filter(
        (probe) => probe?.httpGet !== undefined
      )
      const startupBudgetMs =
        (container.startupProbe?.periodSeconds ?? 10) * (container.startupProbe?.failureThreshold ?? 3) * 1000
      const probeUrl = (pod: (typeof started)[number], httpGet: { path: string; port: number | string }) =>
        `http://${pod.ip}:${containerPort(container, httpGet.port)}${httpGet.path}`
      await Promise.all(
        started.map(async (pod) => {
          for (const probe of probes)
            await probeUntil(probeUrl(pod, probe!.httpGet!), 200, startupBudgetMs, pod.container)
        })
      )
      const health = (pod: (typeof started)[number]) => probeUrl(pod, container.livenessProbe!.httpGet!)
      for (const pod of started) {
        const others = started.filter((other) => other !== pod).map((other) => other.name)
        await awaitPeers(health(pod), others, 20_000, pod.container)
      }
      assert.isTrue(
        dns.queries.some((query) => query.startsWith(serviceName)),
        `the seeds were resolved through DNS: ${dns.queries.join(", ")}`
      )
      // Prometheus scrapes where the pod template's annotations say; the Observer is on the same port.
      const annotations = statefulSet.spec.template.metadata.annotations ?? {}
      for (const pod of started) {
        const metrics = await probeUntil(
          `http://${pod.ip}:${annotations["prometheus.io/port"]}${annotations["prometheus.io/path"]}`,
          200,
          5_000,
          pod.container
        )
        assert.match(metrics, /^effect_otp_/m, `${pod.name} serves Prometheus text`)
        await probeUntil(`http://${pod.ip}:${containerPort(container, "http")}/observer`, 200, 5_000, pod.container)
      }

      // Pod 2 is deleted: it leaves the Service's records and gets SIGTERM.
      const [pod0, pod1, pod2] = started as [(typeof started)[0], (typeof started)[0], (typeof started)[0]]
      dns.addresses.delete(pod2.ip)
      const grace = statefulSet.spec.template.spec.terminationGracePeriodSeconds ?? 30
      const sent = performance.now()
      pod2.container.process.kill("SIGTERM")
      let timer: ReturnType<typeof setTimeout> | undefined
      const exit = await Promise.race([
        pod2.container.exited,
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), grace * 1000)))
      ]).finally(() => clearTimeout(timer))
      assert.isDefined(
        exit,
        `pod 2 did not stop within terminationGracePeriodSeconds (${grace} s)\n${pod2.container.tail()}`
      )
      const drainMs = exit!.at - sent
      // The others saw it leave, not fail.
      for (const pod of [pod0, pod1]) {
        await pod.container.waitForLog(new RegExp(`node down: ${pod2.name} \\(graceful_shutdown\\)`), 10_000)
      }
      // Every phase of the graceful shutdown ended within its own bound.
      const phases = [
        ...pod2.container.logs.matchAll(/shutdown phase (\d+)\/(\d+) ([a-z-]+): ([a-z ]+?) (?:after|in) ([\d.]+) ms/g)
      ]
      assert.isAbove(
        phases.length,
        0,
        `pod 2 logged the shutdown phases of Node.runMain (src/demo/node.ts must run on it)\n${pod2.container.tail()}`
      )
      assert.deepStrictEqual(
        phases.filter((phase) => phase[4] !== "done").map((phase) => phase[0]),
        [],
        "no shutdown phase timed out or failed"
      )
      assert.strictEqual(phases.length, Number(phases[0]![2]), "every phase ended")
      console.info(`pod 2's shutdown: ${phases.map((phase) => `${phase[3]} ${phase[5]} ms`).join(", ")}`)
      assert.strictEqual(exit!.code, 0, `pod 2 exits 0 on SIGTERM\n${pod2.container.tail()}`)
      for (const pod of [pod0, pod1]) {
        await probeUntil(probeUrl(pod, container.readinessProbe!.httpGet!), 200, 10_000, pod.container)
        await awaitPeers(health(pod), [pod === pod0 ? pod1.name : pod0.name], 10_000, pod.container)
      }
      console.info(`pod 2 stopped ${Math.round(drainMs)} ms after SIGTERM (grace ${grace} s)`)
    }, 180_000)
  }
)
