// Trace replay through the hybrid scheduler's engine (scheduler/engine) on a virtual clock: tasks
// arrive at their trace times and are submitted to a SchedulerEngine, which admits them against team
// quotas (cohort borrowing and reclaim), in weighted fair-share order, by priority with preemption,
// gangs all-or-nothing, with reservations and backfill. `runReplay` measures placement policies
// alone; this measures the admission policy on the same trace and cluster.
//
// The loop is discrete-event on a ManualClock: at each instant, completions go first (`finish`),
// then arrivals (`submit`), then one `schedule()`; admitted tasks start at once and their completion
// is scheduled at now + duration; an evicted task goes back to the engine's queue and — the simplest
// honest model, with no checkpoint — restarts from the beginning when admitted again, its lost
// GPU-time counted as waste. The engine is also woken at its `nextWakeAt` (reservations lapsing, the
// periodic retry of parked jobs), as the control plane's ticks would.
//
// Mapping (the engine accounts whole numbers of devices, the trace shares GPUs):
// - one pool per GPU model, its flavor the model name ('cpu' for nodes without GPUs). The cluster
//   CSV has no region column, so there is one pool per flavor, in region 'sim';
// - the device unit is the milli-GPU: a node of k GPUs has k·1000 devices, a task asks
//   gpuCount·gpuMilli. This loses per-GPU identity — three 0.6-GPU tasks fit a 2-GPU node here,
//   not on real GPUs; `runReplay` keeps per-GPU identity;
// - memory is carried in MiB in the engine's `memoryBytes` field (the engine only adds and compares
//   it; bytes would leave exact integers for the CSV's "unlimited" default);
// - a GPU task accepts the models its `gpu_spec` lists (any model when empty), largest pool first; a
//   CPU task accepts CPU nodes first, then any GPU model;
// - quotas: without `quotas` every team's nominal quota is twice the cluster, so quotas never bind
//   (fair share and priorities still order the queue; a quota of exactly the cluster would make a
//   blocked task over-quota rather than capacity-blocked, and deny it a reservation). With `quotas` (team → fraction of the cluster)
//   each team's nominal per flavor is that fraction of the flavor's capacity in every resource;
//   teams of the trace not listed share what is left equally; all teams form one cohort (borrowing,
//   reclaim) unless `borrowing` is false.
import { StrataError, badRequest } from '../../kernel/index.ts';
import type { JobId, NodeId, TeamId } from '../../kernel/index.ts';
import { ManualClock } from '../../kernel/index.ts';
import { PRIORITY_CLASS_VALUES, SchedulerEngine } from '../engine/index.ts';
import type { CycleResult, FairShareOptions, FlavorQuota, NodeSpec, PendingReason, PlacementStrategy, PoolSpec, ResourceVector, TeamSpec } from '../engine/index.ts';
import { MILLI } from '../placement/index.ts';
import type { ClusterNode } from './cluster-state.ts';
import type { TraceJob } from './csv.ts';
import { distribution } from './replay.ts';
import type { Distribution, TeamFairness } from './replay.ts';

/** A trace task with the fields only the engine reads (the CSV does not carry them yet). */
export interface EngineTraceJob extends TraceJob {
  /** Gang size: replicas of `request`, placed all-or-nothing. Default 1. */
  readonly replicas?: number;
  /** Engine priority; overrides the class mapping. */
  readonly priority?: number;
  /** Default true. */
  readonly preemptible?: boolean;
}

export interface EngineReplayOptions {
  readonly nodes: readonly ClusterNode[];
  readonly jobs: readonly EngineTraceJob[];
  /** Nominal quota per team as a fraction of the cluster (0 < share ≤ 1, sum ≤ 1). Default: none. */
  readonly quotas?: Readonly<Record<string, number>>;
  /** With quotas: teams form one cohort and borrow each other's unused quota. Default true. */
  readonly borrowing?: boolean;
  /** Fair-share weight per team (default 1); also the entitlement when there are no quotas. */
  readonly teamWeights?: Readonly<Record<string, number>>;
  /**
   * Priority per job class (the trace's class or QoS). Default: the job system's named classes
   * (low, normal, high, critical) by name; any other class is normal.
   */
  readonly classPriorities?: Readonly<Record<string, number>>;
  /** Preemption (within a team by priority, and reclaim of borrowed quota). Default true. */
  readonly preemption?: boolean;
  /** Declare each task's trace duration as its maximum runtime (reservations, backfill). Default true. */
  readonly declareRuntimes?: boolean;
  /** How each pool chooses among nodes that fit. Default binpack. */
  readonly strategy?: Exclude<PlacementStrategy, 'scored'>;
  readonly fairShare?: Partial<FairShareOptions>;
  /** Engine reservations for blocked jobs (0 disables). Default: the engine's. */
  readonly maxReservations?: number;
  /** The engine's periodic retry of parked jobs, virtual ms. Default: the engine's (60 s). */
  readonly fullRetryEveryMs?: number;
  /** After every cycle, check the nodes it touched against the engine's node views (tests). */
  readonly checkInvariants?: boolean;
}

/** A team's use of the cluster against what it is entitled to, and what evictions cost it. */
export interface EngineTeamFairness extends TeamFairness {
  /** The team's nominal quota as a fraction of the cluster, when quotas are given. */
  readonly quota?: number;
  /** Times the team's tasks were evicted. */
  readonly evicted: number;
  /** GPU-hours the team's evicted tasks had run and lost. */
  readonly wastedGpuHours: number;
}

export interface EngineReplayResult {
  readonly jobs: number;
  readonly completed: number;
  /**
   * Tasks that can never run: no node (or set of nodes, for a gang) of an acceptable model holds
   * them even empty — found by the simulator before submitting (the engine would report a task
   * larger than its team's quota as over-quota) or reported so by the engine.
   */
  readonly unschedulable: number;
  /** Tasks never admitted (includes the unschedulable). */
  readonly neverStarted: number;
  /**
   * Tasks that did not complete, by the engine's pending-reason kind at the end ('unschedulable',
   * 'over-quota', 'no-capacity', ...). Sums with `completed` to `jobs`.
   */
  readonly notCompleted: Readonly<Record<string, number>>;
  readonly makespanSeconds: number;
  readonly gpuCapacity: number;
  readonly gpuUtilisationPct: number;
  readonly cpuUtilisationPct: number;
  readonly unallocatedGpuPct: number;
  readonly peakGpuAllocationPct: number;
  /** Arrival to completion of the final run (restarts included). */
  readonly jctSeconds: Distribution;
  /** Arrival to first admission, per class. */
  readonly queueDelaySeconds: Readonly<Record<string, Distribution>>;
  /**
   * Admissions in all, borrowing cohort quota, backfilled around a reservation, and made in a
   * cycle that only the engine's timer woke (no arrival or completion at that instant: a
   * reservation lapsed, or the periodic retry found a parked job its wake-ups had missed).
   */
  readonly admissions: { readonly total: number; readonly borrowing: number; readonly backfill: number; readonly onTimer: number };
  readonly preemptions: { readonly total: number; readonly withinTeamPriority: number; readonly reclaimBorrowedQuota: number };
  /** GPU-hours run by tasks that were then evicted (restarted from the beginning). */
  readonly wastedGpuHours: number;
  /**
   * GPU-time held per team (including time later lost to eviction) against its entitlement: the
   * quota shares normalised to sum to 1 when quotas are given, else the weights'.
   */
  readonly fairness: readonly EngineTeamFairness[];
  /** Jain's index over the teams' share/entitlement ratios. */
  readonly jainIndex: number;
  /** Scheduling cycles run. */
  readonly cycles: number;
  readonly energyKWh?: number;
  readonly carbonKg?: number;
}

const CPU_FLAVOR = 'cpu';
const REGION = 'sim';
const NORMAL = PRIORITY_CLASS_VALUES.normal;

type Admit = Extract<CycleResult['decisions'][number], { kind: 'admit' }>;

interface Completion {
  readonly time: number;
  readonly seq: number;
  readonly job: number;
  readonly run: number;
}

/** Binary min-heap of completions by (time, seq). */
class CompletionQueue {
  private readonly h: Completion[] = [];
  get size(): number {
    return this.h.length;
  }
  peek(): Completion | undefined {
    return this.h[0];
  }
  private static less(a: Completion, b: Completion): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }
  push(c: Completion): void {
    const h = this.h;
    h.push(c);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!CompletionQueue.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Completion | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && CompletionQueue.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && CompletionQueue.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Per-task simulation state. */
interface Task {
  readonly trace: EngineTraceJob;
  readonly id: JobId;
  readonly replicas: number;
  readonly per: ResourceVector;
  /** Milli-GPU of all replicas. */
  readonly gpuMilli: number;
  readonly durationMs: number;
  readonly arrivalMs: number;
  run: number;
  /** Start of the current run, or NaN when not running. */
  startedAt: number;
  firstStart: number;
  end: number;
  /** (node index, replicas) of the current run. */
  placement: readonly (readonly [number, number])[];
  unschedulable: boolean;
}

const sortStrings = (xs: Iterable<string>): string[] => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * Replays a trace through a SchedulerEngine (see the file header for the model and the mapping).
 * Deterministic: the same inputs give the same result.
 */
export function runEngineReplay(o: EngineReplayOptions): EngineReplayResult {
  if (o.jobs.length === 0) throw badRequest('the trace has no tasks');
  if (o.nodes.length === 0) throw badRequest('the cluster has no nodes');

  // ---- cluster: pools per flavor, nodes in milli-GPU --------------------------------------------
  const flavorOf = (n: ClusterNode): string => (n.gpuCount > 0 ? n.gpuModel : CPU_FLAVOR);
  const capacityOf = (n: ClusterNode): ResourceVector => ({ cpuMillis: n.cpuMilli, memoryBytes: n.memoryMiB, devices: n.gpuCount * MILLI });
  const flavorCap = new Map<string, { cpuMillis: number; memoryBytes: number; devices: number }>();
  const flavorNodes = new Map<string, number[]>();
  o.nodes.forEach((n, i) => {
    const f = flavorOf(n);
    const c = capacityOf(n);
    const sum = flavorCap.get(f) ?? { cpuMillis: 0, memoryBytes: 0, devices: 0 };
    sum.cpuMillis += c.cpuMillis;
    sum.memoryBytes += c.memoryBytes;
    sum.devices += c.devices;
    flavorCap.set(f, sum);
    const members = flavorNodes.get(f);
    if (members === undefined) flavorNodes.set(f, [i]);
    else members.push(i);
  });
  // GPU models, largest pool first (ties by name): the order a task that takes any model tries them.
  const gpuFlavors = [...flavorCap.entries()]
    .filter(([f]) => f !== CPU_FLAVOR)
    .sort(([a, x], [b, y]) => y.devices - x.devices || (a < b ? -1 : a > b ? 1 : 0))
    .map(([f]) => f);
  const strategy = o.strategy ?? 'binpack';
  const pools: PoolSpec[] = [...(flavorCap.has(CPU_FLAVOR) ? [CPU_FLAVOR] : []), ...gpuFlavors].map((f) => ({ name: f, region: REGION, flavor: f, capacityType: 'on-demand', strategy }));
  const nodeIds = o.nodes.map((n) => n.id as NodeId);
  const nodeSpecs: NodeSpec[] = o.nodes.map((n, i) => ({ id: nodeIds[i]!, pool: flavorOf(n), capacity: capacityOf(n) }));

  // ---- teams: quotas, cohort, weights -----------------------------------------------------------
  const traceTeams = new Set(o.jobs.map((j) => j.team));
  const teamNames = sortStrings(new Set([...traceTeams, ...Object.keys(o.quotas ?? {})]));
  for (const [t, w] of Object.entries(o.teamWeights ?? {})) {
    if (!(w > 0) || !Number.isFinite(w)) throw badRequest(`team weight of '${t}' must be a positive number, got ${w}`);
  }
  for (const [c, p] of Object.entries(o.classPriorities ?? {})) {
    if (!Number.isFinite(p)) throw badRequest(`the priority of class '${c}' must be a finite number, got ${p}`);
  }
  const shares = quotaShares(o.quotas, teamNames);
  const borrowing = o.borrowing ?? true;
  const teamSpecs: TeamSpec[] = teamNames.map((t) => {
    const quotas: Record<string, FlavorQuota> = {};
    for (const [f, cap] of flavorCap) {
      const s = shares?.get(t);
      // Without quotas: twice the cluster, so quota never binds and a blocked task is blocked by
      // capacity (which is what earns it a reservation; a quota-blocked task gets none).
      const k = s ?? 2;
      quotas[f] = { nominal: { cpuMillis: Math.floor(cap.cpuMillis * k), memoryBytes: Math.floor(cap.memoryBytes * k), devices: Math.floor(cap.devices * k) } };
    }
    return { id: t as TeamId, weight: o.teamWeights?.[t] ?? 1, quotas, ...(shares !== undefined && borrowing ? { cohort: 'cluster' } : {}) };
  });

  // ---- tasks ------------------------------------------------------------------------------------
  const priorityOf = (j: EngineTraceJob): number => {
    if (j.priority !== undefined) {
      if (!Number.isFinite(j.priority)) throw badRequest(`task ${j.id}: priority must be a finite number`);
      return j.priority;
    }
    const mapped = o.classPriorities?.[j.jobClass];
    if (mapped !== undefined) return mapped;
    return Object.hasOwn(PRIORITY_CLASS_VALUES, j.jobClass) ? PRIORITY_CLASS_VALUES[j.jobClass as keyof typeof PRIORITY_CLASS_VALUES] : NORMAL;
  };
  const flavorsOf = (j: EngineTraceJob): string[] => {
    const r = j.request;
    if (r.gpuCount === 0) return [...(flavorCap.has(CPU_FLAVOR) ? [CPU_FLAVOR] : []), ...gpuFlavors];
    const accepted = r.gpuModels ?? [];
    return accepted.length === 0 ? [...gpuFlavors] : gpuFlavors.filter((f) => accepted.includes(f));
  };
  /** Fits an empty cluster on some acceptable flavor (per replica on a node, all replicas in the pool). */
  const everFits = (flavors: readonly string[], per: ResourceVector, replicas: number): boolean =>
    flavors.some((f) => {
      let room = 0;
      for (const i of flavorNodes.get(f) ?? []) {
        room += howMany(per, capacityOf(o.nodes[i]!));
        if (room >= replicas) return true;
      }
      return false;
    });

  const t0 = o.jobs.reduce((m, j) => Math.min(m, j.arrival), Infinity);
  const clock = new ManualClock(Math.round(t0 * 1000));
  const engine = new SchedulerEngine(
    { pools, nodes: nodeSpecs, teams: teamSpecs },
    {
      clock,
      ...(o.fairShare === undefined ? {} : { fairShare: o.fairShare }),
      ...(o.preemption === undefined ? {} : { preemption: o.preemption }),
      ...(o.maxReservations === undefined ? {} : { maxReservations: o.maxReservations }),
      ...(o.fullRetryEveryMs === undefined ? {} : { fullRetryEveryMs: o.fullRetryEveryMs }),
    },
  );
  const retryEveryMs = o.fullRetryEveryMs ?? 60_000;
  if (!(retryEveryMs >= 0) || !Number.isFinite(retryEveryMs)) throw badRequest(`fullRetryEveryMs must be a number ≥ 0, got ${retryEveryMs}`);
  const declare = o.declareRuntimes ?? true;

  const tasks: Task[] = o.jobs.map((j, k) => {
    const replicas = j.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) throw badRequest(`task ${j.id}: replicas must be a whole number ≥ 1, got ${replicas}`);
    if (!(Number.isFinite(j.duration) && j.duration >= 0)) throw badRequest(`task ${j.id}: duration must be a number ≥ 0`);
    const per = { cpuMillis: j.request.cpuMilli, memoryBytes: j.request.memoryMiB, devices: j.request.gpuCount * j.request.gpuMilli };
    return {
      trace: j,
      id: `${k}` as JobId,
      replicas,
      per,
      gpuMilli: per.devices * replicas,
      durationMs: Math.round(j.duration * 1000),
      arrivalMs: Math.round(j.arrival * 1000),
      run: 0,
      startedAt: NaN,
      firstStart: NaN,
      end: NaN,
      placement: [],
      unschedulable: false,
    };
  });
  const arrivals = tasks.map((_, k) => k).sort((a, b) => tasks[a]!.arrivalMs - tasks[b]!.arrivalMs || a - b);

  // ---- accounting -------------------------------------------------------------------------------
  const nodeCpu = new Float64Array(o.nodes.length);
  const nodeMem = new Float64Array(o.nodes.length);
  const nodeGpu = new Float64Array(o.nodes.length);
  let allocGpu = 0;
  let allocCpu = 0;
  const gpuCapacityMilli = o.nodes.reduce((a, n) => a + n.gpuCount * MILLI, 0);
  const cpuCapacity = o.nodes.reduce((a, n) => a + n.cpuMilli, 0);
  const powered = o.nodes.every((n) => n.power !== undefined);
  const carbonKnown = powered && o.nodes.every((n) => n.carbonGPerKWh !== undefined);
  const power = new Float64Array(o.nodes.length);
  let totalPower = 0;
  let carbonRate = 0;
  const refreshPower = (i: number): void => {
    const n = o.nodes[i]!;
    const p = n.power;
    if (p === undefined) return;
    const w = p.idleWatts + (n.cpuMilli > 0 ? (p.cpuWatts * nodeCpu[i]!) / n.cpuMilli : 0) + (p.gpuWatts * nodeGpu[i]!) / MILLI;
    totalPower += w - power[i]!;
    carbonRate += (w - power[i]!) * (n.carbonGPerKWh ?? 0);
    power[i] = w;
  };
  if (powered) for (let i = 0; i < o.nodes.length; i++) refreshPower(i);

  const t0ms = clock.now();
  let accountedTo = t0ms;
  let gpuArea = 0;
  let cpuArea = 0;
  let energyWms = 0;
  let carbonGWms = 0;
  let peakGpu = 0;
  /** Integrates the (constant since the last change) state up to `t`; call before any change at `t`. */
  const accrue = (t: number): void => {
    const dt = t - accountedTo;
    if (dt <= 0) return;
    gpuArea += allocGpu * dt;
    cpuArea += allocCpu * dt;
    energyWms += totalPower * dt;
    carbonGWms += carbonRate * dt;
    accountedTo = t;
  };

  const teamHeldMilliMs = new Map<string, number>(teamNames.map((t) => [t, 0]));
  const teamEvicted = new Map<string, number>(teamNames.map((t) => [t, 0]));
  const teamWastedMilliMs = new Map<string, number>(teamNames.map((t) => [t, 0]));
  const touched = new Set<number>();
  const book = (t: Task, sign: 1 | -1): void => {
    for (const [i, r] of t.placement) {
      nodeCpu[i] = nodeCpu[i]! + sign * r * t.per.cpuMillis;
      nodeMem[i] = nodeMem[i]! + sign * r * t.per.memoryBytes;
      nodeGpu[i] = nodeGpu[i]! + sign * r * t.per.devices;
      allocCpu += sign * r * t.per.cpuMillis;
      allocGpu += sign * r * t.per.devices;
      if (powered) refreshPower(i);
      touched.add(i);
    }
  };
  const nodeIndex = new Map(nodeIds.map((id, i) => [id as string, i]));
  const completions = new CompletionQueue();
  let seq = 0;
  let running = 0;
  const admissions = { total: 0, borrowing: 0, backfill: 0, onTimer: 0 };
  const preemptions = { total: 0, withinTeamPriority: 0, reclaimBorrowedQuota: 0 };
  let wastedMilliMs = 0;
  let cycles = 0;
  let completed = 0;
  /** Tasks submitted to the engine and not yet completed. */
  let unsettled = 0;

  const stop = (t: Task, now: number): number => {
    accrue(now);
    book(t, -1);
    const held = (now - t.startedAt) * t.gpuMilli;
    teamHeldMilliMs.set(t.trace.team, teamHeldMilliMs.get(t.trace.team)! + held);
    t.startedAt = NaN;
    t.placement = [];
    t.run += 1;
    running -= 1;
    return held;
  };
  const taskOf = (id: JobId): Task => {
    const t = tasks[Number(id)];
    if (t === undefined) throw new StrataError('internal', `the engine named a job the simulator did not submit: ${id}`);
    return t;
  };

  const apply = (cycle: CycleResult, now: number, timer: boolean): boolean => {
    let admitted = false;
    for (const d of cycle.decisions) {
      const t = taskOf(d.jobId);
      if (d.kind === 'evict') {
        if (Number.isNaN(t.startedAt)) throw new StrataError('internal', `the engine evicted task ${t.trace.id}, which is not running`);
        const lost = stop(t, now);
        wastedMilliMs += lost;
        teamWastedMilliMs.set(t.trace.team, teamWastedMilliMs.get(t.trace.team)! + lost);
        teamEvicted.set(t.trace.team, teamEvicted.get(t.trace.team)! + 1);
        if (d.cause.kind === 'preempted') {
          preemptions.total += 1;
          if (d.cause.rule === 'within-team-priority') preemptions.withinTeamPriority += 1;
          else preemptions.reclaimBorrowedQuota += 1;
        }
      } else {
        start(t, d, now);
        if (timer) admissions.onTimer += 1;
        admitted = true;
      }
    }
    peakGpu = Math.max(peakGpu, allocGpu);
    return admitted;
  };
  const start = (t: Task, d: Admit, now: number): void => {
    if (!Number.isNaN(t.startedAt)) throw new StrataError('internal', `the engine admitted task ${t.trace.id}, which is already running`);
    accrue(now);
    t.placement = d.assignments.map((a) => {
      const i = nodeIndex.get(a.nodeId);
      if (i === undefined) throw new StrataError('internal', `the engine placed task ${t.trace.id} on unknown node ${a.nodeId}`);
      return [i, a.replicas] as const;
    });
    book(t, 1);
    t.startedAt = now;
    if (Number.isNaN(t.firstStart)) t.firstStart = now;
    running += 1;
    admissions.total += 1;
    if (d.borrowing) admissions.borrowing += 1;
    if (d.backfill) admissions.backfill += 1;
    completions.push({ time: now + t.durationMs, seq: seq++, job: Number(t.id), run: t.run });
  };

  const check = (): void => {
    for (const i of touched) {
      const v = engine.node(nodeIds[i]!);
      const n = o.nodes[i]!;
      if (v === undefined) throw new StrataError('internal', `node ${n.id} is unknown to the engine`);
      const cap = capacityOf(n);
      const used = { cpuMillis: cap.cpuMillis - v.free.cpuMillis, memoryBytes: cap.memoryBytes - v.free.memoryBytes, devices: cap.devices - v.free.devices };
      if (v.free.cpuMillis < 0 || v.free.memoryBytes < 0 || v.free.devices < 0) throw new StrataError('internal', `node ${n.id} is over-committed: free ${JSON.stringify(v.free)}`);
      if (used.cpuMillis !== nodeCpu[i] || used.memoryBytes !== nodeMem[i] || used.devices !== nodeGpu[i]) {
        throw new StrataError('internal', `node ${n.id}: the engine holds ${JSON.stringify(used)}, the simulator's tasks ${JSON.stringify({ cpuMillis: nodeCpu[i], memoryBytes: nodeMem[i], devices: nodeGpu[i] })}`);
      }
    }
    touched.clear();
  };

  // ---- the event loop ---------------------------------------------------------------------------
  let next = 0; // the next arrival, an index into `arrivals`
  let wakeAt: number | undefined;
  let lastActivity = t0ms;
  for (;;) {
    const arrivalAt = next < arrivals.length ? tasks[arrivals[next]!]!.arrivalMs : Infinity;
    const eventAt = Math.min(arrivalAt, completions.peek()?.time ?? Infinity);
    let now: number;
    if (eventAt < Infinity) now = wakeAt !== undefined && wakeAt < eventAt ? wakeAt : eventAt;
    else {
      // Nothing left to arrive or complete (so nothing runs): what is still pending waits only for
      // the engine's own retries. Run them up to one a full retry period after the last activity,
      // which has then retried every parked job; stop there unless it admitted something.
      if (unsettled === 0) break;
      const settleAt = lastActivity + retryEveryMs;
      now = wakeAt !== undefined && wakeAt < settleAt ? wakeAt : settleAt;
    }
    clock.set(now);
    if (wakeAt !== undefined && wakeAt <= now) wakeAt = undefined;
    let real = false;
    for (let c = completions.peek(); c !== undefined && c.time <= now; c = completions.peek()) {
      completions.pop();
      const t = tasks[c.job]!;
      if (c.run !== t.run || Number.isNaN(t.startedAt)) continue; // a run that was evicted
      stop(t, now);
      engine.finish(t.id);
      t.end = now;
      completed += 1;
      unsettled -= 1;
      real = true;
    }
    for (; next < arrivals.length && tasks[arrivals[next]!]!.arrivalMs <= now; next++) {
      const t = tasks[arrivals[next]!]!;
      real = true;
      const flavors = flavorsOf(t.trace);
      if (!everFits(flavors, t.per, t.replicas)) {
        t.unschedulable = true;
        continue;
      }
      engine.submit({
        id: t.id,
        team: t.trace.team as TeamId,
        priority: priorityOf(t.trace),
        replicas: t.replicas,
        perReplica: t.per,
        flavors,
        submittedAt: now,
        ...(t.trace.preemptible === undefined ? {} : { preemptible: t.trace.preemptible }),
        ...(declare && t.durationMs > 0 ? { maxRuntimeMs: t.durationMs } : {}),
      });
      unsettled += 1;
    }
    if (real) {
      accrue(now);
      lastActivity = now;
    }
    const cycle = engine.schedule();
    cycles += 1;
    if (apply(cycle, now, !real)) lastActivity = now;
    if (o.checkInvariants === true) check();
    wakeAt = cycle.nextWakeAt !== undefined && cycle.nextWakeAt > now ? cycle.nextWakeAt : undefined;
    if (eventAt === Infinity && running === 0 && now >= lastActivity + retryEveryMs) break;
  }
  if (o.checkInvariants === true) {
    for (let i = 0; i < o.nodes.length; i++) touched.add(i);
    check();
  }

  // ---- figures ----------------------------------------------------------------------------------
  const spanMs = Math.max(0, lastActivity - t0ms);
  accrue(lastActivity);
  const jct: number[] = [];
  const delays = new Map<string, number[]>();
  const notCompleted = new Map<string, number>();
  let unschedulable = 0;
  let neverStarted = 0;
  for (const t of tasks) {
    if (!Number.isNaN(t.firstStart)) {
      const list = delays.get(t.trace.jobClass) ?? [];
      list.push((t.firstStart - t.arrivalMs) / 1000);
      delays.set(t.trace.jobClass, list);
    } else neverStarted += 1;
    if (!Number.isNaN(t.end)) {
      jct.push((t.end - t.arrivalMs) / 1000);
      continue;
    }
    // The simulator's own check found no node for it, or the engine's last reason says why not.
    const s = t.unschedulable ? undefined : engine.status(t.id);
    const kind: PendingReason['kind'] = s?.state === 'pending' ? s.reason.kind : 'unschedulable';
    if (kind === 'unschedulable') unschedulable += 1;
    notCompleted.set(kind, (notCompleted.get(kind) ?? 0) + 1);
  }
  const entitlements = entitlementsOf(teamNames, shares, o.teamWeights);
  const totalHeld = [...teamHeldMilliMs.values()].reduce((a, b) => a + b, 0);
  const hours = (milliMs: number): number => milliMs / MILLI / 3_600_000;
  const fairness: EngineTeamFairness[] = teamNames.map((team) => {
    const held = teamHeldMilliMs.get(team)!;
    const share = totalHeld > 0 ? held / totalHeld : 0;
    const entitlement = entitlements.get(team) ?? 0;
    const q = shares?.get(team);
    return {
      team,
      gpuHours: hours(held),
      share,
      entitlement,
      ratio: entitlement > 0 ? share / entitlement : 0,
      ...(q === undefined ? {} : { quota: q }),
      evicted: teamEvicted.get(team)!,
      wastedGpuHours: hours(teamWastedMilliMs.get(team)!),
    };
  });
  const ratios = fairness.filter((f) => f.entitlement > 0).map((f) => f.ratio);
  const sumR = ratios.reduce((a, b) => a + b, 0);
  const sumR2 = ratios.reduce((a, b) => a + b * b, 0);
  const pct = (area: number, capacity: number): number => (spanMs > 0 && capacity > 0 ? (100 * area) / spanMs / capacity : 0);
  return {
    jobs: tasks.length,
    completed,
    unschedulable,
    neverStarted,
    notCompleted: Object.fromEntries(sortStrings(notCompleted.keys()).map((k) => [k, notCompleted.get(k)!])),
    makespanSeconds: spanMs / 1000,
    gpuCapacity: gpuCapacityMilli / MILLI,
    gpuUtilisationPct: pct(gpuArea, gpuCapacityMilli),
    cpuUtilisationPct: pct(cpuArea, cpuCapacity),
    unallocatedGpuPct: gpuCapacityMilli > 0 ? 100 - pct(gpuArea, gpuCapacityMilli) : 0,
    peakGpuAllocationPct: gpuCapacityMilli > 0 ? (100 * peakGpu) / gpuCapacityMilli : 0,
    jctSeconds: distribution(jct),
    queueDelaySeconds: Object.fromEntries(sortStrings(delays.keys()).map((c) => [c, distribution(delays.get(c)!)])),
    admissions,
    preemptions,
    wastedGpuHours: hours(wastedMilliMs),
    fairness,
    jainIndex: sumR2 > 0 ? (sumR * sumR) / (ratios.length * sumR2) : 1,
    cycles,
    ...(powered ? { energyKWh: energyWms / 3_600_000 / 1000 } : {}),
    ...(carbonKnown ? { carbonKg: carbonGWms / 3_600_000 / 1000 / 1000 } : {}),
  };
}

/** How many copies of `per` fit in `cap` (Infinity for an empty request). */
function howMany(per: ResourceVector, cap: ResourceVector): number {
  let n = Infinity;
  if (per.cpuMillis > 0) n = Math.min(n, Math.floor(cap.cpuMillis / per.cpuMillis));
  if (per.memoryBytes > 0) n = Math.min(n, Math.floor(cap.memoryBytes / per.memoryBytes));
  if (per.devices > 0) n = Math.min(n, Math.floor(cap.devices / per.devices));
  return n;
}

/**
 * Each team's nominal share of the cluster: the listed ones, and what is left split equally among
 * the trace's teams not listed. Undefined without quotas.
 */
function quotaShares(quotas: Readonly<Record<string, number>> | undefined, teams: readonly string[]): Map<string, number> | undefined {
  if (quotas === undefined) return undefined;
  const entries = Object.entries(quotas);
  if (entries.length === 0) return undefined;
  for (const [t, s] of entries) {
    if (!(s > 0 && s <= 1)) throw badRequest(`the quota of team '${t}' must be a fraction of the cluster in (0, 1], got ${s}`);
  }
  const listed = entries.reduce((a, [, s]) => a + s, 0);
  if (listed > 1 + 1e-9) throw badRequest(`the quotas add up to ${listed.toFixed(3)} of the cluster: they are fractions of it and must add up to at most 1`);
  const rest = teams.filter((t) => !Object.hasOwn(quotas, t));
  const left = Math.max(0, 1 - listed);
  return new Map(teams.map((t) => [t, Object.hasOwn(quotas, t) ? quotas[t]! : rest.length > 0 ? left / rest.length : 0]));
}

/** Entitlements summing to 1: quota shares when given, else weights. */
function entitlementsOf(teams: readonly string[], shares: Map<string, number> | undefined, weights: Readonly<Record<string, number>> | undefined): Map<string, number> {
  const raw = teams.map((t) => [t, shares !== undefined ? shares.get(t)! : (weights?.[t] ?? 1)] as const);
  const sum = raw.reduce((a, [, w]) => a + w, 0);
  return new Map(raw.map(([t, w]) => [t, sum > 0 ? w / sum : 0]));
}
