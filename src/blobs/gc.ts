// Garbage collection of one blob store: the sweep. Blobs have no owner but the database rows that
// name their digests (run, logged-model and job artifacts, model-version files); deleting a row
// leaves its blob, since other rows may share it. The sweep removes the blobs no row names.
//
// Protocol (the caller supplies the database side as `BlobReferences`; api/blob-gc.ts does):
//
// 1. Cutoff. `cutoff = now − grace` is fixed once, before anything is read. Only blobs whose
//    `createdAt` is at or before it may go. A put sets `createdAt`, and a put that deduplicates onto
//    an existing blob refreshes it, so every blob an upload is about to name (the blob is stored
//    first, its row committed after) stays younger than the grace period until that row commits.
// 2. Mark and sweep as one ordered merge. `referencedDigests()` streams the digests the database
//    names, ascending; `store.list()` streams the blobs, ascending; walking both together classifies
//    each blob with flat memory whatever the counts. The mark is only a fast path: nothing is
//    deleted on its word.
// 3. Re-check. Each candidate (unnamed in the mark and old) is looked up again with
//    `isReferenced(digest)` right before it is deleted, so a row committed since the mark keeps it.
// 4. Conditional delete. `store.delete(digest, { unmodifiedSince: cutoff })` removes the blob only
//    if no put refreshed it since the cutoff — decided atomically against a concurrent put of the
//    same content, which either refreshes the blob in time to keep it or stores it anew.
//
// What remains unprotected, precisely:
// - An upload whose put finished more than `grace` before its row commits (a request stalled
//   between the two for longer than the grace period): its blob may be deleted first. Choose a
//   grace period longer than any upload-to-commit gap plus the clock skew between the machines
//   that write blobs and the one that collects.
// - A row that names a blob without putting it — a registry version pinned to a run's existing
//   files, a job manifest restating an uploaded digest — committed after the re-check of step 3,
//   when every other row naming that blob was deleted meanwhile and its last put is older than
//   the grace period.
// - Reads of a blob a racing put has just refreshed may answer 404 for the instant the
//   conditional delete holds it aside (implementation-defined; filesystem: a rename, an lstat and
//   a rename back); the blob itself is kept.
//
// A dry run does steps 1–3 and reports what step 4 would delete; it deletes nothing.
import type { BlobInfo, BlobStore } from './blob-store.ts';
import type { Digest } from './digest.ts';

/** What the database says about one store's blobs. */
export interface BlobReferences {
  /** Every digest rows name in this store, in ascending order (duplicates allowed), read lazily. */
  referencedDigests(): AsyncIterable<string>;
  /** Whether a row names `digest` now: asked for each candidate right before it is deleted. */
  isReferenced(digest: Digest): Promise<boolean>;
}

export interface SweepOptions {
  /** Blobs stored or refreshed after this time (ms) are kept: `now − grace`, fixed before the sweep. */
  readonly cutoff: number;
  /** Classify and re-check, but delete nothing. */
  readonly dryRun: boolean;
  /** Aborting stops the sweep between two blobs; the report then says `complete: false`. */
  readonly signal?: AbortSignal;
}

/** A count of blobs and their bytes. */
export interface BlobTally {
  blobs: number;
  bytes: number;
}

/**
 * What a sweep saw and did. `referenced + young + rescued + reclaimable = scanned`; when applied,
 * `deleted + failed = reclaimable`.
 */
export interface SweepReport {
  /** Every blob listed. */
  readonly scanned: BlobTally;
  /** Named by a row at the mark. */
  readonly referenced: BlobTally;
  /** Unreferenced, but stored or refreshed after the cutoff (uploads whose rows may be in flight). */
  readonly young: BlobTally;
  /** Old candidates kept at the last moment: a row named them by the re-check, or a put refreshed (or a concurrent sweep removed) them before the delete. */
  readonly rescued: BlobTally;
  /** Old and unreferenced after the re-check: deleted unless this is a dry run. */
  readonly reclaimable: BlobTally;
  /** Removed from the store (none in a dry run). */
  readonly deleted: BlobTally;
  /** Deletes that failed with an error (listed in `errors`, at most `MAX_SWEEP_ERRORS`). */
  readonly failed: BlobTally;
  readonly errors: string[];
  /** False when the sweep was stopped (signal) or failed before it listed every blob. */
  complete: boolean;
}

/** Error messages kept in a report; the counts go on. */
export const MAX_SWEEP_ERRORS = 10;

const tally = (): BlobTally => ({ blobs: 0, bytes: 0 });

/** An empty report, to pass to `sweepBlobStore` (so the caller keeps what was done if it throws). */
export function emptySweepReport(): SweepReport {
  return { scanned: tally(), referenced: tally(), young: tally(), rescued: tally(), reclaimable: tally(), deleted: tally(), failed: tally(), errors: [], complete: false };
}

const add = (t: BlobTally, b: BlobInfo): void => {
  t.blobs += 1;
  t.bytes += b.size;
};

/**
 * Sweeps one store (the protocol is in this file's header). Counts go into `report` as the sweep
 * proceeds, so when a reference lookup throws (the database went away) the caller still knows what
 * was deleted before it; no blob is deleted without its re-check. A failed delete is counted and
 * the sweep goes on.
 */
export async function sweepBlobStore(store: BlobStore, references: BlobReferences, options: SweepOptions, report: SweepReport = emptySweepReport()): Promise<SweepReport> {
  const { cutoff, dryRun, signal } = options;
  const marked = references.referencedDigests()[Symbol.asyncIterator]();
  let head: string | undefined;
  let markDone = false;
  /** Advances the mark to `digest`; true when the mark names it. */
  const inMark = async (digest: string): Promise<boolean> => {
    while (!markDone && (head === undefined || head < digest)) {
      const next = await marked.next();
      if (next.done === true) markDone = true;
      else head = next.value;
    }
    return head === digest;
  };
  report.complete = false;
  try {
    for await (const blob of store.list()) {
      if (signal?.aborted === true) return report;
      add(report.scanned, blob);
      if (await inMark(blob.digest)) {
        add(report.referenced, blob);
        continue;
      }
      if (blob.createdAt > cutoff) {
        add(report.young, blob);
        continue;
      }
      if (await references.isReferenced(blob.digest)) {
        add(report.rescued, blob);
        continue;
      }
      if (dryRun) {
        add(report.reclaimable, blob);
        continue;
      }
      let removed: boolean;
      try {
        removed = await store.delete(blob.digest, { unmodifiedSince: cutoff });
      } catch (e) {
        add(report.reclaimable, blob);
        add(report.failed, blob);
        if (report.errors.length < MAX_SWEEP_ERRORS) report.errors.push(`${blob.digest}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      if (removed) {
        add(report.reclaimable, blob);
        add(report.deleted, blob);
      } else {
        add(report.rescued, blob);
      }
    }
    report.complete = true;
    return report;
  } finally {
    await marked.return?.();
  }
}

/**
 * Merges ascending streams into one ascending stream (duplicates kept), reading each lazily: the
 * mark of a store whose references live in several tables.
 */
export async function* mergeAscending(streams: readonly AsyncIterable<string>[]): AsyncGenerator<string> {
  const its = streams.map((s) => s[Symbol.asyncIterator]());
  const heads: (string | undefined)[] = [];
  try {
    for (const it of its) {
      const n = await it.next();
      heads.push(n.done === true ? undefined : n.value);
    }
    for (;;) {
      let min = -1;
      for (const [i, h] of heads.entries()) {
        const best = min < 0 ? undefined : heads[min];
        if (h !== undefined && (best === undefined || h < best)) min = i;
      }
      const it = its[min];
      if (min < 0 || it === undefined) return;
      yield heads[min] as string;
      const n = await it.next();
      heads[min] = n.done === true ? undefined : n.value;
    }
  } finally {
    for (const it of its) await it.return?.();
  }
}

/** Digests read per query when a mark pages through a table. */
const MARK_PAGE = 1000;

/**
 * Keyset-paged distinct digests, ascending: one table's part of a store's mark. `page(after, limit)`
 * returns up to `limit` distinct digests greater than `after`, ascending. Digests are 'sha256:' and
 * lower-case hex, which every collation orders as bytes do; were one not to, the mark would only
 * miss references (never invent them), and the per-candidate re-check still keeps every blob a row
 * names.
 */
export async function* pagedDigests(page: (after: string, limit: number) => Promise<readonly { digest: string }[]>): AsyncGenerator<string> {
  let after = '';
  for (;;) {
    const rows = await page(after, MARK_PAGE);
    for (const r of rows) yield r.digest;
    const last = rows.at(-1);
    if (rows.length < MARK_PAGE || last === undefined) return;
    after = last.digest;
  }
}

/**
 * The references of several owners of one store as one: their digests merged (ascending), and a
 * digest referenced when any owner names it. Each module reports the rows it owns (tracking, jobs,
 * registry); the composition root joins them.
 */
export function unionReferences(parts: readonly BlobReferences[]): BlobReferences {
  return {
    referencedDigests: () => mergeAscending(parts.map((p) => p.referencedDigests())),
    async isReferenced(digest: Digest): Promise<boolean> {
      for (const p of parts) if (await p.isReferenced(digest)) return true;
      return false;
    },
  };
}
