// Typed client for the model registry: registered models, versions (pinned to the digests of run
// artifacts), aliases, tags, stages, model cards, promotion gates, provenance and lineage. Over the
// Strata-native API under /api/v1/projects/{project}/models, .../promotion-gates and .../lineage;
// errors are the server's, as StrataApiError (a gate that refuses an alias is a 403 naming every
// unmet requirement).
import type { StrataClient } from './client.ts';
import { seg } from './client.ts';
import type {
  AliasSet,
  DatasetLineage,
  Download,
  GateCheckResult,
  ModelCard,
  ModelCardInput,
  ModelVersion,
  Page,
  PromotionGate,
  PromotionGateInput,
  ProvenanceBundle,
  ProvenanceVerdict,
  RegisteredModel,
  RunLineage,
  Signature,
  Stage,
  StringMap,
  VersionFiles,
  VersionLineage,
} from './types.ts';
import { download, filePath, withQuery } from './wire.ts';

export interface CreateVersionInput {
  /** Where the files are: `runs:/<run_id>/<path>` (a file or a directory of the run's artifacts) or `models:/<name>/<version>`. */
  readonly source: string;
  /** Must match the run of a `runs:/` source; it is taken from the source when absent. */
  readonly runId?: string | undefined;
  readonly description?: string | undefined;
  readonly tags?: StringMap | undefined;
  readonly signature?: (Partial<Signature> & Pick<Signature, 'inputs' | 'outputs'>) | undefined;
}

export interface SearchModelsInput {
  /** MLflow filter on `name` and `tags.<key>`, e.g. `name LIKE 'fraud%'`. */
  readonly filter?: string | undefined;
  /** `name`, `creation_timestamp` or `last_updated_timestamp`, with ASC or DESC. */
  readonly orderBy?: readonly string[] | undefined;
  readonly maxResults?: number | undefined;
  readonly pageToken?: string | undefined;
}

/** Registered models of one project. */
export class RegistryClient {
  private readonly base: string;

  constructor(
    private readonly client: StrataClient,
    readonly project: string,
  ) {
    this.base = `/api/v1/projects/${seg(project)}`;
  }

  // ---- registered models ----

  async createModel(input: { readonly name: string; readonly description?: string | undefined; readonly tags?: StringMap | undefined }): Promise<RegisteredModel> {
    return this.client.post<RegisteredModel>(`${this.base}/models`, { name: input.name, ...(input.description === undefined ? {} : { description: input.description }), ...(input.tags === undefined ? {} : { tags: input.tags }) });
  }

  /** A model with its tags, aliases and latest version per stage. */
  async getModel(name: string): Promise<RegisteredModel> {
    return this.client.get<RegisteredModel>(this.modelPath(name));
  }

  async searchModels(input: SearchModelsInput = {}): Promise<Page<'models', RegisteredModel>> {
    return this.client.get(withQuery(`${this.base}/models`, { ...input }));
  }

  /** Renames a model and/or changes its description; answers it under its (new) name. */
  async updateModel(name: string, input: { readonly name?: string | undefined; readonly description?: string | undefined }): Promise<RegisteredModel> {
    return this.client.request<RegisteredModel>('PATCH', this.modelPath(name), { body: { ...(input.name === undefined ? {} : { name: input.name }), ...(input.description === undefined ? {} : { description: input.description }) } });
  }

  /** Deletes a model with all its versions (their provenance stays in the audit log). */
  async deleteModel(name: string): Promise<void> {
    await this.client.delete(this.modelPath(name));
  }

  async setModelTag(name: string, key: string, value: string): Promise<RegisteredModel> {
    return this.client.put<RegisteredModel>(`${this.modelPath(name)}/tags`, { key, value });
  }

  async deleteModelTag(name: string, key: string): Promise<void> {
    await this.client.delete(withQuery(`${this.modelPath(name)}/tags`, { key }));
  }

  // ---- versions ----

  /** Registers a version READY, pinned to the digests of the files its source names, with a provenance record in the audit log. */
  async createVersion(name: string, input: CreateVersionInput): Promise<ModelVersion> {
    return this.client.post<ModelVersion>(`${this.modelPath(name)}/versions`, {
      source: input.source,
      ...(input.runId === undefined ? {} : { runId: input.runId }),
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.tags === undefined ? {} : { tags: input.tags }),
      ...(input.signature === undefined ? {} : { signature: input.signature }),
    });
  }

  async getVersion(name: string, version: number): Promise<ModelVersion> {
    return this.client.get<ModelVersion>(this.versionPath(name, version));
  }

  /** A model's versions, newest first, paged. */
  async listVersions(name: string, opts: { readonly maxResults?: number | undefined; readonly pageToken?: string | undefined } = {}): Promise<Page<'versions', ModelVersion>> {
    return this.client.get(`${this.modelPath(name)}/versions`, { maxResults: opts.maxResults, pageToken: opts.pageToken });
  }

  /** Changes a version's description (its files, source and run are immutable). */
  async updateVersion(name: string, version: number, input: { readonly description: string }): Promise<ModelVersion> {
    return this.client.request<ModelVersion>('PATCH', this.versionPath(name, version), { body: { description: input.description } });
  }

  /** Deletes a version (its number is never reused; its provenance stays in the audit log). */
  async deleteVersion(name: string, version: number): Promise<void> {
    await this.client.delete(this.versionPath(name, version));
  }

  async setVersionTag(name: string, version: number, key: string, value: string): Promise<ModelVersion> {
    return this.client.put<ModelVersion>(`${this.versionPath(name, version)}/tags`, { key, value });
  }

  async deleteVersionTag(name: string, version: number, key: string): Promise<void> {
    await this.client.delete(withQuery(`${this.versionPath(name, version)}/tags`, { key }));
  }

  /** Moves a version to an MLflow stage (deprecated by MLflow; the gate of the stage's lower-case name applies). */
  async transitionStage(name: string, version: number, stage: Stage, opts: { readonly archiveExisting?: boolean | undefined } = {}): Promise<ModelVersion> {
    return this.client.put<ModelVersion>(`${this.versionPath(name, version)}/stage`, { stage, ...(opts.archiveExisting === undefined ? {} : { archiveExisting: opts.archiveExisting }) });
  }

  /** The version's pinned files (path, digest, size) and the digest of that list. */
  async files(name: string, version: number): Promise<VersionFiles> {
    return this.client.get<VersionFiles>(`${this.versionPath(name, version)}/files`);
  }

  /** Streams one pinned file of a version (its bytes as stored now; `verify` re-hashes them). */
  async downloadFile(name: string, version: number, path: string, opts: { readonly signal?: AbortSignal | undefined } = {}): Promise<Download> {
    return download(this.client, `${this.versionPath(name, version)}/files/${filePath(path)}`, opts);
  }

  // ---- aliases ----

  /** Points an alias at a version; a gated alias moves only if the version passes the gate (a 403 otherwise). */
  async setAlias(name: string, alias: string, version: number): Promise<AliasSet> {
    return this.client.put<AliasSet>(this.aliasPath(name, alias), { version });
  }

  /** The version an alias points at. */
  async getByAlias(name: string, alias: string): Promise<ModelVersion> {
    return this.client.get<ModelVersion>(this.aliasPath(name, alias));
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.client.delete(this.aliasPath(name, alias));
  }

  // ---- model cards and promotion gates ----

  async getCard(name: string, version: number): Promise<ModelCard> {
    return this.client.get<ModelCard>(`${this.versionPath(name, version)}/card`);
  }

  /** Attaches or replaces the version's model card. */
  async setCard(name: string, version: number, card: ModelCardInput): Promise<ModelCard> {
    return this.client.put<ModelCard>(`${this.versionPath(name, version)}/card`, card);
  }

  /** Would this version pass the gate of `alias`? Changes nothing. */
  async checkGate(name: string, version: number, alias: string): Promise<GateCheckResult> {
    return this.client.get<GateCheckResult>(`${this.versionPath(name, version)}/gates/${seg(alias)}`);
  }

  async gates(): Promise<readonly PromotionGate[]> {
    return (await this.client.get<{ gates: PromotionGate[] }>(`${this.base}/promotion-gates`)).gates;
  }

  /** Requires a model card and/or metric thresholds before `alias` may point at a version (project admins). */
  async setGate(alias: string, input: PromotionGateInput): Promise<PromotionGate> {
    return this.client.put<PromotionGate>(`${this.base}/promotion-gates/${seg(alias)}`, input);
  }

  async deleteGate(alias: string): Promise<void> {
    await this.client.delete(`${this.base}/promotion-gates/${seg(alias)}`);
  }

  // ---- provenance ----

  /** The provenance bundle: record, audit entry, inclusion proof, signed checkpoint and files, for verifying independently. */
  async provenance(name: string, version: number): Promise<ProvenanceBundle> {
    return this.client.get<ProvenanceBundle>(`${this.versionPath(name, version)}/provenance`);
  }

  /** The server's verification: proof, record and every stored file re-hashed. `ok: false` names the first check that failed. */
  async verify(name: string, version: number): Promise<ProvenanceVerdict> {
    return this.client.get<ProvenanceVerdict>(`${this.versionPath(name, version)}/verify`);
  }

  // ---- lineage ----

  /** Upstream of a version: its run (code revision, parent run) and the datasets the run used. */
  async versionLineage(name: string, version: number): Promise<VersionLineage> {
    return this.client.get<VersionLineage>(`${this.base}/lineage/model-versions/${seg(name)}/${seg(String(version))}`);
  }

  /** A run's datasets (upstream) and the versions registered from it (downstream). */
  async runLineage(runId: string): Promise<RunLineage> {
    return this.client.get<RunLineage>(`${this.base}/lineage/runs/${seg(runId)}`);
  }

  /** Downstream of a dataset digest: the runs that used it and the versions they produced. */
  async datasetLineage(digest: string): Promise<DatasetLineage> {
    return this.client.get<DatasetLineage>(`${this.base}/lineage/datasets/${seg(digest)}`);
  }

  private modelPath(name: string): string {
    return `${this.base}/models/${seg(name)}`;
  }
  private versionPath(name: string, version: number): string {
    return `${this.modelPath(name)}/versions/${seg(String(version))}`;
  }
  private aliasPath(name: string, alias: string): string {
    return `${this.modelPath(name)}/aliases/${seg(alias)}`;
  }
}
