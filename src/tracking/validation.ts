// Input rules for tracking data, shared by both front ends so a rule holds however data arrives:
// key syntax and lengths, value lengths and log-batch limits (MLflow's mlflow/utils/validation.py,
// research note §5). Pure: each check throws a 400 StrataError whose message says what to change.
import { posix } from 'node:path';
import { badRequest } from '../kernel/index.ts';
import type { Metric, Param, Tag } from './model.ts';
import { LIMITS } from './model.ts';

const KEY_CHARS = /^[/\w.\- :]*$/;

/**
 * Checks a metric, param or tag key. Keys can become file names (artifact paths, exports), so one
 * that normalises to a different path (`a//b`, `./a`, `../a`, `/a`) is refused, as MLflow does.
 */
export function validateKey(kind: 'metric' | 'param' | 'tag', key: unknown): string {
  if (typeof key !== 'string' || key === '') throw badRequest(`Missing value for required parameter 'key' of a ${kind}`, { field: 'key' });
  if (key.length > LIMITS.keyLength) throw badRequest(`${kind} key '${key.slice(0, 40)}...' has length ${key.length}, which exceeds the limit of ${LIMITS.keyLength}`, { field: 'key' });
  if (!KEY_CHARS.test(key)) {
    throw badRequest(`Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/).`, { field: 'key' });
  }
  const norm = posix.normalize(key);
  if (norm !== key || norm === '.' || norm.startsWith('..') || norm.startsWith('/')) {
    throw badRequest(`Invalid ${kind} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${norm}'`, { field: 'key' });
  }
  return key;
}

/** Checks a string value against a length limit. */
export function validateValue(what: string, value: unknown, max: number): string {
  if (typeof value !== 'string') throw badRequest(`Missing value for required parameter 'value' of ${what}`, { field: 'value' });
  if (value.length > max) throw badRequest(`${what} value '${value.slice(0, 40)}...' had length ${value.length}, which exceeded length limit of ${max}`, { field: 'value' });
  return value;
}

/** Checks an integer field (steps, timestamps): a safe integer. */
export function validateInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw badRequest(`Invalid value ${JSON.stringify(value)} for parameter '${field}': expected an integer`, { field });
  return value;
}

export function validateMetric(m: Metric): Metric {
  validateKey('metric', m.key);
  if (typeof m.value !== 'number') throw badRequest(`Got invalid value ${JSON.stringify(m.value)} for metric '${m.key}' (timestamp=${m.timestamp}). Please specify value as a valid double (64-bit floating point)`, { field: 'value' });
  validateInteger('timestamp', m.timestamp);
  validateInteger('step', m.step);
  return m;
}

export function validateParam(p: Param): Param {
  validateKey('param', p.key);
  validateValue(`param '${p.key}'`, p.value, LIMITS.paramValueLength);
  return p;
}

export function validateRunTag(t: Tag): Tag {
  validateKey('tag', t.key);
  validateValue(`tag '${t.key}'`, t.value, LIMITS.runTagValueLength);
  return t;
}

export function validateExperimentTag(t: Tag): Tag {
  validateKey('tag', t.key);
  validateValue(`experiment tag '${t.key}'`, t.value, LIMITS.experimentTagValueLength);
  return t;
}

export function validateExperimentName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw badRequest("Invalid experiment name: ''. Experiment names must be non-empty strings.", { field: 'name' });
  if (name.length > LIMITS.experimentNameLength) throw badRequest(`Experiment name has length ${name.length}, which exceeds the limit of ${LIMITS.experimentNameLength}`, { field: 'name' });
  return name;
}

/**
 * Checks a log-batch against MLflow's limits and refuses the same param key twice with different
 * values. Returns the params with exact duplicates folded (a retried client may send them).
 */
export function validateBatch(b: { readonly metrics: readonly Metric[]; readonly params: readonly Param[]; readonly tags: readonly Tag[] }): { metrics: readonly Metric[]; params: readonly Param[]; tags: readonly Tag[] } {
  if (b.metrics.length > LIMITS.batchMetrics) throw badRequest(`A batch logging request can contain at most ${LIMITS.batchMetrics} metrics. Got ${b.metrics.length} metrics. Please split up metrics across multiple requests and try again.`, { field: 'metrics' });
  if (b.params.length > LIMITS.batchParams) throw badRequest(`A batch logging request can contain at most ${LIMITS.batchParams} params. Got ${b.params.length} params. Please split up params across multiple requests and try again.`, { field: 'params' });
  if (b.tags.length > LIMITS.batchTags) throw badRequest(`A batch logging request can contain at most ${LIMITS.batchTags} tags. Got ${b.tags.length} tags. Please split up tags across multiple requests and try again.`, { field: 'tags' });
  const total = b.metrics.length + b.params.length + b.tags.length;
  if (total > LIMITS.batchTotal) throw badRequest(`A batch logging request can contain at most ${LIMITS.batchTotal} total metrics, params and tags. Got ${total}. Please split up the data across multiple requests and try again.`);
  // A batch repeats a few keys many times (10 keys × 100 steps): check each distinct key once.
  const keys = new Set<string>();
  for (const m of b.metrics) {
    if (!keys.has(m.key)) {
      validateKey('metric', m.key);
      keys.add(m.key);
    }
    if (typeof m.value !== 'number') throw badRequest(`Got invalid value ${JSON.stringify(m.value)} for metric '${m.key}' (timestamp=${m.timestamp}). Please specify value as a valid double (64-bit floating point)`, { field: 'value' });
    validateInteger('timestamp', m.timestamp);
    validateInteger('step', m.step);
  }
  for (const t of b.tags) validateRunTag(t);
  const params = new Map<string, Param>();
  for (const p of b.params) {
    validateParam(p);
    const seen = params.get(p.key);
    if (seen !== undefined && seen.value !== p.value) {
      throw badRequest(`Duplicate parameter keys have been submitted with different values: '${p.key}' ('${seen.value}' and '${p.value}'). Log each param once.`, { field: 'params', key: p.key });
    }
    params.set(p.key, p);
  }
  return { metrics: b.metrics, params: [...params.values()], tags: b.tags };
}

/**
 * The latest point per key among `metrics`, by MLflow's order: highest step, then timestamp, then
 * value (NaN counts as lowest).
 */
export function latestPerKey(metrics: readonly Metric[]): Metric[] {
  const best = new Map<string, Metric>();
  for (const m of metrics) {
    const b = best.get(m.key);
    if (b === undefined || compareMetricRecency(m, b) > 0) best.set(m.key, m);
  }
  return [...best.values()];
}

/** >0 when `a` is more recent than `b` (step, then timestamp, then value; NaN lowest). */
export function compareMetricRecency(a: Metric, b: Metric): number {
  if (a.step !== b.step) return a.step - b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  const av = Number.isNaN(a.value) ? 0 : a.value;
  const bv = Number.isNaN(b.value) ? 0 : b.value;
  return av === bv ? 0 : av > bv ? 1 : -1;
}

/**
 * Picks at most `maxResults` steps out of the sorted distinct `steps` within [start, end], evenly
 * spaced and always including the first and last (MLflow's get-history-bulk-interval sampling).
 */
export function sampleSteps(steps: readonly number[], start: number, end: number, maxResults: number): number[] {
  const inRange = steps.filter((s) => s >= start && s <= end);
  if (inRange.length <= maxResults) return inRange;
  if (maxResults <= 1) return inRange.slice(0, Math.max(0, maxResults));
  const out = new Set<number>();
  const stride = (inRange.length - 1) / (maxResults - 1);
  for (let i = 0; i < maxResults; i += 1) out.add(inRange[Math.round(i * stride)] as number);
  return [...out].sort((a, b) => a - b);
}
