// Trace replay on a virtual clock: tasks arrive at their trace times, are placed by a placement
// policy (or wait in a queue), run for their duration and leave. No wall clock is read: time is
// the event queue's. The queue is FIFO with backfill — when capacity frees, every waiting task that
// now fits starts, oldest first (admission, quotas and priorities belong to the scheduler engine;
// this core measures placement). Reports utilisation, unallocated and fragmented GPUs, job
// completion time and queueing delay per class, fairness per team (GPU-time share against
// entitlement), and energy and carbon when the cluster gives power and carbon intensity.
import { badRequest } from '../../kernel/index.ts';
import { seededRandom } from '../../kernel/index.ts';
import { MILLI, STRATA_WORKLOAD, createPolicy, requestGpuMilli, targetWorkload } from '../placement/index.ts';
import type { PolicyName } from '../placement/index.ts';
import { ClusterState, randomNodeRank } from './cluster-state.ts';
import type { Allocation, ClusterNode } from './cluster-state.ts';
import type { TraceJob } from './csv.ts';

export interface ReplayOptions {
  readonly nodes: readonly ClusterNode[];
  readonly jobs: readonly TraceJob[];
  readonly policy: PolicyName;
  readonly seed: number;
  /** Entitlement weight per team (default 1 for every team in the trace). */
  readonly teamWeights?: Readonly<Record<string, number>>;
  /** Run the invariant check after every event (tests). */
  readonly checkInvariants?: boolean;
}

export interface Distribution {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface TeamFairness {
  readonly team: string;
  readonly gpuHours: number;
  /** Share of all GPU-time used. */
  readonly share: number;
  /** Share the team is entitled to (its weight over the sum of weights). */
  readonly entitlement: number;
  /** share / entitlement. */
  readonly ratio: number;
}

export interface ReplayResult {
  readonly policy: PolicyName;
  readonly seed: number;
  readonly jobs: number;
  readonly completed: number;
  /** Tasks that fit on no node even when it is empty (never started). */
  readonly unschedulable: number;
  /** Tasks still waiting when the trace ended (never started). */
  readonly neverStarted: number;
  /** Simulated span, seconds, from the first arrival to the last event. */
  readonly makespanSeconds: number;
  readonly gpuCapacity: number;
  /** Time-weighted means over the span, % of capacity. */
  readonly gpuUtilisationPct: number;
  readonly cpuUtilisationPct: number;
  readonly unallocatedGpuPct: number;
  readonly fragmentedGpuPct: number;
  /** Peak GPU allocation, % of capacity. */
  readonly peakGpuAllocationPct: number;
  readonly jctSeconds: Distribution;
  readonly queueDelaySeconds: Readonly<Record<string, Distribution>>;
  readonly fairness: readonly TeamFairness[];
  /** Jain's index over the teams' share/entitlement ratios (1 = perfectly proportional). */
  readonly jainIndex: number;
  /** Present when every node has a power model. */
  readonly energyKWh?: number;
  /** Present when every node has a power model and a carbon intensity. */
  readonly carbonKg?: number;
}

/** Summary of a sample; p50/p99 by nearest rank. */
export function distribution(xs: readonly number[]): Distribution {
  if (xs.length === 0) return { count: 0, mean: 0, p50: 0, p99: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const rank = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
  return { count: s.length, mean: s.reduce((a, b) => a + b, 0) / s.length, p50: rank(0.5), p99: rank(0.99), max: s[s.length - 1] as number };
}

interface Event {
  readonly time: number;
  /** 0 = departure, 1 = arrival: at equal times departures go first. */
  readonly kind: 0 | 1;
  readonly seq: number;
  readonly job: number;
}

/** Binary min-heap of events by (time, kind, seq). */
class EventQueue {
  private readonly heap: Event[] = [];
  get size(): number {
    return this.heap.length;
  }
  private less(a: Event, b: Event): boolean {
    return a.time < b.time || (a.time === b.time && (a.kind < b.kind || (a.kind === b.kind && a.seq < b.seq)));
  }
  push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i] as Event, h[p] as Event)) break;
      [h[i], h[p]] = [h[p] as Event, h[i] as Event];
      i = p;
    }
  }
  pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l] as Event, h[m] as Event)) m = l;
        if (r < h.length && this.less(h[r] as Event, h[m] as Event)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Event, h[i] as Event];
        i = m;
      }
    }
    return top;
  }
}

/** Replays a trace against a cluster. Deterministic for a given seed. */
export function runReplay(o: ReplayOptions): ReplayResult {
  if (o.jobs.length === 0) throw badRequest('the trace has no tasks');
  const random = seededRandom(o.seed);
  const requests = o.jobs.map((j) => j.request);
  const hasGpuTasks = requests.some((r) => r.gpuCount > 0);
  const workload = hasGpuTasks ? targetWorkload(requests) : undefined;
  const steering = o.policy === 'strata' && hasGpuTasks ? targetWorkload(requests, STRATA_WORKLOAD) : workload;
  if ((o.policy === 'fgd' || o.policy === 'strata') && steering === undefined) throw badRequest(`policy '${o.policy}' needs GPU tasks in the trace to learn the task-shape distribution`);
  const maxCpuMilli = Math.max(...o.nodes.map((n) => n.cpuMilli));
  const maxGpuMilli = Math.max(1, ...o.nodes.map((n) => n.gpuCount)) * MILLI;
  const policy = createPolicy(o.policy, { ...(steering === undefined ? {} : { workload: steering }), random, maxCpuMilli, maxGpuMilli });
  // Score ties go to a seeded random order of nodes (as in the FGD authors' simulator), except
  // under Random-fit, which draws uniformly.
  const nodeRank = o.policy === 'random' ? undefined : randomNodeRank(o.nodes.length, random);
  const state = new ClusterState(o.nodes, { withTags: policy.usesGpuTags, ...(workload === undefined ? {} : { workload }), ...(nodeRank === undefined ? {} : { nodeRank }) });
  const empty = o.nodes.map((_, i) => state.view(i));
  const everFits = (j: number): boolean => {
    const r = (o.jobs[j] as TraceJob).request;
    return empty.some((v) => policy.choose(v, r) !== undefined);
  };

  const powered = o.nodes.every((n) => n.power !== undefined);
  const carbonKnown = powered && o.nodes.every((n) => n.carbonGPerKWh !== undefined);
  const nodePower = (i: number): number => {
    const n = o.nodes[i] as ClusterNode;
    const p = n.power;
    if (p === undefined) return 0;
    const cpuShare = n.cpuMilli > 0 ? (n.cpuMilli - state.cpuFreeOf(i)) / n.cpuMilli : 0;
    return p.idleWatts + p.cpuWatts * cpuShare + (p.gpuWatts * state.gpuAllocatedOf(i)) / MILLI;
  };
  const power = new Float64Array(o.nodes.length);
  let totalPower = 0;
  let carbonRate = 0; // g/h per W summed: Σ P_i · CI_i
  const refreshPower = (i: number): void => {
    const p = nodePower(i);
    const ci = (o.nodes[i] as ClusterNode).carbonGPerKWh ?? 0;
    totalPower += p - (power[i] as number);
    carbonRate += (p - (power[i] as number)) * ci;
    power[i] = p;
  };
  if (powered) for (let i = 0; i < o.nodes.length; i++) refreshPower(i);

  const events = new EventQueue();
  let seq = 0;
  o.jobs.forEach((j, k) => events.push({ time: j.arrival, kind: 1, seq: seq++, job: k }));
  const start = new Float64Array(o.jobs.length).fill(NaN);
  const end = new Float64Array(o.jobs.length).fill(NaN);
  const allocs: (Allocation | undefined)[] = new Array<Allocation | undefined>(o.jobs.length);
  const waiting: number[] = [];
  const teamGpuMilliSeconds = new Map<string, number>();
  for (const j of o.jobs) teamGpuMilliSeconds.set(j.team, 0);
  let unschedulable = 0;

  const t0 = Math.min(...o.jobs.map((j) => j.arrival));
  let now = t0;
  let gpuArea = 0;
  let cpuArea = 0;
  let fragArea = 0;
  let energyWs = 0;
  let carbonGWs = 0;
  let peak = 0;

  const startJob = (k: number, node: number, gpus: readonly number[]): void => {
    const job = o.jobs[k] as TraceJob;
    allocs[k] = state.allocate(node, job.request, gpus);
    start[k] = now;
    if (powered) refreshPower(node);
    peak = Math.max(peak, state.allocatedGpuMilli);
    events.push({ time: now + job.duration, kind: 0, seq: seq++, job: k });
  };

  for (let e = events.pop(); e !== undefined; e = events.pop()) {
    const dt = e.time - now;
    if (dt > 0) {
      gpuArea += state.allocatedGpuMilli * dt;
      cpuArea += state.allocatedCpuMilli * dt;
      fragArea += state.fragmentationMilli * dt;
      energyWs += totalPower * dt;
      carbonGWs += carbonRate * dt;
      now = e.time;
    }
    const k = e.job;
    const job = o.jobs[k] as TraceJob;
    if (e.kind === 1) {
      const pick = state.select(policy, job.request, random);
      if (pick !== undefined) startJob(k, pick.node, pick.gpus);
      else if (!everFits(k)) unschedulable += 1;
      else waiting.push(k);
    } else {
      const a = allocs[k] as Allocation;
      state.release(a);
      allocs[k] = undefined;
      end[k] = now;
      if (powered) refreshPower(a.node);
      teamGpuMilliSeconds.set(job.team, (teamGpuMilliSeconds.get(job.team) ?? 0) + requestGpuMilli(job.request) * job.duration);
      // Only the freed node gained capacity, and every waiting task fitted nowhere before: so a
      // waiting task can now fit only there. Start, oldest first, every one that does.
      for (let w = 0; w < waiting.length; ) {
        const q = waiting[w] as number;
        const r = (o.jobs[q] as TraceJob).request;
        if (state.fits(a.node, r)) {
          const c = policy.choose(state.view(a.node), r);
          const gpus = c?.gpus ?? state.bestFitGpus(a.node, r);
          // choose() saw GPUs in physical order (state.view), so its indices are physical.
          startJob(q, a.node, gpus);
          waiting.splice(w, 1);
        } else w += 1;
      }
    }
    if (o.checkInvariants === true) state.checkInvariants();
  }

  const span = Math.max(0, now - t0);
  const cap = state.gpuCapacityMilli;
  const jct: number[] = [];
  const delays = new Map<string, number[]>();
  o.jobs.forEach((j, k) => {
    if (!Number.isNaN(start[k])) {
      const list = delays.get(j.jobClass) ?? [];
      list.push((start[k] as number) - j.arrival);
      delays.set(j.jobClass, list);
    }
    if (!Number.isNaN(end[k])) jct.push((end[k] as number) - j.arrival);
  });
  const totalGpu = [...teamGpuMilliSeconds.values()].reduce((a, b) => a + b, 0);
  const weights = new Map([...teamGpuMilliSeconds.keys()].map((t) => [t, o.teamWeights?.[t] ?? 1]));
  const weightSum = [...weights.values()].reduce((a, b) => a + b, 0);
  const fairness: TeamFairness[] = [...teamGpuMilliSeconds]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([team, ms]) => {
      const share = totalGpu > 0 ? ms / totalGpu : 0;
      const entitlement = weightSum > 0 ? (weights.get(team) ?? 0) / weightSum : 0;
      return { team, gpuHours: ms / MILLI / 3600, share, entitlement, ratio: entitlement > 0 ? share / entitlement : 0 };
    });
  const ratios = fairness.map((f) => f.ratio);
  const sumR = ratios.reduce((a, b) => a + b, 0);
  const sumR2 = ratios.reduce((a, b) => a + b * b, 0);
  const pct = (area: number, capacity: number): number => (span > 0 && capacity > 0 ? (100 * area) / span / capacity : 0);
  const started = o.jobs.filter((_, k) => !Number.isNaN(start[k] as number)).length;
  return {
    policy: o.policy,
    seed: o.seed,
    jobs: o.jobs.length,
    completed: jct.length,
    unschedulable,
    neverStarted: o.jobs.length - started,
    makespanSeconds: span,
    gpuCapacity: cap / MILLI,
    gpuUtilisationPct: pct(gpuArea, cap),
    cpuUtilisationPct: pct(cpuArea, state.cpuCapacityMilli),
    unallocatedGpuPct: cap > 0 ? 100 - pct(gpuArea, cap) : 0,
    fragmentedGpuPct: pct(fragArea, cap),
    peakGpuAllocationPct: cap > 0 ? (100 * peak) / cap : 0,
    jctSeconds: distribution(jct),
    queueDelaySeconds: Object.fromEntries([...delays].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, xs]) => [c, distribution(xs)])),
    fairness,
    jainIndex: sumR2 > 0 ? (sumR * sumR) / (ratios.length * sumR2) : 1,
    ...(powered ? { energyKWh: energyWs / 3600 / 1000 } : {}),
    ...(carbonKnown ? { carbonKg: carbonGWs / 3600 / 1000 / 1000 } : {}),
  };
}
