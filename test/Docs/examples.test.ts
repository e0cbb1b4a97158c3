import { assert, describe, it } from "@effect/vitest"
import { allBlocks, blocksOfMarkdown, blocksOfSource, check } from "./examples.ts"

describe("documentation examples", () => {
  it("a JSDoc block loses the comment's leading ` * ` and its indentation, and keeps its line in the file", () => {
    const source = [
      "/**",
      " * Summary.",
      " *",
      " * @example",
      " * ```ts",
      ' * import { Effect } from "effect"',
      " *",
      " * const program = Effect.succeed(1)",
      " * ```",
      " */",
      "export const x = 1",
      "  /**",
      "   * - in a list:",
      "   *   ```ts",
      "   *   const y = 2",
      "   *   ```",
      "   */"
    ].join("\n")
    assert.deepStrictEqual(blocksOfSource("src/X.ts", source), [
      { file: "src/X.ts", line: 6, code: 'import { Effect } from "effect"\n\nconst program = Effect.succeed(1)' },
      { file: "src/X.ts", line: 15, code: "const y = 2" }
    ])
  })

  it("Markdown blocks are the ts and typescript fences, not sh or other languages", () => {
    const markdown = [
      "# Title",
      "```sh",
      "npm test",
      "```",
      "```ts",
      "const a = 1",
      "```",
      "```typescript",
      "const b = 2",
      "```"
    ]
    assert.deepStrictEqual(blocksOfMarkdown("README.md", markdown.join("\n")), [
      { file: "README.md", line: 6, code: "const a = 1" },
      { file: "README.md", line: 9, code: "const b = 2" }
    ])
  })

  it("a Markdown block marked as continuing the previous one is checked after it, its errors at its own lines", () => {
    const markdown = [
      "```ts",
      'import { Effect } from "effect"',
      "const one = Effect.succeed(1)",
      "```",
      "Then:",
      "<!-- continues the previous block -->",
      "```ts",
      "const two = Effect.map(one, (n) => n + 1)",
      "const broken: string = two",
      "```"
    ].join("\n")
    const blocks = blocksOfMarkdown("README.md", markdown)
    assert.strictEqual(blocks[1]!.prelude, 'import { Effect } from "effect"\nconst one = Effect.succeed(1)')
    const broken = check(blocks)
    assert.strictEqual(broken.length, 1)
    assert.match(broken[0]!, /^README\.md:9: TS2322 /)
  })

  it("every ts block of the JSDoc of src/, of README.md and of docs/ type-checks as a standalone module", () => {
    const blocks = allBlocks()
    assert.isAbove(blocks.length, 40)
    assert.isTrue(blocks.some((block) => block.file === "README.md"))
    // A broken block checked in the same program shows that the check sees errors, and their format.
    const fixture = {
      file: "docs/fixture.md",
      line: 10,
      code: 'import { Effect } from "effect"\n\nEffect.succeed(missing)'
    }
    const broken = check([...blocks, fixture])
    assert.include(broken, "docs/fixture.md:12: TS2304 Cannot find name 'missing'.")
    const real = broken.filter((line) => !line.startsWith("docs/fixture.md:"))
    if (real.length > 0) assert.fail(`broken documentation examples:\n${real.join("\n")}`)
  }, 120_000)
})
