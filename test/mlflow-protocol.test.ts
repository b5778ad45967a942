// MLflow REST conformance at the protocol level, written from service.proto and MLflow's server
// behaviour (research note ../shared/research/mlflow.md §1–§5), on SQLite and PostgreSQL: message
// encoding (GET query strings with repeated keys, JSON bodies, int64 as numbers or strings, NaN and
// Infinity), the Content-Type rule, error codes with their HTTP statuses, limits, write-once params,
// idempotent log-batch replays, the default experiment "0", search grammar and paging, tenancy, and
// which calls are audited (lifecycle) and which are not (telemetry).
/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- wire JSON is untyped; the assertions are what check its shape */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { Reply, TestPlatform } from './support/platform.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON in assertions

for (const kind of databaseKinds) {
  describe(`MLflow REST protocol on ${kind}`, () => {
    let tp: TestPlatform;
    let saA: string; // editor on project default (a project-scoped service account)
    let saB: string; // editor on project p2
    let viewer: string; // viewer on project default
    let multi: string; // editor on both projects

    const api = '/api/2.0/mlflow';
    const post = (path: string, body: unknown, token: string | null = saA, headers: Record<string, string> = {}): Promise<Reply> => tp.call('POST', `${api}/${path}`, { token, body, headers });
    const get = (path: string, query: Record<string, string | number | string[]>, token: string | null = saA, headers: Record<string, string> = {}): Promise<Reply> => {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
      return tp.call('GET', `${api}/${path}?${qs.toString()}`, { token, headers });
    };
    const ok = (r: Reply): Json => {
      assert.equal(r.status, 200, r.text);
      return r.body as Json;
    };
    const err = (r: Reply, status: number, code: string): string => {
      assert.equal(r.status, status, r.text);
      const b = r.body as Json;
      assert.equal(b['error_code'], code, r.text);
      assert.equal(typeof b['message'], 'string');
      return b['message'] as string;
    };
    const serviceAccount = (name: string, project: string, role: string): Promise<string> => tp.serviceAccount(name, project, role);
    const newExperiment = async (name: string, token = saA): Promise<string> => ok(await post('experiments/create', { name }, token))['experiment_id'] as string;
    const newRun = async (experimentId: string, extra: Json = {}, token = saA): Promise<string> =>
      ok(await post('runs/create', { experiment_id: experimentId, start_time: 1_700_000_000_000, ...extra }, token))['run']['info']['run_id'] as string;

    before(async () => {
      tp = await startTestPlatform(kind);
      assert.equal((await tp.call('POST', '/api/v1/projects', { body: { name: 'p2', team: 'default' } })).status, 201);
      saA = await serviceAccount('sa-a', 'default', 'editor');
      saB = await serviceAccount('sa-b', 'p2', 'editor');
      viewer = await serviceAccount('sa-view', 'default', 'viewer');
      multi = await serviceAccount('sa-multi', 'default', 'editor');
      assert.equal((await tp.call('PUT', '/api/v1/projects/p2/members/sa-multi', { body: { role: 'editor' } })).status, 200);
    });
    after(async () => {
      await tp.close();
    });

    test('Content-Type rule: POST must be application/json (CSRF guard, MLflow PR #10526)', async () => {
      const before = await tp.platform.audit.size();
      const raw = (ct: string | null): Promise<Reply> =>
        tp.call('POST', `${api}/experiments/create`, { token: saA, raw: JSON.stringify({ name: 'csrf' }), headers: ct === null ? {} : { 'content-type': ct } });
      assert.match(err(await raw('text/plain'), 400, 'INVALID_PARAMETER_VALUE'), /Content-Type must be one of \['application\/json'\]/);
      assert.match(err(await raw('application/x-www-form-urlencoded'), 400, 'INVALID_PARAMETER_VALUE'), /Content-Type must be one of/);
      assert.match(err(await raw('multipart/form-data; boundary=x'), 400, 'INVALID_PARAMETER_VALUE'), /Content-Type must be one of/);
      const r = await tp.call('POST', `${api}/experiments/create`, { token: saA, headers: {} });
      assert.match(err(r, 400, 'INVALID_PARAMETER_VALUE'), /Content-Type header is missing/);
      assert.equal(await tp.platform.audit.size(), before, 'a refused request writes nothing');
      ok(await raw('application/json; charset=utf-8'));
    });

    test('authentication: Bearer, Basic with the token as password, and MLflow-shaped 401s', async () => {
      const none = await get('experiments/get', { experiment_id: '0' }, null);
      assert.match(err(none, 401, 'UNAUTHENTICATED'), /MLFLOW_TRACKING_TOKEN/);
      assert.equal((none.body as Json)['error']['code'], 'unauthenticated');
      const basic = `Basic ${Buffer.from(`anyone:${saA}`).toString('base64')}`;
      ok(await tp.call('GET', `${api}/experiments/get?experiment_id=0`, { token: null, headers: { authorization: basic } }));
      const wrong = `Basic ${Buffer.from('anyone:strata_nope').toString('base64')}`;
      err(await tp.call('GET', `${api}/experiments/get?experiment_id=0`, { token: null, headers: { authorization: wrong } }), 401, 'UNAUTHENTICATED');
      // Basic is an MLflow-front-end convenience only.
      const native = await tp.call('GET', '/api/v1/projects/default/experiments', { token: null, headers: { authorization: basic } });
      assert.equal(native.status, 401);
    });

    test('experiments: create, duplicate, get-by-name, rename, tags, delete/restore, "0", artifact_location refused', async () => {
      const id = await newExperiment('exp-a');
      assert.match(id, /^[1-9][0-9]*$/);
      assert.match(err(await post('experiments/create', { name: 'exp-a' }), 400, 'RESOURCE_ALREADY_EXISTS'), /already exists/);
      assert.match(err(await get('experiments/get-by-name', { experiment_name: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST'), /nope/);
      const e = ok(await get('experiments/get-by-name', { experiment_name: 'exp-a' }))['experiment'];
      assert.deepEqual(Object.keys(e).sort(), ['artifact_location', 'creation_time', 'experiment_id', 'last_update_time', 'lifecycle_stage', 'name']);
      assert.equal(e['experiment_id'], id);
      assert.equal(e['lifecycle_stage'], 'active');
      assert.equal(e['artifact_location'], `mlflow-artifacts:/${id}`);
      assert.equal(typeof e['creation_time'], 'number');

      ok(await post('experiments/set-experiment-tag', { experiment_id: id, key: 'team', value: 'vision' }));
      ok(await post('experiments/update', { experiment_id: id, new_name: 'exp-a2' }));
      const got = ok(await get('experiments/get', { experiment_id: id }))['experiment'];
      assert.equal(got['name'], 'exp-a2');
      assert.deepEqual(got['tags'], [{ key: 'team', value: 'vision' }]);
      ok(await post('experiments/delete-experiment-tag', { experiment_id: id, key: 'team' }));
      err(await post('experiments/delete-experiment-tag', { experiment_id: id, key: 'team' }), 404, 'RESOURCE_DOES_NOT_EXIST');

      ok(await post('experiments/delete', { experiment_id: id }));
      assert.equal(ok(await get('experiments/get', { experiment_id: id }))['experiment']['lifecycle_stage'], 'deleted');
      err(await post('runs/create', { experiment_id: id }), 400, 'INVALID_PARAMETER_VALUE');
      err(await post('experiments/create', { name: 'exp-a2' }), 400, 'RESOURCE_ALREADY_EXISTS');
      ok(await post('experiments/restore', { experiment_id: id }));

      // "0" is the project's default experiment; it exists from the client's point of view.
      const d = ok(await get('experiments/get', { experiment_id: '0' }))['experiment'];
      assert.equal(d['name'], 'Default');
      err(await post('experiments/delete', { experiment_id: '0' }), 400, 'INVALID_PARAMETER_VALUE');
      // Client-chosen artifact locations are where MLflow's traversal CVEs began (CVE-2023-6909).
      assert.match(err(await post('experiments/create', { name: 'evil', artifact_location: 'http:///?/../../../../etc/' }), 400, 'INVALID_PARAMETER_VALUE'), /artifact_location/);
      err(await post('experiments/create', { name: 'x'.repeat(501) }), 400, 'INVALID_PARAMETER_VALUE');
      err(await get('experiments/get', { experiment_id: '../etc' }), 400, 'INVALID_PARAMETER_VALUE');
      err(await get('experiments/get', { experiment_id: '999999' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    test('experiments/search: filter, order_by, paging, view_type; GET and POST', async () => {
      for (const n of ['s-alpha', 's-beta', 's-gamma']) await newExperiment(n);
      const names = (b: Json): string[] => ((b['experiments'] ?? []) as Json[]).map((e) => e['name'] as string);
      assert.deepEqual(names(ok(await post('experiments/search', { filter: "name LIKE 's-%'", order_by: ['name DESC'] }))), ['s-gamma', 's-beta', 's-alpha']);
      const p1 = ok(await get('experiments/search', { filter: "name LIKE 's-%'", order_by: 'name', max_results: '2' }));
      assert.deepEqual(names(p1), ['s-alpha', 's-beta']);
      const p2 = ok(await get('experiments/search', { filter: "name LIKE 's-%'", order_by: 'name', max_results: '2', page_token: p1['next_page_token'] as string }));
      assert.deepEqual(names(p2), ['s-gamma']);
      assert.equal(p2['next_page_token'], undefined);
      err(await post('experiments/search', { filter: "name = 'a' OR name = 'b'" }), 400, 'INVALID_PARAMETER_VALUE');
      err(await post('experiments/search', { page_token: 'not-a-token!' }), 400, 'INVALID_PARAMETER_VALUE');
      // The project of a call naming no experiment: the token's one project, or the header.
      assert.deepEqual(names(ok(await post('experiments/search', { filter: "name LIKE 's-%'" }, saB))), []);
      assert.match(err(await post('experiments/search', {}, multi), 400, 'INVALID_PARAMETER_VALUE'), /x-strata-project/);
      assert.equal(names(ok(await post('experiments/search', { filter: "name LIKE 's-%'" }, multi, { 'x-strata-project': 'default' }))).length, 3);
      err(await post('experiments/search', {}, saB, { 'x-strata-project': 'default' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    test('runs: create with system tags, get, update to FINISHED, delete/restore; lifecycle audited', async () => {
      const exp = await newExperiment('runs-life');
      const before = await tp.platform.audit.size();
      const r = ok(
        await post('runs/create', {
          experiment_id: exp,
          start_time: '1700000000000',
          tags: [
            { key: 'mlflow.user', value: 'alice' },
            { key: 'mlflow.source.type', value: 'LOCAL' },
          ],
          run_name: 'first',
        }),
      )['run'];
      const id = r['info']['run_id'] as string;
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.equal(r['info']['run_uuid'], id);
      assert.equal(r['info']['status'], 'RUNNING');
      assert.equal(r['info']['start_time'], 1_700_000_000_000);
      assert.equal(r['info']['user_id'], 'alice');
      assert.equal(r['info']['artifact_uri'], `mlflow-artifacts:/${exp}/${id}/artifacts`);
      assert.equal(r['info']['end_time'], undefined);
      assert.deepEqual(r['data']['tags'].map((t: Json) => t['key']), ['mlflow.runName', 'mlflow.source.type', 'mlflow.user']);
      const info = ok(await post('runs/update', { run_id: id, status: 'FINISHED', end_time: 1_700_000_100_000 }))['run_info'];
      assert.equal(info['status'], 'FINISHED');
      assert.equal(info['end_time'], 1_700_000_100_000);
      ok(await post('runs/delete', { run_id: id }));
      assert.equal(ok(await get('runs/get', { run_id: id }))['run']['info']['lifecycle_stage'], 'deleted');
      err(await post('runs/log-metric', { run_id: id, key: 'x', value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE');
      ok(await post('runs/restore', { run_uuid: id }));
      const actions = (await tp.platform.audit.entries(before, 100)).map((e) => e.action);
      assert.deepEqual(actions, ['run.create', 'run.terminate', 'run.delete', 'run.restore']);
      err(await post('runs/update', { run_id: id, status: 'DONE' }), 400, 'INVALID_PARAMETER_VALUE');
      err(await get('runs/get', { run_id: 'f'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST');
      // Both run_name and a different mlflow.runName tag: refused like MLflow.
      err(await post('runs/create', { experiment_id: exp, run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] }), 400, 'INVALID_PARAMETER_VALUE');
      // No experiment_id means the default experiment "0".
      const dflt = ok(await post('runs/create', {}))['run']['info'];
      assert.equal(dflt['experiment_id'], ok(await get('experiments/get', { experiment_id: '0' }))['experiment']['experiment_id']);
      assert.match(dflt['run_name'] as string, /^[a-z]+-[a-z]+-\d+$/);
    });

    test('log-batch: latest values, write-once params, idempotent replay, no audit; history and NaN/Infinity', async () => {
      const exp = await newExperiment('batch');
      const run = await newRun(exp);
      const before = await tp.platform.audit.size();
      const batch = {
        run_id: run,
        metrics: [
          { key: 'loss', value: 0.9, timestamp: 1000, step: 0 },
          { key: 'loss', value: 0.5, timestamp: 2000, step: 1 },
          { key: 'loss', value: 0.7, timestamp: '3000', step: '0' },
          { key: 'acc', value: 'NaN', timestamp: 1000, step: 0 },
          { key: 'inf', value: 'Infinity', timestamp: 1000, step: 0 },
        ],
        params: [
          { key: 'lr', value: '0.01' },
          { key: 'lr', value: '0.01' },
        ],
        tags: [{ key: 'mlflow.runName', value: 'renamed' }],
      };
      ok(await post('runs/log-batch', batch));
      ok(await post('runs/log-batch', batch)); // the client retries: a replay changes nothing
      assert.equal(await tp.platform.audit.size(), before, 'metric/param/tag logging is telemetry, not audited');
      const got = ok(await get('runs/get', { run_id: run }))['run'];
      assert.equal(got['info']['run_name'], 'renamed');
      assert.deepEqual(got['data']['metrics'], [
        { key: 'acc', value: 'NaN', timestamp: 1000, step: 0 },
        { key: 'inf', value: 'Infinity', timestamp: 1000, step: 0 },
        { key: 'loss', value: 0.5, timestamp: 2000, step: 1 },
      ]);
      assert.deepEqual(got['data']['params'], [{ key: 'lr', value: '0.01' }]);
      const hist = ok(await get('metrics/get-history', { run_id: run, metric_key: 'loss' }))['metrics'];
      assert.deepEqual(
        hist.map((m: Json) => [m['step'], m['timestamp'], m['value']]),
        [
          [0, 1000, 0.9],
          [0, 3000, 0.7],
          [1, 2000, 0.5],
        ],
      );
      // Params are write-once: same value is fine, a different one fails the whole batch.
      ok(await post('runs/log-parameter', { run_id: run, key: 'lr', value: '0.01' }));
      const msg = err(await post('runs/log-batch', { run_id: run, params: [{ key: 'lr', value: '0.02' }], metrics: [{ key: 'zzz', value: 1, timestamp: 1 }] }), 400, 'INVALID_PARAMETER_VALUE');
      assert.match(msg, /Changing param values is not allowed/);
      assert.equal(ok(await get('metrics/get-history', { run_id: run, metric_key: 'zzz' }))['metrics'], undefined, 'nothing of a refused batch is written');
      err(await post('runs/log-batch', { run_id: run, params: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] }), 400, 'INVALID_PARAMETER_VALUE');
      // An older step never replaces the latest value.
      ok(await post('runs/log-metric', { run_id: run, key: 'loss', value: 0.1, timestamp: 9999, step: 0 }));
      assert.equal(ok(await get('runs/get', { run_id: run }))['run']['data']['metrics'].find((m: Json) => m['key'] === 'loss')['value'], 0.5);
      ok(await post('runs/log-metric', { run_id: run, key: 'loss', value: 0.2, timestamp: 10, step: 5 }));
      assert.equal(ok(await get('runs/get', { run_id: run }))['run']['data']['metrics'].find((m: Json) => m['key'] === 'loss')['value'], 0.2);
      // Tags: last write wins, delete-tag 404s when absent.
      ok(await post('runs/set-tag', { run_id: run, key: 'k', value: 'v1' }));
      ok(await post('runs/set-tag', { run_uuid: run, key: 'k', value: 'v2' }));
      assert.equal(ok(await get('runs/get', { run_id: run }))['run']['data']['tags'].find((t: Json) => t['key'] === 'k')['value'], 'v2');
      ok(await post('runs/delete-tag', { run_id: run, key: 'k' }));
      err(await post('runs/delete-tag', { run_id: run, key: 'k' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      // History paging.
      const p1 = ok(await get('metrics/get-history', { run_id: run, metric_key: 'loss', max_results: 2 }));
      assert.equal(p1['metrics'].length, 2);
      const p2 = ok(await get('metrics/get-history', { run_id: run, metric_key: 'loss', max_results: 2, page_token: p1['next_page_token'] as string }));
      assert.equal(p2['metrics'].length, 2);
      const p3 = ok(await get('metrics/get-history', { run_id: run, metric_key: 'loss', max_results: 2, page_token: p2['next_page_token'] as string }));
      assert.equal(p3['metrics'].length, 1);
      assert.equal(p3['next_page_token'], undefined);
    });

    test('small batches of history are packed into chunks in the background once enough wait', async () => {
      const run = await newRun(await newExperiment('background-move'));
      const db = tp.platform.store.db;
      const waiting = async (): Promise<number> => Number((await db.selectFrom('run_metric_batches').select((eb) => eb.fn.countAll<number>().as('n')).where('run_id', '=', run).executeTakeFirstOrThrow()).n);
      const packed = async (): Promise<number> => Number((await db.selectFrom('run_metric_chunks').select((eb) => eb.fn.sum<number>('points').as('n')).where('run_id', '=', run).executeTakeFirstOrThrow()).n ?? 0);
      // Two steps of 500 keys: each key has one point per batch, so each batch waits as a row...
      for (let step = 0; step < 2; step += 1) ok(await post('runs/log-batch', { run_id: run, metrics: Array.from({ length: 500 }, (_, k) => ({ key: `k${k}`, value: step + k, timestamp: 1, step })) }));
      // ...until 1,000 wait for the run: then the platform's mover packs them, one chunk per key.
      const deadline = performance.now() + 10_000;
      while ((await packed()) < 1000 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await packed(), 1000);
      assert.equal(await waiting(), 0);
      const chunks = Number((await db.selectFrom('run_metric_chunks').select((eb) => eb.fn.countAll<number>().as('n')).where('run_id', '=', run).executeTakeFirstOrThrow()).n);
      assert.equal(chunks, 500);
      const history = ok(await get('metrics/get-history', { run_id: run, metric_key: 'k7' }))['metrics'] as Json[];
      assert.deepEqual(history.map((m) => [m['step'], m['value']]), [[0, 7], [1, 8]]);
    });

    test('limits (mlflow/utils/validation.py): batch sizes, key and value lengths, key syntax, body size', async () => {
      const run = await newRun(await newExperiment('limits'));
      const metrics = (n: number): Json[] => Array.from({ length: n }, (_, i) => ({ key: `m${i % 7}`, value: i, timestamp: i, step: i }));
      ok(await post('runs/log-batch', { run_id: run, metrics: metrics(1000) }));
      assert.match(err(await post('runs/log-batch', { run_id: run, metrics: metrics(1001) }), 400, 'INVALID_PARAMETER_VALUE'), /at most 1000 metrics/);
      const params = (n: number): Json[] => Array.from({ length: n }, (_, i) => ({ key: `p${i}`, value: 'v' }));
      assert.match(err(await post('runs/log-batch', { run_id: run, params: params(101) }), 400, 'INVALID_PARAMETER_VALUE'), /at most 100 params/);
      const tags = (n: number): Json[] => Array.from({ length: n }, (_, i) => ({ key: `t${i}`, value: 'v' }));
      assert.match(err(await post('runs/log-batch', { run_id: run, tags: tags(101) }), 400, 'INVALID_PARAMETER_VALUE'), /at most 100 tags/);
      assert.match(err(await post('runs/log-batch', { run_id: run, metrics: metrics(950), params: params(60) }), 400, 'INVALID_PARAMETER_VALUE'), /at most 1000 total/);
      err(await post('runs/log-parameter', { run_id: run, key: 'k'.repeat(251), value: 'v' }), 400, 'INVALID_PARAMETER_VALUE');
      ok(await post('runs/log-parameter', { run_id: run, key: 'long', value: 'v'.repeat(6000) }));
      err(await post('runs/log-parameter', { run_id: run, key: 'longer', value: 'v'.repeat(6001) }), 400, 'INVALID_PARAMETER_VALUE');
      err(await post('runs/set-tag', { run_id: run, key: 't', value: 'v'.repeat(8001) }), 400, 'INVALID_PARAMETER_VALUE');
      for (const bad of ['../x', '/abs', 'a//b', 'a/./b', 'semi;colon', 'new\nline']) {
        err(await post('runs/log-metric', { run_id: run, key: bad, value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE');
      }
      ok(await post('runs/log-metric', { run_id: run, key: 'train/loss: epoch-1 .x', value: 1, timestamp: 1 }));
      err(await post('runs/log-metric', { run_id: run, key: 'x', value: 'abc', timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE');
      err(await post('runs/log-metric', { run_id: run, key: 'x', value: 1 }), 400, 'INVALID_PARAMETER_VALUE');
      const big = await tp.call('POST', `${api}/runs/log-batch`, { token: saA, raw: JSON.stringify({ run_id: run, tags: [{ key: 'x', value: 'y'.repeat(1_100_000) }] }) });
      err(big, 400, 'INVALID_PARAMETER_VALUE');
    });

    test('runs/search: grammar compiled to SQL, order_by, IN, nested runs, datasets, paging (POST and GET)', async () => {
      const exp = await newExperiment('search');
      const ids: string[] = [];
      for (let i = 0; i < 6; i += 1) {
        const id = await newRun(exp, { start_time: 1_700_000_000_000 + i, run_name: `r${i}` });
        ids.push(id);
        ok(
          await post('runs/log-batch', {
            run_id: id,
            metrics: i === 5 ? [] : [{ key: 'acc', value: i / 10, timestamp: 1, step: 0 }],
            params: [{ key: 'model', value: i % 2 === 0 ? 'cnn' : 'MLP' }],
            tags: i > 0 ? [{ key: 'mlflow.parentRunId', value: ids[0] as string }] : [],
          }),
        );
      }
      ok(await post('runs/log-inputs', { run_id: ids[1], datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: { name: 'mnist', digest: 'abc123', source_type: 'local', source: '/data/mnist' } }] }));
      ok(await post('runs/log-inputs', { run_id: ids[1], datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: { name: 'mnist', digest: 'abc123', source_type: 'local', source: '/data/mnist' } }] }));
      const names = (b: Json): string[] => ((b['runs'] ?? []) as Json[]).map((r) => r['info']['run_name'] as string);
      const search = async (filter: string, order_by: string[] = [], extra: Json = {}): Promise<string[]> => names(ok(await post('runs/search', { experiment_ids: [exp], filter, order_by, ...extra })));

      assert.deepEqual(await search(''), ['r5', 'r4', 'r3', 'r2', 'r1', 'r0'], 'default order: start_time DESC');
      assert.deepEqual(await search('metrics.acc > 0.15', ['metrics.acc DESC']), ['r4', 'r3', 'r2']);
      assert.deepEqual(await search('metrics.acc >= 0.1 and metrics.acc < 0.3', ['metrics.acc']), ['r1', 'r2']);
      assert.deepEqual(await search('', ['metrics.acc DESC']), ['r4', 'r3', 'r2', 'r1', 'r0', 'r5'], 'runs without the metric sort last');
      assert.deepEqual(await search('', ['metrics.acc ASC']), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
      assert.deepEqual(await search("params.model = 'cnn'", ['attributes.start_time ASC']), ['r0', 'r2', 'r4']);
      assert.deepEqual(await search("params.model LIKE 'ml%'"), [], 'LIKE is case-sensitive');
      assert.deepEqual(await search("params.model ILIKE 'ml%'"), ['r5', 'r3', 'r1']);
      assert.deepEqual(await search("params.model != 'cnn'"), ['r5', 'r3', 'r1']);
      assert.deepEqual(await search(`tags.mlflow.parentRunId = '${ids[0] as string}'`, ['run_name']), ['r1', 'r2', 'r3', 'r4', 'r5']);
      assert.deepEqual(await search(`tags.\`mlflow.parentRunId\` = "${ids[0] as string}" AND metrics.acc > 0.25`), ['r4', 'r3']);
      assert.deepEqual(await search(`attributes.run_id IN ('${ids[2] as string}', '${ids[3] as string}')`), ['r3', 'r2']);
      assert.deepEqual(await search(`run_id NOT IN ('${ids[2] as string}')`).then((r) => r.length), 5);
      assert.deepEqual(await search("attributes.run_name = 'r3'"), ['r3']);
      assert.deepEqual(await search("`Run name` LIKE 'r%' AND attributes.start_time >= 1700000000004"), ['r5', 'r4']);
      assert.deepEqual(await search("attributes.status = 'RUNNING' AND run.user_id != 'nobody'").then((r) => r.length), 6);
      assert.deepEqual(await search("datasets.name = 'mnist' AND datasets.digest IN ('abc123', 'zzz')"), ['r1']);
      assert.deepEqual(await search("datasets.context = 'training'"), ['r1']);
      const withInputs = ok(await get('runs/get', { run_id: ids[1] as string }))['run']['inputs']['dataset_inputs'];
      assert.deepEqual(withInputs, [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: { name: 'mnist', digest: 'abc123', source_type: 'local', source: '/data/mnist' } }]);

      for (const [bad, why] of [
        ["metrics.acc > '0.9'", /number/],
        ['params.model = 1', /quoted string/],
        ["metrics.acc > 0.1 OR params.model = 'cnn'", /AND only/],
        ['tags.x IS NULL', /IS/],
        ["attributes.status IN ('RUNNING')", /only supported for run_id/],
        ["foo.bar = 'x'", /unknown identifier prefix/],
        ['metrics.acc >', /expected a value/],
        ["params.model = 'cnn' AND", /ends with AND/],
      ] as const) {
        assert.match(err(await post('runs/search', { experiment_ids: [exp], filter: bad }), 400, 'INVALID_PARAMETER_VALUE'), why, bad);
      }
      err(await post('runs/search', { experiment_ids: [exp], order_by: ['metrics.acc DESC NULLS LAST'] }), 400, 'INVALID_PARAMETER_VALUE');
      err(await post('runs/search', { experiment_ids: [exp], max_results: 50_001 }), 400, 'INVALID_PARAMETER_VALUE');

      // Paging: the client sends the token back verbatim with the same query.
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page: Json = ok(await post('runs/search', { experiment_ids: [exp], max_results: 4, filter: '', ...(token === undefined ? {} : { page_token: token }) }));
        seen.push(...names(page));
        token = page['next_page_token'] as string | undefined;
      } while (token !== undefined);
      assert.deepEqual(seen, ['r5', 'r4', 'r3', 'r2', 'r1', 'r0']);
      // GET with repeated query keys; deleted runs by view type.
      ok(await post('runs/delete', { run_id: ids[0] }));
      const g = ok(await get('runs/search', { experiment_ids: [exp, exp], order_by: ['metrics.acc DESC'], max_results: '2', run_view_type: 'ALL' }));
      assert.deepEqual(names(g), ['r4', 'r3']);
      assert.deepEqual(names(ok(await post('runs/search', { experiment_ids: [exp], run_view_type: 'DELETED_ONLY' }))), ['r0']);
      // The UI's ajax prefix serves the same API.
      const ajax = await tp.call('POST', `/ajax-api/2.0/mlflow/runs/search`, { token: saA, body: { experiment_ids: [exp], filter: "attributes.run_name = 'r2'" } });
      assert.deepEqual(names(ok(ajax)), ['r2']);
    });

    test('get-history-bulk-interval samples steps evenly, first and last included', async () => {
      const exp = await newExperiment('bulk');
      const a = await newRun(exp);
      const b = await newRun(exp);
      ok(await post('runs/log-batch', { run_id: a, metrics: Array.from({ length: 100 }, (_, i) => ({ key: 'loss', value: 100 - i, timestamp: i, step: i })) }));
      ok(await post('runs/log-batch', { run_id: b, metrics: [{ key: 'loss', value: 1, timestamp: 0, step: 3 }] }));
      const r = ok(await get('metrics/get-history-bulk-interval', { run_ids: [a, b], metric_key: 'loss', max_results: 5 }))['metrics'] as Json[];
      const ofA = r.filter((m) => m['run_id'] === a).map((m) => m['step']);
      assert.deepEqual(ofA, [0, 25, 50, 74, 99]);
      assert.deepEqual(r.filter((m) => m['run_id'] === b).map((m) => m['step']), [3]);
      const ranged = ok(await get('metrics/get-history-bulk-interval', { run_ids: a, metric_key: 'loss', start_step: 10, end_step: 20, max_results: 3 }))['metrics'] as Json[];
      assert.deepEqual(ranged.map((m) => m['step']), [10, 15, 20]);
      err(await get('metrics/get-history-bulk-interval', { run_ids: a, metric_key: 'loss', start_step: 5, end_step: 1 }), 400, 'INVALID_PARAMETER_VALUE');
    });

    test('tenancy: other projects read as missing; viewers cannot write; unknown endpoints', async () => {
      const exp = await newExperiment('tenant');
      const run = await newRun(exp);
      err(await get('runs/get', { run_id: run }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await get('experiments/get', { experiment_id: exp }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await post('runs/log-batch', { run_id: run, metrics: [{ key: 'x', value: 1, timestamp: 1 }] }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await post('runs/search', { experiment_ids: [exp] }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      // A search mixing experiments of two projects cannot read across them.
      const other = await newExperiment('tenant-b', saB);
      err(await post('runs/search', { experiment_ids: [exp, other] }, multi), 404, 'RESOURCE_DOES_NOT_EXIST');
      ok(await get('runs/get', { run_id: run }, viewer));
      err(await post('runs/log-metric', { run_id: run, key: 'x', value: 1, timestamp: 1 }, viewer), 403, 'PERMISSION_DENIED');
      err(await post('experiments/create', { name: 'nope' }, viewer), 403, 'PERMISSION_DENIED');
      err(await get('experiments/list', {}), 404, 'ENDPOINT_NOT_FOUND');
      err(await post('runs/frobnicate', {}), 404, 'ENDPOINT_NOT_FOUND');
    });
  });
}
