// Conformance with a real MLflow client: the npm `mlflow` package (2.0.7, node_modules/mlflow)
// drives an in-process Strata server over loopback HTTP, on SQLite and PostgreSQL. It covers
// experiments, runs, metrics, params, tags, log-batch, search and metric history; where the
// package itself is out of date with MLflow 2.x (`experiments/list` was removed in MLflow 2.0; its
// setExperimentTag drops a '/' from the URL), the test pins the answer a stock MLflow server gives.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type MLflowModule from 'mlflow';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';

// The package is CommonJS (module.exports is the class) with .d.ts files that say `export default`;
// load it through require and type it with its own declarations.
type MLflowClient = InstanceType<typeof MLflowModule.default>;
const MLflow = createRequire(import.meta.url)('mlflow') as new (args: { endpoint: string; headers?: Record<string, string> }) => MLflowClient;

/** The client throws Error('Error: {"status","statusText","data"}'); this reads it back. */
async function failure(p: Promise<unknown>): Promise<{ status: number; data: { error_code: string; message: string } }> {
  try {
    await p;
  } catch (e) {
    const text = (e as Error).message.replace(/^Error: /, '');
    return JSON.parse(text) as { status: number; data: { error_code: string; message: string } };
  }
  assert.fail('expected the client call to fail');
}

/** The package logs every POST body with console.log; keep test output readable. */
async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => undefined;
  try {
    return await fn();
  } finally {
    console.log = log;
  }
}

for (const kind of databaseKinds) {
  describe(`npm mlflow client against Strata on ${kind}`, () => {
    let tp: TestPlatform;
    let client: MLflowClient;
    let endpoint: string;

    before(async () => {
      tp = await startTestPlatform(kind);
      assert.equal((await tp.call('POST', '/api/v1/service-accounts', { body: { name: 'trainer' } })).status, 201);
      assert.equal((await tp.call('PUT', '/api/v1/projects/default/members/trainer', { body: { role: 'editor' } })).status, 200);
      const t = await tp.call('POST', '/api/v1/tokens', { body: { name: 'ml', principal: 'trainer' } });
      const token = (t.body as { token: string }).token;
      endpoint = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      client = new MLflow({ endpoint, headers: { Authorization: `Bearer ${token}` } });
    });
    after(async () => {
      await tp.close();
    });

    test('experiments: create, get, update, delete, restore; errors in MLflow shape', () =>
      quiet(async () => {
        const { experiment_id } = await client.Experiments.create({ name: 'npm-exp', artifact_location: '' });
        assert.match(experiment_id, /^\d+$/);
        const got = await client.Experiments.get({ experiment_id });
        assert.equal(got.experiment.name, 'npm-exp');
        assert.equal(got.experiment.lifecycle_stage, 'active');
        assert.equal(got.experiment.artifact_location, `mlflow-artifacts:/${experiment_id}`);
        assert.deepEqual(await client.Experiments.update({ experiment_id, new_name: 'npm-exp-2' }), {});
        assert.equal((await client.Experiments.get({ experiment_id })).experiment.name, 'npm-exp-2');
        const dup = await failure(client.Experiments.create({ name: 'npm-exp-2', artifact_location: '' }));
        assert.equal(dup.status, 400);
        assert.equal(dup.data.error_code, 'RESOURCE_ALREADY_EXISTS');
        await client.Experiments.delete({ experiment_id });
        assert.equal((await client.Experiments.get({ experiment_id })).experiment.lifecycle_stage, 'deleted');
        await client.Experiments.restore({ experiment_id });
        assert.equal((await client.Experiments.get({ experiment_id })).experiment.lifecycle_stage, 'active');
        const missing = await failure(client.Experiments.get({ experiment_id: '987654' }));
        assert.equal(missing.status, 404);
        assert.equal(missing.data.error_code, 'RESOURCE_DOES_NOT_EXIST');
        // Removed in MLflow 2.0 (use experiments/search): a 2.x server answers ENDPOINT_NOT_FOUND.
        const list = await failure(client.Experiments.list());
        assert.equal(list.status, 404);
        assert.equal(list.data.error_code, 'ENDPOINT_NOT_FOUND');
        // The package builds ".../experimentsset-experiment-tag" (no slash): no such endpoint.
        const tag = await failure(client.Experiments.setExperimentTag({ experiment_id, key: 'k', value: 'v' }));
        assert.equal(tag.data.error_code, 'ENDPOINT_NOT_FOUND');
      }));

    test('runs: create, log metric/param/tag/batch, get, history, search with a filter, update, delete, restore', () =>
      quiet(async () => {
        const { experiment_id } = await client.Experiments.create({ name: 'npm-runs', artifact_location: '' });
        const ids: string[] = [];
        for (let i = 0; i < 3; i += 1) {
          const { run } = await client.Runs.create({ experiment_id, user_id: 'npm', start_time: 1_700_000_000_000 + i, tags: [{ key: 'mlflow.runName', value: `npm-${i}` }] });
          assert.equal(run.info.status, 'RUNNING');
          assert.equal(run.info.user_id, 'npm');
          ids.push(run.info.run_id);
          await client.Runs.logMetric({ run_id: run.info.run_id, key: 'acc', value: i / 2, timestamp: 1000, step: 0 });
          await client.Runs.logParameter({ run_id: run.info.run_id, key: 'depth', value: String(i) });
        }
        const [a] = ids as [string, string, string];
        await client.Runs.setTag({ run_id: a, key: 'stage', value: 'dev' });
        await client.Runs.logBatch({
          run_id: a,
          metrics: [
            { key: 'loss', value: 0.5, timestamp: 1, step: 1 },
            { key: 'loss', value: 0.25, timestamp: 2, step: 2 },
          ],
          params: [{ key: 'opt', value: 'adam' }],
          tags: [{ key: 'note', value: 'n' }],
        });
        // The client may retry a batch: the replay changes nothing.
        await client.Runs.logBatch({ run_id: a, metrics: [{ key: 'loss', value: 0.25, timestamp: 2, step: 2 }], params: [{ key: 'opt', value: 'adam' }] });
        await client.Runs.deleteTag({ run_id: a, key: 'note' });
        const { run } = await client.Runs.get({ run_id: a });
        assert.deepEqual(
          run.data.metrics.map((m) => [m.key, m.value, m.step]),
          [
            ['acc', 0, 0],
            ['loss', 0.25, 2],
          ],
        );
        assert.deepEqual(run.data.params, [
          { key: 'depth', value: '0' },
          { key: 'opt', value: 'adam' },
        ]);
        assert.deepEqual(run.data.tags.map((t) => t.key), ['mlflow.runName', 'stage']);
        const history = await client.Metrics.getHistory({ run_id: a, metric_key: 'loss' });
        assert.deepEqual(history.metrics.map((m) => m.value), [0.5, 0.25]);

        const changed = await failure(client.Runs.logParameter({ run_id: a, key: 'opt', value: 'sgd' }));
        assert.equal(changed.status, 400);
        assert.equal(changed.data.error_code, 'INVALID_PARAMETER_VALUE');

        const found = await client.Runs.search({ experiment_ids: [experiment_id], filter: 'metrics.acc >= 0.5', order_by: ['metrics.acc DESC'] });
        assert.deepEqual(found.runs.map((r) => r.info.run_id), [ids[2], ids[1]]);
        const page1 = await client.Runs.search({ experiment_ids: [experiment_id], max_results: 2 });
        assert.equal(page1.runs.length, 2);
        const page2 = await client.Runs.search({ experiment_ids: [experiment_id], max_results: 2, page_token: page1.next_page_token });
        assert.deepEqual(page2.runs.map((r) => r.info.run_id), [a]);
        const badFilter = await failure(client.Runs.search({ experiment_ids: [experiment_id], filter: "metrics.acc > 1 OR params.depth = '1'" }));
        assert.equal(badFilter.data.error_code, 'INVALID_PARAMETER_VALUE');

        const { run_info } = await client.Runs.update({ run_id: a, status: 'FINISHED' as never, end_time: 1_700_000_500_000 });
        assert.equal(run_info.status, 'FINISHED');
        assert.equal(run_info.end_time, 1_700_000_500_000);
        await client.Runs.delete({ run_id: a });
        assert.equal((await client.Runs.get({ run_id: a })).run.info.lifecycle_stage, 'deleted');
        await client.Runs.restore({ run_id: a });
        assert.equal((await client.Runs.get({ run_id: a })).run.info.lifecycle_stage, 'active');
      }));

    test('without a token the client gets UNAUTHENTICATED; the ajax prefix and Basic auth work over HTTP', async () => {
      const anon = new MLflow({ endpoint });
      const r = await failure(anon.Runs.get({ run_id: 'a'.repeat(32) }));
      assert.equal(r.status, 401);
      assert.equal(r.data.error_code, 'UNAUTHENTICATED');
      const token = (await tp.call('POST', '/api/v1/tokens', { body: { name: 'ml2', principal: 'trainer' } })).body as { token: string };
      const res = await fetch(`${endpoint}/ajax-api/2.0/mlflow/experiments/get?experiment_id=0`, { headers: { authorization: `Basic ${Buffer.from(`me:${token.token}`).toString('base64')}` } });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { experiment: { name: string } }).experiment.name, 'Default');
    });
  });
}
