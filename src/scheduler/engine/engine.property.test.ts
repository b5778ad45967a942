// Property tests of the scheduler engine (fast-check): random clusters, teams, quotas and event
// sequences, with invariants recomputed from the outside after every step — quota never exceeded
// except by permitted borrowing, node capacity never exceeded, gangs all-or-nothing, preemption never
// evicts a higher priority (nor an equal one within a team) and reclaims only from borrowers, no
// preemption cycles (a static workload reaches a fixed point), no team starved below its weighted
// fair share or its nominal quota, and identical inputs giving identical decisions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JobId, NodeId, TeamId } from '../../kernel/index.ts';
import { ManualClock } from '../../kernel/index.ts';
import type { CycleResult, JobRequest, NodeSpec, PoolSpec, ResourceVector, TeamSpec } from './index.ts';
import { RESOURCES, SchedulerEngine } from './index.ts';

const GiB = 2 ** 30;
const gpu = (d: number): ResourceVector => ({ cpuMillis: d * 1000, memoryBytes: d * GiB, devices: d });
const T0 = Date.parse('2026-03-01T00:00:00Z');
const FLAVORS = ['a100', 'h100', 'spot:a100'] as const;

interface World {
  readonly pools: PoolSpec[];
  readonly nodes: NodeSpec[];
  readonly teams: TeamSpec[];
}

type Op =
  | { readonly kind: 'submit'; readonly job: Omit<JobRequest, 'id' | 'submittedAt'> }
  | { readonly kind: 'schedule' }
  | { readonly kind: 'finish'; readonly pick: number }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'reclaim'; readonly pick: number };

const arbQuota = fc.record(
  {
    nominal: fc.integer({ min: 0, max: 16 }),
    borrow: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
    lend: fc.option(fc.integer({ min: 0, max: 16 }), { nil: undefined }),
  },
  { requiredKeys: ['nominal'] },
);

const arbWorld: fc.Arbitrary<World> = fc
  .record({
    nodeCounts: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
    sizes: fc.array(fc.constantFrom(4, 8), { minLength: 16, maxLength: 16 }),
    teams: fc.array(fc.record({ cohort: fc.boolean(), weight: fc.integer({ min: 1, max: 4 }), quotas: fc.tuple(fc.option(arbQuota, { nil: undefined, freq: 6 }), fc.option(arbQuota, { nil: undefined, freq: 6 }), fc.option(arbQuota, { nil: undefined, freq: 6 })) }), { minLength: 2, maxLength: 4 }),
  })
  .map(({ nodeCounts, sizes, teams }) => {
    const pools: PoolSpec[] = [
      { name: 'a-eu', region: 'eu', flavor: 'a100', capacityType: 'on-demand', strategy: 'binpack' },
      { name: 'a-us', region: 'us', flavor: 'a100', capacityType: 'on-demand', strategy: 'spread' },
      { name: 'h-eu', region: 'eu', flavor: 'h100', capacityType: 'on-demand', strategy: 'binpack' },
      { name: 's-eu', region: 'eu', flavor: 'spot:a100', capacityType: 'spot', strategy: 'binpack' },
    ];
    const nodes: NodeSpec[] = [];
    let k = 0;
    pools.forEach((p, i) => {
      for (let n = 0; n < nodeCounts[i]!; n++) {
        nodes.push({ id: `${p.name}-${n}` as NodeId, pool: p.name, rack: `r${n >> 1}`, block: `b${n >> 2}`, capacity: gpu(sizes[k++ % sizes.length]!) });
      }
    });
    const teamSpecs: TeamSpec[] = teams.map((t, i) => {
      const quotas: Record<string, TeamSpec['quotas'][string]> = {};
      t.quotas.forEach((q, f) => {
        if (q === undefined) return;
        quotas[FLAVORS[f]!] = {
          nominal: gpu(q.nominal),
          ...(q.borrow === undefined ? {} : { borrowingLimit: gpu(q.borrow) }),
          ...(q.lend === undefined ? {} : { lendingLimit: gpu(q.lend) }),
        };
      });
      return { id: `t${i}` as TeamId, weight: t.weight, quotas, ...(t.cohort ? { cohort: 'c' } : {}) };
    });
    return { pools, nodes, teams: teamSpecs };
  });

/** Small and oversubscribed: one node per pool, every team in the cohort, quotas summing to ~capacity. */
const arbContended: fc.Arbitrary<World> = fc
  .record({
    sizes: fc.array(fc.constantFrom(4, 8), { minLength: 4, maxLength: 4 }),
    quotas: fc.array(fc.record({ nominal: fc.integer({ min: 0, max: 6 }), borrow: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }) }), { minLength: 2, maxLength: 4 }),
  })
  .map(({ sizes, quotas }) => {
    const pools: PoolSpec[] = [
      { name: 'a-eu', region: 'eu', flavor: 'a100', capacityType: 'on-demand', strategy: 'binpack' },
      { name: 'a-us', region: 'us', flavor: 'a100', capacityType: 'on-demand', strategy: 'spread' },
      { name: 'h-eu', region: 'eu', flavor: 'h100', capacityType: 'on-demand', strategy: 'binpack' },
      { name: 's-eu', region: 'eu', flavor: 'spot:a100', capacityType: 'spot', strategy: 'binpack' },
    ];
    return {
      pools,
      nodes: pools.map((p, i) => ({ id: `${p.name}-0` as NodeId, pool: p.name, rack: 'r0', capacity: gpu(sizes[i]!) })),
      teams: quotas.map((q, i) => {
        const fq = { nominal: gpu(q.nominal), ...(q.borrow === undefined ? {} : { borrowingLimit: gpu(q.borrow) }) };
        return { id: `t${i}` as TeamId, cohort: 'c', quotas: { a100: fq, h100: fq, 'spot:a100': fq } };
      }),
    };
  });

const arbAnyWorld = fc.oneof(arbWorld, arbContended);

const arbJob = (teams: number): fc.Arbitrary<Op> =>
  fc
    .record({
      team: fc.integer({ min: 0, max: teams - 1 }),
      priority: fc.constantFrom(0, 100, 1000),
      devices: fc.oneof(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 8 })),
      gang: fc.integer({ min: 0, max: 9 }),
      replicas: fc.integer({ min: 2, max: 4 }),
      flavors: fc.shuffledSubarray([...FLAVORS], { minLength: 1, maxLength: 3 }),
      runtime: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
      topology: fc.option(fc.record({ level: fc.constantFrom('rack' as const, 'block' as const), mode: fc.constantFrom('required' as const, 'preferred' as const) }), { nil: undefined }),
      preemptible: fc.integer({ min: 0, max: 9 }),
      region: fc.option(fc.constantFrom('eu', 'us'), { nil: undefined }),
    })
    .map((j) => ({
      kind: 'submit' as const,
      job: {
        team: `t${j.team}` as TeamId,
        priority: j.priority,
        perReplica: gpu(j.devices),
        replicas: j.gang === 0 ? j.replicas : 1,
        flavors: j.flavors,
        preemptible: j.preemptible !== 0,
        ...(j.runtime === undefined ? {} : { maxRuntimeMs: j.runtime * 60_000 }),
        ...(j.topology === undefined ? {} : { topology: j.topology }),
        ...(j.region === undefined ? {} : { regions: [j.region] }),
      },
    }));

const arbOps = (teams: number, length = 60): fc.Arbitrary<Op[]> =>
  fc.array(
    fc.oneof(
      { weight: 5, arbitrary: arbJob(teams) },
      { weight: 4, arbitrary: fc.constant({ kind: 'schedule' as const }) },
      { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'finish' as const, pick })) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 90 }).map((m) => ({ kind: 'advance' as const, ms: m * 60_000 })) },
      { weight: 1, arbitrary: fc.nat().map((pick) => ({ kind: 'reclaim' as const, pick })) },
    ),
    { minLength: 10, maxLength: length, size: 'max' },
  );

/** Drives an engine through ops, checking every invariant after each step; returns every result. */
function run(world: World, ops: readonly Op[], check = true): CycleResult[] {
  const clock = new ManualClock(T0);
  const e = new SchedulerEngine({ pools: world.pools, nodes: world.nodes, teams: world.teams }, { clock });
  const jobs = new Map<JobId, JobRequest>();
  const running: JobId[] = [];
  const liveNodes = new Set(world.nodes.map((n) => n.id));
  const spot = world.nodes.filter((n) => n.pool === 's-eu').map((n) => n.id);
  const results: CycleResult[] = [];
  let n = 0;
  let before = snapshot(world, e, jobs);
  const absorb = (r: CycleResult): void => {
    results.push(r);
    if (check) checkDecisions(world, jobs, r, before);
    for (const d of r.decisions) {
      if (d.kind === 'admit') running.push(d.jobId);
      else running.splice(running.indexOf(d.jobId), 1);
    }
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'submit': {
        const job: JobRequest = { ...op.job, id: `j${n++}` as JobId, submittedAt: clock.now() };
        jobs.set(job.id, job);
        e.submit(job);
        break;
      }
      case 'schedule':
        absorb(e.schedule());
        break;
      case 'finish': {
        if (running.length === 0) break;
        const id = running.splice(op.pick % running.length, 1)[0]!;
        e.finish(id);
        break;
      }
      case 'advance':
        clock.advance(op.ms);
        break;
      case 'reclaim': {
        const live = spot.filter((id) => liveNodes.has(id));
        if (live.length === 0) break;
        const id = live[op.pick % live.length]!;
        liveNodes.delete(id);
        absorb(e.reclaimSpot(id));
        break;
      }
    }
    if (check) {
      checkState(world, jobs, e, liveNodes);
      before = snapshot(world, e, jobs);
    }
  }
  return results;
}

interface Snapshot {
  /** Usage per `team|flavor`. */
  readonly usage: Map<string, ResourceVector>;
  /** Flavor of every running job. */
  readonly flavorOf: Map<JobId, string>;
}

function snapshot(world: World, e: SchedulerEngine, jobs: ReadonlyMap<JobId, JobRequest>): Snapshot {
  const usage = new Map<string, ResourceVector>();
  for (const t of world.teams) for (const f of FLAVORS) usage.set(`${t.id}|${f}`, e.usage(t.id, f));
  const flavorOf = new Map<JobId, string>();
  for (const id of jobs.keys()) {
    const s = e.status(id);
    if (s?.state === 'running') flavorOf.set(id, s.flavor);
  }
  return { usage, flavorOf };
}

/** Capacity, accounting and quota invariants, recomputed from job statuses and the team specs. */
function checkState(world: World, jobs: ReadonlyMap<JobId, JobRequest>, e: SchedulerEngine, liveNodes: ReadonlySet<NodeId>): void {
  const usedOnNode = new Map<string, number[]>();
  const usage = new Map<string, number[]>();
  for (const [id, j] of jobs) {
    const s = e.status(id);
    if (s?.state !== 'running') continue;
    const replicas = s.assignments.reduce((k, a) => k + a.replicas, 0);
    assert.equal(replicas, j.replicas ?? 1, `gang ${id} runs whole`);
    for (const a of s.assignments) {
      const u = usedOnNode.get(a.nodeId) ?? [0, 0, 0];
      RESOURCES.forEach((r, i) => (u[i]! += j.perReplica[r] * a.replicas));
      usedOnNode.set(a.nodeId, u);
    }
    const key = `${j.team}|${s.flavor}`;
    const u = usage.get(key) ?? [0, 0, 0];
    RESOURCES.forEach((r, i) => (u[i]! += j.perReplica[r] * replicas));
    usage.set(key, u);
  }
  for (const spec of world.nodes) {
    const v = e.node(spec.id);
    if (!liveNodes.has(spec.id)) {
      assert.equal(v, undefined);
      continue;
    }
    assert.ok(v !== undefined);
    const used = usedOnNode.get(spec.id) ?? [0, 0, 0];
    RESOURCES.forEach((r, i) => {
      assert.ok(v.free[r] >= 0, `node ${spec.id} over capacity in ${r}`);
      assert.equal(v.free[r], spec.capacity[r] - used[i]!, `node ${spec.id} free ${r} = capacity − running`);
    });
  }
  const pooled = new Map<string, number[]>();
  const lendable = new Map<string, number[]>();
  for (const t of world.teams) {
    for (const f of FLAVORS) {
      const u = usage.get(`${t.id}|${f}`) ?? [0, 0, 0];
      assert.deepEqual(RESOURCES.map((r) => e.usage(t.id, f)[r]), u, `engine usage of ${t.id}/${f} matches its running jobs`);
      const q = t.quotas[f];
      if (q === undefined) {
        assert.deepEqual(u, [0, 0, 0], `${t.id} has no quota for ${f} and uses none`);
        continue;
      }
      RESOURCES.forEach((r, i) => {
        const used = u[i]!;
        if (t.cohort === undefined) {
          assert.ok(used <= q.nominal[r], `${t.id}/${f}/${r}: ${used} > nominal ${q.nominal[r]} outside a cohort`);
          return;
        }
        if (q.borrowingLimit !== undefined) assert.ok(used <= q.nominal[r] + q.borrowingLimit[r], `${t.id}/${f}/${r} beyond borrowing limit`);
        const lend = Math.min(q.nominal[r], q.lendingLimit?.[r] ?? Infinity);
        const guaranteed = q.nominal[r] - lend;
        const p = pooled.get(f) ?? [0, 0, 0];
        p[i]! += Math.max(0, used - guaranteed);
        pooled.set(f, p);
        const l = lendable.get(f) ?? [0, 0, 0];
        l[i]! += lend;
        lendable.set(f, l);
      });
    }
  }
  for (const [f, p] of pooled) RESOURCES.forEach((r, i) => assert.ok(p[i]! <= lendable.get(f)![i]!, `cohort draws ${p[i]} of ${f}/${r} but members lend ${lendable.get(f)![i]}`));
}

/**
 * Gang atomicity and preemption rules, per decision. Usage is replayed through the cycle's decisions
 * in order from the snapshot taken before it, so a reclaim is checked at the moment it happened.
 */
function checkDecisions(world: World, jobs: ReadonlyMap<JobId, JobRequest>, r: CycleResult, before: Snapshot): void {
  const usage = new Map(before.usage);
  const flavorOf = new Map(before.flavorOf);
  const add = (team: TeamId, flavor: string, j: JobRequest, sign: 1 | -1): ResourceVector => {
    const k = `${team}|${flavor}`;
    const u = usage.get(k) ?? { cpuMillis: 0, memoryBytes: 0, devices: 0 };
    const n = (j.replicas ?? 1) * sign;
    const v = { cpuMillis: u.cpuMillis + j.perReplica.cpuMillis * n, memoryBytes: u.memoryBytes + j.perReplica.memoryBytes * n, devices: u.devices + j.perReplica.devices * n };
    usage.set(k, v);
    return v;
  };
  const evictedBy = new Map<JobId, { victim: JobRequest; rule: string }[]>();
  for (const d of r.decisions) {
    if (d.kind === 'evict') {
      const victim = jobs.get(d.jobId)!;
      const flavor = flavorOf.get(d.jobId);
      assert.ok(flavor !== undefined, `evicted job ${d.jobId} was running`);
      add(victim.team, flavor, victim, -1);
      flavorOf.delete(d.jobId);
      if (d.cause.kind === 'preempted') assert.notEqual(victim.preemptible, false, 'non-preemptible jobs are never preempted');
      if (d.cause.kind === 'preempted') evictedBy.set(d.cause.by, [...(evictedBy.get(d.cause.by) ?? []), { victim, rule: d.cause.rule }]);
      continue;
    }
    const by = jobs.get(d.jobId)!;
    assert.equal(d.assignments.reduce((k, a) => k + a.replicas, 0), by.replicas ?? 1, 'admitted whole');
    const after = add(by.team, d.flavor, by, 1);
    flavorOf.set(d.jobId, d.flavor);
    const victims = evictedBy.get(d.jobId) ?? [];
    assert.deepEqual(victims.map((v) => v.victim.id), d.preempted, 'the preemptor lists exactly its victims');
    for (const { victim, rule } of victims) {
      assert.ok(victim.priority <= by.priority, 'never preempts a higher priority');
      if (rule === 'within-team-priority') {
        assert.equal(victim.team, by.team);
        assert.ok(victim.priority < by.priority, 'within a team only strictly lower priorities');
      } else {
        assert.notEqual(victim.team, by.team);
        const vt = world.teams.find((t) => t.id === victim.team)!;
        const bt = world.teams.find((t) => t.id === by.team)!;
        assert.ok(vt.cohort !== undefined && vt.cohort === bt.cohort, 'reclaim only within the cohort');
        const bq = bt.quotas[d.flavor]!;
        assert.ok(RESOURCES.every((res) => after[res] <= bq.nominal[res]), 'a reclaim leaves the claimant within its nominal quota');
      }
    }
    evictedBy.delete(d.jobId);
  }
  assert.equal(evictedBy.size, 0, 'every preemption admits its preemptor in the same cycle');
}

const RUNS = { numRuns: 400 } as const;

test('invariants hold over random clusters and event sequences (quota, capacity, gangs, preemption)', () => {
  fc.assert(
    fc.property(
      arbAnyWorld.chain((w) => fc.tuple(fc.constant(w), arbOps(w.teams.length))),
      ([world, ops]) => {
        run(world, ops);
      },
    ),
    RUNS,
  );
});

test('identical inputs give identical decisions', () => {
  fc.assert(
    fc.property(
      arbAnyWorld.chain((w) => fc.tuple(fc.constant(w), arbOps(w.teams.length))),
      ([world, ops]) => {
        assert.deepEqual(run(world, ops, false), run(world, ops, false));
      },
    ),
    { numRuns: 60 },
  );
});

test('no preemption cycles: a static workload reaches a fixed point and preemption is acyclic', () => {
  fc.assert(
    fc.property(
      arbAnyWorld.chain((w) => fc.tuple(fc.constant(w), fc.array(arbJob(w.teams.length), { minLength: 5, maxLength: 40, size: 'max' }))),
      ([world, submits]) => {
        const ops: Op[] = [];
        // Submissions interleaved with cycles, then cycles only: nothing arrives, finishes or moves.
        submits.forEach((s, i) => {
          ops.push(s);
          if (i % 5 === 4) ops.push({ kind: 'schedule' });
        });
        for (let i = 0; i < 12; i++) ops.push({ kind: 'schedule' });
        const results = run(world, ops);
        assert.equal(results.at(-1)?.decisions.length, 0, 'quiescent: the last cycles decide nothing');
        const edges = new Map<string, Set<string>>();
        for (const r of results) for (const d of r.decisions) if (d.kind === 'evict' && d.cause.kind === 'preempted') edges.set(d.cause.by, (edges.get(d.cause.by) ?? new Set()).add(d.jobId));
        // Acyclic: no job is (transitively) preempted by a job it preempted.
        const state = new Map<string, 1 | 2>();
        const visit = (v: string): void => {
          state.set(v, 1);
          for (const w of edges.get(v) ?? []) {
            assert.notEqual(state.get(w), 1, `preemption cycle through ${v} → ${w}`);
            if (state.get(w) === undefined) visit(w);
          }
          state.set(v, 2);
        };
        for (const v of edges.keys()) if (state.get(v) === undefined) visit(v);
      },
    ),
    { numRuns: 150 },
  );
});

test('no starvation below the weighted fair share: freed capacity goes to the most starved team', () => {
  fc.assert(
    fc.property(
      fc.record({
        weights: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 5 }),
        nodes: fc.integer({ min: 1, max: 4 }),
        steps: fc.array(fc.oneof(fc.constant(-1), fc.nat()), { minLength: 1, maxLength: 30 }),
      }),
      ({ weights, nodes, steps }) => {
        const clock = new ManualClock(T0);
        const teams: TeamSpec[] = [
          ...weights.map((w, i) => ({ id: `t${i}` as TeamId, cohort: 'c', weight: w, quotas: { a100: { nominal: gpu(0) } } })),
          { id: 'owner' as TeamId, cohort: 'c', quotas: { a100: { nominal: gpu(8 * nodes) } } },
        ];
        const e = new SchedulerEngine(
          { pools: [{ name: 'p', region: 'eu', flavor: 'a100', capacityType: 'on-demand', strategy: 'binpack' }], nodes: Array.from({ length: nodes }, (_, i) => ({ id: `n${i}` as NodeId, pool: 'p', capacity: gpu(8) })), teams },
          { clock, fairShare: { historyWeight: 0 } },
        );
        const backlog = weights.map(() => 0);
        const running: JobId[] = [];
        let n = 0;
        const submitTo = (t: number, k: number): void => {
          for (let i = 0; i < k; i++) {
            e.submit({ id: `j${n++}` as JobId, team: `t${t}` as TeamId, priority: 100, perReplica: gpu(1), flavors: ['a100'], submittedAt: clock.now() });
            backlog[t]!++;
          }
        };
        weights.forEach((_, t) => submitTo(t, 8 * nodes));
        const alloc = (t: number): number => e.usage(`t${t}` as TeamId, 'a100').devices;
        for (const s of steps) {
          clock.advance(1000);
          if (s >= 0 && running.length > 0) {
            const [id] = running.splice(s % running.length, 1);
            e.finish(id!);
            continue;
          }
          const r = e.schedule();
          const got = new Set<number>();
          for (const d of r.decisions) {
            if (d.kind !== 'admit') continue;
            running.push(d.jobId);
            const t = Number(d.team.slice(1));
            backlog[t]!--;
            got.add(t);
          }
          for (const a of got) {
            for (let b = 0; b < weights.length; b++) {
              if (b === a || backlog[b]! === 0) continue;
              assert.ok((alloc(a) - 1) / weights[a]! <= alloc(b) / weights[b]! + 1e-9, `team t${a} (w ${weights[a]}, ${alloc(a)}) got capacity while t${b} (w ${weights[b]}, ${alloc(b)}) had less than its share`);
            }
          }
        }
      },
    ),
    { numRuns: 150 },
  );
});

test('a team below its nominal quota is never left waiting while others borrow it', () => {
  fc.assert(
    fc.property(
      fc.record({
        nominals: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 2, maxLength: 4 }),
        steps: fc.array(fc.oneof(fc.record({ team: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }), fc.nat(), fc.constant('schedule' as const)), { minLength: 1, maxLength: 40 }),
      }),
      ({ nominals, steps }) => {
        const clock = new ManualClock(T0);
        const total = nominals.reduce((a, b) => a + b, 0);
        const nodes = Math.max(1, Math.ceil(total / 8));
        const teams: TeamSpec[] = nominals.map((q, i) => ({ id: `t${i}` as TeamId, cohort: 'c', quotas: { a100: { nominal: gpu(q) } } }));
        // Exactly the cohort's nominal total of capacity (the last node may be partial).
        const nodeSpecs: NodeSpec[] = Array.from({ length: nodes }, (_, i) => ({ id: `n${i}` as NodeId, pool: 'p', capacity: gpu(Math.min(8, total - 8 * i) || 8) }));
        const e = new SchedulerEngine({ pools: [{ name: 'p', region: 'eu', flavor: 'a100', capacityType: 'on-demand', strategy: 'binpack' }], nodes: nodeSpecs, teams }, { clock });
        const pending = nominals.map(() => 0);
        const running: JobId[] = [];
        let n = 0;
        for (const s of steps) {
          clock.advance(1000);
          if (s === 'schedule') {
            const r = e.schedule();
            for (const d of r.decisions) {
              const t = Number(d.team.slice(1));
              if (d.kind === 'admit') {
                running.push(d.jobId);
                pending[t]!--;
              } else {
                running.splice(running.indexOf(d.jobId), 1);
                pending[t]!++;
              }
            }
            nominals.forEach((q, t) => {
              const used = e.usage(`t${t}` as TeamId, 'a100').devices;
              assert.ok(pending[t] === 0 || used >= q, `t${t} uses ${used} of nominal ${q} with ${pending[t]} pending`);
            });
          } else if (typeof s === 'number') {
            if (running.length === 0) continue;
            const [id] = running.splice(s % running.length, 1);
            e.finish(id!);
          } else {
            const t = s.team % nominals.length;
            for (let i = 0; i < s.count; i++) e.submit({ id: `j${n++}` as JobId, team: `t${t}` as TeamId, priority: 100, perReplica: gpu(1), flavors: ['a100'], submittedAt: clock.now() });
            pending[t]! += s.count;
          }
        }
      },
    ),
    { numRuns: 150 },
  );
});

test('no starvation within a team: a job whose demand fits its team’s nominal quota is eventually admitted when running jobs have finite runtimes', () => {
  const STEP = 10 * 60_000;
  const STEPS = 50;
  // Jobs ahead of the head in line (same priority, submitted before it) run before it, one after
  // another in the worst case: 15 of up to 6 steps each, then the head — well within the horizon.
  const HORIZON = 200;
  fc.assert(
    fc.property(
      fc.record({
        teams: fc.array(fc.record({ nominal: fc.integer({ min: 1, max: 8 }), borrow: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }) }), { minLength: 1, maxLength: 3 }),
        cohort: fc.boolean(),
        head: fc.record({ share: fc.double({ min: 0, max: 1, noNaN: true }), gang: fc.boolean(), priority: fc.constantFrom(0, 100), at: fc.integer({ min: 0, max: 5 }), declared: fc.boolean() }),
        // Arrivals per step, repeated for as long as the test runs: the stream never stops.
        stream: fc.array(fc.array(fc.record({ team: fc.nat(), replicas: fc.integer({ min: 1, max: 3 }), low: fc.boolean(), runtime: fc.integer({ min: 1, max: 6 }), declared: fc.constantFrom('none' as const, 'exact' as const, 'longer' as const) }), { maxLength: 3 }), { minLength: STEPS, maxLength: STEPS }),
        retryEveryMs: fc.constantFrom(60_000, 24 * 3_600_000),
      }),
      ({ teams, cohort, head, stream, retryEveryMs }) => {
        const clock = new ManualClock(T0);
        const specs: TeamSpec[] = teams.map((t, i) => ({ id: `t${i}` as TeamId, ...(cohort ? { cohort: 'c' } : {}), quotas: { a100: { nominal: gpu(t.nominal), ...(t.borrow === undefined ? {} : { borrowingLimit: gpu(t.borrow) }) } } }));
        // Capacity never binds: every team's quota (all a cohort can use) plus the head and a spare node.
        const total = teams.reduce((s, t) => s + t.nominal, 0);
        const headDevices = 1 + Math.floor(head.share * (teams[0]!.nominal - 1));
        const nodes = Math.ceil((total + headDevices) / 8) + 1;
        const e = new SchedulerEngine(
          { pools: [{ name: 'p', region: 'eu', flavor: 'a100', capacityType: 'on-demand', strategy: 'binpack' }], nodes: Array.from({ length: nodes }, (_, i) => ({ id: `n${i}` as NodeId, pool: 'p', capacity: gpu(8) })), teams: specs },
          { clock, fullRetryEveryMs: retryEveryMs },
        );
        const ends = new Map<JobId, number>();
        const runtimes = new Map<JobId, number>();
        const headId = 'head' as JobId;
        const headRuntime = 3 * STEP;
        runtimes.set(headId, headRuntime);
        let n = 0;
        let admittedAt: number | undefined;
        for (let step = 0; step < HORIZON && admittedAt === undefined; step++) {
          clock.advance(STEP);
          for (const [id, end] of ends) {
            if (end <= clock.now()) {
              e.finish(id);
              ends.delete(id);
            }
          }
          for (const s of stream[step % STEPS]!) {
            const id = `s${n++}` as JobId;
            const runtime = s.runtime * STEP;
            runtimes.set(id, runtime);
            const declared = s.declared === 'none' ? {} : { maxRuntimeMs: s.declared === 'exact' ? runtime : runtime + STEP };
            // Nothing outranks the head: the stream runs at its priority or below.
            e.submit({ id, team: `t${s.team % teams.length}` as TeamId, priority: s.low ? 0 : head.priority, perReplica: gpu(1), replicas: s.replicas, flavors: ['a100'], submittedAt: clock.now(), ...declared });
          }
          if (step === head.at) {
            const shape = head.gang ? { perReplica: gpu(1), replicas: headDevices } : { perReplica: gpu(headDevices) };
            e.submit({ id: headId, team: 't0' as TeamId, priority: head.priority, flavors: ['a100'], submittedAt: clock.now(), ...shape, ...(head.declared ? { maxRuntimeMs: headRuntime } : {}) });
          }
          const r = e.schedule();
          for (const d of r.decisions) {
            if (d.kind === 'admit') {
              ends.set(d.jobId, clock.now() + runtimes.get(d.jobId)!);
              if (d.jobId === headId) admittedAt = clock.now();
            } else ends.delete(d.jobId);
          }
          const s = e.status(headId);
          if (step >= head.at && s?.state === 'pending') assert.notEqual(s.reason.kind, 'unschedulable', 'the head fits its quota and the cluster');
        }
        assert.ok(admittedAt !== undefined, `head (${headDevices} of t0's nominal ${teams[0]!.nominal}) starved: ${JSON.stringify(e.status(headId))}`);
      },
    ),
    { numRuns: 300 },
  );
});
