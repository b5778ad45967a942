// The store: one database handle, migrations, transactions.
export { openStore, isPostgresUrl, isUniqueViolation, redactUrl } from './store.ts';
export type { Store, StoreOptions, Db, Tx, DialectName } from './store.ts';
export type * from './schema.ts';
