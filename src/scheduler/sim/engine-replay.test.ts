// Trace replay through the scheduler engine: hand-made traces whose outcome is worked out in the
// comments (quota reclaim, priority preemption and the work it wastes, gangs with reservation and
// backfill, tasks that can never run, energy), random small traces checked against invariants, and
// a contended slice of the real openb trace when ../shared has it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { ClusterNode } from './cluster-state.ts';
import { parseClusterCsv, parseTraceCsv } from './csv.ts';
import type { EngineReplayOptions, EngineTraceJob } from './engine-replay.ts';
import { runEngineReplay } from './engine-replay.ts';

const node = (id: string, gpus: number, extra: Partial<ClusterNode> = {}): ClusterNode => ({ id, gpuModel: gpus > 0 ? 'A100' : '', cpuMilli: 64_000, memoryMiB: 512_000, gpuCount: gpus, ...extra });

let seq = 0;
/** A task of `gpus` whole GPUs (or one shared GPU when gpus < 1). */
function task(team: string, gpus: number, arrival: number, duration: number, extra: Partial<EngineTraceJob> = {}): EngineTraceJob {
  const shared = gpus > 0 && gpus < 1;
  return {
    id: `t${seq++}`,
    request: { cpuMilli: 1000, memoryMiB: 1000, gpuCount: shared ? 1 : gpus, gpuMilli: shared ? Math.round(gpus * 1000) : gpus > 0 ? 1000 : 0 },
    arrival,
    duration,
    team,
    jobClass: 'normal',
    ...extra,
  };
}

const run = (o: Omit<EngineReplayOptions, 'checkInvariants'>): ReturnType<typeof runEngineReplay> => runEngineReplay({ ...o, checkInvariants: true });

test('quota reclaim: a team that floods the cluster gives back what it borrowed when the other team arrives', () => {
  // 8 GPUs, a and b entitled to half each. a submits 8 one-GPU tasks of 1000 s at t=0 and runs them
  // all (4 on its own quota, 4 borrowed). b's 4 tasks of 100 s arrive at t=100: within b's quota,
  // they reclaim a's 4 borrowed GPUs at once. a's 4 evicted tasks restart at t=200 and end at 1200.
  const a = Array.from({ length: 8 }, () => task('a', 1, 0, 1000));
  const b = Array.from({ length: 4 }, () => task('b', 1, 100, 100, { jobClass: 'b-class' }));
  const r = run({ nodes: [node('n0', 8)], jobs: [...a, ...b], quotas: { a: 0.5, b: 0.5 } });
  assert.equal(r.completed, 12);
  assert.deepEqual(r.preemptions, { total: 4, withinTeamPriority: 0, reclaimBorrowedQuota: 4 });
  assert.equal(r.queueDelaySeconds['b-class']?.max, 0, 'b starts on arrival');
  assert.ok(Math.abs(r.wastedGpuHours - (4 * 100) / 3600) < 1e-9, '4 GPUs × 100 s lost');
  assert.deepEqual(r.jctSeconds, { count: 12, mean: (4 * 1000 + 4 * 1200 + 4 * 100) / 12, p50: 1000, p99: 1200, max: 1200 });
  assert.equal(r.makespanSeconds, 1200);
  assert.equal(r.admissions.total, 16);
  const [fa, fb] = r.fairness;
  assert.deepEqual([fa?.team, fa?.quota, fa?.entitlement, fa?.evicted], ['a', 0.5, 0.5, 4]);
  assert.deepEqual([fb?.team, fb?.evicted, fb?.wastedGpuHours], ['b', 0, 0]);
  // a held 8 × 1000 s + 4 × 100 s lost, b 4 × 100 s.
  assert.ok(Math.abs((fb?.share ?? 0) - 400 / 8800) < 1e-12);
  assert.ok(Math.abs((fa?.gpuHours ?? 0) - 8400 / 3600) < 1e-9);
});

test('without quotas there is nothing to reclaim: the late team waits for capacity', () => {
  const a = Array.from({ length: 8 }, () => task('a', 1, 0, 1000));
  const b = Array.from({ length: 4 }, () => task('b', 1, 100, 100, { jobClass: 'b-class' }));
  const r = run({ nodes: [node('n0', 8)], jobs: [...a, ...b] });
  assert.equal(r.preemptions.total, 0);
  assert.equal(r.queueDelaySeconds['b-class']?.max, 900);
  assert.equal(r.wastedGpuHours, 0);
  // Entitlement falls back to the weights.
  assert.deepEqual(r.fairness.map((f) => [f.team, f.entitlement, 'quota' in f]), [
    ['a', 0.5, false],
    ['b', 0.5, false],
  ]);
});

test('a high-priority task preempts a low one, which restarts from the beginning; the lost work is counted', () => {
  // One GPU. low (class 'low') runs from 0; high (class 'high') arrives at 300 and evicts it; high
  // ends at 400, low restarts then and ends at 1400, having lost 300 GPU-seconds.
  const low = task('t', 1, 0, 1000, { jobClass: 'low' });
  const high = task('t', 1, 300, 100, { jobClass: 'high' });
  const r = run({ nodes: [node('n0', 1)], jobs: [low, high] });
  assert.deepEqual(r.preemptions, { total: 1, withinTeamPriority: 1, reclaimBorrowedQuota: 0 });
  assert.ok(Math.abs(r.wastedGpuHours - 300 / 3600) < 1e-12);
  assert.equal(r.queueDelaySeconds['high']?.max, 0);
  assert.equal(r.queueDelaySeconds['low']?.max, 0, 'queueing delay is to the first start');
  assert.equal(r.jctSeconds.max, 1400);
  assert.equal(r.makespanSeconds, 1400);
  // Utilisation: the GPU is busy 0–1400 except for nothing: 100 %.
  assert.equal(r.gpuUtilisationPct, 100);
  // The same trace with preemption off: high waits for low.
  const calm = run({ nodes: [node('n0', 1)], jobs: [low, high], preemption: false });
  assert.equal(calm.preemptions.total, 0);
  assert.equal(calm.queueDelaySeconds['high']?.max, 700);
  // A task's own priority overrides its class; a class mapping overrides the named classes.
  const flipped = run({ nodes: [node('n0', 1)], jobs: [low, high], classPriorities: { low: 5000 } });
  assert.equal(flipped.preemptions.total, 0);
  const pinned = run({ nodes: [node('n0', 1)], jobs: [{ ...low, priority: 1 }, { ...high, preemptible: false, priority: 0 }] });
  assert.equal(pinned.preemptions.total, 0);
});

test('a gang waits for all its nodes, with capacity reserved for it; a short task backfills, a long one waits', () => {
  // Two 4-GPU nodes. x (1 GPU, 0–100 s) holds n0; the gang g (2 × 4 GPUs) arrives at 10 and can
  // start only at 100, when x ends. short (1 GPU, 50 s) arrives at 20 and ends by 100: it backfills
  // on the reserved capacity. long (1 GPU, 500 s) arrives at 30 and would delay g: it waits for g (to 300).
  const x = task('t', 1, 0, 100, { jobClass: 'x' });
  const g = task('t', 4, 10, 200, { jobClass: 'gang', replicas: 2 });
  const short = task('t', 1, 20, 50, { jobClass: 'short' });
  const long = task('t', 1, 30, 500, { jobClass: 'long' });
  const r = run({ nodes: [node('n0', 4), node('n1', 4)], jobs: [x, g, short, long] });
  assert.equal(r.completed, 4);
  assert.equal(r.queueDelaySeconds['gang']?.max, 90);
  assert.equal(r.queueDelaySeconds['short']?.max, 0);
  assert.equal(r.queueDelaySeconds['long']?.max, 270);
  assert.equal(r.admissions.backfill, 1);
  assert.equal(r.peakGpuAllocationPct, 100);
});

test('tasks that no node can hold are reported unschedulable; the rest complete', () => {
  const jobs = [
    task('t', 16, 0, 10, { jobClass: 'too-big' }), // 16 GPUs on one node of 8
    task('t', 8, 0, 10, { jobClass: 'gang', replicas: 3 }), // 3 × 8 GPUs on two nodes
    { ...task('t', 1, 0, 10, { jobClass: 'model' }), request: { cpuMilli: 0, memoryMiB: 0, gpuCount: 1, gpuMilli: 1000, gpuModels: ['H100'] } },
    task('t', 0, 0, 10, { jobClass: 'cpu', request: { cpuMilli: 100_000, memoryMiB: 0, gpuCount: 0, gpuMilli: 0 } }),
    task('t', 8, 5, 10, { jobClass: 'fits', replicas: 2 }),
  ];
  const r = run({ nodes: [node('n0', 8), node('n1', 8)], jobs });
  assert.equal(r.jobs, 5);
  assert.equal(r.completed, 1);
  assert.equal(r.unschedulable, 4);
  assert.equal(r.neverStarted, 4);
  assert.deepEqual(r.notCompleted, { unschedulable: 4 });
  assert.equal(r.makespanSeconds, 15);
});

test('a task over its team quota that no borrowing can cover stays pending, reported over-quota', () => {
  // Quotas without a cohort: a may use 2 of the 8 GPUs; its 4-GPU task never runs.
  const r = run({ nodes: [node('n0', 8)], jobs: [task('a', 4, 0, 10), task('a', 2, 0, 10), task('b', 6, 0, 10)], quotas: { a: 0.25, b: 0.75 }, borrowing: false });
  assert.equal(r.completed, 2);
  assert.deepEqual(r.notCompleted, { 'over-quota': 1 });
  assert.equal(r.neverStarted, 1);
  assert.equal(r.unschedulable, 0);
  // With the cohort, a borrows b's unused quota once b's task is done.
  const lent = run({ nodes: [node('n0', 8)], jobs: [task('a', 4, 0, 10), task('a', 2, 0, 10), task('b', 6, 0, 10)], quotas: { a: 0.25, b: 0.75 } });
  assert.equal(lent.completed, 3);
});

test('shared GPUs count in milli-GPU; energy and carbon follow the power model', () => {
  // One GPU node (100 W idle, 300 W per GPU at full allocation, 500 g/kWh). Two half-GPU tasks share
  // the GPU for an hour: 400 W for 1 h = 0.4 kWh, 0.2 kg.
  const n = node('n0', 1, { power: { idleWatts: 100, cpuWatts: 0, gpuWatts: 300 }, carbonGPerKWh: 500 });
  const r = run({ nodes: [n], jobs: [task('t', 0.5, 0, 3600), task('t', 0.5, 0, 3600)] });
  assert.equal(r.queueDelaySeconds['normal']?.max, 0);
  assert.equal(r.gpuUtilisationPct, 100);
  assert.ok(Math.abs((r.energyKWh ?? 0) - 0.4) < 1e-9);
  assert.ok(Math.abs((r.carbonKg ?? 0) - 0.2) < 1e-9);
  assert.equal(run({ nodes: [node('n0', 1)], jobs: [task('t', 1, 0, 10)] }).energyKWh, undefined);
});

test('bad options fail with a message saying what to fix', () => {
  const nodes = [node('n0', 1)];
  const jobs = [task('a', 1, 0, 10)];
  assert.throws(() => runEngineReplay({ nodes, jobs, quotas: { a: 0.7, b: 0.6 } }), /add up to 1\.300 of the cluster/);
  assert.throws(() => runEngineReplay({ nodes, jobs, quotas: { a: 0 } }), /quota of team 'a' must be a fraction/);
  assert.throws(() => runEngineReplay({ nodes, jobs, teamWeights: { a: -1 } }), /team weight of 'a' must be a positive number/);
  assert.throws(() => runEngineReplay({ nodes, jobs: [{ ...task('a', 1, 0, 1), replicas: 0 }] }), /replicas must be a whole number/);
  assert.throws(() => runEngineReplay({ nodes, jobs: [] }), /the trace has no tasks/);
});

// ---- random traces: invariants and determinism ---------------------------------------------------

const arbNode = fc.record({ gpus: fc.constantFrom(0, 1, 2, 4, 8), model: fc.constantFrom('A100', 'T4') });
const arbTask = fc.record({
  team: fc.constantFrom('a', 'b', 'c'),
  shape: fc.oneof(fc.constant(0), fc.constantFrom(0.25, 0.5, 1, 2, 4, 8)),
  replicas: fc.constantFrom(1, 1, 1, 2),
  arrival: fc.integer({ min: 0, max: 2000 }),
  duration: fc.integer({ min: 0, max: 1500 }),
  jobClass: fc.constantFrom('low', 'normal', 'high'),
});

test('random traces: no node over-committed at any time, every task completes or is reported, same input → same output', () => {
  fc.assert(
    fc.property(
      fc.array(arbNode, { minLength: 1, maxLength: 5 }),
      fc.array(arbTask, { minLength: 1, maxLength: 40 }),
      fc.boolean(),
      (ns, ts, quotas) => {
        const nodes = ns.map((n, i) => node(`n${i}`, n.gpus, { gpuModel: n.gpus > 0 ? n.model : '' }));
        const jobs = ts.map((t) => task(t.team, t.shape, t.arrival, t.duration, { replicas: t.replicas, jobClass: t.jobClass }));
        const o = { nodes, jobs, ...(quotas ? { quotas: { a: 0.5, b: 0.25 } } : {}) };
        // checkInvariants compares the simulator's books with the engine's node views after every
        // cycle and throws on any over-commitment or drift.
        const r = run(o);
        const notCompleted = Object.values(r.notCompleted).reduce((x, y) => x + y, 0);
        assert.equal(r.completed + notCompleted, r.jobs);
        assert.ok(r.peakGpuAllocationPct <= 100 + 1e-9);
        assert.ok(r.gpuUtilisationPct <= 100 + 1e-9 && r.gpuUtilisationPct >= 0);
        // Without quotas nothing can be held back for ever except what no node holds.
        if (!quotas) assert.equal(r.completed + r.unschedulable, r.jobs);
        assert.deepEqual(run(o), r);
      },
    ),
    { numRuns: 60 },
  );
});

// ---- the openb trace ----------------------------------------------------------------------------

const here = dirname(fileURLToPath(import.meta.url));
const OPENB = join(here, '..', '..', '..', '..', 'shared', 'data', 'scheduling', 'gpu_traces', 'alibaba_gpu_v2023');

test('openb trace, first 2,000 tasks on 30 nodes, arrivals 20× faster, two teams with quotas: invariants hold', { skip: existsSync(OPENB) ? false : `the openb trace is not at ${OPENB}` }, () => {
  const nodes = parseClusterCsv(readFileSync(join(OPENB, 'openb_node_list_gpu_node.csv'), 'utf8')).slice(0, 30);
  const lines = readFileSync(join(OPENB, 'openb_pod_list_default.csv'), 'utf8').split('\n');
  // Contention on purpose: a slice of the cluster, arrivals compressed, one task in three for team a.
  const jobs = parseTraceCsv(lines.slice(0, 2001).join('\n')).map((j, i) => ({ ...j, arrival: j.arrival / 20, team: i % 3 === 0 ? 'a' : 'b' }));
  const o = { nodes, jobs, quotas: { a: 0.5, b: 0.5 }, classPriorities: { LS: 1000, Guaranteed: 1000, Burstable: 100, BE: 0 } };
  const r = run(o);
  assert.equal(r.jobs, 2000);
  assert.equal(r.completed + Object.values(r.notCompleted).reduce((x, y) => x + y, 0), r.jobs);
  assert.equal(r.completed + r.unschedulable, r.jobs, 'with a cohort every task that fits a node eventually runs');
  assert.ok(r.preemptions.withinTeamPriority > 0 && r.preemptions.reclaimBorrowedQuota > 0, 'the slice is contended');
  assert.ok(r.wastedGpuHours > 0);
  assert.ok(r.peakGpuAllocationPct <= 100 + 1e-9);
  // Latency-sensitive tasks (high priority) wait less than best-effort ones.
  assert.ok((r.queueDelaySeconds['LS']?.mean ?? Infinity) < (r.queueDelaySeconds['BE']?.mean ?? 0));
});
