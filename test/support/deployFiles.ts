/**
 * Reading the deployment files as their tools do: the Dockerfile's instructions, the compose file
 * (YAML merge keys, `${VAR:-default}` interpolation), the kustomize overlays rendered by
 * `kubectl kustomize`, and a pod's environment as the kubelet builds it (downward API, Secret
 * references, `$(VAR)` expansion).
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as YAML from "yaml"

/** The repository's root directory. */
export const root = Path.resolve(import.meta.dirname, "../..")

/** The deploy/ directory. */
export const deployDir = Path.join(root, "deploy")

/** A parsed Kubernetes object (what `kubectl kustomize` prints, one per YAML document). */
export interface KubeObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> }
  readonly [key: string]: unknown
}

/** Every YAML document of a file (or text), parsed. */
export const yamlDocuments = (text: string): Array<unknown> =>
  YAML.parseAllDocuments(text).map((document) => {
    if (document.errors.length > 0) throw new Error(document.errors.map((error) => error.message).join("; "))
    return document.toJS()
  })

// ---------------------------------------------------------------------------------------------
// kubectl kustomize

/** The kubectl on PATH, or `undefined` (the rendering tests then say they cannot run). */
export const kubectl: string | undefined = (() => {
  const found = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" })
  return found.status === 0 ? "kubectl" : undefined
})()

/** `kubectl version --client`'s first lines, to name the renderer in failures. */
export const kubectlVersion = (): string =>
  kubectl === undefined ? "(none)" : execFileSync(kubectl, ["version", "--client"], { encoding: "utf8" }).trim()

/** The overlays under deploy/kubernetes/overlays (each directory with a kustomization.yaml). */
export const overlays: ReadonlyArray<string> = Fs.readdirSync(Path.join(deployDir, "kubernetes/overlays")).filter(
  (name) => Fs.existsSync(Path.join(deployDir, "kubernetes/overlays", name, "kustomization.yaml"))
)

/** The result of `kubectl kustomize <dir>`: its objects, and its stderr (deprecation warnings). */
export interface Rendered {
  readonly objects: ReadonlyArray<KubeObject>
  readonly stderr: string
}

const renderings = new Map<string, Rendered>()

/**
 * Renders a kustomization directory (relative to deploy/kubernetes) with `kubectl kustomize`, once
 * per test file.
 */
export const render = (dir: string): Rendered => {
  const cached = renderings.get(dir)
  if (cached !== undefined) return structuredClone(cached)
  if (kubectl === undefined) throw new Error("kubectl is not installed")
  const result = spawnSync(kubectl, ["kustomize", Path.join(deployDir, "kubernetes", dir)], {
    encoding: "utf8",
    timeout: 60_000
  })
  if (result.status !== 0) {
    throw new Error(`kubectl kustomize ${dir} exited with ${result.status}: ${result.stderr}${result.error ?? ""}`)
  }
  const rendered = { objects: yamlDocuments(result.stdout) as Array<KubeObject>, stderr: result.stderr }
  renderings.set(dir, rendered)
  return structuredClone(rendered)
}

/** The one object of a kind (and name, if given) in a rendering; throws if there is not exactly one. */
export const only = <T = KubeObject>(objects: ReadonlyArray<KubeObject>, kind: string, name?: string): T => {
  const found = objects.filter(
    (object) => object.kind === kind && (name === undefined || object.metadata.name === name)
  )
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`)
  return found[0] as T
}

// ---------------------------------------------------------------------------------------------
// The shapes of the objects the tests read (only the fields they read).

/** A container's environment entry. */
export interface EnvVar {
  readonly name: string
  readonly value?: string
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string }
    readonly secretKeyRef?: { readonly name: string; readonly key: string }
    readonly configMapKeyRef?: { readonly name: string; readonly key: string }
  }
}

/** An HTTP probe. */
export interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: number | string }
  readonly periodSeconds?: number
  readonly timeoutSeconds?: number
  readonly failureThreshold?: number
}

/** A container of a pod template. */
export interface Container {
  readonly name: string
  readonly image: string
  readonly command?: ReadonlyArray<string>
  readonly args?: ReadonlyArray<string>
  readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort: number; readonly protocol?: string }>
  readonly env?: ReadonlyArray<EnvVar>
  readonly livenessProbe?: Probe
  readonly readinessProbe?: Probe
  readonly startupProbe?: Probe
  readonly securityContext?: Record<string, unknown>
  readonly resources?: { readonly requests?: Record<string, string>; readonly limits?: Record<string, string> }
  readonly volumeMounts?: ReadonlyArray<{ readonly name: string; readonly mountPath: string }>
}

/** The parts of a StatefulSet the tests read. */
export interface StatefulSet extends KubeObject {
  readonly spec: {
    readonly serviceName: string
    readonly replicas?: number
    readonly selector: { readonly matchLabels: Record<string, string> }
    readonly template: {
      readonly metadata: { readonly labels: Record<string, string>; readonly annotations?: Record<string, string> }
      readonly spec: {
        readonly terminationGracePeriodSeconds?: number
        readonly enableServiceLinks?: boolean
        readonly securityContext?: Record<string, unknown>
        readonly topologySpreadConstraints?: ReadonlyArray<{
          readonly topologyKey: string
          readonly whenUnsatisfiable: string
          readonly labelSelector?: { readonly matchLabels?: Record<string, string> }
        }>
        readonly affinity?: { readonly podAntiAffinity?: unknown }
        readonly containers: ReadonlyArray<Container>
        readonly volumes?: ReadonlyArray<{ readonly name: string; readonly emptyDir?: unknown }>
      }
    }
  }
}

/** The parts of a Service the tests read. */
export interface Service extends KubeObject {
  readonly spec: {
    readonly clusterIP?: string
    readonly publishNotReadyAddresses?: boolean
    readonly selector: Record<string, string>
    readonly ports: ReadonlyArray<{
      readonly name?: string
      readonly port: number
      readonly targetPort?: number | string
      readonly protocol?: string
    }>
  }
}

/** A NetworkPolicy peer. */
export interface PolicyPeer {
  readonly podSelector?: { readonly matchLabels?: Record<string, string> }
  readonly namespaceSelector?: { readonly matchLabels?: Record<string, string> }
  readonly ipBlock?: { readonly cidr: string }
}

/** A NetworkPolicy rule (ingress `from` or egress `to`). */
export interface PolicyRule {
  readonly from?: ReadonlyArray<PolicyPeer>
  readonly to?: ReadonlyArray<PolicyPeer>
  readonly ports?: ReadonlyArray<{ readonly port?: number | string; readonly protocol?: string }>
}

/** The parts of a NetworkPolicy the tests read. */
export interface NetworkPolicy extends KubeObject {
  readonly spec: {
    readonly podSelector: { readonly matchLabels?: Record<string, string> }
    readonly policyTypes?: ReadonlyArray<string>
    readonly ingress?: ReadonlyArray<PolicyRule>
    readonly egress?: ReadonlyArray<PolicyRule>
  }
}

/** Whether a label selector (matchLabels) selects objects carrying `labels`. */
export const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value)

/** The container port a probe or a Service's targetPort names (by name or number). */
export const containerPort = (container: Container, port: number | string | undefined): number => {
  if (typeof port === "number") return port
  const named = container.ports?.find((candidate) => candidate.name === port)
  if (named === undefined) throw new Error(`container ${container.name} has no port named ${String(port)}`)
  return named.containerPort
}

// ---------------------------------------------------------------------------------------------
// A pod's environment, as the kubelet builds it.

/** What the downward API and the Secret references of a pod resolve to. */
export interface PodIdentity {
  readonly name: string
  readonly namespace: string
  readonly podIP: string
  /** Secret name -> key -> value. */
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>
}

const fieldValue = (pod: PodIdentity, fieldPath: string): string => {
  switch (fieldPath) {
    case "metadata.name":
      return pod.name
    case "metadata.namespace":
      return pod.namespace
    case "status.podIP":
    case "status.podIPs":
      return pod.podIP
    default:
      throw new Error(`the test does not simulate the downward API field ${fieldPath}`)
  }
}

/**
 * Kubernetes' `$(VAR)` expansion of an env value: a reference to a variable defined earlier in the
 * list is replaced by its value, `$$` is a literal `$`, and an unknown reference stays as written.
 */
export const expandReferences = (value: string, defined: Readonly<Record<string, string>>): string =>
  value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) =>
    name === undefined ? "$" : (defined[name] ?? match)
  )

/** The environment of a container of a pod: exactly its `env` list, resolved in order. */
export const podEnvironment = (container: Container, pod: PodIdentity): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) {
      env[entry.name] = expandReferences(entry.value, env)
    } else if (entry.valueFrom?.fieldRef !== undefined) {
      env[entry.name] = fieldValue(pod, entry.valueFrom.fieldRef.fieldPath)
    } else if (entry.valueFrom?.secretKeyRef !== undefined) {
      const { key, name } = entry.valueFrom.secretKeyRef
      const value = pod.secrets[name]?.[key]
      if (value === undefined) throw new Error(`the pod's Secret ${name} has no key ${key}`)
      env[entry.name] = value
    } else {
      throw new Error(`the test does not simulate the source of ${entry.name}: ${JSON.stringify(entry.valueFrom)}`)
    }
  }
  return env
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

/** The parts of a compose service the tests read. */
export interface ComposeService {
  readonly image?: string
  readonly build?: { readonly context: string; readonly dockerfile: string }
  readonly command?: ReadonlyArray<string> | string
  readonly entrypoint?: ReadonlyArray<string> | string
  readonly environment?: Readonly<Record<string, string | number | boolean | null>> | ReadonlyArray<string>
  readonly env_file?: unknown
  readonly profiles?: ReadonlyArray<string>
  readonly ports?: ReadonlyArray<string>
  readonly secrets?: ReadonlyArray<string>
  readonly read_only?: boolean
  readonly tmpfs?: ReadonlyArray<string>
  readonly cap_drop?: ReadonlyArray<string>
  readonly stop_grace_period?: string
  readonly volumes?: ReadonlyArray<string>
  readonly hostname?: string
}

/** The parts of a compose file the tests read. */
export interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>
  readonly secrets?: Readonly<Record<string, { readonly environment?: string; readonly file?: string }>>
}

/** The compose file's path. */
export const composePath = Path.join(deployDir, "docker-compose.yml")

/** Parses the compose file as compose does: YAML with merge keys (`<<: *anchor`). */
export const loadCompose = (): ComposeFile =>
  YAML.parse(Fs.readFileSync(composePath, "utf8"), { merge: true, maxAliasCount: -1 }) as ComposeFile

/**
 * Compose's interpolation of a value with the environment of the shell running `docker compose`:
 * `${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `$$`.
 */
export const interpolate = (value: string, shell: Readonly<Record<string, string>>): string =>
  value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      match,
      braced: string | undefined,
      colon: string | undefined,
      operator: string | undefined,
      word: string | undefined,
      bare: string | undefined
    ) => {
      if (match === "$$") return "$"
      const name = (braced ?? bare)!
      const current = shell[name]
      const missing = current === undefined || (colon === ":" && current === "")
      if (operator === "-") return missing ? word! : current!
      if (operator === "?") {
        if (missing) throw new Error(`compose requires ${name}: ${word}`)
        return current!
      }
      return current ?? ""
    }
  )

/**
 * A compose service's environment (the `environment` key only: the tests fail on `env_file`),
 * interpolated with `shell`, values as strings.
 */
export const serviceEnvironment = (
  service: ComposeService,
  shell: Readonly<Record<string, string>>
): Record<string, string> => {
  if (service.env_file !== undefined) throw new Error("env_file is not simulated by the tests")
  const env: Record<string, string> = {}
  const raw = service.environment ?? {}
  if (Array.isArray(raw)) {
    for (const entry of raw as ReadonlyArray<string>) {
      const equals = entry.indexOf("=")
      if (equals < 0) throw new Error(`environment entry without a value: ${entry}`)
      env[entry.slice(0, equals)] = interpolate(entry.slice(equals + 1), shell)
    }
  } else {
    for (const [name, value] of Object.entries(raw as Record<string, string | number | boolean | null>)) {
      if (value === null) throw new Error(`environment entry without a value: ${name}`)
      env[name] = interpolate(String(value), shell)
    }
  }
  return env
}

/** The services compose starts without `--profile` (those with no `profiles`). */
export const defaultServices = (compose: ComposeFile): Array<[string, ComposeService]> =>
  Object.entries(compose.services).filter(([, service]) => (service.profiles ?? []).length === 0)

// ---------------------------------------------------------------------------------------------
// The Dockerfile

/** One instruction of a Dockerfile, continuation lines joined. */
export interface Instruction {
  readonly keyword: string
  readonly args: string
}

/** A stage of a multi-stage Dockerfile. */
export interface Stage {
  readonly from: string
  readonly name: string | undefined
  readonly instructions: ReadonlyArray<Instruction>
}

/** The parsed Dockerfile: global ARGs and its stages. */
export interface Dockerfile {
  readonly args: Readonly<Record<string, string>>
  readonly stages: ReadonlyArray<Stage>
}

/** The Dockerfile's path. */
export const dockerfilePath = Path.join(deployDir, "docker/Dockerfile")

/** Parses a Dockerfile (comments, `\` continuations, global ARG defaults substituted in FROM). */
export const parseDockerfile = (text: string): Dockerfile => {
  const logical: Array<string> = []
  let current = ""
  for (const line of text.split("\n")) {
    if (current === "" && /^\s*#/.test(line)) continue
    if (/^\s*#/.test(line)) continue // a comment inside a continued instruction
    if (line.endsWith("\\")) {
      current += line.slice(0, -1) + " "
      continue
    }
    current += line
    if (current.trim() !== "") logical.push(current.trim())
    current = ""
  }
  const args: Record<string, string> = {}
  const stages: Array<{ from: string; name: string | undefined; instructions: Array<Instruction> }> = []
  for (const line of logical) {
    const space = line.search(/\s/)
    const keyword = line.slice(0, space).toUpperCase()
    const rest = line.slice(space).trim()
    if (keyword === "ARG" && stages.length === 0) {
      const [name, value] = rest.split("=", 2) as [string, string | undefined]
      args[name] = value ?? ""
    } else if (keyword === "FROM") {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)
      if (match === null) throw new Error(`cannot read FROM ${rest}`)
      const from = match[1]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => args[name] ?? "")
      stages.push({ from, name: match[2], instructions: [] })
    } else {
      if (stages.length === 0) throw new Error(`${keyword} before the first FROM`)
      stages[stages.length - 1]!.instructions.push({ keyword, args: rest })
    }
  }
  return { args, stages }
}

/** Reads and parses deploy/docker/Dockerfile. */
export const loadDockerfile = (): Dockerfile => parseDockerfile(Fs.readFileSync(dockerfilePath, "utf8"))

/** The instructions of a stage with a keyword. */
export const instructions = (stage: Stage, keyword: string): Array<string> =>
  stage.instructions.filter((instruction) => instruction.keyword === keyword).map((instruction) => instruction.args)

/** The variables a stage's ENV instructions set (`ENV A=1 B=2` form, values unquoted). */
export const stageEnv = (stage: Stage): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const args of instructions(stage, "ENV")) {
    for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) {
      env[match[1]!] = match[3] ?? match[2]!
    }
  }
  return env
}

/** A JSON-array (exec form) instruction's argv. */
export const execForm = (args: string): Array<string> => {
  const parsed: unknown = JSON.parse(args)
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "string")) {
    throw new Error(`not an exec-form (JSON array) instruction: ${args}`)
  }
  return parsed as Array<string>
}

/** A HEALTHCHECK's options (`--interval=10s` ...) and its command in exec form. */
export const healthcheck = (stage: Stage): { options: Record<string, string>; command: Array<string> } => {
  const [args] = instructions(stage, "HEALTHCHECK")
  if (args === undefined) throw new Error("no HEALTHCHECK")
  const options: Record<string, string> = {}
  let rest = args
  for (;;) {
    const match = /^--([a-z-]+)=(\S+)\s+/.exec(rest)
    if (match === null) break
    options[match[1]!] = match[2]!
    rest = rest.slice(match[0].length)
  }
  const cmd = /^CMD\s+(.*)$/.exec(rest)
  if (cmd === null) throw new Error(`HEALTHCHECK without CMD: ${args}`)
  return { options, command: execForm(cmd[1]!) }
}

/** Seconds of a Docker/compose duration such as `45s`, `1m30s`, `2m`. */
export const durationSeconds = (text: string): number => {
  let total = 0
  const pattern = /(\d+(?:\.\d+)?)(h|ms|m|s|us)/g
  let matched = ""
  for (const match of text.matchAll(pattern)) {
    matched += match[0]
    const value = Number(match[1])
    const unit = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6 }[match[2] as "h" | "m" | "s" | "ms" | "us"]
    total += value * unit
  }
  if (matched !== text) throw new Error(`cannot read the duration ${text}`)
  return total
}
