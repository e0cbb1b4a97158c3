/**
 * The cluster DNS of a headless Service, on loopback: a real DNS server (dns2, UDP on 127.0.0.1:
 * what c-ares asks first) that answers the Service's name with one A record per pod it currently lists, no
 * AAAA record, and NXDOMAIN for every other name, as CoreDNS answers for a headless Service.
 */
import dns2 from "dns2"

const { Packet } = dns2

/** A running DNS server: its `ip:port`, the records it serves, and how to stop it. */
export interface HeadlessDns {
  /** `127.0.0.1:port`, what CLUSTER_DNS_SERVERS takes. */
  readonly server: string
  /** The addresses answered for `name` now (edit to add or remove pods). */
  readonly addresses: Set<string>
  /** The names asked so far (for failure messages). */
  readonly queries: Array<string>
  readonly close: () => Promise<void>
}

/** Starts a DNS server answering `name` (case-insensitive, with or without the final dot). */
export const startHeadlessDns = async (name: string, addresses: Iterable<string>): Promise<HeadlessDns> => {
  const served = new Set(addresses)
  const queries: Array<string> = []
  const wanted = name.replace(/\.$/, "").toLowerCase()
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request)
      const [question] = request.questions
      if (question === undefined) return send(response)
      queries.push(`${question.name} ${question.type}`)
      if (question.name.replace(/\.$/, "").toLowerCase() !== wanted) {
        response.header.rcode = Packet.RCODE.NXDOMAIN
      } else if (question.type === Packet.TYPE.A) {
        for (const address of served) {
          response.answers.push(Packet.createResourceFromQuestion(question, { ttl: 5, address }))
        }
      }
      send(response)
    }
  })
  const listening = await server.listen({ udp: { port: 0, address: "127.0.0.1" } })
  const port = listening.udp!.port
  return { server: `127.0.0.1:${port}`, addresses: served, queries, close: () => server.close() }
}
