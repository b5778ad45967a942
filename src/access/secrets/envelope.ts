// Envelope encryption of one secret value (AES-256-GCM, NIST SP 800-38D), in the shape of Vault
// Transit's datakey/rewrap:
//   value layer  a fresh random 32-byte data key (DEK) per seal encrypts the value;
//   key layer    the DEK is wrapped by the keyring's current KEK, and the KEK version is stored.
// Rotation therefore never touches value ciphertexts: `rewrap` unwraps the DEK with the old KEK and
// wraps it with the current one, and never returns plaintext.
//
// Both layers bind their context through GCM's additional data — project, name, secret version
// (plus the KEK version on the key layer), each length-prefixed so ("a","bc") ≠ ("ab","c") — so a
// ciphertext copied to another project, name or version fails to open:
// a row swapped or copied inside the table is caught, not just a bit flipped.
//
// IVs: 12 random bytes from crypto.randomBytes on every encryption. Each DEK encrypts exactly one
// value, so the value layer never repeats a (key, IV) pair; the key layer uses random IVs under a
// long-lived KEK, which SP 800-38D §8.3 bounds at 2^32 encryptions per key — rotate the KEK (and
// rewrap) long before that.
//
// Failures: everything an attacker with write access to the table could cause — bad format, wrong
// tag, wrong context, unknown KEK version — is ONE error with one message (no decryption oracle).
// Only "KEK version N is retired" is distinct: it reflects operator configuration.
//
// Stored form (base64url, no padding):
//   wrappedKey = "v1:<kekVersion>:<iv>:<tag>:<wrapped DEK>"
//   ciphertext = "v1:<iv>:<tag>:<ct>"
import { randomBytes } from 'node:crypto';
import { StrataError } from '../../kernel/index.ts';
import { AES256_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES, gcmDecrypt, gcmEncrypt } from './gcm.ts';
import type { Keyring } from './keyring.ts';

/** Where a secret value lives; bound into both layers' AAD. */
export interface SecretContext {
  readonly project: string;
  readonly name: string;
  /** The secret's own version (not the KEK version). */
  readonly version: number;
}

/** What to store for one sealed value. `kekVersion` is a copy of the version inside `wrappedKey`, for indexing rewrap work. */
export interface SealedValue {
  readonly wrappedKey: string;
  readonly ciphertext: string;
  readonly kekVersion: number;
}

/** What `open`/`rewrap` read: the KEK version is taken from `wrappedKey`, never from a separate column. */
export type SealedInput = Pick<SealedValue, 'wrappedKey' | 'ciphertext'>;

/** The one message for every undecryptable value. */
export const UNDECRYPTABLE_MESSAGE = 'secret ciphertext could not be decrypted (wrong key, wrong context, or tampered)';

const FORMAT = 'v1';
const VALUE_LABEL = 'strata/secret/value/v1';
const WRAP_LABEL = 'strata/secret/dek/v1';
const DEK_BYTES = AES256_KEY_BYTES;

/**
 * Encrypts `plaintext` for `context` under a fresh data key, and wraps that key with the keyring's
 * current KEK. The caller may zero `plaintext` afterwards.
 */
export function seal(keyring: Keyring, plaintext: Uint8Array, context: SecretContext): SealedValue {
  checkContext(context);
  const kekVersion = keyring.current;
  // One draw from the CSPRNG for the data key and both IVs (three small draws cost more than one).
  const random = randomBytes(DEK_BYTES + 2 * GCM_IV_BYTES);
  const dek = random.subarray(0, DEK_BYTES);
  try {
    const iv = random.subarray(DEK_BYTES, DEK_BYTES + GCM_IV_BYTES);
    const value = gcmEncrypt(dek, iv, plaintext, valueAad(context));
    const ciphertext = [FORMAT, b64(iv), b64(value.tag), b64(value.ciphertext)].join(':');
    return { wrappedKey: wrapDek(keyring, kekVersion, dek, context, random.subarray(DEK_BYTES + GCM_IV_BYTES)), ciphertext, kekVersion };
  } finally {
    random.fill(0);
  }
}

/**
 * Decrypts a sealed value for `context`. Throws StrataError('internal') with UNDECRYPTABLE_MESSAGE
 * on any format, tag, context or key-version mismatch, or a distinct message when the value's KEK
 * version is below the keyring's `minDecryptionVersion`. The caller owns (and should zero) the
 * returned buffer.
 */
export function open(keyring: Keyring, sealed: SealedInput, context: SecretContext): Buffer {
  checkContext(context);
  const value = parseValue(sealed.ciphertext);
  if (value === undefined) throw undecryptable();
  const dek = unwrapDek(keyring, sealed.wrappedKey, context);
  try {
    const plaintext = gcmDecrypt(dek, value.iv, value.ciphertext, value.tag, valueAad(context));
    if (plaintext === undefined) throw undecryptable();
    return plaintext;
  } finally {
    dek.fill(0);
  }
}

/**
 * Re-wraps the data key under the keyring's current KEK without decrypting the value: the returned
 * `ciphertext` is the input string, unchanged; only `wrappedKey` and `kekVersion` change. Fails
 * exactly as `open` does when the wrapped key cannot be unwrapped for `context`. Never returns
 * plaintext, so it is safe to run from a background job.
 */
export function rewrap(keyring: Keyring, sealed: SealedInput, context: SecretContext): SealedValue {
  checkContext(context);
  // Check the value's shape so a corrupt row is reported now, not at the next read; its tag can
  // only be checked by decrypting, which rewrap deliberately does not do.
  if (parseValue(sealed.ciphertext) === undefined) throw undecryptable();
  const dek = unwrapDek(keyring, sealed.wrappedKey, context);
  try {
    const kekVersion = keyring.current;
    return { wrappedKey: wrapDek(keyring, kekVersion, dek, context), ciphertext: sealed.ciphertext, kekVersion };
  } finally {
    dek.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------

function undecryptable(): StrataError {
  return new StrataError('internal', UNDECRYPTABLE_MESSAGE, { details: { reason: 'undecryptable' } });
}

function retired(kekVersion: number, min: number): StrataError {
  return new StrataError(
    'internal',
    `key version ${kekVersion} is retired (below minDecryptionVersion ${min}); rewrap secrets before retiring a key, or lower minDecryptionVersion`,
    { details: { reason: 'retired_key', kekVersion, minDecryptionVersion: min } },
  );
}

function wrapDek(keyring: Keyring, kekVersion: number, dek: Buffer, context: SecretContext, freshIv?: Buffer): string {
  const kek = keyring.key(kekVersion);
  try {
    const iv = freshIv ?? randomBytes(GCM_IV_BYTES);
    const wrapped = gcmEncrypt(kek, iv, dek, wrapAad(context, kekVersion));
    return [FORMAT, String(kekVersion), b64(iv), b64(wrapped.tag), b64(wrapped.ciphertext)].join(':');
  } finally {
    kek.fill(0);
  }
}

function unwrapDek(keyring: Keyring, wrappedKey: string, context: SecretContext): Buffer {
  const w = parseWrapped(wrappedKey);
  if (w === undefined) throw undecryptable();
  if (w.kekVersion < keyring.minDecryptionVersion) throw retired(w.kekVersion, keyring.minDecryptionVersion);
  if (!keyring.has(w.kekVersion)) throw undecryptable();
  const kek = keyring.key(w.kekVersion);
  try {
    const dek = gcmDecrypt(kek, w.iv, w.ciphertext, w.tag, wrapAad(context, w.kekVersion));
    if (dek === undefined) throw undecryptable();
    return dek;
  } finally {
    kek.fill(0);
  }
}

interface GcmParts {
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

function parseValue(s: string): GcmParts | undefined {
  const parts = s.split(':');
  if (parts.length !== 4 || parts[0] !== FORMAT) return undefined;
  return gcmParts(parts[1], parts[2], parts[3]);
}

function parseWrapped(s: string): (GcmParts & { readonly kekVersion: number }) | undefined {
  const parts = s.split(':');
  if (parts.length !== 5 || parts[0] !== FORMAT) return undefined;
  const version = parts[1];
  if (version === undefined || !/^[1-9][0-9]{0,8}$/.test(version)) return undefined;
  const g = gcmParts(parts[2], parts[3], parts[4]);
  if (g === undefined || g.ciphertext.length !== DEK_BYTES) return undefined;
  return { ...g, kekVersion: Number(version) };
}

/** Decodes the three fields and checks the IV and tag lengths before any cipher sees them. */
function gcmParts(iv?: string, tag?: string, ciphertext?: string): GcmParts | undefined {
  const ivBuf = unb64(iv);
  const tagBuf = unb64(tag);
  const ctBuf = unb64(ciphertext);
  if (ivBuf === undefined || tagBuf === undefined || ctBuf === undefined) return undefined;
  if (ivBuf.length !== GCM_IV_BYTES || tagBuf.length !== GCM_TAG_BYTES) return undefined;
  return { iv: ivBuf, tag: tagBuf, ciphertext: ctBuf };
}

const b64 = (b: Buffer): string => b.toString('base64url');

/** Strict base64url: the alphabet only, and canonical (re-encodes to the same text), so no two strings decode alike. */
function unb64(s: string | undefined): Buffer | undefined {
  if (s === undefined || !/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64url');
  return b.toString('base64url') === s ? b : undefined;
}

function checkContext(c: SecretContext): void {
  for (const [field, v] of [
    ['project', c.project],
    ['name', c.name],
  ] as const) {
    // A lone surrogate would encode to U+FFFD and collide with other strings in the AAD.
    if (typeof v !== 'string' || Buffer.from(v, 'utf8').toString('utf8') !== v) {
      throw new StrataError('bad_request', `secret ${field} must be a well-formed Unicode string`);
    }
  }
  if (!Number.isSafeInteger(c.version) || c.version < 0) {
    throw new StrataError('bad_request', 'secret version must be a non-negative integer');
  }
}

/** Each field as a 4-byte big-endian byte length followed by its UTF-8 bytes. */
function lengthPrefixed(fields: readonly string[]): Buffer {
  const out: Buffer[] = [];
  for (const f of fields) {
    const bytes = Buffer.from(f, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    out.push(len, bytes);
  }
  return Buffer.concat(out);
}

const valueAad = (c: SecretContext): Buffer => lengthPrefixed([VALUE_LABEL, c.project, c.name, String(c.version)]);

const wrapAad = (c: SecretContext, kekVersion: number): Buffer =>
  lengthPrefixed([WRAP_LABEL, c.project, c.name, String(c.version), String(kekVersion)]);
