// Metric chunks: the packing round-trips every point (NaN, infinities, the largest safe steps), and
// migration 0014 moves a database's row-per-point history into chunks without losing or doubling a
// point, on SQLite and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { databaseKinds, freshDatabase } from '../../test/support/databases.ts';
import { CHUNK_MAX_POINTS, batchRow, chunkRows, comparePoints, decodeBatch, decodePoints, encodePoints, sortedUnique } from './metric-chunks.ts';
import type { KeyedPoint, MetricPoint } from './metric-chunks.ts';
import { migrationProvider } from './migrations.ts';
import { openStore } from './store.ts';

const pointArb = fc.record({
  step: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER)),
  timestamp: fc.integer({ min: 0, max: 3 }),
  value: fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0)),
});

test('chunks: packing round-trips sorted, unique points exactly', () => {
  fc.assert(
    fc.property(fc.array(pointArb, { maxLength: 300 }), (points) => {
      const sorted = sortedUnique([...points]);
      for (let i = 1; i < sorted.length; i += 1) assert.ok(comparePoints(sorted[i - 1] as MetricPoint, sorted[i] as MetricPoint) < 0, 'strictly increasing');
      for (const p of points) assert.ok(sorted.some((q) => comparePoints(p, q) === 0), 'every point kept');
      const back = decodePoints(encodePoints(sorted));
      assert.equal(back.length, sorted.length);
      back.forEach((p, i) => {
        const q = sorted[i] as MetricPoint;
        assert.ok(Object.is(p.step, q.step) && Object.is(p.timestamp, q.timestamp) && Object.is(p.value, q.value), `point ${i}`);
      });
    }),
  );
});

test('staged batches: one row holds any keys; decoding gives back every point, or one key\'s', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c"\u0000', '\u{1F600}'), step: pointArb.map((p) => p.step), timestamp: fc.nat(), value: pointArb.map((p) => p.value) }), { minLength: 1, maxLength: 50 }), (points) => {
      const row = batchRow('r', points);
      assert.equal(row.points, points.length);
      const same = (a: KeyedPoint, b: KeyedPoint): boolean => a.key === b.key && Object.is(a.step, b.step) && Object.is(a.timestamp, b.timestamp) && Object.is(a.value, b.value);
      const back = decodeBatch(row.keys, row.data);
      assert.ok(back.length === points.length && back.every((p, i) => same(p, points[i] as KeyedPoint)));
      const onlyB = decodeBatch(row.keys, row.data, 'b');
      const wantB = points.filter((p) => p.key === 'b');
      assert.ok(onlyB.length === wantB.length && onlyB.every((p, i) => same(p, wantB[i] as KeyedPoint)));
      assert.deepEqual(decodeBatch(row.keys, row.data, 'missing'), []);
      assert.equal(batchRow('r', points).digest, row.digest, 'the same batch is the same row');
    }),
  );
  assert.throws(() => decodeBatch('{"not":"a list"}', Buffer.alloc(32)), /malformed/);
  assert.throws(() => decodeBatch('["a"]', Buffer.alloc(33)), /malformed/);
});

test('chunks: a long history is cut into chunks of at most CHUNK_MAX_POINTS, named by their bytes', () => {
  const points = Array.from({ length: CHUNK_MAX_POINTS * 2 + 5 }, (_, i) => ({ step: i, timestamp: 0, value: i / 3 }));
  const rows = chunkRows('r', 'k', [...points].reverse());
  assert.deepEqual(rows.map((r) => [r.first_step, r.last_step, r.points]), [[0, CHUNK_MAX_POINTS - 1, CHUNK_MAX_POINTS], [CHUNK_MAX_POINTS, 2 * CHUNK_MAX_POINTS - 1, CHUNK_MAX_POINTS], [2 * CHUNK_MAX_POINTS, 2 * CHUNK_MAX_POINTS + 4, 5]]);
  assert.deepEqual(chunkRows('r', 'k', points).map((r) => r.digest), rows.map((r) => r.digest), 'the same points make the same chunks');
  assert.throws(() => decodePoints(Buffer.alloc(25)), /not a whole number/);
});

for (const kind of databaseKinds) {
  test(`${kind}: migration 0014 packs the row-per-point history (stored and waiting) into chunks and drops the old tables`, async () => {
    const tdb = await freshDatabase(kind);
    const pool = kind === 'postgres' ? new pg.Pool({ connectionString: tdb.url }) : undefined;
    type Row = { run_id: string; key: string; step: number; timestamp: number; value: number; is_nan: number };
    const db = new Kysely<{ run_metrics: Row; run_metrics_recent: Row }>({
      dialect: pool === undefined ? new SqliteDialect({ database: new BetterSqlite3(tdb.url) }) : new PostgresDialect({ pool }),
    });
    try {
      const migrator = new Migrator({ db, provider: migrationProvider(kind), migrationTableName: 'strata_migrations', migrationLockTableName: 'strata_migrations_lock' });
      const to = await migrator.migrateTo('0013_multipart_claims');
      assert.equal(to.error, undefined);
      const big = Array.from({ length: CHUNK_MAX_POINTS + 10 }, (_, i) => ({ run_id: 'r1', key: 'loss', step: i, timestamp: 7, value: 1 / (i + 1), is_nan: 0 }));
      const rows = [
        ...big,
        { run_id: 'r1', key: 'acc', step: 0, timestamp: 1, value: 0.5, is_nan: 0 },
        { run_id: 'r1', key: 'acc', step: 0, timestamp: 2, value: 0, is_nan: 1 },
        { run_id: 'r2', key: 'acc', step: 3, timestamp: 1, value: -1, is_nan: 0 },
      ];
      for (let at = 0; at < rows.length; at += 500) await db.insertInto('run_metrics').values(rows.slice(at, at + 500)).execute();
      // Points still waiting in the old staging table join their series; one repeats a stored point.
      await db.insertInto('run_metrics_recent').values([{ run_id: 'r2', key: 'acc', step: 4, timestamp: 1, value: 2, is_nan: 0 }, { run_id: 'r1', key: 'acc', step: 0, timestamp: 1, value: 0.5, is_nan: 0 }]).execute();
    } finally {
      await db.destroy();
    }
    const store = await openStore({ url: tdb.url });
    try {
      const chunks = await store.db.selectFrom('run_metric_chunks').selectAll().orderBy('run_id').orderBy('key').orderBy('first_step').execute();
      assert.deepEqual(chunks.map((c) => [c.run_id, c.key, Number(c.first_step), Number(c.points)]), [['r1', 'acc', 0, 2], ['r1', 'loss', 0, CHUNK_MAX_POINTS], ['r1', 'loss', CHUNK_MAX_POINTS, 10], ['r2', 'acc', 3, 2]]);
      const acc = decodePoints((chunks[0] as { data: Buffer }).data);
      assert.deepEqual(acc.map((p) => [p.step, p.timestamp]), [[0, 1], [0, 2]]);
      assert.equal(acc[0]?.value, 0.5);
      assert.ok(Number.isNaN(acc[1]?.value), 'is_nan = 1 comes back as NaN');
      const loss = [...decodePoints((chunks[1] as { data: Buffer }).data), ...decodePoints((chunks[2] as { data: Buffer }).data)];
      assert.equal(loss.length, CHUNK_MAX_POINTS + 10);
      assert.ok(loss.every((p, i) => p.step === i && p.value === 1 / (i + 1)));
      await assert.rejects(store.db.selectFrom('run_metrics' as 'run_metric_chunks').selectAll().execute(), /run_metrics/);
      await assert.rejects(store.db.selectFrom('run_metrics_recent' as 'run_metric_chunks').selectAll().execute(), /run_metrics_recent/);
    } finally {
      await store.close();
      await tdb.drop();
    }
  });
}
