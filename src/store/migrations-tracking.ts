// Migration 0003: experiment tracking (experiments, runs, params, tags, metric history, the latest
// value per metric, datasets and run inputs). Every search the tracking module compiles has an
// index here: runs by experiment and start time; latest metrics by (key, experiment, value) so
// `metrics.acc > x ORDER BY metrics.acc DESC` within an experiment walks one index range in order
// and stops at the page size, whatever the planner's statistics; params and tags by (key,
// experiment, value prefix) for equality filters such as `tags.mlflow.parentRunId = '…'`. The
// experiment id is copied into those per-run tables for that (a run never changes experiment).
// Metric history is keyed by (run, key, step, timestamp, value, is_nan) — MLflow's primary key — so
// a replayed log-batch inserts nothing twice; on SQLite it is a WITHOUT ROWID table clustered on that key.
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from './store.ts';

/**
 * Values longer than this are still stored whole; the (key, value) indexes cover this prefix
 * (PostgreSQL caps index entries at ~2.7 kB). Equals VALUE_INDEX_PREFIX in tracking/model.ts.
 */
const TAG_VALUE_INDEX_PREFIX = 100;

/** The tracking tables. */
export function trackingMigration(dialect: DialectName): Migration {
  const withoutRowid = dialect === 'sqlite' ? sql`without rowid` : sql``;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('experiments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('artifact_location', 'text', (c) => c.notNull())
        .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
        .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('last_update_time', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addUniqueConstraint('experiments_project_name', ['project_id', 'name'])
        .execute();
      await db.schema.createIndex('experiments_project_created').on('experiments').columns(['project_id', 'creation_time']).execute();
      await db.schema
        .createTable('experiment_tags')
        .addColumn('experiment_id', 'text', (c) => c.notNull().references('experiments.id'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('experiment_tags_pk', ['experiment_id', 'key'])
        .execute();

      await db.schema
        .createTable('runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('experiment_id', 'text', (c) => c.notNull().references('experiments.id'))
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('start_time', 'bigint', (c) => c.notNull())
        .addColumn('end_time', 'bigint')
        .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
        .addColumn('artifact_uri', 'text', (c) => c.notNull())
        .addColumn('deleted_time', 'bigint')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      // The default order is start_time DESC, id: this index serves it and the experiment filter.
      await db.schema.createIndex('runs_experiment_start').on('runs').columns(['experiment_id', 'lifecycle_stage', 'start_time', 'id']).execute();

      await db.schema
        .createTable('run_params')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('experiment_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_params_pk', ['run_id', 'key'])
        .execute();
      await sql`create index run_params_key_value on run_params (key, experiment_id, substr(value, 1, ${sql.lit(TAG_VALUE_INDEX_PREFIX)}))`.execute(db);
      await db.schema
        .createTable('run_tags')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('experiment_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_tags_pk', ['run_id', 'key'])
        .execute();
      await sql`create index run_tags_key_value on run_tags (key, experiment_id, substr(value, 1, ${sql.lit(TAG_VALUE_INDEX_PREFIX)}))`.execute(db);

      await db.schema
        .createTable('run_metrics')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('step', 'bigint', (c) => c.notNull())
        .addColumn('timestamp', 'bigint', (c) => c.notNull())
        .addColumn('value', 'double precision', (c) => c.notNull())
        .addColumn('is_nan', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_metrics_pk', ['run_id', 'key', 'step', 'timestamp', 'value', 'is_nan'])
        .modifyEnd(withoutRowid)
        .execute();
      await db.schema
        .createTable('run_latest_metrics')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('experiment_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('step', 'bigint', (c) => c.notNull())
        .addColumn('timestamp', 'bigint', (c) => c.notNull())
        // NULL when the latest value is NaN, so comparisons never match it.
        .addColumn('value', 'double precision')
        .addColumn('is_nan', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_latest_metrics_pk', ['run_id', 'key'])
        .execute();
      await db.schema.createIndex('run_latest_metrics_key_value').on('run_latest_metrics').columns(['key', 'experiment_id', 'value']).execute();

      await db.schema
        .createTable('datasets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('experiment_id', 'text', (c) => c.notNull().references('experiments.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('source_type', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('schema', 'text')
        .addColumn('profile', 'text')
        .addColumn('created_time', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('datasets_experiment_name_digest', ['experiment_id', 'name', 'digest'])
        .execute();
      await db.schema.createIndex('datasets_name').on('datasets').columns(['name', 'digest']).execute();
      await db.schema
        .createTable('run_inputs')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('dataset_id', 'text', (c) => c.notNull().references('datasets.id'))
        .addPrimaryKeyConstraint('run_inputs_pk', ['run_id', 'dataset_id'])
        .execute();
      await db.schema.createIndex('run_inputs_dataset').on('run_inputs').column('dataset_id').execute();
      await db.schema
        .createTable('run_input_tags')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('dataset_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_input_tags_pk', ['run_id', 'dataset_id', 'key'])
        .execute();
    },
  };
}
