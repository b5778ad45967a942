// Multipart uploads through MLflow's artifact proxy, as MLflow ≥ 2.9 speaks them
// (mlflow_artifacts.proto CreateMultipartUpload / CompleteMultipartUpload / AbortMultipartUpload;
// the client is http_artifact_repo.py, enabled by MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD for files of
// at least MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE, in parts of MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE):
//
//   POST <prefix>/mpu/create/<dir>     {path: <local file>, num_parts} → {upload_id, credentials:[{part_number, url, headers}]}
//   PUT  <credential url>              the part's raw bytes → 200, ETag: "<sha256 of the part>"
//   POST <prefix>/mpu/complete/<dir>   {path, upload_id, parts:[{part_number, etag, url}]} → {}
//   POST <prefix>/mpu/abort/<dir>      {path, upload_id} → {}
//
// `<dir>` is the directory in the run's (or logged model's) tree and the file is named by the base
// name of the client's local `path`, as MLflow's S3 repository does. The store is not S3, so the
// presigned part URLs are served here: `<prefix>/mpu/parts/<upload id>/<part>?expires=&signature=`,
// where the signature is HMAC-SHA256 over (upload id, part, expiry) keyed by a random secret of that
// upload. The client PUTs parts with a bare `requests.put` — no Authorization header — so the part
// route is public and the signature is its authorisation; a URL is good for one part of one upload
// until the upload expires. Create, complete and abort are authorised exactly like the proxy's PUT.
//
// Parts stream into staging files (blobs/part-staging.ts) with flat memory, each recorded with its
// digest in the database, so an upload survives a restart. Complete checks that every part
// 1..num_parts arrived with the ETag the client names, then streams them in order into the
// project's blob store through the same upload as a PUT (same path rules, same shape checks, row
// written only once the blob is durable). Expired uploads are swept with the blob collector.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { ArtifactPath } from '../../blobs/index.ts';
import { PartStaging } from '../../blobs/index.ts';
import type { Clock, ProjectId } from '../../kernel/index.ts';
import { StrataError, badRequest, forbidden } from '../../kernel/index.ts';
import type { ExpressionBuilder } from 'kysely';
import type { Database, MlflowMultipartUploadsTable, Store } from '../../store/index.ts';
import { RUN_ARTIFACT_LIMITS } from '../../tracking/index.ts';
import type { Message } from './protocol.ts';
import { optInt, reqString } from './protocol.ts';

/** Limits of multipart uploads (S3's, which MLflow's client is written against). */
export const MULTIPART_LIMITS = {
  /** Parts of one upload. */
  maxParts: 10_000,
  /** Bytes of one part. */
  maxPartBytes: 5 * 2 ** 30,
  /** How long an upload (and its part URLs) stays valid. */
  ttlMs: 24 * 3600 * 1000,
  /** How long a complete holds its upload before another may take over (a server that died mid-complete). */
  claimStaleMs: 3600 * 1000,
} as const;

export type MultipartLimits = { readonly [K in keyof typeof MULTIPART_LIMITS]: number };

/** Where staged parts live, under the blobs root (same filesystem as the stores they end in). */
export function multipartStaging(blobsRoot: string): PartStaging {
  return new PartStaging(join(blobsRoot, 'multipart'));
}

/** Random upload ids (32 hex digits) and signing secrets; tests may pass their own. */
export interface MultipartIds {
  uploadId(): string;
  secret(): string;
}

export const randomMultipartIds: MultipartIds = {
  uploadId: () => randomBytes(16).toString('hex'),
  secret: () => randomBytes(32).toString('hex'),
};

/** Whose tree an upload writes to. */
export interface UploadTarget {
  readonly projectId: ProjectId;
  readonly kind: 'run' | 'model';
  /** The run id or the logged model id. */
  readonly targetId: string;
  readonly experimentId: string;
  readonly path: ArtifactPath;
}

/** An upload in progress. */
export interface MultipartUpload extends UploadTarget {
  readonly id: string;
  readonly numParts: number;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** A part as complete names it, checked against what arrived, in part order. */
export interface ReceivedPart {
  readonly partNumber: number;
  readonly sha256: string;
  readonly size: number;
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;
const noUpload = (id: string): StrataError =>
  new StrataError('not_found', `Multipart upload ${id.slice(0, 64)} does not exist (it was completed, aborted or expired, or belongs to another file): create a new one`, { details: { upload_id: id.slice(0, 64) } });

/** An ETag as clients send it back: `"hex"`, `W/"hex"` or bare hex. */
const bareEtag = (e: string): string => e.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1').toLowerCase();

/** A stored upload as read back: PostgreSQL returns its bigint columns as strings. */
type UploadRow = Omit<MlflowMultipartUploadsTable, 'created_by' | 'num_parts' | 'created_at' | 'expires_at' | 'completing_at'> & { num_parts: number | string; created_at: number | string; expires_at: number | string; completing_at: number | string | null };

/** Uploads no complete holds: no claim, or one taken before `staleBefore` (its server died). */
const unclaimed =
  (staleBefore: number) =>
  (eb: ExpressionBuilder<Database, 'mlflow_multipart_uploads'>) =>
    eb.or([eb('completing_at', 'is', null), eb('completing_at', '<', staleBefore)]);

/** 409 RESOURCE_CONFLICT: a complete of the upload is running. */
const beingCompleted = (id: string, what: string): StrataError =>
  new StrataError('conflict', `Multipart upload ${id} is being completed by another request: ${what}`, { details: { upload_id: id, busy: true } });

/** The part list of CompleteMultipartUpload: `[{part_number, etag, url}]`. */
export function completeParts(m: Message): { partNumber: number; etag: string }[] {
  const v = m['parts'];
  if (!Array.isArray(v) || v.length === 0) throw badRequest("Missing value for required parameter 'parts'. See the API docs for more information about request parameters.", { field: 'parts' });
  return v.map((x) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw badRequest("Invalid value for parameter 'parts' supplied: expected a list of {part_number, etag} objects.", { field: 'parts' });
    const part = optInt(x as Message, 'part_number');
    if (part === undefined) throw badRequest("Missing value for required parameter 'parts.part_number'.", { field: 'parts.part_number' });
    return { partNumber: part, etag: reqString(x as Message, 'etag') };
  });
}

/** Multipart uploads: their rows and staged parts. */
export class MlflowMultipartUploads {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    readonly staging: PartStaging,
    readonly limits: MultipartLimits = MULTIPART_LIMITS,
    private readonly ids: MultipartIds = randomMultipartIds,
  ) {}

  /** Starts an upload of `numParts` parts to `target`. */
  async create(createdBy: string, target: UploadTarget, numParts: number): Promise<MultipartUpload & { readonly secret: string }> {
    if (!Number.isSafeInteger(numParts) || numParts < 1 || numParts > this.limits.maxParts) {
      throw badRequest(`Invalid value ${numParts} for parameter 'num_parts': a multipart upload has 1 to ${this.limits.maxParts} parts; raise MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE for larger files`, { field: 'num_parts' });
    }
    const id = this.ids.uploadId();
    const secret = this.ids.secret();
    const now = this.clock.now();
    const expiresAt = now + this.limits.ttlMs;
    await this.staging.create(id);
    try {
      await this.store.db
        .insertInto('mlflow_multipart_uploads')
        .values({ id, project_id: target.projectId, target_kind: target.kind, target_id: target.targetId, experiment_id: target.experimentId, path: target.path, num_parts: numParts, secret, created_by: createdBy, created_at: now, expires_at: expiresAt })
        .execute();
    } catch (e) {
      await this.staging.remove(id);
      throw e;
    }
    return { ...target, id, numParts, createdAt: now, expiresAt, secret };
  }

  private async row(id: string): Promise<UploadRow | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined;
    return this.store.db.selectFrom('mlflow_multipart_uploads').selectAll().where('id', '=', id).executeTakeFirst();
  }

  private static toUpload(r: UploadRow): MultipartUpload {
    return {
      id: r.id,
      projectId: r.project_id as ProjectId,
      kind: r.target_kind === 'model' ? 'model' : 'run',
      targetId: r.target_id,
      experimentId: r.experiment_id,
      path: r.path as ArtifactPath,
      numParts: Number(r.num_parts),
      createdAt: Number(r.created_at),
      expiresAt: Number(r.expires_at),
    };
  }

  /**
   * The live upload `id` of exactly this target (project, tree, path); 404 otherwise — also for
   * an expired upload, or one of another file, so an id names nothing outside its own file.
   */
  async forTarget(id: string, target: UploadTarget): Promise<MultipartUpload> {
    const r = await this.row(id);
    if (r === undefined) throw noUpload(id);
    const u = MlflowMultipartUploads.toUpload(r);
    if (u.projectId !== target.projectId || u.kind !== target.kind || u.targetId !== target.targetId || u.path !== target.path || u.expiresAt < this.clock.now()) throw noUpload(id);
    return u;
  }

  /**
   * Claims `upload` for the complete about to run: one UPDATE, so of two completes racing on either
   * database exactly one wins; the other gets 409. The claim ends with `discard` (success) or
   * `release` (failure), or goes stale after `claimStaleMs`.
   */
  async claim(upload: MultipartUpload): Promise<void> {
    const now = this.clock.now();
    const r = await this.store.db
      .updateTable('mlflow_multipart_uploads')
      .set({ completing_at: now })
      .where('id', '=', upload.id)
      .where(unclaimed(now - this.limits.claimStaleMs))
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return;
    if ((await this.row(upload.id)) === undefined) throw noUpload(upload.id);
    throw beingCompleted(upload.id, 'wait for it to answer; if it fails, complete again');
  }

  /** Ends a failed complete's claim: the upload takes parts, completes and aborts again. */
  async release(id: string): Promise<void> {
    await this.store.db.updateTable('mlflow_multipart_uploads').set({ completing_at: null }).where('id', '=', id).execute();
  }

  /**
   * AbortMultipartUpload: forgets the upload and removes its staged parts — unless a complete holds
   * it (409: the delete is conditional on no live claim, so it cannot slip in between a claim and
   * the join on either database).
   */
  async abort(upload: MultipartUpload): Promise<void> {
    const now = this.clock.now();
    const gone = await this.store.transaction(async (tx) => {
      const r = await tx
        .deleteFrom('mlflow_multipart_uploads')
        .where('id', '=', upload.id)
        .where(unclaimed(now - this.limits.claimStaleMs))
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await tx.deleteFrom('mlflow_multipart_parts').where('upload_id', '=', upload.id).execute();
      return true;
    });
    if (!gone) {
      if ((await this.row(upload.id)) === undefined) throw noUpload(upload.id);
      throw beingCompleted(upload.id, 'abort after it fails, or let it finish');
    }
    await this.staging.remove(upload.id);
  }

  /** Whether a complete holds the upload whose `completing_at` this is (a stale claim does not). */
  private completing(completingAt: number | string | null): boolean {
    return completingAt !== null && Number(completingAt) >= this.clock.now() - this.limits.claimStaleMs;
  }

  /** The query string of part `part`'s presigned URL. */
  static signature(secret: string, uploadId: string, part: number, expires: number): string {
    return createHmac('sha256', Buffer.from(secret, 'hex')).update(`${uploadId}\n${part}\n${expires}`).digest('hex');
  }

  /** Presigned part URLs of a new upload, under `base` (`<origin><prefix>/mpu/parts`). */
  credentials(upload: MultipartUpload & { readonly secret: string }, base: string): { part_number: number; url: string; headers: Record<string, string> }[] {
    const out: { part_number: number; url: string; headers: Record<string, string> }[] = [];
    for (let part = 1; part <= upload.numParts; part++) {
      const sig = MlflowMultipartUploads.signature(upload.secret, upload.id, part, upload.expiresAt);
      out.push({ part_number: part, url: `${base}/${upload.id}/${part}?expires=${upload.expiresAt}&signature=${sig}`, headers: {} });
    }
    return out;
  }

  /**
   * Receives part `part` on its presigned URL: 404 for no such upload, 400 for a part number out of
   * range or a part over the limit (also when its Content-Length says so, before a byte is read),
   * 403 for a bad or expired signature. Returns the part's ETag (its sha256, hex).
   */
  async receivePart(id: string, partRaw: string, query: { expires?: unknown; signature?: unknown }, contentLength: string | undefined, body: AsyncIterable<Uint8Array>): Promise<string> {
    const r = await this.row(id);
    if (r === undefined) throw noUpload(id);
    const upload = MlflowMultipartUploads.toUpload(r);
    const part = /^\d{1,6}$/.test(partRaw) ? Number(partRaw) : Number.NaN;
    if (!(part >= 1 && part <= upload.numParts)) throw badRequest(`Invalid part number ${JSON.stringify(partRaw.slice(0, 20))}: upload ${id} has parts 1 to ${upload.numParts}`, { field: 'part_number' });
    const expires = typeof query.expires === 'string' && /^\d{1,16}$/.test(query.expires) ? Number(query.expires) : Number.NaN;
    const given = typeof query.signature === 'string' && /^[0-9a-f]{64}$/.test(query.signature) ? Buffer.from(query.signature, 'hex') : undefined;
    const wanted = Buffer.from(MlflowMultipartUploads.signature(r.secret, id, part, expires), 'hex');
    if (given === undefined || !Number.isFinite(expires) || !timingSafeEqual(given, wanted)) throw forbidden(`the signature of this part URL is not valid: use the URL mpu/create returned for part ${part}`);
    if (expires < this.clock.now() || upload.expiresAt < this.clock.now()) throw forbidden(`this part URL expired at ${new Date(expires).toISOString()}: start a new multipart upload`);
    const others = await this.store.db
      .selectFrom('mlflow_multipart_parts')
      .select((eb) => eb.fn.sum<number | string | null>('size').as('bytes'))
      .where('upload_id', '=', id)
      .where('part_number', '!=', part)
      .executeTakeFirst();
    const maxBytes = Math.max(0, Math.min(this.limits.maxPartBytes, RUN_ARTIFACT_LIMITS.maxFileBytes - Number(others?.bytes ?? 0)));
    if (contentLength !== undefined && /^\d+$/.test(contentLength) && Number(contentLength) > maxBytes) {
      throw new StrataError('payload_too_large', `part ${part} is ${contentLength} bytes, over the limit of ${maxBytes} bytes per part (and ${RUN_ARTIFACT_LIMITS.maxFileBytes} per file): use smaller parts`, { details: { maxBytes } });
    }
    const staged = await this.staging.write(id, part, body, maxBytes);
    const recorded = await this.store.transaction(async (tx) => {
      const still = await tx.selectFrom('mlflow_multipart_uploads').select(['id', 'completing_at']).where('id', '=', id).executeTakeFirst();
      if (still === undefined) return false;
      // A complete is reading the parts it checked: this part stays out of them. Its staged file
      // is left alone (the same bytes may be a part that complete reads); discard removes it.
      if (this.completing(still.completing_at)) return 'busy';
      await tx
        .insertInto('mlflow_multipart_parts')
        .values({ upload_id: id, part_number: part, etag: staged.sha256, size: staged.size, created_at: this.clock.now() })
        .onConflict((oc) => oc.columns(['upload_id', 'part_number']).doUpdateSet({ etag: staged.sha256, size: staged.size, created_at: this.clock.now() }))
        .execute();
      return true;
    });
    if (recorded === 'busy') throw beingCompleted(id, 'a part cannot change while the parts are joined; if the complete fails, upload the part again');
    if (!recorded) {
      // Aborted (or completed) while this part arrived: leave nothing behind.
      await this.staging.remove(id);
      throw noUpload(id);
    }
    return staged.sha256;
  }

  /**
   * The parts complete names, checked: every part 1..num_parts exactly once, each received with
   * the ETag given; in part order. 400 with what is wrong otherwise.
   */
  async checkParts(upload: MultipartUpload, named: readonly { partNumber: number; etag: string }[]): Promise<ReceivedPart[]> {
    const seen = new Set<number>();
    for (const p of named) {
      if (p.partNumber < 1 || p.partNumber > upload.numParts) throw badRequest(`Invalid part number ${p.partNumber}: upload ${upload.id} has parts 1 to ${upload.numParts}`, { field: 'parts.part_number' });
      if (seen.has(p.partNumber)) throw badRequest(`Part ${p.partNumber} is named twice in 'parts'`, { field: 'parts.part_number' });
      seen.add(p.partNumber);
    }
    const rows = await this.store.db.selectFrom('mlflow_multipart_parts').select(['part_number', 'etag', 'size']).where('upload_id', '=', upload.id).execute();
    const got = new Map(rows.map((r) => [Number(r.part_number), { etag: r.etag, size: Number(r.size) }]));
    const missing: number[] = [];
    for (let n = 1; n <= upload.numParts; n++) if (!seen.has(n) || !got.has(n)) missing.push(n);
    if (missing.length > 0) {
      const list = missing.slice(0, 20).join(', ') + (missing.length > 20 ? ', …' : '');
      throw badRequest(`Multipart upload ${upload.id} is missing part(s) ${list}: upload every part 1 to ${upload.numParts} and name each in 'parts'`, { field: 'parts', missing: missing.slice(0, 100) });
    }
    const out: ReceivedPart[] = [];
    let total = 0;
    for (const p of [...named].sort((a, b) => a.partNumber - b.partNumber)) {
      const r = got.get(p.partNumber) as { etag: string; size: number };
      if (bareEtag(p.etag) !== r.etag) throw badRequest(`The ETag of part ${p.partNumber} does not match the part received (${JSON.stringify(p.etag.slice(0, 80))}); upload the part again or send the ETag its PUT returned`, { field: 'parts.etag', part: p.partNumber });
      total += r.size;
      out.push({ partNumber: p.partNumber, sha256: r.etag, size: r.size });
    }
    if (total > RUN_ARTIFACT_LIMITS.maxFileBytes) throw new StrataError('payload_too_large', `the parts add up to ${total} bytes, over the limit of ${RUN_ARTIFACT_LIMITS.maxFileBytes} bytes per file`, { details: { maxBytes: RUN_ARTIFACT_LIMITS.maxFileBytes } });
    return out;
  }

  /** The bytes of the checked parts, in order (flat memory). */
  body(upload: MultipartUpload, parts: readonly ReceivedPart[]): AsyncIterable<Uint8Array> {
    return this.staging.concat(upload.id, parts);
  }

  /** Forgets an upload and removes its staged parts (complete, once the file is recorded). */
  async discard(id: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx.deleteFrom('mlflow_multipart_parts').where('upload_id', '=', id).execute();
      await tx.deleteFrom('mlflow_multipart_uploads').where('id', '=', id).execute();
    });
    await this.staging.remove(id);
  }
}

/** What a sweep of multipart uploads removed (or, in a dry run, would remove). */
export interface MultipartSweepReport {
  /** Uploads past their expiry: rows and staged parts. */
  readonly expired: number;
  /** Staging directories no upload row names, older than the cutoff (a crash between the two). */
  readonly orphaned: number;
  /** Bytes of staged parts of both. */
  readonly bytes: number;
}

/**
 * Removes expired uploads (rows and staged parts) and staging directories no row names that were
 * last touched before `orphanCutoff`. The blob collector runs it (api/blob-gc.ts).
 */
export async function sweepMultipartUploads(store: Store, staging: PartStaging, options: { readonly now: number; readonly orphanCutoff: number; readonly dryRun: boolean }): Promise<MultipartSweepReport> {
  // An expired upload a complete still holds (it started before the expiry) is left to that complete.
  const free = unclaimed(options.now - MULTIPART_LIMITS.claimStaleMs);
  const expiredIds = (await store.db.selectFrom('mlflow_multipart_uploads').select('id').where('expires_at', '<', options.now).where(free).execute()).map((r) => r.id);
  const expired = new Set(expiredIds);
  const entries = await staging.list();
  const bytesOf = new Map(entries.map((e) => [e.uploadId, e.bytes]));
  const live = new Set(
    entries.length === 0
      ? []
      : (
          await store.db
            .selectFrom('mlflow_multipart_uploads')
            .select('id')
            .where('id', 'in', entries.map((e) => e.uploadId))
            .execute()
        ).map((r) => r.id),
  );
  const orphans = entries.filter((e) => !live.has(e.uploadId) && e.modifiedAt <= options.orphanCutoff).map((e) => e.uploadId);
  let bytes = 0;
  for (const id of [...expired, ...orphans]) bytes += bytesOf.get(id) ?? 0;
  if (!options.dryRun) {
    for (const id of expired) {
      const gone = await store.transaction(async (tx) => {
        const r = await tx.deleteFrom('mlflow_multipart_uploads').where('id', '=', id).where('expires_at', '<', options.now).where(free).executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) return false;
        await tx.deleteFrom('mlflow_multipart_parts').where('upload_id', '=', id).execute();
        return true;
      });
      if (gone) await staging.remove(id);
    }
    for (const id of orphans) await staging.remove(id);
  }
  return { expired: expired.size, orphaned: orphans.length, bytes };
}
