/**
 * The deployment files agree with each other and with the node: ports, variable names, paths and
 * names are the same in the Dockerfile (ENV, EXPOSE, HEALTHCHECK, USER), the compose file, the
 * Prometheus configuration, every overlay's StatefulSet, Services, NetworkPolicy, PodDisruptionBudget
 * and HPA, and `NodeConfig.variables` (the node's one table of variables); and every node
 * environment they declare is one `NodeConfig.load` accepts.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit } from "effect"
import { Node, NodeConfig } from "../../src/index.ts"
import * as Discovery from "../../src/Cluster/internal/discovery.ts"
import type {
  ComposeService,
  Container,
  NetworkPolicy,
  PodIdentity,
  Service,
  StatefulSet
} from "../support/deployFiles.ts"
import {
  containerPort,
  defaultServices,
  deployDir,
  durationSeconds,
  execForm,
  healthcheck,
  instructions,
  kubectl,
  loadCompose,
  loadDockerfile,
  only,
  overlays,
  podEnvironment,
  render,
  root,
  selects,
  serviceEnvironment,
  stageEnv,
  yamlDocuments
} from "../support/deployFiles.ts"

const table = new Map(NodeConfig.variables.map((variable) => [variable.name, variable]))

/**
 * Whether the node reads `name`: the table (where `OTEL_*` stands for every OpenTelemetry
 * variable), or the demo application's own `DEMO_*` settings (src/demo/internal/app.ts).
 */
const known = (name: string): boolean =>
  table.has(name) || (name.startsWith("OTEL_") && table.has("OTEL_*")) || name.startsWith("DEMO_")

/** The table's default of a variable, as text. */
const defaultOf = (name: string): string => {
  const value = table.get(name)?.default
  if (value === undefined) throw new Error(`${name} has no default in NodeConfig.variables`)
  return value
}

/** Variables that only feed `$(VAR)` references of other entries (e.g. POD_NAMESPACE in the seeds). */
const referencedOnly = (container: Container): Set<string> =>
  new Set(
    (container.env ?? []).flatMap((entry) =>
      [...(entry.value ?? "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]!)
    )
  )

/**
 * The longest a node's graceful shutdown may take with this environment: the bounds of its six
 * phases (Node.runMain), the drain being SHUTDOWN_DRAIN_MS.
 */
const shutdownBoundMs = (env: Readonly<Record<string, string>>): number =>
  Object.values(Node.defaultShutdownTimeouts).reduce(
    (total: number, timeout) => total + Duration.toMillis(Duration.fromInputUnsafe(timeout)),
    Number(env["SHUTDOWN_DRAIN_MS"] ?? NodeConfig.defaultShutdownDrainMs)
  )

/** Runs NodeConfig.load on an environment: the list of problems (empty when the node would start). */
const loadProblems = (env: Record<string, string>): Array<string> => {
  const exit = Effect.runSyncExit(
    NodeConfig.load.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))
  )
  if (Exit.isSuccess(exit)) return []
  return [String(exit.cause)]
}

// ---------------------------------------------------------------------------------------------

const dockerfile = loadDockerfile()
const runtime = dockerfile.stages[dockerfile.stages.length - 1]!
const imageEnv = stageEnv(runtime)
const exposed = instructions(runtime, "EXPOSE").flatMap((args) =>
  args.split(/\s+/).map((port) => Number(port.split("/")[0]))
)
const [imageUser] = instructions(runtime, "USER")
const imageUid = Number(imageUser?.split(":")[0])

const compose = loadCompose()
const nodeServices = defaultServices(compose)
const secretPath = "/run/secrets/cluster_secret"

/** A compose service's environment, with the shell's CLUSTER_SECRET unset (the default run). */
const composeEnv = (service: ComposeService) => serviceEnvironment(service, {})

const pod = (index: number, namespace = "effect-otp"): PodIdentity => ({
  name: `effect-otp-${index}`,
  namespace,
  podIP: `10.1.0.${10 + index}`,
  secrets: { "effect-otp-cluster": { secret: "test-secret" } }
})

describe("the Dockerfile", () => {
  it("builds in stages from one Node LTS image pinned by major, installs with npm ci and keeps production dependencies only", () => {
    const images = new Set(dockerfile.stages.map((stage) => stage.from))
    assert.strictEqual(images.size, 1, `every stage from the same image: ${[...images].join(", ")}`)
    const [image] = [...images]
    const match = /^node:(\d+)(-[a-z]+)*$/.exec(image!)
    assert.isNotNull(match, `${image} is a node image pinned by major version only`)
    const major = Number(match![1])
    assert.strictEqual(major % 2, 0, "an LTS line (even major)")
    const engines = (
      JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as { engines: { node: string } }
    ).engines.node
    assert.isAtLeast(major, Number(/\d+/.exec(engines)![0]), `package.json engines: ${engines}`)
    assert.isAtLeast(dockerfile.stages.length, 2)
    const runs = dockerfile.stages.map((stage) => instructions(stage, "RUN").join(" && "))
    assert.isTrue(
      runs.some((run) => /npm ci(?!.*--omit=dev)/.test(run) && /npm run build/.test(run)),
      "a build stage"
    )
    assert.isTrue(
      runs.some((run) => /npm ci .*--omit=dev/.test(run)),
      "a stage with production dependencies only"
    )
    assert.notMatch(instructions(runtime, "RUN").join(" "), /npm (ci|install)/, "no install in the runtime stage")
    const copies = instructions(runtime, "COPY").join("\n")
    const stageOf = (predicate: (run: string) => boolean) =>
      dockerfile.stages.find((stage) => predicate(instructions(stage, "RUN").join(" && ")))!.name
    assert.include(copies, `--from=${stageOf((run) => /--omit=dev/.test(run))} /app/node_modules`)
    assert.include(copies, `--from=${stageOf((run) => /npm run build/.test(run))} /app/dist`)
  })

  it("runs the demo entrypoint that `npm run build` compiles from src/demo/node.ts", () => {
    const [cmd] = instructions(runtime, "CMD")
    assert.deepStrictEqual(execForm(cmd!), ["node", "dist/demo/node.js"])
    assert.deepStrictEqual(instructions(runtime, "ENTRYPOINT"), [])
    const distConfig = JSON.parse(Fs.readFileSync(Path.join(root, "tsconfig.dist.json"), "utf8")) as {
      compilerOptions: { rootDir: string; outDir: string }
    }
    assert.deepStrictEqual([distConfig.compilerOptions.rootDir, distConfig.compilerOptions.outDir], ["src", "dist"])
    assert.deepStrictEqual(instructions(runtime, "WORKDIR"), ["/app"])
  })

  it("copies only files the .dockerignore lets into the context, and every one exists", () => {
    const ignore = Fs.readFileSync(Path.join(root, ".dockerignore"), "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"))
    assert.strictEqual(ignore[0], "**", "everything is excluded first, then the build's inputs are let in")
    const allowed = ignore.slice(1).map((line) => {
      assert.isTrue(line.startsWith("!"), line)
      return line.slice(1).replace(/\/\*\*$/, "")
    })
    const sources = dockerfile.stages.flatMap((stage) =>
      instructions(stage, "COPY")
        .filter((args) => !args.startsWith("--from="))
        .flatMap((args) => args.split(/\s+/).slice(0, -1))
    )
    for (const source of sources) {
      const name = source.replace(/^\.\//, "").replace(/\/$/, "")
      assert.include(allowed, name, `${source} is in the build context`)
      assert.isTrue(Fs.existsSync(Path.join(root, name)), `${name} exists`)
    }
    for (const secretish of [".env", "node_modules", "dist", ".git"]) assert.notInclude(allowed, secretish)
  })

  it("sets only variables of the node's table, with the table's defaults, and exposes their ports", () => {
    for (const name of Object.keys(imageEnv)) {
      if (name === "NODE_ENV") continue
      assert.isTrue(known(name), `${name} is in NodeConfig.variables`)
      assert.strictEqual(imageEnv[name], defaultOf(name), `${name}'s default`)
    }
    assert.strictEqual(imageEnv["NODE_ENV"], "production")
    assert.deepStrictEqual(
      [...exposed].sort(),
      [Number(imageEnv["CLUSTER_PORT"]), Number(imageEnv["HEALTH_PORT"])].sort(),
      "EXPOSE: the cluster and health ports"
    )
  })

  it("runs as a numeric non-root user, and checks its health on /health at HEALTH_PORT with node itself", () => {
    assert.match(imageUser!, /^\d+(:\d+)?$/, "numeric, so that Kubernetes' runAsNonRoot can verify it")
    assert.isAbove(imageUid, 0)
    const { command, options } = healthcheck(runtime)
    assert.strictEqual(command[0], "node", "no curl in slim images")
    const script = command.join(" ")
    assert.include(script, "/health")
    assert.include(script, "process.env.HEALTH_PORT")
    assert.include(script, `'${imageEnv["HEALTH_PORT"]}'`, "falls back to the image's HEALTH_PORT")
    assert.isBelow(durationSeconds(options["timeout"]!), durationSeconds(options["interval"]!))
  })
})

describe("the compose file", () => {
  it("starts a seed and two workers of the image built from deploy/docker/Dockerfile, with the Dockerfile's command", () => {
    assert.deepStrictEqual(
      nodeServices.map(([name]) => name),
      ["seed", "worker-1", "worker-2"]
    )
    for (const [name, service] of nodeServices) {
      assert.deepStrictEqual(service.build, { context: "..", dockerfile: "deploy/docker/Dockerfile" }, name)
      assert.isUndefined(service.command, `${name} runs the image's CMD`)
      assert.isUndefined(service.entrypoint, name)
      assert.isTrue(service.read_only, `${name}: read-only root filesystem`)
      assert.deepStrictEqual(service.tmpfs, ["/tmp"], name)
      assert.deepStrictEqual(service.cap_drop, ["ALL"], name)
      assert.deepStrictEqual(service.secrets, ["cluster_secret"], name)
    }
    assert.deepStrictEqual(
      compose.secrets?.["cluster_secret"],
      { environment: "CLUSTER_SECRET" },
      "no secret in the file"
    )
  })

  it("gives every node only variables of the node's table, and an environment NodeConfig.load accepts", () => {
    const secretFile = Path.join(deployDir, "docker-compose.yml") // any readable file stands for the mounted secret
    for (const [name, service] of nodeServices) {
      const env = composeEnv(service)
      for (const variable of Object.keys(env))
        assert.isTrue(known(variable), `${name}: ${variable} is in NodeConfig.variables`)
      assert.strictEqual(env["NODE_NAME"], name, `${name}'s node name is its service name`)
      assert.strictEqual(env["CLUSTER_ADVERTISE_HOST"], name, `${name} is reached by its service name`)
      assert.strictEqual(env["CLUSTER_SECRET_FILE"], secretPath)
      assert.isUndefined(env["CLUSTER_SECRET"])
      assert.deepStrictEqual(loadProblems({ ...env, CLUSTER_SECRET_FILE: secretFile }), [], name)
    }
  })

  it("uses symmetric seeds: every node lists the same seeds, every node (itself included) by service name and port", () => {
    const seeds = new Set(nodeServices.map(([, service]) => composeEnv(service)["CLUSTER_SEEDS"]))
    assert.strictEqual(seeds.size, 1, "the same CLUSTER_SEEDS everywhere")
    const parsed = [...seeds][0]!.split(",").map((seed) => Discovery.parseSeed(seed.trim()))
    const expected = nodeServices.map(([name, service]) => ({
      _tag: "Named" as const,
      name,
      host: name,
      port: Number(composeEnv(service)["CLUSTER_PORT"])
    }))
    assert.deepStrictEqual(parsed, expected)
  })

  it("publishes each node's HEALTH_PORT on its own host port, and waits longer than the shutdown may take before SIGKILL", () => {
    const hostPorts = new Set<string>()
    for (const [name, service] of nodeServices) {
      const env = composeEnv(service)
      assert.strictEqual(env["CLUSTER_PORT"], imageEnv["CLUSTER_PORT"], name)
      assert.strictEqual(env["HEALTH_PORT"], imageEnv["HEALTH_PORT"], name)
      assert.lengthOf(service.ports ?? [], 1, name)
      const [hostPort, port] = service.ports![0]!.split(":")
      assert.strictEqual(port, env["HEALTH_PORT"], `${name} publishes its HEALTH_PORT`)
      hostPorts.add(hostPort!)
      assert.isAbove(
        durationSeconds(service.stop_grace_period!) * 1000,
        shutdownBoundMs(env),
        `${name}'s stop_grace_period exceeds the shutdown phases' bounds`
      )
    }
    assert.strictEqual(hostPorts.size, nodeServices.length)
  })

  it("wires the observability profile: nodes -> collector (OTLP/HTTP) -> Jaeger, Prometheus scraping every node's /metrics", () => {
    const profiled = Object.entries(compose.services).filter(([, service]) =>
      service.profiles?.includes("observability")
    )
    assert.deepStrictEqual(profiled.map(([name]) => name).sort(), ["jaeger", "otel-collector", "prometheus"])
    for (const [name, service] of nodeServices) {
      assert.strictEqual(composeEnv(service)["OTEL_SDK_DISABLED"], "true", `${name}: no export without the profile`)
      assert.strictEqual(serviceEnvironment(service, { OTEL_SDK_DISABLED: "false" })["OTEL_SDK_DISABLED"], "false")
      assert.strictEqual(composeEnv(service)["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://otel-collector:4318", name)
    }
    const mounted = (service: string, target: string): unknown => {
      const volume = compose.services[service]!.volumes!.find((entry) => entry.split(":")[1] === target)!
      return yamlDocuments(Fs.readFileSync(Path.join(deployDir, volume.split(":")[0]!), "utf8"))[0]
    }
    const collector = mounted("otel-collector", "/etc/otelcol/config.yaml") as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } }
      exporters: Record<string, { endpoint: string }>
      service: { pipelines: { traces: { receivers: Array<string>; exporters: Array<string> } } }
    }
    assert.match(collector.receivers.otlp.protocols.http.endpoint, /:4318$/)
    assert.include(collector.service.pipelines.traces.receivers, "otlp")
    const exporters = collector.service.pipelines.traces.exporters.map(
      (exporter) => collector.exporters[exporter]!.endpoint
    )
    assert.deepStrictEqual(exporters, ["jaeger:4317"])
    const prometheus = mounted("prometheus", "/etc/prometheus/prometheus.yml") as {
      scrape_configs: Array<{ metrics_path: string; static_configs: Array<{ targets: Array<string> }> }>
    }
    const [job] = prometheus.scrape_configs
    assert.strictEqual(job!.metrics_path, "/metrics")
    assert.deepStrictEqual(
      job!.static_configs.flatMap((config) => config.targets),
      nodeServices.map(([name, service]) => `${name}:${composeEnv(service)["HEALTH_PORT"]}`)
    )
  })
})

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" }).status === 0

it.skipIf(!promtool)(
  `promtool accepts the compose profile's Prometheus configuration${promtool ? "" : " (skipped: promtool is not installed)"}`,
  () => {
    const result = spawnSync("promtool", ["check", "config", Path.join(deployDir, "observability/prometheus.yml")], {
      encoding: "utf8"
    })
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
  }
)

describe.skipIf(kubectl === undefined)(
  `the Kubernetes overlays${kubectl === undefined ? " (skipped: kubectl is not installed)" : ""}`,
  () => {
    for (const overlay of overlays) {
      const objects = () => render(`overlays/${overlay}`).objects
      const parts = () => {
        const all = objects()
        const statefulSet = only<StatefulSet>(all, "StatefulSet")
        const [container] = statefulSet.spec.template.spec.containers
        const namespace = statefulSet.metadata.namespace ?? "default"
        return { all, statefulSet, container: container!, namespace, labels: statefulSet.spec.template.metadata.labels }
      }

      describe(`overlays/${overlay}`, () => {
        it("sets only variables of the node's table; NODE_NAME is the pod's name and the secret comes from a Secret", () => {
          const { container } = parts()
          const helpers = referencedOnly(container)
          for (const entry of container.env ?? []) {
            assert.isTrue(known(entry.name) || helpers.has(entry.name), `${entry.name} is in NodeConfig.variables`)
          }
          const env = new Map((container.env ?? []).map((entry) => [entry.name, entry]))
          assert.deepStrictEqual(env.get("NODE_NAME")?.valueFrom, { fieldRef: { fieldPath: "metadata.name" } })
          assert.deepStrictEqual(env.get("CLUSTER_ADVERTISE_HOST")?.valueFrom, {
            fieldRef: { fieldPath: "status.podIP" }
          })
          const secretRef = env.get("CLUSTER_SECRET")?.valueFrom?.secretKeyRef
          const [template] = yamlDocuments(
            Fs.readFileSync(Path.join(deployDir, "kubernetes/secret.template.yaml"), "utf8")
          ) as Array<{ metadata: { name: string }; stringData: Record<string, string> }>
          assert.strictEqual(secretRef?.name, template!.metadata.name)
          assert.property(template!.stringData, secretRef!.key)
          assert.isUndefined(env.get("CLUSTER_SECRET")?.value)
          assert.strictEqual(env.get("BUSY_POLL_MICROS")?.value, "0", "busy polling set on purpose (off) for pods")
        })

        it("gives pods 0, 1 and 2 environments NodeConfig.load accepts, seeded by the headless Service's DNS name", () => {
          const { container, namespace, statefulSet } = parts()
          for (const index of [0, 1, 2]) {
            const env = podEnvironment(container, pod(index, namespace))
            assert.deepStrictEqual(loadProblems(env), [], `pod ${index}`)
            assert.strictEqual(env["NODE_NAME"], `effect-otp-${index}`)
            const seeds = env["CLUSTER_SEEDS"]!.split(",").map((seed) => Discovery.parseSeed(seed.trim()))
            assert.deepStrictEqual(seeds, [
              {
                _tag: "Dns",
                host: `${statefulSet.spec.serviceName}.${namespace}.svc.cluster.local`,
                port: Number(env["CLUSTER_PORT"])
              }
            ])
          }
        })

        it("agrees on the cluster port: env, container port, headless Service, NetworkPolicy, seeds, Dockerfile", () => {
          const { all, container, statefulSet, labels, namespace } = parts()
          const env = podEnvironment(container, pod(0, namespace))
          const clusterPort = Number(env["CLUSTER_PORT"])
          assert.strictEqual(containerPort(container, "cluster"), clusterPort)
          assert.include(exposed, clusterPort)
          const headless = only<Service>(all, "Service", statefulSet.spec.serviceName)
          const linkPort = headless.spec.ports.find((port) => port.name === "cluster")!
          assert.strictEqual(linkPort.port, clusterPort)
          assert.strictEqual(containerPort(container, linkPort.targetPort), clusterPort)
          const policy = only<NetworkPolicy>(all, "NetworkPolicy", "effect-otp")
          const members = (rule: {
            from?: ReadonlyArray<{ podSelector?: { matchLabels?: Record<string, string> } }>
          }) =>
            (rule.from ?? []).length > 0 &&
            (rule.from ?? []).every(
              (peer) => peer.podSelector !== undefined && selects(peer.podSelector.matchLabels, labels)
            )
          const clusterIngress = policy.spec.ingress!.filter((rule) =>
            rule.ports?.some((port) => port.port === clusterPort)
          )
          assert.lengthOf(clusterIngress, 1, "one ingress rule for the cluster port")
          assert.isTrue(members(clusterIngress[0]!), "the cluster port only from members")
          const clusterEgress = policy.spec.egress!.filter((rule) =>
            rule.ports?.some((port) => port.port === clusterPort)
          )
          assert.lengthOf(clusterEgress, 1)
          assert.isTrue(members({ from: clusterEgress[0]!.to! }), "the cluster port only to members")
          assert.deepStrictEqual(policy.spec.policyTypes, ["Ingress", "Egress"])
        })

        it("agrees on the HTTP port and paths: probes, Services, NetworkPolicy, Prometheus annotations, HEALTHCHECK", () => {
          const { all, container, statefulSet, labels, namespace } = parts()
          const env = podEnvironment(container, pod(0, namespace))
          const healthPort = Number(env["HEALTH_PORT"])
          assert.strictEqual(String(healthPort), imageEnv["HEALTH_PORT"])
          assert.include(exposed, healthPort)
          assert.strictEqual(env["HEALTH_HOST"], "0.0.0.0", "probes reach the pod IP, port-forward reaches localhost")
          assert.strictEqual(containerPort(container, "http"), healthPort)
          const probes = {
            liveness: container.livenessProbe?.httpGet,
            readiness: container.readinessProbe?.httpGet,
            startup: container.startupProbe?.httpGet
          }
          assert.strictEqual(probes.liveness?.path, "/health")
          assert.strictEqual(probes.readiness?.path, "/ready")
          assert.strictEqual(probes.startup?.path ?? "/health", "/health")
          for (const probe of Object.values(probes)) {
            if (probe !== undefined) assert.strictEqual(containerPort(container, probe.port), healthPort)
          }
          for (const service of all.filter((object) => object.kind === "Service") as Array<Service>) {
            assert.isTrue(selects(service.spec.selector, labels), `${service.metadata.name} selects the pods`)
            const http = service.spec.ports.find((port) => port.name === "http")!
            assert.strictEqual(
              containerPort(container, http.targetPort ?? http.port),
              healthPort,
              service.metadata.name
            )
          }
          const annotations = statefulSet.spec.template.metadata.annotations ?? {}
          assert.strictEqual(annotations["prometheus.io/port"], String(healthPort))
          assert.strictEqual(annotations["prometheus.io/path"], "/metrics")
          const policy = only<NetworkPolicy>(all, "NetworkPolicy", "effect-otp")
          const healthIngress = policy.spec.ingress!.filter((rule) =>
            rule.ports?.some((port) => port.port === healthPort)
          )
          assert.lengthOf(healthIngress, 1, "one ingress rule for the health port")
          assert.isTrue(
            healthIngress[0]!.from!.some((peer) => peer.namespaceSelector !== undefined),
            "Prometheus's namespace may scrape"
          )
          const dns = policy.spec.egress!.filter((rule) => rule.ports?.some((port) => port.port === 53))
          assert.deepStrictEqual(
            dns.flatMap((rule) => rule.ports!.map((port) => port.protocol)).sort(),
            ["TCP", "UDP"],
            "DNS egress, UDP and TCP"
          )
        })

        it("names agree: serviceName, headless Service, selectors, PodDisruptionBudget, HPA target", () => {
          const { all, statefulSet, labels } = parts()
          assert.isTrue(selects(statefulSet.spec.selector.matchLabels, labels))
          const headless = only<Service>(all, "Service", statefulSet.spec.serviceName)
          assert.strictEqual(headless.spec.clusterIP, "None")
          assert.isTrue(headless.spec.publishNotReadyAddresses, "peers find a pod before it is ready")
          const pdb = only<{ spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number } }>(
            all,
            "PodDisruptionBudget"
          )
          assert.isTrue(selects(pdb.spec.selector.matchLabels, labels))
          const hpa = only<{
            spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number }
          }>(all, "HorizontalPodAutoscaler")
          assert.deepStrictEqual(
            { kind: hpa.spec.scaleTargetRef.kind, name: hpa.spec.scaleTargetRef.name },
            { kind: "StatefulSet", name: statefulSet.metadata.name }
          )
          assert.isAtMost(hpa.spec.minReplicas, statefulSet.spec.replicas ?? 1)
          for (const policy of all.filter((object) => object.kind === "NetworkPolicy") as Array<NetworkPolicy>) {
            assert.isTrue(selects(policy.spec.podSelector.matchLabels, labels), policy.metadata.name)
          }
          for (const object of all) assert.strictEqual(object.metadata.namespace, statefulSet.metadata.namespace)
        })

        it("runs hardened: non-root (the image's user), read-only root with an emptyDir /tmp, no capabilities, seccomp, resources, spread", () => {
          const { container, statefulSet, labels } = parts()
          const pod = statefulSet.spec.template.spec
          assert.strictEqual(pod.securityContext?.["runAsNonRoot"], true)
          assert.strictEqual(pod.securityContext?.["runAsUser"], imageUid, "the Dockerfile's USER")
          assert.deepStrictEqual(pod.securityContext?.["seccompProfile"], { type: "RuntimeDefault" })
          assert.strictEqual(pod.enableServiceLinks, false, "no injected *_SERVICE_* variables")
          const security = container.securityContext ?? {}
          assert.strictEqual(security["readOnlyRootFilesystem"], true)
          assert.strictEqual(security["allowPrivilegeEscalation"], false)
          assert.deepStrictEqual(security["capabilities"], { drop: ["ALL"] })
          const tmp = container.volumeMounts?.find((mount) => mount.mountPath === "/tmp")
          assert.isDefined(tmp)
          assert.isDefined(pod.volumes?.find((volume) => volume.name === tmp!.name)?.emptyDir)
          for (const resource of ["cpu", "memory"]) {
            assert.isDefined(container.resources?.requests?.[resource], `requests.${resource}`)
            assert.isDefined(container.resources?.limits?.[resource], `limits.${resource}`)
          }
          const spread = pod.topologySpreadConstraints ?? []
          assert.isTrue(
            spread.some(
              (constraint) =>
                constraint.topologyKey === "kubernetes.io/hostname" &&
                selects(constraint.labelSelector?.matchLabels, labels)
            ) || pod.affinity?.podAntiAffinity !== undefined,
            "pods spread across machines"
          )
          if (overlay === "production") {
            assert.isTrue(
              spread.some(
                (constraint) =>
                  constraint.topologyKey === "kubernetes.io/hostname" &&
                  constraint.whenUnsatisfiable === "DoNotSchedule"
              ),
              "production never puts two nodes on one machine"
            )
            assert.notMatch(container.image, /:latest$|^[^:]*$/, "a pinned image")
          }
        })

        it("gives SIGTERM more time than the node's shutdown phases may take together (terminationGracePeriodSeconds)", () => {
          const { container, statefulSet, namespace } = parts()
          const env = podEnvironment(container, pod(0, namespace))
          const grace = statefulSet.spec.template.spec.terminationGracePeriodSeconds ?? 30
          assert.isAbove(grace * 1000, shutdownBoundMs(env))
        })
      })
    }
  }
)
