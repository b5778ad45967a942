// Tests for signed checkpoints: Ed25519 signing and verification, key files and their modes, and
// checkpoint files (atomic write, no overwrite of a conflicting root, listing, latest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStrataError } from '../../kernel/index.ts';
import {
  EMPTY_ROOT,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
  checkpointBytes,
  generateSigningKey,
  listCheckpoints,
  loadOrCreateSigningKey,
  loadPublicKey,
  publicKeyId,
  readCheckpointFile,
  readLatestCheckpoint,
  sha256Hex,
  signCheckpoint,
  verifyCheckpoint,
  writeCheckpointFile,
  type Checkpoint,
  type SignedCheckpoint,
} from './index.ts';

const CP: Checkpoint = { logId: 'strata-main', size: 1000, root: sha256Hex('root'), time: '2026-01-01T00:00:00.000Z' };

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-audit-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

test('a signed checkpoint verifies; the signature covers the canonical JSON of the four fields', () => {
  const key = generateSigningKey();
  const signed = signCheckpoint(CP, key);
  assert.ok(verifyCheckpoint(signed, key.publicKey));
  assert.equal(signed.keyId, key.keyId);
  assert.match(signed.keyId, /^[0-9a-f]{16}$/);
  assert.equal(checkpointBytes(CP).toString(), `{"logId":"strata-main","root":"${CP.root}","size":1000,"time":"2026-01-01T00:00:00.000Z"}`);
  assert.equal(Buffer.from(signed.signature, 'base64').length, 64);
});

test('changing any field, or verifying with another key, fails', () => {
  const key = generateSigningKey();
  const signed = signCheckpoint(CP, key);
  const changes: Partial<SignedCheckpoint>[] = [
    { logId: 'strata-other' },
    { size: 999 },
    { size: 1001 },
    { root: sha256Hex('other root') },
    { time: '2026-01-01T00:00:00.001Z' },
    { keyId: generateSigningKey().keyId },
    { signature: signCheckpoint({ ...CP, size: 999 }, key).signature },
  ];
  for (const change of changes) {
    assert.equal(verifyCheckpoint({ ...signed, ...change }, key.publicKey), false, JSON.stringify(change));
  }
  const sig = Buffer.from(signed.signature, 'base64');
  for (let bit = 0; bit < sig.length * 8; bit += 37) {
    const flipped = Buffer.from(sig);
    flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
    assert.equal(verifyCheckpoint({ ...signed, signature: flipped.toString('base64') }, key.publicKey), false, `bit ${bit}`);
  }
  const other = generateSigningKey();
  assert.equal(verifyCheckpoint(signed, other.publicKey), false, 'wrong key');
  // A forger who copies our keyId onto their own signature still fails.
  assert.equal(verifyCheckpoint({ ...signCheckpoint(CP, other), keyId: key.keyId }, key.publicKey), false);
});

test('verifyCheckpoint never throws on garbage', () => {
  const key = generateSigningKey();
  for (const garbage of [null, undefined, 42, 'x', [], {}, { ...CP }, { ...CP, signature: '!!', keyId: key.keyId }, { ...CP, size: -1 }]) {
    assert.equal(verifyCheckpoint(garbage, key.publicKey), false);
  }
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  assert.equal(verifyCheckpoint(signCheckpoint(CP, key), rsa), false, 'non-Ed25519 key');
});

test('signCheckpoint refuses a malformed checkpoint', () => {
  const key = generateSigningKey();
  for (const bad of [{ size: -1 }, { size: 1.5 }, { root: 'abc' }, { root: EMPTY_ROOT.toString('hex').toUpperCase() }, { time: 'now' }, { logId: '' }]) {
    assert.throws(() => signCheckpoint({ ...CP, ...bad }, key), (e: unknown) => isStrataError(e) && e.code === 'bad_request', JSON.stringify(bad));
  }
});

test('loadOrCreateSigningKey creates a 0600 private key and a 0644 public key, then reloads the same key', async () => {
  await withTempDir(async (dir) => {
    const keyDir = join(dir, 'keys');
    const first = await loadOrCreateSigningKey(keyDir);
    assert.equal(await modeOf(join(keyDir, PRIVATE_KEY_FILE)), 0o600);
    assert.equal(await modeOf(join(keyDir, PUBLIC_KEY_FILE)), 0o644);
    assert.match(await readFile(join(keyDir, PRIVATE_KEY_FILE), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    const second = await loadOrCreateSigningKey(keyDir);
    assert.equal(second.keyId, first.keyId);
    assert.ok(verifyCheckpoint(signCheckpoint(CP, first), second.publicKey));
    // No temp files are left behind.
    assert.deepEqual((await readdir(keyDir)).sort(), [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]);
  });
});

test('concurrent first starts end up sharing one key', async () => {
  await withTempDir(async (dir) => {
    const keys = await Promise.all([loadOrCreateSigningKey(dir), loadOrCreateSigningKey(dir), loadOrCreateSigningKey(dir)]);
    assert.equal(new Set(keys.map((k) => k.keyId)).size, 1);
  });
});

test('a missing or stale public key file is rewritten from the private key', async () => {
  await withTempDir(async (dir) => {
    const key = await loadOrCreateSigningKey(dir);
    await rm(join(dir, PUBLIC_KEY_FILE));
    await loadOrCreateSigningKey(dir);
    assert.equal(publicKeyId(await loadPublicKey(join(dir, PUBLIC_KEY_FILE))), key.keyId);
    await writeFile(join(dir, PUBLIC_KEY_FILE), generateSigningKey().publicKey.export({ format: 'pem', type: 'spki' }));
    await loadOrCreateSigningKey(dir);
    assert.equal(publicKeyId(await loadPublicKey(join(dir, PUBLIC_KEY_FILE))), key.keyId);
  });
});

test('a private key readable by group or others is refused, with the fix in the message', async () => {
  await withTempDir(async (dir) => {
    await loadOrCreateSigningKey(dir);
    await chmod(join(dir, PRIVATE_KEY_FILE), 0o644);
    await assert.rejects(loadOrCreateSigningKey(dir), (e: unknown) => {
      assert.ok(isStrataError(e));
      assert.equal(e.code, 'precondition_failed');
      assert.match(e.message, /chmod 600/);
      return true;
    });
  });
});

test('a private key that is not Ed25519 is refused', async () => {
  await withTempDir(async (dir) => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    await writeFile(join(dir, PRIVATE_KEY_FILE), rsa, { mode: 0o600 });
    await assert.rejects(loadOrCreateSigningKey(dir), (e: unknown) => isStrataError(e) && /not Ed25519/.test(e.message));
  });
});

test('loadPublicKey accepts PEM text or a path, and refuses other key types', async () => {
  await withTempDir(async (dir) => {
    const key = await loadOrCreateSigningKey(dir);
    const pem = await readFile(join(dir, PUBLIC_KEY_FILE), 'utf8');
    assert.equal(publicKeyId(await loadPublicKey(pem)), key.keyId);
    assert.equal(publicKeyId(await loadPublicKey(join(dir, PUBLIC_KEY_FILE))), key.keyId);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    await assert.rejects(loadPublicKey(rsa), (e: unknown) => isStrataError(e) && e.code === 'bad_request');
    await assert.rejects(loadPublicKey('-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n'), isStrataError);
  });
});

test('checkpoint files: zero-padded names, atomic writes, listing and latest', async () => {
  await withTempDir(async (dir) => {
    const key = generateSigningKey();
    const cpDir = join(dir, 'checkpoints');
    assert.deepEqual(await listCheckpoints(cpDir), [], 'a missing directory has no checkpoints');
    assert.equal(await readLatestCheckpoint(cpDir), undefined);
    const sizes = [1000, 7, 123456, 0];
    for (const size of sizes) {
      const path = await writeCheckpointFile(cpDir, signCheckpoint({ ...CP, size, root: sha256Hex(`root ${size}`) }, key));
      assert.equal(path, join(cpDir, `${String(size).padStart(12, '0')}.json`));
    }
    assert.deepEqual((await readdir(cpDir)).sort(), ['000000000000.json', '000000000007.json', '000000001000.json', '000000123456.json']);
    assert.deepEqual((await listCheckpoints(cpDir)).map((c) => c.size), [0, 7, 1000, 123456]);
    const latest = await readLatestCheckpoint(cpDir);
    assert.equal(latest?.size, 123456);
    assert.ok(verifyCheckpoint(latest, key.publicKey));
    const back = await readCheckpointFile(join(cpDir, '000000000007.json'));
    // Ed25519 signatures are deterministic (RFC 8032), so re-signing reproduces the file's content.
    assert.deepEqual(back, signCheckpoint({ ...CP, size: 7, root: sha256Hex('root 7') }, key));
    assert.ok(verifyCheckpoint(back, key.publicKey));
  });
});

test('a checkpoint file is never overwritten with a different root (fork evidence is kept)', async () => {
  await withTempDir(async (dir) => {
    const key = generateSigningKey();
    const first = signCheckpoint(CP, key);
    await writeCheckpointFile(dir, first);
    // The same size and root again (e.g. re-signed later) keeps the first file.
    await writeCheckpointFile(dir, signCheckpoint({ ...CP, time: '2026-02-01T00:00:00.000Z' }, key));
    assert.deepEqual(await readLatestCheckpoint(dir), first);
    await assert.rejects(writeCheckpointFile(dir, signCheckpoint({ ...CP, root: sha256Hex('forked') }, key)), (e: unknown) => {
      assert.ok(isStrataError(e));
      assert.equal(e.code, 'conflict');
      assert.match(e.message, /fork/);
      return true;
    });
    assert.deepEqual(await readLatestCheckpoint(dir), first);
    await assert.rejects(writeCheckpointFile(dir, { ...first, signature: 'nope' }), isStrataError, 'malformed checkpoints are not written');
  });
});

test('malformed checkpoint files are reported, not trusted', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, '000000000005.json'), '{not json');
    await assert.rejects(readLatestCheckpoint(dir), (e: unknown) => isStrataError(e) && e.code === 'precondition_failed');
    const key = generateSigningKey();
    await writeFile(join(dir, '000000000009.json'), JSON.stringify(signCheckpoint({ ...CP, size: 8 }, key)));
    await assert.rejects(readLatestCheckpoint(dir), (e: unknown) => isStrataError(e) && /not the 9 its name says/.test(e.message));
    await writeFile(join(dir, '000000000010.json'), JSON.stringify({ ...CP, size: 10 }));
    await assert.rejects(readLatestCheckpoint(dir), (e: unknown) => isStrataError(e) && /malformed/.test(e.message));
  });
});
