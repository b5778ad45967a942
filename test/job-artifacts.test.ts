// Outputs and checkpoints through the blob store (issue 3, items 3 and 5), end to end with the real
// agent and real processes: an attempt that fails leaves a checkpoint; the retry gets it back in
// STRATA_CHECKPOINT_DIR and succeeds; its outputs are listed and downloaded (whole and by range);
// a stale lease holder can neither upload nor commit; manifests with escaping paths or digests
// that were never uploaded are refused and nothing is recorded. SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';
import { startLocalAgent } from '../src/api/local-agent.ts';

type Json = Record<string, unknown>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(tp: TestPlatform, id: string, states: string[], timeoutMs = 30000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await tp.call('GET', `/api/v1/projects/default/jobs/${id}`);
    const body = r.body as Json;
    if (states.includes(String(body['state']))) return body;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${String(body['state'])}: ${r.text.slice(0, 800)}`);
    await sleep(50);
  }
}

const RESUMABLE = [
  'if [ -f "$STRATA_CHECKPOINT_DIR/step" ]; then',
  '  echo "resumed from step $(cat "$STRATA_CHECKPOINT_DIR/step") and $(cat "$STRATA_CHECKPOINT_DIR/deep/state")"',
  '  mkdir -p out/plots && echo final > out/result.txt && seq 1 20000 > out/plots/numbers.txt',
  '  echo 2 > "$STRATA_CHECKPOINT_DIR/step"',
  '  exit 0',
  'fi',
  'echo 1 > "$STRATA_CHECKPOINT_DIR/step"; mkdir -p "$STRATA_CHECKPOINT_DIR/deep"; echo warm > "$STRATA_CHECKPOINT_DIR/deep/state"',
  'echo "first attempt: checkpoint written, failing on purpose"; exit 1',
].join('\n');

for (const kind of databaseKinds) {
  describe(`job outputs and checkpoints on ${kind}`, () => {
    let tp: TestPlatform;
    before(async () => {
      tp = await startTestPlatform(kind, { leaseSeconds: 3 });
      const url = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      await startLocalAgent(tp.platform, url);
    });
    after(async () => {
      await tp.close();
    });

    test('a retried attempt resumes from the checkpoint; outputs are stored, listed and downloaded', async () => {
      const r = await tp.call('POST', '/api/v1/projects/default/jobs', {
        body: { name: 'resumable', command: ['sh', '-c', RESUMABLE], checkpointDir: 'ckpt', outputs: ['out', 'missing.txt'], maxAttempts: 2, backoff: { initialSeconds: 1, maxSeconds: 1 }, resources: { cpu: '100m', memory: '64Mi' } },
      });
      assert.equal(r.status, 201, r.text);
      const id = String((r.body as Json)['id']);
      const job = await waitFor(tp, id, ['succeeded', 'failed']);
      const logs = ((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/logs`)).body as { chunks: { data: string }[] }).chunks.map((c) => c.data).join('');
      assert.equal(job['state'], 'succeeded', logs);
      assert.equal(job['attempts'], 2);
      assert.match(logs, /restored the checkpoint of attempt 1 into STRATA_CHECKPOINT_DIR \(2 files, 7 bytes\)/);
      assert.match(logs, /resumed from step 1 and warm/);
      assert.match(logs, /declared output missing\.txt was not produced/);

      const list = (await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts`)).body as { artifacts: Json[] };
      const summary = list.artifacts.map((a) => `${String(a['attempt'])} ${String(a['kind'])} ${String(a['path'])} ${String(a['size'])}`);
      const numbers = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
      assert.deepEqual(summary, [
        '1 checkpoint deep/state 5',
        '1 checkpoint step 2',
        '2 checkpoint deep/state 5',
        '2 checkpoint step 2',
        `2 output out/plots/numbers.txt ${Buffer.byteLength(numbers)}`,
        '2 output out/result.txt 6',
      ]);
      const digest = list.artifacts.find((a) => a['path'] === 'out/plots/numbers.txt')?.['digest'];
      assert.equal(digest, `sha256:${createHash('sha256').update(numbers).digest('hex')}`);
      // Identical content is stored once (the two attempts' deep/state share a digest).
      const states = list.artifacts.filter((a) => a['path'] === 'deep/state').map((a) => a['digest']);
      assert.equal(new Set(states).size, 1);

      const whole = await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/output/out/plots/numbers.txt`);
      assert.equal(whole.status, 200);
      assert.equal(whole.text, numbers);
      assert.equal(whole.headers['x-strata-attempt'], '2');
      const part = await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/output/out/plots/numbers.txt`, { headers: { range: 'bytes=2-9' } });
      assert.equal(part.status, 206);
      assert.equal(part.text, numbers.slice(2, 10));
      assert.equal(part.headers['content-range'], `bytes 2-9/${Buffer.byteLength(numbers)}`);
      const checkpoint1 = await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/checkpoint/step?attempt=1`);
      assert.equal(checkpoint1.text, '1\n');
      const latest = await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/checkpoint/step`);
      assert.equal(latest.text, '2\n');
      assert.equal((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/output/out/result.txt`, { headers: { range: 'bytes=100-' } })).status, 416);
      assert.equal((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/output/nope.txt`)).status, 404);
      const traversal = await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/output/out/%2e%2e/%2e%2e/etc/passwd`);
      assert.equal(traversal.status, 400, traversal.text);

      const audit = (await tp.call('GET', '/api/v1/audit/events?limit=10000')).body as { events: Json[] };
      const mine = audit.events.filter((e) => String(e['resource']).endsWith(id)).map((e) => e['action']);
      assert.deepEqual(mine.filter((a) => a === 'job.checkpoint' || a === 'job.outputs'), ['job.checkpoint', 'job.outputs', 'job.checkpoint']);
    });

    test('agent uploads are fenced and manifests are checked: nothing is recorded for bad ones', async () => {
      const n = await tp.call('POST', '/api/v1/nodes', { body: { name: 'artifact-node' } });
      const nodeToken = String((n.body as Json)['token']);
      const reg = { name: 'artifact-node', region: 'local', pool: 'local-cpu', capacity: { cpuMillis: 100000, memoryBytes: 2 ** 40, devices: 0 }, labels: {}, version: 'test' };
      const nodeId = String(((await tp.call('POST', '/api/v1/agent/register', { token: nodeToken, body: reg })).body as Json)['id']);
      const r = await tp.call('POST', '/api/v1/projects/default/jobs', { body: { name: 'manual', command: ['true'], outputs: ['o'], resources: { cpu: '64', memory: '1Gi' } } });
      const id = String((r.body as Json)['id']);
      let leased: Json | undefined;
      for (let i = 0; i < 100 && leased === undefined; i++) {
        const l = await tp.call('POST', `/api/v1/agent/nodes/${nodeId}/lease`, { token: nodeToken, body: { max: 1, waitSeconds: 0.2 } });
        leased = ((l.body as Json)['attempts'] as Json[])[0];
      }
      assert.ok(leased);
      const base = `/api/v1/agent/nodes/${nodeId}/attempts/${String(leased['attemptId'])}`;
      const token = String(leased['leaseToken']);
      const put = (body: string, leaseToken: string | undefined, contentType = 'application/octet-stream') =>
        tp.call('PUT', `${base}/blobs`, { token: nodeToken, raw: body, headers: { 'content-type': contentType, ...(leaseToken === undefined ? {} : { 'x-strata-lease-token': leaseToken }) } });

      assert.equal((await put('data', undefined)).status, 400);
      assert.equal((await put('data', 'not-the-token')).status, 409);
      assert.equal((await put('{"a":1}', token, 'application/json')).status, 415);
      const ok = await put('hello artifact', token);
      assert.equal(ok.status, 201, ok.text);
      const { digest, size } = ok.body as { digest: string; size: number };
      assert.equal(digest, `sha256:${createHash('sha256').update('hello artifact').digest('hex')}`);
      assert.equal(size, 14);

      const commit = (files: Json[], leaseToken = token) => tp.call('POST', `${base}/artifacts`, { token: nodeToken, body: { leaseToken, kind: 'output', files } });
      const bad: [Json[], number, RegExp][] = [
        [[{ path: '../escape', digest, size }], 400, /path/],
        [[{ path: '/etc/passwd', digest, size }], 400, /path/],
        [[{ path: 'o/%2e%2e/%2e%2e/x', digest, size }], 400, /path/],
        [[{ path: 'o/x', digest: `sha256:${'0'.repeat(64)}`, size: 1 }], 400, /was not uploaded/],
        [[{ path: 'o/x', digest: 'sha256:zz', size: 1 }], 400, /digest/],
        [[{ path: 'o/x', digest, size: 15 }], 400, /stated size 15/],
        [[{ path: 'o/x', digest, size }, { path: 'o/x', digest, size }], 400, /twice/],
      ];
      for (const [files, status, message] of bad) {
        const res = await commit(files);
        assert.equal(res.status, status, `${JSON.stringify(files)}: ${res.text}`);
        assert.match(res.text, message);
      }
      assert.equal((await commit([{ path: 'o/x', digest, size }], 'stale')).status, 409);
      assert.deepEqual(((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts`)).body as { artifacts: Json[] }).artifacts, []);

      assert.equal((await commit([{ path: 'o/x', digest, size }])).status, 200);
      assert.equal((await commit([{ path: 'o/x', digest, size }])).status, 200, 'committing the same manifest again is a no-op');
      const other = await put('other content', token);
      const conflict = await commit([{ path: 'o/x', digest: (other.body as Json)['digest'], size: 13 }]);
      assert.equal(conflict.status, 409, conflict.text);
      // After completion the lease is gone: no more uploads or commits.
      assert.equal((await tp.call('POST', `${base}/complete`, { token: nodeToken, body: { leaseToken: token, exitCode: 0, reason: 'exited 0', usage: {} } })).status, 200);
      assert.equal((await put('late', token)).status, 409);
      assert.equal((await commit([{ path: 'o/y', digest, size }])).status, 409);
      const list = ((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts`)).body as { artifacts: Json[] }).artifacts;
      assert.deepEqual(list.map((a) => a['path']), ['o/x']);
      // A user token is not an agent, and another project's users do not see the job's files.
      assert.equal((await tp.call('PUT', `${base}/blobs`, { raw: 'x', headers: { 'content-type': 'application/octet-stream', 'x-strata-lease-token': token } })).status, 403);
      const stranger = await tp.user('artifact-stranger');
      assert.equal((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/output/o/x`, { token: stranger })).status, 404);
    });
  });
}
