// Migration 0012: recent metric points, clustered by (run, step, key).
//
// (Since migration 0014 the history is `run_metric_chunks`, and waiting points are packed into chunks;
// see tracking/metric-history.ts. What follows is why the table was made, for the row layout then.)
//
// `run_metrics` is clustered by (run, key, step) so that one metric's history is one index range.
// A small log-batch (one step of ten metrics, what a training loop sends) then writes ten rows to
// ten different leaf pages, and SQLite writes each of those pages to the WAL again at every commit:
// most of a small batch's cost. Small batches therefore land here first, where one step of a run is
// one contiguous range (usually one page), and the tracking service moves them into `run_metrics`
// in bulk (every second, or sooner when many are waiting), where each (run, key) page is then written
// once per move instead of once per request. A read of a run's history moves that run's rows first,
// so readers only ever look at `run_metrics`. Same columns and the same key as `run_metrics`, in
// another order; only SQLite uses it (PostgreSQL writes history directly).
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from './store.ts';

/** `run_metrics_recent`. */
export function metricStagingMigration(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('run_metrics_recent')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('step', 'bigint', (c) => c.notNull())
        .addColumn('timestamp', 'bigint', (c) => c.notNull())
        .addColumn('value', 'double precision', (c) => c.notNull())
        .addColumn('is_nan', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_metrics_recent_pk', ['run_id', 'step', 'key', 'timestamp', 'value', 'is_nan'])
        .modifyEnd(dialect === 'sqlite' ? sql`without rowid` : sql``)
        .execute();
    },
  };
}
