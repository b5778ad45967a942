// Migration 0009: MLflow 3.x logged models and run outputs. A logged model belongs to an experiment
// (and so to its project) and has its own params (write-once), tags (last write wins), metric points
// (those logged with a `model_id`; the run keeps its own copy) and artifact tree. Search filters on
// params, tags and metrics are EXISTS lookups on each table's (model, key) primary key; the default
// order (newest first) is served by (experiment, lifecycle, creation time). Metric points are keyed
// by (model, key, timestamp, step, …) so "the latest value of a key" is one index probe and a replayed
// log-batch inserts nothing twice. The artifact tree mirrors run_artifacts (0005): paths in byte
// order ("C" collation on PostgreSQL) so a directory is a range scan. Registry versions name the
// logged model they came from (model_versions.logged_model_id, 0006); the index here serves the
// `registrations` of a logged model.
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from './store.ts';

/** The logged-model tables. */
export function loggedModelsMigration(dialect: DialectName): Migration {
  const withoutRowid = dialect === 'sqlite' ? sql`without rowid` : sql``;
  const pathType = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('logged_models')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('experiment_id', 'text', (c) => c.notNull().references('experiments.id'))
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('artifact_location', 'text', (c) => c.notNull())
        .addColumn('creation_timestamp_ms', 'bigint', (c) => c.notNull())
        .addColumn('last_updated_timestamp_ms', 'bigint', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('model_type', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('source_run_id', 'text')
        .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('logged_models_experiment_created').on('logged_models').columns(['experiment_id', 'lifecycle_stage', 'creation_timestamp_ms', 'id']).execute();

      await db.schema
        .createTable('logged_model_params')
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('experiment_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('logged_model_params_pk', ['model_id', 'key'])
        .execute();
      await db.schema
        .createTable('logged_model_tags')
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('experiment_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('logged_model_tags_pk', ['model_id', 'key'])
        .execute();
      await db.schema
        .createTable('logged_model_metrics')
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('timestamp', 'bigint', (c) => c.notNull())
        .addColumn('step', 'bigint', (c) => c.notNull())
        .addColumn('value', 'double precision', (c) => c.notNull())
        .addColumn('is_nan', 'integer', (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('dataset_name', 'text', (c) => c.notNull())
        .addColumn('dataset_digest', 'text', (c) => c.notNull())
        .addColumn('experiment_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('logged_model_metrics_pk', ['model_id', 'key', 'timestamp', 'step', 'value', 'is_nan', 'run_id', 'dataset_name', 'dataset_digest'])
        .modifyEnd(withoutRowid)
        .execute();

      await db.schema
        .createTable('logged_model_artifacts')
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('path', pathType, (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('logged_model_artifacts_pk', ['model_id', 'path'])
        .execute();
      await db.schema.createIndex('logged_model_artifacts_digest').on('logged_model_artifacts').columns(['project_id', 'digest']).execute();

      await db.schema
        .createTable('run_model_outputs')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('step', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_model_outputs_pk', ['run_id', 'model_id'])
        .execute();
      await db.schema.createIndex('run_model_outputs_model').on('run_model_outputs').column('model_id').execute();

      await db.schema.createIndex('model_versions_logged_model').on('model_versions').columns(['project_id', 'logged_model_id']).execute();
    },
  };
}
