/**
 * The bearer-token guard of the Observer's operations that change something: the token given to
 * the layer is kept only as its SHA-256 digest, and a request's token is compared with it in
 * constant time (digests have one length, so neither the token's length nor its content leaks
 * through timing). Tokens are never logged.
 *
 * @internal
 */
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** A check of `Authorization` headers against one token. */
export interface BearerGuard {
  /** Whether the header is `Bearer <the token>` (the scheme is case-insensitive). */
  readonly accepts: (authorization: string | undefined) => boolean
}

/** A guard for `token` (which must not be empty). */
export const bearerGuard = (token: string): BearerGuard => {
  const expected = digest(token)
  return {
    accepts: (authorization) => {
      if (authorization === undefined) return false
      const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)
      // Compare a digest in every case, so that a missing token costs the same as a wrong one.
      const given = digest(match?.[1] ?? "")
      return timingSafeEqual(given, expected) && match !== null
    }
  }
}
