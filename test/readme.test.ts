import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { blocksOfMarkdown } from "./Docs/examples.ts"

describe("README", () => {
  it("its TypeScript blocks are whole modules, type-checked by test/Docs/examples.test.ts", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    assert.isAbove(blocksOfMarkdown("README.md", readme).length, 0)
  })

  it("starts with the two commands a newcomer runs", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ""
    assert.match(firstBlock, /^npm install && npm start/m)
    assert.match(firstBlock, /^npm test/m)
  })
})
