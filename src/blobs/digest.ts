// Content digests: the only names blobs have. `Digest` is a branded 'sha256:<64 lower-case hex>'
// string created only by `parseDigest` (at the edge) or by hashing content (inside a store), so a
// digest that reaches a store can always be turned into an object path without escaping it.
import { createHash, type Hash } from 'node:crypto';
import { badRequest, type Brand } from '../kernel/index.ts';

/** A content address: `sha256:` followed by 64 lower-case hexadecimal digits. */
export type Digest = Brand<string, 'Digest'>;

/** The only algorithm stores accept today; the prefix leaves room for others (OCI image-spec style). */
export const DIGEST_ALGORITHM = 'sha256';

// Lower case only (as in the OCI image-spec descriptor grammar for sha256): one spelling per
// content, so equal digests are equal strings and map to exactly one object path.
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** True when `s` is a well-formed digest (no throwing; for filters and assertions). */
export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/**
 * Boundary parser: turns untrusted input (URL segment, JSON field, database row) into a `Digest`.
 * Throws a 400 StrataError naming the expected form otherwise.
 */
export function parseDigest(s: unknown, field = 'digest'): Digest {
  if (isDigest(s)) return s;
  const shown = typeof s === 'string' ? JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s) : typeof s;
  throw badRequest(`invalid ${field} ${shown}: expected 'sha256:' followed by 64 lower-case hex digits`, { field });
}

/** The hex part of a digest (what object paths and S3 keys are built from). */
export function digestHex(d: Digest): string {
  return d.slice(DIGEST_ALGORITHM.length + 1);
}

/** Builds a `Digest` from a finished SHA-256 hash. */
export function digestFromHash(hash: Hash): Digest {
  return `${DIGEST_ALGORITHM}:${hash.digest('hex')}` as Digest;
}

/** SHA-256 digest of bytes held in memory (small values, tests); stream large content through a store. */
export function digestOf(data: Uint8Array | string): Digest {
  return digestFromHash(createHash('sha256').update(data));
}
