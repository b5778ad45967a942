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
  await assert.rejects(run(['sim', '--trace', trace, '--cluster', cluster, '--mode', 'fast']), /--mode must be replay, inflate or engine/);
  await assert.rejects(run(['sim', '--trace', trace, '--cluster', cluster, '--team-weights', 'a=0']), /positive weights/);
});

test('engine mode replays through the scheduler engine: quota reclaim, preemption waste, unschedulable tasks', async () => {
  // Two GPUs, a and b entitled to one each. a's two 1-hour tasks start at 0 (one on b's quota);
  // b's task arrives at 600 s and reclaims that GPU: a's evicted task restarts at 1200 s and ends at
  // 4800 s, 600 GPU-seconds lost. b's 4-GPU task fits no node: unschedulable.
  const pods = join(dir, 'engine-pods.csv');
  const nodes2 = join(dir, 'engine-nodes.csv');
  writeFileSync(pods, 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,qos,team,creation_time,duration\np1,1000,10,1,1000,BE,a,0,3600\np2,1000,10,1,1000,BE,a,0,3600\np3,1000,10,1,1000,LS,b,600,600\np4,1000,10,4,1000,LS,b,0,60\n');
  writeFileSync(nodes2, 'sn,cpu_milli,memory_mib,gpu,model,idle_watts,gpu_watts,carbon_g_per_kwh\nn0,8000,1000,2,T4,100,300,500\n');
  const text = await run(['sim', '--trace', pods, '--cluster', nodes2, '--mode', 'engine', '--quotas', 'a=0.5,b=0.5']);
  assert.match(text, /engine: 4 tasks on 1 nodes \(2 GPUs\) over 1\.3 h simulated; quotas a=0\.50, b=0\.50 \(cohort borrowing on\)/);
  assert.match(text, /completed 3, never started 1 \(unschedulable 1\); JCT mean 3000\.0 s, p99 4800\.0 s/);
  assert.match(text, /preemptions 1 \(within-team priority 0, quota reclaim 1\); wasted 0\.17 GPU h/);
  assert.match(text, /a\s+0\.50\s+2\.2\s+0\.93\s+0\.50\s+1\.86\s+1\s+0\.17/);
  assert.match(text, /unschedulable\s+1/);
  assert.match(text, /energy 0\.8 kWh; carbon 0\.4 kg CO2e/);
  const json = JSON.parse(await run(['--json', 'sim', '--trace', pods, '--cluster', nodes2, '--mode', 'engine', '--quotas', 'a=0.5,b=0.5', '--no-borrowing'])) as { mode: string; result: { preemptions: { total: number }; queueDelaySeconds: Record<string, { max: number }>; notCompleted: Record<string, number> } };
  // Without the cohort a runs one task at a time and nothing is reclaimed.
  assert.equal(json.mode, 'engine');
  assert.equal(json.result.preemptions.total, 0);
  assert.equal(json.result.queueDelaySeconds['BE']?.max, 3600);
  assert.deepEqual(json.result.notCompleted, { unschedulable: 1 });
  await assert.rejects(run(['sim', '--trace', pods, '--cluster', nodes2, '--mode', 'engine', '--policy', 'fgd']), /--mode engine places with the scheduler engine/);
  await assert.rejects(run(['sim', '--trace', pods, '--cluster', nodes2, '--mode', 'engine', '--quotas', 'a=2']), /--quotas takes team=share pairs/);
  await assert.rejects(run(['sim', '--trace', pods, '--cluster', nodes2, '--mode', 'engine', '--class-priorities', 'LS=urgent']), /--class-priorities takes class=priority pairs/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
