import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"

describe("README", () => {
  it("every TypeScript block of the README appears verbatim in examples/readme-tour.ts (which is type-checked)", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const tour = readFileSync(new URL("../examples/readme-tour.ts", import.meta.url), "utf8")
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!.trimEnd())
    assert.isAbove(blocks.length, 0)
    for (const block of blocks) assert.include(tour, block)
  })

  it("starts with the two commands a newcomer runs", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ""
    assert.match(firstBlock, /^npm install && npm start/m)
    assert.match(firstBlock, /^npm test/m)
  })
})
