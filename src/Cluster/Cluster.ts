/**
 * Cluster membership: seeds, gossip, heartbeats, failure detection, reconnection and events.
 *
 * No central server: every node dials its seeds, learns the other members by gossip and links to
 * each of them (full mesh). Each link carries a heartbeat every `heartbeatIntervalMs`; a link
 * silent for `heartbeatIntervalMs * heartbeatMissThreshold` is cut and reported as
 * `heartbeat_timeout` (detected within that time plus half an interval); a reset connection is
 * reported at once as `connection_closed`. Lost nodes are redialed with exponential backoff and
 * jitter, except those that left gracefully (`graceful_shutdown`). Closing the layer's scope
 * leaves gracefully.
 *
 * @since 0.1.0
 */
import { Context, Effect, FiberMap, FiberSet, Layer, PubSub, Result, Stream } from "effect"
import type { Scope } from "effect"
import type { Address, NodeIdentity } from "../Transport/Frame.ts"
import * as TcpTransport from "../Transport/TcpTransport.ts"
import { Transport } from "../Transport/Transport.ts"
import type { LinkEvent } from "../Transport/Transport.ts"
import type { ListenFailed } from "../Transport/TransportError.ts"
import * as ClusterConfig from "./ClusterConfig.ts"
import type { ClusterEvent, NodeInfo, NodeStatus } from "./ClusterEvent.ts"
import * as Discovery from "./Discovery.ts"
import * as Gossip from "./Gossip.ts"
import * as Heartbeat from "./Heartbeat.ts"

/**
 * The membership view of one node.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const program = Effect.gen(function* () {
 *   const cluster = yield* Cluster.Cluster
 *   const nodes = yield* cluster.nodes
 *   yield* Effect.log(`${cluster.localNodeId} sees ${nodes.length} nodes`)
 * }).pipe(Effect.provide(Cluster.layer({ nodeName: "a", port: 4370, secret: "s3cret", seeds: ["b@10.0.0.2:4370"] })))
 * ```
 *
 * @since 0.1.0
 */
export class Cluster extends Context.Service<
  Cluster,
  {
    /** This node's name. */
    readonly localNodeId: string
    /** This node's name and incarnation. */
    readonly local: NodeIdentity
    /** The transport the cluster runs on (for upper layers: remote messaging, registries). */
    readonly transport: Transport["Service"]
    /** This node's status. */
    readonly status: Effect.Effect<NodeStatus>
    /** The nodes currently up (linked and heard from), with what their heartbeats report. */
    readonly nodes: Effect.Effect<ReadonlyArray<NodeInfo>>
    /** How many nodes are currently up. */
    readonly connectedNodeCount: Effect.Effect<number>
    /** Milliseconds since this node started. */
    readonly uptimeMs: Effect.Effect<number>
    /** Subscribes to membership events now, returning them as a stream (ends with the scope). */
    readonly subscribe: Effect.Effect<Stream.Stream<ClusterEvent>, never, Scope.Scope>
    /**
     * Calls `callback` synchronously for every event, for as long as the scope lives. Exceptions
     * thrown by the callback are logged and ignored.
     */
    readonly onEvent: (callback: (event: ClusterEvent) => void) => Effect.Effect<void, never, Scope.Scope>
  }
>()("effect-otp/Cluster") {}

interface Peer {
  readonly identity: NodeIdentity
  readonly address: Address | null
  up: boolean
  status: NodeStatus
  lastHeartbeatAt: number
  processCount: number
  uptimeMs: number
}

const addressKey = (address: Address) => `${address.host}:${address.port}`

/**
 * Runs membership over an existing transport until the scope closes.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* <E, R>(
  config: ClusterConfig.ClusterConfig,
  acquireTransport: Effect.Effect<Transport["Service"], E, R>
): Effect.fn.Return<Cluster["Service"], ClusterConfig.InvalidClusterConfig | E, Scope.Scope | R> {
  const timing = ClusterConfig.timings(config)
  const seeds: Array<Discovery.Seed> = []
  for (const text of config.seeds ?? []) {
    const seed = Discovery.parseSeed(text)
    if (typeof seed === "string") return yield* new ClusterConfig.InvalidClusterConfig({ reason: seed })
    seeds.push(seed)
  }
  const resolve = Discovery.makeResolve(config.dnsServers)
  let status: NodeStatus = "starting"
  const events = yield* Effect.acquireRelease(PubSub.unbounded<ClusterEvent>(), PubSub.shutdown)
  const callbacks = new Set<(event: ClusterEvent) => void>()
  const fork = yield* FiberSet.makeRuntime<never>()
  // Callbacks first: publishing may resume a subscriber synchronously.
  const emit = (event: ClusterEvent) => {
    for (const callback of callbacks) {
      try {
        callback(event)
      } catch (error) {
        fork(Effect.logError("cluster event callback threw", error))
      }
    }
    PubSub.publishUnsafe(events, event)
  }
  let localName = config.nodeName
  const setStatus = (to: NodeStatus) => {
    const from = status
    if (from === to) return
    status = to
    emit({ _tag: "StatusChanged", id: localName, from, to })
  }
  // Registered before the transport is acquired, so it runs after the transport said goodbye.
  yield* Effect.addFinalizer(() => Effect.sync(() => setStatus("stopped")))

  const transport = yield* acquireTransport
  const local = transport.local
  localName = local.name
  const startedAt = Date.now()
  const failureTimeoutMs = timing.heartbeatIntervalMs * timing.heartbeatMissThreshold
  const processCount = config.processCount ?? Effect.succeed(0)

  let closing = false
  let reportedProcessCount = 0
  const peers = new Map<string, Peer>()
  /** Every member learned of (by link or gossip), for redialing. */
  const known = new Map<string, { incarnation: number; address: Address }>()
  /** Members that left gracefully, by incarnation: never redialed. */
  const departed = new Map<string, number>()
  /** Seed addresses that turned out to be this node. */
  const selfAddresses = new Set<string>([addressKey(transport.address)])

  const forkDial = yield* FiberMap.makeRuntime<never, string>()

  const heartbeat = (): Heartbeat.Heartbeat => ({
    status,
    processCount: reportedProcessCount,
    uptimeMs: Date.now() - startedAt
  })
  const gossip = (): typeof Gossip.Gossip.Type => {
    const members: Array<Gossip.Member> = [{ name: local.name, incarnation: local.incarnation, ...transport.address }]
    for (const peer of peers.values()) {
      if (peer.address !== null) members.push({ ...peer.identity, ...peer.address })
    }
    return { members }
  }
  // Heartbeats and gossip never wait for a link to drain: one peer that stops reading must not
  // silence this node towards the others (they are small and once per interval, so bounded).
  const sendAll = <A>(channel: import("../Transport/Channel.ts").Channel<A>, message: A) =>
    Effect.sync(() => {
      for (const name of peers.keys()) transport.sendUnsafe(name, channel, message)
    })

  // Redialing a member until it is linked again, it departs, or this node closes.
  const redial = (name: string) => {
    if (closing || peers.has(name)) return
    forkDial(
      name,
      Effect.gen(function* () {
        for (let attempt = 0; ; attempt++) {
          const target = known.get(name)
          if (closing || peers.has(name) || target === undefined || departed.get(name) === target.incarnation) return
          const result = yield* Effect.result(transport.connect(target.address, { expectedName: name }))
          if (Result.isSuccess(result)) return
          const delay = Heartbeat.backoffDelay(attempt, timing.reconnectBaseDelayMs, timing.reconnectMaxDelayMs)
          yield* Effect.logDebug(
            `reconnect to "${name}" failed (${result.failure.message}); retry in ${Math.round(delay)} ms`
          )
          yield* Effect.sleep(delay)
        }
      }),
      { onlyIfMissing: true }
    )
  }

  const onLinkEvent = (event: LinkEvent): void => {
    const name = event.node.name
    if (event._tag === "LinkUp") {
      peers.set(name, {
        identity: event.node,
        address: event.address,
        up: false,
        status: "starting",
        lastHeartbeatAt: Date.now(),
        processCount: 0,
        uptimeMs: 0
      })
      if (event.address !== null) known.set(name, { incarnation: event.node.incarnation, address: event.address })
      departed.delete(name)
      fork(
        Effect.all(
          [transport.send(name, Heartbeat.channel, heartbeat()), transport.send(name, Gossip.channel, gossip())],
          {
            discard: true
          }
        ).pipe(Effect.ignore)
      )
      return
    }
    const peer = peers.get(name)
    if (peer === undefined || peer.identity.incarnation !== event.node.incarnation) return
    peers.delete(name)
    if (peer.up) emit({ _tag: "NodeDown", id: name, incarnation: peer.identity.incarnation, reason: event.reason })
    if (event.reason === "graceful_shutdown") {
      departed.set(name, peer.identity.incarnation)
      known.delete(name)
    } else {
      redial(name)
    }
  }

  const onHeartbeat = (beat: Heartbeat.Heartbeat, from: NodeIdentity): void => {
    const peer = peers.get(from.name)
    if (peer === undefined || peer.identity.incarnation !== from.incarnation) return
    peer.status = beat.status
    peer.processCount = beat.processCount
    peer.uptimeMs = beat.uptimeMs
    peer.lastHeartbeatAt = Date.now()
    if (!peer.up) {
      peer.up = true
      emit({
        _tag: "NodeUp",
        id: from.name,
        incarnation: from.incarnation,
        status: beat.status,
        processCount: beat.processCount,
        uptimeMs: beat.uptimeMs
      })
      // Tell everyone else about the newcomer.
      fork(sendAll(Gossip.channel, gossip()))
    }
  }

  const onGossip = (message: typeof Gossip.Gossip.Type): void => {
    for (const member of message.members) {
      if (member.name === local.name || departed.get(member.name) === member.incarnation) continue
      if (peers.has(member.name)) continue
      known.set(member.name, { incarnation: member.incarnation, address: { host: member.host, port: member.port } })
      if (Gossip.dialsFirst(local.name, member.name)) redial(member.name)
    }
  }

  const linkEvents = yield* transport.subscribe
  yield* Effect.orDie(transport.register(Heartbeat.channel, onHeartbeat))
  yield* Effect.orDie(transport.register(Gossip.channel, onGossip))
  yield* Effect.forkScoped(Stream.runForEach(linkEvents, (event) => Effect.sync(() => onLinkEvent(event))))

  // Heartbeats (and periodic gossip, which heals missed updates).
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.gen(function* () {
        reportedProcessCount = yield* processCount.pipe(Effect.orElseSucceed(() => reportedProcessCount))
        yield* sendAll(Heartbeat.channel, heartbeat())
        yield* sendAll(Gossip.channel, gossip())
        yield* Effect.sleep(timing.heartbeatIntervalMs)
      })
    )
  )

  // Failure detection: any link silent for interval x threshold is cut.
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.gen(function* () {
        yield* Effect.sleep(Math.max(10, Math.floor(timing.heartbeatIntervalMs / 2)))
        const silent = Heartbeat.silentLinks(yield* transport.links, Date.now(), failureTimeoutMs)
        for (const link of silent) {
          yield* Effect.logWarning(`node "${link.node.name}" silent for more than ${failureTimeoutMs} ms`)
          yield* transport.disconnect(link.node.name, "heartbeat_timeout")
        }
      })
    )
  )

  // Seeds: dial every seed address not already linked; retry with backoff until linked, then
  // re-resolve every discovery interval so that nodes appearing later are found.
  const dialSeeds = Effect.gen(function* () {
    const linkedAddresses = new Set<string>()
    for (const peer of peers.values()) if (peer.address !== null) linkedAddresses.add(addressKey(peer.address))
    const targets: Array<{ address: Address; name: string | undefined }> = []
    for (const seed of seeds) {
      if (seed._tag === "Named" && (seed.name === local.name || peers.has(seed.name))) continue
      const addresses = yield* Effect.tryPromise(() => Discovery.seedAddresses(seed, resolve)).pipe(
        Effect.tapError((error) => Effect.logWarning(`cannot resolve seed ${seed.host}: ${error}`)),
        Effect.orElseSucceed((): ReadonlyArray<Address> => [])
      )
      for (const address of addresses) {
        const key = addressKey(address)
        if (selfAddresses.has(key) || linkedAddresses.has(key)) continue
        linkedAddresses.add(key)
        targets.push({ address, name: seed._tag === "Named" ? seed.name : undefined })
      }
    }
    yield* Effect.forEach(
      targets,
      ({ address, name }) =>
        transport.connect(address, { expectedName: name }).pipe(
          Effect.tapError((error) =>
            error._tag === "HandshakeRejected" && error.reason === "self"
              ? Effect.sync(() => selfAddresses.add(addressKey(address)))
              : Effect.logDebug(`seed ${addressKey(address)} unreachable: ${error.message}`)
          ),
          Effect.ignore
        ),
      { concurrency: "unbounded", discard: true }
    )
  })
  if (seeds.length > 0) {
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        for (let attempt = 0; ; attempt++) {
          yield* dialSeeds
          if (peers.size > 0) attempt = -1
          const delay =
            attempt < 0
              ? timing.discoveryIntervalMs
              : Math.min(
                  timing.discoveryIntervalMs,
                  Heartbeat.backoffDelay(attempt, timing.reconnectBaseDelayMs, timing.reconnectMaxDelayMs)
                )
          yield* Effect.sleep(delay)
        }
      })
    )
  }

  // Runs first on close: announce `stopping`, stop redialing. The transport then says goodbye.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      closing = true
      setStatus("stopping")
      yield* sendAll(Heartbeat.channel, heartbeat()).pipe(Effect.timeout(500), Effect.ignore)
    })
  )
  setStatus("running")

  const upPeers = () => Array.from(peers.values()).filter((peer) => peer.up)
  return Cluster.of({
    localNodeId: local.name,
    local,
    transport,
    status: Effect.sync(() => status),
    nodes: Effect.sync(() => {
      const now = Date.now()
      return upPeers().map((peer): NodeInfo => ({
        id: peer.identity.name,
        incarnation: peer.identity.incarnation,
        status: peer.status,
        host: peer.address?.host ?? null,
        port: peer.address?.port ?? null,
        lastHeartbeatAt: peer.lastHeartbeatAt,
        processCount: peer.processCount,
        uptimeMs: peer.uptimeMs + (now - peer.lastHeartbeatAt)
      }))
    }),
    connectedNodeCount: Effect.sync(() => upPeers().length),
    uptimeMs: Effect.sync(() => Date.now() - startedAt),
    subscribe: Effect.map(PubSub.subscribe(events), Stream.fromSubscription),
    onEvent: (callback) =>
      Effect.acquireRelease(
        Effect.sync(() => callbacks.add(callback)),
        () => Effect.sync(() => callbacks.delete(callback))
      ).pipe(Effect.asVoid)
  })
})

/**
 * Starts a node: a TCP transport from the configuration (TLS-PSK with `secret`, mTLS with `tls`,
 * plain TCP with `insecure: true`) and membership on it. Provides both `Cluster` and `Transport`.
 * Closing the layer leaves the cluster gracefully: status `stopping`, goodbye to every peer (they
 * report `graceful_shutdown`), then `stopped`.
 *
 * @example
 * ```ts
 * import { Cluster } from "effect-otp"
 *
 * const NodeLive = Cluster.layer({
 *   nodeName: "a",
 *   host: "0.0.0.0",
 *   advertiseHost: "10.0.0.1",
 *   port: 4370,
 *   secret: "s3cret",
 *   seeds: ["otp-headless.default.svc.cluster.local:4370"]
 * })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  config: ClusterConfig.ClusterConfig
): Layer.Layer<Cluster | Transport, ClusterConfig.InvalidClusterConfig | ListenFailed> => {
  const cluster = Layer.effect(
    Cluster,
    Effect.flatMap(ClusterConfig.security(config), (security) =>
      make(
        config,
        TcpTransport.make({
          ...config.transport,
          name: config.nodeName,
          host: config.host,
          port: config.port,
          advertiseHost: config.advertiseHost,
          security
        })
      )
    )
  )
  return Layer.provideMerge(
    Layer.effect(
      Transport,
      Effect.map(Effect.service(Cluster), (cluster) => cluster.transport)
    ),
    cluster
  )
}

/**
 * Membership over a `Transport` provided from elsewhere (e.g. `MemoryTransport` in tests).
 *
 * @since 0.1.0
 */
export const layerOn = (
  config: ClusterConfig.ClusterConfig
): Layer.Layer<Cluster, ClusterConfig.InvalidClusterConfig, Transport> =>
  Layer.effect(Cluster, make(config, Effect.service(Transport)))
