/**
 * Cluster membership: seeds, gossip, heartbeats, failure detection, reconnection and events.
 *
 * No central server: every node dials its seeds, learns the other members by gossip and links to
 * each of them (full mesh). Each link carries a heartbeat every `heartbeatInterval`; a link silent
 * for `heartbeatInterval * heartbeatMissThreshold` is cut and reported as `heartbeat_timeout`
 * (detected within that time plus half an interval); a reset connection is reported at once as
 * `connection_closed`. Lost nodes are redialed with exponential backoff (from
 * `reconnectBaseDelay`, doubling, jittered by ±20%, capped at `reconnectMaxDelay`), except those
 * that left gracefully (`graceful_shutdown`). Closing the layer's scope leaves gracefully.
 *
 * All of it runs on Effect's `Clock`: silences are measured on monotonic time, and `TestClock`
 * drives heartbeats, failure detection and backoff in tests.
 *
 * A node that fails to link is told why on its own side: one log line saying what is wrong and
 * what to check (a different cluster secret, a name already taken, an incompatible protocol
 * version, ...), a `JoinFailed` event per attempt, and the metric `effect_otp_cluster_join_failures_total`
 * (attribute `reason`). Repeats of the same address and reason are logged at most every five
 * minutes. A node restarted with the same name (a new incarnation) is taken at once, even if its
 * peers have not noticed its death: a peer still linked to the old incarnation probes that link
 * (`incarnationProbeTimeout`, default 500 ms) and, hearing nothing, cuts it (`connection_closed`:
 * the old incarnation's monitors and links fire `noconnection`) and accepts the new one. If the old
 * link answers, a second live node has that name: the seed or member refuses it (`duplicate_name`)
 * and is not dialed for a while (the longest reconnect delay, and at least twice the
 * failure-detection time): the newcomer stays up, alone, and tries that address again after the
 * hold, so that it joins once the other node of that name is gone; a member that dials it links at
 * once.
 *
 * @since 0.1.0
 */
import {
  Clock,
  Context,
  Duration,
  Effect,
  FiberMap,
  FiberSet,
  Layer,
  Metric,
  PubSub,
  Queue,
  Schema,
  Stream
} from "effect"
import type { Scope } from "effect"
import { LogThrottle, repeats } from "../internal/logThrottle.ts"
import * as Timers from "../internal/timers.ts"
import type { Channel } from "../Transport/Channel.ts"
import type { Address, NodeIdentity } from "../Transport/Frame.ts"
import * as TcpTransport from "../Transport/TcpTransport.ts"
import { Transport } from "../Transport/Transport.ts"
import type { LinkEvent } from "../Transport/Transport.ts"
import type { ConnectError, ListenFailed } from "../Transport/TransportError.ts"
import * as ClusterConfig from "./ClusterConfig.ts"
import type { ClusterEvent, NodeDown, NodeInfo, NodeStatus, NodeUp } from "./ClusterEvent.ts"
import * as Discovery from "./internal/discovery.ts"
import { membershipSpans } from "./internal/membershipSpans.ts"
import * as Gossip from "./Gossip.ts"
import * as Heartbeat from "./Heartbeat.ts"
import { classify, describeFailure, type SecurityMode } from "./internal/joinFailures.ts"
import { backoff } from "./internal/reconnect.ts"
import { timings } from "./internal/timings.ts"

/**
 * `awaitNodes` gave up: the named nodes were not all up within its timeout. `missing` are those
 * still not up when it gave up.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const ready = Cluster.awaitNodes(["b", "c"], { timeout: "30 seconds" }).pipe(
 *   Effect.catchTag("NodesNotUp", (error) => Effect.logError(`still waiting for ${error.missing.join(", ")}`))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class NodesNotUp extends Schema.TaggedError<NodesNotUp>()("NodesNotUp", {
  missing: Schema.Array(Schema.String),
  timeoutMs: Schema.Number
}) {
  override get message(): string {
    const names = this.missing.map((name) => `"${name}"`).join(", ")
    return `${this.missing.length === 1 ? "node" : "nodes"} ${names} not up within ${this.timeoutMs} ms`
  }
}

/**
 * Options of {@link awaitNodes}.
 *
 * @example
 * ```ts
 * import type { Cluster } from "effect-otp"
 *
 * const options: Cluster.AwaitNodesOptions = { timeout: "10 seconds" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AwaitNodesOptions {
  /** How long to wait (a number is milliseconds). Default: no limit. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * The membership view of one node. Most programs use the module functions instead
 * (`Cluster.nodes`, `Cluster.awaitNodes`, `Cluster.membership`, ...).
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
 * @category services
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
    /** Milliseconds since this node started (on the monotonic clock). */
    readonly uptimeMs: Effect.Effect<number>
    /** Subscribes to membership events now, returning them as a stream (ends with the scope). */
    readonly subscribe: Effect.Effect<Stream.Stream<ClusterEvent>, never, Scope.Scope>
    /** Every membership event from the moment the stream starts. */
    readonly events: Stream.Stream<ClusterEvent>
    /**
     * Membership as a stream that starts with a `NodeUp` for every node already up, then every
     * `NodeUp` and `NodeDown` as they happen: nothing missed, nothing twice.
     */
    readonly membership: Stream.Stream<NodeUp | NodeDown>
    /** Waits until every node of `names` is up at the same time; see {@link awaitNodes}. */
    readonly awaitNodes: (names: Iterable<string>, options?: AwaitNodesOptions) => Effect.Effect<void, NodesNotUp>
    /**
     * Calls `callback` synchronously for every event, for as long as the scope lives. Exceptions
     * thrown by the callback are logged and ignored.
     */
    readonly onEvent: (callback: (event: ClusterEvent) => void) => Effect.Effect<void, never, Scope.Scope>
    /**
     * Reports `count` as this node's process count in its heartbeats (read once per heartbeat
     * interval), for as long as the scope lives: how a process runtime built over this cluster
     * (`Distribution.layerOnCluster`) plugs itself in. A `processCount` set in the configuration
     * takes precedence; the latest source registered wins over earlier ones.
     */
    readonly countProcesses: (count: Effect.Effect<number>) => Effect.Effect<void, never, Scope.Scope>
  }
>()("effect-otp/Cluster") {}

interface Peer {
  readonly identity: NodeIdentity
  readonly address: Address | null
  up: boolean
  status: NodeStatus
  /** Wall-clock epoch milliseconds of its last heartbeat, for display. */
  lastHeartbeatAt: number
  /** Monotonic milliseconds (`Timers.now`) of its last heartbeat. */
  heardAt: number
  processCount: number
  uptimeMs: number
  /** The `sentAt` of its last heartbeat and when it arrived (`Timers.now`), echoed in ours. */
  echo: { readonly sentAt: number; readonly heardAt: number } | undefined
}

const heartbeatRoundTrip = Metric.histogram("effect_otp_cluster_heartbeat_rtt_seconds", {
  description: "Round trip of heartbeats on the link to a peer node, by peer",
  boundaries: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
})

const addressKey = (address: Address) => `${address.host}:${address.port}`

const joinFailuresTotal = Metric.counter("effect_otp_cluster_join_failures_total", {
  description: "Failed attempts of this node to link to a seed or a member, by reason"
})

const securityMode = (config: ClusterConfig.ClusterConfig): SecurityMode =>
  config.secret !== undefined ? "secret" : config.tls !== undefined ? "tls" : "insecure"

/**
 * Runs membership over an existing transport until the scope closes. Fails with
 * `InvalidClusterConfig` for a malformed seed, or with the transport's error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster, MemoryNetwork, MemoryTransport } from "effect-otp"
 *
 * const network = MemoryNetwork.make()
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const cluster = yield* Cluster.make({ nodeName: "a", insecure: true }, MemoryTransport.make(network, { name: "a" }))
 *     return yield* cluster.status
 *   })
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* <E, R>(
  config: ClusterConfig.ClusterConfig,
  acquireTransport: Effect.Effect<Transport["Service"], E, R>
): Effect.fn.Return<Cluster["Service"], ClusterConfig.InvalidClusterConfig | E, Scope.Scope | R> {
  const timing = timings(config)
  const seeds: Array<Discovery.Seed> = []
  for (const text of config.seeds ?? []) {
    const seed = Discovery.parseSeed(text)
    if (typeof seed === "string") return yield* new ClusterConfig.InvalidClusterConfig({ reason: seed })
    seeds.push(seed)
  }
  const resolve = Discovery.makeResolve(config.dnsServers)
  const timers = yield* Timers.current
  const clock = yield* Clock.Clock
  let status: NodeStatus = "starting"
  const events = yield* Effect.acquireRelease(PubSub.unbounded<ClusterEvent>(), PubSub.shutdown)
  const callbacks = new Set<(event: ClusterEvent) => void>()
  const fork = yield* FiberSet.makeRuntime<never>()
  const membershipSpan = membershipSpans(yield* Effect.context<never>(), () => localName)
  // Callbacks first: publishing may resume a subscriber synchronously.
  const emit = (event: ClusterEvent) => {
    membershipSpan(event)
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
  const startedAt = timers.now()
  const failureTimeoutMs = timing.heartbeatIntervalMs * timing.heartbeatMissThreshold
  /** Process-count sources registered by `countProcesses`, the latest last. */
  const countSources: Array<Effect.Effect<number>> = []
  const zeroProcesses = Effect.succeed(0)
  const processCount = Effect.suspend(
    () => config.processCount ?? countSources[countSources.length - 1] ?? zeroProcesses
  )
  const security = securityMode(config)

  let closing = false
  let reportedProcessCount = 0
  const peers = new Map<string, Peer>()
  /** Every member learned of (by link or gossip), for redialing. */
  const known = new Map<string, { incarnation: number; address: Address }>()
  /** Members that left gracefully, by incarnation: never redialed. */
  const departed = new Map<string, number>()
  /** Seed addresses that turned out to be this node. */
  const selfAddresses = new Set<string>([addressKey(transport.address)])
  /**
   * Addresses that refused this node's name (`duplicate_name`), with the time until which they are
   * not dialed: the longest reconnect delay, and at least twice the failure-detection time, so that
   * a name held by a node that has since left is tried again.
   */
  const refusedAddresses = new Map<string, number>()
  const refusalHoldMs = Math.max(timing.reconnectMaxDelayMs, 2 * failureTimeoutMs)
  const isRefused = (key: string): boolean => {
    const until = refusedAddresses.get(key)
    if (until === undefined) return false
    if (timers.now() < until) return true
    refusedAddresses.delete(key)
    return false
  }
  /** Join failures are logged once per address and reason, then rarely. */
  const failureLog = new LogThrottle(timers.now)

  const forkDial = yield* FiberMap.makeRuntime<never, string>()

  /** Tells, on this node's side, why a dial failed: a log line, a metric, an event. */
  const reportFailure = (address: Address, expectedName: string | undefined, error: ConnectError) =>
    Effect.suspend(() => {
      const failure = classify(error, local.name, security, refusalHoldMs)
      const key = addressKey(address)
      const target = expectedName === undefined ? key : `${expectedName}@${key}`
      if (failure === undefined) return Effect.logDebug(`dial of ${target} ended: ${error.message}`)
      if (failure.final) refusedAddresses.set(key, timers.now() + refusalHoldMs)
      const skipped = failureLog.admit(`${target}|${failure.reason}`)
      const where = expectedName === undefined ? key : `node "${expectedName}" at ${key}`
      // Counted first: whoever sees the event sees it counted.
      return Metric.update(Metric.withAttributes(joinFailuresTotal, { reason: failure.reason }), 1).pipe(
        Effect.andThen(
          Effect.sync(() =>
            emit({
              _tag: "JoinFailed",
              id: local.name,
              target,
              reason: failure.reason,
              detail: failure.detail,
              retrying: !failure.final
            })
          )
        ),
        Effect.andThen(
          skipped === undefined
            ? Effect.void
            : Effect.logWithLevel(failure.level)(describeFailure(where, failure, peers.size === 0) + repeats(skipped))
        )
      )
    })

  const heartbeat = (): Heartbeat.Heartbeat => ({
    status,
    processCount: reportedProcessCount,
    uptimeMs: timers.now() - startedAt
  })
  /** A heartbeat for one peer: it also echoes that peer's last one, for its round trip. */
  const heartbeatFor = (peer: Peer | undefined): Heartbeat.Heartbeat => {
    const now = timers.now()
    const beat = { status, processCount: reportedProcessCount, uptimeMs: now - startedAt, sentAt: now }
    const echo = peer?.echo
    return echo === undefined ? beat : { ...beat, echo: { sentAt: echo.sentAt, heldMs: now - echo.heardAt } }
  }
  const sendHeartbeats = Effect.sync(() => {
    for (const [name, peer] of peers) transport.sendUnsafe(name, Heartbeat.channel, heartbeatFor(peer))
  })
  const metricsContext = yield* Effect.context<never>()
  const gossip = (): typeof Gossip.Gossip.Type => {
    const members: Array<Gossip.Member> = [{ name: local.name, incarnation: local.incarnation, ...transport.address }]
    for (const peer of peers.values()) {
      if (peer.address !== null) members.push({ ...peer.identity, ...peer.address })
    }
    return { members }
  }
  // Heartbeats and gossip never wait for a link to drain: one peer that stops reading must not
  // silence this node towards the others (they are small and once per interval, so bounded).
  const sendAll = <A>(channel: Channel<A>, message: A) =>
    Effect.sync(() => {
      for (const name of peers.keys()) transport.sendUnsafe(name, channel, message)
    })

  const reconnect = backoff(timing.reconnectBaseDelayMs, timing.reconnectMaxDelayMs)

  // Redialing a member until it is linked again, it departs, it refuses this node, or this node closes.
  const redial = (name: string) => {
    if (closing || peers.has(name)) return
    const attempt = Effect.suspend(() => {
      const target = known.get(name)
      if (
        closing ||
        peers.has(name) ||
        target === undefined ||
        departed.get(name) === target.incarnation ||
        isRefused(addressKey(target.address))
      ) {
        return Effect.void
      }
      return transport.connect(target.address, { expectedName: name }).pipe(
        Effect.asVoid,
        Effect.tapError((error) => reportFailure(target.address, name, error))
      )
    })
    forkDial(name, Effect.ignore(Effect.retry(attempt, reconnect)), { onlyIfMissing: true })
  }

  const onLinkEvent = (event: LinkEvent): void => {
    const name = event.node.name
    if (event._tag === "LinkUp") {
      peers.set(name, {
        identity: event.node,
        address: event.address,
        up: false,
        status: "starting",
        lastHeartbeatAt: clock.currentTimeMillisUnsafe(),
        heardAt: timers.now(),
        processCount: 0,
        uptimeMs: 0,
        echo: undefined
      })
      if (event.address !== null) known.set(name, { incarnation: event.node.incarnation, address: event.address })
      departed.delete(name)
      fork(
        Effect.all(
          [
            transport.send(name, Heartbeat.channel, heartbeatFor(peers.get(name))),
            transport.send(name, Gossip.channel, gossip())
          ],
          { discard: true }
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
    peer.lastHeartbeatAt = clock.currentTimeMillisUnsafe()
    peer.heardAt = timers.now()
    if (beat.sentAt !== undefined) peer.echo = { sentAt: beat.sentAt, heardAt: peer.heardAt }
    if (beat.echo !== undefined) {
      const roundTripMs = peer.heardAt - beat.echo.sentAt - beat.echo.heldMs
      Metric.withAttributes(heartbeatRoundTrip, { peer: from.name }).updateUnsafe(
        Math.max(0, roundTripMs) / 1000,
        metricsContext
      )
    }
    if (!peer.up) {
      peer.up = true
      emit(nodeUpOf(peer))
      // Tell everyone else about the newcomer.
      fork(sendAll(Gossip.channel, gossip()))
    }
  }

  const nodeUpOf = (peer: Peer): NodeUp => ({
    _tag: "NodeUp",
    id: peer.identity.name,
    incarnation: peer.identity.incarnation,
    status: peer.status,
    processCount: peer.processCount,
    uptimeMs: peer.uptimeMs + (timers.now() - peer.heardAt)
  })

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
        yield* sendHeartbeats
        yield* sendAll(Gossip.channel, gossip())
        yield* Effect.sleep(timing.heartbeatIntervalMs)
      })
    )
  )

  // Failure detection: any link silent for interval x threshold (monotonic time) is cut.
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.gen(function* () {
        yield* Effect.sleep(Math.max(10, Math.floor(timing.heartbeatIntervalMs / 2)))
        const silent = Heartbeat.silentLinks(yield* transport.links, failureTimeoutMs)
        for (const link of silent) {
          yield* Effect.logWarning(`node "${link.node.name}" silent for more than ${failureTimeoutMs} ms`)
          yield* transport.disconnect(link.node.name, "heartbeat_timeout")
        }
      })
    )
  )

  // Seeds: dial every seed address not already linked, with backoff until linked; then re-resolve
  // every discovery interval, so that nodes appearing later are found.
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
        if (selfAddresses.has(key) || linkedAddresses.has(key) || isRefused(key)) continue
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
              : reportFailure(address, name, error)
          ),
          Effect.ignore
        ),
      { concurrency: "unbounded", discard: true }
    )
  })
  if (seeds.length > 0) {
    const discovery = timing.discoveryIntervalMs
    const untilLinked = Effect.repeat(dialSeeds, {
      schedule: backoff(timing.reconnectBaseDelayMs, Math.min(discovery, timing.reconnectMaxDelayMs)),
      until: () => peers.size > 0
    })
    const whileLinked = Effect.repeat(Effect.andThen(Effect.sleep(discovery), dialSeeds), {
      while: () => peers.size > 0
    })
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(untilLinked, whileLinked)))
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

  /** A stream of the events `select` keeps, starting with `initial()`, registered atomically. */
  const streamOf = <A>(initial: () => ReadonlyArray<A>, select: (event: ClusterEvent) => A | undefined) =>
    Stream.callback<A>((queue) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          for (const value of initial()) Queue.offerUnsafe(queue, value)
          const callback = (event: ClusterEvent) => {
            const value = select(event)
            if (value !== undefined) Queue.offerUnsafe(queue, value)
          }
          callbacks.add(callback)
          return callback
        }),
        (callback) => Effect.sync(() => callbacks.delete(callback))
      )
    )

  const awaitNodes = (names: Iterable<string>, options?: AwaitNodesOptions): Effect.Effect<void, NodesNotUp> =>
    Effect.suspend(() => {
      const wanted = new Set(names)
      // This node is up for itself: a readiness list shared by every node may name it.
      wanted.delete(local.name)
      const missing = new Set(wanted)
      for (const peer of upPeers()) missing.delete(peer.identity.name)
      if (missing.size === 0) return Effect.void
      const wait = Effect.callback<void>((resume) => {
        const callback = (event: ClusterEvent) => {
          if (event._tag === "NodeUp" && missing.delete(event.id) && missing.size === 0) {
            callbacks.delete(callback)
            resume(Effect.void)
          } else if (event._tag === "NodeDown" && wanted.has(event.id)) {
            missing.add(event.id)
          }
        }
        callbacks.add(callback)
        return Effect.sync(() => callbacks.delete(callback))
      })
      if (options?.timeout === undefined) return wait
      const timeoutMs = Timers.toMillis(options.timeout)
      return Effect.timeoutOrElse(wait, {
        duration: Duration.millis(timeoutMs),
        orElse: () => Effect.fail(new NodesNotUp({ missing: [...missing].sort(), timeoutMs }))
      })
    })

  return Cluster.of({
    localNodeId: local.name,
    local,
    transport,
    status: Effect.sync(() => status),
    nodes: Effect.sync(() => {
      const now = timers.now()
      return upPeers().map((peer): NodeInfo => ({
        id: peer.identity.name,
        incarnation: peer.identity.incarnation,
        status: peer.status,
        host: peer.address?.host ?? null,
        port: peer.address?.port ?? null,
        lastHeartbeatAt: peer.lastHeartbeatAt,
        processCount: peer.processCount,
        uptimeMs: peer.uptimeMs + (now - peer.heardAt)
      }))
    }),
    connectedNodeCount: Effect.sync(() => upPeers().length),
    uptimeMs: Effect.sync(() => timers.now() - startedAt),
    subscribe: Effect.map(PubSub.subscribe(events), Stream.fromSubscription),
    events: streamOf(
      () => [],
      (event) => event
    ),
    membership: streamOf(
      () => upPeers().map(nodeUpOf),
      (event) => (event._tag === "NodeUp" || event._tag === "NodeDown" ? event : undefined)
    ),
    awaitNodes,
    onEvent: (callback) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          // A fresh function per registration, so the same callback can be registered twice.
          const registered = (event: ClusterEvent) => callback(event)
          callbacks.add(registered)
          return registered
        }),
        (registered) => Effect.sync(() => callbacks.delete(registered))
      ).pipe(Effect.asVoid),
    countProcesses: (count) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          // A fresh effect per registration, so the same source can be registered twice.
          const source = Effect.suspend(() => count)
          countSources.push(source)
          return source
        }),
        (source) =>
          Effect.sync(() => {
            const at = countSources.lastIndexOf(source)
            if (at >= 0) countSources.splice(at, 1)
          })
      ).pipe(Effect.asVoid)
  })
})

/**
 * Starts a node: a TCP transport from the configuration (TLS-PSK with `secret`, mTLS with `tls`,
 * plain TCP with `insecure: true`) and membership on it. Provides both `Cluster` and `Transport`.
 * Closing the layer leaves the cluster gracefully: status `stopping`, goodbye to every peer (they
 * report `graceful_shutdown`), then `stopped`. Fails with `InvalidClusterConfig` (no security
 * mode or several, an empty secret, a malformed seed) or `ListenFailed`.
 *
 * @example
 * ```ts
 * import { Config, Effect, Layer } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const NodeLive = Cluster.layer({
 *   nodeName: "a",
 *   host: "0.0.0.0",
 *   advertiseHost: "10.0.0.1",
 *   port: 4370,
 *   secret: "s3cret",
 *   seeds: ["otp-headless.default.svc.cluster.local:4370"],
 *   heartbeatInterval: "2 seconds"
 * })
 *
 * // The secret from the environment, kept redacted.
 * const FromEnv = Layer.unwrap(
 *   Effect.map(Config.Redacted("CLUSTER_SECRET"), (secret) => Cluster.layer({ nodeName: "a", secret }))
 * )
 * ```
 *
 * @category layers
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
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Cluster, MemoryNetwork, MemoryTransport } from "effect-otp"
 *
 * const network = MemoryNetwork.make()
 * const NodeA = Cluster.layerOn({ nodeName: "a", insecure: true }).pipe(
 *   Layer.provide(MemoryTransport.layer(network, { name: "a" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerOn = (
  config: ClusterConfig.ClusterConfig
): Layer.Layer<Cluster, ClusterConfig.InvalidClusterConfig, Transport> =>
  Layer.effect(Cluster, make(config, Effect.service(Transport)))

const withCluster = <A, E, R>(f: (cluster: Cluster["Service"]) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.service(Cluster), f)

/**
 * The nodes currently up (linked and heard from), with what their heartbeats report.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const names = Effect.map(Cluster.nodes, (nodes) => nodes.map((node) => node.id))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const nodes: Effect.Effect<ReadonlyArray<NodeInfo>, never, Cluster> = withCluster((cluster) => cluster.nodes)

/**
 * How many nodes are currently up.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const alone = Effect.map(Cluster.connectedNodeCount, (count) => count === 0)
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const connectedNodeCount: Effect.Effect<number, never, Cluster> = withCluster(
  (cluster) => cluster.connectedNodeCount
)

/**
 * This node's status: `starting`, `running`, `stopping`, `stopped`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const running = Effect.map(Cluster.status, (status) => status === "running")
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const status: Effect.Effect<NodeStatus, never, Cluster> = withCluster((cluster) => cluster.status)

/**
 * This node's name and incarnation.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const name = Effect.map(Cluster.localNode, (node) => node.name)
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const localNode: Effect.Effect<NodeIdentity, never, Cluster> = withCluster((cluster) =>
  Effect.succeed(cluster.local)
)

/**
 * Every membership event (`NodeUp`, `NodeDown`, `StatusChanged`, `JoinFailed`) from the moment the
 * stream starts; events before that are not replayed (see {@link membership} for a view that starts
 * with the nodes already up).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const logEvents = Cluster.events.pipe(Stream.runForEach((event) => Effect.log(event._tag)))
 * ```
 *
 * @category streams
 * @since 0.1.0
 */
export const events: Stream.Stream<ClusterEvent, never, Cluster> = Stream.unwrap(
  withCluster((cluster) => Effect.succeed(cluster.events))
)

/**
 * Membership: a `NodeUp` for every node already up when the stream starts, then every `NodeUp`
 * and `NodeDown` as they happen. The snapshot and the subscription are taken together, so no node
 * is missed or reported twice.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const members = new Set<string>()
 * const track = Cluster.membership.pipe(
 *   Stream.runForEach((event) =>
 *     Effect.sync(() => (event._tag === "NodeUp" ? members.add(event.id) : members.delete(event.id)))
 *   )
 * )
 * ```
 *
 * @category streams
 * @since 0.1.0
 */
export const membership: Stream.Stream<NodeUp | NodeDown, never, Cluster> = Stream.unwrap(
  withCluster((cluster) => Effect.succeed(cluster.membership))
)

/**
 * Waits until every node of `names` is up at the same time (at once if they already are). A node
 * that goes down while others are awaited counts as missing again; this node itself counts as up. With `timeout`, fails with
 * `NodesNotUp` naming the nodes still missing; without, waits as long as it takes. Runs on
 * Effect's `Clock`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const program = Effect.gen(function* () {
 *   yield* Cluster.awaitNodes(["b", "c"], { timeout: "30 seconds" })
 *   yield* Effect.log("b and c are up")
 * })
 * ```
 *
 * @category waiting
 * @since 0.1.0
 */
export const awaitNodes = (
  names: Iterable<string>,
  options?: AwaitNodesOptions
): Effect.Effect<void, NodesNotUp, Cluster> => withCluster((cluster) => cluster.awaitNodes(names, options))

/**
 * Calls `callback` synchronously for every membership event, for as long as the scope lives. For
 * state that must see an event the moment it happens; a callback that throws is logged and
 * ignored.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "effect-otp"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     yield* Cluster.onEvent((event) => console.log(event._tag))
 *     yield* Effect.never
 *   })
 * )
 * ```
 *
 * @category streams
 * @since 0.1.0
 */
export const onEvent = (callback: (event: ClusterEvent) => void): Effect.Effect<void, never, Cluster | Scope.Scope> =>
  withCluster((cluster) => cluster.onEvent(callback))
