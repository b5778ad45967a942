// Moves an attempt's files between its working directory and the server's blob store: before the
// process starts, the checkpoint an earlier attempt committed is downloaded into
// STRATA_CHECKPOINT_DIR (on whatever node that attempt ran); after it ends, the declared outputs
// and the checkpoint directory are streamed up and committed as manifests. Files are streamed both
// ways, so memory stays flat whatever their size. Paths are resolved inside the attempt directory
// and symlinks are never followed, so a job cannot make the agent upload files outside it.
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, rename } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { normaliseArtifactPath, resolveInside } from '../blobs/index.ts';
import type { ArtifactFile, ArtifactKind, CheckpointManifest } from '../jobs/index.ts';
import type { StrataClient } from '../sdk/index.ts';

const LEASE_HEADER = 'x-strata-lease-token';

/** Where one attempt's calls go and how they are fenced. */
export interface AttemptChannel {
  readonly client: StrataClient;
  /** `/api/v1/agent/nodes/{node}/attempts/{attempt}` */
  readonly base: string;
  readonly leaseToken: string;
}

/** Downloads every file of `checkpoint` into `dir` (created if needed); each file lands atomically. */
export async function restoreCheckpoint(ch: AttemptChannel, checkpoint: CheckpointManifest, dir: string): Promise<{ files: number; bytes: number }> {
  await mkdir(dir, { recursive: true });
  let bytes = 0;
  for (const f of checkpoint.files) {
    // The server normalised the path when it was committed; check again here (a fresh directory
    // that only this agent writes, so no symlink can be in the way).
    const target = await resolveInside(dir, f.path, { symlinks: 'refuse' });
    await mkdir(dirname(target), { recursive: true });
    const { body } = await ch.client.download(`${ch.base}/checkpoint/${encodeURIComponent(f.digest)}`, { headers: { [LEASE_HEADER]: ch.leaseToken } });
    const part = `${target}.strata-part`;
    await pipeline(Readable.fromWeb(body), createWriteStream(part, { mode: 0o600 }));
    await rename(part, target);
    bytes += f.size;
  }
  return { files: checkpoint.files.length, bytes };
}

/** Regular files under `root` (recursively), as paths relative to it with `/` separators; symlinks and other kinds are skipped. */
async function filesUnder(root: string, skipped: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(root, p).split(sep).join('/'));
      else skipped.push(relative(root, p).split(sep).join('/'));
    }
  };
  await walk(root);
  return out.sort();
}

async function uploadFile(ch: AttemptChannel, absolute: string): Promise<{ digest: string; size: number }> {
  return ch.client.upload<{ digest: string; size: number }>('PUT', `${ch.base}/blobs`, createReadStream(absolute), { headers: { [LEASE_HEADER]: ch.leaseToken } });
}

/**
 * Uploads the files of `paths` (relative to `attemptDir`; a directory means every regular file
 * under it) and commits them as the attempt's `kind`. Returns what was committed and what was
 * missing or skipped (for the job's log).
 */
export async function uploadArtifacts(
  ch: AttemptChannel,
  kind: ArtifactKind,
  attemptDir: string,
  paths: readonly string[],
): Promise<{ files: number; bytes: number; missing: string[]; skipped: string[] }> {
  const files: ArtifactFile[] = [];
  const missing: string[] = [];
  const skipped: string[] = [];
  for (const p of paths) {
    let abs: string;
    try {
      abs = await resolveInside(attemptDir, p, { symlinks: 'refuse' });
    } catch (e) {
      skipped.push(`${p} (${(e as Error).message})`);
      continue;
    }
    const st = await lstat(abs).catch(() => undefined);
    if (st === undefined) {
      missing.push(p);
      continue;
    }
    const rel = normaliseArtifactPath(p);
    if (st.isFile()) {
      const up = await uploadFile(ch, abs);
      files.push({ path: rel, digest: up.digest, size: up.size });
    } else if (st.isDirectory()) {
      for (const f of await filesUnder(abs, skipped)) {
        const up = await uploadFile(ch, join(abs, ...f.split('/')));
        files.push({ path: kind === 'checkpoint' ? f : `${rel}/${f}`, digest: up.digest, size: up.size });
      }
    } else {
      skipped.push(`${p} (not a regular file or directory)`);
    }
  }
  if (files.length === 0) return { files: 0, bytes: 0, missing, skipped };
  await ch.client.post(`${ch.base}/artifacts`, { leaseToken: ch.leaseToken, kind, files });
  return { files: files.length, bytes: files.reduce((n, f) => n + f.size, 0), missing, skipped };
}
