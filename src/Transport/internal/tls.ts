/**
 * The TLS options of each security mode, and what a verified peer certificate vouches for.
 *
 * @internal
 */
import type * as Tls from "node:tls"
import { derivePsk, pskCipher, type Security } from "../Security.ts"

const psk12 = { ciphers: pskCipher, minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } as const

/**
 * TLS server options for a security mode, or `undefined` for plain TCP. `onIdentity` receives the
 * PSK identity a client presented (its node name), to be checked against its `Hello`.
 */
export const serverOptions = (
  security: Security,
  onIdentity: (socket: Tls.TLSSocket, identity: string) => void
): Tls.TlsOptions | undefined => {
  if ("insecure" in security) return undefined
  if ("secret" in security) {
    const key = derivePsk(security.secret)
    return {
      ...psk12,
      pskIdentityHint: "effect-otp",
      pskCallback: (socket, identity) => {
        onIdentity(socket, identity)
        return key
      }
    }
  }
  const { ca, cert, key } = security.tls
  return { ca, cert, key, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" }
}

/**
 * TLS client options for a security mode, or `undefined` for plain TCP.
 */
export const clientOptions = (security: Security, nodeName: string): Tls.ConnectionOptions | undefined => {
  if ("insecure" in security) return undefined
  if ("secret" in security) {
    const key = derivePsk(security.secret)
    return {
      ...psk12,
      pskCallback: () => ({ psk: key, identity: nodeName }),
      checkServerIdentity: () => undefined
    }
  }
  const { ca, cert, key } = security.tls
  return { ca, cert, key, rejectUnauthorized: true, minVersion: "TLSv1.2", checkServerIdentity: () => undefined }
}

/**
 * The node names a verified peer certificate vouches for when `bindNodeName` is set: its DNS
 * subjectAltNames, or its subject CN when it has none. `undefined` when names are not bound (PSK, plain TCP, or mTLS
 * without `bindNodeName`).
 */
export const certificateNames = (security: Security, socket: Tls.TLSSocket): ReadonlyArray<string> | undefined => {
  if (!("tls" in security) || security.tls.bindNodeName !== true) return undefined
  const certificate = socket.getPeerCertificate()
  // As RFC 6125 has it for host names: the subject CN counts only when there is no DNS name.
  const dnsNames = (certificate.subjectaltname?.split(", ") ?? [])
    .filter((entry) => entry.startsWith("DNS:"))
    .map((entry) => entry.slice(4))
  if (dnsNames.length > 0) return dnsNames
  const commonName = certificate.subject?.CN
  return typeof commonName === "string" ? [commonName] : []
}

/**
 * A short description of a security mode, for logs.
 */
export const describe = (security: Security): string =>
  "insecure" in security ? "plain TCP (insecure)" : "secret" in security ? `TLS-PSK ${pskCipher}` : "TLS mTLS"
