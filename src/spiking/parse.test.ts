// The network parser refuses bad descriptions with the field path and what is allowed there —
// negative delays, absurd sizes, unknown fields, NaN, dangling references — and accepts the
// shipped examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isStrataError } from '../kernel/index.ts';
import { SPIKING_LIMITS, estimateMemoryBytes, parseNetwork } from './index.ts';
import type { NetworkProblem } from './index.ts';

const lif = { type: 'lif', tau_m: 20, e_l: -49, v_th: -50, v_reset: -60, t_ref: 5, receptors: { exc: { tau: 5 }, inh: { tau: 10 } } };

interface Desc {
  [key: string]: unknown;
  models: Record<string, unknown>;
  populations: Record<string, unknown>[];
  projections: Record<string, unknown>[];
}

/** `x` as a mutable mapping (test descriptions are built here, so this only narrows the type). */
const obj = (x: unknown): Record<string, unknown> => x as Record<string, unknown>;

/** A valid two-population network; `edit` changes a fresh copy. */
function base(edit: (n: Desc) => void = () => {}): unknown {
  const n: Desc = {
    name: 'test',
    dt: 0.1,
    models: { m: lif },
    populations: [
      { name: 'exc', size: 80, neuron: 'm', init: { v: { uniform: [-60, -50] } } },
      { name: 'inh', size: 20, neuron: 'm' },
    ],
    projections: [
      { from: 'exc', to: 'inh', receptor: 'exc', weight: 1.6, delay: 1, connect: { rule: 'fixed_probability', p: 0.1 } },
      { from: 'inh', to: 'exc', receptor: 'inh', weight: -9, connect: { rule: 'fixed_indegree', k: 5 } },
    ],
  };
  edit(n);
  return n;
}

/** The problems parseNetwork reports for `input` (fails the test if it accepts it). */
function problems(input: unknown, limits?: Record<string, number>): NetworkProblem[] {
  try {
    parseNetwork(input, limits === undefined ? {} : { limits });
  } catch (e) {
    assert.ok(isStrataError(e), `expected a StrataError, got ${String(e)}`);
    assert.equal(e.code, 'bad_request');
    assert.equal(e.status, 400);
    return e.details['problems'] as NetworkProblem[];
  }
  assert.fail('the description was accepted');
}

function refuses(input: unknown, field: string, message: RegExp): void {
  const ps = problems(input);
  const p = ps.find((x) => x.field === field);
  assert.ok(p !== undefined, `no problem at ${field}; got ${JSON.stringify(ps)}`);
  assert.match(p.message, message);
}

test('a valid description is resolved: references become indices, defaults filled in', () => {
  const net = parseNetwork(base());
  assert.equal(net.neuronCount, 100);
  assert.equal(net.populations[0]?.model.type, 'lif');
  assert.deepEqual(net.projections.map((p) => [p.name, p.from, p.to, p.receptor]), [
    ['exc_to_inh_exc', 0, 1, 0],
    ['inh_to_exc_inh', 1, 0, 1],
  ]);
  assert.deepEqual(net.projections[1]?.delay, { kind: 'constant', value: 0 });
  assert.equal(net.expectedSynapses, 0.1 * 80 * 20 + 5 * 80);
  assert.equal(net.duration, null);
  assert.ok(estimateMemoryBytes(net) > 100 * 64);
});

test('negative delays are refused, and so are delays that could be negative or are too long', () => {
  refuses(base((n) => (obj(n.projections[0]).delay = -0.5)), 'projections[0].delay', /cannot be negative; got -0.5 ms/);
  refuses(base((n) => (obj(n.projections[0]).delay = { uniform: [-1, 2] })), 'projections[0].delay', /cannot be negative/);
  refuses(base((n) => (obj(n.projections[0]).delay = { normal: [2, 0.5] })), 'projections[0].delay', /normal distribution can give negative delays/);
  refuses(base((n) => (obj(n.projections[0]).delay = 1e6)), 'projections[0].delay', /longer than the limit/);
});

test('absurd sizes are refused before anything is allocated', () => {
  refuses(base((n) => (obj(n.populations[0]).size = 1e12)), 'populations[0].size', /at most 10,000,000/);
  refuses(base((n) => (obj(n.populations[0]).size = 0)), 'populations[0].size', /at least 1/);
  refuses(base((n) => (obj(n.populations[0]).size = 2.5)), 'populations[0].size', /whole number/);
  // Each population within the limit, the total not.
  const big = problems(base((n) => {
    obj(n.populations[0]).size = 6_000_000;
    obj(n.populations[1]).size = 6_000_000;
  }));
  assert.ok(big.some((p) => p.field === 'populations' && /12,000,000 neurons in total/.test(p.message)), JSON.stringify(big));
  // 1e6 × 1e6 × 0.5 synapses.
  const dense = problems(base((n) => {
    obj(n.populations[0]).size = 1_000_000;
    obj(n.populations[1]).size = 1_000_000;
    obj(n.projections[0]).connect = { rule: 'fixed_probability', p: 0.5 };
  }));
  assert.ok(dense.some((p) => p.field === 'projections' && /about 500,005,000,000 synapses in total is more than the limit of 500,000,000/.test(p.message)), JSON.stringify(dense));
  // An agent may pass its own, smaller capacity.
  const small = problems(base(), { maxNeurons: 50 });
  assert.ok(small.some((p) => p.field === 'populations[0].size' && /at most 50/.test(p.message)));
  assert.ok(SPIKING_LIMITS.maxNeurons === 10_000_000);
});

test('unknown fields are refused with a suggestion and the allowed names', () => {
  refuses(base((n) => (n.models['m'] = { ...lif, tau_mm: 20 })), 'models.m.tau_mm', /unknown field; did you mean "tau_m"\? allowed: type, tau_m/);
  refuses(base((n) => (obj(n.populations[0]).sizes = 3)), 'populations[0].sizes', /did you mean "size"/);
  refuses(base((n) => (obj(n.projections[0]?.['connect']).prob = 0.1)), 'projections[0].connect.prob', /unknown field/);
  refuses(base((n) => (n['duraton'] = 100)), 'duraton', /did you mean "duration"/);
  refuses(base((n) => (obj(n.projections[0]?.['connect']).rule = 'fixed_probablity')), 'projections[0].connect.rule', /did you mean "fixed_probability"/);
  refuses(base((n) => (obj(n.populations[0]).init = { w: 1 })), 'populations[0].init.w', /allowed: v, exc, inh/);
});

test('NaN, infinities and non-numbers are refused with the unit expected', () => {
  refuses(base((n) => (n.models['m'] = { ...lif, tau_m: Number.NaN })), 'models.m.tau_m', /must be a finite number \(ms\); got NaN/);
  refuses(base((n) => (obj(n.projections[0]).weight = Number.POSITIVE_INFINITY)), 'projections[0].weight', /finite number \(mV\); got Infinity/);
  refuses(base((n) => (obj(n.populations[0]?.['init']).v = { normal: [Number.NaN, 1] })), 'populations[0].init.v.normal[0]', /finite/);
  refuses(base((n) => (n['dt'] = '0.1ms')), 'dt', /expected a number \(ms\); got "0.1ms"/);
  refuses(base((n) => (n.models['m'] = { ...lif, tau_m: -20 })), 'models.m.tau_m', /greater than 0/);
});

test('dangling references and inconsistent models are refused', () => {
  refuses(base((n) => (obj(n.projections[0]).to = 'inhh')), 'projections[0].to', /no population named "inhh"; did you mean "inh"\?/);
  refuses(base((n) => (obj(n.projections[0]).receptor = 'ampa')), 'projections[0].receptor', /no receptor of population "inh" named "ampa"/);
  refuses(base((n) => delete obj(n.projections[0]).receptor), 'projections[0].receptor', /is required: population "inh" has receptors exc, inh/);
  refuses(base((n) => (obj(n.populations[1]).neuron = 'mm')), 'populations[1].neuron', /no model named "mm"/);
  refuses(base((n) => (n.models['m'] = { ...lif, v_reset: -40 })), 'models.m.v_reset', /below v_th/);
  refuses(base((n) => (obj(n.populations[1]).name = 'exc')), 'populations[1].name', /defined twice/);
  refuses(base((n) => (obj(n.projections[0]).connect = { rule: 'one_to_one' })), 'projections[0].connect.rule', /equal size/);
  refuses(base((n) => (obj(n.projections[1]).connect = { rule: 'fixed_indegree', k: 100, multapses: false })), 'projections[1].connect.k', /only 20 are available/);
  refuses(base((n) => (obj(n.projections[0]).connect = { rule: 'fixed_probability', p: 1.5 })), 'projections[0].connect.p', /at most 1/);
  refuses(base((n) => (obj(n.projections[0]).connect = { rule: 'all_to_all', k: 3 })), 'projections[0].connect.k', /not used by rule all_to_all/);
  refuses(
    base((n) => (n.models['c'] = { type: 'lif_cond', c_m: 200, g_l: 10, e_l: -60, v_th: -50, v_reset: -60, receptors: { exc: { tau: 5 } } })),
    'models.c.receptors.exc.e_rev',
    /is required \(mV\)/,
  );
  refuses(
    base((n) => {
      n.models['c'] = { type: 'lif_cond', c_m: 200, g_l: 10, e_l: -60, v_th: -50, v_reset: -60, receptors: { exc: { tau: 5, e_rev: 0 } } };
      obj(n.populations[1]).neuron = 'c';
      obj(n.projections[0]).weight = { normal: [6, 1] };
    }),
    'projections[0].weight',
    /negative conductances/,
  );
  refuses(base((n) => (obj(n.populations[1]).neuron = { type: 'poisson', rate: 5 })), 'projections[0].receptor', /Poisson source and cannot receive spikes/);
  refuses(base((n) => (n['monitors'] = { state: [{ population: 'exc', variable: 'v', neurons: [0, 80] }] })), 'monitors.state[0].neurons[1]', /at most 79/);
  refuses(base((n) => (obj(n.projections[0]).stdp = { tau_plus: 20, tau_minus: 20, a_plus: 0.01, a_minus: 0.01, w_min: 1, w_max: 0.5 })), 'projections[0].stdp.w_max', /greater than w_min/);
});

test('every problem is reported at once, in one message', () => {
  const ps = problems(base((n) => {
    n['dt'] = -1;
    obj(n.populations[0]).size = -3;
    obj(n.projections[0]).delay = -1;
    n['extra'] = true;
  }));
  assert.deepEqual(ps.map((p) => p.field).sort(), ['dt', 'extra', 'populations[0].size', 'projections[0].delay']);
  assert.throws(() => parseNetwork(base((n) => (n['dt'] = -1))), /^StrataError: invalid network: dt: must be at least 0\.001 \(ms\); got -1$/);
  assert.throws(() => parseNetwork('populations: []'), /network: expected a mapping/);
  assert.throws(() => parseNetwork({}), /populations: at least one population is required/);
});

test('the shipped examples parse', () => {
  const dir = join(import.meta.dirname, '..', '..', 'examples', 'spiking');
  for (const [file, neurons, synapses] of [['coba.yaml', 4000, 320_000], ['cuba.yaml', 4000, 320_000], ['brunel-ai.yaml', 12_500, 15_625_000]] as const) {
    const net = parseNetwork(parseYaml(readFileSync(join(dir, file), 'utf8')) as unknown);
    assert.equal(net.neuronCount, neurons, file);
    assert.equal(Math.round(net.expectedSynapses), synapses, file);
    assert.equal(net.duration, 1000, file);
  }
});
