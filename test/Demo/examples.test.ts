import { spawn } from "node:child_process"
import * as Path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"

const root = Path.join(import.meta.dirname, "../..")

/** Process groups of the runs (npm, its shell, tsx and the example: one group each). */
const groups = new Set<number>()

/** SIGKILLs what is left of a run's process group (nothing once every member has exited). */
const killGroup = (pgid: number): void => {
  groups.delete(pgid)
  try {
    process.kill(-pgid, "SIGKILL")
  } catch {
    // ESRCH: the whole group has exited
  }
}

// Success or failure: no grandchild (the tsx process with its ports) outlives its test.
afterEach(() => {
  for (const pgid of [...groups]) killGroup(pgid)
})

/**
 * `npm run <script>` to its end, in its own process group (killed as a group after `ms`, and
 * whatever is left of it when npm exits), with its exit code and output.
 */
const npmRun = (script: string, ms = 120_000) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: "0" }
    // The tracing example receives its own spans unless a collector is named.
    delete env["OTEL_EXPORTER_OTLP_ENDPOINT"]
    delete env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    const child = spawn("npm", ["run", "--silent", script], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    })
    const pgid = child.pid!
    groups.add(pgid)
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => killGroup(pgid), ms)
    child.once("exit", (code) => {
      clearTimeout(timer)
      killGroup(pgid)
      resolve({ code, output })
    })
  })

describe("examples (each one command, ends by itself)", () => {
  it("npm run example:counter", async () => {
    const { code, output } = await npmRun("example:counter")
    assert.strictEqual(code, 0, output)
    assert.match(output, /Add 4 by name -> 7/)
    assert.match(output, /Add 5 -> Overflow \(limit 10, would be 12\)/)
    assert.match(output, /Slow 200 ms with a 50 ms timeout -> CallTimeout/)
    assert.match(output, /Reset \(cast\), then Get -> 0/)
    assert.match(output, /counter stops \(normal\) at 0/)
  }, 150_000)

  it("npm run example:supervision", async () => {
    const { code, output } = await npmRun("example:supervision")
    assert.strictEqual(code, 0, output)
    const lines = output.split("\n")
    // Step 3 (rest_for_one): the reader and the cache keep their pids, the parser and the writer get new ones.
    const step2 = lines.filter((line) => line.trim().startsWith("cache="))[1]!
    const step3 = lines.filter((line) => line.trim().startsWith("cache="))[2]!
    const pid = (line: string, name: string) => new RegExp(`${name}=(\\S+)`).exec(line)?.[1]
    assert.strictEqual(pid(step3, "reader"), pid(step2, "reader"))
    assert.notStrictEqual(pid(step3, "parser"), pid(step2, "parser"))
    assert.notStrictEqual(pid(step3, "writer"), pid(step2, "writer"))
    assert.strictEqual(pid(step3, "cache"), pid(step2, "cache"))
    assert.match(output, /event: SupervisorEscalated \(shutdown\(reached_max_restart_intensity\)\)/)
    assert.match(
      output,
      /the root stopped \(shutdown\(reached_max_restart_intensity\)\); left: cache=- reader=- parser=- writer=-/
    )
  }, 150_000)

  it("npm run example:pubsub", async () => {
    const { code, output } = await npmRun("example:pubsub")
    assert.strictEqual(code, 0, output)
    for (const who of ["a/ann", "b/bea", "b/ben", "c/cid"]) assert.include(output, `${who} got "rates are up" (from c)`)
    assert.match(output, /a sees c down: graceful_shutdown/)
    const after = output.slice(output.indexOf("5. a publishes"))
    assert.include(after, 'a/ann got "markets closed"')
    assert.include(after, 'b/bea got "markets closed"')
    assert.notInclude(after, "b/ben got")
    assert.notInclude(after, "c/cid got")
  }, 150_000)

  it("npm run example:tracing", async () => {
    const { code, output } = await npmRun("example:tracing")
    assert.strictEqual(code, 0, output)
    assert.match(output, /no OTEL_EXPORTER_OTLP_ENDPOINT set: receiving the spans here/)
    const id = /trace ([0-9a-f]{32})/.exec(output)?.[1]
    assert.isDefined(id, output)
    // One trace across both nodes: checkout > client call > server call on billing > the handler's span.
    assert.match(output, /^ {2}checkout \[internal\] on orders/m)
    assert.match(output, /^ {4}Billing\/Charge \[client\] on orders/m)
    assert.match(output, /^ {6}Billing\/Charge \[server\] on billing/m)
    assert.match(output, /^ {8}charge card \[internal\] on billing/m)
  }, 150_000)
})
