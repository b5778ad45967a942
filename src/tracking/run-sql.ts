// The hot-path statements of tracking, written once per dialect: bulk inserts of metric points and
// the latest-value upsert (on PostgreSQL one statement whatever the batch size, the rows travel as
// arrays read with unnest; on SQLite the rows are bound as VALUES tuples in chunks of a few fixed
// sizes, so a handful of prepared statements serve every batch and no JSON is parsed per row — a
// quarter less CPU per 1,000 points than json_each), and the one-statement read of whole runs
// (info, latest metrics, params, tags and inputs aggregated as JSON) used by runs/get and to fill a
// search page.
import { CompiledQuery, sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { Selectable } from 'kysely';
import { StrataError, badRequest } from '../kernel/index.ts';
import { runQuery } from '../store/index.ts';
import type { DialectName, MetricBatchRow, MetricChunkRow, RunsTable, Store, Tx } from '../store/index.ts';
import type { Metric } from './model.ts';

type Sql = RawBuilder<unknown>;

/**
 * PostgreSQL: rows of (key, value, is_nan, step, timestamp) as a SELECT source for `INSERT ...
 * SELECT`, the columns as arrays read with unnest. In the latest table a NaN's value is NULL, with
 * is_nan 1, so that no comparison ever matches it.
 */
function metricRows(fixed: readonly string[], metrics: readonly Metric[]): Sql {
  const keys: string[] = [];
  const values: (number | null)[] = [];
  const nans: number[] = [];
  const steps: number[] = [];
  const times: number[] = [];
  for (const m of metrics) {
    const nan = Number.isNaN(m.value);
    keys.push(m.key);
    values.push(nan ? null : m.value);
    nans.push(nan ? 1 : 0);
    steps.push(m.step);
    times.push(m.timestamp);
  }
  return sql`select ${sql.join(fixed.map((f) => sql`${f}::text`))}, * from unnest(${keys}::text[], ${values}::float8[], ${nans}::int[], ${steps}::int8[], ${times}::int8[])`;
}

/** Runs statements in order in `tx` (the builders here return one or several); returns the rows they changed in all. */
export async function executeAll(tx: Tx, queries: readonly CompiledQuery[]): Promise<number> {
  let changed = 0;
  for (const q of queries) changed += Number((await runQuery(tx, q)).numAffectedRows ?? 0n);
  return changed;
}

/** Rows per SQLite VALUES statement: a batch is cut greedily into chunks of these sizes. */
const CHUNK_SIZES: readonly number[] = [500, 100, 10, 1];
/** The same for params and tags (at most 100 a request, usually a handful): one statement for up to five rows. */
const PAIR_CHUNK_SIZES: readonly number[] = [100, 50, 20, 10, 5, 4, 3, 2, 1];
const chunkTexts = new Map<string, string>();

/**
 * SQLite: `head values (?, …), … tail` for `rows` tuples of `width` parameters, one statement per
 * chunk. The texts are built once per (statement, chunk size) and the driver's statement cache
 * keeps them prepared.
 */
function valuesChunks(name: string, head: string, tail: string, width: number, params: readonly unknown[], sizes = CHUNK_SIZES): CompiledQuery[] {
  const out: CompiledQuery[] = [];
  const rows = params.length / width;
  let at = 0;
  for (const size of sizes) {
    while (rows - at >= size) {
      const key = `${name}/${size}`;
      let text = chunkTexts.get(key);
      if (text === undefined) {
        const tuple = `(${Array.from({ length: width }, () => '?').join(', ')})`;
        text = `${head} values ${Array.from({ length: size }, () => tuple).join(', ')} ${tail}`;
        chunkTexts.set(key, text);
      }
      out.push(CompiledQuery.raw(text, params.slice(at * width, (at + size) * width)));
      at += size;
    }
  }
  return out;
}

const LATEST_CONFLICT = `on conflict (run_id, key) do update set value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, timestamp = excluded.timestamp
    where (excluded.step, excluded.timestamp, coalesce(excluded.value, 0)) > (run_latest_metrics.step, run_latest_metrics.timestamp, coalesce(run_latest_metrics.value, 0))`;

const BATCH_INSERT = {
  sqlite: 'insert into run_metric_batches (run_id, digest, keys, points, data) values (?, ?, ?, ?, ?) on conflict do nothing',
  postgres: 'insert into run_metric_batches (run_id, digest, keys, points, data) values ($1, $2, $3, $4, $5) on conflict do nothing',
} as const;

/**
 * Stages the small-key points of one batch as one row, which the tracking service packs into chunks
 * later (metric-history.ts); a replayed batch (the same bytes) is skipped.
 */
export function insertMetricBatch(dialect: DialectName, row: MetricBatchRow): CompiledQuery {
  return CompiledQuery.raw(BATCH_INSERT[dialect], [row.run_id, row.digest, row.keys, row.points, row.data]);
}

/** Inserts history chunks; a chunk already stored (the same bytes: a replayed batch) is skipped. */
export function insertMetricChunks(tx: Tx, dialect: DialectName, chunks: readonly MetricChunkRow[]): CompiledQuery[] {
  if (chunks.length === 0) return [];
  if (dialect === 'sqlite') {
    const params: unknown[] = [];
    for (const c of chunks) params.push(c.run_id, c.key, c.first_step, c.last_step, c.points, c.digest, c.data);
    return valuesChunks('chunks', 'insert into run_metric_chunks (run_id, key, first_step, last_step, points, digest, data)', 'on conflict do nothing', 7, params);
  }
  // PostgreSQL binds at most 65,535 parameters per statement: 1,000 chunks of 7 each stay well below.
  const out: CompiledQuery[] = [];
  for (let at = 0; at < chunks.length; at += 1000) {
    out.push(tx.insertInto('run_metric_chunks').values(chunks.slice(at, at + 1000).map((c) => ({ ...c }))).onConflict((oc) => oc.doNothing()).compile());
  }
  return out;
}

/** Upserts the latest value per key; `metrics` must hold at most one point per key. Older points never win. */
export function upsertLatestMetrics(tx: Tx, dialect: DialectName, runId: string, experimentId: string, metrics: readonly Metric[]): CompiledQuery[] {
  if (dialect === 'sqlite') {
    const params: unknown[] = [];
    for (const m of metrics) {
      const nan = Number.isNaN(m.value);
      params.push(runId, experimentId, m.key, nan ? null : m.value, nan ? 1 : 0, m.step, m.timestamp);
    }
    return valuesChunks('latest', 'insert into run_latest_metrics (run_id, experiment_id, key, value, is_nan, step, timestamp)', LATEST_CONFLICT, 7, params);
  }
  return [sql`insert into run_latest_metrics (run_id, experiment_id, key, value, is_nan, step, timestamp) ${metricRows([runId, experimentId], metrics)} ${sql.raw(LATEST_CONFLICT)}`.compile(tx)];
}

type Pair = { readonly key: string; readonly value: string };

/**
 * `head … tail` for rows of (run, experiment, key, value): VALUES tuples on SQLite (one text per
 * chunk size, kept prepared; a JSON array read with json_each cost three times as much for a handful
 * of rows), two arrays read with unnest on PostgreSQL.
 */
function pairInserts(dialect: DialectName, name: string, head: string, tail: string, runId: string, experimentId: string, pairs: readonly Pair[]): CompiledQuery[] {
  if (pairs.length === 0) return [];
  if (dialect === 'sqlite') {
    const params: unknown[] = [];
    for (const p of pairs) params.push(runId, experimentId, p.key, p.value);
    return valuesChunks(name, head, tail, 4, params, PAIR_CHUNK_SIZES);
  }
  return [
    CompiledQuery.raw(`${head} select $1::text, $2::text, * from unnest($3::text[], $4::text[]) ${tail}`, [
      runId,
      experimentId,
      pairs.map((p) => p.key),
      pairs.map((p) => p.value),
    ]),
  ];
}

/** Inserts params that are not there yet (the caller then checks none differs: params are write-once). */
export function insertParams(dialect: DialectName, runId: string, experimentId: string, params: readonly Pair[]): CompiledQuery[] {
  return pairInserts(dialect, 'params', 'insert into run_params (run_id, experiment_id, key, value)', 'on conflict do nothing', runId, experimentId, params);
}

/** Sets tags (last write wins); `tags` must not name a key twice (PostgreSQL refuses to update a row twice in one statement). */
export function upsertTags(dialect: DialectName, runId: string, experimentId: string, tags: readonly Pair[]): CompiledQuery[] {
  return pairInserts(dialect, 'tags', 'insert into run_tags (run_id, experiment_id, key, value)', 'on conflict (run_id, key) do update set value = excluded.value', runId, experimentId, tags);
}

/** The columns selectRuns returns. JSON columns are text on SQLite and parsed values on PostgreSQL. */
export interface RunDetailRow {
  readonly id: string;
  readonly experiment_id: string;
  readonly project_id: string;
  readonly name: string;
  readonly user_id: string;
  readonly status: string;
  readonly start_time: number;
  readonly end_time: number | null;
  readonly lifecycle_stage: string;
  readonly artifact_uri: string;
  /** The run's change counter (migration 0015), read in the same statement as the rest. */
  readonly version: number | string;
  readonly metrics: unknown;
  readonly params: unknown;
  readonly tags: unknown;
  readonly inputs: unknown;
}

const RUN_DETAIL_SQL = {
  sqlite: `select r.id, r.experiment_id, r.project_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.lifecycle_stage, r.artifact_uri, r.version,
      (select json_group_array(json_array(m.key, m.value, m.step, m.timestamp, m.is_nan)) from run_latest_metrics m where m.run_id = r.id) as metrics,
      (select json_group_array(json_array(p.key, p.value)) from run_params p where p.run_id = r.id) as params,
      (select json_group_array(json_array(t.key, t.value)) from run_tags t where t.run_id = r.id) as tags,
      (select json_group_array(json_array(d.name, d.digest, d.source_type, d.source, d.schema, d.profile,
          json((select json_group_array(json_array(it.key, it.value)) from run_input_tags it where it.run_id = ri.run_id and it.dataset_id = ri.dataset_id))))
        from run_inputs ri join datasets d on d.id = ri.dataset_id where ri.run_id = r.id) as inputs
      from runs r where r.id in (select value from json_each(?)) and r.project_id = ?`,
  postgres: `select r.id, r.experiment_id, r.project_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.lifecycle_stage, r.artifact_uri, r.version,
    (select coalesce(json_agg(json_build_array(m.key, m.value, m.step, m.timestamp, m.is_nan)), '[]'::json) from run_latest_metrics m where m.run_id = r.id) as metrics,
    (select coalesce(json_agg(json_build_array(p.key, p.value)), '[]'::json) from run_params p where p.run_id = r.id) as params,
    (select coalesce(json_agg(json_build_array(t.key, t.value)), '[]'::json) from run_tags t where t.run_id = r.id) as tags,
    (select coalesce(json_agg(json_build_array(d.name, d.digest, d.source_type, d.source, d.schema, d.profile,
        (select coalesce(json_agg(json_build_array(it.key, it.value)), '[]'::json) from run_input_tags it where it.run_id = ri.run_id and it.dataset_id = ri.dataset_id))), '[]'::json)
      from run_inputs ri join datasets d on d.id = ri.dataset_id where ri.run_id = r.id) as inputs
    from runs r where r.id = any($1::text[]) and r.project_id = $2`,
} as const;

/**
 * Whole runs (info, latest metrics, params, tags, inputs) of one project, by id, in one statement:
 * a fixed text per dialect with the ids and the project bound, so nothing is compiled per call.
 */
export function selectRuns(dialect: DialectName, projectId: string, ids: readonly string[]): CompiledQuery<RunDetailRow> {
  return CompiledQuery.raw(RUN_DETAIL_SQL[dialect], [dialect === 'sqlite' ? JSON.stringify(ids) : [...ids], projectId]);
}

/** A JSON column as a value (SQLite returns text, PostgreSQL parsed JSON). */
export function jsonColumn(v: unknown): unknown {
  return typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
}

/** A number from a JSON column: PostgreSQL writes non-finite doubles as strings ("Infinity"). */
export function jsonNumberValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return Number.NaN;
}

const CLAIM_RUN = {
  sqlite: 'update runs set version = version + 1 where id = ? and project_id = ? returning',
  postgres: 'update runs set version = version + 1 where id = $1 and project_id = $2 returning',
} as const;
/** What a claim returns: the two columns every write path checks, or the whole row (a quarter the cost for the first). */
const CLAIMED = { state: 'lifecycle_stage, experiment_id', row: '*' } as const;
type Claimed = { state: Pick<Selectable<RunsTable>, 'lifecycle_stage' | 'experiment_id'>; row: Selectable<RunsTable> };

const RUN_VERSION = {
  sqlite: 'select version from runs where id = ? and project_id = ?',
  postgres: 'select version from runs where id = $1 and project_id = $2',
} as const;

/**
 * A new run's row, inserted only if its experiment is in the project and active: the check and
 * the insert are one statement (creating a run is the hot path of a training launcher). PostgreSQL
 * types a bare parameter in a select list as text, hence the casts.
 */
const INSERT_RUN = {
  sqlite:
    "insert into runs (id, experiment_id, project_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time, created_by) " +
    "select ?, id, project_id, ?, ?, 'RUNNING', ?, null, 'active', ?, null, ? from experiments where id = ? and project_id = ? and lifecycle_stage = 'active'",
  postgres:
    "insert into runs (id, experiment_id, project_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time, created_by) " +
    "select cast($1 as text), id, project_id, cast($2 as text), cast($3 as text), 'RUNNING', cast($4 as bigint), cast(null as bigint), 'active', cast($5 as text), cast(null as bigint), cast($6 as text) " +
    "from experiments where id = $7 and project_id = $8 and lifecycle_stage = 'active'",
} as const;

export interface NewRunRow {
  readonly id: string;
  readonly experimentId: string;
  readonly projectId: string;
  readonly name: string;
  readonly userId: string;
  readonly startTime: number;
  readonly artifactUri: string;
  readonly createdBy: string;
}

/** Inserts a RUNNING run; false (nothing written) when the project has no active experiment `experimentId`. */
export async function insertRunInActiveExperiment(tx: Tx, dialect: DialectName, r: NewRunRow): Promise<boolean> {
  const q = CompiledQuery.raw(INSERT_RUN[dialect], [r.id, r.name, r.userId, r.startTime, r.artifactUri, r.createdBy, r.experimentId, r.projectId]);
  return Number((await runQuery(tx, q)).numAffectedRows ?? 0) === 1;
}

/** The 404 of a run the project does not have. */
export const noRun = (id: string): StrataError => new StrataError('not_found', `Run with id=${id} not found`, { details: { run: id } });

/**
 * Opens a change to run `id` of `projectId`: bumps its change counter (migration 0015) and returns
 * its state (`'state'`: lifecycle stage and experiment) or whole row; 404 when the project has no
 * such run. The first statement of every transaction that changes what the run's MLflow document
 * holds (its row, latest metrics, params, tags, inputs, logged-model inputs and outputs), so a
 * reader holding a rendered copy sees the counter move in the same commit as the change. On
 * PostgreSQL it also takes the run's row lock before any other row of the run is written, so
 * concurrent writers of one run queue in one order and cannot deadlock.
 */
export async function claimRun<K extends keyof Claimed>(tx: Tx, dialect: DialectName, projectId: string, id: string, returning: K): Promise<Claimed[K]> {
  const q: CompiledQuery<Claimed[K]> = CompiledQuery.raw(`${CLAIM_RUN[dialect]} ${CLAIMED[returning]}`, [id, projectId]);
  const run = (await runQuery(tx, q)).rows[0];
  if (run === undefined) throw noRun(id);
  return run;
}

/** claimRun for a change only an active run takes (400 with MLflow's message for a deleted one). */
export async function claimActiveRun<K extends keyof Claimed>(tx: Tx, dialect: DialectName, projectId: string, id: string, returning: K): Promise<Claimed[K]> {
  const run = await claimRun(tx, dialect, projectId, id, returning);
  if (run.lifecycle_stage !== 'active') throw badRequest(`The run ${id} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`, { run: id });
  return run;
}

/** The change counter of run `id` of `projectId`, or undefined when the project has no such run: one primary-key read. */
export async function runVersion(store: Store, projectId: string, id: string): Promise<number | undefined> {
  const version = await store.firstValue(RUN_VERSION, [id, projectId]);
  return version === undefined ? undefined : Number(version);
}
