/**
 * Type errors are part of the API: the three most common mistakes with a GenServer (a wrong reply
 * type in a call handler, a cast of a call request, an undeclared error failed from a handler),
 * and a few neighbours, must produce short messages about the user's code. Each mistake is
 * compiled here with the project's compiler options, and the whole message is compared.
 */
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import ts from "typescript"

const root = fileURLToPath(new URL("../..", import.meta.url))

const header = `
import { Effect, Schema } from "effect"
import { GenServer, Protocol, RemoteName } from "../../src/index.ts"

class Overflow extends Schema.TaggedError<Overflow>()("Overflow", { limit: Schema.Number }) {}
class Other extends Schema.TaggedError<Other>()("Other", { why: Schema.String }) {}

const Counter = Protocol.make({
  Get: Protocol.call({ success: Schema.Number }),
  Add: Protocol.call({ payload: { n: Schema.Number }, success: Schema.Number, error: Overflow }),
  Reset: Protocol.cast()
})
const Kv = Protocol.make({ Get: Protocol.call({ payload: { key: Schema.String }, success: Schema.String }) })
export const use = [Effect, GenServer, Protocol, RemoteName, Overflow, Other, Counter, Kv]
`

/** What tsc prints for each mistake (the first line of a message is what an editor shows). */
const mistakes: ReadonlyArray<{ readonly name: string; readonly code: string; readonly message: string }> = [
  {
    name: "a call handler replies a value of another type than the call declares",
    code: `export const server = GenServer.behaviour(Counter)({
  init: (start: number) => Effect.succeed(start),
  handleCall: {
    Get: (_, n) => Effect.succeed(GenServer.reply("not a number", n)),
    Add: ({ n }, s) => Effect.succeed(GenServer.reply(s + n, s + n))
  }
})`,
    message: `Type 'Effect<Reply<string, number>, never, never>' is not assignable to type 'WrongReplyType<"Get", { readonly declared: number; readonly replied: string; }>'.
  Type 'Effect<Reply<string, number>, never, never>' is not assignable to type '"Get replies a value of another type than its declared success"'.`
  },
  {
    name: "a cast of a call request",
    code: `export const sent = GenServer.cast("counter", Counter.Get())`,
    message: `Argument of type 'CallRequest<"Get", number, never>' is not assignable to parameter of type '"Get is a call request: send it with GenServer.call"'.`
  },
  {
    name: "a call handler fails with an error the call does not declare",
    code: `export const server = GenServer.behaviour(Counter)({
  init: (start: number) => Effect.succeed(start),
  handleCall: {
    Get: (_, n) => Effect.succeed(GenServer.reply(n, n)),
    Add: (_, s) => (s > 1 ? Effect.fail(new Other({ why: "x" })) : Effect.succeed(GenServer.reply(s, s)))
  }
})`,
    message: `Type 'Effect<Reply<number, number>, never, never> | Effect<never, Other, never>' is not assignable to type 'UndeclaredError<"Add", { readonly declared: Overflow; readonly undeclared: Other; }>'.
  Type 'Effect<Reply<number, number>, never, never>' is not assignable to type 'UndeclaredError<"Add", { readonly declared: Overflow; readonly undeclared: Other; }>'.
    Type 'Effect<Reply<number, number>, never, never>' is not assignable to type '"Add fails with an error its declaration does not list"'.`
  },
  {
    name: "a call of a cast request",
    code: `export const sent = GenServer.call("counter", Counter.Reset())`,
    message: `Argument of type 'CastRequest<"Reset">' is not assignable to parameter of type '"Reset is a cast request: send it with GenServer.cast"'.`
  },
  {
    name: "a call of another protocol's request on a typed name",
    code: `export const sent = GenServer.call(RemoteName.make("counter", "b", Counter), Kv.Get({ key: "k" }))`,
    message: `Argument of type 'CallRequest<"Get", string, never> & { readonly key: string; }' is not assignable to parameter of type '"Get is not a call of the server's protocol"'.`
  },
  {
    name: "a call handler continues with a state of another type",
    code: `export const server = GenServer.behaviour(Counter)({
  init: (start: number) => Effect.succeed(start),
  handleCall: {
    Get: (_, n) => Effect.succeed(GenServer.reply(n, "not a number")),
    Add: ({ n }, s) => Effect.succeed(GenServer.reply(s + n, s + n))
  }
})`,
    message: `Type 'Effect<Reply<number, string>, never, never>' is not assignable to type 'WrongStateType<"Get", { readonly declared: number; readonly returned: string; }>'.
  Type 'Effect<Reply<number, string>, never, never>' is not assignable to type '"Get continues with a state of another type than the server's"'.`
  },
  {
    name: "a cast handled among the calls",
    code: `export const server = GenServer.behaviour(Counter)({
  init: (start: number) => Effect.succeed(start),
  handleCall: {
    Get: (_, n) => Effect.succeed(GenServer.reply(n, n)),
    Add: ({ n }, s) => Effect.succeed(GenServer.reply(s + n, s + n)),
    Reset: (_, s) => Effect.succeed(GenServer.noReply(s))
  }
})`,
    message: `Type 'Effect<NoReply<number>, never, never>' is not assignable to type '"Reset is a cast: handle it in handleCast"'.`
  }
]

/** Compiles each snippet (as its own module next to this file) and returns its diagnostics' text. */
const compile = (snippets: ReadonlyArray<string>): ReadonlyArray<ReadonlyArray<string>> => {
  const config = ts.getParsedCommandLineOfConfigFile(
    `${root}tsconfig.json`,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
      }
    }
  )!
  const files = new Map(snippets.map((code, i) => [`${root}test/Types/mistake${i}.ts`, `${header}\n${code}\n`]))
  const host = ts.createCompilerHost(config.options)
  const readFile = host.readFile.bind(host)
  const fileExists = host.fileExists.bind(host)
  const getSourceFile = host.getSourceFile.bind(host)
  host.readFile = (name) => files.get(name) ?? readFile(name)
  host.fileExists = (name) => files.has(name) || fileExists(name)
  host.getSourceFile = (name, language, ...rest) => {
    const text = files.get(name)
    return text === undefined ? getSourceFile(name, language, ...rest) : ts.createSourceFile(name, text, language)
  }
  const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true }, host)
  return [...files.keys()].map((name) =>
    ts
      .getPreEmitDiagnostics(program, program.getSourceFile(name))
      .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
  )
}

describe("type errors of common mistakes", () => {
  it("each mistake is reported with one short message about the user's code", () => {
    const reported = compile(mistakes.map((mistake) => mistake.code))
    mistakes.forEach((mistake, i) => {
      assert.deepStrictEqual(reported[i], [mistake.message], mistake.name)
    })
  }, 120_000)
})
