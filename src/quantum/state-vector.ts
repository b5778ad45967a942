// State-vector storage and the whole-state operations that are not gates: the memory guard (refuse
// before allocating, with the numbers), measurement probabilities and collapse, reset, exact
// probabilities, Pauli-string expectation values, and seeded sampling.
import { StrataError, badRequest } from '../kernel/index.ts';
import type { Amps } from './kernels.ts';

export type Precision = 'complex128' | 'complex64';

/** Largest state a typed array can hold here: 2^31 elements per array (16 GiB as Float64Array). */
export const MAX_QUBITS = 30;

export const bytesPerAmplitude = (p: Precision): number => (p === 'complex128' ? 16 : 8);

/** Bytes of one n-qubit state vector. */
export const stateBytes = (numQubits: number, precision: Precision): number => 2 ** numQubits * bytesPerAmplitude(precision);

const gib = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

/** How many qubits fit in `memoryBytes` (one state plus a probability vector), capped at MAX_QUBITS. */
export function maxQubitsFor(memoryBytes: number, precision: Precision = 'complex128'): number {
  let n = 0;
  while (n < MAX_QUBITS && stateBytes(n + 1, precision) + 8 * 2 ** (n + 1) <= memoryBytes) n++;
  return n;
}

/**
 * The memory guard: throws (before anything is allocated) when `states` state vectors plus
 * `extraBytes` would exceed `limitBytes`, or when the state is beyond what a typed array can hold.
 */
export function assertFits(numQubits: number, precision: Precision, states: number, extraBytes: number, limitBytes: number): void {
  const one = stateBytes(numQubits, precision);
  const need = states * one + extraBytes;
  const detail = { qubits: numQubits, precision, bytesNeeded: need, bytesLimit: limitBytes };
  if (numQubits > MAX_QUBITS) {
    throw new StrataError('payload_too_large', `a ${numQubits}-qubit state vector has 2^${numQubits} amplitudes (${gib(one)} as ${precision}); this engine holds at most ${MAX_QUBITS} qubits (2^${MAX_QUBITS} amplitudes, the largest typed array), so the circuit is refused`, { details: detail });
  }
  if (need > limitBytes) {
    const parts = [`${states} × ${gib(one)} state vector${states > 1 ? 's' : ''} (2^${numQubits} amplitudes × ${bytesPerAmplitude(precision)} bytes, ${precision})`];
    if (extraBytes > 0) parts.push(`${gib(extraBytes)} for probabilities and sampling`);
    const hint = precision === 'complex128' ? 'use precision complex64 to halve the state, ' : '';
    throw new StrataError('payload_too_large', `a ${numQubits}-qubit simulation needs ${gib(need)} (${parts.join(' + ')}) but the memory limit is ${gib(limitBytes)}; ${hint}reduce the qubit count, or run it where more memory is available`, { details: detail });
  }
}

/** Allocates |0…0⟩ (SharedArrayBuffer-backed when worker threads will share it). */
export function allocateState(numQubits: number, precision: Precision, shared: boolean): Amps {
  const len = 2 * 2 ** numQubits;
  const bytes = len * (precision === 'complex128' ? 8 : 4);
  const buf = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const a = precision === 'complex128' ? new Float64Array(buf) : new Float32Array(buf);
  a[0] = 1;
  return a;
}

/** A copy of a state in the same kind of buffer. */
export function cloneState(a: Amps): Amps {
  const shared = a.buffer instanceof SharedArrayBuffer;
  const buf = shared ? new SharedArrayBuffer(a.byteLength) : new ArrayBuffer(a.byteLength);
  const c = a instanceof Float64Array ? new Float64Array(buf) : new Float32Array(buf);
  c.set(a);
  return c;
}

/** P(qubit = 1). */
export function probabilityOfOne(a: Amps, numQubits: number, qubit: number): number {
  const s = 2 ** qubit;
  const n = 2 ** numQubits;
  let p = 0;
  for (let b = s; b < n; b += 2 * s) {
    const end = 2 * (b + s);
    for (let k = 2 * b; k < end; k += 2) {
      const r = a[k]!;
      const i = a[k + 1]!;
      p += r * r + i * i;
    }
  }
  return p;
}

/**
 * Projects `qubit` onto `outcome` (whose probability is `p`) and renormalises; with `resetTo0`,
 * a projected |1⟩ is then flipped to |0⟩ (the reset instruction).
 */
export function collapse(a: Amps, numQubits: number, qubit: number, outcome: 0 | 1, p: number, resetTo0 = false): void {
  const s = 2 ** qubit;
  const n = 2 ** numQubits;
  const scale = 1 / Math.sqrt(p);
  for (let b = 0; b < n; b += 2 * s) {
    for (let i = b; i < b + s; i++) {
      const k0 = 2 * i;
      const k1 = 2 * (i + s);
      if (outcome === 0) {
        a[k0] = a[k0]! * scale;
        a[k0 + 1] = a[k0 + 1]! * scale;
        a[k1] = 0;
        a[k1 + 1] = 0;
      } else if (resetTo0) {
        a[k0] = a[k1]! * scale;
        a[k0 + 1] = a[k1 + 1]! * scale;
        a[k1] = 0;
        a[k1 + 1] = 0;
      } else {
        a[k1] = a[k1]! * scale;
        a[k1 + 1] = a[k1 + 1]! * scale;
        a[k0] = 0;
        a[k0 + 1] = 0;
      }
    }
  }
}

/** Adds weight·|amplitude|² into `into` (length 2^n). */
export function accumulateProbabilities(a: Amps, into: Float64Array, weight: number): void {
  const n = into.length;
  for (let i = 0; i < n; i++) {
    const r = a[2 * i]!;
    const m = a[2 * i + 1]!;
    into[i] = into[i]! + weight * (r * r + m * m);
  }
}

/** A Pauli-string observable: P|i⟩ = i^ny · (−1)^popcount(i & zy) · |i ⊕ flip⟩. */
export interface PauliTerm {
  readonly label: string;
  readonly flip: number;
  readonly zy: number;
  readonly ny: number;
}

/**
 * Parses a Pauli string: dense, one letter per qubit written q[n−1]…q[0] like the bitstrings
 * ("XIZ" = X on q2, Z on q0), or sparse with indices ("X2 Z0", "Z0*Z1").
 */
export function parsePauli(label: string, numQubits: number): PauliTerm {
  const s = label.trim();
  let flip = 0;
  let zy = 0;
  let ny = 0;
  const set = (ch: string, q: number): void => {
    if (q >= numQubits) throw badRequest(`observable '${label}': qubit ${q} is out of range (the circuit has ${numQubits} qubits)`, { observable: label });
    const bit = 1 << q;
    if ((flip | zy) & bit) throw badRequest(`observable '${label}' names qubit ${q} twice`, { observable: label });
    if (ch === 'X') flip |= bit;
    else if (ch === 'Z') zy |= bit;
    else if (ch === 'Y') {
      flip |= bit;
      zy |= bit;
      ny += 1;
    }
  };
  if (/^[IXYZ]+$/.test(s)) {
    if (s.length !== numQubits) throw badRequest(`observable '${label}' has ${s.length} letters but the circuit has ${numQubits} qubits (write one letter per qubit, q[n-1] first, or use indices like 'Z0 Z1')`, { observable: label });
    for (let k = 0; k < s.length; k++) set(s[k] as string, s.length - 1 - k);
    return { label, flip, zy, ny };
  }
  const terms = s.split(/[\s*]+/).filter((t) => t !== '');
  if (terms.length === 0) throw badRequest('an observable must not be empty: write e.g. "ZZ" or "Z0 Z1"');
  for (const t of terms) {
    const m = /^([IXYZ])(\d+)$/.exec(t);
    if (m === null) throw badRequest(`observable '${label}': '${t}' is not a Pauli factor; write a letter I, X, Y or Z followed by a qubit index, e.g. Z0`, { observable: label });
    set(m[1] as string, Number(m[2]));
  }
  return { label, flip, zy, ny };
}

const popcount = (x: number): number => {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

/** ⟨ψ|P|ψ⟩ for a normalised state (real for a Hermitian P). */
export function expectation(a: Amps, numQubits: number, p: PauliTerm): number {
  const n = 2 ** numQubits;
  let sr = 0;
  let si = 0;
  for (let i = 0; i < n; i++) {
    const j = i ^ p.flip;
    const sign = (popcount(i & p.zy) & 1) === 1 ? -1 : 1;
    // conj(ψ_j) · ψ_i
    const ar = a[2 * j]!;
    const ai = a[2 * j + 1]!;
    const br = a[2 * i]!;
    const bi = a[2 * i + 1]!;
    sr += sign * (ar * br + ai * bi);
    si += sign * (ar * bi - ai * br);
  }
  // multiply by i^ny
  switch (p.ny & 3) {
    case 0:
      return sr;
    case 1:
      return -si;
    case 2:
      return -sr;
    default:
      return si;
  }
}

/**
 * Draws `count` basis indices from |amplitude|² with `rand` (uniforms in [0,1)): sorts the
 * uniforms and sweeps the cumulative distribution once — O(2^n + count·log count), no 2^n table.
 */
export function sampleIndices(a: Amps, count: number, rand: () => number): Uint32Array {
  const u = new Float64Array(count);
  for (let k = 0; k < count; k++) u[k] = rand();
  u.sort();
  const out = new Uint32Array(count);
  const n = a.length / 2;
  let acc = 0;
  let i = 0;
  let lastNonZero = 0;
  for (let k = 0; k < count; k++) {
    const target = u[k]!;
    while (i < n) {
      const r = a[2 * i]!;
      const m = a[2 * i + 1]!;
      const p = r * r + m * m;
      if (p > 0) lastNonZero = i;
      if (acc + p > target) break;
      acc += p;
      i++;
    }
    // Rounding can leave the total a hair under 1: such a draw belongs to the last possible outcome.
    out[k] = i < n ? i : lastNonZero;
  }
  return out;
}
