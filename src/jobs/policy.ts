// The job system's view of the hybrid scheduler (scheduler/engine): turns the compute config,
// team quotas, live nodes and jobs from the store into the engine's pools, teams, nodes, running
// and pending jobs for one placement cycle. The database stays the source of truth: the engine is
// built from it every cycle, so a restarted server schedules as the one before it did (only the
// teams' decayed fair-share history, carried from cycle to cycle in memory, starts afresh).
//
// Flavors: a pool's flavor key is its flavor, or `spot:<flavor>` for spot capacity. A job with
// accelerators accepts the flavors it lists, in order (every pool of its kind when it lists none),
// then — if it is preemptible — their spot variants. CPU-only work accepts CPU pools first, then
// any other pool (it uses none of their devices). Quotas come from the config's `quotas` section;
// a team without an entry, or a flavor its entry does not list, is not limited.
import type { ComputeConfig, Pool, TeamQuota } from '../compute/index.ts';
import type { Clock, JobId, NodeId, TeamId } from '../kernel/index.ts';
import { PRIORITY_CLASS_VALUES, SchedulerEngine, placement } from '../scheduler/index.ts';
import type { FlavorQuota, JobRequest, NodeScorer, PendingReason, PoolSpec, ResourceVector, TeamSpec } from '../scheduler/index.ts';
import type { NodeCapacity } from './model.ts';
import type { JobSpec } from './spec-types.ts';

const UNLIMITED = 1e15;
const UNLIMITED_VECTOR: ResourceVector = { cpuMillis: UNLIMITED, memoryBytes: UNLIMITED, devices: UNLIMITED };

/** The engine's flavor key of a pool. */
export function flavorKey(pool: Pick<Pool, 'flavor' | 'capacityType'>): string {
  return pool.capacityType === 'spot' ? `spot:${pool.flavor}` : pool.flavor;
}

/** Acceptable flavors of a job, in order of preference. */
export function jobFlavors(spec: JobSpec, pools: readonly Pool[]): string[] {
  const out: string[] = [];
  const add = (k: string): void => {
    if (!out.includes(k)) out.push(k);
  };
  const acc = spec.resources.accelerators;
  if (acc === undefined) {
    for (const p of pools) if (p.kind === 'cpu' && p.capacityType === 'on-demand') add(flavorKey(p));
    for (const p of pools) if (p.capacityType === 'on-demand') add(flavorKey(p));
    if (spec.preemptible) for (const p of pools) add(flavorKey(p));
    return out;
  }
  const ofKind = pools.filter((p) => p.kind === acc.kind);
  const wanted = acc.flavors.length > 0 ? acc.flavors : [...new Set(ofKind.map((p) => p.flavor))];
  for (const f of wanted) if (ofKind.some((p) => p.flavor === f && p.capacityType === 'on-demand')) add(f);
  if (spec.preemptible) for (const f of wanted) if (ofKind.some((p) => p.flavor === f && p.capacityType === 'spot')) add(`spot:${f}`);
  return out;
}

const MIB = 2 ** 20;

/**
 * The node scorer of `placement: fgd` pools: Strata's placement policy, the one `npm run bench --
 * fgd` measures on the openb trace (placement.strataPlacement). A node scores FGD's integer score of
 * how much its accelerator fragmentation (expected devices no job of the target workload could
 * use, memory counted) grows if one replica lands there, with equal scores broken by best fit;
 * higher is better. Devices are whole here (a job asks for whole accelerators), so a free device is
 * 1,000 milli and a used one 0. Best fit is normalised by MAX_CPU and MAX_DEVICES, far above any
 * node, so it only orders nodes of equal score.
 */
export function fgdScorer(workload: placement.TargetWorkload): NodeScorer {
  const strata = placement.strataPlacement(workload, MAX_CPU_MILLIS, MAX_DEVICES * placement.MILLI);
  return (node, req) => {
    const r = req.perReplica;
    const view: placement.GpuNodeView = {
      id: node.id,
      gpuModel: node.flavor,
      cpuMilli: node.capacity.cpuMillis,
      memoryMiB: node.capacity.memoryBytes / MIB,
      cpuFree: node.free.cpuMillis,
      memoryFree: node.free.memoryBytes / MIB,
      gpuFree: Array.from({ length: node.capacity.devices }, (_, i) => (i < node.free.devices ? placement.MILLI : 0)),
    };
    const request: placement.PlacementRequest = { cpuMilli: r.cpuMillis, memoryMiB: r.memoryBytes / MIB, gpuCount: r.devices, gpuMilli: r.devices > 0 ? placement.MILLI : 0 };
    const score = strata.score(view, request);
    return score === undefined ? undefined : -score;
  };
}

const MAX_CPU_MILLIS = 4_096_000;
const MAX_DEVICES = 1_024;

/** The target workload of FGD pools: the shapes of this cycle's running and pending replicas, weighted by count. */
function workloadOf(jobs: readonly PolicyJob[]): placement.TargetWorkload | undefined {
  const shapes = jobs.map((j) => {
    const r = perReplica(j.spec);
    return { cpuMilli: r.cpuMillis, memoryMiB: r.memoryBytes / MIB, gpuCount: r.devices, gpuMilli: r.devices > 0 ? placement.MILLI : 0, weight: j.spec.replicas };
  });
  return shapes.length === 0 ? undefined : placement.workloadFromShapes(shapes);
}

/** One replica's resources. */
export function perReplica(spec: JobSpec): ResourceVector {
  return { cpuMillis: spec.resources.cpuMillis, memoryBytes: spec.resources.memoryBytes, devices: spec.resources.accelerators?.count ?? 0 };
}

export interface PolicyNode {
  readonly id: string;
  readonly pool: string;
  readonly capacity: NodeCapacity;
  readonly labels: Readonly<Record<string, string>>;
}

export interface PolicyJob {
  readonly id: string;
  readonly teamId: string;
  readonly spec: JobSpec;
  readonly createdAt: string;
}

export interface ActiveJob extends PolicyJob {
  /** Where its replicas run: one node for a single replica, one or more for a gang. */
  readonly assignments: readonly { readonly nodeId: string; readonly replicas: number }[];
  readonly startedAt: number;
}

function teamSpec(teamId: string, quota: TeamQuota | undefined, flavors: readonly string[], history: { decayedShare: number; at: number } | undefined): TeamSpec {
  const quotas: Record<string, FlavorQuota> = {};
  for (const f of flavors) {
    const q = quota?.flavors[f];
    quotas[f] =
      q === undefined
        ? { nominal: UNLIMITED_VECTOR }
        : { nominal: q.nominal, ...(q.borrowingLimit === undefined ? {} : { borrowingLimit: q.borrowingLimit }), ...(q.lendingLimit === undefined ? {} : { lendingLimit: q.lendingLimit }) };
  }
  return { id: teamId as TeamId, ...(quota?.cohort === undefined ? {} : { cohort: quota.cohort }), weight: quota?.weight ?? 1, quotas, ...(history === undefined ? {} : { history }) };
}

function request(j: PolicyJob, compute: ComputeConfig, priorityOverride?: number): JobRequest {
  const s = j.spec;
  return {
    id: j.id as JobId,
    team: j.teamId as TeamId,
    priority: priorityOverride ?? PRIORITY_CLASS_VALUES[s.priorityClass],
    preemptible: s.preemptible,
    replicas: s.replicas,
    perReplica: perReplica(s),
    ...(s.topology === undefined ? {} : { topology: s.topology }),
    flavors: jobFlavors(s, compute.pools),
    ...(s.regions.length === 0 ? {} : { regions: s.regions }),
    ...(s.dataResidency.length === 0 ? {} : { residency: s.dataResidency }),
    ...(s.maxRuntimeSeconds === undefined ? {} : { maxRuntimeMs: s.maxRuntimeSeconds * 1000 }),
    submittedAt: Date.parse(j.createdAt),
  };
}

/**
 * Builds the engine for one cycle. Running jobs whose node is not live (lost, or gone since) are
 * left out: the lease rescuer deals with them, and their capacity is not there to account.
 */
export function buildEngine(input: {
  readonly compute: ComputeConfig;
  readonly clock: Clock;
  /** team id → team name (for the config's quotas, which name teams). */
  readonly teams: ReadonlyMap<string, string>;
  /** Decayed fair-share history per team id, carried from the previous cycle's engine. */
  readonly history?: ReadonlyMap<string, { readonly decayedShare: number; readonly at: number }>;
  readonly nodes: readonly PolicyNode[];
  readonly active: readonly ActiveJob[];
  readonly pending: readonly PolicyJob[];
}): SchedulerEngine {
  const { compute } = input;
  const regions = new Map(compute.regions.map((r) => [r.name, r]));
  const workload = compute.pools.some((p) => p.placement === 'fgd') ? workloadOf([...input.active, ...input.pending]) : undefined;
  const pools: PoolSpec[] = compute.pools.map((p) => ({
    name: p.name,
    region: p.region,
    flavor: flavorKey(p),
    capacityType: p.capacityType,
    // Without any job shape to measure against, an FGD pool packs.
    strategy: p.placement === 'fgd' ? (workload === undefined ? 'binpack' : 'scored') : p.placement,
    residency: regions.get(p.region)?.dataResidency ?? [],
  }));
  const flavors = [...new Set(pools.map((p) => p.flavor))];
  const quotaByTeam = new Map((compute.quotas ?? []).map((q) => [q.team, q]));
  const teams = [...input.teams].map(([id, name]) => teamSpec(id, quotaByTeam.get(name), flavors, input.history?.get(id)));
  const knownPools = new Set(pools.map((p) => p.name));
  const nodes = input.nodes
    .filter((n) => knownPools.has(n.pool))
    .map((n) => ({
      id: n.id as NodeId,
      pool: n.pool,
      ...(n.labels['block'] === undefined ? {} : { block: n.labels['block'] }),
      ...(n.labels['rack'] === undefined ? {} : { rack: n.labels['rack'] }),
      capacity: { cpuMillis: n.capacity.cpuMillis, memoryBytes: n.capacity.memoryBytes, devices: n.capacity.devices },
    }));
  const engine = new SchedulerEngine({ pools, nodes, teams }, { clock: input.clock, ...(workload === undefined ? {} : { scorer: fgdScorer(workload) }) });
  const poolOf = new Map(nodes.map((n) => [n.id as string, n.pool]));
  const poolFlavor = new Map(pools.map((p) => [p.name, p.flavor]));
  for (const a of input.active) {
    const first = a.assignments[0];
    const pool = first === undefined ? undefined : poolOf.get(first.nodeId);
    // Every replica's node must be live and in the same pool; otherwise the rescuer deals with it.
    if (pool === undefined || a.assignments.some((x) => poolOf.get(x.nodeId) !== pool)) continue;
    if (a.assignments.reduce((n, x) => n + x.replicas, 0) !== a.spec.replicas) continue;
    const flavor = poolFlavor.get(pool) as string;
    // The job runs on this flavor whatever it would prefer now: restore it with that flavor accepted.
    const req = request(a, compute);
    engine.restoreRunning({ job: { ...req, flavors: req.flavors.includes(flavor) ? req.flavors : [...req.flavors, flavor] }, flavor, assignments: a.assignments.map((x) => ({ nodeId: x.nodeId as NodeId, replicas: x.replicas })), startedAt: a.startedAt });
  }
  for (const p of input.pending) engine.submit(request(p, compute));
  return engine;
}

/** A pending reason in one line, for `jobs describe` and the job's reason field. */
export function describeReason(r: PendingReason): string {
  const tried = (attempts: readonly { flavor: string; kind: string }[]): string => (attempts.length === 0 ? '' : ` (${attempts.map((a) => `${a.flavor}: ${a.kind}`).join('; ')})`);
  switch (r.kind) {
    case 'queued':
      return 'queued: waiting for the next scheduling cycle';
    case 'waiting-for-window':
      return `waiting for its start window at ${new Date(r.until).toISOString()}`;
    case 'over-quota': {
      const h = r.holds;
      const holds = h === undefined ? '' : `; holds its team's ${h.flavor} quota, ${h.expectedStart === undefined ? 'to start when running jobs of the team without a declared max runtime free enough of it' : `expected to start at ${new Date(h.expectedStart).toISOString()}`}`;
      return `over quota${tried(r.attempts)}${holds}`;
    }
    case 'no-capacity':
      return `no capacity of any acceptable flavor${tried(r.attempts)}`;
    case 'gang-incomplete':
      return `gang incomplete: ${r.placeable} of ${r.replicas} replicas placeable${tried(r.attempts)}`;
    case 'topology':
      return `no ${r.level} can hold the whole gang${tried(r.attempts)}`;
    case 'backfill-reservation':
      return `capacity reserved for ${r.heldFor} until ${new Date(r.until).toISOString()}${tried(r.attempts)}`;
    case 'reserved':
      return `holds a reservation in pool ${r.pool}: expected to start at ${new Date(r.expectedStart).toISOString()}`;
    case 'quota-reservation':
      return `team quota of ${r.flavor} reserved for ${r.heldFor} ${r.until === undefined ? 'until running jobs of the team without a declared max runtime free enough of it' : `until ${new Date(r.until).toISOString()}`}${tried(r.attempts)}`;
    case 'unschedulable':
      return `no acceptable flavor could ever hold it${tried(r.attempts)}`;
  }
}
