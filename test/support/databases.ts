// Test databases: every store-backed suite runs against SQLite and, when
// STRATA_TEST_DATABASE_URL is set (CI sets it), against PostgreSQL too. Each call gets a fresh,
// empty database. If PostgreSQL is expected and cannot be reached, the test FAILS — it never skips.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  readonly name: 'sqlite' | 'postgres';
  readonly url: string;
  drop(): Promise<void>;
}

export const postgresAdminUrl: string | undefined = process.env['STRATA_TEST_DATABASE_URL'];

async function createPostgres(adminUrl: string): Promise<TestDatabase> {
  const dbName = `strata_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(`STRATA_TEST_DATABASE_URL is set but PostgreSQL cannot be reached at ${adminUrl}: ${(e as Error).message}`);
  }
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  return {
    name: 'postgres',
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
    },
  };
}

function createSqlite(): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'strata-test-'));
  return {
    name: 'sqlite',
    url: join(dir, 'strata.db'),
    drop: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

/** The database kinds this run covers. */
export const databaseKinds: ReadonlyArray<'sqlite' | 'postgres'> = postgresAdminUrl === undefined ? ['sqlite'] : ['sqlite', 'postgres'];

/** A fresh, empty database of the given kind. */
export async function freshDatabase(kind: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  if (kind === 'sqlite') return createSqlite();
  if (postgresAdminUrl === undefined) throw new Error('PostgreSQL tests need STRATA_TEST_DATABASE_URL');
  return createPostgres(postgresAdminUrl);
}
