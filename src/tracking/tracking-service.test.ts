// The tracking service over real SQLite and PostgreSQL: the search statements use the indexes they
// were designed around (query plans), user values are bound parameters (SQL-injection cases), and
// lifecycle rules that the HTTP tests do not reach (restore brings back only the runs deleted with
// the experiment; the default experiment; experiment ids in numeric order).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CompiledQuery } from 'kysely';
import { databaseKinds, freshDatabase } from '../../test/support/databases.ts';
import type { TestDatabase } from '../../test/support/databases.ts';
import { AuditLog, audit as auditCore } from '../access/index.ts';
import type { Actor } from '../access/index.ts';
import type { ProjectId } from '../kernel/index.ts';
import { ManualClock, StrataError } from '../kernel/index.ts';
import { openStore, sortedUnique } from '../store/index.ts';
import type { Store } from '../store/index.ts';
import { parseRunFilter, parseRunOrderBy } from './search-filter.ts';
import { compileRunSearch } from './search-sql.ts';
import { TrackingService, generatedRunName, timeOrderedRunId } from './tracking-service.ts';
import { RUN_ID_PATTERN } from './model.ts';

const actor: Actor = { principal: null, requestId: null };

test('run ids: MLflow\'s 32 hex digits, UUIDv7 layout (time, version 7, variant), ordered by creation time, unique', () => {
  const pattern = new RegExp(RUN_ID_PATTERN);
  const t0 = 1_763_870_000_000;
  const same = new Set(Array.from({ length: 10_000 }, () => timeOrderedRunId(t0)));
  assert.equal(same.size, 10_000, '74 random bits: no collision within one millisecond');
  for (const id of [...same].slice(0, 100)) {
    assert.match(id, /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    assert.match(id, pattern);
    assert.equal(parseInt(id.slice(0, 12), 16), t0);
  }
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 48 - 2 }), fc.integer({ min: 1, max: 10 ** 9 }), (a, d) => {
      const b = Math.min(a + d, 2 ** 48 - 1);
      assert.ok(timeOrderedRunId(a) < timeOrderedRunId(b), 'a later millisecond sorts after an earlier one');
    }),
  );
  for (const odd of [Number.NaN, -1, Number.POSITIVE_INFINITY, 2 ** 60]) assert.match(timeOrderedRunId(odd), /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/, `a clock reading of ${odd}`);
  // Default run names come from the random digits, not the time: runs made together get different names.
  const names = [...same].slice(0, 1000).map(generatedRunName);
  assert.ok(new Set(names).size >= 990, `${new Set(names).size} distinct names of 1,000`);
  assert.ok(new Set(names.map((n) => n.split('-')[0])).size >= 30, 'the adjectives vary');
});

for (const kind of databaseKinds) {
  describe(`tracking service on ${kind}`, () => {
    let db: TestDatabase;
    let store: Store;
    let home: string;
    let svc: TrackingService;
    let project: ProjectId;
    const clock = new ManualClock();
    let n = 0;
    const ids = { runId: () => (n += 1).toString(16).padStart(32, '0'), datasetId: () => `ds${(n += 1)}` };

    before(async () => {
      db = await freshDatabase(kind);
      home = mkdtempSync(join(tmpdir(), 'strata-tracking-'));
      store = await openStore({ url: db.url });
      const key = auditCore.generateSigningKey();
      const auditLog = new AuditLog(store, clock, home, key);
      svc = new TrackingService(store, auditLog, clock, ids);
      await store.db.insertInto('teams').values({ id: 'team_1', name: 't', created_at: 'x' }).execute();
      await store.db.insertInto('projects').values({ id: 'prj_1', name: 'p', team_id: 'team_1', created_at: 'x' }).execute();
      project = 'prj_1' as ProjectId;
    });
    after(async () => {
      await store.close();
      await db.drop();
      rmSync(home, { recursive: true, force: true });
    });

    test('search statements use the indexes they were designed for', async () => {
      const exp = await svc.createExperiment(actor, project, { name: 'plans' });
      for (let i = 0; i < 300; i += 1) {
        const r = await svc.createRun(actor, project, { experimentId: exp.id, startTime: i, tags: [{ key: 'mlflow.parentRunId', value: `p${i % 10}` }] });
        await svc.logBatch(project, r.info.id, { metrics: [{ key: 'acc', value: i / 300, step: 0, timestamp: i }, { key: 'loss', value: 1 - i / 300, step: 0, timestamp: i }] });
      }
      // With statistics (SQLite's `PRAGMA optimize` / ANALYZE, PostgreSQL's autovacuum) the planner
      // knows a tag value is selective and drives the query from the tag index.
      await store.db.executeQuery(CompiledQuery.raw('analyze'));
      const plan = async (filter: string, order: string[]): Promise<string> => {
        const clauses = parseRunFilter(filter);
        const orderBy = parseRunOrderBy(order);
        assert.ok(clauses.ok && orderBy.ok);
        const c = compileRunSearch({ dialect: store.dialect, experimentIds: [exp.id], stages: ['active'], clauses: clauses.value, order: orderBy.value, offset: 0, limit: 100 }).compile(store.db);
        if (kind === 'sqlite') {
          const rows = await store.db.executeQuery(CompiledQuery.raw(`explain query plan ${c.sql}`, [...c.parameters]));
          return JSON.stringify(rows.rows);
        }
        // PostgreSQL picks seq scans on tables this small; with them off, the plan shows whether
        // an index can serve the statement at all (i.e. the query matches the index expression).
        return store.transaction(async (tx) => {
          await tx.executeQuery(CompiledQuery.raw('set local enable_seqscan = off'));
          const rows = await tx.executeQuery(CompiledQuery.raw(`explain ${c.sql}`, [...c.parameters]));
          return JSON.stringify(rows.rows);
        });
      };
      const top100 = await plan('metrics.acc > 0.5', ['metrics.acc DESC']);
      assert.match(top100, /run_latest_metrics_key_value/);
      // SQLite: rows come out of the index in value order, no sort of the whole match set (the join
      // order is fixed for it). PostgreSQL costs LIMIT itself and may sort 150 rows of a small table.
      if (kind === 'sqlite') assert.doesNotMatch(top100, /TEMP B-TREE FOR ORDER BY/);
      assert.match(await plan("tags.mlflow.parentRunId = 'p3'", []), /run_tags_key_value/);
      assert.match(await plan('', []), /runs_experiment_start/);
      const top = await svc.searchRuns(project, { experimentIds: [exp.id], filter: 'metrics.acc > 0.5', orderBy: ['metrics.acc DESC'], maxResults: 100 });
      assert.equal(top.items.length, 100);
      assert.equal(top.items[0]?.data.metrics.find((m) => m.key === 'acc')?.value, 299 / 300);
      assert.ok(top.nextPageToken !== undefined);
      const kids = await svc.searchRuns(project, { experimentIds: [exp.id], filter: "tags.mlflow.parentRunId = 'p3'" });
      assert.equal(kids.items.length, 30);
    });

    test('filter values are bound parameters: injection attempts match nothing and change nothing', async () => {
      const exp = await svc.createExperiment(actor, project, { name: 'inject' });
      const run = await svc.createRun(actor, project, { experimentId: exp.id, name: 'r', tags: [{ key: 't', value: 'v' }] });
      await svc.logBatch(project, run.info.id, { params: [{ key: 'p', value: "x' OR '1'='1" }] });
      for (const v of ["' OR '1'='1", "'); drop table runs; --", '" OR ""="', '%', '\\', "x'' OR 1=1 --"]) {
        const quoted = `'${v.replace(/'/g, "''")}'`;
        for (const f of [`tags.t = ${quoted}`, `params.p = ${quoted}`, `attributes.run_name LIKE ${quoted}`, `run_id IN (${quoted})`, `datasets.name = ${quoted}`]) {
          const r = await svc.searchRuns(project, { experimentIds: [exp.id], filter: f });
          const expected = f.startsWith('attributes.run_name LIKE') && v === '%' ? 1 : 0;
          assert.equal(r.items.length, expected, f);
        }
      }
      // The stored value with quotes in it is found by exact equality, and everything still exists.
      assert.equal((await svc.searchRuns(project, { experimentIds: [exp.id], filter: `params.p = 'x'' OR ''1''=''1'` })).items.length, 1);
      assert.equal((await svc.getRun(project, run.info.id)).info.name, 'r');
      // A key with quote characters is a bound parameter too.
      const r2 = await svc.searchRuns(project, { experimentIds: [exp.id], filter: "tags.`a'b\"c` = 'x'" });
      assert.equal(r2.items.length, 0);
    });

    test('restoring an experiment brings back the runs deleted with it, not those deleted before', async () => {
      const exp = await svc.createExperiment(actor, project, { name: 'restore' });
      const a = await svc.createRun(actor, project, { experimentId: exp.id });
      const b = await svc.createRun(actor, project, { experimentId: exp.id });
      clock.advance(1000);
      await svc.deleteRun(actor, project, a.info.id);
      clock.advance(1000);
      await svc.deleteExperiment(actor, project, exp.id);
      assert.equal((await svc.getRun(project, b.info.id)).info.lifecycleStage, 'deleted');
      await assert.rejects(svc.restoreRun(actor, project, b.info.id), /restore the experiment first/);
      clock.advance(1000);
      await svc.restoreExperiment(actor, project, exp.id);
      assert.equal((await svc.getRun(project, a.info.id)).info.lifecycleStage, 'deleted');
      assert.equal((await svc.getRun(project, b.info.id)).info.lifecycleStage, 'active');
    });

    test('the default experiment is created once, adopts an existing "Default", and ids sort numerically', async () => {
      const other = 'prj_2' as ProjectId;
      await store.db.insertInto('projects').values({ id: other, name: 'p2', team_id: 'team_1', created_at: 'x' }).execute();
      const made = await svc.createExperiment(actor, other, { name: 'Default' });
      const [d1, d2] = await Promise.all([svc.defaultExperiment(actor, other), svc.defaultExperiment(actor, other)]);
      assert.equal(d1, made.id);
      assert.equal(d2, made.id);
      for (let i = 0; i < 10; i += 1) await svc.createExperiment(actor, other, { name: `e${i}` });
      const page = await svc.searchExperiments(other, { orderBy: ['experiment_id DESC'], maxResults: 3 });
      const numeric = page.items.map((e) => Number(e.id));
      assert.deepEqual(numeric, [...numeric].sort((x, y) => y - x));
      assert.ok((numeric[0] ?? 0) >= 10, `ids past 9 sort after 9: ${numeric.join(',')}`);
      await assert.rejects(svc.createExperiment(actor, other, { name: 'e1' }), /already exists/);
      await assert.rejects(svc.getExperiment(project, made.id), /No Experiment with id/); // another project's experiment reads as missing
      // A run cannot be created in another project's experiment, or in one that does not exist; nothing is written.
      await assert.rejects(svc.createRun(actor, project, { experimentId: made.id }), (e: unknown) => e instanceof StrataError && e.code === 'not_found' && /No Experiment with id/.test(e.message));
      await assert.rejects(svc.createRun(actor, other, { experimentId: '987654' }), (e: unknown) => e instanceof StrataError && e.code === 'not_found');
      assert.equal((await svc.searchRuns(other, { experimentIds: [made.id] })).items.length, 0);
    });

    /** Points waiting in staged batches (of one run, or all). */
    const countRecent = async (runId?: string): Promise<number> => {
      let q = store.db.selectFrom('run_metric_batches').select((eb) => eb.fn.sum<number>('points').as('n'));
      if (runId !== undefined) q = q.where('run_id', '=', runId);
      return Number((await q.executeTakeFirstOrThrow()).n ?? 0);
    };
    const chunksOf = async (runId: string): Promise<{ chunks: number; points: number }> => {
      const r = await store.db.selectFrom('run_metric_chunks').select((eb) => [eb.fn.countAll<number>().as('chunks'), eb.fn.sum<number>('points').as('points')]).where('run_id', '=', runId).executeTakeFirstOrThrow();
      return { chunks: Number(r.chunks), points: Number(r.points ?? 0) };
    };

    test('small batches wait as one row each and are packed into one chunk per key; reads, packs and replays see every point exactly once', async () => {
      const exp = await svc.createExperiment(actor, project, { name: 'recent' });
      const run = (await svc.createRun(actor, project, { experimentId: exp.id })).info.id;
      const other = (await svc.createRun(actor, project, { experimentId: exp.id })).info.id;
      const step = (s: number): { key: string; value: number; step: number; timestamp: number }[] => ['acc', 'loss', 'lr'].map((key, k) => ({ key, value: s + k / 10, step: s, timestamp: 1000 + s }));
      for (let s = 0; s < 5; s += 1) await svc.logBatch(project, run, { metrics: step(s) });
      await svc.logBatch(project, other, { metrics: step(0) });
      // A replay of a batch before anything moved: nothing twice.
      await svc.logBatch(project, run, { metrics: step(4) });
      assert.equal(await countRecent(run), 15, 'one step of three keys is a small batch: it waits');
      const rows = await store.db.selectFrom('run_metric_batches').select((eb) => eb.fn.countAll<number>().as('n')).where('run_id', '=', run).executeTakeFirstOrThrow();
      assert.equal(Number(rows.n), 5, 'a row per batch, and none for the replay');
      assert.deepEqual(await chunksOf(run), { chunks: 0, points: 0 });
      // Waiting points are read like any other, and reading writes nothing.
      const acc = await svc.metricHistory(project, run, 'acc');
      assert.deepEqual(acc.items.map((m) => m.step), [0, 1, 2, 3, 4]);
      assert.equal(await countRecent(run), 15);
      // Packing one run: one chunk per key, the other run's points still waiting.
      assert.equal(await svc.moveRecentMetrics(run), 15);
      assert.deepEqual(await chunksOf(run), { chunks: 3, points: 15 });
      assert.equal(await countRecent(run), 0);
      assert.equal(await countRecent(other), 3);
      // A replay after the first copy was packed waits again; readers drop the duplicate.
      await svc.logBatch(project, run, { metrics: step(2) });
      await svc.logBatch(project, run, { metrics: step(5) });
      assert.deepEqual((await svc.metricHistory(project, run, 'acc')).items.map((m) => m.step), [0, 1, 2, 3, 4, 5]);
      const moved = await svc.moveRecentMetrics(); // every run's (the earlier tests' small batches too)
      assert.ok(moved >= 9, `moved ${moved}`);
      assert.equal(await countRecent(), 0);
      assert.deepEqual((await svc.metricHistory(project, run, 'loss')).items.map((m) => [m.step, m.value]), [0, 1, 2, 3, 4, 5].map((s) => [s, s + 0.1]));
      const bulk = await svc.metricHistoryBulkInterval(project, [run, other], 'loss');
      assert.deepEqual(bulk.map((m) => `${m.runId === run ? 'r' : 'o'}${m.step}`).sort(), ['o0', 'r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
      // A big batch (many points per key) is a chunk at once; a replay of it stores nothing; latest values stay right throughout.
      const before = await chunksOf(run);
      const big = Array.from({ length: 200 }, (_, i) => ({ key: 'acc', value: i, step: 10 + i, timestamp: 2000 + i }));
      await svc.logBatch(project, run, { metrics: big });
      await svc.logBatch(project, run, { metrics: [...big].reverse() });
      assert.equal(await countRecent(run), 0);
      assert.deepEqual(await chunksOf(run), { chunks: before.chunks + 1, points: before.points + 200 });
      const got = await svc.getRun(project, run);
      assert.deepEqual(got.data.metrics.find((m) => m.key === 'acc'), { key: 'acc', value: 199, step: 209, timestamp: 2199 });
      assert.equal((await svc.metricHistory(project, run, 'acc', { maxResults: 1000 })).items.length, 206);
    });

    test('one move packs thousands of series (more chunks than one statement may bind on PostgreSQL)', async () => {
      const exp = await svc.createExperiment(actor, project, { name: 'wide' });
      const runs = [];
      for (let r = 0; r < 10; r += 1) {
        const run = (await svc.createRun(actor, project, { experimentId: exp.id })).info.id;
        runs.push(run);
        await svc.logBatch(project, run, { metrics: Array.from({ length: 1000 }, (_, k) => ({ key: `k${k}`, value: r + k, step: 0, timestamp: 1 })) });
      }
      assert.ok((await svc.moveRecentMetrics()) >= 10_000);
      for (const [r, run] of runs.entries()) {
        assert.deepEqual(await chunksOf(run), { chunks: 1000, points: 1000 });
        assert.deepEqual((await svc.metricHistory(project, run, 'k999')).items.map((m) => m.value), [r + 999]);
      }
    });

    test('history pages: chunks that overlap, duplicates across chunks and waiting rows, NaN and infinities', async () => {
      const exp = await svc.createExperiment(actor, project, { name: 'pages' });
      const arb = fc.array(
        fc.record({
          key: fc.constantFrom('a', 'b'),
          steps: fc.array(fc.integer({ min: -3, max: 40 }), { minLength: 1, maxLength: 120 }),
          timestamp: fc.integer({ min: 0, max: 2 }),
          value: fc.constantFrom(0, -0, 1.5, -2, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
          pack: fc.boolean(),
        }),
        { minLength: 1, maxLength: 8 },
      );
      await fc.assert(
        fc.asyncProperty(arb, fc.integer({ min: 1, max: 70 }), async (batches, pageSize) => {
          const run = (await svc.createRun(actor, project, { experimentId: exp.id })).info.id;
          const want = new Map<string, { step: number; timestamp: number; value: number }[]>([['a', []], ['b', []]]);
          for (const b of batches) {
            const points = b.steps.map((s) => ({ key: b.key, step: s, timestamp: b.timestamp, value: b.value }));
            await svc.logBatch(project, run, { metrics: points });
            want.get(b.key)?.push(...points.map(({ step, timestamp, value }) => ({ step, timestamp, value })));
            if (b.pack) await svc.moveRecentMetrics(run);
          }
          for (const [key, points] of want) {
            const expected = sortedUnique([...points]).map((p) => [p.step, p.timestamp, Object.is(p.value, -0) ? 0 : p.value]);
            const got: unknown[] = [];
            let token: string | undefined;
            let pages = 0;
            do {
              const page = await svc.metricHistory(project, run, key, { maxResults: pageSize, ...(token === undefined ? {} : { pageToken: token }) });
              got.push(...page.items.map((m) => [m.step, m.timestamp, Object.is(m.value, -0) ? 0 : m.value]));
              token = page.nextPageToken;
              pages += 1;
            } while (token !== undefined && pages < 1000);
            assert.deepEqual(got, expected);
          }
        }),
        { numRuns: kind === 'sqlite' ? 60 : 25 },
      );
    });
  });
}
