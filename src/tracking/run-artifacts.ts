// The artifact tree of each run: checked artifact paths → content digests in the run's project's
// blob store, kept in `run_artifacts` (directories are implied by the paths). Both front ends (the
// Strata API and MLflow's artifact proxy) go through this service, so the rules hold once:
//
// - Tenancy: every call names the project; a run of another project is a 404, exactly like a
//   missing one, and bytes go to (and come from) that project's own blob store only.
// - Paths arrive already checked (`ArtifactPath`, from `normaliseArtifactPath` at the edge).
//   A path may not be both a file and a directory: writing 'a/b' when 'a' is a file, or 'a' when
//   'a/…' exists, is refused before a byte is read.
// - Bytes stream into the blob store with flat memory; the row is written only once the blob is
//   durable, so a failed or interrupted upload leaves nothing behind. Overwriting a path (MLflow
//   clients re-log files) replaces its digest; the old blob stays for garbage collection, as blobs
//   are shared by every path and run of the project holding the same content.
// - Uploads are telemetry and are not audited (issue 5); deletes are, in the same transaction.
import type { Readable } from 'node:stream';
import type { Actor, AuditLog, Principal } from '../access/index.ts';
import type { ArtifactPath, BlobStore, Digest } from '../blobs/index.ts';
import { parseDigest } from '../blobs/index.ts';
import type { Clock, ProjectId } from '../kernel/index.ts';
import { StrataError, badRequest, conflict } from '../kernel/index.ts';
import type { Store, Tx } from '../store/index.ts';
import { AFTER_SLASH, ARTIFACT_LIST_LIMITS, ancestors, listArtifactTree } from './artifact-tree.ts';
import type { ArtifactTreePage } from './artifact-tree.ts';
import { noRun } from './run-sql.ts';

/** Limits on run artifacts. */
export const RUN_ARTIFACT_LIMITS = {
  /** Largest single file. */
  maxFileBytes: 64 * 2 ** 30,
  /** Entries per listing page by default, and at most. */
  listPage: ARTIFACT_LIST_LIMITS.listPage,
  listPageMax: ARTIFACT_LIST_LIMITS.listPageMax,
} as const;


/** One stored file of a run. */
export interface RunArtifactFile {
  readonly path: ArtifactPath;
  readonly digest: Digest;
  readonly size: number;
  readonly createdAt: number;
}

export interface RunArtifactUpload {
  readonly file: RunArtifactFile;
  /** False when the project's store already held this content (deduplicated). */
  readonly blobCreated: boolean;
}

/** A page of a run's artifact listing. */
export type RunArtifactPage = ArtifactTreePage;

/** A file opened for reading (or a byte range of it). */
export interface OpenedRunArtifact extends RunArtifactFile {
  readonly stream: Readable;
}

/** Where a run lives and its artifact root. */
export interface RunArtifactRoot {
  readonly runId: string;
  readonly experimentId: string;
  readonly projectId: ProjectId;
  readonly artifactUri: string;
  readonly lifecycleStage: string;
}

const actorId = (a: Actor): string => a.principal?.id ?? 'system';

/**
 * May this caller write this run's artifacts? A run-scoped token (a job attempt's) writes only to
 * its own run; other callers are decided by the gate's project roles alone.
 */
export function mayWriteRun(principal: Principal, runId: string): boolean {
  return principal.scope === undefined || principal.scope.runId === runId;
}


export class RunArtifacts {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    /** The blob store of a project (one per project, so deduplication never crosses tenants). */
    private readonly blobsFor: (projectId: string) => Promise<BlobStore>,
  ) {}

  /** The run (in this project) and its artifact root; 404 for a run of another project. */
  async root(projectId: ProjectId, runId: string, db: Tx | Store['db'] = this.store.db): Promise<RunArtifactRoot> {
    const row = await db.selectFrom('runs').select(['experiment_id', 'artifact_uri', 'lifecycle_stage']).where('id', '=', runId).where('project_id', '=', projectId).executeTakeFirst();
    if (row === undefined) throw noRun(runId);
    return { runId, experimentId: row.experiment_id, projectId, artifactUri: row.artifact_uri, lifecycleStage: row.lifecycle_stage };
  }

  private async writableRoot(projectId: ProjectId, runId: string, db: Tx | Store['db']): Promise<RunArtifactRoot> {
    const r = await this.root(projectId, runId, db);
    if (r.lifecycleStage !== 'active') throw badRequest(`The run ${runId} must be in the 'active' state to change its artifacts. Current state is ${r.lifecycleStage}.`, { run: runId });
    return r;
  }

  /** Refuses a path that would make a file of a directory or a directory of a file. */
  private async checkShape(db: Tx | Store['db'], runId: string, path: ArtifactPath): Promise<void> {
    const up = ancestors(path);
    if (up.length > 0) {
      const file = await db.selectFrom('run_artifacts').select('path').where('run_id', '=', runId).where('path', 'in', up).limit(1).executeTakeFirst();
      if (file !== undefined) throw conflict(`cannot store '${path}': '${file.path}' is a file of this run, not a directory`, { path, file: file.path });
    }
    const below = await db
      .selectFrom('run_artifacts')
      .select('path')
      .where('run_id', '=', runId)
      .where('path', '>=', `${path}/`)
      .where('path', '<', `${path}${AFTER_SLASH}`)
      .limit(1)
      .executeTakeFirst();
    if (below !== undefined) throw conflict(`cannot store a file at '${path}': it is a directory of this run (it holds '${below.path}')`, { path, holds: below.path });
  }

  /**
   * Streams one file into the run's tree at `path` (replacing what was there). The body is read
   * only once the run and the path have been checked; nothing is recorded unless the whole body
   * arrived, within `maxBytes`, and (when given) hashed to `expectedDigest`.
   */
  async upload(
    projectId: ProjectId,
    runId: string,
    path: ArtifactPath,
    body: AsyncIterable<Uint8Array>,
    options: { readonly signal?: AbortSignal; readonly expectedDigest?: Digest; readonly maxBytes?: number } = {},
  ): Promise<RunArtifactUpload> {
    await this.writableRoot(projectId, runId, this.store.db);
    await this.checkShape(this.store.db, runId, path);
    const blobs = await this.blobsFor(projectId);
    const put = await blobs.put(body, {
      maxBytes: Math.min(options.maxBytes ?? RUN_ARTIFACT_LIMITS.maxFileBytes, RUN_ARTIFACT_LIMITS.maxFileBytes),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.expectedDigest === undefined ? {} : { expectedDigest: options.expectedDigest }),
    });
    const now = this.clock.now();
    await this.store.transaction(async (tx) => {
      // Concurrent uploads to one run must not create 'a' and 'a/b' side by side.
      await this.store.lock(tx, `strata.run-artifacts.${runId}`);
      await this.writableRoot(projectId, runId, tx);
      await this.checkShape(tx, runId, path);
      await tx
        .insertInto('run_artifacts')
        .values({ run_id: runId, path, project_id: projectId, digest: put.digest, size: put.size, created_at: now })
        .onConflict((oc) => oc.columns(['run_id', 'path']).doUpdateSet({ digest: put.digest, size: put.size, created_at: now }))
        .execute();
    });
    return { file: { path, digest: put.digest, size: put.size, createdAt: now }, blobCreated: put.created };
  }

  /** One file of the run, or undefined when no file is stored at `path`. */
  async stat(projectId: ProjectId, runId: string, path: ArtifactPath): Promise<RunArtifactFile | undefined> {
    await this.root(projectId, runId);
    const row = await this.store.db.selectFrom('run_artifacts').select(['digest', 'size', 'created_at']).where('run_id', '=', runId).where('path', '=', path).executeTakeFirst();
    if (row === undefined) return undefined;
    return { path, digest: parseDigest(row.digest), size: Number(row.size), createdAt: Number(row.created_at) };
  }

  /** A stored file, or a 404 that says so. */
  async file(projectId: ProjectId, runId: string, path: ArtifactPath): Promise<RunArtifactFile> {
    const f = await this.stat(projectId, runId, path);
    if (f === undefined) throw new StrataError('not_found', `No artifact '${path}' in run ${runId}`, { details: { run: runId, path } });
    return f;
  }

  /** Opens a stored file (or the byte range [start, end) of it) from the project's blob store. */
  async open(projectId: ProjectId, file: RunArtifactFile, range: { readonly start?: number; readonly end?: number } = {}, signal?: AbortSignal): Promise<OpenedRunArtifact> {
    const blobs = await this.blobsFor(projectId);
    const stream = await blobs.get(file.digest, { ...range, ...(signal === undefined ? {} : { signal }) });
    return { ...file, stream };
  }

  /**
   * Lists the direct children of `directory` (the run's root when undefined), one page at a time,
   * in path order. Each subdirectory costs one indexed query however many files it holds, so a
   * listing never reads the whole tree. A path that names a file, or nothing, lists nothing.
   */
  async list(projectId: ProjectId, runId: string, directory: ArtifactPath | undefined, options: { readonly pageToken?: string; readonly maxResults?: number } = {}): Promise<RunArtifactPage> {
    await this.root(projectId, runId);
    return listArtifactTree(
      (from, inclusive, upper, limit) => {
        let q = this.store.db.selectFrom('run_artifacts').select(['path', 'digest', 'size']).where('run_id', '=', runId).where('path', inclusive ? '>=' : '>', from);
        if (upper !== undefined) q = q.where('path', '<', upper);
        return q.orderBy('path').limit(limit).execute();
      },
      directory,
      options,
    );
  }

  /**
   * Deletes the file at `path`, or everything under it when it is a directory, or the run's whole
   * tree when `path` is undefined; audited (with the counts) in the same transaction when
   * anything was deleted. The blobs stay for garbage collection (other paths may share them).
   */
  async delete(actor: Actor, projectId: ProjectId, runId: string, path: ArtifactPath | undefined): Promise<{ files: number; bytes: number }> {
    return this.store.transaction(async (tx) => {
      await this.store.lock(tx, `strata.run-artifacts.${runId}`);
      await this.writableRoot(projectId, runId, tx);
      let sel = tx.selectFrom('run_artifacts').select([(eb) => eb.fn.countAll<number | string>().as('n'), (eb) => eb.fn.sum<number | string | null>('size').as('bytes')]).where('run_id', '=', runId);
      let del = tx.deleteFrom('run_artifacts').where('run_id', '=', runId);
      if (path !== undefined) {
        sel = sel.where((eb) => eb.or([eb('path', '=', path), eb.and([eb('path', '>=', `${path}/`), eb('path', '<', `${path}${AFTER_SLASH}`)])]));
        del = del.where((eb) => eb.or([eb('path', '=', path), eb.and([eb('path', '>=', `${path}/`), eb('path', '<', `${path}${AFTER_SLASH}`)])]));
      }
      const counted = await sel.executeTakeFirstOrThrow();
      const files = Number(counted.n);
      const bytes = Number(counted.bytes ?? 0);
      if (files === 0) return { files, bytes };
      await del.execute();
      await this.audit.append(tx, {
        actor: actorId(actor),
        requestId: actor.requestId,
        action: 'run.artifacts.delete',
        resource: `run/${runId}`,
        project: projectId,
        details: { path: path ?? null, files, bytes },
      });
      return { files, bytes };
    });
  }
}
