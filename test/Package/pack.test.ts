/**
 * The package as a user gets it from npm: `npm pack`, installed into a fresh project, type-checked
 * with `tsc` (strict, NodeNext) and run with plain `node` (no tsx, no TypeScript loader).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { root, run, runOk, tempDir } from "./command.ts"

const installedVersion = (name: string): string =>
  (JSON.parse(Fs.readFileSync(Path.join(root, "node_modules", name, "package.json"), "utf8")) as { version: string })
    .version

/**
 * The consumer's program: two nodes in one OS process on 127.0.0.1; node a calls a GenServer
 * registered on node b by name, and prints the reply. It also round-trips a frame through the
 * `effect-otp/wire` subpath.
 */
const program = `import { Context, Effect, Layer, Option, Schema, Stream } from "effect"
import { Cluster, Distribution, GenServer, Protocol, RemoteName } from "effect-otp"
import { Codec } from "effect-otp/wire"

const Greeter = Protocol.make({
  Greet: Protocol.call({ payload: { name: Schema.String }, success: Schema.String })
})

const greeter = GenServer.behaviour(Greeter)({
  init: (greeting: string) => Effect.succeed(greeting),
  handleCall: {
    Greet: ({ name }, greeting) => Effect.succeed(GenServer.reply(greeting + ", " + name, greeting))
  }
})

const secret = "pack-test-secret"

const node = (nodeName: string, seeds: ReadonlyArray<string>) =>
  Layer.build(Distribution.layer({ nodeName, host: "127.0.0.1", port: 0, secret, seeds }))

/** Waits until the cluster sees the node up (already up, or a NodeUp event). */
const awaitNode = (cluster: Cluster.Cluster["Service"], name: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const events = yield* cluster.subscribe
      if ((yield* cluster.nodes).some((info) => info.id === name)) return
      const up = yield* Stream.runHead(Stream.filter(events, (event) => event._tag === "NodeUp" && event.id === name))
      if (Option.isNone(up)) return yield* Effect.die("membership events ended")
    })
  ).pipe(Effect.timeout("20 seconds"))

const main = Effect.gen(function* () {
  const b = yield* node("b", [])
  yield* GenServer.start(greeter, "hello", { name: "greeter" }).pipe(Effect.provideContext(b))
  const port = Context.get(b, Cluster.Cluster).transport.address.port
  const a = yield* node("a", ["b@127.0.0.1:" + port])
  yield* awaitNode(Context.get(a, Cluster.Cluster), "b")
  const reply: string = yield* GenServer.call(RemoteName.make("greeter", "b"), Greeter.Greet({ name: "a" })).pipe(
    Effect.provideContext(a)
  )
  // @ts-expect-error: the reply is typed by the protocol (a string), not any
  const notANumber: number = reply
  console.log("reply: " + reply, typeof notANumber)
  const codec = Codec.make()
  console.log("wire: " + JSON.stringify(codec.decode(codec.encode(["otp", 1]))))
})

Effect.runPromise(Effect.scoped(main)).then(
  () => console.log("done"),
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  }
)
`

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    // Effect's own declarations name Web Crypto types (CryptoKey, JsonWebKey) that only lib.dom declares:
    // with skipLibCheck off (so that effect-otp's .d.ts files are checked too), the DOM lib is needed.
    lib: ["ES2022", "DOM"],
    types: ["node"],
    strict: true,
    skipLibCheck: false,
    outDir: "dist",
    rootDir: "src"
  },
  include: ["src"]
}

describe("the published package", () => {
  it.live(
    "installs from its tarball into a fresh project, type-checks under tsc and makes a remote call with plain node",
    () =>
      Effect.gen(function* () {
        const work = yield* tempDir("effect-otp-pack-")
        // Generous limits: on a loaded 2-core machine the build and the two tsc runs take minutes.
        const npm = { timeoutMs: 300_000 }
        const packed = yield* runOk("npm", ["pack", "--json", "--pack-destination", work], { ...npm, cwd: root })
        const jsonStart = packed.stdout.indexOf("[")
        const [info] = JSON.parse(packed.stdout.slice(jsonStart)) as Array<{
          filename: string
          files: Array<{ path: string }>
        }>
        const files = info!.files.map((file) => file.path)
        assert.include(files, "dist/index.js")
        assert.include(files, "dist/index.d.ts")
        assert.include(files, "dist/index.d.ts.map")
        assert.include(files, "dist/wire.js")
        assert.include(files, "README.md")
        assert.isFalse(
          files.some((file) => file.startsWith("test/") || file.startsWith("bench/") || file.startsWith("build/")),
          `the tarball holds only the library: ${files.join(", ")}`
        )

        const project = Path.join(work, "consumer")
        Fs.mkdirSync(Path.join(project, "src"), { recursive: true })
        Fs.writeFileSync(
          Path.join(project, "package.json"),
          JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2)
        )
        Fs.writeFileSync(Path.join(project, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))
        Fs.writeFileSync(Path.join(project, "src", "main.ts"), program)
        yield* runOk(
          "npm",
          [
            "install",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            Path.join(work, info!.filename),
            `effect@${installedVersion("effect")}`,
            `typescript@${installedVersion("typescript")}`,
            `@types/node@${installedVersion("@types/node")}`
          ],
          { ...npm, cwd: project }
        )
        // One copy of effect: the application's (effect is a peer dependency).
        assert.isFalse(Fs.existsSync(Path.join(project, "node_modules", "effect-otp", "node_modules", "effect")))
        // What the README tells users: the only install script effect-otp brings is msgpackr-extract's.
        const consumerLock = JSON.parse(Fs.readFileSync(Path.join(project, "package-lock.json"), "utf8")) as {
          packages: Record<string, { hasInstallScript?: boolean }>
        }
        const withScripts = Object.entries(consumerLock.packages)
          .filter(([, entry]) => entry.hasInstallScript === true)
          .map(([path]) => path)
        assert.deepStrictEqual(withScripts, ["node_modules/msgpackr-extract"])

        const tsc = yield* run("node", [Path.join("node_modules", "typescript", "bin", "tsc"), "-p", "."], {
          cwd: project,
          timeoutMs: 300_000
        })
        assert.strictEqual(tsc.code, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`)

        const ran = yield* run("node", [Path.join("dist", "main.js")], { cwd: project, timeoutMs: 60_000 })
        assert.strictEqual(ran.code, 0, `node dist/main.js failed:\n${ran.stdout}${ran.stderr}`)
        const lines = ran.stdout.split("\n")
        assert.include(lines, "reply: hello, a string")
        assert.include(lines, 'wire: ["otp",1]')
        assert.include(lines, "done")

        // msgpackr finds its prebuilt native part (an optional package per platform).
        const native = yield* runOk(
          "node",
          ["--input-type=module", "-e", 'console.log((await import("msgpackr")).isNativeAccelerationEnabled)'],
          { cwd: project, timeoutMs: 30_000 }
        )
        assert.strictEqual(native.stdout.trim(), "true")

        // Only the exported entry points resolve: internal modules stay private.
        const deep = yield* run(
          "node",
          ["--input-type=module", "-e", 'await import("effect-otp/dist/Process/Process.js")'],
          { cwd: project, timeoutMs: 30_000 }
        )
        assert.notStrictEqual(deep.code, 0)
        assert.include(deep.stderr, "ERR_PACKAGE_PATH_NOT_EXPORTED")
      }).pipe(Effect.scoped),
    600_000
  )
})
