/**
 * How links are secured: TLS 1.2 with a pre-shared key derived from a cluster secret, certificate
 * mTLS, or (only when asked for explicitly) plain TCP.
 *
 * @since 0.1.0
 */
import { hkdfSync } from "node:crypto"
import type * as Tls from "node:tls"
import { Redacted } from "effect"

/**
 * Link security.
 *
 * - `{ secret }`: TLS 1.2 `ECDHE-PSK-CHACHA20-POLY1305`; the key is HKDF-SHA256 of the secret and
 *   the PSK identity is the node name. Mutual authentication, encryption, integrity and forward
 *   secrecy with no certificates. Every node of a cluster must share the secret. Give it as a
 *   `Redacted` (as `Config.Redacted` reads it): it stays redacted in logs, errors and `toString`,
 *   and only the key derivation reads it. A plain string is wrapped at once.
 * - `{ tls: { ca, cert, key, bindNodeName } }`: mutual certificate authentication against your
 *   CA. The peer's certificate must be signed by `ca`; host names are not checked. By default a
 *   certificate proves membership of the cluster, not which node its holder is (any member can
 *   claim any node name, as with a shared secret). With `bindNodeName: true` a node must be named
 *   by its certificate: a DNS subjectAltName (or the subject CN of a certificate without any) must
 *   equal the node name it claims in the handshake, in both directions, or the connection is
 *   refused (`identity_mismatch`).
 * - `{ insecure: true }`: plain TCP, no authentication nor encryption. Logs a warning at start.
 *
 * @since 0.1.0
 */
export type Security =
  | { readonly secret: Redacted.Redacted<string> | string }
  | { readonly tls: CertificateOptions }
  | { readonly insecure: true }

/**
 * The security mode with its secret wrapped in a `Redacted` (a plain string is wrapped here, at
 * once, so that nothing built from it later can print it).
 *
 * @example
 * ```ts
 * import { Security } from "effect-otp"
 *
 * const security = Security.redact({ secret: "s3cret" })
 * String(security.secret) // "<redacted>"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const redact = (
  security: Security
):
  | { readonly secret: Redacted.Redacted<string> }
  | { readonly tls: CertificateOptions }
  | { readonly insecure: true } =>
  "secret" in security
    ? { secret: Redacted.isRedacted(security.secret) ? security.secret : Redacted.make(security.secret) }
    : security

/**
 * Certificate mTLS: PEM (or DER buffers) of the cluster's CA, this node's certificate and its key.
 *
 * @since 0.1.0
 */
export interface CertificateOptions {
  readonly ca: string | Buffer
  readonly cert: string | Buffer
  readonly key: string | Buffer
  /**
   * Require each node's certificate to name it: one of its DNS subjectAltNames (or, for a
   * certificate without any, its subject CN) must equal the node name. Default false.
   */
  readonly bindNodeName?: boolean | undefined
}

/**
 * The only cipher suite used with a cluster secret.
 *
 * @since 0.1.0
 */
export const pskCipher = "ECDHE-PSK-CHACHA20-POLY1305"

const pskLabel = "effect-otp cluster psk v1"

/**
 * Derives the 32-byte TLS pre-shared key from a cluster secret with HKDF-SHA256 and a fixed label.
 * The only place where the secret is read.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Security } from "effect-otp"
 *
 * Security.derivePsk(Redacted.make("correct horse battery staple")).length // 32
 * ```
 *
 * @category key derivation
 * @since 0.1.0
 */
export const derivePsk = (secret: Redacted.Redacted<string> | string): Buffer =>
  Buffer.from(
    hkdfSync(
      "sha256",
      Buffer.from(Redacted.isRedacted(secret) ? Redacted.value(secret) : secret, "utf8"),
      Buffer.alloc(0),
      pskLabel,
      32
    )
  )

/**
 * Whether a cluster secret is empty (an empty secret is refused: it would authenticate anyone
 * configured without one).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Security } from "effect-otp"
 *
 * Security.isEmptySecret(Redacted.make("")) // true
 * ```
 *
 * @category key derivation
 * @since 0.1.0
 */
export const isEmptySecret = (secret: Redacted.Redacted<string> | string): boolean =>
  (Redacted.isRedacted(secret) ? Redacted.value(secret) : secret).length === 0

const psk12 = { ciphers: pskCipher, minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } as const

/**
 * TLS server options for a security mode, or `undefined` for plain TCP. `onIdentity` receives the
 * PSK identity a client presented (its node name), to be checked against its `Hello`.
 *
 * @since 0.1.0
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
 *
 * @since 0.1.0
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
 *
 * @since 0.1.0
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
 *
 * @since 0.1.0
 */
export const describe = (security: Security): string =>
  "insecure" in security ? "plain TCP (insecure)" : "secret" in security ? `TLS-PSK ${pskCipher}` : "TLS mTLS"
