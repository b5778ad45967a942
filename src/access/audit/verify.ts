// The offline verifier behind `strata audit verify`: streams the stored log once and checks it
// against a signed checkpoint kept outside the database. It needs only the rows, the checkpoint(s)
// and the public key — no server, no trust in the database (research/security-reliability.md §1.2
// P3/P4). Failures are results naming the first bad entry, not exceptions.

import type { KeyObject } from 'node:crypto';
import { auditEntryProblem, rowLeafHashHex, type StoredAuditEntry } from './entry.ts';
import { signedCheckpointProblem, verifyCheckpoint, publicKeyId, type SignedCheckpoint } from './checkpoint.ts';
import { MerkleAccumulator, hashFromHex, isHashHex, verifyConsistency } from './merkle.ts';

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

/**
 * Incremental row checker: feed rows in order with `push`, then call `finish`. Holds O(log n) state
 * (a Merkle accumulator), so a million rows need no more memory than ten. Exported for servers that
 * re-verify their own log on a schedule.
 */
export class AuditLogChecker {
  readonly #acc = new MerkleAccumulator();
  readonly #targets: Target[];
  #count = 0;

  /** `targets`: roots the log must have at given sizes (from verified checkpoints). */
  constructor(targets: readonly Target[]) {
    this.#targets = [...targets].sort((a, b) => a.size - b.size);
  }

  /** Rows accepted so far. */
  get count(): number {
    return this.#count;
  }

  /** Checks targets of size 0 (before any row). */
  start(): Failure | undefined {
    return this.#checkTargets();
  }

  /** Checks the next row; returns the failure, or undefined to go on. */
  push(row: unknown): Failure | undefined {
    const p = this.#count;
    let leafHashHex: string | undefined;
    try {
      leafHashHex = rowLeafHashHex(row);
    } catch (err) {
      return fail(`entry ${p}: cannot be encoded canonically (${err instanceof Error ? err.message : String(err)})`, p);
    }
    if (leafHashHex === undefined) return fail(`entry ${p}: malformed row (${auditEntryProblem(row) ?? 'unknown problem'})`, p);
    const { seq, leafHash: stored } = row as StoredAuditEntry;
    if (seq !== p) {
      if (seq > p) {
        const from = p === 0 ? 'the log starts at' : `sequence jumps from ${p - 1} to`;
        return fail(`entry ${p} missing: ${from} ${seq} (deleted or reordered row?)`, p);
      }
      return fail(`entry ${p}: sequence goes back from ${p - 1} to ${seq} (duplicated or reordered row?)`, p);
    }
    if (stored !== leafHashHex) {
      return fail(
        isHashHex(stored)
          ? `entry ${p}: stored leaf hash does not match its content (edited row?)`
          : `entry ${p}: stored leaf hash is missing or not 64 lower-case hex digits`,
        p,
      );
    }
    this.#acc.appendHex(leafHashHex);
    this.#count = p + 1;
    return this.#checkTargets();
  }

  /** After the last row: every target must have been reached (else the log was truncated). */
  finish(): Failure | undefined {
    const missed = this.#targets.find((t) => t.size > this.#count);
    if (missed === undefined) return undefined;
    return fail(`log has ${this.#count} entries but the ${missed.name} was signed over ${missed.size} (truncated?)`, this.#count);
  }

  #checkTargets(): Failure | undefined {
    while (this.#targets.length > 0 && (this.#targets[0] as Target).size === this.#count) {
      const t = this.#targets.shift() as Target;
      const root = this.#acc.root().toString('hex');
      if (root !== t.root) {
        return fail(
          `root at size ${t.size} does not match the ${t.name} (rows below ${t.size} rewritten along with their leaf hashes, or a different log?)`,
        );
      }
    }
    return undefined;
  }
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
 * Never throws for bad data; an error thrown by the row source itself propagates.
 */
export async function verifyAuditLog(input: VerifyAuditLogInput): Promise<VerifyAuditLogResult> {
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

  const checker = new AuditLogChecker(targets);
  let failure = checker.start();
  if (failure !== undefined) return failure;
  const { entries } = input;
  if (isAsyncIterable(entries)) {
    // Returning early from for-await closes the source (e.g. a database cursor).
    for await (const row of entries) {
      failure = checker.push(row);
      if (failure !== undefined) return failure;
    }
  } else {
    for (const row of entries) {
      failure = checker.push(row);
      if (failure !== undefined) return failure;
    }
  }
  failure = checker.finish();
  if (failure !== undefined) return failure;

  const newest = latest ?? checkpoint;
  return {
    ok: true,
    size: newest.size,
    root: newest.root,
    checkpoint: newest,
    checked: checker.count,
    unverified: checker.count - newest.size,
  };
}
