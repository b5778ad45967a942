// Migration 0006: the model registry. Registered models belong to a project (names unique per
// project); versions are numbered per model from a counter that never goes back, so a version
// number, once recorded in a provenance entry of the audit log, is never reused by that model.
// A version's files (path → digest, size) are its pinned manifest; the database refuses to change
// them or a version's manifest digest, source and run once written (triggers, like the audit log's),
// so "immutable once READY" holds even for hand-written SQL. Lineage reads join versions to runs by
// (project, run_id) and runs to datasets through tracking's run_inputs.
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from './store.ts';

/** The registry tables. */
export function registryMigration(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('registered_models')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('next_version', 'integer', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('last_updated_time', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addUniqueConstraint('registered_models_project_name', ['project_id', 'name'])
        .execute();
      await db.schema.createIndex('registered_models_project_updated').on('registered_models').columns(['project_id', 'last_updated_time']).execute();
      await db.schema
        .createTable('registered_model_tags')
        .addColumn('model_id', 'text', (c) => c.notNull().references('registered_models.id'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('registered_model_tags_pk', ['model_id', 'key'])
        .execute();
      await db.schema
        .createTable('model_versions')
        .addColumn('model_id', 'text', (c) => c.notNull().references('registered_models.id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text')
        .addColumn('run_link', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('last_updated_time', 'bigint', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('manifest_digest', 'text', (c) => c.notNull())
        .addColumn('file_count', 'integer', (c) => c.notNull())
        .addColumn('total_size', 'bigint', (c) => c.notNull())
        .addColumn('signature', 'text')
        .addColumn('logged_model_id', 'text')
        .addColumn('provenance', 'text', (c) => c.notNull())
        .addColumn('provenance_seq', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('model_versions_pk', ['model_id', 'version'])
        .execute();
      await db.schema.createIndex('model_versions_project_run').on('model_versions').columns(['project_id', 'run_id']).execute();
      await db.schema.createIndex('model_versions_model_stage').on('model_versions').columns(['model_id', 'stage', 'version']).execute();
      await db.schema
        .createTable('model_version_files')
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('model_version_files_pk', ['model_id', 'version', 'path'])
        .execute();
      await db.schema
        .createTable('model_version_tags')
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('model_version_tags_pk', ['model_id', 'version', 'key'])
        .execute();
      await db.schema
        .createTable('model_aliases')
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('model_aliases_pk', ['model_id', 'alias'])
        .execute();
      await db.schema
        .createTable('model_cards')
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('card', 'text', (c) => c.notNull())
        .addColumn('updated_time', 'bigint', (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('model_cards_pk', ['model_id', 'version'])
        .execute();
      await db.schema
        .createTable('promotion_gates')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('updated_time', 'bigint', (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('promotion_gates_pk', ['project_id', 'alias'])
        .execute();

      // Immutability of what a version is pinned to.
      if (dialect === 'sqlite') {
        await sql`CREATE TRIGGER model_version_files_no_update BEFORE UPDATE ON model_version_files
                  BEGIN SELECT RAISE(ABORT, 'model version files are immutable'); END`.execute(db);
        await sql`CREATE TRIGGER model_versions_pinned BEFORE UPDATE OF source, run_id, manifest_digest, file_count, total_size, provenance, provenance_seq, project_id ON model_versions
                  BEGIN SELECT RAISE(ABORT, 'a model version is immutable once READY'); END`.execute(db);
      } else {
        await sql`CREATE OR REPLACE FUNCTION strata_registry_immutable() RETURNS trigger
                  LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'a model version is immutable once READY'; END $$`.execute(db);
        await sql`CREATE TRIGGER model_version_files_no_update BEFORE UPDATE ON model_version_files
                  FOR EACH ROW EXECUTE FUNCTION strata_registry_immutable()`.execute(db);
        await sql`CREATE TRIGGER model_versions_pinned BEFORE UPDATE OF source, run_id, manifest_digest, file_count, total_size, provenance, provenance_seq, project_id ON model_versions
                  FOR EACH ROW EXECUTE FUNCTION strata_registry_immutable()`.execute(db);
      }
    },
  };
}
