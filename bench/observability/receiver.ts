/**
 * The observability benchmark's OTLP/HTTP receiver, in its own process so that decoding the
 * exported spans does not run on the measured node's thread. Prints `{"endpoint":".."}` when
 * ready; on a `count` line on stdin, prints `{"spans":N,"errors":N,"byService":{..}}` (spans decoded so
 * far, in all and by `service.name`).
 */
import { startOtlpReceiver } from "../../test/support/otlpReceiver.ts"

const receiver = await startOtlpReceiver()
process.stdout.write(`${JSON.stringify({ endpoint: receiver.endpoint })}\n`)
let buffered = ""
process.stdin.on("data", (chunk: Buffer) => {
  buffered += chunk.toString()
  const lines = buffered.split("\n")
  buffered = lines.pop()!
  for (const line of lines) {
    if (line === "count") {
      const byService: Record<string, number> = {}
      for (const span of receiver.spans) {
        const service = String(span.resource["service.name"])
        byService[service] = (byService[service] ?? 0) + 1
      }
      const counts = { spans: receiver.spans.length, errors: receiver.errors.length, byService }
      process.stdout.write(`${JSON.stringify(counts)}\n`)
    }
  }
})
process.stdin.on("end", () => void receiver.close().then(() => process.exit(0)))
