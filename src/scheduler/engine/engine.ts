// The hybrid scheduler's policy engine: pure (no I/O), deterministic (same inputs in the same order →
// same decisions), driven by the caller's events and clock. It admits jobs against team quotas in
// dominant-resource fair-share order, places them (bin-pack / spread / scored, gangs all-or-nothing
// with topology), preempts by priority within a team or to reclaim borrowed quota, reserves capacity
// for the first blocked job and backfills shorter jobs around it, evicts on spot reclaim, and keeps
// for every pending job the typed reason it is not running. Within a team, the head-of-line job
// blocked only by the team's quota holds that quota (a quota reservation): later jobs of the team
// use it only if they end before the quota is projected to be free for it, so a stream of small
// jobs cannot starve a big one.
//
// One cycle (`schedule()`) pops jobs in order — the team with the lowest weighted fair share first,
// within a team by priority then submission — and tries each job once, so a cycle admits everything
// that fits (no one-head-per-queue limit, kueue#14477); admissions within nominal quota go in a first
// pass, borrowing ones in a second (as Kueue orders a cycle). A job that does not fit is parked, per
// team, on the keys of what blocked it (capacity of a flavor, the team's quota of a flavor). Freeing
// capacity or quota wakes each team's parked jobs in queue order until their demand covers what was
// freed; every parked job is also retried at least every `fullRetryEveryMs`. Blocked jobs thus cost
// nothing in cycles where nothing they need was freed.
import type { Clock, JobId, NodeId, TeamId } from '../../kernel/index.ts';
import { badRequest, conflict, notFound } from '../../kernel/index.ts';
import type { NodeState, PlaceFailure, PlanItem, PoolState } from './capacity.ts';
import { CapacityIndex, roomOn } from './capacity.ts';
import { BucketIndex } from './bucket-index.ts';
import { Heap } from './heap.ts';
import type { Link } from './recency-list.ts';
import { RecencyList } from './recency-list.ts';
import type {
  Assignment,
  CycleResult,
  Decision,
  EngineEvent,
  EvictionCause,
  FlavorOutcome,
  JobRequest,
  JobStatus,
  NodeScorer,
  NodeSpec,
  NodeView,
  PendingReason,
  PoolSpec,
  ResourceVector,
  TeamSpec,
} from './model.ts';
import type { MutableVector } from './resources.ts';
import { addInto, howMany, isValidVector, scale } from './resources.ts';
import type { FairShareOptions, TeamState } from './quota.ts';
import { DEFAULT_FAIR_SHARE, QuotaLedger } from './quota.ts';

/** Times each admission attempt, for benchmarks (the engine itself never reads a clock but `clock`). */
export interface EngineProfiler {
  /** A monotonic time in nanoseconds. */
  readonly hrtime: () => number;
  readonly onAttempt: (elapsedNs: number, admitted: boolean) => void;
}

export interface EngineOptions {
  readonly clock: Clock;
  readonly fairShare?: Partial<FairShareOptions>;
  /** Preempt lower priorities within a team and reclaim borrowed quota. Default true. */
  readonly preemption?: boolean;
  /** Capacity reservations for blocked jobs (backfill around them); 0 disables. Default 8. */
  readonly maxReservations?: number;
  /** Node scorer for pools with strategy `scored` (e.g. FGD). */
  readonly scorer?: NodeScorer;
  /** Fitting candidates handed to the scorer per decision. Default 16. */
  readonly scorerCandidates?: number;
  readonly profiler?: EngineProfiler;
  /**
   * Every parked job is retried at least this often (clock ms), whatever was freed — the safety net
   * of wake budgets, like kube-scheduler's periodic flush of unschedulable pods. Default 60 s.
   */
  readonly fullRetryEveryMs?: number;
}

/** The cluster and teams an engine starts with. */
export interface EngineConfig {
  readonly pools: readonly PoolSpec[];
  readonly nodes: readonly NodeSpec[];
  readonly teams: readonly TeamSpec[];
}

/** A running job to restore (e.g. after a control-plane restart), with where it runs. */
export interface RunningJob {
  readonly job: JobRequest;
  readonly flavor: string;
  readonly assignments: readonly Assignment[];
  readonly startedAt: number;
}

type Phase = 'waiting' | 'queued' | 'parked' | 'running' | 'gone';

interface JobState {
  readonly req: JobRequest;
  readonly seq: number;
  /** `req.priority` and `req.submittedAt`, kept here: queue order reads them for every entry. */
  readonly priority: number;
  readonly submittedAt: number;
  readonly team: TeamQueue;
  readonly replicas: number;
  readonly total: ResourceVector;
  readonly preemptible: boolean;
  phase: Phase;
  /** Bumped whenever the job enters a queue, so stale heap entries can be told apart. */
  ticket: number;
  reason: PendingReason;
  /** `reason` was reported (a 'delayed' event or the initial 'queued'): a new reason equal to it is no news. */
  reasonShown: boolean;
  requeues: number;
  parkKeys: string[];
  flavor: string;
  pool: PoolState | undefined;
  items: readonly PlanItem[];
  startedAt: number;
  borrowing: boolean;
  reservation: Reservation | undefined;
  /** The team quota this job holds as its team's head of line (see QuotaHold). */
  hold: QuotaHold | undefined;
  /** Position in the team's running list of its flavor and priority. */
  runLink: Link<JobState> | undefined;
  /** Where the first pass of a cycle stopped (the flavor that needs borrowing). */
  deferred: { readonly from: number; readonly attempts: FlavorOutcome[]; readonly parkKeys: string[] } | undefined;
  /**
   * Eligible pools per flavor index when the job names regions or residency, valid while
   * `poolVersion` is unchanged (allocated on first use, one slot per flavor).
   */
  pools: ({ readonly version: number; readonly pools: readonly PoolState[] } | undefined)[] | undefined;
  /** `canHold` per flavor index (bits of the first 30 flavors: known, and the answer), valid while `holdVersion` is `shapeVersion`. */
  holdVersion: number;
  holdKnown: number;
  holdOk: number;
}

/** A team's park keys of one flavor, and the quota key's parked set once it exists (sets are never dropped). */
interface ParkKeys {
  readonly quota: string;
  readonly capacity: string;
  quotaSet: QuotaSet | undefined;
}

/** A queue slot: the job, the ticket it was queued with, and its order fields copied for speed. */
interface QueueEntry {
  readonly job: JobState;
  readonly ticket: number;
  readonly priority: number;
  readonly submittedAt: number;
  readonly seq: number;
}

const entryOf = (j: JobState): QueueEntry => ({ job: j, ticket: j.ticket, priority: j.priority, submittedAt: j.submittedAt, seq: j.seq });

interface TeamQueue {
  readonly state: TeamState;
  readonly queue: Heap<QueueEntry>;
  /** Running jobs per flavor and priority, in start order: the preemption candidates. */
  readonly running: Map<string, Map<number, RecencyList<JobState>>>;
  /** Quota held per flavor for the team's head-of-line job (at most one job per flavor). */
  readonly holds: Map<string, QuotaHold>;
  /** Bumped per flavor whenever a job of the team starts or stops on it: a hold's projection is redone only then. */
  readonly runs: Map<string, number>;
  /**
   * Running jobs with a declared runtime per flavor, by declared end (then seq): what a quota
   * hold's projection walks, kept in order by bind and unbind instead of sorted per projection.
   */
  readonly ends: Map<string, JobState[]>;
  /** Park keys per flavor, built once (not per job). */
  readonly keys: Map<string, ParkKeys>;
  /** Snapshot of the fair-share key while in the cycle's team heap. */
  key: number;
}

/**
 * Jobs parked on one key. Capacity keys keep queue order (a heap with lazily skipped stale
 * entries); quota keys index jobs by their total demand, so a headroom wakes only jobs it can hold.
 */
type ParkedSet =
  | { readonly kind: 'capacity'; readonly heap: Heap<QueueEntry>; live: number; readonly flavor: string; readonly team: TeamQueue }
  | {
      readonly kind: 'quota';
      readonly index: BucketIndex<JobState>;
      /** The parked jobs that could ever fit the team's quota, in queue order (stale entries skipped lazily): the next head of line. */
      readonly order: Heap<QueueEntry>;
      readonly flavor: string;
      readonly team: TeamQueue;
    };
type QuotaSet = Extract<ParkedSet, { kind: 'quota' }>;

interface Reservation {
  readonly job: JobState;
  readonly pool: PoolState;
  readonly nodes: readonly NodeState[];
  readonly until: number;
}

/**
 * A quota reservation: the team's quota of `flavor` held for its head-of-line job (the first, in
 * queue order, of its pending jobs that was blocked only by the team's quota and fits within the
 * team's nominal quota — borrowing is best effort and reclaimable, so nothing is held for it).
 * From the declared ends of the team's running jobs of the flavor, `until` is when enough of the
 * quota will be free for it. A later job of the team (same or lower priority) takes the quota only
 * if it ends by `until` (quota backfill) or leaves enough for the holder at `until` besides; with
 * `until` unknown (open-ended running jobs), only if it leaves the holder's demand free now.
 */
interface QuotaHold {
  readonly job: JobState;
  readonly flavor: string;
  until: number | undefined;
  /** What the team's running jobs of the flavor that end by `until` hold (kept by bind and unbind). */
  released: MutableVector;
  /** The team's `runs` of the flavor when `until` was projected. */
  stamp: number;
}

/** An attempt's outcome; no reason = deferred to the borrowing pass. */
type Attempt = { readonly ok: true; readonly decision: Decision } | { readonly ok: false; readonly reason: PendingReason; readonly parkKeys: string[] } | { readonly ok: false; readonly reason: undefined };
const DEFER: Attempt = { ok: false, reason: undefined };
/** The job goes back to its team's queue behind an earlier job of the team that was woken for it. */
const RETRY: Attempt = { ok: false, reason: undefined };
const NO_POOLS: readonly PoolState[] = [];

/**
 * Reservation searches per cycle: the first blocked jobs in cycle order (the heads of the line) get
 * one; reservations persist across cycles up to `maxReservations` (like Slurm's bf_max_job_test).
 */
const RESERVATION_TRIES_PER_CYCLE = 2;

/** Parked jobs larger than the freed capacity retried per wake without counting against it. */
const LARGE_WAKES = 8;

/** Bounds on one preemption search: candidates looked at, and victims tried. */
const MAX_VICTIMS_SCANNED = 512;
const MAX_VICTIMS_LIFTED = 64;

/**
 * Preemption candidates lowest priority first, most recently started first within a priority
 * (across all sources), lazily: walks the running lists from their newest ends.
 */
function* candidatesInOrder(sources: readonly { readonly team: TeamQueue; readonly below: number }[], flavor: string, levels: readonly number[]): Generator<JobState> {
  for (const level of levels) {
    const cursors: Link<JobState>[] = [];
    for (const src of sources) {
      if (level >= src.below) continue;
      const tail = src.team.running.get(flavor)?.get(level)?.tail;
      if (tail !== undefined) cursors.push(tail);
    }
    for (;;) {
      let best = -1;
      for (let i = 0; i < cursors.length; i++) {
        const c = cursors[i]!.value;
        const b = best < 0 ? undefined : cursors[best]!.value;
        if (b === undefined || c.startedAt > b.startedAt || (c.startedAt === b.startedAt && c.seq > b.seq)) best = i;
      }
      if (best < 0) break;
      const link = cursors[best]!;
      yield link.value;
      if (link.prev === undefined) cursors.splice(best, 1);
      else cursors[best] = link.prev;
    }
  }
}

const FAILURE_RANK: Readonly<Record<PlaceFailure['kind'], number>> = { 'too-large': 0, 'no-capacity': 1, topology: 2, 'gang-incomplete': 3, reserved: 4 };

const jobBefore = (a: QueueEntry, b: QueueEntry): boolean =>
  a.priority !== b.priority ? a.priority > b.priority : a.submittedAt !== b.submittedAt ? a.submittedAt < b.submittedAt : a.seq < b.seq;

/** `a` comes before `b` in its team's queue order (priority, then submission). */
const firstInLine = (a: JobState, b: JobState): boolean =>
  a.priority !== b.priority ? a.priority > b.priority : a.submittedAt !== b.submittedAt ? a.submittedAt < b.submittedAt : a.seq < b.seq;

const isLive = (e: QueueEntry): boolean => e.job.phase === 'parked' && e.ticket === e.job.ticket;

const teamBefore = (a: TeamQueue, b: TeamQueue): boolean => (a.key !== b.key ? a.key < b.key : a.state.index < b.state.index);

/** The scheduler's policy engine. Create one per cluster; feed it events; call `schedule()`. */
export class SchedulerEngine {
  private readonly clock: Clock;
  private readonly ledger: QuotaLedger;
  private readonly capacity: CapacityIndex;
  private readonly teams = new Map<TeamId, TeamQueue>();
  private readonly jobs = new Map<JobId, JobState>();
  private readonly waiting = new Heap<QueueEntry>((a, b) => (a.job.req.notBefore ?? 0) < (b.job.req.notBefore ?? 0) || ((a.job.req.notBefore ?? 0) === (b.job.req.notBefore ?? 0) && a.job.seq < b.job.seq));
  private readonly parked = new Map<string, ParkedSet>();
  /** Capacity park keys per flavor (one per team that has parked on it). */
  private readonly capacityKeys = new Map<string, Set<string>>();
  private readonly wakes = new Map<string, number>();
  /** Quota keys woken since the last flush: the largest job that may now fit (limit) and how much demand to retry (budget). */
  private readonly quotaWakes = new Map<string, { limit: number; budget: number }>();
  /** Capacity freed per flavor since the last flush (units; Infinity = anything may fit). */
  private readonly capacityWakes = new Map<string, number>();
  private readonly reservations = new Map<JobId, Reservation>();
  private readonly poolRunning = new Map<PoolState, Set<JobState>>();
  private readonly preemptMemo = new Map<string, { priority: number; total: ResourceVector; per: ResourceVector; replicas: number }[]>();
  private readonly requeueAfterCycle: JobState[] = [];
  private readonly bufferedEvents: EngineEvent[] = [];
  private readonly preemption: boolean;
  private readonly maxReservations: number;
  private readonly profiler: EngineProfiler | undefined;
  private seq = 0;
  private inCycle = false;
  /** Scratch vector for preemption bounds (no allocation on the common path). */
  private readonly scratch: MutableVector = { cpuMillis: 0, memoryBytes: 0, devices: 0 };
  private readonly fullRetryEveryMs: number;
  private lastFullRetry: number;
  /** Reservation searches left in this cycle (each walks a pool's running jobs by end time). */
  private reservationTries = 0;
  /** Bumped when a pool is added, invalidating the jobs' cached pool lists. */
  private poolVersion = 0;
  /** Bumped when pools, nodes or team quotas change, invalidating the jobs' cached `canHold`. */
  private shapeVersion = 0;

  constructor(config: EngineConfig, options: EngineOptions) {
    this.clock = options.clock;
    this.ledger = new QuotaLedger({ ...DEFAULT_FAIR_SHARE, ...options.fairShare });
    this.capacity = new CapacityIndex({ scorer: options.scorer, scorerCandidates: options.scorerCandidates ?? 16 });
    this.preemption = options.preemption ?? true;
    this.maxReservations = options.maxReservations ?? 8;
    this.profiler = options.profiler;
    this.fullRetryEveryMs = options.fullRetryEveryMs ?? 60_000;
    this.lastFullRetry = this.clock.now();
    for (const p of config.pools) this.addPool(p);
    for (const n of config.nodes) this.addNode(n);
    for (const t of config.teams) this.setTeam(t);
  }

  // ---- cluster and team configuration ---------------------------------------------------------

  /** Adds a pool (nodes are added separately). */
  addPool(spec: PoolSpec): void {
    const p = this.capacity.addPool(spec);
    this.poolRunning.set(p, new Set());
    this.poolVersion++;
    this.shapeVersion++;
  }

  /** Adds a node; jobs waiting for capacity of its flavor are tried again. */
  addNode(spec: NodeSpec): void {
    const n = this.capacity.addNode(spec);
    this.shapeVersion++;
    this.ledger.addCapacity(n.pool.spec.flavor, spec.capacity, 1);
    this.wakeCapacity(n.pool.spec.flavor, Infinity);
  }

  /** Adds or reconfigures a team (quotas, cohort, weight); every parked job is tried again. */
  setTeam(spec: TeamSpec): void {
    const state = this.ledger.setTeam(spec, this.clock.now());
    this.shapeVersion++;
    if (!this.teams.has(spec.id)) this.teams.set(spec.id, { state, queue: new Heap(jobBefore), running: new Map(), holds: new Map(), runs: new Map(), ends: new Map(), keys: new Map(), key: 0 });
    for (const key of this.parked.keys()) this.wake(key, Infinity);
  }

  /**
   * A node is gone (failed, drained, deleted): every job on it is evicted and requeued with its
   * checkpoint (a gang loses all its replicas, not only those on the node).
   */
  removeNode(nodeId: NodeId): CycleResult {
    return this.dropNode(nodeId, { kind: 'node-lost', nodeId });
  }

  /** The provider reclaims a spot node: its jobs are evicted (checkpoint kept) and requeued. */
  reclaimSpot(nodeId: NodeId): CycleResult {
    const n = this.capacity.nodes.get(nodeId);
    if (n === undefined) throw notFound('node', nodeId);
    if (n.pool.spec.capacityType !== 'spot') throw badRequest(`node ${nodeId} is in on-demand pool ${n.pool.spec.name}; only spot capacity is reclaimed`, { node: nodeId });
    return this.dropNode(nodeId, { kind: 'spot-reclaimed', nodeId });
  }

  private dropNode(nodeId: NodeId, cause: EvictionCause): CycleResult {
    const n = this.capacity.nodes.get(nodeId);
    if (n === undefined) throw notFound('node', nodeId);
    const now = this.clock.now();
    const decisions: Decision[] = [];
    const events: EngineEvent[] = [];
    for (const id of [...n.jobs.keys()].sort()) {
      const j = this.jobs.get(id);
      if (j !== undefined && j.phase === 'running') this.evict(j, cause, now, decisions, events);
    }
    if (n.reservedFor !== undefined) {
      const r = this.reservations.get(n.reservedFor);
      if (r !== undefined) this.dropReservation(r);
    }
    this.capacity.removeNode(n);
    this.shapeVersion++;
    this.ledger.addCapacity(n.pool.spec.flavor, n.spec.capacity, -1);
    this.requeueEvicted();
    this.flushWakes();
    return { at: now, decisions, events, nextWakeAt: this.nextWakeAt() };
  }

  // ---- job events -------------------------------------------------------------------------------

  /** Queues a job. It is considered at the next `schedule()` (or when its `notBefore` arrives). */
  submit(req: JobRequest): void {
    this.enqueue(this.create(req), this.clock.now());
  }

  private create(req: JobRequest): JobState {
    if (this.jobs.has(req.id)) throw conflict(`job ${req.id} was already submitted`, { job: req.id });
    const team = this.teams.get(req.team);
    if (team === undefined) throw badRequest(`job ${req.id} names unknown team ${req.team}`, { job: req.id, team: req.team });
    const replicas = req.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) throw badRequest(`job ${req.id}: replicas must be an integer ≥ 1`, { job: req.id });
    if (!isValidVector(req.perReplica)) throw badRequest(`job ${req.id}: resources must be finite and ≥ 0`, { job: req.id });
    if (req.flavors.length === 0) throw badRequest(`job ${req.id}: list at least one acceptable flavor`, { job: req.id });
    if (!Number.isFinite(req.priority)) throw badRequest(`job ${req.id}: priority must be a finite number`, { job: req.id });
    if (req.maxRuntimeMs !== undefined && !(req.maxRuntimeMs > 0)) throw badRequest(`job ${req.id}: maxRuntimeMs must be > 0`, { job: req.id });
    const j: JobState = {
      req,
      seq: this.seq++,
      priority: req.priority,
      submittedAt: req.submittedAt,
      team,
      replicas,
      total: scale(req.perReplica, replicas),
      preemptible: req.preemptible ?? true,
      phase: 'gone',
      ticket: 0,
      reason: { kind: 'queued' },
      reasonShown: true,
      requeues: 0,
      parkKeys: [],
      flavor: '',
      pool: undefined,
      items: [],
      // Not a small integer: start times are doubles, and a field that changes representation
      // would make V8 migrate every job object on first touch.
      startedAt: Number.NaN,
      borrowing: false,
      reservation: undefined,
      hold: undefined,
      runLink: undefined,
      deferred: undefined,
      pools: undefined,
      holdVersion: -1,
      holdKnown: 0,
      holdOk: 0,
    };
    this.jobs.set(req.id, j);
    return j;
  }

  /**
   * Restores a job that is already running (control-plane restart): its usage is booked without a
   * quota check, since it was admitted before.
   */
  restoreRunning(r: RunningJob): void {
    const first = r.assignments[0];
    const pool = first === undefined ? undefined : this.capacity.nodes.get(first.nodeId)?.pool;
    if (pool === undefined) throw badRequest(`job ${r.job.id}: restore names no known node`, { job: r.job.id });
    if (pool.spec.flavor !== r.flavor) throw badRequest(`job ${r.job.id}: pool ${pool.spec.name} is of flavor ${pool.spec.flavor}, not ${r.flavor}`, { job: r.job.id });
    const items: PlanItem[] = [];
    let count = 0;
    for (const a of r.assignments) {
      const node = this.capacity.nodes.get(a.nodeId);
      if (node === undefined) throw notFound('node', a.nodeId);
      if (node.pool !== pool) throw badRequest(`job ${r.job.id}: a job runs in one pool`, { job: r.job.id });
      if (howMany(r.job.perReplica, node.free) < a.replicas) throw conflict(`job ${r.job.id}: node ${a.nodeId} has no room for ${a.replicas} replica(s)`, { job: r.job.id, node: a.nodeId });
      items.push({ node, replicas: a.replicas });
      count += a.replicas;
    }
    if (count !== (r.job.replicas ?? 1)) throw badRequest(`job ${r.job.id}: assignments hold ${count} replicas, the job has ${r.job.replicas ?? 1}`, { job: r.job.id });
    const j = this.create(r.job);
    this.bind(j, r.flavor, pool, items, r.startedAt);
  }

  /** A running job ended (success or failure): its resources are freed. No-op for unknown ids. */
  finish(jobId: JobId): void {
    const j = this.jobs.get(jobId);
    if (j === undefined) return;
    if (j.phase === 'running') this.unbind(j, this.clock.now(), true);
    else this.unqueue(j);
    j.phase = 'gone';
    this.jobs.delete(jobId);
    if (!this.inCycle) this.flushWakes();
  }

  /** Withdraws a pending or running job (same as finish for accounting). */
  cancel(jobId: JobId): void {
    this.finish(jobId);
  }

  // ---- the scheduling cycle ---------------------------------------------------------------------

  /** Runs one scheduling cycle at the clock's current time. */
  schedule(): CycleResult {
    const now = this.clock.now();
    const decisions: Decision[] = [];
    const events: EngineEvent[] = this.bufferedEvents.splice(0);
    this.inCycle = true;
    try {
      for (const r of [...this.reservations.values()]) if (r.until <= now) this.dropReservation(r);
      // A quota hold whose projected release time passed (a job overran its declared runtime, or
      // others took the quota): its holder is tried again and projects anew.
      for (const t of this.teams.values()) {
        if (t.holds.size === 0) continue;
        for (const h of [...t.holds.values()]) if (h.until !== undefined && h.until < now && h.job.phase === 'parked' && !isZero(h.released)) this.requeueParked(h.job);
      }
      this.releaseWaiting(now, events);
      if (now - this.lastFullRetry >= this.fullRetryEveryMs) {
        this.lastFullRetry = now;
        for (const key of this.parked.keys()) this.wake(key, Infinity);
      }
      this.flushWakes();
      this.preemptMemo.clear();
      for (const t of this.teams.values()) this.ledger.decay(t.state, now);
      this.reservationTries = RESERVATION_TRIES_PER_CYCLE;
      // Two passes, as Kueue orders a cycle: first every admission that fits without borrowing,
      // then those that borrow — so borrowed quota is not handed out only to be reclaimed at once.
      const failed: JobState[] = [];
      const failedKeys: string[][] = [];
      const deferred: JobState[] = [];
      for (const pass of [1, 2] as const) {
        if (pass === 2) {
          for (const j of deferred) {
            j.ticket++;
            j.team.queue.push(entryOf(j));
          }
        }
        const order = new Heap<TeamQueue>(teamBefore);
        for (const t of this.teams.values()) {
          if (t.queue.size > 0) {
            t.key = this.ledger.fairKey(t.state);
            order.push(t);
          }
        }
        for (let t = order.pop(); t !== undefined; t = order.pop()) {
          const entry = t.queue.pop();
          if (entry !== undefined && entry.job.phase === 'queued' && entry.ticket === entry.job.ticket) {
            const j = entry.job;
            const start = this.profiler?.hrtime();
            const a = this.attempt(j, now, decisions, events, pass === 1);
            if (start !== undefined) this.profiler?.onAttempt(this.profiler.hrtime() - start, a.ok);
            if (a.ok) decisions.push(a.decision);
            else if (a === RETRY) {
              j.ticket++;
              t.queue.push(entryOf(j));
            } else if (a.reason === undefined) deferred.push(j);
            else {
              this.setReason(j, a.reason, now, events);
              failed.push(j);
              failedKeys.push(a.parkKeys);
            }
          }
          if (t.queue.size > 0) {
            t.key = this.ledger.fairKey(t.state);
            order.push(t);
          }
        }
      }
      for (let i = 0; i < failed.length; i++) if (failed[i]!.phase === 'queued') this.park(failed[i]!, failedKeys[i]!);
      this.requeueEvicted();
      this.flushWakes();
    } finally {
      this.inCycle = false;
    }
    return { at: now, decisions, events, nextWakeAt: this.nextWakeAt() };
  }

  /**
   * Tries a job on its flavors in order, then by preemption. With `nominalOnly`, stops (returns no
   * reason) at the first flavor where it would have to borrow, to be tried in the second pass.
   */
  private attempt(j: JobState, now: number, decisions: Decision[], events: EngineEvent[], nominalOnly: boolean): Attempt {
    // A job deferred by the first pass resumes at the flavor where it stopped: the flavors before
    // it failed, and admissions since then only consumed quota and capacity.
    const resumed = j.deferred;
    j.deferred = undefined;
    const attempts: FlavorOutcome[] = resumed?.attempts ?? [];
    const parkKeys: string[] = resumed?.parkKeys ?? [];
    const endsBy = j.req.maxRuntimeMs === undefined ? Infinity : now + j.req.maxRuntimeMs;
    const flavors = j.req.flavors;
    for (let i = resumed?.from ?? 0; i < flavors.length; i++) {
      const flavor = flavors[i]!;
      const q = this.ledger.check(j.team.state, flavor, j.total);
      if (!q.ok) {
        attempts.push(q.outcome);
        pushNew(parkKeys, this.keysOf(j, i).quota);
        continue;
      }
      const hold = j.team.holds.size > 0 ? j.team.holds.get(flavor) : undefined;
      if (hold === undefined) {
        // Nobody holds this quota, but a job before this one may be parked on it waiting to (it
        // lost the hold, or was not woken yet): it is tried first, and this job after it.
        const set = this.quotaSetOf(j, i);
        const top = set !== undefined && set.order.size > 0 ? this.topLive(set) : undefined;
        if (top !== undefined && firstInLine(top.job, j)) {
          this.requeueParked(top.job);
          return RETRY;
        }
      } else if (hold.job !== j && firstInLine(hold.job, j) && this.delays(hold, j, endsBy)) {
        attempts.push(hold.until === undefined ? { flavor, kind: 'quota-reserved', heldFor: hold.job.req.id } : { flavor, kind: 'quota-reserved', heldFor: hold.job.req.id, until: hold.until });
        pushNew(parkKeys, this.keysOf(j, i).quota);
        continue;
      }
      if (nominalOnly && q.borrowing) {
        j.deferred = { from: i, attempts: attempts.slice(), parkKeys: parkKeys.slice() };
        return DEFER;
      }
      pushNew(parkKeys, this.keysOf(j, i).capacity);
      const pools = this.poolsFor(j, i);
      if (pools.length === 0) {
        attempts.push({ flavor, kind: 'no-pool' });
        continue;
      }
      let worst: PlaceFailure | undefined;
      const query = { jobId: j.req.id, per: j.req.perReplica, replicas: j.replicas, topology: j.req.topology, endsBy, holdsReservation: j.reservation !== undefined };
      for (const p of pools) {
        const r = this.capacity.place(p, query);
        if (r.ok) return { ok: true, decision: this.admit(j, flavor, p, r.items, r.backfill, [], now) };
        if (worst === undefined || FAILURE_RANK[r.failure.kind] > FAILURE_RANK[worst.kind]) worst = r.failure;
      }
      if (worst !== undefined) attempts.push(outcomeOf(flavor, worst, j.replicas));
    }
    if (this.preemption) {
      for (let i = 0; i < flavors.length; i++) {
        // Quota held for an earlier job of the team is not to be won by evicting others either.
        if (j.team.holds.size > 0 && this.holdAgainst(j, flavors[i]!) !== undefined) continue;
        const d = this.tryPreempt(j, flavors[i]!, i, now, decisions, events);
        if (d !== undefined) return { ok: true, decision: d };
      }
    }
    if (j.reservation === undefined && this.reservationTries > 0 && this.reservations.size < this.maxReservations && attempts.some(isCapacityOutcome)) {
      this.reservationTries--;
      this.reserve(j, now);
    }
    this.updateHold(j, attempts, now);
    // Exact-size copies: a parked job keeps both, and growable arrays carry spare room.
    return { ok: false, reason: summarize(attempts.slice(), j), parkKeys: parkKeys.slice() };
  }

  /** The park keys of the job's i-th flavor (built once per team and flavor). */
  private keysOf(j: JobState, i: number): ParkKeys {
    return this.teamKeys(j.team, j.req.flavors[i]!);
  }

  /** A team's park keys of a flavor. */
  private teamKeys(q: TeamQueue, flavor: string): ParkKeys {
    let k = q.keys.get(flavor);
    if (k === undefined) q.keys.set(flavor, (k = { quota: this.quotaKey(q.state, flavor), capacity: `c:${q.state.id}\u0000${flavor}`, quotaSet: undefined }));
    return k;
  }

  /** The jobs parked on the team's quota of the job's i-th flavor (undefined until one parks there). */
  private quotaSetOf(j: JobState, i: number): QuotaSet | undefined {
    const k = this.keysOf(j, i);
    if (k.quotaSet === undefined) {
      const set = this.parked.get(k.quota);
      if (set?.kind === 'quota') k.quotaSet = set;
    }
    return k.quotaSet;
  }

  /** The pools of the job's i-th flavor in its regions and residency (cached per job). */
  private poolsFor(j: JobState, i: number): readonly PoolState[] {
    const all = this.capacity.poolsByFlavor.get(j.req.flavors[i]!) ?? NO_POOLS;
    const regions = j.req.regions;
    const residency = j.req.residency;
    if ((regions === undefined || regions.length === 0) && (residency === undefined || residency.length === 0)) return all;
    const cached = j.pools?.[i];
    if (cached !== undefined && cached.version === this.poolVersion) return cached.pools;
    const pools = all.filter((p) => this.inRegionsOf(j, p));
    (j.pools ??= new Array<undefined>(j.req.flavors.length))[i] = { version: this.poolVersion, pools };
    return pools;
  }

  /** Is the pool in one of the job's regions (if it names any) and does it carry all its residency tags? */
  private inRegionsOf(j: JobState, p: PoolState): boolean {
    const regions = j.req.regions;
    return (regions === undefined || regions.length === 0 || regions.includes(p.spec.region)) && (j.req.residency ?? []).every((t) => (p.spec.residency ?? []).includes(t));
  }

  private quotaKey(t: TeamState, flavor: string): string {
    return `q:${t.id}\u0000${flavor}`;
  }

  private admit(j: JobState, flavor: string, pool: PoolState, items: readonly PlanItem[], backfill: boolean, preempted: readonly JobId[], now: number): Decision {
    this.bind(j, flavor, pool, items, now);
    if (!j.team.holds.has(flavor)) this.nudgeHead(j, flavor);
    return {
      kind: 'admit',
      jobId: j.req.id,
      team: j.req.team,
      flavor,
      pool: pool.spec.name,
      region: pool.spec.region,
      assignments: items.map((it) => ({ nodeId: it.node.id, replicas: it.replicas })),
      borrowing: j.borrowing,
      backfill,
      preempted,
    };
  }

  /** Books a job onto nodes and quota. */
  private bind(j: JobState, flavor: string, pool: PoolState, items: readonly PlanItem[], now: number): void {
    if (j.reservation !== undefined) this.dropReservation(j.reservation);
    this.ledger.decay(j.team.state, now);
    this.ledger.apply(j.team.state, flavor, j.total, 1);
    if (j.hold !== undefined) this.dropHold(j.hold);
    for (const it of items) this.capacity.allocate(it.node, j.req.id, j.req.perReplica, it.replicas);
    j.phase = 'running';
    j.flavor = flavor;
    j.pool = pool;
    j.items = items;
    j.startedAt = now;
    j.borrowing = j.team.state.flavors.get(flavor)?.borrowing ?? false;
    j.reason = { kind: 'queued' };
    j.reasonShown = false;
    let byPriority = j.team.running.get(flavor);
    if (byPriority === undefined) j.team.running.set(flavor, (byPriority = new Map<number, RecencyList<JobState>>()));
    let list = byPriority.get(j.req.priority);
    if (list === undefined) byPriority.set(j.req.priority, (list = new RecencyList()));
    j.runLink = list.push(j, j.total);
    this.poolRunning.get(pool)?.add(j);
    if (j.req.maxRuntimeMs !== undefined) {
      let ends = j.team.ends.get(flavor);
      if (ends === undefined) j.team.ends.set(flavor, (ends = []));
      ends.splice(endIndex(ends, j), 0, j);
    }
    this.trackRelease(j, 1);
    j.team.runs.set(flavor, (j.team.runs.get(flavor) ?? 0) + 1);
  }

  /** Frees a running job's nodes and quota; with `wake`, parked jobs that could use them are woken. */
  private unbind(j: JobState, now: number, wake: boolean): void {
    const pool = j.pool;
    if (pool === undefined) return;
    for (const it of j.items) this.capacity.release(it.node, j.req.id, j.req.perReplica);
    this.trackRelease(j, -1);
    if (j.req.maxRuntimeMs !== undefined) {
      const ends = j.team.ends.get(j.flavor);
      const at = ends === undefined ? -1 : endIndex(ends, j);
      if (ends !== undefined && ends[at] === j) ends.splice(at, 1);
    }
    j.team.runs.set(j.flavor, (j.team.runs.get(j.flavor) ?? 0) + 1);
    this.ledger.decay(j.team.state, now);
    this.ledger.apply(j.team.state, j.flavor, j.total, -1);
    if (j.runLink !== undefined) j.team.running.get(j.flavor)?.get(j.req.priority)?.remove(j.runLink, j.total);
    j.runLink = undefined;
    this.poolRunning.get(pool)?.delete(j);
    if (wake) {
      const freed = this.capacity.unitsFor(j.flavor, j.total);
      this.wakeCapacity(j.flavor, freed);
      // Quota-blocked jobs of the cohort: up to each team's whole headroom now (not just what this
      // job freed: a parked job may need the freed quota together with headroom it already had).
      // A team's quota holder is retried as soon as its quota would hold it.
      for (const t of this.ledger.cohortOf(j.team.state)) {
        const tq = t === j.team.state ? j.team : this.teams.get(t.id);
        if (tq === undefined) continue;
        this.wakeQuota(this.teamKeys(tq, j.flavor).quota, this.capacity.unitsFor(j.flavor, this.ledger.headroom(t, j.flavor)), freed);
        const h = tq.holds.get(j.flavor);
        if (h !== undefined && h.job.phase === 'parked' && this.ledger.check(t, h.flavor, h.job.total).ok) this.requeueParked(h.job);
      }
    }
    j.pool = undefined;
    j.items = [];
  }

  /** Temporarily frees a running job (preemption search); `rebind` undoes it exactly. */
  private lift(j: JobState): void {
    for (const it of j.items) this.capacity.release(it.node, j.req.id, j.req.perReplica);
    this.ledger.apply(j.team.state, j.flavor, j.total, -1);
  }

  private rebind(j: JobState): void {
    this.ledger.apply(j.team.state, j.flavor, j.total, 1);
    for (const it of j.items) this.capacity.allocate(it.node, j.req.id, j.req.perReplica, it.replicas);
  }

  private evict(j: JobState, cause: EvictionCause, now: number, decisions: Decision[], events: EngineEvent[]): void {
    this.unbind(j, now, true);
    j.phase = 'gone';
    j.requeues++;
    this.requeueAfterCycle.push(j);
    decisions.push({ kind: 'evict', jobId: j.req.id, team: j.req.team, cause, requeue: true, checkpoint: j.req.checkpoint });
    events.push({ kind: 'evicted', at: now, jobId: j.req.id, team: j.req.team, cause });
  }

  private requeueEvicted(): void {
    const now = this.clock.now();
    for (const j of this.requeueAfterCycle.splice(0)) {
      if (this.jobs.get(j.req.id) !== j || j.phase !== 'gone') continue;
      this.enqueue(j, now);
    }
  }

  // ---- queues, parking and waking ---------------------------------------------------------------

  private enqueue(j: JobState, now: number): void {
    j.ticket++;
    const nb = j.req.notBefore;
    if (nb !== undefined && nb > now) {
      j.phase = 'waiting';
      this.waiting.push(entryOf(j));
      this.setReason(j, { kind: 'waiting-for-window', until: nb }, now, this.bufferedEvents);
      return;
    }
    j.phase = 'queued';
    j.team.queue.push(entryOf(j));
  }

  private unqueue(j: JobState): void {
    if (j.phase === 'parked') this.unpark(j);
    if (j.reservation !== undefined) this.dropReservation(j.reservation);
    j.ticket++;
    j.phase = 'gone';
    const h = j.hold;
    if (h !== undefined) {
      this.dropHold(h);
      // The next job in line for the quota is tried (and holds it if it is still blocked).
      const set = this.parked.get(this.teamKeys(j.team, h.flavor).quota);
      const next = set?.kind === 'quota' ? this.topLive(set) : undefined;
      if (next !== undefined) this.requeueParked(next.job);
    }
  }

  private releaseWaiting(now: number, events: EngineEvent[]): void {
    for (let e = this.waiting.peek(); e !== undefined && (e.job.req.notBefore ?? 0) <= now; e = this.waiting.peek()) {
      this.waiting.pop();
      if (e.job.phase !== 'waiting' || e.ticket !== e.job.ticket) continue;
      e.job.phase = 'queued';
      e.job.ticket++;
      e.job.team.queue.push(entryOf(e.job));
      this.setReason(e.job, { kind: 'queued' }, now, events);
    }
  }

  /**
   * Parks a blocked job on the keys of what blocked it. Each key (per team: the capacity of a
   * flavor, or the team's quota of a flavor) holds its jobs in queue order; entries of a job that
   * left are skipped lazily and compacted when they outnumber the live ones.
   */
  private park(j: JobState, keys: string[]): void {
    j.phase = 'parked';
    // Jobs blocked by quota alone are candidates for their team's head of line (see QuotaHold).
    const r = j.reason;
    const quotaOnly = r.kind === 'over-quota' || (r.kind === 'quota-reservation' && !r.attempts.some(isCapacityOutcome));
    j.parkKeys = keys;
    // One entry serves every heap the job parks in (entries are immutable; heaps order lazily).
    const entry = entryOf(j);
    for (const k of keys) {
      let set = this.parked.get(k);
      if (set === undefined) {
        const flavor = k.slice(k.indexOf('\u0000') + 1);
        if (k.startsWith('c:')) {
          set = { kind: 'capacity', heap: new Heap(jobBefore), live: 0, flavor, team: j.team };
          let ks = this.capacityKeys.get(flavor);
          if (ks === undefined) this.capacityKeys.set(flavor, (ks = new Set()));
          ks.add(k);
        } else set = { kind: 'quota', index: new BucketIndex(), order: new Heap(jobBefore), flavor, team: j.team };
        this.parked.set(k, set);
      }
      if (set.kind === 'capacity') {
        set.heap.add(entry);
        set.live++;
      } else {
        const flavor = set.flavor;
        set.index.set(j, this.capacity.unitsFor(flavor, j.total));
        if (quotaOnly && this.canHold(j, j.req.flavors.indexOf(flavor))) {
          set.order.add(entry);
          if (set.order.size > 2 * set.index.size + 64) set.order.retain(isLive);
        }
      }
    }
  }

  /** Takes a parked job off all its keys (its heap entries become stale). */
  private unpark(j: JobState): void {
    for (const k of j.parkKeys) {
      const set = this.parked.get(k);
      if (set?.kind === 'capacity') set.live--;
      else set?.index.delete(j);
    }
    j.parkKeys = [];
    j.ticket++;
  }

  /** Moves a parked job back to its team's queue. */
  private requeueParked(j: JobState): void {
    this.unpark(j);
    j.phase = 'queued';
    j.team.queue.push(entryOf(j));
  }

  private liveCount(set: ParkedSet): number {
    return set.kind === 'capacity' ? set.live : set.index.size;
  }

  /** Capacity of a flavor was freed (`units` of it, Infinity = anything may have changed). */
  private wakeCapacity(flavor: string, units: number): void {
    if (!this.capacityKeys.has(flavor)) return;
    this.capacityWakes.set(flavor, (this.capacityWakes.get(flavor) ?? 0) + units);
  }

  /** Records that up to `units` more demand parked on `key` may now fit (adds up until the next flush). */
  private wake(key: string, units: number): void {
    if (!this.parked.has(key)) return;
    this.wakes.set(key, (this.wakes.get(key) ?? 0) + units);
  }

  /**
   * Quota was freed on a key: parked jobs up to the team's headroom may now fit (the limit), and
   * about what was freed of their demand is retried (the budget), smallest first.
   */
  private wakeQuota(key: string, headroomUnits: number, freedUnits: number): void {
    if (!this.parked.has(key) || headroomUnits <= 0) return;
    const w = this.quotaWakes.get(key);
    this.quotaWakes.set(key, { limit: Math.max(w?.limit ?? 0, headroomUnits), budget: (w?.budget ?? 0) + Math.min(freedUnits, headroomUnits) });
  }

  /**
   * Moves parked jobs back to their team queues: on each woken key, jobs in queue order until their
   * demand covers the budget (at least one). A team's best candidates for the freed capacity are
   * thus retried, not every job that ever waited for the flavor.
   */
  private flushWakes(): void {
    if (this.quotaWakes.size > 0) {
      const wakes = [...this.quotaWakes];
      this.quotaWakes.clear();
      for (const [key, { limit, budget }] of wakes) {
        const set = this.parked.get(key);
        if (set?.kind !== 'quota') continue;
        const woken: JobState[] = [];
        let demand = 0;
        set.index.upTo(limit, (j, units) => {
          woken.push(j);
          demand += Math.max(1, units);
          return demand >= budget;
        });
        for (const j of woken) if (j.phase === 'parked') this.requeueParked(j);
      }
    }
    if (this.wakes.size > 0) {
      const budgets = [...this.wakes];
      this.wakes.clear();
      for (const [key, budget] of budgets) {
        const set = this.parked.get(key);
        if (set === undefined) continue;
        if (set.kind === 'capacity') this.wakeFrom(set, budget);
        else {
          // Quota headroom: only jobs whose whole demand fits it, smallest first, until it is covered.
          const woken: JobState[] = [];
          let demand = 0;
          set.index.upTo(budget, (j, units) => {
            woken.push(j);
            demand += Math.max(1, units);
            return demand >= budget;
          });
          for (const j of woken) if (j.phase === 'parked') this.requeueParked(j);
        }
      }
    }
    if (this.capacityWakes.size > 0) {
      // Freed capacity of a flavor goes to the teams in fair-share order: each team's parked jobs
      // are retried in queue order (at least one per team) until the woken demand covers twice
      // what was freed — a margin for jobs that fail for other reasons.
      const budgets = [...this.capacityWakes];
      this.capacityWakes.clear();
      for (const [flavor, units] of budgets) {
        const sets: Extract<ParkedSet, { kind: 'capacity' }>[] = [];
        for (const k of this.capacityKeys.get(flavor) ?? []) {
          const set = this.parked.get(k);
          if (set?.kind === 'capacity' && set.live > 0) sets.push(set);
        }
        for (const set of sets) set.team.key = this.ledger.fairKey(set.team.state);
        sets.sort((a, b) => a.team.key - b.team.key || a.team.state.index - b.team.state.index);
        let left = 2 * units;
        for (const set of sets) left -= this.wakeFrom(set, Math.max(0, left));
      }
    }
  }

  /**
   * Wakes jobs of a capacity key in queue order until their demand covers `budget` (at least one);
   * returns the demand woken. A job larger than the whole budget is retried too but does not use it
   * up (up to LARGE_WAKES of them), so a small job that fits is not left behind a big one that cannot.
   */
  private wakeFrom(set: Extract<ParkedSet, { kind: 'capacity' }>, budget: number): number {
    let woken = 0;
    let demand = 0;
    let large = 0;
    while (set.heap.size > 0 && (demand < budget || woken === 0) && large <= LARGE_WAKES) {
      const e = set.heap.pop()!;
      const j = e.job;
      if (j.phase !== 'parked' || e.ticket !== j.ticket) continue;
      const units = Math.max(1, this.capacity.unitsFor(set.flavor, j.total));
      if (units > budget) large++;
      else demand += units;
      woken++;
      this.requeueParked(j);
    }
    if (set.heap.size > 2 * set.live + 64) set.heap.retain((x) => x.job.phase === 'parked' && x.ticket === x.job.ticket);
    return demand;
  }

  private setReason(j: JobState, reason: PendingReason, now: number, events: EngineEvent[]): void {
    const same = j.reasonShown && sameReason(j.reason, reason);
    j.reason = reason;
    j.reasonShown = true;
    if (same) return;
    if (reason.kind !== 'queued') events.push({ kind: 'delayed', at: now, jobId: j.req.id, team: j.req.team, reason });
  }

  private nextWakeAt(): number | undefined {
    let t = this.waiting.peek()?.job.req.notBefore;
    for (const r of this.reservations.values()) if (t === undefined || r.until < t) t = r.until;
    for (const q of this.teams.values()) {
      if (q.holds.size === 0) continue;
      for (const h of q.holds.values()) if (h.until !== undefined && !isZero(h.released) && (t === undefined || h.until < t)) t = h.until;
    }
    for (const set of this.parked.values()) {
      if (this.liveCount(set) > 0) {
        const retry = this.lastFullRetry + this.fullRetryEveryMs;
        if (t === undefined || retry < t) t = retry;
        break;
      }
    }
    return t;
  }

  // ---- preemption -------------------------------------------------------------------------------

  /**
   * Tries to admit `j` on `flavor` by evicting running jobs: lower priorities of its own team, and —
   * when the job stays within its team's nominal quota — jobs of no higher priority from teams of
   * the cohort that borrow this flavor. Candidates are taken lowest priority first, most recently
   * started first, until the job fits; then every victim that turns out unnecessary is given back,
   * so the set is minimal for that order.
   */
  private tryPreempt(j: JobState, flavor: string, flavorIndex: number, now: number, decisions: Decision[], events: EngineEvent[]): Decision | undefined {
    const t = j.team.state;
    const tf = t.flavors.get(flavor);
    if (tf === undefined) return undefined;
    const pools = this.poolsFor(j, flavorIndex);
    if (pools.length === 0) return undefined;
    // Sources of victims: the team's own lower priorities, and — when the job stays within its
    // nominal quota — no higher priorities of cohort teams that borrow this flavor. First a cheap,
    // allocation-free bound: everything the candidates hold plus the team's headroom must cover
    // the request (evictions raise the team's limits, and the cohort pool, by at most what they free).
    const p = j.req.priority;
    const freeable = this.scratch;
    freeable.cpuMillis = 0;
    freeable.memoryBytes = 0;
    freeable.devices = 0;
    let any = false;
    for (const [prio, list] of j.team.running.get(flavor) ?? []) {
      if (prio < p && list.size > 0) {
        any = true;
        addInto(freeable, list.sum);
      }
    }
    const withinNominal = tf.usage.cpuMillis + j.total.cpuMillis <= tf.nominal.cpuMillis && tf.usage.memoryBytes + j.total.memoryBytes <= tf.nominal.memoryBytes && tf.usage.devices + j.total.devices <= tf.nominal.devices;
    const cohort = withinNominal ? this.ledger.cohortFlavor(t, flavor) : undefined;
    let lenders = false;
    if (cohort !== undefined && cohort.borrowers.size > 0) {
      for (const u of cohort.borrowers) {
        if (u === t) continue;
        for (const [prio, list] of this.teams.get(u.id)?.running.get(flavor) ?? []) {
          if (prio <= p && list.size > 0) {
            any = lenders = true;
            addInto(freeable, list.sum);
          }
        }
      }
    }
    if (!any) return undefined;
    const room = this.ledger.headroom(t, flavor);
    if (j.total.cpuMillis > room.cpuMillis + freeable.cpuMillis || j.total.memoryBytes > room.memoryBytes + freeable.memoryBytes || j.total.devices > room.devices + freeable.devices) return undefined;
    const sources: { readonly team: TeamQueue; readonly below: number }[] = [{ team: j.team, below: p }];
    if (lenders && cohort !== undefined) {
      for (const u of [...cohort.borrowers].sort((a, b) => a.index - b.index)) {
        const q = this.teams.get(u.id);
        if (u !== t && q !== undefined) sources.push({ team: q, below: p + 1 });
      }
    }
    const levels = new Set<number>();
    for (const src of sources) for (const [prio, list] of src.team.running.get(flavor) ?? []) if (prio < src.below && list.size > 0) levels.add(prio);
    const memoKey = `${t.id}|${flavor}|${(j.req.regions ?? []).join(',')}|${(j.req.residency ?? []).join(',')}|${j.req.topology === undefined ? '' : `${j.req.topology.level}:${j.req.topology.mode}`}`;
    const remember = (): undefined => {
      const list = this.preemptMemo.get(memoKey) ?? [];
      if (list.length < 8) list.push({ priority: j.req.priority, total: j.total, per: j.req.perReplica, replicas: j.replicas });
      this.preemptMemo.set(memoKey, list);
      return undefined;
    };
    for (const m of this.preemptMemo.get(memoKey) ?? []) {
      if (j.req.priority <= m.priority && j.replicas >= m.replicas && dominates(j.total, m.total) && dominates(j.req.perReplica, m.per)) return undefined;
    }
    const endsBy = j.req.maxRuntimeMs === undefined ? Infinity : now + j.req.maxRuntimeMs;
    const query = { jobId: j.req.id, per: j.req.perReplica, replicas: j.replicas, topology: j.req.topology, endsBy, holdsReservation: j.reservation !== undefined };
    const place = (): { pool: PoolState; items: readonly PlanItem[]; backfill: boolean } | undefined => {
      for (const p of pools) {
        const r = this.capacity.place(p, query);
        if (r.ok) return { pool: p, items: r.items, backfill: r.backfill };
      }
      return undefined;
    };
    // Capacity elsewhere is enough when the job fits ignoring quota; then only quota needs victims.
    // Otherwise a single replica can only fit where a victim was lifted, so only those nodes are
    // checked; gangs search the pools again.
    const capacityBlocked = place() === undefined;
    const single = j.replicas === 1 && j.req.topology === undefined;
    const removed: JobState[] = [];
    const fits = (): boolean => {
      if (!this.ledger.check(t, flavor, j.total).ok) return false;
      if (!capacityBlocked) return true;
      if (!single) return place() !== undefined;
      for (const c of removed) for (const it of c.items) if (roomOn(it.node, query) > 0) return true;
      return false;
    };
    let found = false;
    let scanned = 0;
    for (const c of candidatesInOrder(sources, flavor, [...levels].sort((a, b) => a - b))) {
      if (++scanned > MAX_VICTIMS_SCANNED || removed.length >= MAX_VICTIMS_LIFTED) break;
      if (!c.preemptible || !this.inPools(c, pools)) continue;
      if (c.team !== j.team && !(c.team.state.flavors.get(flavor)?.borrowing ?? false)) continue;
      this.lift(c);
      removed.push(c);
      if (fits()) {
        found = true;
        break;
      }
    }
    if (!found) {
      for (let i = removed.length - 1; i >= 0; i--) this.rebind(removed[i]!);
      return remember();
    }
    // Give back every victim that is not needed (the last one removed made it fit; try the others).
    for (let i = removed.length - 2; i >= 0; i--) {
      const c = removed[i]!;
      this.rebind(c);
      removed.splice(i, 1);
      if (!fits()) {
        this.lift(c);
        removed.splice(i, 0, c);
      }
    }
    const plan = this.ledger.check(t, flavor, j.total).ok ? place() : undefined;
    if (plan === undefined) {
      for (let i = removed.length - 1; i >= 0; i--) this.rebind(removed[i]!);
      return remember();
    }
    // Make the victims' removal real: rebind then evict through the normal path (events, wakes).
    for (const c of removed) this.rebind(c);
    for (const c of removed) {
      const rule = c.team === j.team ? 'within-team-priority' : 'reclaim-borrowed-quota';
      this.evict(c, { kind: 'preempted', by: j.req.id, rule }, now, decisions, events);
    }
    this.preemptMemo.clear();
    const final = place() ?? plan;
    return this.admit(j, flavor, final.pool, final.items, final.backfill, removed.map((c) => c.req.id), now);
  }

  private inPools(c: JobState, pools: readonly PoolState[]): boolean {
    return c.pool !== undefined && pools.includes(c.pool);
  }

  // ---- reservations and backfill ----------------------------------------------------------------

  /**
   * Reserves capacity for a blocked job: walks the running jobs of each eligible pool by declared
   * end time, freeing their capacity in a scratch copy, until the job fits; the earliest such time
   * over all pools wins. Nodes of the reservation then take only jobs that end before that time.
   */
  private reserve(j: JobState, now: number): void {
    let best: { pool: PoolState; nodes: NodeState[]; until: number } | undefined;
    for (let i = 0; i < j.req.flavors.length; i++) {
      if (!this.ledger.check(j.team.state, j.req.flavors[i]!, j.total).ok) continue;
      if (j.team.holds.size > 0 && this.holdAgainst(j, j.req.flavors[i]!) !== undefined) continue;
      for (const p of this.poolsFor(j, i)) {
        const r = this.earliestStart(j, p, now);
        if (r !== undefined && (best === undefined || r.until < best.until)) best = { pool: p, ...r };
      }
    }
    if (best === undefined) return;
    const res: Reservation = { job: j, pool: best.pool, nodes: best.nodes, until: best.until };
    for (const n of best.nodes) {
      n.reservedFor = j.req.id;
      n.reservedUntil = best.until;
    }
    j.reservation = res;
    this.reservations.set(j.req.id, res);
  }

  private earliestStart(j: JobState, p: PoolState, now: number): { nodes: NodeState[]; until: number } | undefined {
    const per = j.req.perReplica;
    if (!fitsIn(per, p.maxCapacity)) return undefined;
    const ends: { end: number; job: JobState }[] = [];
    for (const r of this.poolRunning.get(p) ?? []) {
      if (r.req.maxRuntimeMs !== undefined) ends.push({ end: Math.max(now, r.startedAt + r.req.maxRuntimeMs), job: r });
    }
    if (ends.length === 0) return undefined;
    ends.sort((a, b) => a.end - b.end || a.job.seq - b.job.seq);
    const scratch = new Map<NodeState, MutableVector>();
    const usable = (n: NodeState): boolean => n.reservedFor === undefined || n.reservedFor === j.req.id;
    // Groups (the whole pool, or one rack / block for a required topology) → replicas they can take.
    const level = j.req.topology?.mode === 'required' ? j.req.topology.level : undefined;
    const groupOf = (n: NodeState): string => (level === 'rack' ? `${n.rack.block.id}/${n.rack.id}` : level === 'block' ? n.rack.block.id : '');
    const room = new Map<string, number>();
    const members = new Map<string, NodeState[]>();
    const counted = new Map<NodeState, number>();
    const count = (n: NodeState): number => howMany(per, scratch.get(n) ?? n.free);
    /** Recounts a node's replicas into its group; returns the group's total. */
    const recount = (n: NodeState): number => {
      const g = groupOf(n);
      const c = count(n);
      const old = counted.get(n);
      if (old === undefined) members.set(g, [...(members.get(g) ?? []), n]);
      counted.set(n, c);
      const total = (room.get(g) ?? 0) + c - (old ?? 0);
      room.set(g, total);
      return total;
    };
    const choose = (g: string): NodeState[] => {
      const chosen: NodeState[] = [];
      let left = j.replicas;
      for (const m of members.get(g) ?? []) {
        if (left <= 0) break;
        const k = Math.min(left, count(m));
        if (k > 0) {
          chosen.push(m);
          left -= k;
        }
      }
      return chosen;
    };
    // Nodes with room now (few: the job did not fit on them alone), bounded for safety.
    let scanned = 0;
    p.nodes.ascending(this.capacity.units(p, per), (n) => {
      if (usable(n) && count(n) > 0) recount(n);
      return ++scanned >= 4096;
    });
    for (const e of ends) {
      for (const it of e.job.items) {
        const n = it.node;
        if (!usable(n)) continue;
        let v = scratch.get(n);
        if (v === undefined) scratch.set(n, (v = { ...n.free }));
        addInto(v, e.job.req.perReplica, it.replicas);
        if (recount(n) >= j.replicas) return { nodes: choose(groupOf(n)), until: e.end };
      }
    }
    return undefined;
  }

  private dropReservation(r: Reservation): void {
    // What the reservation held back from others is what its nodes have free now.
    let units = 0;
    for (const n of r.nodes) {
      if (n.reservedFor === r.job.req.id) n.reservedFor = undefined;
      units += this.capacity.units(r.pool, n.free);
    }
    r.pool.memo = [];
    r.job.reservation = undefined;
    this.reservations.delete(r.job.req.id);
    if (units > 0) this.wakeCapacity(r.pool.spec.flavor, units);
  }

  // ---- quota reservations (holds) ---------------------------------------------------------------

  /** The hold on the team's quota of `flavor` that `j` must respect: one held for a job before it. */
  private holdAgainst(j: JobState, flavor: string): QuotaHold | undefined {
    const h = j.team.holds.get(flavor);
    return h !== undefined && h.job !== j && firstInLine(h.job, j) ? h : undefined;
  }

  /**
   * Would admitting `j` (ending by `endsBy`) now delay the holder of `h`? Not when `j` ends by the
   * projected release time; otherwise every resource `j` takes must leave the holder's demand free
   * at that time (the team's room now plus what its jobs ending by then release).
   */
  private delays(h: QuotaHold, j: JobState, endsBy: number): boolean {
    if (h.until !== undefined && endsBy <= h.until) return false;
    const t = j.team.state;
    const need = h.job.total;
    const want = j.total;
    return (
      (want.cpuMillis > 0 && this.ledger.room(t, h.flavor, 'cpuMillis') - want.cpuMillis + h.released.cpuMillis < need.cpuMillis) ||
      (want.memoryBytes > 0 && this.ledger.room(t, h.flavor, 'memoryBytes') - want.memoryBytes + h.released.memoryBytes < need.memoryBytes) ||
      (want.devices > 0 && this.ledger.room(t, h.flavor, 'devices') - want.devices + h.released.devices < need.devices)
    );
  }

  /**
   * May the job hold its team's quota of its i-th flavor: is it within the team's nominal quota (a
   * reservation on borrowed quota could wait forever on other teams, blocking the team's own work)
   * and does a node of some pool fit a replica?
   */
  private canHold(j: JobState, i: number): boolean {
    if (i < 0) return false;
    const bit = i < 30 ? 1 << i : 0;
    if (j.holdVersion !== this.shapeVersion) {
      j.holdVersion = this.shapeVersion;
      j.holdKnown = 0;
      j.holdOk = 0;
    } else if ((j.holdKnown & bit) !== 0) return (j.holdOk & bit) !== 0;
    let ok = false;
    if (this.ledger.withinNominal(j.team.state, j.req.flavors[i]!, j.total)) {
      // The job's pools of the flavor (as `poolsFor`), without building the list when it is not cached.
      const listed = j.pools?.[i];
      const filter = listed === undefined || listed.version !== this.poolVersion;
      const pools = filter ? (this.capacity.poolsByFlavor.get(j.req.flavors[i]!) ?? []) : listed.pools;
      for (const p of pools) {
        if ((!filter || this.inRegionsOf(j, p)) && fitsIn(j.req.perReplica, p.maxCapacity)) {
          ok = true;
          break;
        }
      }
    }
    j.holdKnown |= bit;
    if (ok) j.holdOk |= bit;
    return ok;
  }

  /**
   * When the team's quota of `flavor` will hold `j`: walks the team's running jobs of the flavor by
   * declared end, adding what each releases to the room the team has now, until it covers the job.
   * `until` is undefined when the declared ends do not suffice (open-ended jobs hold the rest).
   */
  private releaseTime(j: JobState, flavor: string, now: number): { until: number | undefined; released: MutableVector } {
    const t = j.team.state;
    const need = { cpuMillis: j.total.cpuMillis - this.ledger.room(t, flavor, 'cpuMillis'), memoryBytes: j.total.memoryBytes - this.ledger.room(t, flavor, 'memoryBytes'), devices: j.total.devices - this.ledger.room(t, flavor, 'devices') };
    if (need.cpuMillis <= 0 && need.memoryBytes <= 0 && need.devices <= 0) return { until: now, released: { cpuMillis: 0, memoryBytes: 0, devices: 0 } };
    // The team's running jobs of the flavor with a declared end, kept in end order by bind/unbind;
    // what they release is checked only after the last of a group ending at the same time.
    const ends = j.team.ends.get(flavor) ?? [];
    const acc: MutableVector = { cpuMillis: 0, memoryBytes: 0, devices: 0 };
    for (let i = 0; i < ends.length; i++) {
      const e = ends[i]!;
      addInto(acc, e.total);
      const end = Math.max(now, endOf(e));
      const next = ends[i + 1];
      if (next !== undefined && Math.max(now, endOf(next)) === end) continue;
      if (acc.cpuMillis >= need.cpuMillis && acc.memoryBytes >= need.memoryBytes && acc.devices >= need.devices) return { until: end, released: acc };
    }
    return { until: undefined, released: { cpuMillis: 0, memoryBytes: 0, devices: 0 } };
  }

  /**
   * After a failed attempt: a job blocked only by quota holds the team's quota of the first of its
   * flavors it may hold (within nominal, not held by a job before it, no job before it parked on
   * it); it takes the hold over from a job after it. A holder now waiting for capacity it has
   * reserved keeps its quota meanwhile; otherwise a holder no longer blocked by quota lets it go.
   */
  private updateHold(j: JobState, attempts: readonly FlavorOutcome[], now: number): void {
    let best: { flavor: string; until: number | undefined; released: MutableVector } | undefined;
    if (!attempts.some(isCapacityOutcome)) {
      for (const a of attempts) {
        if (a.kind !== 'over-quota') continue;
        const cur = j.team.holds.get(a.flavor);
        if (cur !== undefined && cur.job !== j && firstInLine(cur.job, j)) continue;
        const i = j.req.flavors.indexOf(a.flavor);
        if (!this.canHold(j, i)) continue;
        if (cur === undefined || cur.job !== j) {
          // A parked job before this one waits for the same quota: it is the head of line, and is
          // retried now (it holds the quota if it is still blocked).
          const set = this.quotaSetOf(j, i);
          const top = set !== undefined ? this.topLive(set) : undefined;
          if (top !== undefined && firstInLine(top.job, j)) {
            this.requeueParked(top.job);
            continue;
          }
        }
        // The projection stands while the team runs the same jobs of the flavor (and has not lapsed).
        const stamp = j.team.runs.get(a.flavor) ?? 0;
        const r = cur?.job === j && cur.stamp === stamp && (cur.until === undefined || cur.until >= now) ? cur : this.releaseTime(j, a.flavor, now);
        // The first flavor it may hold, in its order of preference: one projection per attempt.
        best = { flavor: a.flavor, until: r.until, released: r.released };
        break;
      }
    } else if (j.hold !== undefined && j.reservation !== undefined) {
      best = { flavor: j.hold.flavor, ...this.releaseTime(j, j.hold.flavor, now) };
    }
    if (best === undefined) {
      if (j.hold !== undefined) this.dropHold(j.hold);
      return;
    }
    if (j.hold !== undefined && j.hold.flavor !== best.flavor) this.dropHold(j.hold);
    const cur = j.team.holds.get(best.flavor);
    if (cur !== undefined && cur.job !== j) {
      // Taken over from a job later in line: it is retried, to say what it waits for now.
      cur.job.hold = undefined;
      if (cur.job.phase === 'parked') this.requeueParked(cur.job);
    }
    const stamp = j.team.runs.get(best.flavor) ?? 0;
    const h = j.hold ?? { job: j, flavor: best.flavor, until: best.until, released: best.released, stamp };
    h.until = best.until;
    h.released = best.released;
    h.stamp = stamp;
    j.hold = h;
    j.team.holds.set(best.flavor, h);
  }

  /** Lets a hold go; the team's jobs parked on the quota are retried up to its room. */
  private dropHold(h: QuotaHold): void {
    const q = h.job.team;
    h.job.hold = undefined;
    if (q.holds.get(h.flavor) === h) q.holds.delete(h.flavor);
    const room = this.capacity.unitsFor(h.flavor, this.ledger.headroom(q.state, h.flavor));
    this.wakeQuota(this.teamKeys(q, h.flavor).quota, room, room);
  }

  /** Keeps a hold's `released` in step as the team's jobs of its flavor start (1) and stop (−1). */
  private trackRelease(j: JobState, sign: 1 | -1): void {
    if (j.team.holds.size === 0 || j.req.maxRuntimeMs === undefined) return;
    const h = j.team.holds.get(j.flavor);
    if (h !== undefined && h.until !== undefined && j.startedAt + j.req.maxRuntimeMs <= h.until) addInto(h.released, j.total, sign);
  }

  /**
   * A job was admitted on a flavor of its team that nobody holds: if a job before it in line is
   * parked on the team's quota of the flavor, that one is retried now (and holds the quota if it is
   * still blocked) — so a stream of later jobs overtakes a parked earlier one at most once.
   */
  private nudgeHead(j: JobState, flavor: string): void {
    const i = j.req.flavors.indexOf(flavor);
    if (i < 0) return;
    const set = this.quotaSetOf(j, i);
    if (set === undefined || set.index.size === 0) return;
    const top = this.topLive(set);
    if (top !== undefined && firstInLine(top.job, j)) this.requeueParked(top.job);
  }

  /** The first live entry of a quota key's queue order (stale entries are dropped on the way). */
  private topLive(set: Extract<ParkedSet, { kind: 'quota' }>): QueueEntry | undefined {
    for (let e = set.order.peek(); e !== undefined; e = set.order.peek()) {
      if (isLive(e)) return e;
      set.order.pop();
    }
    return undefined;
  }

  // ---- inspection -------------------------------------------------------------------------------

  /** Where a job stands, or undefined when the engine does not know it (finished or never seen). */
  status(jobId: JobId): JobStatus | undefined {
    const j = this.jobs.get(jobId);
    if (j === undefined || j.phase === 'gone') return undefined;
    if (j.phase === 'running' && j.pool !== undefined) {
      return { state: 'running', flavor: j.flavor, pool: j.pool.spec.name, assignments: j.items.map((it) => ({ nodeId: it.node.id, replicas: it.replicas })), startedAt: j.startedAt, borrowing: j.borrowing, requeues: j.requeues };
    }
    return { state: 'pending', reason: j.reason, requeues: j.requeues };
  }

  /** A team's current usage of a flavor. */
  usage(team: TeamId, flavor: string): ResourceVector {
    const t = this.teams.get(team);
    if (t === undefined) throw notFound('team', team);
    return { ...this.ledger.usage(t.state, flavor) };
  }

  /** A team's current dominant share and its decayed historical average. */
  share(team: TeamId): { readonly current: number; readonly decayed: number } {
    const t = this.teams.get(team);
    if (t === undefined) throw notFound('team', team);
    this.ledger.decay(t.state, this.clock.now());
    return { current: t.state.share, decayed: t.state.ema };
  }

  /** A node's live view, or undefined when unknown. */
  node(nodeId: NodeId): NodeView | undefined {
    const n = this.capacity.nodes.get(nodeId);
    return n === undefined ? undefined : this.capacity.view(n);
  }

  /** Counts of jobs by phase (parked jobs are pending jobs waiting for something to be freed). */
  counts(): { readonly pending: number; readonly running: number } {
    let running = 0;
    for (const j of this.jobs.values()) if (j.phase === 'running') running++;
    return { pending: this.jobs.size - running, running };
  }
}

const dominates = (a: ResourceVector, b: ResourceVector): boolean => a.cpuMillis >= b.cpuMillis && a.memoryBytes >= b.memoryBytes && a.devices >= b.devices;
const isZero = (v: ResourceVector): boolean => v.cpuMillis === 0 && v.memoryBytes === 0 && v.devices === 0;
const fitsIn = (a: ResourceVector, b: ResourceVector): boolean => dominates(b, a);

/** A running job's declared end (only for jobs with a declared runtime). */
const endOf = (j: JobState): number => j.startedAt + j.req.maxRuntimeMs!;

/** Where `j` is, or goes, in a list kept by declared end then seq (binary search). */
function endIndex(ends: readonly JobState[], j: JobState): number {
  const end = endOf(j);
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const m = ends[mid]!;
    const e = endOf(m);
    if (e < end || (e === end && m.seq < j.seq)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function pushNew(xs: string[], x: string): void {
  if (!xs.includes(x)) xs.push(x);
}

function outcomeOf(flavor: string, f: PlaceFailure, replicas: number): FlavorOutcome {
  switch (f.kind) {
    case 'too-large':
      return { flavor, kind: 'too-large' };
    case 'no-capacity':
      return { flavor, kind: 'no-capacity' };
    case 'gang-incomplete':
      return { flavor, kind: 'gang-incomplete', placeable: f.placeable, replicas };
    case 'topology':
      return { flavor, kind: 'topology', level: f.level };
    case 'reserved':
      return { flavor, kind: 'reserved', heldFor: f.heldFor, until: f.until };
  }
}

const isCapacityOutcome = (o: FlavorOutcome): boolean => o.kind === 'no-capacity' || o.kind === 'gang-incomplete' || o.kind === 'topology' || o.kind === 'reserved';

/** The headline reason from the per-flavor outcomes (the details stay in `attempts`). */
function summarize(attempts: readonly FlavorOutcome[], j: JobState): PendingReason {
  const r = j.reservation;
  if (r !== undefined) return { kind: 'reserved', pool: r.pool.spec.name, expectedStart: r.until, nodes: r.nodes.length, attempts };
  const h = j.hold;
  if (h !== undefined) return { kind: 'over-quota', attempts, holds: h.until === undefined ? { flavor: h.flavor } : { flavor: h.flavor, expectedStart: h.until } };
  let reserved: Extract<FlavorOutcome, { kind: 'reserved' }> | undefined;
  let held: Extract<FlavorOutcome, { kind: 'quota-reserved' }> | undefined;
  let gang: Extract<FlavorOutcome, { kind: 'gang-incomplete' }> | undefined;
  let topology: Extract<FlavorOutcome, { kind: 'topology' }> | undefined;
  let capacity = false;
  let quota = false;
  for (const a of attempts) {
    switch (a.kind) {
      case 'reserved':
        reserved ??= a;
        break;
      case 'quota-reserved':
        held ??= a;
        break;
      case 'gang-incomplete':
        if (gang === undefined || a.placeable > gang.placeable) gang = a;
        break;
      case 'topology':
        topology ??= a;
        break;
      case 'no-capacity':
        capacity = true;
        break;
      case 'over-quota':
      case 'no-quota':
        quota = true;
        break;
      case 'no-pool':
      case 'too-large':
        break;
    }
  }
  if (reserved !== undefined) return { kind: 'backfill-reservation', heldFor: reserved.heldFor, until: reserved.until, attempts };
  if (held !== undefined) return held.until === undefined ? { kind: 'quota-reservation', heldFor: held.heldFor, flavor: held.flavor, attempts } : { kind: 'quota-reservation', heldFor: held.heldFor, flavor: held.flavor, until: held.until, attempts };
  if (gang !== undefined) return { kind: 'gang-incomplete', replicas: gang.replicas, placeable: gang.placeable, attempts };
  if (topology !== undefined) return { kind: 'topology', level: topology.level, attempts };
  if (capacity) return { kind: 'no-capacity', attempts };
  if (quota) return { kind: 'over-quota', attempts };
  return { kind: 'unschedulable', attempts };
}

/**
 * Do two reasons say the same (an unchanged reason raises no event)? The flavor attempts are detail
 * and are not compared; the headline fields are.
 */
function sameReason(a: PendingReason, b: PendingReason): boolean {
  switch (b.kind) {
    case 'over-quota':
      return a.kind === b.kind && (a.holds === undefined ? b.holds === undefined : b.holds !== undefined && a.holds.flavor === b.holds.flavor && a.holds.expectedStart === b.holds.expectedStart);
    case 'queued':
    case 'no-capacity':
    case 'unschedulable':
      return a.kind === b.kind;
    case 'waiting-for-window':
      return a.kind === b.kind && a.until === b.until;
    case 'gang-incomplete':
      return a.kind === b.kind && a.placeable === b.placeable;
    case 'topology':
      return a.kind === b.kind && a.level === b.level;
    case 'backfill-reservation':
      return a.kind === b.kind && a.heldFor === b.heldFor && a.until === b.until;
    case 'reserved':
      return a.kind === b.kind && a.pool === b.pool && a.expectedStart === b.expectedStart;
    case 'quota-reservation':
      return a.kind === b.kind && a.heldFor === b.heldFor && a.flavor === b.flavor && a.until === b.until;
  }
}
