// Jobs and tracking (issue 5, item 5), end to end with the real agent: every attempt gets a run;
// the process finds MLFLOW_TRACKING_URI / MLFLOW_RUN_ID / MLFLOW_TRACKING_TOKEN and logs to its run
// over the MLflow REST API; the token can write only that run (not another run, not secrets, not
// jobs); the attempt's end closes the run with system metrics and revokes the token.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';
import { startLocalAgent } from '../src/api/local-agent.ts';

type Json = Record<string, unknown>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Runs inside the job: logs a metric and a param to its own run, then probes what its token may do.
const PROBE = `
const u = process.env.MLFLOW_TRACKING_URI, t = process.env.MLFLOW_TRACKING_TOKEN, run = process.env.MLFLOW_RUN_ID;
const call = async (method, path, body) => (await fetch(u + path, { method, headers: { authorization: 'Bearer ' + t, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).status;
(async () => {
  console.log('same run id', run === process.env.STRATA_RUN_ID);
  console.log('log-metric own', await call('POST', '/api/2.0/mlflow/runs/log-metric', { run_id: run, key: 'loss', value: 0.25, timestamp: Date.now(), step: 3 }));
  console.log('log-param own', await call('POST', '/api/2.0/mlflow/runs/log-parameter', { run_id: run, key: 'lr', value: '0.01' }));
  console.log('get own', await call('GET', '/api/2.0/mlflow/runs/get?run_id=' + run));
  console.log('log-metric other', await call('POST', '/api/2.0/mlflow/runs/log-metric', { run_id: process.env.OTHER_RUN, key: 'loss', value: 1, timestamp: Date.now(), step: 0 }));
  console.log('create run', await call('POST', '/api/2.0/mlflow/runs/create', { experiment_id: process.env.MLFLOW_EXPERIMENT_ID }));
  console.log('secrets', await call('GET', '/api/v1/projects/default/secrets'));
  console.log('submit job', await call('POST', '/api/v1/projects/default/jobs', { name: 'x', command: ['true'] }));
  require('fs').writeFileSync('token', t);
})();
`;

for (const kind of databaseKinds) {
  describe(`job attempts and tracking runs on ${kind}`, () => {
    let tp: TestPlatform;
    before(async () => {
      tp = await startTestPlatform(kind, { leaseSeconds: 3 });
      const url = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      await startLocalAgent(tp.platform, url);
    });
    after(async () => {
      await tp.close();
    });

    test('an attempt logs to its own run with a run-scoped token that is revoked at the end', async () => {
      // Another run in the same project, which the job's token must not write.
      const exp = await tp.call('POST', '/api/2.0/mlflow/experiments/create', { body: { name: `other-${kind}` }, headers: { 'x-strata-project': 'default' } });
      assert.equal(exp.status, 200, exp.text);
      const other = await tp.call('POST', '/api/2.0/mlflow/runs/create', { body: { experiment_id: (exp.body as Json)['experiment_id'] } });
      const otherRun = String(((other.body as Json)['run'] as { info: Json }).info['run_id']);

      const r = await tp.call('POST', '/api/v1/projects/default/jobs', {
        body: { name: 'logger', command: ['node', '-e', PROBE], env: { OTHER_RUN: otherRun }, outputs: ['token'], labels: { team: 'vision' }, resources: { cpu: '100m', memory: '128Mi' } },
      });
      assert.equal(r.status, 201, r.text);
      const id = String((r.body as Json)['id']);
      let job: Json = {};
      for (let i = 0; i < 600; i++) {
        job = (await tp.call('GET', `/api/v1/projects/default/jobs/${id}`)).body as Json;
        if (job['state'] === 'succeeded' || job['state'] === 'failed') break;
        await sleep(50);
      }
      const logs = ((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/logs`)).body as { chunks: { data: string }[] }).chunks.map((c) => c.data).join('');
      assert.equal(job['state'], 'succeeded', logs);
      for (const line of ['same run id true', 'log-metric own 200', 'log-param own 200', 'get own 200', 'log-metric other 403', 'create run 403', 'secrets 403', 'submit job 403']) {
        assert.ok(logs.includes(line), `expected "${line}" in the job's output:\n${logs}`);
      }

      // The run: tagged with the job, the process's own metric and param, system metrics, closed.
      // (The run is closed just after the job's completion commits: wait for it.)
      type Found = { info: Json; data: { metrics?: Json[]; params?: Json[]; tags?: Json[] } }[];
      let found: Found = [];
      let text = '';
      for (let i = 0; i < 100; i++) {
        const runs = await tp.call('POST', '/api/2.0/mlflow/runs/search', { body: { experiment_ids: ['0'], filter: `tags.\`strata.job_id\` = '${id}'` }, headers: { 'x-strata-project': 'default' } });
        assert.equal(runs.status, 200, runs.text);
        text = runs.text;
        found = (runs.body as { runs?: Found }).runs ?? [];
        if (found[0]?.info['status'] === 'FINISHED') break;
        await sleep(50);
      }
      const runs = { text };
      assert.equal(found.length, 1, runs.text);
      const run = found[0] as { info: Json; data: { metrics?: Json[]; params?: Json[]; tags?: Json[] } };
      assert.equal(run.info['status'], 'FINISHED');
      const metrics: Record<string, unknown> = Object.fromEntries((run.data.metrics ?? []).map((m) => [String(m['key']), m['value']]));
      assert.equal(metrics['loss'], 0.25);
      assert.equal(metrics['system/exit_code'], 0);
      for (const k of ['system/runtime_seconds', 'system/energy_kwh', 'system/carbon_gco2eq']) assert.equal(typeof metrics[k], 'number', `${k} in ${JSON.stringify(metrics)}`);
      assert.deepEqual(run.data.params, [{ key: 'lr', value: '0.01' }]);
      const tags: Record<string, unknown> = Object.fromEntries((run.data.tags ?? []).map((t) => [String(t['key']), t['value']]));
      assert.equal(tags['strata.attempt'], '1');
      assert.equal(tags['strata.label.team'], 'vision');

      // The token the process had is revoked now.
      const token = (await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/output/token`)).text;
      assert.match(token, /^strata_/);
      const late = await tp.call('GET', `/api/2.0/mlflow/runs/get?run_id=${String(run.info['run_id'])}`, { token });
      assert.equal(late.status, 401, late.text);
    });
  });
}
