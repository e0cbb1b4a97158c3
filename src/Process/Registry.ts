/**
 * Local process registries: unique names (`register` / `whereis`, usable wherever a pid is), and
 * duplicate-key registries for local pub/sub and dispatch. Entries are removed automatically when
 * their process exits: a name is free again by the time the process's monitors fire.
 *
 * Names are local to a node's runtime: another node reaches a name through
 * `RemoteName.make(name, node)`. A name is resolved each time it is used, so a message sent to a
 * name after its process was restarted reaches the new process.
 *
 * @since 0.1.0
 */
import { Effect, type Fiber, Option } from "effect"
import { NameTaken, NoProcess, NotAProcess } from "./Errors.ts"
import type { Cell } from "./internal/cell.ts"
import type { Runtime } from "./internal/runtime.ts"
import type { Pid } from "./Pid.ts"
import type { ProcessRuntime } from "./ProcessRuntime.ts"
import { withRuntime } from "./internal/context.ts"

/**
 * Registers `pid` (default: the current process) under a unique local name (Erlang's
 * `register/2`). A process holds at most one name; the name is released when the process exits.
 * Fails with `NameTaken` when another live process holds the name or the process already has
 * another one, `NoProcess` when `pid` is not alive, `NotAProcess` without `pid` outside a process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, Registry } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const pid = yield* Process.spawn((self) => self.receive)
 *   yield* Registry.register("worker", pid)
 *   yield* Process.send("worker", "hello")
 * })
 * ```
 *
 * @category unique names
 * @since 0.1.0
 */
export const register = (
  name: string,
  pid?: Pid
): Effect.Effect<void, NameTaken | NoProcess | NotAProcess, ProcessRuntime> =>
  withRuntime((runtime, fiber) => {
    const cell = pid === undefined ? runtime.current(fiber) : runtime.lookup(pid)
    if (cell === undefined || !cell.alive) {
      return pid === undefined
        ? Effect.fail(new NotAProcess({ operation: "register" }))
        : Effect.fail(new NoProcess({ target: String(pid) }))
    }
    const conflict = runtime.register(name, cell)
    return conflict === undefined ? Effect.void : Effect.fail(conflict)
  })

/**
 * Releases a name, whoever holds it (Erlang's `unregister/1`). Resolves to whether it was
 * registered. The process keeps running, without a name.
 *
 * @category unique names
 * @since 0.1.0
 */
export const unregister = (name: string): Effect.Effect<boolean, never, ProcessRuntime> =>
  withRuntime((runtime) => Effect.succeed(runtime.unregister(name)))

/**
 * The pid registered under `name` on this node, if any (Erlang's `whereis/1`).
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Process, Registry } from "effect-otp"
 *
 * const notify = (message: string) =>
 *   Effect.flatMap(Registry.whereis("notifier"), (pid) =>
 *     Option.isSome(pid) ? Process.send(pid.value, message) : Effect.logWarning("no notifier running")
 *   )
 * ```
 *
 * @category unique names
 * @since 0.1.0
 */
export const whereis = (name: string): Effect.Effect<Option.Option<Pid>, never, ProcessRuntime> =>
  withRuntime((runtime) => {
    const cell = runtime.resolve(name)
    return Effect.succeed(cell === undefined ? Option.none() : Option.some(cell.pid))
  })

/**
 * All names registered on this node (Erlang's `registered/0`).
 *
 * @category unique names
 * @since 0.1.0
 */
export const registered: Effect.Effect<ReadonlyArray<string>, never, ProcessRuntime> = withRuntime((runtime) =>
  Effect.succeed(Array.from(runtime.registeredNames(), ([name]) => name))
)

/**
 * A registry where many processes may register under the same key, each with a value: local
 * pub/sub (`dispatch` to every subscriber of a topic) and dispatch tables. A process's entries are
 * removed when it exits. Create one per use with {@link makeDuplicate}.
 *
 * @category duplicate keys
 * @since 0.1.0
 */
export interface DuplicateRegistry<K, V> {
  /** Registers `pid` (default: the current process) under `key` with `value`. */
  readonly register: (key: K, value: V, pid?: Pid) => Effect.Effect<void, NoProcess | NotAProcess, ProcessRuntime>
  /** Removes every entry of `pid` (default: the current process) under `key`. */
  readonly unregister: (key: K, pid?: Pid) => Effect.Effect<void, NotAProcess, ProcessRuntime>
  /** The processes registered under `key`, with their values, in registration order. */
  readonly lookup: (key: K) => Effect.Effect<ReadonlyArray<readonly [Pid, V]>>
  /** The keys `pid` is registered under. */
  readonly keysOf: (pid: Pid) => Effect.Effect<ReadonlyArray<K>>
  /** Runs `f` for every entry under `key` (for example, sends each subscriber a message). */
  readonly dispatch: <A, E, R>(key: K, f: (pid: Pid, value: V) => Effect.Effect<A, E, R>) => Effect.Effect<void, E, R>
  /** Number of entries under `key`. */
  readonly count: (key: K) => Effect.Effect<number>
}

interface Entries<K, V> {
  /** Entries per key, in registration order. */
  readonly byKey: Map<K, Map<Cell, V>>
  /** Keys per process, with the hook that removes them on exit. */
  readonly byCell: Map<Cell, { readonly keys: Set<K>; readonly stopWatching: () => void }>
}

const removeCell = <K, V>(entries: Entries<K, V>, cell: Cell, onlyKey?: K): void => {
  const record = entries.byCell.get(cell)
  if (record === undefined) return
  for (const key of record.keys) {
    if (onlyKey !== undefined && key !== onlyKey) continue
    const members = entries.byKey.get(key)
    members?.delete(cell)
    if (members?.size === 0) entries.byKey.delete(key)
    record.keys.delete(key)
  }
  if (record.keys.size === 0) {
    record.stopWatching()
    entries.byCell.delete(cell)
  }
}

const resolveCell = (runtime: Runtime, fiber: Fiber.Fiber<unknown, unknown>, pid?: Pid) =>
  pid === undefined ? runtime.current(fiber) : runtime.lookup(pid)

/**
 * Creates a duplicate-key registry bound to this node's runtime (Elixir's
 * `Registry.start_link(keys: :duplicate)`). Keys are compared with `===` (as `Map` keys).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Process, Registry } from "effect-otp"
 *
 * const program = Effect.gen(function*() {
 *   const topics = yield* Registry.makeDuplicate<string, { since: number }>()
 *   const subscriber = yield* Process.spawn((self) => self.receive)
 *   yield* topics.register("news", { since: 2024 }, subscriber)
 *   yield* topics.dispatch("news", (pid) => Process.send(pid, "extra!"))
 * })
 * ```
 *
 * @category duplicate keys
 * @since 0.1.0
 */
export const makeDuplicate = <K, V>(): Effect.Effect<DuplicateRegistry<K, V>, never, ProcessRuntime> =>
  withRuntime((runtime) => {
    const entries: Entries<K, V> = { byKey: new Map(), byCell: new Map() }
    const snapshot = (key: K): ReadonlyArray<readonly [Pid, V]> =>
      Array.from(entries.byKey.get(key) ?? [], ([cell, value]) => [cell.pid, value] as const)
    const registry: DuplicateRegistry<K, V> = {
      register: (key, value, pid) =>
        withRuntime((rt, fiber) => {
          const cell = resolveCell(rt, fiber, pid)
          if (cell === undefined || !cell.alive) {
            return pid === undefined
              ? Effect.fail(new NotAProcess({ operation: "DuplicateRegistry.register" }))
              : Effect.fail(new NoProcess({ target: String(pid) }))
          }
          let record = entries.byCell.get(cell)
          if (record === undefined) {
            record = { keys: new Set(), stopWatching: runtime.watchExit(cell, () => removeCell(entries, cell)) }
            entries.byCell.set(cell, record)
          }
          record.keys.add(key)
          let members = entries.byKey.get(key)
          if (members === undefined) entries.byKey.set(key, (members = new Map()))
          members.set(cell, value)
          return Effect.void
        }),
      unregister: (key, pid) =>
        withRuntime((rt, fiber) => {
          const cell = resolveCell(rt, fiber, pid)
          if (cell === undefined) {
            return pid === undefined
              ? Effect.fail(new NotAProcess({ operation: "DuplicateRegistry.unregister" }))
              : Effect.void
          }
          removeCell(entries, cell, key)
          return Effect.void
        }),
      lookup: (key) => Effect.sync(() => snapshot(key)),
      keysOf: (pid) =>
        Effect.sync(() => {
          const cell = runtime.lookup(pid)
          const record = cell === undefined ? undefined : entries.byCell.get(cell)
          return record === undefined ? [] : [...record.keys]
        }),
      dispatch: (key, f) =>
        Effect.suspend(() => Effect.forEach(snapshot(key), ([pid, value]) => f(pid, value), { discard: true })),
      count: (key) => Effect.sync(() => entries.byKey.get(key)?.size ?? 0)
    }
    return Effect.succeed(registry)
  })
