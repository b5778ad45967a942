// The directory view of a flat artifact table (run artifacts, logged-model artifacts): rows are
// (path, digest, size) in path order; a listing returns the direct children of a directory, one
// page at a time, and skips each subdirectory with one indexed query however many files it holds.
import type { ArtifactListing, ArtifactPath } from '../blobs/index.ts';
import { parseDigest } from '../blobs/index.ts';
import type { StrataError } from '../kernel/index.ts';
import { badRequest } from '../kernel/index.ts';

/** Listing pages: the default size and the largest a caller may ask for. */
export const ARTIFACT_LIST_LIMITS = { listPage: 1000, listPageMax: 10_000 } as const;

/** Rows fetched per listing query. */
const LIST_BATCH = 512;
/** The character after '/': `dir + '0'` is the first path beyond everything under `dir/`. */
export const AFTER_SLASH = '0';

/** The ancestors of 'a/b/c': 'a', 'a/b'. */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

export interface ArtifactTreePage {
  /** Direct children of the listed directory, files with size and digest, subdirectories once each. */
  readonly entries: readonly ArtifactListing[];
  /** Absent on the last page. */
  readonly nextPageToken?: string;
}

/** Rows of one tree in path order: from `from` (inclusive or not), below `upper` when given, at most `limit`. */
export type ArtifactRows = (from: string, inclusive: boolean, upper: string | undefined, limit: number) => Promise<readonly { readonly path: string; readonly digest: string; readonly size: number | string | bigint }[]>;

interface Cursor {
  /** Lower bound of the next query. */
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

/**
 * Lists the direct children of `directory` (the root when undefined), in path order. A path that
 * names a file, or nothing, lists nothing.
 */
export async function listArtifactTree(rows: ArtifactRows, directory: ArtifactPath | undefined, options: { readonly pageToken?: string; readonly maxResults?: number } = {}): Promise<ArtifactTreePage> {
  const limit = options.maxResults ?? ARTIFACT_LIST_LIMITS.listPage;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > ARTIFACT_LIST_LIMITS.listPageMax) {
    throw badRequest(`max_results must be between 1 and ${ARTIFACT_LIST_LIMITS.listPageMax}`, { field: 'max_results' });
  }
  const prefix = directory === undefined ? '' : `${directory}/`;
  const upper = directory === undefined ? undefined : `${directory}${AFTER_SLASH}`;
  let cursor: Cursor = options.pageToken === undefined || options.pageToken === '' ? { from: prefix, inclusive: true } : decodeCursor(prefix, options.pageToken);
  // Collect one entry more than the page so we know whether another page follows.
  const found: { entry: ArtifactListing; after: Cursor }[] = [];
  let exhausted = false;
  while (found.length <= limit && !exhausted) {
    const batch = await rows(cursor.from, cursor.inclusive, upper, LIST_BATCH);
    exhausted = batch.length < LIST_BATCH;
    for (const r of batch) {
      const rest = r.path.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash === -1) {
        cursor = { from: r.path, inclusive: false };
        found.push({ entry: { kind: 'file', path: r.path as ArtifactPath, size: Number(r.size), digest: parseDigest(r.digest) }, after: cursor });
        if (found.length > limit) break;
      } else {
        // A subdirectory: list it once and jump past everything under it.
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
