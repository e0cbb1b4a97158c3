/**
 * The committed lock and the install-script decisions: `npm ci` accepts the lock on any machine, and
 * every dependency with an install script has a decision in package.json's `allowScripts`, so that
 * npm never prints a notice a newcomer cannot act on.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { root, run, tempDir } from "./command.ts"

interface LockedPackage {
  readonly version?: string
  readonly optional?: boolean
  readonly hasInstallScript?: boolean
  readonly optionalDependencies?: Record<string, string>
}

const manifest = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as {
  readonly allowScripts?: Record<string, boolean>
}
const lock = JSON.parse(Fs.readFileSync(Path.join(root, "package-lock.json"), "utf8")) as {
  readonly packages: Record<string, LockedPackage>
}

/** A locked package's name from its `node_modules/...` path. */
const nameOf = (path: string) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)

describe("the lock file", () => {
  it("records the optional packages of every platform, not only this machine's", () => {
    const locked = new Set(Object.keys(lock.packages).map(nameOf))
    const missing: Array<string> = []
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const dependency of Object.keys(entry.optionalDependencies ?? {})) {
        if (!locked.has(dependency)) missing.push(`${nameOf(path)} -> ${dependency}`)
      }
    }
    assert.deepStrictEqual(missing, [])
    // The native parts of msgpackr for other platforms, whose absence made `npm ci` fail before.
    assert.isTrue(locked.has("@msgpackr-extract/msgpackr-extract-darwin-arm64"))
    assert.isTrue(locked.has("@msgpackr-extract/msgpackr-extract-win32-x64"))
  })

  it.live(
    "npm ci accepts it as it is committed, quietly: no notice but Node 20's honest EBADENGINE",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir("effect-otp-lock-")
        for (const file of ["package.json", "package-lock.json", ".npmrc"]) {
          Fs.copyFileSync(Path.join(root, file), Path.join(dir, file))
        }
        // The user's own npm settings (this machine's turn off funding notices) must not hide what a
        // newcomer sees: an empty user configuration.
        const userconfig = Path.join(dir, "empty-npmrc")
        Fs.writeFileSync(userconfig, "")
        const result = yield* run("npm", ["ci", "--dry-run"], {
          cwd: dir,
          timeoutMs: 60_000,
          env: { npm_config_userconfig: userconfig }
        })
        assert.strictEqual(result.code, 0, result.stderr)
        const output = `${result.stdout}\n${result.stderr}`
        const notices = output
          .split("\n")
          .filter((line) => /^npm (warn|notice)/.test(line) && !line.startsWith("npm warn EBADENGINE"))
        assert.deepStrictEqual(notices, [])
        assert.notInclude(output, "looking for funding")
      }).pipe(Effect.scoped),
    90_000
  )
})

describe("install scripts", () => {
  it("every locked package with an install script has a decision in package.json's allowScripts", () => {
    const decided = manifest.allowScripts ?? {}
    const undecided = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== "" && entry.hasInstallScript === true)
      .map(([path]) => nameOf(path))
      .filter((name) => !(name in decided))
    assert.deepStrictEqual(undecided, [])
    // Name-only entries: the lock omits registry URLs, and npm cannot verify a pinned version without them.
    for (const key of Object.keys(decided)) assert.notMatch(key, /.@/, `allowScripts entry ${key} is pinned`)
  })

  it("msgpackr uses its native string extractor although msgpackr-extract's install script never runs", async () => {
    const msgpackr = await import("msgpackr")
    assert.isTrue(msgpackr.isNativeAccelerationEnabled)
  })
})
