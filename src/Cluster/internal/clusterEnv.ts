/**
 * The cluster's environment variables: their table (name, default, meaning) and the checks that
 * turn their text into a `ClusterConfig`, reporting every bad variable at once.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import { Duration, Redacted } from "effect"
import * as Env from "../../internal/envConfig.ts"
import { defaultBusyPollWindow } from "../../Transport/TransportOptions.ts"
import type { ClusterConfig } from "../ClusterConfig.ts"
import { parseSeed } from "./discovery.ts"

const defaultBusyPollMicros = Math.round(Duration.toMillis(defaultBusyPollWindow) * 1000)

/** The cluster's variables, in the order of the README's table. */
export const variables: ReadonlyArray<Env.Variable> = [
  {
    name: "NODE_NAME",
    default: undefined,
    meaning:
      "This node's name, unique among the live nodes of the cluster (required; in Kubernetes: the pod's name, from the downward API)."
  },
  {
    name: "CLUSTER_HOST",
    default: "0.0.0.0",
    meaning: "Interface the cluster port listens on. A specific address is also the source address of outgoing links."
  },
  { name: "CLUSTER_PORT", default: "4370", meaning: "Port of the cluster links (TLS-PSK over TCP)." },
  {
    name: "CLUSTER_ADVERTISE_HOST",
    default: "CLUSTER_HOST, or the host name when CLUSTER_HOST is 0.0.0.0 or ::",
    meaning: "Host other nodes dial to reach this one (in Kubernetes: the pod IP, `status.podIP`)."
  },
  {
    name: "CLUSTER_SEEDS",
    default: "(none)",
    meaning:
      "Comma-separated seeds: `name@host:port` (a known node) or `host:port` where host is a DNS name resolved to all its addresses (a headless Service). Give every node the same seeds, itself included."
  },
  {
    name: "CLUSTER_DNS_SERVERS",
    default: "(the system resolver)",
    meaning:
      "Comma-separated DNS servers (`ip` or `ip:port`) asked for the seeds' names instead of the system resolver."
  },
  {
    name: "CLUSTER_SECRET",
    default: undefined,
    meaning:
      "The cluster secret, the same on every node: links use TLS 1.2 with a key derived from it. Required unless CLUSTER_SECRET_FILE or CLUSTER_INSECURE is set."
  },
  {
    name: "CLUSTER_SECRET_FILE",
    default: undefined,
    meaning:
      "A file holding the cluster secret (a mounted Secret), instead of CLUSTER_SECRET; a trailing newline is ignored."
  },
  {
    name: "CLUSTER_INSECURE",
    default: "false",
    meaning:
      "`true` runs the links over plain TCP without a secret: no authentication, no encryption (logged as a warning every minute). Only for a trusted network."
  },
  { name: "HEARTBEAT_INTERVAL_MS", default: "5000", meaning: "Heartbeat period of each link, in milliseconds." },
  {
    name: "HEARTBEAT_MISS_THRESHOLD",
    default: "3",
    meaning: "A link silent for HEARTBEAT_INTERVAL_MS x this many intervals is down (`heartbeat_timeout`)."
  },
  {
    name: "RECONNECT_BASE_DELAY_MS",
    default: "1000",
    meaning: "First delay before redialing a lost node; doubles per failed attempt, with jitter."
  },
  {
    name: "RECONNECT_MAX_DELAY_MS",
    default: "30000",
    meaning: "Cap of the reconnect delay (at least RECONNECT_BASE_DELAY_MS)."
  },
  {
    name: "BUSY_POLL_MICROS",
    default: String(defaultBusyPollMicros),
    meaning:
      "Microseconds a link keeps polling for the next frame before sleeping: lower latency for more CPU. 0 turns busy polling off."
  }
]

const names = variables.map((variable) => variable.name)

/** Reads the text of the cluster's variables (never fails on a value). */
export const texts = Env.texts(names)

const wildcard = (host: string): boolean => host === "0.0.0.0" || host === "::" || host === "[::]"

const hostCheck =
  (name: string) =>
  (value: string): Env.Checked<string> =>
    /\s|,|\//.test(value) ? Env.bad(name, `"${value}" is not a host name or address`) : Env.ok(value)

const nodeNameCheck = (value: string): Env.Checked<string> =>
  /[\s,@]/.test(value)
    ? Env.bad("NODE_NAME", `"${value}" may not contain blanks, commas or "@"`)
    : value.length > 255
      ? Env.bad("NODE_NAME", "is longer than 255 characters")
      : Env.ok(value)

const seedsCheck = (value: string): Env.Checked<ReadonlyArray<string>> => {
  const seeds = Env.list(value)
  const problems = seeds.flatMap((seed) => {
    const parsed = parseSeed(seed)
    return typeof parsed === "string" ? [{ variable: "CLUSTER_SEEDS", reason: parsed }] : []
  })
  return problems.length === 0 ? Env.ok(seeds) : { ok: false, problems }
}

const dnsServersCheck = (value: string): Env.Checked<ReadonlyArray<string>> => {
  const servers = Env.list(value)
  const problems = servers.flatMap((server) => {
    if (Net.isIP(server) !== 0) return []
    const colon = server.lastIndexOf(":")
    const host = server.slice(0, colon).replace(/^\[(.*)\]$/, "$1")
    const port = Number(server.slice(colon + 1))
    return colon > 0 && Net.isIP(host) !== 0 && Number.isInteger(port) && port > 0 && port <= 65535
      ? []
      : [{ variable: "CLUSTER_DNS_SERVERS", reason: `"${server}" is not an IP address or ip:port` }]
  })
  return problems.length === 0 ? Env.ok(servers) : { ok: false, problems }
}

type Secured =
  | { readonly secret: Redacted.Redacted<string>; readonly insecure: false }
  | { readonly secret: undefined; readonly insecure: true }

/** Exactly one of a secret (from the variable or the file) and insecure mode. */
const securityCheck = (env: Env.Texts): Env.Checked<Secured> => {
  const insecure = Env.read(env, "CLUSTER_INSECURE", Env.boolean("CLUSTER_INSECURE"), Env.ok(false))
  if (!insecure.ok) return insecure
  const inline = env["CLUSTER_SECRET"]
  const file = env["CLUSTER_SECRET_FILE"]
  if (inline !== undefined && file !== undefined) {
    return Env.bad("CLUSTER_SECRET_FILE", "is set together with CLUSTER_SECRET: give one of them")
  }
  let secret: string | undefined = inline
  if (file !== undefined) {
    try {
      secret = Fs.readFileSync(file, "utf8").replace(/\r?\n$/, "")
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error)
      return Env.bad("CLUSTER_SECRET_FILE", `cannot read "${file}" (${code})`)
    }
    if (secret.trim().length === 0) return Env.bad("CLUSTER_SECRET_FILE", `the file "${file}" is empty`)
  }
  if (insecure.value) {
    return secret === undefined
      ? Env.ok({ secret: undefined, insecure: true })
      : Env.bad(
          "CLUSTER_INSECURE",
          `is true while a secret is given (${file === undefined ? "CLUSTER_SECRET" : "CLUSTER_SECRET_FILE"}): choose one`
        )
  }
  if (secret === undefined) {
    return Env.bad(
      "CLUSTER_SECRET",
      "no cluster secret: set CLUSTER_SECRET or CLUSTER_SECRET_FILE (the same on every node), or CLUSTER_INSECURE=true to run without authentication nor encryption"
    )
  }
  return Env.ok({ secret: Redacted.make(secret), insecure: false })
}

/** Checks the cluster's variables, all of them, into a `ClusterConfig`. */
export const check = (env: Env.Texts): Env.Checked<ClusterConfig> => {
  const interval = (name: string, fallback: number) =>
    Env.read(env, name, Env.integer(name, 1, 86_400_000, "a positive number of milliseconds"), Env.ok(fallback))
  const base = interval("RECONNECT_BASE_DELAY_MS", 1000)
  let max = interval("RECONNECT_MAX_DELAY_MS", 30000)
  if (base.ok && max.ok && max.value < base.value) {
    max = Env.bad("RECONNECT_MAX_DELAY_MS", `${max.value} is below RECONNECT_BASE_DELAY_MS (${base.value})`)
  }
  const checked = Env.all({
    nodeName: Env.read(env, "NODE_NAME", nodeNameCheck, Env.bad("NODE_NAME", "is not set (every node needs a name)")),
    host: Env.read(env, "CLUSTER_HOST", hostCheck("CLUSTER_HOST"), Env.ok("0.0.0.0")),
    port: Env.read(env, "CLUSTER_PORT", Env.port("CLUSTER_PORT"), Env.ok(4370)),
    advertiseHost: Env.read(
      env,
      "CLUSTER_ADVERTISE_HOST",
      hostCheck("CLUSTER_ADVERTISE_HOST") as (value: string) => Env.Checked<string | undefined>,
      Env.ok(undefined)
    ),
    seeds: Env.read(env, "CLUSTER_SEEDS", seedsCheck, Env.ok([])),
    dnsServers: Env.read(
      env,
      "CLUSTER_DNS_SERVERS",
      dnsServersCheck as (value: string) => Env.Checked<ReadonlyArray<string> | undefined>,
      Env.ok(undefined)
    ),
    security: securityCheck(env),
    heartbeatInterval: interval("HEARTBEAT_INTERVAL_MS", 5000),
    heartbeatMissThreshold: Env.read(
      env,
      "HEARTBEAT_MISS_THRESHOLD",
      Env.integer("HEARTBEAT_MISS_THRESHOLD", 1, 1000, "a whole number of intervals from 1 to 1000"),
      Env.ok(3)
    ),
    reconnectBaseDelay: base,
    reconnectMaxDelay: max,
    busyPollMicros: Env.read(
      env,
      "BUSY_POLL_MICROS",
      Env.integer("BUSY_POLL_MICROS", 0, 1_000_000, "a whole number of microseconds from 0 to 1000000"),
      Env.ok(defaultBusyPollMicros)
    )
  })
  if (!checked.ok) return checked
  const c = checked.value
  const advertiseHost = c.advertiseHost ?? (wildcard(c.host) ? Os.hostname() : undefined)
  return Env.ok({
    nodeName: c.nodeName,
    host: c.host,
    port: c.port,
    advertiseHost,
    seeds: c.seeds,
    ...(c.dnsServers === undefined ? {} : { dnsServers: c.dnsServers }),
    secret: c.security.secret,
    insecure: c.security.insecure,
    heartbeatInterval: c.heartbeatInterval,
    heartbeatMissThreshold: c.heartbeatMissThreshold,
    reconnectBaseDelay: c.reconnectBaseDelay,
    reconnectMaxDelay: c.reconnectMaxDelay,
    transport: { busyPollWindow: Duration.micros(BigInt(c.busyPollMicros)) }
  })
}
