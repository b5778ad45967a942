// The offline verifier behind `strata audit verify`: streams the stored log once and checks it
// against a signed checkpoint kept outside the database. It needs only the rows, the checkpoint(s)
// and the public key — no server, no trust in the database (research/security-reliability.md §1.2
// P3/P4). Failures are results naming the first bad entry, not exceptions.

import type { KeyObject } from 'node:crypto';
import { badRequest } from '../../kernel/index.ts';
import { auditEntryProblem, rowCanonicalJson } from './entry.ts';
import { inlineLeafHasher, workerLeafHasher, type LeafHasher, type LeafHashBatch } from './leaf-hasher.ts';
import { signedCheckpointProblem, verifyCheckpoint, publicKeyId, type SignedCheckpoint } from './checkpoint.ts';
import { HASH_SIZE, MerkleAccumulator, hashFromHex, isHashHex, sha256Hex, verifyConsistency } from './merkle.ts';

/** What `verifyAuditLog` checks. */
export interface VerifyAuditLogInput {
  /** Rows as stored (`AuditEntry` plus its hex `leafHash`), in `seq` order. Untrusted: every field is checked. */
  readonly entries: Iterable<unknown> | AsyncIterable<unknown>;
  /** A checkpoint saved earlier, outside the database (the trust anchor). */
  readonly checkpoint: SignedCheckpoint;
  /** The log's Ed25519 public key, obtained out of band. */
  readonly publicKey: KeyObject;
  /** Optionally the server's newest checkpoint, which must extend `checkpoint`. */
  readonly latest?: SignedCheckpoint;
  /**
   * Optionally the RFC 9162 §2.1.4 consistency proof (hex) from `checkpoint.size` to `latest.size`.
   * Redundant when every row is present (both roots are then recomputed from the rows), but it
   * checks the server's proof API and fails fast on a fork before the scan.
   */
  readonly consistencyProof?: readonly string[];
  /**
   * Hash on a worker thread once the log passes two batches (default true): with a free core this
   * cut the time for a million entries by about a quarter. False keeps everything on this thread.
   */
  readonly parallel?: boolean;
  /** Rows per batch (a power of two; default 256). Tests use small batches to cross batch edges. */
  readonly batchSize?: number;
}

/** The verdict. `ok: false` names the first problem found and, where one is to blame, its `seq`. */
export type VerifyAuditLogResult =
  | {
      readonly ok: true;
      /** Size and root of the newest checkpoint the log was verified against. */
      readonly size: number;
      readonly root: string;
      /** That checkpoint, e.g. for the CLI to save as its next trust anchor. */
      readonly checkpoint: SignedCheckpoint;
      /** Rows read; each had a correct leaf hash and its place in the sequence. */
      readonly checked: number;
      /** Rows after `size`: hash- and sequence-checked, but not yet covered by any signed checkpoint. */
      readonly unverified: number;
    }
  | { readonly ok: false; readonly reason: string; readonly seq?: number };

type Failure = Extract<VerifyAuditLogResult, { ok: false }>;

const fail = (reason: string, seq?: number): Failure => (seq === undefined ? { ok: false, reason } : { ok: false, reason, seq });

interface Target {
  readonly size: number;
  readonly root: string;
  readonly name: string;
}

/** Rows per batch handed to the hashing thread, and how many batches may be in flight at once. */
const DEFAULT_BATCH_SIZE = 256;
const MAX_IN_FLIGHT = 4;
/** Rows per chunk when hashing on the calling thread. */
const INLINE_CHUNK = 256;

/** A run of consecutive rows that passed the shape, sequence and stored-hash format checks. */
interface Batch {
  readonly first: number;
  /** Their stored leaf hashes (32 bytes each), to compare with the recomputed ones. */
  readonly stored: Buffer;
  /** Whether to ask for the batch's subtree root (a full, aligned batch with no checkpoint inside it). */
  readonly subtree: boolean;
}

/**
 * The tree side of the scan: compares recomputed leaf hashes with the stored ones, feeds the Merkle
 * accumulator (O(log n) state, so memory stays flat however long the log) and checks each
 * checkpoint's root when the tree reaches its size.
 */
class TreeCheck {
  readonly #acc = new MerkleAccumulator();
  readonly #targets: Target[];
  #size = 0;

  constructor(targets: readonly Target[]) {
    this.#targets = [...targets].sort((a, b) => a.size - b.size);
  }

  get size(): number {
    return this.#size;
  }

  /** True if a checkpoint size falls strictly inside (from, to), so the tree must be built leaf by leaf there. */
  targetInside(from: number, to: number): boolean {
    return this.#targets.some((t) => t.size > from && t.size < to);
  }

  /** Checks targets of size 0 (before any row). */
  start(): Failure | undefined {
    return this.#checkTargets();
  }

  /** Checks one hashed batch against its stored hashes, then adds it to the tree (in log order). */
  settle(batch: Batch, hashed: LeafHashBatch): Failure | undefined {
    const { first, stored } = batch;
    const { leafHashes } = hashed;
    const n = stored.length / HASH_SIZE;
    if (leafHashes.length !== stored.length) throw new Error(`internal: ${leafHashes.length / HASH_SIZE} hashes for ${n} rows`);
    if (!leafHashes.equals(stored)) {
      // Something differs: find the first row whose stored hash is not its recomputed one.
      for (let i = 0; i < n; i++) {
        const at = HASH_SIZE * i;
        if (leafHashes.compare(stored, at, at + HASH_SIZE, at, at + HASH_SIZE) !== 0) {
          return fail(`entry ${first + i}: stored leaf hash does not match its content (edited row?)`, first + i);
        }
      }
    }
    if (hashed.subtreeRoot !== undefined && batch.subtree) {
      this.#acc.appendSubtreeHex(hashed.subtreeRoot, Math.log2(n));
      this.#size += n;
      return this.#checkTargets();
    }
    // Leaf by leaf, stopping at each checkpoint size that falls inside the batch.
    let i = 0;
    while (i < n) {
      const next = this.#targets[0]?.size ?? Number.POSITIVE_INFINITY;
      const upto = Math.min(n, Math.max(i + 1, next - first));
      this.#acc.appendLeaves(leafHashes.subarray(HASH_SIZE * i, HASH_SIZE * upto));
      this.#size = first + upto;
      i = upto;
      const f = this.#checkTargets();
      if (f !== undefined) return f;
    }
    return undefined;
  }

  /** Adds one verified leaf hash (64 hex digits) in log order and checks any checkpoint at the new size. */
  appendLeafHex(leafHex: string): Failure | undefined {
    this.#acc.appendHex(leafHex);
    this.#size += 1;
    return this.#checkTargets();
  }

  /** After the last row: every checkpoint must have been reached (else the log was truncated). */
  finish(): Failure | undefined {
    const missed = this.#targets.find((t) => t.size > this.#size);
    if (missed === undefined) return undefined;
    return fail(`log has ${this.#size} entries but the ${missed.name} was signed over ${missed.size} (truncated?)`, this.#size);
  }

  #checkTargets(): Failure | undefined {
    while (this.#targets.length > 0 && (this.#targets[0] as Target).size === this.#size) {
      const t = this.#targets.shift() as Target;
      if (this.#acc.root().toString('hex') !== t.root) {
        return fail(
          `root at size ${t.size} does not match the ${t.name} (rows below ${t.size} rewritten along with their leaf hashes, or a different log?)`,
        );
      }
    }
    return undefined;
  }
}

/** The row side of the scan: shape, canonical encoding and sequence, one row at a time. */
function checkRow(row: unknown, p: number): string | Failure {
  let text: string | undefined;
  try {
    text = rowCanonicalJson(row);
  } catch (err) {
    return fail(`entry ${p}: cannot be encoded canonically (${err instanceof Error ? err.message : String(err)})`, p);
  }
  if (text === undefined) return fail(`entry ${p}: malformed row (${auditEntryProblem(row) ?? 'unknown problem'})`, p);
  const { seq, leafHash } = row as { seq: number; leafHash: unknown };
  if (seq !== p) {
    if (seq > p) {
      const from = p === 0 ? 'the log starts at' : `sequence jumps from ${p - 1} to`;
      return fail(`entry ${p} missing: ${from} ${seq} (deleted or reordered row?)`, p);
    }
    return fail(`entry ${p}: sequence goes back from ${p - 1} to ${seq} (duplicated or reordered row?)`, p);
  }
  if (!isHashHex(leafHash)) return fail(`entry ${p}: stored leaf hash is missing or not 64 lower-case hex digits`, p);
  return text;
}

function checkpointFailure(c: unknown, name: string, publicKey: KeyObject): Failure | undefined {
  const problem = signedCheckpointProblem(c);
  if (problem !== undefined) return fail(`the ${name} is malformed: ${problem}`);
  if (!verifyCheckpoint(c, publicKey)) {
    let keyId = 'unusable key';
    try {
      keyId = publicKeyId(publicKey);
    } catch {
      // reported as unusable
    }
    return fail(`the ${name}'s signature does not verify with the given public key (checkpoint key ${(c as SignedCheckpoint).keyId}, given key ${keyId})`);
  }
  return undefined;
}

function isAsyncIterable(x: Iterable<unknown> | AsyncIterable<unknown>): x is AsyncIterable<unknown> {
  return typeof (x as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
}

/**
 * Verifies a stored audit log against a signed checkpoint, streaming the rows once:
 * 1. the checkpoint (and `latest`, if given) are well formed and signed by `publicKey`; `latest`
 *    is for the same log, not older, and consistent with `checkpoint` (RFC 9162 §2.1.4.2);
 * 2. every row is well formed, `seq` runs 0, 1, 2, … without gaps, and its stored leaf hash equals
 *    SHA-256(0x00 || canonical JSON) recomputed from its content (RFC 9162 §2.1.1);
 * 3. the Merkle root at each checkpoint's size equals the signed root, and the log is not shorter.
 * Rows beyond the newest checkpoint are still checked by (2) and counted as `unverified`.
 * Never throws for bad data. It rejects only if the row source throws, the hashing thread dies, or
 * `batchSize` is not a power of two.
 */
export async function verifyAuditLog(input: VerifyAuditLogInput): Promise<VerifyAuditLogResult> {
  const targets = checkpointTargets(input);
  if (!Array.isArray(targets)) return targets;
  const tree = new TreeCheck(targets);
  const started = tree.start();
  if (started !== undefined) return started;
  const rowFailure = await scan(input.entries, tree, input.batchSize ?? DEFAULT_BATCH_SIZE, input.parallel ?? true);
  if (rowFailure !== undefined) return rowFailure;
  return finishResult(tree, input);
}

/** The checkpoints' signatures and mutual consistency, and the (size, root) pairs the rows must reach. */
function checkpointTargets(input: Pick<VerifyAuditLogInput, 'checkpoint' | 'latest' | 'publicKey' | 'consistencyProof'>): Target[] | Failure {
  const { checkpoint, latest, publicKey, consistencyProof } = input;
  const anchorFailure = checkpointFailure(checkpoint, 'checkpoint', publicKey);
  if (anchorFailure !== undefined) return anchorFailure;
  const targets: Target[] = [{ size: checkpoint.size, root: checkpoint.root, name: 'checkpoint' }];

  if (latest !== undefined) {
    const latestFailure = checkpointFailure(latest, 'latest checkpoint', publicKey);
    if (latestFailure !== undefined) return latestFailure;
    if (latest.logId !== checkpoint.logId) {
      return fail(`the latest checkpoint is for log ${latest.logId}, not ${checkpoint.logId}`);
    }
    if (latest.size < checkpoint.size) {
      return fail(`the latest checkpoint (size ${latest.size}) is older than the saved one (size ${checkpoint.size}): the log was rolled back`);
    }
    if (latest.size === checkpoint.size && latest.root !== checkpoint.root) {
      return fail(`two signed checkpoints for size ${latest.size} have different roots: the log has forked (split view)`);
    }
    if (consistencyProof !== undefined) {
      const proof: Buffer[] = [];
      for (const [i, h] of consistencyProof.entries()) {
        const b = hashFromHex(h);
        if (b === undefined) return fail(`consistency proof element ${i} is not 64 lower-case hex digits`);
        proof.push(b);
      }
      const ok = verifyConsistency(
        checkpoint.size,
        latest.size,
        Buffer.from(checkpoint.root, 'hex'),
        Buffer.from(latest.root, 'hex'),
        proof,
      );
      if (!ok) {
        return fail(`the consistency proof from size ${checkpoint.size} to ${latest.size} does not verify: the log was rewritten or forked between the two checkpoints`);
      }
    }
    if (latest.size !== checkpoint.size) targets.push({ size: latest.size, root: latest.root, name: 'latest checkpoint' });
  }
  return targets;
}

function finishResult(tree: TreeCheck, input: Pick<VerifyAuditLogInput, 'checkpoint' | 'latest'>): VerifyAuditLogResult {
  const truncated = tree.finish();
  if (truncated !== undefined) return truncated;
  const newest = input.latest ?? input.checkpoint;
  return {
    ok: true,
    size: newest.size,
    root: newest.root,
    checkpoint: newest,
    checked: tree.size,
    unverified: tree.size - newest.size,
  };
}

/**
 * Streams the rows through the row checks, in batches, to the leaf hasher and back into the tree
 * check, in order. A row problem is reported only after every earlier row has been hashed and
 * checked, so the failure returned is always the first in log order.
 *
 * On the calling thread, rows go in small chunks that are hashed and settled at once, so the entry
 * texts die young (holding thousands of them across garbage collections doubled the run time). The
 * worker thread starts once the log has shown itself long enough (two batches) to repay its start-up;
 * then whole batches go to it, at most MAX_IN_FLIGHT at a time so memory stays bounded, and only
 * the stored hashes wait on this side.
 */
async function scan(
  entries: Iterable<unknown> | AsyncIterable<unknown>,
  tree: TreeCheck,
  batchSize: number,
  parallel: boolean,
): Promise<Failure | undefined> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || (batchSize & (batchSize - 1)) !== 0) {
    throw badRequest(`batchSize must be a power of two; got ${String(batchSize)}`);
  }
  const inlineChunk = Math.min(batchSize, INLINE_CHUNK); // both powers of two, so chunks stay batch-aligned
  const inFlight: { batch: Batch; hashed: Promise<LeafHashBatch> }[] = [];
  let worker: LeafHasher | undefined;
  let workerTried = false;
  let chunk = inlineChunk;
  let texts: string[] = [];
  let stored = Buffer.allocUnsafe(HASH_SIZE * chunk);
  let first = 0;

  const drainOne = async (): Promise<Failure | undefined> => {
    const next = inFlight.shift();
    return next === undefined ? undefined : tree.settle(next.batch, await next.hashed);
  };
  const send = (): void => {
    const n = texts.length;
    if (n === 0) return;
    const hasher = worker ?? inlineLeafHasher;
    const subtree = worker !== undefined && n === batchSize && !tree.targetInside(first, first + n);
    const batch: Batch = { first, stored: stored.subarray(0, HASH_SIZE * n), subtree };
    inFlight.push({ batch, hashed: hasher.hash(texts, subtree) });
    first += n;
    if (parallel && !workerTried && first >= 2 * batchSize && first % batchSize === 0) {
      workerTried = true;
      try {
        worker = workerLeafHasher();
        chunk = batchSize;
      } catch {
        // No worker threads here (a locked-down runtime): carry on, on this thread.
      }
    }
    texts = [];
    stored = Buffer.allocUnsafe(HASH_SIZE * chunk);
  };

  try {
    let rowFailure: Failure | undefined;
    /** Takes one row; true when reading must stop (a bad row). Synchronous: no await per row. */
    const take = (row: unknown): boolean => {
      const checked = checkRow(row, first + texts.length);
      if (typeof checked !== 'string') {
        rowFailure = checked;
        return true;
      }
      stored.write((row as { leafHash: string }).leafHash, HASH_SIZE * texts.length, HASH_SIZE, 'hex');
      texts.push(checked);
      if (texts.length === chunk) send();
      return false;
    };
    const backlog = (): number => (worker === undefined ? 1 : MAX_IN_FLIGHT);
    let failure: Failure | undefined;
    if (isAsyncIterable(entries)) {
      // Returning early from for-await closes the source (e.g. a database cursor).
      for await (const row of entries) {
        if (take(row)) break;
        while (inFlight.length >= backlog()) if ((failure = await drainOne()) !== undefined) return failure;
      }
    } else {
      for (const row of entries) {
        if (take(row)) break;
        while (inFlight.length >= backlog()) if ((failure = await drainOne()) !== undefined) return failure;
      }
    }
    // Hash and check every row before the first bad one (or the end), in order.
    send();
    while (inFlight.length > 0) {
      failure = await drainOne();
      if (failure !== undefined) return failure;
    }
    return rowFailure;
  } finally {
    await worker?.close();
  }
}

const SEQ_KEY = Buffer.from('"seq":');
const TAB = 0x09;

/**
 * The fast path for exports in canonical-lines form (`strata audit export`): each line is an
 * entry's RFC 8785 canonical JSON — byte for byte the Merkle leaf input — then a tab and the stored
 * leaf hash. Each line's bytes are hashed as they are, with no JSON parsing: a stored hash that
 * differs names the edited entry, and the roots at the checkpoint sizes prove that the bytes are
 * exactly what was logged, in order and complete. `seq` is read from the top-level `"seq":` key
 * (canonical JSON puts it after every key that could hold a nested one, and string values cannot
 * contain an unescaped quote), so gaps and reordering are named too.
 */
/**
 * A batch of export lines: line i is `data[starts[i], ends[i])`, and the byte before each line is
 * free for the verifier to overwrite (a newline, or a spare byte at the front of `data`).
 */
export interface LineBatch {
  readonly data: Buffer;
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

export async function verifyCanonicalLines(
  input: Pick<VerifyAuditLogInput, 'checkpoint' | 'latest' | 'publicKey' | 'consistencyProof'> & { readonly lines: AsyncIterable<LineBatch> },
): Promise<VerifyAuditLogResult> {
  const targets = checkpointTargets(input);
  if (!Array.isArray(targets)) return targets;
  const tree = new TreeCheck(targets);
  const started = tree.start();
  if (started !== undefined) return started;
  for await (const { data, starts, ends } of input.lines) {
    for (let i = 0; i < starts.length; i++) {
      const p = tree.size;
      const start = starts[i] as number;
      let end = ends[i] as number;
      if (end > start && data[end - 1] === 0x0d) end -= 1;
      const tab = data.lastIndexOf(TAB, end - 1);
      if (tab < start || end - tab - 1 !== 2 * HASH_SIZE) return fail(`entry ${p}: malformed export line (expected canonical JSON, a tab and a 64-digit leaf hash)`, p);
      const at = data.lastIndexOf(SEQ_KEY, tab - 1);
      let seq = -1;
      if (at >= start) {
        seq = 0;
        for (let j = at + SEQ_KEY.length; j < tab; j++) {
          const c = data[j] as number;
          if (c < 0x30 || c > 0x39) break;
          seq = seq * 10 + (c - 0x30);
        }
      }
      if (seq !== p) {
        if (seq > p) return fail(`entry ${p} missing: ${p === 0 ? 'the log starts at' : `sequence jumps from ${p - 1} to`} ${seq} (deleted or reordered row?)`, p);
        return fail(`entry ${p}: sequence goes back from ${p - 1} to ${seq} (duplicated or reordered row?)`, p);
      }
      // RFC 9162 leaf input 0x00 || canonical bytes, hashed in place: the byte before the line is ours.
      data[start - 1] = 0x00;
      const leafHex = sha256Hex(data.subarray(start - 1, tab));
      if (data.toString('latin1', tab + 1, end) !== leafHex) return fail(`entry ${p}: stored leaf hash does not match its content (edited row?)`, p);
      const f = tree.appendLeafHex(leafHex);
      if (f !== undefined) return f;
    }
  }
  return finishResult(tree, input);
}
