// Jobs over the store: submit (with a feasibility check), placement ticks, fenced leases,
// heartbeats, log streaming, completion with bounded retries, cancellation and the lease rescuer.
// Every state change goes through `transition`, which guards on the current state (so concurrent
// actors cannot both win), records a job event and audits it in the same transaction.
//
// Fencing (research §4.3 S3–S5): an attempt's lease token is checked in the WHERE clause of every
// heartbeat, log write and completion; a stale holder changes nothing and is told to stop.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { EventEmitter } from 'node:events';
import type { Actor, AuditInput, AuditLog, Project, SecretsService } from '../access/index.ts';
import type { CarbonSignal, ComputeConfig, EnergySample } from '../compute/index.ts';
import { createCarbonSignal, integrateEmissions } from '../compute/index.ts';
import type { AttemptId, Clock, IdGenerator, JobId, NodeId, PrincipalId, TeamId } from '../kernel/index.ts';
import { StrataError, badRequest, notFound } from '../kernel/index.ts';
import { nodeMatches } from '../scheduler/index.ts';
import { buildEngine, describeReason } from './policy.ts';
import type { JobView } from '../scheduler/index.ts';
import type { Store, Tx } from '../store/index.ts';
import type { AttemptInfo, AttemptRuns, AttemptTracking, AttemptUsage, GangRank, JobEvent, JobInfo, JobState, LeasedAttempt, LogChunk, NodeCapacity, NodeInfo } from './model.ts';
import { PRIORITY_VALUE, isTerminal } from './model.ts';
import type { JobSpec } from './spec-types.ts';
import type { JobArtifacts } from './artifacts.ts';

export interface JobServiceOptions {
  /** Lease length; agents heartbeat every third of it. */
  readonly leaseSeconds?: number;
  /** A node whose last heartbeat is older than this is lost. */
  readonly nodeTimeoutSeconds?: number;
  /** Seeded jitter source in [0, 1) for retry backoff (injected for determinism). */
  readonly jitter?: () => number;
  /** Carbon signal per region; default: built from the compute config's region signals. */
  readonly carbonSignals?: ReadonlyMap<string, CarbonSignal>;
  /** Outputs and checkpoints; without it, leases carry no checkpoint to restore. */
  readonly artifacts?: JobArtifacts;
  /** Experiment tracking: a run per attempt; without it, attempts get no run. */
  readonly runs?: AttemptRuns;
  /** Told about failures of best-effort side work (tracking runs) that must not fail a lease or completion. */
  readonly onError?: (what: string, e: unknown) => void;
}

const actorId = (a: Actor): string => a.principal?.id ?? 'system';
/** jobs.cancel_requested: 1 = the user cancelled; 2 = the scheduler preempted it; 3 = its node's (spot) capacity is being reclaimed. 2 and 3 requeue. */
const CANCEL_REQUESTED = 1;
const PREEMPT_REQUESTED = 2;
const RECLAIM_REQUESTED = 3;
const isPreempt = (c: number): boolean => c === PREEMPT_REQUESTED || c === RECLAIM_REQUESTED;
const preemptCause = (c: number): string => (c === RECLAIM_REQUESTED ? 'its node\'s spot capacity was reclaimed' : 'preempted by higher-priority work');
const SYSTEM: Actor = { principal: null, requestId: null };
const MAX_LOG_CHUNK = 256 * 1024;

type JobRow = {
  id: string; project_id: string; name: string; spec: string; state: string; priority: number; attempts: number; max_attempts: number;
  node_id: string | null; next_run_at: string; cancel_requested: number; reason: string; exit_code: number | null;
  created_at: string; created_by: string; updated_at: string; finished_at: string | null; replicas: number;
};

/** MASTER_PORT of a gang: the lowest port from here not used by another live gang whose rank 0 shares the node. */
export const GANG_PORT_BASE = 29500;

/**
 * Taken (PostgreSQL advisory lock; SQLite transactions are serial anyway) by every scheduling cycle
 * and by every transaction that takes a node out of service (drain, reclaim, lost). A cycle reads
 * the ready nodes at its start and places jobs at its end; without the lock, a drain committing in
 * between requeued nothing and the cycle then placed work on the draining node, where no agent
 * would lease it.
 */
const SCHEDULER_LOCK = 'strata.scheduler';

export class JobService {
  readonly leaseSeconds: number;
  private readonly nodeTimeoutMs: number;
  private readonly jitter: () => number;
  private readonly carbon: ReadonlyMap<string, CarbonSignal>;
  private readonly artifacts: JobArtifacts | undefined;
  private readonly runs: AttemptRuns | undefined;
  /** Each team's decayed fair share after the last cycle: the next cycle's engine starts from it. */
  private readonly fairShareHistory = new Map<string, { decayedShare: number; at: number }>();
  private readonly onError: (what: string, e: unknown) => void;
  /** Wakes long-polling agents when work is placed on their node, and waiters on job changes. */
  readonly signals = new EventEmitter();

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly secrets: SecretsService,
    readonly compute: ComputeConfig,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    opts: JobServiceOptions = {},
  ) {
    this.leaseSeconds = opts.leaseSeconds ?? 30;
    this.nodeTimeoutMs = (opts.nodeTimeoutSeconds ?? 60) * 1000;
    this.jitter = opts.jitter ?? (() => 0.5);
    this.carbon = opts.carbonSignals ?? new Map(compute.regions.map((r) => [r.name, createCarbonSignal(r.carbon)]));
    this.artifacts = opts.artifacts;
    this.runs = opts.runs;
    this.onError = opts.onError ?? (() => undefined);
    this.signals.setMaxListeners(0);
  }

  /** The carbon-intensity signal of a region, or undefined for an unknown region. */
  carbonSignal(region: string): CarbonSignal | undefined {
    return this.carbon.get(region);
  }

  /** Now, by the platform's clock. */
  now(): number {
    return this.clock.now();
  }

  private iso(ms = this.clock.now()): string {
    return new Date(ms).toISOString();
  }

  // ---- transitions ----------------------------------------------------------------------------

  /** Moves a job from one of `from` to `to`; false when it was not in `from` (someone else won). */
  private async transition(
    tx: Tx,
    jobId: string,
    projectId: string,
    from: readonly JobState[],
    to: JobState,
    reason: string,
    actor: Actor,
    patch: Partial<Pick<JobRow, 'node_id' | 'attempts' | 'max_attempts' | 'next_run_at' | 'exit_code' | 'cancel_requested'>> = {},
    /** When given, the job must be on exactly this attempt number. */
    onAttempt?: number,
  ): Promise<boolean> {
    const now = this.iso();
    let q = tx
      .updateTable('jobs')
      .set({ ...patch, state: to, reason, updated_at: now, ...(isTerminal(to) ? { finished_at: now } : {}) })
      .where('id', '=', jobId)
      .where('state', 'in', [...from]);
    if (onAttempt !== undefined) q = q.where('attempts', '=', onAttempt);
    const res = await q.returning('replicas').executeTakeFirst();
    if (res === undefined) return false;
    // Back in the queue or done: a gang's replica placement goes (unleased replicas are never started).
    if (res.replicas > 1 && (to === 'queued' || isTerminal(to))) await tx.deleteFrom('job_replicas').where('job_id', '=', jobId).execute();
    const prev = from.length === 1 ? (from[0] as string) : from.join('|');
    // The event takes the job's next sequence number in the same statement.
    await tx
      .insertInto('job_events')
      .columns(['job_id', 'seq', 'time', 'from_state', 'to_state', 'reason'])
      .expression((eb) =>
        eb
          .selectFrom('job_events')
          .select((e) => [
            e.val(jobId).as('job_id'),
            sql<number>`coalesce(max(seq), 0) + 1`.as('seq'),
            e.val(now).as('time'),
            e.val(prev).as('from_state'),
            e.val(to).as('to_state'),
            e.val(reason).as('reason'),
          ])
          .where('job_id', '=', jobId),
      )
      .execute();
    await this.audit.append(tx, {
      actor: actorId(actor),
      requestId: actor.requestId,
      action: `job.${to}`,
      resource: `project/${projectId}/job/${jobId}`,
      project: projectId,
      details: { job: jobId, from: prev, to, reason, ...(patch.node_id === undefined || patch.node_id === null ? {} : { node: patch.node_id }) },
    });
    this.signals.emit(`job:${jobId}`, to);
    // New work or freed capacity: the placement loop should look again.
    if (to === 'queued' || isTerminal(to)) this.signals.emit('kick');
    return true;
  }

  // ---- submit, read, cancel ---------------------------------------------------------------------

  /** Refuses a spec no pool in any allowed region could ever run, saying why. */
  private checkFeasible(spec: JobSpec, nodes: readonly NodeInfo[]): void {
    const view = toJobView('x', spec);
    const regions = new Map(this.compute.regions.map((r) => [r.name, r]));
    for (const r of spec.regions) if (!regions.has(r)) throw badRequest(`regions: unknown region '${r}'; known regions: ${[...regions.keys()].join(', ')}`, { field: 'regions' });
    const pools = this.compute.pools.filter((p) => nodeMatches(view, { region: p.region, kind: p.kind, flavor: p.flavor, regionTags: regions.get(p.region)?.dataResidency ?? [] }));
    if (pools.length === 0) {
      const want = spec.resources.accelerators === undefined ? 'CPU' : `${spec.resources.accelerators.kind}${spec.resources.accelerators.flavors.length > 0 ? ` (${spec.resources.accelerators.flavors.join(' or ')})` : ''}`;
      throw badRequest(
        `no pool can ever run this job: it needs ${want}${spec.regions.length > 0 ? ` in ${spec.regions.join(', ')}` : ''}${spec.dataResidency.length > 0 ? ` with residency ${spec.dataResidency.join(', ')}` : ''}, and the pools are ${this.compute.pools.map((p) => `${p.name} (${p.kind}/${p.flavor} in ${p.region})`).join(', ')}`,
        { field: 'resources' },
      );
    }
    const poolNames = new Set(pools.map((p) => p.name));
    const candidates = nodes.filter((n) => poolNames.has(n.pool) && n.state !== 'lost');
    if (candidates.length > 0) {
      const fits = candidates.some((n) => n.capacity.cpuMillis >= spec.resources.cpuMillis && n.capacity.memoryBytes >= spec.resources.memoryBytes && n.capacity.devices >= (spec.resources.accelerators?.count ?? 0));
      if (!fits) {
        const biggest = candidates.reduce((a, b) => (b.capacity.memoryBytes > a.capacity.memoryBytes ? b : a));
        throw badRequest(
          `no node can ever run this job: it asks for ${spec.resources.cpuMillis}m CPU and ${spec.resources.memoryBytes} bytes of memory per replica; the largest matching node (${biggest.name}) has ${biggest.capacity.cpuMillis}m and ${biggest.capacity.memoryBytes} bytes`,
          { field: 'resources' },
        );
      }
    }
  }

  async submit(actor: Actor, project: Project, spec: JobSpec): Promise<JobInfo> {
    this.checkFeasible(spec, await this.nodes());
    for (const s of spec.secrets) await this.secrets.describe(project, s.name).catch(() => {
      throw badRequest(`secrets: project '${project.name}' has no secret '${s.name}'; create it with \`strata secrets set ${s.name} -p ${project.name}\``, { field: 'secrets' });
    });
    const id = this.ids.next('job');
    const now = this.iso();
    await this.store.transaction(async (tx) => {
      await tx
        .insertInto('jobs')
        .values({
          id, project_id: project.id, name: spec.name, spec: JSON.stringify(spec), state: 'queued', priority: PRIORITY_VALUE[spec.priorityClass],
          attempts: 0, max_attempts: spec.maxAttempts, node_id: null, next_run_at: now, cancel_requested: 0, reason: 'submitted',
          exit_code: null, created_at: now, created_by: actorId(actor), updated_at: now, finished_at: null, replicas: spec.replicas,
        })
        .execute();
      await tx.insertInto('job_events').values({ job_id: id, seq: 1, time: now, from_state: '', to_state: 'queued', reason: 'submitted' }).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'job.submit', resource: `project/${project.id}/job/${id}`, project: project.id, after: spec, details: { job: id, name: spec.name } });
    });
    this.signals.emit('kick');
    return this.get(project, id);
  }

  async get(project: Project, id: string): Promise<JobInfo> {
    const row = await this.store.db.selectFrom('jobs').selectAll().where('id', '=', id).where('project_id', '=', project.id).executeTakeFirst();
    if (row === undefined) throw notFound('job', id);
    const info = toJobInfo(row, project.name);
    if (row.replicas <= 1 || (row.state !== 'placed' && row.state !== 'running')) return info;
    const placement = await this.store.db.selectFrom('job_replicas').select(['replica', 'node_id', 'attempt_id']).where('job_id', '=', id).orderBy('replica').execute();
    return { ...info, placement: placement.map((p) => ({ replica: p.replica, nodeId: p.node_id as NodeId, attemptId: p.attempt_id as AttemptId | null })) };
  }

  /** Jobs newest first; `after` continues from the last job of a previous page (keyset paging). */
  async list(project: Project, opts: { state?: JobState; limit?: number; after?: { readonly createdAt: string; readonly id: string } } = {}): Promise<JobInfo[]> {
    let q = this.store.db.selectFrom('jobs').selectAll().where('project_id', '=', project.id);
    if (opts.state !== undefined) q = q.where('state', '=', opts.state);
    const after = opts.after;
    if (after !== undefined) q = q.where((eb) => eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]));
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit ?? 100).execute();
    return rows.map((r) => toJobInfo(r, project.name));
  }

  async attempts(project: Project, id: string): Promise<AttemptInfo[]> {
    await this.get(project, id);
    const rows = await this.store.db
      .selectFrom('attempts')
      .leftJoin('nodes', 'nodes.id', 'attempts.node_id')
      .selectAll('attempts')
      .select('nodes.name as node_name')
      .where('job_id', '=', id)
      .orderBy('number')
      .orderBy('replica')
      .execute();
    return rows.map((r) => ({
      id: r.id as AttemptId, number: r.number, replica: r.replica, nodeId: r.node_id as NodeId, node: r.node_name ?? r.node_id, state: r.state as AttemptInfo['state'],
      startedAt: r.started_at, endedAt: r.ended_at, leaseExpiresAt: r.lease_expires_at, exitCode: r.exit_code, reason: r.reason, usage: JSON.parse(r.usage) as AttemptUsage,
    }));
  }

  async events(project: Project, id: string): Promise<JobEvent[]> {
    await this.get(project, id);
    const rows = await this.store.db.selectFrom('job_events').selectAll().where('job_id', '=', id).orderBy('seq').execute();
    return rows.map((r) => ({ seq: r.seq, time: r.time, from: r.from_state, to: r.to_state, reason: r.reason }));
  }

  async logs(project: Project, id: string, after = 0, limit = 1000): Promise<{ chunks: LogChunk[]; next: number; done: boolean }> {
    const job = await this.get(project, id);
    const rows = await this.store.db.selectFrom('job_logs').selectAll().where('job_id', '=', id).where('seq', '>', after).orderBy('seq').limit(limit).execute();
    const chunks = rows.map((r) => ({ seq: r.seq, attempt: r.attempt, replica: r.replica, time: r.time, stream: r.stream as LogChunk['stream'], data: r.data }));
    return { chunks, next: chunks.at(-1)?.seq ?? after, done: isTerminal(job.state) && chunks.length < limit };
  }

  /** Cancels a job: at once when it has not started, else asks its agent to stop it (SIGTERM, then SIGKILL). */
  async cancel(actor: Actor, project: Project, id: string): Promise<JobInfo> {
    const job = await this.get(project, id);
    if (isTerminal(job.state)) return job;
    await this.store.transaction(async (tx) => {
      const done = await this.transition(tx, id, project.id, ['queued', 'admitted', 'placed', 'preempted'], 'cancelled', 'cancelled by user', actor);
      if (!done) {
        await tx.updateTable('jobs').set({ cancel_requested: CANCEL_REQUESTED, updated_at: this.iso() }).where('id', '=', id).where('state', '=', 'running').execute();
        await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'job.cancel-requested', resource: `project/${project.id}/job/${id}`, project: project.id, details: { job: id } });
      }
    });
    const after = await this.get(project, id);
    if (after.nodeId !== null) this.signals.emit(`node:${after.nodeId}`);
    return after;
  }

  // ---- nodes ----------------------------------------------------------------------------------

  async registerNode(principalId: PrincipalId, input: { name: string; region: string; pool: string; capacity: NodeCapacity; labels: Record<string, string>; version: string; address?: string }): Promise<NodeInfo> {
    const pool = this.compute.pools.find((p) => p.name === input.pool);
    if (pool === undefined) throw badRequest(`pool '${input.pool}' is not configured; pools: ${this.compute.pools.map((p) => p.name).join(', ')}`, { field: 'pool' });
    if (pool.region !== input.region) throw badRequest(`pool '${input.pool}' is in region '${pool.region}', not '${input.region}'`, { field: 'region' });
    const now = this.iso();
    return this.store.transaction(async (tx) => {
      const existing = await tx.selectFrom('nodes').selectAll().where('name', '=', input.name).executeTakeFirst();
      if (existing !== undefined && existing.principal_id !== principalId) {
        throw new StrataError('conflict', `node name '${input.name}' belongs to another node identity; choose another --name`);
      }
      const id = (existing?.id ?? this.ids.next('node')) as NodeId;
      const values = { region: input.region, pool: input.pool, capacity: JSON.stringify(input.capacity), labels: JSON.stringify(input.labels), state: 'ready', heartbeat_at: now, agent_version: input.version, address: input.address ?? null };
      if (existing === undefined) await tx.insertInto('nodes').values({ id, name: input.name, principal_id: principalId, registered_at: now, ...values }).execute();
      else await tx.updateTable('nodes').set(values).where('id', '=', id).execute();
      await this.audit.append(tx, { actor: principalId, requestId: null, action: 'node.register', resource: `node/${id}`, details: { name: input.name, region: input.region, pool: input.pool, capacity: input.capacity } });
      return (await this.nodeById(id, tx)) as NodeInfo;
    });
  }

  async nodeById(id: string, db: Tx | Store['db'] = this.store.db): Promise<NodeInfo | undefined> {
    const r = await db.selectFrom('nodes').selectAll().where('id', '=', id).executeTakeFirst();
    return r === undefined ? undefined : toNodeInfo(r);
  }

  async nodes(): Promise<NodeInfo[]> {
    const rows = await this.store.db.selectFrom('nodes').selectAll().orderBy('name').execute();
    return rows.map(toNodeInfo);
  }

  /** The job an attempt belongs to (for log-follow wake-ups). */
  async attemptJob(attemptId: string): Promise<string | undefined> {
    const r = await this.store.db.selectFrom('attempts').select('job_id').where('id', '=', attemptId).executeTakeFirst();
    return r?.job_id;
  }

  async nodeOwner(id: string): Promise<PrincipalId> {
    const r = await this.store.db.selectFrom('nodes').select('principal_id').where('id', '=', id).executeTakeFirst();
    if (r === undefined) throw notFound('node', id);
    return r.principal_id as PrincipalId;
  }

  // ---- placement --------------------------------------------------------------------------------

  /** One scheduling pass: places runnable queued jobs on ready nodes with room (first fit). */
  /**
   * One scheduling cycle through the hybrid scheduler's engine (scheduler/engine, built from the
   * store by jobs/policy.ts): admits and places what fits by quota, fair share and priority;
   * asks lower-priority running jobs to stop when a higher one needs their room (the preemptor
   * starts on a later cycle, once they have); records each waiting job's current reason, and
   * audits when it changes. Returns the number of jobs placed.
   */
  async placementTick(): Promise<number> {
    const now = this.clock.now();
    const placements = await this.store.transaction(async (tx) => {
      await this.store.lock(tx, SCHEDULER_LOCK);
      const queued = await tx.selectFrom('jobs').select(['id', 'project_id', 'spec', 'created_at', 'reason']).where('state', '=', 'queued').where('next_run_at', '<=', this.iso(now)).orderBy('priority', 'desc').orderBy('created_at').limit(500).execute();
      if (queued.length === 0) return [];
      const fresh = this.iso(now - this.nodeTimeoutMs);
      const nodes = await tx.selectFrom('nodes').selectAll().where('state', '=', 'ready').where('heartbeat_at', '>=', fresh).execute();
      const active = await tx
        .selectFrom('jobs')
        .select(['id', 'project_id', 'spec', 'created_at', 'node_id', 'updated_at', 'state', 'replicas'])
        .where('state', 'in', ['placed', 'running'])
        .where('node_id', 'is not', null)
        .execute();
      // Gangs hold a node per replica.
      const gangIds = active.filter((a) => a.replicas > 1).map((a) => a.id);
      const gangRows = gangIds.length === 0 ? [] : await tx.selectFrom('job_replicas').select(['job_id', 'node_id']).where('job_id', 'in', gangIds).execute();
      const gangNodes = new Map<string, Map<string, number>>();
      for (const r of gangRows) {
        const m = gangNodes.get(r.job_id) ?? new Map<string, number>();
        m.set(r.node_id, (m.get(r.node_id) ?? 0) + 1);
        gangNodes.set(r.job_id, m);
      }
      const assignmentsOf = (a: { id: string; node_id: string | null; replicas: number }): { nodeId: string; replicas: number }[] =>
        a.replicas > 1 ? [...(gangNodes.get(a.id) ?? new Map<string, number>())].map(([nodeId, replicas]) => ({ nodeId, replicas })) : [{ nodeId: a.node_id as string, replicas: 1 }];
      const projects = [...new Set([...queued, ...active].map((j) => j.project_id))];
      const teamRows = projects.length === 0 ? [] : await tx.selectFrom('projects').innerJoin('teams', 'teams.id', 'projects.team_id').select(['projects.id as project', 'teams.id as team', 'teams.name']).where('projects.id', 'in', projects).execute();
      const teamOf = new Map(teamRows.map((t) => [t.project, t.team]));
      const engine = buildEngine({
        compute: this.compute,
        clock: this.clock,
        teams: new Map(teamRows.map((t) => [t.team, t.name])),
        history: this.fairShareHistory,
        nodes: nodes.map((n) => ({ id: n.id, pool: n.pool, capacity: JSON.parse(n.capacity) as NodeCapacity, labels: JSON.parse(n.labels) as Record<string, string> })),
        active: active.map((a) => ({ id: a.id, teamId: teamOf.get(a.project_id) ?? a.project_id, spec: JSON.parse(a.spec) as JobSpec, createdAt: a.created_at, assignments: assignmentsOf(a), startedAt: Date.parse(a.updated_at) })),
        pending: queued.map((q) => ({ id: q.id, teamId: teamOf.get(q.project_id) ?? q.project_id, spec: JSON.parse(q.spec) as JobSpec, createdAt: q.created_at })),
      });
      const cycle = engine.schedule();
      for (const t of teamRows) this.fairShareHistory.set(t.team, { decayedShare: engine.share(t.team as TeamId).decayed, at: now });
      const byId = new Map(queued.map((q) => [q.id, q]));
      const activeById = new Map(active.map((a) => [a.id, a]));
      const placed: { jobId: string; nodeId: string }[] = [];
      const admitted = new Set<string>();
      for (const d of cycle.decisions) {
        if (d.kind !== 'admit') continue;
        const job = byId.get(d.jobId);
        const target = d.assignments[0];
        if (job === undefined || target === undefined) continue;
        admitted.add(d.jobId);
        if (d.preempted.length > 0) {
          // Make room first: running victims are asked to stop (their checkpoint is kept and they
          // requeue without spending an attempt); placed-but-unstarted ones go straight back.
          for (const victim of d.preempted) {
            const v = activeById.get(victim);
            if (v === undefined) continue;
            const why = `preempted by ${d.jobId} (priority ${(JSON.parse(job.spec) as JobSpec).priorityClass})`;
            if (v.state === 'placed') await this.transition(tx, v.id, v.project_id, ['placed'], 'queued', `${why}; requeued`, SYSTEM, { node_id: null });
            else {
              const res = await tx.updateTable('jobs').set({ cancel_requested: PREEMPT_REQUESTED, updated_at: this.iso(now) }).where('id', '=', v.id).where('state', '=', 'running').where('cancel_requested', '=', 0).executeTakeFirst();
              if (Number(res.numUpdatedRows) > 0) await this.audit.append(tx, { actor: 'system', requestId: null, action: 'job.preempt', resource: `project/${v.project_id}/job/${v.id}`, project: v.project_id, details: { by: d.jobId, reason: why } });
            }
          }
          const reason = `admitted by preempting ${d.preempted.join(', ')}; starts once they have stopped`;
          if (job.reason !== reason) await tx.updateTable('jobs').set({ reason, updated_at: this.iso(now) }).where('id', '=', job.id).where('state', '=', 'queued').execute();
          continue;
        }
        const how = `flavor ${d.flavor} in pool ${d.pool}${d.borrowing ? ', borrowing cohort quota' : ''}${d.backfill ? ', backfill' : ''}`;
        // Ranks in assignment order: rank 0 runs on the first node (MASTER_ADDR).
        const ranks = d.assignments.flatMap((as) => Array.from({ length: as.replicas }, () => as.nodeId as string));
        const where = ranks.length > 1 ? `${ranks.length} replicas on ${[...new Set(ranks)].join(', ')}` : `node ${target.nodeId}`;
        await this.transition(tx, d.jobId, job.project_id, ['queued'], 'admitted', `admitted: ${how}`, SYSTEM);
        await this.transition(tx, d.jobId, job.project_id, ['admitted'], 'placed', `placed ${ranks.length > 1 ? 'a gang of ' : 'on '}${where} (${how})`, SYSTEM, { node_id: target.nodeId });
        if (ranks.length > 1) {
          const master = target.nodeId as string;
          const used = new Set((await tx.selectFrom('job_replicas').select('master_port').where('node_id', '=', master).where('replica', '=', 0).execute()).map((r) => r.master_port));
          let port = GANG_PORT_BASE;
          while (used.has(port)) port += 1;
          await tx.insertInto('job_replicas').values(ranks.map((nodeId, replica) => ({ job_id: d.jobId, replica, node_id: nodeId, master_port: port, attempt_id: null }))).execute();
        }
        for (const n of new Set(ranks)) placed.push({ jobId: d.jobId, nodeId: n });
      }
      // Every job still waiting carries its current reason; a change of reason is audited.
      for (const q of queued) {
        if (admitted.has(q.id)) continue;
        const st = engine.status(q.id as JobId);
        if (st?.state !== 'pending') continue;
        const reason = describeReason(st.reason);
        if (q.reason === reason) continue;
        await tx.updateTable('jobs').set({ reason, updated_at: this.iso(now) }).where('id', '=', q.id).where('state', '=', 'queued').execute();
        await this.audit.append(tx, { actor: 'system', requestId: null, action: 'job.delayed', resource: `project/${q.project_id}/job/${q.id}`, project: q.project_id, details: { reason: st.reason.kind, text: reason } });
      }
      return placed;
    });
    for (const n of new Set(placements.map((p) => p.nodeId))) this.signals.emit(`node:${n}`);
    return new Set(placements.map((p) => p.jobId)).size;
  }

  // ---- agent side: lease, heartbeat, logs, complete -----------------------------------------------

  private closing = false;

  /** Wakes every long-poll and refuses new leases, so the server can close without waiting them out. */
  shutdown(): void {
    this.closing = true;
    this.signals.emit('shutdown');
  }

  /**
   * Resolves after `ms`, or earlier when any of `events` fires or the service shuts down. Used by
   * long-polls (leases, log follows); never keeps the process or a closing store waiting.
   */
  async waitFor(events: readonly string[], ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closing || ms <= 0 || signal?.aborted === true) return;
    await new Promise<void>((resolve) => {
      const all = [...events, 'shutdown'];
      const done = (): void => {
        clearTimeout(timer);
        for (const e of all) this.signals.off(e, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const e of all) this.signals.once(e, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Leases up to `max` attempts placed on the node; waits up to `waitMs` for work when there is none. */
  async lease(node: NodeInfo, actor: Actor, max: number, waitMs: number, signal?: AbortSignal): Promise<LeasedAttempt[]> {
    if (this.closing) throw new StrataError('unavailable', 'the server is shutting down; retry against another replica or after it restarts');
    // A function, not a narrowed property: the signal can fire while we await.
    const gone = (): boolean => this.closing || (signal?.aborted ?? false);
    if (gone()) return [];
    const got = await this.leaseNow(node, actor, max);
    if (got.length > 0 || waitMs <= 0) return got;
    await this.waitFor([`node:${node.id}`], waitMs, signal);
    // Never lease into a connection that is gone (the agent stopped or died while waiting).
    if (gone()) return [];
    return this.leaseNow(node, actor, max);
  }

  /** The agent is stopping: place nothing more on the node and requeue what was placed but not started. */
  async drainNode(node: NodeInfo, actor: Actor): Promise<{ requeued: number }> {
    const out = await this.store.transaction(async (tx) => {
      const audit = { actor: actorId(actor), requestId: actor.requestId, action: 'node.drain', resource: `node/${node.id}`, details: { name: node.name } };
      return { requeued: await this.takeOutOfService(tx, node, 'draining', audit, `node ${node.name} is draining`, actor) };
    });
    // What went back to the queue is placed elsewhere now, not at the next timed cycle.
    if (out.requeued > 0) this.signals.emit('kick');
    return out;
  }

  /**
   * The one way a node leaves service (drain, reclaim, lost), inside `tx`: under the scheduler lock,
   * so it comes after any scheduling cycle that read the node as ready, and what that cycle placed
   * there is requeued here with the rest. Sets the node's state, audits the change, and sends back
   * to the queue every job, and every gang replica, placed there but not started. Returns how many
   * jobs went back. `staleBefore` (lost): the state changes only while the node's last heartbeat is
   * still older than that.
   */
  private async takeOutOfService(tx: Tx, node: { readonly id: string; readonly name: string }, state: 'draining' | 'lost', audit: AuditInput, why: { readonly job: string; readonly replica: string } | string, actor: Actor, staleBefore?: string): Promise<number> {
    await this.store.lock(tx, SCHEDULER_LOCK);
    let update = tx.updateTable('nodes').set({ state }).where('id', '=', node.id);
    if (staleBefore !== undefined) update = update.where('heartbeat_at', '<', staleBefore);
    await update.execute();
    await this.audit.append(tx, audit);
    const reasons = typeof why === 'string' ? { job: why, replica: why } : why;
    const placed = await tx.selectFrom('jobs').select(['id', 'project_id']).where('node_id', '=', node.id).where('state', '=', 'placed').execute();
    for (const j of placed) await this.transition(tx, j.id, j.project_id, ['placed'], 'queued', reasons.job, actor, { node_id: null });
    return placed.length + (await this.requeueUnstartedReplicas(tx, node.id, reasons.replica, actor));
  }

  /**
   * Gangs with a replica placed on `nodeId` that it will never start (the node is lost or
   * draining) go back to the queue whole; a gang already partly running gives its attempt back
   * (the node failed it, not its code), and its started replicas stop at their next heartbeat.
   */
  private async requeueUnstartedReplicas(tx: Tx, nodeId: string, why: string, actor: Actor): Promise<number> {
    const stuck = await tx
      .selectFrom('job_replicas')
      .innerJoin('jobs', 'jobs.id', 'job_replicas.job_id')
      .select(['jobs.id', 'jobs.project_id', 'jobs.state', 'jobs.attempts', 'jobs.max_attempts'])
      .distinct()
      .where('job_replicas.node_id', '=', nodeId)
      .where('job_replicas.attempt_id', 'is', null)
      .where('jobs.state', 'in', ['placed', 'running'])
      .execute();
    let n = 0;
    for (const j of stuck) {
      const moved =
        j.state === 'placed'
          ? await this.transition(tx, j.id, j.project_id, ['placed'], 'queued', `${why}; the gang is placed again`, actor, { node_id: null })
          : await this.transition(tx, j.id, j.project_id, ['running'], 'queued', `${why}; gang attempt ${j.attempts} stops and is placed again (the attempt is given back)`, actor, { node_id: null, max_attempts: j.max_attempts + 1, next_run_at: this.iso() }, j.attempts);
      if (moved) n += 1;
    }
    return n;
  }

  /**
   * The node's capacity is being taken away (a spot interruption notice, or an operator reclaiming
   * it): nothing more is placed on it, work placed there but not started goes back to the queue,
   * and every running attempt on it is stopped at its next heartbeat as a preemption — it keeps its
   * checkpoint and requeues without spending an attempt. Returns what was affected.
   */
  async reclaimNode(node: NodeInfo, actor: Actor, why: string): Promise<{ requeued: number; stopping: number }> {
    const out = await this.store.transaction(async (tx) => {
      const audit = { actor: actorId(actor), requestId: actor.requestId, action: 'node.reclaim', resource: `node/${node.id}`, details: { name: node.name, reason: why } };
      const requeued = await this.takeOutOfService(tx, node, 'draining', audit, `node ${node.name} is being reclaimed (${why})`, actor);
      const live = await tx
        .selectFrom('attempts')
        .innerJoin('jobs', 'jobs.id', 'attempts.job_id')
        .select(['jobs.id', 'jobs.project_id'])
        .distinct()
        .where('attempts.node_id', '=', node.id)
        .where('attempts.state', '=', 'running')
        .where('jobs.state', '=', 'running')
        .execute();
      let stopping = 0;
      for (const j of live) {
        const res = await tx.updateTable('jobs').set({ cancel_requested: RECLAIM_REQUESTED, updated_at: this.iso() }).where('id', '=', j.id).where('state', '=', 'running').where('cancel_requested', '=', 0).executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) continue;
        stopping += 1;
        await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'job.preempt', resource: `project/${j.project_id}/job/${j.id}`, project: j.project_id, details: { node: node.id, reason: `spot capacity reclaimed: ${why}` } });
      }
      return { requeued, stopping };
    });
    this.signals.emit('kick');
    return out;
  }

  private async leaseNow(node: NodeInfo, actor: Actor, max: number): Promise<LeasedAttempt[]> {
    const now = this.clock.now();
    const leased = await this.store.transaction(async (tx) => {
      await tx.updateTable('nodes').set({ heartbeat_at: this.iso(now), state: 'ready' }).where('id', '=', node.id).where('state', '!=', 'draining').execute();
      const placed = await tx.selectFrom('jobs').selectAll().where('node_id', '=', node.id).where('state', '=', 'placed').where('replicas', '=', 1).orderBy('priority', 'desc').orderBy('created_at').limit(max).execute();
      const out: { row: JobRow; attemptId: AttemptId; number: number; token: string; expires: string; gang?: GangRank }[] = [];
      for (const row of placed) {
        const number = row.attempts + 1;
        const token = randomBytes(24).toString('base64url');
        const expires = this.iso(now + this.leaseSeconds * 1000);
        const moved = await this.transition(tx, row.id, row.project_id, ['placed'], 'running', `attempt ${number} leased by node ${node.name}`, actor, { attempts: number });
        if (!moved) continue;
        const attemptId = this.ids.next('attempt');
        await tx
          .insertInto('attempts')
          .values({ id: attemptId, job_id: row.id, number, replica: 0, node_id: node.id, lease_token: token, lease_expires_at: expires, state: 'running', started_at: this.iso(now), ended_at: null, exit_code: null, reason: '', usage: '{}' })
          .execute();
        out.push({ row, attemptId, number, token, expires });
      }
      if (out.length < max) out.push(...(await this.leaseGangReplicas(tx, node, actor, max - out.length, now)));
      return out;
    });
    const result: LeasedAttempt[] = [];
    for (const l of leased) {
      const spec = JSON.parse(l.row.spec) as JobSpec;
      const project = await this.projectOf(l.row.project_id);
      const secretEnv: Record<string, string> = {};
      for (const s of spec.secrets) secretEnv[s.env] = (await this.secrets.reveal(actor, project, s.name)).value;
      const checkpoint = spec.checkpointDir === undefined ? undefined : await this.artifacts?.latestCheckpoint(this.store.db, l.row.id, l.number);
      // A gang logs to one run, through rank 0 (as torch.distributed programs do).
      const tracking = l.gang === undefined || l.gang.rank === 0 ? await this.startRun(l.row, spec, l.attemptId, l.number) : undefined;
      result.push({
        attemptId: l.attemptId,
        jobId: l.row.id as JobId,
        project: project.name,
        number: l.number,
        leaseToken: l.token,
        leaseExpiresAt: l.expires,
        leaseSeconds: this.leaseSeconds,
        spec,
        secretEnv,
        ...(l.gang === undefined ? {} : { gang: l.gang }),
        ...(checkpoint === undefined ? {} : { checkpoint }),
        ...(tracking === undefined ? {} : { tracking }),
      });
    }
    return result;
  }

  /**
   * Leases the gang replicas placed on this node. The first replica leased starts the gang's
   * attempt (placed → running, one attempt number for every replica); each replica gets its own
   * attempt row, lease token and rank, and the rendezvous point: rank 0's node address and the
   * attempt's master port.
   */
  private async leaseGangReplicas(tx: Tx, node: NodeInfo, actor: Actor, max: number, now: number): Promise<{ row: JobRow; attemptId: AttemptId; number: number; token: string; expires: string; gang: GangRank }[]> {
    const slots = await tx
      .selectFrom('job_replicas')
      .innerJoin('jobs', 'jobs.id', 'job_replicas.job_id')
      .select(['job_replicas.job_id', 'job_replicas.replica', 'job_replicas.master_port'])
      .where('job_replicas.node_id', '=', node.id)
      .where('job_replicas.attempt_id', 'is', null)
      .where('jobs.state', 'in', ['placed', 'running'])
      .where('jobs.cancel_requested', '=', 0)
      .orderBy('jobs.priority', 'desc')
      .orderBy('jobs.created_at')
      .orderBy('job_replicas.replica')
      .limit(max)
      .execute();
    const out: { row: JobRow; attemptId: AttemptId; number: number; token: string; expires: string; gang: GangRank }[] = [];
    const started = new Map<string, { row: JobRow; number: number } | null>();
    for (const slot of slots) {
      let job = started.get(slot.job_id);
      if (job === undefined) {
        job = null;
        const row = await tx.selectFrom('jobs').selectAll().where('id', '=', slot.job_id).executeTakeFirst();
        if (row?.state === 'placed') {
          const number = row.attempts + 1;
          const moved = await this.transition(tx, row.id, row.project_id, ['placed'], 'running', `gang attempt ${number} started: replica ${slot.replica} leased by node ${node.name}`, actor, { attempts: number });
          if (moved) job = { row, number };
        }
        if (job === null) {
          // Running already (another node leased a replica first), or moved on meanwhile.
          const now2 = await tx.selectFrom('jobs').selectAll().where('id', '=', slot.job_id).executeTakeFirst();
          if (now2?.state === 'running') job = { row: now2, number: now2.attempts };
        }
        started.set(slot.job_id, job);
      }
      if (job === null) continue;
      const attemptId = this.ids.next('attempt');
      const claim = await tx.updateTable('job_replicas').set({ attempt_id: attemptId }).where('job_id', '=', slot.job_id).where('replica', '=', slot.replica).where('attempt_id', 'is', null).executeTakeFirst();
      if (Number(claim.numUpdatedRows) === 0) continue;
      const token = randomBytes(24).toString('base64url');
      const expires = this.iso(now + this.leaseSeconds * 1000);
      await tx
        .insertInto('attempts')
        .values({ id: attemptId, job_id: slot.job_id, number: job.number, replica: slot.replica, node_id: node.id, lease_token: token, lease_expires_at: expires, state: 'running', started_at: this.iso(now), ended_at: null, exit_code: null, reason: '', usage: '{}' })
        .execute();
      const all = await tx.selectFrom('job_replicas').select(['replica', 'node_id']).where('job_id', '=', slot.job_id).orderBy('replica').execute();
      const master = all.find((r) => r.replica === 0);
      const masterNode = master === undefined ? undefined : await tx.selectFrom('nodes').select(['name', 'address']).where('id', '=', master.node_id).executeTakeFirst();
      const here = all.filter((r) => r.node_id === node.id);
      const gang: GangRank = {
        rank: slot.replica,
        worldSize: job.row.replicas,
        localRank: here.findIndex((r) => r.replica === slot.replica),
        localWorldSize: here.length,
        masterAddr: masterNode?.address ?? masterNode?.name ?? node.address ?? node.name,
        masterPort: slot.master_port,
      };
      await this.audit.append(tx, {
        actor: actorId(actor), requestId: actor.requestId, action: 'job.replica', resource: `project/${job.row.project_id}/job/${slot.job_id}`, project: job.row.project_id,
        details: { job: slot.job_id, attempt: job.number, replica: slot.replica, node: node.id, attemptId },
      });
      out.push({ row: job.row, attemptId, number: job.number, token, expires, gang });
    }
    return out;
  }

  /** Opens the attempt's tracking run (best effort: without one the attempt still runs). */
  private async startRun(row: JobRow, spec: JobSpec, attemptId: AttemptId, attempt: number): Promise<AttemptTracking | undefined> {
    if (this.runs === undefined) return undefined;
    try {
      // The token lives as long as the attempt may (its max runtime, else a week), plus the lease.
      const tokenSeconds = (spec.maxRuntimeSeconds ?? 7 * 24 * 3600) + this.leaseSeconds * 2;
      const t = await this.runs.start({ projectId: row.project_id, jobId: row.id, jobName: row.name, attempt, submittedBy: row.created_by, labels: spec.labels, tokenSeconds });
      await this.store.db.updateTable('attempts').set({ run_id: t.runId }).where('id', '=', attemptId).execute();
      return t;
    } catch (e) {
      this.onError(`opening the tracking run of attempt ${attempt} of job ${row.id}`, e);
      return undefined;
    }
  }

  /** Closes an attempt's run with its system metrics (best effort). */
  private async finishRun(projectId: string, runId: string | null, status: 'FINISHED' | 'FAILED' | 'KILLED', usage: AttemptUsage, exitCode: number | null, reason: string): Promise<void> {
    if (this.runs === undefined || runId === null) return;
    const metrics: Record<string, number> = {};
    const put = (k: string, v: unknown): void => {
      if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
    };
    put('system/runtime_seconds', usage.wallSeconds);
    put('system/cpu_seconds', usage.cpuSeconds);
    put('system/peak_memory_bytes', usage.peakMemoryBytes);
    put('system/energy_kwh', usage.carbon?.energy_consumed_kWh);
    put('system/carbon_gco2eq', usage.carbon?.carbon_gCO2eq);
    if (exitCode !== null) put('system/exit_code', exitCode);
    try {
      await this.runs.finish({ projectId, runId, status, endTimeMs: this.clock.now(), metrics, tags: { 'strata.outcome': reason.slice(0, 500) } });
    } catch (e) {
      this.onError(`closing tracking run ${runId}`, e);
    }
  }

  private async projectOf(projectId: string): Promise<Project> {
    const r = await this.store.db.selectFrom('projects').innerJoin('teams', 'teams.id', 'projects.team_id').select(['projects.id', 'projects.name', 'projects.team_id', 'projects.created_at', 'teams.name as team']).where('projects.id', '=', projectId).executeTakeFirstOrThrow();
    return { id: r.id as Project['id'], name: r.name, teamId: r.team_id as Project['teamId'], team: r.team, createdAt: r.created_at };
  }

  /** Finds the live attempt for (id, token) on this node, or throws lease_lost (409) telling the agent to stop. */
  private async fenced(db: Tx | Store['db'], node: NodeInfo, attemptId: string, token: string): Promise<{ job_id: string; number: number; replica: number }> {
    const a = await db.selectFrom('attempts').select(['job_id', 'number', 'replica', 'lease_token', 'state', 'node_id']).where('id', '=', attemptId).executeTakeFirst();
    if (a === undefined || a.node_id !== node.id) throw notFound('attempt', attemptId);
    if (a.lease_token !== token || a.state !== 'running') throw leaseLost(attemptId, a.state);
    return a;
  }

  /** Extends the lease; says whether the job was asked to stop. A stale token changes nothing. */
  async heartbeat(node: NodeInfo, attemptId: string, token: string): Promise<{ leaseExpiresAt: string; cancel: boolean; reason?: string }> {
    const now = this.clock.now();
    const expires = this.iso(now + this.leaseSeconds * 1000);
    const res = await this.store.db
      .updateTable('attempts')
      .set({ lease_expires_at: expires })
      .where('id', '=', attemptId)
      .where('node_id', '=', node.id)
      .where('lease_token', '=', token)
      .where('state', '=', 'running')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) await this.fenced(this.store.db, node, attemptId, token);
    await this.store.db.updateTable('nodes').set({ heartbeat_at: this.iso(now) }).where('id', '=', node.id).execute();
    const job = await this.store.db
      .selectFrom('attempts')
      .innerJoin('jobs', 'jobs.id', 'attempts.job_id')
      .select(['jobs.cancel_requested', 'jobs.replicas', 'jobs.state', 'jobs.attempts', 'attempts.number'])
      .where('attempts.id', '=', attemptId)
      .executeTakeFirstOrThrow();
    // A gang replica whose gang attempt is over (another replica failed, was lost or the gang was requeued) stops.
    if (job.replicas > 1 && (job.state !== 'running' || job.attempts !== job.number)) return { leaseExpiresAt: expires, cancel: true, reason: `its gang's attempt ${job.number} is over (another replica ended it); stopping this replica` };
    if (isPreempt(job.cancel_requested)) return { leaseExpiresAt: expires, cancel: true, reason: `${preemptCause(job.cancel_requested)} (checkpoint kept, requeued)` };
    return { leaseExpiresAt: expires, cancel: job.cancel_requested === CANCEL_REQUESTED };
  }

  /** Appends log chunks for a live attempt. A stale token writes nothing. */
  async appendLogs(node: NodeInfo, attemptId: string, token: string, chunks: readonly { stream: 'stdout' | 'stderr' | 'system'; data: string }[]): Promise<{ stored: number }> {
    for (const c of chunks) if (c.data.length > MAX_LOG_CHUNK) throw badRequest(`log chunks hold at most ${MAX_LOG_CHUNK} characters; split it`);
    return this.store.transaction(async (tx) => {
      const a = await this.fenced(tx, node, attemptId, token);
      // A gang's replicas write one job's log side by side: number the chunks one writer at a time.
      await this.store.lock(tx, `job-logs:${a.job_id}`);
      const last = await tx.selectFrom('job_logs').select((eb) => eb.fn.max('seq').as('m')).where('job_id', '=', a.job_id).executeTakeFirst();
      let seq = last?.m === null || last?.m === undefined ? 0 : Number(last.m);
      const time = this.iso();
      for (const c of chunks) {
        seq += 1;
        await tx.insertInto('job_logs').values({ job_id: a.job_id, seq, attempt: a.number, replica: a.replica, time, stream: c.stream, data: c.data }).execute();
      }
      return { stored: chunks.length };
    });
  }

  /**
   * Records the end of an attempt (fenced), then moves the job on: succeeded; cancelled if asked;
   * queued again with exponential backoff and jitter while attempts remain; else failed. Repeating a
   * completion with the same token returns the stored outcome (idempotent).
   */
  async complete(node: NodeInfo, actor: Actor, attemptId: string, token: string, result: { exitCode: number | null; reason: string; usage: AttemptUsage }): Promise<{ jobState: JobState }> {
    let ended: { projectId: string; runId: string | null; status: 'FINISHED' | 'FAILED' | 'KILLED'; usage: AttemptUsage } | undefined;
    const out = await this.completeTx(node, actor, attemptId, token, result, (e) => {
      ended = e;
    });
    if (ended !== undefined) await this.finishRun(ended.projectId, ended.runId, ended.status, ended.usage, result.exitCode, result.reason);
    return out;
  }

  private async completeTx(
    node: NodeInfo,
    actor: Actor,
    attemptId: string,
    token: string,
    result: { exitCode: number | null; reason: string; usage: AttemptUsage },
    onEnded: (e: { projectId: string; runId: string | null; status: 'FINISHED' | 'FAILED' | 'KILLED'; usage: AttemptUsage }) => void,
  ): Promise<{ jobState: JobState }> {
    const now = this.clock.now();
    return this.store.transaction(async (tx) => {
      const a = await tx.selectFrom('attempts').selectAll().where('id', '=', attemptId).executeTakeFirst();
      if (a === undefined || a.node_id !== node.id) throw notFound('attempt', attemptId);
      if (a.lease_token !== token) throw leaseLost(attemptId, a.state);
      let job = await tx.selectFrom('jobs').selectAll().where('id', '=', a.job_id).executeTakeFirstOrThrow();
      if (job.replicas > 1) {
        // Replicas of a gang complete one at a time, so the last one sees all the others' ends.
        await this.store.lock(tx, `job:${job.id}`);
        job = await tx.selectFrom('jobs').selectAll().where('id', '=', a.job_id).executeTakeFirstOrThrow();
      }
      if (a.state !== 'running') {
        // A retry of this holder's own completion returns the stored outcome; a lost attempt stays lost.
        if (a.state !== 'lost' && a.exit_code === result.exitCode) return { jobState: job.state as JobState };
        throw leaseLost(attemptId, a.state);
      }
      const usage = this.withCarbon(node, job.id, a.number, result.usage);
      const cancelled = job.cancel_requested === CANCEL_REQUESTED;
      const preempted = isPreempt(job.cancel_requested);
      const ok = result.exitCode === 0 && !cancelled && !preempted;
      // A gang replica ending after its gang's attempt is over (another replica ended it): it was stopped, not failed.
      const gangOver = job.replicas > 1 && (job.state !== 'running' || job.attempts !== a.number);
      const attemptState = gangOver ? (result.exitCode === 0 ? 'succeeded' : 'cancelled') : cancelled ? 'cancelled' : preempted ? 'preempted' : ok ? 'succeeded' : 'failed';
      // The fence: only the live holder's UPDATE matches. On PostgreSQL a concurrent rescuer may have
      // marked the attempt lost after the read above; then this matches nothing and we stop here.
      const fenced = await tx
        .updateTable('attempts')
        .set({ state: attemptState, ended_at: this.iso(now), exit_code: result.exitCode, reason: result.reason, usage: JSON.stringify(usage) })
        .where('id', '=', attemptId)
        .where('lease_token', '=', token)
        .where('state', '=', 'running')
        .executeTakeFirst();
      if (Number(fenced.numUpdatedRows) === 0) throw leaseLost(attemptId, 'no longer running');
      if (usage.carbon !== undefined) {
        await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'job.energy', resource: `project/${job.project_id}/job/${job.id}`, project: job.project_id, details: { attempt: a.number, ...usage.carbon } });
      }
      const spec = JSON.parse(job.spec) as JobSpec;
      const gang = job.replicas > 1;
      // Its end (and energy) is recorded; the job has moved on.
      if (gangOver) return { jobState: job.state as JobState };
      if (gang && ok) {
        const done = await tx.selectFrom('attempts').select((eb) => eb.fn.countAll<number>().as('n')).where('job_id', '=', job.id).where('number', '=', a.number).where('state', '=', 'succeeded').executeTakeFirstOrThrow();
        // The gang runs on until every replica has exited 0.
        if (Number(done.n) < job.replicas) return { jobState: 'running' };
      }
      const who = gang ? `replica ${a.replica} of attempt ${a.number}` : `attempt ${a.number}`;
      let to: JobState;
      let reason: string;
      const patch: Partial<JobRow> = { exit_code: result.exitCode };
      if (cancelled) [to, reason] = ['cancelled', 'cancelled by user'];
      else if (preempted) {
        // Preemption is not the job's failure: requeue at once, and give the attempt back.
        [to, reason] = ['queued', `${gang ? `gang attempt ${a.number}` : `attempt ${a.number}`} stopped: ${preemptCause(job.cancel_requested)}; requeued (checkpoint kept)`];
        patch.node_id = null;
        patch.next_run_at = this.iso(now);
        patch.max_attempts = job.max_attempts + 1;
        patch.cancel_requested = 0;
      } else if (ok) [to, reason] = ['succeeded', gang ? `all ${job.replicas} replicas of attempt ${a.number} exited 0` : `attempt ${a.number} exited 0`];
      else if (job.attempts < job.max_attempts) {
        const delay = backoffSeconds(spec, job.attempts, this.jitter());
        [to, reason] = ['queued', `${who} failed (${result.reason}); ${gang ? 'the gang stops and ' : ''}retrying in ${delay.toFixed(1)} s`];
        patch.node_id = null;
        patch.next_run_at = this.iso(now + delay * 1000);
      } else [to, reason] = ['failed', `${gang ? `replica ${a.replica} of ` : ''}attempt ${a.number} of ${job.max_attempts} failed: ${result.reason}`];
      // The job must still be running this very attempt; otherwise roll everything back.
      const moved = await this.transition(tx, job.id, job.project_id, ['running'], to, reason, actor, patch, a.number);
      if (!moved) throw leaseLost(attemptId, 'superseded by a later attempt');
      // A gang's run is rank 0's.
      const runId = gang ? ((await tx.selectFrom('attempts').select('run_id').where('job_id', '=', job.id).where('number', '=', a.number).where('replica', '=', 0).executeTakeFirst())?.run_id ?? null) : a.run_id;
      onEnded({ projectId: job.project_id, runId, status: cancelled || preempted ? 'KILLED' : ok ? 'FINISHED' : 'FAILED', usage });
      return { jobState: to };
    });
  }

  /**
   * Facility energy and emissions of an attempt: the agent measures IT energy (CPU, GPU, memory);
   * the server applies the region's PUE and integrates the region's carbon intensity over the
   * attempt's samples (research §5). The report keeps the CodeCarbon-style field names.
   */
  private withCarbon(node: NodeInfo, jobId: string, attempt: number, usage: AttemptUsage): AttemptUsage {
    const e = usage.energy as { totalKWh?: unknown; samples?: unknown; method?: unknown } | undefined;
    if (e === undefined || typeof e.totalKWh !== 'number' || !Array.isArray(e.samples)) {
      // Only the server computes carbon: drop any figure an agent sent.
      const { carbon: _ignored, ...rest } = usage;
      return rest;
    }
    const region = this.compute.regions.find((r) => r.name === node.region);
    const signal = this.carbon.get(node.region);
    const { carbon: _agentCarbon, ...measured } = usage;
    if (region === undefined || signal === undefined) return measured;
    const samples = (e.samples as EnergySample[]).filter((x) => typeof x.startMs === 'number' && typeof x.endMs === 'number' && typeof x.kWh === 'number').map((x) => ({ startMs: x.startMs, endMs: x.endMs, kWh: x.kWh * region.pue }));
    try {
      const grams = integrateEmissions(signal, samples);
      const start = samples[0]?.startMs ?? this.clock.now();
      return {
        ...measured,
        carbon: {
          workload: `job/${jobId}/attempt/${attempt}`,
          location: node.region,
          energy_consumed_kWh: e.totalKWh * region.pue,
          carbon_gCO2eq: grams,
          intensity_source: signal.intensityAt(start).source,
          pue: region.pue,
          energy_method: typeof e.method === 'string' ? e.method : 'unknown',
        },
      };
    } catch {
      return measured;
    }
  }

  /** Expired leases: the attempt is lost and the job runs again while attempts remain (at least once). Also marks silent nodes lost. */
  async rescueTick(): Promise<number> {
    const now = this.clock.now();
    const expired = await this.store.db.selectFrom('attempts').select(['id', 'job_id', 'number', 'replica', 'node_id', 'run_id']).where('state', '=', 'running').where('lease_expires_at', '<', this.iso(now)).limit(500).execute();
    let rescued = 0;
    for (const a of expired) {
      const moved = await this.store.transaction(async (tx) => {
        const res = await tx.updateTable('attempts').set({ state: 'lost', ended_at: this.iso(now), reason: 'lease expired' }).where('id', '=', a.id).where('state', '=', 'running').where('lease_expires_at', '<', this.iso(now)).executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) return false;
        const job = await tx.selectFrom('jobs').selectAll().where('id', '=', a.job_id).executeTakeFirstOrThrow();
        const retry = isPreempt(job.cancel_requested) || (job.attempts < job.max_attempts && job.cancel_requested === 0);
        const who = job.replicas > 1 ? `replica ${a.replica} of attempt ${a.number}` : `attempt ${a.number}`;
        return this.transition(
          tx, job.id, job.project_id, ['running'], retry ? 'queued' : job.cancel_requested === CANCEL_REQUESTED ? 'cancelled' : 'failed',
          `${who} lost: its lease expired on node ${a.node_id}${job.replicas > 1 ? '; the gang stops' : ''}${retry ? '; running it again' : ''}`, SYSTEM,
          // A preempted attempt whose holder vanished requeues without spending an attempt, like one that stopped.
          isPreempt(job.cancel_requested) ? { node_id: null, next_run_at: this.iso(now), cancel_requested: 0, max_attempts: job.max_attempts + 1 } : { node_id: null, next_run_at: this.iso(now) },
          a.number,
        );
      });
      if (moved) {
        rescued += 1;
        const project = await this.store.db.selectFrom('jobs').select('project_id').where('id', '=', a.job_id).executeTakeFirst();
        // A gang's run is rank 0's.
        const runId = a.replica === 0 ? a.run_id : ((await this.store.db.selectFrom('attempts').select('run_id').where('job_id', '=', a.job_id).where('number', '=', a.number).where('replica', '=', 0).executeTakeFirst())?.run_id ?? null);
        if (project !== undefined) await this.finishRun(project.project_id, runId, 'FAILED', {}, null, `attempt ${a.number} lost: its lease expired`);
      }
    }
    // Silent nodes are lost; work placed on them but never leased goes back to the queue.
    const stale = this.iso(now - this.nodeTimeoutMs);
    const lost = await this.store.db.selectFrom('nodes').select(['id', 'name']).where('state', '=', 'ready').where('heartbeat_at', '<', stale).execute();
    for (const n of lost) {
      await this.store.transaction(async (tx) => {
        const why = { job: `node ${n.name} stopped heartbeating before it started the job`, replica: `node ${n.name} stopped heartbeating before it started its replica` };
        await this.takeOutOfService(tx, n, 'lost', { actor: 'system', requestId: null, action: 'node.lost', resource: `node/${n.id}`, details: { name: n.name } }, why, SYSTEM, stale);
      });
    }
    return rescued;
  }
}

function leaseLost(attemptId: string, state: string): StrataError {
  return new StrataError('conflict', `attempt ${attemptId} no longer holds its lease (it is ${state}); stop it and discard its results`, { details: { code: 'lease_lost', stop: true } });
}

/** Exponential backoff with jitter: min(max, initial × 2^(n−1)) × (0.5 + jitter/2)... never below half. */
export function backoffSeconds(spec: JobSpec, attempt: number, jitter: number): number {
  const base = Math.min(spec.backoff.maxSeconds, spec.backoff.initialSeconds * 2 ** Math.max(0, attempt - 1));
  return base * (0.5 + jitter / 2);
}

export function toJobView(id: string, spec: JobSpec): JobView {
  const acc = spec.resources.accelerators;
  return {
    id, cpuMillis: spec.resources.cpuMillis, memoryBytes: spec.resources.memoryBytes, regions: spec.regions, dataResidency: spec.dataResidency,
    ...(acc === undefined ? {} : { accelerator: { kind: acc.kind, count: acc.count, flavors: acc.flavors } }),
  };
}

function toJobInfo(r: JobRow, project: string): JobInfo {
  return {
    id: r.id as JobId, project, name: r.name, state: r.state as JobState, reason: r.reason, attempts: r.attempts, maxAttempts: r.max_attempts,
    nodeId: r.node_id as NodeId | null, exitCode: r.exit_code, cancelRequested: r.cancel_requested === 1, createdAt: r.created_at, createdBy: r.created_by,
    updatedAt: r.updated_at, finishedAt: r.finished_at, spec: JSON.parse(r.spec) as JobSpec,
  };
}

function toNodeInfo(r: { id: string; name: string; region: string; pool: string; capacity: string; labels: string; state: string; registered_at: string; heartbeat_at: string; agent_version: string; address: string | null }): NodeInfo {
  return {
    id: r.id as NodeId, name: r.name, region: r.region, pool: r.pool, capacity: JSON.parse(r.capacity) as NodeCapacity, labels: JSON.parse(r.labels) as Record<string, string>,
    state: r.state as NodeInfo['state'], registeredAt: r.registered_at, heartbeatAt: r.heartbeat_at, agentVersion: r.agent_version, address: r.address,
  };
}
