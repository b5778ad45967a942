// Jobs end to end with real processes: a listening server, its local agent (the real Agent over
// HTTP), and raw agent-protocol calls to check fencing. Runs on SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';
import { startLocalAgent } from '../src/api/local-agent.ts';

type Json = Record<string, unknown>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(tp: TestPlatform, project: string, id: string, states: string[], timeoutMs = 20000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await tp.call('GET', `/api/v1/projects/${project}/jobs/${id}`);
    const body = r.body as Json;
    if (states.includes(String(body['state']))) return body;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${String(body['state'])}: ${r.text.slice(0, 500)}`);
    await sleep(50);
  }
}

async function logsOf(tp: TestPlatform, project: string, id: string): Promise<string> {
  const r = await tp.call('GET', `/api/v1/projects/${project}/jobs/${id}/logs`);
  return (r.body as { chunks: { data: string }[] }).chunks.map((c) => c.data).join('');
}

for (const kind of databaseKinds) {
  describe(`jobs on ${kind}`, () => {
    let tp: TestPlatform;
    let url: string;
    const submit = async (spec: Json, project = 'default', token?: string): Promise<{ status: number; body: Json }> => {
      const r = await tp.call('POST', `/api/v1/projects/${project}/jobs`, { body: spec, ...(token === undefined ? {} : { token }) });
      return { status: r.status, body: r.body as Json };
    };

    before(async () => {
      tp = await startTestPlatform(kind, { leaseSeconds: 2 });
      url = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      await startLocalAgent(tp.platform, url);
    });
    after(async () => {
      await tp.close();
    });

    test('the minimal hello spec runs: logs, exit code, transitions, energy and carbon, audit', async () => {
      const r = await submit({ name: 'hello', command: ['sh', '-c', 'echo hello from strata'], resources: { cpu: '100m', memory: '64Mi' } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const job = await waitFor(tp, 'default', String(r.body['id']), ['succeeded', 'failed']);
      assert.equal(job['state'], 'succeeded');
      assert.equal(job['exitCode'], 0);
      assert.equal(await logsOf(tp, 'default', String(job['id'])), 'hello from strata\n');
      const events = (job['events'] as Json[]).map((e) => e['to']);
      assert.deepEqual(events, ['queued', 'admitted', 'placed', 'running', 'succeeded']);
      const attempt = (job['attemptList'] as Json[])[0] as Json;
      const carbon = (attempt['usage'] as Json)['carbon'] as Json;
      assert.deepEqual(Object.keys(carbon).slice(0, 5), ['workload', 'location', 'energy_consumed_kWh', 'carbon_gCO2eq', 'intensity_source']);
      assert.equal(carbon['location'], 'local');
      const audit = (await tp.call('GET', '/api/v1/audit/events?limit=10000')).body as { events: Json[] };
      const mine = audit.events.filter((e) => String(e['resource']).endsWith(String(job['id'])));
      assert.deepEqual(mine.map((e) => e['action']), ['job.submit', 'job.admitted', 'job.placed', 'job.running', 'job.energy', 'job.succeeded']);
    });

    test('a failing command is retried with backoff, then fails with its exit code', async () => {
      const r = await submit({ name: 'flaky', command: ['sh', '-c', 'echo attempt $STRATA_ATTEMPT; exit 3'], maxAttempts: 2, backoff: { initialSeconds: 1, maxSeconds: 1 }, resources: { cpu: '100m', memory: '32Mi' } });
      const job = await waitFor(tp, 'default', String(r.body['id']), ['failed', 'succeeded']);
      assert.equal(job['state'], 'failed');
      assert.equal(job['attempts'], 2);
      assert.equal(job['exitCode'], 3);
      assert.match(String(job['reason']), /attempt 2 of 2 failed: exited with code 3/);
      assert.equal(await logsOf(tp, 'default', String(job['id'])), 'attempt 1\nattempt 2\n');
      const retry = (job['events'] as Json[]).find((e) => String(e['reason']).includes('retrying in'));
      assert.ok(retry, 'the retry and its delay are recorded');
    });

    test('a command that does not exist fails the attempt with a clear message', async () => {
      const r = await submit({ name: 'typo', command: ['definitely-not-a-command-xyz'], maxAttempts: 1, resources: { cpu: '100m', memory: '32Mi' } });
      const job = await waitFor(tp, 'default', String(r.body['id']), ['failed']);
      assert.match(String(job['reason']), /command 'definitely-not-a-command-xyz' was not found/);
    });

    test('cancel stops a running job (SIGTERM to its process group)', async () => {
      const r = await submit({ name: 'sleeper', command: ['sh', '-c', 'echo started; sleep 30'], resources: { cpu: '100m', memory: '32Mi' } });
      const id = String(r.body['id']);
      await waitFor(tp, 'default', id, ['running']);
      for (let i = 0; i < 100 && !(await logsOf(tp, 'default', id)).includes('started'); i++) await sleep(50);
      const c = await tp.call('POST', `/api/v1/projects/default/jobs/${id}/cancel`);
      assert.equal(c.status, 200);
      const job = await waitFor(tp, 'default', id, ['cancelled', 'failed', 'succeeded'], 15000);
      assert.equal(job['state'], 'cancelled');
      assert.equal(job['attempts'], 1, 'a cancelled job is not retried');
    });

    test('maxRuntimeSeconds stops an attempt that runs too long', async () => {
      const r = await submit({ name: 'slow', command: ['sleep', '30'], maxRuntimeSeconds: 1, maxAttempts: 1, resources: { cpu: '100m', memory: '32Mi' } });
      const job = await waitFor(tp, 'default', String(r.body['id']), ['failed'], 15000);
      assert.match(String(job['reason']), /exceeded maxRuntimeSeconds/);
    });

    test('declared secrets reach the process as env; nothing else from the server does', async () => {
      assert.equal((await tp.call('PUT', '/api/v1/projects/default/secrets/db-password', { body: { value: 's3cret-value' } })).status, 200);
      const r = await submit({ name: 'env', command: ['sh', '-c', 'echo "len=${#DB_PASSWORD}"; env | cut -d= -f1 | sort | tr "\\n" " "'], secrets: ['db-password'], resources: { cpu: '100m', memory: '32Mi' } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const job = await waitFor(tp, 'default', String(r.body['id']), ['succeeded', 'failed']);
      const out = await logsOf(tp, 'default', String(job['id']));
      assert.match(out, /^len=12\n/);
      assert.doesNotMatch(out, /STRATA_TEST_DATABASE_URL|STRATA_MASTER_KEY|NODE_OPTIONS|STRATA_HOME/);
      assert.match(out, /STRATA_JOB_ID/);
      const missing = await submit({ name: 'nosecret', command: ['true'], secrets: ['nope'] });
      assert.equal(missing.status, 400);
      assert.match(JSON.stringify(missing.body), /has no secret 'nope'/);
    });

    test('bad specs: field paths, infeasible requests, dangerous env, other projects', async () => {
      const bad = await submit({ name: 'x', comand: ['true'] });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body), /command/);
      const gpu = await submit({ name: 'gpu', command: ['true'], resources: { accelerators: { kind: 'gpu', count: 1, flavors: ['nvidia-h100'] } } });
      assert.equal(gpu.status, 400);
      assert.match(String((gpu.body['error'] as Json)['message']), /no pool can ever run this job: it needs gpu \(nvidia-h100\)/);
      const huge = await submit({ name: 'huge', command: ['true'], resources: { cpu: '5000', memory: '1Gi' } });
      assert.equal(huge.status, 400);
      assert.match(String((huge.body['error'] as Json)['message']), /no node can ever run this job/);
      const region = await submit({ name: 'r', command: ['true'], regions: ['mars'] });
      assert.equal(region.status, 400);
      // LD_PRELOAD: refused for a project editor, allowed for a platform admin.
      assert.equal((await tp.call('POST', '/api/v1/projects', { body: { name: 'p2', team: 'default' } })).status, 201);
      const ed = await tp.user('eddie');
      assert.equal((await tp.call('PUT', '/api/v1/projects/p2/members/eddie', { body: { role: 'editor' } })).status, 200);
      const preload = await submit({ name: 'pre', command: ['true'], env: { LD_PRELOAD: '/tmp/x.so' } }, 'p2', ed);
      assert.equal(preload.status, 400);
      assert.match(JSON.stringify(preload.body), /LD_PRELOAD/);
      const asAdmin = await submit({ name: 'pre', command: ['true'], env: { LD_PRELOAD: '' }, resources: { cpu: '100m', memory: '32Mi' } }, 'p2');
      assert.equal(asAdmin.status, 201);
      // Another project's job id answers 404.
      const own = await submit({ name: 'mine', command: ['true'], resources: { cpu: '100m', memory: '32Mi' } }, 'p2', ed);
      assert.equal(own.status, 201);
      assert.equal((await tp.call('GET', `/api/v1/projects/default/jobs/${String(own.body['id'])}`)).status, 404);
      assert.equal((await tp.call('GET', `/api/v1/projects/default/jobs/${String(own.body['id'])}`, { token: ed })).status, 404);
    });

    test('fencing: a stale lease holder changes nothing and is told to stop; the job runs again', async () => {
      // A second, hand-driven agent with its own node identity.
      const n = await tp.call('POST', '/api/v1/nodes', { body: { name: 'manual-node' } });
      assert.equal(n.status, 201);
      const nodeToken = String((n.body as Json)['token']);
      // User tokens cannot act as agents, and node tokens cannot act as users.
      const reg = { name: 'manual', region: 'local', pool: 'local-cpu', capacity: { cpuMillis: 100000, memoryBytes: 2 ** 40, devices: 0 }, labels: {}, version: 'test' };
      assert.equal((await tp.call('POST', '/api/v1/agent/register', { body: reg })).status, 403);
      assert.equal((await tp.call('GET', '/api/v1/projects', { token: nodeToken })).status, 403);
      const node = (await tp.call('POST', '/api/v1/agent/register', { token: nodeToken, body: reg })).body as Json;
      const nodeId = String(node['id']);
      // Pin a job to this node by asking for a label only it... (first fit prefers the first node; use a big request).
      const r = await submit({ name: 'fenced', command: ['true'], maxAttempts: 3, resources: { cpu: '64', memory: '1Gi' } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = String(r.body['id']);
      let leased: Json | undefined;
      for (let i = 0; i < 100 && leased === undefined; i++) {
        const l = await tp.call('POST', `/api/v1/agent/nodes/${nodeId}/lease`, { token: nodeToken, body: { max: 1, waitSeconds: 0.2 } });
        leased = ((l.body as Json)['attempts'] as Json[])[0];
      }
      assert.ok(leased, 'the manual node leased the job');
      const base = `/api/v1/agent/nodes/${nodeId}/attempts/${String(leased['attemptId'])}`;
      const token = String(leased['leaseToken']);
      assert.equal((await tp.call('POST', `${base}/heartbeat`, { token: nodeToken, body: { leaseToken: token } })).status, 200);
      // Another node may not touch this node's attempts.
      const agentNodes = ((await tp.call('GET', '/api/v1/nodes')).body as { nodes: Json[] }).nodes;
      assert.ok(agentNodes.length >= 2);
      // Stop heartbeating: the lease (2 s) expires and the rescuer makes the job runnable again.
      await waitFor(tp, 'default', id, ['queued', 'placed'], 15000);
      const stale = await tp.call('POST', `${base}/complete`, { token: nodeToken, body: { leaseToken: token, exitCode: 0, reason: 'late', usage: {} } });
      assert.equal(stale.status, 409);
      assert.equal(((stale.body as Json)['error'] as Json)['details'] !== undefined, true);
      assert.match(stale.text, /lease_lost/);
      assert.equal((await tp.call('POST', `${base}/heartbeat`, { token: nodeToken, body: { leaseToken: token } })).status, 409);
      assert.equal((await tp.call('POST', `${base}/logs`, { token: nodeToken, body: { leaseToken: token, chunks: [{ stream: 'stdout', data: 'ghost' }] } })).status, 409);
      assert.doesNotMatch(await logsOf(tp, 'default', id), /ghost/);
      // The job runs again on the manual node (only it is big enough); complete it properly this time.
      let again: Json | undefined;
      for (let i = 0; i < 100 && again === undefined; i++) {
        const l = await tp.call('POST', `/api/v1/agent/nodes/${nodeId}/lease`, { token: nodeToken, body: { max: 1, waitSeconds: 0.2 } });
        again = ((l.body as Json)['attempts'] as Json[])[0];
      }
      assert.ok(again);
      assert.equal(again['number'], 2);
      const done = await tp.call('POST', `/api/v1/agent/nodes/${nodeId}/attempts/${String(again['attemptId'])}/complete`, { token: nodeToken, body: { leaseToken: again['leaseToken'], exitCode: 0, reason: 'exited 0', usage: {} } });
      assert.equal(done.status, 200, done.text);
      // Repeating the same completion is idempotent.
      const repeat = await tp.call('POST', `/api/v1/agent/nodes/${nodeId}/attempts/${String(again['attemptId'])}/complete`, { token: nodeToken, body: { leaseToken: again['leaseToken'], exitCode: 0, reason: 'exited 0', usage: {} } });
      assert.equal(repeat.status, 200);
      const job = await waitFor(tp, 'default', id, ['succeeded']);
      const attempts = job['attemptList'] as Json[];
      assert.deepEqual(attempts.map((a) => a['state']), ['lost', 'succeeded']);
    });
  });
}
