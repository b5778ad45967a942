// Queries built and compiled once, run many times with new parameter values. Kysely builds and
// compiles every query on every call (~5 µs for a ten-column insert); on the hot write paths that
// is a measurable share of a request. A precompiled query is built from placeholder values, and
// each call binds the real values in their places: the SQL text never changes, and values are
// still passed as bound parameters, never spliced into it.
import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import { StrataError } from '../kernel/index.ts';
import { runQuery } from './store.ts';
import type { Db, Tx } from './store.ts';

/** Runs the query with `values` bound in place of the placeholders. */
export type PrecompiledQuery<K extends string, R> = (executor: Db | Tx, values: Readonly<Record<K, unknown>>) => Promise<QueryResult<R>>;

/**
 * Compiles `build(db, placeholders)` once. `placeholders[k]` stands for the value of `k`; use each
 * only where a bound value goes (`values({...})`, the right side of `where`). Throws at once if a
 * placeholder does not come out as exactly one bound parameter (e.g. it was used twice, or inside
 * something Kysely inlines), so a query cannot silently bind the wrong value.
 */
export function precompile<K extends string, R>(db: Db, keys: readonly K[], build: (db: Db, p: Readonly<Record<K, never>>) => Compilable<R>): PrecompiledQuery<K, R> {
  const marks = new Map<string, K>(keys.map((k, i) => [`\u0000strata-placeholder-${i}\u0000`, k]));
  const placeholders = Object.fromEntries([...marks].map(([mark, k]) => [k, mark])) as unknown as Readonly<Record<K, never>>;
  const compiled = build(db, placeholders).compile();
  const slots = compiled.parameters.map((p) => (typeof p === 'string' ? marks.get(p) : undefined));
  const used = slots.filter((s): s is K => s !== undefined);
  if (new Set(used).size !== used.length || used.length !== keys.length) {
    throw new StrataError('internal', `precompiled query needs each of ${keys.join(', ')} exactly once as a bound parameter: ${compiled.sql}`);
  }
  return (executor, values) => {
    const parameters = compiled.parameters.map((p, i) => {
      const k = slots[i];
      return k === undefined ? p : values[k];
    });
    const q: CompiledQuery<R> = { query: compiled.query, queryId: compiled.queryId, sql: compiled.sql, parameters };
    return runQuery(executor, q);
  };
}
