// Built-in job kinds (issue 6, "As jobs"): a quantum circuit and a spiking network submitted as
// jobs run through the real agent as `strata job-exec`, their result lands as the output
// result.json and their summary numbers as metrics of the attempt's run; malformed circuits and
// networks are refused at submit with the engine's precise message.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startTestPlatform } from './support/platform.ts';
import type { TestPlatform } from './support/platform.ts';
import { startLocalAgent } from '../src/api/local-agent.ts';

type Json = Record<string, unknown>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const EXAMPLES = resolve(import.meta.dirname, '..', 'examples');

async function finished(tp: TestPlatform, id: string): Promise<Json> {
  for (let i = 0; i < 1200; i++) {
    const job = (await tp.call('GET', `/api/v1/projects/default/jobs/${id}`)).body as Json;
    if (job['state'] === 'succeeded' || job['state'] === 'failed') return job;
    await sleep(50);
  }
  throw new Error(`job ${id} did not finish`);
}

async function runMetrics(tp: TestPlatform, id: string): Promise<Record<string, unknown>> {
  const runs = await tp.call('POST', '/api/2.0/mlflow/runs/search', { body: { experiment_ids: ['0'], filter: `tags.\`strata.job_id\` = '${id}'` }, headers: { 'x-strata-project': 'default' } });
  const run = ((runs.body as { runs?: { data: { metrics?: Json[] } }[] }).runs ?? [])[0];
  return Object.fromEntries((run?.data.metrics ?? []).map((m) => [String(m['key']), m['value']]));
}

describe('built-in job kinds (sqlite, real agent)', () => {
  let tp: TestPlatform;
  before(async () => {
    tp = await startTestPlatform('sqlite', { leaseSeconds: 5 });
    const url = await tp.platform.app.fastify.listen({ host: '127.0.0.1', port: 0 });
    await startLocalAgent(tp.platform, url);
  });
  after(async () => {
    await tp.close();
  });

  test('a quantum-circuit job: probabilities and counts in result.json, metrics in its run', async () => {
    const qasm = readFileSync(resolve(EXAMPLES, 'quantum', 'bell.qasm'), 'utf8');
    const r = await tp.call('POST', '/api/v1/projects/default/jobs', { body: { name: 'bell', kind: 'quantum-circuit', quantum: { qasm, shots: 1000, seed: 7, observables: ['ZZ'] }, resources: { cpu: '500m', memory: '256Mi' } } });
    assert.equal(r.status, 201, r.text);
    const id = String((r.body as Json)['id']);
    const job = await finished(tp, id);
    const logs = ((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/logs`)).body as { chunks: { data: string }[] }).chunks.map((c) => c.data).join('');
    assert.equal(job['state'], 'succeeded', logs);
    assert.match(logs, /2 qubits/);
    assert.match(logs, /logged \d+ metrics to run/);
    const result = JSON.parse((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/output/result.json`)).text) as { kind: string; probabilities: Record<string, number>; counts: Record<string, number>; expectations: Record<string, number> };
    assert.equal(result.kind, 'quantum-circuit');
    assert.ok(Math.abs((result.probabilities['00'] ?? 0) - 0.5) < 1e-12 && Math.abs((result.probabilities['11'] ?? 0) - 0.5) < 1e-12);
    assert.equal((result.counts['00'] ?? 0) + (result.counts['11'] ?? 0), 1000);
    assert.match(logs, /stored result\.json as an artifact of run/);
    const runId = /artifact of run ([0-9a-f]+)/.exec(logs)?.[1] ?? '';
    const artifact = await tp.call('GET', `/api/2.0/mlflow/artifacts/list?run_id=${runId}`);
    assert.equal(artifact.status, 200, artifact.text);
    assert.match(artifact.text, /result\.json/);
    const metrics = await runMetrics(tp, id);
    assert.equal(metrics['quantum/qubits'], 2);
    assert.equal(metrics['quantum/shots'], 1000);
    assert.ok(Math.abs(Number(metrics['quantum/expectation/ZZ']) - 1) < 1e-9, JSON.stringify(metrics));
  });

  test('a spiking-network job: rates and CV in result.json and as run metrics', async () => {
    const network: unknown = parseYaml(readFileSync(resolve(EXAMPLES, 'spiking', 'cuba.yaml'), 'utf8'));
    const r = await tp.call('POST', '/api/v1/projects/default/jobs', { body: { name: 'cuba', kind: 'spiking-network', spiking: { network, duration_ms: 200, seed: 3 }, resources: { cpu: '500m', memory: '512Mi' } } });
    assert.equal(r.status, 201, r.text);
    const id = String((r.body as Json)['id']);
    const job = await finished(tp, id);
    assert.equal(job['state'], 'succeeded', JSON.stringify(job['reason']));
    const result = JSON.parse((await tp.call('GET', `/api/v1/projects/default/jobs/${id}/artifacts/output/result.json`)).text) as { kind: string; populations: { name: string; rate_hz: number }[] };
    assert.equal(result.kind, 'spiking-network');
    assert.deepEqual(result.populations.map((p) => p.name), ['exc', 'inh']);
    assert.ok(result.populations.every((p) => p.rate_hz > 0));
    const metrics = await runMetrics(tp, id);
    assert.ok(Object.keys(metrics).some((k) => k.startsWith('spiking/')), JSON.stringify(metrics));
  });

  test('malformed circuits and networks are refused at submit with the engine\'s message; nothing is queued', async () => {
    const before = ((await tp.call('GET', '/api/v1/projects/default/jobs')).body as { jobs: unknown[] }).jobs.length;
    const cases: [Json, RegExp][] = [
      [{ kind: 'quantum-circuit', quantum: { qasm: 'OPENQASM 2.0;\nqreg q[2];\nh q[5];' } }, /line 3/],
      [{ kind: 'quantum-circuit', quantum: { qasm: 'qreg q[1];\nfoo q[0];' } }, /foo/],
      [{ kind: 'quantum-circuit', quantum: { qasm: 'qreg q[1];', shots: -1 } }, /shots/],
      [{ kind: 'spiking-network', spiking: { network: { populations: [{ name: 'a', size: -5 }] } } }, /size/],
      [{ kind: 'spiking-network', spiking: {} }, /network/],
    ];
    for (const [extra, re] of cases) {
      const r = await tp.call('POST', '/api/v1/projects/default/jobs', { body: { name: 'bad', ...extra } });
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, re);
    }
    assert.equal(((await tp.call('GET', '/api/v1/projects/default/jobs')).body as { jobs: unknown[] }).jobs.length, before);
  });
});
