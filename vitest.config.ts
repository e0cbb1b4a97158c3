import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Vitest 5's reporter uses Map.groupBy (Node >= 21) to print failures. On Node 20, where the
// README's `npm test` must still run, provide it so a failing test is reported instead of
// crashing the reporter.
if (typeof (Map as { groupBy?: unknown }).groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    configurable: true,
    writable: true,
    value: <K, V>(items: Iterable<V>, key: (item: V, index: number) => K): Map<K, Array<V>> => {
      const groups = new Map<K, Array<V>>()
      let index = 0
      for (const item of items) {
        const k = key(item, index++)
        const group = groups.get(k)
        if (group === undefined) groups.set(k, [item])
        else group.push(item)
      }
      return groups
    }
  })
}

export default defineConfig({
  // Tests may import the package by name, as users do: the sources, like tsconfig.json's paths.
  resolve: {
    alias: [
      { find: /^effect-otp$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      { find: /^effect-otp\/wire$/, replacement: fileURLToPath(new URL("./src/wire.ts", import.meta.url)) }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks"
  }
})
