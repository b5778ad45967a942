// `strata sim` end to end in process: real CSV files in a temp dir, the command parsed by commander.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerSim } from './sim.ts';

async function run(args: readonly string[]): Promise<string> {
  const program = new Command('strata').option('--json').exitOverride();
  registerSim(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  });
  try {
    await program.parseAsync(['node', 'strata', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'strata-sim-'));
const trace = join(dir, 'pods.csv');
const cluster = join(dir, 'nodes.csv');
writeFileSync(trace, 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,qos,team,creation_time,duration\np1,1000,10,1,1000,LS,a,0,3600\np2,1000,10,1,1000,BE,b,0,3600\np3,1000,10,1,500,BE,b,10,60\n');
writeFileSync(cluster, 'sn,cpu_milli,memory_mib,gpu,model,idle_watts,gpu_watts,carbon_g_per_kwh\nn0,8000,1000,1,T4,100,300,500\n');

test('replay prints utilisation, queueing per class, fairness, energy and carbon; --json gives the figures', async () => {
  const text = await run(['sim', '--trace', trace, '--cluster', cluster, '--policy', 'fgd']);
  assert.match(text, /policy fgd: 3 tasks on 1 nodes \(1 GPUs\)/);
  assert.match(text, /energy 0\.8 kWh; carbon 0\.4 kg CO2e/);
  assert.match(text, /BE\s+2\s+/);
  const json = JSON.parse(await run(['--json', 'sim', '--trace', trace, '--cluster', cluster, '--policy', 'best-fit,strata'])) as { results: { policy: string; completed: number; queueDelaySeconds: Record<string, { max: number }> }[] };
  assert.deepEqual(json.results.map((r) => [r.policy, r.completed]), [
    ['best-fit', 3],
    ['strata', 3],
  ]);
  assert.equal(json.results[0]?.queueDelaySeconds['BE']?.max, 7190); // p3 waits for p1, then for p2 (oldest first)
});

test('inflate mode reports unallocated GPU % by arrived level', async () => {
  // Half-GPU tasks on 4 GPUs: arrivals move in steps of 12.5 %, so every listed level is reached.
  const halves = join(dir, 'halves.csv');
  const four = join(dir, 'four.csv');
  writeFileSync(halves, 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\nh1,1000,10,1,500\nh2,2000,10,1,500\n');
  writeFileSync(four, 'sn,cpu_milli,memory_mib,gpu,model\nn0,64000,1000,4,T4\n');
  const json = JSON.parse(await run(['--json', 'sim', '--trace', halves, '--cluster', four, '--mode', 'inflate', '--levels', '50,100', '--seed', '7'])) as { results: { points: { arrivedPct: number; unallocatedPct: number }[] }[] };
  assert.deepEqual(json.results[0]?.points.map((p) => [p.arrivedPct, p.unallocatedPct]), [
    [50, 50],
    [100, 0],
  ]);
  const text = await run(['sim', '--trace', halves, '--cluster', four, '--mode', 'inflate', '--levels', '50,100', '--policy', 'random,fgd']);
  assert.match(text, /random\s+50\.00 \(0\.0\)\s+0\.00 \(0\.0\)/);
});

test('bad flags and files fail with a message saying what to do', async () => {
  await assert.rejects(run(['sim', '--trace', trace, '--cluster', cluster, '--policy', 'nope']), /unknown policy 'nope': use one of random, best-fit/);
  await assert.rejects(run(['sim', '--trace', join(dir, 'missing.csv'), '--cluster', cluster]), /cannot read the trace file/);
  await assert.rejects(run(['sim', '--trace', trace, '--cluster', cluster, '--mode', 'fast']), /--mode must be replay or inflate/);
  await assert.rejects(run(['sim', '--trace', trace, '--cluster', cluster, '--team-weights', 'a=0']), /positive weights/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
