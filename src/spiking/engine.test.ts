// Analytic checks of the engine through its public surface: a driven LIF neuron fires at the
// closed-form period, refractoriness holds v at reset for exactly t_ref, a spike acts on its target
// exactly `delay` later, the exponential-synapse propagator matches the closed-form PSP, pair-based
// STDP has the sign and size of the learning window, Poisson sources and inputs have the right
// statistics, and a seed replays a run exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetwork, phi, simulate } from './index.ts';
import type { SimulationResult } from './index.ts';
import { buildCsr } from './connect.ts';

const close = (actual: number, expected: number, tol: number, what: string): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
};

/** A current-based LIF model with the given resting potential (above v_th = −50 it fires by itself). */
const lif = (eL: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'lif',
  tau_m: 20,
  e_l: eL,
  v_th: -50,
  v_reset: -60,
  t_ref: 5,
  ...extra,
});

function spikeTimes(r: SimulationResult, population: string): number[] {
  const rec = r.monitors.spikes.find((m) => m.population === population);
  assert.ok(rec !== undefined, `no spike record for ${population}`);
  return rec.times_ms;
}

test('a driven LIF neuron fires with the closed-form period, on the dt grid', () => {
  // v relaxes from v_reset towards e_l = −40 with τ = 20 ms: it reaches v_th = −50 after
  // T* = τ·ln((e_l − v_reset)/(e_l − v_th)) = 20·ln 2 = 13.863 ms. On a 0.1 ms grid the crossing is
  // seen at the end of step ⌈T*/dt⌉ = 139, so the period is t_ref + 13.9 ms = 18.9 ms exactly.
  const net = parseNetwork({
    dt: 0.1,
    populations: [{ name: 'n', size: 1, neuron: lif(-40), init: { v: -60 } }],
    monitors: { spikes: [{ population: 'n' }] },
  });
  const r = simulate(net, { durationMs: 1000, seed: 1 });
  const times = spikeTimes(r, 'n');
  assert.equal(times.length, 53);
  times.forEach((t, k) => close(t, 13.9 + 18.9 * k, 1e-9, `spike ${k}`));
  const pop = r.populations[0];
  assert.ok(pop !== undefined);
  assert.equal(pop.spike_count, 53);
  close(pop.cv_isi ?? Number.NaN, 0, 1e-9, 'CV of a regular train');
  // The closed-form period t_ref + T* is approached as dt → 0 (the grid adds less than one dt).
  const exactPeriod = 5 + 20 * Math.log(2);
  const fine = simulate(
    parseNetwork({ dt: 0.001, populations: [{ name: 'n', size: 1, neuron: lif(-40), init: { v: -60 } }], monitors: { spikes: [{ population: 'n' }] } }),
    { durationMs: 500, seed: 1 },
  );
  const ft = spikeTimes(fine, 'n');
  const meanIsi = ((ft[ft.length - 1] ?? 0) - (ft[0] ?? 0)) / (ft.length - 1);
  assert.ok(meanIsi >= exactPeriod && meanIsi - exactPeriod < 0.001, `mean ISI ${meanIsi} vs closed form ${exactPeriod}`);
});

test('a conductance-based neuron with a bias current fires with its closed-form period', () => {
  // lif_cond without synaptic input is linear, so the exponential-Euler step is exact:
  // v∞ = e_l + i_e/g_l = −35 mV, τ = c_m/g_l = 20 ms, T* = 20·ln(25/15) = 10.217 ms → 10.3 ms on the
  // grid, plus t_ref = 2 ms: a period of 12.3 ms.
  const net = parseNetwork({
    populations: [{ name: 'n', size: 1, neuron: { type: 'lif_cond', c_m: 200, g_l: 10, e_l: -60, v_th: -50, v_reset: -60, t_ref: 2, i_e: 250 }, init: { v: -60 } }],
    monitors: { spikes: [{ population: 'n' }] },
  });
  const times = spikeTimes(simulate(net, { durationMs: 200, seed: 3 }), 'n');
  assert.ok(times.length > 10);
  times.forEach((t, k) => close(t, 10.3 + 12.3 * k, 1e-9, `spike ${k}`));
});

test('refractory period: v is held at v_reset for exactly t_ref after a spike, then integrates again', () => {
  const net = parseNetwork({
    populations: [{ name: 'n', size: 1, neuron: lif(-40), init: { v: -60 } }],
    monitors: { spikes: [{ population: 'n' }], state: [{ population: 'n', variable: 'v', neurons: [0] }] },
  });
  const r = simulate(net, { durationMs: 30, seed: 1 });
  const state = r.monitors.state[0];
  assert.ok(state !== undefined);
  const v = state.values[0] ?? [];
  const ts = spikeTimes(r, 'n')[0] ?? Number.NaN;
  close(ts, 13.9, 1e-9, 'first spike');
  const at = (t: number): number => v[Math.round(t / 0.1)] ?? Number.NaN;
  assert.ok(at(13.8) < -50 && at(13.8) > -50.2, `just below threshold before the spike: ${at(13.8)}`);
  for (let t = ts; t <= ts + 5 + 1e-9; t += 0.1) assert.equal(at(t), -60, `held at reset at ${t.toFixed(1)} ms`);
  // One step after t_ref ends it has integrated exactly one step from reset.
  close(at(ts + 5.1), -40 + (-60 + 40) * Math.exp(-0.1 / 20), 1e-12, 'first step after refractoriness');
});

test('delays are exact: a delta input shows in the target at spike time + delay, and the target fires one step later', () => {
  // A fires at 13.9 ms; B sits at rest (0 mV, threshold 1 mV) and gets 0.5 mV after 2.3 ms from
  // A, and from C (which fires at the same time) 1 mV after 4 ms.
  const quiet = { type: 'lif', tau_m: 1e6, e_l: 0, v_th: 1, v_reset: 0, t_ref: 0, receptors: { syn: { type: 'delta' } } };
  const net = parseNetwork({
    populations: [
      { name: 'a', size: 1, neuron: lif(-40), init: { v: -60 } },
      { name: 'c', size: 1, neuron: lif(-40), init: { v: -60 } },
      { name: 'b', size: 1, neuron: quiet },
    ],
    projections: [
      { from: 'a', to: 'b', weight: 0.5, delay: 2.3, connect: { rule: 'all_to_all' } },
      { from: 'c', to: 'b', weight: 1, delay: 4, connect: { rule: 'all_to_all' } },
    ],
    monitors: { spikes: [{ population: 'a' }, { population: 'b' }], state: [{ population: 'b', variable: 'v', neurons: [0] }] },
  });
  const r = simulate(net, { durationMs: 20, seed: 1 });
  const tA = spikeTimes(r, 'a')[0] ?? Number.NaN;
  close(tA, 13.9, 1e-9, 'A fires');
  const v = r.monitors.state[0]?.values[0] ?? [];
  const at = (t: number): number => v[Math.round(t / 0.1)] ?? Number.NaN;
  assert.equal(at(tA + 2.2), 0, 'nothing before the delay');
  close(at(tA + 2.3), 0.5, 1e-9, 'A → B arrives at tA + 2.3 ms');
  close(at(tA + 3.9), 0.5, 1e-6, 'until C arrives');
  // C's 1 mV takes v to 1.5 ≥ threshold: B fires at the end of that step and is reset.
  const tB = spikeTimes(r, 'b');
  assert.equal(tB.length, 1);
  close(tB[0] ?? Number.NaN, tA + 4 + 0.1, 1e-9, 'B fires one step after the arrival');
  assert.equal(at(tA + 4.1), 0, 'reset');
});

test('per-synapse delays: every target sees the spike at its own drawn delay', () => {
  const quiet = { type: 'lif', tau_m: 1e6, e_l: 0, v_th: 100, v_reset: 0, receptors: { syn: { type: 'delta' } } };
  const desc = {
    populations: [
      { name: 'a', size: 1, neuron: lif(-40), init: { v: -60 } },
      { name: 'b', size: 40, neuron: quiet },
    ],
    projections: [{ name: 'ab', from: 'a', to: 'b', weight: 1, delay: { uniform: [1, 5] }, connect: { rule: 'all_to_all' }, seed: 11 }],
    monitors: { state: [{ population: 'b', variable: 'v', neurons: Array.from({ length: 40 }, (_, i) => i) }] },
  };
  const net = parseNetwork(desc);
  const r = simulate(net, { durationMs: 20, seed: 5 });
  const proj = net.projections[0];
  assert.ok(proj !== undefined);
  const csr = buildCsr(proj, 1, 40, 5, 0.1, false);
  assert.ok(csr.delays !== null);
  const seen = new Set<number>();
  for (let s = 0; s < 40; s++) {
    const j = csr.targets[s] as number;
    const d = (csr.delays[s] as number) * 0.1;
    seen.add(d);
    assert.ok(d >= 1 - 1e-9 && d <= 5 + 1e-9, `delay ${d} in [1, 5]`);
    const v = r.monitors.state[0]?.values[j] ?? [];
    const first = v.findIndex((x) => x > 0.5) * 0.1;
    close(first, 13.9 + d, 1e-9, `target ${j}`);
  }
  assert.ok(seen.size > 10, 'the delays vary');
});

test('exponential synapse: one input spike gives the closed-form PSP (exact integration), with and without delay', () => {
  // τm v' = −v + x, x(t) = w·e^{−t/τs}: v(t) = w·τs/(τs − τm)·(e^{−t/τs} − e^{−t/τm}).
  // Delay 1 ms goes through the ring buffer, delay 0 straight into the receptor state.
  for (const delay of [1, 0]) psp(delay);
});

function psp(delay: number): void {
  const w = 2;
  const tauS = 5;
  const tauM = 20;
  const net = parseNetwork({
    populations: [
      { name: 'a', size: 1, neuron: lif(-40, { t_ref: 1000 }), init: { v: -60 } },
      { name: 'b', size: 1, neuron: { type: 'lif', tau_m: tauM, e_l: 0, v_th: 100, v_reset: 0, receptors: { exc: { tau: tauS }, inh: { tau: 10 } } } },
    ],
    projections: [{ from: 'a', to: 'b', receptor: 'exc', weight: w, delay, connect: { rule: 'one_to_one' } }],
    monitors: { state: [{ population: 'b', variable: 'v', neurons: [0] }, { population: 'b', variable: 'exc', neurons: [0] }] },
  });
  const r = simulate(net, { durationMs: 80, seed: 1 });
  const v = r.monitors.state[0]?.values[0] ?? [];
  const x = r.monitors.state[1]?.values[0] ?? [];
  const t0 = 13.9 + delay;
  for (let k = 0; k < v.length; k++) {
    const t = k * 0.1 - t0;
    const expectV = t < -1e-9 ? 0 : ((w * tauS) / (tauS - tauM)) * (Math.exp(-t / tauS) - Math.exp(-t / tauM));
    const expectX = t < -1e-9 ? 0 : w * Math.exp(-t / tauS);
    close(v[k] ?? Number.NaN, expectV, 1e-12, `delay ${delay}: v at ${(k * 0.1).toFixed(1)} ms`);
    close(x[k] ?? Number.NaN, expectX, 1e-12, `delay ${delay}: x at ${(k * 0.1).toFixed(1)} ms`);
  }
}

test('φ(x) = (eˣ − 1)/x to 1e-14 across the series/expm1 boundary', () => {
  for (let x = -3; x <= 3; x += 0.001) {
    const ref = Math.abs(x) < 1e-300 ? 1 : Math.expm1(x) / x;
    close(phi(x), ref, 1e-14 * Math.max(1, ref), `φ(${x})`);
  }
  assert.equal(phi(0), 1);
});

/** Pre fires once at tPre, post once at tPost (t_ref long enough for one spike each); weight 0 so neither drives the other. */
function stdpPair(ePre: number, ePost: number, stdp: Record<string, unknown>, w0 = 1): { w: number; tPre: number; tPost: number } {
  const net = parseNetwork({
    populations: [
      { name: 'pre', size: 1, neuron: lif(ePre, { t_ref: 1000, receptors: { syn: { type: 'delta' } } }), init: { v: -60 } },
      { name: 'post', size: 1, neuron: lif(ePost, { t_ref: 1000, receptors: { syn: { type: 'delta' } } }), init: { v: -60 } },
    ],
    projections: [{ name: 'p', from: 'pre', to: 'post', weight: w0, delay: 0, connect: { rule: 'all_to_all' }, stdp: { tau_plus: 20, tau_minus: 20, ...stdp } }],
    monitors: { spikes: [{ population: 'pre' }, { population: 'post' }] },
  });
  const r = simulate(net, { durationMs: 40, seed: 1 });
  return { w: r.plasticity[0]?.mean_weight ?? Number.NaN, tPre: spikeTimes(r, 'pre')[0] ?? Number.NaN, tPost: spikeTimes(r, 'post')[0] ?? Number.NaN };
}

test('STDP: pre before post potentiates by a+·e^(−Δt/τ+), post before pre depresses by a−·e^(Δt/τ−)', () => {
  // e_l = −40 fires at 13.9 ms; e_l = −45 at 22.0 ms. The pre spike at 13.9 ms moves post's v by
  // the weight (0.001 mV, so post still fires at 22.0).
  const rule = { a_plus: 0.01, a_minus: 0.012, w_max: 2 };
  const ltp = stdpPair(-40, -45, rule, 0.001);
  close(ltp.tPre, 13.9, 1e-9, 'pre');
  close(ltp.tPost, 22.0, 1e-9, 'post');
  close(ltp.w, 0.001 + 0.01 * Math.exp(-(22.0 - 13.9) / 20), 1e-12, 'potentiated weight');
  const ltd = stdpPair(-45, -40, rule);
  close(ltd.tPre, 22.0, 1e-9, 'pre');
  close(ltd.tPost, 13.9, 1e-9, 'post');
  close(ltd.w, 1 - 0.012 * Math.exp(-(22.0 - 13.9) / 20), 1e-12, 'depressed weight');
  assert.ok(ltp.w > 0.001 && ltd.w < 1, 'signs');
  // Multiplicative: the change scales with the distance to the bound.
  const soft = stdpPair(-40, -45, { ...rule, w_max: 0.002, rule: 'multiplicative' }, 0.001);
  close(soft.w, 0.001 + 0.01 * Math.exp(-8.1 / 20) * (0.002 - 0.001), 1e-15, 'soft-bounded potentiation');
  // Additive changes are clipped at w_min.
  const floor = stdpPair(-45, -40, { a_plus: 0.01, a_minus: 5, w_max: 2 }, 0.5);
  assert.equal(floor.w, 0);
});

test('Poisson sources: rate and CV(ISI) ≈ 1', () => {
  // Bernoulli(rate·dt) per step: geometric ISIs with CV √(1 − rate·dt) ≈ 0.997; 500 ISIs per neuron
  // keep the small-sample bias of the per-neuron CV estimate near 0.1 %.
  const net = parseNetwork({ populations: [{ name: 'src', size: 100, neuron: { type: 'poisson', rate: 50 } }] });
  const r = simulate(net, { durationMs: 10_000, seed: 9 });
  const p = r.populations[0];
  assert.ok(p !== undefined);
  close(p.rate_hz, 50, 6 * Math.sqrt(50_000) / 1000, 'rate (±6 sd of 50,000 spikes)');
  close(p.cv_isi ?? 0, Math.sqrt(1 - 0.005), 0.02, 'CV');
  assert.equal(p.active_fraction, 1);
});

test('Poisson inputs: per-neuron counts have mean and variance sources·rate·T (both sampling paths)', () => {
  for (const [sources, rate] of [[1000, 20], [10, 5]] as const) {
    // λ per step = 2 (per-neuron inversion) and 0.005 (scattered total): no leak, no threshold,
    // so v counts the input spikes (weight 1 mV).
    const net = parseNetwork({
      populations: [{ name: 'n', size: 3000, neuron: { type: 'lif', tau_m: 1e12, e_l: 0, v_th: 1e4, v_reset: 0, receptors: { syn: { type: 'delta' } } } }],
      inputs: [{ to: 'n', sources, rate, weight: 1 }],
      monitors: { state: [{ population: 'n', variable: 'v', neurons: Array.from({ length: 3000 }, (_, i) => i), every: 100 }] },
    });
    const r = simulate(net, { durationMs: 100.1, seed: 4 });
    const values = r.monitors.state[0]?.values.map((row) => row[row.length - 1] ?? Number.NaN) ?? [];
    // The sample at 100 ms includes that step's input: 1,001 steps of λ = sources·rate·dt.
    const expected = ((sources * rate * 0.1) / 1000) * 1001;
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
    close(mean, expected, 6 * Math.sqrt(expected / values.length), `mean count (λT = ${expected})`);
    close(variance / expected, 1, 0.12, 'Fano factor');
    assert.ok(values.every((x) => Math.abs(x - Math.round(x)) < 1e-3), 'whole counts (weight 1 mV, negligible leak)');
  }
});

test('the same seed replays a run exactly; another seed gives another run', () => {
  const desc = {
    populations: [
      { name: 'e', size: 160, neuron: lif(-49, { receptors: { exc: { tau: 5 }, inh: { tau: 10 } } }), init: { v: { uniform: [-60, -50] } } },
      { name: 'i', size: 40, neuron: lif(-49, { receptors: { exc: { tau: 5 }, inh: { tau: 10 } } }), init: { v: { uniform: [-60, -50] } } },
    ],
    projections: [
      { from: 'e', to: 'e', receptor: 'exc', weight: 1.62, connect: { rule: 'fixed_probability', p: 0.1 } },
      { from: 'e', to: 'i', receptor: 'exc', weight: 1.62, connect: { rule: 'fixed_indegree', k: 16 } },
      { from: 'i', to: 'e', receptor: 'inh', weight: { uniform: [-10, -8] }, delay: { uniform: [0, 2] }, connect: { rule: 'fixed_outdegree', k: 20, multapses: false } },
      { from: 'i', to: 'i', receptor: 'inh', weight: -9, connect: { rule: 'fixed_probability', p: 0.1, autapses: false } },
    ],
    monitors: { spikes: [{ population: 'e' }] },
  };
  const net = parseNetwork(desc);
  const a = simulate(net, { durationMs: 300, seed: 42 });
  const b = simulate(parseNetwork(desc), { durationMs: 300, seed: 42 });
  const c = simulate(net, { durationMs: 300, seed: 43 });
  assert.ok((a.populations[0]?.spike_count ?? 0) > 100, 'the network is active');
  assert.deepEqual(a.monitors.spikes, b.monitors.spikes);
  assert.equal(a.synapses, b.synapses);
  assert.notDeepEqual(a.monitors.spikes, c.monitors.spikes);
});

test('simulate refuses a run without duration and an oversized state recording, before running', () => {
  const net = parseNetwork({ populations: [{ name: 'n', size: 10, neuron: lif(-40) }], monitors: { state: [{ population: 'n', variable: 'v', neurons: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }] } });
  assert.throws(() => simulate(net), /duration is required/);
  assert.throws(() => simulate(net, { durationMs: 1e8 }), /state monitors would record 10,000,000,000 values/);
  assert.throws(() => simulate(net, { durationMs: 1e9 }), /between 1 and 2,000,000,000 steps/);
  assert.throws(() => simulate(net, { durationMs: 10, seed: -1 }), /seed must be a whole number/);
  const ac = new AbortController();
  ac.abort(new Error('user asked'));
  assert.throws(() => simulate(net, { durationMs: 10, signal: ac.signal }), /cancelled/);
});
