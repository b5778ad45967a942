// Runs a bound circuit on the state-vector engine and returns exact probabilities, seeded shot
// counts and Pauli expectation values.
//
// Measurement semantics. A measurement whose qubit is never touched again and whose bit is never
// read by a later `if` is *terminal*: it is deferred and sampled from the final state (the common
// case: no extra work). Every other measurement, and every reset, is a branch point: the engine
// follows both outcomes depth-first (one state copy per nesting level, checked by the memory guard)
// with their exact probabilities, so `probabilities` is the exact distribution of the final qubit
// register over all measurement histories, and `counts` are drawn exactly: at a branch point the
// shots split by a Bernoulli draw each, and at each leaf the shots that reached it are sampled from
// its final state. Classical control (`if (c == k)`) is decided per branch from its recorded bits.
import type { Clock } from '../kernel/index.ts';
import { badRequest, seededRandom, systemClock } from '../kernel/index.ts';
import type { Circuit, Instruction } from './circuit.ts';
import { gateUops } from './circuit.ts';
import type { BlockingOptions, Pass } from './compile.ts';
import { DEFAULT_BLOCKING, compileUnitary } from './compile.ts';
import type { Amps } from './kernels.ts';
import { runPass } from './kernels.ts';
import type { UOp } from './ops.ts';
import type { Condition } from './qasm-parser.ts';
import type { PauliTerm, Precision } from './state-vector.ts';
import {
  accumulateProbabilities,
  allocateState,
  assertFits,
  cloneState,
  collapse,
  expectation,
  parsePauli,
  probabilityOfOne,
  sampleIndices,
  stateBytes,
} from './state-vector.ts';
import { WorkerPool } from './worker-pool.ts';

export interface SimulateOptions {
  /** Shots to sample (0 = exact probabilities only). At most 10,000,000. */
  readonly shots?: number;
  /** Seed of the sampling RNG (same seed, same counts). Default 0. */
  readonly seed?: number;
  readonly precision?: Precision;
  /** Worker threads (1 = run on the calling thread). Default 1. */
  readonly threads?: number;
  /** The memory guard's limit in bytes. Default 4 GiB. */
  readonly memoryLimitBytes?: number;
  /** Pauli strings whose expectation values to report (see parsePauli). */
  readonly observables?: readonly string[];
  /** Outcomes with probability at or below this are left out of `probabilities`. Default 1e-12. */
  readonly probabilityThreshold?: number;
  /** At most this many entries in `probabilities` (the most likely). Default 65,536. */
  readonly maxOutcomes?: number;
  /** Most measurement histories followed exactly. Default 4096. */
  readonly maxBranches?: number;
  /** Also return the final amplitudes (only for circuits that never branch). */
  readonly returnStateVector?: boolean;
  /** Also return the dense probability vector (length 2^n, index = basis state). */
  readonly returnProbabilityVector?: boolean;
  readonly blocking?: BlockingOptions;
  readonly clock?: Clock;
}

export interface SimulationMetrics {
  /** Gate applications in the circuit (after user-gate expansion). */
  readonly gates: number;
  /** Memory passes over the state after fusion and blocking. */
  readonly passes: number;
  /** Measurement histories followed (1 = the circuit never branched). */
  readonly branches: number;
  readonly stateBytes: number;
  readonly threads: number;
  readonly simulateSeconds: number;
}

export interface SimulationResult {
  readonly qubits: number;
  readonly clbits: number;
  readonly precision: Precision;
  /** Exact outcome probabilities, keyed by bitstring q[n−1]…q[0]. */
  readonly probabilities: Record<string, number>;
  /** Outcomes left out of `probabilities` because of maxOutcomes, and their total probability. */
  readonly omittedOutcomes: number;
  readonly omittedProbability: number;
  /** Sampled counts (when shots > 0): keyed by classical registers (last declared first, space-separated, c[m−1]…c[0]); by qubits q[n−1]…q[0] when the circuit measures nothing. */
  readonly counts?: Record<string, number>;
  readonly shots: number;
  readonly seed: number;
  readonly expectations?: Record<string, number>;
  readonly metrics: SimulationMetrics;
  readonly stateVector?: Amps;
  readonly probabilityVector?: Float64Array;
}

type Step =
  | { readonly k: 'unitary'; readonly passes: readonly Pass[]; readonly condition?: Condition }
  | { readonly k: 'measure'; readonly qubit: number; readonly clbit: number; readonly condition?: Condition }
  | { readonly k: 'reset'; readonly qubit: number; readonly condition?: Condition };

interface Plan {
  readonly steps: readonly Step[];
  /** Terminal measurements, in program order. */
  readonly deferred: readonly { readonly qubit: number; readonly clbit: number }[];
  readonly measures: boolean;
  readonly gates: number;
  readonly passes: number;
  readonly branchy: boolean;
}

/** Splits a circuit into compiled unitary segments and branch points. */
export function planCircuit(circuit: Circuit, blocking: BlockingOptions = DEFAULT_BLOCKING): Plan {
  const ins = circuit.instructions;
  const deferrable = new Array<boolean>(ins.length).fill(false);
  const touched = new Set<number>();
  const read = new Set<number>();
  const written = new Set<number>();
  for (let k = ins.length - 1; k >= 0; k--) {
    const s = ins[k] as Instruction;
    if (s.kind !== 'barrier' && s.condition !== undefined) for (let b = 0; b < s.condition.size; b++) read.add(s.condition.offset + b);
    switch (s.kind) {
      case 'gate':
        for (const q of s.qubits) touched.add(q);
        break;
      case 'reset':
        touched.add(s.qubit);
        break;
      case 'measure':
        if (s.condition === undefined && !touched.has(s.qubit) && !read.has(s.clbit) && !written.has(s.clbit)) deferrable[k] = true;
        else written.add(s.clbit);
        touched.add(s.qubit);
        break;
      case 'barrier':
        break;
    }
  }
  const steps: Step[] = [];
  const deferred: { qubit: number; clbit: number }[] = [];
  let pending: UOp[] = [];
  let gates = 0;
  let passes = 0;
  const flush = (): void => {
    if (pending.length === 0) return;
    const p = compileUnitary(pending, circuit.numQubits, blocking);
    passes += p.length;
    if (p.length > 0) steps.push({ k: 'unitary', passes: p });
    pending = [];
  };
  ins.forEach((s, k) => {
    switch (s.kind) {
      case 'barrier':
        return;
      case 'gate': {
        gates += 1;
        if (s.condition === undefined) {
          pending.push(...gateUops(s));
          return;
        }
        flush();
        const p = compileUnitary(gateUops(s), circuit.numQubits, blocking);
        passes += p.length;
        steps.push({ k: 'unitary', passes: p, condition: s.condition });
        return;
      }
      case 'measure':
        if (deferrable[k] === true) {
          deferred.push({ qubit: s.qubit, clbit: s.clbit });
          return;
        }
        flush();
        steps.push({ k: 'measure', qubit: s.qubit, clbit: s.clbit, ...(s.condition === undefined ? {} : { condition: s.condition }) });
        return;
      case 'reset':
        flush();
        steps.push({ k: 'reset', qubit: s.qubit, ...(s.condition === undefined ? {} : { condition: s.condition }) });
    }
  });
  flush();
  return { steps, deferred, measures: ins.some((s) => s.kind === 'measure'), gates, passes, branchy: steps.some((s) => s.k !== 'unitary') };
}

const holds = (c: Condition, record: Uint8Array): boolean => {
  let v = 0;
  for (let b = c.size - 1; b >= 0; b--) v = v * 2 + (record[c.offset + b] as number);
  return v === c.value;
};

const EPS = 1e-12;
const DEFAULT_MEMORY_LIMIT = 4 * 2 ** 30;
const MAX_SHOTS = 10_000_000;

interface Context {
  readonly circuit: Circuit;
  readonly plan: Plan;
  readonly precision: Precision;
  readonly memoryLimit: number;
  readonly extraBytes: number;
  readonly maxBranches: number;
  readonly rand: () => number;
  readonly probs: Float64Array;
  readonly terms: readonly PauliTerm[];
  readonly expect: Float64Array;
  readonly counts: Map<string, number>;
  live: number;
  leaves: number;
  branchPoints: number;
  final: Amps | undefined;
}

/** A request to apply passes to a state; the sync and async drivers answer it differently. */
interface Apply {
  readonly state: Amps;
  readonly passes: readonly Pass[];
}

function* explore(ctx: Context, state: Amps, from: number, record: Uint8Array, weight: number, shots: number): Generator<Apply, void, void> {
  const n = ctx.circuit.numQubits;
  const steps = ctx.plan.steps;
  for (let k = from; k < steps.length; k++) {
    const st = steps[k] as Step;
    if (st.condition !== undefined && !holds(st.condition, record)) continue;
    if (st.k === 'unitary') {
      yield { state, passes: st.passes };
      continue;
    }
    const p1 = Math.min(1, Math.max(0, probabilityOfOne(state, n, st.qubit)));
    const p0 = 1 - p1;
    const reset = st.k === 'reset';
    if (p1 <= EPS || p0 <= EPS) {
      const outcome = p1 <= EPS ? 0 : 1;
      collapse(state, n, st.qubit, outcome, outcome === 0 ? p0 : p1, reset);
      if (st.k === 'measure') record[st.clbit] = outcome;
      continue;
    }
    // Both outcomes possible: follow each.
    ctx.branchPoints += 1;
    let n1 = 0;
    for (let s = 0; s < shots; s++) if (ctx.rand() < p1) n1 += 1;
    if (ctx.leaves + 1 > ctx.maxBranches) {
      throw badRequest(
        `the circuit's mid-circuit measurements and resets branch into more than ${ctx.maxBranches} measurement histories; exact simulation of every history is refused (raise maxBranches, or move measurements to the end of the circuit)`,
        { maxBranches: ctx.maxBranches },
      );
    }
    assertFits(n, ctx.precision, ctx.live + 1, ctx.extraBytes, ctx.memoryLimit);
    const other = cloneState(state);
    ctx.live += 1;
    const otherRecord = Uint8Array.from(record);
    ctx.leaves += 1; // one history becomes two
    collapse(state, n, st.qubit, 0, p0, reset);
    if (st.k === 'measure') record[st.clbit] = 0;
    yield* explore(ctx, state, k + 1, record, weight * p0, shots - n1);
    collapse(other, n, st.qubit, 1, p1, reset);
    if (st.k === 'measure') otherRecord[st.clbit] = 1;
    yield* explore(ctx, other, k + 1, otherRecord, weight * p1, n1);
    ctx.live -= 1;
    return;
  }
  leaf(ctx, state, record, weight, shots);
}

function leaf(ctx: Context, state: Amps, record: Uint8Array, weight: number, shots: number): void {
  const n = ctx.circuit.numQubits;
  accumulateProbabilities(state, ctx.probs, weight);
  ctx.terms.forEach((t, j) => {
    ctx.expect[j] = (ctx.expect[j] as number) + weight * expectation(state, n, t);
  });
  if (ctx.branchPoints === 0) ctx.final = state;
  if (shots === 0) return;
  const idx = sampleIndices(state, shots, ctx.rand);
  const keyOf = new Map<number, string>();
  const cregs = ctx.circuit.cregs;
  for (let s = 0; s < shots; s++) {
    const i = idx[s] as number;
    let key = keyOf.get(i);
    if (key === undefined) {
      if (!ctx.plan.measures) key = i.toString(2).padStart(n, '0');
      else {
        const bits = Uint8Array.from(record);
        for (const d of ctx.plan.deferred) bits[d.clbit] = (i >>> d.qubit) & 1;
        const parts: string[] = [];
        for (let r = cregs.length - 1; r >= 0; r--) {
          const reg = cregs[r];
          if (reg === undefined) continue;
          let str = '';
          for (let b = reg.size - 1; b >= 0; b--) str += String(bits[reg.offset + b]);
          parts.push(str);
        }
        key = parts.join(' ');
      }
      keyOf.set(i, key);
    }
    ctx.counts.set(key, (ctx.counts.get(key) ?? 0) + 1);
  }
}

interface Prepared {
  readonly ctx: Context;
  readonly state: Amps;
  readonly shots: number;
  readonly seed: number;
  readonly threads: number;
  readonly clock: Clock;
  readonly start: number;
  readonly options: SimulateOptions;
}

function prepare(circuit: Circuit, options: SimulateOptions, threads: number): Prepared {
  const clock = options.clock ?? systemClock;
  const start = clock.now();
  const precision = options.precision ?? 'complex128';
  if (precision !== 'complex128' && precision !== 'complex64') throw badRequest(`precision must be complex128 or complex64, got '${String(precision)}'`);
  const shots = options.shots ?? 0;
  if (!Number.isInteger(shots) || shots < 0 || shots > MAX_SHOTS) throw badRequest(`shots must be a whole number from 0 to ${MAX_SHOTS.toLocaleString('en-US')}, got ${String(shots)}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw badRequest(`seed must be an integer, got ${String(seed)}`);
  const limit = options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT;
  if (!(limit > 0)) throw badRequest(`memoryLimitBytes must be positive, got ${String(limit)}`);
  const maxBranches = options.maxBranches ?? 4096;
  const n = circuit.numQubits;
  if (!Number.isInteger(n) || n < 1) throw badRequest(`a circuit needs at least one qubit (declare one with qreg), got ${String(n)}`);
  const terms = (options.observables ?? []).map((o) => parsePauli(o, n));
  // The state, plus the exact probability vector (8 bytes per amplitude), plus the sampled indices.
  const extraBytes = 8 * 2 ** n + 12 * shots;
  assertFits(n, precision, 1, extraBytes, limit);
  const plan = planCircuit(circuit, options.blocking ?? DEFAULT_BLOCKING);
  if (plan.branchy) assertFits(n, precision, 2, extraBytes, limit);
  const state = allocateState(n, precision, threads > 1);
  const ctx: Context = {
    circuit,
    plan,
    precision,
    memoryLimit: limit,
    extraBytes,
    maxBranches,
    rand: seededRandom(seed),
    probs: new Float64Array(2 ** n),
    terms,
    expect: new Float64Array(terms.length),
    counts: new Map(),
    live: 1,
    leaves: 1,
    branchPoints: 0,
    final: undefined,
  };
  return { ctx, state, shots, seed, threads, clock, start, options };
}

function finish(p: Prepared): SimulationResult {
  const { ctx, options } = p;
  const n = ctx.circuit.numQubits;
  const threshold = options.probabilityThreshold ?? 1e-12;
  const maxOutcomes = options.maxOutcomes ?? 65536;
  const probs = ctx.probs;
  let keep: number[] = [];
  for (let i = 0; i < probs.length; i++) if ((probs[i] as number) > threshold) keep.push(i);
  let omittedOutcomes = 0;
  let omittedProbability = 0;
  if (keep.length > maxOutcomes) {
    // The maxOutcomes largest, found by selecting the cut value (O(2^n)), then ties by index.
    const values = Float64Array.from(keep, (i) => probs[i] as number);
    const cut = kthLargest(values, maxOutcomes);
    const above = keep.filter((i) => (probs[i] as number) > cut);
    const at = keep.filter((i) => (probs[i] as number) === cut).slice(0, maxOutcomes - above.length);
    const chosen = new Set([...above, ...at]);
    for (const i of keep) if (!chosen.has(i)) omittedProbability += probs[i] as number;
    omittedOutcomes = keep.length - chosen.size;
    keep = [...chosen].sort((a, b) => a - b);
  }
  const probabilities: Record<string, number> = {};
  for (const i of keep) probabilities[i.toString(2).padStart(n, '0')] = probs[i] as number;
  const counts: Record<string, number> = {};
  for (const k of [...ctx.counts.keys()].sort()) counts[k] = ctx.counts.get(k) as number;
  const expectations: Record<string, number> = {};
  ctx.terms.forEach((t, j) => (expectations[t.label] = ctx.expect[j] as number));
  return {
    qubits: n,
    clbits: ctx.circuit.numClbits,
    precision: ctx.precision,
    probabilities,
    omittedOutcomes,
    omittedProbability,
    ...(p.shots > 0 ? { counts } : {}),
    shots: p.shots,
    seed: p.seed,
    ...(ctx.terms.length > 0 ? { expectations } : {}),
    metrics: {
      gates: ctx.plan.gates,
      passes: ctx.plan.passes,
      branches: ctx.leaves,
      stateBytes: stateBytes(n, ctx.precision),
      threads: p.threads,
      simulateSeconds: (p.clock.now() - p.start) / 1000,
    },
    ...(options.returnStateVector === true && ctx.final !== undefined ? { stateVector: ctx.final } : {}),
    ...(options.returnProbabilityVector === true ? { probabilityVector: probs } : {}),
  };
}

/** The k-th largest value (k ≥ 1) of `v`, by quickselect; reorders `v`. */
export function kthLargest(v: Float64Array, k: number): number {
  let lo = 0;
  let hi = v.length - 1;
  const want = k - 1;
  while (lo < hi) {
    const pivot = v[(lo + hi) >>> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((v[i] as number) > pivot) i++;
      while ((v[j] as number) < pivot) j--;
      if (i <= j) {
        const t = v[i] as number;
        v[i] = v[j] as number;
        v[j] = t;
        i++;
        j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return v[want] as number;
  }
  return v[want] as number;
}

/** Runs passes on the calling thread. */
export function applyPasses(state: Amps, passes: readonly Pass[], scratch: { buf: Float64Array }): void {
  for (const pass of passes) {
    const need = 2 * 2 ** pass.blockBits;
    if (scratch.buf.length < need) scratch.buf = new Float64Array(need);
    runPass(state, pass, 0, 2 ** pass.outer.length, scratch.buf);
  }
}

/** Simulates on the calling thread. */
export function simulateSync(circuit: Circuit, options: SimulateOptions = {}): SimulationResult {
  const p = prepare(circuit, options, 1);
  const scratch = { buf: new Float64Array(0) };
  const g = explore(p.ctx, p.state, 0, new Uint8Array(circuit.numClbits), 1, p.shots);
  for (let r = g.next(); r.done !== true; r = g.next()) applyPasses(r.value.state, r.value.passes, scratch);
  return finish(p);
}

const pools = new Map<number, WorkerPool>();

/** The shared pool of `size` workers (started on first use). */
export function workerPool(size: number): WorkerPool {
  let pool = pools.get(size);
  if (pool === undefined) {
    pool = WorkerPool.create(size);
    pools.set(size, pool);
  }
  return pool;
}

/** Ends every worker started by `simulate`. */
export async function closeWorkerPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close()));
}

/** Simulates, on `threads` worker threads when threads > 1 (else on the calling thread). */
export async function simulate(circuit: Circuit, options: SimulateOptions = {}): Promise<SimulationResult> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw badRequest(`threads must be a whole number from 1 to 256, got ${String(threads)}`);
  if (threads === 1) return simulateSync(circuit, options);
  const p = prepare(circuit, options, threads);
  const pool = workerPool(threads);
  const g = explore(p.ctx, p.state, 0, new Uint8Array(circuit.numClbits), 1, p.shots);
  for (let r = g.next(); r.done !== true; r = g.next()) await pool.run(r.value.state, r.value.passes);
  return finish(p);
}
