// The network description at the edge: an already-parsed JSON/YAML value in, a validated `Network`
// out, or one 400 listing every problem with its field path (unknown fields with a suggestion,
// NaN and infinities, negative delays, sizes beyond the limits, dangling references). Nothing is
// allocated for the network before this succeeds. The format (units: ms, mV, pF, nS, pA, Hz):
//
//   name: coba                      dt: 0.1       duration: 1000      seed: 1
//   models:        { <name>: <neuron> }             reusable neuron models
//   populations:   - { name, size, neuron: <model name> | <neuron>, init: { v: <dist>, <receptor>: <dist> } }
//   projections:   - { name?, from, to, receptor?, weight: <dist>, delay?: <dist>, connect: <rule>, seed?, stdp? }
//   inputs:        - { name?, to, receptor?, sources, rate, weight, start?, stop? }
//   monitors:      { spikes: [ { population, neurons?, max_spikes? } ], state: [ { population, variable, neurons, every? } ] }
//
//   <neuron>  lif:      { type: lif, tau_m, e_l, v_th, v_reset, t_ref?, receptors: { <name>: { tau } | { type: delta } } }
//             lif_cond: { type: lif_cond, c_m, g_l, e_l, v_th, v_reset, t_ref?, i_e?, receptors: { <name>: { tau, e_rev } } }
//             poisson:  { type: poisson, rate }
//   <dist>    a number | { uniform: [low, high] } | { normal: [mean, sd] }
//   <rule>    { rule: all_to_all | one_to_one | fixed_probability (p) | fixed_indegree (k) | fixed_outdegree (k),
//               autapses?: true, multapses?: true }
//   stdp      { tau_plus, tau_minus, a_plus, a_minus, w_min?: 0, w_max, rule?: additive | multiplicative,
//               interaction?: all | nearest }
//
// Delays and t_ref are rounded to whole steps of dt; a neuron spikes when v ≥ v_th after a step.
import type {
  ConnectRule,
  Distribution,
  LifCondModel,
  LifModel,
  Network,
  NeuronModel,
  PoissonInput,
  Population,
  Projection,
  Receptor,
  SpikeMonitor,
  SpikingLimits,
  StateMonitor,
  Stdp,
} from './network.ts';
import { SPIKING_LIMITS, toSteps } from './network.ts';
import { Problems, keyPath, show, suggest } from '../kernel/index.ts';

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/;
const NAME_HINT = "use up to 63 letters, digits, '_', '.' or '-', starting with a letter or '_'";
/** Largest delay in steps (delays are stored as 16-bit step counts). */
const MAX_DELAY_STEPS = 65_535;
/** Ring buffers of pending input: 8 bytes per neuron, receptor and delay slot, over all populations. */
const MAX_BUFFER_BYTES = 4 * 2 ** 30;
/** Poisson input: mean count per neuron and step (the sampling table grows with it). */
const MAX_INPUT_MEAN = 100_000;

const TOP = ['name', 'description', 'dt', 'duration', 'seed', 'models', 'populations', 'projections', 'inputs', 'monitors'] as const;
const POP = ['name', 'size', 'neuron', 'init'] as const;
const LIF = ['type', 'tau_m', 'e_l', 'v_th', 'v_reset', 't_ref', 'receptors'] as const;
const LIF_COND = ['type', 'c_m', 'g_l', 'e_l', 'v_th', 'v_reset', 't_ref', 'i_e', 'receptors'] as const;
const POISSON = ['type', 'rate'] as const;
const NEURON_TYPES = ['lif', 'lif_cond', 'poisson'] as const;
const PROJ = ['name', 'from', 'to', 'receptor', 'weight', 'delay', 'connect', 'seed', 'stdp'] as const;
const CONNECT_RULES = ['all_to_all', 'one_to_one', 'fixed_probability', 'fixed_indegree', 'fixed_outdegree'] as const;
const STDP = ['tau_plus', 'tau_minus', 'a_plus', 'a_minus', 'w_min', 'w_max', 'rule', 'interaction'] as const;
const INPUT = ['name', 'to', 'receptor', 'sources', 'rate', 'weight', 'start', 'stop'] as const;
const MONITORS = ['spikes', 'state'] as const;
const SPIKE_MON = ['population', 'neurons', 'max_spikes'] as const;
const STATE_MON = ['population', 'variable', 'neurons', 'every'] as const;

interface Ctx {
  readonly p: Problems;
  readonly limits: SpikingLimits;
  dt: number;
}

/** Options for `parseNetwork`. */
export interface ParseNetworkOptions {
  /** Override some of SPIKING_LIMITS (e.g. an agent's neuron capacity). */
  readonly limits?: Partial<SpikingLimits>;
  /** Put before every field path in errors, e.g. `network` for a description inside a job spec. */
  readonly pathPrefix?: string;
}

function mapping(ctx: Ctx, v: unknown, path: string, allowed: readonly string[]): Obj | undefined {
  if (!isObj(v)) {
    ctx.p.add(path, `expected a mapping with fields ${allowed.join(', ')}; got ${show(v)}`);
    return undefined;
  }
  for (const key of Object.keys(v)) {
    if (allowed.includes(key)) continue;
    const guess = suggest(key, allowed);
    ctx.p.add(keyPath(path, key), `unknown field; ${guess === undefined ? '' : `did you mean "${guess}"? `}allowed: ${allowed.join(', ')}`);
  }
  return v;
}

function list(ctx: Ctx, v: unknown, path: string, max: number): readonly unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    ctx.p.add(path, `expected a list; got ${show(v)}`);
    return [];
  }
  if (v.length > max) {
    ctx.p.add(path, `${v.length} items is more than the limit of ${max}`);
    return [];
  }
  return v;
}

interface NumRule {
  readonly unit?: string;
  readonly min?: number;
  /** Strictly greater than. */
  readonly above?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

/** A finite number within the rule, or undefined (with a problem recorded). */
function numberAt(ctx: Ctx, v: unknown, path: string, rule: NumRule = {}): number | undefined {
  const unit = rule.unit === undefined ? '' : ` (${rule.unit})`;
  if (typeof v !== 'number') {
    ctx.p.add(path, `expected a number${unit}; got ${show(v)}`);
    return undefined;
  }
  if (!Number.isFinite(v)) {
    ctx.p.add(path, `must be a finite number${unit}; got ${String(v)}`);
    return undefined;
  }
  if (rule.integer === true && !Number.isSafeInteger(v)) {
    ctx.p.add(path, `must be a whole number; got ${v}`);
    return undefined;
  }
  if (rule.above !== undefined && !(v > rule.above)) {
    ctx.p.add(path, `must be greater than ${rule.above}${unit}; got ${v}`);
    return undefined;
  }
  if (rule.min !== undefined && v < rule.min) {
    ctx.p.add(path, `must be at least ${rule.min}${unit}; got ${v}`);
    return undefined;
  }
  if (rule.max !== undefined && v > rule.max) {
    ctx.p.add(path, `must be at most ${rule.max.toLocaleString('en-US')}${unit}; got ${v}`);
    return undefined;
  }
  return v;
}

function field(ctx: Ctx, o: Obj, key: string, path: string, rule: NumRule = {}): number | undefined {
  if (o[key] === undefined) {
    ctx.p.add(keyPath(path, key), `is required${rule.unit === undefined ? '' : ` (${rule.unit})`}`);
    return undefined;
  }
  return numberAt(ctx, o[key], keyPath(path, key), rule);
}

function optionalField(ctx: Ctx, o: Obj, key: string, path: string, fallback: number, rule: NumRule = {}): number | undefined {
  return o[key] === undefined ? fallback : numberAt(ctx, o[key], keyPath(path, key), rule);
}

function bool(ctx: Ctx, o: Obj, key: string, path: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') {
    ctx.p.add(keyPath(path, key), `expected true or false; got ${show(v)}`);
    return fallback;
  }
  return v;
}

function oneOf<T extends string>(ctx: Ctx, v: unknown, path: string, allowed: readonly T[]): T | undefined {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  const guess = typeof v === 'string' ? suggest(v, allowed) : undefined;
  ctx.p.add(path, `expected one of ${allowed.join(', ')}; got ${show(v)}${guess === undefined ? '' : ` (did you mean "${guess}"?)`}`);
  return undefined;
}

function name(ctx: Ctx, v: unknown, path: string): string | undefined {
  if (typeof v !== 'string' || !NAME_RE.test(v)) {
    ctx.p.add(path, `expected a name (${NAME_HINT}); got ${show(v)}`);
    return undefined;
  }
  return v;
}

/** A number, `{ uniform: [low, high] }` or `{ normal: [mean, sd] }`. */
function distribution(ctx: Ctx, v: unknown, path: string, unit: string): Distribution | undefined {
  if (typeof v === 'number') {
    const x = numberAt(ctx, v, path, { unit });
    return x === undefined ? undefined : { kind: 'constant', value: x };
  }
  const form = `a number, { uniform: [low, high] } or { normal: [mean, sd] } (${unit})`;
  if (!isObj(v) || Object.keys(v).length !== 1) {
    ctx.p.add(path, `expected ${form}; got ${show(v)}`);
    return undefined;
  }
  const [kind] = Object.keys(v) as [string];
  const at = keyPath(path, kind);
  if (kind !== 'uniform' && kind !== 'normal') {
    const guess = suggest(kind, ['uniform', 'normal']);
    ctx.p.add(at, `unknown distribution; ${guess === undefined ? '' : `did you mean "${guess}"? `}expected ${form}`);
    return undefined;
  }
  const pair = v[kind];
  if (!Array.isArray(pair) || pair.length !== 2) {
    ctx.p.add(at, `expected a list of two numbers [${kind === 'uniform' ? 'low, high' : 'mean, sd'}]; got ${show(pair)}`);
    return undefined;
  }
  const a = numberAt(ctx, pair[0], `${at}[0]`, { unit });
  const b = numberAt(ctx, pair[1], `${at}[1]`, kind === 'normal' ? { unit, min: 0 } : { unit });
  if (a === undefined || b === undefined) return undefined;
  if (kind === 'uniform') {
    if (b < a) {
      ctx.p.add(at, `high (${b}) is below low (${a})`);
      return undefined;
    }
    return { kind: 'uniform', low: a, high: b };
  }
  return { kind: 'normal', mean: a, sd: b };
}

/** Lowest value a distribution can produce (−∞ for a normal with sd > 0). */
function lowest(d: Distribution): number {
  switch (d.kind) {
    case 'constant':
      return d.value;
    case 'uniform':
      return d.low;
    case 'normal':
      return d.sd === 0 ? d.mean : Number.NEGATIVE_INFINITY;
  }
}

function highest(d: Distribution): number {
  switch (d.kind) {
    case 'constant':
      return d.value;
    case 'uniform':
      return d.high;
    case 'normal':
      return d.sd === 0 ? d.mean : Number.POSITIVE_INFINITY;
  }
}

function receptors(ctx: Ctx, v: unknown, path: string, conductance: boolean): Receptor[] {
  const out: Receptor[] = [];
  if (v === undefined) return out;
  if (!isObj(v)) {
    ctx.p.add(path, `expected a mapping from receptor name to { ${conductance ? 'tau, e_rev' : 'tau } or { type: delta'} }; got ${show(v)}`);
    return out;
  }
  for (const [rname, spec] of Object.entries(v)) {
    const at = keyPath(path, rname);
    if (name(ctx, rname, at) === undefined) continue;
    if (rname === 'v') {
      ctx.p.add(at, "'v' is the membrane potential; give the receptor another name");
      continue;
    }
    const o = mapping(ctx, spec, at, conductance ? ['type', 'tau', 'e_rev'] : ['type', 'tau']);
    if (o === undefined) continue;
    const type = o['type'] === undefined ? 'exponential' : oneOf(ctx, o['type'], keyPath(at, 'type'), ['exponential', 'delta'] as const);
    if (type === undefined) continue;
    if (type === 'delta') {
      if (conductance) ctx.p.add(keyPath(at, 'type'), 'lif_cond receptors are conductances and must be exponential (give tau and e_rev)');
      else if (o['tau'] !== undefined) ctx.p.add(keyPath(at, 'tau'), 'a delta receptor has no time constant; remove tau');
      else out.push({ name: rname, type: 'delta' });
      continue;
    }
    const tau = field(ctx, o, 'tau', at, { unit: 'ms', above: 0, max: 1e12 });
    const eRev = conductance ? field(ctx, o, 'e_rev', at, { unit: 'mV', min: -1000, max: 1000 }) : null;
    if (tau !== undefined && eRev !== undefined) out.push({ name: rname, type: 'exponential', tau, eRev });
  }
  if (out.length > 16) ctx.p.add(path, `${out.length} receptors is more than the limit of 16`);
  return out;
}

function thresholds(ctx: Ctx, o: Obj, path: string): { eL?: number; vTh?: number; vReset?: number; tRef?: number } {
  const mv = { unit: 'mV', min: -1e4, max: 1e4 };
  const eL = field(ctx, o, 'e_l', path, mv);
  const vTh = field(ctx, o, 'v_th', path, mv);
  const vReset = field(ctx, o, 'v_reset', path, mv);
  const tRef = optionalField(ctx, o, 't_ref', path, 0, { unit: 'ms', min: 0, max: 1e5 });
  if (vTh !== undefined && vReset !== undefined && !(vReset < vTh)) ctx.p.add(keyPath(path, 'v_reset'), `must be below v_th (${vTh} mV); got ${vReset}`);
  return {
    ...(eL === undefined ? {} : { eL }),
    ...(vTh === undefined ? {} : { vTh }),
    ...(vReset === undefined ? {} : { vReset }),
    ...(tRef === undefined ? {} : { tRef }),
  };
}

function neuronModel(ctx: Ctx, v: unknown, path: string): NeuronModel | undefined {
  if (!isObj(v)) {
    ctx.p.add(path, `expected a neuron model (a mapping with type: ${NEURON_TYPES.join(' | ')}); got ${show(v)}`);
    return undefined;
  }
  const type = oneOf(ctx, v['type'], keyPath(path, 'type'), NEURON_TYPES);
  switch (type) {
    case undefined:
      return undefined;
    case 'poisson': {
      const o = mapping(ctx, v, path, POISSON);
      if (o === undefined) return undefined;
      const maxRate = 1000 / ctx.dt;
      const rate = field(ctx, o, 'rate', path, { unit: 'Hz', min: 0, max: maxRate });
      return rate === undefined ? undefined : { type: 'poisson', rate };
    }
    case 'lif': {
      const o = mapping(ctx, v, path, LIF);
      if (o === undefined) return undefined;
      const tauM = field(ctx, o, 'tau_m', path, { unit: 'ms', above: 0, max: 1e12 }); // 1e12: a perfect integrator
      const t = thresholds(ctx, o, path);
      const rs = receptors(ctx, o['receptors'], keyPath(path, 'receptors'), false);
      if (tauM === undefined || t.eL === undefined || t.vTh === undefined || t.vReset === undefined || t.tRef === undefined) return undefined;
      const m: LifModel = { type: 'lif', tauM, eL: t.eL, vTh: t.vTh, vReset: t.vReset, tRef: t.tRef, receptors: rs };
      return m;
    }
    case 'lif_cond': {
      const o = mapping(ctx, v, path, LIF_COND);
      if (o === undefined) return undefined;
      const cM = field(ctx, o, 'c_m', path, { unit: 'pF', above: 0, max: 1e9 });
      const gL = field(ctx, o, 'g_l', path, { unit: 'nS', above: 0, max: 1e9 });
      const iE = optionalField(ctx, o, 'i_e', path, 0, { unit: 'pA', min: -1e9, max: 1e9 });
      const t = thresholds(ctx, o, path);
      const rs = receptors(ctx, o['receptors'], keyPath(path, 'receptors'), true);
      if (cM === undefined || gL === undefined || iE === undefined || t.eL === undefined || t.vTh === undefined || t.vReset === undefined || t.tRef === undefined) return undefined;
      const m: LifCondModel = { type: 'lif_cond', cM, gL, eL: t.eL, vTh: t.vTh, vReset: t.vReset, tRef: t.tRef, iE, receptors: rs };
      return m;
    }
  }
}

/** The index of `v` among `names`, or undefined with a problem (and a suggestion). */
function reference(ctx: Ctx, v: unknown, path: string, names: readonly string[], what: string): number | undefined {
  if (typeof v !== 'string') {
    ctx.p.add(path, `expected the name of a ${what}; got ${show(v)}`);
    return undefined;
  }
  const i = names.indexOf(v);
  if (i >= 0) return i;
  const guess = suggest(v, names);
  ctx.p.add(path, `no ${what} named ${show(v)}${guess === undefined ? '' : `; did you mean "${guess}"?`}${names.length > 0 && names.length <= 20 ? ` (known: ${names.join(', ')})` : ''}`);
  return undefined;
}

/** The receptor a projection or input targets: named, or the target's only one. */
function receptorOf(ctx: Ctx, v: unknown, path: string, pop: Population | undefined): number | undefined {
  if (pop === undefined) return undefined;
  if (pop.model.type === 'poisson') {
    ctx.p.add(path, `population "${pop.name}" is a Poisson source and cannot receive spikes`);
    return undefined;
  }
  const names = pop.model.receptors.map((r) => r.name);
  if (v === undefined) {
    if (names.length === 1) return 0;
    ctx.p.add(path, names.length === 0 ? `population "${pop.name}" has no receptors; add some to its neuron model` : `is required: population "${pop.name}" has receptors ${names.join(', ')}`);
    return undefined;
  }
  return reference(ctx, v, path, names, `receptor of population "${pop.name}"`);
}

function seedAt(ctx: Ctx, v: unknown, path: string): number | null | undefined {
  if (v === undefined) return null;
  return numberAt(ctx, v, path, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
}

function connectRule(ctx: Ctx, v: unknown, path: string, pre: Population | undefined, post: Population | undefined, same: boolean): { rule: ConnectRule; synapses: number } | undefined {
  const o = mapping(ctx, v, path, ['rule', 'p', 'k', 'autapses', 'multapses']);
  if (o === undefined) return undefined;
  const rule = oneOf(ctx, o['rule'], keyPath(path, 'rule'), CONNECT_RULES);
  if (rule === undefined) return undefined;
  const needs = (key: string, yes: boolean): void => {
    if (!yes && o[key] !== undefined) ctx.p.add(keyPath(path, key), `is not used by rule ${rule}`);
  };
  needs('p', rule === 'fixed_probability');
  needs('k', rule === 'fixed_indegree' || rule === 'fixed_outdegree');
  needs('autapses', rule !== 'one_to_one');
  needs('multapses', rule === 'fixed_indegree' || rule === 'fixed_outdegree');
  const autapses = bool(ctx, o, 'autapses', path, true);
  const multapses = bool(ctx, o, 'multapses', path, true);
  if (pre === undefined || post === undefined) return undefined;
  const nPre = pre.size;
  const nPost = post.size;
  const selfless = same && !autapses ? 1 : 0;
  switch (rule) {
    case 'all_to_all':
      return { rule: { rule, autapses }, synapses: nPre * nPost - selfless * nPre };
    case 'one_to_one':
      if (nPre !== nPost) {
        ctx.p.add(keyPath(path, 'rule'), `one_to_one needs populations of equal size; "${pre.name}" has ${nPre}, "${post.name}" has ${nPost}`);
        return undefined;
      }
      return { rule: { rule }, synapses: nPre };
    case 'fixed_probability': {
      const p = field(ctx, o, 'p', path, { min: 0, max: 1 });
      if (p === undefined) return undefined;
      return { rule: { rule, p, autapses }, synapses: p * (nPre * nPost - selfless * nPre) };
    }
    case 'fixed_indegree':
    case 'fixed_outdegree': {
      const k = field(ctx, o, 'k', path, { integer: true, min: 0, max: 1e9 });
      if (k === undefined) return undefined;
      const pool = (rule === 'fixed_indegree' ? nPre : nPost) - selfless;
      if (!multapses && k > pool) {
        ctx.p.add(keyPath(path, 'k'), `${k} distinct ${rule === 'fixed_indegree' ? 'sources' : 'targets'} per neuron without multapses, but only ${pool} are available`);
        return undefined;
      }
      if (k > 0 && pool <= 0) {
        ctx.p.add(keyPath(path, 'k'), `no ${rule === 'fixed_indegree' ? 'source' : 'target'} is available (a single neuron without autapses)`);
        return undefined;
      }
      return { rule: { rule, k, autapses, multapses }, synapses: k * (rule === 'fixed_indegree' ? nPost : nPre) };
    }
  }
}

function stdpSpec(ctx: Ctx, v: unknown, path: string): Stdp | null | undefined {
  if (v === undefined) return null;
  const o = mapping(ctx, v, path, STDP);
  if (o === undefined) return undefined;
  const tauPlus = field(ctx, o, 'tau_plus', path, { unit: 'ms', above: 0, max: 1e6 });
  const tauMinus = field(ctx, o, 'tau_minus', path, { unit: 'ms', above: 0, max: 1e6 });
  const aPlus = field(ctx, o, 'a_plus', path, { min: 0, max: 1e9 });
  const aMinus = field(ctx, o, 'a_minus', path, { min: 0, max: 1e9 });
  const wMin = optionalField(ctx, o, 'w_min', path, 0, { min: -1e9, max: 1e9 });
  const wMax = field(ctx, o, 'w_max', path, { min: -1e9, max: 1e9 });
  const rule = o['rule'] === undefined ? 'additive' : oneOf(ctx, o['rule'], keyPath(path, 'rule'), ['additive', 'multiplicative'] as const);
  const interaction = o['interaction'] === undefined ? 'all' : oneOf(ctx, o['interaction'], keyPath(path, 'interaction'), ['all', 'nearest'] as const);
  if (wMin !== undefined && wMax !== undefined && !(wMax > wMin)) ctx.p.add(keyPath(path, 'w_max'), `must be greater than w_min (${wMin}); got ${wMax}`);
  if (tauPlus === undefined || tauMinus === undefined || aPlus === undefined || aMinus === undefined || wMin === undefined || wMax === undefined || rule === undefined || interaction === undefined) return undefined;
  return { tauPlus, tauMinus, aPlus, aMinus, wMin, wMax, rule, interaction };
}

function neuronList(ctx: Ctx, v: unknown, path: string, size: number | undefined): number[] | undefined {
  if (!Array.isArray(v)) {
    ctx.p.add(path, `expected a list of neuron indices; got ${show(v)}`);
    return undefined;
  }
  if (v.length === 0 || v.length > 1_000_000) {
    ctx.p.add(path, `expected 1 to 1,000,000 neuron indices; got ${v.length}`);
    return undefined;
  }
  const out: number[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < v.length; i++) {
    const n = numberAt(ctx, v[i], `${path}[${i}]`, { integer: true, min: 0, ...(size === undefined ? {} : { max: size - 1 }) });
    if (n === undefined) return undefined;
    if (seen.has(n)) {
      ctx.p.add(`${path}[${i}]`, `neuron ${n} is listed twice`);
      return undefined;
    }
    seen.add(n);
    out.push(n);
  }
  return out;
}

/**
 * Validates a network description (a parsed JSON or YAML value) and returns it resolved and
 * normalised. Throws one StrataError (bad_request) listing every problem with its field path;
 * nothing is allocated for the network itself before it succeeds.
 */
export function parseNetwork(input: unknown, options: ParseNetworkOptions = {}): Network {
  const limits: SpikingLimits = { ...SPIKING_LIMITS, ...(options.limits ?? {}) };
  const ctx: Ctx = { p: new Problems({ prefix: options.pathPrefix ?? '', lead: 'invalid network', root: 'network' }), limits, dt: 0.1 };
  const top = mapping(ctx, input, '', TOP);
  if (top === undefined) throw ctx.p.toError() ?? new Error('unreachable');

  const netName = top['name'] === undefined ? 'network' : (name(ctx, top['name'], 'name') ?? 'network');
  if (top['description'] !== undefined && typeof top['description'] !== 'string') ctx.p.add('description', `expected text; got ${show(top['description'])}`);
  const dt = optionalField(ctx, top, 'dt', '', 0.1, { unit: 'ms', min: limits.minDt, max: limits.maxDt }) ?? 0.1;
  ctx.dt = dt;
  const duration = top['duration'] === undefined ? null : (numberAt(ctx, top['duration'], 'duration', { unit: 'ms', above: 0, max: limits.maxDurationMs }) ?? null);
  const seed = seedAt(ctx, top['seed'], 'seed') ?? null;

  // Named models.
  const models = new Map<string, NeuronModel>();
  if (top['models'] !== undefined) {
    if (!isObj(top['models'])) ctx.p.add('models', `expected a mapping from model name to neuron model; got ${show(top['models'])}`);
    else
      for (const [mname, spec] of Object.entries(top['models'])) {
        const at = keyPath('models', mname);
        if (name(ctx, mname, at) === undefined) continue;
        const m = neuronModel(ctx, spec, at);
        if (m !== undefined) models.set(mname, m);
      }
  }

  // Populations.
  const populations: (Population | undefined)[] = [];
  const popNames: string[] = [];
  let neuronCount = 0;
  const rawPops = list(ctx, top['populations'], 'populations', limits.maxPopulations);
  if (top['populations'] === undefined || (Array.isArray(top['populations']) && top['populations'].length === 0)) ctx.p.add('populations', 'at least one population is required');
  rawPops.forEach((raw, i) => {
    const at = `populations[${i}]`;
    const o = mapping(ctx, raw, at, POP);
    if (o === undefined) {
      populations.push(undefined);
      popNames.push('');
      return;
    }
    const pname = name(ctx, o['name'], `${at}.name`);
    if (pname !== undefined && popNames.includes(pname)) ctx.p.add(`${at}.name`, `population "${pname}" is defined twice`);
    popNames.push(pname ?? '');
    const size = field(ctx, o, 'size', at, { integer: true, min: 1, max: limits.maxNeurons });
    if (size !== undefined) neuronCount += size;
    let model: NeuronModel | undefined;
    const nv = o['neuron'];
    if (typeof nv === 'string') {
      model = models.get(nv);
      if (model === undefined) {
        const known = [...models.keys()];
        const guess = suggest(nv, known);
        ctx.p.add(`${at}.neuron`, `no model named ${show(nv)} under models${guess === undefined ? '' : `; did you mean "${guess}"?`}`);
      }
    } else if (nv === undefined) ctx.p.add(`${at}.neuron`, `is required: a model name from models, or a neuron model (type: ${NEURON_TYPES.join(' | ')})`);
    else model = neuronModel(ctx, nv, `${at}.neuron`);
    const init: Record<string, Distribution> = {};
    if (o['init'] !== undefined && model !== undefined) {
      const vars = model.type === 'poisson' ? [] : ['v', ...model.receptors.filter((r) => r.type === 'exponential').map((r) => r.name)];
      const io = mapping(ctx, o['init'], `${at}.init`, vars);
      if (io !== undefined)
        for (const [k, d] of Object.entries(io)) {
          if (!vars.includes(k)) continue;
          const dist = distribution(ctx, d, keyPath(`${at}.init`, k), k === 'v' ? 'mV' : model.type === 'lif_cond' ? 'nS' : 'mV');
          if (dist !== undefined) init[k] = dist;
        }
    }
    populations.push(pname === undefined || size === undefined || model === undefined ? undefined : { name: pname, size, model, init });
  });
  if (neuronCount > limits.maxNeurons) ctx.p.add('populations', `${neuronCount.toLocaleString('en-US')} neurons in total is more than the limit of ${limits.maxNeurons.toLocaleString('en-US')}`);

  // Projections.
  const projections: Projection[] = [];
  const projNames = new Set<string>();
  const maxDelayMs = Math.min(limits.maxDelayMs, MAX_DELAY_STEPS * dt);
  const maxDelaySteps = new Array<number>(populations.length).fill(0);
  let expectedSynapses = 0;
  list(ctx, top['projections'], 'projections', limits.maxProjections).forEach((raw, i) => {
    const at = `projections[${i}]`;
    const o = mapping(ctx, raw, at, PROJ);
    if (o === undefined) return;
    const from = reference(ctx, o['from'], `${at}.from`, popNames, 'population');
    const to = reference(ctx, o['to'], `${at}.to`, popNames, 'population');
    const pre = from === undefined ? undefined : populations[from];
    const post = to === undefined ? undefined : populations[to];
    const receptor = receptorOf(ctx, o['receptor'], `${at}.receptor`, post);
    const rec = post !== undefined && post.model.type !== 'poisson' && receptor !== undefined ? post.model.receptors[receptor] : undefined;
    const pname = o['name'] === undefined ? `${pre?.name ?? '?'}_to_${post?.name ?? '?'}${rec === undefined ? '' : `_${rec.name}`}` : name(ctx, o['name'], `${at}.name`);
    if (pname !== undefined) {
      if (projNames.has(pname)) ctx.p.add(`${at}.name`, `projection "${pname}" is defined twice${o['name'] === undefined ? ' (give each projection between the same populations and receptor a name)' : ''}`);
      projNames.add(pname);
    }
    const conductance = post?.model.type === 'lif_cond';
    const wUnit = conductance ? 'nS' : 'mV';
    const weight = o['weight'] === undefined ? (ctx.p.add(`${at}.weight`, `is required (${wUnit})`), undefined) : distribution(ctx, o['weight'], `${at}.weight`, wUnit);
    if (weight !== undefined && conductance && lowest(weight) < 0) {
      ctx.p.add(`${at}.weight`, weight.kind === 'normal' ? 'a normal distribution can give negative conductances; use a constant or { uniform: [low, high] } with low ≥ 0 (nS)' : `a conductance cannot be negative (nS); got ${lowest(weight)}`);
    }
    const delay = o['delay'] === undefined ? ({ kind: 'constant', value: 0 } as const) : distribution(ctx, o['delay'], `${at}.delay`, 'ms');
    if (delay !== undefined) {
      if (delay.kind === 'normal') ctx.p.add(`${at}.delay`, 'a normal distribution can give negative delays; use a constant or { uniform: [low, high] } with low ≥ 0 (ms)');
      else if (lowest(delay) < 0) ctx.p.add(`${at}.delay`, `a delay cannot be negative; got ${lowest(delay)} ms`);
      else if (highest(delay) > maxDelayMs) ctx.p.add(`${at}.delay`, `${highest(delay)} ms is longer than the limit of ${maxDelayMs} ms (${MAX_DELAY_STEPS} steps of dt at most)`);
      else if (to !== undefined) maxDelaySteps[to] = Math.max(maxDelaySteps[to] ?? 0, toSteps(highest(delay), dt));
    }
    const conn = o['connect'] === undefined ? (ctx.p.add(`${at}.connect`, `is required: { rule: ${CONNECT_RULES.join(' | ')} }`), undefined) : connectRule(ctx, o['connect'], `${at}.connect`, pre, post, from !== undefined && from === to);
    if (conn !== undefined) expectedSynapses += conn.synapses;
    const seed = seedAt(ctx, o['seed'], `${at}.seed`);
    const stdp = stdpSpec(ctx, o['stdp'], `${at}.stdp`);
    if (stdp !== null && stdp !== undefined && weight !== undefined && conductance && stdp.wMin < 0) ctx.p.add(`${at}.stdp.w_min`, 'a conductance weight cannot go below 0');
    if (from === undefined || to === undefined || receptor === undefined || pname === undefined || weight === undefined || delay === undefined || conn === undefined || seed === undefined || stdp === undefined) return;
    projections.push({ name: pname, from, to, receptor, weight, delay, connect: conn.rule, seed, stdp });
  });
  if (expectedSynapses > limits.maxSynapses) ctx.p.add('projections', `about ${Math.round(expectedSynapses).toLocaleString('en-US')} synapses in total is more than the limit of ${limits.maxSynapses.toLocaleString('en-US')}`);

  // Poisson inputs.
  const inputs: PoissonInput[] = [];
  const inputNames = new Set<string>();
  list(ctx, top['inputs'], 'inputs', limits.maxProjections).forEach((raw, i) => {
    const at = `inputs[${i}]`;
    const o = mapping(ctx, raw, at, INPUT);
    if (o === undefined) return;
    const to = reference(ctx, o['to'], `${at}.to`, popNames, 'population');
    const post = to === undefined ? undefined : populations[to];
    const receptor = receptorOf(ctx, o['receptor'], `${at}.receptor`, post);
    const iname = o['name'] === undefined ? `input${i}` : name(ctx, o['name'], `${at}.name`);
    if (iname !== undefined) {
      if (inputNames.has(iname)) ctx.p.add(`${at}.name`, `input "${iname}" is defined twice`);
      inputNames.add(iname);
    }
    const sources = field(ctx, o, 'sources', at, { integer: true, min: 1, max: 1e9 });
    const rate = field(ctx, o, 'rate', at, { unit: 'Hz', min: 0, max: 1e6 });
    const conductance = post?.model.type === 'lif_cond';
    const weight = field(ctx, o, 'weight', at, { unit: conductance ? 'nS' : 'mV', min: conductance ? 0 : -1e9, max: 1e9 });
    const start = optionalField(ctx, o, 'start', at, 0, { unit: 'ms', min: 0 });
    const stop = o['stop'] === undefined ? null : numberAt(ctx, o['stop'], `${at}.stop`, { unit: 'ms', min: 0 });
    if (start !== undefined && stop !== undefined && stop !== null && stop < start) ctx.p.add(`${at}.stop`, `must not be before start (${start} ms); got ${stop}`);
    if (sources !== undefined && rate !== undefined && (sources * rate * dt) / 1000 > MAX_INPUT_MEAN) {
      ctx.p.add(at, `sources × rate × dt = ${(sources * rate * dt) / 1000} input spikes per neuron per step is more than the limit of ${MAX_INPUT_MEAN}`);
    }
    if (to === undefined || receptor === undefined || iname === undefined || sources === undefined || rate === undefined || weight === undefined || start === undefined || stop === undefined) return;
    inputs.push({ name: iname, to, receptor, sources, rate, weight, start, stop });
  });

  // Ring buffers of pending input: (longest delay + 1) slots × receptors × neurons.
  let bufferBytes = 0;
  populations.forEach((pop, i) => {
    if (pop === undefined || pop.model.type === 'poisson') return;
    bufferBytes += ((maxDelaySteps[i] ?? 0) + 1) * Math.max(1, pop.model.receptors.length) * pop.size * 8;
  });
  if (bufferBytes > MAX_BUFFER_BYTES) ctx.p.add('projections', `the delay buffers would take ${(bufferBytes / 2 ** 30).toFixed(1)} GiB (longest delay × receptors × neurons); shorten the delays or the populations`);

  // Monitors.
  const spikeMons: SpikeMonitor[] = [];
  const stateMons: StateMonitor[] = [];
  if (top['monitors'] !== undefined) {
    const mo = mapping(ctx, top['monitors'], 'monitors', MONITORS);
    if (mo !== undefined) {
      list(ctx, mo['spikes'], 'monitors.spikes', 1024).forEach((raw, i) => {
        const at = `monitors.spikes[${i}]`;
        const o = mapping(ctx, raw, at, SPIKE_MON);
        if (o === undefined) return;
        const population = reference(ctx, o['population'], `${at}.population`, popNames, 'population');
        const size = population === undefined ? undefined : populations[population]?.size;
        const neurons = o['neurons'] === undefined ? null : neuronList(ctx, o['neurons'], `${at}.neurons`, size);
        const maxSpikes = optionalField(ctx, o, 'max_spikes', at, Math.min(10_000_000, limits.maxRecordedSpikes), { integer: true, min: 1, max: limits.maxRecordedSpikes });
        if (population === undefined || neurons === undefined || maxSpikes === undefined) return;
        spikeMons.push({ population, neurons, maxSpikes });
      });
      list(ctx, mo['state'], 'monitors.state', 1024).forEach((raw, i) => {
        const at = `monitors.state[${i}]`;
        const o = mapping(ctx, raw, at, STATE_MON);
        if (o === undefined) return;
        const population = reference(ctx, o['population'], `${at}.population`, popNames, 'population');
        const pop = population === undefined ? undefined : populations[population];
        let variable: string | undefined;
        if (pop !== undefined) {
          if (pop.model.type === 'poisson') ctx.p.add(`${at}.population`, `population "${pop.name}" is a Poisson source and has no state to record`);
          else variable = reference(ctx, o['variable'], `${at}.variable`, ['v', ...pop.model.receptors.filter((r) => r.type === 'exponential').map((r) => r.name)], `variable of population "${pop.name}"`) === undefined ? undefined : (o['variable'] as string);
        }
        const neurons = o['neurons'] === undefined ? (ctx.p.add(`${at}.neurons`, 'is required: a list of neuron indices'), undefined) : neuronList(ctx, o['neurons'], `${at}.neurons`, pop?.size);
        const every = optionalField(ctx, o, 'every', at, dt, { unit: 'ms', above: 0, max: limits.maxDurationMs });
        if (every !== undefined && Math.abs(toSteps(every, dt) * dt - every) > 1e-9 * Math.max(1, every)) ctx.p.add(`${at}.every`, `must be a whole number of steps of dt (${dt} ms); got ${every}`);
        if (population === undefined || variable === undefined || neurons === undefined || every === undefined) return;
        stateMons.push({ population, variable, neurons, every });
      });
    }
  }

  const err = ctx.p.toError();
  if (err !== undefined) throw err;
  return {
    name: netName,
    dt,
    duration,
    seed,
    populations: populations as Population[],
    projections,
    inputs,
    monitors: { spikes: spikeMons, state: stateMons },
    neuronCount,
    expectedSynapses,
  };
}
