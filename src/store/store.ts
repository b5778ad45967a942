// The database handle: Kysely over better-sqlite3 (embedded default, WAL) or pg (scale-out).
// Migrations run at open. All SQL goes through Kysely's builder or `sql` tagged templates, whose
// parameters are bound, never concatenated.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Transaction } from 'kysely';
import { StrataError } from '../kernel/index.ts';
import type { Database } from './schema.ts';
import { migrationProvider } from './migrations.ts';

export type DialectName = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

export interface Store {
  readonly db: Db;
  readonly dialect: DialectName;
  /** Runs `fn` in one transaction; rolls back if it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Takes the named exclusive lock for the rest of the transaction (no-op on SQLite, whose writers are serialised). */
  lock(tx: Tx, name: string): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** `postgres://...` / `postgresql://...`, a file path, or `:memory:`. */
  readonly url: string;
  /** SQLite `synchronous` pragma: NORMAL survives a process crash; FULL also survives power loss, at an fsync per commit. */
  readonly sqliteSync?: 'normal' | 'full';
  readonly poolSize?: number;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** Opens the database and applies pending migrations. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const dialect: DialectName = isPostgresUrl(options.url) ? 'postgres' : 'sqlite';
  let db: Db;
  if (dialect === 'postgres') {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      // bigint (int8) columns hold sequence numbers far below 2^53; read them as numbers.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
          oid === 20 ? (v: string): number => Number(v) : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
      },
    });
    // An idle client killed by the server (restart, pg_terminate_backend) must not crash the
    // process: the pool drops it and the next query opens a fresh connection.
    pool.on('error', () => undefined);
    // A client checked out inside a transaction when the server goes away emits its own 'error'
    // (57P01 on a restart); without a listener that would crash the process (node-postgres#2762).
    // The query in flight fails with the same error and its transaction rolls back.
    pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      await sql`select 1`.execute(db);
    } catch (e) {
      await db.destroy();
      throw new StrataError('unavailable', `cannot connect to PostgreSQL at ${redactUrl(options.url)}: ${(e as Error).message}`, { cause: e });
    }
  } else {
    if (options.url !== ':memory:') mkdirSync(dirname(options.url), { recursive: true });
    const sqlite = new BetterSqlite3(options.url);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`synchronous = ${options.sqliteSync === 'full' ? 'FULL' : 'NORMAL'}`);
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachedStatements(sqlite) }) });
  }

  const migrator = new Migrator({ db, provider: migrationProvider(dialect), migrationTableName: 'strata_migrations', migrationLockTableName: 'strata_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new StrataError('internal', `database migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`, { cause: error });
  }

  return {
    db,
    dialect,
    transaction: (fn) => db.transaction().execute(fn),
    async lock(tx, name) {
      if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${name}))`.execute(tx);
    },
    close: () => db.destroy(),
  };
}

/**
 * Kysely prepares every query anew; preparing is ~15 % of a simple request's CPU. Reusing prepared
 * statements is safe here because better-sqlite3 runs each one to completion synchronously and
 * Kysely's SQLite driver serialises access to its single connection. Bounded (LRU by insertion).
 */
function cachedStatements(sqlite: BetterSqlite3.Database, max = 500): { close(): void; prepare(sql: string): BetterSqlite3.Statement } {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      const hit = cache.get(sql);
      if (hit !== undefined) return hit;
      const stmt = sqlite.prepare(sql);
      if (cache.size >= max) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

/** Hides the password in a connection URL for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

/** True when `e` is a unique-constraint violation on either database. */
export function isUniqueViolation(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
