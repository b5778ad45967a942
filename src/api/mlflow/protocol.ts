// MLflow's wire conventions (research note §1): a request message comes from the query string on
// GET (repeated fields as repeated keys, numbers and bools as text) and from a JSON body otherwise;
// POST and PUT must say `Content-Type: application/json` (the CSRF guard MLflow added in 2.9);
// unknown fields are ignored, as protobuf's ParseDict(ignore_unknown_fields=True) does; int64
// arrives as a number or a string; doubles may be "NaN"/"Infinity". Responses use proto field names,
// enums by name, int64 as JSON numbers, and omit unset fields and empty lists.
import { badRequest } from '../../kernel/index.ts';
import type { DatasetInput, Experiment, Metric, ModelOutput, Run, RunInfo, RunMetric, RunModels, Tag } from '../../tracking/index.ts';

/** A decoded request message: field name → raw value. */
export type Message = Readonly<Record<string, unknown>>;

/** What the route gate hands to resolvers and handlers (headers are passed by api/app.ts). */
export interface MlflowInput {
  readonly query: unknown;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
}

/** A header of the request, lower-case name. */
export function headerOf(input: MlflowInput, name: string): string | undefined {
  const v = input.headers?.[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The request message of an MLflow call. GET reads the query string (or, like MLflow, a JSON body
 * when the query string is empty); POST/PUT/PATCH/DELETE read the JSON body. POST and PUT without
 * `application/json` are refused before anything else is looked at.
 */
export function requestMessage(method: string, input: MlflowInput): Message {
  if (method === 'POST' || method === 'PUT') {
    const ct = headerOf(input, 'content-type');
    if (ct === undefined) throw badRequest('Bad Request. Content-Type header is missing.');
    if ((ct.split(';')[0] ?? '').trim().toLowerCase() !== 'application/json') throw badRequest("Bad Request. Content-Type must be one of ['application/json'].");
  }
  if (method === 'GET') {
    const q = input.query;
    if (typeof q === 'object' && q !== null && Object.keys(q).length > 0) return q as Message;
    if (typeof input.body === 'object' && input.body !== null && !Array.isArray(input.body)) return input.body as Message;
    return {};
  }
  const b = input.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw badRequest('Bad Request. The request body must be a JSON object.');
  return b as Message;
}

const missing = (field: string): Error => badRequest(`Missing value for required parameter '${field}'. See the API docs for more information about request parameters.`, { field });
const invalid = (field: string, v: unknown, expected: string): Error =>
  badRequest(`Invalid value ${JSON.stringify(v)?.slice(0, 100) ?? String(v)} for parameter '${field}' supplied: expected ${expected}.`, { field });

/** The first value of a repeated query key (GET sends `?a=1&a=2` as a list). */
const single = (v: unknown): unknown => (Array.isArray(v) && v.length > 0 && typeof v[0] !== 'object' ? v[0] : v);

export function optString(m: Message, field: string): string | undefined {
  const v = single(m[field]);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(field, v, 'a string');
  return v;
}

export function reqString(m: Message, field: string): string {
  const v = optString(m, field);
  if (v === undefined || v === '') throw missing(field);
  return v;
}

/** An int64 (number or decimal string). */
export function optInt(m: Message, field: string): number | undefined {
  const v = single(m[field]);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw invalid(field, v, 'an integer');
  return n;
}

/** A double: a number, a numeric string, or "NaN" / "Infinity" / "-Infinity" (protobuf JSON). */
export function reqDouble(m: Message, field: string): number {
  const v = single(m[field]);
  if (v === undefined || v === null || v === '') throw missing(field);
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === 'NaN' || t === 'nan') return Number.NaN;
    if (t === 'Infinity' || t === 'inf') return Number.POSITIVE_INFINITY;
    if (t === '-Infinity' || t === '-inf') return Number.NEGATIVE_INFINITY;
    if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  }
  throw invalid(field, v, 'a number');
}

/** A repeated string field (a single value counts as a list of one). */
export function stringList(m: Message, field: string): string[] {
  const v = m[field];
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    if (typeof x === 'number') return String(x);
    if (typeof x !== 'string') throw invalid(field, x, 'a list of strings');
    return x;
  });
}

function objects(m: Message, field: string): Message[] {
  const v = m[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(field, v, 'a list of objects');
  return v.map((x) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw invalid(field, x, 'a list of objects');
    return x as Message;
  });
}

/** `[{key, value}]` lists (tags, params). A missing value reads as ''. */
export function keyValues(m: Message, field: string): Tag[] {
  return objects(m, field).map((o) => ({ key: reqString(o, 'key'), value: optString(o, 'value') ?? '' }));
}

/** log-batch metrics. */
export function metricList(m: Message): Metric[] {
  return objects(m, 'metrics').map((o) => ({ key: reqString(o, 'key'), value: reqDouble(o, 'value'), timestamp: reqInt(o, 'timestamp'), step: optInt(o, 'step') ?? 0 }));
}

export function reqInt(m: Message, field: string): number {
  const v = optInt(m, field);
  if (v === undefined) throw missing(field);
  return v;
}

export function optBool(m: Message, field: string): boolean | undefined {
  const v = single(m[field]);
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw invalid(field, v, 'true or false');
}

/** log-inputs datasets: `[{tags:[{key,value}], dataset:{name,digest,source_type,source,schema,profile}}]`. */
export function datasetInputs(m: Message): DatasetInput[] {
  return objects(m, 'datasets').map((o) => {
    const d = o['dataset'];
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw missing('dataset');
    const dm = d as Message;
    return {
      tags: keyValues(o, 'tags'),
      dataset: {
        name: reqString(dm, 'name'),
        digest: reqString(dm, 'digest'),
        sourceType: reqString(dm, 'source_type'),
        source: reqString(dm, 'source'),
        schema: optString(dm, 'schema') ?? null,
        profile: optString(dm, 'profile') ?? null,
      },
    };
  });
}

/** The run id of a request: `run_id`, or the deprecated `run_uuid`. */
export function runIdOf(m: Message): string {
  const id = optString(m, 'run_id') ?? optString(m, 'run_uuid');
  if (id === undefined || id === '') throw missing('run_id');
  return id;
}

// ---- responses ----------------------------------------------------------------------------------

/** A double as protobuf JSON writes it: non-finite values as strings. */
export function doubleJson(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

const kvJson = (tags: readonly Tag[]): { key: string; value: string }[] => tags.map((t) => ({ key: t.key, value: t.value }));
/** Adds `field: list` only when the list is not empty (proto3 JSON omits empty repeated fields). */
/** `{[field]: list}` when the list is not empty: MLflow's JSON leaves empty repeated fields out. */
export const withList = <T>(field: string, list: readonly T[]): Record<string, readonly T[]> => (list.length > 0 ? { [field]: list } : {});

export function experimentJson(e: Experiment): Record<string, unknown> {
  return {
    experiment_id: e.id,
    name: e.name,
    artifact_location: e.artifactLocation,
    lifecycle_stage: e.lifecycleStage,
    last_update_time: e.lastUpdateTime,
    creation_time: e.creationTime,
    ...withList('tags', kvJson(e.tags)),
  };
}

export function runInfoJson(i: RunInfo): Record<string, unknown> {
  return {
    run_id: i.id,
    run_uuid: i.id,
    run_name: i.name,
    experiment_id: i.experimentId,
    user_id: i.userId,
    status: i.status,
    start_time: i.startTime,
    ...(i.endTime === null ? {} : { end_time: i.endTime }),
    artifact_uri: i.artifactUri,
    lifecycle_stage: i.lifecycleStage,
  };
}

export const metricJson = (m: Metric): Record<string, unknown> => ({ key: m.key, value: doubleJson(m.value), timestamp: m.timestamp, step: m.step });
export const runMetricJson = (m: RunMetric): Record<string, unknown> => ({ ...metricJson(m), run_id: m.runId });

export function runJson(r: Run): Record<string, unknown> {
  return {
    info: runInfoJson(r.info),
    data: { ...withList('metrics', r.data.metrics.map(metricJson)), ...withList('params', kvJson(r.data.params)), ...withList('tags', kvJson(r.data.tags)) },
    inputs: withList(
      'dataset_inputs',
      r.inputs.map((i) => ({
        ...withList('tags', kvJson(i.tags)),
        dataset: {
          name: i.dataset.name,
          digest: i.dataset.digest,
          source_type: i.dataset.sourceType,
          source: i.dataset.source,
          ...(i.dataset.schema === null ? {} : { schema: i.dataset.schema }),
          ...(i.dataset.profile === null ? {} : { profile: i.dataset.profile }),
        },
      })),
    ),
  };
}

/**
 * MLflow 3.x: `Run.outputs` (RunOutputs: `{}`, or `{model_outputs:[{model_id, step}]}`) and
 * `Run.inputs.model_inputs` (RunInputs: `[{model_id}]`, beside `dataset_inputs`).
 */
export const withModels = (run: Record<string, unknown>, models: RunModels | undefined): Record<string, unknown> => {
  const outputs: readonly ModelOutput[] = models?.outputs ?? [];
  const inputs = models?.inputs ?? [];
  return {
    ...run,
    inputs: { ...(run['inputs'] as Record<string, unknown>), ...withList('model_inputs', inputs.map((id) => ({ model_id: id }))) },
    outputs: outputs.length === 0 ? {} : { model_outputs: outputs.map((o) => ({ model_id: o.modelId, step: o.step })) },
  };
};

/** `{list_field: [...], next_page_token}` with both omitted when empty. */
export function pageJson(field: string, items: readonly unknown[], next: string | undefined): Record<string, unknown> {
  return { ...withList(field, items), ...(next === undefined ? {} : { next_page_token: next }) };
}

/** `{[k]: v}` when v is defined, else `{}`: optional fields for exactOptionalPropertyTypes inputs. */
export const opt = <K extends string, V>(k: K, v: V | undefined): Partial<Record<K, V>> => (v === undefined ? {} : ({ [k]: v } as Record<K, V>));

/** The paging fields every MLflow search request carries: filter, order_by, max_results, page_token. */
export function searchPage(m: Message): { filter?: string; orderBy: string[]; maxResults?: number; pageToken?: string } {
  return { ...opt('filter', optString(m, 'filter')), orderBy: stringList(m, 'order_by'), ...opt('maxResults', optInt(m, 'max_results')), ...opt('pageToken', optString(m, 'page_token')) };
}
