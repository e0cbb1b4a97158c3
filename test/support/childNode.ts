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

/**
 * A TypeScript program (a node of some kind) in a child OS process, printing `EVENT {json}` lines on
 * stdout. Its stdin is a pipe the child may watch to leave when this process dies; the end of its
 * stderr is kept for failure messages.
 */
export class ChildProgram<Event extends { readonly _tag: string } = ChildEvent> {
  readonly events: Array<Event> = []
  private waiters: Array<{ predicate: (event: Event) => boolean; wake: (event: Event) => void }> = []
  private stderrTail = ""
  readonly process: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor(script: string, args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv) {
    this.process = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      ...(env === undefined ? {} : { env })
    })
    this.process.stdin!.on("error", () => {})
    this.exited = new Promise((resolve) => this.process.once("exit", (code, signal) => resolve({ code, signal })))
    let buffered = ""
    this.process.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      for (const line of lines) {
        if (!line.startsWith("EVENT ")) continue
        const event = JSON.parse(line.slice(6)) as Event
        this.events.push(event)
        // Update the list before waking: a woken waiter may register a new one synchronously.
        const woken = this.waiters.filter((waiter) => waiter.predicate(event))
        this.waiters = this.waiters.filter((waiter) => !woken.includes(waiter))
        for (const waiter of woken) waiter.wake(event)
      }
    })
    this.process.stderr!.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000)
    })
  }

  /**
   * Waits for an event (already received or future) matching `predicate`; fails with the child's
   * stderr if it exits first or nothing matches within `ms`.
   */
  awaitEvent(predicate: (event: Event) => boolean, ms = 10000, from = 0, what = "event") {
    return Effect.callback<Event, Error>((resume) => {
      const found = this.events.slice(from).find(predicate)
      if (found !== undefined) return resume(Effect.succeed(found))
      const waiter = { predicate, wake: (event: Event) => resume(Effect.succeed(event)) }
      this.waiters.push(waiter)
      void this.exited.then(({ code, signal }) =>
        resume(Effect.fail(new Error(`${what}: the child exited (${code ?? signal}); stderr: ${this.stderrTail}`)))
      )
      return Effect.sync(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
      })
    }).pipe(
      Effect.timeout(ms),
      Effect.mapError((error) =>
        error instanceof Error
          ? error
          : new Error(
              `${what}: not seen within ${ms} ms; events: ${JSON.stringify(this.events)}; stderr: ${this.stderrTail}`
            )
      )
    )
  }

  signal(signal: NodeJS.Signals): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal)
  }

  /** Kills the process (resuming it first if stopped) and waits for its exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.signal("SIGCONT")
    this.signal("SIGKILL")
    return this.exited
  }
}

/** A cluster node (`clusterNodeProcess.ts`) in a child OS process. */
export class ChildNode extends ChildProgram {
  constructor(name: string, port: number, seeds: ReadonlyArray<string>, heartbeatIntervalMs: number) {
    super(Path.join(import.meta.dirname, "clusterNodeProcess.ts"), [
      name,
      String(port),
      seeds.join(","),
      String(heartbeatIntervalMs)
    ])
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
