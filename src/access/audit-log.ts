// The audit log over the store: appends an entry in the caller's transaction (so a change and its
// record commit or roll back together, research §1.2 P5), under a lock so `seq` is gapless and
// never forks (P6); serves Merkle proofs (P4); writes Ed25519-signed checkpoints to files outside
// the database (P3).
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../kernel/index.ts';
import { badRequest } from '../kernel/index.ts';
import { precompile } from '../store/index.ts';
import type { PrecompiledQuery, Store, Tx } from '../store/index.ts';
import type { AuditEntry, SignedCheckpoint, SigningKey, StoredAuditEntry } from './audit/index.ts';
import {
  MerkleAccumulator,
  canonicalJson,
  consistencyProof,
  entryLeafHashHex,
  inclusionProof,
  listCheckpoints,
  readCheckpointFile,
  readLatestCheckpoint,
  rootFromLeaves,
  signCheckpoint,
  stateHash,
  toHex,
  writeCheckpointFile,
} from './audit/index.ts';

/** What a caller says about a change; the log adds seq, time and hashes. */
export interface AuditInput {
  readonly actor: string;
  readonly action: string;
  readonly resource: string;
  readonly project?: string | null;
  readonly outcome?: AuditEntry['outcome'];
  readonly requestId?: string | null;
  /** The state before/after the change. Only their hashes are recorded, never the values. */
  readonly before?: unknown;
  readonly after?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
}

const LOCK = 'strata.audit.append';
const AUDIT_COLUMNS = ['seq', 'v', 'time', 'actor', 'action', 'resource', 'project', 'outcome', 'request_id', 'before_hash', 'after_hash', 'details', 'leaf_hash'] as const;
const PAGE = 5000;

export class AuditLog {
  /** Leaf hashes read so far, by seq; grows as the log does (32 bytes per entry). */
  private leaves: Buffer[] = [];
  /** The one insert every audited change runs, compiled once. */
  private readonly insertEntry: PrecompiledQuery<(typeof AUDIT_COLUMNS)[number], unknown>;
  /** SQLite: the seq the next append takes, valid while no transaction has rolled back since. */
  private seqCache: { readonly next: number; readonly rollbacks: number } | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly checkpointDir: string,
    private readonly signingKey: SigningKey,
    readonly logId = 'strata-audit',
  ) {
    this.insertEntry = precompile(store.db, AUDIT_COLUMNS, (db, p) => db.insertInto('audit_events').values(p));
  }

  get publicKey(): KeyObject {
    return this.signingKey.publicKey;
  }

  /** Appends one entry inside `tx`. Call it in the same transaction as the change it records. */
  async append(tx: Tx, input: AuditInput): Promise<AuditEntry> {
    await this.store.lock(tx, LOCK);
    const seq = await this.nextSeq(tx);
    const entry: AuditEntry = {
      v: 1,
      seq,
      time: new Date(this.clock.now()).toISOString(),
      actor: input.actor,
      action: input.action,
      resource: input.resource,
      project: input.project ?? null,
      outcome: input.outcome ?? 'success',
      requestId: input.requestId ?? null,
      beforeHash: input.before === undefined ? null : stateHash(input.before),
      afterHash: input.after === undefined ? null : stateHash(input.after),
      details: input.details ?? {},
    };
    const leafHash = entryLeafHashHex(entry);
    await this.insertEntry(tx, {
      seq: entry.seq,
      v: entry.v,
      time: entry.time,
      actor: entry.actor,
      action: entry.action,
      resource: entry.resource,
      project: entry.project,
      outcome: entry.outcome,
      request_id: entry.requestId,
      before_hash: entry.beforeHash,
      after_hash: entry.afterHash,
      details: canonicalJson(entry.details),
      leaf_hash: leafHash,
    });
    if (this.store.dialect === 'sqlite') this.seqCache = { next: seq + 1, rollbacks: this.store.rollbacks() };
    return entry;
  }

  /**
   * The next sequence number. On SQLite this process is the only writer, so the number after the
   * last append is remembered until any transaction rolls back (which may have undone that append);
   * a stale guess could not fork the log anyway: `seq` is the primary key.
   */
  private async nextSeq(tx: Tx): Promise<number> {
    const cached = this.seqCache;
    if (cached !== undefined && cached.rollbacks === this.store.rollbacks()) return cached.next;
    const last = await tx.selectFrom('audit_events').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
    return last?.m === null || last?.m === undefined ? 0 : Number(last.m) + 1;
  }

  /** Appends in a transaction of its own (for events with no accompanying change, e.g. denials). */
  async appendAlone(input: AuditInput): Promise<AuditEntry> {
    return this.store.transaction((tx) => this.append(tx, input));
  }

  /** Number of entries in the log. */
  async size(): Promise<number> {
    const row = await this.store.db.selectFrom('audit_events').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
    return row?.m === null || row?.m === undefined ? 0 : Number(row.m) + 1;
  }

  /** Entries with seq in [from, from+limit), oldest first, as stored. */
  async entries(from: number, limit: number, filter: { project?: string; actor?: string; action?: string } = {}): Promise<StoredAuditEntry[]> {
    let q = this.store.db.selectFrom('audit_events').selectAll().where('seq', '>=', from);
    if (filter.project !== undefined) q = q.where('project', '=', filter.project);
    if (filter.actor !== undefined) q = q.where('actor', '=', filter.actor);
    if (filter.action !== undefined) q = q.where('action', '=', filter.action);
    const rows = await q.orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({
      v: 1,
      seq: Number(r.seq),
      time: r.time,
      actor: r.actor,
      action: r.action,
      resource: r.resource,
      project: r.project,
      outcome: r.outcome as AuditEntry['outcome'],
      requestId: r.request_id,
      beforeHash: r.before_hash,
      afterHash: r.after_hash,
      details: JSON.parse(r.details) as Record<string, unknown>,
      leafHash: r.leaf_hash,
    }));
  }

  /** Brings the in-memory leaf-hash cache up to the current size and returns it. */
  private async loadLeaves(): Promise<Buffer[]> {
    for (;;) {
      const rows = await this.store.db
        .selectFrom('audit_events')
        .select(['seq', 'leaf_hash'])
        .where('seq', '>=', this.leaves.length)
        .orderBy('seq')
        .limit(PAGE)
        .execute();
      for (const r of rows) {
        if (Number(r.seq) !== this.leaves.length) {
          throw new Error(`audit log has a gap: expected seq ${this.leaves.length}, found ${String(r.seq)}`);
        }
        this.leaves.push(Buffer.from(r.leaf_hash, 'hex'));
      }
      if (rows.length < PAGE) return this.leaves;
    }
  }

  /** Root (hex) of the first `size` entries; the current size when omitted. */
  async root(size?: number): Promise<{ size: number; root: string }> {
    const leaves = await this.loadLeaves();
    const n = size ?? leaves.length;
    return { size: n, root: toHex(rootFromLeaves(leaves, n)) };
  }

  /** RFC 9162 §2.1.3 inclusion proof of entry `index` in the tree of `size` entries. */
  async inclusion(index: number, size: number): Promise<{ index: number; size: number; leafHash: string; root: string; proof: string[] }> {
    const leaves = await this.loadLeaves();
    const proof = inclusionProof(leaves, index, size);
    const leaf = leaves[index];
    if (leaf === undefined) throw badRequest(`index must be below ${leaves.length}`);
    return { index, size, leafHash: toHex(leaf), root: toHex(rootFromLeaves(leaves, size)), proof: proof.map(toHex) };
  }

  /** RFC 9162 §2.1.4 consistency proof between the trees of `from` and `to` entries. */
  async consistency(from: number, to: number): Promise<{ from: number; to: number; fromRoot: string; toRoot: string; proof: string[] }> {
    const leaves = await this.loadLeaves();
    const proof = consistencyProof(leaves, from, to);
    return { from, to, fromRoot: toHex(rootFromLeaves(leaves, from)), toRoot: toHex(rootFromLeaves(leaves, to)), proof: proof.map(toHex) };
  }

  /** Signs the current tree head and writes it to the checkpoint directory. */
  async checkpoint(): Promise<SignedCheckpoint> {
    const leaves = await this.loadLeaves();
    const acc = new MerkleAccumulator();
    for (const l of leaves) acc.append(l);
    const signed = signCheckpoint(
      { logId: this.logId, size: acc.size, root: toHex(acc.root()), time: new Date(this.clock.now()).toISOString() },
      this.signingKey,
    );
    await writeCheckpointFile(this.checkpointDir, signed);
    return signed;
  }

  /** Signs a checkpoint only if the log grew since the newest one on disk. */
  async checkpointIfGrown(): Promise<SignedCheckpoint | undefined> {
    const latest = await readLatestCheckpoint(this.checkpointDir);
    if (latest !== undefined && latest.size === (await this.size())) return undefined;
    return this.checkpoint();
  }

  async latestCheckpoint(): Promise<SignedCheckpoint | undefined> {
    return readLatestCheckpoint(this.checkpointDir);
  }

  async checkpoints(): Promise<SignedCheckpoint[]> {
    const files = await listCheckpoints(this.checkpointDir);
    return Promise.all(files.map((f) => readCheckpointFile(f.path)));
  }
}
