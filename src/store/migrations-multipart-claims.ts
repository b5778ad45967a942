// Migration 0013: a complete holds its multipart upload while it runs.
//
// `mpu/complete` streams the staged parts into the blob store and only then forgets the upload. Two
// completes of one upload (a client that retries on a timeout while the first still runs), or an
// abort or a part arriving during one, used to race: the loser failed half-way with "part no longer
// staged". `completing_at` is set by the complete that claims the upload (one UPDATE, so exactly one
// wins on either database) and cleared if it fails; while it is set, another complete, an abort
// and new parts are refused with 409 RESOURCE_CONFLICT. A claim older than the limit's
// `claimStaleMs` (a server that died mid-complete) may be taken over.
import type { Kysely, Migration } from 'kysely';

/** `mlflow_multipart_uploads.completing_at`. */
export function multipartClaimsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('mlflow_multipart_uploads').addColumn('completing_at', 'bigint').execute();
    },
  };
}
