/**
 * The node's HTTP endpoint: a real server on loopback that serves the routes layers add, answers
 * 404 with a short body elsewhere, and stops listening when its layer is released.
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpEndpoint } from "../../src/index.ts"
import { httpGet } from "../support/observedNode.ts"

const refused = (port: number) =>
  Effect.promise(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = Net.connect({ host: "127.0.0.1", port })
        socket.once("connect", () => {
          socket.destroy()
          resolve(false)
        })
        socket.once("error", () => resolve(true))
      })
  )

describe("HttpEndpoint", () => {
  it.live("binds to loopback by default, serves added routes, answers 404 elsewhere and closes with its layer", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const hello = Layer.effectDiscard(
        HttpEndpoint.addRoute("GET", "/hello", Effect.succeed(HttpServerResponse.text("hello\n")))
      )
      const context = yield* Layer.buildWithScope(hello.pipe(Layer.provideMerge(HttpEndpoint.layer())), scope)
      const endpoint = Context.get(context, HttpEndpoint.HttpEndpoint)
      assert.strictEqual(endpoint.host, "127.0.0.1")
      assert.isAbove(endpoint.port, 0)
      const base = `http://127.0.0.1:${endpoint.port}`
      assert.deepStrictEqual((yield* httpGet(`${base}/hello`)).body, "hello\n")
      const missing = yield* httpGet(`${base}/nothing/here`)
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.body, "not found\n")
      // Routes can be added while it runs (the next layers add /health, /ready, ...).
      yield* endpoint.addRoute("GET", "/late", Effect.succeed(HttpServerResponse.text("late\n")))
      assert.strictEqual((yield* httpGet(`${base}/late`)).body, "late\n")
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(yield* refused(endpoint.port))
    })
  )
})
