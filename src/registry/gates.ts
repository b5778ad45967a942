// Promotion gates and model cards as pure rules: parsing a gate policy or a card from untrusted
// JSON, and deciding whether a version may take a gated alias. The decision is data (every check
// with its outcome and a message), so the API can refuse with reasons and audit exactly what was
// decided, allowed or refused.
import { badRequest } from '../kernel/index.ts';
import type { FairnessEvaluation, GateCheck, GateDecision, GateOp, MetricThreshold, ModelCard } from './model.ts';
import { GATE_OPS, REGISTRY_LIMITS } from './model.ts';

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function text(o: Record<string, unknown>, field: string, required: boolean): string {
  const v = o[field];
  if (v === undefined || v === null) {
    if (required) throw badRequest(`model card: '${field}' is required (a text)`, { field });
    return '';
  }
  if (typeof v !== 'string') throw badRequest(`model card: '${field}' must be a text`, { field });
  if (v.length > REGISTRY_LIMITS.cardTextLength) throw badRequest(`model card: '${field}' is longer than ${REGISTRY_LIMITS.cardTextLength} characters`, { field });
  return v;
}

function numberMap(v: unknown, field: string): Record<string, number> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw badRequest(`model card: '${field}' must be an object of metric name → number`, { field });
  const entries = Object.entries(v);
  if (entries.length > REGISTRY_LIMITS.cardMetrics) throw badRequest(`model card: '${field}' has more than ${REGISTRY_LIMITS.cardMetrics} metrics`, { field });
  const out: Record<string, number> = {};
  for (const [k, x] of entries) {
    if (k === '' || k.length > REGISTRY_LIMITS.tagKeyLength) throw badRequest(`model card: metric names in '${field}' must be 1–${REGISTRY_LIMITS.tagKeyLength} characters`, { field });
    if (typeof x !== 'number' || !Number.isFinite(x)) throw badRequest(`model card: '${field}.${k}' must be a finite number`, { field });
    out[k] = x;
  }
  return out;
}

/** Parses the editable part of a model card. `intendedUse`, `data` and `limitations` are required. */
export function parseModelCard(raw: unknown): Omit<ModelCard, 'updatedTime' | 'updatedBy'> {
  if (!isObject(raw)) throw badRequest('a model card is a JSON object with intendedUse, data, metrics, limitations and fairness');
  const known = new Set(['intendedUse', 'data', 'metrics', 'limitations', 'fairness']);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw badRequest(`model card: unknown field '${k}' (fields: ${[...known].join(', ')})`, { field: k });
  let fairness: FairnessEvaluation | null = null;
  const f = raw['fairness'];
  if (f !== undefined && f !== null) {
    if (!isObject(f)) throw badRequest("model card: 'fairness' must be an object {summary, groups: [{group, metrics}]}", { field: 'fairness' });
    const groupsRaw = f['groups'] ?? [];
    if (!Array.isArray(groupsRaw) || groupsRaw.length > REGISTRY_LIMITS.fairnessGroups) throw badRequest(`model card: 'fairness.groups' must be a list of at most ${REGISTRY_LIMITS.fairnessGroups} groups`, { field: 'fairness.groups' });
    fairness = {
      summary: text(f, 'summary', true),
      groups: groupsRaw.map((g: unknown) => {
        if (!isObject(g) || typeof g['group'] !== 'string' || g['group'] === '' || g['group'].length > 250) throw badRequest("model card: each fairness group needs a 'group' name (1–250 characters) and 'metrics'", { field: 'fairness.groups' });
        return { group: g['group'], metrics: numberMap(g['metrics'], 'fairness.groups.metrics') };
      }),
    };
  }
  return {
    intendedUse: text(raw, 'intendedUse', true),
    data: text(raw, 'data', true),
    metrics: numberMap(raw['metrics'], 'metrics'),
    limitations: text(raw, 'limitations', true),
    fairness,
  };
}

/** Parses a gate policy `{requireModelCard, metrics: [{key, op, threshold}]}`. */
export function parseGatePolicy(raw: unknown): { requireModelCard: boolean; metrics: MetricThreshold[] } {
  if (!isObject(raw)) throw badRequest('a promotion gate is a JSON object {requireModelCard, metrics: [{key, op, threshold}]}');
  const requireModelCard = raw['requireModelCard'] ?? false;
  if (typeof requireModelCard !== 'boolean') throw badRequest("'requireModelCard' must be true or false", { field: 'requireModelCard' });
  const list = raw['metrics'] ?? [];
  if (!Array.isArray(list) || list.length > REGISTRY_LIMITS.gateMetrics) throw badRequest(`'metrics' must be a list of at most ${REGISTRY_LIMITS.gateMetrics} thresholds`, { field: 'metrics' });
  const metrics = list.map((m: unknown): MetricThreshold => {
    if (!isObject(m)) throw badRequest("each metric threshold is {key, op, threshold}, e.g. {\"key\": \"accuracy\", \"op\": \">=\", \"threshold\": 0.9}", { field: 'metrics' });
    const key = m['key'];
    const op = m['op'] ?? '>=';
    const threshold = m['threshold'];
    if (typeof key !== 'string' || key === '' || key.length > REGISTRY_LIMITS.tagKeyLength) throw badRequest(`a metric threshold needs a 'key' of 1–${REGISTRY_LIMITS.tagKeyLength} characters`, { field: 'metrics.key' });
    if (typeof op !== 'string' || !(GATE_OPS as readonly string[]).includes(op)) throw badRequest(`metric threshold '${key}': 'op' must be one of ${GATE_OPS.join(' ')}`, { field: 'metrics.op' });
    if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw badRequest(`metric threshold '${key}': 'threshold' must be a finite number`, { field: 'metrics.threshold' });
    return { key, op: op as GateOp, threshold };
  });
  if (!requireModelCard && metrics.length === 0) throw badRequest('a promotion gate must require a model card, metric thresholds, or both');
  return { requireModelCard, metrics };
}

function compare(value: number, op: GateOp, threshold: number): boolean {
  switch (op) {
    case '>=':
      return value >= threshold;
    case '>':
      return value > threshold;
    case '<=':
      return value <= threshold;
    case '<':
      return value < threshold;
    case '=':
      return value === threshold;
  }
}

/**
 * Decides whether a version meets a gate: a complete model card if required (intended use, data,
 * limitations and a fairness evaluation), and each metric of its run (the latest value) meeting its
 * threshold. A missing or NaN metric fails its check.
 */
export function evaluateGate(
  gate: { readonly alias: string; readonly requireModelCard: boolean; readonly metrics: readonly MetricThreshold[] },
  card: Omit<ModelCard, 'updatedTime' | 'updatedBy'> | null,
  runMetrics: ReadonlyMap<string, number> | null,
): GateDecision {
  const checks: GateCheck[] = [];
  if (gate.requireModelCard) {
    const missing: string[] = [];
    if (card === null) missing.push('the model card');
    else {
      if (card.intendedUse.trim() === '') missing.push('intendedUse');
      if (card.data.trim() === '') missing.push('data');
      if (card.limitations.trim() === '') missing.push('limitations');
      if (card.fairness === null || card.fairness.summary.trim() === '') missing.push('a fairness evaluation');
    }
    checks.push(
      missing.length === 0
        ? { kind: 'model-card', ok: true, message: 'model card is complete' }
        : { kind: 'model-card', ok: false, message: `model card incomplete: missing ${missing.join(', ')}` },
    );
  }
  for (const t of gate.metrics) {
    const v = runMetrics?.get(t.key);
    const value = v === undefined || Number.isNaN(v) ? null : v;
    const ok = value !== null && compare(value, t.op, t.threshold);
    const message =
      runMetrics === null
        ? `metric ${t.key}: the version has no run to take metrics from`
        : value === null
          ? `metric ${t.key} was not logged in the version's run (needs ${t.op} ${t.threshold})`
          : `metric ${t.key} = ${value} ${ok ? 'meets' : 'does not meet'} ${t.op} ${t.threshold}`;
    checks.push({ kind: 'metric', key: t.key, op: t.op, threshold: t.threshold, value, ok, message });
  }
  return { alias: gate.alias, allowed: checks.every((c) => c.ok), checks };
}
