// Versioned schema migrations, applied at start. Each migration is written once with Kysely's
// schema builder; the few statements only one database understands (append-only triggers) are
// chosen by dialect. Never edit a released migration: add a new one.
import { sql } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { DialectName } from './store.ts';
import { trackingMigration } from './migrations-tracking.ts';
import { runArtifactsMigration } from './migrations-run-artifacts.ts';
import { registryMigration } from './migrations-registry.ts';
import { gangsMigration } from './migrations-gangs.ts';
import { loggedModelsMigration } from './migrations-logged-models.ts';
import { blobGcMigration } from './migrations-blob-gc.ts';
import { mlflowUploadsMigration } from './migrations-mlflow-uploads.ts';
import { metricChunksMigration } from './migrations-metric-chunks.ts';
import { metricStagingMigration } from './migrations-metric-staging.ts';
import { multipartClaimsMigration } from './migrations-multipart-claims.ts';
import { runVersionsMigration } from './migrations-run-versions.ts';

function spine(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('strata_meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('teams')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('projects')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('projects_team').on('projects').column('team_id').execute();
      await db.schema
        .createTable('principals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('platform_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('disabled_at', 'text')
        .execute();
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal_id', 'text', (c) => c.notNull().references('principals.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .addColumn('last_used_at', 'text')
        .execute();
      await db.schema.createIndex('tokens_principal').on('tokens').column('principal_id').execute();
      await db.schema
        .createTable('role_bindings')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal_id', 'text', (c) => c.notNull().references('principals.id'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('scope_kind', 'text', (c) => c.notNull())
        .addColumn('scope_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addUniqueConstraint('role_bindings_unique', ['principal_id', 'scope_kind', 'scope_id'])
        .execute();
      await db.schema.createIndex('role_bindings_scope').on('role_bindings').columns(['scope_kind', 'scope_id']).execute();
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('v', 'integer', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('project', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('before_hash', 'text')
        .addColumn('after_hash', 'text')
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('leaf_hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('secrets')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('ciphertext', 'text')
        .addColumn('wrapped_key', 'text')
        .addColumn('kek_version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('destroyed_at', 'text')
        .addPrimaryKeyConstraint('secrets_pk', ['project_id', 'name', 'version'])
        .execute();
      await db.schema.createIndex('secrets_kek').on('secrets').column('kek_version').execute();

      // The audit table is append-only at the database level too (research §1.2 P1): the code has
      // no update/delete path, and these triggers refuse one even from a hand-written statement.
      if (dialect === 'sqlite') {
        await sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
                  BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`.execute(db);
        await sql`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
                  BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`.execute(db);
      } else {
        await sql`CREATE OR REPLACE FUNCTION strata_audit_append_only() RETURNS trigger
                  LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$`.execute(db);
        await sql`CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
                  FOR EACH ROW EXECUTE FUNCTION strata_audit_append_only()`.execute(db);
        await sql`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
                  FOR EACH STATEMENT EXECUTE FUNCTION strata_audit_append_only()`.execute(db);
      }
    },
  };
}

function jobs(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('nodes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('principal_id', 'text', (c) => c.notNull().references('principals.id'))
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('pool', 'text', (c) => c.notNull())
        .addColumn('capacity', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('registered_at', 'text', (c) => c.notNull())
        .addColumn('heartbeat_at', 'text', (c) => c.notNull())
        .addColumn('agent_version', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('node_id', 'text')
        .addColumn('next_run_at', 'text', (c) => c.notNull())
        .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      await db.schema.createIndex('jobs_state_next').on('jobs').columns(['state', 'next_run_at']).execute();
      await db.schema.createIndex('jobs_project').on('jobs').columns(['project_id', 'created_at']).execute();
      await db.schema.createIndex('jobs_node_state').on('jobs').columns(['node_id', 'state']).execute();
      await db.schema
        .createTable('attempts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('lease_token', 'text', (c) => c.notNull())
        .addColumn('lease_expires_at', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('exit_code', 'integer')
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('usage', 'text', (c) => c.notNull())
        .addUniqueConstraint('attempts_job_number', ['job_id', 'number'])
        .execute();
      await db.schema.createIndex('attempts_state_lease').on('attempts').columns(['state', 'lease_expires_at']).execute();
      await db.schema
        .createTable('job_logs')
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('stream', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('job_logs_pk', ['job_id', 'seq'])
        .execute();
      await db.schema
        .createTable('job_events')
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('from_state', 'text', (c) => c.notNull())
        .addColumn('to_state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('job_events_pk', ['job_id', 'seq'])
        .execute();
    },
  };
}

/** Outputs and checkpoints of job attempts: paths in an attempt's tree → content digests in the project's blob store. */
function jobArtifacts(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('job_artifacts')
        .addColumn('attempt_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('job_artifacts_pk', ['attempt_id', 'kind', 'path'])
        .execute();
      await db.schema.createIndex('job_artifacts_job').on('job_artifacts').columns(['job_id', 'kind', 'attempt']).execute();
    },
  };
}

/** Tokens limited to a scope (a job attempt's run-scoped token) and the run of each attempt. */
function scopedTokens(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('tokens').addColumn('scope', 'text').execute();
      await db.schema.alterTable('attempts').addColumn('run_id', 'text').execute();
    },
  };
}

/** All migrations in order. Names sort lexically. */
export function migrationProvider(dialect: DialectName): MigrationProvider {
  return {
    getMigrations: () => Promise.resolve({ '0001_spine': spine(dialect), '0002_jobs': jobs(), '0003_job_artifacts': jobArtifacts(), '0004_tracking': trackingMigration(dialect), '0005_run_artifacts': runArtifactsMigration(dialect), '0006_registry': registryMigration(dialect), '0007_scoped_tokens': scopedTokens(), '0008_gangs': gangsMigration(dialect), '0009_logged_models': loggedModelsMigration(dialect), '0010_blob_gc': blobGcMigration(), '0011_mlflow_uploads': mlflowUploadsMigration(), '0012_metric_staging': metricStagingMigration(dialect), '0013_multipart_claims': multipartClaimsMigration(), '0014_metric_chunks': metricChunksMigration(dialect), '0015_run_versions': runVersionsMigration() }),
  };
}
