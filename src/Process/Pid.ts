/**
 * Process identifiers: serialisable values naming one process of one node's life.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { trusted } from "./internal/trusted.ts"

/**
 * The identifier of a process: the node it lives on, a number unique on that node, and the
 * node's incarnation (a node that restarts gets a new incarnation, so pids of its previous life
 * are known to be dead). A `Pid` is a plain serialisable value: it can be stored, compared with
 * {@link equals} and sent to other nodes. It prints like `<node.id.incarnation>`.
 *
 * @example
 * ```ts
 * import { Pid } from "effect-otp"
 *
 * const pid = Pid.make("a@127.0.0.1", 7, 1)
 * console.log(String(pid)) // <a@127.0.0.1.7.1>
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class Pid extends Schema.Class<Pid>("effect-otp/Pid")({
  node: Schema.String,
  id: Schema.Number,
  incarnation: Schema.Number
}) {
  /** `<node.id.incarnation>`, like Erlang's `<0.42.0>`. */
  override toString(): string {
    return `<${this.node}.${this.id}.${this.incarnation}>`
  }
  /** Same as {@link toString}, so pids read well in logs and JSON. */
  toJSON(): string {
    return this.toString()
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString()
  }
}

/**
 * Builds a pid from trusted parts. Used by the runtime, which spawns processes far faster than
 * schema validation allows (validated construction costs ~4 µs; this costs ~0.2 µs). Values
 * arriving from outside go through the `Pid` schema instead. A pid made up this way names a process
 * only if the runtime of that node gave it out.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (node: string, id: number, incarnation: number): Pid => trusted(Pid, { node, id, incarnation })

/**
 * Whether two pids name the same process (same node, id and incarnation). Use it rather than
 * `===`: a pid that crossed nodes or was decoded is a different object.
 *
 * @example
 * ```ts
 * import { Pid } from "effect-otp"
 *
 * console.log(Pid.equals(Pid.make("a", 7, 1), Pid.make("a", 7, 1))) // true
 * ```
 *
 * @category predicates
 * @since 0.1.0
 */
export const equals = (a: Pid, b: Pid): boolean => a.id === b.id && a.incarnation === b.incarnation && a.node === b.node

/**
 * Whether a value is a {@link Pid} instance (a pid that arrived from another node inside a plain
 * message is a plain object: decode it with the `Pid` schema first).
 *
 * @category predicates
 * @since 0.1.0
 */
export const isPid = (u: unknown): u is Pid => u instanceof Pid
