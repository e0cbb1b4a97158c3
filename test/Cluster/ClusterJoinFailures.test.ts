/**
 * A node that cannot join is told why, on its own side, with real TCP/TLS nodes on loopback: one
 * clear log line (then rarely), a metric by reason, a `JoinFailed` event; a taken name stops the
 * newcomer from dialing that address again. The accepting side's line says what it means too.
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Metric, Scope } from "effect"
import type { ClusterEvent } from "../../src/Cluster/ClusterEvent.ts"
import { protocolVersion } from "../../src/Transport/Frame.ts"
import { awaitNodesUp, tcpClusterNode } from "../support/clusterHarness.ts"
import { fakePeer, helloFrom } from "../support/fakePeer.ts"
import { eventually, LogCapture } from "../support/transportHarness.ts"

type JoinFailed = Extract<ClusterEvent, { _tag: "JoinFailed" }>

/** A node with its own log capture and metric registry. */
const node = (config: Parameters<typeof tcpClusterNode>[0]) =>
  Effect.gen(function* () {
    const logs = new LogCapture()
    const registry: Metric.MetricRegistry = new Map()
    const cluster = yield* tcpClusterNode(config).pipe(
      Effect.provide(logs.layer),
      Effect.provideService(Metric.MetricRegistry, registry)
    )
    const failures: Array<JoinFailed> = []
    const waiters: Array<{ count: number; reason: string; done: Deferred.Deferred<void> }> = []
    yield* cluster.onEvent((event) => {
      if (event._tag !== "JoinFailed") return
      failures.push(event)
      for (const waiter of waiters) {
        if (failures.filter((failure) => failure.reason === waiter.reason).length >= waiter.count) {
          Deferred.doneUnsafe(waiter.done, Effect.void)
        }
      }
    })
    /** Waits until `count` failures with `reason` were published. */
    const awaitFailures = (reason: JoinFailed["reason"], count: number, ms = 10_000) =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<void>()
        waiters.push({ count, reason, done })
        if (failures.filter((failure) => failure.reason === reason).length >= count)
          yield* Deferred.succeed(done, void 0)
        yield* Effect.timeout(Deferred.await(done), ms)
      })
    /** The value of `otp_cluster_join_failures_total{reason}` in this node's registry. */
    const failureCount = (reason: string) =>
      Effect.sync(() => {
        let count = 0
        for (const metric of registry.values()) {
          if (metric.id === "effect_otp_cluster_join_failures_total" && metric.attributes?.["reason"] === reason) {
            count += (metric.hooks.get(Context.empty()) as { readonly count: number }).count
          }
        }
        return count
      })
    return { cluster, logs, failures, awaitFailures, failureCount }
  })

const matching = (logs: LogCapture, pattern: RegExp) => logs.lines.filter((line) => pattern.test(line))

/** A loopback port nothing listens on. */
const closedPort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const server = Net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        server.close(() => resolve(port))
      })
    })
)

describe("a node that cannot join is told why", () => {
  it.live(
    "a wrong secret: the joining node logs that the secret differs (once), counts it, backs off and retries; the accepting node says what it means",
    () =>
      Effect.gen(function* () {
        const a = yield* node({ nodeName: "a", secret: "the-cluster-secret" })
        const seed = `a@127.0.0.1:${a.cluster.transport.address.port}`
        const b = yield* node({ nodeName: "b", secret: "another-secret", seeds: [seed] })
        yield* b.awaitFailures("authentication_failed", 4)
        const joining = matching(b.logs, /cannot join the cluster/)
        assert.lengthOf(joining, 1, `logged once, not per attempt: ${joining.join("\n")}`)
        // OpenSSL names the alert by its own version: "sslv3 alert" (Node 20), "ssl/tls alert" (Node 22).
        assert.match(
          joining[0]!,
          /^Error: cannot join the cluster through node "a" at 127\.0\.0\.1:\d+ \(authentication_failed: TLS handshake failed \((?:sslv3|ssl\/tls) alert bad record mac\)\): the node there most likely has a different cluster secret: check that every node uses the same secret \(CLUSTER_SECRET\)\. Retrying with backoff$/
        )
        assert.isAtLeast(yield* b.failureCount("authentication_failed"), 4)
        assert.isTrue(b.failures.every((failure) => failure.retrying && failure.target === seed))
        const refused = matching(a.logs, /refused TLS connection/)
        assert.lengthOf(refused, 1, `logged once per host and reason: ${refused.join("\n")}`)
        assert.match(
          refused[0]!,
          /^Warn: refused TLS connection from 127\.0\.0\.1:\d+: its TLS handshake failed \(decryption failed or bad record mac\): the other node most likely has a different cluster secret; check that every node uses the same one$/
        )
        assert.strictEqual(yield* b.cluster.connectedNodeCount, 0)
      })
  )

  it.live(
    "a taken name: the newcomer logs that its name is taken, stops dialing that node, and the accepting node says why it refused",
    () =>
      Effect.gen(function* () {
        const a = yield* node({ nodeName: "a" })
        const seed = `a@127.0.0.1:${a.cluster.transport.address.port}`
        const b = yield* node({ nodeName: "b", seeds: [seed] })
        yield* awaitNodesUp(a.cluster, ["b"])
        // A second "b": its other seed is unreachable, so its seed rounds go on and can be counted.
        const ghost = `ghost@127.0.0.1:${yield* closedPort}`
        // A long reconnect delay: the refusal's hold outlasts the test.
        const newcomer = yield* node({ nodeName: "b", seeds: [seed, ghost], reconnectMaxDelay: "1 minute" })
        yield* newcomer.awaitFailures("duplicate_name", 1)
        yield* newcomer.awaitFailures("unreachable", 4)
        const taken = newcomer.failures.filter((failure) => failure.reason === "duplicate_name")
        assert.lengthOf(taken, 1, "the node that refused the name is not dialed again during the hold")
        assert.strictEqual(taken[0]!.retrying, false)
        assert.strictEqual(taken[0]!.target, seed)
        const lines = matching(newcomer.logs, /duplicate_name/)
        assert.lengthOf(lines, 1)
        assert.match(
          lines[0]!,
          /^Error: cannot join the cluster through node "a" at 127\.0\.0\.1:\d+ \(duplicate_name: node "b" is already connected \(incarnation \d+\); refusing a second live node with that name \(incarnation \d+\)\): this node's name "b" is already taken by a live node of the cluster \(its link answered; a previous incarnation of this node whose link is silent would have been replaced\)\. This node tries that address again only after 60000 ms: give every node a unique name \(NODE_NAME\)$/
        )
        assert.strictEqual(yield* newcomer.failureCount("duplicate_name"), 1)
        const refused = matching(a.logs, /refused node "b"/)
        assert.lengthOf(refused, 1)
        assert.match(
          refused[0]!,
          /^Warn: refused node "b" at 127\.0\.0\.1:\d+: its name is already taken by a live node \(node "b" is already connected .*\)\. Two live nodes cannot share a name: give every node a unique name \(duplicate_name\)$/
        )
        // The first "b" is still the member.
        const members = yield* a.cluster.nodes
        assert.deepStrictEqual(
          members.map((member) => member.incarnation),
          [b.cluster.local.incarnation]
        )
      })
  )

  it.live("a newcomer refused for its name joins once the node that held the name has left", () =>
    Effect.gen(function* () {
      const a = yield* node({ nodeName: "a" })
      const seed = `a@127.0.0.1:${a.cluster.transport.address.port}`
      const scopeOfFirst = yield* Scope.make()
      yield* node({ nodeName: "b", seeds: [seed] }).pipe(Scope.provide(scopeOfFirst))
      yield* awaitNodesUp(a.cluster, ["b"])
      const newcomer = yield* node({ nodeName: "b", seeds: [seed] })
      yield* newcomer.awaitFailures("duplicate_name", 1)
      // The first "b" leaves; after the hold, the newcomer dials its seed again and joins.
      yield* Scope.close(scopeOfFirst, Exit.void)
      yield* awaitNodesUp(newcomer.cluster, ["a"])
      const members = yield* eventually(a.cluster.nodes, (nodes) => nodes.length === 1)
      assert.deepStrictEqual(
        members.map((member) => member.incarnation),
        [newcomer.cluster.local.incarnation]
      )
    })
  )

  it.live("an incompatible protocol version: the joining node says so; the accepting node too", () =>
    Effect.gen(function* () {
      const secret = "the-cluster-secret"
      const future = yield* fakePeer(secret, () => ({
        _tag: "Reject",
        reason: "version_mismatch",
        message: `it speaks protocol ${protocolVersion}, node "future" speaks protocol ${protocolVersion + 1}`,
        node: null
      }))
      const b = yield* node({ nodeName: "b", secret, seeds: [`future@127.0.0.1:${future.port}`] })
      yield* b.awaitFailures("version_mismatch", 2)
      const lines = matching(b.logs, /cannot join the cluster/)
      assert.lengthOf(lines, 1)
      assert.match(
        lines[0]!,
        /^Error: cannot join the cluster through node "future" at 127\.0\.0\.1:\d+ \(version_mismatch: it speaks protocol \d+, node "future" speaks protocol \d+\): the node there speaks an incompatible version of the cluster protocol: run a compatible version of effect-otp on every node\. Retrying with backoff$/
      )
      assert.strictEqual(future.hellos[0]!["version"], protocolVersion)

      const a = yield* node({ nodeName: "a", secret })
      yield* helloFrom(a.cluster.transport.address.port, secret, "old", protocolVersion + 1)
      const refused = yield* a.logs.awaitLine(/refused node "old"/)
      assert.match(
        refused,
        /^Warn: refused node "old" at 127\.0\.0\.1:\d+: it speaks another version of the cluster protocol \(it speaks protocol \d+, node "a" speaks protocol \d+\)\. Every node must run a compatible version of effect-otp \(version_mismatch\)$/
      )
    })
  )
})
