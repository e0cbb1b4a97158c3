/**
 * Parent side of the multi-process tests: spawns `clusterNodeProcess.ts` and waits on its events.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as Path from "node:path"
import { Effect } from "effect"

export interface ChildEvent {
  readonly _tag: string
  readonly id?: string
  readonly reason?: string
  readonly incarnation?: number
  readonly port?: number
  readonly at: number
}

const script = Path.join(import.meta.dirname, "clusterNodeProcess.ts")

/** A cluster node running in a child OS process. */
export class ChildNode {
  readonly events: Array<ChildEvent> = []
  private waiters: Array<{ predicate: (event: ChildEvent) => boolean; wake: (event: ChildEvent) => void }> = []
  readonly process: ChildProcess
  readonly exited: Promise<void>

  constructor(name: string, port: number, seeds: ReadonlyArray<string>, heartbeatIntervalMs: number) {
    this.process = spawn(
      process.execPath,
      ["--import", "tsx", script, name, String(port), seeds.join(","), String(heartbeatIntervalMs)],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    this.exited = new Promise((resolve) => this.process.once("exit", () => resolve()))
    let buffered = ""
    this.process.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      for (const line of lines) {
        if (!line.startsWith("EVENT ")) continue
        const event = JSON.parse(line.slice(6)) as ChildEvent
        this.events.push(event)
        // Update the list before waking: a woken waiter may register a new one synchronously.
        const woken = this.waiters.filter((waiter) => waiter.predicate(event))
        this.waiters = this.waiters.filter((waiter) => !woken.includes(waiter))
        for (const waiter of woken) waiter.wake(event)
      }
    })
  }

  /** Waits for an event (already received or future) matching `predicate`. */
  awaitEvent(predicate: (event: ChildEvent) => boolean, ms = 10000, from = 0, what = "event") {
    return Effect.callback<ChildEvent>((resume) => {
      const found = this.events.slice(from).find(predicate)
      if (found !== undefined) return resume(Effect.succeed(found))
      const waiter = { predicate, wake: (event: ChildEvent) => resume(Effect.succeed(event)) }
      this.waiters.push(waiter)
      return Effect.sync(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
      })
    }).pipe(
      Effect.timeout(ms),
      Effect.mapError(() => new Error(`${what}: not seen within ${ms} ms; events: ${JSON.stringify(this.events)}`))
    )
  }

  signal(signal: NodeJS.Signals): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal)
  }

  /** Kills the process (resuming it first if stopped) and waits for its exit. */
  stop(): Promise<void> {
    this.signal("SIGCONT")
    this.signal("SIGKILL")
    return this.exited
  }
}

/** Spawns a child node in the current scope (killed when the scope closes) and waits until it is ready. */
export const childNode = (name: string, port: number, seeds: ReadonlyArray<string>, heartbeatIntervalMs: number) =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => new ChildNode(name, port, seeds, heartbeatIntervalMs)),
      (child) => Effect.promise(() => child.stop())
    )
    const ready = yield* child.awaitEvent((event) => event._tag === "Ready", 20000)
    return { child, port: ready.port!, incarnation: ready.incarnation! }
  })
