// The artifact tree of each logged model, stored the way run artifacts are (run-artifacts.ts):
// checked artifact paths → content digests in the model's project's blob store, in
// `logged_model_artifacts`, directories implied by the paths. The MLflow 3.x client uploads a
// model's files through the artifact proxy under the model's artifact_location
// (`<experiment>/models/<model id>/artifacts/<path>`) and lists them with
// `logged-models/{id}/artifacts/directories`. The same rules as for runs:
//
// - Tenancy: every call names the project; a model of another project (or a deleted one) is a 404.
// - Paths arrive already checked (`ArtifactPath`, from `normaliseArtifactPath` at the edge); a path
//   may not be both a file and a directory.
// - Bytes stream into the blob store with flat memory; the row is written only once the blob is
//   durable. Uploads are telemetry and are not audited.
import type { ArtifactPath, BlobStore } from '../blobs/index.ts';
import { parseDigest } from '../blobs/index.ts';
import type { Clock, ProjectId } from '../kernel/index.ts';
import { StrataError, conflict } from '../kernel/index.ts';
import type { Store, Tx } from '../store/index.ts';
import { AFTER_SLASH, ancestors, listArtifactTree } from './artifact-tree.ts';
import { LOGGED_MODEL_ID_PATTERN, noLoggedModel } from './logged-models.ts';
import type { OpenedRunArtifact, RunArtifactFile, RunArtifactPage } from './run-artifacts.ts';
import { RUN_ARTIFACT_LIMITS } from './run-artifacts.ts';

const ID_RE = new RegExp(LOGGED_MODEL_ID_PATTERN);

/** Where a logged model lives and its artifact root. */
export interface LoggedModelArtifactRoot {
  readonly modelId: string;
  readonly experimentId: string;
  readonly projectId: ProjectId;
  readonly artifactUri: string;
}


export class LoggedModelArtifacts {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** The blob store of a project (one per project, so deduplication never crosses tenants). */
    private readonly blobsFor: (projectId: string) => Promise<BlobStore>,
  ) {}

  /** The (active) model in this project and its artifact root; 404 otherwise. */
  async root(projectId: ProjectId, modelId: string, db: Tx | Store['db'] = this.store.db): Promise<LoggedModelArtifactRoot> {
    if (!ID_RE.test(modelId)) throw noLoggedModel(modelId);
    const row = await db
      .selectFrom('logged_models')
      .select(['experiment_id', 'artifact_location', 'lifecycle_stage'])
      .where('id', '=', modelId)
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    if (row === undefined || row.lifecycle_stage !== 'active') throw noLoggedModel(modelId);
    return { modelId, experimentId: row.experiment_id, projectId, artifactUri: row.artifact_location };
  }

  private async checkShape(db: Tx | Store['db'], modelId: string, path: ArtifactPath): Promise<void> {
    const up = ancestors(path);
    if (up.length > 0) {
      const file = await db.selectFrom('logged_model_artifacts').select('path').where('model_id', '=', modelId).where('path', 'in', up).limit(1).executeTakeFirst();
      if (file !== undefined) throw conflict(`cannot store '${path}': '${file.path}' is a file of this model, not a directory`, { path, file: file.path });
    }
    const below = await db
      .selectFrom('logged_model_artifacts')
      .select('path')
      .where('model_id', '=', modelId)
      .where('path', '>=', `${path}/`)
      .where('path', '<', `${path}${AFTER_SLASH}`)
      .limit(1)
      .executeTakeFirst();
    if (below !== undefined) throw conflict(`cannot store a file at '${path}': it is a directory of this model (it holds '${below.path}')`, { path, holds: below.path });
  }

  /**
   * Streams one file into the model's tree at `path` (replacing what was there). The body is read
   * only once the model and the path have been checked; nothing is recorded unless all of it arrived.
   */
  async upload(projectId: ProjectId, modelId: string, path: ArtifactPath, body: AsyncIterable<Uint8Array>, options: { readonly signal?: AbortSignal; readonly maxBytes?: number } = {}): Promise<RunArtifactFile> {
    await this.root(projectId, modelId);
    await this.checkShape(this.store.db, modelId, path);
    const blobs = await this.blobsFor(projectId);
    const put = await blobs.put(body, {
      maxBytes: Math.min(options.maxBytes ?? RUN_ARTIFACT_LIMITS.maxFileBytes, RUN_ARTIFACT_LIMITS.maxFileBytes),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const now = this.clock.now();
    await this.store.transaction(async (tx) => {
      // Concurrent uploads to one model must not create 'a' and 'a/b' side by side.
      await this.store.lock(tx, `strata.logged-model-artifacts.${modelId}`);
      await this.root(projectId, modelId, tx);
      await this.checkShape(tx, modelId, path);
      await tx
        .insertInto('logged_model_artifacts')
        .values({ model_id: modelId, path, project_id: projectId, digest: put.digest, size: put.size, created_at: now })
        .onConflict((oc) => oc.columns(['model_id', 'path']).doUpdateSet({ digest: put.digest, size: put.size, created_at: now }))
        .execute();
    });
    return { path, digest: put.digest, size: put.size, createdAt: now };
  }

  /** A stored file, or a 404 that says so. */
  async file(projectId: ProjectId, modelId: string, path: ArtifactPath): Promise<RunArtifactFile> {
    await this.root(projectId, modelId);
    const row = await this.store.db.selectFrom('logged_model_artifacts').select(['digest', 'size', 'created_at']).where('model_id', '=', modelId).where('path', '=', path).executeTakeFirst();
    if (row === undefined) throw new StrataError('not_found', `No artifact '${path}' in logged model ${modelId}`, { details: { model: modelId, path } });
    return { path, digest: parseDigest(row.digest), size: Number(row.size), createdAt: Number(row.created_at) };
  }

  /** Opens a stored file (or the byte range [start, end) of it) from the project's blob store. */
  async open(projectId: ProjectId, file: RunArtifactFile, range: { readonly start?: number; readonly end?: number } = {}, signal?: AbortSignal): Promise<OpenedRunArtifact> {
    const blobs = await this.blobsFor(projectId);
    const stream = await blobs.get(file.digest, { ...range, ...(signal === undefined ? {} : { signal }) });
    return { ...file, stream };
  }

  /**
   * Lists the direct children of `directory` (the model's root when undefined), one page at a time,
   * in path order; each subdirectory costs one indexed query however many files it holds.
   */
  async list(projectId: ProjectId, modelId: string, directory: ArtifactPath | undefined, options: { readonly pageToken?: string; readonly maxResults?: number } = {}): Promise<RunArtifactPage> {
    await this.root(projectId, modelId);
    return listArtifactTree(
      (from, inclusive, upper, limit) => {
        let q = this.store.db.selectFrom('logged_model_artifacts').select(['path', 'digest', 'size']).where('model_id', '=', modelId).where('path', inclusive ? '>=' : '>', from);
        if (upper !== undefined) q = q.where('path', '<', upper);
        return q.orderBy('path').limit(limit).execute();
      },
      directory,
      options,
    );
  }
}
