// Signed checkpoints (signed tree heads): Ed25519 signatures over {logId, size, root, time}, and
// the files that keep them outside the database. A checkpoint that left the database is what turns
// a silent rewrite or truncation into a detectable one (research/security-reliability.md §1.2 P3;
// a simplified form of the RFC 9162 signed tree head).

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError, badRequest, conflict } from '../../kernel/index.ts';
import { canonicalJson, isIsoTime } from './entry.ts';
import { isHashHex, sha256Hex } from './merkle.ts';

/** A tree head: the log `logId` had `size` entries with Merkle root `root` (hex) at `time` (ISO-8601). */
export interface Checkpoint {
  readonly logId: string;
  readonly size: number;
  readonly root: string;
  readonly time: string;
}

/** A checkpoint with an Ed25519 signature (base64) over `checkpointBytes`, and the signer's key id. */
export type SignedCheckpoint = Checkpoint & { readonly signature: string; readonly keyId: string };

/** The log's signing key pair and its key id. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyId: string;
}

export const PRIVATE_KEY_FILE = 'audit-signing.key';
export const PUBLIC_KEY_FILE = 'audit-signing.pub';

const KEY_ID = /^[0-9a-f]{16}$/;
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/; // 64 bytes, standard base64 with padding

/** What is wrong with `c` as a `Checkpoint`, or `undefined`. Never throws. */
export function checkpointProblem(c: unknown): string | undefined {
  if (typeof c !== 'object' || c === null) return 'not an object';
  const r = c as Record<string, unknown>;
  if (typeof r['logId'] !== 'string' || r['logId'].length === 0 || r['logId'].length > 200) return 'logId must be a string of 1–200 characters';
  const size = r['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return 'size must be a non-negative integer';
  if (!isHashHex(r['root'])) return 'root must be 64 lower-case hex digits';
  if (!isIsoTime(r['time'])) return 'time must be an ISO-8601 timestamp';
  return undefined;
}

/** What is wrong with `c` as a `SignedCheckpoint`, or `undefined`. Never throws. */
export function signedCheckpointProblem(c: unknown): string | undefined {
  const problem = checkpointProblem(c);
  if (problem !== undefined) return problem;
  const r = c as Record<string, unknown>;
  if (typeof r['signature'] !== 'string' || !SIGNATURE.test(r['signature'])) return 'signature must be 64 bytes of base64';
  if (typeof r['keyId'] !== 'string' || !KEY_ID.test(r['keyId'])) return 'keyId must be 16 lower-case hex digits';
  return undefined;
}

/** The bytes that are signed: UTF-8 of the RFC 8785 canonical JSON of exactly the four Checkpoint fields. */
export function checkpointBytes(c: Checkpoint): Buffer {
  return Buffer.from(canonicalJson({ logId: c.logId, size: c.size, root: c.root, time: c.time }), 'utf8');
}

function assertEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw badRequest(`${what} must be an Ed25519 key; got ${key.asymmetricKeyType ?? key.type}`);
  }
}

/** Key id = hex of the first 8 bytes of SHA-256 of the raw 32-byte Ed25519 public key. */
export function publicKeyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  assertEd25519(pub, 'the audit public key');
  const { x } = pub.export({ format: 'jwk' });
  if (typeof x !== 'string') throw badRequest('the audit public key has no raw key material');
  return sha256Hex(Buffer.from(x, 'base64url')).slice(0, 16);
}

/** A fresh in-memory Ed25519 signing key (tests, tools). Servers use `loadOrCreateSigningKey`. */
export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, keyId: publicKeyId(publicKey) };
}

/**
 * Signs a checkpoint. Throws a bad_request StrataError if the checkpoint is malformed. Extra
 * properties on `c` are neither signed nor copied.
 */
export function signCheckpoint(c: Checkpoint, key: SigningKey): SignedCheckpoint {
  const problem = checkpointProblem(c);
  if (problem !== undefined) throw badRequest(`cannot sign checkpoint: ${problem}`);
  const signature = sign(null, checkpointBytes(c), key.privateKey).toString('base64');
  return { logId: c.logId, size: c.size, root: c.root, time: c.time, signature, keyId: key.keyId };
}

/**
 * True when `signed` is a well-formed checkpoint whose key id names `publicKey` and whose Ed25519
 * signature verifies under it. Returns false (never throws) for anything else.
 */
export function verifyCheckpoint(signed: unknown, publicKey: KeyObject): boolean {
  try {
    if (signedCheckpointProblem(signed) !== undefined) return false;
    const s = signed as SignedCheckpoint;
    if (s.keyId !== publicKeyId(publicKey)) return false;
    return verify(null, checkpointBytes(s), publicKey, Buffer.from(s.signature, 'base64'));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Files

let tmpCounter = 0;
const tmpPath = (dir: string, name: string): string => join(dir, `.${name}.${process.pid}.${++tmpCounter}.tmp`);

const errCode = (e: unknown): unknown => (e as { code?: unknown } | null)?.code;

/** Best-effort fsync of a directory so a rename or link survives a crash; not all platforms allow it. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Directories cannot be fsynced everywhere (e.g. Windows); the data file itself was synced.
  }
}

/** Writes `data` to a fresh temp file in `dir` with exactly `mode`, fsynced. Returns its path. */
async function writeTemp(dir: string, name: string, data: string, mode: number): Promise<string> {
  const tmp = tmpPath(dir, name);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.chmod(mode); // the umask may have narrowed the creation mode; state it exactly
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  return tmp;
}

/** Atomically replaces `<dir>/<name>` with `data` (temp file + rename). */
async function writeAtomic(dir: string, name: string, data: string, mode: number): Promise<string> {
  const final = join(dir, name);
  const tmp = await writeTemp(dir, name, data, mode);
  try {
    await rename(tmp, final);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
  return final;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (errCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Refuses a private key file that group or others can read, as ssh does. */
async function assertPrivateMode(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) {
    throw new StrataError(
      'precondition_failed',
      `the audit signing key ${path} is accessible to group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
      { details: { path } },
    );
  }
}

function parsePrivateKey(pem: string, path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new StrataError('precondition_failed', `the audit signing key ${path} is not a readable PEM private key; restore it from backup`, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new StrataError('precondition_failed', `the audit signing key ${path} is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  }
  return key;
}

/**
 * Loads the log's Ed25519 key pair from `<dir>/audit-signing.key` (PKCS#8 PEM), creating it with
 * mode 0600 if missing, and (re)writes `<dir>/audit-signing.pub` (SPKI PEM, mode 0644) whenever it is
 * missing or does not match. Creation is race-free: the key is written to a temp file and hard-linked
 * into place, so two processes starting at once end up sharing one key. Refuses
 * (precondition_failed) a key file readable by group or others.
 */
export async function loadOrCreateSigningKey(dir: string): Promise<SigningKey> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, PRIVATE_KEY_FILE);
  let pem = await readIfExists(keyPath);
  if (pem === undefined) {
    const { privateKey } = generateKeyPairSync('ed25519');
    const fresh = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const tmp = await writeTemp(dir, PRIVATE_KEY_FILE, fresh, 0o600);
    try {
      await link(tmp, keyPath); // fails with EEXIST instead of replacing a key another process made
      await syncDir(dir);
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    pem = await readFile(keyPath, 'utf8');
  }
  await assertPrivateMode(keyPath);
  const privateKey = parsePrivateKey(pem, keyPath);
  const publicKey = createPublicKey(privateKey);
  const pubPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  if ((await readIfExists(join(dir, PUBLIC_KEY_FILE))) !== pubPem) {
    await writeAtomic(dir, PUBLIC_KEY_FILE, pubPem, 0o644);
  }
  return { privateKey, publicKey, keyId: publicKeyId(publicKey) };
}

/**
 * Loads an Ed25519 public key from PEM text or from the path of a PEM file (SPKI public key; a
 * private key PEM also works and yields its public half). Throws bad_request if it is not Ed25519.
 */
export async function loadPublicKey(pemOrPath: string): Promise<KeyObject> {
  const pem = pemOrPath.trimStart().startsWith('-----BEGIN') ? pemOrPath : await readFile(pemOrPath, 'utf8');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new StrataError('bad_request', 'the audit public key is not a PEM Ed25519 public key', { cause: e });
  }
  assertEd25519(key, 'the audit public key');
  return key;
}

const CHECKPOINT_FILE = /^(\d{12,})\.json$/;

/** File name of the checkpoint of size `size`: the size zero-padded to 12 digits, so names sort by size. */
export const checkpointFileName = (size: number): string => `${String(size).padStart(12, '0')}.json`;

/**
 * Reads and shape-checks one checkpoint file (it does not verify the signature; use
 * `verifyCheckpoint`). Throws precondition_failed if the file is not a well-formed signed checkpoint.
 */
export async function readCheckpointFile(path: string): Promise<SignedCheckpoint> {
  const text = await readFile(path, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new StrataError('precondition_failed', `checkpoint file ${path} is not JSON; restore it from a copy`, { cause: e });
  }
  const problem = signedCheckpointProblem(parsed);
  if (problem !== undefined) {
    throw new StrataError('precondition_failed', `checkpoint file ${path} is malformed (${problem}); restore it from a copy`);
  }
  const c = parsed as SignedCheckpoint;
  return { logId: c.logId, size: c.size, root: c.root, time: c.time, signature: c.signature, keyId: c.keyId };
}

/**
 * Writes `<dir>/<size zero-padded to 12>.json` atomically (temp file + rename) and returns its path.
 * An existing file for the same size and root is kept as is. An existing file for the same size
 * with a different root or log is evidence of a fork, so it is never overwritten: that throws
 * conflict.
 */
export async function writeCheckpointFile(dir: string, signed: SignedCheckpoint): Promise<string> {
  const problem = signedCheckpointProblem(signed);
  if (problem !== undefined) throw badRequest(`cannot write checkpoint: ${problem}`);
  await mkdir(dir, { recursive: true });
  const name = checkpointFileName(signed.size);
  const path = join(dir, name);
  if ((await readIfExists(path)) !== undefined) {
    const existing = await readCheckpointFile(path);
    if (existing.logId === signed.logId && existing.root === signed.root) return path;
    throw conflict(
      `checkpoint ${path} already records log ${existing.logId} at size ${existing.size} with root ${existing.root}; ` +
        `refusing to overwrite it with root ${signed.root} of log ${signed.logId} (a fork or rewrite: keep both and investigate)`,
      { path, size: signed.size },
    );
  }
  const { logId, size, root, time, signature, keyId } = signed;
  return writeAtomic(dir, name, `${JSON.stringify({ logId, size, root, time, signature, keyId }, null, 2)}\n`, 0o644);
}

/** Checkpoint files in `dir`, by ascending size; empty if the directory does not exist. */
export async function listCheckpoints(dir: string): Promise<{ readonly size: number; readonly path: string }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return [];
    throw e;
  }
  const found: { size: number; path: string }[] = [];
  for (const name of names) {
    const m = CHECKPOINT_FILE.exec(name);
    if (m === null) continue;
    const size = Number(m[1]);
    if (Number.isSafeInteger(size)) found.push({ size, path: join(dir, name) });
  }
  return found.sort((a, b) => a.size - b.size);
}

/** The checkpoint with the largest size in `dir` (shape-checked, not signature-checked), or undefined. */
export async function readLatestCheckpoint(dir: string): Promise<SignedCheckpoint | undefined> {
  const all = await listCheckpoints(dir);
  const last = all.at(-1);
  if (last === undefined) return undefined;
  const c = await readCheckpointFile(last.path);
  if (c.size !== last.size) {
    throw new StrataError('precondition_failed', `checkpoint file ${last.path} holds size ${c.size}, not the ${last.size} its name says; restore it from a copy`);
  }
  return c;
}
