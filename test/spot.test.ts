// Spot capacity (issue 4 §4): a preemptible job on a spot node whose capacity is reclaimed (a spot
// interruption notice, or an operator) is stopped at its next heartbeat, saves its checkpoint,
// requeues without spending an attempt and resumes from the checkpoint on another node. Real agents,
// real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestPlatform } from './support/platform.ts';
import { Agent } from '../src/agent/index.ts';
import { StrataClient } from '../src/sdk/index.ts';

type Json = Record<string, unknown>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CONFIG = `
regions:
  - name: local
pools:
  - name: spot-cpu
    region: local
    kind: cpu
    flavor: generic
    capacityType: spot
    powerWattsPerDevice: 0
`;

// Counts to 30 in steps of 50 ms, keeping the step in the checkpoint; SIGTERM saves and exits.
const TRAINER = `
step=$(cat "$STRATA_CHECKPOINT_DIR/step" 2>/dev/null || echo 0)
echo "resuming at step $step"
trap 'echo $step > "$STRATA_CHECKPOINT_DIR/step"; echo "checkpointed at step $step"; exit 143' TERM
while [ "$step" -lt 30 ]; do step=$((step+1)); echo $step > "$STRATA_CHECKPOINT_DIR/step"; sleep 0.05; done
echo "done at step $step"
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

test('reclaiming a spot node preempts its job: checkpoint kept, requeued without spending an attempt, resumed elsewhere', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-spot-'));
  writeFileSync(join(dir, 'compute.yaml'), CONFIG);
  const tp = await startTestPlatform('sqlite', { computeConfigPath: join(dir, 'compute.yaml'), leaseSeconds: 1 });
  const agents: Agent[] = [];
  try {
    const url = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
    const startAgent = async (name: string): Promise<string> => {
      const token = String(((await tp.call('POST', '/api/v1/nodes', { body: { name } })).body as Json)['token']);
      const agent = new Agent({ client: new StrataClient({ server: url, token }), name, region: 'local', pool: 'spot-cpu', capacity: { cpuMillis: 1000, memoryBytes: 2 ** 30, devices: 0 }, workRoot: join(dir, name), graceSeconds: 5, pollSeconds: 1, log: () => undefined });
      const node = await agent.start();
      agents.push(agent);
      return node.id;
    };
    const first = await startAgent('spot-a');
    const r = await tp.call('POST', '/api/v1/projects/default/jobs', { body: { name: 'trainer', command: ['sh', '-c', TRAINER], preemptible: true, checkpointDir: 'ckpt', maxAttempts: 1, resources: { cpu: '1', memory: '64Mi' } } });
    assert.equal(r.status, 201, r.text);
    const id = String((r.body as Json)['id']);
    const job = async (): Promise<Json> => (await tp.call('GET', `/api/v1/projects/default/jobs/${id}`)).body as Json;
    await until('a few steps on the first node', async () => {
      const logs = (await tp.call('GET', `/api/v1/projects/default/jobs/${id}/logs`)).body as { chunks: { data: string }[] };
      return logs.chunks.some((c) => c.data.includes('resuming at step 0')) ? true : undefined;
    });
    await sleep(300);
    // A user may not reclaim capacity; the platform administrator may.
    assert.equal((await tp.call('POST', `/api/v1/nodes/${first}/reclaim`, { token: await tp.user('mallory'), body: {} })).status, 403);
    const rec = await tp.call('POST', `/api/v1/nodes/${first}/reclaim`, { body: { reason: 'spot interruption notice, 2 minutes' } });
    assert.equal(rec.status, 200, rec.text);
    assert.deepEqual(rec.body, { requeued: 0, stopping: 1 });
    // It stops, stores its checkpoint and waits for room: the reclaimed node takes nothing more.
    const waiting = await until('the job to requeue', async () => {
      const j = await job();
      return j['state'] === 'queued' ? j : undefined;
    });
    assert.equal(waiting['maxAttempts'], 2, 'the preempted attempt was given back');
    assert.ok((waiting['events'] as Json[]).some((e) => /stopped: its node's spot capacity was reclaimed; requeued \(checkpoint kept\)/.test(String(e['reason']))));
    await sleep(1500);
    assert.equal((await job())['state'], 'queued');
    await startAgent('spot-b');
    const done = await until('the job to finish on the second node', async () => {
      const j = await job();
      return j['state'] === 'succeeded' || j['state'] === 'failed' ? j : undefined;
    });
    assert.equal(done['state'], 'succeeded');
    const attempts = done['attemptList'] as Json[];
    assert.deepEqual(attempts.map((a) => [a['node'], a['state']]), [['spot-a', 'preempted'], ['spot-b', 'succeeded']]);
    const text = ((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/logs`)).body as { chunks: { data: string }[] }).chunks.map((c) => c.data).join('');
    const saved = Number(/checkpointed at step (\d+)/.exec(text)?.[1]);
    assert.ok(saved > 0 && saved < 30, text);
    assert.match(text, new RegExp(`resuming at step ${saved}\\n`));
    assert.match(text, /done at step 30/);
    const audit = (await tp.call('GET', '/api/v1/audit/events?limit=10000')).body as { events: Json[] };
    assert.ok(audit.events.some((e) => e['action'] === 'node.reclaim'));
    assert.ok(audit.events.some((e) => e['action'] === 'job.preempt' && String(e['resource']).endsWith(id)));
  } finally {
    for (const a of agents) await a.stop(1);
    await tp.close();
  }
});
