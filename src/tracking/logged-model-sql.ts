// Compiles a logged-model search (MLflow 3.x SearchLoggedModels: the filter AST of search-filter.ts,
// the request's dataset list and its order_by objects) to one parameterised SQL statement per page,
// as search-sql.ts does for runs. Every user value is a bound parameter; the only text spliced in is
// chosen here from closed sets (comparators of the AST union, column names, generated aliases).
//
// Semantics follow MLflow's SQL store: a metric comparison matches when ANY point of that metric
// (on one of the request's datasets, when it names some) satisfies it; a request naming datasets but
// no metric comparison keeps the models with some metric on those datasets; ordering by a metric
// uses its latest point (timestamp, then step) and sorts models without it last; the tie-breakers
// are creation time (newest first) and model id.
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { DialectName } from '../store/index.ts';
import type { LoggedModelClause, LoggedModelNumericAttribute, LoggedModelStringAttribute, NumericOp } from './search-filter.ts';
import { stringCompare } from './search-sql.ts';

type Sql = RawBuilder<unknown>;

/** A dataset a metric must have been logged on: the name, and the digest when given. */
export interface DatasetRef {
  readonly name: string;
  readonly digest?: string;
}

export type LoggedModelOrderKey =
  | { readonly kind: 'attribute'; readonly key: LoggedModelStringAttribute | LoggedModelNumericAttribute }
  | { readonly kind: 'metric'; readonly key: string; readonly dataset?: DatasetRef };

export interface LoggedModelOrderTerm {
  readonly key: LoggedModelOrderKey;
  readonly ascending: boolean;
}

export interface LoggedModelSearchSql {
  readonly dialect: DialectName;
  readonly projectId: string;
  readonly experimentIds: readonly string[];
  readonly clauses: readonly LoggedModelClause[];
  readonly datasets: readonly DatasetRef[];
  readonly order: readonly LoggedModelOrderTerm[];
  readonly offset: number;
  readonly limit: number;
}

const COLUMNS: Readonly<Record<LoggedModelStringAttribute | LoggedModelNumericAttribute, Sql>> = {
  name: sql`m.name`,
  model_id: sql`m.id`,
  model_type: sql`m.model_type`,
  status: sql`m.status`,
  source_run_id: sql`m.source_run_id`,
  creation_timestamp: sql`m.creation_timestamp_ms`,
  last_updated_timestamp: sql`m.last_updated_timestamp_ms`,
};

/** MLflow's Python entity names statuses without the prefix (`READY`); both spellings are accepted. */
const STATUS_ALIASES: Readonly<Record<string, string>> = {
  UNSPECIFIED: 'LOGGED_MODEL_STATUS_UNSPECIFIED',
  PENDING: 'LOGGED_MODEL_PENDING',
  READY: 'LOGGED_MODEL_READY',
  FAILED: 'LOGGED_MODEL_UPLOAD_FAILED',
  UPLOAD_FAILED: 'LOGGED_MODEL_UPLOAD_FAILED',
};
const statusValue = (v: string): string => STATUS_ALIASES[v.toUpperCase()] ?? v;

const numericOp = (op: NumericOp): Sql => sql.raw(op);

function onDatasets(datasets: readonly DatasetRef[], alias: Sql): Sql | undefined {
  if (datasets.length === 0) return undefined;
  const one = (d: DatasetRef): Sql => (d.digest === undefined ? sql`${alias}.dataset_name = ${d.name}` : sql`(${alias}.dataset_name = ${d.name} and ${alias}.dataset_digest = ${d.digest})`);
  return sql`(${sql.join(datasets.map(one), sql` or `)})`;
}

/** The statement selecting one page of logged-model ids (active models of the given experiments of one project), in order. */
export function compileLoggedModelSearch(q: LoggedModelSearchSql): RawBuilder<{ id: string }> {
  const wheres: Sql[] = [sql`m.project_id = ${q.projectId}`, sql`m.experiment_id in (${sql.join([...q.experimentIds])})`, sql`m.lifecycle_stage = 'active'`];
  const onRequestDatasets = onDatasets(q.datasets, sql`mm`);
  let metricFiltered = false;
  for (const c of q.clauses) {
    switch (c.kind) {
      case 'metric': {
        metricFiltered = true;
        const ds = onRequestDatasets === undefined ? sql`` : sql` and ${onRequestDatasets}`;
        wheres.push(sql`exists (select 1 from logged_model_metrics mm where mm.model_id = m.id and mm.key = ${c.key} and mm.is_nan = 0 and mm.value ${numericOp(c.op)} ${c.value}${ds})`);
        break;
      }
      case 'param':
        wheres.push(sql`exists (select 1 from logged_model_params p where p.model_id = m.id and p.key = ${c.key} and ${stringCompare(q.dialect, sql`p.value`, c.op, c.value, false)})`);
        break;
      case 'tag':
        wheres.push(sql`exists (select 1 from logged_model_tags t where t.model_id = m.id and t.key = ${c.key} and ${stringCompare(q.dialect, sql`t.value`, c.op, c.value, false)})`);
        break;
      case 'attribute': {
        const value = c.key === 'status' && (c.op === '=' || c.op === '!=') ? statusValue(c.value) : c.value;
        const cmp = stringCompare(q.dialect, COLUMNS[c.key], c.op, value, false);
        // An unset model type is stored as '': like a NULL, it matches no comparison.
        wheres.push(c.key === 'model_type' ? sql`(m.model_type <> '' and ${cmp})` : cmp);
        break;
      }
      case 'attribute-set': {
        const values = c.key === 'status' ? c.values.map(statusValue) : c.values;
        wheres.push(sql`${COLUMNS[c.key]} ${sql.raw(c.op === 'IN' ? 'in' : 'not in')} (${sql.join([...values])})`);
        break;
      }
      case 'numeric-attribute':
        wheres.push(sql`${COLUMNS[c.key]} ${numericOp(c.op)} ${c.value}`);
        break;
    }
  }
  if (onRequestDatasets !== undefined && !metricFiltered) wheres.push(sql`exists (select 1 from logged_model_metrics mm where mm.model_id = m.id and ${onRequestDatasets})`);

  // The order columns are computed in an inner select, so that a metric's latest value (a
  // correlated subquery) is computed once per row and the outer ORDER BY can test it for NULL.
  const columns: Sql[] = [sql`m.id as id`];
  const orders: Sql[] = [];
  let createdOrdered = false;
  let idOrdered = false;
  q.order.forEach((t, i) => {
    const alias = sql.raw(`o${i}`);
    const dir = sql.raw(t.ascending ? 'asc' : 'desc');
    const k = t.key;
    if (k.kind === 'attribute') {
      if (k.key === 'creation_timestamp') createdOrdered = true;
      if (k.key === 'model_id') idOrdered = true;
      columns.push(sql`${COLUMNS[k.key]} as ${alias}`);
    } else {
      const ds = k.dataset === undefined ? sql`` : sql` and ${onDatasets([k.dataset], sql`lm`) ?? sql`true`}`;
      columns.push(
        sql`(select case when lm.is_nan = 1 then null else lm.value end from logged_model_metrics lm where lm.model_id = m.id and lm.key = ${k.key}${ds} order by lm.timestamp desc, lm.step desc limit 1) as ${alias}`,
      );
    }
    orders.push(sql`case when q.${alias} is null then 1 else 0 end`, sql`q.${alias} ${dir}`);
  });
  columns.push(sql`m.creation_timestamp_ms as created`);
  if (!createdOrdered) orders.push(sql`q.created desc`);
  if (!idOrdered) orders.push(sql`q.id asc`);
  return sql<{ id: string }>`select q.id from (select ${sql.join(columns)} from logged_models m where ${sql.join(wheres, sql` and `)}) q order by ${sql.join(orders)} limit ${q.limit} offset ${q.offset}`;
}
