// Metric history: where points go when logged, and how a history is read back.
//
// Points are stored in chunks (store/metric-chunks.ts): a key with many points in one batch becomes
// one chunk at once. Keys with few (a training loop logging one step of ten metrics) wait together
// as one row of `run_metric_batches`, and a background mover packs each run's waiting batches into
// one chunk per key once enough points have gathered or they have waited long enough, so chunks
// stay tens to thousands of points, not one. (Waiting as a row per point instead, the mover spent
// ~5 µs a point reading and deleting them: a sixth of the server's CPU under small batches.)
// Readers merge a key's chunks with its waiting points and drop duplicates, so a point is visible
// the moment its batch commits, and nothing a reader does writes. Both databases work the same way;
// on PostgreSQL several control-plane replicas may move at once: each waiting row is taken by
// exactly one DELETE ... RETURNING.
import type { Clock } from '../kernel/index.ts';
import type { DialectName, MetricPoint, Store, Tx } from '../store/index.ts';
import { batchRow, chunkRows, decodeBatch, decodePoints, runQuery, sortedUnique } from '../store/index.ts';
import type { Metric } from './model.ts';
import { executeAll, insertMetricBatch, insertMetricChunks } from './run-sql.ts';

/**
 * A key with at least this many points in one batch is written as a chunk at once; fewer wait to be
 * packed with later ones. (The common small batch is one step of several keys: staged, all of them
 * share one row; as chunks, each key would be a row of its own, with a digest, for one point.)
 */
export const CHUNK_AT_POINTS = 50;
/** The mover looks for work this often (milliseconds)... */
const MOVE_EVERY_MS = 1_000;
/** ...and packs a run's waiting points once this many have gathered... */
const MOVE_RUN_AT_POINTS = 1_000;
/** ...or the oldest has waited this long (milliseconds)... */
const MOVE_RUN_AFTER_MS = 30_000;
/** ...and every run's, as soon as this many wait in all. */
const MOVE_ALL_AT_POINTS = 50_000;
/** Runs packed per transaction. */
const MOVE_RUNS_PER_TX = 200;

interface Waiting {
  points: number;
  readonly since: number;
}

/** One page of a history. */
export interface HistoryPage {
  readonly points: readonly MetricPoint[];
  /** More points follow the page. */
  readonly more: boolean;
}

export class MetricHistory {
  /** Points this process staged and has not packed, by run (an estimate: another replica may pack them). */
  private readonly waiting = new Map<string, Waiting>();
  private waitingPoints = 0;
  private timer: NodeJS.Timeout | undefined;
  private moving: Promise<unknown> | undefined;
  private onError: (e: unknown) => void = () => undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  private get dialect(): DialectName {
    return this.store.dialect;
  }

  // ---- writing -----------------------------------------------------------------------------------

  /**
   * Writes a batch's points in the caller's transaction: keys with CHUNK_AT_POINTS or more as
   * chunks, the rest staged. Returns how many points were staged (pass it to `staged` after commit).
   */
  async write(tx: Tx, runId: string, metrics: readonly Metric[]): Promise<number> {
    const byKey = new Map<string, Metric[]>();
    for (const m of metrics) {
      let points = byKey.get(m.key);
      if (points === undefined) byKey.set(m.key, (points = []));
      points.push(m);
    }
    const small: Metric[] = [];
    const chunks = [];
    for (const [key, points] of byKey) {
      if (points.length >= CHUNK_AT_POINTS) chunks.push(...chunkRows(runId, key, points));
      else small.push(...points);
    }
    await executeAll(tx, insertMetricChunks(tx, this.dialect, chunks));
    if (small.length > 0) await runQuery(tx, insertMetricBatch(this.dialect, batchRow(runId, small)));
    return small.length;
  }

  /** After the transaction that staged `points` of a run committed: counts them, and packs when due. */
  staged(runId: string, points: number): void {
    if (points === 0) return;
    let w = this.waiting.get(runId);
    if (w === undefined) this.waiting.set(runId, (w = { points: 0, since: this.clock.now() }));
    w.points += points;
    this.waitingPoints += points;
    if (this.timer === undefined) return;
    if (this.waitingPoints >= MOVE_ALL_AT_POINTS || w.points >= MOVE_RUN_AT_POINTS) this.moveInBackground();
  }

  // ---- packing waiting points into chunks ----------------------------------------------------------

  /** Starts the background mover; points an earlier process left waiting are packed at once. */
  async start(onError: (e: unknown) => void): Promise<void> {
    if (this.timer !== undefined) return;
    this.onError = onError;
    this.timer = setInterval(() => this.moveInBackground(), MOVE_EVERY_MS);
    this.timer.unref();
    this.moving = this.move().catch((e: unknown) => this.onError(e));
    await this.moving;
    this.moving = undefined;
  }

  /** Stops the mover and packs everything still waiting (a clean shutdown leaves no staged rows). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.moving;
    await this.move().catch((e: unknown) => this.onError(e));
  }

  private moveInBackground(): void {
    if (this.moving !== undefined) return;
    const now = this.clock.now();
    const all = this.waitingPoints >= MOVE_ALL_AT_POINTS;
    const due = [...this.waiting].filter(([, w]) => all || w.points >= MOVE_RUN_AT_POINTS || now - w.since >= MOVE_RUN_AFTER_MS).map(([run]) => run);
    if (due.length === 0) return;
    this.moving = this.move(due)
      .catch((e: unknown) => this.onError(e))
      .finally(() => (this.moving = undefined));
  }

  /**
   * Packs the waiting points of the given runs (of every run when none are given) into chunks.
   * Returns how many points were packed.
   */
  async move(runIds?: readonly string[]): Promise<number> {
    let moved = 0;
    if (runIds !== undefined) {
      for (let at = 0; at < runIds.length; at += MOVE_RUNS_PER_TX) moved += await this.moveRuns(runIds.slice(at, at + MOVE_RUNS_PER_TX));
      return moved;
    }
    for (;;) {
      const runs = await this.store.db.selectFrom('run_metric_batches').select('run_id').distinct().limit(MOVE_RUNS_PER_TX).execute();
      if (runs.length === 0) return moved;
      moved += await this.moveRuns(runs.map((r) => r.run_id));
    }
  }

  private async moveRuns(runIds: readonly string[]): Promise<number> {
    if (runIds.length === 0) return 0;
    // What was counted before the move; points staged while it runs stay counted (and so are packed
    // by a later move even if this one took them already: an empty move costs one DELETE).
    const counted = runIds.map((id) => this.waiting.get(id)?.points ?? 0);
    const points = await this.store.transaction(async (tx) => {
      const taken = await tx.deleteFrom('run_metric_batches').where('run_id', 'in', [...runIds]).returning(['run_id', 'keys', 'data']).execute();
      const series = new Map<string, Map<string, MetricPoint[]>>();
      let n = 0;
      for (const r of taken) {
        let keys = series.get(r.run_id);
        if (keys === undefined) series.set(r.run_id, (keys = new Map<string, MetricPoint[]>()));
        for (const p of decodeBatch(r.keys, r.data)) {
          let list = keys.get(p.key);
          if (list === undefined) keys.set(p.key, (list = []));
          list.push(p);
          n += 1;
        }
      }
      const chunks = [...series].flatMap(([runId, keys]) => [...keys].flatMap(([key, list]) => chunkRows(runId, key, list)));
      await executeAll(tx, insertMetricChunks(tx, this.dialect, chunks));
      return n;
    });
    runIds.forEach((id, i) => {
      const w = this.waiting.get(id);
      if (w === undefined) return;
      const done = Math.min(w.points, counted[i] ?? 0);
      this.waitingPoints = Math.max(0, this.waitingPoints - done);
      if (w.points === done) this.waiting.delete(id);
      else this.waiting.set(id, { points: w.points - done, since: this.clock.now() });
    });
    return points;
  }

  // ---- reading -----------------------------------------------------------------------------------

  /**
   * Points `offset` .. `offset + limit` of a run's history of `key`, in (step, timestamp, value)
   * order. Chunks are read in first-step order and only as far as the page needs: once the page's
   * last point is known and no unread chunk starts at or before its step, the rest cannot change it.
   */
  async page(runId: string, key: string, offset: number, limit: number): Promise<HistoryPage> {
    const need = offset + limit + 1;
    const points: MetricPoint[] = await this.waitingOf(runId, key);
    const rows = await this.store.db.selectFrom('run_metric_chunks').select(['first_step', 'points']).where('run_id', '=', runId).where('key', '=', key).orderBy('first_step').execute();
    const first = rows.map((r) => Number(r.first_step));
    const sizes = rows.map((r) => Number(r.points));
    sortedUnique(points);
    let i = 0;
    while (i < first.length) {
      // Read at least enough chunks to fill the page (and all that start at the last one's step).
      let j = i;
      let count = points.length + (sizes[j] ?? 0);
      while (j + 1 < first.length && (count < need || first[j + 1] === first[j])) {
        j += 1;
        count += sizes[j] ?? 0;
      }
      const data = await this.store.db.selectFrom('run_metric_chunks').select('data').where('run_id', '=', runId).where('key', '=', key).where('first_step', '>=', first[i] ?? 0).where('first_step', '<=', first[j] ?? 0).execute();
      for (const d of data) decodePoints(d.data, points);
      sortedUnique(points);
      i = j + 1;
      const last = points[need - 1];
      if (last !== undefined && (i >= first.length || (first[i] ?? 0) > last.step)) break;
    }
    return { points: points.slice(offset, offset + limit), more: points.length > offset + limit };
  }

  /** Every point of a run's history of `key` with a step in [start, end], in order. */
  async range(runId: string, key: string, start: number, end: number): Promise<MetricPoint[]> {
    const points: MetricPoint[] = await this.waitingOf(runId, key);
    const data = await this.store.db.selectFrom('run_metric_chunks').select('data').where('run_id', '=', runId).where('key', '=', key).where('first_step', '<=', end).where('last_step', '>=', start).execute();
    for (const d of data) decodePoints(d.data, points);
    return sortedUnique(points.filter((p) => p.step >= start && p.step <= end));
  }

  /** The points of `key` still waiting in a run's staged batches. */
  private async waitingOf(runId: string, key: string): Promise<MetricPoint[]> {
    const rows = await this.store.db.selectFrom('run_metric_batches').select(['keys', 'data']).where('run_id', '=', runId).execute();
    return rows.flatMap((r) => decodeBatch(r.keys, r.data, key));
  }
}
