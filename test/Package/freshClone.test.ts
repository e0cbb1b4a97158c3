/**
 * The README's first command, as a newcomer runs it: in a fresh clone of the repository (its
 * committed HEAD), `npm install && npm start`, with `DEMO_ONCE=1` so that the demo cluster ends
 * after its story. The second command, `npm test`, is what CI itself runs on a clean checkout.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { root, run, runOk, tempDir } from "./command.ts"

/** The first line of the README's first `sh` block, without its comment. */
const firstCommand = (): string => {
  const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
  const block = /```sh\n([^\n]*)\n/.exec(readme)
  assert.isNotNull(block, "the README starts with a sh block")
  return block![1]!.replace(/#.*$/, "").trim()
}

/** A copy of the committed repository: a clone where this is a git checkout, else its files without build output. */
const freshCopy = (dir: string) =>
  Effect.gen(function* () {
    const git = yield* run("git", ["rev-parse", "--is-inside-work-tree"], { cwd: root, timeoutMs: 10_000 })
    if (git.code === 0) {
      yield* runOk("git", ["clone", "--quiet", "--no-hardlinks", root, dir], { cwd: root, timeoutMs: 60_000 })
      return "clone"
    }
    const skipped = new Set(["node_modules", "dist", "build", ".git", ".ci"])
    Fs.cpSync(root, dir, { recursive: true, filter: (source) => !skipped.has(Path.basename(source)) })
    return "copy"
  })

describe("the README's first command from a fresh clone", () => {
  it.live(
    "npm install && npm start: installs, runs the demo cluster's story to its end and exits 0",
    () =>
      Effect.gen(function* () {
        const command = firstCommand()
        assert.strictEqual(command, "npm install && npm start")
        const dir = Path.join(yield* tempDir("effect-otp-clone-"), "effect-otp")
        yield* freshCopy(dir)
        const result = yield* runOk("bash", ["-c", command], {
          cwd: dir,
          timeoutMs: 420_000,
          env: { DEMO_ONCE: "1", FORCE_COLOR: "0", npm_config_audit: "false", npm_config_fund: "false" }
        })
        const output = result.stdout + result.stderr
        assert.match(output, /node-0 is ready/, output)
        assert.match(output, /node-2 works again/, output)
        assert.match(output, /exit codes: node-0 0, node-1 0, node-2 0/, output)
        assert.match(output, /done\n/, output)
      }).pipe(Effect.scoped),
    480_000
  )
})
