// Migration 0005: the artifact tree of each run. A run's artifacts are a flat mapping of checked
// artifact paths (blobs/artifact-path.ts) to content digests in the project's blob store;
// directories are implied by the paths ('model/MLmodel' puts a file in the directory 'model').
// The primary key (run, path) serves every read: one file, and a directory listing as a range scan
// over `path >= 'dir/' AND path < 'dir0'` ('0' follows '/'). That range only means "under dir/"
// when paths compare byte by byte, so on PostgreSQL the column uses the "C" collation (SQLite's
// default BINARY collation already does); listings are then in code-point order on both.
// (project, digest) answers "is this blob still referenced?" for garbage collection.
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from './store.ts';

/** The run_artifacts table. */
export function runArtifactsMigration(dialect: DialectName): Migration {
  const pathType = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('run_artifacts')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('path', pathType, (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_artifacts_pk', ['run_id', 'path'])
        .execute();
      await db.schema.createIndex('run_artifacts_digest').on('run_artifacts').columns(['project_id', 'digest']).execute();
    },
  };
}
