// The filesystem BlobStore: the shared contract suite, then what only a directory can show — the
// object layout and modes, temp files gone after every failure, sweeping crashed uploads, healing a
// truncated object, and refusing symlinks planted in the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { ManualClock, isStrataError } from '../kernel/index.ts';
import { runBlobStoreContract, seededBytes } from './contract.ts';
import { digestOf, openFilesystemBlobStore, type FilesystemBlobStore } from './index.ts';

function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), 'strata-blobs-'));
}

runBlobStoreContract({
  name: 'filesystem',
  create: async () => {
    const root = tempRoot();
    const clock = new ManualClock();
    const store = await openFilesystemBlobStore({ root: join(root, 'store'), clock });
    return {
      store,
      clock,
      dispose: () => rm(root, { recursive: true, force: true }),
      leftovers: async () => (await readdir(store.uploadsDir)).length + (await readdir(store.pendingDir)).length,
    };
  },
});

async function withStore(t: { after: (fn: () => void) => void }, clock?: ManualClock): Promise<FilesystemBlobStore> {
  const root = tempRoot();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return openFilesystemBlobStore({ root: join(root, 'store'), ...(clock === undefined ? {} : { clock }) });
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('objects live at objects/sha256/ab/cd/<hex>, read-only, with no temp file left', async (t) => {
  const store = await withStore(t);
  const data = Buffer.from('hello strata');
  const { digest } = await store.put(Readable.from([data]));
  const hex = digest.slice('sha256:'.length);
  const path = join(store.root, 'objects', 'sha256', hex.slice(0, 2), hex.slice(2, 4), hex);
  assert.equal(store.objectPath(digest), path);
  const st = await stat(path);
  assert.equal(st.size, data.length);
  assert.equal(st.mode & 0o222, 0, 'objects are not writable');
  assert.deepEqual(await readdir(store.uploadsDir), []);
  // Dedup keeps one file with one name.
  await store.put(Readable.from([data]));
  assert.equal(st.nlink, 1);
  assert.equal((await stat(path)).nlink, 1);
});

test('a store-wide maxBytes applies when a put names none, and a put can lower or raise it', async (t) => {
  const root = tempRoot();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const store = await openFilesystemBlobStore({ root, maxBytes: 10 });
  await assert.rejects(store.put(Readable.from([Buffer.alloc(11)])), (e) => isStrataError(e) && e.code === 'payload_too_large');
  assert.equal((await store.put(Readable.from([Buffer.alloc(11)]), { maxBytes: 11 })).size, 11);
  await assert.rejects(openFilesystemBlobStore({ root, maxBytes: -5 }), (e) => isStrataError(e) && e.code === 'bad_request');
  assert.deepEqual(await readdir(store.uploadsDir), []);
});

test('removeStaleUploads sweeps old temp files of crashed uploads but never one in progress', async (t) => {
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
  const store = await withStore(t, clock);
  const crashed = join(store.uploadsDir, 'deadbeef.part');
  const recent = join(store.uploadsDir, 'cafebabe.part');
  const foreign = join(store.uploadsDir, 'README');
  for (const p of [crashed, recent, foreign]) await writeFile(p, 'partial');
  const old = new Date(clock.now() - 3 * 3600_000);
  await utimes(crashed, old, old);
  await utimes(foreign, old, old);
  const fresh = new Date(clock.now() - 60_000);
  await utimes(recent, fresh, fresh);

  // An upload in progress in this process, its temp file made to look old.
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  async function* slow(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('first part');
    await gate;
    yield Buffer.from(' second part');
  }
  const pending = store.put(slow());
  let inProgress: string | undefined;
  for (let i = 0; i < 100 && inProgress === undefined; i++) {
    await new Promise((r) => setImmediate(r));
    inProgress = (await readdir(store.uploadsDir)).find((n) => n.endsWith('.part') && !['deadbeef.part', 'cafebabe.part'].includes(n));
  }
  assert.ok(inProgress !== undefined);
  await utimes(join(store.uploadsDir, inProgress), old, old);

  assert.equal(await store.removeStaleUploads(3600_000), 1);
  assert.deepEqual((await readdir(store.uploadsDir)).sort(), ['README', 'cafebabe.part', inProgress].sort());
  release();
  const r = await pending;
  assert.equal(r.digest, digestOf('first part second part'));
  clock.advance(3600_000);
  assert.equal(await store.removeStaleUploads(3600_000), 1, 'the recent one is stale an hour later');
  assert.deepEqual(await readdir(store.uploadsDir), ['README']);
});

test('a truncated object (a crash outside this store) is replaced by the next put of that content', async (t) => {
  const store = await withStore(t);
  const data = seededBytes(50_000, 1);
  const digest = digestOf(data);
  const path = store.objectPath(digest);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, data.subarray(0, 1000));
  const r = await store.put(Readable.from([data]));
  assert.deepEqual(r, { digest, size: data.length, created: true });
  assert.ok((await readAll(await store.get(digest))).equals(data));
});

test('a symlink planted at an object path is never followed on read, and a put replaces it', async (t) => {
  const store = await withStore(t);
  const outside = join(store.root, '..', 'secret.txt');
  await writeFile(outside, 'server secret');
  const data = Buffer.from('public artifact');
  const digest = digestOf(data);
  const path = store.objectPath(digest);
  await mkdir(join(path, '..'), { recursive: true });
  await symlink(outside, path);
  await assert.rejects(store.get(digest), (e) => isStrataError(e) && e.code === 'internal' && !e.message.includes('server secret'));
  assert.equal(await store.has(digest), false);
  const r = await store.put(Readable.from([data]));
  assert.equal(r.created, true);
  assert.ok((await readAll(await store.get(digest))).equals(data));
  assert.equal((await stat(outside)).size, 'server secret'.length, 'the symlink target is untouched');
});

test('list ignores foreign files and directories in the object tree', async (t) => {
  const store = await withStore(t);
  const { digest } = await store.put(Readable.from([Buffer.from('x')]));
  const hex = digest.slice(7);
  await writeFile(join(store.objectsDir, 'notes.txt'), '');
  await mkdir(join(store.objectsDir, 'zz'), { recursive: true });
  await writeFile(join(store.objectsDir, hex.slice(0, 2), hex.slice(2, 4), `${hex}.bak`), '');
  // A well-formed name in the wrong fan-out directory is not an object either.
  const misplaced = digestOf('y').slice(7);
  await mkdir(join(store.objectsDir, '00', '00'), { recursive: true });
  await writeFile(join(store.objectsDir, '00', '00', misplaced), 'y');
  const listed: string[] = [];
  for await (const b of store.list()) listed.push(b.digest);
  assert.deepEqual(listed, [digest]);
});

test('a disk error while writing (file size limit) propagates and leaves no temp file', (t) => {
  // A child process under `ulimit -f` gets short writes, then EFBIG: this exercises the partial-write
  // loop and the failure path against a real kernel error, whoever runs the test (root included).
  const root = tempRoot();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const moduleUrl = pathToFileURL(join(import.meta.dirname, 'index.ts')).href;
  const script = `
    import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
    import { readdir } from 'node:fs/promises';
    const { openFilesystemBlobStore } = await import(${JSON.stringify(moduleUrl)});
    const store = await openFilesystemBlobStore({ root: ${JSON.stringify(root)} });
    let outcome;
    try { await store.put(Readable.from([Buffer.alloc(3 << 20, 7)])); outcome = 'stored'; }
    catch (e) { outcome = e.code; }
    const objects = [];
    for await (const b of store.list()) objects.push(b.digest);
    console.log(JSON.stringify({ outcome, uploads: await readdir(store.uploadsDir), objects }));
  `;
  const child = spawnSync('bash', ['-c', 'ulimit -f 1024 && exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, script], {
    encoding: 'utf8',
    cwd: join(import.meta.dirname, '..', '..'),
  });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), { outcome: 'EFBIG', uploads: [], objects: [] });
});

test('an object a crash left in gc-pending/ mid-delete is moved back when the store opens; foreign names stay', async (t) => {
  const clock = new ManualClock();
  const store = await withStore(t, clock);
  const data = seededBytes(4000, 40);
  const { digest } = await store.put(Readable.from([data]));
  // What a conditional delete does first: park the object (the crash comes before its decision).
  const parked = join(store.pendingDir, `${digest.slice(7)}.0123456789abcdef`);
  await rename(store.objectPath(digest), parked);
  await writeFile(join(store.pendingDir, 'notes.txt'), 'not an object');
  assert.equal(await store.has(digest), false);
  const reopened = await openFilesystemBlobStore({ root: store.root, clock });
  assert.ok((await readAll(await reopened.get(digest))).equals(data));
  assert.equal((await reopened.stat(digest))?.createdAt, clock.now(), 'the object keeps its time');
  assert.deepEqual(await readdir(store.pendingDir), ['notes.txt']);
  assert.equal(await reopened.restorePending(), 0);
});

test('a conditional delete leaves nothing in gc-pending/, whether it deletes or keeps the object', async (t) => {
  const clock = new ManualClock();
  const store = await withStore(t, clock);
  const a = await store.put(Readable.from([Buffer.from('a')]));
  const b = await store.put(Readable.from([Buffer.from('b')]));
  clock.advance(1000);
  await store.put(Readable.from([Buffer.from('b')])); // refreshed: kept by the delete below
  assert.equal(await store.delete(a.digest, { unmodifiedSince: clock.now() - 1 }), true);
  assert.equal(await store.delete(b.digest, { unmodifiedSince: clock.now() - 1 }), false);
  assert.deepEqual(await readdir(store.pendingDir), []);
  assert.equal(await store.has(b.digest), true);
});
