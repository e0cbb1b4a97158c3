/**
 * Helpers for the package tests: commands in child processes that are killed (with their whole
 * process group) when the effect is interrupted or times out, and temporary directories removed
 * when their scope closes.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import type { Scope } from "effect"

/** The repository's root directory. */
export const root = Path.resolve(import.meta.dirname, "../..")

export interface CommandResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * The environment for nested npm and node commands: without the `npm_*` variables that `npm test`
 * sets for its own script (they would make a nested npm act on this repository's configuration).
 */
export const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== "INIT_CWD") env[key] = value
  }
  return { ...env, ...extra }
}

/** The directory of the node binary running this test, first on PATH so that npm runs the same node. */
const nodeBin = Path.dirname(process.execPath)

/**
 * Runs `command args` in `cwd` and returns its exit code and output. It fails if the command does not
 * end within `timeoutMs`; when interrupted (timeout or a failing test) the command's process group is
 * killed.
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly timeoutMs: number; readonly env?: Record<string, string> }
): Effect.Effect<CommandResult, Error> =>
  Effect.callback<CommandResult, Error>((resume) => {
    const env = cleanEnv(options.env)
    env["PATH"] = `${nodeBin}${Path.delimiter}${env["PATH"] ?? ""}`
    const child = spawn(command, args, { cwd: options.cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("error", (error) => resume(Effect.fail(new Error(`${command}: ${error.message}`))))
    child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL")
        } catch {
          // already gone
        }
      }
    })
  }).pipe(
    Effect.timeoutOrElse({
      duration: options.timeoutMs,
      orElse: () => Effect.fail(new Error(`${command} ${args.join(" ")}: no exit within ${options.timeoutMs} ms`))
    })
  )

/** Like `run`, but fails with the command's output unless it exits with status 0. */
export const runOk = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly timeoutMs: number; readonly env?: Record<string, string> }
): Effect.Effect<CommandResult, Error> =>
  Effect.flatMap(run(command, args, options), (result) =>
    result.code === 0
      ? Effect.succeed(result)
      : Effect.fail(
          new Error(
            `${command} ${args.join(" ")} exited with ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
          )
        )
  )

/** A new temporary directory, removed with everything in it when the scope closes. */
export const tempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
