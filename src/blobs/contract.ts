// The `BlobStore` contract suite: every implementation (filesystem today, S3-compatible later) runs
// it from its own test file with `runBlobStoreContract({ name, create })`. It uses real streams and
// real storage; failed uploads are checked to leave nothing behind, including the implementation's
// own leftovers (temp files, multipart uploads) when the harness can count them.
//
// Test-support code: imports node:test, so it is deliberately not exported from index.ts.
import { suite, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import fc from 'fast-check';
import { isStrataError, seededRandom, type ErrorCode, type ManualClock } from '../kernel/index.ts';
import type { BlobStore } from './blob-store.ts';
import { digestOf, type Digest } from './digest.ts';

/** One fresh, empty store for one test. */
export interface BlobStoreHarness {
  readonly store: BlobStore;
  /** Releases everything the harness created. */
  dispose(): Promise<void>;
  /** How many partial uploads the implementation still holds (temp files, open multipart uploads). */
  leftovers?(): Promise<number>;
  /** The clock the store was given: blob times (`createdAt`) are checked against it when present. */
  readonly clock?: ManualClock;
}

export interface BlobStoreContractOptions {
  /** Implementation name, used in the suite title. */
  readonly name: string;
  readonly create: () => Promise<BlobStoreHarness>;
  /** Tests to skip, by title, each with the reason (printed in the report). */
  readonly skip?: Readonly<Record<string, string>>;
  /** Size of the large streaming test (default 64 MiB). */
  readonly largeBytes?: number;
  /** Allowed growth of live buffer memory during the large test (default 24 MiB). */
  readonly flatMemoryBudgetBytes?: number;
}

const MiB = 1 << 20;
const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Deterministic bytes from a seed (replayable failures). */
export function seededBytes(length: number, seed: number): Buffer {
  const rnd = seededRandom(seed);
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(rnd() * 256);
  return out;
}

async function* chunked(data: Uint8Array, sizes: readonly number[] = [65536], interleave = false): AsyncGenerator<Uint8Array> {
  let at = 0;
  let i = 0;
  while (at < data.byteLength) {
    const n = Math.max(1, sizes[i % sizes.length] ?? 1);
    // Copy, as a socket would hand over fresh buffers; the store may hold them while writing.
    yield Buffer.from(data.subarray(at, at + n));
    at += n;
    i += 1;
    if (interleave) await tick();
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

async function expectError(p: Promise<unknown>, code: ErrorCode, check?: (e: { details: Readonly<Record<string, unknown>>; retryable: boolean; cause?: unknown }) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isStrataError(e), `expected a StrataError '${code}', got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    check?.(e);
    return true;
  });
}

function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as () => void;
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn: unknown = vm.runInNewContext('gc');
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers the contract suite for one `BlobStore` implementation. Call it at the top level of a
 * test file; every test gets a fresh store from `create`.
 */
export function runBlobStoreContract(options: BlobStoreContractOptions): void {
  const largeBytes = options.largeBytes ?? 64 * MiB;
  const budget = options.flatMemoryBudgetBytes ?? 24 * MiB;

  const contractTest = (title: string, body: (h: BlobStoreHarness, t: TestContext) => Promise<void>): void => {
    const reason = options.skip?.[title];
    if (reason !== undefined) {
      void test(title, { skip: reason }, () => undefined);
      return;
    }
    void test(title, async (t) => {
      const h = await options.create();
      try {
        await body(h, t);
      } finally {
        await h.dispose();
      }
    });
  };

  /** A test that needs the harness's clock: skipped (with the reason) when the harness has none. */
  const clockTest = (title: string, body: (h: BlobStoreHarness, clock: ManualClock) => Promise<void>): void => {
    contractTest(title, async (h, t) => {
      if (h.clock === undefined) {
        t.skip('the harness gives no clock, so blob times cannot be checked');
        return;
      }
      await body(h, h.clock);
    });
  };

  /** stat() of a blob just stored: its digest and size, and a time (the clock's, when known). */
  const assertInfo = async (h: BlobStoreHarness, digest: Digest, size: number): Promise<void> => {
    const info = await h.store.stat(digest);
    assert.ok(info !== undefined, `${digest} should be stored`);
    assert.deepEqual({ digest: info.digest, size: info.size }, { digest, size });
    assert.ok(Number.isSafeInteger(info.createdAt), `createdAt ${info.createdAt} is whole milliseconds`);
    if (h.clock !== undefined) assert.equal(info.createdAt, h.clock.now());
  };

  /** Nothing stored, nothing half-stored. */
  const assertEmpty = async (h: BlobStoreHarness, why: string): Promise<void> => {
    const listed: string[] = [];
    for await (const b of h.store.list()) listed.push(b.digest);
    assert.deepEqual(listed, [], `${why}: the store should hold no blob`);
    if (h.leftovers !== undefined) assert.equal(await h.leftovers(), 0, `${why}: no partial upload should remain`);
  };

  void suite(`BlobStore contract: ${options.name}`, () => {
    contractTest('put then get returns the same bytes under their SHA-256 digest', async (h) => {
      const { store } = h;
      for (const [size, seed] of [[1, 1], [1000, 2], [MiB + 3, 3], [3 * MiB + 17, 4]] as const) {
        const data = seededBytes(size, seed);
        const r = await store.put(chunked(data, [4096, 100_000, 1, 65536]));
        assert.equal(r.digest, digestOf(data));
        assert.equal(r.size, size);
        assert.equal(r.created, true);
        await assertInfo(h, r.digest, size);
        assert.equal(await store.has(r.digest), true);
        assert.ok((await readAll(await store.get(r.digest))).equals(data), `round trip of ${size} bytes`);
      }
    });

    contractTest('the empty blob is stored under the well-known empty SHA-256', async (h) => {
      const r = await h.store.put(chunked(new Uint8Array(0)));
      assert.deepEqual(r, { digest: EMPTY_SHA256, size: 0, created: true });
      assert.equal((await readAll(await h.store.get(r.digest))).length, 0);
      await assertInfo(h, EMPTY_SHA256 as Digest, 0);
    });

    contractTest('any chunking of the same bytes gives the same digest (property)', async ({ store }) => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }), async (bytes, sizes) => {
          const viaGenerator = await store.put(chunked(bytes, sizes));
          const viaReadable = await store.put(Readable.from([Buffer.from(bytes)]));
          assert.equal(viaGenerator.digest, digestOf(bytes));
          assert.equal(viaReadable.digest, viaGenerator.digest);
          assert.equal(viaReadable.created, false);
          assert.ok((await readAll(await store.get(viaGenerator.digest))).equals(Buffer.from(bytes)));
        }),
        { numRuns: 40, seed: 20260101 },
      );
    });

    contractTest('equal content is stored once', async (h) => {
      const data = seededBytes(200_000, 5);
      const first = await h.store.put(chunked(data, [7000]));
      const second = await h.store.put(chunked(data, [65536]));
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.digest, first.digest);
      assert.equal(second.size, first.size);
      const listed: string[] = [];
      for await (const b of h.store.list()) listed.push(b.digest);
      assert.deepEqual(listed, [first.digest]);
      if (h.leftovers !== undefined) assert.equal(await h.leftovers(), 0);
    });

    contractTest('concurrent puts of the same content all succeed and exactly one creates it', async (h) => {
      const data = seededBytes(3 * MiB + 5, 6);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => h.store.put(chunked(data, [16384 + i * 1000, 65536 * (i + 1)], true))),
      );
      const expected = digestOf(data);
      for (const r of results) assert.deepEqual([r.digest, r.size], [expected, data.length]);
      assert.equal(results.filter((r) => r.created).length, 1, 'exactly one put reports created');
      assert.ok((await readAll(await h.store.get(expected))).equals(data));
      let count = 0;
      for await (const _ of h.store.list()) count += 1;
      assert.equal(count, 1);
      if (h.leftovers !== undefined) assert.equal(await h.leftovers(), 0);
    });

    contractTest('concurrent puts of different content are all stored intact', async ({ store }) => {
      const datas = Array.from({ length: 6 }, (_, i) => seededBytes(300_000 + i * 4099, 100 + i));
      const results = await Promise.all(datas.map((d) => store.put(chunked(d, [32768], true))));
      for (const [i, d] of datas.entries()) {
        const r = results[i];
        assert.ok(r !== undefined);
        assert.equal(r.digest, digestOf(d));
        assert.ok((await readAll(await store.get(r.digest))).equals(d));
      }
    });

    contractTest('expectedDigest: a match is stored, a mismatch is a 400 and nothing is stored', async (h) => {
      const data = seededBytes(100_000, 7);
      const other = seededBytes(100_000, 8);
      const wrong = digestOf(other);
      await expectError(h.store.put(chunked(data), { expectedDigest: wrong }), 'bad_request', (e) => {
        assert.equal(e.details['expected'], wrong);
        assert.equal(e.details['actual'], digestOf(data));
      });
      assert.equal(await h.store.has(digestOf(data)), false);
      assert.equal(await h.store.has(wrong), false);
      await assertEmpty(h, 'after a digest mismatch');
      const ok = await h.store.put(chunked(data), { expectedDigest: digestOf(data) });
      assert.equal(ok.digest, digestOf(data));
      // A mismatch against content that is already stored must not touch the stored object.
      await expectError(h.store.put(chunked(other), { expectedDigest: ok.digest }), 'bad_request');
      assert.ok((await readAll(await h.store.get(ok.digest))).equals(data));
    });

    contractTest('maxBytes: the exact limit is accepted, one byte over is a 413 and nothing is stored', async (h) => {
      const data = seededBytes(250_000, 9);
      await expectError(h.store.put(chunked(data, [1000]), { maxBytes: data.length - 1 }), 'payload_too_large', (e) => {
        assert.equal(e.details['maxBytes'], data.length - 1);
      });
      await assertEmpty(h, 'after exceeding maxBytes');
      await expectError(h.store.put(chunked(Buffer.from([1])), { maxBytes: 0 }), 'payload_too_large');
      await assertEmpty(h, 'after exceeding maxBytes 0');
      const r = await h.store.put(chunked(data, [1000]), { maxBytes: data.length });
      assert.equal(r.size, data.length);
      await expectError(h.store.put(chunked(data), { maxBytes: -1 }), 'bad_request');
      await expectError(h.store.put(chunked(data), { maxBytes: 1.5 }), 'bad_request');
    });

    contractTest('a source that fails midway rejects the put (retryable 400) and nothing is stored', async (h) => {
      const boom = new Error('connection reset by peer');
      let released = false;
      async function* failing(): AsyncGenerator<Uint8Array> {
        try {
          await tick();
          yield seededBytes(3 * MiB, 10);
          yield seededBytes(10, 11);
          throw boom;
        } finally {
          released = true;
        }
      }
      await expectError(h.store.put(failing()), 'bad_request', (e) => {
        assert.equal(e.retryable, true);
        assert.equal(e.cause, boom);
      });
      assert.equal(released, true);
      await assertEmpty(h, 'after a failing source');
      const stream = new PassThrough();
      const put = h.store.put(stream);
      stream.write(seededBytes(MiB, 12));
      stream.destroy(new Error('socket hang up'));
      await expectError(put, 'bad_request');
      await assertEmpty(h, 'after a destroyed stream');
    });

    contractTest('aborting rejects with the signal reason, releases the source and stores nothing', async (h) => {
      const pre = AbortSignal.abort(new Error('cancelled before start'));
      let pulled = false;
      async function* never(): AsyncGenerator<Uint8Array> {
        pulled = true;
        await tick();
        yield new Uint8Array(1);
      }
      await assert.rejects(h.store.put(never(), { signal: pre }), /cancelled before start/);
      assert.equal(pulled, false, 'an already-aborted put does not read its source');

      // Mid-stream, while the source is stalled (a slow client): the abort must not wait for it.
      const ac = new AbortController();
      const stream = new PassThrough();
      const put = h.store.put(stream, { signal: ac.signal });
      stream.write(seededBytes(2 * MiB, 13));
      await tick();
      await tick();
      const reason = new Error('client went away');
      ac.abort(reason);
      await assert.rejects(put, (e) => e === reason);
      assert.equal(stream.destroyed, true, 'the source stream is destroyed');
      await assertEmpty(h, 'after an abort');
    });

    contractTest('a chunk that is not bytes is a 400 and nothing is stored', async (h) => {
      async function* strings(): AsyncGenerator<Uint8Array> {
        yield new Uint8Array(10);
        await tick();
        yield 'text' as unknown as Uint8Array;
      }
      await expectError(h.store.put(strings()), 'bad_request');
      await assertEmpty(h, 'after a non-bytes chunk');
    });

    contractTest('missing blobs: get is a 404, stat undefined, has false, delete false', async ({ store }) => {
      const d = digestOf('never stored');
      await expectError(store.get(d), 'not_found');
      await expectError(store.get(d, { start: 0, end: 1 }), 'not_found');
      assert.equal(await store.stat(d), undefined);
      assert.equal(await store.has(d), false);
      assert.equal(await store.delete(d), false);
    });

    contractTest('malformed digests are a 400 everywhere and never reach storage as a path', async ({ store }) => {
      const bad = [
        'sha256:../../../../etc/passwd',
        `sha256:${'A'.repeat(64)}`,
        `sha256:${'a'.repeat(63)}`,
        `sha256:${'a'.repeat(64)}/`,
        `SHA256:${'a'.repeat(64)}`,
        `md5:${'a'.repeat(32)}`,
        `sha256:${'a'.repeat(62)}/..`,
        `sha256:${'a'.repeat(64)}\u0000`,
        '',
      ] as unknown as Digest[];
      for (const d of bad) {
        await expectError(store.get(d), 'bad_request');
        await expectError(store.stat(d), 'bad_request');
        await expectError(store.has(d), 'bad_request');
        await expectError(store.delete(d), 'bad_request');
        await expectError(store.put(chunked(Buffer.from('x')), { expectedDigest: d }), 'bad_request');
        await expectError((async () => {
          for await (const _ of store.list({ after: d })) break;
        })(), 'bad_request');
      }
    });

    contractTest('range reads return exactly the requested slice (property), bad ranges are 400s', async ({ store }) => {
      const data = seededBytes(70_000, 14);
      const { digest } = await store.put(chunked(data));
      const slice = async (start?: number, end?: number): Promise<Buffer> =>
        readAll(await store.get(digest, { ...(start === undefined ? {} : { start }), ...(end === undefined ? {} : { end }) }));
      assert.ok((await slice()).equals(data));
      assert.ok((await slice(69_990)).equals(data.subarray(69_990)));
      assert.ok((await slice(undefined, 10)).equals(data.subarray(0, 10)));
      assert.ok((await slice(5, 5)).equals(Buffer.alloc(0)));
      assert.ok((await slice(data.length, data.length)).equals(Buffer.alloc(0)));
      assert.ok((await slice(data.length)).equals(Buffer.alloc(0)));
      assert.ok((await slice(100, 10_000_000)).equals(data.subarray(100)), 'end beyond the size is clamped');
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: data.length }), fc.nat({ max: data.length + 100 }), async (a, b) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          if (start > data.length) return;
          assert.ok((await slice(start, end)).equals(data.subarray(start, Math.min(end, data.length))));
        }),
        { numRuns: 60, seed: 20260102 },
      );
      await expectError(store.get(digest, { start: data.length + 1 }), 'bad_request', (e) => {
        assert.equal(e.details['reason'], 'range_not_satisfiable');
        assert.equal(e.details['size'], data.length);
      });
      await expectError(store.get(digest, { start: 10, end: 9 }), 'bad_request');
      await expectError(store.get(digest, { start: -1 }), 'bad_request');
      await expectError(store.get(digest, { start: 1.5 }), 'bad_request');
      await expectError(store.get(digest, { end: Number.NaN }), 'bad_request');
    });

    contractTest('delete removes a blob, which can then be stored again', async (h) => {
      const a = await h.store.put(chunked(seededBytes(5000, 15)));
      const b = await h.store.put(chunked(seededBytes(5000, 16)));
      assert.equal(await h.store.delete(a.digest), true);
      assert.equal(await h.store.delete(a.digest), false);
      assert.equal(await h.store.has(a.digest), false);
      await expectError(h.store.get(a.digest), 'not_found');
      assert.equal(await h.store.has(b.digest), true, 'other blobs are untouched');
      const again = await h.store.put(chunked(seededBytes(5000, 15)));
      assert.deepEqual(again, { ...a, created: true });
      assert.ok((await readAll(await h.store.get(a.digest))).equals(seededBytes(5000, 15)));
    });

    contractTest('list yields every blob in ascending digest order, resumable after a cursor', async ({ store }) => {
      const stored = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const r = await store.put(chunked(seededBytes(10 + i, 200 + i)));
        stored.set(r.digest, r.size);
      }
      const all: { digest: string; size: number }[] = [];
      for await (const b of store.list()) all.push({ digest: b.digest, size: b.size });
      const sorted = [...stored.keys()].sort();
      assert.deepEqual(all.map((b) => b.digest), sorted);
      for (const b of all) assert.equal(b.size, stored.get(b.digest));
      const cursor = sorted[16] as Digest;
      const rest: string[] = [];
      for await (const b of store.list({ after: cursor })) rest.push(b.digest);
      assert.deepEqual(rest, sorted.slice(17));
      const missingCursor = digestOf('not stored, but a valid cursor');
      const fromMissing: string[] = [];
      for await (const b of store.list({ after: missingCursor })) fromMissing.push(b.digest);
      assert.deepEqual(fromMissing, sorted.filter((d) => d > missingCursor));
    });

    clockTest('createdAt is the time of the latest put: set when stored, refreshed by a deduplicating put, in stat and list', async ({ store }, clock) => {
      const data = seededBytes(20_000, 30);
      const first = await store.put(chunked(data));
      const stored = clock.now();
      assert.equal((await store.stat(first.digest))?.createdAt, stored);
      clock.advance(3 * 3600_000 + 7);
      const other = await store.put(chunked(seededBytes(100, 31)));
      const listed = new Map<string, number>();
      for await (const b of store.list()) listed.set(b.digest, b.createdAt);
      assert.deepEqual(listed, new Map([[first.digest, stored], [other.digest, clock.now()]]), 'list reports each blob\'s own time');
      clock.advance(24 * 3600_000);
      const again = await store.put(chunked(data, [999]));
      assert.equal(again.created, false);
      assert.equal((await store.stat(first.digest))?.createdAt, clock.now(), 'a deduplicating put refreshes the time');
      for await (const b of store.list()) if (b.digest === first.digest) assert.equal(b.createdAt, clock.now());
    });

    clockTest('delete with unmodifiedSince removes a blob only if it was not stored again after that time', async ({ store }, clock) => {
      const data = seededBytes(5000, 32);
      const { digest } = await store.put(chunked(data));
      const t0 = clock.now();
      assert.equal(await store.delete(digest, { unmodifiedSince: t0 - 1 }), false, 'stored after the bound: kept');
      assert.ok((await readAll(await store.get(digest))).equals(data));
      clock.advance(60_000);
      await store.put(chunked(data)); // re-stored (deduplicated) after t0
      assert.equal(await store.delete(digest, { unmodifiedSince: t0 }), false, 're-stored after the bound: kept');
      assert.ok((await readAll(await store.get(digest))).equals(data), 'a refused delete leaves the bytes intact');
      assert.equal(await store.delete(digest, { unmodifiedSince: clock.now() }), true, 'at the bound: deleted');
      assert.equal(await store.has(digest), false);
      assert.equal(await store.delete(digest, { unmodifiedSince: clock.now() }), false, 'absent: nothing to delete');
      await expectError(store.delete(digest, { unmodifiedSince: Number.NaN }), 'bad_request');
      const listed: string[] = [];
      for await (const b of store.list()) listed.push(b.digest);
      assert.deepEqual(listed, []);
    });

    clockTest('a deduplicating put racing a conditional delete never returns a digest whose blob is then gone', async ({ store }, clock) => {
      // Timing-driven: the delete starts a sweeping delay after the put's body has ended, so across
      // the rounds its decision falls before, during and after the moment the put finds the blob.
      const probe = seededBytes(3000, 399);
      await store.put(chunked(probe));
      let started = process.hrtime.bigint();
      await store.put(chunked(probe));
      const finishNs = Number(process.hrtime.bigint() - started);
      const spin = async (ns: number): Promise<void> => {
        const until = process.hrtime.bigint() + BigInt(Math.round(ns));
        while (process.hrtime.bigint() < until) await tick();
      };
      const rounds = 120;
      for (let round = 0; round < rounds; round++) {
        const data = seededBytes(1000 + round, 400 + round);
        const { digest } = await store.put(chunked(data));
        const oldTime = clock.now();
        clock.advance(1000); // the racing put is newer than the delete's bound
        let bodyDone!: () => void;
        const ended = new Promise<void>((r) => (bodyDone = r));
        async function* body(): AsyncGenerator<Uint8Array> {
          yield* chunked(data, [97]);
          bodyDone();
        }
        started = process.hrtime.bigint();
        const put = store.put(body());
        const del = (async () => {
          await ended;
          await spin(((round % 40) / 40) * finishNs * 1.2);
          return store.delete(digest, { unmodifiedSince: oldTime });
        })();
        const [r, deleted] = await Promise.all([put, del]);
        assert.equal(r.digest, digest);
        assert.equal(await store.has(digest), true, `round ${round}: the put returned ${digest} (created: ${r.created}, the delete said ${deleted}) but the blob is gone`);
        assert.ok((await readAll(await store.get(digest))).equals(data), `round ${round}: the content is intact`);
        assert.equal((await store.stat(digest))?.createdAt, clock.now(), `round ${round}: the blob carries the put's time`);
      }
      let stored = 0;
      for await (const _ of store.list()) stored += 1;
      assert.equal(stored, rounds + 1);
    });

    contractTest('an aborted get destroys its stream with the signal reason', async ({ store }) => {
      const { digest } = await store.put(chunked(seededBytes(4 * MiB, 17)));
      const ac = new AbortController();
      const stream = await store.get(digest, { signal: ac.signal });
      const reason = new Error('download cancelled');
      await assert.rejects(
        (async () => {
          for await (const _ of stream) ac.abort(reason);
        })(),
        (e: unknown) => e instanceof Error && (e === reason || e.cause === reason || e.name === 'AbortError'),
      );
      assert.equal(stream.destroyed, true);
      await assert.rejects(store.get(digest, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
    });

    contractTest(`a ${largeBytes / MiB} MiB blob streams in and out with flat memory`, async ({ store }, t) => {
      const gc = exposeGc();
      if (gc === undefined) {
        t.skip('cannot trigger garbage collection in this runtime, so memory cannot be measured');
        return;
      }
      const block = seededBytes(MiB, 18);
      const chunkAt = (i: number): Buffer => {
        const k = (i * 4099) % MiB; // every chunk differs: a rotation of the block
        return Buffer.concat([block.subarray(k), block.subarray(0, k)]);
      };
      const chunks = Math.ceil(largeBytes / MiB);
      const expectedHash = createHash('sha256');
      for (let i = 0; i < chunks; i++) expectedHash.update(chunkAt(i));
      const expected = `sha256:${expectedHash.digest('hex')}`;

      gc();
      const base = process.memoryUsage();
      let peakBuffers = 0;
      let peakRss = 0;
      const sample = (): void => {
        gc();
        const m = process.memoryUsage();
        peakBuffers = Math.max(peakBuffers, m.arrayBuffers - base.arrayBuffers);
        peakRss = Math.max(peakRss, m.rss - base.rss);
      };
      async function* source(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < chunks; i++) {
          if (i % 8 === 7) sample();
          await tick(); // a socket delivers chunks across turns of the event loop
          yield chunkAt(i);
        }
      }
      // With a live abort signal, as the HTTP routes pass one: waiting on it must not pin chunks.
      const r = await store.put(source(), { signal: new AbortController().signal });
      assert.equal(r.digest, expected);
      assert.equal(r.size, chunks * MiB);

      const h = createHash('sha256');
      let read = 0;
      let nextSample = 8 * MiB;
      for await (const c of await store.get(r.digest)) {
        h.update(c as Uint8Array);
        read += (c as Uint8Array).byteLength;
        if (read >= nextSample) {
          sample();
          nextSample += 8 * MiB;
        }
      }
      assert.equal(read, r.size);
      assert.equal(`sha256:${h.digest('hex')}`, expected);
      t.diagnostic(`peak growth while streaming ${largeBytes / MiB} MiB in and out: buffers ${(peakBuffers / MiB).toFixed(1)} MiB, rss ${(peakRss / MiB).toFixed(1)} MiB`);
      assert.ok(peakBuffers < budget, `live buffer memory grew by ${(peakBuffers / MiB).toFixed(1)} MiB while streaming ${largeBytes / MiB} MiB (budget ${budget / MiB} MiB)`);
      assert.ok(peakRss < Math.max(2 * budget, 48 * MiB), `rss grew by ${(peakRss / MiB).toFixed(1)} MiB`);

      const tail = await readAll(await store.get(r.digest, { start: r.size - 100, end: r.size + 5 }));
      assert.ok(tail.equals(chunkAt(chunks - 1).subarray(MiB - 100)), 'a range at the end of a large blob');
    });
  });
}
