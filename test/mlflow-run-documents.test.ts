// runs/get answers from rendered copies checked against each run's change counter
// (api/mlflow/run-documents.ts, migration 0015). A copy must never outlive a change: random
// sequences of every call that changes what a run's document holds (fast-check) interleave with
// runs/get, and after each step runs/get must equal the run rendered afresh from the database —
// the same rendering a copy-less server answers. On SQLite and PostgreSQL.
/* eslint-disable @typescript-eslint/no-unsafe-member-access -- wire JSON is untyped; the assertions are what check its shape */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { Reply, TestPlatform } from './support/platform.ts';
import { runJson, withModels } from '../src/api/mlflow/protocol.ts';
import { RunDocuments } from '../src/api/mlflow/run-documents.ts';
import type { ProjectId } from '../src/kernel/index.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON in assertions

const api = '/api/2.0/mlflow';
const KEYS = ['acc', 'loss', 'lr', 'mlflow.runName', 'note', 'ünï', '😀'] as const;

/** One call that may change a run's document; `run` and `model` index the fixtures. */
type Step =
  | { op: 'log-batch'; run: number; metrics: { key: string; value: number | string; step: number }[]; params: { key: string; value: string }[]; tags: { key: string; value: string }[] }
  | { op: 'log-metric'; run: number; key: string; value: number | string; step: number }
  | { op: 'set-tag'; run: number; key: string; value: string }
  | { op: 'delete-tag'; run: number; key: string }
  | { op: 'update'; run: number; status?: string; name?: string; endTime?: number }
  | { op: 'delete-run' | 'restore-run'; run: number }
  | { op: 'delete-experiment' | 'restore-experiment'; run: number }
  | { op: 'log-inputs'; run: number; dataset: string; context: string; model?: number }
  | { op: 'outputs'; run: number; model: number; step: number }
  | { op: 'log-model'; run: number; flavor: string }
  | { op: 'in-process log-batch'; run: number; key: string; value: number; step: number };

const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('NaN', 'Infinity', '-Infinity'), fc.integer({ min: -5, max: 5 }));
const run = fc.integer({ min: 0, max: 2 });
const key = fc.constantFrom(...KEYS);
const text = fc.string({ maxLength: 12 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('log-batch' as const), run, metrics: fc.array(fc.record({ key, value, step: fc.integer({ min: 0, max: 4 }) }), { maxLength: 4 }), params: fc.array(fc.record({ key, value: fc.constant('v') }), { maxLength: 2 }), tags: fc.array(fc.record({ key, value: text }), { maxLength: 2 }) }),
  fc.record({ op: fc.constant('log-metric' as const), run, key, value, step: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ op: fc.constant('set-tag' as const), run, key, value: text }),
  fc.record({ op: fc.constant('delete-tag' as const), run, key }),
  fc.record({ op: fc.constant('update' as const), run, status: fc.constantFrom('RUNNING', 'FINISHED', 'FAILED', 'KILLED'), name: fc.string({ minLength: 1, maxLength: 10 }), endTime: fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }) }, { requiredKeys: ['op', 'run'] }),
  fc.record({ op: fc.constantFrom('delete-run' as const, 'restore-run' as const), run }),
  fc.record({ op: fc.constantFrom('delete-experiment' as const, 'restore-experiment' as const), run }),
  fc.record({ op: fc.constant('log-inputs' as const), run, dataset: fc.constantFrom('train', 'eval', 'zz'), context: fc.constantFrom('training', 'eval'), model: fc.integer({ min: 0, max: 1 }) }, { requiredKeys: ['op', 'run', 'dataset', 'context'] }),
  fc.record({ op: fc.constant('outputs' as const), run, model: fc.integer({ min: 0, max: 1 }), step: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ op: fc.constant('log-model' as const), run, flavor: fc.constantFrom('sklearn', 'pytorch') }),
  fc.record({ op: fc.constant('in-process log-batch' as const), run, key, value: fc.double({ noNaN: true, noDefaultInfinity: true }), step: fc.integer({ min: 0, max: 4 }) }),
);

for (const kind of databaseKinds) {
  describe(`runs/get copies on ${kind}`, () => {
    let tp: TestPlatform;
    let projectId: ProjectId;
    const post = (path: string, body: unknown): Promise<Reply> => tp.call('POST', `${api}/${path}`, { body, headers: { 'x-strata-project': 'default' } });
    const getRun = (id: string): Promise<Reply> => tp.call('GET', `${api}/runs/get?run_id=${id}`, { headers: { 'x-strata-project': 'default' } });
    const ok = (r: Reply): Json => {
      assert.equal(r.status, 200, r.text);
      return r.body as Json;
    };
    /** The run rendered afresh: what runs/get answers without a copy. */
    const fresh = async (id: string): Promise<Json> => {
      const run = await tp.platform.tracking.getRun(projectId, id);
      return JSON.parse(JSON.stringify({ run: withModels(runJson(run), (await tp.platform.loggedModels.runModels(projectId, [id])).get(id)) })) as Json;
    };

    before(async () => {
      tp = await startTestPlatform(kind);
      projectId = ok(await tp.call('GET', '/api/v1/projects/default'))['id'] as ProjectId;
    });
    after(async () => {
      await tp.close();
    });

    test('after every change, by any call, runs/get equals the run rendered afresh', async () => {
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 14 }), fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }), async (steps, reads) => {
          round += 1;
          // Fixtures: runs 0 and 1 in one experiment, run 2 in another; two logged models.
          const exps = [ok(await post('experiments/create', { name: `e${round}-a` }))['experiment_id'] as string, ok(await post('experiments/create', { name: `e${round}-b` }))['experiment_id'] as string];
          const runs: string[] = [];
          for (const e of [exps[0], exps[0], exps[1]]) runs.push(ok(await post('runs/create', { experiment_id: e, start_time: 1_700_000_000_000, tags: [{ key: 'note', value: 'x' }] }))['run']['info']['run_id'] as string);
          const models: string[] = [];
          for (let i = 0; i < 2; i += 1) models.push(ok(await post('logged-models', { experiment_id: exps[0] }))['model']['info']['model_id'] as string);
          const expOf = (r: number): string => (r === 2 ? exps[1] : exps[0]) as string;
          for (const r of runs) assert.deepEqual(ok(await getRun(r)), await fresh(r)); // each run has a copy from here on
          for (const [i, s] of steps.entries()) {
            const id = runs[s.run] as string;
            // A call may be refused (a deleted run, a param logged twice with another value, a model of
            // another experiment): a refused change must leave the copy as exact as an accepted one.
            switch (s.op) {
              case 'log-batch':
                await post('runs/log-batch', { run_id: id, metrics: s.metrics.map((m) => ({ ...m, timestamp: 1_700_000_000_000 + m.step })), params: s.params, tags: s.tags });
                break;
              case 'log-metric':
                await post('runs/log-metric', { run_id: id, key: s.key, value: s.value, timestamp: 1_700_000_000_001, step: s.step });
                break;
              case 'set-tag':
                await post('runs/set-tag', { run_id: id, key: s.key, value: s.value });
                break;
              case 'delete-tag':
                await post('runs/delete-tag', { run_id: id, key: s.key });
                break;
              case 'update':
                await post('runs/update', { run_id: id, ...(s.status === undefined ? {} : { status: s.status }), ...(s.name === undefined ? {} : { run_name: s.name }), ...(s.endTime === undefined ? {} : { end_time: s.endTime }) });
                break;
              case 'delete-run':
                await post('runs/delete', { run_id: id });
                break;
              case 'restore-run':
                await post('runs/restore', { run_id: id });
                break;
              case 'delete-experiment':
                await post('experiments/delete', { experiment_id: expOf(s.run) });
                break;
              case 'restore-experiment':
                await post('experiments/restore', { experiment_id: expOf(s.run) });
                break;
              case 'log-inputs':
                await post('runs/log-inputs', {
                  run_id: id,
                  datasets: [{ tags: [{ key: 'mlflow.data.context', value: s.context }], dataset: { name: s.dataset, digest: `d-${s.dataset}`, source_type: 'local', source: '{}', schema: '{"a":1}' } }],
                  ...(s.model === undefined ? {} : { models: [{ model_id: models[s.model] }] }),
                });
                break;
              case 'outputs':
                await post('runs/outputs', { run_id: id, models: [{ model_id: models[s.model], step: s.step }] });
                break;
              case 'log-model':
                await post('runs/log-model', { run_id: id, model_json: JSON.stringify({ artifact_path: 'model', flavors: { [s.flavor]: {} }, run_id: id, utc_time_created: '2026-11-23 00:00:00.000000' }) });
                break;
              case 'in-process log-batch':
                // A writer that is not the MLflow front end (another replica, a job's system metrics).
                await tp.platform.tracking.logBatch(projectId, id, { metrics: [{ key: s.key, value: s.value, step: s.step, timestamp: 1_700_000_000_002 }] }).catch(() => undefined);
                break;
            }
            if (reads[i] === true) for (const r of runs) assert.deepEqual(ok(await getRun(r)), await fresh(r), `after step ${i} (${s.op}) of ${JSON.stringify(steps)}`);
          }
          for (const r of runs) assert.deepEqual(ok(await getRun(r)), await fresh(r), `after ${JSON.stringify(steps)}`);
        }),
        { numRuns: kind === 'sqlite' ? 40 : 15, seed: 20261123 },
      );
    });

    test("the server's copy figures are on /metrics", async () => {
      const figures = async (): Promise<Record<string, number>> => {
        const text = (await tp.call('GET', '/metrics', { token: null })).text;
        const out: Record<string, number> = {};
        for (const m of text.matchAll(/^strata_mlflow_run_documents_(\w+) (\S+)$/gm)) out[m[1] as string] = Number(m[2]);
        return out;
      };
      const exp = ok(await post('experiments/create', { name: 'metrics' }))['experiment_id'] as string;
      const id = ok(await post('runs/create', { experiment_id: exp }))['run']['info']['run_id'] as string;
      const before = await figures();
      assert.deepEqual(Object.keys(before).sort(), ['bytes', 'hits_total', 'misses_total', 'runs']);
      ok(await getRun(id));
      ok(await getRun(id));
      ok(await post('runs/set-tag', { run_id: id, key: 'k', value: 'v' }));
      ok(await getRun(id));
      const after = await figures();
      assert.equal(after['misses_total'], (before['misses_total'] ?? NaN) + 2, 'rendered on the first read and after the change');
      assert.equal(after['hits_total'], (before['hits_total'] ?? NaN) + 1);
      assert.ok((after['runs'] ?? 0) >= 1 && (after['bytes'] ?? 0) > 0);
    });

    test('a kept copy is answered while the version holds; the bytes kept stay within the limit', async () => {
      const exp = ok(await post('experiments/create', { name: 'copies' }))['experiment_id'] as string;
      const ids: string[] = [];
      // Names of one length, so that every document is the same size (a generated name's length varies).
      for (let i = 0; i < 4; i += 1) ids.push(ok(await post('runs/create', { experiment_id: exp, run_name: `run-${i}`, tags: [{ key: 'pad', value: 'x'.repeat(300) }] }))['run']['info']['run_id'] as string);
      const sizes = await Promise.all(ids.map(async (id) => JSON.stringify(await fresh(id)).length));
      assert.equal(new Set(sizes).size, 1, `the documents are the same size: ${sizes.join(', ')}`);
      const one = sizes[0] as number;
      // Room for two documents; a third one pushes the oldest out; one over the per-document limit is never kept.
      const docs = new RunDocuments(tp.platform.tracking, tp.platform.loggedModels, { maxBytes: 2 * one + 10, maxDocumentBytes: one + 5 });
      const [a, b, c] = ids as [string, string, string];
      assert.deepEqual(JSON.parse(await docs.text(projectId, a)), await fresh(a));
      assert.deepEqual(JSON.parse(await docs.text(projectId, a)), await fresh(a));
      assert.deepEqual(docs.stats(), { hits: 1, misses: 1, runs: 1, bytes: one });
      await docs.text(projectId, b);
      await docs.text(projectId, c);
      assert.equal(docs.stats().runs, 2, 'the oldest copy made room');
      assert.ok(docs.stats().bytes <= 2 * one + 10);
      await docs.text(projectId, a);
      assert.equal(docs.stats().misses, 4, 'the dropped copy was rendered again');
      ok(await post('runs/set-tag', { run_id: c, key: 'pad', value: 'y'.repeat(400) }));
      assert.deepEqual(JSON.parse(await docs.text(projectId, c)), await fresh(c));
      assert.equal(docs.stats().misses, 5, 'a changed run is rendered again');
      assert.equal(docs.stats().runs, 1, 'a document over the per-document limit is not kept');
      // Another project's caller, or a run that does not exist, gets the 404 a fresh read gives.
      await assert.rejects(docs.text('p-none' as ProjectId, a), /not found/);
      await assert.rejects(docs.text(projectId, '0'.repeat(32)), /not found/);
    });
  });
}
