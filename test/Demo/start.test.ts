import { type ChildProcess, spawn } from "node:child_process"
import * as Path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"

const root = Path.join(import.meta.dirname, "../..")

interface Run {
  readonly child: ChildProcess
  output: string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const runs: Array<Run> = []

/** `npm start -- ...args` in its own process group, its stdout and stderr kept. */
const npmStart = (args: ReadonlyArray<string>): Run => {
  const child = spawn("npm", ["start", "--", ...args], {
    cwd: root,
    env: { ...process.env, FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  const run: Run = {
    child,
    output: "",
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  }
  child.stdout!.on("data", (chunk: Buffer) => (run.output += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (run.output += chunk.toString()))
  runs.push(run)
  return run
}

const within = <A>(promise: Promise<A>, ms: number, what: () => string): Promise<A> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what()}: not within ${ms} ms`)), ms))
  ])

afterEach(async () => {
  // A run still going (the test failed): SIGTERM lets the launcher stop its nodes, SIGKILL ends it all.
  for (const run of runs.splice(0)) {
    if (run.child.exitCode !== null || run.child.signalCode !== null) continue
    process.kill(-run.child.pid!, "SIGTERM")
    await Promise.race([run.exited, new Promise((resolve) => setTimeout(resolve, 25_000))])
    if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, "SIGKILL")
  }
})

describe("npm start", () => {
  it("--once: three nodes get ready, the story runs to its end (a node killed, its work moved, the node back), exit 0", async () => {
    const run = npmStart(["--once"])
    const { code } = await within(run.exited, 240_000, () => `npm start -- --once\n${run.output}`)
    const output = run.output
    assert.strictEqual(code, 0, output)
    for (const node of ["node-0", "node-1", "node-2"]) assert.match(output, new RegExp(`${node} is ready`), output)
    assert.match(output, /full mesh/)
    assert.match(output, /spawned worker <node-1\.[0-9.]+> on node-1/)
    assert.match(output, /typed remote call: job \d+ done on node-\d in [0-9.]+ ms/)
    assert.match(output, /killing node-2 \(SIGKILL\)/)
    assert.match(output, /node-0: NodeDown node-2, reason connection_closed/)
    assert.match(output, /job \d+ moved back to the queue: its call to node-2 failed \(NodeDown/)
    assert.match(output, /the work moved: job \d+ done on node-1/)
    assert.match(output, /node-0 sees node-2 up again/)
    assert.match(output, /node-2 works again: job \d+ done on node-2/)
    for (const path of ["health", "ready", "metrics", "observer"]) {
      assert.match(output, new RegExp(`http://127\\.0\\.0\\.1:\\d+/${path}`))
    }
    assert.match(output, /exit codes: node-0 0, node-1 0, node-2 0/)
    assert.match(output, /done\n/)
  }, 300_000)
})
