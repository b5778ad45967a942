// Staging files for multipart uploads (MLflow's artifact-proxy `mpu/*`): the parts of a file that
// arrive one by one, possibly out of order, before they are joined into one blob.
//
//   <root>/<upload id>/<part number>.<sha256 hex>   a received part, complete and fsynced
//   <root>/<upload id>/.tmp-<random>                a part being received
//
// A part is hashed while it is written to a temp file, fsynced, then renamed to a name carrying its
// digest: a part received twice (a client retry) leaves two files, and the digest the database
// records picks the right one, so a rename racing a database write can never pair a digest with
// other bytes. `concat` streams chosen parts in order with flat memory (one read buffer at a time).
// Upload ids and digests become path segments, so both are re-checked here (32 and 64 lower-case
// hex digits), whatever the caller checked.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError, badRequest } from '../kernel/index.ts';
import { notBytes, tooLarge, uploadInterrupted } from './blob-store.ts';

const UPLOAD_ID = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const READ_HIGH_WATER_MARK = 1 << 20;

/** A part as staged: its number, sha256 (hex) and size. */
export interface StagedPart {
  readonly partNumber: number;
  readonly sha256: string;
  readonly size: number;
}

/** A staging directory of one upload, as `PartStaging.list` sees it. */
export interface StagingEntry {
  readonly uploadId: string;
  /** Last modification of the directory (ms): a part was added or removed then. */
  readonly modifiedAt: number;
  readonly bytes: number;
}

function checkedUploadId(id: string): string {
  if (!UPLOAD_ID.test(id)) throw badRequest(`invalid upload id ${JSON.stringify(id.slice(0, 80))}: expected 32 lower-case hex digits`, { field: 'upload_id' });
  return id;
}

function checkedPart(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw badRequest(`invalid part number ${String(n)}: part numbers start at 1`, { field: 'part_number' });
  return n;
}

const errno = (e: unknown): string | undefined => (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined);

/** Parts of multipart uploads on disk under one root (on the blob store's filesystem). */
export class PartStaging {
  constructor(readonly root: string) {}

  private dir(uploadId: string): string {
    return join(this.root, checkedUploadId(uploadId));
  }

  private partFile(uploadId: string, part: StagedPart | { partNumber: number; sha256: string }): string {
    if (!HEX64.test(part.sha256)) throw badRequest(`invalid part digest ${JSON.stringify(part.sha256.slice(0, 80))}`, { field: 'etag' });
    return join(this.dir(uploadId), `${checkedPart(part.partNumber)}.${part.sha256}`);
  }

  /** Creates the upload's directory (idempotent). */
  async create(uploadId: string): Promise<void> {
    await mkdir(this.dir(uploadId), { recursive: true, mode: 0o700 });
  }

  /**
   * Streams one part into the upload's directory, hashing as it writes; refuses (413, nothing kept)
   * past `maxBytes`. A source that fails leaves nothing either. Resolves once the part is durable.
   */
  async write(uploadId: string, partNumber: number, source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedPart> {
    const dir = this.dir(uploadId);
    checkedPart(partNumber);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let fh: FileHandle | undefined = await open(temp, 'wx', 0o600);
    let kept = false;
    try {
      let size = 0;
      const it = source[Symbol.asyncIterator]();
      for (;;) {
        let step: IteratorResult<Uint8Array>;
        try {
          step = await it.next();
        } catch (e) {
          throw uploadInterrupted(e);
        }
        if (step.done === true) break;
        const chunk: unknown = step.value;
        if (!(chunk instanceof Uint8Array)) throw notBytes();
        size += chunk.byteLength;
        if (size > maxBytes) {
          await it.return?.();
          throw tooLarge(maxBytes);
        }
        hash.update(chunk);
        // One chunk in flight at a time: the socket is paused while the disk catches up (flat memory).
        let view = chunk;
        while (view.byteLength > 0) view = view.subarray((await fh.write(view)).bytesWritten);
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      const part = { partNumber, sha256: hash.digest('hex'), size };
      await rename(temp, this.partFile(uploadId, part));
      kept = true;
      return part;
    } finally {
      if (fh !== undefined) await fh.close().catch(() => undefined);
      if (!kept) await unlink(temp).catch(() => undefined);
    }
  }

  /** The bytes of `parts`, in the order given, read lazily (one buffer at a time). 404 when a part's file is gone. */
  async *concat(uploadId: string, parts: readonly { partNumber: number; sha256: string }[]): AsyncGenerator<Uint8Array> {
    for (const p of parts) {
      const path = this.partFile(uploadId, p);
      const st = await stat(path).catch((e: unknown) => {
        if (errno(e) === 'ENOENT') throw new StrataError('not_found', `part ${p.partNumber} of upload ${uploadId} is no longer staged; upload it again`, { details: { part: p.partNumber } });
        throw e;
      });
      if (!st.isFile()) throw new StrataError('internal', `staged part ${p.partNumber} of upload ${uploadId} is not a file`);
      for await (const chunk of createReadStream(path, { highWaterMark: READ_HIGH_WATER_MARK })) yield chunk as Uint8Array;
    }
  }

  /** Removes the upload's directory and every part in it (nothing when absent). */
  async remove(uploadId: string): Promise<void> {
    await rm(this.dir(uploadId), { recursive: true, force: true });
  }

  /** The upload directories present, with their age and size (for sweeping abandoned ones). */
  async list(): Promise<StagingEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (e) {
      if (errno(e) === 'ENOENT') return [];
      throw e;
    }
    const out: StagingEntry[] = [];
    for (const uploadId of names.filter((n) => UPLOAD_ID.test(n)).sort()) {
      const dir = join(this.root, uploadId);
      const st = await stat(dir).catch(() => undefined);
      if (st === undefined || !st.isDirectory()) continue;
      let bytes = 0;
      for (const f of await readdir(dir).catch(() => [] as string[])) bytes += (await stat(join(dir, f)).catch(() => undefined))?.size ?? 0;
      out.push({ uploadId, modifiedAt: Math.round(st.mtimeMs), bytes });
    }
    return out;
  }
}
