// Run artifacts through MLflow's artifact proxy (/api/2.0/mlflow-artifacts/artifacts/...), its
// ListArtifacts (/api/2.0/mlflow/artifacts/list) and the Strata API (/api/v1/projects/{p}/runs/{r}/
// artifacts), on SQLite and PostgreSQL: the upload/download/list/delete round trip the MLflow client
// does (URLs derived from the run's artifact_uri the way the client derives them, files with the
// content types it guesses), Range reads, deduplication in the project's blob store, a 64 MiB upload
// and download over a real socket with flat memory, tenancy, audit (deletes only), and every bad
// path of the MLflow CVEs (research note §6) and of security-reliability.md §2.3 — each refused
// with 400 in MLflow's error shape, with nothing written.
/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- wire JSON is untyped; the assertions are what check its shape */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type MLflowModule from 'mlflow';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openFilesystemBlobStore } from '../src/blobs/index.ts';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { Reply, TestPlatform } from './support/platform.ts';

// The npm `mlflow` package (CommonJS with `export default` declarations), as test/mlflow-client.test.ts loads it.
type MLflowClient = InstanceType<typeof MLflowModule.default>;
const MLflow = createRequire(import.meta.url)('mlflow') as new (args: { endpoint: string; headers?: Record<string, string> }) => MLflowClient;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON in assertions

interface Raw {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  readonly json: Json | undefined;
}

/** Every bad artifact path to try: MLflow's `test_validate_path_is_safe_bad` and CVE inputs (§6), then security-reliability §2.3. */
const BAD_PATHS: readonly string[] = [
  // tests/utils/test_uri.py::test_validate_path_is_safe_bad
  '/path',
  '../path',
  './../path',
  'path/../to/file',
  'file://a#/..//tmp',
  'file://a%23/..//tmp/',
  '/etc/passwd%00.jpg',
  '/file://etc/passwd',
  '%2E%2E%2Fpath',
  '%2E%2E%2F%2E%2E%2Fpath',
  '%2%0952e%2%0952e/%2%0A52e%2%0A52e/path',
  '..\\path',
  'C:path',
  '\\\\?\\C:\\Windows\\x',
  '\\\\host\\share\\x',
  // CVE-2023-30172 (get-artifact), CVE-2023-6831 / CVE-2024-1560 (DELETE, double encoding), CVE-2024-3848 ('?')
  '../../../../../../etc/passwd',
  '/etc/passwd',
  '%252e%252e%252f',
  '%252e%252e%252fetc%252fpasswd',
  'a?/a',
  // security-reliability.md §2.3
  '../',
  '..\\',
  '....//',
  '..%2f',
  '%2e%2e%2f',
  '%2e%2e/',
  '..%c0%af',
  '．．／x',
  'x%00',
  'x\u0000y',
  './../x',
  '//proc/self/root/etc/passwd',
  'C:\\Windows\\win.ini',
  'file:///etc/passwd',
  'file://localhost/etc/passwd',
  'http:///#/../../etc/',
  's3://bucket/../../other-tenant/',
  'gopher://x',
  'dict://x',
  'FILE:x',
  'a#b',
  '.',
  'a/./b',
  'a//b',
  'a/',
];

/** Look-alikes that must still work (Hono's filepath tests, MLflow's accepted `dog%step%...`). */
const GOOD_PATHS: readonly string[] = ['foo..bar.txt', '..foo/bar', 'dog%step%100%timestamp%100', 'naïve résumé.txt', 'a b/c d.txt'];

for (const kind of databaseKinds) {
  describe(`MLflow artifacts on ${kind}`, () => {
    let tp: TestPlatform;
    let url: string;
    let saA: string; // editor on project default
    let saB: string; // editor on project p2
    let viewer: string; // viewer on project default
    let projectA: string;
    let projectB: string;
    const mlflow = '/api/2.0/mlflow';
    const proxy = '/api/2.0/mlflow-artifacts/artifacts';

    const call = async (method: string, path: string, o: { token?: string | null; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Raw> => {
      const token = o.token === undefined ? saA : o.token;
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (token !== null) headers['authorization'] = `Bearer ${token}`;
      const r = await tp.platform.app.fastify.inject({ method: method as 'GET', url: path, headers, ...(o.body === undefined ? {} : { payload: o.body }) });
      let json: Json | undefined;
      try {
        json = r.body === '' ? undefined : (JSON.parse(r.body) as Json);
      } catch {
        json = undefined;
      }
      return { status: r.statusCode, headers: r.headers as Raw['headers'], body: r.rawPayload, json };
    };
    /** A request over a real socket with the path sent byte for byte (inject would normalise '..'). */
    const http = (method: string, path: string, o: { token?: string | null; body?: Buffer | Iterable<Buffer>; headers?: Record<string, string>; onData?: (b: Buffer) => void } = {}): Promise<Raw> =>
      new Promise((resolve, reject) => {
        const u = new URL(url);
        const token = o.token === undefined ? saA : o.token;
        const headers: Record<string, string> = { ...(o.headers ?? {}), ...(token === null ? {} : { authorization: `Bearer ${token}` }) };
        const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (o.onData === undefined) chunks.push(c);
            else o.onData(c);
          });
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            let json: Json | undefined;
            try {
              json = body.length === 0 ? undefined : (JSON.parse(body.toString('utf8')) as Json);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        if (o.body === undefined) req.end();
        else if (Buffer.isBuffer(o.body)) req.end(o.body);
        else {
          // Written with backpressure, one chunk in flight at a time.
          const chunks = o.body;
          void (async () => {
            for (const c of chunks) if (!req.write(c)) await once(req, 'drain');
            req.end();
          })().catch(reject);
        }
      });
    const post = async (path: string, body: unknown, token = saA): Promise<Json> => {
      const r: Reply = await tp.call('POST', `${mlflow}/${path}`, { token, body });
      assert.equal(r.status, 200, r.text);
      return r.body as Json;
    };
    const mlflowErr = (r: Raw, status: number, code: string): string => {
      assert.equal(r.status, status, r.body.toString('utf8'));
      assert.equal(r.json?.['error_code'], code, r.body.toString('utf8'));
      assert.equal(typeof r.json?.['message'], 'string');
      return r.json?.['message'] as string;
    };
    const serviceAccount = (name: string, project: string, role: string): Promise<string> => tp.serviceAccount(name, project, role);
    /** A fresh run; returns its ids and the proxy URL path of its artifact root, derived from artifact_uri as the MLflow client does. */
    const newRun = async (token = saA): Promise<{ exp: string; run: string; root: string; uri: string }> => {
      const exp = (await post('experiments/create', { name: `e-${randomBytes(4).toString('hex')}` }, token))['experiment_id'] as string;
      const info = (await post('runs/create', { experiment_id: exp, start_time: 1_700_000_000_000 }, token))['run']['info'];
      const uri = info['artifact_uri'] as string;
      assert.equal(uri, `mlflow-artifacts:/${exp}/${info['run_id'] as string}/artifacts`);
      // mlflow.store.artifact.mlflow_artifacts_repo: mlflow-artifacts:/<p> → <tracking URI>/api/2.0/mlflow-artifacts/artifacts/<p>
      return { exp, run: info['run_id'] as string, root: `${proxy}/${uri.slice('mlflow-artifacts:/'.length)}`, uri };
    };
    /** The URL path of a file, each segment percent-encoded (as `requests` quotes a URL). */
    const fileUrl = (root: string, path: string): string => `${root}/${path.split('/').map(encodeURIComponent).join('/')}`;
    const rowCount = async (): Promise<number> => Number((await tp.platform.store.db.selectFrom('run_artifacts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    /** Objects in a project's blob store, and uploads in progress there. */
    const storeState = async (projectId: string): Promise<{ blobs: number; uploads: number }> => {
      const root = join(tp.platform.paths.blobs, 'projects', projectId);
      const store = await openFilesystemBlobStore({ root });
      let blobs = 0;
      for await (const b of store.list()) {
        assert.ok(b.size >= 0);
        blobs += 1;
      }
      return { blobs, uploads: readdirSync(join(root, 'uploads')).length };
    };

    before(async () => {
      tp = await startTestPlatform(kind);
      url = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      assert.equal((await tp.call('POST', '/api/v1/projects', { body: { name: 'p2', team: 'default' } })).status, 201);
      saA = await serviceAccount('sa-a', 'default', 'editor');
      saB = await serviceAccount('sa-b', 'p2', 'editor');
      viewer = await serviceAccount('sa-view', 'default', 'viewer');
      projectA = ((await tp.call('GET', '/api/v1/projects/default')).body as { id: string }).id;
      projectB = ((await tp.call('GET', '/api/v1/projects/p2')).body as { id: string }).id;
    });
    after(async () => {
      await tp.close();
    });

    test('round trip as the MLflow client does it: PUT with guessed content types, GET, list, artifacts/list, DELETE (audited; uploads are not)', async () => {
      const { run, root, uri } = await newRun();
      const files: Record<string, { type: string; data: Buffer }> = {
        'model/MLmodel': { type: 'text/plain', data: Buffer.from('artifact_path: model\nflavors: {}\n') },
        'model/conda.yaml': { type: 'application/x-yaml', data: Buffer.from('name: env\n') },
        'model/data/weights.bin': { type: 'application/octet-stream', data: randomBytes(70_000) },
        // A JSON file stays raw bytes: never parsed, never held to the 1 MB JSON body limit.
        'metrics.json': { type: 'application/json', data: Buffer.concat([Buffer.from('{"a": ['), Buffer.alloc(1_200_000, 0x31), Buffer.from(']}')]) },
        'notes.txt': { type: '', data: Buffer.from('no content type at all') },
      };
      for (const p of GOOD_PATHS) files[`odd/${p}`] = { type: 'text/plain', data: Buffer.from(`look-alike ${p}`) };
      const auditBefore = await tp.platform.audit.size();
      for (const [p, f] of Object.entries(files)) {
        const r = await call('PUT', fileUrl(root, p), { body: f.data, headers: f.type === '' ? {} : { 'content-type': f.type } });
        assert.equal(r.status, 200, `${p}: ${r.body.toString('utf8')}`);
        assert.deepEqual(r.json, {});
      }
      assert.equal(await tp.platform.audit.size(), auditBefore, 'artifact uploads are telemetry: not audited');
      for (const [p, f] of Object.entries(files)) {
        const r = await call('GET', fileUrl(root, p));
        assert.equal(r.status, 200, p);
        assert.ok(r.body.equals(f.data), `${p} comes back byte for byte`);
        assert.equal(r.headers['etag'], `"sha256:${createHash('sha256').update(f.data).digest('hex')}"`);
        assert.equal(r.headers['content-type'], 'application/octet-stream');
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
        assert.match(String(r.headers['content-disposition']), /^attachment; /);
      }
      // Over a real socket too, with the percent-encoding `requests` would send for a literal '%'.
      const pct = await http('GET', `${root}/odd/dog%25step%25100%25timestamp%25100`);
      assert.equal(pct.body.toString('utf8'), 'look-alike dog%step%100%timestamp%100');

      // The proxy's list: base names, is_dir, file_size only for files.
      const relRoot = uri.slice('mlflow-artifacts:/'.length);
      const top = await call('GET', `${proxy}?path=${encodeURIComponent(relRoot)}`);
      assert.equal(top.status, 200, top.body.toString('utf8'));
      assert.deepEqual(top.json?.['files'], [
        { path: 'metrics.json', is_dir: false, file_size: files['metrics.json']?.data.length },
        { path: 'model', is_dir: true },
        { path: 'notes.txt', is_dir: false, file_size: files['notes.txt']?.data.length },
        { path: 'odd', is_dir: true },
      ]);
      const model = await call('GET', `${proxy}?path=${encodeURIComponent(`${relRoot}/model`)}`);
      assert.deepEqual(model.json?.['files'], [
        { path: 'MLmodel', is_dir: false, file_size: files['model/MLmodel']?.data.length },
        { path: 'conda.yaml', is_dir: false, file_size: files['model/conda.yaml']?.data.length },
        { path: 'data', is_dir: true },
      ]);
      assert.deepEqual((await call('GET', `${proxy}?path=${encodeURIComponent(`${relRoot}/nothing-here`)}`)).json, {}, 'an empty directory lists as {}');
      assert.deepEqual((await call('GET', `${proxy}?path=${encodeURIComponent(`${relRoot}/notes.txt`)}`)).json, {}, 'a file lists nothing');
      // The ajax-api prefix serves the same.
      assert.deepEqual((await call('GET', `/ajax-api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(`${relRoot}/model`)}`)).json, model.json);

      // ListArtifacts of the tracking API: paths from the run's root, root_uri.
      const listed = await call('GET', `${mlflow}/artifacts/list?run_id=${run}&path=model`);
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.json, {
        root_uri: uri,
        files: [
          { path: 'model/MLmodel', is_dir: false, file_size: files['model/MLmodel']?.data.length },
          { path: 'model/conda.yaml', is_dir: false, file_size: files['model/conda.yaml']?.data.length },
          { path: 'model/data', is_dir: true },
        ],
      });
      const whole = await call('GET', `/ajax-api/2.0/mlflow/artifacts/list?run_uuid=${run}`);
      assert.deepEqual((whole.json?.['files'] as Json[]).map((f) => f['path']), ['metrics.json', 'model', 'notes.txt', 'odd']);

      // The UI's legacy download.
      const legacy = await call('GET', `/get-artifact?run_uuid=${run}&path=model%2FMLmodel`);
      assert.ok(legacy.body.equals(files['model/MLmodel']?.data ?? Buffer.alloc(0)));

      // DELETE a directory, then a file; each is one audit entry; deleting nothing is a no-op.
      assert.deepEqual((await call('DELETE', fileUrl(root, 'model/data'))).json, {});
      assert.deepEqual((await call('GET', `${proxy}?path=${encodeURIComponent(`${relRoot}/model`)}`)).json?.['files'].map((f: Json) => f['path']), ['MLmodel', 'conda.yaml']);
      mlflowErr(await call('GET', fileUrl(root, 'model/data/weights.bin')), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.deepEqual((await call('DELETE', fileUrl(root, 'notes.txt'))).json, {});
      assert.deepEqual((await call('DELETE', fileUrl(root, 'never-was'))).json, {});
      const entries = await tp.platform.audit.entries(auditBefore, 100);
      assert.deepEqual(
        entries.map((e) => [e.action, e.resource, e.project]),
        [
          ['run.artifacts.delete', `run/${run}`, projectA],
          ['run.artifacts.delete', `run/${run}`, projectA],
        ],
      );
      assert.deepEqual(entries[0]?.details, { path: 'model/data', files: 1, bytes: 70_000 });

      // delete_artifacts() of the whole root sends the root with a trailing slash.
      const rows = await rowCount();
      assert.deepEqual((await call('DELETE', `${root}/`)).json, {});
      assert.equal(await rowCount(), rows - (Object.keys(files).length - 2));
      assert.deepEqual((await call('GET', `${mlflow}/artifacts/list?run_id=${run}`)).json, { root_uri: uri });
    });

    test('the npm mlflow client lists what the proxy stored (Artifacts.list → artifacts/list); HEAD answers the length', async () => {
      const { run, root, uri } = await newRun();
      for (const p of ['model/MLmodel', 'model/python_model.pkl', 'requirements.txt']) assert.equal((await http('PUT', fileUrl(root, p), { body: Buffer.from(p), headers: { 'content-type': 'text/plain' } })).status, 200);
      const client = new MLflow({ endpoint: url, headers: { Authorization: `Bearer ${saA}` } });
      const top = (await client.Artifacts.list({ run_id: run, path: '' })) as Json;
      assert.equal(top['root_uri'], uri);
      assert.deepEqual(top['files'], [
        { path: 'model', is_dir: true },
        { path: 'requirements.txt', is_dir: false, file_size: 'requirements.txt'.length },
      ]);
      const model = (await client.Artifacts.list({ run_id: run, path: 'model' })) as Json;
      assert.deepEqual((model['files'] as Json[]).map((f) => f['path']), ['model/MLmodel', 'model/python_model.pkl']);
      const head = await http('HEAD', fileUrl(root, 'model/MLmodel'));
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String('model/MLmodel'.length));
      assert.equal(head.body.length, 0);
    });

    test('overwrite, deduplication in the project store, file/directory clashes', async () => {
      const a = await newRun();
      const b = await newRun();
      const before = await storeState(projectA);
      const content = randomBytes(10_000);
      for (const [r, p] of [[a, 'one.bin'], [a, 'copy/one.bin'], [b, 'same.bin']] as const) assert.equal((await call('PUT', fileUrl(r.root, p), { body: content })).status, 200);
      assert.equal((await storeState(projectA)).blobs, before.blobs + 1, 'three paths, two runs, one stored object');
      const next = Buffer.from('second version');
      assert.equal((await call('PUT', fileUrl(a.root, 'one.bin'), { body: next })).status, 200);
      assert.ok((await call('GET', fileUrl(a.root, 'one.bin'))).body.equals(next), 'a PUT to an existing path replaces it');
      assert.ok((await call('GET', fileUrl(a.root, 'copy/one.bin'))).body.equals(content));
      assert.equal((await storeState(projectA)).blobs, before.blobs + 2);

      // A path cannot be a file and a directory; the refusal comes before any byte is stored.
      const rows = await rowCount();
      const state = await storeState(projectA);
      assert.match(mlflowErr(await call('PUT', fileUrl(a.root, 'one.bin/inner'), { body: Buffer.from('x1') }), 400, 'RESOURCE_ALREADY_EXISTS'), /'one\.bin' is a file/);
      assert.match(mlflowErr(await call('PUT', fileUrl(a.root, 'copy'), { body: Buffer.from('x2') }), 400, 'RESOURCE_ALREADY_EXISTS'), /is a directory/);
      assert.equal(await rowCount(), rows);
      assert.deepEqual(await storeState(projectA), state);
    });

    test('Range reads: 206 with Content-Range, suffix and open ranges, 416 with bytes */size', async () => {
      const { root } = await newRun();
      const data = randomBytes(100_000);
      assert.equal((await call('PUT', fileUrl(root, 'r.bin'), { body: data })).status, 200);
      const get = (range: string): Promise<Raw> => call('GET', fileUrl(root, 'r.bin'), { headers: { range } });
      let r = await get('bytes=10-19');
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], 'bytes 10-19/100000');
      assert.equal(r.headers['content-length'], '10');
      assert.ok(r.body.equals(data.subarray(10, 20)));
      r = await get('bytes=-7');
      assert.ok(r.body.equals(data.subarray(99_993)));
      assert.equal(r.headers['content-range'], 'bytes 99993-99999/100000');
      r = await get('bytes=99000-');
      assert.ok(r.body.equals(data.subarray(99_000)));
      r = await get('bytes=0-999999');
      assert.equal(r.status, 206);
      assert.ok(r.body.equals(data), 'an end beyond the size is clamped');
      for (const bad of ['bytes=100000-', 'bytes=5-2', 'bytes=0-1,5-6', 'items=0-1', 'bytes=-']) {
        r = await get(bad);
        mlflowErr(r, 416, 'BAD_REQUEST');
        assert.equal(r.headers['content-range'], 'bytes */100000', bad);
      }
      r = await call('GET', fileUrl(root, 'r.bin'));
      assert.equal(r.status, 200);
      assert.equal(r.headers['accept-ranges'], 'bytes');
      assert.equal(r.headers['content-length'], '100000');
    });

    test('every bad path (MLflow CVEs §6, security-reliability §2.3) → 400 in MLflow\'s shape on every route, nothing written', async () => {
      const { exp, run, root } = await newRun();
      const relRoot = root.slice(proxy.length + 1);
      assert.equal((await call('PUT', fileUrl(root, 'keep.txt'), { body: Buffer.from('kept') })).status, 200);
      const rows = await rowCount();
      const state = await storeState(projectA);
      const auditSize = await tp.platform.audit.size();
      const bad400 = (r: Raw, what: string): void => {
        assert.equal(r.status, 400, `${what} → ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
        assert.ok(r.json?.['error_code'] === 'INVALID_PARAMETER_VALUE' || r.json?.['error_code'] === 'BAD_REQUEST', `${what}: ${r.body.toString('utf8')}`);
        assert.equal(typeof r.json?.['message'], 'string');
      };
      const body = Buffer.from('must not be stored');
      for (const p of BAD_PATHS) {
        const encoded = encodeURIComponent(p);
        // Under a run's root, and as the whole proxy path (CVE-2023-6831 sent it bare).
        for (const target of [`${relRoot}/${p}`, p]) {
          const enc = encodeURIComponent(target);
          bad400(await call('PUT', `${proxy}/${enc}`, { body, headers: { 'content-type': 'text/plain' } }), `PUT ${target}`);
          bad400(await call('GET', `${proxy}/${enc}`), `GET ${target}`);
          bad400(await call('DELETE', `${proxy}/${enc}`), `DELETE ${target}`);
          bad400(await call('GET', `${proxy}?path=${enc}`), `list ${target}`);
        }
        // Sent byte for byte where a URL path can carry it: the router decodes once, nothing normalises '..'.
        if (/^[\x21-\x7e]+$/.test(p) && !p.includes('#') && !p.includes('?')) {
          bad400(await http('PUT', `${root}/${p}`, { body, headers: { 'content-type': 'application/octet-stream' } }), `raw PUT ${p}`);
          bad400(await http('DELETE', `${root}/${p}`), `raw DELETE ${p}`);
          bad400(await http('DELETE', `${proxy}/${p}`), `raw bare DELETE ${p}`);
        }
        bad400(await call('GET', `${mlflow}/artifacts/list?run_id=${run}&path=${encoded}`), `artifacts/list ${p}`);
        bad400(await call('GET', `/get-artifact?run_uuid=${run}&path=${encoded}`), `get-artifact ${p}`);
        // The Strata API refuses the same paths (in its own error shape).
        for (const [method, u] of [
          ['PUT', `/api/v1/projects/default/runs/${run}/artifacts/${encoded}`],
          ['GET', `/api/v1/projects/default/runs/${run}/artifacts/${encoded}`],
          ['DELETE', `/api/v1/projects/default/runs/${run}/artifacts/${encoded}`],
          ['GET', `/api/v1/projects/default/runs/${run}/artifacts?path=${encoded}`],
        ] as const) {
          const r = await call(method, u, method === 'PUT' ? { body, headers: { 'content-type': 'application/octet-stream' } } : {});
          assert.equal(r.status, 400, `${method} ${u} → ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
          assert.equal(r.json?.['error']?.['code'], 'bad_request');
        }
      }
      // A path outside any run's tree, or a run root that is not one.
      for (const p of ['', `${exp}`, `${exp}/${run}`, `${exp}/${run}/other/x`, `${exp}/models/m-1/artifacts/x`]) bad400(await call('PUT', `${proxy}/${p}`, { body }), `PUT shape ${p}`);
      bad400(await call('GET', `${proxy}`), 'list without a path');
      bad400(await call('GET', `${proxy}/${relRoot}`), 'GET of a directory');
      // Raw bytes the router cannot decode are refused in MLflow's shape too.
      bad400(await http('PUT', `${root}/..%c0%af`, { body }), 'raw overlong UTF-8');
      // Client-chosen artifact locations (CVE-2023-6909, CVE-2024-1483/2928, CVE-2024-1593/1594, CVE-2024-3848).
      for (const loc of ['http:///?/../../../../etc/', 'http:///#/../../../../../../etc/', 'http://host/;..%2F..%2Fetc', 'http://host#/abc/etc/', 'http://host#/../../../../etc/', 'file:///etc/']) {
        const r = await tp.call('POST', `${mlflow}/experiments/create`, { token: saA, body: { name: `evil-${randomBytes(3).toString('hex')}`, artifact_location: loc } });
        assert.equal(r.status, 400, loc);
        assert.equal((r.body as Json)['error_code'], 'INVALID_PARAMETER_VALUE');
      }
      // The UI's raw-body upload is not served (a cross-site form could send it): 404 ENDPOINT_NOT_FOUND, nothing written.
      const upload = await call('POST', `/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${run}&path=${encodeURIComponent('a?/a')}`, { body, headers: { 'content-type': 'text/plain' } });
      mlflowErr(upload, 404, 'ENDPOINT_NOT_FOUND');

      assert.equal(await rowCount(), rows, 'no row was written');
      assert.deepEqual(await storeState(projectA), state, 'no blob and no upload left in the store');
      assert.equal(await tp.platform.audit.size(), auditSize, 'nothing was audited (nothing changed)');
      assert.equal((await call('GET', fileUrl(root, 'keep.txt'))).body.toString('utf8'), 'kept');
    });

    test('tenancy: another project\'s run is 404 on every route; a viewer reads but cannot write; nothing crosses', async () => {
      const a = await newRun();
      assert.equal((await call('PUT', fileUrl(a.root, 'secret.txt'), { body: Buffer.from('project A only') })).status, 200);
      const rel = a.root.slice(proxy.length + 1);
      const rows = await rowCount();
      const bState = await storeState(projectB).catch(() => ({ blobs: 0, uploads: 0 }));
      for (const [method, u] of [
        ['GET', fileUrl(a.root, 'secret.txt')],
        ['PUT', fileUrl(a.root, 'planted.txt')],
        ['DELETE', fileUrl(a.root, 'secret.txt')],
        ['GET', `${proxy}?path=${encodeURIComponent(rel)}`],
        ['GET', `${mlflow}/artifacts/list?run_id=${a.run}`],
        ['GET', `/get-artifact?run_uuid=${a.run}&path=secret.txt`],
      ] as const) {
        mlflowErr(await call(method, u, { token: saB, ...(method === 'PUT' ? { body: Buffer.from('x'), headers: { 'content-type': 'text/plain' } } : {}) }), 404, 'RESOURCE_DOES_NOT_EXIST');
      }
      // The Strata API: the run under B's own project is not found; A's project is not visible to B.
      for (const u of [`/api/v1/projects/p2/runs/${a.run}/artifacts`, `/api/v1/projects/p2/runs/${a.run}/artifacts/secret.txt`, `/api/v1/projects/default/runs/${a.run}/artifacts/secret.txt`]) {
        assert.equal((await call('GET', u, { token: saB })).status, 404, u);
      }
      assert.equal((await call('PUT', `/api/v1/projects/p2/runs/${a.run}/artifacts/x`, { token: saB, body: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } })).status, 404);
      // A run addressed through the wrong experiment is not found either.
      const other = await newRun();
      mlflowErr(await call('GET', `${proxy}/${other.exp}/${a.run}/artifacts/secret.txt`), 404, 'RESOURCE_DOES_NOT_EXIST');
      // A viewer of A reads, and is refused writes.
      assert.equal((await call('GET', fileUrl(a.root, 'secret.txt'), { token: viewer })).status, 200);
      mlflowErr(await call('PUT', fileUrl(a.root, 'v.txt'), { token: viewer, body: Buffer.from('v') }), 403, 'PERMISSION_DENIED');
      mlflowErr(await call('DELETE', fileUrl(a.root, 'secret.txt'), { token: viewer }), 403, 'PERMISSION_DENIED');
      // No token: MLflow's 401.
      mlflowErr(await call('GET', fileUrl(a.root, 'secret.txt'), { token: null }), 401, 'UNAUTHENTICATED');
      // Basic auth with the token as password works on the proxy (MLFLOW_TRACKING_USERNAME/PASSWORD).
      const basic = await call('GET', fileUrl(a.root, 'secret.txt'), { token: null, headers: { authorization: `Basic ${Buffer.from(`anyone:${saA}`).toString('base64')}` } });
      assert.equal(basic.body.toString('utf8'), 'project A only');
      assert.equal(await rowCount(), rows);
      assert.equal((await call('GET', fileUrl(a.root, 'secret.txt'))).body.toString('utf8'), 'project A only');
      assert.deepEqual(await storeState(projectB).catch(() => ({ blobs: 0, uploads: 0 })), bState, "B's store got nothing");
    });

    test('a run-scoped token writes its own run only; a deleted run refuses writes', async () => {
      const mine = await newRun();
      const theirs = await newRun();
      const scoped = await tp.platform.access.createScopedToken({ principal: null, requestId: 'test' }, { kind: 'run', projectId: projectA as never, runId: mine.run }, 'scoped-artifacts', 3600);
      assert.equal((await call('PUT', fileUrl(mine.root, 'ok.txt'), { token: scoped.token, body: Buffer.from('ok') })).status, 200);
      mlflowErr(await call('PUT', fileUrl(theirs.root, 'no.txt'), { token: scoped.token, body: Buffer.from('no') }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal((await call('PUT', `/api/v1/projects/default/runs/${theirs.run}/artifacts/no.txt`, { token: scoped.token, body: Buffer.from('no'), headers: { 'content-type': 'application/octet-stream' } })).status, 404);

      await post('runs/delete', { run_id: mine.run });
      const m = mlflowErr(await call('PUT', fileUrl(mine.root, 'late.txt'), { body: Buffer.from('late') }), 400, 'INVALID_PARAMETER_VALUE');
      assert.match(m, /active/);
      assert.equal((await call('GET', fileUrl(mine.root, 'ok.txt'))).body.toString('utf8'), 'ok', 'a deleted run is still readable');
    });

    test('the Strata API: PUT octet-stream (digest checked), list with pages, download, DELETE audited', async () => {
      const { exp, run } = await newRun();
      const base = `/api/v1/projects/default/runs/${run}/artifacts`;
      const put = (p: string, data: Buffer, headers: Record<string, string> = {}): Promise<Raw> => call('PUT', `${base}/${p}`, { body: data, headers: { 'content-type': 'application/octet-stream', ...headers } });
      const data = randomBytes(5000);
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      let r = await put('w/a.bin', data, { 'x-strata-digest': digest });
      assert.equal(r.status, 201, r.body.toString('utf8'));
      assert.deepEqual(r.json, { path: 'w/a.bin', digest, size: 5000, deduplicated: false });
      r = await put('w/b.bin', data);
      assert.equal(r.json?.['deduplicated'], true);
      const rows = await rowCount();
      r = await put('w/c.bin', Buffer.from('other'), { 'x-strata-digest': digest });
      assert.equal(r.status, 400);
      assert.match(r.json?.['error']?.['message'] as string, /digest mismatch/);
      assert.equal((await put('w/d.bin', data, { 'content-type': 'text/plain' })).status, 415, 'the Strata API takes application/octet-stream');
      assert.equal(await rowCount(), rows);
      for (let i = 0; i < 12; i += 1) assert.equal((await put(`many/f${String(i).padStart(2, '0')}.txt`, Buffer.from(`f${i}`))).status, 201);
      for (const d of ['sub1', 'sub2']) for (let i = 0; i < 3; i += 1) assert.equal((await put(`many/${d}/x${i}`, Buffer.from('x'))).status, 201);
      // Pages of 5 over 14 entries (12 files, 2 directories listed once each).
      const seen: Json[] = [];
      let token: string | null = null;
      let pages = 0;
      do {
        const q: string = `path=many&maxResults=5${token === null ? '' : `&pageToken=${encodeURIComponent(token)}`}`;
        const page = await call('GET', `${base}?${q}`);
        assert.equal(page.status, 200, page.body.toString('utf8'));
        assert.ok((page.json?.['files'] as Json[]).length <= 5);
        seen.push(...(page.json?.['files'] as Json[]));
        token = page.json?.['nextPageToken'] as string | null;
        pages += 1;
      } while (token !== null);
      assert.equal(pages, 3);
      assert.deepEqual(
        seen.map((f) => `${f['kind'] as string}:${f['path'] as string}`),
        [...Array.from({ length: 12 }, (_, i) => `file:many/f${String(i).padStart(2, '0')}.txt`), 'directory:many/sub1', 'directory:many/sub2'],
      );
      assert.equal((await call('GET', `${base}?path=many&pageToken=garbage`)).status, 400);
      const root = await call('GET', base);
      assert.deepEqual(root.json?.['files'].map((f: Json) => f['path']), ['many', 'w']);
      assert.equal(root.json?.['root'], `mlflow-artifacts:/${exp}/${run}/artifacts`);
      const dl = await call('GET', `${base}/w/a.bin`, { headers: { range: 'bytes=100-199' } });
      assert.equal(dl.status, 206);
      assert.ok(dl.body.equals(data.subarray(100, 200)));
      const auditSize = await tp.platform.audit.size();
      const del = await call('DELETE', `${base}/many`);
      assert.deepEqual(del.json, { files: 18, bytes: 10 * 2 + 2 * 3 + 6 * 1 });
      assert.equal(await tp.platform.audit.size(), auditSize + 1);
      assert.equal((await call('DELETE', `${base}/many`)).status, 404);
    });

    test('a client that disconnects mid-upload leaves nothing behind', async () => {
      const { root } = await newRun();
      const rows = await rowCount();
      const state = await storeState(projectA);
      const u = new URL(url);
      await new Promise<void>((resolve) => {
        const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: `${root}/cut.bin`, headers: { authorization: `Bearer ${saA}`, 'content-type': 'application/octet-stream' } });
        req.on('error', () => resolve());
        req.write(randomBytes(3 * 2 ** 20), () => {
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 50);
        });
      });
      // The server notices the reset and removes its temporary file.
      for (let i = 0; i < 100 && (await storeState(projectA)).uploads > 0; i += 1) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(await storeState(projectA), state);
      assert.equal(await rowCount(), rows);
      mlflowErr(await call('GET', fileUrl(root, 'cut.bin')), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    test('64 MiB upload and download over a socket with flat memory', async () => {
      const { root } = await newRun();
      const SIZE = 64 * 2 ** 20;
      const CHUNK = 2 ** 20;
      const block = randomBytes(CHUNK);
      const sent = createHash('sha256');
      function* source(): Generator<Buffer> {
        for (let i = 0; i < SIZE / CHUNK; i += 1) {
          if (i % 8 === 7) measure();
          const c = Buffer.from(block);
          c.writeUInt32BE(i, 0); // every chunk differs
          sent.update(c);
          yield c;
        }
      }
      // Live memory after a full collection: garbage chunks do not count, a buffered body would.
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const sample = (): number => {
        gc();
        const m = process.memoryUsage();
        return m.heapUsed + m.external;
      };
      // Warm up first (connection, the project's store, lazily built buffers), so the baseline is steady state.
      const warm = randomBytes(2 * CHUNK);
      assert.equal((await http('PUT', `${root}/big/warm.bin`, { body: [warm.subarray(0, CHUNK), warm.subarray(CHUNK)], headers: { 'content-type': 'application/octet-stream' } })).status, 200);
      assert.equal((await http('GET', `${root}/big/warm.bin`)).body.length, warm.length);
      const baseline = sample();
      let peak = baseline;
      const trace: number[] = [];
      let samples = 0;
      // Sampled every 8 MiB sent and received (a full collection each time, so not on a timer).
      function measure(): void {
        const now = sample();
        trace.push(Math.round((now - baseline) / 2 ** 20));
        peak = Math.max(peak, now);
        samples += 1;
      }
      {
        const up = await http('PUT', `${root}/big/weights.bin`, { body: source(), headers: { 'content-type': 'application/octet-stream' } });
        assert.equal(up.status, 200, up.body.toString('utf8'));
        const uploadGrowth = peak - baseline;
        const got = createHash('sha256');
        let bytes = 0;
        const down = await http('GET', `${root}/big/weights.bin`, {
          onData: (c) => {
            got.update(c);
            if (Math.floor((bytes + c.length) / (8 * CHUNK)) > Math.floor(bytes / (8 * CHUNK))) measure();
            bytes += c.length;
          },
        });
        assert.equal(down.status, 200);
        assert.equal(bytes, SIZE);
        const digest = sent.digest('hex');
        assert.equal(got.digest('hex'), digest);
        assert.equal(down.headers['etag'], `"sha256:${digest}"`);
        // Buffering the file anywhere would add ≥ 64 MiB at the last samples; streaming keeps a bounded
        // amount in flight whatever the size (client and server share this process here; the
        // benchmark measures the server's RSS alone with 1 GiB).
        assert.ok(samples >= 14, `memory was sampled during the transfers (${samples} samples)`);
        assert.ok(uploadGrowth < 32 * 2 ** 20, `upload grew live heap+external by ${(uploadGrowth / 2 ** 20).toFixed(1)} MiB (MiB over the baseline at each sample: ${trace.join(' ')})`);
        assert.ok(peak - baseline < 32 * 2 ** 20, `peak live growth ${((peak - baseline) / 2 ** 20).toFixed(1)} MiB (MiB over the baseline at each sample: ${trace.join(' ')})`);
      }
    });
  });
}
