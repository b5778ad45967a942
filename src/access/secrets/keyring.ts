// The master key-encryption keys (KEKs) behind per-project secrets: a small versioned keyring in
// the style of Vault Transit — `rotate` adds the version new seals use, `minDecryptionVersion`
// retires old ones, and every wrapped data key records the KEK version that wrapped it.
//
// Sources, in order:
//   1. STRATA_MASTER_KEY       base64 of 32 bytes → a one-version keyring (v1)
//   2. STRATA_MASTER_KEY_FILE  path to a key file (below)
//   3. <home>/master.key       generated on first use when the caller allows it (embedded mode)
// Setting both 1 and 2 is refused as ambiguous rather than silently preferring one: a stale env
// var shadowing a rotated key file would seal new secrets under the old key.
// Key file: JSON {"format":"strata-keyring-v1","current":2,"minDecryptionVersion":1,
// "keys":{"1":"<base64>","2":"<base64>"}} — or, for secret mounts, just one base64 key (→ v1).
// A key file that group or others can access is refused (mode & 0o077), as ssh does for private keys.
//
// Key material never leaves this module except through `key(version)`: the class prints as
// `Keyring(v2, 2 keys)` under util.inspect, String() and JSON.stringify, and error messages name
// sources and paths, never values.
//
// Randomness: keys come from crypto.randomBytes directly. This is the one place where injecting a
// seeded RNG (STYLE habit 8) would be a vulnerability, not a testing aid.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { StrataError } from '../../kernel/index.ts';

/** Length of every KEK: AES-256. */
export const MASTER_KEY_BYTES = 32;
export const KEYRING_FORMAT = 'strata-keyring-v1';
export const MASTER_KEY_ENV = 'STRATA_MASTER_KEY';
export const MASTER_KEY_FILE_ENV = 'STRATA_MASTER_KEY_FILE';
export const MASTER_KEY_FILENAME = 'master.key';

const MAX_KEY_FILE_BYTES = 1 << 20;
const GENERATE_HINT = 'generate one with `openssl rand -base64 32`';

const keyringError = (message: string, details: Record<string, unknown> = {}): StrataError =>
  new StrataError('internal', message, { details: { component: 'secrets.keyring', ...details } });

const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

/**
 * An immutable set of versioned 32-byte KEKs. `rotate` and `setMinDecryptionVersion` return a new
 * keyring; nothing mutates one in place, so a keyring captured by a request stays consistent.
 */
export class Keyring {
  /** The version new seals wrap their data keys with. */
  readonly current: number;
  /** Wrapped keys below this version are refused (retired), even if the key is still held. */
  readonly minDecryptionVersion: number;
  readonly #keys: ReadonlyMap<number, Buffer>;

  private constructor(keys: ReadonlyMap<number, Buffer>, current: number, minDecryptionVersion: number) {
    this.#keys = keys;
    this.current = current;
    this.minDecryptionVersion = minDecryptionVersion;
  }

  /**
   * Builds a keyring from version → key. `current` defaults to the highest version and
   * `minDecryptionVersion` to 1. Keys are copied, so the caller may zero its buffers afterwards.
   */
  static of(
    keys: ReadonlyMap<number, Uint8Array>,
    options: { readonly current?: number; readonly minDecryptionVersion?: number } = {},
  ): Keyring {
    const copy = new Map<number, Buffer>();
    for (const [version, key] of keys) {
      if (!isVersion(version)) throw keyringError(`keyring version ${String(version)} is not a positive integer`);
      if (key.length !== MASTER_KEY_BYTES) {
        throw keyringError(`keyring key v${version} must be ${MASTER_KEY_BYTES} bytes, got ${key.length}`);
      }
      copy.set(version, Buffer.from(key));
    }
    if (copy.size === 0) throw keyringError('a keyring needs at least one key');
    const current = options.current ?? Math.max(...copy.keys());
    const min = options.minDecryptionVersion ?? 1;
    if (!isVersion(current) || !copy.has(current)) {
      throw keyringError(`keyring current version ${String(current)} has no key`, { current });
    }
    if (!isVersion(min) || min > current) {
      throw keyringError(`keyring minDecryptionVersion ${String(min)} must be between 1 and current (${current})`, {
        minDecryptionVersion: min,
        current,
      });
    }
    return new Keyring(copy, current, min);
  }

  /** A fresh one-version keyring (v1) with a random key. */
  static generate(): Keyring {
    const key = randomBytes(MASTER_KEY_BYTES);
    try {
      return Keyring.of(new Map([[1, key]]));
    } finally {
      key.fill(0);
    }
  }

  /** Whether this keyring holds the key for `version` (retired or not). */
  has(version: number): boolean {
    return this.#keys.has(version);
  }

  /**
   * A copy of the key for `version`; zero it (`fill(0)`) when done. Throws if the version is not
   * held. Does not check `minDecryptionVersion` — that is the caller's policy decision.
   */
  key(version: number): Buffer {
    const key = this.#keys.get(version);
    if (key === undefined) throw keyringError(`the keyring holds no key version ${version}`, { version });
    return Buffer.from(key);
  }

  /** Held versions, ascending. */
  versions(): number[] {
    return [...this.#keys.keys()].sort((a, b) => a - b);
  }

  toString(): string {
    const n = this.#keys.size;
    return `Keyring(v${this.current}, ${n} ${n === 1 ? 'key' : 'keys'})`;
  }

  /** Serialises as the redacted summary: a keyring in a log line must not leak key material. */
  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * Returns a keyring with a new version (highest held + 1) holding 32 fresh random bytes, made
 * current. Older versions stay for decryption until `minDecryptionVersion` passes them. Persist the
 * result with `persistKeyring` before sealing anything under it.
 */
export function rotate(keyring: Keyring): Keyring {
  const keys = new Map<number, Buffer>();
  for (const v of keyring.versions()) keys.set(v, keyring.key(v));
  const next = Math.max(...keys.keys()) + 1;
  keys.set(next, randomBytes(MASTER_KEY_BYTES));
  try {
    return Keyring.of(keys, { current: next, minDecryptionVersion: keyring.minDecryptionVersion });
  } finally {
    for (const k of keys.values()) k.fill(0);
  }
}

/**
 * Returns a keyring that refuses wrapped keys below `version`. Raise it only after every row has
 * been rewrapped to a newer version; lowering it again works while the old key is still held.
 */
export function setMinDecryptionVersion(keyring: Keyring, version: number): Keyring {
  if (!isVersion(version) || version > keyring.current) {
    throw keyringError(`minDecryptionVersion must be an integer between 1 and current (${keyring.current})`, {
      minDecryptionVersion: version,
    });
  }
  if (!keyring.has(version)) throw keyringError(`cannot set minDecryptionVersion to ${version}: that key is not held`);
  const keys = new Map<number, Buffer>();
  for (const v of keyring.versions()) keys.set(v, keyring.key(v));
  try {
    return Keyring.of(keys, { current: keyring.current, minDecryptionVersion: version });
  } finally {
    for (const k of keys.values()) k.fill(0);
  }
}

/** Where a keyring came from, so the caller can log it (and know whether it may persist). */
export type KeyringSource =
  | { readonly kind: 'env' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'generated'; readonly path: string };

export interface LoadedKeyring {
  readonly keyring: Keyring;
  readonly source: KeyringSource;
}

export interface LoadKeyringOptions {
  /** Strata's home directory; the default key file is `<home>/master.key`. */
  readonly home: string;
  /** Environment to read; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Create `<home>/master.key` when no key is configured (embedded mode). Default false. */
  readonly generate?: boolean;
}

/** Path of the default key file under `home`. */
export const masterKeyPath = (home: string): string => join(home, MASTER_KEY_FILENAME);

/**
 * Loads the master keyring from STRATA_MASTER_KEY, then STRATA_MASTER_KEY_FILE, then
 * `<home>/master.key`, creating the latter when `generate` is set. Safe to call from several
 * processes at once: exactly one creates the file, the others read it.
 */
export function loadKeyring(options: LoadKeyringOptions): LoadedKeyring {
  const env = options.env ?? process.env;
  const inline = nonEmpty(env[MASTER_KEY_ENV]);
  const file = nonEmpty(env[MASTER_KEY_FILE_ENV]);
  if (inline !== undefined && file !== undefined) {
    throw keyringError(`both ${MASTER_KEY_ENV} and ${MASTER_KEY_FILE_ENV} are set; unset one of them`);
  }
  if (inline !== undefined) {
    const key = parseBase64Key(inline, MASTER_KEY_ENV);
    try {
      return { keyring: Keyring.of(new Map([[1, key]])), source: { kind: 'env' } };
    } finally {
      key.fill(0);
    }
  }
  if (file !== undefined) {
    const keyring = readKeyFile(file, MASTER_KEY_FILE_ENV);
    if (keyring === undefined) {
      throw keyringError(`${MASTER_KEY_FILE_ENV} points to ${file}, which does not exist`, { path: file });
    }
    return { keyring, source: { kind: 'file', path: file } };
  }
  const path = masterKeyPath(options.home);
  const existing = readKeyFile(path, 'master key file');
  if (existing !== undefined) return { keyring: existing, source: { kind: 'file', path } };
  if (options.generate !== true) {
    throw keyringError(
      `no master key: set ${MASTER_KEY_ENV} (${GENERATE_HINT}) or ${MASTER_KEY_FILE_ENV}, or create ${path}`,
      { path },
    );
  }
  mkdirSync(options.home, { recursive: true, mode: 0o700 });
  const created = createKeyFileExclusive(path);
  if (created !== undefined) return { keyring: created, source: { kind: 'generated', path } };
  // Another process won the race; its file is complete (published by link), so read it.
  const raced = readKeyFile(path, 'master key file');
  if (raced === undefined) throw keyringError(`master key file ${path} vanished while it was being created`, { path });
  return { keyring: raced, source: { kind: 'file', path } };
}

/**
 * Writes the keyring to `path` atomically: a new 0600 temp file beside it, fsync, rename over the
 * old file, fsync the directory. A crash leaves either the old file or the new one, never a mix.
 */
export function persistKeyring(keyring: Keyring, path: string): void {
  const tmp = tempPathFor(path);
  writeNewFile(tmp, serialiseKeyring(keyring));
  try {
    renameSync(tmp, path);
  } catch (e) {
    safeUnlink(tmp);
    throw e;
  }
  fsyncDir(dirname(path));
}

// ---------------------------------------------------------------------------------------------

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** Strict base64 (standard or URL-safe alphabet, padding optional) of exactly 32 bytes. */
function parseBase64Key(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    throw keyringError(`${what} is not base64; expected base64 of ${MASTER_KEY_BYTES} random bytes (${GENERATE_HINT})`, {
      source: what,
    });
  }
  const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  const canonical = key.toString('base64').replace(/=+$/, '');
  if (canonical !== text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '')) {
    key.fill(0);
    throw keyringError(`${what} is not valid base64 (${GENERATE_HINT})`, { source: what });
  }
  if (key.length !== MASTER_KEY_BYTES) {
    const n = key.length;
    key.fill(0);
    throw keyringError(`${what} must be base64 of exactly ${MASTER_KEY_BYTES} bytes, got ${n} bytes (${GENERATE_HINT})`, {
      source: what,
    });
  }
  return key;
}

/** Reads and validates a key file; `undefined` if it does not exist. */
function readKeyFile(path: string, what: string): Keyring | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw keyringError(`cannot open ${what} ${path}: ${errnoCode(e) ?? 'error'}`, { path });
  }
  try {
    // Check the descriptor we read from, not the path, so a swap between check and read is moot.
    const st = fstatSync(fd);
    if (!st.isFile()) throw keyringError(`${what} ${path} is not a regular file`, { path });
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw keyringError(
        `${what} ${path} is accessible to group or others (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\``,
        { path },
      );
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw keyringError(`${what} ${path} is too large to be a key file`, { path });
    return parseKeyFile(readFileSync(fd, 'utf8'), `${what} ${path}`);
  } finally {
    closeSync(fd);
  }
}

function parseKeyFile(text: string, what: string): Keyring {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) {
    const key = parseBase64Key(trimmed, what);
    try {
      return Keyring.of(new Map([[1, key]]));
    } finally {
      key.fill(0);
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(trimmed);
  } catch {
    throw keyringError(`${what} is not valid JSON; expected {"format":"${KEYRING_FORMAT}", ...}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw keyringError(`${what} is not a JSON object`);
  const o = doc as Record<string, unknown>;
  if (o['format'] !== KEYRING_FORMAT) {
    throw keyringError(`${what} has format ${JSON.stringify(o['format'])}; expected "${KEYRING_FORMAT}"`);
  }
  const current = o['current'];
  const min = o['minDecryptionVersion'] ?? 1;
  if (!isVersion(current)) throw keyringError(`${what}: "current" must be a positive integer`);
  if (!isVersion(min)) throw keyringError(`${what}: "minDecryptionVersion" must be a positive integer`);
  const rawKeys = o['keys'];
  if (typeof rawKeys !== 'object' || rawKeys === null || Array.isArray(rawKeys)) {
    throw keyringError(`${what}: "keys" must be an object of version → base64 key`);
  }
  const keys = new Map<number, Buffer>();
  try {
    for (const [name, value] of Object.entries(rawKeys as Record<string, unknown>)) {
      if (!/^[1-9][0-9]{0,8}$/.test(name)) throw keyringError(`${what}: key version "${name}" is not a positive integer`);
      if (typeof value !== 'string') throw keyringError(`${what}: key v${name} must be a base64 string`);
      keys.set(Number(name), parseBase64Key(value, `${what} key v${name}`));
    }
    return Keyring.of(keys, { current, minDecryptionVersion: min });
  } finally {
    for (const k of keys.values()) k.fill(0);
  }
}

/**
 * Creates `path` holding a fresh keyring, unless it already exists (→ undefined). The content is
 * written to a 0600 temp file opened with 'wx' and fsynced, then published with link(2), which
 * fails with EEXIST if another process got there first. Unlike writing into `open(path, 'wx')`
 * directly, no reader can ever see a half-written key file, and a crash leaves only a stray temp.
 */
function createKeyFileExclusive(path: string): Keyring | undefined {
  const keyring = Keyring.generate();
  const tmp = tempPathFor(path);
  writeNewFile(tmp, serialiseKeyring(keyring));
  try {
    linkSync(tmp, path);
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return undefined;
    throw keyringError(`cannot create master key file ${path}: ${errnoCode(e) ?? 'error'}`, { path });
  } finally {
    safeUnlink(tmp);
  }
  fsyncDir(dirname(path));
  return keyring;
}

/** The key file body. Not exported: the only way key material reaches a string. */
function serialiseKeyring(keyring: Keyring): string {
  const keys: Record<string, string> = {};
  for (const v of keyring.versions()) {
    const key = keyring.key(v);
    keys[String(v)] = key.toString('base64');
    key.fill(0);
  }
  const body = { format: KEYRING_FORMAT, current: keyring.current, minDecryptionVersion: keyring.minDecryptionVersion, keys };
  return `${JSON.stringify(body, null, 2)}\n`;
}

function tempPathFor(path: string): string {
  return `${path}.${randomBytes(6).toString('hex')}.tmp`;
}

function writeNewFile(path: string, body: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    const data = Buffer.from(body, 'utf8');
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    data.fill(0);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    safeUnlink(path);
    throw e;
  }
  closeSync(fd);
}

function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort: some filesystems refuse fsync on directories.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = e.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
