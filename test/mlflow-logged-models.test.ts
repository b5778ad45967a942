// MLflow 3.x logged models at the protocol level, written from service.proto (CreateLoggedModel,
// GetLoggedModel, FinalizeLoggedModel, DeleteLoggedModel, SearchLoggedModels, SetLoggedModelTags,
// DeleteLoggedModelTag, LogLoggedModelParamsRequest, ListLoggedModelArtifacts, LogOutputs, Metric's
// model_id / dataset_name / dataset_digest, Run.outputs) and the wire sequence the real 3.x client
// sent (research note ../shared/research/mlflow.md §9), on SQLite and PostgreSQL: field names and
// enums, the run's outputs in runs/get and runs/search, metrics logged with a model_id on the model,
// search (filter compiled to SQL, datasets, order_by objects, paging), the model's artifact tree
// through the artifact proxy (content-addressed, like run artifacts), registrations, MLflow's error
// codes, tenancy, and which calls are audited (create, finalize, delete) and which are not.
/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- wire JSON is untyped; the assertions are what check its shape */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { Reply, TestPlatform } from './support/platform.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON in assertions

const MODEL_ID = /^m-[0-9a-f]{32}$/;

for (const kind of databaseKinds) {
  describe(`MLflow 3.x logged models on ${kind}`, () => {
    let tp: TestPlatform;
    let saA: string; // editor on project default (a project-scoped service account)
    let saB: string; // editor on project p2
    let viewer: string; // viewer on project default

    const api = '/api/2.0/mlflow';
    const call = (method: string, path: string, body?: unknown, token: string | null = saA): Promise<Reply> =>
      tp.call(method, `${api}/${path}`, { token, ...(body === undefined ? {} : { body }) });
    const post = (path: string, body: unknown, token: string | null = saA): Promise<Reply> => call('POST', path, body, token);
    const get = (path: string, query: Record<string, string | number | string[]> = {}, token: string | null = saA): Promise<Reply> => {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
      const q = qs.toString();
      return tp.call('GET', `${api}/${path}${q === '' ? '' : `?${q}`}`, { token });
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
    const newRun = async (experimentId: string, token = saA): Promise<string> => ok(await post('runs/create', { experiment_id: experimentId, start_time: 1_700_000_000_000 }, token))['run']['info']['run_id'] as string;
    const newModel = async (body: Json, token = saA): Promise<Json> => ok(await post('logged-models', body, token))['model'];
    const proxy = (exp: string, modelId: string, path: string): string => `/api/2.0/mlflow-artifacts/artifacts/${exp}/models/${modelId}/artifacts/${path}`;

    before(async () => {
      tp = await startTestPlatform(kind);
      assert.equal((await tp.call('POST', '/api/v1/projects', { body: { name: 'p2', team: 'default' } })).status, 201);
      saA = await serviceAccount('sa-a', 'default', 'editor');
      saB = await serviceAccount('sa-b', 'p2', 'editor');
      viewer = await serviceAccount('sa-view', 'default', 'viewer');
    });
    after(async () => {
      await tp.close();
    });

    test('the 3.x client sequence (§9): create, get, params, tags, finalize, runs/outputs; runs/get shows the output; lifecycle audited', async () => {
      const exp = await newExperiment('lm-wire');
      const run = await newRun(exp);
      const before = await tp.platform.audit.size();

      // POST logged-models, as MlflowClient.create_logged_model sends it.
      const created = await newModel({
        experiment_id: exp,
        name: 'my-model',
        model_type: 'Agent',
        source_run_id: run,
        params: [{ key: 'alpha', value: '0.5' }],
        tags: [{ key: 'mlflow.user', value: 'alice' }],
      });
      const info = created['info'];
      const id = info['model_id'] as string;
      assert.match(id, MODEL_ID);
      assert.deepEqual(Object.keys(info).sort(), [
        'artifact_uri',
        'creation_timestamp_ms',
        'experiment_id',
        'last_updated_timestamp_ms',
        'model_id',
        'model_type',
        'name',
        'source_run_id',
        'status',
        'tags',
      ]);
      assert.equal(info['experiment_id'], exp);
      assert.equal(info['name'], 'my-model');
      assert.equal(info['model_type'], 'Agent');
      assert.equal(info['source_run_id'], run);
      assert.equal(info['status'], 'LOGGED_MODEL_PENDING');
      assert.equal(info['artifact_uri'], `mlflow-artifacts:/${exp}/models/${id}/artifacts`);
      assert.equal(typeof info['creation_timestamp_ms'], 'number');
      assert.equal(info['last_updated_timestamp_ms'], info['creation_timestamp_ms']);
      assert.deepEqual(info['tags'], [{ key: 'mlflow.user', value: 'alice' }]);
      assert.deepEqual(created['data'], { params: [{ key: 'alpha', value: '0.5' }] });

      // GET logged-models/{id}
      assert.deepEqual(ok(await get(`logged-models/${id}`))['model'], created);
      // POST …/params, PATCH …/tags (the client repeats model_id in the body)
      assert.deepEqual(ok(await post(`logged-models/${id}/params`, { model_id: id, params: [{ key: 'beta', value: '2' }] })), {});
      assert.deepEqual(ok(await call('PATCH', `logged-models/${id}/tags`, { model_id: id, tags: [{ key: 'stage', value: 'dev' }, { key: 'stage', value: 'prod' }] })), {});
      // PATCH logged-models/{id} {"status": "LOGGED_MODEL_READY"}: finalize answers the model.
      const ready = ok(await call('PATCH', `logged-models/${id}`, { model_id: id, status: 'LOGGED_MODEL_READY' }))['model'];
      assert.equal(ready['info']['status'], 'LOGGED_MODEL_READY');
      assert.ok(ready['info']['last_updated_timestamp_ms'] >= info['creation_timestamp_ms']);
      assert.deepEqual(ready['info']['tags'], [
        { key: 'mlflow.user', value: 'alice' },
        { key: 'stage', value: 'prod' },
      ]);
      assert.deepEqual(ready['data']['params'], [
        { key: 'alpha', value: '0.5' },
        { key: 'beta', value: '2' },
      ]);
      // POST runs/outputs, then runs/get carries Run.outputs.model_outputs.
      assert.deepEqual(ok(await post('runs/outputs', { run_id: run, models: [{ model_id: id, step: 3 }] })), {});
      const got = ok(await get('runs/get', { run_id: run }))['run'];
      assert.deepEqual(got['outputs'], { model_outputs: [{ model_id: id, step: 3 }] });
      ok(await post('runs/outputs', { run_id: run, models: [{ model_id: id, step: '4' }] })); // a replay with a new step: last write wins
      assert.deepEqual(ok(await get('runs/get', { run_id: run }))['run']['outputs'], { model_outputs: [{ model_id: id, step: 4 }] });
      // runs/search carries them too; a run with no outputs has an empty RunOutputs.
      const other = await newRun(exp);
      const runs = ok(await post('runs/search', { experiment_ids: [exp] }))['runs'] as Json[];
      assert.deepEqual(runs.find((r) => r['info']['run_id'] === run)?.['outputs'], { model_outputs: [{ model_id: id, step: 4 }] });
      assert.deepEqual(runs.find((r) => r['info']['run_id'] === other)?.['outputs'], {});

      // Lifecycle (create, finalize, delete) is audited; params, tags and outputs are telemetry.
      ok(await call('PATCH', `logged-models/${id}`, { status: 'LOGGED_MODEL_READY' })); // no change, no entry
      ok(await call('DELETE', `logged-models/${id}`));
      ok(await call('DELETE', `logged-models/${id}`)); // deleting again changes nothing
      const entries = await tp.platform.audit.entries(before, 100);
      assert.deepEqual(
        entries.map((e) => [e.action, e.resource]),
        [
          ['logged_model.create', `logged_model/${id}`],
          ['logged_model.finalize', `logged_model/${id}`],
          ['run.create', `run/${other}`],
          ['logged_model.delete', `logged_model/${id}`],
        ],
      );
      err(await get(`logged-models/${id}`), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal(ok(await get(`logged-models/${id}`, { allow_deleted: 'true' }))['model']['info']['model_id'], id);
      // The UI's ajax prefix serves the same API.
      const ajax = await tp.call('POST', '/ajax-api/2.0/mlflow/logged-models', { token: saA, body: { experiment_id: exp } });
      const generated = ok(ajax)['model']['info'];
      assert.match(generated['name'] as string, /^[a-z]+-[a-z]+-\d+$/, 'a model without a name gets a generated one');
      assert.equal(generated['model_type'], undefined, 'unset fields are omitted');
      assert.equal(generated['source_run_id'], undefined);
    });

    test('metrics logged with model_id (log-metric, log-batch) show on the model; atomic with the run; replays idempotent', async () => {
      const exp = await newExperiment('lm-metrics');
      const run = await newRun(exp);
      const id = (await newModel({ experiment_id: exp, name: 'scored', source_run_id: run }))['info']['model_id'] as string;
      ok(await post('runs/log-metric', { run_id: run, key: 'acc', value: 0.8, timestamp: 1000, step: 1, model_id: id, dataset_name: 'eval', dataset_digest: 'd1' }));
      // 3.x log-batch sends run_id (and model_id) inside each metric.
      const batch = {
        run_id: run,
        metrics: [
          { key: 'acc', value: 0.9, timestamp: 2000, step: 2, run_id: run, model_id: id, dataset_name: 'eval', dataset_digest: 'd1' },
          { key: 'loss', value: 'NaN', timestamp: 2000, step: 2, run_id: run, model_id: id },
          { key: 'lr', value: 0.1, timestamp: 2000, step: 2, run_id: run },
        ],
      };
      ok(await post('runs/log-batch', batch));
      ok(await post('runs/log-batch', batch)); // the client retries: nothing twice
      const model = ok(await get(`logged-models/${id}`))['model'];
      assert.deepEqual(model['data']['metrics'], [
        { key: 'acc', value: 0.8, timestamp: 1000, step: 1, dataset_name: 'eval', dataset_digest: 'd1', model_id: id, run_id: run },
        { key: 'acc', value: 0.9, timestamp: 2000, step: 2, dataset_name: 'eval', dataset_digest: 'd1', model_id: id, run_id: run },
        { key: 'loss', value: 'NaN', timestamp: 2000, step: 2, model_id: id, run_id: run },
      ]);
      // The run keeps its own metrics as before.
      const runMetrics = ok(await get('runs/get', { run_id: run }))['run']['data']['metrics'] as Json[];
      assert.deepEqual(runMetrics.map((m) => [m['key'], m['value']]), [
        ['acc', 0.9],
        ['loss', 'NaN'],
        ['lr', 0.1],
      ]);
      // An unknown (or deleted) model fails the whole call: nothing reaches the run either.
      const missing = `m-${'0'.repeat(32)}`;
      err(await post('runs/log-batch', { run_id: run, metrics: [{ key: 'zzz', value: 1, timestamp: 1, model_id: missing }] }), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await post('runs/log-metric', { run_id: run, key: 'zzz', value: 1, timestamp: 1, model_id: missing }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal(ok(await get('metrics/get-history', { run_id: run, metric_key: 'zzz' }))['metrics'], undefined, 'nothing of a refused batch is written');
      // A model of another project is a missing model.
      const foreign = (await newModel({ experiment_id: await newExperiment('lm-foreign', saB) }, saB))['info']['model_id'] as string;
      err(await post('runs/log-metric', { run_id: run, key: 'zzz', value: 1, timestamp: 1, model_id: foreign }), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await post('runs/outputs', { run_id: run, models: [{ model_id: foreign, step: 0 }] }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal(ok(await get('runs/get', { run_id: run }))['run']['outputs']['model_outputs'], undefined);
    });

    test('logged-models/search: name, status, tags, params, metrics (with datasets), order_by objects, paging; deleted models are gone', async () => {
      const exp = await newExperiment('lm-search');
      const run = await newRun(exp);
      const ids: Record<string, string> = {};
      for (const [i, name] of ['alpha', 'beta', 'gamma', 'delta'].entries()) {
        const m = await newModel({ experiment_id: exp, name, model_type: i % 2 === 0 ? 'LLM' : 'Classifier', params: [{ key: 'size', value: String(i) }], tags: [{ key: 'team', value: i < 2 ? 'vision' : 'nlp' }] });
        ids[name] = m['info']['model_id'] as string;
        ok(await post('runs/log-batch', { run_id: run, metrics: [{ key: 'acc', value: i / 10, timestamp: 10 + i, step: 0, model_id: ids[name], dataset_name: i % 2 === 0 ? 'test' : 'train', dataset_digest: 'x' }] }));
      }
      ok(await call('PATCH', `logged-models/${ids['beta'] as string}`, { status: 'LOGGED_MODEL_READY' }));
      ok(await call('PATCH', `logged-models/${ids['delta'] as string}`, { status: 2 })); // the enum's number is accepted too
      const names = (b: Json): string[] => ((b['models'] ?? []) as Json[]).map((m) => m['info']['name'] as string);
      const search = async (filter: string, extra: Json = {}): Promise<string[]> => names(ok(await post('logged-models/search', { experiment_ids: [exp], filter, ...extra })));

      assert.deepEqual(await search(''), ['delta', 'gamma', 'beta', 'alpha'], 'default order: newest first');
      assert.deepEqual(await search("name = 'beta'"), ['beta']);
      assert.deepEqual(await search("name LIKE '%a' AND attributes.model_type = 'LLM'"), ['gamma', 'alpha']);
      assert.deepEqual(await search("status = 'LOGGED_MODEL_READY'"), ['delta', 'beta']);
      assert.deepEqual(await search("status = 'READY'"), ['delta', 'beta'], "the Python entity's short status names work too");
      assert.deepEqual(await search("status != 'LOGGED_MODEL_READY'"), ['gamma', 'alpha']);
      assert.deepEqual(await search("tags.team = 'vision'"), ['beta', 'alpha']);
      assert.deepEqual(await search("tags.`team` ILIKE 'NLP' AND params.size = '3'"), ['delta']);
      assert.deepEqual(await search('metrics.acc >= 0.2'), ['delta', 'gamma']);
      assert.deepEqual(await search('metrics.acc >= 0.1', { datasets: [{ dataset_name: 'train' }] }), ['delta', 'beta']);
      assert.deepEqual(await search('', { datasets: [{ dataset_name: 'test', dataset_digest: 'x' }] }), ['gamma', 'alpha']);
      assert.deepEqual(await search('', { datasets: [{ dataset_name: 'test', dataset_digest: 'other' }] }), []);
      assert.deepEqual(await search(`model_id IN ('${ids['alpha'] as string}', '${ids['gamma'] as string}')`), ['gamma', 'alpha']);
      assert.deepEqual(await search('', { order_by: [{ field_name: 'metrics.acc', ascending: false }] }), ['delta', 'gamma', 'beta', 'alpha']);
      assert.deepEqual(await search('', { order_by: [{ field_name: 'metrics.acc', ascending: true, dataset_name: 'train' }] }), ['beta', 'delta', 'gamma', 'alpha'], 'models without the metric sort last');
      assert.deepEqual(await search('', { order_by: [{ field_name: 'name' }] }), ['alpha', 'beta', 'delta', 'gamma']);
      assert.deepEqual(await search('', { order_by: ['name DESC'] }), ['gamma', 'delta', 'beta', 'alpha']);

      // Paging: the token comes back verbatim with the same query.
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page: Json = ok(await post('logged-models/search', { experiment_ids: [exp], max_results: 3, order_by: [{ field_name: 'name' }], ...(token === undefined ? {} : { page_token: token }) }));
        seen.push(...names(page));
        token = page['next_page_token'] as string | undefined;
      } while (token !== undefined);
      assert.deepEqual(seen, ['alpha', 'beta', 'delta', 'gamma']);

      // A deleted model is found by neither search nor get.
      ok(await call('DELETE', `logged-models/${ids['gamma'] as string}`));
      assert.deepEqual(await search(''), ['delta', 'beta', 'alpha']);
      assert.deepEqual(await search("name = 'gamma'"), []);

      for (const [bad, why] of [
        ["name = 'a' OR name = 'b'", /AND only/],
        ["metrics.acc > '0.9'", /number/],
        ['params.size = 1', /quoted string/],
        ["datasets.name = 'x'", /datasets/],
        ["frobs = 'x'", /invalid logged model attribute/],
      ] as const) {
        assert.match(err(await post('logged-models/search', { experiment_ids: [exp], filter: bad }), 400, 'INVALID_PARAMETER_VALUE'), why, bad);
      }
      err(await post('logged-models/search', { experiment_ids: [exp], order_by: [{ field_name: 'params.size' }] }), 400, 'INVALID_PARAMETER_VALUE');
      err(await post('logged-models/search', { experiment_ids: [exp], order_by: [{ field_name: 'metrics.acc', dataset_digest: 'x' }] }), 400, 'INVALID_PARAMETER_VALUE');
      err(await post('logged-models/search', { experiment_ids: [exp], datasets: [{ dataset_digest: 'x' }] }), 400, 'INVALID_PARAMETER_VALUE');
      err(await post('logged-models/search', { experiment_ids: [exp], page_token: 'not-a-token!' }), 400, 'INVALID_PARAMETER_VALUE');
      err(await post('logged-models/search', { experiment_ids: ['999999'] }), 404, 'RESOURCE_DOES_NOT_EXIST');
      // Another project's experiments read as missing.
      err(await post('logged-models/search', { experiment_ids: [exp] }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    test('artifacts: uploaded through the proxy under artifact_uri, content-addressed; artifacts/directories lists them', async () => {
      const exp = await newExperiment('lm-artifacts');
      const run = await newRun(exp);
      const id = (await newModel({ experiment_id: exp, source_run_id: run }))['info']['model_id'] as string;
      const mlmodel = 'artifact_path: model\nflavors: {}\n';
      const put = (path: string, body: string): Promise<Reply> => tp.call('PUT', proxy(exp, id, path), { token: saA, raw: body, headers: { 'content-type': 'text/plain' } });
      assert.deepEqual(ok(await put('MLmodel', mlmodel)), {});
      ok(await put('data/model.pkl', 'weights'));
      ok(await put('data/extra/notes.txt', 'hello'));
      // The same bytes in a run's tree share the blob (one content-addressed store per project).
      ok(await tp.call('PUT', `/api/2.0/mlflow-artifacts/artifacts/${exp}/${run}/artifacts/MLmodel`, { token: saA, raw: mlmodel, headers: { 'content-type': 'text/plain' } }));
      const sha = `sha256:${createHash('sha256').update(mlmodel).digest('hex')}`;
      const pid = (await tp.platform.tracking.runScope(run))?.projectId;
      assert.ok(pid !== undefined);
      assert.equal((await tp.platform.modelArtifacts.file(pid, id, 'MLmodel' as never)).digest, sha);
      assert.equal((await tp.platform.runArtifacts.file(pid, run, 'MLmodel' as never)).digest, sha);

      const root = ok(await get(`logged-models/${id}/artifacts/directories`));
      assert.deepEqual(root, {
        root_uri: `mlflow-artifacts:/${exp}/models/${id}/artifacts`,
        files: [
          { path: 'MLmodel', is_dir: false, file_size: mlmodel.length },
          { path: 'data', is_dir: true },
        ],
      });
      assert.deepEqual(ok(await get(`logged-models/${id}/artifacts/directories`, { artifact_directory_path: 'data' }))['files'], [
        { path: 'data/extra', is_dir: true },
        { path: 'data/model.pkl', is_dir: false, file_size: 7 },
      ]);
      assert.equal(ok(await get(`logged-models/${id}/artifacts/directories`, { artifact_directory_path: 'nothing' }))['files'], undefined);
      err(await get(`logged-models/${id}/artifacts/directories`, { artifact_directory_path: '../x' }), 400, 'INVALID_PARAMETER_VALUE');
      // Download and the proxy's own listing (what the client uses to fetch a model).
      const dl = await tp.call('GET', proxy(exp, id, 'data/model.pkl'), { token: saA });
      assert.equal(dl.status, 200);
      assert.equal(dl.text, 'weights');
      const listed = ok(await tp.call('GET', `/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(`${exp}/models/${id}/artifacts/data`)}`, { token: saA }));
      assert.deepEqual(listed['files'], [
        { path: 'extra', is_dir: true },
        { path: 'model.pkl', is_dir: false, file_size: 7 },
      ]);
      // Bad paths are refused before anything is looked up; other projects and unknown models are 404s.
      for (const bad of ['..%2F..%2Fetc%2Fpasswd', 'a/../../b', '%252e%252e%252f']) {
        err(await tp.call('PUT', proxy(exp, id, bad), { token: saA, raw: 'x', headers: { 'content-type': 'text/plain' } }), 400, 'INVALID_PARAMETER_VALUE');
      }
      err(await tp.call('GET', proxy(exp, id, 'MLmodel'), { token: saB }), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await tp.call('PUT', proxy(exp, `m-${'0'.repeat(32)}`, 'x'), { token: saA, raw: 'x', headers: { 'content-type': 'text/plain' } }), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await tp.call('PUT', proxy(exp, id, 'x'), { token: viewer, raw: 'x', headers: { 'content-type': 'text/plain' } }), 403, 'PERMISSION_DENIED');
      err(await tp.call('DELETE', proxy(exp, id, 'MLmodel'), { token: saA }), 400, 'INVALID_PARAMETER_VALUE');
      // A deleted model's tree is gone with it.
      ok(await call('DELETE', `logged-models/${id}`));
      err(await get(`logged-models/${id}/artifacts/directories`), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await tp.call('GET', proxy(exp, id, 'MLmodel'), { token: saA }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    test('registrations: registry versions made from a logged model appear in its info', async () => {
      const exp = await newExperiment('lm-registry');
      const run = await newRun(exp);
      const id = (await newModel({ experiment_id: exp, source_run_id: run }))['info']['model_id'] as string;
      ok(await tp.call('PUT', `/api/2.0/mlflow-artifacts/artifacts/${exp}/${run}/artifacts/model/MLmodel`, { token: saA, raw: 'flavors: {}\n', headers: { 'content-type': 'text/plain' } }));
      ok(await post('registered-models/create', { name: 'lm-reg' }));
      ok(await post('model-versions/create', { name: 'lm-reg', source: `runs:/${run}/model`, run_id: run, model_id: id }));
      assert.deepEqual(ok(await get(`logged-models/${id}`))['model']['info']['registrations'], [{ name: 'lm-reg', version: '1' }]);
    });

    test("a job attempt's run-scoped token writes only the models of its own run", async () => {
      const exp = await newExperiment('lm-scoped');
      const run = await newRun(exp);
      const otherRun = await newRun(exp);
      const scope = await tp.platform.tracking.runScope(run);
      assert.ok(scope !== undefined);
      const { token } = await tp.platform.access.createScopedToken({ principal: null, requestId: null }, { kind: 'run', projectId: scope.projectId, runId: run }, 'lm-scoped-token', 600);
      const mine = (await newModel({ experiment_id: exp, source_run_id: run }, token))['info']['model_id'] as string;
      ok(await tp.call('PUT', proxy(exp, mine, 'MLmodel'), { token, raw: 'flavors: {}\n', headers: { 'content-type': 'text/plain' } }));
      ok(await call('PATCH', `logged-models/${mine}`, { status: 'LOGGED_MODEL_READY' }, token));
      ok(await post('runs/log-metric', { run_id: run, key: 'acc', value: 1, timestamp: 1, model_id: mine }, token));
      ok(await post('runs/outputs', { run_id: run, models: [{ model_id: mine, step: 0 }] }, token));
      const theirs = (await newModel({ experiment_id: exp, source_run_id: otherRun }))['info']['model_id'] as string;
      assert.equal(ok(await get(`logged-models/${theirs}`, {}, token))['model']['info']['model_id'], theirs, 'reads are not limited to its run');
      err(await post('logged-models', { experiment_id: exp }, token), 403, 'PERMISSION_DENIED');
      err(await post('logged-models', { experiment_id: exp, source_run_id: otherRun }, token), 403, 'PERMISSION_DENIED');
      err(await call('PATCH', `logged-models/${theirs}`, { status: 'LOGGED_MODEL_READY' }, token), 403, 'PERMISSION_DENIED');
      err(await call('PATCH', `logged-models/${theirs}/tags`, { tags: [{ key: 'a', value: 'b' }] }, token), 403, 'PERMISSION_DENIED');
      err(await tp.call('PUT', proxy(exp, theirs, 'MLmodel'), { token, raw: 'x', headers: { 'content-type': 'text/plain' } }), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await post('runs/outputs', { run_id: otherRun, models: [{ model_id: mine, step: 0 }] }, token), 403, 'PERMISSION_DENIED');
    });

    test('errors: unknown ids 404 RESOURCE_DOES_NOT_EXIST, bad input 400 INVALID_PARAMETER_VALUE, tenancy, roles', async () => {
      const exp = await newExperiment('lm-errors');
      const run = await newRun(exp);
      const id = (await newModel({ experiment_id: exp, source_run_id: run, params: [{ key: 'p', value: '1' }], tags: [{ key: 't', value: 'v' }] }))['info']['model_id'] as string;
      const missing = `m-${'f'.repeat(32)}`;
      for (const [method, path, body] of [
        ['GET', `logged-models/${missing}`, undefined],
        ['PATCH', `logged-models/${missing}`, { status: 'LOGGED_MODEL_READY' }],
        ['DELETE', `logged-models/${missing}`, undefined],
        ['PATCH', `logged-models/${missing}/tags`, { tags: [{ key: 'a', value: 'b' }] }],
        ['DELETE', `logged-models/${missing}/tags/a`, undefined],
        ['POST', `logged-models/${missing}/params`, { params: [{ key: 'a', value: 'b' }] }],
        ['GET', `logged-models/${missing}/artifacts/directories`, undefined],
        ['GET', 'logged-models/not-a-model-id', undefined],
      ] as const) {
        assert.match(err(await call(method, path, body), 404, 'RESOURCE_DOES_NOT_EXIST'), /not found/, `${method} ${path}`);
      }
      err(await post('runs/outputs', { run_id: run, models: [{ model_id: missing, step: 0 }] }), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await post('logged-models', { experiment_id: '999999' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await post('logged-models', { experiment_id: exp, source_run_id: 'f'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST');

      // Finalize takes READY or UPLOAD_FAILED only.
      for (const status of ['LOGGED_MODEL_PENDING', 'LOGGED_MODEL_STATUS_UNSPECIFIED', 'DONE', 1, 7]) {
        assert.match(err(await call('PATCH', `logged-models/${id}`, { status }), 400, 'INVALID_PARAMETER_VALUE'), /LOGGED_MODEL_READY/, String(status));
      }
      err(await call('PATCH', `logged-models/${id}`, {}), 400, 'INVALID_PARAMETER_VALUE');
      assert.equal(ok(await call('PATCH', `logged-models/${id}`, { status: 'LOGGED_MODEL_UPLOAD_FAILED' }))['model']['info']['status'], 'LOGGED_MODEL_UPLOAD_FAILED');

      for (const body of [{}, { experiment_id: exp, name: 'a/b' }, { experiment_id: exp, name: 'v1.0' }, { experiment_id: exp, params: [{ key: '../x', value: '1' }] }, { experiment_id: exp, tags: 'nope' }, { experiment_id: '../etc' }]) {
        err(await post('logged-models', body), 400, 'INVALID_PARAMETER_VALUE');
      }
      err(await tp.call('POST', `${api}/logged-models`, { token: saA, raw: JSON.stringify({ experiment_id: exp }), headers: { 'content-type': 'text/plain' } }), 400, 'INVALID_PARAMETER_VALUE');
      // Params are write-once; tags are deleted by key (the key may hold '/').
      ok(await post(`logged-models/${id}/params`, { params: [{ key: 'p', value: '1' }] }));
      assert.match(err(await post(`logged-models/${id}/params`, { params: [{ key: 'p', value: '2' }] }), 400, 'INVALID_PARAMETER_VALUE'), /Changing param values is not allowed/);
      ok(await call('PATCH', `logged-models/${id}/tags`, { tags: [{ key: 'a/b', value: 'c' }] }));
      ok(await call('DELETE', `logged-models/${id}/tags/a/b`));
      ok(await call('DELETE', `logged-models/${id}/tags/t`));
      err(await call('DELETE', `logged-models/${id}/tags/t`), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal(ok(await get(`logged-models/${id}`))['model']['info']['tags'], undefined);

      // Tenancy and roles: another project sees nothing; a viewer reads but cannot write.
      err(await get(`logged-models/${id}`, {}, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await call('PATCH', `logged-models/${id}`, { status: 'LOGGED_MODEL_READY' }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await post('logged-models', { experiment_id: exp }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      ok(await get(`logged-models/${id}`, {}, viewer));
      ok(await post('logged-models/search', { experiment_ids: [exp] }, viewer));
      err(await post('logged-models', { experiment_id: exp }, viewer), 403, 'PERMISSION_DENIED');
      err(await call('DELETE', `logged-models/${id}`, undefined, viewer), 403, 'PERMISSION_DENIED');
      err(await get(`logged-models/${id}`, {}, null), 401, 'UNAUTHENTICATED');
      // A deleted experiment takes no new models.
      const gone = await newExperiment('lm-gone');
      ok(await post('experiments/delete', { experiment_id: gone }));
      err(await post('logged-models', { experiment_id: gone }), 400, 'INVALID_PARAMETER_VALUE');
    });
  });
}
