// Migration 0014: metric history in chunks (store/metric-chunks.ts says why and how they are packed).
//
// `run_metric_chunks` replaces `run_metrics` (a row per point). The points already stored are
// packed here, one (run, key) at a time, and `run_metrics` is dropped, so the history has one home.
// `run_metrics_recent` stays: small batches still wait there, now to be packed into chunks.
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

/** `run_metric_chunks`, filled from `run_metrics`, which goes. */
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
      const d = db as Kysely<{ run_metrics: OldRow & { run_id: string; key: string }; run_metric_chunks: Record<string, unknown> }>;
      const series = await d.selectFrom('run_metrics').select(['run_id', 'key']).distinct().orderBy('run_id').orderBy('key').execute();
      for (const { run_id: runId, key } of series) {
        const rows = await d.selectFrom('run_metrics').select(['step', 'timestamp', 'value', 'is_nan']).where('run_id', '=', runId).where('key', '=', key).execute();
        const points: MetricPoint[] = rows.map((r) => ({ step: Number(r.step), timestamp: Number(r.timestamp), value: Number(r.is_nan) === 1 ? Number.NaN : Number(r.value) }));
        for (const chunk of chunkRows(runId, key, points)) await d.insertInto('run_metric_chunks').values({ ...chunk }).execute();
      }
      await db.schema.dropTable('run_metrics').execute();
    },
  };
}
