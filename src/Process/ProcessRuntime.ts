/**
 * The node-local process runtime as a service. Every process operation needs one; two runtimes in
 * one OS process never see each other's processes.
 *
 * The service shows what a user may read about the runtime (the node name, its incarnation, the
 * number of live processes); the process table itself is reached only through the operations of
 * `Process`, `GenServer`, `Registry` and the supervisors.
 *
 * @since 0.1.0
 */
import { randomInt } from "node:crypto"
import { Context, type Duration, Effect, Layer, type Scope } from "effect"
import * as Timers from "../internal/timers.ts"
import type { OverflowPolicy } from "./internal/mailbox.ts"
import { BUSY_SAMPLE_EVERY } from "./internal/processStats.ts"
import { Runtime } from "./internal/runtime.ts"

/**
 * Options of {@link ProcessRuntime.layer} and {@link make}.
 *
 * @example
 * ```ts
 * import { ProcessRuntime } from "effect-otp"
 *
 * const options: ProcessRuntime.ProcessRuntimeOptions = {
 *   node: "a@127.0.0.1",
 *   mailboxCapacity: 1000,
 *   shutdownTimeout: "5 seconds"
 * }
 * const RuntimeLive = ProcessRuntime.layer(options)
 * ```
 *
 * @category options
 * @since 0.1.0
 */
export interface ProcessRuntimeOptions {
  /** The node name that pids carry. Default `nonode@nohost` (a node outside any cluster). */
  readonly node?: string | undefined
  /** The node's incarnation. Default: random, so pids of a previous life are never confused. */
  readonly incarnation?: number | undefined
  /** Default mailbox capacity of a process. Default 10,000 messages. */
  readonly mailboxCapacity?: number | undefined
  /**
   * Default overflow policy: `suspend` (the sender waits for room; default) or `fail` (the send
   * fails with `MailboxFull`).
   */
  readonly overflow?: OverflowPolicy | undefined
  /**
   * How many message hand-overs may nest on one stack before the receiver is instead woken once
   * the stack has unwound (a sender that finds its receiver waiting runs it at once). Default 32.
   */
  readonly maxHandoverDepth?: number | undefined
  /**
   * How long releasing the runtime waits for processes to finish (after signalling `shutdown`)
   * before killing those still running finalizers: a `Duration.Input` (a number is milliseconds).
   * Default 10 seconds. Supervisors stop their trees in order, each child within its own shutdown
   * timeout, before this applies.
   */
  readonly shutdownTimeout?: Duration.Input | undefined
  /**
   * One message in how many has its handler time measured, for the busy share and handler latency
   * the Observer reports (rounded down to a power of two; 0 turns the measurement off, and the
   * Observer then shows a busy share of 0). Each timed message reads the monotonic clock twice.
   * Default 16.
   */
  readonly busySampleEvery?: number | undefined
}

/**
 * The process runtime of this node: its identity and size. Built only by {@link ProcessRuntime.layer}
 * or {@link make} (the operations of the library rely on the runtime behind this interface).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const pid = yield* Process.spawn(() => Effect.log("hello from a process"))
 *   yield* Process.awaitExit(pid)
 *   const runtime = yield* ProcessRuntime.ProcessRuntime
 *   yield* Effect.log(`${runtime.node} runs ${runtime.processCount} processes`)
 * })
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class ProcessRuntime extends Context.Service<
  ProcessRuntime,
  {
    /** The node name the pids of this runtime carry. */
    readonly node: string
    /** The node's incarnation: pids of another incarnation of the same node are known to be dead. */
    readonly incarnation: number
    /** The number of live processes, read when accessed. */
    readonly processCount: number
  }
>()("effect-otp/ProcessRuntime") {
  /**
   * A runtime that lives as long as the layer: releasing the layer stops every process still
   * running (newest first, with reason `shutdown`) and waits for them, at most `shutdownTimeout`.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { Process, ProcessRuntime } from "effect-otp"
   *
   * const RuntimeLive = ProcessRuntime.ProcessRuntime.layer({ node: "a" })
   * const program = Process.spawn(() => Effect.log("hi")).pipe(Effect.provide(RuntimeLive))
   * ```
   *
   * @category layers
   * @since 0.1.0
   */
  static readonly layer = (options?: ProcessRuntimeOptions): Layer.Layer<ProcessRuntime> =>
    Layer.effect(ProcessRuntime, make(options))
}

/**
 * Builds a runtime that lives as long as the scope (see {@link ProcessRuntime.layer}). For layers
 * that compute the node name first (a cluster node takes its name and incarnation from the
 * cluster).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { ProcessRuntime } from "effect-otp"
 *
 * const RuntimeLive = Layer.effect(
 *   ProcessRuntime.ProcessRuntime,
 *   Effect.flatMap(Effect.sync(() => `worker-${process.pid}`), (node) => ProcessRuntime.make({ node }))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: ProcessRuntimeOptions): Effect.Effect<ProcessRuntime["Service"], never, Scope.Scope> =>
  Effect.acquireRelease(
    // The runtime keeps the clock it is built with: every timer on it follows that clock (TestClock).
    Effect.withFiber((fiber) =>
      Effect.succeed(
        new Runtime(
          {
            node: options?.node ?? "nonode@nohost",
            incarnation: options?.incarnation ?? randomInt(1, 2 ** 31),
            mailboxCapacity: options?.mailboxCapacity ?? 10_000,
            overflow: options?.overflow ?? "suspend",
            maxHandoverDepth: options?.maxHandoverDepth ?? 32,
            shutdownTimeoutMs:
              options?.shutdownTimeout === undefined ? 10_000 : Timers.toMillis(options.shutdownTimeout),
            busySampleEvery: options?.busySampleEvery ?? BUSY_SAMPLE_EVERY
          },
          Timers.ofFiber(fiber)
        )
      )
    ),
    (runtime) => runtime.shutdown
  )

/**
 * A process runtime for this node; see {@link ProcessRuntime.layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, ProcessRuntime } from "effect-otp"
 *
 * Effect.runPromise(Process.spawn(() => Effect.log("hi")).pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: ProcessRuntimeOptions): Layer.Layer<ProcessRuntime> => ProcessRuntime.layer(options)
