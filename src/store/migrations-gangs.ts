// Gang jobs (replicas > 1): an attempt of a gang is one row per replica, so the attempt key becomes
// (job, number, replica); where each replica is placed lives in `job_replicas` until the gang ends;
// a node advertises the address its peers reach it at (MASTER_ADDR of the gangs whose rank 0 it runs).
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from './store.ts';

export function gangsMigration(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('nodes').addColumn('address', 'text').execute();
      await db.schema.alterTable('jobs').addColumn('replicas', 'integer', (c) => c.notNull().defaultTo(1)).execute();
      await db.schema.alterTable('job_logs').addColumn('replica', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      if (dialect === 'postgres') {
        await db.schema.alterTable('attempts').addColumn('replica', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable('attempts').dropConstraint('attempts_job_number').execute();
        await db.schema.alterTable('attempts').addUniqueConstraint('attempts_job_number_replica', ['job_id', 'number', 'replica']).execute();
      } else {
        // SQLite cannot drop a table constraint: rebuild the table with the new key, keeping every row.
        await db.schema
          .createTable('attempts_next')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id'))
          .addColumn('number', 'integer', (c) => c.notNull())
          .addColumn('replica', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('node_id', 'text', (c) => c.notNull())
          .addColumn('lease_token', 'text', (c) => c.notNull())
          .addColumn('lease_expires_at', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('ended_at', 'text')
          .addColumn('exit_code', 'integer')
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('usage', 'text', (c) => c.notNull())
          .addColumn('run_id', 'text')
          .addUniqueConstraint('attempts_job_number_replica', ['job_id', 'number', 'replica'])
          .execute();
        const cols = sql.raw('id, job_id, number, node_id, lease_token, lease_expires_at, state, started_at, ended_at, exit_code, reason, usage, run_id');
        await sql`insert into attempts_next (${cols}, replica) select ${cols}, 0 from attempts`.execute(db);
        await db.schema.dropTable('attempts').execute();
        await db.schema.alterTable('attempts_next').renameTo('attempts').execute();
        await db.schema.createIndex('attempts_state_lease').on('attempts').columns(['state', 'lease_expires_at']).execute();
      }
      await db.schema
        .createTable('job_replicas')
        .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id'))
        .addColumn('replica', 'integer', (c) => c.notNull())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('master_port', 'integer', (c) => c.notNull())
        .addColumn('attempt_id', 'text')
        .addPrimaryKeyConstraint('job_replicas_pk', ['job_id', 'replica'])
        .execute();
      await db.schema.createIndex('job_replicas_node').on('job_replicas').columns(['node_id', 'attempt_id']).execute();
    },
  };
}
