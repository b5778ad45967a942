// MLflow 3.x logged models over the store: a model of an experiment (so of its project), created
// PENDING, finalized READY or UPLOAD_FAILED once its files are uploaded, soft-deleted like a run. It
// has its own params (write-once), tags (last write wins), the metric points runs log with its
// `model_id`, an artifact tree (logged-model-artifacts.ts) and the registry versions made from it.
// Runs name the models they produced (`runs/outputs`). Every read and write is scoped by project;
// a model of another project, or a deleted one, is a 404 exactly like a missing one. Create,
// finalize and delete are audited in the same transaction (a model's lifecycle, like a run's);
// params, tags, metrics and outputs are telemetry and are not.
import { randomBytes } from 'node:crypto';
import type { Actor, AuditLog } from '../access/index.ts';
import type { Brand, Clock, ProjectId } from '../kernel/index.ts';
import { StrataError, badRequest } from '../kernel/index.ts';
import type { PrecompiledQuery, Store, Tx } from '../store/index.ts';
import { precompile } from '../store/index.ts';
import type { ExperimentId, LifecycleStage, Metric, Param, RunId, Tag } from './model.ts';
import { LIMITS, RUN_ID_PATTERN } from './model.ts';
import type { Page } from './tracking-service.ts';
import { generatedRunName } from './tracking-service.ts';
import { decodePageToken, encodePageToken, loggedModelAttribute, parseLoggedModelFilter } from './search-filter.ts';
import type { ParseResult } from './search-filter.ts';
import { compileLoggedModelSearch } from './logged-model-sql.ts';
import type { DatasetRef, LoggedModelOrderTerm } from './logged-model-sql.ts';
import { validateBatch, validateKey, validateRunTag, validateValue } from './validation.ts';
import { claimActiveRun, noRun } from './run-sql.ts';

export type LoggedModelId = Brand<string, 'LoggedModelId'>;

/** MLflow's LoggedModelStatus (service.proto), by name as it travels on the wire. */
export const LOGGED_MODEL_STATUSES = ['LOGGED_MODEL_STATUS_UNSPECIFIED', 'LOGGED_MODEL_PENDING', 'LOGGED_MODEL_READY', 'LOGGED_MODEL_UPLOAD_FAILED'] as const;
export type LoggedModelStatus = (typeof LOGGED_MODEL_STATUSES)[number];
/** The statuses a model may be finalized to. */
export const FINAL_LOGGED_MODEL_STATUSES = ['LOGGED_MODEL_READY', 'LOGGED_MODEL_UPLOAD_FAILED'] as const;
export type FinalLoggedModelStatus = (typeof FINAL_LOGGED_MODEL_STATUSES)[number];

/** Logged model ids as MLflow makes them: `m-` and 32 lower-case hex digits. */
export const LOGGED_MODEL_ID_PATTERN = '^m-[0-9a-f]{32}$';

/** Search page sizes: MLflow's default is 50; larger pages are allowed up to this. */
export const LOGGED_MODEL_LIMITS = { searchDefault: 50, searchMax: 1000, nameLength: 500, batchOutputs: 100 } as const;

/** A metric point as a logged model holds it: which run logged it, and on which dataset. */
export interface LoggedModelMetric extends Metric {
  readonly modelId: string;
  readonly runId: string;
  readonly datasetName: string | null;
  readonly datasetDigest: string | null;
}

/** A point a run logs with a `model_id` (log-metric / log-batch in MLflow 3.x). */
export interface ModelMetricInput extends Metric {
  readonly modelId: string;
  readonly datasetName: string | null;
  readonly datasetDigest: string | null;
}

/** A registry version made from a logged model. */
export interface LoggedModelRegistration {
  readonly name: string;
  readonly version: number;
}

export interface LoggedModelInfo {
  readonly id: LoggedModelId;
  readonly experimentId: ExperimentId;
  readonly projectId: ProjectId;
  readonly name: string;
  readonly creationTimestampMs: number;
  readonly lastUpdatedTimestampMs: number;
  readonly artifactUri: string;
  readonly status: LoggedModelStatus;
  readonly statusMessage: string;
  /** '' when not given. */
  readonly modelType: string;
  readonly sourceRunId: string | null;
  readonly lifecycleStage: LifecycleStage;
  readonly tags: readonly Tag[];
  readonly registrations: readonly LoggedModelRegistration[];
}

export interface LoggedModel {
  readonly info: LoggedModelInfo;
  readonly data: { readonly params: readonly Param[]; readonly metrics: readonly LoggedModelMetric[] };
}

/** A logged model a run produced, at a step (MLflow 3.x `RunOutputs.model_outputs`). */
export interface ModelOutput {
  readonly modelId: string;
  readonly step: number;
}

/** The logged models a run produced and took as inputs (MLflow 3.x `Run.outputs.model_outputs`, `Run.inputs.model_inputs`). */
export interface RunModels {
  readonly outputs: readonly ModelOutput[];
  /** Model ids, in id order. */
  readonly inputs: readonly string[];
}

/** Where a logged model lives: what the authorisation gate needs, and the run that made it. */
export interface LoggedModelScope {
  readonly projectId: ProjectId;
  readonly experimentId: ExperimentId;
  readonly sourceRunId: string | null;
}

export interface CreateLoggedModelInput {
  readonly experimentId: string;
  readonly name?: string;
  readonly modelType?: string;
  readonly sourceRunId?: string;
  readonly params?: readonly Param[];
  readonly tags?: readonly Tag[];
}

export interface SearchLoggedModelsInput {
  readonly experimentIds: readonly string[];
  readonly filter?: string;
  readonly datasets?: readonly DatasetRef[];
  /** MLflow's OrderBy messages; a plain "field [ASC|DESC]" string is accepted too. */
  readonly orderBy?: readonly (LoggedModelOrderBy | string)[];
  readonly maxResults?: number;
  readonly pageToken?: string;
}

/** SearchLoggedModels.OrderBy. */
export interface LoggedModelOrderBy {
  readonly fieldName: string;
  readonly ascending?: boolean;
  readonly datasetName?: string;
  readonly datasetDigest?: string;
}

/** Where new logged-model ids come from (injected so tests can be deterministic). */
export interface LoggedModelIds {
  modelId(): string;
}

export const randomLoggedModelIds: LoggedModelIds = { modelId: () => `m-${randomBytes(16).toString('hex')}` };

/** A logged model's artifact root, served by the MLflow artifact proxy. */
export const loggedModelArtifactUriOf = (experimentId: string, modelId: string): string => `mlflow-artifacts:/${experimentId}/models/${modelId}/artifacts`;

const actorId = (a: Actor): string => a.principal?.id ?? 'system';
const SCOPE_CACHE_MAX = 100_000;
const ID_RE = new RegExp(LOGGED_MODEL_ID_PATTERN);
const RUN_ID_RE = new RegExp(RUN_ID_PATTERN);
/** Characters MLflow refuses in a logged model's name (mlflow/utils/validation.py). */
const BAD_NAME_CHARS = ['/', ':', '.', '%', '"', "'"] as const;

/** 404 with MLflow's wording. */
export const noLoggedModel = (id: string): StrataError => new StrataError('not_found', `Logged model with ID '${id}' not found.`, { details: { model: id } });
const parsed = <T>(r: ParseResult<T>, what: string): T => {
  if (r.ok) return r.value;
  throw badRequest(`Invalid ${what}: ${r.error.message} (at character ${r.error.position})`, { position: r.error.position });
};

function validateName(name: string): string {
  if (name === '' || BAD_NAME_CHARS.some((c) => name.includes(c))) {
    throw badRequest(`Invalid model name (${JSON.stringify(name.slice(0, 100))}) provided. Model name must be a non-empty string and cannot contain the following characters: ${BAD_NAME_CHARS.join(' ')}`, { field: 'name' });
  }
  return validateValue('model name', name, LOGGED_MODEL_LIMITS.nameLength);
}


/**
 * Registry versions made from logged models (`LoggedModel.registrations`). The registry depends on
 * tracking, not the other way round, so tracking asks through this port; the composition root
 * (api/platform.ts) passes the registry's implementation.
 */
export interface ModelRegistrations {
  /** The versions of the project made from these logged models, ordered by model name and version. */
  ofLoggedModels(projectId: ProjectId, loggedModelIds: readonly string[]): Promise<readonly { readonly loggedModelId: string; readonly name: string; readonly version: number }[]>;
}

/** No registry: no model has registrations. */
export const NO_REGISTRATIONS: ModelRegistrations = { ofLoggedModels: () => Promise.resolve([]) };
/** Last value per key wins; order of first appearance kept. */
function dedupeTags(tags: readonly Tag[]): Tag[] {
  const m = new Map<string, string>();
  for (const t of tags) m.set(t.key, t.value);
  return [...m].map(([key, value]) => ({ key, value }));
}

function checkedParams(params: readonly Param[]): Param[] {
  return [...validateBatch({ metrics: [], params, tags: [] }).params];
}

function checkedTags(tags: readonly Tag[]): Tag[] {
  if (tags.length > LIMITS.batchTags) throw badRequest(`A request can set at most ${LIMITS.batchTags} tags. Got ${tags.length}.`, { field: 'tags' });
  return dedupeTags(tags.map(validateRunTag));
}

const byKey = <T extends { key: string }>(a: T, b: T): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

function pageSize(requested: number | undefined): number {
  if (requested === undefined || requested === 0) return LOGGED_MODEL_LIMITS.searchDefault;
  if (!Number.isSafeInteger(requested) || requested < 0 || requested > LOGGED_MODEL_LIMITS.searchMax) {
    throw badRequest(`Invalid value ${requested} for parameter 'max_results' supplied. It must be at most ${LOGGED_MODEL_LIMITS.searchMax}.`, { field: 'max_results' });
  }
  return requested;
}

function orderTerm(o: LoggedModelOrderBy | string): LoggedModelOrderTerm {
  let spec: LoggedModelOrderBy;
  if (typeof o === 'string') {
    const m = /^\s*(.+?)(?:\s+(ASC|DESC))?\s*$/i.exec(o);
    spec = { fieldName: m?.[1] ?? '', ascending: (m?.[2] ?? 'ASC').toUpperCase() === 'ASC' };
  } else {
    spec = o;
  }
  const field = spec.fieldName.trim();
  if (field === '') throw badRequest('`field_name` in the `order_by` clause must be specified.', { field: 'order_by' });
  const ascending = spec.ascending ?? true;
  if (spec.datasetDigest !== undefined && spec.datasetName === undefined) throw badRequest('`dataset_digest` can only be specified if `dataset_name` is also specified.', { field: 'order_by' });
  const dot = field.indexOf('.');
  if (dot !== -1) {
    const entity = field.slice(0, dot);
    if (entity !== 'metrics' && entity !== 'metric') throw badRequest(`Invalid order by field name: ${entity}, only \`metrics.<name>\` is allowed.`, { field: 'order_by' });
    const key = field.slice(dot + 1).replace(/^`(.*)`$/, '$1');
    const dataset = spec.datasetName === undefined ? undefined : { name: spec.datasetName, ...(spec.datasetDigest === undefined ? {} : { digest: spec.datasetDigest }) };
    return { key: { kind: 'metric', key, ...(dataset === undefined ? {} : { dataset }) }, ascending };
  }
  if (spec.datasetName !== undefined) throw badRequest(`'dataset_name' may only be given when ordering by a metric, not by ${field}`, { field: 'order_by' });
  const key = loggedModelAttribute(field);
  if (key === undefined) throw badRequest(`Invalid order by field name: ${field}. Use name, model_id, model_type, status, source_run_id, creation_timestamp, last_updated_timestamp or metrics.<key>.`, { field: 'order_by' });
  return { key: { kind: 'attribute', key }, ascending };
}

interface ModelRow {
  id: string;
  experiment_id: string;
  project_id: string;
  name: string;
  artifact_location: string;
  creation_timestamp_ms: number | string;
  last_updated_timestamp_ms: number | string;
  status: string;
  status_message: string;
  model_type: string;
  source_run_id: string | null;
  lifecycle_stage: string;
}

function boundedSet<K, V>(m: Map<K, V>, k: K, v: V): void {
  if (m.size >= SCOPE_CACHE_MAX) m.clear();
  m.set(k, v);
}

export class LoggedModels {
  /** Logged models never move between projects or experiments, so where one lives can be remembered. */
  private readonly scopes = new Map<string, LoggedModelScope>();

  /** The outputs and inputs of one run in one round trip (runs/get asks this on every call; built and compiled once): input rows carry step null. */
  private readonly modelsOfRun: PrecompiledQuery<'run_id' | 'project_id' | 'run_id_in' | 'project_id_in', { run_id: string; model_id: string; step: number | string | null }>;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly registrations: ModelRegistrations = NO_REGISTRATIONS,
    private readonly ids: LoggedModelIds = randomLoggedModelIds,
  ) {
    this.modelsOfRun = precompile(store.db, ['run_id', 'project_id', 'run_id_in', 'project_id_in'] as const, (db, p) =>
      db
        .selectFrom('run_model_outputs as o')
        .innerJoin('logged_models as m', 'm.id', 'o.model_id')
        .select(['o.run_id', 'o.model_id', (eb) => eb.cast<number | string | null>('o.step', 'bigint').as('step')])
        .where('o.run_id', '=', p.run_id)
        .where('m.project_id', '=', p.project_id)
        .unionAll(
          db
            .selectFrom('run_model_inputs as i')
            .innerJoin('logged_models as m', 'm.id', 'i.model_id')
            .select(['i.run_id', 'i.model_id', (eb) => eb.cast<number | string | null>(eb.val(null), 'bigint').as('step')])
            .where('i.run_id', '=', p.run_id_in)
            .where('m.project_id', '=', p.project_id_in),
        ),
    );
  }

  /** Where a logged model lives (deleted ones included), or undefined when there is no such model. */
  async scope(id: string): Promise<LoggedModelScope | undefined> {
    const hit = this.scopes.get(id);
    if (hit !== undefined) return hit;
    const row = await this.store.db.selectFrom('logged_models').select(['project_id', 'experiment_id', 'source_run_id']).where('id', '=', id).executeTakeFirst();
    if (row === undefined) return undefined;
    const scope: LoggedModelScope = { projectId: row.project_id as ProjectId, experimentId: row.experiment_id as ExperimentId, sourceRunId: row.source_run_id };
    boundedSet(this.scopes, id, scope);
    return scope;
  }

  /** Creates a PENDING logged model in an active experiment of the project; audited. */
  async create(actor: Actor, projectId: ProjectId, input: CreateLoggedModelInput): Promise<LoggedModel> {
    const params = checkedParams(input.params ?? []);
    const tags = checkedTags(input.tags ?? []);
    const id = this.ids.modelId();
    const name = input.name === undefined || input.name === '' ? generatedRunName(id.replace(/^m-/, '')) : validateName(input.name);
    const modelType = validateValue('model_type', input.modelType ?? '', LOGGED_MODEL_LIMITS.nameLength);
    const sourceRunId = input.sourceRunId === undefined || input.sourceRunId === '' ? null : input.sourceRunId;
    if (sourceRunId !== null && !RUN_ID_RE.test(sourceRunId)) throw badRequest(`Invalid run ID: '${sourceRunId.slice(0, 100)}'`, { field: 'source_run_id' });
    await this.store.transaction(async (tx) => {
      const exp = await tx.selectFrom('experiments').select(['id', 'lifecycle_stage']).where('id', '=', input.experimentId).where('project_id', '=', projectId).executeTakeFirst();
      if (exp === undefined) throw new StrataError('not_found', `No Experiment with id=${input.experimentId} exists`, { details: { experiment: input.experimentId } });
      if (exp.lifecycle_stage !== 'active') throw badRequest(`The experiment ${exp.id} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`, { experiment: exp.id });
      if (sourceRunId !== null) {
        const run = await tx.selectFrom('runs').select('id').where('id', '=', sourceRunId).where('project_id', '=', projectId).executeTakeFirst();
        if (run === undefined) throw noRun(sourceRunId);
      }
      const now = this.clock.now();
      await tx
        .insertInto('logged_models')
        .values({
          id,
          experiment_id: exp.id,
          project_id: projectId,
          name,
          artifact_location: loggedModelArtifactUriOf(exp.id, id),
          creation_timestamp_ms: now,
          last_updated_timestamp_ms: now,
          status: 'LOGGED_MODEL_PENDING',
          status_message: '',
          model_type: modelType,
          source_run_id: sourceRunId,
          lifecycle_stage: 'active',
          created_by: actorId(actor),
        })
        .execute();
      if (params.length > 0) await tx.insertInto('logged_model_params').values(params.map((p) => ({ model_id: id, experiment_id: exp.id, key: p.key, value: p.value }))).execute();
      if (tags.length > 0) await tx.insertInto('logged_model_tags').values(tags.map((t) => ({ model_id: id, experiment_id: exp.id, key: t.key, value: t.value }))).execute();
      await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action: 'logged_model.create',
        resource: `logged_model/${id}`,
        project: projectId,
        details: { experimentId: exp.id, name, ...(sourceRunId === null ? {} : { sourceRunId }), ...(modelType === '' ? {} : { modelType }) },
      });
      boundedSet(this.scopes, id, { projectId, experimentId: exp.id as ExperimentId, sourceRunId });
    });
    return this.get(projectId, id);
  }

  /** A logged model of the project; deleted ones only when `allowDeleted`. */
  async get(projectId: ProjectId, id: string, opts: { readonly allowDeleted?: boolean } = {}): Promise<LoggedModel> {
    const [model] = await this.load(projectId, [id]);
    if (model === undefined || (model.info.lifecycleStage !== 'active' && opts.allowDeleted !== true)) throw noLoggedModel(id);
    return model;
  }

  /** Sets the status of a model once its files are uploaded (READY) or failed to (UPLOAD_FAILED); audited when it changes. */
  async finalize(actor: Actor, projectId: ProjectId, id: string, status: FinalLoggedModelStatus): Promise<LoggedModel> {
    if (!(FINAL_LOGGED_MODEL_STATUSES as readonly string[]).includes(status)) throw badRequest(`Invalid status ${JSON.stringify(status)}: finalize a logged model with LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED`, { field: 'status' });
    await this.store.transaction(async (tx) => {
      const before = await this.activeRow(tx, projectId, id);
      if (before.status === status) return;
      await tx.updateTable('logged_models').set({ status, last_updated_timestamp_ms: this.clock.now() }).where('id', '=', id).execute();
      await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action: 'logged_model.finalize',
        resource: `logged_model/${id}`,
        project: projectId,
        before: { status: before.status },
        after: { status },
        details: { experimentId: before.experiment_id, status },
      });
    });
    return this.get(projectId, id);
  }

  /** Soft-deletes a model (it disappears from get and search; a second delete changes nothing); audited. */
  async delete(actor: Actor, projectId: ProjectId, id: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const row = await this.row(tx, projectId, id);
      if (row.lifecycle_stage === 'deleted') return;
      await tx.updateTable('logged_models').set({ lifecycle_stage: 'deleted', last_updated_timestamp_ms: this.clock.now() }).where('id', '=', id).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'logged_model.delete', resource: `logged_model/${id}`, project: projectId, details: { experimentId: row.experiment_id, name: row.name } });
    });
  }

  /** Sets tags (last write wins). */
  async setTags(projectId: ProjectId, id: string, tags: readonly Tag[]): Promise<void> {
    const checked = checkedTags(tags);
    await this.store.transaction(async (tx) => {
      const row = await this.activeRow(tx, projectId, id);
      for (const t of checked) {
        await tx
          .insertInto('logged_model_tags')
          .values({ model_id: id, experiment_id: row.experiment_id, key: t.key, value: t.value })
          .onConflict((oc) => oc.columns(['model_id', 'key']).doUpdateSet({ value: t.value }))
          .execute();
      }
    });
  }

  /** Deletes a tag (404 when the model has no such tag). */
  async deleteTag(projectId: ProjectId, id: string, key: string): Promise<void> {
    validateKey('tag', key);
    await this.store.transaction(async (tx) => {
      await this.activeRow(tx, projectId, id);
      const r = await tx.deleteFrom('logged_model_tags').where('model_id', '=', id).where('key', '=', key).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new StrataError('not_found', `No tag with key '${key}' found for model with ID '${id}'.`, { details: { key } });
    });
  }

  /** Logs params: write-once (the same value again is fine, a different one fails the whole call). */
  async logParams(projectId: ProjectId, id: string, params: readonly Param[]): Promise<void> {
    const checked = checkedParams(params);
    if (checked.length === 0) return;
    await this.store.transaction(async (tx) => {
      const row = await this.activeRow(tx, projectId, id);
      await tx
        .insertInto('logged_model_params')
        .values(checked.map((p) => ({ model_id: id, experiment_id: row.experiment_id, key: p.key, value: p.value })))
        .onConflict((oc) => oc.columns(['model_id', 'key']).doNothing())
        .execute();
      const stored = await tx.selectFrom('logged_model_params').select(['key', 'value']).where('model_id', '=', id).where('key', 'in', checked.map((p) => p.key)).execute();
      const want = new Map(checked.map((p) => [p.key, p.value]));
      for (const s of stored) {
        const v = want.get(s.key);
        if (v !== undefined && v !== s.value) {
          throw badRequest(`Changing param values is not allowed. Param with key='${s.key}' was already logged with value='${s.value}' for model ID='${id}'. Attempted logging new value '${v}'.`, { field: 'params', key: s.key });
        }
      }
    });
  }

  /**
   * Records metric points a run logged with a `model_id`, inside the run's log-batch transaction
   * (TrackingService.logBatch `also`): each named model must be an active model of the project.
   * Replays insert nothing twice.
   */
  async logMetricsIn(tx: Tx, projectId: ProjectId, runId: string, points: readonly ModelMetricInput[]): Promise<void> {
    if (points.length === 0) return;
    const experiments = new Map<string, string>();
    for (const modelId of new Set(points.map((p) => p.modelId))) experiments.set(modelId, (await this.activeRow(tx, projectId, modelId)).experiment_id);
    for (const p of points) {
      if (p.datasetName !== null) validateValue('dataset_name', p.datasetName, LIMITS.datasetNameLength);
      if (p.datasetDigest !== null) validateValue('dataset_digest', p.datasetDigest, LIMITS.datasetDigestLength);
    }
    await tx
      .insertInto('logged_model_metrics')
      .values(
        points.map((p) => {
          const nan = Number.isNaN(p.value);
          return {
            model_id: p.modelId,
            key: p.key,
            timestamp: p.timestamp,
            step: p.step,
            value: nan ? 0 : p.value,
            is_nan: nan ? 1 : 0,
            run_id: runId,
            dataset_name: p.datasetName ?? '',
            dataset_digest: p.datasetDigest ?? '',
            experiment_id: experiments.get(p.modelId) ?? '',
          };
        }),
      )
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Records the models a run produced (MLflow's LogOutputs); the run must be active, the models active models of the project. */
  async logOutputs(projectId: ProjectId, runId: string, outputs: readonly ModelOutput[]): Promise<void> {
    if (outputs.length > LOGGED_MODEL_LIMITS.batchOutputs) throw badRequest(`A request can log at most ${LOGGED_MODEL_LIMITS.batchOutputs} model outputs. Got ${outputs.length}.`, { field: 'models' });
    for (const o of outputs) {
      if (!Number.isSafeInteger(o.step)) throw badRequest(`Invalid value ${JSON.stringify(o.step)} for parameter 'step': expected an integer`, { field: 'models.step' });
    }
    await this.store.transaction(async (tx) => {
      await claimActiveRun(tx, this.store.dialect, projectId, runId, 'state');
      for (const o of outputs) {
        await this.activeRow(tx, projectId, o.modelId);
        await tx
          .insertInto('run_model_outputs')
          .values({ run_id: runId, model_id: o.modelId, step: o.step })
          .onConflict((oc) => oc.columns(['run_id', 'model_id']).doUpdateSet({ step: o.step }))
          .execute();
      }
    });
  }

  /**
   * Records logged models a run took as inputs (MLflow 3.x LogInputs `models`), in the caller's
   * transaction (the run's own checks ran in it): each must be an active model of the project;
   * logging one twice is a no-op.
   */
  async logInputsIn(tx: Tx, projectId: ProjectId, runId: string, modelIds: readonly string[]): Promise<void> {
    if (modelIds.length > LOGGED_MODEL_LIMITS.batchOutputs) throw badRequest(`A request can log at most ${LOGGED_MODEL_LIMITS.batchOutputs} model inputs. Got ${modelIds.length}.`, { field: 'models' });
    for (const id of new Set(modelIds)) {
      await this.activeRow(tx, projectId, id);
      await tx.insertInto('run_model_inputs').values({ run_id: runId, model_id: id }).onConflict((oc) => oc.columns(['run_id', 'model_id']).doNothing()).execute();
    }
  }

  /** The model outputs and inputs of runs of the project, by run id (each in model id order). */
  async runModels(projectId: ProjectId, runIds: readonly string[]): Promise<ReadonlyMap<string, RunModels>> {
    const out = new Map<string, { outputs: ModelOutput[]; inputs: string[] }>();
    if (runIds.length === 0) return out;
    const [only] = runIds;
    const rows =
      runIds.length === 1
        ? (await this.modelsOfRun(this.store.db, { run_id: only, project_id: projectId, run_id_in: only, project_id_in: projectId })).rows
        : [
            ...(await this.store.db
              .selectFrom('run_model_outputs as o')
              .innerJoin('logged_models as m', 'm.id', 'o.model_id')
              .select(['o.run_id', 'o.model_id', 'o.step'])
              .where('o.run_id', 'in', [...runIds])
              .where('m.project_id', '=', projectId)
              .execute()),
            ...(
              await this.store.db
                .selectFrom('run_model_inputs as i')
                .innerJoin('logged_models as m', 'm.id', 'i.model_id')
                .select(['i.run_id', 'i.model_id'])
                .where('i.run_id', 'in', [...runIds])
                .where('m.project_id', '=', projectId)
                .execute()
            ).map((r) => ({ ...r, step: null })),
          ];
    for (const r of rows) {
      let entry = out.get(r.run_id);
      if (entry === undefined) {
        entry = { outputs: [], inputs: [] };
        out.set(r.run_id, entry);
      }
      if (r.step === null) entry.inputs.push(r.model_id);
      else entry.outputs.push({ modelId: r.model_id, step: Number(r.step) });
    }
    for (const e of out.values()) {
      e.outputs.sort((a, b) => (a.modelId < b.modelId ? -1 : a.modelId > b.modelId ? 1 : 0));
      e.inputs.sort();
    }
    return out;
  }

  /** Active logged models of the given experiments (all of this project) matching a filter, one page at a time. */
  async search(projectId: ProjectId, input: SearchLoggedModelsInput): Promise<Page<LoggedModel>> {
    const clauses = parsed(parseLoggedModelFilter(input.filter ?? ''), 'filter');
    const order = (input.orderBy ?? []).map(orderTerm);
    const offset = parsed(decodePageToken(input.pageToken), 'page token');
    const limit = pageSize(input.maxResults);
    const datasets = input.datasets ?? [];
    for (const d of datasets) if (d.name === '') throw badRequest('`dataset_name` in the `datasets` clause must be specified.', { field: 'datasets' });
    const experimentIds = [...new Set(input.experimentIds)];
    if (experimentIds.length === 0) throw badRequest("Missing value for required parameter 'experiment_ids'. Give at least one experiment id.", { field: 'experiment_ids' });
    const found = await this.store.db.selectFrom('experiments').select('id').where('project_id', '=', projectId).where('id', 'in', experimentIds).execute();
    if (found.length !== experimentIds.length) {
      const have = new Set(found.map((f) => f.id));
      const missing = experimentIds.find((e) => !have.has(e)) ?? '';
      throw new StrataError('not_found', `No Experiment with id=${missing} exists`, { details: { experiment: missing } });
    }
    const q = compileLoggedModelSearch({ dialect: this.store.dialect, projectId, experimentIds, clauses, datasets, order, offset, limit: limit + 1 });
    const ids = (await q.execute(this.store.db)).rows.map((r) => r.id);
    const items = await this.load(projectId, ids.slice(0, limit));
    return ids.length > limit ? { items, nextPageToken: encodePageToken(offset + limit) } : { items };
  }

  // ---- internals ------------------------------------------------------------------------------

  private async row(db: Tx | Store['db'], projectId: ProjectId, id: string): Promise<ModelRow> {
    if (!ID_RE.test(id)) throw noLoggedModel(id);
    const row = await db.selectFrom('logged_models').selectAll().where('id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
    if (row === undefined) throw noLoggedModel(id);
    return row;
  }

  /** The row of an active model; a deleted one is a 404, as MLflow's store has it. */
  private async activeRow(db: Tx | Store['db'], projectId: ProjectId, id: string): Promise<ModelRow> {
    const row = await this.row(db, projectId, id);
    if (row.lifecycle_stage !== 'active') throw noLoggedModel(id);
    return row;
  }

  /** Whole models (info, tags, registrations, params, metric points) of one project, by id, in the order given. */
  private async load(projectId: ProjectId, ids: readonly string[]): Promise<LoggedModel[]> {
    const wanted = ids.filter((id) => ID_RE.test(id));
    if (wanted.length === 0) return [];
    const db = this.store.db;
    const rows = await db.selectFrom('logged_models').selectAll().where('project_id', '=', projectId).where('id', 'in', wanted).execute();
    if (rows.length === 0) return [];
    const have = rows.map((r) => r.id);
    const [params, tags, metrics, registrations] = await Promise.all([
      db.selectFrom('logged_model_params').select(['model_id', 'key', 'value']).where('model_id', 'in', have).orderBy('model_id').orderBy('key').execute(),
      db.selectFrom('logged_model_tags').select(['model_id', 'key', 'value']).where('model_id', 'in', have).orderBy('model_id').orderBy('key').execute(),
      db
        .selectFrom('logged_model_metrics')
        .select(['model_id', 'key', 'value', 'is_nan', 'step', 'timestamp', 'run_id', 'dataset_name', 'dataset_digest'])
        .where('model_id', 'in', have)
        .orderBy('model_id')
        .orderBy('key')
        .orderBy('step')
        .orderBy('timestamp')
        .execute(),
      this.registrations.ofLoggedModels(projectId, have),
    ]);
    const group = <T extends { model_id: string }>(xs: readonly T[]): Map<string, T[]> => {
      const m = new Map<string, T[]>();
      for (const x of xs) m.set(x.model_id, [...(m.get(x.model_id) ?? []), x]);
      return m;
    };
    const paramsBy = group(params);
    const tagsBy = group(tags);
    const metricsBy = group(metrics);
    const regsBy = group(registrations.map((r) => ({ model_id: r.loggedModelId, name: r.name, version: r.version })));
    const byId = new Map<string, LoggedModel>(
      rows.map((r) => [
        r.id,
        {
          info: {
            id: r.id as LoggedModelId,
            experimentId: r.experiment_id as ExperimentId,
            projectId: r.project_id as ProjectId,
            name: r.name,
            creationTimestampMs: Number(r.creation_timestamp_ms),
            lastUpdatedTimestampMs: Number(r.last_updated_timestamp_ms),
            artifactUri: r.artifact_location,
            status: r.status as LoggedModelStatus,
            statusMessage: r.status_message,
            modelType: r.model_type,
            sourceRunId: r.source_run_id,
            lifecycleStage: r.lifecycle_stage as LifecycleStage,
            tags: (tagsBy.get(r.id) ?? []).map((t) => ({ key: t.key, value: t.value })).sort(byKey),
            registrations: (regsBy.get(r.id) ?? []).map((g) => ({ name: g.name, version: g.version })),
          },
          data: {
            params: (paramsBy.get(r.id) ?? []).map((p) => ({ key: p.key, value: p.value })).sort(byKey),
            metrics: (metricsBy.get(r.id) ?? []).map((m) => ({
              key: m.key,
              value: Number(m.is_nan) === 1 ? Number.NaN : Number(m.value),
              step: Number(m.step),
              timestamp: Number(m.timestamp),
              modelId: r.id,
              runId: m.run_id as RunId,
              datasetName: m.dataset_name === '' ? null : m.dataset_name,
              datasetDigest: m.dataset_digest === '' ? null : m.dataset_digest,
            })),
          },
        },
      ]),
    );
    return ids.map((id) => byId.get(id)).filter((m): m is LoggedModel => m !== undefined);
  }
}
