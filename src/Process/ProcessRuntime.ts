/**
 * The node-local process runtime as a service. Every process operation needs one; two runtimes in
 * one OS process never see each other's processes.
 *
 * @since 0.1.0
 */
import { randomInt } from "node:crypto"
import { Context, Effect, Layer, type Scope } from "effect"
import * as Timers from "../internal/timers.ts"
import type { OverflowPolicy } from "./internal/mailbox.ts"
import { Runtime } from "./internal/runtime.ts"

/**
 * Options of {@link ProcessRuntime.layer}.
 *
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
   * How many message hand-overs may nest on one stack before the receiver is resumed from a
   * macrotask instead (a sender that finds its receiver waiting runs it at once). Default 32.
   */
  readonly maxHandoverDepth?: number | undefined
  /**
   * How long releasing the runtime waits for processes to finish (after signalling `shutdown`)
   * before killing those still running finalizers. Default 10,000 ms. Supervisors stop their
   * trees in order, each child within its own shutdown timeout, before this applies.
   */
  readonly shutdownTimeoutMs?: number | undefined
}

/**
 * The process runtime of this node: the process table, names, monitors and timers.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, ProcessRuntime } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const pid = yield* Process.spawn(() => Effect.log("hello from a process"))
 *   yield* Process.awaitExit(pid)
 * })
 * Effect.runPromise(program.pipe(Effect.provide(ProcessRuntime.layer())))
 * ```
 *
 * @since 0.1.0
 */
export class ProcessRuntime extends Context.Service<ProcessRuntime, Runtime>()("effect-otp/ProcessRuntime") {
  /**
   * A runtime that lives as long as the layer: releasing the layer stops every process still
   * running (newest first, with reason `shutdown`) and waits for them.
   *
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
 * @since 0.1.0
 */
export const make = (options?: ProcessRuntimeOptions): Effect.Effect<Runtime, never, Scope.Scope> =>
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
            shutdownTimeoutMs: options?.shutdownTimeoutMs ?? 10_000
          },
          Timers.ofFiber(fiber)
        )
      )
    ),
    (runtime) => runtime.shutdown
  )

/**
 * The runtime service type.
 *
 * @since 0.1.0
 */
export type { Runtime }

/**
 * A process runtime for this node; see {@link ProcessRuntime.layer}.
 *
 * @since 0.1.0
 */
export const layer = (options?: ProcessRuntimeOptions): Layer.Layer<ProcessRuntime> => ProcessRuntime.layer(options)
