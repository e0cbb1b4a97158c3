/**
 * Seeds: parsing `name@host:port` and `host:port`, and resolving DNS names to all their addresses.
 *
 * @internal
 */
import * as Dns from "node:dns"
import * as Net from "node:net"
import type { Address } from "../../Transport/Frame.ts"

/**
 * A parsed seed: a named node at an address, or a DNS name whose every address is a node.
 *
 * @category models
 * @since 0.1.0
 */
export type Seed =
  | { readonly _tag: "Named"; readonly name: string; readonly host: string; readonly port: number }
  | { readonly _tag: "Dns"; readonly host: string; readonly port: number }

/**
 * Parses a seed string, or returns an explanation of what is wrong with it (the cluster refuses a
 * malformed seed with `InvalidClusterConfig`).
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseSeed = (seed: string): Seed | string => {
  const at = seed.indexOf("@")
  const name = at >= 0 ? seed.slice(0, at) : undefined
  const hostPort = at >= 0 ? seed.slice(at + 1) : seed
  const colon = hostPort.lastIndexOf(":")
  if (colon <= 0) return `seed "${seed}" has no port (expected name@host:port or host:port)`
  let host = hostPort.slice(0, colon)
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
  const port = Number(hostPort.slice(colon + 1))
  // Port 0 is only meaningful on a MemoryNetwork, where nodes are addressed by name.
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `seed "${seed}" has an invalid port`
  if (name !== undefined)
    return name.length === 0 ? `seed "${seed}" has an empty name` : { _tag: "Named", name, host, port }
  return { _tag: "Dns", host, port }
}

/**
 * Resolves a host name to all its addresses.
 *
 * @category models
 * @since 0.1.0
 */
export type Resolve = (host: string) => Promise<ReadonlyArray<string>>

const ignoreNoData = (error: NodeJS.ErrnoException): Array<string> => {
  if (error.code === "ENODATA" || error.code === "ENOTFOUND") return []
  throw error
}

/**
 * Makes a resolver. With `servers` (`ip` or `ip:port`), A and AAAA records are asked of those DNS
 * servers directly; without, the system resolver is used (`getaddrinfo`, which honours
 * `/etc/hosts` and search domains, as Kubernetes expects). IP literals resolve to themselves. A name
 * with no record resolves to no address; other DNS failures reject (the cluster logs them and
 * retries at the next discovery round).
 *
 * @category resolving
 * @since 0.1.0
 */
export const makeResolve = (servers?: ReadonlyArray<string>): Resolve => {
  if (servers === undefined || servers.length === 0) {
    return async (host) =>
      Net.isIP(host) !== 0 ? [host] : (await Dns.promises.lookup(host, { all: true })).map((entry) => entry.address)
  }
  const resolver = new Dns.promises.Resolver({ timeout: 2000, tries: 2 })
  resolver.setServers([...servers])
  return async (host) => {
    if (Net.isIP(host) !== 0) return [host]
    const [v4, v6] = await Promise.all([
      resolver.resolve4(host).catch(ignoreNoData),
      resolver.resolve6(host).catch(ignoreNoData)
    ])
    return [...v4, ...v6]
  }
}

/**
 * The addresses of a seed. A named seed is dialed as given (its host may be a name: the socket
 * resolves it); a DNS seed expands to one address per record.
 *
 * @category resolving
 * @since 0.1.0
 */
export const seedAddresses = async (seed: Seed, resolve: Resolve): Promise<ReadonlyArray<Address>> =>
  seed._tag === "Named"
    ? [{ host: seed.host, port: seed.port }]
    : (await resolve(seed.host)).map((host) => ({ host, port: seed.port }))
