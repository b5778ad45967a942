// The model registry over the store. Registered models belong to projects and every query is scoped
// by project id, so another project's model answers 404 exactly like a missing one. A version is
// created READY in one transaction with its pinned manifest (path → digest, size of files already in
// the project's blob store), its provenance record and the audit entry that carries that record —
// so a version exists if and only if its provenance is in the Merkle log. Changes to models,
// versions, tags, aliases, stages, cards and gates are audited in the same transaction; promotion
// gate decisions are audited whether allowed or refused.
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { sql } from 'kysely';
import type { Expression, SqlBool } from 'kysely';
import type { Actor, AuditLog } from '../access/index.ts';
import type { BlobStore } from '../blobs/index.ts';
import { normaliseArtifactPath, parseDigest } from '../blobs/index.ts';
import type { Clock, ProjectId } from '../kernel/index.ts';
import { StrataError, badRequest, forbidden } from '../kernel/index.ts';
import type { DialectName, Store, Tx } from '../store/index.ts';
import { isUniqueViolation } from '../store/index.ts';
import type { ModelRegistrations, Page, Run, TrackingService } from '../tracking/index.ts';
import { decodePageToken, encodePageToken } from '../tracking/index.ts';
import { evaluateGate, parseGatePolicy, parseModelCard } from './gates.ts';
import type { AliasRef, GateDecision, ManifestFile, MetricThreshold, ModelCard, ModelId, ModelVersion, PromotionGate, ProvenanceRecord, RegisteredModel, Signature, Stage, Tag, VersionStatus } from './model.ts';
import { REGISTRY_LIMITS, STAGES, parseAlias, parseModelName, validateDescription, validateTag } from './model.ts';
import type { ProvenanceBundle, ProvenanceVerdict } from './provenance.ts';
import { PROVENANCE_ACTION, jsonMetricValue, verifyProvenance } from './provenance.ts';
import type { RegistryClause, RegistryOrderTerm, StringOp } from './search-filter.ts';
import { parseModelFilter, parseRegistryOrderBy, parseVersionFilter } from './search-filter.ts';
import type { ModelSource } from './source.ts';
import { manifestDigest, parseModelSource, sortedManifest } from './source.ts';

/** The files a source names, paths relative to the source (a directory's contents, or one file by its name). */
export interface SourceFiles {
  readonly files: readonly ManifestFile[];
}

/**
 * The port through which the registry learns what a run-artifact source contains: given the
 * project and the checked source (`runs:/<run>/<path>` or `mlflow-artifacts:/<exp>/<run>/artifacts/<path>`,
 * with its parsed form), the files under it with their digests in the project's blob store, or
 * undefined when it names nothing. The run is already known to be in the project.
 */
export type ModelSourceResolver = (projectId: ProjectId, source: string, parsed: Extract<ModelSource, { kind: 'run' }>) => Promise<SourceFiles | undefined>;

export interface RegistryDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly tracking: TrackingService;
  /** The project's content-addressed blob store (where version files live). */
  readonly blobsFor: (projectId: string) => Promise<BlobStore>;
  readonly resolveSource: ModelSourceResolver;
  /** Model id generator (injected for deterministic tests). */
  readonly modelId?: () => string;
}

export interface CreateVersionInput {
  readonly name: string;
  readonly source: string;
  readonly runId?: string;
  readonly runLink?: string;
  readonly description?: string;
  readonly tags?: readonly Tag[];
  readonly signature?: Signature;
  readonly loggedModelId?: string;
}

export interface SearchInput {
  readonly filter?: string;
  readonly orderBy?: readonly string[];
  readonly maxResults?: number;
  readonly pageToken?: string;
}

/** Lineage of a version, upstream: its run, the run's datasets and code revision. */
export interface VersionLineage {
  readonly modelVersion: { readonly name: string; readonly version: number; readonly manifestDigest: string; readonly source: string };
  readonly run: RunLineageNode | null;
  readonly datasets: readonly DatasetNode[];
}

export interface RunLineageNode {
  readonly id: string;
  readonly name: string;
  readonly experimentId: string;
  readonly status: string;
  readonly codeRevision: string | null;
  readonly parentRunId: string | null;
}

export interface DatasetNode {
  readonly name: string;
  readonly digest: string;
  readonly sourceType: string;
  readonly source: string;
  readonly context: string | null;
}

export interface VersionNode {
  readonly name: string;
  readonly version: number;
  readonly runId: string | null;
  readonly manifestDigest: string;
  readonly aliases: readonly string[];
  readonly stage: Stage;
}

const LINEAGE_LIMIT = 1000;
const GIT_COMMIT_TAG = 'mlflow.source.git.commit';
const SOURCE_NAME_TAG = 'mlflow.source.name';
const PARENT_TAG = 'mlflow.parentRunId';
const LOG_MODEL_TAG = 'mlflow.log-model.history';

const actorId = (a: Actor): string => a.principal?.id ?? 'system';
const actorName = (a: Actor): string => a.principal?.name ?? 'system';

const noModel = (name: string): StrataError => new StrataError('not_found', `Registered Model with name=${name} not found`, { details: { model: name } });
const noVersion = (name: string, version: number): StrataError => new StrataError('not_found', `Model Version (name=${name}, version=${version}) not found`, { details: { model: name, version } });

type ModelRow = { id: string; project_id: string; name: string; description: string; next_version: number; creation_time: number; last_updated_time: number };
type VersionRow = {
  model_id: string;
  version: number;
  project_id: string;
  name: string;
  description: string;
  source: string;
  run_id: string | null;
  run_link: string;
  status: string;
  status_message: string;
  stage: string;
  creation_time: number;
  last_updated_time: number;
  user_id: string;
  manifest_digest: string;
  file_count: number;
  total_size: number;
  signature: string | null;
  logged_model_id: string | null;
};

function likeToGlob(pattern: string): string {
  let out = '';
  for (const c of pattern) {
    if (c === '%') out += '*';
    else if (c === '_') out += '?';
    else if (c === '*' || c === '?' || c === '[') out += `[${c}]`;
    else out += c;
  }
  return out;
}

/** A string comparison (LIKE case-sensitive, ILIKE not, on both databases), parameters bound. */
function stringCmp(dialect: DialectName, column: Expression<unknown>, op: StringOp, value: string): Expression<SqlBool> {
  switch (op) {
    case '=':
      return sql<SqlBool>`${column} = ${value}`;
    case '!=':
      return sql<SqlBool>`${column} <> ${value}`;
    case 'LIKE':
      return dialect === 'sqlite' ? sql<SqlBool>`${column} glob ${likeToGlob(value)}` : sql<SqlBool>`${column} like ${value} escape ''`;
    case 'ILIKE':
      return dialect === 'sqlite' ? sql<SqlBool>`${column} like ${value}` : sql<SqlBool>`${column} ilike ${value} escape ''`;
  }
}

function pageSize(requested: number | undefined, dflt: number, max: number): number {
  if (requested === undefined || requested === 0) return dflt;
  if (!Number.isSafeInteger(requested) || requested < 0 || requested > max) throw badRequest(`Invalid value ${requested} for parameter 'max_results' supplied. It must be at most ${max}.`, { field: 'max_results' });
  return requested;
}

const parsed = <T>(r: { ok: true; value: T } | { ok: false; error: { message: string; position: number } }, what: string): T => {
  if (r.ok) return r.value;
  throw badRequest(`Invalid ${what}: ${r.error.message} (at character ${r.error.position})`, { position: r.error.position });
};

function dedupeTags(tags: readonly Tag[]): Tag[] {
  const m = new Map<string, string>();
  for (const t of tags) m.set(validateTag(t).key, t.value);
  return [...m].map(([key, value]) => ({ key, value }));
}

const byKey = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export class RegistryService implements ModelRegistrations {
  private readonly store: Store;
  private readonly audit: AuditLog;
  private readonly clock: Clock;
  private readonly tracking: TrackingService;
  private readonly blobsFor: (projectId: string) => Promise<BlobStore>;
  private readonly resolveSource: ModelSourceResolver;
  private readonly newModelId: () => string;

  constructor(deps: RegistryDeps) {
    this.store = deps.store;
    this.audit = deps.audit;
    this.clock = deps.clock;
    this.tracking = deps.tracking;
    this.blobsFor = deps.blobsFor;
    this.resolveSource = deps.resolveSource;
    this.newModelId = deps.modelId ?? ((): string => `rm_${randomBytes(12).toString('hex')}`);
  }

  // ---- registered models ----------------------------------------------------------------------

  /** Creates a registered model (RESOURCE_ALREADY_EXISTS when the project has one of that name). */
  async createModel(actor: Actor, projectId: ProjectId, input: { name: string; description?: string; tags?: readonly Tag[] }): Promise<RegisteredModel> {
    const name = parseModelName(input.name);
    const description = validateDescription(input.description ?? '');
    const tags = dedupeTags(input.tags ?? []);
    const id = this.newModelId() as ModelId;
    const now = this.clock.now();
    try {
      await this.store.transaction(async (tx) => {
        const clash = await tx.selectFrom('registered_models').select('id').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
        if (clash !== undefined) throw modelExists(name);
        await tx.insertInto('registered_models').values({ id, project_id: projectId, name, description, next_version: 1, creation_time: now, last_updated_time: now, created_by: actorId(actor) }).execute();
        if (tags.length > 0) await tx.insertInto('registered_model_tags').values(tags.map((t) => ({ model_id: id, key: t.key, value: t.value }))).execute();
        await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.create', resource: `model/${id}`, project: projectId, after: { name, description, tags }, details: { name } });
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw modelExists(name);
      throw e;
    }
    return this.getModel(projectId, name);
  }

  async getModel(projectId: ProjectId, name: string): Promise<RegisteredModel> {
    const row = await this.modelRow(this.store.db, projectId, name);
    const [m] = await this.loadModels([row]);
    return m as RegisteredModel;
  }

  async renameModel(actor: Actor, projectId: ProjectId, name: string, newName: string): Promise<RegisteredModel> {
    const to = parseModelName(newName, 'new_name');
    try {
      await this.store.transaction(async (tx) => {
        const m = await this.modelRow(tx, projectId, name);
        if (m.name === to) return;
        const clash = await tx.selectFrom('registered_models').select('id').where('project_id', '=', projectId).where('name', '=', to).executeTakeFirst();
        if (clash !== undefined) throw modelExists(to);
        await tx.updateTable('registered_models').set({ name: to, last_updated_time: this.clock.now() }).where('id', '=', m.id).execute();
        await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.rename', resource: `model/${m.id}`, project: projectId, before: { name: m.name }, after: { name: to }, details: { from: m.name, to } });
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw modelExists(to);
      throw e;
    }
    return this.getModel(projectId, to);
  }

  async updateModel(actor: Actor, projectId: ProjectId, name: string, input: { description: string }): Promise<RegisteredModel> {
    const description = validateDescription(input.description);
    await this.store.transaction(async (tx) => {
      const m = await this.modelRow(tx, projectId, name);
      await tx.updateTable('registered_models').set({ description, last_updated_time: this.clock.now() }).where('id', '=', m.id).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.update', resource: `model/${m.id}`, project: projectId, before: { description: m.description }, after: { description }, details: { name } });
    });
    return this.getModel(projectId, name);
  }

  /** Deletes a model with all its versions, files, tags, aliases and cards (provenance stays in the audit log). */
  async deleteModel(actor: Actor, projectId: ProjectId, name: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const m = await this.modelRow(tx, projectId, name);
      const versions = await tx.selectFrom('model_versions').select('version').where('model_id', '=', m.id).execute();
      for (const t of ['model_cards', 'model_aliases', 'model_version_tags', 'model_version_files', 'model_versions', 'registered_model_tags'] as const) {
        await tx.deleteFrom(t).where('model_id', '=', m.id).execute();
      }
      await tx.deleteFrom('registered_models').where('id', '=', m.id).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.delete', resource: `model/${m.id}`, project: projectId, details: { name, versions: versions.map((v) => Number(v.version)) } });
    });
  }

  async setModelTag(actor: Actor, projectId: ProjectId, name: string, tag: Tag): Promise<void> {
    validateTag(tag);
    await this.store.transaction(async (tx) => {
      const m = await this.modelRow(tx, projectId, name);
      await tx.insertInto('registered_model_tags').values({ model_id: m.id, key: tag.key, value: tag.value }).onConflict((oc) => oc.columns(['model_id', 'key']).doUpdateSet({ value: tag.value })).execute();
      await tx.updateTable('registered_models').set({ last_updated_time: this.clock.now() }).where('id', '=', m.id).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.tag.set', resource: `model/${m.id}`, project: projectId, after: tag, details: { name, key: tag.key } });
    });
  }

  async deleteModelTag(actor: Actor, projectId: ProjectId, name: string, key: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const m = await this.modelRow(tx, projectId, name);
      const r = await tx.deleteFrom('registered_model_tags').where('model_id', '=', m.id).where('key', '=', key).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new StrataError('not_found', `No tag with key '${key}' on registered model ${name}`, { details: { key } });
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.tag.delete', resource: `model/${m.id}`, project: projectId, details: { name, key } });
    });
  }

  /** Registered models of a project matching an MLflow filter (`name`, `tags.<key>`), one page at a time. */
  async searchModels(projectId: ProjectId, input: SearchInput): Promise<Page<RegisteredModel>> {
    const clauses = parsed(parseModelFilter(input.filter ?? ''), 'filter');
    const order = parsed(parseRegistryOrderBy(input.orderBy ?? [], false), 'order_by');
    const offset = parsed(decodePageToken(input.pageToken), 'page token');
    const limit = pageSize(input.maxResults, REGISTRY_LIMITS.searchModelsDefault, REGISTRY_LIMITS.searchModelsMax);
    const d = this.store.dialect;
    let q = this.store.db.selectFrom('registered_models as m').select(['m.id', 'm.project_id', 'm.name', 'm.description', 'm.next_version', 'm.creation_time', 'm.last_updated_time']).where('m.project_id', '=', projectId);
    for (const c of clauses) q = q.where(this.clauseSql(d, c, 'm.id'));
    const terms: RegistryOrderTerm[] = order.length === 0 ? [{ key: 'name', ascending: true }] : [...order];
    for (const t of terms) q = q.orderBy(t.key === 'name' ? 'm.name' : t.key === 'creation_timestamp' ? 'm.creation_time' : 'm.last_updated_time', t.ascending ? 'asc' : 'desc');
    const rows = await q.orderBy('m.id').limit(limit + 1).offset(offset).execute();
    const items = await this.loadModels(rows.slice(0, limit));
    return rows.length > limit ? { items, nextPageToken: encodePageToken(offset + limit) } : { items };
  }

  // ---- versions ---------------------------------------------------------------------------------

  /**
   * Registers a version READY, pinned to the files its source names (already in the project's blob
   * store) and recorded in the audit log with its provenance. Any bad input is a 400 with nothing
   * written; a run or model of another project is a 404.
   */
  async createVersion(actor: Actor, projectId: ProjectId, input: CreateVersionInput): Promise<ModelVersion> {
    const name = parseModelName(input.name);
    const source = parseModelSource(input.source);
    const tags = dedupeTags(input.tags ?? []);
    const description = validateDescription(input.description ?? '');
    const runLink = input.runLink ?? '';
    // eslint-disable-next-line no-control-regex -- control characters are refused
    if (runLink.length > REGISTRY_LIMITS.runLinkLength || /[\u0000-\u001f]/.test(runLink)) throw badRequest(`'run_link' must be at most ${REGISTRY_LIMITS.runLinkLength} characters without control characters`, { field: 'run_link' });
    if (input.loggedModelId !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(input.loggedModelId)) throw badRequest("'model_id' must be 1–128 letters, digits, '_' or '-'", { field: 'model_id' });
    const signatureIn = input.signature === undefined ? undefined : checkSignature(input.signature);

    // Where the files come from, and the run the version descends from.
    let files: ManifestFile[];
    let runId: string | null = input.runId !== undefined && input.runId !== '' ? input.runId : null;
    if (source.kind === 'run') {
      if (runId !== null && runId !== source.runId) throw badRequest(`'run_id' ${runId} does not match the run of the source (${source.runId})`, { field: 'run_id' });
      runId = source.runId;
      const scope = await this.tracking.runScope(source.runId);
      if (scope?.projectId !== projectId) throw new StrataError('not_found', `Run with id=${source.runId} not found`, { details: { run: source.runId } });
      if (source.experimentId !== null && source.experimentId !== scope.experimentId) throw badRequest(`the source names experiment ${source.experimentId}, but run ${source.runId} is in experiment ${scope.experimentId}`, { field: 'source' });
      const found = await this.resolveSource(projectId, source.uri, source);
      if (found === undefined || found.files.length === 0) throw badRequest(`Invalid model version source '${source.uri}': no artifacts are stored there. Log the model to the run first (mlflow.log_model / log_artifacts), then register it.`, { field: 'source' });
      files = [...found.files];
    } else {
      const from = await this.versionRow(this.store.db, projectId, source.name, source.version);
      files = await this.manifestOf(from.model_id, source.version);
      if (runId === null) runId = from.run_id;
    }
    const manifest = await this.checkedManifest(projectId, files);
    const digest = manifestDigest(manifest);
    const run = runId === null ? null : await this.runOf(projectId, runId);
    const signature = signatureIn ?? (source.kind === 'run' && run !== null ? signatureFromRun(run, source.path) : null);
    const totalSize = manifest.reduce((s, f) => s + f.size, 0);

    const version = await this.store.transaction(async (tx) => {
      const m = await this.modelRow(tx, projectId, name);
      await this.store.lock(tx, `strata.registry.model.${m.id}`);
      const fresh = await tx.selectFrom('registered_models').select('next_version').where('id', '=', m.id).executeTakeFirstOrThrow();
      const v = Number(fresh.next_version);
      const now = this.clock.now();
      const record: ProvenanceRecord = {
        v: 1,
        type: 'strata.model-version-provenance',
        project: projectId,
        model: { id: m.id, name: m.name, version: v },
        source: source.uri,
        manifestDigest: digest,
        files: manifest.length,
        size: totalSize,
        run: run === null ? null : { id: run.info.id, experimentId: run.info.experimentId },
        codeRevision: run?.data.tags.find((t) => t.key === GIT_COMMIT_TAG)?.value ?? null,
        codeSource: run?.data.tags.find((t) => t.key === SOURCE_NAME_TAG)?.value ?? null,
        datasets: (run?.inputs ?? []).map((i) => ({ name: i.dataset.name, digest: i.dataset.digest, sourceType: i.dataset.sourceType, source: i.dataset.source })),
        metrics: (run?.data.metrics ?? []).map((x) => ({ key: x.key, value: jsonMetricValue(x.value), step: x.step })),
        createdAt: new Date(now).toISOString(),
        createdBy: actorId(actor),
      };
      const entry = await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action: PROVENANCE_ACTION,
        resource: `model/${m.id}/versions/${v}`,
        project: projectId,
        after: record,
        details: { name: m.name, version: v, manifestDigest: digest, runId, source: source.uri },
      });
      await tx.updateTable('registered_models').set({ next_version: v + 1, last_updated_time: now }).where('id', '=', m.id).execute();
      await tx
        .insertInto('model_versions')
        .values({
          model_id: m.id,
          version: v,
          project_id: projectId,
          description,
          source: source.uri,
          run_id: runId,
          run_link: runLink,
          status: 'READY',
          status_message: '',
          stage: 'None',
          creation_time: now,
          last_updated_time: now,
          user_id: actorName(actor),
          manifest_digest: digest,
          file_count: manifest.length,
          total_size: totalSize,
          signature: signature === null ? null : JSON.stringify(signature),
          logged_model_id: input.loggedModelId ?? null,
          provenance: JSON.stringify(record),
          provenance_seq: entry.seq,
        })
        .execute();
      for (let i = 0; i < manifest.length; i += 500) {
        await tx
          .insertInto('model_version_files')
          .values(manifest.slice(i, i + 500).map((f) => ({ model_id: m.id, version: v, path: f.path, digest: f.digest, size: f.size })))
          .execute();
      }
      if (tags.length > 0) await tx.insertInto('model_version_tags').values(tags.map((t) => ({ model_id: m.id, version: v, key: t.key, value: t.value }))).execute();
      return v;
    });
    return this.getVersion(projectId, name, version);
  }

  async getVersion(projectId: ProjectId, name: string, version: number): Promise<ModelVersion> {
    const row = await this.versionRow(this.store.db, projectId, name, version);
    const [v] = await this.loadVersions([row]);
    return v as ModelVersion;
  }

  async updateVersion(actor: Actor, projectId: ProjectId, name: string, version: number, input: { description: string }): Promise<ModelVersion> {
    const description = validateDescription(input.description);
    await this.store.transaction(async (tx) => {
      const v = await this.versionRow(tx, projectId, name, version);
      await tx.updateTable('model_versions').set({ description, last_updated_time: this.clock.now() }).where('model_id', '=', v.model_id).where('version', '=', version).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.version.update', resource: `model/${v.model_id}/versions/${version}`, project: projectId, before: { description: v.description }, after: { description }, details: { name, version } });
    });
    return this.getVersion(projectId, name, version);
  }

  /** Deletes a version with its files list, tags, aliases and card. Its provenance entry stays in the log; its number is never reused. */
  async deleteVersion(actor: Actor, projectId: ProjectId, name: string, version: number): Promise<void> {
    await this.store.transaction(async (tx) => {
      const v = await this.versionRow(tx, projectId, name, version);
      for (const t of ['model_cards', 'model_aliases', 'model_version_tags', 'model_version_files', 'model_versions'] as const) {
        await tx.deleteFrom(t).where('model_id', '=', v.model_id).where('version', '=', version).execute();
      }
      await tx.updateTable('registered_models').set({ last_updated_time: this.clock.now() }).where('id', '=', v.model_id).execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.version.delete', resource: `model/${v.model_id}/versions/${version}`, project: projectId, details: { name, version, manifestDigest: v.manifest_digest } });
    });
  }

  async setVersionTag(actor: Actor, projectId: ProjectId, name: string, version: number, tag: Tag): Promise<void> {
    validateTag(tag);
    await this.store.transaction(async (tx) => {
      const v = await this.versionRow(tx, projectId, name, version);
      await tx
        .insertInto('model_version_tags')
        .values({ model_id: v.model_id, version, key: tag.key, value: tag.value })
        .onConflict((oc) => oc.columns(['model_id', 'version', 'key']).doUpdateSet({ value: tag.value }))
        .execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.version.tag.set', resource: `model/${v.model_id}/versions/${version}`, project: projectId, after: tag, details: { name, version, key: tag.key } });
    });
  }

  async deleteVersionTag(actor: Actor, projectId: ProjectId, name: string, version: number, key: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const v = await this.versionRow(tx, projectId, name, version);
      const r = await tx.deleteFrom('model_version_tags').where('model_id', '=', v.model_id).where('version', '=', version).where('key', '=', key).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new StrataError('not_found', `No tag with key '${key}' on model version ${name}/${version}`, { details: { key } });
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.version.tag.delete', resource: `model/${v.model_id}/versions/${version}`, project: projectId, details: { name, version, key } });
    });
  }

  /** Versions of a project matching an MLflow filter (`name`, `run_id`, `source_path`, `version_number`, `tags.<key>`). */
  async searchVersions(projectId: ProjectId, input: SearchInput): Promise<Page<ModelVersion>> {
    const clauses = parsed(parseVersionFilter(input.filter ?? ''), 'filter');
    const order = parsed(parseRegistryOrderBy(input.orderBy ?? [], true), 'order_by');
    const offset = parsed(decodePageToken(input.pageToken), 'page token');
    const limit = pageSize(input.maxResults, REGISTRY_LIMITS.searchVersionsDefault, REGISTRY_LIMITS.searchVersionsMax);
    const d = this.store.dialect;
    let q = this.versionQuery(this.store.db).where('v.project_id', '=', projectId);
    for (const c of clauses) q = q.where(this.clauseSql(d, c, 'v.model_id'));
    const terms: RegistryOrderTerm[] = order.length === 0 ? [{ key: 'name', ascending: true }, { key: 'version_number', ascending: false }] : [...order];
    for (const t of terms) {
      const col = t.key === 'name' ? 'm.name' : t.key === 'version_number' ? 'v.version' : t.key === 'creation_timestamp' ? 'v.creation_time' : 'v.last_updated_time';
      q = q.orderBy(col, t.ascending ? 'asc' : 'desc');
    }
    const rows = await q.orderBy('v.model_id').orderBy('v.version', 'desc').limit(limit + 1).offset(offset).execute();
    const items = await this.loadVersions(rows.slice(0, limit));
    return rows.length > limit ? { items, nextPageToken: encodePageToken(offset + limit) } : { items };
  }

  /** The newest version in each of the given stages (all stages when none are given). */
  /** Versions made from these MLflow 3.x logged models (tracking's `ModelRegistrations` port), by model name and version. */
  async ofLoggedModels(projectId: ProjectId, loggedModelIds: readonly string[]): Promise<{ loggedModelId: string; name: string; version: number }[]> {
    if (loggedModelIds.length === 0) return [];
    const rows = await this.store.db
      .selectFrom('model_versions as v')
      .innerJoin('registered_models as r', 'r.id', 'v.model_id')
      .select(['v.logged_model_id', 'r.name', 'v.version'])
      .where('v.project_id', '=', projectId)
      .where('v.logged_model_id', 'in', loggedModelIds)
      .orderBy('r.name')
      .orderBy('v.version')
      .execute();
    return rows.map((r) => ({ loggedModelId: r.logged_model_id ?? '', name: r.name, version: Number(r.version) }));
  }

  async latestVersions(projectId: ProjectId, name: string, stages: readonly Stage[]): Promise<ModelVersion[]> {
    const m = await this.modelRow(this.store.db, projectId, name);
    const want = stages.length === 0 ? STAGES : stages;
    const rows = await this.versionQuery(this.store.db).where('v.model_id', '=', m.id).where('v.stage', 'in', [...want]).orderBy('v.version', 'desc').execute();
    const seen = new Set<string>();
    const latest = rows.filter((r) => (seen.has(r.stage) ? false : (seen.add(r.stage), true)));
    latest.sort((a, b) => Number(a.version) - Number(b.version));
    return this.loadVersions(latest);
  }

  /**
   * MLflow's deprecated stage transition. With `archiveExisting`, other versions in the target
   * stage (Staging or Production only) move to Archived. A transition to a stage whose lower-case
   * name has a promotion gate (e.g. `production`) must pass that gate, so stages cannot bypass it.
   */
  async transitionStage(actor: Actor, projectId: ProjectId, name: string, version: number, stage: Stage, archiveExisting: boolean): Promise<ModelVersion> {
    if (archiveExisting && stage !== 'Staging' && stage !== 'Production') {
      throw badRequest(`Model version transition cannot archive existing model versions because '${stage}' is not an Active stage. Valid stages are Staging and Production.`, { field: 'archive_existing_versions' });
    }
    const v0 = await this.versionRow(this.store.db, projectId, name, version);
    const gateName = stage.toLowerCase();
    const decision = stage === 'Staging' || stage === 'Production' ? await this.decideGate(actor, projectId, v0, gateName, `stage ${stage}`) : undefined;
    await this.store.transaction(async (tx) => {
      const v = await this.versionRow(tx, projectId, name, version);
      const now = this.clock.now();
      const archived: number[] = [];
      if (archiveExisting) {
        const others = await tx.selectFrom('model_versions').select('version').where('model_id', '=', v.model_id).where('stage', '=', stage).where('version', '!=', version).execute();
        for (const o of others) archived.push(Number(o.version));
        if (archived.length > 0) await tx.updateTable('model_versions').set({ stage: 'Archived', last_updated_time: now }).where('model_id', '=', v.model_id).where('version', 'in', archived).execute();
      }
      await tx.updateTable('model_versions').set({ stage, last_updated_time: now }).where('model_id', '=', v.model_id).where('version', '=', version).execute();
      if (decision !== undefined) await this.auditDecision(tx, actor, projectId, v, decision, `stage ${stage}`);
      await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action: 'model.version.stage',
        resource: `model/${v.model_id}/versions/${version}`,
        project: projectId,
        before: { stage: v.stage },
        after: { stage },
        details: { name, version, from: v.stage, to: stage, archived },
      });
    });
    return this.getVersion(projectId, name, version);
  }

  /** Where MLflow clients download the version's files from (its source's artifact URI). */
  async downloadUri(projectId: ProjectId, name: string, version: number): Promise<string> {
    const v = await this.versionRow(this.store.db, projectId, name, version);
    const s = parseModelSource(v.source);
    if (s.kind === 'model-version') return this.downloadUri(projectId, s.name, s.version).catch(() => v.source);
    if (s.experimentId !== null) return s.uri;
    const scope = await this.tracking.runScope(s.runId);
    return scope === undefined ? s.uri : `mlflow-artifacts:/${scope.experimentId}/${s.runId}/artifacts${s.path === '' ? '' : `/${s.path}`}`;
  }

  /** The pinned file list of a version. */
  async files(projectId: ProjectId, name: string, version: number): Promise<ManifestFile[]> {
    const v = await this.versionRow(this.store.db, projectId, name, version);
    return this.manifestOf(v.model_id, version);
  }

  /** Opens one pinned file of a version (its bytes as stored now). */
  async openFile(projectId: ProjectId, name: string, version: number, path: string): Promise<{ stream: Readable; size: number; digest: string }> {
    const p = normaliseArtifactPath(path, { field: 'path' });
    const v = await this.versionRow(this.store.db, projectId, name, version);
    const f = await this.store.db.selectFrom('model_version_files').select(['digest', 'size']).where('model_id', '=', v.model_id).where('version', '=', version).where('path', '=', p).executeTakeFirst();
    if (f === undefined) throw new StrataError('not_found', `Model version ${name}/${version} has no file '${p}'`, { details: { path: p } });
    const blobs = await this.blobsFor(projectId);
    return { stream: await blobs.get(parseDigest(f.digest)), size: Number(f.size), digest: f.digest };
  }

  // ---- aliases ------------------------------------------------------------------------------------

  /** Points an alias at a version; an alias with a promotion gate moves only if the version passes it (audited either way). */
  async setAlias(actor: Actor, projectId: ProjectId, name: string, aliasIn: string, version: number): Promise<GateDecision | undefined> {
    const alias = parseAlias(aliasIn);
    const v0 = await this.versionRow(this.store.db, projectId, name, version);
    const decision = await this.decideGate(actor, projectId, v0, alias, `alias ${alias}`);
    await this.store.transaction(async (tx) => {
      const v = await this.versionRow(tx, projectId, name, version);
      const prev = await tx.selectFrom('model_aliases').select('version').where('model_id', '=', v.model_id).where('alias', '=', alias).executeTakeFirst();
      await tx.insertInto('model_aliases').values({ model_id: v.model_id, alias, version }).onConflict((oc) => oc.columns(['model_id', 'alias']).doUpdateSet({ version })).execute();
      await tx.updateTable('registered_models').set({ last_updated_time: this.clock.now() }).where('id', '=', v.model_id).execute();
      if (decision !== undefined) await this.auditDecision(tx, actor, projectId, v, decision, `alias ${alias}`);
      await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action: 'model.alias.set',
        resource: `model/${v.model_id}`,
        project: projectId,
        before: prev === undefined ? null : { alias, version: Number(prev.version) },
        after: { alias, version },
        details: { name, alias, version, ...(prev === undefined ? {} : { previous: Number(prev.version) }) },
      });
    });
    return decision;
  }

  async deleteAlias(actor: Actor, projectId: ProjectId, name: string, aliasIn: string): Promise<void> {
    const alias = parseAlias(aliasIn);
    await this.store.transaction(async (tx) => {
      const m = await this.modelRow(tx, projectId, name);
      const r = await tx.deleteFrom('model_aliases').where('model_id', '=', m.id).where('alias', '=', alias).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new StrataError('not_found', `Registered model alias ${alias} not found.`, { details: { alias } });
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.alias.delete', resource: `model/${m.id}`, project: projectId, details: { name, alias } });
    });
  }

  async versionByAlias(projectId: ProjectId, name: string, aliasIn: string): Promise<ModelVersion> {
    const alias = parseAlias(aliasIn);
    const m = await this.modelRow(this.store.db, projectId, name);
    const a = await this.store.db.selectFrom('model_aliases').select('version').where('model_id', '=', m.id).where('alias', '=', alias).executeTakeFirst();
    if (a === undefined) throw new StrataError('not_found', `Registered model alias ${alias} not found.`, { details: { alias } });
    return this.getVersion(projectId, name, Number(a.version));
  }

  // ---- model cards and promotion gates ------------------------------------------------------------

  async setCard(actor: Actor, projectId: ProjectId, name: string, version: number, raw: unknown): Promise<ModelCard> {
    const card = parseModelCard(raw);
    const now = this.clock.now();
    await this.store.transaction(async (tx) => {
      const v = await this.versionRow(tx, projectId, name, version);
      const json = JSON.stringify(card);
      await tx
        .insertInto('model_cards')
        .values({ model_id: v.model_id, version, card: json, updated_time: now, updated_by: actorId(actor) })
        .onConflict((oc) => oc.columns(['model_id', 'version']).doUpdateSet({ card: json, updated_time: now, updated_by: actorId(actor) }))
        .execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.card.set', resource: `model/${v.model_id}/versions/${version}`, project: projectId, after: card, details: { name, version } });
    });
    return { ...card, updatedTime: now, updatedBy: actorId(actor) };
  }

  async getCard(projectId: ProjectId, name: string, version: number): Promise<ModelCard> {
    const v = await this.versionRow(this.store.db, projectId, name, version);
    const c = await this.cardOf(v.model_id, version);
    if (c === null) throw new StrataError('not_found', `Model version ${name}/${version} has no model card yet: PUT one`, { details: { model: name, version } });
    return c;
  }

  async setGate(actor: Actor, projectId: ProjectId, aliasIn: string, raw: unknown): Promise<PromotionGate> {
    const alias = parseAlias(aliasIn);
    const policy = parseGatePolicy(raw);
    const now = this.clock.now();
    await this.store.transaction(async (tx) => {
      const json = JSON.stringify(policy);
      await tx
        .insertInto('promotion_gates')
        .values({ project_id: projectId, alias, policy: json, updated_time: now, updated_by: actorId(actor) })
        .onConflict((oc) => oc.columns(['project_id', 'alias']).doUpdateSet({ policy: json, updated_time: now, updated_by: actorId(actor) }))
        .execute();
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.gate.set', resource: `promotion-gate/${alias}`, project: projectId, after: policy, details: { alias, ...policy } });
    });
    return { alias, ...policy, updatedTime: now, updatedBy: actorId(actor) };
  }

  async deleteGate(actor: Actor, projectId: ProjectId, aliasIn: string): Promise<void> {
    const alias = parseAlias(aliasIn);
    await this.store.transaction(async (tx) => {
      const r = await tx.deleteFrom('promotion_gates').where('project_id', '=', projectId).where('alias', '=', alias).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new StrataError('not_found', `No promotion gate for alias '${alias}'`, { details: { alias } });
      await this.audit.append(tx, { actor: actorId(actor), requestId: actor.requestId, action: 'model.gate.delete', resource: `promotion-gate/${alias}`, project: projectId, details: { alias } });
    });
  }

  async gates(projectId: ProjectId): Promise<PromotionGate[]> {
    const rows = await this.store.db.selectFrom('promotion_gates').selectAll().where('project_id', '=', projectId).orderBy('alias').execute();
    return rows.map(gateOf);
  }

  /** Evaluates the gate for `target` (if any) without changing anything. */
  async checkGate(projectId: ProjectId, name: string, version: number, aliasIn: string): Promise<GateDecision | undefined> {
    const alias = parseAlias(aliasIn);
    const v = await this.versionRow(this.store.db, projectId, name, version);
    return this.evaluate(projectId, v, alias);
  }

  // ---- provenance ---------------------------------------------------------------------------------

  /**
   * The version's provenance record with its audit entry, an RFC 9162 inclusion proof, and the
   * newest signed checkpoint covering it (signing one now if none does yet).
   */
  async provenance(projectId: ProjectId, name: string, version: number): Promise<ProvenanceBundle> {
    const v = await this.versionRow(this.store.db, projectId, name, version);
    const extra = await this.store.db.selectFrom('model_versions').select(['provenance', 'provenance_seq']).where('model_id', '=', v.model_id).where('version', '=', version).executeTakeFirstOrThrow();
    const seq = Number(extra.provenance_seq);
    let checkpoint = await this.audit.latestCheckpoint();
    if (checkpoint === undefined || checkpoint.size <= seq) checkpoint = await this.audit.checkpoint();
    const proof = await this.audit.inclusion(seq, checkpoint.size);
    const [entry] = await this.audit.entries(seq, 1);
    if (entry?.seq !== seq) throw new StrataError('internal', `audit entry ${seq} of model version ${name}/${version} is missing`);
    return {
      name,
      version,
      record: JSON.parse(extra.provenance) as ProvenanceRecord,
      seq,
      entry,
      checkpoint,
      proof,
      files: await this.manifestOf(v.model_id, version),
      publicKey: this.audit.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
  }

  /** The server's own check: the bundle verified under its key, with every stored file re-hashed from the blob store. */
  async verify(projectId: ProjectId, name: string, version: number): Promise<ProvenanceVerdict> {
    const bundle = await this.provenance(projectId, name, version);
    const blobs = await this.blobsFor(projectId);
    const rehashed = new Map<string, { digest: string; size: number }>();
    for (const f of bundle.files) {
      try {
        const h = createHash('sha256');
        let size = 0;
        for await (const chunk of await blobs.get(parseDigest(f.digest))) {
          h.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        rehashed.set(f.path, { digest: `sha256:${h.digest('hex')}`, size });
      } catch {
        // Missing blob: left out, so the verdict names the file.
      }
    }
    return verifyProvenance(bundle, this.audit.publicKey, rehashed);
  }

  // ---- lineage ------------------------------------------------------------------------------------

  /** Upstream of a version: its run (code revision, parent) and the run's dataset inputs. */
  async versionLineage(projectId: ProjectId, name: string, version: number): Promise<VersionLineage> {
    const v = await this.versionRow(this.store.db, projectId, name, version);
    const run = v.run_id === null ? null : await this.runOf(projectId, v.run_id);
    return {
      modelVersion: { name: v.name, version: Number(v.version), manifestDigest: v.manifest_digest, source: v.source },
      run: run === null ? null : runNode(run),
      datasets: run === null ? [] : datasetNodes(run),
    };
  }

  /** A run with its upstream datasets and downstream model versions. */
  async runLineage(projectId: ProjectId, runId: string): Promise<{ run: RunLineageNode; datasets: DatasetNode[]; modelVersions: VersionNode[] }> {
    const run = await this.runOf(projectId, runId);
    if (run === null) throw new StrataError('not_found', `Run with id=${runId} not found`, { details: { run: runId } });
    const rows = await this.versionQuery(this.store.db).where('v.project_id', '=', projectId).where('v.run_id', '=', runId).orderBy('m.name').orderBy('v.version').limit(LINEAGE_LIMIT).execute();
    return { run: runNode(run), datasets: datasetNodes(run), modelVersions: await this.versionNodes(rows) };
  }

  /** Downstream of a dataset digest: the datasets with it, the runs that used them and the versions those runs produced. */
  async datasetLineage(projectId: ProjectId, digest: string): Promise<{ datasets: (DatasetNode & { experimentId: string })[]; runs: { id: string; name: string; experimentId: string; status: string; context: string | null }[]; modelVersions: VersionNode[] }> {
    const db = this.store.db;
    const ds = await db
      .selectFrom('datasets as d')
      .innerJoin('experiments as e', 'e.id', 'd.experiment_id')
      .select(['d.id', 'd.name', 'd.digest', 'd.source_type', 'd.source', 'd.experiment_id'])
      .where('e.project_id', '=', projectId)
      .where('d.digest', '=', digest)
      .orderBy('d.name')
      .limit(LINEAGE_LIMIT)
      .execute();
    if (ds.length === 0) throw new StrataError('not_found', `No dataset with digest '${digest}' in this project`, { details: { digest } });
    const runs = await db
      .selectFrom('run_inputs as i')
      .innerJoin('runs as r', 'r.id', 'i.run_id')
      .leftJoin('run_input_tags as t', (j) => j.onRef('t.run_id', '=', 'i.run_id').onRef('t.dataset_id', '=', 'i.dataset_id').on('t.key', '=', 'mlflow.data.context'))
      .select(['r.id', 'r.name', 'r.experiment_id', 'r.status', 't.value as context'])
      .where('i.dataset_id', 'in', ds.map((d) => d.id))
      .where('r.project_id', '=', projectId)
      .orderBy('r.start_time')
      .orderBy('r.id')
      .limit(LINEAGE_LIMIT)
      .execute();
    const runIds = [...new Set(runs.map((r) => r.id))];
    const versions = runIds.length === 0 ? [] : await this.versionQuery(db).where('v.project_id', '=', projectId).where('v.run_id', 'in', runIds).orderBy('m.name').orderBy('v.version').limit(LINEAGE_LIMIT).execute();
    return {
      datasets: ds.map((d) => ({ name: d.name, digest: d.digest, sourceType: d.source_type, source: d.source, context: null, experimentId: d.experiment_id })),
      runs: runs.map((r) => ({ id: r.id, name: r.name, experimentId: r.experiment_id, status: r.status, context: r.context ?? null })),
      modelVersions: await this.versionNodes(versions),
    };
  }

  // ---- internals ----------------------------------------------------------------------------------

  private async modelRow(db: Tx | Store['db'], projectId: ProjectId, name: string): Promise<ModelRow> {
    const row = await db.selectFrom('registered_models').select(['id', 'project_id', 'name', 'description', 'next_version', 'creation_time', 'last_updated_time']).where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
    if (row === undefined) throw noModel(name);
    return row;
  }

  private versionQuery(db: Tx | Store['db']) {
    return db
      .selectFrom('model_versions as v')
      .innerJoin('registered_models as m', 'm.id', 'v.model_id')
      .select([
        'v.model_id',
        'v.version',
        'v.project_id',
        'm.name',
        'v.description',
        'v.source',
        'v.run_id',
        'v.run_link',
        'v.status',
        'v.status_message',
        'v.stage',
        'v.creation_time',
        'v.last_updated_time',
        'v.user_id',
        'v.manifest_digest',
        'v.file_count',
        'v.total_size',
        'v.signature',
        'v.logged_model_id',
      ]);
  }

  private async versionRow(db: Tx | Store['db'], projectId: ProjectId, name: string, version: number): Promise<VersionRow> {
    const row = await this.versionQuery(db).where('m.project_id', '=', projectId).where('m.name', '=', name).where('v.version', '=', version).executeTakeFirst();
    if (row === undefined) {
      await this.modelRow(db, projectId, name);
      throw noVersion(name, version);
    }
    return row;
  }

  private async manifestOf(modelId: string, version: number): Promise<ManifestFile[]> {
    const rows = await this.store.db.selectFrom('model_version_files').select(['path', 'digest', 'size']).where('model_id', '=', modelId).where('version', '=', version).orderBy('path').execute();
    return sortedManifest(rows.map((r) => ({ path: r.path, digest: parseDigest(r.digest), size: Number(r.size) })));
  }

  /** Checks every file: a plain relative path, a well-formed digest, and that exact content present in the project's store. */
  private async checkedManifest(projectId: ProjectId, files: readonly ManifestFile[]): Promise<ManifestFile[]> {
    if (files.length > REGISTRY_LIMITS.manifestFiles) throw badRequest(`a model version may pin at most ${REGISTRY_LIMITS.manifestFiles} files; the source has ${files.length}`, { field: 'source' });
    const blobs = await this.blobsFor(projectId);
    const out: ManifestFile[] = [];
    for (const f of files) {
      const path = normaliseArtifactPath(f.path, { field: 'source' });
      const digest = parseDigest(f.digest);
      const info = await blobs.stat(digest);
      if (info === undefined || info.size !== f.size) throw badRequest(`the source's file '${path}' is not in the project's artifact store as ${digest} (${f.size} bytes): upload it again`, { field: 'source' });
      out.push({ path, digest, size: f.size });
    }
    return sortedManifest(out);
  }

  private async runOf(projectId: ProjectId, runId: string): Promise<Run | null> {
    const scope = await this.tracking.runScope(runId);
    if (scope?.projectId !== projectId) return null;
    return this.tracking.getRun(projectId, runId);
  }

  private async cardOf(modelId: string, version: number): Promise<ModelCard | null> {
    const row = await this.store.db.selectFrom('model_cards').selectAll().where('model_id', '=', modelId).where('version', '=', version).executeTakeFirst();
    if (row === undefined) return null;
    return { ...(JSON.parse(row.card) as Omit<ModelCard, 'updatedTime' | 'updatedBy'>), updatedTime: Number(row.updated_time), updatedBy: row.updated_by };
  }

  private async evaluate(projectId: ProjectId, v: VersionRow, alias: string): Promise<GateDecision | undefined> {
    const g = await this.store.db.selectFrom('promotion_gates').selectAll().where('project_id', '=', projectId).where('alias', '=', alias).executeTakeFirst();
    if (g === undefined) return undefined;
    const gate = gateOf(g);
    const card = gate.requireModelCard ? await this.cardOf(v.model_id, Number(v.version)) : null;
    let metrics: Map<string, number> | null = null;
    if (gate.metrics.length > 0 && v.run_id !== null) {
      const run = await this.runOf(projectId, v.run_id);
      if (run !== null) metrics = new Map(run.data.metrics.map((m) => [m.key, m.value]));
    }
    return evaluateGate(gate, card, metrics);
  }

  /** Evaluates a gate; a refusal is audited (in its own transaction) and thrown as a 403 naming every unmet requirement. */
  private async decideGate(actor: Actor, projectId: ProjectId, v: VersionRow, alias: string, target: string): Promise<GateDecision | undefined> {
    const decision = await this.evaluate(projectId, v, alias);
    if (decision === undefined || decision.allowed) return decision;
    await this.audit.appendAlone({
      actor: actorId(actor),
      requestId: actor.requestId,
      action: 'model.promotion',
      resource: `model/${v.model_id}/versions/${v.version}`,
      project: projectId,
      outcome: 'denied',
      details: { name: v.name, version: Number(v.version), target, alias, checks: decision.checks },
    });
    const unmet = decision.checks.filter((c) => !c.ok).map((c) => c.message);
    throw forbidden(`The promotion gate for '${alias}' refused ${v.name} version ${v.version} (${target}): ${unmet.join('; ')}`, { gate: alias, checks: decision.checks });
  }

  private async auditDecision(tx: Tx, actor: Actor, projectId: ProjectId, v: VersionRow, decision: GateDecision, target: string): Promise<void> {
    await this.audit.append(tx, {
      actor: actorId(actor),
      requestId: actor.requestId,
      action: 'model.promotion',
      resource: `model/${v.model_id}/versions/${v.version}`,
      project: projectId,
      outcome: 'success',
      details: { name: v.name, version: Number(v.version), target, alias: decision.alias, checks: decision.checks },
    });
  }

  private clauseSql(d: DialectName, c: RegistryClause, modelIdCol: 'm.id' | 'v.model_id'): Expression<SqlBool> {
    switch (c.kind) {
      case 'name':
        return stringCmp(d, sql.ref('m.name'), c.op, c.value);
      case 'tag':
        return modelIdCol === 'm.id'
          ? sql<SqlBool>`exists (select 1 from registered_model_tags t where t.model_id = m.id and t.key = ${c.key} and ${stringCmp(d, sql.ref('t.value'), c.op, c.value)})`
          : sql<SqlBool>`exists (select 1 from model_version_tags t where t.model_id = v.model_id and t.version = v.version and t.key = ${c.key} and ${stringCmp(d, sql.ref('t.value'), c.op, c.value)})`;
      case 'run-id':
        return stringCmp(d, sql.ref('v.run_id'), c.op, c.value);
      case 'run-id-set':
        return c.op === 'IN' ? sql<SqlBool>`v.run_id in (${sql.join(c.values)})` : sql<SqlBool>`(v.run_id is null or v.run_id not in (${sql.join(c.values)}))`;
      case 'source-path':
        return stringCmp(d, sql.ref('v.source'), c.op, c.value);
      case 'version-number':
        return sql<SqlBool>`v.version ${sql.raw(c.op === '!=' ? '<>' : c.op)} ${c.value}`;
    }
  }

  private async loadModels(rows: readonly ModelRow[]): Promise<RegisteredModel[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const db = this.store.db;
    const tags = await db.selectFrom('registered_model_tags').select(['model_id', 'key', 'value']).where('model_id', 'in', ids).orderBy('key').execute();
    const aliases = await db.selectFrom('model_aliases').select(['model_id', 'alias', 'version']).where('model_id', 'in', ids).orderBy('alias').execute();
    const latestKeys = await db.selectFrom('model_versions').select(['model_id', 'stage', (eb) => eb.fn.max('version').as('version')]).where('model_id', 'in', ids).groupBy(['model_id', 'stage']).execute();
    const latestRows =
      latestKeys.length === 0
        ? []
        : await this.versionQuery(db)
            .where((eb) => eb.or(latestKeys.map((k) => eb.and([eb('v.model_id', '=', k.model_id), eb('v.version', '=', Number(k.version))]))))
            .orderBy('v.version')
            .execute();
    const latest = await this.loadVersions(latestRows);
    return rows.map((r) => ({
      id: r.id as ModelId,
      projectId: r.project_id as ProjectId,
      name: r.name,
      description: r.description,
      creationTime: Number(r.creation_time),
      lastUpdatedTime: Number(r.last_updated_time),
      tags: tags.filter((t) => t.model_id === r.id).map((t) => ({ key: t.key, value: t.value })),
      aliases: aliases.filter((a) => a.model_id === r.id).map((a): AliasRef => ({ alias: a.alias, version: Number(a.version) })),
      latestVersions: latest.filter((v) => v.modelId === r.id),
    }));
  }

  private async loadVersions(rows: readonly VersionRow[]): Promise<ModelVersion[]> {
    if (rows.length === 0) return [];
    const db = this.store.db;
    const ids = [...new Set(rows.map((r) => r.model_id))];
    const tags = await db.selectFrom('model_version_tags').select(['model_id', 'version', 'key', 'value']).where('model_id', 'in', ids).orderBy('key').execute();
    const aliases = await db.selectFrom('model_aliases').select(['model_id', 'alias', 'version']).where('model_id', 'in', ids).orderBy('alias').execute();
    return rows.map((r) => {
      const v = Number(r.version);
      return {
        modelId: r.model_id as ModelId,
        projectId: r.project_id as ProjectId,
        name: r.name,
        version: v,
        description: r.description,
        source: r.source,
        runId: r.run_id,
        runLink: r.run_link,
        status: r.status as VersionStatus,
        statusMessage: r.status_message,
        stage: r.stage as Stage,
        creationTime: Number(r.creation_time),
        lastUpdatedTime: Number(r.last_updated_time),
        userId: r.user_id,
        manifestDigest: parseDigest(r.manifest_digest),
        fileCount: Number(r.file_count),
        totalSize: Number(r.total_size),
        signature: r.signature === null ? null : (JSON.parse(r.signature) as Signature),
        loggedModelId: r.logged_model_id,
        tags: tags.filter((t) => t.model_id === r.model_id && Number(t.version) === v).map((t) => ({ key: t.key, value: t.value })).sort(byKey),
        aliases: aliases.filter((a) => a.model_id === r.model_id && Number(a.version) === v).map((a) => a.alias),
      };
    });
  }

  private async versionNodes(rows: readonly VersionRow[]): Promise<VersionNode[]> {
    const vs = await this.loadVersions(rows);
    return vs.map((v) => ({ name: v.name, version: v.version, runId: v.runId, manifestDigest: v.manifestDigest, aliases: v.aliases, stage: v.stage }));
  }
}

// ---- helpers ----------------------------------------------------------------------------------

function modelExists(name: string): StrataError {
  return new StrataError('conflict', `Registered Model (name=${name}) already exists.`, { details: { model: name } });
}

function gateOf(g: { alias: string; policy: string; updated_time: number; updated_by: string }): PromotionGate {
  const p = JSON.parse(g.policy) as { requireModelCard: boolean; metrics: MetricThreshold[] };
  return { alias: g.alias, requireModelCard: p.requireModelCard, metrics: p.metrics, updatedTime: Number(g.updated_time), updatedBy: g.updated_by };
}

function checkSignature(s: Signature): Signature {
  for (const [k, v] of Object.entries(s)) {
    if (v !== null && (typeof v !== 'string' || v.length > REGISTRY_LIMITS.signatureLength)) throw badRequest(`signature.${k} must be a JSON text of at most ${REGISTRY_LIMITS.signatureLength} characters`, { field: `signature.${k}` });
  }
  return { inputs: s.inputs, outputs: s.outputs, params: s.params };
}

/** The signature of the model logged at `path` in the run (from the `mlflow.log-model.history` tag MLflow's log-model writes). */
function signatureFromRun(run: Run, path: string): Signature | null {
  const tag = run.data.tags.find((t) => t.key === LOG_MODEL_TAG);
  if (tag === undefined) return null;
  let history: unknown;
  try {
    history = JSON.parse(tag.value);
  } catch {
    return null;
  }
  if (!Array.isArray(history)) return null;
  for (const h of [...(history as unknown[])].reverse()) {
    if (typeof h !== 'object' || h === null) continue;
    const o = h as Record<string, unknown>;
    if (o['artifact_path'] !== path) continue;
    const sig = o['signature'];
    if (typeof sig !== 'object' || sig === null) return null;
    const s = sig as Record<string, unknown>;
    const str = (x: unknown): string | null => (typeof x === 'string' ? x.slice(0, REGISTRY_LIMITS.signatureLength) : null);
    return { inputs: str(s['inputs']), outputs: str(s['outputs']), params: str(s['params']) };
  }
  return null;
}

function runNode(run: Run): RunLineageNode {
  return {
    id: run.info.id,
    name: run.info.name,
    experimentId: run.info.experimentId,
    status: run.info.status,
    codeRevision: run.data.tags.find((t) => t.key === GIT_COMMIT_TAG)?.value ?? null,
    parentRunId: run.data.tags.find((t) => t.key === PARENT_TAG)?.value ?? null,
  };
}

function datasetNodes(run: Run): DatasetNode[] {
  return run.inputs.map((i) => ({
    name: i.dataset.name,
    digest: i.dataset.digest,
    sourceType: i.dataset.sourceType,
    source: i.dataset.source,
    context: i.tags.find((t) => t.key === 'mlflow.data.context')?.value ?? null,
  }));
}
