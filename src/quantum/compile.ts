// From a run of unitary gates to a few memory passes over the state vector:
//  1. single-qubit fusion — consecutive 1-qubit gates on a qubit become one 2×2 (RZ·RX·RZ → one pass);
//  2. diagonal fusion — commuting diagonal gates (cp, cz, rz, rzz …) over up to DIAG_MAX qubits become
//     one phase table (a QFT step's cu1 ladder is one pass, not n);
//  3. cache blocking — the state is cut into blocks of 2^(L+|H|) amplitudes (the low L qubits plus a
//     few "high" qubits H gathered next to them); a pass applies every op it can to one block while
//     the block sits in L2, then moves on. Ops are taken greedily in dependency order, skipping ops
//     whose targets do not fit and everything that depends on them. Controls and diagonal qubits
//     outside the block are constant within it, so only targets must be local.
// Memory traffic, not arithmetic, bounds a state-vector simulator above ~20 qubits (research note
// §1.1), so fewer passes is what makes it fast.
import type { Mat2, UOp } from './ops.ts';
import { IDENTITY, controlled1, mul2, uopQubits, uopTargets } from './ops.ts';

/** Most qubits one fused diagonal table spans (2^12 complex = 64 KiB). */
export const DIAG_MAX = 12;

/** Blocking parameters: block = 2^(lowBits + highMax) amplitudes at most. */
export interface BlockingOptions {
  readonly lowBits: number;
  readonly highMax: number;
}
export const DEFAULT_BLOCKING: BlockingOptions = { lowBits: 11, highMax: 5 };

const isSingle = (op: UOp): boolean => (op.k === 'm1' || op.k === 'x' ? op.c.length === 0 : op.k === 'diag' && op.q.length === 1);
function singleMatrix(op: UOp): Mat2 {
  switch (op.k) {
    case 'm1':
      return op.m;
    case 'x':
      return [0, 0, 1, 0, 1, 0, 0, 0];
    case 'diag':
      return [op.d[0] as number, op.d[1] as number, 0, 0, 0, 0, op.d[2] as number, op.d[3] as number];
    case 'swap':
    case 'm2':
      throw new Error('not a single-qubit op');
  }
}

/** Step 1: fuses runs of single-qubit ops on each qubit into one op (or none, if the product is I). */
export function fuseSingleQubit(ops: readonly UOp[], numQubits: number): UOp[] {
  const pending: (Mat2 | undefined)[] = new Array<Mat2 | undefined>(numQubits).fill(undefined);
  const out: UOp[] = [];
  const flush = (q: number): void => {
    const m = pending[q];
    if (m === undefined) return;
    pending[q] = undefined;
    out.push(...controlled1([], q, m));
  };
  for (const op of ops) {
    if (isSingle(op)) {
      const q = op.k === 'diag' ? (op.q[0] as number) : (op as { t: number }).t;
      pending[q] = mul2(singleMatrix(op), pending[q] ?? IDENTITY);
      continue;
    }
    for (const q of uopQubits(op)) flush(q);
    out.push(op);
  }
  for (let q = 0; q < numQubits; q++) flush(q);
  return out;
}

/** Step 2: merges commuting diagonal ops into tables over at most DIAG_MAX qubits. */
export function fuseDiagonals(ops: readonly UOp[], diagMax = DIAG_MAX): UOp[] {
  const out: UOp[] = [];
  let members: Extract<UOp, { k: 'diag' }>[] = [];
  let qubits: number[] = [];
  const flush = (): void => {
    if (members.length === 0) return;
    out.push(members.length === 1 ? (members[0] as UOp) : mergeDiagonals(qubits, members));
    members = [];
    qubits = [];
  };
  for (const op of ops) {
    if (op.k === 'diag') {
      const union = [...qubits, ...op.q.filter((q) => !qubits.includes(q))];
      if (union.length > diagMax && members.length > 0) flush();
      members.push(op);
      qubits = members.length === 1 ? [...op.q] : union;
      continue;
    }
    if (uopQubits(op).some((q) => qubits.includes(q))) flush();
    out.push(op);
  }
  flush();
  return out;
}

function mergeDiagonals(qubits: readonly number[], members: readonly Extract<UOp, { k: 'diag' }>[]): UOp {
  const size = 1 << qubits.length;
  const d = new Float64Array(2 * size);
  for (let g = 0; g < size; g++) {
    d[2 * g] = 1;
  }
  for (const m of members) {
    const pos = m.q.map((q) => qubits.indexOf(q));
    for (let g = 0; g < size; g++) {
      let h = 0;
      for (let j = 0; j < pos.length; j++) h |= ((g >> (pos[j] as number)) & 1) << j;
      const xr = d[2 * g] as number;
      const xi = d[2 * g + 1] as number;
      const yr = m.d[2 * h] as number;
      const yi = m.d[2 * h + 1] as number;
      d[2 * g] = xr * yr - xi * yi;
      d[2 * g + 1] = xr * yi + xi * yr;
    }
  }
  return { k: 'diag', q: [...qubits], d };
}

// -----------------------------------------------------------------------------------------------
// Block ops: uops with qubits translated to positions inside a block.

export type BOp =
  /** lc: control mask on local bits; oc: control mask on global bits outside the block. */
  | { readonly k: 'm1'; readonly t: number; readonly lc: number; readonly oc: number; readonly m: Float64Array }
  | { readonly k: 'x'; readonly t: number; readonly lc: number; readonly oc: number }
  | { readonly k: 'swap'; readonly a: number; readonly b: number; readonly lc: number; readonly oc: number }
  | { readonly k: 'm2'; readonly a: number; readonly b: number; readonly lc: number; readonly oc: number; readonly m: Float64Array }
  /**
   * Gathered table index of local index i = lo[i & (2^loBits − 1)] | hi[i >> loBits] | outer part,
   * where the outer part sets bit outerBit[k] when global bit outerQ[k] of the block base is 1.
   */
  | { readonly k: 'diag'; readonly d: Float64Array; readonly lo: Int32Array; readonly hi: Int32Array; readonly loBits: number; readonly outerQ: Int32Array; readonly outerBit: Int32Array };

/** One sweep over the state: every block gets the same ops. Structured-clonable (sent to workers). */
export interface Pass {
  readonly numQubits: number;
  /** Local bits per block: lowBits + high.length. */
  readonly blockBits: number;
  readonly lowBits: number;
  /** Global qubits placed at local positions lowBits, lowBits+1, … (ascending). */
  readonly high: readonly number[];
  /** Global bit positions outside the block, ascending: block number bit k → global bit outer[k]. */
  readonly outer: Int32Array;
  /** True when the block is a contiguous range of the state (high = lowBits, lowBits+1, …). */
  readonly contiguous: boolean;
  readonly ops: readonly BOp[];
}

export const blockCount = (p: Pass): number => 2 ** p.outer.length;

function localize(op: UOp, local: (q: number) => number, blockBits: number): BOp {
  const masks = (c: readonly number[]): { lc: number; oc: number } => {
    let lc = 0;
    let oc = 0;
    for (const q of c) {
      const l = local(q);
      if (l >= 0) lc |= 1 << l;
      else oc |= 1 << q;
    }
    return { lc, oc };
  };
  const need = (q: number): number => {
    const l = local(q);
    if (l < 0) throw new Error(`internal: target qubit ${q} is not in the block`);
    return l;
  };
  switch (op.k) {
    case 'm1':
      return { k: 'm1', t: need(op.t), ...masks(op.c), m: Float64Array.from(op.m) };
    case 'x':
      return { k: 'x', t: need(op.t), ...masks(op.c) };
    case 'swap': {
      const a = need(op.a);
      const b = need(op.b);
      return { k: 'swap', a: Math.min(a, b), b: Math.max(a, b), ...masks(op.c) };
    }
    case 'm2':
      return { k: 'm2', a: need(op.a), b: need(op.b), ...masks(op.c), m: op.m };
    case 'diag':
      return { k: 'diag', d: op.d, ...diagTables(op.q, local, blockBits) };
  }
}

function diagTables(q: readonly number[], local: (q: number) => number, blockBits: number): { lo: Int32Array; hi: Int32Array; loBits: number; outerQ: Int32Array; outerBit: Int32Array } {
  const locals = q.map(local);
  const loBits = Math.min(10, blockBits);
  const lo = new Int32Array(1 << loBits);
  for (let i = 0; i < lo.length; i++) {
    let g = 0;
    locals.forEach((p, j) => {
      if (p >= 0 && p < loBits) g |= ((i >> p) & 1) << j;
    });
    lo[i] = g;
  }
  const hiBits = Math.max(0, blockBits - loBits);
  const hi = new Int32Array(1 << hiBits);
  for (let i = 0; i < hi.length; i++) {
    let g = 0;
    locals.forEach((p, j) => {
      if (p >= loBits) g |= ((i >> (p - loBits)) & 1) << j;
    });
    hi[i] = g;
  }
  const outerQ: number[] = [];
  const outerBit: number[] = [];
  locals.forEach((p, j) => {
    if (p < 0) {
      outerQ.push(q[j] as number);
      outerBit.push(j);
    }
  });
  return { lo, hi, loBits, outerQ: Int32Array.from(outerQ), outerBit: Int32Array.from(outerBit) };
}

/** Step 3: groups ops into passes. With numQubits ≤ lowBits + highMax the whole state is one block. */
export function planPasses(ops: readonly UOp[], numQubits: number, blocking: BlockingOptions = DEFAULT_BLOCKING): Pass[] {
  if (ops.length === 0) return [];
  const L = Math.min(numQubits, blocking.lowBits);
  const K = Math.min(blocking.highMax, numQubits - L);
  if (numQubits <= blocking.lowBits + blocking.highMax) return [makePass(ops, numQubits, numQubits, [])];
  const passes: Pass[] = [];
  let remaining = ops;
  const WINDOW = 4096;
  while (remaining.length > 0) {
    const high = new Set<number>();
    const blocked = new Set<number>();
    const taken: UOp[] = [];
    const rest: UOp[] = [];
    for (let idx = 0; idx < remaining.length; idx++) {
      const op = remaining[idx] as UOp;
      if (idx >= WINDOW || blocked.size >= numQubits) {
        rest.push(...remaining.slice(idx));
        break;
      }
      const qs = uopQubits(op);
      if (qs.some((q) => blocked.has(q))) {
        rest.push(op);
        for (const q of qs) blocked.add(q);
        continue;
      }
      const need = uopTargets(op).filter((q) => q >= L && !high.has(q));
      if (high.size + need.length <= K) {
        for (const q of need) high.add(q);
        taken.push(op);
      } else {
        rest.push(op);
        for (const q of qs) blocked.add(q);
      }
    }
    // Always progress: the first remaining op fits on its own (targets ≤ 2 ≤ K).
    if (taken.length === 0) throw new Error('internal: blocking made no progress');
    let H = [...high].sort((a, b) => a - b);
    // A contiguous block can be worked on in place; widen H to L..L+K−1 when that covers it.
    if (H.every((q) => q < L + K)) H = Array.from({ length: K }, (_, j) => L + j);
    passes.push(makePass(taken, numQubits, L, H));
    remaining = rest;
  }
  return passes;
}

function makePass(ops: readonly UOp[], numQubits: number, lowBits: number, high: readonly number[]): Pass {
  const local = (q: number): number => {
    if (q < lowBits) return q;
    const j = high.indexOf(q);
    return j < 0 ? -1 : lowBits + j;
  };
  const outer: number[] = [];
  for (let q = lowBits; q < numQubits; q++) if (!high.includes(q)) outer.push(q);
  const contiguous = high.every((q, j) => q === lowBits + j);
  return {
    numQubits,
    blockBits: lowBits + high.length,
    lowBits,
    high: [...high],
    outer: Int32Array.from(outer),
    contiguous,
    ops: ops.map((op) => localize(op, local, lowBits + high.length)),
  };
}

/** The whole pipeline for one run of unitary ops. */
export function compileUnitary(ops: readonly UOp[], numQubits: number, blocking: BlockingOptions = DEFAULT_BLOCKING): Pass[] {
  return planPasses(fuseDiagonals(fuseSingleQubit(ops, numQubits)), numQubits, blocking);
}
