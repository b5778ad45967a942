// The sweep against a real filesystem store in a temp directory. The database side is the
// `BlobReferences` port; here it is a set of digests ("rows") the test changes at the moments the
// protocol must survive: a row committed after the mark, an upload of the same content racing the
// delete. (api/blob-gc.ts answers the same port from the real tables: test/blob-gc.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { ManualClock } from '../kernel/index.ts';
import { seededBytes } from './contract.ts';
import { digestOf, emptySweepReport, mergeAscending, openFilesystemBlobStore, sweepBlobStore, type BlobReferences, type Digest, type FilesystemBlobStore } from './index.ts';

const HOUR = 3600_000;

/** An async stream of `xs`, one value per turn (as rows arrive from a database). */
async function* streamOf(xs: readonly string[]): AsyncGenerator<string> {
  for (const x of xs) yield await Promise.resolve(x);
}

async function withStore(t: { after: (fn: () => void) => void }, clock: ManualClock): Promise<FilesystemBlobStore> {
  const root = mkdtempSync(join(tmpdir(), 'strata-gc-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return openFilesystemBlobStore({ root, clock });
}

async function put(store: FilesystemBlobStore, data: Buffer): Promise<Digest> {
  return (await store.put(Readable.from([data]))).digest;
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** "Rows" as a set of digests; the mark reads a snapshot, the re-check the live set. */
function rows(initial: Iterable<string>, hooks: { afterMark?: () => void; onCheck?: (d: Digest) => Promise<void> } = {}): BlobReferences & { live: Set<string>; checks: string[] } {
  const live = new Set(initial);
  const checks: string[] = [];
  return {
    live,
    checks,
    referencedDigests() {
      const snapshot = [...live].sort();
      hooks.afterMark?.();
      return streamOf(snapshot);
    },
    async isReferenced(d) {
      checks.push(d);
      await hooks.onCheck?.(d);
      return live.has(d);
    },
  };
}

const sum = (...xs: Buffer[]): number => xs.reduce((n, x) => n + x.length, 0);

test('referenced blobs stay, unreferenced young ones stay, unreferenced old ones go; counts and bytes add up', async (t) => {
  const clock = new ManualClock();
  const store = await withStore(t, clock);
  const kept = seededBytes(3000, 1);
  const oldGarbage = [seededBytes(1000, 2), seededBytes(2500, 3)];
  const keptD = await put(store, kept);
  const garbageD = [await put(store, oldGarbage[0] as Buffer), await put(store, oldGarbage[1] as Buffer)];
  clock.advance(25 * HOUR);
  const young = seededBytes(700, 4);
  const youngD = await put(store, young);
  clock.advance(HOUR);

  const refs = rows([keptD, digestOf('a row whose blob is missing')]);
  const report = await sweepBlobStore(store, refs, { cutoff: clock.now() - 24 * HOUR, dryRun: false });

  assert.deepEqual(report.scanned, { blobs: 4, bytes: sum(kept, young, ...oldGarbage) });
  assert.deepEqual(report.referenced, { blobs: 1, bytes: kept.length });
  assert.deepEqual(report.young, { blobs: 1, bytes: young.length });
  assert.deepEqual(report.reclaimable, { blobs: 2, bytes: sum(...oldGarbage) });
  assert.deepEqual(report.deleted, { blobs: 2, bytes: sum(...oldGarbage) });
  assert.deepEqual(report.rescued, { blobs: 0, bytes: 0 });
  assert.deepEqual(report.failed, { blobs: 0, bytes: 0 });
  assert.equal(report.complete, true);
  assert.deepEqual(refs.checks.sort(), [...garbageD].sort(), 'only old candidates are re-checked');

  for (const d of garbageD) assert.equal(await store.has(d), false);
  assert.ok((await readAll(await store.get(keptD))).equals(kept));
  assert.ok((await readAll(await store.get(youngD))).equals(young));

  // Once the young blob is past the grace period it goes too; the referenced one never does.
  clock.advance(24 * HOUR);
  const again = await sweepBlobStore(store, refs, { cutoff: clock.now() - 24 * HOUR, dryRun: false });
  assert.deepEqual(again.deleted, { blobs: 1, bytes: young.length });
  const left: string[] = [];
  for await (const b of store.list()) left.push(b.digest);
  assert.deepEqual(left, [keptD]);
});

test('a dry run deletes nothing and reports what an applied run would delete', async (t) => {
  const clock = new ManualClock();
  const store = await withStore(t, clock);
  const a = seededBytes(1234, 5);
  const b = seededBytes(4321, 6);
  const aD = await put(store, a);
  const bD = await put(store, b);
  clock.advance(2 * HOUR);
  const refs = rows([aD]);
  const dry = await sweepBlobStore(store, refs, { cutoff: clock.now() - HOUR, dryRun: true });
  assert.deepEqual(dry.reclaimable, { blobs: 1, bytes: b.length });
  assert.deepEqual(dry.deleted, { blobs: 0, bytes: 0 });
  assert.deepEqual(refs.checks, [bD], 'a dry run re-checks its candidates too');
  assert.equal(await store.has(bD), true);
  const applied = await sweepBlobStore(store, refs, { cutoff: clock.now() - HOUR, dryRun: false });
  assert.deepEqual(applied.deleted, dry.reclaimable);
  assert.equal(await store.has(bD), false);
});

test('a blob a row starts to name between the mark and the sweep is kept (the re-check)', async (t) => {
  const clock = new ManualClock();
  const store = await withStore(t, clock);
  const shared = seededBytes(2000, 7);
  const sharedD = await put(store, shared);
  const garbageD = await put(store, seededBytes(10, 8));
  clock.advance(48 * HOUR);
  // A new row deduplicated onto the old blob and committed right after the mark was read.
  const refs = rows([], { afterMark: () => refs.live.add(sharedD) });
  const report = await sweepBlobStore(store, refs, { cutoff: clock.now() - 24 * HOUR, dryRun: false });
  assert.deepEqual(report.rescued, { blobs: 1, bytes: shared.length });
  assert.deepEqual(report.deleted, { blobs: 1, bytes: 10 });
  assert.ok((await readAll(await store.get(sharedD))).equals(shared));
  assert.equal(await store.has(garbageD), false);
});

test('an upload of the same content racing the delete keeps the blob although its row is not committed yet', async (t) => {
  const clock = new ManualClock();
  const store = await withStore(t, clock);
  const data = seededBytes(5000, 9);
  const d = await put(store, data);
  clock.advance(48 * HOUR);
  // The upload's put deduplicates (refreshing the blob) after the re-check said "unreferenced";
  // its row commits only after the sweep.
  let uploaded: Digest | undefined;
  const refs = rows([], {
    onCheck: async (digest) => {
      if (digest === d) uploaded = (await store.put(Readable.from([data]))).digest;
    },
  });
  const report = await sweepBlobStore(store, refs, { cutoff: clock.now() - 24 * HOUR, dryRun: false });
  assert.equal(uploaded, d);
  assert.deepEqual(report.rescued, { blobs: 1, bytes: data.length });
  assert.deepEqual(report.deleted, { blobs: 0, bytes: 0 });
  refs.live.add(d); // the row commits
  assert.ok((await readAll(await store.get(d))).equals(data));
});

test('a failing reference lookup stops the sweep: nothing is deleted unchecked, and the report keeps what was done', async (t) => {
  const clock = new ManualClock();
  const store = await withStore(t, clock);
  const digests: Digest[] = [];
  for (let i = 0; i < 6; i++) digests.push(await put(store, seededBytes(100 + i, 20 + i)));
  digests.sort();
  clock.advance(48 * HOUR);
  let calls = 0;
  const refs: BlobReferences = {
    referencedDigests: () => mergeAscending([]),
    isReferenced() {
      calls += 1;
      return calls <= 2 ? Promise.resolve(false) : Promise.reject(new Error('database connection lost'));
    },
  };
  const report = emptySweepReport();
  await assert.rejects(sweepBlobStore(store, refs, { cutoff: clock.now(), dryRun: false }, report), /database connection lost/);
  assert.equal(report.complete, false);
  assert.equal(report.deleted.blobs, 2);
  const left: string[] = [];
  for await (const b of store.list()) left.push(b.digest);
  assert.deepEqual(left, digests.slice(2), 'the first two (in digest order) went, the rest stay');
});

test('an aborted sweep stops between blobs and says it is incomplete', async (t) => {
  const clock = new ManualClock();
  const store = await withStore(t, clock);
  for (let i = 0; i < 5; i++) await put(store, seededBytes(50, 30 + i));
  clock.advance(48 * HOUR);
  const ac = new AbortController();
  const refs = rows([], {
    onCheck: () => {
      ac.abort();
      return Promise.resolve();
    },
  });
  const report = await sweepBlobStore(store, refs, { cutoff: clock.now(), dryRun: false, signal: ac.signal });
  assert.equal(report.complete, false);
  assert.equal(report.deleted.blobs, 1);
  assert.equal(report.scanned.blobs, 1);
});

test('mergeAscending merges sorted streams into one sorted stream, duplicates kept (property)', async () => {
  const hex = fc.stringMatching(/^[0-9a-f]{1,4}$/);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(hex, { maxLength: 20 }), { maxLength: 5 }), async (lists) => {
      const sorted = lists.map((l) => [...l].sort());
      const streams = sorted.map((l) => streamOf(l));
      const out: string[] = [];
      for await (const d of mergeAscending(streams)) out.push(d);
      assert.deepEqual(out, sorted.flat().sort());
    }),
    { numRuns: 200, seed: 20260104 },
  );
});
