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
import type { ArtifactListing, ArtifactPath, BlobStore } from '../blobs/index.ts';
import { parseDigest } from '../blobs/index.ts';
import type { Clock, ProjectId } from '../kernel/index.ts';
import { StrataError, badRequest, conflict } from '../kernel/index.ts';
import type { Store, Tx } from '../store/index.ts';
import { LOGGED_MODEL_ID_PATTERN, noLoggedModel } from './logged-models.ts';
import type { OpenedRunArtifact, RunArtifactFile, RunArtifactPage } from './run-artifacts.ts';
import { RUN_ARTIFACT_LIMITS } from './run-artifacts.ts';

/** Rows fetched per listing query (a listing skips whole subdirectories with one query each). */
const LIST_BATCH = 512;
/** The character after '/': `dir + '0'` is the first path beyond everything under `dir/`. */
const AFTER_SLASH = '0';
const ID_RE = new RegExp(LOGGED_MODEL_ID_PATTERN);

/** Where a logged model lives and its artifact root. */
export interface LoggedModelArtifactRoot {
  readonly modelId: string;
  readonly experimentId: string;
  readonly projectId: ProjectId;
  readonly artifactUri: string;
}

function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

interface Cursor {
  readonly from: string;
  readonly inclusive: boolean;
}

function encodeCursor(prefix: string, c: Cursor): string {
  return Buffer.from(JSON.stringify({ p: prefix, f: c.from, i: c.inclusive ? 1 : 0 }), 'utf8').toString('base64url');
}

function decodeCursor(prefix: string, token: string): Cursor {
  const bad = (): StrataError => badRequest(`Invalid page token ${JSON.stringify(token.slice(0, 60))}: send back the next_page_token of the previous page of this same listing`, { field: 'page_token' });
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (typeof v !== 'object' || v === null) throw bad();
  const { p, f, i } = v as Record<string, unknown>;
  if (p !== prefix || typeof f !== 'string' || !f.startsWith(prefix) || (i !== 0 && i !== 1)) throw bad();
  return { from: f, inclusive: i === 1 };
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
    const limit = options.maxResults ?? RUN_ARTIFACT_LIMITS.listPage;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > RUN_ARTIFACT_LIMITS.listPageMax) throw badRequest(`max_results must be between 1 and ${RUN_ARTIFACT_LIMITS.listPageMax}`, { field: 'max_results' });
    const prefix = directory === undefined ? '' : `${directory}/`;
    const upper = directory === undefined ? undefined : `${directory}${AFTER_SLASH}`;
    let cursor: Cursor = options.pageToken === undefined || options.pageToken === '' ? { from: prefix, inclusive: true } : decodeCursor(prefix, options.pageToken);
    const found: { entry: ArtifactListing; after: Cursor }[] = [];
    let exhausted = false;
    while (found.length <= limit && !exhausted) {
      let q = this.store.db
        .selectFrom('logged_model_artifacts')
        .select(['path', 'digest', 'size'])
        .where('model_id', '=', modelId)
        .where('path', cursor.inclusive ? '>=' : '>', cursor.from);
      if (upper !== undefined) q = q.where('path', '<', upper);
      const rows = await q.orderBy('path').limit(LIST_BATCH).execute();
      exhausted = rows.length < LIST_BATCH;
      for (const r of rows) {
        const rest = r.path.slice(prefix.length);
        const slash = rest.indexOf('/');
        if (slash === -1) {
          cursor = { from: r.path, inclusive: false };
          found.push({ entry: { kind: 'file', path: r.path as ArtifactPath, size: Number(r.size), digest: parseDigest(r.digest) }, after: cursor });
          if (found.length > limit) break;
        } else {
          const dir = prefix + rest.slice(0, slash);
          cursor = { from: `${dir}${AFTER_SLASH}`, inclusive: true };
          found.push({ entry: { kind: 'directory', path: dir as ArtifactPath }, after: cursor });
          exhausted = false;
          break;
        }
      }
    }
    const page = found.slice(0, limit);
    const entries = page.map((f) => f.entry).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const last = page.at(-1);
    return found.length > limit && last !== undefined ? { entries, nextPageToken: encodeCursor(prefix, last.after) } : { entries };
  }
}
