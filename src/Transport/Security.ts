/**
 * How links are secured: TLS 1.2 with a pre-shared key derived from a cluster secret, certificate
 * mTLS, or (only when asked for explicitly) plain TCP.
 *
 * @since 0.1.0
 */
import { hkdfSync } from "node:crypto"
import { Redacted } from "effect"

/**
 * Link security.
 *
 * - `{ secret }`: TLS 1.2 `ECDHE-PSK-CHACHA20-POLY1305`; the key is HKDF-SHA256 of the secret and
 *   the PSK identity is the node name. Mutual authentication, encryption, integrity and forward
 *   secrecy with no certificates. Every node of a cluster must share the secret. Give it as a
 *   `Redacted` (as `Config.Redacted` reads it): it stays redacted in logs, errors and `toString`,
 *   and only the key derivation reads it. A plain string is wrapped at once. A node with another
 *   secret fails the TLS handshake; both sides log what that most likely means.
 * - `{ tls: { ca, cert, key, bindNodeName } }`: mutual certificate authentication against your
 *   CA. The peer's certificate must be signed by `ca`; host names are not checked. By default a
 *   certificate proves membership of the cluster, not which node its holder is (any member can
 *   claim any node name, as with a shared secret). With `bindNodeName: true` a node must be named
 *   by its certificate: a DNS subjectAltName (or the subject CN of a certificate without any) must
 *   equal the node name it claims in the handshake, in both directions, or the connection is
 *   refused (`identity_mismatch`).
 * - `{ insecure: true }`: plain TCP, no authentication nor encryption. Logs a warning at start.
 *
 * @example
 * ```ts
 * import { Config, Effect } from "effect"
 * import type { Security } from "effect-otp"
 *
 * const fromEnv = Effect.map(
 *   Config.Redacted("CLUSTER_SECRET"),
 *   (secret): Security.Security => ({ secret })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Security =
  | { readonly secret: Redacted.Redacted<string> | string }
  | { readonly tls: CertificateOptions }
  | { readonly insecure: true }

/**
 * The security mode with its secret wrapped in a `Redacted` (a plain string is wrapped here, at
 * once, so that nothing built from it later can print it). Other modes are returned as they are.
 *
 * @example
 * ```ts
 * import { Security } from "effect-otp"
 *
 * const security = Security.redact({ secret: "s3cret" })
 * if ("secret" in security) String(security.secret) // "<redacted>"
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
 * @example
 * ```ts
 * import * as Fs from "node:fs"
 * import type { Security } from "effect-otp"
 *
 * const tls: Security.CertificateOptions = {
 *   ca: Fs.readFileSync("/etc/otp/ca.crt"),
 *   cert: Fs.readFileSync("/etc/otp/node.crt"),
 *   key: Fs.readFileSync("/etc/otp/node.key"),
 *   bindNodeName: true
 * }
 * ```
 *
 * @category models
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
 * The only cipher suite used with a cluster secret (TLS 1.2).
 *
 * @example
 * ```ts
 * import { Security } from "effect-otp"
 *
 * Security.pskCipher // "ECDHE-PSK-CHACHA20-POLY1305"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const pskCipher = "ECDHE-PSK-CHACHA20-POLY1305"

const pskLabel = "effect-otp cluster psk v1"

/**
 * Derives the 32-byte TLS pre-shared key from a cluster secret with HKDF-SHA256 and a fixed label.
 * With `isEmptySecret`, the only code that reads the secret.
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
