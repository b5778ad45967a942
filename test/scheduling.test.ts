// The hybrid scheduler wired into the job system (issue 4): team quotas from the compute config,
// a waiting job's reason (audited when it changes), and within-team priority preemption carried
// out through the agent protocol — the victim is told to stop at its next heartbeat, requeues
// without spending an attempt, and the higher-priority job starts on the freed room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';

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
quotas:
  - team: default
    flavors:
      generic: {nominal: {cpu: 2, memoryGiB: 8}}
`;

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function job(tp: TestPlatform, id: string): Promise<Json> {
  return (await tp.call('GET', `/api/v1/projects/default/jobs/${id}`)).body as Json;
}

test('quotas, waiting reasons and priority preemption through the job system (hand-driven agent)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-sched-'));
  writeFileSync(join(dir, 'compute.yaml'), CONFIG);
  const tp = await startTestPlatform('sqlite', { computeConfigPath: join(dir, 'compute.yaml'), leaseSeconds: 30 });
  try {
    const n = await tp.call('POST', '/api/v1/nodes', { body: { name: 'sched-node' } });
    const nodeToken = String((n.body as Json)['token']);
    const reg = { name: 'sched-node', region: 'local', pool: 'local-cpu', capacity: { cpuMillis: 8000, memoryBytes: 32 * 2 ** 30, devices: 0 }, labels: {}, version: 'test' };
    const nodeId = String(((await tp.call('POST', '/api/v1/agent/register', { token: nodeToken, body: reg })).body as Json)['id']);
    const lease = async (): Promise<Json | undefined> => {
      const l = await tp.call('POST', `/api/v1/agent/nodes/${nodeId}/lease`, { token: nodeToken, body: { max: 1, waitSeconds: 0.2 } });
      return ((l.body as Json)['attempts'] as Json[])[0];
    };
    const submit = async (name: string, cpu: string, priorityClass: string): Promise<string> => {
      // Only jobs that say they may be preempted ever are (spec field preemptible).
      const r = await tp.call('POST', '/api/v1/projects/default/jobs', { body: { name, command: ['sleep', '600'], priorityClass, preemptible: priorityClass === 'low', maxAttempts: 1, resources: { cpu, memory: '1Gi' } } });
      assert.equal(r.status, 201, r.text);
      return String((r.body as Json)['id']);
    };

    // Two low-priority jobs fill the team's 2-core quota; a third waits, over quota, and says so.
    const a = await submit('low-a', '1', 'low');
    const b = await submit('low-b', '1', 'low');
    const leased = [await until('lease 1', lease), await until('lease 2', lease)];
    assert.deepEqual(leased.map((l) => l['jobId']).sort(), [a, b].sort());
    const c = await submit('low-c', '1', 'low');
    const waiting = await until('an over-quota reason', async () => {
      const j = await job(tp, c);
      return String(j['reason']).startsWith('over quota') ? j : undefined;
    });
    assert.equal(waiting['state'], 'queued');
    assert.match(String(waiting['reason']), /generic: over-quota/);
    const audit = (await tp.call('GET', '/api/v1/audit/events?limit=10000&action=job.delayed')).body as { events: Json[] };
    assert.ok(audit.events.some((e) => String(e['resource']).endsWith(c)), 'the delay is audited');

    // A high-priority job preempts one of the low ones (never the other way round).
    const h = await submit('high', '1', 'high');
    const victimAttempt = await until(`a preemption request at a heartbeat`, async () => {
      for (const l of leased) {
        const hb = await tp.call('POST', `/api/v1/agent/nodes/${nodeId}/attempts/${String(l['attemptId'])}/heartbeat`, { token: nodeToken, body: { leaseToken: l['leaseToken'] } });
        const body = hb.body as { cancel: boolean; reason?: string };
        if (body.cancel) return { l, reason: body.reason };
      }
      return undefined;
    });
    assert.match(String(victimAttempt.reason), /preempted/);
    const victim = String(victimAttempt.l['jobId']);
    assert.ok([a, b].includes(victim));
    assert.equal((await job(tp, h))['state'], 'queued', 'the preemptor waits until the victim has stopped');
    // The agent stops the victim and reports; the victim requeues without spending its only attempt.
    const done = await tp.call('POST', `/api/v1/agent/nodes/${nodeId}/attempts/${String(victimAttempt.l['attemptId'])}/complete`, { token: nodeToken, body: { leaseToken: victimAttempt.l['leaseToken'], exitCode: null, reason: 'stopped: preempted', usage: {} } });
    assert.equal(done.status, 200, done.text);
    const requeued = await job(tp, victim);
    assert.equal(requeued['state'], 'queued');
    assert.equal(requeued['maxAttempts'], 2, 'the preempted attempt was given back');
    const back = (requeued['events'] as Json[]).find((e) => e['from'] === 'running' && e['to'] === 'queued');
    assert.match(String(back?.['reason']), /preempted by higher-priority work; requeued/);
    const next = await until('the preemptor to be leased', lease);
    assert.equal(next['jobId'], h);
    const preemptions = (await tp.call('GET', '/api/v1/audit/events?limit=10000&action=job.preempt')).body as { events: Json[] };
    assert.equal(preemptions.events.filter((e) => String(e['resource']).endsWith(victim)).length, 1);
  } finally {
    await tp.close();
  }
});

test('backfill around a reservation: a short job with a declared max runtime starts; one that could delay the head job waits and says why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-backfill-'));
  writeFileSync(join(dir, 'compute.yaml'), CONFIG.replace(/quotas:[\s\S]*$/, ''));
  const tp = await startTestPlatform('sqlite', { computeConfigPath: join(dir, 'compute.yaml'), leaseSeconds: 30 });
  try {
    const n = await tp.call('POST', '/api/v1/nodes', { body: { name: 'bf-node' } });
    const nodeToken = String((n.body as Json)['token']);
    const reg = { name: 'bf-node', region: 'local', pool: 'local-cpu', capacity: { cpuMillis: 4000, memoryBytes: 16 * 2 ** 30, devices: 0 }, labels: {}, version: 'test' };
    const nodeId = String(((await tp.call('POST', '/api/v1/agent/register', { token: nodeToken, body: reg })).body as Json)['id']);
    const lease = async (): Promise<Json | undefined> => {
      const l = await tp.call('POST', `/api/v1/agent/nodes/${nodeId}/lease`, { token: nodeToken, body: { max: 1, waitSeconds: 0.2 } });
      return ((l.body as Json)['attempts'] as Json[])[0];
    };
    const submit = async (name: string, cpu: string, extra: Json = {}): Promise<string> => {
      const r = await tp.call('POST', '/api/v1/projects/default/jobs', { body: { name, command: ['sleep', '600'], maxAttempts: 1, resources: { cpu, memory: '1Gi' }, ...extra } });
      assert.equal(r.status, 201, r.text);
      return String((r.body as Json)['id']);
    };
    // A 3-CPU job runs for at most an hour; the 4-CPU head job must wait for it and gets a reservation.
    const running = await submit('running', '3', { maxRuntimeSeconds: 3600 });
    assert.equal((await until('the first lease', lease))['jobId'], running);
    const head = await submit('head', '4');
    await until('the head job to hold a reservation', async () => {
      const j = await job(tp, head);
      return /holds a reservation in pool local-cpu/.test(String(j['reason'])) ? j : undefined;
    });
    // A 1-CPU job with no declared runtime could still be running when the head job is due: it waits.
    const open = await submit('open-ended', '1');
    const held = await until('the open-ended job to wait for the reservation', async () => {
      const j = await job(tp, open);
      return /capacity reserved for .* until/.test(String(j['reason'])) ? j : undefined;
    });
    assert.equal(held['state'], 'queued');
    // A 1-CPU job that declares it ends within ten minutes fits before the reservation: it backfills.
    const short = await submit('short', '1', { maxRuntimeSeconds: 600 });
    const leased = await until('the short job to be leased', lease);
    assert.equal(leased['jobId'], short);
    const events = (await job(tp, short))['events'] as Json[];
    assert.match(String(events.find((e) => e['to'] === 'admitted')?.['reason']), /backfill/);
    assert.equal((await job(tp, open))['state'], 'queued');
  } finally {
    await tp.close();
  }
});
