// The hot-path statements of tracking, written once per dialect: bulk inserts of metric points and
// the latest-value upsert (one statement each, whatever the batch size: the rows travel as one JSON
// parameter read with json_each on SQLite, or as arrays read with unnest on PostgreSQL, so the
// prepared statement is reused), and the one-statement read of whole runs (info, latest metrics,
// params, tags and inputs aggregated as JSON) used by runs/get and to fill a search page.
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { DialectName } from '../store/index.ts';
import type { Metric } from './model.ts';

type Sql = RawBuilder<unknown>;

/** A number as JSON text that SQLite's json_each reads back exactly, ±Infinity included (SQLite writes 9e999). */
function jsonNumber(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return 'null';
  return v > 0 ? '9e999' : '-9e999';
}

/**
 * Rows of (key, value, is_nan, step, timestamp) as a SELECT source for `INSERT ... SELECT`. In the
 * history table a NaN is stored as value 0 with is_nan 1 (MLflow's encoding, so the primary key has
 * no NULL); in the latest table its value is NULL so that no comparison ever matches it.
 */
function metricRows(dialect: DialectName, fixed: readonly string[], metrics: readonly Metric[], nanAs: 'zero' | 'null'): Sql {
  if (dialect === 'sqlite') {
    let json = '[';
    metrics.forEach((m, i) => {
      const nan = Number.isNaN(m.value);
      const v = nan ? (nanAs === 'zero' ? '0' : 'null') : jsonNumber(m.value);
      json += `${i === 0 ? '' : ','}[${JSON.stringify(m.key)},${v},${nan ? 1 : 0},${m.step},${m.timestamp}]`;
    });
    json += ']';
    return sql`select ${sql.join(fixed.map((f) => sql`${f}`))}, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4 from json_each(${json}) j where true`;
  }
  const keys: string[] = [];
  const values: (number | null)[] = [];
  const nans: number[] = [];
  const steps: number[] = [];
  const times: number[] = [];
  for (const m of metrics) {
    const nan = Number.isNaN(m.value);
    keys.push(m.key);
    values.push(nan ? (nanAs === 'zero' ? 0 : null) : m.value);
    nans.push(nan ? 1 : 0);
    steps.push(m.step);
    times.push(m.timestamp);
  }
  return sql`select ${sql.join(fixed.map((f) => sql`${f}::text`))}, * from unnest(${keys}::text[], ${values}::float8[], ${nans}::int[], ${steps}::int8[], ${times}::int8[])`;
}

/** Appends metric points to the history; exact duplicates (a replayed batch) are skipped. */
export function insertMetricHistory(dialect: DialectName, runId: string, metrics: readonly Metric[]): Sql {
  return sql`insert into run_metrics (run_id, key, value, is_nan, step, timestamp) ${metricRows(dialect, [runId], metrics, 'zero')} on conflict do nothing`;
}

/** Upserts the latest value per key; `metrics` must hold at most one point per key. Older points never win. */
export function upsertLatestMetrics(dialect: DialectName, runId: string, experimentId: string, metrics: readonly Metric[]): Sql {
  return sql`insert into run_latest_metrics (run_id, experiment_id, key, value, is_nan, step, timestamp) ${metricRows(dialect, [runId, experimentId], metrics, 'null')}
    on conflict (run_id, key) do update set value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, timestamp = excluded.timestamp
    where (excluded.step, excluded.timestamp, coalesce(excluded.value, 0)) > (run_latest_metrics.step, run_latest_metrics.timestamp, coalesce(run_latest_metrics.value, 0))`;
}

/** Rows of (key, value) string pairs as a SELECT source. */
function pairRows(dialect: DialectName, runId: string, experimentId: string, pairs: readonly { key: string; value: string }[]): Sql {
  if (dialect === 'sqlite') {
    return sql`select ${runId}, ${experimentId}, j.value ->> 0, j.value ->> 1 from json_each(${JSON.stringify(pairs.map((p) => [p.key, p.value]))}) j where true`;
  }
  return sql`select ${runId}::text, ${experimentId}::text, * from unnest(${pairs.map((p) => p.key)}::text[], ${pairs.map((p) => p.value)}::text[])`;
}

/** Inserts params that are not there yet (the caller then checks none differs: params are write-once). */
export function insertParams(dialect: DialectName, runId: string, experimentId: string, params: readonly { key: string; value: string }[]): Sql {
  return sql`insert into run_params (run_id, experiment_id, key, value) ${pairRows(dialect, runId, experimentId, params)} on conflict do nothing`;
}

/** Sets tags (last write wins). */
export function upsertTags(dialect: DialectName, runId: string, experimentId: string, tags: readonly { key: string; value: string }[]): Sql {
  return sql`insert into run_tags (run_id, experiment_id, key, value) ${pairRows(dialect, runId, experimentId, tags)} on conflict (run_id, key) do update set value = excluded.value`;
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
  readonly metrics: unknown;
  readonly params: unknown;
  readonly tags: unknown;
  readonly inputs: unknown;
}

/** Whole runs (info, latest metrics, params, tags, inputs) of one project, by id, in one statement. */
export function selectRuns(dialect: DialectName, projectId: string, ids: readonly string[]): RawBuilder<RunDetailRow> {
  if (dialect === 'sqlite') {
    return sql<RunDetailRow>`select r.id, r.experiment_id, r.project_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.lifecycle_stage, r.artifact_uri,
      (select json_group_array(json_array(m.key, m.value, m.step, m.timestamp, m.is_nan)) from run_latest_metrics m where m.run_id = r.id) as metrics,
      (select json_group_array(json_array(p.key, p.value)) from run_params p where p.run_id = r.id) as params,
      (select json_group_array(json_array(t.key, t.value)) from run_tags t where t.run_id = r.id) as tags,
      (select json_group_array(json_array(d.name, d.digest, d.source_type, d.source, d.schema, d.profile,
          json((select json_group_array(json_array(it.key, it.value)) from run_input_tags it where it.run_id = ri.run_id and it.dataset_id = ri.dataset_id))))
        from run_inputs ri join datasets d on d.id = ri.dataset_id where ri.run_id = r.id) as inputs
      from runs r where r.id in (select value from json_each(${JSON.stringify(ids)})) and r.project_id = ${projectId}`;
  }
  return sql<RunDetailRow>`select r.id, r.experiment_id, r.project_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.lifecycle_stage, r.artifact_uri,
    (select coalesce(json_agg(json_build_array(m.key, m.value, m.step, m.timestamp, m.is_nan)), '[]'::json) from run_latest_metrics m where m.run_id = r.id) as metrics,
    (select coalesce(json_agg(json_build_array(p.key, p.value)), '[]'::json) from run_params p where p.run_id = r.id) as params,
    (select coalesce(json_agg(json_build_array(t.key, t.value)), '[]'::json) from run_tags t where t.run_id = r.id) as tags,
    (select coalesce(json_agg(json_build_array(d.name, d.digest, d.source_type, d.source, d.schema, d.profile,
        (select coalesce(json_agg(json_build_array(it.key, it.value)), '[]'::json) from run_input_tags it where it.run_id = ri.run_id and it.dataset_id = ri.dataset_id))), '[]'::json)
      from run_inputs ri join datasets d on d.id = ri.dataset_id where ri.run_id = r.id) as inputs
    from runs r where r.id = any(${[...ids]}::text[]) and r.project_id = ${projectId}`;
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
