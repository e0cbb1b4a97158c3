/**
 * The examples of the documentation, checked as code: every ```ts block of the JSDoc comments in
 * `src/**\/*.ts`, of `README.md` and of `docs/**\/*.md` is a standalone module (it imports what it
 * uses), and all of them are type-checked in one TypeScript program with the repository's compiler
 * options, `effect-otp` and `effect-otp/wire` mapped to the sources.
 *
 * A Markdown block preceded by the line `<!-- continues the previous block -->` is checked as the
 * continuation of the block before it (as a tour builds on what it declared earlier): its module is
 * the previous blocks' code followed by its own. Errors are reported in the block that has them.
 *
 * Run alone with `npx tsx test/Docs/examples.ts` (prints one line per broken block; with `--all`, one
 * line per error).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

/** The repository's root directory. */
export const root = Path.resolve(import.meta.dirname, "../..")

/** A code block of the documentation. */
export interface Block {
  /** The file it comes from, relative to the root (`src/Process/Process.ts`). */
  readonly file: string
  /** The line of the file where the block's code starts (1-based). */
  readonly line: number
  readonly code: string
  /** Code of the earlier blocks this one continues (Markdown only), checked before its own. */
  readonly prelude?: string | undefined
}

/** The marker, on the line before a Markdown block's fence, of a block that continues the previous one. */
export const continuesMarker = "<!-- continues the previous block -->"

const fence = /^(\s*)```(ts|typescript)\s*$/
const closingFence = /^\s*```\s*$/

/**
 * The ```ts blocks among `lines`, where `lineNumbers[i]` is the file's line number of `lines[i]`.
 * The indentation of the opening fence is removed from the block's lines.
 */
const blocksIn = (file: string, lines: ReadonlyArray<string>, lineNumbers: ReadonlyArray<number>): Array<Block> => {
  const blocks: Array<Block> = []
  for (let i = 0; i < lines.length; i++) {
    const open = fence.exec(lines[i]!)
    if (open === null) continue
    const indent = open[1]!.length
    const body: Array<string> = []
    let j = i + 1
    while (j < lines.length && !closingFence.test(lines[j]!)) body.push(lines[j++]!.slice(indent))
    if (j < lines.length) blocks.push({ file, line: lineNumbers[i + 1] ?? lineNumbers[i]! + 1, code: body.join("\n") })
    i = j
  }
  return blocks
}

/** The ```ts blocks of the JSDoc comments of a TypeScript source (the leading ` * ` removed). */
export const blocksOfSource = (file: string, text: string): Array<Block> => {
  const blocks: Array<Block> = []
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const firstLine = text.slice(0, comment.index).split("\n").length
    const lines = comment[0]
      .replace(/^\/\*\*/, "")
      .replace(/\*\/$/, "")
      .split("\n")
      .map((line) => line.replace(/^\s*\* ?/, ""))
    blocks.push(
      ...blocksIn(
        file,
        lines,
        lines.map((_, i) => firstLine + i)
      )
    )
  }
  return blocks
}

/** The ```ts blocks of a Markdown document, continued blocks with their prelude. */
export const blocksOfMarkdown = (file: string, text: string): Array<Block> => {
  const lines = text.split("\n")
  const blocks = blocksIn(
    file,
    lines,
    lines.map((_, i) => i + 1)
  )
  let previous: Block | undefined
  return blocks.map((block) => {
    // block.line is the line after the fence: the marker is the line before the fence.
    const continues = previous !== undefined && lines[block.line - 3]?.trim() === continuesMarker
    const result: Block = continues
      ? { ...block, prelude: [previous!.prelude, previous!.code].filter((code) => code !== undefined).join("\n") }
      : block
    previous = result
    return result
  })
}

const walk = (dir: string, extension: string): Array<string> => {
  if (!Fs.existsSync(dir)) return []
  return Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = Path.join(dir, entry.name)
    if (entry.isDirectory()) return walk(path, extension)
    return entry.name.endsWith(extension) ? [path] : []
  })
}

/** Every documentation block of the repository. */
export const allBlocks = (): Array<Block> => {
  const relative = (path: string) => Path.relative(root, path).split(Path.sep).join("/")
  const sources = walk(Path.join(root, "src"), ".ts").sort()
  const documents = [Path.join(root, "README.md"), ...walk(Path.join(root, "docs"), ".md").sort()].filter((path) =>
    Fs.existsSync(path)
  )
  return [
    ...sources.flatMap((path) => blocksOfSource(relative(path), Fs.readFileSync(path, "utf8"))),
    ...documents.flatMap((path) => blocksOfMarkdown(relative(path), Fs.readFileSync(path, "utf8")))
  ]
}

/**
 * The repository's compiler options (tsconfig.json), with `effect-otp` and `effect-otp/wire` mapped
 * to the sources. Unused declarations are allowed: an example may declare a value only to show it.
 */
const compilerOptions = (): ts.CompilerOptions => {
  const configPath = Path.join(root, "tsconfig.json")
  const read = ts.readConfigFile(configPath, ts.sys.readFile)
  if (read.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, "\n"))
  const config = read.config as { compilerOptions?: Record<string, unknown> }
  config.compilerOptions = {
    ...config.compilerOptions,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    moduleDetection: "force",
    paths: { "effect-otp": ["./src/index.ts"], "effect-otp/wire": ["./src/wire.ts"] }
  }
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configPath)
  if (parsed.errors.length > 0) {
    throw new Error(parsed.errors.map((error) => ts.flattenDiagnosticMessageText(error.messageText, "\n")).join("\n"))
  }
  return parsed.options
}

/**
 * Type-checks `blocks` in one program and returns one line per broken block:
 * `src/Process/Process.ts:123: TS2304 Cannot find name 'x'` (the first error, the file's line).
 *
 * Each block is a module of its own, held in memory at a path under the root (so that `effect`
 * resolves from the repository's node_modules); nothing is written to disk.
 */
export const check = (blocks: ReadonlyArray<Block>, options: { readonly all?: boolean } = {}): Array<string> => {
  const compiler = compilerOptions()
  const directory = Path.join(root, ".docs-examples")
  const virtual = new Map<string, Block>()
  const sourceOf = (block: Block) => (block.prelude === undefined ? block.code : `${block.prelude}\n${block.code}`)
  const preludeLines = (block: Block) => (block.prelude === undefined ? 0 : block.prelude.split("\n").length)
  blocks.forEach((block, i) => {
    const name = `${block.file.replace(/[/.]/g, "_")}_${block.line}_${i}.ts`
    virtual.set(Path.join(directory, name), block)
  })
  const host = ts.createCompilerHost(compiler, true)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const block = virtual.get(Path.resolve(fileName))
    return block !== undefined
      ? ts.createSourceFile(fileName, sourceOf(block), languageVersion, true)
      : getSourceFile(fileName, languageVersion, onError, shouldCreate)
  }
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (fileName) => virtual.has(Path.resolve(fileName)) || fileExists(fileName)
  const readFile = host.readFile.bind(host)
  host.readFile = (fileName) => {
    const block = virtual.get(Path.resolve(fileName))
    return block === undefined ? readFile(fileName) : sourceOf(block)
  }

  const program = ts.createProgram({ rootNames: [...virtual.keys()], options: compiler, host })
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]
  if (global.length > 0) {
    throw new Error(global.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")).join("\n"))
  }
  const broken: Array<string> = []
  for (const [fileName, block] of virtual) {
    const sourceFile = program.getSourceFile(fileName)!
    const skipped = preludeLines(block)
    const lineInModule = (diagnostic: ts.Diagnostic) =>
      diagnostic.start === undefined ? skipped : sourceFile.getLineAndCharacterOfPosition(diagnostic.start).line
    // Errors in the prelude belong to (and are reported by) the earlier blocks.
    const diagnostics = [
      ...program.getSyntacticDiagnostics(sourceFile),
      ...program.getSemanticDiagnostics(sourceFile)
    ].filter((diagnostic) => lineInModule(diagnostic) >= skipped)
    const lineOf = (diagnostic: ts.Diagnostic) => block.line + lineInModule(diagnostic) - skipped
    const format = (diagnostic: ts.Diagnostic) =>
      `${block.file}:${lineOf(diagnostic)}: TS${diagnostic.code} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, " ").split("\n")[0]!}`
    const first = diagnostics[0]
    if (first === undefined) continue
    if (options.all === true) broken.push(...diagnostics.map(format))
    else broken.push(format(first) + (diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more)` : ""))
  }
  return broken
}

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === Path.resolve(import.meta.filename)) {
  const blocks = allBlocks()
  const all = process.argv.includes("--all")
  const broken = check(blocks, { all })
  for (const line of broken) console.log(line)
  console.log(`${blocks.length} blocks, ${broken.length} ${all ? "errors" : "broken"}`)
  process.exitCode = broken.length > 0 ? 1 : 0
}
