// Experiment tracking over the store. Experiments belong to projects; every read and write is
// scoped by project id, so no query crosses tenants. Lifecycle changes (experiment create, rename,
// delete, restore, tags; run create, update/terminate, delete, restore) are audited in the same
// transaction; metric, param, tag and input logging is telemetry and is not (issue 5). Writes of
// run data are one transaction each, with the rows of a batch sent as one statement per table.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor, AuditLog } from '../access/index.ts';
import type { Clock, ProjectId, TeamId } from '../kernel/index.ts';
import { StrataError, badRequest, conflict } from '../kernel/index.ts';
import type { Store, Tx } from '../store/index.ts';
import { isUniqueViolation, precompile } from '../store/index.ts';
import type { Dataset, DatasetInput, Experiment, ExperimentId, LifecycleStage, Metric, Param, Run, RunId, RunInfo, RunMetric, RunStatus, Tag, TrackingScope, ViewType } from './model.ts';
import {
  DEFAULT_EXPERIMENT_NAME,
  LIMITS,
  SYSTEM_TAGS,
  TERMINAL_STATUSES,
  artifactLocationOf,
  artifactUriOf,
  isRunStatus,
  stagesOf,
} from './model.ts';
import { compileExperimentSearch, compileRunSearch } from './search-sql.ts';
import { decodePageToken, encodePageToken, parseExperimentFilter, parseExperimentOrderBy, parseRunFilter, parseRunOrderBy } from './search-filter.ts';
import type { ParseResult } from './search-filter.ts';
import { MetricHistory } from './metric-history.ts';
import { claimActiveRun, claimRun, executeAll, insertParams, insertRunInActiveExperiment, jsonColumn, jsonNumberValue, noRun, runVersion, selectRuns, upsertLatestMetrics, upsertTags } from './run-sql.ts';
import type { RunDetailRow } from './run-sql.ts';
import { latestPerKey, sampleSteps, validateBatch, validateExperimentName, validateExperimentTag, validateKey, validateRunTag, validateValue } from './validation.ts';

/** Where new run and dataset ids come from (injected so tests can be deterministic). */
export interface TrackingIds {
  /** 32 lower-case hex digits, like MLflow's run ids, for a run created at `now` (ms since the epoch). */
  runId(now: number): string;
  datasetId(): string;
}

export const randomTrackingIds: TrackingIds = {
  runId: timeOrderedRunId,
  // randomUUID draws from a pooled buffer; a randomBytes call per id costs a getrandom system call.
  datasetId: () => randomUUID().replaceAll('-', ''),
};

/**
 * A run id in MLflow's form (uuid.hex: 32 lower-case hex digits) laid out as a UUIDv7 (RFC 9562):
 * 48 bits of creation time in milliseconds, then the version, variant and 74 random bits. Clients
 * treat run ids as opaque. Ids made in time order land at the right edge of every index keyed by
 * run (runs, params, tags, latest metrics, staged batches), so a commit rewrites a few pages instead
 * of one random page per index per run: creating runs costs ~7 % less CPU (bench `tracking`, create).
 */
export function timeOrderedRunId(now: number): string {
  const ms = Number.isFinite(now) ? Math.max(0, Math.min(Math.floor(now), 2 ** 48 - 1)) : 0;
  // randomUUID's hex: version '4' at index 12 becomes '7'; the variant digit at 16 is kept.
  return `${ms.toString(16).padStart(12, '0')}7${randomUUID().replaceAll('-', '').slice(13)}`;
}

/** A project as the authorisation gate needs it. */
export interface ProjectRef {
  readonly projectId: ProjectId;
  readonly teamId: TeamId;
  readonly name: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Absent on the last page. */
  readonly nextPageToken?: string;
}

export interface SearchRunsInput {
  readonly experimentIds: readonly string[];
  readonly filter?: string;
  readonly orderBy?: readonly string[];
  readonly maxResults?: number;
  readonly pageToken?: string;
  readonly view?: ViewType;
}

export interface SearchExperimentsInput {
  readonly filter?: string;
  readonly orderBy?: readonly string[];
  readonly maxResults?: number;
  readonly pageToken?: string;
  readonly view?: ViewType;
}

export interface CreateRunInput {
  readonly experimentId: string;
  readonly name?: string;
  readonly userId?: string;
  readonly startTime?: number;
  readonly tags?: readonly Tag[];
}

export interface UpdateRunInput {
  readonly status?: RunStatus;
  readonly endTime?: number;
  readonly name?: string;
}

export interface LogBatchInput {
  readonly metrics?: readonly Metric[];
  readonly params?: readonly Param[];
  readonly tags?: readonly Tag[];
  /** More writes in the same transaction, once the run is known to be active (logged-model metric points, MLflow 3.x). */
  readonly also?: (tx: Tx) => Promise<void>;
}

const actorId = (a: Actor): string => a.principal?.id ?? 'system';
const LOCK_EXPERIMENTS = 'strata.tracking.experiments';
const SCOPE_CACHE_MAX = 100_000;

/** 404s with MLflow's wording (the MLflow front end passes messages through unchanged). */
const noExperiment = (id: string): StrataError => new StrataError('not_found', `No Experiment with id=${id} exists`, { details: { experiment: id } });
const parsed = <T>(r: ParseResult<T>, what: string): T => {
  if (r.ok) return r.value;
  throw badRequest(`Invalid ${what}: ${r.error.message} (at character ${r.error.position})`, { position: r.error.position });
};

function boundedSet<K, V>(m: Map<K, V>, k: K, v: V): void {
  if (m.size >= SCOPE_CACHE_MAX) m.clear();
  m.set(k, v);
}

export class TrackingService {
  /** Experiments and runs never move between projects, so where one lives can be remembered. */
  private readonly experimentScopes = new Map<string, ProjectId>();
  private readonly runScopes = new Map<string, TrackingScope>();
  private readonly projects = new Map<string, ProjectRef>();
  private readonly defaults = new Map<string, ExperimentId>();

  /** Hot statements, compiled once (see the constructor). */
  private readonly q;
  /** Where metric points are written and read back (chunks and staged rows). */
  private readonly history: MetricHistory;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly ids: TrackingIds = randomTrackingIds,
  ) {
    this.history = new MetricHistory(store, clock);
    // The experiment read most experiment and run calls begin with, compiled once (query building
    // is a measurable share of a small request's CPU).
    const db = store.db;
    this.q = {
      experiment: precompile(db, ['id', 'project'], (d, p) => d.selectFrom('experiments').selectAll().where('id', '=', p.id).where('project_id', '=', p.project)),
    };
  }

  // ---- metric history (metric-history.ts) ---------------------------------------------------------

  /** Starts packing staged metric points into history chunks in the background. */
  async startMovingRecentMetrics(onError: (e: unknown) => void): Promise<void> {
    await this.history.start(onError);
  }

  /** Stops the background packing and packs what is left (a clean shutdown leaves nothing staged). */
  async stopMovingRecentMetrics(): Promise<void> {
    await this.history.stop();
  }

  /** Packs the staged metric points of one run, or of all, into chunks now; returns how many. */
  async moveRecentMetrics(runId?: string): Promise<number> {
    return this.history.move(runId === undefined ? undefined : [runId]);
  }

  // ---- scopes (for the authorisation gate) ----------------------------------------------------

  /** The project an experiment belongs to, or undefined when there is no such experiment. */
  async experimentProject(id: string): Promise<ProjectId | undefined> {
    const hit = this.experimentScopes.get(id);
    if (hit !== undefined) return hit;
    const row = await this.store.db.selectFrom('experiments').select('project_id').where('id', '=', id).executeTakeFirst();
    if (row === undefined) return undefined;
    boundedSet(this.experimentScopes, id, row.project_id as ProjectId);
    return row.project_id as ProjectId;
  }

  /** Where a run lives, or undefined when there is no such run. */
  async runScope(id: string): Promise<TrackingScope | undefined> {
    const hit = this.runScopes.get(id);
    if (hit !== undefined) return hit;
    const row = await this.store.db.selectFrom('runs').select(['project_id', 'experiment_id']).where('id', '=', id).executeTakeFirst();
    if (row === undefined) return undefined;
    const scope: TrackingScope = { projectId: row.project_id as ProjectId, experimentId: row.experiment_id as ExperimentId };
    boundedSet(this.runScopes, id, scope);
    return scope;
  }

  /** A project by id (projects are never renamed or deleted, so this is cached). */
  async project(id: string): Promise<ProjectRef | undefined> {
    const hit = this.projects.get(id);
    if (hit !== undefined) return hit;
    const row = await this.store.db.selectFrom('projects').select(['id', 'team_id', 'name']).where('id', '=', id).executeTakeFirst();
    if (row === undefined) return undefined;
    const ref: ProjectRef = { projectId: row.id as ProjectId, teamId: row.team_id as TeamId, name: row.name };
    boundedSet(this.projects, id, ref);
    return ref;
  }

  // ---- experiments ------------------------------------------------------------------------------

  /** Creates an experiment in a project. Names are unique per project, deleted ones included. */
  async createExperiment(actor: Actor, projectId: ProjectId, input: { name: string; tags?: readonly Tag[]; artifactLocation?: string }): Promise<Experiment> {
    const name = validateExperimentName(input.name);
    const tags = (input.tags ?? []).map(validateExperimentTag);
    if (input.artifactLocation !== undefined && input.artifactLocation !== '') {
      // Every artifact goes through Strata's artifact store; a client-chosen location is where the
      // MLflow path-traversal CVEs started (CVE-2023-6909, CVE-2024-1483, CVE-2024-1594).
      throw badRequest(`'artifact_location' cannot be set: Strata stores artifacts itself (under ${artifactLocationOf('<experiment id>' as ExperimentId)}); leave it empty`, { field: 'artifact_location' });
    }
    return this.store.transaction(async (tx) => this.insertExperiment(tx, actor, projectId, name, tags, false));
  }

  private async insertExperiment(tx: Tx, actor: Actor, projectId: ProjectId, name: string, tags: readonly Tag[], isDefault: boolean): Promise<Experiment> {
    await this.store.lock(tx, LOCK_EXPERIMENTS);
    const existing = await tx.selectFrom('experiments').select(['id', 'lifecycle_stage']).where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
    if (existing !== undefined) throw experimentExists(name, existing.lifecycle_stage);
    const last = await tx.selectFrom('experiments').select('id').orderBy(sql`length(id)`, 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
    const id = String(last === undefined ? 1 : Number(last.id) + 1) as ExperimentId;
    const now = this.clock.now();
    const exp: Experiment = {
      id,
      projectId,
      name,
      artifactLocation: artifactLocationOf(id),
      lifecycleStage: 'active',
      creationTime: now,
      lastUpdateTime: now,
      isDefault,
      tags: dedupeTags(tags),
    };
    try {
      await tx
        .insertInto('experiments')
        .values({ id, project_id: projectId, name, artifact_location: exp.artifactLocation, lifecycle_stage: 'active', is_default: isDefault ? 1 : 0, creation_time: now, last_update_time: now, created_by: actorId(actor) })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw experimentExists(name, 'active');
      throw e;
    }
    if (exp.tags.length > 0) await tx.insertInto('experiment_tags').values(exp.tags.map((t) => ({ experiment_id: id, key: t.key, value: t.value }))).execute();
    await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'experiment.create', resource: `experiment/${id}`, project: projectId, after: exp, details: { name, default: isDefault } });
    return exp;
  }

  /** The project's default experiment (MLflow's "0"), created on first use. */
  async defaultExperiment(actor: Actor, projectId: ProjectId): Promise<ExperimentId> {
    const hit = this.defaults.get(projectId);
    if (hit !== undefined) return hit;
    const row = await this.store.db.selectFrom('experiments').select('id').where('project_id', '=', projectId).where('is_default', '=', 1).executeTakeFirst();
    let id = row?.id as ExperimentId | undefined;
    if (id === undefined) {
      id = await this.store.transaction(async (tx) => {
        await this.store.lock(tx, LOCK_EXPERIMENTS);
        const again = await tx.selectFrom('experiments').select('id').where('project_id', '=', projectId).where('is_default', '=', 1).executeTakeFirst();
        if (again !== undefined) return again.id as ExperimentId;
        // A user-made experiment already called "Default" becomes the default one.
        const named = await tx.selectFrom('experiments').select('id').where('project_id', '=', projectId).where('name', '=', DEFAULT_EXPERIMENT_NAME).executeTakeFirst();
        if (named !== undefined) {
          await tx.updateTable('experiments').set({ is_default: 1 }).where('id', '=', named.id).execute();
          return named.id as ExperimentId;
        }
        return (await this.insertExperiment(tx, actor, projectId, DEFAULT_EXPERIMENT_NAME, [], true)).id;
      });
    }
    boundedSet(this.defaults, projectId, id);
    return id;
  }

  async getExperiment(projectId: ProjectId, id: string): Promise<Experiment> {
    const [e] = await this.loadExperiments(projectId, [id]);
    if (e === undefined) throw noExperiment(id);
    return e;
  }

  async getExperimentByName(projectId: ProjectId, name: string): Promise<Experiment> {
    const row = await this.store.db.selectFrom('experiments').select('id').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
    if (row === undefined) throw new StrataError('not_found', `Could not find experiment with name '${name}'`, { details: { experiment: name } });
    return this.getExperiment(projectId, row.id);
  }

  private async loadExperiments(projectId: ProjectId, ids: readonly string[]): Promise<Experiment[]> {
    if (ids.length === 0) return [];
    const db = this.store.db;
    const rows = await db.selectFrom('experiments').selectAll().where('project_id', '=', projectId).where('id', 'in', [...ids]).execute();
    const tags = await db.selectFrom('experiment_tags').select(['experiment_id', 'key', 'value']).where('experiment_id', 'in', rows.map((r) => r.id).concat([''])).orderBy('key').execute();
    const byId = new Map<string, Experiment>(
      rows.map((r) => [
        r.id,
        {
          id: r.id as ExperimentId,
          projectId: r.project_id as ProjectId,
          name: r.name,
          artifactLocation: r.artifact_location,
          lifecycleStage: r.lifecycle_stage as LifecycleStage,
          creationTime: Number(r.creation_time),
          lastUpdateTime: Number(r.last_update_time),
          isDefault: r.is_default === 1,
          tags: tags.filter((t) => t.experiment_id === r.id).map((t) => ({ key: t.key, value: t.value })),
        },
      ]),
    );
    return ids.map((id) => byId.get(id)).filter((e): e is Experiment => e !== undefined);
  }

  /** Experiments of a project matching an MLflow filter, one page at a time. */
  async searchExperiments(projectId: ProjectId, input: SearchExperimentsInput): Promise<Page<Experiment>> {
    const clauses = parsed(parseExperimentFilter(input.filter ?? ''), 'filter');
    const order = parsed(parseExperimentOrderBy(input.orderBy ?? []), 'order_by');
    const offset = parsed(decodePageToken(input.pageToken), 'page token');
    const limit = pageSize(input.maxResults, LIMITS.searchExperimentsDefault, LIMITS.searchExperimentsMax);
    const q = compileExperimentSearch({ dialect: this.store.dialect, projectId, stages: stagesOf(input.view ?? 'ACTIVE_ONLY'), clauses, order, offset, limit: limit + 1 });
    const ids = (await q.execute(this.store.db)).rows.map((r) => r.id);
    const items = await this.loadExperiments(projectId, ids.slice(0, limit));
    return ids.length > limit ? { items, nextPageToken: encodePageToken(offset + limit) } : { items };
  }

  /** Renames an active experiment. */
  async renameExperiment(actor: Actor, projectId: ProjectId, id: string, newName: string): Promise<Experiment> {
    const name = validateExperimentName(newName);
    return this.store.transaction(async (tx) => {
      await this.store.lock(tx, LOCK_EXPERIMENTS);
      const before = await this.experimentRow(tx, projectId, id);
      if (before.lifecycle_stage !== 'active') throw badRequest('Cannot rename a non-active experiment.', { experiment: id });
      if (before.name !== name) {
        const clash = await tx.selectFrom('experiments').select(['lifecycle_stage']).where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
        if (clash !== undefined) throw experimentExists(name, clash.lifecycle_stage);
      }
      await tx.updateTable('experiments').set({ name, last_update_time: this.clock.now() }).where('id', '=', id).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'experiment.update', resource: `experiment/${id}`, project: projectId, before: { name: before.name }, after: { name }, details: { from: before.name, to: name } });
      return this.getExperimentIn(tx, projectId, id);
    });
  }

  /** Soft-deletes an experiment and the runs in it (restore brings back exactly those runs). */
  async deleteExperiment(actor: Actor, projectId: ProjectId, id: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const e = await this.experimentRow(tx, projectId, id);
      if (e.is_default === 1) throw badRequest(`Cannot delete the default experiment '${id}': it receives runs started without an experiment`, { experiment: id });
      if (e.lifecycle_stage === 'deleted') return;
      const now = this.clock.now();
      await tx.updateTable('experiments').set({ lifecycle_stage: 'deleted', last_update_time: now }).where('id', '=', id).execute();
      const runs = await tx.updateTable('runs').set((eb) => ({ lifecycle_stage: 'deleted', deleted_time: now, version: eb('version', '+', 1) })).where('experiment_id', '=', id).where('lifecycle_stage', '=', 'active').executeTakeFirst();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'experiment.delete', resource: `experiment/${id}`, project: projectId, details: { name: e.name, runsDeleted: Number(runs.numUpdatedRows) } });
    });
  }

  /** Restores a deleted experiment and the runs deleted with it. */
  async restoreExperiment(actor: Actor, projectId: ProjectId, id: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const e = await this.experimentRow(tx, projectId, id);
      if (e.lifecycle_stage === 'active') return;
      const deletedAt = Number(e.last_update_time);
      await tx.updateTable('experiments').set({ lifecycle_stage: 'active', last_update_time: this.clock.now() }).where('id', '=', id).execute();
      const runs = await tx.updateTable('runs').set((eb) => ({ lifecycle_stage: 'active', deleted_time: null, version: eb('version', '+', 1) })).where('experiment_id', '=', id).where('lifecycle_stage', '=', 'deleted').where('deleted_time', '=', deletedAt).executeTakeFirst();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'experiment.restore', resource: `experiment/${id}`, project: projectId, details: { name: e.name, runsRestored: Number(runs.numUpdatedRows) } });
    });
  }

  async setExperimentTag(actor: Actor, projectId: ProjectId, id: string, tag: Tag): Promise<void> {
    validateExperimentTag(tag);
    await this.store.transaction(async (tx) => {
      await this.activeExperimentRow(tx, projectId, id);
      await tx.insertInto('experiment_tags').values({ experiment_id: id, key: tag.key, value: tag.value }).onConflict((oc) => oc.columns(['experiment_id', 'key']).doUpdateSet({ value: tag.value })).execute();
      await tx.updateTable('experiments').set({ last_update_time: this.clock.now() }).where('id', '=', id).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'experiment.tag.set', resource: `experiment/${id}`, project: projectId, after: tag, details: { key: tag.key } });
    });
  }

  async deleteExperimentTag(actor: Actor, projectId: ProjectId, id: string, key: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      await this.activeExperimentRow(tx, projectId, id);
      const r = await tx.deleteFrom('experiment_tags').where('experiment_id', '=', id).where('key', '=', key).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new StrataError('not_found', `No tag with name: ${key} in experiment with id ${id}`, { details: { key } });
      await tx.updateTable('experiments').set({ last_update_time: this.clock.now() }).where('id', '=', id).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'experiment.tag.delete', resource: `experiment/${id}`, project: projectId, details: { key } });
    });
  }

  private async experimentRow(tx: Tx, projectId: ProjectId, id: string) {
    const row = (await this.q.experiment(tx, { id, project: projectId })).rows[0];
    if (row === undefined) throw noExperiment(id);
    return row;
  }

  private async activeExperimentRow(tx: Tx, projectId: ProjectId, id: string) {
    const row = await this.experimentRow(tx, projectId, id);
    if (row.lifecycle_stage !== 'active') throw badRequest(`The experiment ${id} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`, { experiment: id });
    return row;
  }

  private async getExperimentIn(tx: Tx, projectId: ProjectId, id: string): Promise<Experiment> {
    const r = await this.experimentRow(tx, projectId, id);
    const tags = await tx.selectFrom('experiment_tags').select(['key', 'value']).where('experiment_id', '=', id).orderBy('key').execute();
    return {
      id: r.id as ExperimentId,
      projectId,
      name: r.name,
      artifactLocation: r.artifact_location,
      lifecycleStage: r.lifecycle_stage as LifecycleStage,
      creationTime: Number(r.creation_time),
      lastUpdateTime: Number(r.last_update_time),
      isDefault: r.is_default === 1,
      tags,
    };
  }

  // ---- runs -----------------------------------------------------------------------------------

  /** Starts a run in an active experiment of the project. */
  async createRun(actor: Actor, projectId: ProjectId, input: CreateRunInput): Promise<Run> {
    const tags = dedupeTags((input.tags ?? []).map(validateRunTag));
    const tagName = tags.find((t) => t.key === SYSTEM_TAGS.runName)?.value;
    if (input.name !== undefined && input.name !== '' && tagName !== undefined && tagName !== input.name) {
      throw badRequest(`Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${input.name}', mlflow.runName='${tagName}').`, { field: 'run_name' });
    }
    const id = this.ids.runId(this.clock.now()) as RunId;
    const name = input.name !== undefined && input.name !== '' ? input.name : (tagName ?? generatedRunName(id));
    validateValue('run name', name, LIMITS.runNameLength);
    const allTags = tagName === undefined ? [...tags, { key: SYSTEM_TAGS.runName, value: name }] : tags;
    const userId = input.userId !== undefined && input.userId !== '' ? input.userId : (tags.find((t) => t.key === SYSTEM_TAGS.user)?.value ?? actor.principal?.name ?? 'unknown');
    const startTime = input.startTime ?? this.clock.now();
    const parent = tags.find((t) => t.key === SYSTEM_TAGS.parentRunId)?.value;
    const experimentId = input.experimentId as ExperimentId;
    return this.store.transaction(async (tx) => {
      const info: RunInfo = {
        id,
        experimentId,
        projectId,
        name,
        userId,
        status: 'RUNNING',
        startTime,
        endTime: null,
        artifactUri: artifactUriOf(experimentId, id),
        lifecycleStage: 'active',
      };
      if (!(await insertRunInActiveExperiment(tx, this.store.dialect, { id, experimentId, projectId, name, userId, startTime, artifactUri: info.artifactUri, createdBy: actorId(actor) }))) {
        await this.activeExperimentRow(tx, projectId, experimentId); // the 404 or 400 that says why
        throw new StrataError('conflict', `experiment ${experimentId} changed while the run was created: try again`, { details: { experiment: experimentId } });
      }
      await executeAll(tx, upsertTags(this.store.dialect, id, experimentId, allTags));
      await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action: 'run.create',
        resource: `run/${id}`,
        project: projectId,
        details: { experimentId, name, ...(parent === undefined ? {} : { parentRunId: parent }) },
      });
      boundedSet(this.runScopes, id, { projectId, experimentId });
      return { info, data: { metrics: [], params: [], tags: sortByKey(allTags) }, inputs: [] };
    });
  }

  async getRun(projectId: ProjectId, id: string): Promise<Run> {
    return (await this.getVersionedRun(projectId, id)).run;
  }

  /**
   * The run with its change counter, read in the same statement: the counter goes up in every
   * transaction that changes the run (migration 0015), so a copy made from this run stays exact for
   * as long as `runVersion` answers the same number.
   */
  async getVersionedRun(projectId: ProjectId, id: string): Promise<{ run: Run; version: number }> {
    const { rows } = await this.store.db.executeQuery(selectRuns(this.store.dialect, projectId, [id]));
    const row = rows[0];
    if (row === undefined) throw noRun(id);
    return { run: toRun(row), version: Number(row.version) };
  }

  /** The run's change counter (one primary-key read), or undefined when the project has no such run. */
  runVersion(projectId: ProjectId, id: string): Promise<number | undefined> {
    return runVersion(this.store, projectId, id);
  }

  private async loadRuns(projectId: ProjectId, ids: readonly string[]): Promise<Run[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.store.db.executeQuery(selectRuns(this.store.dialect, projectId, ids));
    const byId = new Map(rows.map((r) => [r.id, toRun(r)]));
    return ids.map((id) => byId.get(id)).filter((r): r is Run => r !== undefined);
  }

  /** Changes a run's status, end time or name; moving to FINISHED/FAILED/KILLED is audited as run.terminate. */
  async updateRun(actor: Actor, projectId: ProjectId, id: string, input: UpdateRunInput): Promise<RunInfo> {
    if (input.status !== undefined && !isRunStatus(input.status)) throw badRequest(`Invalid run status ${JSON.stringify(input.status)}`, { field: 'status' });
    if (input.name !== undefined) validateValue('run name', input.name, LIMITS.runNameLength);
    return this.store.transaction(async (tx) => {
      const before = await this.activeRunRow(tx, projectId, id);
      const status = input.status ?? (before.status as RunStatus);
      const terminal = TERMINAL_STATUSES.has(status);
      const endTime = input.endTime ?? (terminal && before.end_time === null ? this.clock.now() : before.end_time);
      const name = input.name !== undefined && input.name !== '' ? input.name : before.name;
      await tx.updateTable('runs').set({ status, end_time: endTime, name }).where('id', '=', id).execute();
      if (name !== before.name) await executeAll(tx, upsertTags(this.store.dialect, id, before.experiment_id, [{ key: SYSTEM_TAGS.runName, value: name }]));
      const action = terminal && !TERMINAL_STATUSES.has(before.status as RunStatus) ? 'run.terminate' : 'run.update';
      await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action,
        resource: `run/${id}`,
        project: projectId,
        before: { status: before.status, endTime: before.end_time, name: before.name },
        after: { status, endTime, name },
        details: { status, ...(endTime === null ? {} : { endTime: Number(endTime) }) },
      });
      return rowToInfo({ ...before, status, end_time: endTime, name });
    });
  }

  async deleteRun(actor: Actor, projectId: ProjectId, id: string): Promise<void> {
    await this.setRunLifecycle(actor, projectId, id, 'deleted');
  }

  async restoreRun(actor: Actor, projectId: ProjectId, id: string): Promise<void> {
    await this.setRunLifecycle(actor, projectId, id, 'active');
  }

  private async setRunLifecycle(actor: Actor, projectId: ProjectId, id: string, stage: LifecycleStage): Promise<void> {
    await this.store.transaction(async (tx) => {
      const row = await claimRun(tx, this.store.dialect, projectId, id, 'row');
      if (row.lifecycle_stage === stage) return;
      if (stage === 'active') {
        const exp = await this.experimentRow(tx, projectId, row.experiment_id);
        if (exp.lifecycle_stage !== 'active') throw badRequest(`Cannot restore run ${id}: its experiment ${row.experiment_id} is deleted; restore the experiment first`, { run: id });
      }
      await tx.updateTable('runs').set({ lifecycle_stage: stage, deleted_time: stage === 'deleted' ? this.clock.now() : null }).where('id', '=', id).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: stage === 'deleted' ? 'run.delete' : 'run.restore', resource: `run/${id}`, project: projectId, details: { experimentId: row.experiment_id } });
    });
  }

  /** The run's row, claimed for a change that only an active run takes (its version bumped and, on PostgreSQL, its row locked: claimRun). */
  private activeRunRow(tx: Tx, projectId: ProjectId, id: string) {
    return claimActiveRun(tx, this.store.dialect, projectId, id, 'row');
  }

  /**
   * Logs metrics, params and tags of a run in one transaction, all or nothing. Idempotent under
   * replay (MLflow clients retry): identical metric points are stored once, a param may be logged
   * again with the same value, and tags are last-write-wins. A param logged with a different value
   * fails the whole batch.
   */
  async logBatch(projectId: ProjectId, runId: string, input: LogBatchInput): Promise<void> {
    const batch = validateBatch({ metrics: input.metrics ?? [], params: input.params ?? [], tags: input.tags ?? [] });
    const dialect = this.store.dialect;
    const latest = latestPerKey(batch.metrics);
    const staged = await this.store.transaction(async (tx) => {
      const run = await claimActiveRun(tx, dialect, projectId, runId, 'state');
      if (batch.params.length > 0) {
        const inserted = await executeAll(tx, insertParams(dialect, runId, run.experiment_id, batch.params));
        // Every param new (the common case): none can differ from a stored value, so nothing to read back.
        const stored =
          inserted === batch.params.length
            ? []
            : await tx.selectFrom('run_params').select(['key', 'value']).where('run_id', '=', runId).where('key', 'in', batch.params.map((p) => p.key)).execute();
        const want = new Map(batch.params.map((p) => [p.key, p.value]));
        for (const s of stored) {
          const v = want.get(s.key);
          if (v !== undefined && v !== s.value) {
            throw badRequest(
              `Changing param values is not allowed. Param with key='${s.key}' was already logged with value='${s.value}' for run ID='${runId}'. Attempted logging new value '${v}'.`,
              { field: 'params', key: s.key },
            );
          }
        }
      }
      let waiting = 0;
      if (batch.metrics.length > 0) {
        waiting = await this.history.write(tx, runId, batch.metrics);
        await executeAll(tx, upsertLatestMetrics(tx, dialect, runId, run.experiment_id, latest));
      }
      if (batch.tags.length > 0) {
        const tags = dedupeTags(batch.tags);
        await executeAll(tx, upsertTags(dialect, runId, run.experiment_id, tags));
        const name = tags.find((t) => t.key === SYSTEM_TAGS.runName);
        if (name !== undefined) await tx.updateTable('runs').set({ name: name.value }).where('id', '=', runId).execute();
      }
      if (input.also !== undefined) await input.also(tx);
      return waiting;
    });
    this.history.staged(runId, staged);
  }

  /** Deletes a run tag (404 when the run has no such tag). */
  async deleteTag(projectId: ProjectId, runId: string, key: string): Promise<void> {
    validateKey('tag', key);
    await this.store.transaction(async (tx) => {
      await this.activeRunRow(tx, projectId, runId);
      const r = await tx.deleteFrom('run_tags').where('run_id', '=', runId).where('key', '=', key).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new StrataError('not_found', `No tag with name: ${key} in run with id ${runId}`, { details: { key } });
    });
  }

  /**
   * Records dataset inputs (deduplicated per experiment by name and digest) with their input tags.
   * `also` writes more in the same transaction, once the run is known to be active (MLflow 3.x
   * LogInputs `models`: the logged models the run took as inputs).
   */
  async logInputs(projectId: ProjectId, runId: string, inputs: readonly DatasetInput[], also?: (tx: Tx) => Promise<void>): Promise<void> {
    for (const i of inputs) validateDatasetInput(i);
    await this.store.transaction(async (tx) => {
      const run = await this.activeRunRow(tx, projectId, runId);
      if (also !== undefined) await also(tx);
      for (const input of inputs) {
        const d = input.dataset;
        await tx
          .insertInto('datasets')
          .values({ id: this.ids.datasetId(), experiment_id: run.experiment_id, name: d.name, digest: d.digest, source_type: d.sourceType, source: d.source, schema: d.schema, profile: d.profile, created_time: this.clock.now() })
          .onConflict((oc) => oc.columns(['experiment_id', 'name', 'digest']).doNothing())
          .execute();
        const ds = await tx.selectFrom('datasets').select('id').where('experiment_id', '=', run.experiment_id).where('name', '=', d.name).where('digest', '=', d.digest).executeTakeFirstOrThrow();
        await tx.insertInto('run_inputs').values({ run_id: runId, dataset_id: ds.id }).onConflict((oc) => oc.columns(['run_id', 'dataset_id']).doNothing()).execute();
        for (const t of dedupeTags(input.tags)) {
          await tx
            .insertInto('run_input_tags')
            .values({ run_id: runId, dataset_id: ds.id, key: t.key, value: t.value })
            .onConflict((oc) => oc.columns(['run_id', 'dataset_id', 'key']).doUpdateSet({ value: t.value }))
            .execute();
        }
      }
    });
  }

  /** Appends a logged model's MLmodel (as JSON) to the run's `mlflow.log-model.history` tag. */
  async logModel(projectId: ProjectId, runId: string, modelJson: string): Promise<void> {
    let model: unknown;
    try {
      model = JSON.parse(modelJson);
    } catch {
      throw badRequest("'model_json' is not valid JSON: send the MLmodel file as a JSON object", { field: 'model_json' });
    }
    if (typeof model !== 'object' || model === null || Array.isArray(model)) throw badRequest("'model_json' must be a JSON object", { field: 'model_json' });
    if (modelJson.length > LIMITS.batchBytes) throw badRequest(`'model_json' is larger than ${LIMITS.batchBytes} bytes`, { field: 'model_json' });
    await this.store.transaction(async (tx) => {
      const run = await this.activeRunRow(tx, projectId, runId);
      const prev = await tx.selectFrom('run_tags').select('value').where('run_id', '=', runId).where('key', '=', SYSTEM_TAGS.loggedModels).executeTakeFirst();
      let history: unknown[] = [];
      if (prev !== undefined) {
        try {
          const p = JSON.parse(prev.value) as unknown;
          if (Array.isArray(p)) history = p;
        } catch {
          history = [];
        }
      }
      history.push(model);
      await executeAll(tx, upsertTags(this.store.dialect, runId, run.experiment_id, [{ key: SYSTEM_TAGS.loggedModels, value: JSON.stringify(history) }]));
    });
  }

  /** Runs of the given experiments (all in this project) matching an MLflow filter, one page at a time. */
  async searchRuns(projectId: ProjectId, input: SearchRunsInput): Promise<Page<Run>> {
    const clauses = parsed(parseRunFilter(input.filter ?? ''), 'filter');
    const order = parsed(parseRunOrderBy(input.orderBy ?? []), 'order_by');
    const offset = parsed(decodePageToken(input.pageToken), 'page token');
    const limit = pageSize(input.maxResults, LIMITS.searchRunsDefault, LIMITS.searchRunsMax);
    const experimentIds = [...new Set(input.experimentIds)];
    if (experimentIds.length === 0) throw badRequest("Missing value for required parameter 'experiment_ids'. Give at least one experiment id.", { field: 'experiment_ids' });
    const found = await this.store.db.selectFrom('experiments').select('id').where('project_id', '=', projectId).where('id', 'in', experimentIds).execute();
    if (found.length !== experimentIds.length) {
      const have = new Set(found.map((f) => f.id));
      throw noExperiment(experimentIds.find((e) => !have.has(e)) ?? '');
    }
    const q = compileRunSearch({ dialect: this.store.dialect, experimentIds, stages: stagesOf(input.view ?? 'ACTIVE_ONLY'), clauses, order, offset, limit: limit + 1 });
    const ids = (await q.execute(this.store.db)).rows.map((r) => r.id);
    const items = await this.loadRuns(projectId, ids.slice(0, limit));
    return ids.length > limit ? { items, nextPageToken: encodePageToken(offset + limit) } : { items };
  }

  /** A metric's full history (step, then timestamp order), paged. Deleted runs keep theirs. */
  async metricHistory(projectId: ProjectId, runId: string, key: string, opts: { maxResults?: number; pageToken?: string } = {}): Promise<Page<Metric>> {
    const offset = parsed(decodePageToken(opts.pageToken), 'page token');
    const limit = pageSize(opts.maxResults, LIMITS.metricHistoryPage, LIMITS.metricHistoryPage);
    const scope = await this.runScope(runId);
    if (scope?.projectId !== projectId) throw noRun(runId);
    const page = await this.history.page(runId, key, offset, limit);
    const items = page.points.map((p) => ({ key, ...p }));
    return page.more ? { items, nextPageToken: encodePageToken(offset + limit) } : { items };
  }

  /**
   * Metric points of several runs at up to `maxResults` evenly spaced steps within [startStep,
   * endStep] each (always including the first and last step): server-side downsampling for charts.
   */
  async metricHistoryBulkInterval(projectId: ProjectId, runIds: readonly string[], key: string, opts: { startStep?: number; endStep?: number; maxResults?: number } = {}): Promise<RunMetric[]> {
    if (runIds.length === 0) throw badRequest("Missing value for required parameter 'run_ids'.", { field: 'run_ids' });
    if (runIds.length > LIMITS.bulkIntervalRuns) throw badRequest(`GetMetricHistoryBulkInterval request must specify at most ${LIMITS.bulkIntervalRuns} run_ids. Received ${runIds.length} run_ids.`, { field: 'run_ids' });
    const max = opts.maxResults ?? LIMITS.bulkIntervalDefault;
    if (!Number.isSafeInteger(max) || max < 1 || max > LIMITS.bulkIntervalMax) throw badRequest(`max_results must be between 1 and ${LIMITS.bulkIntervalMax}`, { field: 'max_results' });
    const start = opts.startStep ?? Number.MIN_SAFE_INTEGER;
    const end = opts.endStep ?? Number.MAX_SAFE_INTEGER;
    if (start > end) throw badRequest(`end_step must be greater than start_step. Found start_step=${start} and end_step=${end}.`, { field: 'end_step' });
    const out: RunMetric[] = [];
    for (const runId of [...new Set(runIds)].sort()) {
      const scope = await this.runScope(runId);
      if (scope?.projectId !== projectId) throw noRun(runId);
      const points = await this.history.range(runId, key, start, end);
      const sampled = sampleSteps([...new Set(points.map((p) => p.step))], start, end, max);
      if (sampled.length === 0) continue;
      const keep = new Set(sampled);
      for (const p of points) if (keep.has(p.step)) out.push({ key, ...p, runId: runId as RunId });
    }
    return out;
  }
}

// ---- helpers ----------------------------------------------------------------------------------

function experimentExists(name: string, stage: string): StrataError {
  return stage === 'deleted'
    ? conflict(`Experiment '${name}' already exists in deleted state. Restore it, or choose another name.`, { experiment: name })
    : conflict(`Experiment(name=${name}) already exists.`, { experiment: name });
}

function pageSize(requested: number | undefined, dflt: number, max: number): number {
  if (requested === undefined || requested === 0) return dflt;
  if (!Number.isSafeInteger(requested) || requested < 0 || requested > max) throw badRequest(`Invalid value ${requested} for parameter 'max_results' supplied. It must be at most ${max}.`, { field: 'max_results' });
  return requested;
}

/** Last value per key wins; order of first appearance kept. */
function dedupeTags(tags: readonly Tag[]): Tag[] {
  const m = new Map<string, string>();
  for (const t of tags) m.set(t.key, t.value);
  return [...m].map(([key, value]) => ({ key, value }));
}

const sortByKey = <T extends { key: string }>(xs: readonly T[]): T[] => [...xs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

function rowToInfo(r: { id: string; experiment_id: string; project_id: string; name: string; user_id: string; status: string; start_time: number; end_time: number | null; lifecycle_stage: string; artifact_uri: string }): RunInfo {
  return {
    id: r.id as RunId,
    experimentId: r.experiment_id as ExperimentId,
    projectId: r.project_id as ProjectId,
    name: r.name,
    userId: r.user_id,
    status: r.status as RunStatus,
    startTime: Number(r.start_time),
    endTime: r.end_time === null ? null : Number(r.end_time),
    artifactUri: r.artifact_uri,
    lifecycleStage: r.lifecycle_stage as LifecycleStage,
  };
}

const pairs = (v: unknown): Tag[] => (jsonColumn(v) as [string, string][]).map(([key, value]) => ({ key, value }));

function toRun(r: RunDetailRow): Run {
  const metrics = (jsonColumn(r.metrics) as [string, unknown, number, number, number][]).map(([key, value, step, timestamp, isNan]) => ({
    key,
    value: Number(isNan) === 1 ? Number.NaN : jsonNumberValue(value),
    step: Number(step),
    timestamp: Number(timestamp),
  }));
  const inputs = (jsonColumn(r.inputs) as [string, string, string, string, string | null, string | null, unknown][]).map(([name, digest, sourceType, source, schema, profile, tags]) => ({
    dataset: { name, digest, sourceType, source, schema, profile } satisfies Dataset,
    tags: sortByKey(pairs(tags)),
  }));
  return {
    info: rowToInfo(r),
    data: { metrics: sortByKey(metrics), params: sortByKey(pairs(r.params)), tags: sortByKey(pairs(r.tags)) },
    inputs: inputs.sort((a, b) => (a.dataset.name + a.dataset.digest < b.dataset.name + b.dataset.digest ? -1 : 1)),
  };
}

function validateDatasetInput(i: DatasetInput): void {
  const d = i.dataset;
  const need = (field: string, v: unknown, max: number): void => {
    if (typeof v !== 'string' || v === '') throw badRequest(`Missing value for required parameter 'dataset.${field}'`, { field: `dataset.${field}` });
    if (v.length > max) throw badRequest(`Dataset ${field} '${v.slice(0, 40)}...' had length ${v.length}, which exceeded length limit of ${max}`, { field: `dataset.${field}` });
  };
  need('name', d.name, LIMITS.datasetNameLength);
  need('digest', d.digest, LIMITS.datasetDigestLength);
  need('source_type', d.sourceType, LIMITS.datasetSourceTypeLength);
  need('source', d.source, LIMITS.datasetSourceLength);
  if (d.schema !== null && d.schema.length > LIMITS.datasetSchemaLength) throw badRequest(`Dataset schema exceeds ${LIMITS.datasetSchemaLength} characters`, { field: 'dataset.schema' });
  if (d.profile !== null && d.profile.length > LIMITS.datasetProfileLength) throw badRequest(`Dataset profile exceeds ${LIMITS.datasetProfileLength} characters`, { field: 'dataset.profile' });
  for (const t of i.tags) {
    if (t.key === '' || t.key.length > LIMITS.inputTagKeyLength) throw badRequest(`Input tag key '${t.key.slice(0, 40)}' must be 1 to ${LIMITS.inputTagKeyLength} characters`, { field: 'tags.key' });
    if (t.value.length > LIMITS.inputTagValueLength) throw badRequest(`Input tag value for '${t.key}' had length ${t.value.length}, which exceeded length limit of ${LIMITS.inputTagValueLength}`, { field: 'tags.value' });
  }
}

const ADJECTIVES = ['able', 'bold', 'brave', 'bright', 'calm', 'clever', 'crisp', 'eager', 'fair', 'gentle', 'glad', 'grand', 'keen', 'kind', 'lucky', 'merry', 'neat', 'nimble', 'proud', 'quick', 'quiet', 'rare', 'sharp', 'shy', 'silent', 'smart', 'swift', 'tidy', 'vast', 'warm', 'wise', 'witty'];
const NOUNS = ['ant', 'bass', 'bear', 'bird', 'cat', 'crane', 'deer', 'dove', 'duck', 'eel', 'elk', 'fox', 'frog', 'goat', 'hare', 'hawk', 'horse', 'lark', 'lion', 'lynx', 'mole', 'moth', 'newt', 'owl', 'panda', 'ram', 'seal', 'shrew', 'snail', 'swan', 'toad', 'wolf'];

/** A readable default run name derived from the (random) run id, like MLflow's `bold-fox-123`. */
export function generatedRunName(id: string): string {
  // From the id's last 12 hex digits: random in run ids (whose first 12 are the creation time) and in model ids alike.
  const tail = id.slice(-12);
  const h = (from: number): number => Number.parseInt(tail.slice(from, from + 4), 16) || 0;
  return `${ADJECTIVES[h(0) % ADJECTIVES.length] as string}-${NOUNS[h(4) % NOUNS.length] as string}-${h(8) % 1000}`;
}
