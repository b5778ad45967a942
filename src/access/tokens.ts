// API tokens: 256 bits from the CSPRNG, shown once, stored only as a SHA-256 hash. The `strata_`
// prefix makes leaked tokens recognisable to secret scanners. A slow hash is unnecessary for
// 256-bit random secrets; the hash is the lookup key, so no comparison of secrets happens in JS.
import { randomBytes } from 'node:crypto';
import { sha256Hex } from './audit/merkle.ts';

export const TOKEN_PREFIX = 'strata_';
const TOKEN_RE = /^strata_[A-Za-z0-9_-]{43}$/;

export interface NewToken {
  /** The secret, shown to the user once. */
  readonly token: string;
  /** What is stored. */
  readonly hash: string;
  /** The first characters, safe to display in listings. */
  readonly displayPrefix: string;
}

export function generateToken(): NewToken {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token), displayPrefix: token.slice(0, TOKEN_PREFIX.length + 6) };
}

export function hashToken(token: string): string {
  return sha256Hex(token);
}

export function looksLikeToken(s: string): boolean {
  return TOKEN_RE.test(s);
}
