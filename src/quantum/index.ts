// The quantum module's public surface: an OpenQASM 2.0 parser and a state-vector simulator (pure: no
// files, no network), the variational workloads built on them, and the `quantum-circuit` job kind's
// spec and result shapes for the agent's built-in executor.
//
//   const r = await runQasm(source, { shots: 1000, seed: 7 });
//   r.probabilities  // { '00': 0.5, '11': 0.5 }   bitstrings q[n-1]…q[0]
//   r.counts         // { '00': 493, '11': 507 }   classical registers, Qiskit's format
import { availableParallelism } from 'node:os';
import { badRequest } from '../kernel/index.ts';
import type { Circuit } from './circuit.ts';
import { bindProgram } from './circuit.ts';
import type { ParseLimits } from './qasm-parser.ts';
import { parseQasm } from './qasm-parser.ts';
import type { SimulateOptions, SimulationResult } from './simulate.ts';
import { simulate, simulateSync } from './simulate.ts';
import type { Precision } from './state-vector.ts';

export type { Circuit, Instruction } from './circuit.ts';
export { CircuitBuilder, bindProgram } from './circuit.ts';
export type { Condition, Expr, ProgramStatement, QasmProgram, Register, SourcePos, ParseLimits } from './qasm-parser.ts';
export { parseQasm } from './qasm-parser.ts';
export { BUILTIN_GATES } from './gate-library.ts';
export type { SimulateOptions, SimulationMetrics, SimulationResult } from './simulate.ts';
export { closeWorkerPools, simulate, simulateSync } from './simulate.ts';
export type { PauliTerm, Precision } from './state-vector.ts';
export { MAX_QUBITS, assertFits, maxQubitsFor, parsePauli, stateBytes } from './state-vector.ts';
export type { BlockingOptions } from './compile.ts';
export type { Graph, KernelOptions, NelderMeadOptions, OptimiseResult, ParameterisedCircuit, QaoaOptions, QaoaResult, SpsaOptions } from './variational.ts';
export {
  cutTable,
  expectationValue,
  nelderMead,
  parameterisedCircuit,
  qaoaCircuit,
  qaoaExpectation,
  quantumKernelMatrix,
  solveMaxCutQaoa,
  spsa,
  zzFeatureMap,
} from './variational.ts';

/** Qubit count from which `threads: 'auto'` uses worker threads (below it they cost more than they save). */
export const WORKER_THRESHOLD_QUBITS = 20;

export interface RunQasmOptions extends Omit<SimulateOptions, 'threads'> {
  /** Values of the circuit's free parameters (identifiers used in gate arguments). */
  readonly parameters?: Readonly<Record<string, number>>;
  /** Worker threads; 'auto' (default) uses every core from WORKER_THRESHOLD_QUBITS qubits up. */
  readonly threads?: number | 'auto';
  readonly parseLimits?: ParseLimits;
}

/**
 * The result of a `quantum-circuit` job (and of `strata quantum run --json`): the simulation's
 * result without the raw vectors, tagged with its kind and format version, plus notes the user may
 * want to know (e.g. a missing OPENQASM header was accepted).
 */
export interface QuantumCircuitResult extends Omit<SimulationResult, 'stateVector' | 'probabilityVector'> {
  readonly kind: 'quantum-circuit';
  readonly version: 1;
  readonly notes: readonly string[];
}

function resolveThreads(threads: number | 'auto' | undefined, numQubits: number): number {
  if (threads === undefined || threads === 'auto') return numQubits >= WORKER_THRESHOLD_QUBITS ? Math.max(1, Math.min(availableParallelism(), 16)) : 1;
  return threads;
}

function compile(source: string, options: RunQasmOptions): { circuit: Circuit; notes: string[] } {
  const program = parseQasm(source, options.parseLimits ?? {});
  const circuit = bindProgram(program, options.parameters ?? {});
  const notes: string[] = [];
  if (!program.hadHeader) notes.push("the source has no 'OPENQASM 2.0;' header; it was read as OpenQASM 2.0");
  return { circuit, notes };
}

function toResult(r: SimulationResult, notes: readonly string[]): QuantumCircuitResult {
  const { stateVector: _s, probabilityVector: _p, ...rest } = r;
  return { kind: 'quantum-circuit', version: 1, ...rest, notes };
}

/**
 * Parses, binds and simulates OpenQASM 2.0 source. Bad input (malformed QASM, unknown gates, wrong
 * arity, out-of-range indices, NaN parameters, a state too large for the memory limit) is refused
 * with a bad_request / payload_too_large StrataError before any simulation, with no partial result.
 */
export async function runQasm(source: string, options: RunQasmOptions = {}): Promise<QuantumCircuitResult> {
  const { circuit, notes } = compile(source, options);
  const { parameters: _p, parseLimits: _l, ...rest } = options;
  const r = await simulate(circuit, { ...rest, threads: resolveThreads(options.threads, circuit.numQubits) });
  return toResult(r, notes);
}

/** runQasm on the calling thread (no workers), synchronously. */
export function runQasmSync(source: string, options: Omit<RunQasmOptions, 'threads'> = {}): QuantumCircuitResult {
  const { circuit, notes } = compile(source, options);
  const { parameters: _p, parseLimits: _l, ...rest } = options;
  return toResult(simulateSync(circuit, { ...rest, threads: 1 }), notes);
}

// -------------------------------------------------------------------------------------------------
// The `quantum-circuit` job kind

/** What a `quantum-circuit` job asks for (validated by parseQuantumCircuitJobSpec). */
export interface QuantumCircuitJobSpec {
  /** OpenQASM 2.0 source. */
  readonly qasm: string;
  readonly parameters?: Readonly<Record<string, number>>;
  readonly shots?: number;
  readonly seed?: number;
  readonly precision?: Precision;
  readonly observables?: readonly string[];
  readonly probabilityThreshold?: number;
  readonly maxOutcomes?: number;
}

const SPEC_KEYS = new Set(['qasm', 'parameters', 'shots', 'seed', 'precision', 'observables', 'probabilityThreshold', 'maxOutcomes']);

/** Validates an untrusted job spec (the edge parser); throws bad_request naming the field. */
export function parseQuantumCircuitJobSpec(raw: unknown): QuantumCircuitJobSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badRequest('a quantum-circuit job spec must be an object with at least a "qasm" string');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!SPEC_KEYS.has(k)) throw badRequest(`unknown field '${k}' in the quantum-circuit job spec (known: ${[...SPEC_KEYS].join(', ')})`, { field: k });
  if (typeof o['qasm'] !== 'string' || o['qasm'].trim() === '') throw badRequest('the quantum-circuit job spec needs "qasm": OpenQASM 2.0 source text', { field: 'qasm' });
  const int = (k: string, min: number, max: number): number | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw badRequest(`"${k}" must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`, { field: k });
    return v;
  };
  const shots = int('shots', 0, 10_000_000);
  const seed = int('seed', -(2 ** 31), 2 ** 32 - 1);
  const maxOutcomes = int('maxOutcomes', 1, 2 ** 24);
  const precision = o['precision'];
  if (precision !== undefined && precision !== 'complex128' && precision !== 'complex64') throw badRequest(`"precision" must be "complex128" or "complex64", got ${JSON.stringify(precision)}`, { field: 'precision' });
  const threshold = o['probabilityThreshold'];
  if (threshold !== undefined && (typeof threshold !== 'number' || !(threshold >= 0 && threshold < 1))) throw badRequest('"probabilityThreshold" must be a number in [0, 1)', { field: 'probabilityThreshold' });
  const obs = o['observables'];
  if (obs !== undefined && (!Array.isArray(obs) || obs.some((x) => typeof x !== 'string'))) throw badRequest('"observables" must be a list of Pauli strings such as "ZZI" or "Z0 Z1"', { field: 'observables' });
  const params = o['parameters'];
  if (params !== undefined) {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw badRequest('"parameters" must map parameter names to numbers', { field: 'parameters' });
    for (const [k, v] of Object.entries(params)) if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`parameter '${k}' must be a finite number, got ${JSON.stringify(v)}`, { field: 'parameters' });
  }
  return {
    qasm: o['qasm'],
    ...(params === undefined ? {} : { parameters: params as Record<string, number> }),
    ...(shots === undefined ? {} : { shots }),
    ...(seed === undefined ? {} : { seed }),
    ...(precision === undefined ? {} : { precision }),
    ...(obs === undefined ? {} : { observables: obs as string[] }),
    ...(threshold === undefined ? {} : { probabilityThreshold: threshold }),
    ...(maxOutcomes === undefined ? {} : { maxOutcomes }),
  };
}

/**
 * Runs a `quantum-circuit` job: the executor passes the node's memory budget and thread count.
 * Summary numbers for tracking metrics are in `result.metrics`; the whole result is the artifact.
 */
export async function runQuantumCircuitJob(spec: QuantumCircuitJobSpec, host: { readonly memoryLimitBytes: number; readonly threads?: number | 'auto' }): Promise<QuantumCircuitResult> {
  const { qasm, ...rest } = spec;
  return runQasm(qasm, { ...rest, memoryLimitBytes: host.memoryLimitBytes, threads: host.threads ?? 'auto' });
}
