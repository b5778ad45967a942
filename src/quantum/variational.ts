// Variational workloads on the engine: parameterised circuits (OpenQASM with free parameters, parsed
// once and bound per evaluation), classical optimisers (Nelder–Mead, SPSA), QAOA for MaxCut
// (Farhi, Goldstone, Gutmann, arXiv:1411.4028) and a quantum-kernel matrix with the ZZ feature map
// (Havlíček et al., Nature 567:209, 2019).
import { badRequest, seededRandom } from '../kernel/index.ts';
import type { Circuit } from './circuit.ts';
import { CircuitBuilder, bindProgram } from './circuit.ts';
import { parseQasm } from './qasm-parser.ts';
import type { SimulateOptions } from './simulate.ts';
import { simulateSync } from './simulate.ts';
import { expectation, parsePauli } from './state-vector.ts';

// -----------------------------------------------------------------------------------------------
// Parameterised circuits

export interface ParameterisedCircuit {
  /** Free parameter names, in order of first use in the source. */
  readonly parameters: readonly string[];
  /** The circuit with these values bound (every parameter must be given). */
  bind(values: Readonly<Record<string, number>>): Circuit;
}

/** Parses OpenQASM with free parameters (e.g. `rx(theta) q[0];`) once, for many bindings. */
export function parameterisedCircuit(source: string): ParameterisedCircuit {
  const program = parseQasm(source);
  return { parameters: program.freeParameters, bind: (values) => bindProgram(program, values) };
}

/** ⟨ψ|P|ψ⟩ of a measurement-free circuit's final state for a Pauli string (see parsePauli). */
export function expectationValue(circuit: Circuit, observable: string, options: SimulateOptions = {}): number {
  const r = simulateSync(circuit, { ...options, observables: [observable], maxOutcomes: 1 });
  return r.expectations?.[observable] ?? Number.NaN;
}

// -----------------------------------------------------------------------------------------------
// Optimisers (minimisers)

export interface OptimiseResult {
  readonly x: readonly number[];
  readonly value: number;
  readonly iterations: number;
  readonly evaluations: number;
  /** Best value after each iteration: the optimisation curve. */
  readonly history: readonly number[];
}

export interface NelderMeadOptions {
  readonly maxIterations?: number;
  /** Stop when the simplex's values differ by less than this. Default 1e-10. */
  readonly tolerance?: number;
  /** Initial simplex edge. Default 0.1. */
  readonly step?: number;
}

const finite = (v: number, what: string): number => {
  if (!Number.isFinite(v)) throw badRequest(`${what} returned ${String(v)}; the objective must be finite`);
  return v;
};

/** Nelder–Mead downhill simplex (standard coefficients 1, 2, 0.5, 0.5). Minimises f. */
export function nelderMead(f: (x: readonly number[]) => number, x0: readonly number[], options: NelderMeadOptions = {}): OptimiseResult {
  const dim = x0.length;
  if (dim === 0) throw badRequest('Nelder–Mead needs at least one variable');
  const maxIt = options.maxIterations ?? 200 * dim;
  const tol = options.tolerance ?? 1e-10;
  const step = options.step ?? 0.1;
  let evaluations = 0;
  const ev = (x: readonly number[]): number => {
    evaluations += 1;
    return finite(f(x), 'the objective');
  };
  let simplex: { x: number[]; v: number }[] = [{ x: [...x0], v: ev(x0) }];
  for (let i = 0; i < dim; i++) {
    const x = [...x0];
    x[i] = (x[i] as number) + step;
    simplex.push({ x, v: ev(x) });
  }
  const history: number[] = [];
  let it = 0;
  for (; it < maxIt; it++) {
    simplex.sort((a, b) => a.v - b.v);
    const best = simplex[0] as { x: number[]; v: number };
    const worst = simplex[dim] as { x: number[]; v: number };
    history.push(best.v);
    if (Math.abs(worst.v - best.v) < tol) break;
    const centroid = new Array<number>(dim).fill(0);
    for (let k = 0; k < dim; k++) for (let j = 0; j < dim; j++) centroid[j] = (centroid[j] as number) + ((simplex[k] as { x: number[] }).x[j] as number) / dim;
    const along = (t: number): number[] => centroid.map((c, j) => c + t * ((worst.x[j] as number) - c));
    const xr = along(-1);
    const vr = ev(xr);
    const second = (simplex[dim - 1] as { v: number }).v;
    if (vr < best.v) {
      const xe = along(-2);
      const ve = ev(xe);
      simplex[dim] = ve < vr ? { x: xe, v: ve } : { x: xr, v: vr };
    } else if (vr < second) {
      simplex[dim] = { x: xr, v: vr };
    } else {
      const xc = vr < worst.v ? along(-0.5) : along(0.5);
      const vc = ev(xc);
      if (vc < Math.min(vr, worst.v)) simplex[dim] = { x: xc, v: vc };
      else {
        simplex = simplex.map((s, k) => {
          if (k === 0) return s;
          const x = s.x.map((xi, j) => (best.x[j] as number) + 0.5 * (xi - (best.x[j] as number)));
          return { x, v: ev(x) };
        });
      }
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  const best = simplex[0] as { x: number[]; v: number };
  return { x: best.x, value: best.v, iterations: it, evaluations, history };
}

export interface SpsaOptions {
  readonly iterations?: number;
  /** Gain sequences a_k = a / (k + 1 + A)^alpha, c_k = c / (k + 1)^gamma (Spall 1998). */
  readonly a?: number;
  readonly c?: number;
  readonly A?: number;
  readonly alpha?: number;
  readonly gamma?: number;
  readonly seed?: number;
}

/** Simultaneous-perturbation stochastic approximation (two evaluations per iteration). Minimises f. */
export function spsa(f: (x: readonly number[]) => number, x0: readonly number[], options: SpsaOptions = {}): OptimiseResult {
  const iterations = options.iterations ?? 200;
  const a = options.a ?? 0.2;
  const c = options.c ?? 0.1;
  const A = options.A ?? iterations / 10;
  const alpha = options.alpha ?? 0.602;
  const gamma = options.gamma ?? 0.101;
  const rand = seededRandom(options.seed ?? 0);
  let x = [...x0];
  let evaluations = 0;
  let best = { x: [...x0], v: finite(f(x0), 'the objective') };
  evaluations += 1;
  const history: number[] = [];
  for (let k = 0; k < iterations; k++) {
    const ak = a / (k + 1 + A) ** alpha;
    const ck = c / (k + 1) ** gamma;
    const delta = x.map(() => (rand() < 0.5 ? -1 : 1));
    const plus = finite(f(x.map((xi, j) => xi + ck * (delta[j] as number))), 'the objective');
    const minus = finite(f(x.map((xi, j) => xi - ck * (delta[j] as number))), 'the objective');
    evaluations += 2;
    const g = (plus - minus) / (2 * ck);
    x = x.map((xi, j) => xi - (ak * g) / (delta[j] as number));
    const v = Math.min(plus, minus);
    if (v < best.v) best = { x: x.map((xi) => xi), v };
    history.push(best.v);
  }
  const final = finite(f(x), 'the objective');
  evaluations += 1;
  if (final < best.v) best = { x, v: final };
  return { x: best.x, value: best.v, iterations, evaluations, history };
}

// -----------------------------------------------------------------------------------------------
// QAOA for MaxCut

export interface Graph {
  readonly nodes: number;
  /** Edges as [u, v] or [u, v, weight]. */
  readonly edges: readonly (readonly [number, number] | readonly [number, number, number])[];
}

function checkGraph(g: Graph): void {
  if (!Number.isInteger(g.nodes) || g.nodes < 2 || g.nodes > 26) throw badRequest(`a MaxCut graph needs 2 to 26 nodes (one qubit each), got ${String(g.nodes)}`);
  if (g.edges.length === 0) throw badRequest('a MaxCut graph needs at least one edge');
  for (const e of g.edges) {
    const [u, v] = e;
    const w = e[2] ?? 1;
    if (!Number.isInteger(u) || !Number.isInteger(v) || u < 0 || v < 0 || u >= g.nodes || v >= g.nodes || u === v) {
      throw badRequest(`edge [${e.join(', ')}] is not an edge between two different nodes 0..${g.nodes - 1}`);
    }
    if (!Number.isFinite(w)) throw badRequest(`edge [${e.join(', ')}] has a weight that is not a finite number`);
  }
}

/** Cut value of every basis state z (bit u = side of node u): C(z) = Σ w·[z_u ≠ z_v]. */
export function cutTable(g: Graph): Float64Array {
  checkGraph(g);
  const size = 2 ** g.nodes;
  const c = new Float64Array(size);
  for (let z = 0; z < size; z++) {
    let s = 0;
    for (const e of g.edges) if ((((z >> e[0]) ^ (z >> e[1])) & 1) === 1) s += e[2] ?? 1;
    c[z] = s;
  }
  return c;
}

/**
 * The depth-p QAOA circuit: H on every qubit, then per layer the cost unitary exp(−iγC) (one rzz per
 * edge, up to a global phase) and the mixer exp(−iβΣX) (rx(2β) on every qubit).
 */
export function qaoaCircuit(g: Graph, gammas: readonly number[], betas: readonly number[]): Circuit {
  checkGraph(g);
  if (gammas.length !== betas.length || gammas.length === 0) throw badRequest('QAOA needs as many gammas as betas, at least one of each');
  const b = new CircuitBuilder(g.nodes);
  for (let q = 0; q < g.nodes; q++) b.gate('h', [q]);
  gammas.forEach((gamma, layer) => {
    // exp(−iγ·w(1 − Z_u Z_v)/2) = e^{−iγw/2} · exp(+iγw/2 · Z_u Z_v) = rzz(−γw) up to phase.
    for (const e of g.edges) b.gate('rzz', [e[0], e[1]], [-gamma * (e[2] ?? 1)]);
    for (let q = 0; q < g.nodes; q++) b.gate('rx', [q], [2 * (betas[layer] as number)]);
  });
  return b.build();
}

/** ⟨C⟩ of the QAOA state with these angles. */
export function qaoaExpectation(g: Graph, gammas: readonly number[], betas: readonly number[], cuts: Float64Array = cutTable(g)): number {
  const r = simulateSync(qaoaCircuit(g, gammas, betas), { returnProbabilityVector: true, maxOutcomes: 1 });
  const p = r.probabilityVector as Float64Array;
  let e = 0;
  for (let z = 0; z < p.length; z++) e += (p[z] as number) * (cuts[z] as number);
  return e;
}

export interface QaoaOptions {
  /** Depth. Default 1. */
  readonly p?: number;
  readonly optimizer?: 'nelder-mead' | 'spsa';
  /** Grid points per angle for the starting point (depth 1 only; deeper layers start from a ramp). Default 12. */
  readonly grid?: number;
  readonly maxIterations?: number;
  readonly seed?: number;
}

export interface QaoaResult {
  readonly p: number;
  readonly gammas: readonly number[];
  readonly betas: readonly number[];
  /** ⟨C⟩ at the optimum. */
  readonly expectedCut: number;
  /** ⟨C⟩ divided by the total edge weight (|E| when unweighted). */
  readonly cutFraction: number;
  /** ⟨C⟩ divided by the true maximum cut (brute force). */
  readonly approximationRatio: number;
  readonly maxCut: number;
  /** The most likely bitstring (q[n−1]…q[0]) and its cut value. */
  readonly bestBitstring: string;
  readonly bestBitstringCut: number;
  readonly evaluations: number;
  /** −⟨C⟩ after each optimiser iteration (negated: the optimiser minimises). */
  readonly history: readonly number[];
}

/** Optimises QAOA angles for MaxCut on a graph with a classical optimiser. */
export function solveMaxCutQaoa(g: Graph, options: QaoaOptions = {}): QaoaResult {
  const cuts = cutTable(g);
  const p = options.p ?? 1;
  if (!Number.isInteger(p) || p < 1 || p > 20) throw badRequest(`QAOA depth p must be a whole number from 1 to 20, got ${String(p)}`);
  const f = (x: readonly number[]): number => -qaoaExpectation(g, x.slice(0, p), x.slice(p), cuts);
  let x0: number[];
  let evaluations = 0;
  if (p === 1) {
    const n = options.grid ?? 12;
    let best = { v: Infinity, x: [0, 0] };
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const x = [((i + 0.5) / n) * Math.PI, ((j + 0.5) / n) * (Math.PI / 2)];
        const v = f(x);
        evaluations += 1;
        if (v < best.v) best = { v, x };
      }
    }
    x0 = best.x;
  } else {
    // Linear ramp (a standard warm start: γ grows, β shrinks over the layers).
    x0 = [...Array.from({ length: p }, (_, k) => (0.8 * (k + 1)) / p), ...Array.from({ length: p }, (_, k) => 0.7 * (1 - (k + 0.5) / p))];
  }
  const opt = options.optimizer === 'spsa' ? spsa(f, x0, { iterations: options.maxIterations ?? 300, seed: options.seed ?? 0 }) : nelderMead(f, x0, { maxIterations: options.maxIterations ?? 400 * p, step: 0.05 });
  evaluations += opt.evaluations;
  const gammas = opt.x.slice(0, p);
  const betas = opt.x.slice(p);
  const probs = simulateSync(qaoaCircuit(g, gammas, betas), { returnProbabilityVector: true, maxOutcomes: 1 }).probabilityVector as Float64Array;
  let top = 0;
  for (let z = 1; z < probs.length; z++) if ((probs[z] as number) > (probs[top] as number)) top = z;
  let maxCut = 0;
  for (const c of cuts) maxCut = Math.max(maxCut, c);
  const total = g.edges.reduce((s, e) => s + (e[2] ?? 1), 0);
  const expectedCut = -opt.value;
  return {
    p,
    gammas,
    betas,
    expectedCut,
    cutFraction: expectedCut / total,
    approximationRatio: expectedCut / maxCut,
    maxCut,
    bestBitstring: top.toString(2).padStart(g.nodes, '0'),
    bestBitstringCut: cuts[top] as number,
    evaluations,
    history: opt.history.map((v) => v),
  };
}

// -----------------------------------------------------------------------------------------------
// Quantum kernel

export interface KernelOptions {
  /** Feature-map repetitions. Default 2. */
  readonly reps?: number;
  /** Which pairs get a ZZ interaction. Default 'linear' (i, i+1). */
  readonly entanglement?: 'linear' | 'full';
}

/** The ZZ feature-map circuit U_Φ(x) (Qiskit's ZZFeatureMap): one qubit per feature. */
export function zzFeatureMap(x: readonly number[], options: KernelOptions = {}): Circuit {
  const n = x.length;
  if (n < 1 || n > 20) throw badRequest(`the ZZ feature map needs 1 to 20 features (one qubit each), got ${n}`);
  x.forEach((v, i) => {
    if (!Number.isFinite(v)) throw badRequest(`feature ${i} is ${String(v)}; features must be finite numbers`);
  });
  const reps = options.reps ?? 2;
  const b = new CircuitBuilder(n);
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (options.entanglement === 'full' || j === i + 1) pairs.push([i, j]);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) b.gate('h', [i]);
    for (let i = 0; i < n; i++) b.gate('p', [i], [2 * (x[i] as number)]);
    for (const [i, j] of pairs) {
      b.gate('cx', [i, j]);
      b.gate('p', [j], [2 * (Math.PI - (x[i] as number)) * (Math.PI - (x[j] as number))]);
      b.gate('cx', [i, j]);
    }
  }
  return b.build();
}

/** K[i][j] = |⟨Φ(x_i)|Φ(x_j)⟩|²: symmetric, positive semi-definite, unit diagonal, entries in [0, 1]. */
export function quantumKernelMatrix(data: readonly (readonly number[])[], options: KernelOptions = {}): number[][] {
  if (data.length === 0) throw badRequest('the kernel matrix needs at least one data point');
  const dim = data[0]?.length ?? 0;
  data.forEach((row, i) => {
    if (row.length !== dim) throw badRequest(`data point ${i} has ${row.length} features; the first has ${dim}`);
  });
  const states = data.map((x) => simulateSync(zzFeatureMap(x, options), { returnStateVector: true, maxOutcomes: 1 }).stateVector as Float64Array);
  const m = data.length;
  const K = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < m; i++) {
    const a = states[i] as Float64Array;
    for (let j = i; j < m; j++) {
      const b = states[j] as Float64Array;
      let re = 0;
      let im = 0;
      for (let k = 0; k < a.length; k += 2) {
        re += (a[k] as number) * (b[k] as number) + (a[k + 1] as number) * (b[k + 1] as number);
        im += (a[k] as number) * (b[k + 1] as number) - (a[k + 1] as number) * (b[k] as number);
      }
      const v = Math.min(1, re * re + im * im);
      (K[i] as number[])[j] = v;
      (K[j] as number[])[i] = v;
    }
  }
  return K;
}

/** ⟨ψ|P|ψ⟩ for an explicit state (helper for callers that keep states). */
export function stateExpectation(state: Float64Array, numQubits: number, observable: string): number {
  return expectation(state, numQubits, parsePauli(observable, numQubits));
}
