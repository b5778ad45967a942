// The model registry end to end, in process, on SQLite and PostgreSQL: the MLflow registry protocol
// (model_registry.proto shapes, error codes, stages, aliases, search, paging), immutability of READY
// versions, provenance verification (a changed stored file and a forged record are detected; the
// CLI's verifier runs against a listening server), promotion gates (allowed and refused, both
// audited), lineage both ways, tenancy and bad input (400, nothing written).
/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- wire JSON is untyped; the assertions are what check its shape */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Platform } from '../src/api/platform.ts';
import { createPlatform } from '../src/api/platform.ts';
import { openFilesystemBlobStore } from '../src/blobs/index.ts';
import type { Digest, FilesystemBlobStore } from '../src/blobs/index.ts';
import type { ManifestFile, ModelSourceResolver, ProvenanceBundle } from '../src/registry/index.ts';
import { verifyProvenance } from '../src/registry/index.ts';
import { StrataClient } from '../src/sdk/index.ts';
import { verifyModelVersion } from '../src/cli/models.ts';
import { databaseKinds, freshDatabase } from './support/databases.ts';
import type { TestDatabase } from './support/databases.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON in assertions

interface Reply {
  readonly status: number;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON
  readonly text: string;
}

for (const kind of databaseKinds) {
  describe(`model registry on ${kind}`, () => {
    let platform: Platform;
    let db: TestDatabase;
    let home: string;
    let admin: string;
    let saA: string; // editor on default
    let saB: string; // editor on p2
    let viewer: string; // viewer on default
    let projectA: string;
    let projectB: string;
    /** What the test resolver serves: `${project}|${run}|${path}` → files. */
    const sources = new Map<string, ManifestFile[]>();
    const stores = new Map<string, FilesystemBlobStore>();

    const blobs = async (projectId: string): Promise<FilesystemBlobStore> => {
      let s = stores.get(projectId);
      if (s === undefined) {
        s = await openFilesystemBlobStore({ root: join(home, 'blobs', 'projects', projectId) });
        stores.set(projectId, s);
      }
      return s;
    };
    /** Puts files into the project's blob store and makes `runs:/<run>/<dir>` resolve to them. */
    const putModel = async (projectId: string, runId: string, dir: string, files: Record<string, string | Buffer>): Promise<ManifestFile[]> => {
      const s = await blobs(projectId);
      const out: ManifestFile[] = [];
      for (const [path, content] of Object.entries(files)) {
        const r = await s.put(Readable.from([Buffer.from(content)]));
        out.push({ path, digest: r.digest, size: r.size });
      }
      sources.set(`${projectId}|${runId}|${dir}`, out);
      return out;
    };
    const resolver: ModelSourceResolver = (projectId, _source, parsed) => {
      const files = sources.get(`${projectId}|${parsed.runId}|${parsed.path}`);
      return Promise.resolve(files === undefined ? undefined : { files });
    };

    const call = async (method: string, url: string, o: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Reply> => {
      const headers: Record<string, string> = { authorization: `Bearer ${o.token ?? admin}`, ...(o.headers ?? {}) };
      const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      if (payload !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
      const r = await platform.app.fastify.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
      let body: unknown = r.body;
      try {
        body = r.body === '' ? undefined : JSON.parse(r.body);
      } catch {
        // text
      }
      return { status: r.statusCode, body, text: r.body };
    };
    const api = '/api/2.0/mlflow';
    const ml = (method: string, path: string, body: Json, token = saA): Promise<Reply> => {
      if (method === 'GET') {
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(body)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
        return call('GET', `${api}/${path}?${qs.toString()}`, { token });
      }
      return call(method, `${api}/${path}`, { token, body });
    };
    const ok = (r: Reply): Json => {
      assert.equal(r.status, 200, r.text);
      return r.body as Json;
    };
    const err = (r: Reply, status: number, code: string): string => {
      assert.equal(r.status, status, r.text);
      assert.equal(r.body['error_code'], code, r.text);
      return r.body['message'] as string;
    };
    const serviceAccount = async (name: string, project: string, role: string): Promise<string> => {
      assert.equal((await call('POST', '/api/v1/service-accounts', { body: { name } })).status, 201);
      assert.equal((await call('PUT', `/api/v1/projects/${project}/members/${name}`, { body: { role } })).status, 200);
      const t = await call('POST', '/api/v1/tokens', { body: { name: `${name}-t`, principal: name } });
      assert.equal(t.status, 201, t.text);
      return t.body.token as string;
    };
    const newRun = async (token = saA, extra: Json = {}): Promise<{ runId: string; experimentId: string }> => {
      const run = ok(await ml('POST', 'runs/create', { experiment_id: '0', start_time: 1_700_000_000_000, ...extra }, token))['run']['info'];
      return { runId: run['run_id'], experimentId: run['experiment_id'] };
    };
    const auditSize = (): Promise<number> => platform.audit.size();
    const versionCount = async (): Promise<number> => Number((await platform.store.db.selectFrom('model_versions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    before(async () => {
      db = await freshDatabase(kind);
      home = mkdtempSync(join(tmpdir(), 'strata-registry-'));
      platform = await createPlatform({ home, ...(kind === 'postgres' ? { databaseUrl: db.url } : {}), logger: false, controllers: false, env: {}, resolveModelSource: resolver });
      admin = platform.bootstrapToken as string;
      assert.equal((await call('POST', '/api/v1/projects', { body: { name: 'p2', team: 'default' } })).status, 201);
      saA = await serviceAccount('sa-a', 'default', 'editor');
      saB = await serviceAccount('sa-b', 'p2', 'editor');
      viewer = await serviceAccount('sa-view', 'default', 'viewer');
      projectA = (await platform.access.projectResource('default')).projectId;
      projectB = (await platform.access.projectResource('p2')).projectId;
    });
    after(async () => {
      await platform.close();
      await db.drop();
      rmSync(home, { recursive: true, force: true });
    });

    test('registered models: create, duplicate, get, update, rename, tags, search with paging, delete', async () => {
      const created = ok(await ml('POST', 'registered-models/create', { name: 'rm-a', description: 'first', tags: [{ key: 'team', value: 'risk' }] }))['registered_model'];
      assert.deepEqual(Object.keys(created).sort(), ['creation_timestamp', 'description', 'last_updated_timestamp', 'name', 'tags']);
      assert.equal(typeof created['creation_timestamp'], 'number');
      assert.match(err(await ml('POST', 'registered-models/create', { name: 'rm-a' }), 400, 'RESOURCE_ALREADY_EXISTS'), /already exists/);
      const got = ok(await ml('GET', 'registered-models/get', { name: 'rm-a' }))['registered_model'];
      assert.deepEqual(got['tags'], [{ key: 'team', value: 'risk' }]);
      assert.equal(ok(await ml('PATCH', 'registered-models/update', { name: 'rm-a', description: 'second' }))['registered_model']['description'], 'second');
      ok(await ml('POST', 'registered-models/set-tag', { name: 'rm-a', key: 'stage', value: 'exp' }));
      ok(await ml('DELETE', 'registered-models/delete-tag', { name: 'rm-a', key: 'team' }));
      err(await ml('DELETE', 'registered-models/delete-tag', { name: 'rm-a', key: 'team' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      const renamed = ok(await ml('POST', 'registered-models/rename', { name: 'rm-a', new_name: 'rm-b' }))['registered_model'];
      assert.equal(renamed['name'], 'rm-b');
      err(await ml('GET', 'registered-models/get', { name: 'rm-a' }), 404, 'RESOURCE_DOES_NOT_EXIST');

      for (const n of ['srch-1', 'srch-2', 'srch-3']) ok(await ml('POST', 'registered-models/create', { name: n, tags: [{ key: 'kind', value: n === 'srch-2' ? 'odd' : 'even' }] }));
      const page1 = ok(await ml('GET', 'registered-models/search', { filter: "name LIKE 'srch-%'", max_results: 2 }));
      assert.deepEqual(page1['registered_models'].map((m: Json) => m['name']), ['srch-1', 'srch-2']);
      assert.equal(typeof page1['next_page_token'], 'string');
      const page2 = ok(await ml('GET', 'registered-models/search', { filter: "name LIKE 'srch-%'", max_results: 2, page_token: page1['next_page_token'] }));
      assert.deepEqual(page2['registered_models'].map((m: Json) => m['name']), ['srch-3']);
      assert.equal(page2['next_page_token'], undefined);
      const byTag = ok(await ml('GET', 'registered-models/search', { filter: "tags.kind = 'odd'" }));
      assert.deepEqual(byTag['registered_models'].map((m: Json) => m['name']), ['srch-2']);
      const desc = ok(await ml('GET', 'registered-models/search', { filter: "name ILIKE 'SRCH%'", order_by: 'name DESC' }));
      assert.deepEqual(desc['registered_models'].map((m: Json) => m['name']), ['srch-3', 'srch-2', 'srch-1']);
      assert.match(err(await ml('GET', 'registered-models/search', { filter: "name = 'a' OR name = 'b'" }), 400, 'INVALID_PARAMETER_VALUE'), /OR/);
      assert.match(err(await ml('GET', 'registered-models/search', { filter: "run_id = 'x'" }), 400, 'INVALID_PARAMETER_VALUE'), /Invalid attribute key/);
      err(await ml('GET', 'registered-models/search', { page_token: 'not a token!' }), 400, 'INVALID_PARAMETER_VALUE');

      ok(await ml('DELETE', 'registered-models/delete', { name: 'srch-3' }));
      err(await ml('GET', 'registered-models/get', { name: 'srch-3' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    test('model versions: READY at once, pinned, stages, aliases, latest versions, search, download URI, tags, delete', async () => {
      const { runId, experimentId } = await newRun();
      ok(await ml('POST', 'runs/log-batch', { run_id: runId, tags: [{ key: 'mlflow.source.git.commit', value: 'abc123' }], metrics: [{ key: 'acc', value: 0.8, timestamp: 1, step: 0 }] }));
      await putModel(projectA, runId, 'model', { MLmodel: 'flavors: {}\n', 'model.pkl': randomBytes(64) });
      ok(await ml('POST', 'registered-models/create', { name: 'clf' }));
      const v1 = ok(await ml('POST', 'model-versions/create', { name: 'clf', source: `runs:/${runId}/model`, run_id: runId, tags: [{ key: 'k', value: 'v' }] }))['model_version'];
      assert.equal(v1['version'], '1');
      assert.equal(v1['status'], 'READY');
      assert.equal(v1['current_stage'], 'None');
      assert.equal(v1['run_id'], runId);
      assert.equal(v1['source'], `runs:/${runId}/model`);
      assert.deepEqual(v1['tags'], [{ key: 'k', value: 'v' }]);
      // The MLflow client's form of the same source.
      const v2 = ok(await ml('POST', 'model-versions/create', { name: 'clf', source: `mlflow-artifacts:/${experimentId}/${runId}/artifacts/model` }))['model_version'];
      assert.equal(v2['version'], '2');
      assert.equal(v2['run_id'], runId);
      const native1 = (await call('GET', '/api/v1/projects/default/models/clf/versions/1')).body;
      const native2 = (await call('GET', '/api/v1/projects/default/models/clf/versions/2')).body;
      assert.match(native1.manifestDigest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(native1.manifestDigest, native2.manifestDigest, 'same files, same manifest digest');

      // get-download-uri: the run's artifact location.
      assert.equal(ok(await ml('GET', 'model-versions/get-download-uri', { name: 'clf', version: '1' }))['artifact_uri'], `mlflow-artifacts:/${experimentId}/${runId}/artifacts/model`);

      // Stages: Staging, then Production with archive_existing_versions.
      assert.equal(ok(await ml('POST', 'model-versions/transition-stage', { name: 'clf', version: '1', stage: 'production', archive_existing_versions: false }))['model_version']['current_stage'], 'Production');
      ok(await ml('POST', 'model-versions/transition-stage', { name: 'clf', version: '2', stage: 'Production', archive_existing_versions: true }));
      assert.equal(ok(await ml('GET', 'model-versions/get', { name: 'clf', version: '1' }))['model_version']['current_stage'], 'Archived');
      err(await ml('POST', 'model-versions/transition-stage', { name: 'clf', version: '1', stage: 'Archived', archive_existing_versions: true }), 400, 'INVALID_PARAMETER_VALUE');
      err(await ml('POST', 'model-versions/transition-stage', { name: 'clf', version: '1', stage: 'Shipping' }), 400, 'INVALID_PARAMETER_VALUE');
      const latest = ok(await ml('POST', 'registered-models/get-latest-versions', { name: 'clf' }))['model_versions'];
      assert.deepEqual(latest.map((v: Json) => [v['version'], v['current_stage']]), [['1', 'Archived'], ['2', 'Production']]);
      const latestProd = ok(await ml('GET', 'registered-models/get-latest-versions', { name: 'clf', stages: ['Production'] }))['model_versions'];
      assert.deepEqual(latestProd.map((v: Json) => v['version']), ['2']);

      // Aliases.
      ok(await ml('POST', 'registered-models/alias', { name: 'clf', alias: 'champion', version: '2' }));
      ok(await ml('POST', 'registered-models/alias', { name: 'clf', alias: 'challenger', version: '1' }));
      assert.equal(ok(await ml('GET', 'registered-models/alias', { name: 'clf', alias: 'champion' }))['model_version']['version'], '2');
      const model = ok(await ml('GET', 'registered-models/get', { name: 'clf' }))['registered_model'];
      assert.deepEqual(model['aliases'], [{ alias: 'challenger', version: '1' }, { alias: 'champion', version: '2' }]);
      assert.deepEqual(model['latest_versions'].map((v: Json) => v['version']), ['1', '2']);
      assert.deepEqual(ok(await ml('GET', 'model-versions/get', { name: 'clf', version: '2' }))['model_version']['aliases'], ['champion']);
      err(await ml('POST', 'registered-models/alias', { name: 'clf', alias: 'latest', version: '1' }), 400, 'INVALID_PARAMETER_VALUE');
      err(await ml('POST', 'registered-models/alias', { name: 'clf', alias: 'v3', version: '1' }), 400, 'INVALID_PARAMETER_VALUE');
      err(await ml('POST', 'registered-models/alias', { name: 'clf', alias: 'x', version: '9' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      ok(await ml('DELETE', 'registered-models/alias', { name: 'clf', alias: 'challenger' }));
      err(await ml('GET', 'registered-models/alias', { name: 'clf', alias: 'challenger' }), 404, 'RESOURCE_DOES_NOT_EXIST');

      // Version tags and description.
      ok(await ml('POST', 'model-versions/set-tag', { name: 'clf', version: '2', key: 'validated', value: 'yes' }));
      assert.equal(ok(await ml('PATCH', 'model-versions/update', { name: 'clf', version: '2', description: 'good' }))['model_version']['description'], 'good');
      ok(await ml('DELETE', 'model-versions/delete-tag', { name: 'clf', version: '2', key: 'validated' }));

      // Search versions.
      const found = ok(await ml('GET', 'model-versions/search', { filter: `name = 'clf' AND run_id IN ('${runId}', 'other')` }))['model_versions'];
      assert.deepEqual(found.map((v: Json) => v['version']), ['2', '1']);
      const gt = ok(await ml('GET', 'model-versions/search', { filter: "name = 'clf' AND version_number > 1" }))['model_versions'];
      assert.deepEqual(gt.map((v: Json) => v['version']), ['2']);
      const bySource = ok(await ml('GET', 'model-versions/search', { filter: "source_path LIKE 'mlflow-artifacts:%'", order_by: ['version_number ASC'] }))['model_versions'];
      assert.deepEqual(bySource.map((v: Json) => v['version']), ['2']);
      const byTag = ok(await ml('GET', 'model-versions/search', { filter: "tags.k = 'v'" }))['model_versions'];
      assert.deepEqual(byTag.map((v: Json) => `${v['name']}/${v['version']}`), ['clf/1']);

      // Delete a version: its number is not reused.
      ok(await ml('DELETE', 'model-versions/delete', { name: 'clf', version: '1' }));
      err(await ml('GET', 'model-versions/get', { name: 'clf', version: '1' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal(ok(await ml('POST', 'model-versions/create', { name: 'clf', source: `runs:/${runId}/model` }))['model_version']['version'], '3');
      // Versions of a missing model.
      err(await ml('POST', 'model-versions/create', { name: 'nope', source: `runs:/${runId}/model` }), 404, 'RESOURCE_DOES_NOT_EXIST');

      // Audited registry changes.
      const actions = (await platform.audit.entries(0, 100_000, { project: projectA })).map((e) => e.action);
      for (const a of ['model.create', 'model.version.create', 'model.version.stage', 'model.alias.set', 'model.alias.delete', 'model.version.delete', 'model.version.tag.set']) assert.ok(actions.includes(a), a);
    });

    test('immutability: a READY version keeps its files when the run changes; the database refuses edits', async () => {
      const { runId } = await newRun();
      const first = await putModel(projectA, runId, 'm', { 'w.bin': 'weights-1' });
      ok(await ml('POST', 'registered-models/create', { name: 'imm' }));
      ok(await ml('POST', 'model-versions/create', { name: 'imm', source: `runs:/${runId}/m` }));
      await putModel(projectA, runId, 'm', { 'w.bin': 'weights-2-different' });
      ok(await ml('POST', 'model-versions/create', { name: 'imm', source: `runs:/${runId}/m` }));
      const f1 = (await call('GET', '/api/v1/projects/default/models/imm/versions/1/files')).body;
      const f2 = (await call('GET', '/api/v1/projects/default/models/imm/versions/2/files')).body;
      assert.deepEqual(f1.files, first.map((f) => ({ path: f.path, digest: f.digest, size: f.size })));
      assert.notEqual(f1.manifestDigest, f2.manifestDigest);
      const dl = await call('GET', '/api/v1/projects/default/models/imm/versions/1/files/w.bin');
      assert.equal(dl.status, 200);
      assert.equal(dl.text, 'weights-1');
      // No API can change the source; the schema refuses it, and the database refuses hand-written SQL.
      assert.equal((await call('PATCH', '/api/v1/projects/default/models/imm/versions/1', { body: { description: 'x', source: 'runs:/x/y' } })).status, 400);
      await assert.rejects(platform.store.db.updateTable('model_version_files').set({ digest: `sha256:${'0'.repeat(64)}` }).where('path', '=', 'w.bin').execute(), /immutable/);
      await assert.rejects(platform.store.db.updateTable('model_versions').set({ source: 'runs:/evil/x' }).where('version', '=', 1).execute(), /immutable/);
      await assert.rejects(platform.store.db.updateTable('model_versions').set({ provenance: '{}' }).where('version', '=', 1).execute(), /immutable/);
    });

    test('provenance: the record verifies with its inclusion proof; a changed stored file and a forged record are detected', async () => {
      const { runId } = await newRun(saA, { tags: [{ key: 'mlflow.source.git.commit', value: 'deadbeef' }] });
      ok(await ml('POST', 'runs/log-batch', { run_id: runId, metrics: [{ key: 'auc', value: 0.91, timestamp: 1, step: 3 }, { key: 'loss', value: 'NaN', timestamp: 1, step: 3 }] }));
      ok(await ml('POST', 'runs/log-inputs', { run_id: runId, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset: { name: 'credit', digest: 'd1g3st', source_type: 'local', source: 'file.csv' } }] }));
      const files = await putModel(projectA, runId, 'model', { MLmodel: 'x', 'weights.bin': randomBytes(4096), 'sub/dir/extra.json': '{}' });
      ok(await ml('POST', 'registered-models/create', { name: 'prov' }));
      ok(await ml('POST', 'model-versions/create', { name: 'prov', source: `runs:/${runId}/model` }));

      const bundleReply = await call('GET', '/api/v1/projects/default/models/prov/versions/1/provenance', { token: viewer });
      assert.equal(bundleReply.status, 200, bundleReply.text);
      const bundle = bundleReply.body as ProvenanceBundle;
      assert.equal(bundle.record.codeRevision, 'deadbeef');
      assert.equal(bundle.record.run?.id, runId);
      assert.deepEqual(bundle.record.datasets, [{ name: 'credit', digest: 'd1g3st', sourceType: 'local', source: 'file.csv' }]);
      assert.deepEqual(bundle.record.metrics, [{ key: 'auc', value: 0.91, step: 3 }, { key: 'loss', value: 'NaN', step: 3 }]);
      assert.equal(bundle.files.length, 3);
      assert.equal(bundle.entry.action, 'model.version.create');

      // Independent verification (the CLI's code path) over a listening server.
      const url = await platform.app.fastify.listen({ port: 0, host: '127.0.0.1' });
      const client = new StrataClient({ server: url, token: viewer });
      const good = await verifyModelVersion(client, 'default', 'prov', '1', platform.audit.publicKey);
      assert.equal(good.verdict.ok, true, JSON.stringify(good.verdict));
      const server = await call('GET', '/api/v1/projects/default/models/prov/versions/1/verify');
      assert.equal(server.body.ok, true, server.text);

      // A forged record (in transit or in a copy) fails against the audit entry's afterHash.
      const rehashed = new Map(bundle.files.map((f) => [f.path, { digest: f.digest, size: f.size }]));
      const forged = { ...bundle, record: { ...bundle.record, codeRevision: 'cafebabe' } };
      const v1 = verifyProvenance(forged, platform.audit.publicKey, rehashed);
      assert.equal(v1.ok ? 'ok' : v1.failed, 'record');
      const forgedEntry = { ...bundle, entry: { ...bundle.entry, details: { ...bundle.entry.details, runId: 'someone-else' } } };
      const v2 = verifyProvenance(forgedEntry, platform.audit.publicKey, rehashed);
      assert.equal(v2.ok ? 'ok' : v2.failed, 'entry');
      const forgedList = { ...bundle, files: bundle.files.map((f, i) => (i === 0 ? { ...f, digest: `sha256:${'1'.repeat(64)}` as Digest } : f)) };
      const v3 = verifyProvenance(forgedList, platform.audit.publicKey, rehashed);
      assert.equal(v3.ok ? 'ok' : v3.failed, 'manifest');
      const otherKey = (await import('../src/access/audit/index.ts')).generateSigningKey().publicKey;
      const v4 = verifyProvenance(bundle, otherKey, rehashed);
      assert.equal(v4.ok ? 'ok' : v4.failed, 'checkpoint');

      // Tamper with the stored weights on disk: re-hashing detects it.
      const weights = files.find((f) => f.path === 'weights.bin') as ManifestFile;
      const objectPath = (await blobs(projectA)).objectPath(weights.digest);
      chmodSync(objectPath, 0o644);
      writeFileSync(objectPath, randomBytes(4096));
      const bad = await verifyModelVersion(client, 'default', 'prov', '1', platform.audit.publicKey);
      assert.equal(bad.verdict.ok, false);
      assert.equal(bad.verdict.ok ? '' : bad.verdict.failed, 'files');
      assert.match(bad.verdict.ok ? '' : bad.verdict.reason, /weights\.bin changed/);
      const serverBad = await call('GET', '/api/v1/projects/default/models/prov/versions/1/verify');
      assert.equal(serverBad.body.ok, false);
      assert.equal(serverBad.body.failed, 'files');
    });

    test('promotion gates: refused and allowed, both audited; stages cannot bypass; only admins set gates', async () => {
      // Only project admins define gates.
      assert.equal((await call('PUT', '/api/v1/projects/default/promotion-gates/production', { token: saA, body: { requireModelCard: true } })).status, 403);
      const g = await call('PUT', '/api/v1/projects/default/promotion-gates/production', { body: { requireModelCard: true, metrics: [{ key: 'accuracy', op: '>=', threshold: 0.9 }] } });
      assert.equal(g.status, 200, g.text);
      assert.equal((await call('PUT', '/api/v1/projects/default/promotion-gates/staging', { body: {} })).status, 400);

      const weak = await newRun();
      ok(await ml('POST', 'runs/log-metric', { run_id: weak.runId, key: 'accuracy', value: 0.85, timestamp: 1 }));
      const strong = await newRun();
      ok(await ml('POST', 'runs/log-metric', { run_id: strong.runId, key: 'accuracy', value: 0.95, timestamp: 1 }));
      await putModel(projectA, weak.runId, 'model', { w: 'weak' });
      await putModel(projectA, strong.runId, 'model', { w: 'strong' });
      ok(await ml('POST', 'registered-models/create', { name: 'gated' }));
      ok(await ml('POST', 'model-versions/create', { name: 'gated', source: `runs:/${weak.runId}/model` }));
      ok(await ml('POST', 'model-versions/create', { name: 'gated', source: `runs:/${strong.runId}/model` }));

      const before = await auditSize();
      const refused = err(await ml('POST', 'registered-models/alias', { name: 'gated', alias: 'production', version: '1' }), 403, 'PERMISSION_DENIED');
      assert.match(refused, /model card incomplete/);
      assert.match(refused, /accuracy = 0\.85 does not meet >= 0\.9/);
      assert.equal(await auditSize(), before + 1, 'the refusal is audited, nothing else is written');
      const [denied] = await platform.audit.entries(before, 1);
      assert.equal(denied?.action, 'model.promotion');
      assert.equal(denied?.outcome, 'denied');
      err(await ml('GET', 'registered-models/alias', { name: 'gated', alias: 'production' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      // The stage of the same name is gated too.
      err(await ml('POST', 'model-versions/transition-stage', { name: 'gated', version: '1', stage: 'Production' }), 403, 'PERMISSION_DENIED');

      // Version 2 meets the metric but has no card yet.
      const check = (await call('GET', '/api/v1/projects/default/models/gated/versions/2/gates/production')).body;
      assert.equal(check.allowed, false);
      assert.deepEqual(check.checks.map((c: Json) => c.ok), [false, true]);
      const card = { intendedUse: 'credit scoring', data: 'credit-2025', metrics: { accuracy: 0.95 }, limitations: 'not for minors', fairness: { summary: 'equal opportunity within 2 points', groups: [{ group: 'age<30', metrics: { tpr: 0.9 } }] } };
      assert.equal((await call('PUT', '/api/v1/projects/default/models/gated/versions/2/card', { body: { ...card, extra: 1 } })).status, 400);
      assert.equal((await call('PUT', '/api/v1/projects/default/models/gated/versions/2/card', { body: { intendedUse: 'x' } })).status, 400);
      const put = await call('PUT', '/api/v1/projects/default/models/gated/versions/2/card', { token: saA, body: card });
      assert.equal(put.status, 200, put.text);
      assert.equal((await call('GET', '/api/v1/projects/default/models/gated/versions/2/card', { token: viewer })).body.intendedUse, 'credit scoring');

      const mark = await auditSize();
      ok(await ml('POST', 'registered-models/alias', { name: 'gated', alias: 'production', version: '2' }));
      const entries = await platform.audit.entries(mark, 10);
      assert.deepEqual(entries.map((e) => [e.action, e.outcome]), [['model.promotion', 'success'], ['model.alias.set', 'success']]);
      assert.equal(ok(await ml('GET', 'registered-models/alias', { name: 'gated', alias: 'production' }))['model_version']['version'], '2');
      ok(await ml('POST', 'model-versions/transition-stage', { name: 'gated', version: '2', stage: 'Production' }));
      // Ungated aliases are free.
      ok(await ml('POST', 'registered-models/alias', { name: 'gated', alias: 'challenger', version: '1' }));
      assert.deepEqual((await call('GET', '/api/v1/projects/default/promotion-gates', { token: viewer })).body.gates.map((x: Json) => x.alias), ['production']);
    });

    test('lineage both ways: dataset → run → model version', async () => {
      const { runId } = await newRun(saA, { tags: [{ key: 'mlflow.source.git.commit', value: 'f00d' }] });
      ok(await ml('POST', 'runs/log-inputs', { run_id: runId, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: { name: 'houses', digest: 'hx42', source_type: 'local', source: 'h.csv' } }] }));
      await putModel(projectA, runId, 'model', { w: 'lineage' });
      ok(await ml('POST', 'registered-models/create', { name: 'lin' }));
      ok(await ml('POST', 'model-versions/create', { name: 'lin', source: `runs:/${runId}/model` }));
      ok(await ml('POST', 'registered-models/alias', { name: 'lin', alias: 'champion', version: '1' }));

      const up = await call('GET', '/api/v1/projects/default/lineage/model-versions/lin/1', { token: viewer });
      assert.equal(up.status, 200, up.text);
      assert.equal(up.body.run.id, runId);
      assert.equal(up.body.run.codeRevision, 'f00d');
      assert.deepEqual(up.body.datasets, [{ name: 'houses', digest: 'hx42', sourceType: 'local', source: 'h.csv', context: 'training' }]);

      const run = (await call('GET', `/api/v1/projects/default/lineage/runs/${runId}`, { token: viewer })).body;
      assert.deepEqual(run.modelVersions.map((v: Json) => [v.name, v.version, v.aliases]), [['lin', 1, ['champion']]]);
      assert.equal(run.datasets[0].digest, 'hx42');

      const down = await call('GET', '/api/v1/projects/default/lineage/datasets/hx42', { token: viewer });
      assert.equal(down.status, 200, down.text);
      assert.deepEqual(down.body.runs.map((r: Json) => [r.id, r.context]), [[runId, 'training']]);
      assert.deepEqual(down.body.modelVersions.map((v: Json) => `${v.name}/${v.version}`), ['lin/1']);
      assert.equal((await call('GET', '/api/v1/projects/default/lineage/datasets/nothing-here', { token: viewer })).status, 404);
      assert.equal((await call('GET', '/api/v1/projects/p2/lineage/datasets/hx42', { token: saB })).status, 404, 'another project sees nothing');
    });

    test('tenancy: another project\'s models, versions, runs and files answer 404', async () => {
      const { runId } = await newRun();
      await putModel(projectA, runId, 'model', { w: 'tenant-a' });
      ok(await ml('POST', 'registered-models/create', { name: 'secret-model' }));
      ok(await ml('POST', 'model-versions/create', { name: 'secret-model', source: `runs:/${runId}/model` }));
      err(await ml('GET', 'registered-models/get', { name: 'secret-model' }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      err(await ml('GET', 'model-versions/get', { name: 'secret-model', version: '1' }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.deepEqual(ok(await ml('GET', 'registered-models/search', { filter: "name = 'secret-model'" }, saB)), {});
      // B cannot register A's run or reuse A's blobs.
      ok(await ml('POST', 'registered-models/create', { name: 'thief' }, saB));
      sources.set(`${projectB}|${runId}|model`, sources.get(`${projectA}|${runId}|model`) ?? []);
      err(await ml('POST', 'model-versions/create', { name: 'thief', source: `runs:/${runId}/model` }, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      // The same name in B is a different model.
      ok(await ml('POST', 'registered-models/create', { name: 'secret-model' }, saB));
      // Native routes: B's token on A's project is hidden.
      assert.equal((await call('GET', '/api/v1/projects/default/models/secret-model', { token: saB })).status, 404);
      assert.equal((await call('GET', '/api/v1/projects/default/models/secret-model/versions/1/files/w', { token: saB })).status, 404);
      assert.equal((await call('GET', '/api/v1/projects/default/models/secret-model/versions/1/provenance', { token: saB })).status, 404);
      assert.equal((await call('GET', '/api/v1/projects/p2/models/secret-model/versions/1', { token: saB })).status, 404);
      // Viewers read but do not write.
      ok(await ml('GET', 'registered-models/get', { name: 'secret-model' }, viewer));
      err(await ml('POST', 'registered-models/create', { name: 'by-viewer' }, viewer), 403, 'PERMISSION_DENIED');
      // The admin (no single project) must say which project.
      err(await ml('GET', 'registered-models/get', { name: 'secret-model' }, admin), 400, 'INVALID_PARAMETER_VALUE');
      ok(await call('GET', `${api}/registered-models/get?name=secret-model`, { headers: { 'x-strata-project': 'default' } }));
    });

    test('bad input: names, versions and sources (traversal, other schemes, CVE vectors) → 400, nothing written', async () => {
      const { runId, experimentId } = await newRun();
      await putModel(projectA, runId, 'model', { w: 'bad-input' });
      ok(await ml('POST', 'registered-models/create', { name: 'good' }));
      const mark = await auditSize();
      const versions = await versionCount();
      for (const name of ['', 'a/b', '..', 'a..b', '%2Dx', 'x%2D', ' lead', 'tab\tname', 'ümlaut', 'a'.repeat(201), '-dash']) {
        err(await ml('POST', 'registered-models/create', { name }), 400, 'INVALID_PARAMETER_VALUE');
      }
      for (const version of ['0', '-1', '1.5', 'abc', '1e3', '99999999999']) err(await ml('GET', 'model-versions/get', { name: 'good', version }), 400, 'INVALID_PARAMETER_VALUE');
      const badSources = [
        'file:///',
        'file:///etc/passwd',
        '/etc/passwd',
        '//proc/self/root',
        'etc/passwd',
        'http://host:9000/models/../../../',
        'https://host/api/2.0/mlflow-artifacts/artifacts/../../../',
        's3a://b/x/../../../',
        'ftp://host/../../../',
        'mlflow-artifacts://host:9000/models/../../../',
        `mlflow-artifacts:/${experimentId}/${runId}/artifacts/../../etc`,
        `runs:/${runId}/../other`,
        `runs:/${runId}/model/..`,
        `runs:/${runId}/%2e%2e/%2e%2e/etc`,
        `runs:/${runId}/%252e%252e%252fetc`,
        `runs:/${runId}/model\\..\\..\\x`,
        `runs:/${runId}/model#/../../etc`,
        `runs:/${runId}/model;..%2F..%2Fetc`,
        `runs:/${runId}/model?x=1`,
        `runs:/${runId}/model%00.jpg`,
        `runs:/${runId}//etc/passwd`,
        'runs:/../etc/passwd',
        'models:/good@champion',
        'models:/m-1234abcd',
        `runs:/${runId}/missing-dir`,
      ];
      for (const source of badSources) {
        const r = await ml('POST', 'model-versions/create', { name: 'good', source });
        err(r, 400, 'INVALID_PARAMETER_VALUE');
      }
      err(await ml('POST', 'model-versions/create', { name: 'good', source: `runs:/${runId}/model`, run_id: 'different-run' }), 400, 'INVALID_PARAMETER_VALUE');
      // A manifest naming a blob the project's store does not hold is refused too.
      sources.set(`${projectA}|${runId}|ghost`, [{ path: 'w', digest: `sha256:${'a'.repeat(64)}` as Digest, size: 1 }]);
      err(await ml('POST', 'model-versions/create', { name: 'good', source: `runs:/${runId}/ghost` }), 400, 'INVALID_PARAMETER_VALUE');
      sources.set(`${projectA}|${runId}|evil`, [{ path: '../escape', digest: (sources.get(`${projectA}|${runId}|model`) as ManifestFile[])[0]?.digest as Digest, size: 9 }]);
      err(await ml('POST', 'model-versions/create', { name: 'good', source: `runs:/${runId}/evil` }), 400, 'INVALID_PARAMETER_VALUE');
      // Content-Type rule (CSRF guard).
      err(await call('POST', `${api}/registered-models/create`, { token: saA, raw: JSON.stringify({ name: 'csrf' }), headers: { 'content-type': 'text/plain' } }), 400, 'INVALID_PARAMETER_VALUE');
      assert.equal(await auditSize(), mark, 'nothing was audited');
      assert.equal(await versionCount(), versions, 'no version was written');
      // Native route guards: path traversal in file downloads and bad names.
      ok(await ml('POST', 'model-versions/create', { name: 'good', source: `runs:/${runId}/model` }));
      // (A URL whose dot segments the HTTP layer already resolves may not reach the route at all: 404.)
      for (const p of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e/x', 'sub/%2e%2e/%2e%2e/%2e%2e/w', '..%5C..%5Cw']) {
        const r = await call('GET', `/api/v1/projects/default/models/good/versions/1/files/${p}`);
        assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
        assert.ok(!r.text.includes('bad-input'), p);
      }
      assert.equal((await call('GET', '/api/v1/projects/default/models/good/versions/1/files/..%2F..%2Fetc%2Fpasswd')).status, 400);
      assert.equal((await call('GET', '/api/v1/projects/default/models/good/versions/1/files/w')).text, 'bad-input');
      assert.equal((await call('POST', '/api/v1/projects/default/models', { body: { name: 'a%2Fb' } })).status, 400);
      assert.equal((await call('POST', '/api/v1/projects/default/models/good/versions', { body: { source: 'file:///etc' } })).status, 400);
    });
  });
}
