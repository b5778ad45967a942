// The master keyring: sources (env, key file, generated file), file permissions, racing first use
// across processes, rotation and persistence, and redaction (no key material in inspect/JSON).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format, inspect } from 'node:util';
import { isStrataError } from '../../kernel/index.ts';
import {
  KEYRING_FORMAT,
  Keyring,
  loadKeyring,
  masterKeyPath,
  open,
  persistKeyring,
  rotate,
  seal,
  setMinDecryptionVersion,
} from './index.ts';

const posix = process.platform !== 'win32';

function tempHome(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-keyring-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const b64 = (b: Buffer): string => b.toString('base64');

/** Base64 of `b` with one unused low bit of the last character set: decodes to the same bytes. */
function nonCanonical(b: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const text = b64(b).replace(/=+$/, '');
  const last = alphabet.indexOf(text.at(-1) ?? 'A');
  return `${text.slice(0, -1)}${alphabet[last ^ 1] ?? 'A'}`;
}

/** Every textual rendering a keyring might end up in: none may contain key material. */
function renderings(k: Keyring): string[] {
  return [
    inspect(k),
    inspect(k, { showHidden: true, depth: Infinity, getters: true }),
    inspect(k, { customInspect: false, showHidden: true, depth: Infinity }),
    inspect({ nested: { k } }),
    format('%o %O %s %j', k, k, k, k),
    JSON.stringify(k),
    JSON.stringify({ k }),
    String(k),
    `${k.toString()}`,
    Object.keys(k).join(','),
    JSON.stringify(Object.entries(k)),
  ];
}

function assertNoKeyMaterial(k: Keyring): void {
  const secrets: string[] = [];
  for (const v of k.versions()) {
    const key = k.key(v);
    secrets.push(key.toString('base64'), key.toString('base64url'), key.toString('hex'), key.toString('latin1'));
    // Also any 8-byte window in hex, in case a renderer prints a partial buffer.
    secrets.push(key.subarray(0, 8).toString('hex'), key.subarray(24).toString('hex'));
  }
  for (const r of renderings(k)) {
    for (const s of secrets) assert.ok(!r.includes(s), `key material leaked into: ${r}`);
    assert.ok(!/<Buffer/.test(r), `a Buffer was rendered: ${r}`);
  }
}

test('STRATA_MASTER_KEY: base64 of 32 bytes gives a one-version keyring', (t) => {
  const key = randomBytes(32);
  const home = tempHome(t);
  for (const text of [b64(key), key.toString('base64url'), b64(key).replace(/=+$/, ''), `  ${b64(key)}\n`]) {
    const { keyring, source } = loadKeyring({ home, env: { STRATA_MASTER_KEY: text } });
    assert.deepEqual(source, { kind: 'env' });
    assert.equal(keyring.current, 1);
    assert.equal(keyring.minDecryptionVersion, 1);
    assert.deepEqual(keyring.versions(), [1]);
    assert.deepEqual(keyring.key(1), key);
  }
  assert.deepEqual(readdirSync(home), [], 'an env key writes no file');
});

test('STRATA_MASTER_KEY: wrong length and non-base64 are refused without echoing the value', (t) => {
  const home = tempHome(t);
  const cases: [string, RegExp][] = [
    [b64(randomBytes(16)), /STRATA_MASTER_KEY must be base64 of exactly 32 bytes, got 16 bytes/],
    [b64(randomBytes(33)), /exactly 32 bytes, got 33 bytes/],
    ['correct horse battery staple!!', /STRATA_MASTER_KEY is not base64/],
    ['c2VjcmV0*a2V5', /not base64/],
    [nonCanonical(randomBytes(32)), /STRATA_MASTER_KEY is not valid base64/],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => loadKeyring({ home, env: { STRATA_MASTER_KEY: value } }),
      (e: unknown) => {
        assert.ok(isStrataError(e));
        assert.match(e.message, message);
        assert.match(e.message, /openssl rand -base64 32/);
        assert.ok(!e.message.includes(value) && !JSON.stringify(e.details).includes(value), 'the value is not echoed');
        return true;
      },
    );
  }
});

test('STRATA_MASTER_KEY and STRATA_MASTER_KEY_FILE together are ambiguous and refused', (t) => {
  const home = tempHome(t);
  assert.throws(
    () => loadKeyring({ home, env: { STRATA_MASTER_KEY: b64(randomBytes(32)), STRATA_MASTER_KEY_FILE: join(home, 'k') } }),
    /both STRATA_MASTER_KEY and STRATA_MASTER_KEY_FILE are set/,
  );
});

test('no key and no permission to generate: a clear error says what to set', (t) => {
  const home = tempHome(t);
  assert.throws(() => loadKeyring({ home, env: {} }), /no master key: set STRATA_MASTER_KEY \(generate one with `openssl rand -base64 32`\)/);
  assert.deepEqual(readdirSync(home), []);
});

test('embedded mode generates <home>/master.key with mode 0600, then reuses it', (t) => {
  const home = join(tempHome(t), 'nested', 'home');
  const first = loadKeyring({ home, env: {}, generate: true });
  const path = masterKeyPath(home);
  assert.deepEqual(first.source, { kind: 'generated', path });
  if (posix) {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(home).mode & 0o077, 0, 'the created home is private too');
  }
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  assert.equal(doc['format'], KEYRING_FORMAT);
  assert.equal(doc['current'], 1);
  assert.equal(doc['minDecryptionVersion'], 1);
  assert.deepEqual(Object.keys(doc['keys'] as object), ['1']);

  const second = loadKeyring({ home, env: {}, generate: true });
  assert.deepEqual(second.source, { kind: 'file', path });
  assert.deepEqual(second.keyring.key(1), first.keyring.key(1));
  assert.deepEqual(readdirSync(home), ['master.key'], 'no temp files are left behind');

  const sealed = seal(first.keyring, Buffer.from('s'), { project: 'p', name: 'n', version: 1 });
  assert.equal(open(second.keyring, sealed, { project: 'p', name: 'n', version: 1 }).toString(), 's');
});

test('a group- or world-readable key file is refused with a chmod 600 hint', { skip: !posix && 'POSIX modes only' }, (t) => {
  const home = tempHome(t);
  loadKeyring({ home, env: {}, generate: true });
  const path = masterKeyPath(home);
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    chmodSync(path, mode);
    assert.throws(
      () => loadKeyring({ home, env: {}, generate: true }),
      (e: unknown) =>
        isStrataError(e) && e.message.includes('accessible to group or others') && e.message.includes(`chmod 600 ${path}`),
    );
  }
  // Same rule for an explicit STRATA_MASTER_KEY_FILE.
  assert.throws(() => loadKeyring({ home, env: { STRATA_MASTER_KEY_FILE: path } }), /chmod 600/);
  chmodSync(path, 0o600);
  assert.equal(loadKeyring({ home, env: {} }).keyring.current, 1);
  chmodSync(path, 0o400);
  assert.equal(loadKeyring({ home, env: {} }).keyring.current, 1, 'owner read-only is fine');
});

test('STRATA_MASTER_KEY_FILE: a multi-version JSON file and a bare base64 key file both load', (t) => {
  const home = tempHome(t);
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const json = join(home, 'keyring.json');
  writeFileSync(
    json,
    JSON.stringify({ format: KEYRING_FORMAT, current: 2, minDecryptionVersion: 1, keys: { '1': b64(k1), '2': b64(k2) } }),
    { mode: 0o600 },
  );
  const loaded = loadKeyring({ home, env: { STRATA_MASTER_KEY_FILE: json } });
  assert.deepEqual(loaded.source, { kind: 'file', path: json });
  assert.equal(loaded.keyring.current, 2);
  assert.deepEqual(loaded.keyring.versions(), [1, 2]);
  assert.deepEqual(loaded.keyring.key(1), k1);
  assert.deepEqual(loaded.keyring.key(2), k2);

  const bare = join(home, 'bare.key');
  writeFileSync(bare, `${b64(k1)}\n`, { mode: 0o600 });
  assert.deepEqual(loadKeyring({ home, env: { STRATA_MASTER_KEY_FILE: bare } }).keyring.key(1), k1);

  assert.throws(
    () => loadKeyring({ home, env: { STRATA_MASTER_KEY_FILE: join(home, 'missing') }, generate: true }),
    /STRATA_MASTER_KEY_FILE points to .*missing, which does not exist/,
  );
});

test('malformed key files are refused with a message naming the problem', (t) => {
  const home = tempHome(t);
  const path = join(home, 'k.json');
  const key = b64(randomBytes(32));
  const cases: [unknown, RegExp][] = [
    ['not json {', /is not valid JSON|is not base64/],
    [[], /is not a JSON object/],
    [{ format: 'other', current: 1, keys: { '1': key } }, /has format "other"; expected "strata-keyring-v1"/],
    [{ format: KEYRING_FORMAT, current: 2, keys: { '1': key } }, /current version 2 has no key/],
    [{ format: KEYRING_FORMAT, current: 1, minDecryptionVersion: 2, keys: { '1': key } }, /minDecryptionVersion 2 must be between 1 and current/],
    [{ format: KEYRING_FORMAT, current: 1, keys: { '01': key } }, /key version "01" is not a positive integer/],
    [{ format: KEYRING_FORMAT, current: 1, keys: { '1': b64(randomBytes(31)) } }, /exactly 32 bytes, got 31/],
    [{ format: KEYRING_FORMAT, current: 1.5, keys: { '1': key } }, /"current" must be a positive integer/],
    [{ format: KEYRING_FORMAT, current: 1, keys: [] }, /"keys" must be an object/],
  ];
  for (const [doc, message] of cases) {
    writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc), { mode: 0o600 });
    chmodSync(path, 0o600);
    assert.throws(
      () => loadKeyring({ home, env: { STRATA_MASTER_KEY_FILE: path } }),
      (e: unknown) => {
        assert.ok(isStrataError(e));
        assert.match(e.message, message);
        assert.ok(!e.message.includes(key), 'no key material in the message');
        return true;
      },
    );
  }
});

test('concurrent first use: racing processes end with one key file and one key', async (t) => {
  const keyringModule = pathToFileURL(fileURLToPath(new URL('./keyring.ts', import.meta.url))).href;
  const script = [
    `import { loadKeyring } from ${JSON.stringify(keyringModule)};`,
    `import { createHash } from 'node:crypto';`,
    `const [home, startAt] = process.argv.slice(1);`,
    `while (Date.now() < Number(startAt)) {}`, // line up the racers
    `const { keyring, source } = loadKeyring({ home, env: {}, generate: true });`,
    `const k = keyring.key(keyring.current);`,
    `process.stdout.write(JSON.stringify({ kind: source.kind, fp: createHash('sha256').update(k).digest('hex') }));`,
  ].join('\n');

  const run = (home: string, startAt: number): Promise<{ kind: string; fp: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, home, String(startAt)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0) reject(new Error(`racer exited ${String(code)}: ${err}`));
        else resolve(JSON.parse(out) as { kind: string; fp: string });
      });
    });

  for (let round = 0; round < 2; round++) {
    const home = join(tempHome(t), 'home');
    const startAt = Date.now() + 1500; // after tsx has loaded in every child
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map(() => run(home, startAt)));
    const fps = new Set(results.map((r) => r.fp));
    assert.equal(fps.size, 1, `round ${round}: every racer must see the same key`);
    assert.equal(results.filter((r) => r.kind === 'generated').length, 1, `round ${round}: exactly one racer generated`);
    const onDisk = loadKeyring({ home, env: {} }).keyring;
    assert.deepEqual(onDisk.versions(), [1]);
    assert.ok(fps.has(createHash('sha256').update(onDisk.key(1)).digest('hex')));
    assert.deepEqual(readdirSync(home), ['master.key'], 'no temp files are left behind');
  }
});

test('rotate → persist → reload keeps every version; the file stays 0600', (t) => {
  const home = tempHome(t);
  const { keyring: v1, source } = loadKeyring({ home, env: {}, generate: true });
  assert.equal(source.kind, 'generated');
  const path = masterKeyPath(home);
  const v2 = rotate(v1);
  assert.equal(v2.current, 2);
  assert.deepEqual(v2.versions(), [1, 2]);
  assert.deepEqual(v2.key(1), v1.key(1));
  assert.notDeepEqual(v2.key(2), v1.key(1));
  assert.equal(v1.current, 1, 'rotate does not mutate its input');

  const v3 = setMinDecryptionVersion(rotate(v2), 2);
  persistKeyring(v3, path);
  if (posix) assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(home), ['master.key']);

  const reloaded = loadKeyring({ home, env: {} }).keyring;
  assert.equal(reloaded.current, 3);
  assert.equal(reloaded.minDecryptionVersion, 2);
  assert.deepEqual(reloaded.versions(), [1, 2, 3]);
  for (const v of [1, 2, 3]) assert.deepEqual(reloaded.key(v), v3.key(v));
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { format: string; current: number; minDecryptionVersion: number };
  assert.deepEqual([doc.format, doc.current, doc.minDecryptionVersion], [KEYRING_FORMAT, 3, 2]);
});

test('setMinDecryptionVersion validates its range', () => {
  const k = rotate(Keyring.generate());
  assert.equal(setMinDecryptionVersion(k, 2).minDecryptionVersion, 2);
  assert.equal(setMinDecryptionVersion(setMinDecryptionVersion(k, 2), 1).minDecryptionVersion, 1, 'lowering works');
  assert.throws(() => setMinDecryptionVersion(k, 3), /between 1 and current \(2\)/);
  assert.throws(() => setMinDecryptionVersion(k, 0), /between 1 and current/);
  assert.throws(() => setMinDecryptionVersion(k, 1.5), /between 1 and current/);
});

test('key() returns a copy: zeroing it does not damage the keyring', () => {
  const k = Keyring.generate();
  const a = k.key(1);
  const before = Buffer.from(a);
  a.fill(0);
  assert.deepEqual(k.key(1), before);
  assert.throws(() => k.key(2), /holds no key version 2/);
  assert.equal(k.has(1), true);
  assert.equal(k.has(2), false);
});

test('Keyring.of copies its input and validates keys', () => {
  const raw = randomBytes(32);
  const copy = Buffer.from(raw);
  const k = Keyring.of(new Map([[1, raw]]));
  raw.fill(0);
  assert.deepEqual(k.key(1), copy);
  assert.throws(() => Keyring.of(new Map()), /at least one key/);
  assert.throws(() => Keyring.of(new Map([[1, randomBytes(16)]])), /must be 32 bytes, got 16/);
  assert.throws(() => Keyring.of(new Map([[0, randomBytes(32)]])), /not a positive integer/);
});

test('inspect, String and JSON of a keyring show a summary and no key material', () => {
  const k1 = Keyring.generate();
  assert.equal(inspect(k1), 'Keyring(v1, 1 key)');
  assert.equal(JSON.stringify(k1), '"Keyring(v1, 1 key)"');
  assertNoKeyMaterial(k1);
  const k2 = rotate(k1);
  assert.equal(inspect(k2), 'Keyring(v2, 2 keys)');
  assert.equal(String(k2), 'Keyring(v2, 2 keys)');
  assert.equal(JSON.stringify({ keyring: k2 }), '{"keyring":"Keyring(v2, 2 keys)"}');
  assertNoKeyMaterial(k2);
  const loaded = loadKeyring({ home: tmpdir(), env: { STRATA_MASTER_KEY: b64(randomBytes(32)) } });
  assertNoKeyMaterial(loaded.keyring);
  assert.ok(!JSON.stringify(loaded).includes(b64(loaded.keyring.key(1))));
});
