// Migration 0011: MLflow artifact-proxy multipart uploads (api/mlflow/multipart.ts) and MLflow 3.x
// run model inputs.
//
// An upload (`mlflow_multipart_uploads`) is created by `mpu/create` for one file of a run's or a
// logged model's tree; its parts arrive on presigned URLs signed with the upload's secret and are
// staged as files (blobs/part-staging.ts), one row each in `mlflow_multipart_parts` with the part's
// digest (its ETag). `mpu/complete` concatenates them into the project's blob store and records the
// file like a PUT; `mpu/abort`, or expiry (`expires_at`, swept by the blob collector), deletes both.
// The rows make an upload survive a server restart. `run_model_inputs` holds the logged models a run
// took as inputs (LogInputs `models`, shown in `Run.inputs.model_inputs`).
import type { Kysely, Migration } from 'kysely';

/** Multipart uploads, their parts, and run model inputs. */
export function mlflowUploadsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('mlflow_multipart_uploads')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('target_kind', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('experiment_id', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('num_parts', 'integer', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('mlflow_multipart_uploads_expiry').on('mlflow_multipart_uploads').column('expires_at').execute();
      await db.schema
        .createTable('mlflow_multipart_parts')
        .addColumn('upload_id', 'text', (c) => c.notNull())
        .addColumn('part_number', 'integer', (c) => c.notNull())
        .addColumn('etag', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('mlflow_multipart_parts_pk', ['upload_id', 'part_number'])
        .execute();

      await db.schema
        .createTable('run_model_inputs')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_model_inputs_pk', ['run_id', 'model_id'])
        .execute();
      await db.schema.createIndex('run_model_inputs_model').on('run_model_inputs').column('model_id').execute();
    },
  };
}
