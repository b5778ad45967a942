// Gang jobs end to end (issue 3 §3, issue 4 §3): real agents with one CPU each, real processes
// that rendezvous over TCP at MASTER_ADDR:MASTER_PORT the way torch.distributed's env:// does,
// all-or-nothing placement with a reason while the gang cannot be completed, and failure coupling:
// one replica failing stops the others and the whole gang is retried. SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseKinds } from './support/databases.ts';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';
import { Agent } from '../src/agent/index.ts';
import { StrataClient } from '../src/sdk/index.ts';

type Json = Record<string, unknown>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CONFIG = `
regions:
  - name: local
pools:
  - name: local-cpu
    region: local
    kind: cpu
    flavor: generic
    powerWattsPerDevice: 0
`;

// Rank 0 listens on MASTER_PORT; every other rank connects to MASTER_ADDR:MASTER_PORT (retrying
// until rank 0 is up) and sends its rank; rank 0 exits once it has heard from all of them.
const RENDEZVOUS = `
const net = require('node:net');
const e = process.env;
const rank = Number(e.RANK), world = Number(e.WORLD_SIZE);
console.log('rank=' + e.RANK + ' world=' + e.WORLD_SIZE + ' local=' + e.LOCAL_RANK + '/' + e.LOCAL_WORLD_SIZE + ' master=' + e.MASTER_ADDR + ':' + e.MASTER_PORT);
if (rank === 0) {
  const heard = [];
  const server = net.createServer((s) => s.on('data', (d) => {
    heard.push(String(d).trim());
    if (heard.length === world - 1) { console.log('rank 0 heard ' + heard.sort().join(',')); server.close(); process.exit(0); }
  }));
  server.listen(Number(e.MASTER_PORT), e.MASTER_ADDR);
  if (world === 1) process.exit(0);
} else {
  const attempt = () => {
    const c = net.connect(Number(e.MASTER_PORT), e.MASTER_ADDR, () => c.end('rank-' + rank, () => process.exit(0)));
    c.on('error', () => setTimeout(attempt, 100));
  };
  attempt();
}
setTimeout(() => { console.error('no rendezvous'); process.exit(9); }, 30000).unref();
`;

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

for (const kind of databaseKinds) {
  describe(`gang jobs on ${kind}`, () => {
    let tp: TestPlatform;
    const agents: Agent[] = [];
    const job = async (id: string): Promise<Json> => (await tp.call('GET', `/api/v1/projects/default/jobs/${id}`)).body as Json;
    const submit = async (spec: Json): Promise<string> => {
      const r = await tp.call('POST', '/api/v1/projects/default/jobs', { body: spec });
      assert.equal(r.status, 201, r.text);
      return String((r.body as Json)['id']);
    };
    const ended = (id: string, ms = 30000): Promise<Json> =>
      until(`job ${id} to end`, async () => {
        const j = await job(id);
        return ['succeeded', 'failed', 'cancelled'].includes(String(j['state'])) ? j : undefined;
      }, ms).catch(async (e: unknown) => {
        throw new Error(`${(e as Error).message}: ${JSON.stringify(await job(id)).slice(0, 4000)} logs ${JSON.stringify(await logs(id)).slice(0, 2000)}`);
      });
    const logs = async (id: string): Promise<{ replica: number; data: string; stream: string }[]> =>
      ((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/logs`)).body as { chunks: { replica: number; data: string; stream: string }[] }).chunks;

    before(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'strata-gangs-'));
      writeFileSync(join(dir, 'compute.yaml'), CONFIG);
      tp = await startTestPlatform(kind, { computeConfigPath: join(dir, 'compute.yaml'), leaseSeconds: 2 });
      const url = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
      // Two one-CPU nodes in different racks of the same block.
      for (const [name, rack] of [['gang-a', 'r1'], ['gang-b', 'r2']] as const) {
        const token = String(((await tp.call('POST', '/api/v1/nodes', { body: { name } })).body as Json)['token']);
        const agent = new Agent({
          client: new StrataClient({ server: url, token }),
          name,
          region: 'local',
          pool: 'local-cpu',
          capacity: { cpuMillis: 1000, memoryBytes: 2 * 2 ** 30, devices: 0 },
          labels: { rack, block: 'b1' },
          workRoot: join(dir, name),
          address: '127.0.0.1',
          graceSeconds: 2,
          pollSeconds: 1,
          log: () => undefined,
        });
        await agent.start();
        agents.push(agent);
      }
    });
    after(async () => {
      for (const a of agents) await a.stop(1);
      await tp.close();
    });

    test('a two-replica gang across two nodes rendezvouses at MASTER_ADDR:MASTER_PORT and succeeds as one job', async () => {
      const id = await submit({ name: 'ddp', command: ['node', '-e', RENDEZVOUS], replicas: 2, resources: { cpu: '1', memory: '256Mi' }, maxAttempts: 1 });
      const j = await ended(id);
      assert.equal(j['state'], 'succeeded', JSON.stringify(j).slice(0, 3000));
      assert.match(String(j['reason']), /all 2 replicas of attempt 1 exited 0/);
      const attempts = j['attemptList'] as Json[];
      assert.deepEqual(attempts.map((a) => [a['number'], a['replica'], a['state']]), [[1, 0, 'succeeded'], [1, 1, 'succeeded']]);
      assert.notEqual(attempts[0]?.['nodeId'], attempts[1]?.['nodeId'], 'one CPU per node: the replicas run on different nodes');
      const text = (await logs(id)).filter((c) => c.stream === 'stdout');
      const of = (r: number): string => text.filter((c) => c.replica === r).map((c) => c.data).join('');
      assert.match(of(0), /rank=0 world=2 local=0\/1 master=127\.0\.0\.1:29500/);
      assert.match(of(1), /rank=1 world=2 local=0\/1 master=127\.0\.0\.1:29500/);
      assert.match(of(0), /rank 0 heard rank-1/);
      // One transition to running for the whole gang; each replica's start is audited.
      assert.deepEqual((j['events'] as Json[]).map((e) => e['to']), ['queued', 'admitted', 'placed', 'running', 'succeeded']);
      const audit = (await tp.call('GET', '/api/v1/audit/events?limit=10000&action=job.replica')).body as { events: Json[] };
      assert.equal(audit.events.filter((e) => String(e['resource']).endsWith(id)).length, 2);
    });

    test('replicas that fit on one node share it: LOCAL_RANK and LOCAL_WORLD_SIZE count them there', async () => {
      const id = await submit({ name: 'local-gang', command: ['node', '-e', RENDEZVOUS], replicas: 2, resources: { cpu: '500m', memory: '256Mi' }, maxAttempts: 1 });
      const j = await ended(id);
      assert.equal(j['state'], 'succeeded', JSON.stringify(j).slice(0, 3000));
      const attempts = j['attemptList'] as Json[];
      assert.equal(attempts[0]?.['nodeId'], attempts[1]?.['nodeId'], 'bin-packing keeps a small gang on one node');
      const out = (await logs(id)).filter((c) => c.stream === 'stdout').map((c) => c.data).join('');
      assert.match(out, /rank=0 world=2 local=0\/2/);
      assert.match(out, /rank=1 world=2 local=1\/2/);
    });

    test('a gang that can never be completed waits, all or nothing, and says why; a required rack is honoured', async () => {
      const three = await submit({ name: 'too-big', command: ['true'], replicas: 3, resources: { cpu: '1', memory: '64Mi' } });
      const waiting = await until('a gang-incomplete reason', async () => {
        const j = await job(three);
        return /gang incomplete: 2 of 3 replicas placeable/.test(String(j['reason'])) ? j : undefined;
      });
      assert.equal(waiting['state'], 'queued');
      assert.equal((waiting['attemptList'] as Json[]).length, 0, 'no replica started');
      const rack = await submit({ name: 'one-rack', command: ['true'], replicas: 2, resources: { cpu: '1', memory: '64Mi' }, topology: { level: 'rack', mode: 'required' } });
      await until('a topology reason', async () => {
        const j = await job(rack);
        return /no rack can hold the whole gang/.test(String(j['reason'])) ? j : undefined;
      });
      for (const id of [three, rack]) assert.equal(((await tp.call('POST', `/api/v1/projects/default/jobs/${id}/cancel`)).body as Json)['state'], 'cancelled');
      // The same gang with a preferred block fits (both nodes are in block b1).
      const block = await submit({ name: 'one-block', command: ['true'], replicas: 2, resources: { cpu: '1', memory: '64Mi' }, topology: { level: 'block', mode: 'required' } });
      assert.equal((await ended(block))['state'], 'succeeded');
    });

    test('one replica failing stops the others and the whole gang is retried, then fails', async () => {
      // Rank 1 fails at once; rank 0 would run for ten minutes unless its gang stops it.
      const id = await submit({
        name: 'coupled', command: ['sh', '-c', 'if [ "$RANK" = 1 ]; then sleep 0.3; exit 3; fi; exec sleep 600'],
        replicas: 2, resources: { cpu: '1', memory: '64Mi' }, maxAttempts: 2, backoff: { initialSeconds: 0.2, maxSeconds: 0.2 },
      });
      const j = await ended(id);
      assert.equal(j['state'], 'failed');
      assert.equal(j['exitCode'], 3);
      assert.match(String(j['reason']), /replica 1 of attempt 2 of 2 failed: exited with code 3/);
      const attempts = await until('both rank-0 replicas to have stopped', async () => {
        const list = (await job(id))['attemptList'] as Json[];
        return list.length === 4 && list.every((a) => a['endedAt'] !== null) ? list : undefined;
      });
      assert.deepEqual(attempts.map((a) => [a['number'], a['replica'], a['state']]), [[1, 0, 'cancelled'], [1, 1, 'failed'], [2, 0, 'cancelled'], [2, 1, 'failed']]);
      for (const a of attempts.filter((x) => x['replica'] === 0)) {
        // Stopped within a few heartbeats of the failure, not after ten minutes.
        assert.ok(Date.parse(String(a['endedAt'])) - Date.parse(String(a['startedAt'])) < 15000, JSON.stringify(a));
      }
      const events = (j['events'] as Json[]).map((e) => e['to']);
      assert.deepEqual(events, ['queued', 'admitted', 'placed', 'running', 'queued', 'admitted', 'placed', 'running', 'failed']);
    });

    test('cancelling a running gang stops every replica', async () => {
      const id = await submit({ name: 'cancel-me', command: ['sleep', '600'], replicas: 2, resources: { cpu: '1', memory: '64Mi' }, maxAttempts: 1 });
      await until('both replicas running', async () => {
        const list = (await job(id))['attemptList'] as Json[];
        return list.length === 2 ? list : undefined;
      });
      await tp.call('POST', `/api/v1/projects/default/jobs/${id}/cancel`);
      const j = await ended(id);
      assert.equal(j['state'], 'cancelled');
      const attempts = await until('both replicas to have stopped', async () => {
        const list = (await job(id))['attemptList'] as Json[];
        return list.every((a) => a['endedAt'] !== null) ? list : undefined;
      });
      assert.deepEqual(attempts.map((a) => a['state']), ['cancelled', 'cancelled']);
    });
  });
}

test('a gang replica whose node goes silent is lost: the gang stops and is placed again; a draining node gives back the replica it never started', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-gangs-lost-'));
  writeFileSync(join(dir, 'compute.yaml'), CONFIG);
  const tp = await startTestPlatform('sqlite', { computeConfigPath: join(dir, 'compute.yaml'), leaseSeconds: 1 });
  let agent: Agent | undefined;
  try {
    const url = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
    const tokenOf = async (name: string): Promise<string> => String(((await tp.call('POST', '/api/v1/nodes', { body: { name } })).body as Json)['token']);
    agent = new Agent({
      client: new StrataClient({ server: url, token: await tokenOf('real') }), name: 'real', region: 'local', pool: 'local-cpu',
      capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30, devices: 0 }, workRoot: join(dir, 'real'), address: '127.0.0.1', graceSeconds: 1, pollSeconds: 1, log: () => undefined,
    });
    await agent.start();
    // A hand-driven node: it leases what is placed on it, then never heartbeats again.
    const handToken = await tokenOf('hand');
    const reg = { name: 'hand', region: 'local', pool: 'local-cpu', capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30, devices: 0 }, labels: {}, version: 'test', address: '127.0.0.1' };
    const handId = String(((await tp.call('POST', '/api/v1/agent/register', { token: handToken, body: reg })).body as Json)['id']);
    const r = await tp.call('POST', '/api/v1/projects/default/jobs', { body: { name: 'fragile', command: ['sleep', '600'], replicas: 2, resources: { cpu: '1', memory: '64Mi' }, maxAttempts: 3, backoff: { initialSeconds: 0.1, maxSeconds: 0.1 } } });
    assert.equal(r.status, 201, r.text);
    const id = String((r.body as Json)['id']);
    const job = async (): Promise<Json> => (await tp.call('GET', `/api/v1/projects/default/jobs/${id}`)).body as Json;
    const leased = await until('the hand node to lease its replica', async () => {
      const l = await tp.call('POST', `/api/v1/agent/nodes/${handId}/lease`, { token: handToken, body: { max: 4, waitSeconds: 0.2 } });
      return ((l.body as Json)['attempts'] as Json[])[0];
    });
    const gang = leased['gang'] as Json;
    assert.equal(gang['worldSize'], 2);
    assert.equal(gang['masterAddr'], '127.0.0.1');
    // Its lease expires: that replica is lost, the other one is told to stop, and the gang runs again.
    await until('the lost replica to requeue the gang', async () => {
      const j = await job();
      return (j['events'] as Json[]).some((e) => /lost: its lease expired.*the gang stops/.test(String(e['reason']))) ? j : undefined;
    });
    const first = await until('the real replica of attempt 1 to stop', async () => {
      const a = ((await job())['attemptList'] as Json[]).filter((x) => x['number'] === 1);
      return a.every((x) => x['endedAt'] !== null) ? a : undefined;
    });
    assert.deepEqual(first.map((a) => a['state']).sort(), ['cancelled', 'lost']);
    // Attempt 2 is placed on both nodes again; the hand node drains without leasing: the gang goes back whole.
    await until('attempt 2 to start on the real node', async () => {
      const j = await job();
      return j['state'] === 'running' && j['attempts'] === 2 ? j : undefined;
    });
    const drained = await tp.call('POST', `/api/v1/agent/nodes/${handId}/drain`, { token: handToken });
    assert.equal((drained.body as Json)['requeued'], 1, drained.text);
    const back = await until('the gang to wait for room again', async () => {
      const j = await job();
      return j['state'] === 'queued' && /gang incomplete: 1 of 2/.test(String(j['reason'])) ? j : undefined;
    });
    assert.equal(back['maxAttempts'], 4, 'the node failed attempt 2, not the job: the attempt is given back');
    const second = await until('the real replica of attempt 2 to stop', async () => {
      const a = ((await job())['attemptList'] as Json[]).filter((x) => x['number'] === 2);
      return a.length === 1 && a.every((x) => x['endedAt'] !== null) ? a : undefined;
    });
    assert.equal(second[0]?.['state'], 'cancelled');
  } finally {
    await agent?.stop(1);
    await tp.close();
  }
});
