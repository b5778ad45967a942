// The clock-driven engine. Each step of `dt`:
//   1. Poisson inputs add their counts for this step to the input buffers;
//   2. state monitors sample (state at t, including everything that arrives at t);
//   3. each population applies the input arriving at t, integrates over [t, t + dt) — exactly for
//      current-based neurons (propagator matrix), exactly for the conductances held at their value
//      at t for conductance-based ones (exponential Euler) — checks v ≥ v_th, resets and starts the
//      refractory period (spike time t + dt);
//   4. every spike is delivered through its projections' CSR rows into the target's ring buffer
//      slot `delay` steps ahead (or, with no delay onto an exponential receptor, straight into the
//      target's state, which then holds its value for t + dt), and STDP updates the weights.
// A spike emitted at time ts with delay d therefore acts on its target at exactly ts + d.
// State lives in typed arrays; the step loop allocates nothing (monitors grow by doubling).
import { StrataError, systemClock } from '../kernel/index.ts';
import type { Clock } from '../kernel/index.ts';
import { buildCsr, draw, maxDelay } from './connect.ts';
import type { Csr } from './connect.ts';
import type { LifCondModel, LifModel, Network, NeuronModel, PoissonModel, Population, Projection, Receptor, Stdp } from './network.ts';
import { SPIKING_LIMITS, SPIKING_RESULT_VERSION, toSteps } from './network.ts';
import { PoissonTable, Rng } from './rng.ts';

// φ(x) = (eˣ − 1)/x on |x| ≤ 0.25 by its degree-8 Chebyshev interpolant (coefficients computed in
// 50-digit arithmetic; worst relative error 4.7e-15 evaluated in doubles), so the conductance-based
// update needs neither exp nor a division per neuron in the common case; outside, expm1(x)/x.
const PHI_LIMIT = 0.25;
const P0 = 1.0;
const P1 = 0.499999999999852;
const P2 = 0.16666666666665322;
const P3 = 0.04166666669823601;
const P4 = 0.008333333336202819;
const P5 = 0.0013888870706692627;
const P6 = 0.00019841253314374944;
const P7 = 2.484036731676369e-5;
const P8 = 2.7592569930959876e-6;

/**
 * (eˣ − 1)/x, with its limit 1 at 0 (relative error < 5e-15). The polynomial is evaluated by
 * Estrin's scheme (x², x⁴, x⁸ and independent pairs) rather than Horner's: a dependency chain of
 * 4 multiply-adds instead of 8, so that consecutive neurons overlap in the CPU pipeline.
 */
export function phi(x: number): number {
  if (x <= PHI_LIMIT && x >= -PHI_LIMIT) {
    const x2 = x * x;
    const x4 = x2 * x2;
    return P0 + P1 * x + (P2 + P3 * x) * x2 + (P4 + P5 * x + (P6 + P7 * x) * x2) * x4 + P8 * (x4 * x4);
  }
  return Math.expm1(x) / x;
}

/** Per-neuron spike statistics, updated as spikes happen (no raster needed). */
class SpikeStats {
  readonly count: Int32Array;
  readonly last: Int32Array;
  readonly isiSum: Float64Array;
  readonly isiSq: Float64Array;
  constructor(n: number) {
    this.count = new Int32Array(n);
    this.last = new Int32Array(n).fill(-1);
    this.isiSum = new Float64Array(n);
    this.isiSq = new Float64Array(n);
  }
  record(spikes: Int32Array, n: number, step: number): void {
    const { count, last, isiSum, isiSq } = this;
    for (let s = 0; s < n; s++) {
      const i = spikes[s] as number;
      count[i] = (count[i] as number) + 1;
      const l = last[i] as number;
      if (l >= 0) {
        const isi = step - l;
        isiSum[i] = (isiSum[i] as number) + isi;
        isiSq[i] = (isiSq[i] as number) + isi * isi;
      }
      last[i] = step;
    }
  }
}

/** A population at run time: its state, its input ring buffer and the spikes of the current step. */
abstract class PopulationRuntime {
  readonly n: number;
  readonly spikes: Int32Array;
  nSpikes = 0;
  readonly stats: SpikeStats;
  /** Receptors (0 for sources); the ring holds `slots` × `receptors` × `n` pending inputs. */
  readonly receptors: number;
  slots = 1;
  ring: Float64Array = new Float64Array(0);
  /**
   * False when every input reaches this population without delay onto exponential receptors, so it
   * all goes straight into the state and the update skips the ring (12 % of a COBA step).
   */
  ringUsed = true;

  constructor(readonly spec: Population) {
    this.n = spec.size;
    this.spikes = new Int32Array(spec.size);
    this.stats = new SpikeStats(spec.size);
    this.receptors = spec.model.type === 'poisson' ? 0 : spec.model.receptors.length;
  }

  /**
   * Allocates the ring for delays up to `maxDelaySteps`: a spike of step m lands in slot m + 1 + d,
   * and slot m is consumed by the update of step m before any delivery, so d_max + 1 slots suffice.
   */
  allocateRing(maxDelaySteps: number, needed: boolean): void {
    this.ringUsed = needed || !this.canSkipRing();
    this.slots = this.ringUsed ? maxDelaySteps + 1 : 1;
    this.ring = new Float64Array(this.ringUsed ? this.slots * this.receptors * this.n : 0);
  }

  /** Whether the update has a variant that does not read the ring. */
  protected canSkipRing(): boolean {
    return false;
  }

  /** Pending input in the ring at offset `o` (0 when the ring is not used). */
  protected pending(o: number): number {
    return this.ringUsed ? (this.ring[o] as number) : 0;
  }

  /**
   * Where the state variable of exponential receptor k lives, for input that arrives without delay:
   * added there, it is part of the state at the start of the next step (or of this step, for a
   * Poisson input applied before the update). Null for delta receptors and spike sources.
   */
  directTarget(_k: number): { readonly array: Float64Array; readonly offset: number } | null {
    return null;
  }

  /** Factor from a weight in the description's units to the stored representation. */
  weightScale(): number {
    return 1;
  }

  /** Offset of the ring slot for `step`. */
  slotOffset(step: number): number {
    return (step % this.slots) * this.receptors * this.n;
  }

  /** Advances one step; fills `spikes[0..nSpikes)`. */
  abstract update(step: number): void;

  /** The value of a state variable of neuron i at the start of `step`, including arrivals at that time. */
  abstract sample(variable: string, i: number, step: number): number;
}

class PoissonSourceRuntime extends PopulationRuntime {
  private readonly p: number;
  private readonly logQ: number;
  /** Flat (step × n + neuron) position of the next spike, relative to the current step. */
  private next: number;

  constructor(spec: Population, model: PoissonModel, dt: number, private readonly rng: Rng) {
    super(spec);
    this.p = Math.min(1, (model.rate * dt) / 1000);
    this.logQ = Math.log1p(-this.p);
    this.next = this.p > 0 && this.p < 1 ? rng.geometric(this.p, this.logQ) : 0;
  }

  update(): void {
    const n = this.n;
    const spikes = this.spikes;
    let ns = 0;
    if (this.p >= 1) {
      for (let i = 0; i < n; i++) spikes[i] = i;
      ns = n;
    } else if (this.p > 0) {
      let next = this.next;
      while (next < n) {
        spikes[ns++] = next;
        next += 1 + this.rng.geometric(this.p, this.logQ);
      }
      this.next = next - n;
    }
    this.nSpikes = ns;
  }

  sample(): number {
    return Number.NaN;
  }
}

/** Initial values of the state of a neuron population. */
function initialise(out: Float64Array, offset: number, n: number, spec: Population, variable: string, fallback: number, rng: Rng): void {
  const d = spec.init[variable];
  if (d === undefined) {
    out.fill(fallback, offset, offset + n);
    return;
  }
  for (let i = 0; i < n; i++) out[offset + i] = draw(d, rng);
}

class LifRuntime extends PopulationRuntime {
  readonly v: Float64Array;
  /** Exponential receptor states, `expCount` blocks of n. */
  readonly syn: Float64Array;
  readonly ref: Int32Array;
  private readonly refSteps: number;
  /** Receptor indices of the exponential and delta receptors. */
  private readonly expK: Int32Array;
  private readonly deltaK: Int32Array;
  /** Exact propagators over one step: v ← eL + (v − eL)·pvv + Σ x_k·pvx[k];  x_k ← x_k·pxx[k]. */
  private readonly pvv: number;
  private readonly pvx: Float64Array;
  private readonly pxx: Float64Array;

  constructor(spec: Population, private readonly m: LifModel, dt: number, rng: Rng) {
    super(spec);
    const n = spec.size;
    const exps: number[] = [];
    const deltas: number[] = [];
    m.receptors.forEach((r, k) => (r.type === 'exponential' ? exps : deltas).push(k));
    this.expK = Int32Array.from(exps);
    this.deltaK = Int32Array.from(deltas);
    this.refSteps = toSteps(m.tRef, dt);
    this.pvv = Math.exp(-dt / m.tauM);
    this.pvx = new Float64Array(exps.length);
    this.pxx = new Float64Array(exps.length);
    exps.forEach((k, e) => {
      const r = m.receptors[k];
      if (r === undefined || r.type !== 'exponential') return;
      // x(t) = x0·e^{−t/τ};  τm v' = −(v − eL) + x  ⇒  v gains x0·τ/(τ − τm)·(e^{−h/τ} − e^{−h/τm}),
      // written with expm1 so that τ close to τm loses no precision; the limit at τ = τm is x0·(h/τm)·e^{−h/τm}.
      const a = 1 / m.tauM - 1 / r.tau;
      this.pvx[e] = Math.abs(a) * dt < 1e-12 ? (dt / m.tauM) * Math.exp(-dt / m.tauM) : (Math.exp(-dt / m.tauM) * Math.expm1(dt * a)) / (m.tauM * a);
      this.pxx[e] = Math.exp(-dt / r.tau);
    });
    this.v = new Float64Array(n);
    initialise(this.v, 0, n, spec, 'v', m.eL, rng);
    this.syn = new Float64Array(exps.length * n);
    exps.forEach((k, e) => initialise(this.syn, e * n, n, spec, m.receptors[k]?.name ?? '', 0, rng));
    this.ref = new Int32Array(n);
  }

  protected override canSkipRing(): boolean {
    return this.expK.length === 2 && this.deltaK.length === 0;
  }

  override directTarget(k: number): { readonly array: Float64Array; readonly offset: number } | null {
    const e = this.expK.indexOf(k);
    return e < 0 ? null : { array: this.syn, offset: e * this.n };
  }

  update(step: number): void {
    const { n, v, syn, ref, ring, spikes, expK, deltaK, pvx, pxx, pvv } = this;
    const ro = this.slotOffset(step);
    const nExp = expK.length;
    const nDelta = deltaK.length;
    const { eL, vTh, vReset } = this.m;
    const refSteps = this.refSteps;
    let ns = 0;
    if (nExp === 2 && nDelta === 0) {
      // Two exponential receptors (Vogels–Abbott CUBA), unrolled; `useRing` as for lif_cond.
      const useRing = this.ringUsed;
      const o0 = ro + (expK[0] as number) * n;
      const o1 = ro + (expK[1] as number) * n;
      const p0 = pvx[0] as number;
      const p1 = pvx[1] as number;
      const d0 = pxx[0] as number;
      const d1 = pxx[1] as number;
      for (let i = 0; i < n; i++) {
        const x0 = useRing ? (syn[i] as number) + (ring[o0 + i] as number) : (syn[i] as number);
        const x1 = useRing ? (syn[n + i] as number) + (ring[o1 + i] as number) : (syn[n + i] as number);
        syn[i] = x0 * d0;
        syn[n + i] = x1 * d1;
        if ((ref[i] as number) > 0) {
          ref[i] = (ref[i] as number) - 1;
          continue;
        }
        const vi = eL + ((v[i] as number) - eL) * pvv + x0 * p0 + x1 * p1;
        if (vi >= vTh) {
          v[i] = vReset;
          ref[i] = refSteps;
          spikes[ns++] = i;
        } else v[i] = vi;
      }
    } else if (nExp === 0 && nDelta === 1) {
      // Delta synapses only (Brunel 2000).
      const o0 = ro + (deltaK[0] as number) * n;
      for (let i = 0; i < n; i++) {
        const dv = ring[o0 + i] as number;
        if ((ref[i] as number) > 0) {
          ref[i] = (ref[i] as number) - 1;
          continue;
        }
        const vi = eL + ((v[i] as number) + dv - eL) * pvv;
        if (vi >= vTh) {
          v[i] = vReset;
          ref[i] = refSteps;
          spikes[ns++] = i;
        } else v[i] = vi;
      }
    } else {
      for (let i = 0; i < n; i++) {
        let dv = 0;
        for (let q = 0; q < nDelta; q++) {
          dv += ring[ro + (deltaK[q] as number) * n + i] as number;
        }
        let drive = 0;
        for (let e = 0; e < nExp; e++) {
          const so = e * n + i;
          const x = (syn[so] as number) + (ring[ro + (expK[e] as number) * n + i] as number);
          drive += x * (pvx[e] as number);
          syn[so] = x * (pxx[e] as number);
        }
        if ((ref[i] as number) > 0) {
          ref[i] = (ref[i] as number) - 1; // refractory: v is held at reset and delta inputs are lost (Brunel 2000, NEST)
          continue;
        }
        const vi = eL + ((v[i] as number) + dv - eL) * pvv + drive;
        if (vi >= vTh) {
          v[i] = vReset;
          ref[i] = refSteps;
          spikes[ns++] = i;
        } else v[i] = vi;
      }
    }
    ring.fill(0, ro, ro + this.receptors * n); // this slot is consumed; it next holds input for step + slots
    this.nSpikes = ns;
  }

  sample(variable: string, i: number, step: number): number {
    const ro = this.slotOffset(step);
    const n = this.n;
    if (variable === 'v') {
      let v = this.v[i] as number;
      if ((this.ref[i] as number) === 0) for (let q = 0; q < this.deltaK.length; q++) v += this.pending(ro + (this.deltaK[q] as number) * n + i);
      return v;
    }
    for (let e = 0; e < this.expK.length; e++) {
      const k = this.expK[e] as number;
      if (this.m.receptors[k]?.name === variable) return (this.syn[e * n + i] as number) + this.pending(ro + k * n + i);
    }
    return Number.NaN;
  }
}

class LifCondRuntime extends PopulationRuntime {
  readonly v: Float64Array;
  /**
   * Conductances times dt/C (dimensionless: the fraction of the way to a reversal potential one
   * step of that conductance alone would take v), one block of n per receptor. Stored pre-scaled so
   * the update needs no multiplication by dt/C; weights and inputs are scaled on the way in
   * (`weightScale`), monitors unscale.
   */
  readonly g: Float64Array;
  readonly ref: Int32Array;
  private readonly refSteps: number;
  private readonly eRev: Float64Array;
  private readonly decay: Float64Array;
  /** dt/C, ms/pF. */
  private readonly scale: number;

  constructor(spec: Population, private readonly m: LifCondModel, dt: number, rng: Rng) {
    super(spec);
    const n = spec.size;
    const k = m.receptors.length;
    this.refSteps = toSteps(m.tRef, dt);
    this.eRev = new Float64Array(k);
    this.decay = new Float64Array(k);
    m.receptors.forEach((r, q) => {
      if (r.type !== 'exponential') return;
      this.eRev[q] = r.eRev ?? 0;
      this.decay[q] = Math.exp(-dt / r.tau);
    });
    this.scale = dt / m.cM;
    this.v = new Float64Array(n);
    initialise(this.v, 0, n, spec, 'v', m.eL, rng);
    this.g = new Float64Array(k * n);
    m.receptors.forEach((r, q) => initialise(this.g, q * n, n, spec, r.name, 0, rng));
    for (let i = 0; i < this.g.length; i++) this.g[i] = (this.g[i] as number) * this.scale;
    this.ref = new Int32Array(n);
  }

  protected override canSkipRing(): boolean {
    return this.receptors === 2;
  }

  override directTarget(k: number): { readonly array: Float64Array; readonly offset: number } | null {
    return { array: this.g, offset: k * this.n };
  }

  override weightScale(): number {
    return this.scale;
  }

  // v' = (I − G·v)/C with G = gL + Σg_k and I = gL·eL + Σg_k·E_k + iE frozen over the step has the
  // exact solution v(t+h) = v + (h/C)(I − G·v)·φ(−hG/C), φ(x) = (eˣ − 1)/x. With y = hG/C and
  // J = hI/C (the stored conductances are already × h/C): v ← v + (J − y·v)·φ(−y).
  update(step: number): void {
    const { n, v, g, ref, ring, spikes, eRev, decay, scale } = this;
    const ro = this.slotOffset(step);
    const nk = this.receptors;
    const { gL, eL, iE, vTh, vReset } = this.m;
    const refSteps = this.refSteps;
    const yL = gL * scale;
    const jBase = (gL * eL + iE) * scale;
    let ns = 0;
    if (nk === 2) {
      const e0 = eRev[0] as number;
      const e1 = eRev[1] as number;
      const d0 = decay[0] as number;
      const d1 = decay[1] as number;
      // Two receptors (excitatory, inhibitory; Vogels–Abbott COBA), unrolled. `useRing` is false
      // when all input is already in g: a loop-invariant, perfectly predicted branch that skips
      // two loads per neuron.
      const useRing = this.ringUsed;
      for (let i = 0; i < n; i++) {
        const g0 = useRing ? (g[i] as number) + (ring[ro + i] as number) : (g[i] as number);
        const g1 = useRing ? (g[n + i] as number) + (ring[ro + n + i] as number) : (g[n + i] as number);
        g[i] = g0 * d0;
        g[n + i] = g1 * d1;
        if ((ref[i] as number) > 0) {
          ref[i] = (ref[i] as number) - 1;
          continue;
        }
        const vi0 = v[i] as number;
        const y = yL + g0 + g1;
        let ph: number; // φ(−y), inlined (see phi(); odd coefficients negated)
        if (y <= PHI_LIMIT && y >= -PHI_LIMIT) {
          const y2 = y * y;
          const y4 = y2 * y2;
          ph = P0 - P1 * y + (P2 - P3 * y) * y2 + (P4 - P5 * y + (P6 - P7 * y) * y2) * y4 + P8 * (y4 * y4);
        } else ph = Math.expm1(-y) / -y;
        const vi = vi0 + (jBase + g0 * e0 + g1 * e1 - y * vi0) * ph;
        if (vi >= vTh) {
          v[i] = vReset;
          ref[i] = refSteps;
          spikes[ns++] = i;
        } else v[i] = vi;
      }
    } else {
      for (let i = 0; i < n; i++) {
        let y = yL;
        let J = jBase;
        for (let q = 0; q < nk; q++) {
          const so = q * n + i;
          const gq = (g[so] as number) + (ring[ro + so] as number);
          y += gq;
          J += gq * (eRev[q] as number);
          g[so] = gq * (decay[q] as number);
        }
        if ((ref[i] as number) > 0) {
          ref[i] = (ref[i] as number) - 1;
          continue;
        }
        const vi0 = v[i] as number;
        const vi = vi0 + (J - y * vi0) * phi(-y);
        if (vi >= vTh) {
          v[i] = vReset;
          ref[i] = refSteps;
          spikes[ns++] = i;
        } else v[i] = vi;
      }
    }
    ring.fill(0, ro, ro + nk * n); // this slot is consumed; it next holds input for step + slots
    this.nSpikes = ns;
  }

  sample(variable: string, i: number, step: number): number {
    if (variable === 'v') return this.v[i] as number;
    const q = this.m.receptors.findIndex((r) => r.name === variable);
    if (q < 0) return Number.NaN;
    return ((this.g[q * this.n + i] as number) + this.pending(this.slotOffset(step) + q * this.n + i)) / this.scale;
  }
}

let warmedUp = false;

/**
 * Runs every neuron-update kernel a few steps on 4-neuron dummy populations that take each branch
 * (refractory, spiking, the expm1 side of φ, with and without a ring) before a real run. V8 compiles
 * a hot loop early (on-stack replacement, within the first steps); compiled before any neuron has
 * spiked or been refractory, it lacks feedback for those branches, deoptimises, and in about one
 * process in five was left on code that ran the whole simulation 1.7× slower. Touches no state of
 * any real run; results are unchanged.
 */
function warmUpKernels(): void {
  if (warmedUp) return;
  warmedUp = true;
  const exp = (name: string, tau: number, eRev: number | null): Receptor => ({ name, type: 'exponential', tau, eRev });
  const cond: LifCondModel = { type: 'lif_cond', cM: 200, gL: 10, eL: -60, vTh: -50, vReset: -60, tRef: 0.2, iE: 0, receptors: [exp('e', 5, 0), exp('i', 10, -80)] };
  const cond3: LifCondModel = { ...cond, receptors: [exp('e', 5, 0), exp('i', 10, -80), exp('s', 2, 0)] };
  const cuba: LifModel = { type: 'lif', tauM: 20, eL: -60, vTh: -50, vReset: -60, tRef: 0.2, receptors: [exp('e', 5, null), exp('i', 10, null)] };
  const delta: LifModel = { ...cuba, receptors: [{ name: 'd', type: 'delta' }] };
  const mixed: LifModel = { ...cuba, receptors: [exp('e', 5, null), { name: 'd', type: 'delta' }] };
  const rng = new Rng(0, 'warm-up');
  const pop = (model: NeuronModel): Population => ({ name: 'warm-up', size: 4, model, init: {} });
  for (const ringUsed of [false, true]) {
    const runtimes: (LifRuntime | LifCondRuntime)[] = [
      new LifCondRuntime(pop(cond), cond, 0.1, rng),
      new LifCondRuntime(pop(cond3), cond3, 0.1, rng),
      new LifRuntime(pop(cuba), cuba, 0.1, rng),
      new LifRuntime(pop(delta), delta, 0.1, rng),
      new LifRuntime(pop(mixed), mixed, 0.1, rng),
    ];
    for (const r of runtimes) {
      r.allocateRing(1, ringUsed);
      for (let step = 0; step < 4; step++) {
        // Neuron 0 above threshold (spikes, then refractory), 1 and 3 below, 2 with a conductance
        // large enough for the expm1 branch of φ.
        r.v[0] = -40;
        r.v[1] = -55;
        r.v[3] = -52;
        if (r instanceof LifCondRuntime) r.g[2] = 1e5;
        r.update(step);
      }
    }
  }
}

/** STDP state of one plastic projection: traces, and the column (by target) index of the synapses. */
class StdpRuntime {
  readonly xPre: Float64Array;
  readonly xPost: Float64Array;
  readonly colPtr: Uint32Array;
  /** Synapse ids grouped by target, and each one's presynaptic neuron. */
  readonly colSyn: Uint32Array;
  readonly colPre: Uint32Array;
  private readonly decayPre: number;
  private readonly decayPost: number;

  constructor(readonly rule: Stdp, readonly csr: Csr, dt: number) {
    this.xPre = new Float64Array(csr.nPre);
    this.xPost = new Float64Array(csr.nPost);
    this.decayPre = Math.exp(-dt / rule.tauPlus);
    this.decayPost = Math.exp(-dt / rule.tauMinus);
    const { rowPtr, targets, nPre, nPost } = csr;
    const n = targets.length;
    this.colPtr = new Uint32Array(nPost + 1);
    for (let s = 0; s < n; s++) {
      const c = (targets[s] as number) + 1;
      this.colPtr[c] = (this.colPtr[c] as number) + 1;
    }
    for (let j = 0; j < nPost; j++) this.colPtr[j + 1] = (this.colPtr[j + 1] as number) + (this.colPtr[j] as number);
    const fill = this.colPtr.slice(0, nPost);
    this.colSyn = new Uint32Array(n);
    this.colPre = new Uint32Array(n);
    for (let i = 0; i < nPre; i++) {
      for (let s = rowPtr[i] as number; s < (rowPtr[i + 1] as number); s++) {
        const j = targets[s] as number;
        const at = fill[j] as number;
        fill[j] = at + 1;
        this.colSyn[at] = s;
        this.colPre[at] = i;
      }
    }
  }

  /** Weight updates for this step's spikes, then the trace increments. */
  step(pre: PopulationRuntime, post: PopulationRuntime): void {
    const { xPre, xPost, rule, csr, colPtr, colSyn, colPre } = this;
    const w = csr.weights as Float64Array;
    const { aPlus, aMinus, wMin, wMax } = rule;
    const mult = rule.rule === 'multiplicative';
    for (let i = 0; i < xPre.length; i++) xPre[i] = (xPre[i] as number) * this.decayPre;
    for (let j = 0; j < xPost.length; j++) xPost[j] = (xPost[j] as number) * this.decayPost;
    // Presynaptic spikes: depression by the postsynaptic trace (post before pre).
    for (let q = 0; q < pre.nSpikes; q++) {
      const i = pre.spikes[q] as number;
      for (let s = csr.rowPtr[i] as number; s < (csr.rowPtr[i + 1] as number); s++) {
        const ws = w[s] as number;
        const dw = aMinus * (xPost[csr.targets[s] as number] as number) * (mult ? ws - wMin : 1);
        w[s] = ws - dw < wMin ? wMin : ws - dw;
      }
    }
    // Postsynaptic spikes: potentiation by the presynaptic trace (pre before post).
    for (let q = 0; q < post.nSpikes; q++) {
      const j = post.spikes[q] as number;
      for (let c = colPtr[j] as number; c < (colPtr[j + 1] as number); c++) {
        const s = colSyn[c] as number;
        const ws = w[s] as number;
        const dw = aPlus * (xPre[colPre[c] as number] as number) * (mult ? wMax - ws : 1);
        w[s] = ws + dw > wMax ? wMax : ws + dw;
      }
    }
    const nearest = rule.interaction === 'nearest';
    for (let q = 0; q < pre.nSpikes; q++) {
      const i = pre.spikes[q] as number;
      xPre[i] = nearest ? 1 : (xPre[i] as number) + 1;
    }
    for (let q = 0; q < post.nSpikes; q++) {
      const j = post.spikes[q] as number;
      xPost[j] = nearest ? 1 : (xPost[j] as number) + 1;
    }
  }
}

interface ProjectionRuntime {
  readonly spec: Projection;
  readonly csr: Csr;
  readonly pre: PopulationRuntime;
  readonly post: PopulationRuntime;
  readonly stdp: StdpRuntime | null;
  /** The target receptor's state, for synapses without delay (null: delta receptor, use the ring). */
  readonly direct: { readonly array: Float64Array; readonly offset: number } | null;
  /** The target's weightScale(): weights are kept in the description's units (STDP bounds are). */
  readonly scale: number;
}

/**
 * Adds one step's spikes of `p.pre` to their targets: into the ring slot `delay` steps ahead, or
 * with no delay onto an exponential receptor straight into the state (which already holds t + dt).
 */
function deliver(p: ProjectionRuntime, step: number): void {
  const { pre, post, csr, direct, scale } = p;
  const ns = pre.nSpikes;
  if (ns === 0) return;
  const spikes = pre.spikes;
  const { rowPtr, targets, weights, delays } = csr;
  const ring = post.ring;
  const slots = post.slots;
  const slotSize = post.receptors * post.n;
  const kOff = p.spec.receptor * post.n;
  if (delays === null) {
    const toState = csr.delay === 0 && direct !== null;
    const dst = toState ? direct.array : ring;
    const base = toState ? direct.offset : ((step + 1 + csr.delay) % slots) * slotSize + kOff;
    if (weights === null) {
      const w = csr.weight * scale;
      for (let q = 0; q < ns; q++) {
        const i = spikes[q] as number;
        const end = rowPtr[i + 1] as number;
        for (let s = rowPtr[i] as number; s < end; s++) {
          const o = base + (targets[s] as number);
          dst[o] = (dst[o] as number) + w;
        }
      }
    } else {
      for (let q = 0; q < ns; q++) {
        const i = spikes[q] as number;
        const end = rowPtr[i + 1] as number;
        for (let s = rowPtr[i] as number; s < end; s++) {
          const o = base + (targets[s] as number);
          dst[o] = (dst[o] as number) + (weights[s] as number) * scale;
        }
      }
    }
    return;
  }
  const w0 = csr.weight;
  for (let q = 0; q < ns; q++) {
    const i = spikes[q] as number;
    const end = rowPtr[i + 1] as number;
    for (let s = rowPtr[i] as number; s < end; s++) {
      const d = delays[s] as number;
      const w = (weights === null ? w0 : (weights[s] as number)) * scale;
      if (d === 0 && direct !== null) {
        const o = direct.offset + (targets[s] as number);
        direct.array[o] = (direct.array[o] as number) + w;
      } else {
        const o = ((step + 1 + d) % slots) * slotSize + kOff + (targets[s] as number);
        ring[o] = (ring[o] as number) + w;
      }
    }
  }
}

/**
 * A Poisson input at run time. Each step every target neuron gets an independent Poisson(λ) count,
 * λ = sources·rate·dt. For λ ≥ 0.25 the counts are drawn per neuron by inversion of a table over a
 * block of uniforms; below, the equivalent and cheaper way: a Poisson(n·λ) total scattered
 * uniformly over the n neurons (independent Poisson counts are exactly a multinomial split of a
 * Poisson total).
 */
interface InputRuntime {
  readonly post: PopulationRuntime;
  readonly receptor: number;
  /** The receptor's state (exponential receptors), else null: the ring slot of the step. */
  readonly direct: { readonly array: Float64Array; readonly offset: number } | null;
  readonly weight: number;
  readonly perNeuron: PoissonTable;
  readonly total: PoissonTable;
  readonly scatter: boolean;
  readonly uniforms: Float64Array;
  readonly rng: Rng;
  readonly startStep: number;
  readonly stopStep: number;
}

function applyInput(inp: InputRuntime, step: number): void {
  if (step < inp.startStep || step >= inp.stopStep) return;
  const { post, rng, weight, direct } = inp;
  const n = post.n;
  const ring = direct === null ? post.ring : direct.array;
  const o = direct === null ? post.slotOffset(step) + inp.receptor * n : direct.offset;
  if (inp.scatter) {
    const events = inp.total.sample(rng);
    for (let e = 0; e < events; e++) {
      const i = o + rng.below(n);
      ring[i] = (ring[i] as number) + weight;
    }
    return;
  }
  const u = inp.uniforms;
  rng.fillUniform(u, n);
  const { cdf, guide, guideSize, lo } = inp.perNeuron;
  for (let i = 0; i < n; i++) {
    const ui = u[i] as number;
    let k = guide[Math.floor(ui * guideSize)] as number;
    while (ui > (cdf[k] as number)) k++;
    ring[o + i] = (ring[o + i] as number) + (lo + k) * weight; // adding 0 is cheaper than a branch
  }
}

/** Growable Int32 list for monitors. */
class I32List {
  data = new Int32Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = x;
  }
}

interface SpikeMonitorRuntime {
  readonly population: number;
  readonly mask: Uint8Array | null;
  readonly maxSpikes: number;
  readonly steps: I32List;
  readonly indices: I32List;
  truncated: boolean;
}

interface StateMonitorRuntime {
  readonly population: number;
  readonly variable: string;
  readonly neurons: readonly number[];
  readonly every: number;
  readonly values: Float64Array;
  samples: number;
}

/** Options for `simulate`. */
export interface SimulateOptions {
  /** Biological time to simulate, ms (default: the network's `duration`). */
  readonly durationMs?: number;
  /** Seed for everything random (default: the network's `seed`, else 0). */
  readonly seed?: number;
  /** Clock for the wall-time figures (default: the system clock; pass performance.now for sub-ms). */
  readonly clock?: Clock;
  /** Checked every 1,000 steps; an aborted run throws and returns nothing. */
  readonly signal?: AbortSignal;
  /** Called every `progressEverySteps` steps (default 10,000) with steps done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly progressEverySteps?: number;
}

/** Firing statistics of one population over the whole run. */
export interface PopulationResult {
  readonly name: string;
  readonly size: number;
  readonly spike_count: number;
  /** Mean firing rate, spikes per neuron per second. */
  readonly rate_hz: number;
  /**
   * Mean over neurons with at least 3 spikes of the coefficient of variation of their inter-spike
   * intervals (standard deviation / mean); null when no neuron has 3 spikes.
   */
  readonly cv_isi: number | null;
  /** Neurons that contributed to cv_isi. */
  readonly cv_neurons: number;
  /** Fraction of neurons that spiked at least once. */
  readonly active_fraction: number;
}

export interface PlasticityResult {
  readonly projection: string;
  readonly synapses: number;
  readonly mean_weight: number;
  readonly min_weight: number;
  readonly max_weight: number;
}

export interface SpikeRecord {
  readonly population: string;
  /** Spike times, ms, ascending. */
  readonly times_ms: number[];
  readonly indices: number[];
  /** True when max_spikes was reached and later spikes were not recorded. */
  readonly truncated: boolean;
}

export interface StateRecord {
  readonly population: string;
  readonly variable: string;
  readonly neurons: readonly number[];
  readonly times_ms: number[];
  /** values[n][t]: neuron `neurons[n]` at `times_ms[t]`. */
  readonly values: number[][];
}

/**
 * The result of a run, also the result document of a `spiking-network` job (see result.ts):
 * JSON-ready, snake_case like the description format.
 */
export interface SimulationResult {
  readonly kind: 'spiking-network';
  /** SPIKING_RESULT_VERSION. */
  readonly version: number;
  readonly network: string;
  readonly seed: number;
  readonly dt_ms: number;
  readonly duration_ms: number;
  readonly steps: number;
  readonly neurons: number;
  readonly synapses: number;
  readonly populations: readonly PopulationResult[];
  /** Mean rate over all non-source neurons. */
  readonly rate_hz: number;
  readonly plasticity: readonly PlasticityResult[];
  readonly monitors: { readonly spikes: readonly SpikeRecord[]; readonly state: readonly StateRecord[] };
  /** Wall time: building (connectivity, state) + running the steps. */
  readonly build_seconds: number;
  readonly run_seconds: number;
  readonly wall_seconds: number;
  /** run_seconds per second of biological time. */
  readonly realtime_factor: number;
}

function populationResult(rt: PopulationRuntime, seconds: number): PopulationResult {
  const { count, isiSum, isiSq } = rt.stats;
  let total = 0;
  let active = 0;
  let cvSum = 0;
  let cvN = 0;
  for (let i = 0; i < rt.n; i++) {
    const c = count[i] as number;
    total += c;
    if (c > 0) active++;
    if (c >= 3) {
      const k = c - 1;
      const mean = (isiSum[i] as number) / k;
      const variance = Math.max(0, (isiSq[i] as number) / k - mean * mean);
      cvSum += Math.sqrt(variance) / mean;
      cvN++;
    }
  }
  return {
    name: rt.spec.name,
    size: rt.n,
    spike_count: total,
    rate_hz: total / (rt.n * seconds),
    cv_isi: cvN === 0 ? null : cvSum / cvN,
    cv_neurons: cvN,
    active_fraction: active / rt.n,
  };
}

const aborted = (signal: AbortSignal): StrataError =>
  new StrataError('conflict', 'the simulation was cancelled', { cause: signal.reason as unknown, details: { reason: String(signal.reason) } });

/**
 * Runs a network parsed by `parseNetwork` for `durationMs` of biological time, deterministically
 * for a seed. Throws a bad_request StrataError (before allocating) when no duration is known or the
 * requested state recording is too large, and a conflict when `signal` aborts the run.
 */
export function simulate(network: Network, options: SimulateOptions = {}): SimulationResult {
  const clock = options.clock ?? systemClock;
  const durationMs = options.durationMs ?? network.duration;
  if (durationMs === null || !(durationMs > 0) || !Number.isFinite(durationMs)) {
    throw new StrataError('bad_request', `a positive, finite duration is required (ms); got ${String(durationMs)}: give one in the network (duration) or to the run`, { details: { field: 'duration' } });
  }
  const seed = options.seed ?? network.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new StrataError('bad_request', `the seed must be a whole number ≥ 0; got ${seed}`, { details: { field: 'seed' } });
  const dt = network.dt;
  const steps = toSteps(durationMs, dt);
  if (steps < 1 || steps > 2_000_000_000) throw new StrataError('bad_request', `${durationMs} ms is ${steps} steps of ${dt} ms; between 1 and 2,000,000,000 steps are allowed`, { details: { field: 'duration' } });
  let stateSamples = 0;
  for (const m of network.monitors.state) stateSamples += m.neurons.length * Math.ceil(steps / toSteps(m.every, dt));
  if (stateSamples > SPIKING_LIMITS.maxStateSamples) {
    throw new StrataError(
      'bad_request',
      `the state monitors would record ${stateSamples.toLocaleString('en-US')} values over ${durationMs} ms; record fewer neurons, sample less often (every), or run shorter (limit ${SPIKING_LIMITS.maxStateSamples.toLocaleString('en-US')})`,
      { details: { field: 'monitors.state' } },
    );
  }

  const t0 = clock.now();
  warmUpKernels();
  // Populations and their initial state.
  const pops: PopulationRuntime[] = network.populations.map((spec) => {
    const rng = new Rng(seed, `init/${spec.name}`);
    switch (spec.model.type) {
      case 'poisson':
        return new PoissonSourceRuntime(spec, spec.model, dt, rng);
      case 'lif':
        return new LifRuntime(spec, spec.model, dt, rng);
      case 'lif_cond':
        return new LifCondRuntime(spec, spec.model, dt, rng);
    }
  });
  const rt = (i: number): PopulationRuntime => {
    const p = pops[i];
    if (p === undefined) throw new StrataError('internal', `population index ${i} out of range`);
    return p;
  };
  // Connectivity, then ring buffers sized for the longest delay into each population.
  const projections: ProjectionRuntime[] = network.projections.map((spec) => {
    const pre = rt(spec.from);
    const post = rt(spec.to);
    const csr = buildCsr(spec, pre.n, post.n, seed, dt, spec.stdp !== null);
    return { spec, csr, pre, post, stdp: spec.stdp === null ? null : new StdpRuntime(spec.stdp, csr, dt), direct: post.directTarget(spec.receptor), scale: post.weightScale() };
  });
  const longest = new Array<number>(pops.length).fill(0);
  const ringNeeded = new Array<boolean>(pops.length).fill(false);
  for (const p of projections) {
    const d = maxDelay(p.csr);
    longest[p.spec.to] = Math.max(longest[p.spec.to] ?? 0, d);
    if (d > 0 || p.direct === null) ringNeeded[p.spec.to] = true;
  }
  for (const inp of network.inputs) if (rt(inp.to).directTarget(inp.receptor) === null) ringNeeded[inp.to] = true;
  pops.forEach((p, i) => p.allocateRing(longest[i] ?? 0, ringNeeded[i] ?? true));
  const outgoing: ProjectionRuntime[][] = pops.map(() => []);
  for (const p of projections) outgoing[p.spec.from]?.push(p);
  const plastic = projections.filter((p) => p.stdp !== null);
  const inputs: InputRuntime[] = network.inputs.map((inp) => {
    const post = rt(inp.to);
    const lambda = (inp.sources * inp.rate * dt) / 1000;
    const scatter = lambda < 0.25;
    return {
      post,
      receptor: inp.receptor,
      direct: post.directTarget(inp.receptor),
      weight: inp.weight * post.weightScale(),
      perNeuron: new PoissonTable(scatter ? 0 : lambda),
      total: new PoissonTable(scatter ? lambda * post.n : 0),
      scatter,
      uniforms: new Float64Array(scatter ? 0 : post.n),
      rng: new Rng(seed, `input/${inp.name}`),
    startStep: toSteps(inp.start, dt),
      stopStep: inp.stop === null ? Number.MAX_SAFE_INTEGER : toSteps(inp.stop, dt),
    };
  });
  const spikeMons: SpikeMonitorRuntime[] = network.monitors.spikes.map((m) => {
    let mask: Uint8Array | null = null;
    if (m.neurons !== null) {
      mask = new Uint8Array(rt(m.population).n);
      for (const i of m.neurons) mask[i] = 1;
    }
    return { population: m.population, mask, maxSpikes: m.maxSpikes, steps: new I32List(), indices: new I32List(), truncated: false };
  });
  const stateMons: StateMonitorRuntime[] = network.monitors.state.map((m) => {
    const every = toSteps(m.every, dt);
    return { population: m.population, variable: m.variable, neurons: m.neurons, every, values: new Float64Array(m.neurons.length * Math.ceil(steps / every)), samples: 0 };
  });
  const monitorsOf: SpikeMonitorRuntime[][] = pops.map(() => []);
  for (const m of spikeMons) monitorsOf[m.population]?.push(m);
  let synapses = 0;
  for (const p of projections) synapses += p.csr.targets.length;
  const t1 = clock.now();

  // The step loop.
  const progressEvery = Math.max(1, options.progressEverySteps ?? 10_000);
  for (let step = 0; step < steps; step++) {
    if (step % 1000 === 0 && options.signal?.aborted === true) throw aborted(options.signal);
    if (options.onProgress !== undefined && step % progressEvery === 0 && step > 0) options.onProgress(step, steps);
    for (let q = 0; q < inputs.length; q++) applyInput(inputs[q] as InputRuntime, step);
    for (let q = 0; q < stateMons.length; q++) {
      const m = stateMons[q] as StateMonitorRuntime;
      if (step % m.every !== 0) continue;
      const pop = pops[m.population] as PopulationRuntime;
      const stride = m.values.length / m.neurons.length;
      for (let r = 0; r < m.neurons.length; r++) m.values[r * stride + m.samples] = pop.sample(m.variable, m.neurons[r] as number, step);
      m.samples++;
    }
    for (let q = 0; q < pops.length; q++) (pops[q] as PopulationRuntime).update(step);
    for (let q = 0; q < pops.length; q++) {
      const pop = pops[q] as PopulationRuntime;
      if (pop.nSpikes === 0) continue;
      pop.stats.record(pop.spikes, pop.nSpikes, step);
      for (const m of monitorsOf[q] as SpikeMonitorRuntime[]) recordSpikes(m, pop, step);
      for (const p of outgoing[q] as ProjectionRuntime[]) deliver(p, step);
    }
    for (let q = 0; q < plastic.length; q++) {
      const p = plastic[q] as ProjectionRuntime;
      (p.stdp as StdpRuntime).step(p.pre, p.post);
    }
  }
  if (options.onProgress !== undefined) options.onProgress(steps, steps);
  const t2 = clock.now();

  const seconds = (steps * dt) / 1000;
  const popResults = pops.map((p) => populationResult(p, seconds));
  let neuronSpikes = 0;
  let neuronCount = 0;
  pops.forEach((p, i) => {
    if (p.spec.model.type === 'poisson') return;
    neuronSpikes += popResults[i]?.spike_count ?? 0;
    neuronCount += p.n;
  });
  const buildSeconds = (t1 - t0) / 1000;
  const runSeconds = (t2 - t1) / 1000;
  return {
    kind: 'spiking-network',
    version: SPIKING_RESULT_VERSION,
    network: network.name,
    seed,
    dt_ms: dt,
    duration_ms: steps * dt,
    steps,
    neurons: network.neuronCount,
    synapses,
    populations: popResults,
    rate_hz: neuronCount === 0 ? 0 : neuronSpikes / (neuronCount * seconds),
    plasticity: plastic.map((p) => weightSummary(p)),
    monitors: {
      spikes: spikeMons.map((m) => ({
        population: rt(m.population).spec.name,
        times_ms: Array.from(m.steps.data.subarray(0, m.steps.length), (s) => roundTime((s + 1) * dt)),
        indices: Array.from(m.indices.data.subarray(0, m.indices.length)),
        truncated: m.truncated,
      })),
      state: stateMons.map((m) => {
        const stride = m.values.length / m.neurons.length;
        return {
          population: rt(m.population).spec.name,
          variable: m.variable,
          neurons: m.neurons,
          times_ms: Array.from({ length: m.samples }, (_, s) => roundTime(s * m.every * dt)),
          values: m.neurons.map((_, r) => Array.from(m.values.subarray(r * stride, r * stride + m.samples))),
        };
      }),
    },
    build_seconds: buildSeconds,
    run_seconds: runSeconds,
    wall_seconds: buildSeconds + runSeconds,
    realtime_factor: runSeconds / seconds,
  };
}

/** Times on the dt grid without binary noise (0.30000000000000004 → 0.3). */
const roundTime = (t: number): number => Math.round(t * 1e9) / 1e9;

function recordSpikes(m: SpikeMonitorRuntime, pop: PopulationRuntime, step: number): void {
  if (m.truncated) return;
  for (let s = 0; s < pop.nSpikes; s++) {
    const i = pop.spikes[s] as number;
    if (m.mask !== null && m.mask[i] === 0) continue;
    if (m.steps.length >= m.maxSpikes) {
      m.truncated = true;
      return;
    }
    m.steps.push(step);
    m.indices.push(i);
  }
}

function weightSummary(p: ProjectionRuntime): PlasticityResult {
  const w = p.csr.weights as Float64Array;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let s = 0; s < w.length; s++) {
    const x = w[s] as number;
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { projection: p.spec.name, synapses: w.length, mean_weight: w.length === 0 ? 0 : sum / w.length, min_weight: w.length === 0 ? 0 : min, max_weight: w.length === 0 ? 0 : max };
}
