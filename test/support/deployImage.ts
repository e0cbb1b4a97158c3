/**
 * The container image, without Docker: a directory laid out as deploy/docker/Dockerfile's runtime
 * stage lays out /app (dist/ compiled by `tsc -p tsconfig.dist.json`, as `npm run build` does; the
 * package.json; node_modules with the lock's production packages only, as `npm ci --omit=dev`
 * installs them), and its processes: the image's CMD run in that directory with exactly the
 * environment the image and a compose service or pod declare (see `containerEnv`).
 */
import { execFile, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { root } from "./deployFiles.ts"

/** A temporary copy of the image's /app. */
export interface ImageLayout {
  readonly dir: string
  readonly remove: () => void
}

/** Links (or, across file systems, copies) a directory tree. */
const linkTree = (from: string, to: string): void => {
  Fs.mkdirSync(to, { recursive: true })
  for (const entry of Fs.readdirSync(from, { withFileTypes: true })) {
    const source = Path.join(from, entry.name)
    const target = Path.join(to, entry.name)
    if (entry.isDirectory()) linkTree(source, target)
    else if (entry.isSymbolicLink()) Fs.symlinkSync(Fs.readlinkSync(source), target)
    else {
      try {
        Fs.linkSync(source, target)
      } catch {
        Fs.copyFileSync(source, target)
      }
    }
  }
}

/** The lock's production packages (`npm ci --omit=dev`): every entry not marked dev, that is installed here. */
export const productionPackages = (): Array<string> => {
  const lock = JSON.parse(Fs.readFileSync(Path.join(root, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean }>
  }
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith("node_modules/") && entry.dev !== true)
    .map(([path]) => path)
    .filter((path) => !path.slice("node_modules/".length).includes("/node_modules/")) // nested ones come with their parent
    .filter((path) => Fs.existsSync(Path.join(root, path))) // optional packages of other platforms
}

/** Builds the image layout in a temporary directory (about 20-30 s: the TypeScript build). */
export const buildImageLayout = async (): Promise<ImageLayout> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-otp-image-"))
  // Readable by the image's unprivileged user, writable by its owner only (as root owns /app).
  Fs.chmodSync(dir, 0o755)
  const remove = () => Fs.rmSync(dir, { recursive: true, force: true })
  try {
    const tsc = Path.join(root, "node_modules/typescript/bin/tsc")
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        [tsc, "-p", Path.join(root, "tsconfig.dist.json"), "--outDir", Path.join(dir, "dist")],
        { cwd: root, timeout: 240_000 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`tsc failed: ${error.message}\n${stdout}${stderr}`)) : resolve()
      )
    )
    Fs.copyFileSync(Path.join(root, "package.json"), Path.join(dir, "package.json"))
    const modules = Fs.realpathSync(Path.join(root, "node_modules"))
    for (const path of productionPackages()) {
      linkTree(Path.join(modules, path.slice("node_modules/".length)), Path.join(dir, path))
    }
    return { dir, remove }
  } catch (error) {
    remove()
    throw error
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Every file and directory under the layout with its size and modification time: two snapshots
 * differ when a process wrote anything there (the image's root filesystem is read-only).
 */
export const snapshot = (dir: string): Map<string, string> => {
  const entries = new Map<string, string>()
  const walk = (path: string) => {
    for (const entry of Fs.readdirSync(path, { withFileTypes: true })) {
      const child = Path.join(path, entry.name)
      const stat = Fs.lstatSync(child)
      entries.set(Path.relative(dir, child), `${stat.size}:${stat.mtimeMs}`)
      if (entry.isDirectory()) walk(child)
    }
  }
  walk(dir)
  return entries
}

/** The paths two snapshots disagree on. */
export const changes = (before: Map<string, string>, after: Map<string, string>): Array<string> =>
  [...new Set([...before.keys(), ...after.keys()])].filter((path) => before.get(path) !== after.get(path)).sort()

/**
 * The user a container runs as: the Dockerfile's numeric `USER` when this test runs as root (it
 * can then start processes as that user, which cannot write the root-owned layout), else the
 * test's own user (then only the snapshot check shows what was written).
 */
export const containerUser = (user: string | undefined): { uid: number; gid: number } | undefined => {
  if (user === undefined || process.getuid?.() !== 0) return undefined
  const [uid, gid] = user.split(":").map(Number)
  return { uid: uid!, gid: gid ?? uid! }
}

/** One container: the image's command in the image layout, with exactly `env`. */
export class ContainerProcess {
  readonly process: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
  private output = ""
  private waiters: Array<{ pattern: RegExp; wake: () => void }> = []

  constructor(
    readonly name: string,
    layout: ImageLayout,
    command: ReadonlyArray<string>,
    readonly env: Readonly<Record<string, string>>,
    user?: { readonly uid: number; readonly gid: number }
  ) {
    const [program, ...args] = command
    // The image's `node` is this test's node binary (PATH is not part of the declared environment).
    const executable = program === "node" ? process.execPath : program!
    this.process = spawn(executable, args, {
      cwd: layout.dir,
      env: { ...env },
      stdio: ["ignore", "pipe", "pipe"],
      ...(user === undefined ? {} : { uid: user.uid, gid: user.gid })
    })
    this.exited = new Promise((resolve) =>
      this.process.once("exit", (code, signal) => resolve({ code, signal, at: performance.now() }))
    )
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString()
      const woken = this.waiters.filter((waiter) => waiter.pattern.test(this.output))
      this.waiters = this.waiters.filter((waiter) => !woken.includes(waiter))
      for (const waiter of woken) waiter.wake()
    }
    this.process.stdout!.on("data", collect)
    this.process.stderr!.on("data", collect)
  }

  /** Everything the container printed (stdout and stderr). */
  get logs(): string {
    return this.output
  }

  /** Waits until the container's output matches `pattern`; fails after `ms` or if it exits first. */
  waitForLog(pattern: RegExp, ms: number): Promise<void> {
    if (pattern.test(this.output)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== entry)
        reject(new Error(`${this.name}: no log matching ${pattern} within ${ms} ms\n${this.tail()}`))
      }, ms)
      const entry = {
        pattern,
        wake: () => {
          clearTimeout(timer)
          resolve()
        }
      }
      this.waiters.push(entry)
      void this.exited.then(() => {
        if (!this.waiters.includes(entry)) return
        clearTimeout(timer)
        this.waiters = this.waiters.filter((waiter) => waiter !== entry)
        reject(new Error(`${this.name} exited before logging ${pattern}\n${this.tail()}`))
      })
    })
  }

  /** The end of the output, for failure messages. */
  tail(): string {
    return `--- ${this.name} (last output)\n${this.output.slice(-3000)}`
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null
  }

  /** SIGKILL if still running (cleanup). */
  kill(): void {
    if (this.running) this.process.kill("SIGKILL")
  }
}

/**
 * Polls an HTTP URL as a probe does (a GET every `intervalMs`) until it answers `status`; resolves
 * to the body, or fails after `ms` with the last answer. Polling is what the kubelet and Docker's
 * HEALTHCHECK do: the endpoint has no event to wait on from outside the process.
 */
export const probeUntil = async (
  url: string,
  status: number,
  ms: number,
  container?: ContainerProcess,
  intervalMs = 100
): Promise<string> => {
  const deadline = performance.now() + ms
  let last = "no answer"
  for (;;) {
    if (container !== undefined && !container.running) throw new Error(`${container.name} exited\n${container.tail()}`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
      const body = await response.text()
      if (response.status === status) return body
      last = `${response.status} ${body}`
    } catch (error) {
      last = String(error)
    }
    if (performance.now() > deadline) {
      throw new Error(
        `${url} did not answer ${status} within ${ms} ms (last: ${last})${container ? `\n${container.tail()}` : ""}`
      )
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Runs a command to its end: exit code and output. */
export const runToEnd = (
  command: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  cwd: string,
  ms: number,
  user?: { readonly uid: number; readonly gid: number }
): Promise<{ code: number | null; output: string }> =>
  new Promise((resolve, reject) => {
    const [program, ...args] = command
    execFile(
      program === "node" ? process.execPath : program!,
      args,
      { cwd, env: { ...env }, timeout: ms, ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }) },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") return reject(error)
        resolve({ code: error === null ? 0 : (error.code as number), output: stdout + stderr })
      }
    )
  })
