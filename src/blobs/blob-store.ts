// The `BlobStore` port: immutable, content-addressed byte objects, streamed in and out with flat
// memory. One contract (contract.ts) pins the behaviour every implementation must show: the
// filesystem store today, an S3-compatible store later.
//
// Blobs have no names: the user-visible artifact trees (project / run / job → logical path →
// digest) live in the database; artifact-path.ts holds the path policy for those names.
import type { Readable } from 'node:stream';
import { StrataError, badRequest } from '../kernel/index.ts';
import type { Digest } from './digest.ts';

/** Options for `BlobStore.put`. */
export interface PutOptions {
  /** When given, the upload is refused (400, nothing stored) unless the content hashes to it. */
  readonly expectedDigest?: Digest;
  /** Refuse (413, nothing stored) as soon as more than this many bytes have arrived. */
  readonly maxBytes?: number;
  /** Aborting rejects the put with the signal's reason and stores nothing. */
  readonly signal?: AbortSignal;
}

/** What a successful `put` stored. */
export interface PutResult {
  readonly digest: Digest;
  readonly size: number;
  /** False when the content was already present (deduplicated: no second copy was kept). */
  readonly created: boolean;
}

/**
 * A byte range of a blob: `start` inclusive, `end` exclusive (like `Buffer.subarray`), both
 * optional. `end` beyond the size is clamped (as HTTP does); `start` beyond the size is refused.
 * An HTTP `Range: bytes=a-b` header is `{ start: a, end: b + 1 }`.
 */
export interface GetOptions {
  readonly start?: number;
  readonly end?: number;
  /** Aborting destroys the returned stream with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** What is known about a stored blob without reading it. */
export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
  /**
   * When the blob was last stored (ms since the epoch, on the store's clock): set by the put that
   * created it and refreshed by every put that deduplicates onto it. The garbage collector's grace
   * period is measured from this time (blobs/gc.ts).
   */
  readonly createdAt: number;
}

/** Options for `BlobStore.delete`. */
export interface DeleteOptions {
  /**
   * Delete only if the blob's `createdAt` is at or before this time (ms); otherwise keep it and
   * resolve `false`. Decided atomically with respect to a concurrent put of the same content: that
   * put either refreshes `createdAt` before the decision (the blob is kept) or finds the blob gone
   * and stores it anew — it never returns a digest whose blob this delete then removes.
   */
  readonly unmodifiedSince?: number;
}

/** Options for `BlobStore.list`. */
export interface ListOptions {
  /** Start strictly after this digest (a resumable cursor; listing is in ascending digest order). */
  readonly after?: Digest;
}

/**
 * Content-addressed storage of immutable blobs.
 *
 * Contract (enforced by `runBlobStoreContract`):
 * - `put` consumes the stream once, hashing while it writes; memory stays flat whatever the size.
 *   The object becomes visible atomically and only once complete and durable. A put that fails
 *   (source error, abort, `maxBytes`, digest mismatch) leaves nothing behind, and stops its source
 *   the way an early exit from `for await` does (a Node stream is destroyed). As with
 *   `Writable.write`, chunks must not be modified after they are yielded.
 * - Equal content is stored once; concurrent puts of the same content all succeed with the same
 *   digest and exactly one of them reports `created: true`.
 * - Digests passed in are re-checked: a malformed digest is a 400, never a path.
 * - A put that deduplicates refreshes the blob's `createdAt`, so a re-used blob is never older
 *   than its latest upload.
 * - `delete` is for garbage collection: it is safe only for digests the database no longer
 *   references; `unmodifiedSince` closes the race with an upload of the same content that is
 *   about to reference it (the protocol is in blobs/gc.ts).
 */
export interface BlobStore {
  /** Streams `source` into the store; resolves once the object is durable. */
  put(source: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<PutResult>;
  /** Opens a stream of the blob (or a range of it). Rejects with 404 when absent. */
  get(digest: Digest, options?: GetOptions): Promise<Readable>;
  /** Size and time of a stored blob, or `undefined` when absent. */
  stat(digest: Digest): Promise<BlobInfo | undefined>;
  /** True when the blob is present. */
  has(digest: Digest): Promise<boolean>;
  /** Removes a blob; resolves `true` if it was present (and, with `unmodifiedSince`, old enough) and is now gone. */
  delete(digest: Digest, options?: DeleteOptions): Promise<boolean>;
  /** Every stored blob in ascending digest order, read lazily (flat memory for any count). */
  list(options?: ListOptions): AsyncIterable<BlobInfo>;
}

/** 413: an upload exceeded its byte limit. */
export function tooLarge(maxBytes: number): StrataError {
  return new StrataError('payload_too_large', `upload exceeds the limit of ${maxBytes} bytes: send a smaller file or raise the limit`, {
    details: { maxBytes },
  });
}

/** 400: the content does not hash to the digest the client announced. */
export function digestMismatch(expected: Digest, actual: Digest): StrataError {
  return badRequest(`content digest mismatch: expected ${expected} but the uploaded bytes hash to ${actual}; nothing was stored, retry the upload`, {
    field: 'digest',
    expected,
    actual,
  });
}

/** 400: the source stream failed before its end (client disconnected, upstream error). Retryable. */
export function uploadInterrupted(cause: unknown): StrataError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new StrataError('bad_request', `upload stream failed before it ended (${why}); nothing was stored, retry the upload`, {
    cause,
    retryable: true,
    details: { reason: 'upload_interrupted' },
  });
}

/** 400: a chunk of the source was not bytes (a string or an object-mode value). */
export function notBytes(): StrataError {
  return badRequest('upload stream produced a chunk that is not bytes: send binary content (Uint8Array/Buffer chunks)', {
    reason: 'not_bytes',
  });
}

export interface ResolvedRange {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

/**
 * Validates a requested range against a blob's size (shared by every implementation so they
 * agree to the byte). Throws 400 for malformed or unsatisfiable ranges; the error's
 * `details.reason` is `'range_not_satisfiable'` when `start` lies beyond the end, so the HTTP layer
 * can answer 416 with `Content-Range: bytes *\/size`.
 */
export function resolveRange(size: number, options: GetOptions = {}): ResolvedRange {
  const { start = 0, end = size } = options;
  for (const [name, v] of [['start', start], ['end', end]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw badRequest(`invalid range ${name} ${String(v)}: use a non-negative integer byte offset`, { field: name });
    }
  }
  if (start > size) {
    throw badRequest(`range not satisfiable: start ${start} is beyond the blob size ${size}`, {
      reason: 'range_not_satisfiable',
      size,
    });
  }
  if (end < start) {
    throw badRequest(`invalid range: end ${end} is before start ${start} (end is exclusive)`, { field: 'end' });
  }
  return { start, end: Math.min(end, size) };
}
