// Example-based tests of the scheduler engine, one or more per policy rule: admission and quotas,
// cohorts (borrowing, lending, reclaim), flavor fallback, fair share with weights and decayed
// history, preemption, gangs and topology, bin-pack / spread / scored placement, backfill, spot
// eviction, windows, explanations and audit events. Everything goes through the public surface.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobId, NodeId, TeamId } from '../../kernel/index.ts';
import { ManualClock } from '../../kernel/index.ts';
import type { CycleResult, Decision, EngineOptions, JobRequest, NodeSpec, PoolSpec, ResourceVector, TeamSpec } from './index.ts';
import { SchedulerEngine } from './index.ts';

const GiB = 2 ** 30;
const gpu = (devices: number): ResourceVector => ({ cpuMillis: devices * 1000, memoryBytes: devices * GiB, devices });
const T0 = Date.parse('2026-03-01T00:00:00Z');

function pool(name: string, flavor: string, extra: Partial<PoolSpec> = {}): PoolSpec {
  return { name, region: 'eu-west', flavor, capacityType: 'on-demand', strategy: 'binpack', ...extra };
}

function nodes(poolName: string, count: number, devices: number, extra: (i: number) => Partial<NodeSpec> = () => ({})): NodeSpec[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${poolName}-n${i}` as NodeId, pool: poolName, capacity: gpu(devices), ...extra(i) }));
}

function team(id: string, quotas: TeamSpec['quotas'], extra: Partial<TeamSpec> = {}): TeamSpec {
  return { id: id as TeamId, quotas, ...extra };
}

let seq = 0;
function job(teamId: string, devices: number, extra: Partial<JobRequest> = {}): JobRequest {
  seq++;
  return { id: `job-${seq}` as JobId, team: teamId as TeamId, priority: 100, perReplica: gpu(devices), flavors: ['a100'], submittedAt: T0 + seq, ...extra };
}

function engine(pools: PoolSpec[], ns: NodeSpec[], teams: TeamSpec[], opts: Partial<EngineOptions> = {}): { e: SchedulerEngine; clock: ManualClock } {
  const clock = new ManualClock(T0 + 1_000_000);
  return { e: new SchedulerEngine({ pools, nodes: ns, teams }, { clock, ...opts }), clock };
}

const admits = (r: CycleResult): Extract<Decision, { kind: 'admit' }>[] => r.decisions.filter((d): d is Extract<Decision, { kind: 'admit' }> => d.kind === 'admit');
const evicts = (r: CycleResult): Extract<Decision, { kind: 'evict' }>[] => r.decisions.filter((d): d is Extract<Decision, { kind: 'evict' }> => d.kind === 'evict');
const pendingKind = (e: SchedulerEngine, id: JobId): string | undefined => {
  const s = e.status(id);
  return s?.state === 'pending' ? s.reason.kind : s?.state;
};
const q = (devices: number, extra: Partial<{ borrowingLimit: ResourceVector; lendingLimit: ResourceVector }> = {}): TeamSpec['quotas'][string] => ({ nominal: gpu(devices), ...extra });

test('admits every job that fits in one cycle, not one head per queue', () => {
  const { e } = engine([pool('p', 'a100')], nodes('p', 10, 8), [team('t', { a100: q(80) })]);
  const jobs = Array.from({ length: 80 }, () => job('t', 1));
  for (const j of jobs) e.submit(j);
  const r = e.schedule();
  assert.equal(admits(r).length, 80);
  assert.deepEqual(e.usage('t' as TeamId, 'a100'), gpu(80));
});

test('bin-packing fills the fullest node that fits; spreading takes the emptiest', () => {
  const { e } = engine([pool('bp', 'a100'), pool('sp', 'h100', { strategy: 'spread' })], [...nodes('bp', 3, 8), ...nodes('sp', 3, 8)], [team('t', { a100: q(24), h100: q(24) })]);
  const a = job('t', 4);
  e.submit(a);
  e.schedule();
  const b = job('t', 2);
  e.submit(b);
  const r = e.schedule();
  assert.equal(admits(r)[0]?.assignments[0]?.nodeId, 'bp-n0', 'packs onto the node that already runs a job');
  const c = job('t', 4, { flavors: ['h100'] });
  const d = job('t', 2, { flavors: ['h100'] });
  e.submit(c);
  e.submit(d);
  const r2 = e.schedule();
  const nodesUsed = admits(r2).map((x) => x.assignments[0]?.nodeId);
  assert.notEqual(nodesUsed[0], nodesUsed[1], 'spread puts the second job on another node');
});

test('tries acceptable flavors in order: h100 → a100 → spot a100', () => {
  const { e } = engine(
    [pool('h', 'nvidia-h100'), pool('a', 'nvidia-a100'), pool('s', 'spot:nvidia-a100', { capacityType: 'spot' })],
    [...nodes('h', 1, 8), ...nodes('a', 1, 8), ...nodes('s', 1, 8)],
    [team('t', { 'nvidia-h100': q(8), 'nvidia-a100': q(8), 'spot:nvidia-a100': q(8) })],
  );
  const flavors = ['nvidia-h100', 'nvidia-a100', 'spot:nvidia-a100'];
  const js = [job('t', 8, { flavors }), job('t', 8, { flavors }), job('t', 8, { flavors }), job('t', 8, { flavors })];
  for (const j of js) e.submit(j);
  const r = e.schedule();
  assert.deepEqual(admits(r).map((d) => d.flavor), flavors);
  const last = e.status(js[3]!.id);
  assert.equal(last?.state, 'pending');
  if (last?.state === 'pending') {
    assert.equal(last.reason.kind, 'over-quota');
    if (last.reason.kind === 'over-quota') assert.deepEqual(last.reason.attempts.map((a) => `${a.flavor}:${a.kind}`), flavors.map((f) => `${f}:over-quota`));
  }
});

test('over quota names the flavor, resource, limit and what is left; no quota for a flavor says so', () => {
  const { e } = engine([pool('p', 'a100'), pool('h', 'h100')], [...nodes('p', 2, 8), ...nodes('h', 1, 8)], [team('t', { a100: q(4) })]);
  const big = job('t', 6);
  const other = job('t', 1, { flavors: ['h100'] });
  e.submit(big);
  e.submit(other);
  e.schedule();
  const s = e.status(big.id);
  assert.ok(s?.state === 'pending' && s.reason.kind === 'over-quota');
  assert.deepEqual(s.reason.attempts[0], { flavor: 'a100', kind: 'over-quota', resource: 'cpuMillis', limit: 'nominal', requested: 6000, available: 4000 });
  const o = e.status(other.id);
  assert.ok(o?.state === 'pending' && o.reason.kind === 'over-quota');
  assert.deepEqual(o.reason.attempts, [{ flavor: 'h100', kind: 'no-quota' }]);
});

test('cohort: a team borrows unused quota up to its borrowing limit and what others lend', () => {
  const teams = [
    team('a', { a100: q(8, { borrowingLimit: gpu(4) }) }, { cohort: 'c' }),
    team('b', { a100: q(8, { lendingLimit: gpu(2) }) }, { cohort: 'c' }),
  ];
  const { e } = engine([pool('p', 'a100')], nodes('p', 4, 8), teams);
  const js = Array.from({ length: 14 }, () => job('a', 1));
  for (const j of js) e.submit(j);
  const r = e.schedule();
  // a: nominal 8 + borrows what b lends (2) — below its own borrowing limit of 4.
  assert.equal(admits(r).length, 10);
  assert.equal(admits(r).filter((d) => d.borrowing).length, 2);
  assert.equal(e.usage('a' as TeamId, 'a100').devices, 10);
  const blocked = e.status(js[10]!.id);
  assert.ok(blocked?.state === 'pending' && blocked.reason.kind === 'over-quota');
  assert.equal(blocked.reason.attempts[0]?.kind === 'over-quota' ? blocked.reason.attempts[0].limit : '', 'cohort');
});

test('a team outside any cohort never exceeds nominal', () => {
  const { e } = engine([pool('p', 'a100')], nodes('p', 4, 8), [team('solo', { a100: q(3, { borrowingLimit: gpu(10) }) })]);
  for (let i = 0; i < 5; i++) e.submit(job('solo', 1));
  assert.equal(admits(e.schedule()).length, 3);
});

test('reclaim: an owner takes back borrowed quota, evicting the borrower’s most recent lowest-priority jobs', () => {
  const teams = [team('owner', { a100: q(8) }, { cohort: 'c' }), team('borrower', { a100: q(0) }, { cohort: 'c' })];
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 8), teams);
  const b1 = job('borrower', 4, { priority: 100, checkpoint: 'ckpt://b1' });
  e.submit(b1);
  e.schedule();
  clock.advance(1000);
  const b2 = job('borrower', 4, { priority: 100, checkpoint: 'ckpt://b2' });
  e.submit(b2);
  e.schedule();
  assert.equal(e.usage('borrower' as TeamId, 'a100').devices, 8);
  clock.advance(1000);
  const low = job('owner', 4, { priority: 0 });
  e.submit(low);
  assert.equal(e.schedule().decisions.length, 0, 'a lower priority never reclaims');
  const o = job('owner', 4, { priority: 100 });
  e.submit(o);
  const r = e.schedule();
  assert.deepEqual(evicts(r).map((d) => [d.jobId, d.cause.kind === 'preempted' ? d.cause.rule : '', d.checkpoint]), [[b2.id, 'reclaim-borrowed-quota', 'ckpt://b2']]);
  assert.deepEqual(admits(r).map((d) => [d.jobId, d.preempted]), [[o.id, [b2.id]]]);
  assert.equal(r.events.filter((ev) => ev.kind === 'evicted').length, 1);
  e.schedule();
  assert.equal(pendingKind(e, b2.id), 'over-quota');
  assert.equal(e.status(b2.id)?.requeues, 1);
});

test('reclaim never evicts a higher priority, and never when the claimant would itself borrow', () => {
  const teams = [team('owner', { a100: q(4) }, { cohort: 'c' }), team('borrower', { a100: q(4) }, { cohort: 'c' })];
  const { e } = engine([pool('p', 'a100')], nodes('p', 1, 8), teams);
  const hi = job('borrower', 8, { priority: 1000 });
  e.submit(hi);
  e.schedule();
  const o = job('owner', 4, { priority: 100 });
  e.submit(o);
  let r = e.schedule();
  assert.equal(r.decisions.length, 0);
  assert.equal(pendingKind(e, o.id), 'over-quota');
  const big = job('owner', 6, { priority: 10_000 });
  e.submit(big);
  r = e.schedule();
  assert.equal(evicts(r).length, 0, 'owner asking 6 > nominal 4 may not reclaim');
});

test('within a team: a higher priority preempts the fewest, lowest-priority, most recently started jobs', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 8), [team('t', { a100: q(8) })]);
  const low1 = job('t', 2, { priority: 0 });
  const low2 = job('t', 2, { priority: 0 });
  const mid = job('t', 4, { priority: 100 });
  e.submit(low1);
  e.schedule();
  clock.advance(10);
  e.submit(low2);
  e.schedule();
  clock.advance(10);
  e.submit(mid);
  e.schedule();
  clock.advance(10);
  const hi = job('t', 2, { priority: 1000 });
  e.submit(hi);
  const r = e.schedule();
  assert.deepEqual(evicts(r).map((d) => d.jobId), [low2.id], 'one victim: the most recently started of the lowest priority');
  assert.equal(e.status(low1.id)?.state, 'running');
  assert.equal(e.status(mid.id)?.state, 'running');
  // Four devices: greedy removes low1 (2) then mid (4); low1 turns out unnecessary and is kept.
  const hi2 = job('t', 4, { priority: 1000 });
  e.submit(hi2);
  const r2 = e.schedule();
  assert.deepEqual(evicts(r2).map((d) => d.jobId), [mid.id], 'the fewest victims: one job, not two');
  assert.equal(e.status(low1.id)?.state, 'running');
});

test('preemption spares non-preemptible jobs and equal priorities within the team', () => {
  const { e } = engine([pool('p', 'a100')], nodes('p', 1, 4), [team('t', { a100: q(4) })]);
  const keep = job('t', 2, { priority: 0, preemptible: false });
  const same = job('t', 2, { priority: 1000 });
  e.submit(keep);
  e.submit(same);
  e.schedule();
  const hi = job('t', 2, { priority: 1000 });
  e.submit(hi);
  const r = e.schedule();
  assert.equal(evicts(r).length, 0);
  assert.equal(pendingKind(e, hi.id), 'over-quota');
});

test('a gang is placed whole or not at all, and says how many replicas would fit', () => {
  const { e } = engine([pool('p', 'a100')], nodes('p', 3, 8), [team('t', { a100: q(64) })]);
  const g = job('t', 8, { replicas: 4 });
  e.submit(g);
  const r = e.schedule();
  assert.equal(r.decisions.length, 0);
  const s = e.status(g.id);
  assert.ok(s?.state === 'pending' && s.reason.kind === 'gang-incomplete');
  assert.equal(s.reason.placeable, 3);
  assert.equal(s.reason.replicas, 4);
  for (let i = 0; i < 3; i++) assert.equal(e.node(`p-n${i}` as NodeId)?.free.devices, 8, 'nothing held by the incomplete gang');
  const g2 = job('t', 8, { replicas: 3 });
  e.submit(g2);
  const r2 = e.schedule();
  assert.equal(admits(r2).length, 1);
  assert.equal(admits(r2)[0]?.assignments.reduce((n, a) => n + a.replicas, 0), 3);
});

test('topology: required rack keeps a gang in one rack', () => {
  // Two blocks × two racks × two nodes of 4 devices.
  const ns = nodes('p', 8, 4, (i) => ({ block: `b${Math.floor(i / 4)}`, rack: `r${Math.floor(i / 2)}` }));
  const { e } = engine([pool('p', 'a100')], ns, [team('t', { a100: q(64) })]);
  const rackOf = (id: string): number => Math.floor(Number(id.split('-n')[1]) / 2);
  for (let k = 0; k < 4; k++) {
    const g = job('t', 4, { replicas: 2, topology: { level: 'rack', mode: 'required' } });
    e.submit(g);
    const placed = admits(e.schedule())[0]?.assignments.map((a) => a.nodeId) ?? [];
    assert.equal(placed.length, 2);
    assert.equal(rackOf(placed[0]!), rackOf(placed[1]!));
  }
});

test('topology: required levels wait with a topology reason; preferred falls back to the block, then the pool', () => {
  // Racks of one 4-device and one 2-device node: no rack holds two 4-device replicas.
  const ns = nodes('p', 8, 4, (i) => ({ block: `b${Math.floor(i / 4)}`, rack: `r${Math.floor(i / 2)}`, capacity: gpu(i % 2 === 0 ? 4 : 2) }));
  const { e } = engine([pool('p', 'a100')], ns, [team('t', { a100: q(64) })]);
  const blockOf = (id: string): number => Math.floor(Number(id.split('-n')[1]) / 4);
  const strict = job('t', 4, { replicas: 2, topology: { level: 'rack', mode: 'required' } });
  e.submit(strict);
  assert.equal(e.schedule().decisions.length, 0);
  const s = e.status(strict.id);
  assert.ok(s?.state === 'pending' && s.reason.kind === 'topology' && s.reason.level === 'rack');
  const loose = job('t', 4, { replicas: 2, topology: { level: 'rack', mode: 'preferred' } });
  e.submit(loose);
  const placed = admits(e.schedule())[0]?.assignments.map((a) => a.nodeId) ?? [];
  assert.equal(placed.length, 2);
  assert.equal(blockOf(placed[0]!), blockOf(placed[1]!), 'fell back to one block');
  const block = job('t', 4, { replicas: 2, topology: { level: 'block', mode: 'required' } });
  e.submit(block);
  const placed2 = admits(e.schedule())[0]?.assignments.map((a) => a.nodeId) ?? [];
  assert.equal(placed2.length, 2);
  assert.equal(blockOf(placed2[0]!), blockOf(placed2[1]!));
  const anywhere = job('t', 2, { replicas: 4, topology: { level: 'block', mode: 'preferred' } });
  e.submit(anywhere);
  const placed3 = admits(e.schedule())[0]?.assignments ?? [];
  assert.equal(placed3.reduce((n, a) => n + a.replicas, 0), 4, 'preferred falls back to the whole pool');
});

test('backfill: the blocked head job gets a reservation; a short job runs on it, a long one waits', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 2, 8), [team('t', { a100: q(64) })]);
  const hour = 3_600_000;
  const r1 = job('t', 8, { maxRuntimeMs: hour });
  const r2 = job('t', 4, { maxRuntimeMs: 4 * hour });
  e.submit(r1);
  e.submit(r2);
  e.schedule(); // n0 full until +1h; n1 half full until +4h.
  clock.advance(60_000);
  const head = job('t', 8);
  e.submit(head);
  e.schedule();
  const hs = e.status(head.id);
  assert.ok(hs?.state === 'pending' && hs.reason.kind === 'reserved');
  assert.equal(hs.reason.expectedStart, T0 + 1_000_000 + hour);
  const long = job('t', 4, { maxRuntimeMs: 2 * hour, priority: 0 });
  const short = job('t', 4, { maxRuntimeMs: 10 * 60_000, priority: 0 });
  const none = job('t', 4, { priority: 0 });
  e.submit(long);
  e.submit(short);
  e.submit(none);
  const r = e.schedule();
  // n1 has 4 free devices and is not reserved; the reservation is on n0 (frees at +1h). So one
  // 4-device job takes n1, and nothing may use n0 (it is full anyway). Finish r1 to free n0 early.
  assert.equal(admits(r).length, 1);
  e.finish(r1.id);
  const r3 = e.schedule();
  assert.deepEqual(admits(r3).map((d) => d.jobId), [head.id], 'the head takes its reserved node as soon as it frees');
});

test('backfill onto reserved nodes only for jobs that end before the reserved start', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 8), [team('t', { a100: q(64) })]);
  const hour = 3_600_000;
  const running = job('t', 4, { maxRuntimeMs: hour });
  e.submit(running);
  e.schedule();
  clock.advance(1000);
  const head = job('t', 8);
  e.submit(head);
  e.schedule();
  const until = T0 + 1_000_000 + hour;
  const long = job('t', 4, { maxRuntimeMs: 2 * hour });
  const short = job('t', 4, { maxRuntimeMs: 30 * 60_000 });
  e.submit(long);
  e.submit(short);
  const r = e.schedule();
  assert.deepEqual(admits(r).map((d) => [d.jobId, d.backfill]), [[short.id, true]]);
  const ls = e.status(long.id);
  assert.ok(ls?.state === 'pending' && ls.reason.kind === 'backfill-reservation');
  assert.equal(ls.reason.heldFor, head.id);
  assert.equal(ls.reason.until, until);
  assert.equal(r.nextWakeAt, T0 + 1_000_000 + 60_000, 'the next time-based event: the periodic retry of parked jobs, before the reservation lapses');
});

test('spot reclaim evicts with the checkpoint kept and requeues; on-demand nodes cannot be reclaimed', () => {
  const { e } = engine(
    [pool('s', 'spot:a100', { capacityType: 'spot' }), pool('o', 'a100')],
    [...nodes('s', 2, 8), ...nodes('o', 1, 8)],
    [team('t', { 'spot:a100': q(16), a100: q(8) })],
  );
  const g = job('t', 8, { replicas: 2, flavors: ['spot:a100'], checkpoint: 'ckpt://g/step-100' });
  e.submit(g);
  e.schedule();
  const r = e.reclaimSpot('s-n1' as NodeId);
  assert.deepEqual(r.decisions, [{ kind: 'evict', jobId: g.id, team: 't', cause: { kind: 'spot-reclaimed', nodeId: 's-n1' }, requeue: true, checkpoint: 'ckpt://g/step-100' }]);
  assert.equal(e.node('s-n0' as NodeId)?.free.devices, 8, 'the whole gang is released, not only the reclaimed node');
  assert.equal(e.node('s-n1' as NodeId), undefined);
  e.schedule();
  assert.equal(pendingKind(e, g.id), 'gang-incomplete');
  assert.throws(() => e.reclaimSpot('o-n0' as NodeId), /on-demand/);
});

test('a job waiting for a low-carbon window says until when, and starts when it opens', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 8), [team('t', { a100: q(8) })]);
  const until = clock.now() + 3_600_000;
  const j = job('t', 1, { notBefore: until });
  e.submit(j);
  const r = e.schedule();
  assert.equal(r.decisions.length, 0);
  assert.deepEqual(e.status(j.id), { state: 'pending', reason: { kind: 'waiting-for-window', until }, requeues: 0 });
  assert.ok(r.events.some((ev) => ev.kind === 'delayed' && ev.jobId === j.id && ev.reason.kind === 'waiting-for-window'));
  assert.equal(r.nextWakeAt, until);
  clock.set(until);
  assert.equal(admits(e.schedule()).length, 1);
});

test('fair share: weights divide contended capacity; the lower weighted share goes first', () => {
  const teams = [team('a', { a100: q(0) }, { cohort: 'c', weight: 1 }), team('b', { a100: q(0) }, { cohort: 'c', weight: 3 }), team('owner', { a100: q(8) }, { cohort: 'c' })];
  const { e } = engine([pool('p', 'a100')], nodes('p', 1, 8), teams, { fairShare: { historyWeight: 0 } });
  for (let i = 0; i < 10; i++) {
    e.submit(job('a', 1));
    e.submit(job('b', 1));
  }
  e.schedule();
  assert.equal(e.usage('a' as TeamId, 'a100').devices, 2);
  assert.equal(e.usage('b' as TeamId, 'a100').devices, 6);
});

test('fair share remembers decayed past usage: the team that used more recently waits', () => {
  const teams = [team('a', { a100: q(0) }, { cohort: 'c' }), team('b', { a100: q(0) }, { cohort: 'c' }), team('owner', { a100: q(8) }, { cohort: 'c' })];
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 8), teams, { fairShare: { halfLifeMs: 3_600_000, historyWeight: 0.5 } });
  const past = Array.from({ length: 8 }, () => job('a', 1));
  for (const j of past) e.submit(j);
  e.schedule();
  clock.advance(3_600_000);
  for (const j of past) e.finish(j.id);
  const decayed = e.share('a' as TeamId).decayed;
  assert.ok(Math.abs(decayed - 0.5) < 1e-9, `one half-life at full share decays to half: ${decayed}`);
  const now = Array.from({ length: 8 }, () => job('a', 1, { submittedAt: T0 }));
  for (const j of now) e.submit(j);
  for (let i = 0; i < 8; i++) e.submit(job('b', 1, { submittedAt: T0 + 1 }));
  e.schedule();
  assert.ok(e.usage('b' as TeamId, 'a100').devices > e.usage('a' as TeamId, 'a100').devices, 'b gets more of the freed capacity');
  for (const j of now) e.finish(j.id);
  clock.advance(20 * 3_600_000);
  assert.ok(e.share('a' as TeamId).decayed < 0.001, 'history fades with the half-life');
});

test('a scored pool asks the node scorer among the fitting nodes', () => {
  const calls: string[] = [];
  const { e } = engine([pool('p', 'a100', { strategy: 'scored' })], nodes('p', 4, 8), [team('t', { a100: q(32) })], {
    scorer: (n) => {
      calls.push(n.id);
      return n.id === 'p-n2' ? 10 : n.id === 'p-n3' ? undefined : 1;
    },
  });
  const j = job('t', 1);
  e.submit(j);
  const r = e.schedule();
  assert.equal(admits(r)[0]?.assignments[0]?.nodeId, 'p-n2');
  assert.equal(calls.length, 4);
  assert.throws(() => new SchedulerEngine({ pools: [pool('x', 'a100', { strategy: 'scored' })], nodes: [], teams: [] }, { clock: new ManualClock() }), /no node scorer/);
});

test('regions and residency restrict the pools', () => {
  const { e } = engine(
    [pool('us', 'a100', { region: 'us-east', residency: ['us'] }), pool('eu', 'a100', { region: 'eu-west', residency: ['eu', 'gdpr'] })],
    [...nodes('us', 1, 8), ...nodes('eu', 1, 8)],
    [team('t', { a100: q(16) })],
  );
  const a = job('t', 1, { residency: ['gdpr'] });
  const b = job('t', 1, { regions: ['us-east'] });
  const c = job('t', 1, { regions: ['ap-south'] });
  for (const j of [a, b, c]) e.submit(j);
  const r = e.schedule();
  assert.deepEqual(admits(r).map((d) => [d.jobId, d.region]), [[a.id, 'eu-west'], [b.id, 'us-east']]);
  assert.equal(pendingKind(e, c.id), 'unschedulable');
});

test('a job larger than any node is unschedulable, not merely waiting for capacity', () => {
  const { e } = engine([pool('p', 'a100')], nodes('p', 2, 8), [team('t', { a100: q(64) })]);
  const j = job('t', 16);
  e.submit(j);
  e.schedule();
  const s = e.status(j.id);
  assert.ok(s?.state === 'pending' && s.reason.kind === 'unschedulable');
  assert.deepEqual(s.reason.attempts, [{ flavor: 'a100', kind: 'too-large' }]);
});

test('blocked jobs are parked and tried again when capacity is freed; delay events only on change', () => {
  const { e } = engine([pool('p', 'a100')], nodes('p', 1, 8), [team('t', { a100: q(64) })]);
  const first = job('t', 8);
  const second = job('t', 8);
  e.submit(first);
  e.submit(second);
  const r1 = e.schedule();
  assert.equal(r1.events.filter((ev) => ev.kind === 'delayed' && ev.jobId === second.id).length, 1);
  const r2 = e.schedule();
  assert.equal(r2.events.length, 0, 'an unchanged reason is not re-audited');
  e.finish(first.id);
  const r3 = e.schedule();
  assert.deepEqual(admits(r3).map((d) => d.jobId), [second.id]);
});

test('losing a node evicts every job on it, gangs whole, and requeues them', () => {
  const { e } = engine([pool('p', 'a100')], nodes('p', 3, 8), [team('t', { a100: q(64) })]);
  const g = job('t', 8, { replicas: 2 });
  e.submit(g);
  const placed = admits(e.schedule())[0]!.assignments.map((a) => a.nodeId);
  const r = e.removeNode(placed[0]!);
  assert.equal(evicts(r).length, 1);
  assert.deepEqual(evicts(r)[0]?.cause, { kind: 'node-lost', nodeId: placed[0] });
  const again = admits(e.schedule());
  assert.equal(again.length, 1, 'requeued and placed on the remaining two nodes');
  assert.ok(!again[0]!.assignments.some((a) => a.nodeId === placed[0]));
});

test('restoreRunning books existing work; finishing it frees quota and nodes', () => {
  const { e } = engine([pool('p', 'a100')], nodes('p', 1, 8), [team('t', { a100: q(8) })]);
  const j = job('t', 6);
  e.restoreRunning({ job: j, flavor: 'a100', assignments: [{ nodeId: 'p-n0' as NodeId, replicas: 1 }], startedAt: T0 });
  assert.equal(e.usage('t' as TeamId, 'a100').devices, 6);
  const k = job('t', 4);
  e.submit(k);
  e.schedule();
  assert.equal(pendingKind(e, k.id), 'over-quota');
  e.finish(j.id);
  assert.equal(admits(e.schedule()).length, 1);
  assert.throws(() => e.restoreRunning({ job: job('t', 6), flavor: 'a100', assignments: [{ nodeId: 'p-n0' as NodeId, replicas: 1 }], startedAt: T0 }), /no room/);
});

test('rejects malformed input with a message that says what to fix', () => {
  const { e } = engine([pool('p', 'a100')], nodes('p', 1, 8), [team('t', { a100: q(8) })]);
  assert.throws(() => e.submit(job('nobody', 1)), /unknown team/);
  assert.throws(() => e.submit(job('t', 1, { flavors: [] })), /at least one acceptable flavor/);
  assert.throws(() => e.submit(job('t', 1, { replicas: 0 })), /replicas must be an integer/);
  const j = job('t', 1);
  e.submit(j);
  assert.throws(() => e.submit(j), /already submitted/);
  assert.throws(() => e.setTeam(team('w', {}, { weight: 0 })), /weight/);
});

test('wake budgets retry a team’s parked jobs in queue order (big ones up to a bound); a periodic full retry catches the rest', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 8), [team('t', { a100: q(200) })], { fullRetryEveryMs: 60_000, maxReservations: 0 });
  const a = job('t', 6);
  const b = job('t', 2);
  e.submit(a);
  e.submit(b);
  e.schedule();
  // More big jobs wait than one wake retries (8 beyond the budget), then a small one.
  const bigs = Array.from({ length: 10 }, () => job('t', 8));
  const small = job('t', 2);
  for (const j of [...bigs, small]) e.submit(j);
  e.schedule();
  assert.equal(pendingKind(e, bigs[0]!.id), 'no-capacity');
  e.finish(b.id); // frees 2 devices: the first parked big jobs are retried and fail; the small one is not reached
  clock.advance(1000);
  assert.equal(e.schedule().decisions.length, 0);
  assert.equal(pendingKind(e, small.id), 'no-capacity');
  clock.advance(60_000);
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [small.id], 'the periodic full retry admits the smaller job');
});

test('a rebuilt engine seeded with a team\'s decayed share orders teams as the long-lived one would', () => {
  // Team a used the whole cohort an hour ago; the rebuilt engine only knows it from `history`.
  const seeded = (history: { decayedShare: number; at: number } | undefined) => {
    const teams = [
      { ...team('a', { a100: q(0) }, { cohort: 'c' }), ...(history === undefined ? {} : { history }) },
      team('b', { a100: q(0) }, { cohort: 'c' }),
      team('owner', { a100: q(8) }, { cohort: 'c' }),
    ];
    const { e } = engine([pool('p', 'a100')], nodes('p', 1, 8), teams, { fairShare: { halfLifeMs: 3_600_000, historyWeight: 0.5 } });
    for (let i = 0; i < 8; i++) e.submit(job('a', 1, { submittedAt: T0 }));
    for (let i = 0; i < 8; i++) e.submit(job('b', 1, { submittedAt: T0 + 1 }));
    e.schedule();
    return { a: e.usage('a' as TeamId, 'a100').devices, b: e.usage('b' as TeamId, 'a100').devices, decayed: e.share('a' as TeamId).decayed };
  };
  const fresh = seeded(undefined);
  const remembered = seeded({ decayedShare: 0.5, at: T0 });
  assert.ok(remembered.b > remembered.a, `with history b gets more of the capacity (a ${remembered.a}, b ${remembered.b})`);
  assert.ok(remembered.b > fresh.b, 'history changes the order compared with no history');
  assert.throws(() => engine([pool('p', 'a100')], nodes('p', 1, 8), [{ ...team('x', { a100: q(1) }), history: { decayedShare: Number.NaN, at: T0 } }]), /history must be a finite share/);
});

test('wakes: a quota-parked job is retried as soon as its team headroom (with what the cohort lends) covers it', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 2), [team('a', { a100: q(1) }, { cohort: 'c' }), team('b', { a100: q(1) }, { cohort: 'c' })]);
  const j1 = job('a', 1);
  const j2 = job('a', 2);
  e.submit(j1);
  e.submit(j2);
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [j1.id]);
  clock.advance(1000);
  e.finish(j1.id);
  // j2 needs a's freed device and the one b lends: admitted on this cycle, not on the next full retry.
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [j2.id]);
});

test('wakes: a small parked job that fits freed capacity is not left behind a big parked one that cannot', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 4), [team('t', { a100: q(8) })]);
  const a1 = job('t', 3);
  const a2 = job('t', 1);
  const big = job('t', 4);
  const small = job('t', 1);
  for (const j of [a1, a2, big, small]) e.submit(j);
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [a1.id, a2.id]);
  clock.advance(1000);
  e.finish(a2.id);
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [small.id]);
});

test('quota reservation: a big job is not starved inside its team by a steady stream of small ones', () => {
  // The team's quota (8) is the only limit: the node has room for twice that.
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 16), [team('t', { a100: q(8) })]);
  const min = 60_000;
  const start = clock.now();
  for (let i = 0; i < 8; i++) e.submit(job('t', 1, { maxRuntimeMs: (i + 1) * 10 * min }));
  assert.equal(admits(e.schedule()).length, 8);
  const running = new Map<JobId, number>();
  for (let i = 0; i < 8; i++) running.set(`job-${seq - 7 + i}` as JobId, start + (i + 1) * 10 * min);
  const big = job('t', 4, { submittedAt: clock.now() });
  e.submit(big);
  let admittedAt: number | undefined;
  for (let step = 1; step <= 12 && admittedAt === undefined; step++) {
    // Every 10 minutes the oldest small job ends and a new one arrives, keeping the quota full.
    if (step === 1) e.schedule();
    clock.advance(10 * min);
    for (const [id, end] of running) {
      if (end > clock.now()) continue;
      e.finish(id);
      running.delete(id);
    }
    const small = job('t', 1, { maxRuntimeMs: 80 * min, submittedAt: clock.now() });
    e.submit(small);
    for (const d of admits(e.schedule())) {
      if (d.jobId === big.id) admittedAt = clock.now();
      else running.set(d.jobId, clock.now() + 80 * min);
    }
  }
  // Four small jobs end within 40 minutes: the big job starts then, not never.
  assert.equal(admittedAt, start + 40 * min);
});

test('quota reservation: later jobs of the team backfill only if they end before the quota frees; higher priorities go first', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 2, 8), [team('t', { a100: q(8) }), team('other', { a100: q(8) })]);
  const hour = 3_600_000;
  const t0 = clock.now();
  const a = job('t', 4, { maxRuntimeMs: hour });
  const b = job('t', 2);
  e.submit(a);
  e.submit(b);
  e.schedule();
  clock.advance(1000);
  const head = job('t', 6, { submittedAt: clock.now() });
  e.submit(head);
  const r1 = e.schedule();
  const hs = e.status(head.id);
  assert.ok(hs?.state === 'pending' && hs.reason.kind === 'over-quota');
  assert.deepEqual(hs.reason.holds, { flavor: 'a100', expectedStart: t0 + hour }, 'the head holds the team quota until a frees it');
  assert.ok(r1.events.some((ev) => ev.kind === 'delayed' && ev.jobId === head.id));
  clock.advance(1000);
  const long = job('t', 2, { maxRuntimeMs: 2 * hour, submittedAt: clock.now() });
  const open = job('t', 1, { submittedAt: clock.now() });
  const short = job('t', 2, { maxRuntimeMs: 30 * 60_000, submittedAt: clock.now() + 1 });
  const otherTeam = job('other', 2, { maxRuntimeMs: 2 * hour });
  for (const j of [long, open, short, otherTeam]) e.submit(j);
  const r2 = e.schedule();
  assert.deepEqual(admits(r2).map((d) => d.jobId).sort(), [short.id, otherTeam.id].sort(), 'only the short job of the team backfills; other teams are not affected');
  for (const id of [long.id, open.id]) {
    const s = e.status(id);
    assert.ok(s?.state === 'pending' && s.reason.kind === 'quota-reservation', `${id} waits for the held quota`);
    assert.equal(s.reason.heldFor, head.id);
    assert.equal(s.reason.until, t0 + hour);
    assert.deepEqual(s.reason.attempts, [{ flavor: 'a100', kind: 'quota-reserved', heldFor: head.id, until: t0 + hour }]);
  }
  // A higher priority is not held back by a lower one's reservation.
  const urgent = job('t', 0, { priority: 1000, perReplica: { cpuMillis: 0, memoryBytes: 0, devices: 0 } });
  e.submit(urgent);
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [urgent.id]);
  e.finish(urgent.id);
  clock.advance(30 * 60_000);
  e.finish(short.id);
  assert.equal(admits(e.schedule()).length, 0, 'the freed quota stays held: the long job would still run when the head is due');
  clock.advance(30 * 60_000);
  e.finish(a.id);
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [head.id], 'the head starts when the quota frees');
  assert.equal(pendingKind(e, long.id), 'over-quota', 'with the head running, the rest is plainly over quota');
});

test('quota reservation: with open-ended running jobs the release time is unknown and later jobs wait for the quota the head needs', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 8), [team('t', { a100: q(4) }, { cohort: 'c' }), team('lender', { a100: q(0) }, { cohort: 'c' })]);
  const x = job('t', 2);
  const y = job('t', 2);
  e.submit(x);
  e.submit(y);
  e.schedule();
  clock.advance(1000);
  const head = job('t', 3, { submittedAt: clock.now() });
  e.submit(head);
  e.schedule();
  const hs = e.status(head.id);
  assert.ok(hs?.state === 'pending' && hs.reason.kind === 'over-quota');
  assert.deepEqual(hs.reason.holds, { flavor: 'a100' }, 'no declared end: the start is unknown');
  e.finish(x.id);
  clock.advance(1000);
  const small = job('t', 1, { maxRuntimeMs: 60_000, submittedAt: clock.now() });
  e.submit(small);
  assert.equal(admits(e.schedule()).length, 0, 'room 2 < 3: the head cannot start, and the small job may not take what it needs');
  const s = e.status(small.id);
  assert.ok(s?.state === 'pending' && s.reason.kind === 'quota-reservation');
  assert.equal(s.reason.heldFor, head.id);
  assert.equal(s.reason.until, undefined);
  // A job of the team that needs none of the held resources still runs.
  const free = job('t', 0, { perReplica: { cpuMillis: 0, memoryBytes: 0, devices: 0 } });
  e.submit(free);
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [free.id]);
  e.finish(y.id);
  const r = e.schedule();
  assert.deepEqual(admits(r).map((d) => d.jobId), [head.id, small.id], 'the head starts as soon as the quota holds it; the small job then fits the rest');
});

test('quota reservation: a job held back by the hold starts on the cycle after the quota it needs frees, not at the periodic retry', () => {
  // The team's quota (8) is the only limit; the periodic full retry is a day away, so only wakes count.
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 1, 16), [team('t', { a100: q(8) })], { fullRetryEveryMs: 24 * 3_600_000 });
  const hour = 3_600_000;
  const a = job('t', 4, { maxRuntimeMs: hour });
  const b = job('t', 2);
  e.submit(a);
  e.submit(b);
  assert.equal(admits(e.schedule()).length, 2);
  clock.advance(1000);
  const head = job('t', 6, { submittedAt: clock.now() });
  const held = job('t', 2, { maxRuntimeMs: 2 * hour, submittedAt: clock.now() + 1 });
  e.submit(head);
  e.submit(held);
  assert.equal(admits(e.schedule()).length, 0);
  const hs = e.status(held.id);
  assert.ok(hs?.state === 'pending' && hs.reason.kind === 'quota-reservation' && hs.reason.heldFor === head.id, 'room 2 fits it, but it would leave the head 4 of 6 when a ends');
  clock.advance(10 * 60_000);
  assert.equal(admits(e.schedule()).length, 0, 'nothing freed: nothing starts');
  clock.advance(hour);
  e.finish(a.id);
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [head.id], 'the quota holds the head: it starts first, and the held job does not fit beside it');
  assert.equal(pendingKind(e, held.id), 'over-quota');
  clock.advance(1000);
  e.finish(b.id);
  assert.deepEqual(admits(e.schedule()).map((d) => d.jobId), [held.id], 'the quota it needs is free: it starts on the next cycle');
});

test('quota reservation: cancelling the holder passes the hold to the next job in line; a gang holds like any job', () => {
  const { e, clock } = engine([pool('p', 'a100')], nodes('p', 4, 8), [team('t', { a100: q(8) })]);
  const hour = 3_600_000;
  const running = job('t', 6, { maxRuntimeMs: hour });
  e.submit(running);
  e.schedule();
  clock.advance(1000);
  const gang = job('t', 2, { replicas: 4, submittedAt: clock.now() });
  const next = job('t', 7, { submittedAt: clock.now() + 1 });
  const small = job('t', 2, { maxRuntimeMs: 2 * hour, submittedAt: clock.now() + 2 });
  for (const j of [gang, next, small]) e.submit(j);
  e.schedule();
  const gs = e.status(gang.id);
  assert.ok(gs?.state === 'pending' && gs.reason.kind === 'over-quota' && gs.reason.holds?.flavor === 'a100');
  assert.equal(pendingKind(e, small.id), 'quota-reservation');
  e.cancel(gang.id);
  clock.advance(1000);
  const r = e.schedule();
  assert.equal(admits(r).length, 0, 'the next big job holds the quota: the small one would leave it 6 of 7 when due, and waits');
  const ns = e.status(next.id);
  assert.ok(ns?.state === 'pending' && ns.reason.kind === 'over-quota' && ns.reason.holds?.flavor === 'a100');
  const ss = e.status(small.id);
  assert.ok(ss?.state === 'pending' && ss.reason.kind === 'quota-reservation' && ss.reason.heldFor === next.id);
});
