// Migration 0014: metric history in chunks (store/metric-chunks.ts says why and how they are packed).
//
// `run_metric_chunks` replaces `run_metrics` (a row per point), and `run_metric_batches` replaces
// `run_metrics_recent` (a row per waiting point): a small log-batch now waits as one row, which the
// tracking service packs into chunks later (tracking/metric-history.ts). The points already stored in
// either old table are packed here, one (run, key) at a time, and both tables are dropped, so the
// history has one layout.
//
// The key is (run, key, first step, digest): a history is read in first-step order along it, and a
// replayed batch (the same bytes) is one conflict and nothing written. SQLite keeps the rows in a
// rowid table beside that index: chunks are kilobytes, too large for a WITHOUT ROWID b-tree.
import type { Kysely, Migration } from 'kysely';
import { chunkRows, type MetricPoint } from './metric-chunks.ts';
import type { DialectName } from './store.ts';

interface OldRow {
  readonly step: number;
  readonly timestamp: number;
  readonly value: number;
  readonly is_nan: number;
}

/** `run_metric_chunks` and `run_metric_batches`, filled from `run_metrics` and `run_metrics_recent`, which go. */
export function metricChunksMigration(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('run_metric_chunks')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('first_step', 'bigint', (c) => c.notNull())
        .addColumn('last_step', 'bigint', (c) => c.notNull())
        .addColumn('points', 'integer', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('data', dialect === 'sqlite' ? 'blob' : 'bytea', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_metric_chunks_pk', ['run_id', 'key', 'first_step', 'digest'])
        .execute();
      await db.schema
        .createTable('run_metric_batches')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('keys', 'text', (c) => c.notNull())
        .addColumn('points', 'integer', (c) => c.notNull())
        .addColumn('data', dialect === 'sqlite' ? 'blob' : 'bytea', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_metric_batches_pk', ['run_id', 'digest'])
        .execute();
      type Old = OldRow & { run_id: string; key: string };
      const d = db as Kysely<{ run_metrics: Old; run_metrics_recent: Old; run_metric_chunks: Record<string, unknown> }>;
      const series = await d
        .selectFrom('run_metrics')
        .select(['run_id', 'key'])
        .union(d.selectFrom('run_metrics_recent').select(['run_id', 'key']))
        .orderBy('run_id')
        .orderBy('key')
        .execute();
      for (const { run_id: runId, key } of series) {
        const rows = [
          ...(await d.selectFrom('run_metrics').select(['step', 'timestamp', 'value', 'is_nan']).where('run_id', '=', runId).where('key', '=', key).execute()),
          ...(await d.selectFrom('run_metrics_recent').select(['step', 'timestamp', 'value', 'is_nan']).where('run_id', '=', runId).where('key', '=', key).execute()),
        ];
        const points: MetricPoint[] = rows.map((r) => ({ step: Number(r.step), timestamp: Number(r.timestamp), value: Number(r.is_nan) === 1 ? Number.NaN : Number(r.value) }));
        for (const chunk of chunkRows(runId, key, points)) await d.insertInto('run_metric_chunks').values({ ...chunk }).execute();
      }
      await db.schema.dropTable('run_metrics_recent').execute();
      await db.schema.dropTable('run_metrics').execute();
    },
  };
}
