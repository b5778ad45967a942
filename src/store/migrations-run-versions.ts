// Migration 0015: a change counter per run.
//
// `runs.version` goes up by one in every transaction that changes what MLflow's Run message of the
// run holds: its row, latest metrics, params, tags, dataset inputs and logged-model inputs and
// outputs. The tracking service bumps it with the statement that opens such a transaction
// (`claimRun` in tracking/run-sql.ts: one UPDATE … RETURNING, which on PostgreSQL also takes the
// run's row lock first, so writers of one run queue in one order and cannot deadlock each other).
// A reader that remembers a rendered run checks the counter with one primary-key read instead of
// reading the run again (api/mlflow/run-documents.ts). Existing runs start at 0.
import type { Kysely, Migration } from 'kysely';

/** `runs.version`. */
export function runVersionsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('runs').addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    },
  };
}
