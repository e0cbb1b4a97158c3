/**
 * The protocol of `clockNodeProcess.ts` (a node in a child OS process whose clocks a test reads or
 * moves) and the parent's helpers: spawning it, optionally under libfaketime.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Effect, Schema } from "effect"
import { Pid, Protocol } from "../../src/index.ts"
import { ChildProgram } from "./childNode.ts"

export const ClockProbe = Protocol.make({
  /** The server's wall clock (`Date.now()`) and monotonic clock (`performance.now()`). */
  Now: Protocol.call({ success: Schema.Struct({ wall: Schema.Number, monotonic: Schema.Number }) }),
  /** Keeps the server's event loop busy for `ms` milliseconds, then answers. */
  Spin: Protocol.call({ payload: { ms: Schema.Number }, success: Schema.Number })
})

export interface ClockNodeReady {
  readonly _tag: "Ready"
  readonly port: number
  readonly node: string
  readonly incarnation: number
  /** The "clock" server's pid as { node, id, incarnation }. */
  readonly server: { readonly node: string; readonly id: number; readonly incarnation: number }
  readonly at: number
}

/** The events a clock node prints: `Ready`, then every cluster event (`NodeUp`, `NodeDown`, ...). */
export interface ClockNodeEvent {
  readonly _tag: string
  readonly id?: string
  readonly reason?: string
  readonly incarnation?: number
  readonly at: number
}

const script = Path.join(import.meta.dirname, "clockNodeProcess.ts")

const faketimeCandidates = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/faketime/libfaketime.so.1",
  "/usr/local/lib/faketime/libfaketime.so.1"
]

/** The libfaketime library of this machine (Debian package `libfaketime`), if installed. */
export const libfaketime: string | undefined = faketimeCandidates.find((path) => Fs.existsSync(path))

/**
 * The environment that runs a child under libfaketime with its wall clock at the offset written in
 * `timestampFile` (e.g. `+5` or `-3600` seconds, re-read on every reading of the clock), and its
 * monotonic clock left alone, as an NTP step or a manual `date -s` would.
 */
export const faketimeEnv = (timestampFile: string): Record<string, string> => ({
  LD_PRELOAD: libfaketime!,
  FAKETIME_TIMESTAMP_FILE: timestampFile,
  FAKETIME_NO_CACHE: "1",
  FAKETIME_DONT_FAKE_MONOTONIC: "1"
})

export interface ClockNodeOptions {
  readonly name: string
  readonly port?: number
  readonly seeds?: ReadonlyArray<string>
  readonly heartbeatIntervalMs: number
  readonly env?: Readonly<Record<string, string>>
}

/** Spawns a clock node in the current scope (always killed when the scope closes); waits until it is ready. */
export const clockNode = (options: ClockNodeOptions) =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new ChildProgram<ClockNodeEvent>(
            script,
            [
              options.name,
              String(options.port ?? 0),
              (options.seeds ?? []).join(","),
              String(options.heartbeatIntervalMs)
            ],
            options.env
          )
      ),
      (child) => Effect.promise(() => child.stop())
    )
    const ready = (yield* child.awaitEvent((event) => event._tag === "Ready", 20_000, 0, "Ready")) as ClockNodeReady
    const server = Pid.make(ready.server.node, ready.server.id, ready.server.incarnation)
    return { child, ready, server }
  })
