// The one AES-256-GCM primitive the secrets envelope is built on (NIST SP 800-38D), with the
// parameters pinned: 32-byte key, 96-bit IV, 128-bit tag. Kept out of index.ts on purpose: callers
// that choose their own IV can break GCM completely (a repeated (key, IV) pair leaks the
// authentication key, SP 800-38D §8), so only envelope.ts — which draws every IV from
// crypto.randomBytes — uses it. The known-answer tests drive it directly.
//
// Tag length: Node's createDecipheriv without `authTagLength` lets setAuthTag accept any tag of
// 4..16 bytes, so a stored tag truncated to 4 bytes still "authenticates" with 2^-32 forgery odds.
// Node deprecated that as DEP0182 (doc-only in Node 20, runtime since nodejs/node#52552, removed in
// later majors) — but our floor is Node 20, where it still works. So we pass `authTagLength: 16` on
// both sides AND check every length before touching the cipher.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { StrataError } from '../../kernel/index.ts';

export const AES256_KEY_BYTES = 32;
/** 96-bit IVs: the only length SP 800-38D §8.2 lets GCM use without GHASH-derived counters. */
export const GCM_IV_BYTES = 12;
/** Full 128-bit tags only (SP 800-38D §5.2.1.2 allows shorter; we never accept them). */
export const GCM_TAG_BYTES = 16;

const ALGORITHM = 'aes-256-gcm';

export interface GcmSealed {
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

function checkKeyAndIv(key: Uint8Array, iv: Uint8Array): void {
  // Programmer errors, never attacker input: callers hand us keys we hold and IVs we generated or
  // already length-checked.
  if (key.length !== AES256_KEY_BYTES) {
    throw new StrataError('internal', `AES-256-GCM key must be ${AES256_KEY_BYTES} bytes, got ${key.length}`);
  }
  if (iv.length !== GCM_IV_BYTES) {
    throw new StrataError('internal', `AES-256-GCM IV must be ${GCM_IV_BYTES} bytes, got ${iv.length}`);
  }
}

/**
 * Encrypts `plaintext` under `key` with the given 12-byte `iv` and additional data `aad`; returns
 * the ciphertext (same length as the plaintext) and a 16-byte tag. The caller guarantees the IV is
 * never reused with this key.
 */
export function gcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): GcmSealed {
  checkKeyAndIv(key, iv);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/**
 * Decrypts and authenticates. Returns the plaintext, or `undefined` when anything is wrong — IV or
 * tag of the wrong length, wrong key, wrong AAD, altered ciphertext — without saying which, so the
 * caller can turn every failure into one error (no padding/format oracle). Plaintext produced
 * before the tag check failed is zeroed, never returned.
 */
export function gcmDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Buffer | undefined {
  if (key.length !== AES256_KEY_BYTES) {
    throw new StrataError('internal', `AES-256-GCM key must be ${AES256_KEY_BYTES} bytes, got ${key.length}`);
  }
  if (iv.length !== GCM_IV_BYTES || tag.length !== GCM_TAG_BYTES) return undefined;
  const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAuthTag(tag);
  decipher.setAAD(aad);
  const body = decipher.update(ciphertext);
  try {
    const tail = decipher.final();
    return tail.length === 0 ? body : Buffer.concat([body, tail]);
  } catch {
    body.fill(0);
    return undefined;
  }
}
