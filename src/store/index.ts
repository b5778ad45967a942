// The store: one database handle, migrations, transactions.
export { openStore, isPostgresUrl, isUniqueViolation, redactUrl, runQuery } from './store.ts';
export { precompile } from './precompiled.ts';
export type { PrecompiledQuery } from './precompiled.ts';
export type { Store, StoreOptions, Db, Tx, DialectName, DialectSql } from './store.ts';
export type * from './schema.ts';
export { batchRow, chunkRows, decodeBatch, decodePoints, sortedUnique, comparePoints, CHUNK_MAX_POINTS } from './metric-chunks.ts';
export type { KeyedPoint, MetricBatchRow, MetricPoint, MetricChunkRow } from './metric-chunks.ts';
