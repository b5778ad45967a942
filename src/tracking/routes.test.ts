// The Strata-native tracking API (/api/v1/projects/{p}/experiments, /runs) through HTTP in process,
// on SQLite and PostgreSQL: experiments, nested runs, batch logging, search, history, inputs,
// tenancy (another project's run reads as missing) and the audit trail of lifecycle changes.
/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- wire JSON is untyped; the assertions are what check its shape */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../../test/support/databases.ts';
import { startTestPlatform } from '../../test/support/platform.ts';
import type { Reply, TestPlatform } from '../../test/support/platform.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON in assertions

for (const kind of databaseKinds) {
  describe(`tracking API on ${kind}`, () => {
    let tp: TestPlatform;
    let alice: string; // editor on default
    let bob: string; // viewer on default
    let carol: string; // editor on p2 only
    const body = (r: Reply, status = 200): Json => {
      assert.equal(r.status, status, r.text);
      return r.body as Json;
    };

    before(async () => {
      tp = await startTestPlatform(kind);
      assert.equal((await tp.call('POST', '/api/v1/projects', { body: { name: 'p2', team: 'default' } })).status, 201);
      alice = await tp.user('alice');
      bob = await tp.user('bob');
      carol = await tp.user('carol');
      for (const [p, u, role] of [['default', 'alice', 'editor'], ['default', 'bob', 'viewer'], ['p2', 'carol', 'editor']] as const) {
        assert.equal((await tp.call('PUT', `/api/v1/projects/${p}/members/${u}`, { body: { role } })).status, 200);
      }
    });
    after(async () => {
      await tp.close();
    });

    test('experiments, nested runs, logging, search, history, inputs; lifecycle audited', async () => {
      const base = '/api/v1/projects/default';
      const exp = body(await tp.call('POST', `${base}/experiments`, { token: alice, body: { name: 'native', tags: { team: 'cv' } } }), 201);
      assert.equal(exp['name'], 'native');
      assert.deepEqual(exp['tags'], { team: 'cv' });
      body(await tp.call('POST', `${base}/experiments`, { token: alice, body: { name: 'native' } }), 409);
      const auditBefore = await tp.platform.audit.size();
      const parent = body(await tp.call('POST', `${base}/runs`, { token: alice, body: { experimentId: exp['id'], name: 'sweep' } }), 201);
      const child = body(await tp.call('POST', `${base}/runs`, { token: alice, body: { experimentId: exp['id'], name: 'trial-1', parentRunId: parent['id'], startTime: 5 } }), 201);
      assert.equal(child['parentRunId'], parent['id']);
      assert.equal(child['tags']['mlflow.parentRunId'], parent['id']);
      body(
        await tp.call('POST', `${base}/runs/${child['id'] as string}/log`, {
          token: alice,
          body: { metrics: [{ key: 'acc', value: 0.8, step: 1 }, { key: 'acc', value: 0.9, step: 2, timestamp: 7 }, { key: 'bad', value: 'NaN' }], params: { lr: '0.1' }, tags: { note: 'x' } },
        }),
      );
      body(await tp.call('POST', `${base}/runs/${child['id'] as string}/log`, { token: alice, body: { params: { lr: '0.2' } } }), 400);
      body(await tp.call('POST', `${base}/runs/${child['id'] as string}/inputs`, { token: alice, body: { datasets: [{ name: 'cifar', digest: 'd1', sourceType: 's3', source: 's3://b/cifar', context: 'training' }] } }));
      const got = body(await tp.call('GET', `${base}/runs/${child['id'] as string}`, { token: bob }));
      assert.deepEqual(got['params'], { lr: '0.1' });
      assert.deepEqual(got['metrics'], [
        { key: 'acc', value: 0.9, step: 2, timestamp: 7 },
        { key: 'bad', value: 'NaN', step: 0, timestamp: got['metrics'][1]['timestamp'] },
      ]);
      assert.deepEqual(got['inputs'], [{ name: 'cifar', digest: 'd1', sourceType: 's3', source: 's3://b/cifar', schema: null, profile: null, tags: { 'mlflow.data.context': 'training' } }]);
      const hist = body(await tp.call('GET', `${base}/runs/${child['id'] as string}/metrics?key=acc`, { token: bob }));
      assert.deepEqual(hist['metrics'].map((m: Json) => m['value']), [0.8, 0.9]);
      const found = body(await tp.call('POST', `${base}/runs/search`, { token: bob, body: { experimentIds: [exp['id']], filter: `tags.mlflow.parentRunId = '${parent['id'] as string}' AND datasets.context = 'training'` } }));
      assert.deepEqual(found['runs'].map((r: Json) => r['name']), ['trial-1']);
      assert.equal(found['nextPageToken'], null);
      body(await tp.call('POST', `${base}/runs/search`, { token: bob, body: { experimentIds: [exp['id']], filter: 'metrics.acc > 0.5 OR 1' } }), 400);
      const done = body(await tp.call('PATCH', `${base}/runs/${child['id'] as string}`, { token: alice, body: { status: 'FAILED' } }));
      assert.equal(done['status'], 'FAILED');
      assert.equal(typeof done['endTime'], 'number');
      body(await tp.call('DELETE', `${base}/runs/${child['id'] as string}`, { token: alice }), 204);
      body(await tp.call('POST', `${base}/runs/${child['id'] as string}/restore`, { token: alice }));
      const entries = await tp.platform.audit.entries(auditBefore, 100);
      assert.deepEqual(entries.map((e) => e.action), ['run.create', 'run.create', 'run.terminate', 'run.delete', 'run.restore']);
      assert.ok(entries.every((e) => e.project !== null && e.outcome === 'success'));
      assert.deepEqual((entries[1]?.details as Json)['parentRunId'], parent['id']);

      // Experiment changes are audited too.
      const e2 = body(await tp.call('PATCH', `${base}/experiments/${exp['id'] as string}`, { token: alice, body: { name: 'native-2' } }));
      assert.equal(e2['name'], 'native-2');
      body(await tp.call('PUT', `${base}/experiments/${exp['id'] as string}/tags`, { token: alice, body: { key: 'k', value: 'v' } }));
      body(await tp.call('DELETE', `${base}/experiments/${exp['id'] as string}/tags?key=k`, { token: alice }), 204);
      const list = body(await tp.call('GET', `${base}/experiments?filter=${encodeURIComponent("name LIKE 'native%'")}`, { token: bob }));
      assert.deepEqual(list['experiments'].map((e: Json) => e['name']), ['native-2']);
      const actions = (await tp.platform.audit.entries(auditBefore, 100)).map((e) => e.action).slice(5);
      assert.deepEqual(actions, ['experiment.update', 'experiment.tag.set', 'experiment.tag.delete']);
    });

    test('tenancy and roles: viewers read, editors write, other projects read as missing', async () => {
      const base = '/api/v1/projects/default';
      const exp = body(await tp.call('POST', `${base}/experiments`, { token: alice, body: { name: 'tenancy' } }), 201);
      const run = body(await tp.call('POST', `${base}/runs`, { token: alice, body: { experimentId: exp['id'] } }), 201);
      body(await tp.call('POST', `${base}/runs`, { token: bob, body: { experimentId: exp['id'] } }), 403);
      body(await tp.call('GET', `${base}/runs/${run['id'] as string}`, { token: carol }), 404);
      // carol's own project does not contain this run either: ids are scoped by project.
      body(await tp.call('GET', `/api/v1/projects/p2/runs/${run['id'] as string}`, { token: carol }), 404);
      body(await tp.call('POST', `/api/v1/projects/p2/runs`, { token: carol, body: { experimentId: exp['id'] } }), 404);
      body(await tp.call('POST', `/api/v1/projects/p2/runs/search`, { token: carol, body: { experimentIds: [exp['id']] } }), 404);
      // A parent run from another project is refused like a missing one.
      const own = body(await tp.call('POST', '/api/v1/projects/p2/experiments', { token: carol, body: { name: 'mine' } }), 201);
      body(await tp.call('POST', '/api/v1/projects/p2/runs', { token: carol, body: { experimentId: own['id'], parentRunId: run['id'] } }), 404);
    });
  });
}
