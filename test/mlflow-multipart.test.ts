// MLflow artifact-proxy multipart uploads (mlflow_artifacts.proto CreateMultipartUpload,
// CompleteMultipartUpload, AbortMultipartUpload; the client is http_artifact_repo.py
// `_try_multipart_upload`), and MLflow 3.x LogInputs `models` (Run.inputs.model_inputs), on SQLite
// and PostgreSQL, against a real server over HTTP. Parts go to the presigned URLs mpu/create hands
// out, with no Authorization header, exactly as `requests.put(credential.url, data=...)` sends them.
// Covered: a file larger than a part comes back byte for byte; parts out of order and re-sent;
// abort; a restart between parts; expiry and the blob collector; every bad input (unknown upload,
// part out of range, bad signature, missing parts, wrong ETag, traversal, oversize) with MLflow's
// error codes and nothing half-written; tenancy and run-scoped tokens as for the PUT.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- wire JSON is untyped; the assertions are what check its shape */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MULTIPART_LIMITS, MlflowMultipartUploads, checkedPublicUrl, multipartStaging } from '../src/api/mlflow/index.ts';
import { createPlatform } from '../src/api/platform.ts';
import { databaseKinds, freshDatabase } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- wire JSON in assertions

interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  readonly json: Json | undefined;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function http(url: string, init: { method: string; token?: string | null; body?: Uint8Array | string; headers?: Record<string, string> }): Promise<HttpReply> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token !== undefined && init.token !== null) headers['authorization'] = `Bearer ${init.token}`;
  const r = await fetch(url, { method: init.method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
  const body = Buffer.from(await r.arrayBuffer());
  let json: Json | undefined;
  try {
    json = body.length === 0 ? undefined : (JSON.parse(body.toString('utf8')) as Json);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, body, json };
}

/** A request whose path is sent verbatim (fetch would resolve `..` segments before sending). */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; json: Json | undefined }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Json | undefined;
        try {
          json = JSON.parse(text) as Json;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json });
        req.destroy();
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else if (headers['content-length'] === undefined || headers['content-length'] === '0') req.end();
    else req.flushHeaders(); // announce a body and send none: the server must answer before reading it
  });
}

const mlflowErr = (r: HttpReply | { status: number; json: Json | undefined }, status: number, code: string): string => {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json?.['error_code'], code, JSON.stringify(r.json));
  assert.equal(typeof r.json?.['message'], 'string');
  return r.json?.['message'] as string;
};

/** The MLflow client's side of a multipart upload, over real HTTP. */
function client(base: string, extra: Record<string, string> = {}) {
  const mlflow = `${base}/api/2.0/mlflow`;
  const artifacts = `${base}/api/2.0/mlflow-artifacts`;
  const post = (url: string, body: unknown, token: string | null): Promise<HttpReply> =>
    http(url, { method: 'POST', token, body: JSON.stringify(body), headers: { ...extra, 'content-type': 'application/json' } });
  return {
    mlflow,
    artifacts,
    post,
    async newRun(token: string): Promise<{ exp: string; run: string; root: string }> {
      const e = await post(`${mlflow}/experiments/create`, { name: `mpu-${randomBytes(4).toString('hex')}` }, token);
      assert.equal(e.status, 200, e.body.toString());
      const exp = e.json?.['experiment_id'] as string;
      const r = await post(`${mlflow}/runs/create`, { experiment_id: exp, start_time: 1_700_000_000_000 }, token);
      assert.equal(r.status, 200, r.body.toString());
      const uri = r.json?.['run']['info']['artifact_uri'] as string;
      return { exp, run: r.json?.['run']['info']['run_id'] as string, root: uri.slice('mlflow-artifacts:/'.length) };
    },
    create: (dir: string, localPath: string, numParts: number, token: string | null): Promise<HttpReply> => post(`${artifacts}/mpu/create/${dir}`, { path: localPath, num_parts: numParts }, token),
    complete: (dir: string, localPath: string, uploadId: string, parts: readonly Json[], token: string | null): Promise<HttpReply> =>
      post(`${artifacts}/mpu/complete/${dir}`, { path: localPath, upload_id: uploadId, parts }, token),
    abort: (dir: string, localPath: string, uploadId: string, token: string | null): Promise<HttpReply> => post(`${artifacts}/mpu/abort/${dir}`, { path: localPath, upload_id: uploadId }, token),
    /** `requests.put(credential.url, data=chunk, headers=credential.headers)`: no token, no content type. */
    putPart: (url: string, data: Uint8Array, headers: Record<string, string> = {}): Promise<HttpReply> => http(url, { method: 'PUT', body: data, headers }),
    get: (path: string, token: string): Promise<HttpReply> => http(`${artifacts}/artifacts/${path}`, { method: 'GET', token }),
  };
}

const split = (data: Buffer, size: number): Buffer[] => {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
};

for (const kind of databaseKinds) {
  describe(`MLflow multipart uploads and model inputs on ${kind}`, () => {
    let tp: TestPlatform;
    let base: string;
    let c: ReturnType<typeof client>;
    let saA: string;
    let saB: string;
    let viewer: string;
    let projectA: string;
    let offset = 0;
    const clock = { now: (): number => Date.now() + offset };

    const serviceAccount = (name: string, project: string, role: string): Promise<string> => tp.serviceAccount(name, project, role);
    const count = async (table: 'mlflow_multipart_uploads' | 'mlflow_multipart_parts' | 'run_artifacts'): Promise<number> =>
      Number((await tp.platform.store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const stagingDir = (uploadId: string): string => join(tp.platform.paths.blobs, 'multipart', uploadId);
    /** Creates an upload and checks the shape of the answer. */
    const created = async (dir: string, localPath: string, numParts: number, token = saA): Promise<{ id: string; urls: string[] }> => {
      const r = await c.create(dir, localPath, numParts, token);
      assert.equal(r.status, 200, r.body.toString());
      const id = r.json?.['upload_id'] as string;
      assert.match(id, /^[0-9a-f]{32}$/);
      const creds = r.json?.['credentials'] as Json[];
      assert.deepEqual(creds.map((x) => x['part_number']), Array.from({ length: numParts }, (_, i) => i + 1));
      for (const x of creds) {
        assert.ok((x['url'] as string).startsWith(`${base}/api/2.0/mlflow-artifacts/mpu/parts/${id}/${x['part_number']}?`), x['url']);
        assert.deepEqual(x['headers'], {});
      }
      return { id, urls: creds.map((x) => x['url'] as string) };
    };

    before(async () => {
      tp = await startTestPlatform(kind, { clock });
      base = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      c = client(base);
      assert.equal((await tp.call('POST', '/api/v1/projects', { body: { name: 'p2', team: 'default' } })).status, 201);
      saA = await serviceAccount('sa-a', 'default', 'editor');
      saB = await serviceAccount('sa-b', 'p2', 'editor');
      viewer = await serviceAccount('sa-view', 'default', 'viewer');
      projectA = ((await tp.call('GET', '/api/v1/projects/default')).body as { id: string }).id;
    });
    after(async () => {
      await tp.close();
    });

    test('a file bigger than a part, parts sent out of order and one re-sent: GET returns it byte for byte; staging is gone', async () => {
      const { root } = await c.newRun(saA);
      const partSize = 256 * 1024;
      const data = randomBytes(partSize * 3 + 12_345);
      const chunks = split(data, partSize);
      const { id, urls } = await created(`${root}/model/data`, '/home/me/tmp/weights.bin', chunks.length);
      assert.ok(existsSync(stagingDir(id)));
      const etags = new Map<number, string>();
      for (const i of [3, 1, 0, 2]) {
        const r = await c.putPart(urls[i] as string, chunks[i] as Buffer);
        assert.equal(r.status, 200, r.body.toString());
        assert.equal(r.headers.get('etag'), `"${sha256(chunks[i] as Buffer)}"`, 'the ETag is the part\'s digest');
        etags.set(i + 1, r.headers.get('etag') as string);
      }
      // A client retry of part 2 with other bytes replaces it; its new ETag is the one that counts.
      const retried = await c.putPart(urls[1] as string, Buffer.from('not the right bytes'));
      assert.equal(retried.status, 200);
      mlflowErr(await c.complete(`${root}/model/data`, '/home/me/tmp/weights.bin', id, [...etags].map(([n, e]) => ({ part_number: n, etag: e })), saA), 400, 'INVALID_PARAMETER_VALUE');
      assert.equal((await c.get(`${root}/model/data/weights.bin`, saA)).status, 404, 'nothing written by a failed complete');
      etags.set(2, (await c.putPart(urls[1] as string, chunks[1] as Buffer)).headers.get('etag') as string);

      // The client sends parts sorted, with each credential url; order does not matter here.
      const parts = [...etags].reverse().map(([n, e]) => ({ part_number: n, etag: e, url: urls[n - 1] }));
      const done = await c.complete(`${root}/model/data`, '/home/me/tmp/weights.bin', id, parts, saA);
      assert.equal(done.status, 200, done.body.toString());
      assert.deepEqual(done.json, {});
      const back = await c.get(`${root}/model/data/weights.bin`, saA);
      assert.equal(back.status, 200);
      assert.ok(back.body.equals(data), 'the file comes back byte for byte');
      assert.equal(back.headers.get('etag'), `"sha256:${sha256(data)}"`, 'stored content-addressed like a PUT');
      const list = await http(`${c.artifacts}/artifacts?path=${encodeURIComponent(`${root}/model/data`)}`, { method: 'GET', token: saA });
      assert.deepEqual(list.json?.['files'], [{ path: 'weights.bin', is_dir: false, file_size: data.length }]);
      assert.ok(!existsSync(stagingDir(id)), 'staged parts are removed');
      assert.equal(Number((await tp.platform.store.db.selectFrom('mlflow_multipart_uploads').select((eb) => eb.fn.countAll().as('n')).where('id', '=', id).executeTakeFirstOrThrow()).n), 0);
      mlflowErr(await c.complete(`${root}/model/data`, '/home/me/tmp/weights.bin', id, parts, saA), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.putPart(urls[0] as string, chunks[0] as Buffer), 404, 'RESOURCE_DOES_NOT_EXIST');

      // The same bytes by PUT dedupe onto the same blob (a multipart file is an ordinary file).
      const put = await http(`${c.artifacts}/artifacts/${root}/copy.bin`, { method: 'PUT', token: saA, body: data });
      assert.equal(put.status, 200);
      assert.equal((await c.get(`${root}/copy.bin`, saA)).headers.get('etag'), back.headers.get('etag'));
    });

    test('abort forgets the upload and its staged parts; nothing is written', async () => {
      const { root } = await c.newRun(saA);
      const before = await count('run_artifacts');
      const { id, urls } = await created(root, 'big.bin', 2);
      assert.equal((await c.putPart(urls[0] as string, randomBytes(1000))).status, 200);
      const r = await c.abort(root, 'big.bin', id, saA);
      assert.equal(r.status, 200, r.body.toString());
      assert.deepEqual(r.json, {});
      assert.ok(!existsSync(stagingDir(id)));
      assert.equal(Number((await tp.platform.store.db.selectFrom('mlflow_multipart_parts').select((eb) => eb.fn.countAll().as('n')).where('upload_id', '=', id).executeTakeFirstOrThrow()).n), 0);
      mlflowErr(await c.putPart(urls[1] as string, randomBytes(10)), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.complete(root, 'big.bin', id, [{ part_number: 1, etag: 'x' }], saA), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.abort(root, 'big.bin', id, saA), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal(await count('run_artifacts'), before);
      assert.equal((await c.get(`${root}/big.bin`, saA)).status, 404);
    });

    test('one complete at a time: while one runs, another complete, an abort and a part get 409 RESOURCE_CONFLICT; a failed complete frees the upload; a stale claim is taken over', async () => {
      const { root } = await c.newRun(saA);
      const a = randomBytes(70_000);
      const b = randomBytes(30_000);
      const { id, urls } = await created(root, 'w.bin', 2);
      const ea = (await c.putPart(urls[0] as string, a)).headers.get('etag') as string;
      const eb = (await c.putPart(urls[1] as string, b)).headers.get('etag') as string;
      const parts = [{ part_number: 1, etag: ea }, { part_number: 2, etag: eb }];
      // A complete holding the upload, as the server's own complete does while it joins the parts.
      const uploads = new MlflowMultipartUploads(tp.platform.store, clock, multipartStaging(tp.platform.paths.blobs));
      const upload = { projectId: projectA as never, kind: 'run' as const, targetId: root.split('/')[1] as string, experimentId: root.split('/')[0] as string, path: 'w.bin' as never, id, numParts: 2, createdAt: 0, expiresAt: Number.MAX_SAFE_INTEGER };
      await uploads.claim(upload);
      assert.match(mlflowErr(await c.complete(root, 'w.bin', id, parts, saA), 409, 'RESOURCE_CONFLICT'), /being completed/);
      assert.match(mlflowErr(await c.abort(root, 'w.bin', id, saA), 409, 'RESOURCE_CONFLICT'), /being completed/);
      assert.match(mlflowErr(await c.putPart(urls[1] as string, randomBytes(10)), 409, 'RESOURCE_CONFLICT'), /being completed/);
      await assert.rejects(uploads.claim(upload), /being completed/);
      assert.ok(existsSync(stagingDir(id)), 'refusals leave the staged parts alone');
      assert.equal((await c.get(`${root}/w.bin`, saA)).status, 404);

      // A claim older than claimStaleMs (a server that died mid-complete) is taken over.
      offset = MULTIPART_LIMITS.claimStaleMs + 1000;
      try {
        // A failed complete (a wrong ETag) frees the upload again: the next one succeeds.
        mlflowErr(await c.complete(root, 'w.bin', id, [{ part_number: 1, etag: eb }, { part_number: 2, etag: eb }], saA), 400, 'INVALID_PARAMETER_VALUE');
        const row = await tp.platform.store.db.selectFrom('mlflow_multipart_uploads').select('completing_at').where('id', '=', id).executeTakeFirstOrThrow();
        assert.equal(row.completing_at, null, 'the failed complete released its claim');
        const ok = await c.complete(root, 'w.bin', id, parts, saA);
        assert.equal(ok.status, 200, ok.body.toString());
      } finally {
        offset = 0;
      }
      assert.ok((await c.get(`${root}/w.bin`, saA)).body.equals(Buffer.concat([a, b])));

      // Completes racing for real: exactly one stores the file; the others get 409 or, once it is
      // done, 404; none fails half-way, and the file is the parts' bytes.
      const data = randomBytes(3 * 200_000);
      const chunks = split(data, 200_000);
      const race = await created(root, 'race.bin', chunks.length);
      const named: Json[] = [];
      for (const [i, chunk] of chunks.entries()) named.push({ part_number: i + 1, etag: (await c.putPart(race.urls[i] as string, chunk)).headers.get('etag') });
      const answers = await Promise.all(Array.from({ length: 6 }, () => c.complete(root, 'race.bin', race.id, named, saA)));
      assert.equal(answers.filter((r) => r.status === 200).length, 1, answers.map((r) => `${r.status} ${r.body.toString()}`).join('\n'));
      for (const r of answers.filter((x) => x.status !== 200)) assert.ok(r.json?.['error_code'] === 'RESOURCE_CONFLICT' || r.json?.['error_code'] === 'RESOURCE_DOES_NOT_EXIST', r.body.toString());
      assert.ok((await c.get(`${root}/race.bin`, saA)).body.equals(data));
      assert.ok(!existsSync(stagingDir(race.id)));
    });

    test('bad input: MLflow error codes, 400/403/404, and nothing half-written', async () => {
      const { root } = await c.newRun(saA);
      const rowsBefore = await count('run_artifacts');
      const a = randomBytes(5000);
      const b = randomBytes(3000);
      const { id, urls } = await created(root, 'f.bin', 2);
      const ea = (await c.putPart(urls[0] as string, a)).headers.get('etag') as string;

      // Unknown upload ids.
      const unknown = randomBytes(16).toString('hex');
      mlflowErr(await c.complete(root, 'f.bin', unknown, [{ part_number: 1, etag: ea }], saA), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.abort(root, 'f.bin', unknown, saA), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.putPart((urls[0] as string).replace(id, unknown), a), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.putPart((urls[0] as string).replace(id, 'not-an-upload-id'), a), 404, 'RESOURCE_DOES_NOT_EXIST');
      // The upload id belongs to one file: another path, or another run, does not find it.
      mlflowErr(await c.complete(root, 'g.bin', id, [{ part_number: 1, etag: ea }], saA), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.complete(`${root}/sub`, 'f.bin', id, [{ part_number: 1, etag: ea }], saA), 404, 'RESOURCE_DOES_NOT_EXIST');

      // Part numbers out of range, on the part URL and in complete.
      mlflowErr(await c.putPart((urls[0] as string).replace(`/${id}/1?`, `/${id}/3?`), b), 400, 'INVALID_PARAMETER_VALUE');
      mlflowErr(await c.putPart((urls[0] as string).replace(`/${id}/1?`, `/${id}/0?`), b), 400, 'INVALID_PARAMETER_VALUE');
      mlflowErr(await c.complete(root, 'f.bin', id, [{ part_number: 1, etag: ea }, { part_number: 3, etag: ea }], saA), 400, 'INVALID_PARAMETER_VALUE');
      mlflowErr(await c.complete(root, 'f.bin', id, [{ part_number: 1, etag: ea }, { part_number: 1, etag: ea }], saA), 400, 'INVALID_PARAMETER_VALUE');
      // Bad signatures: another part's URL, a tampered one, none; an expiry that is not the signed one.
      mlflowErr(await c.putPart((urls[1] as string).replace(`/${id}/2?`, `/${id}/1?`), b), 403, 'PERMISSION_DENIED');
      mlflowErr(await c.putPart((urls[1] as string).replace(/signature=[0-9a-f]/, (m) => (m.endsWith('0') ? `${m.slice(0, -1)}1` : `${m.slice(0, -1)}0`)), b), 403, 'PERMISSION_DENIED');
      mlflowErr(await c.putPart((urls[1] as string).replace(/&signature=.*$/, ''), b), 403, 'PERMISSION_DENIED');
      mlflowErr(await c.putPart((urls[1] as string).replace(/expires=\d+/, (m) => `expires=${Number(m.slice(8)) + 1000}`), b), 403, 'PERMISSION_DENIED');
      // Missing parts, wrong ETags, no parts.
      assert.match(mlflowErr(await c.complete(root, 'f.bin', id, [{ part_number: 1, etag: ea }], saA), 400, 'INVALID_PARAMETER_VALUE'), /missing part\(s\) 2/);
      assert.match(mlflowErr(await c.complete(root, 'f.bin', id, [{ part_number: 1, etag: ea }, { part_number: 2, etag: ea }], saA), 400, 'INVALID_PARAMETER_VALUE'), /missing part\(s\) 2/, 'a part never uploaded is missing');
      mlflowErr(await c.complete(root, 'f.bin', id, [], saA), 400, 'INVALID_PARAMETER_VALUE');
      const eb = (await c.putPart(urls[1] as string, b)).headers.get('etag') as string;
      assert.match(mlflowErr(await c.complete(root, 'f.bin', id, [{ part_number: 1, etag: eb }, { part_number: 2, etag: eb }], saA), 400, 'INVALID_PARAMETER_VALUE'), /ETag of part 1/);
      // Oversize: a part announcing more than 5 GiB is refused before a byte is read.
      const big = new URL(urls[1] as string);
      mlflowErr(await rawRequest(base, 'PUT', `${big.pathname}${big.search}`, { 'content-length': String(5 * 2 ** 30 + 1) }), 400, 'INVALID_PARAMETER_VALUE');
      // num_parts out of range.
      mlflowErr(await c.create(root, 'f.bin', 0, saA), 400, 'INVALID_PARAMETER_VALUE');
      mlflowErr(await c.create(root, 'f.bin', 10_001, saA), 400, 'INVALID_PARAMETER_VALUE');
      // Traversal and look-alike paths (CVE-2023-6831 / CVE-2024-1560 vectors, and mpu's missing
      // validate_path_is_safe fixed upstream in PRs #21945/#21947), in the URL and in `path`.
      for (const dir of [`${root}/../../../etc`, `${root}/%2E%2E%2F%2E%2E%2Fetc`, `${root}/%252e%252e%252f`, `/etc`, `${root}/a%00b`]) {
        mlflowErr(await rawRequest(base, 'POST', `/api/2.0/mlflow-artifacts/mpu/create/${dir}`, { authorization: `Bearer ${saA}`, 'content-type': 'application/json' }, JSON.stringify({ path: 'x.bin', num_parts: 1 })), 400, 'INVALID_PARAMETER_VALUE');
      }
      for (const localPath of ['..', '/tmp/..', 'dir/', 'a?b', 'C:\\tmp\\..', '%2e%2e']) mlflowErr(await c.create(root, localPath, 1, saA), 400, 'INVALID_PARAMETER_VALUE');
      // MLflow's Content-Type rule holds for the mpu calls.
      mlflowErr(await http(`${c.artifacts}/mpu/create/${root}`, { method: 'POST', token: saA, body: JSON.stringify({ path: 'x', num_parts: 1 }), headers: { 'content-type': 'text/plain' } }), 400, 'INVALID_PARAMETER_VALUE');

      assert.equal(await count('run_artifacts'), rowsBefore, 'no failed call wrote a file');
      // The upload survived every refusal and still completes.
      const ok = await c.complete(root, 'f.bin', id, [{ part_number: 2, etag: eb }, { part_number: 1, etag: ea }], saA);
      assert.equal(ok.status, 200, ok.body.toString());
      assert.ok((await c.get(`${root}/f.bin`, saA)).body.equals(Buffer.concat([a, b])));
    });

    test('tenancy and tokens as for the PUT: other projects 404, viewers 403, run-scoped tokens their own run only, deleted runs refused', async () => {
      const mine = await c.newRun(saA);
      const theirs = await c.newRun(saA);
      mlflowErr(await c.create(mine.root, 'x.bin', 1, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.create(mine.root, 'x.bin', 1, viewer), 403, 'PERMISSION_DENIED');
      mlflowErr(await c.create(mine.root, 'x.bin', 1, null), 401, 'UNAUTHENTICATED');
      const { id, urls } = await created(mine.root, 'x.bin', 1);
      const e = (await c.putPart(urls[0] as string, Buffer.from('x'))).headers.get('etag') as string;
      mlflowErr(await c.complete(mine.root, 'x.bin', id, [{ part_number: 1, etag: e }], saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.abort(mine.root, 'x.bin', id, saB), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.complete(mine.root, 'x.bin', id, [{ part_number: 1, etag: e }], viewer), 403, 'PERMISSION_DENIED');

      const scoped = await tp.platform.access.createScopedToken({ principal: null, requestId: 'test' }, { kind: 'run', projectId: projectA as never, runId: mine.run }, 'scoped-mpu', 3600);
      mlflowErr(await c.create(theirs.root, 'x.bin', 1, scoped.token), 404, 'RESOURCE_DOES_NOT_EXIST');
      const done = await c.complete(mine.root, 'x.bin', id, [{ part_number: 1, etag: e }], scoped.token);
      assert.equal(done.status, 200, done.body.toString());

      assert.equal((await c.post(`${c.mlflow}/runs/delete`, { run_id: theirs.run }, saA)).status, 200);
      mlflowErr(await c.create(theirs.root, 'x.bin', 1, saA), 400, 'INVALID_PARAMETER_VALUE');
    });

    test('a logged model\'s tree takes multipart uploads too', async () => {
      const { exp } = await c.newRun(saA);
      const m = await c.post(`${c.mlflow}/logged-models`, { experiment_id: exp }, saA);
      const modelId = m.json?.['model']['info']['model_id'] as string;
      const dir = `${exp}/models/${modelId}/artifacts`;
      const data = randomBytes(70_000);
      const { id, urls } = await created(dir, 'model.pkl', 2);
      const parts = [];
      for (const [i, chunk] of split(data, 40_000).entries()) parts.push({ part_number: i + 1, etag: (await c.putPart(urls[i] as string, chunk)).headers.get('etag') });
      assert.equal((await c.complete(dir, 'model.pkl', id, parts, saA)).status, 200);
      assert.ok((await c.get(`${dir}/model.pkl`, saA)).body.equals(data));
    });

    test('expired uploads: part URLs refuse, complete does not find them, the blob collector removes them', async () => {
      const { root } = await c.newRun(saA);
      const { id, urls } = await created(root, 'late.bin', 2);
      assert.equal((await c.putPart(urls[0] as string, randomBytes(100))).status, 200);
      // An upload whose complete is still running when it expires is left to that complete.
      const held = await created(root, 'held.bin', 1);
      offset = 25 * 3600 * 1000;
      try {
        const uploads = new MlflowMultipartUploads(tp.platform.store, clock, multipartStaging(tp.platform.paths.blobs));
        await uploads.claim({ projectId: projectA as never, kind: 'run', targetId: root.split('/')[1] as string, experimentId: root.split('/')[0] as string, path: 'held.bin' as never, id: held.id, numParts: 1, createdAt: 0, expiresAt: 0 });
        mlflowErr(await c.putPart(urls[1] as string, randomBytes(100)), 403, 'PERMISSION_DENIED');
        mlflowErr(await c.complete(root, 'late.bin', id, [{ part_number: 1, etag: 'x' }], saA), 404, 'RESOURCE_DOES_NOT_EXIST');
        const dry = await tp.call('POST', '/api/v1/admin/blobs/gc', { body: { dryRun: true } });
        assert.equal(dry.status, 200, dry.text);
        assert.ok((dry.body as Json)['multipartUploads']['expired'] >= 1);
        assert.ok(existsSync(stagingDir(id)), 'a dry run removes nothing');
        const gc = await tp.call('POST', '/api/v1/admin/blobs/gc', { body: { dryRun: false } });
        assert.equal(gc.status, 200, gc.text);
        assert.ok((gc.body as Json)['multipartUploads']['expired'] >= 1);
        assert.ok((gc.body as Json)['multipartUploads']['bytes'] >= 100);
        assert.ok(existsSync(stagingDir(held.id)), 'a claimed upload is not swept');
        assert.equal(Number((await tp.platform.store.db.selectFrom('mlflow_multipart_uploads').select((eb) => eb.fn.countAll().as('n')).where('id', '=', held.id).executeTakeFirstOrThrow()).n), 1);
      } finally {
        offset = 0;
      }
      assert.ok(!existsSync(stagingDir(id)));
      assert.equal(Number((await tp.platform.store.db.selectFrom('mlflow_multipart_uploads').select((eb) => eb.fn.countAll().as('n')).where('id', '=', id).executeTakeFirstOrThrow()).n), 0);
      assert.equal(Number((await tp.platform.store.db.selectFrom('mlflow_multipart_parts').select((eb) => eb.fn.countAll().as('n')).where('upload_id', '=', id).executeTakeFirstOrThrow()).n), 0);
    });

    test('log-inputs models[] (MLflow 3.x ModelInput): runs/get and runs/search show inputs.model_inputs; replay is a no-op; bad models write nothing', async () => {
      const { exp, run } = await c.newRun(saA);
      const model = async (): Promise<string> => (await c.post(`${c.mlflow}/logged-models`, { experiment_id: exp }, saA)).json?.['model']['info']['model_id'] as string;
      const [m1, m2] = [await model(), await model()].sort() as [string, string];
      const dataset = { tags: [{ key: 'mlflow.data.context', value: 'eval' }], dataset: { name: 'd', digest: 'abc123', source_type: 'local', source: '{}' } };
      const logged = await c.post(`${c.mlflow}/runs/log-inputs`, { run_id: run, datasets: [dataset], models: [{ model_id: m2 }, { model_id: m1 }] }, saA);
      assert.equal(logged.status, 200, logged.body.toString());
      assert.deepEqual(logged.json, {});
      assert.equal((await c.post(`${c.mlflow}/runs/log-inputs`, { run_id: run, models: [{ model_id: m1 }] }, saA)).status, 200, 'logging a model input again is a no-op');
      const got = await http(`${c.mlflow}/runs/get?run_id=${run}`, { method: 'GET', token: saA });
      assert.deepEqual(got.json?.['run']['inputs']['model_inputs'], [{ model_id: m1 }, { model_id: m2 }]);
      assert.equal(got.json?.['run']['inputs']['dataset_inputs'].length, 1);
      assert.deepEqual(got.json?.['run']['outputs'], {});
      // An output of one run is still shown beside its inputs.
      assert.equal((await c.post(`${c.mlflow}/runs/outputs`, { run_id: run, models: [{ model_id: m1, step: 3 }] }, saA)).status, 200);
      const searched = await c.post(`${c.mlflow}/runs/search`, { experiment_ids: [exp] }, saA);
      const found = (searched.json?.['runs'] as Json[]).find((r) => r['info']['run_id'] === run) as Json;
      assert.deepEqual(found['inputs']['model_inputs'], [{ model_id: m1 }, { model_id: m2 }]);
      assert.deepEqual(found['outputs'], { model_outputs: [{ model_id: m1, step: 3 }] });

      // A run without model inputs has none on the wire (proto3 JSON omits empty lists).
      const other = await c.newRun(saA);
      assert.deepEqual((await http(`${c.mlflow}/runs/get?run_id=${other.run}`, { method: 'GET', token: saA })).json?.['run']['inputs'], {});
      // Unknown models and another project's models are 404, and the datasets of that call are not recorded either.
      const bExp = await c.newRun(saB);
      const foreign = (await c.post(`${c.mlflow}/logged-models`, { experiment_id: bExp.exp }, saB)).json?.['model']['info']['model_id'] as string;
      const ds2 = { dataset: { name: 'never', digest: 'zzz', source_type: 'local', source: '{}' } };
      mlflowErr(await c.post(`${c.mlflow}/runs/log-inputs`, { run_id: other.run, datasets: [ds2], models: [{ model_id: `m-${'0'.repeat(32)}` }] }, saA), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.post(`${c.mlflow}/runs/log-inputs`, { run_id: other.run, datasets: [ds2], models: [{ model_id: foreign }] }, saA), 404, 'RESOURCE_DOES_NOT_EXIST');
      mlflowErr(await c.post(`${c.mlflow}/runs/log-inputs`, { run_id: other.run, models: [{ id: m1 }] }, saA), 400, 'INVALID_PARAMETER_VALUE');
      mlflowErr(await c.post(`${c.mlflow}/runs/log-inputs`, { run_id: other.run, models: { model_id: m1 } }, saA), 400, 'INVALID_PARAMETER_VALUE');
      assert.deepEqual((await http(`${c.mlflow}/runs/get?run_id=${other.run}`, { method: 'GET', token: saA })).json?.['run']['inputs'], {}, 'nothing half-written');
    });
  });

  test('--public-url: http(s) with an optional path; no query, fragment or credentials; the trailing slash dropped', () => {
    assert.equal(checkedPublicUrl('https://mlflow.example.com/strata/'), 'https://mlflow.example.com/strata');
    assert.equal(checkedPublicUrl('http://10.0.0.5:5000'), 'http://10.0.0.5:5000');
    for (const bad of ['mlflow.example.com', 'ftp://x', 'https://x/?a=1', 'https://x/#f', 'https://u:p@x/', '']) assert.throws(() => checkedPublicUrl(bad), /invalid public URL/);
  });

  test(`multipart upload across a server restart on ${kind}: parts before and after, the same upload completes; --public-url sets where part URLs point`, async () => {
    const db = await freshDatabase(kind);
    const home = mkdtempSync(join(tmpdir(), 'strata-mpu-home-'));
    const env = { STRATA_MASTER_KEY_FILE: undefined, STRATA_MASTER_KEY: undefined };
    const boot = (publicUrl?: string) => createPlatform({ home, ...(kind === 'postgres' ? { databaseUrl: db.url } : {}), logger: false, env, controllers: false, ...(publicUrl === undefined ? {} : { publicUrl }) });
    try {
      const first = await boot();
      const token = first.bootstrapToken as string;
      const base1 = await first.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      const c1 = client(base1, { 'x-strata-project': 'default' });
      const { root } = await c1.newRun(token);
      const data = randomBytes(300_000);
      const [p1, p2, p3] = split(data, 128 * 1024) as [Buffer, Buffer, Buffer];
      const r = await c1.create(root, 'ckpt.bin', 3, token);
      assert.equal(r.status, 200, r.body.toString());
      const id = r.json?.['upload_id'] as string;
      const urls = (r.json?.['credentials'] as Json[]).map((x) => x['url'] as string);
      const e3 = (await c1.putPart(urls[2] as string, p3)).headers.get('etag') as string;
      await first.close();

      const second = await boot('https://mlflow.example.com/strata/');
      try {
        assert.equal(second.bootstrapToken, null, 'the same database');
        const base2 = await second.app.fastify.listen({ host: '127.0.0.1', port: 0 });
        const c2 = client(base2, { 'x-strata-project': 'default' });
        // The part URLs of the first server, at the restarted server's address.
        const moved = (u: string): string => `${base2}${new URL(u).pathname}${new URL(u).search}`;
        const e1 = (await c2.putPart(moved(urls[0] as string), p1)).headers.get('etag') as string;
        const e2 = (await c2.putPart(moved(urls[1] as string), p2)).headers.get('etag') as string;
        const done = await c2.complete(root, 'ckpt.bin', id, [{ part_number: 1, etag: e1 }, { part_number: 2, etag: e2 }, { part_number: 3, etag: e3 }], token);
        assert.equal(done.status, 200, done.body.toString());
        assert.ok((await c2.get(`${root}/ckpt.bin`, token)).body.equals(data));
        assert.deepEqual(readdirSync(join(second.paths.blobs, 'multipart')), [], 'staging is empty again');
        // Behind a reverse proxy the part URLs point at the public URL, whatever Host the request had.
        const behind = await c2.create(root, 'next.bin', 2, token);
        assert.equal(behind.status, 200, behind.body.toString());
        for (const x of behind.json?.['credentials'] as Json[]) assert.ok((x['url'] as string).startsWith(`https://mlflow.example.com/strata/api/2.0/mlflow-artifacts/mpu/parts/${behind.json?.['upload_id'] as string}/${x['part_number'] as number}?expires=`), x['url']);
      } finally {
        await second.close();
      }
    } finally {
      await db.drop();
      rmSync(home, { recursive: true, force: true });
    }
  });
}
