// Compiles the search AST (search-filter.ts) to one parameterised SQL statement per page — never a
// scan filtered in JavaScript. Every user value is a bound parameter; the only text spliced in is
// chosen here from closed sets (comparators of the AST union, generated join aliases, column names).
//
// Plan shape: a metric, param or tag comparison is an inner join on its (run_id, key) primary key —
// unique, so rows never multiply — which lets the planner drive the query from the
// (key, value) index when that is the selective side: `metrics.acc > 0.5 ORDER BY metrics.acc DESC
// LIMIT 100` walks run_latest_metrics_key_value backwards and stops after 100 rows. An order-by key
// not constrained by the filter is a left join sorted with absent (and NaN) values last, as MLflow
// sorts them. Dataset comparisons are EXISTS subqueries (a run may have many inputs).
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { DialectName } from '../store/index.ts';
import { SYSTEM_TAGS, VALUE_INDEX_PREFIX } from './model.ts';
import type { LifecycleStage } from './model.ts';
import type { ExperimentClause, ExperimentOrderAttribute, NumericOp, OrderTerm, RunClause, RunOrderKey, StringOp } from './search-filter.ts';
import { likeToGlob } from './search-filter.ts';

type Sql = RawBuilder<unknown>;

const numericOp = (op: NumericOp): Sql => sql.raw(op);

/** A string comparison on `column` (LIKE is case-sensitive and ILIKE is not, on both databases). */
export function stringCompare(dialect: DialectName, column: Sql, op: StringOp, value: string, indexed: boolean): Sql {
  switch (op) {
    case '=':
      // The indexes on params/tags cover a prefix of the value (PostgreSQL caps index entries);
      // comparing the prefix too lets the planner use them.
      return indexed
        ? sql`substr(${column}, 1, ${sql.lit(VALUE_INDEX_PREFIX)}) = substr(${value}, 1, ${sql.lit(VALUE_INDEX_PREFIX)}) and ${column} = ${value}`
        : sql`${column} = ${value}`;
    case '!=':
      return sql`${column} <> ${value}`;
    case 'LIKE':
      return dialect === 'sqlite' ? sql`${column} glob ${likeToGlob(value)}` : sql`${column} like ${value} escape ''`;
    case 'ILIKE':
      return dialect === 'sqlite' ? sql`${column} like ${value}` : sql`${column} ilike ${value} escape ''`;
  }
}

const RUN_COLUMNS = {
  run_id: sql`r.id`,
  run_name: sql`r.name`,
  status: sql`r.status`,
  user_id: sql`r.user_id`,
  artifact_uri: sql`r.artifact_uri`,
  start_time: sql`r.start_time`,
  end_time: sql`r.end_time`,
  experiment_id: sql`r.experiment_id`,
} as const;

const ENTITY_TABLE = { metric: 'run_latest_metrics', param: 'run_params', tag: 'run_tags' } as const;

export interface RunSearchSql {
  readonly dialect: DialectName;
  readonly experimentIds: readonly string[];
  readonly stages: readonly LifecycleStage[];
  readonly clauses: readonly RunClause[];
  readonly order: readonly OrderTerm<RunOrderKey>[];
  readonly offset: number;
  readonly limit: number;
}

interface EntityJoin {
  readonly alias: string;
  readonly kind: 'metric' | 'param' | 'tag';
  readonly key: string;
  readonly left: boolean;
}

/**
 * The statement selecting one page of run ids, in order. On SQLite, whose planner does not weigh
 * LIMIT, the join order is chosen here when one is always at least as good: when the first order
 * term is a filtered metric/param/tag, or a param/tag is filtered by equality, that table's
 * (key, experiment_id, value) index range drives the query (it holds only this experiment's runs
 * with that key, in value order), joined to runs by primary key. PostgreSQL's planner costs LIMIT
 * itself and is left to choose.
 */
export function compileRunSearch(q: RunSearchSql): RawBuilder<{ id: string }> {
  const joins: EntityJoin[] = [];
  const wheres: Sql[] = [sql`r.experiment_id in (${sql.join([...q.experimentIds])})`, sql`r.lifecycle_stage in (${sql.join([...q.stages])})`];
  /** Inner-joined (filtered) entity keys → alias. */
  const filtered = new Map<string, string>();
  let equalityDriver: string | undefined;
  const joinFor = (kind: 'metric' | 'param' | 'tag', key: string, left: boolean): string => {
    const id = `${kind}:${key}`;
    const have = filtered.get(id);
    if (have !== undefined) return have;
    const alias = `${kind[0] as string}${joins.length}`;
    joins.push({ alias, kind, key, left });
    if (!left) filtered.set(id, alias);
    return alias;
  };
  // The experiment condition is implied by the run's, but stating it on the joined table lets one
  // (key, experiment_id, value) index range serve both the filter and the order.
  const joinCondition = (j: EntityJoin): Sql => {
    const a = sql.raw(j.alias);
    return sql`${a}.run_id = r.id and ${a}.key = ${j.key} and ${a}.experiment_id in (${sql.join([...q.experimentIds])})`;
  };

  for (const c of q.clauses) {
    switch (c.kind) {
      case 'metric': {
        const a = sql.raw(joinFor('metric', c.key, false));
        wheres.push(sql`${a}.value ${numericOp(c.op)} ${c.value}`);
        break;
      }
      case 'param':
      case 'tag': {
        const alias = joinFor(c.kind, c.key, false);
        if (c.op === '=') equalityDriver ??= alias;
        wheres.push(stringCompare(q.dialect, sql`${sql.raw(alias)}.value`, c.op, c.value, true));
        break;
      }
      case 'attribute':
        wheres.push(stringCompare(q.dialect, RUN_COLUMNS[c.key], c.op, c.value, false));
        break;
      case 'numeric-attribute':
        wheres.push(sql`${RUN_COLUMNS[c.key]} ${numericOp(c.op)} ${c.value}`);
        break;
      case 'run-id-set':
        wheres.push(sql`r.id ${sql.raw(c.op === 'IN' ? 'in' : 'not in')} (${sql.join([...c.values])})`);
        break;
      case 'dataset': {
        const cmp = (col: Sql): Sql => stringCompare(q.dialect, col, c.op, c.value, false);
        wheres.push(datasetExists(c.key, cmp));
        break;
      }
      case 'dataset-set': {
        const cmp = (col: Sql): Sql => sql`${col} ${sql.raw(c.op === 'IN' ? 'in' : 'not in')} (${sql.join([...c.values])})`;
        wheres.push(datasetExists(c.key, cmp));
        break;
      }
    }
  }

  const orders: Sql[] = [];
  let startTimeOrdered = false;
  for (const t of q.order) {
    const dir = sql.raw(t.ascending ? 'asc' : 'desc');
    const k = t.key;
    switch (k.kind) {
      case 'metric':
      case 'param':
      case 'tag': {
        const inner = filtered.get(`${k.kind}:${k.key}`);
        if (inner !== undefined) {
          orders.push(sql`${sql.raw(inner)}.value ${dir}`);
          break;
        }
        const a = sql.raw(joinFor(k.kind, k.key, true));
        orders.push(
          k.kind === 'metric'
            ? sql`case when ${a}.run_id is null then 2 when ${a}.is_nan = 1 then 1 else 0 end`
            : sql`case when ${a}.run_id is null then 1 else 0 end`,
        );
        orders.push(sql`${a}.value ${dir}`);
        break;
      }
      case 'attribute': {
        if (k.key === 'start_time') startTimeOrdered = true;
        const col = RUN_COLUMNS[k.key];
        if (k.key === 'end_time') orders.push(sql`case when r.end_time is null then 1 else 0 end`);
        orders.push(sql`${col} ${dir}`);
        break;
      }
    }
  }
  if (!startTimeOrdered) orders.push(sql`r.start_time desc`);
  orders.push(sql`r.id asc`);

  const first = q.order[0]?.key;
  const orderDriver = first !== undefined && first.kind !== 'attribute' ? filtered.get(`${first.kind}:${first.key}`) : undefined;
  const driver = q.dialect === 'sqlite' ? joins.find((j) => j.alias === (orderDriver ?? equalityDriver)) : undefined;
  let from: Sql = sql`runs r`;
  if (driver !== undefined) {
    // CROSS JOIN fixes SQLite's join order: the driving table is the outer loop.
    from = sql`${sql.raw(ENTITY_TABLE[driver.kind])} ${sql.raw(driver.alias)} cross join runs r`;
    wheres.unshift(joinCondition(driver));
  }
  const joined = joins.filter((j) => j !== driver).map((j) => sql`${sql.raw(j.left ? 'left join' : 'join')} ${sql.raw(ENTITY_TABLE[j.kind])} ${sql.raw(j.alias)} on ${joinCondition(j)}`);
  return sql<{ id: string }>`select r.id from ${from} ${sql.join(joined, sql` `)} where ${sql.join(wheres, sql` and `)} order by ${sql.join(orders)} limit ${q.limit} offset ${q.offset}`;
}

function datasetExists(field: 'name' | 'digest' | 'context', cmp: (col: Sql) => Sql): Sql {
  if (field === 'context') {
    return sql`exists (select 1 from run_input_tags it where it.run_id = r.id and it.key = ${SYSTEM_TAGS.datasetContext} and ${cmp(sql`it.value`)})`;
  }
  return sql`exists (select 1 from run_inputs ri join datasets d on d.id = ri.dataset_id where ri.run_id = r.id and ${cmp(sql.raw(`d.${field}`))})`;
}

export interface ExperimentSearchSql {
  readonly dialect: DialectName;
  readonly projectId: string;
  readonly stages: readonly LifecycleStage[];
  readonly clauses: readonly ExperimentClause[];
  readonly order: readonly OrderTerm<ExperimentOrderAttribute>[];
  readonly offset: number;
  readonly limit: number;
}

const EXPERIMENT_COLUMNS = {
  name: sql`e.name`,
  creation_time: sql`e.creation_time`,
  last_update_time: sql`e.last_update_time`,
} as const;

/** The statement selecting one page of experiment ids of a project, in order. */
export function compileExperimentSearch(q: ExperimentSearchSql): RawBuilder<{ id: string }> {
  const joins: Sql[] = [];
  const wheres: Sql[] = [sql`e.project_id = ${q.projectId}`, sql`e.lifecycle_stage in (${sql.join([...q.stages])})`];
  const tagAliases = new Map<string, string>();
  for (const c of q.clauses) {
    switch (c.kind) {
      case 'name':
        wheres.push(stringCompare(q.dialect, sql`e.name`, c.op, c.value, false));
        break;
      case 'numeric-attribute':
        wheres.push(sql`${EXPERIMENT_COLUMNS[c.key]} ${numericOp(c.op)} ${c.value}`);
        break;
      case 'tag': {
        let alias = tagAliases.get(c.key);
        if (alias === undefined) {
          alias = `t${tagAliases.size}`;
          tagAliases.set(c.key, alias);
          const a = sql.raw(alias);
          joins.push(sql`join experiment_tags ${a} on ${a}.experiment_id = e.id and ${a}.key = ${c.key}`);
        }
        wheres.push(stringCompare(q.dialect, sql`${sql.raw(alias)}.value`, c.op, c.value, false));
        break;
      }
    }
  }
  const order = q.order.length > 0 ? q.order : [{ key: 'creation_time' as const, ascending: false }];
  const orders: Sql[] = [];
  let idOrdered = false;
  for (const t of order) {
    const dir = sql.raw(t.ascending ? 'asc' : 'desc');
    if (t.key === 'experiment_id') {
      // Ids are decimal strings: order by length first so "10" sorts after "9".
      idOrdered = true;
      orders.push(sql`length(e.id) ${dir}`, sql`e.id ${dir}`);
    } else {
      orders.push(sql`${EXPERIMENT_COLUMNS[t.key]} ${dir}`);
    }
  }
  if (!idOrdered) orders.push(sql`length(e.id) asc`, sql`e.id asc`);
  return sql<{ id: string }>`select e.id from experiments e ${sql.join(joins, sql` `)} where ${sql.join(wheres, sql` and `)} order by ${sql.join(orders)} limit ${q.limit} offset ${q.offset}`;
}
