// Migration 0010: indexes for blob garbage collection (api/blob-gc.ts). The collector asks, per
// project, which digests rows name (an ordered range scan) and, for each candidate right before
// deleting it, whether any row names it now (a point lookup). run_artifacts and
// logged_model_artifacts already have (project_id, digest); these give job artifacts the same, and
// model-version files (which carry no project: their version does) an index by digest.
import type { Kysely, Migration } from 'kysely';

/** The indexes the blob garbage collector's lookups use. */
export function blobGcMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('job_artifacts_digest').ifNotExists().on('job_artifacts').columns(['project_id', 'digest']).execute();
      await db.schema.createIndex('model_version_files_digest').ifNotExists().on('model_version_files').columns(['digest']).execute();
    },
  };
}
