// The store: one database handle, migrations, transactions.
export { openStore, isPostgresUrl, isUniqueViolation, redactUrl } from './store.ts';
export { precompile } from './precompiled.ts';
export type { PrecompiledQuery } from './precompiled.ts';
export type { Store, StoreOptions, Db, Tx, DialectName } from './store.ts';
export type * from './schema.ts';
