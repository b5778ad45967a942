// The validated description of a spiking network: what `parseNetwork` returns and `simulate` runs.
// Every field here has been checked (finite, in range, references resolved to indices), so the
// engine does no validation of its own. Units throughout: ms, mV, pF, nS, pA, Hz.

/** A value drawn per neuron or per synapse. */
export type Distribution =
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number }
  | { readonly kind: 'normal'; readonly mean: number; readonly sd: number };

/**
 * A synaptic input channel of a neuron model. `exponential`: a state variable that jumps by the
 * weight on each arriving spike and decays with `tau` (mV for `lif`, nS for `lif_cond`). `delta`
 * (`lif` only): the weight is added to the membrane potential directly (mV).
 */
export type Receptor =
  | { readonly name: string; readonly type: 'exponential'; readonly tau: number; readonly eRev: number | null }
  | { readonly name: string; readonly type: 'delta' };

/**
 * Current-based leaky integrate-and-fire in voltage units (Brian's CUBA convention):
 *   τm dv/dt = (eL − v) + Σ x_k,   τ_k dx_k/dt = −x_k,   x_k += w on a spike,
 * integrated exactly (the propagator matrix of the linear system, computed once per population).
 */
export interface LifModel {
  readonly type: 'lif';
  readonly tauM: number;
  readonly eL: number;
  readonly vTh: number;
  readonly vReset: number;
  readonly tRef: number;
  readonly receptors: readonly Receptor[];
}

/**
 * Conductance-based leaky integrate-and-fire:
 *   C dv/dt = gL (eL − v) + Σ g_k (E_k − v) + iE,   τ_k dg_k/dt = −g_k,   g_k += w on a spike.
 * Conductances decay exactly; v is advanced by the exponential-Euler step, exact for the
 * conductances held at their value at the start of the step.
 */
export interface LifCondModel {
  readonly type: 'lif_cond';
  readonly cM: number;
  readonly gL: number;
  readonly eL: number;
  readonly vTh: number;
  readonly vReset: number;
  readonly tRef: number;
  readonly iE: number;
  readonly receptors: readonly Receptor[];
}

/** Independent Poisson spike sources (at most one spike per source per step). */
export interface PoissonModel {
  readonly type: 'poisson';
  readonly rate: number;
}

export type NeuronModel = LifModel | LifCondModel | PoissonModel;

export interface Population {
  readonly name: string;
  readonly size: number;
  readonly model: NeuronModel;
  /** Initial values by variable: `v` and receptor names. Absent: v = eL, receptors 0. */
  readonly init: Readonly<Record<string, Distribution>>;
}

export type ConnectRule =
  | { readonly rule: 'all_to_all'; readonly autapses: boolean }
  | { readonly rule: 'one_to_one' }
  | { readonly rule: 'fixed_probability'; readonly p: number; readonly autapses: boolean }
  | { readonly rule: 'fixed_indegree'; readonly k: number; readonly autapses: boolean; readonly multapses: boolean }
  | { readonly rule: 'fixed_outdegree'; readonly k: number; readonly autapses: boolean; readonly multapses: boolean };

/**
 * Pair-based STDP with exponential traces (Song, Miller & Abbott 2000; Morrison et al. 2008).
 * A presynaptic spike at t_pre and a postsynaptic spike at t_post = t_pre + Δt change the weight by
 * +aPlus·exp(−Δt/τ+) for Δt > 0 and −aMinus·exp(Δt/τ−) for Δt < 0 (additive, clipped to
 * [wMin, wMax]); `multiplicative` scales potentiation by (wMax − w) and depression by (w − wMin).
 * `all` sums over every earlier spike, `nearest` pairs with the most recent one only. Spike times
 * are taken at the somata (the axonal delay does not shift the pairing).
 */
export interface Stdp {
  readonly tauPlus: number;
  readonly tauMinus: number;
  readonly aPlus: number;
  readonly aMinus: number;
  readonly wMin: number;
  readonly wMax: number;
  readonly rule: 'additive' | 'multiplicative';
  readonly interaction: 'all' | 'nearest';
}

export interface Projection {
  readonly name: string;
  /** Index into `Network.populations`. */
  readonly from: number;
  readonly to: number;
  /** Index into the target model's receptors. */
  readonly receptor: number;
  readonly weight: Distribution;
  /** ms; rounded to whole steps; never negative. */
  readonly delay: Distribution;
  readonly connect: ConnectRule;
  /** Fixes the connectivity (and drawn weights/delays) independently of the run seed. */
  readonly seed: number | null;
  readonly stdp: Stdp | null;
}

/**
 * `sources` independent Poisson trains at `rate` Hz each, summed onto one receptor of every neuron
 * of the target population (Brian's PoissonInput): per step, a Poisson(sources·rate·dt) count × weight.
 */
export interface PoissonInput {
  readonly name: string;
  readonly to: number;
  readonly receptor: number;
  readonly sources: number;
  readonly rate: number;
  readonly weight: number;
  /** Active while start ≤ t < stop (ms); stop null = to the end. */
  readonly start: number;
  readonly stop: number | null;
}

export interface SpikeMonitor {
  readonly population: number;
  /** Neuron indices recorded, or null for all. */
  readonly neurons: readonly number[] | null;
  /** Recording stops (and the result says `truncated`) after this many spikes. */
  readonly maxSpikes: number;
}

export interface StateMonitor {
  readonly population: number;
  /** `v` or a receptor name. */
  readonly variable: string;
  readonly neurons: readonly number[];
  /** Sampling interval, ms (a multiple of dt). */
  readonly every: number;
}

export interface Network {
  readonly name: string;
  /** Time step, ms. */
  readonly dt: number;
  /** Default duration, ms, when the caller gives none. */
  readonly duration: number | null;
  /** Default seed when the caller gives none. */
  readonly seed: number | null;
  readonly populations: readonly Population[];
  readonly projections: readonly Projection[];
  readonly inputs: readonly PoissonInput[];
  readonly monitors: { readonly spikes: readonly SpikeMonitor[]; readonly state: readonly StateMonitor[] };
  /** Total neurons, and the expected number of synapses (exact for degree rules). */
  readonly neuronCount: number;
  readonly expectedSynapses: number;
}

/** Size limits: a description beyond one is refused before anything is allocated. */
export interface SpikingLimits {
  readonly maxNeurons: number;
  readonly maxSynapses: number;
  readonly maxPopulations: number;
  readonly maxProjections: number;
  /** Longest synaptic delay, ms. */
  readonly maxDelayMs: number;
  /** Longest simulation, ms of biological time. */
  readonly maxDurationMs: number;
  readonly minDt: number;
  readonly maxDt: number;
  /** State-monitor samples (neurons × time points) across all monitors. */
  readonly maxStateSamples: number;
  /** Spikes one spike monitor may hold. */
  readonly maxRecordedSpikes: number;
}

export const SPIKING_LIMITS: SpikingLimits = Object.freeze({
  maxNeurons: 10_000_000,
  maxSynapses: 500_000_000,
  maxPopulations: 256,
  maxProjections: 4096,
  maxDelayMs: 10_000,
  maxDurationMs: 24 * 3600 * 1000,
  minDt: 0.001,
  maxDt: 10,
  maxStateSamples: 50_000_000,
  maxRecordedSpikes: 50_000_000,
});

/** Version of the result document (SimulationResult), bumped on any incompatible change. */
export const SPIKING_RESULT_VERSION = 1;

/** Step counts: `x` ms on a grid of `dt` ms, rounded to the nearest step. */
export const toSteps = (x: number, dt: number): number => Math.round(x / dt);
