// The inner loops: in-place kernels over an interleaved complex Float64Array block (re at 2i, im at
// 2i+1), and the pass driver that walks blocks, gathers non-contiguous ones into a scratch buffer
// and scatters them back. No allocation per amplitude or per block; every kernel sees only
// Float64Array (a complex64 state is widened on gather and narrowed on scatter), so V8 keeps each
// loop monomorphic. Shared by the main thread and the worker threads (sv-worker.ts).
import type { BOp, Pass } from './compile.ts';

/** A state vector's storage: complex128 (Float64Array) or complex64 (Float32Array), interleaved. */
export type Amps = Float64Array | Float32Array;

/** Dense 2×2 on local bit t, only where (i & lc) === lc. */
export function applyM1(a: Float64Array, nb: number, t: number, lc: number, m: Float64Array): void {
  const s = 1 << t;
  const n = 1 << nb;
  const m0 = m[0]!, m1 = m[1]!, m2 = m[2]!, m3 = m[3]!, m4 = m[4]!, m5 = m[5]!, m6 = m[6]!, m7 = m[7]!;
  for (let b = 0; b < n; b += s << 1) {
    const end = b + s;
    for (let i = b; i < end; i++) {
      if ((i & lc) !== lc) continue;
      const p = i << 1;
      const q = (i + s) << 1;
      const ar = a[p]!, ai = a[p + 1]!, br = a[q]!, bi = a[q + 1]!;
      a[p] = m0 * ar - m1 * ai + m2 * br - m3 * bi;
      a[p + 1] = m0 * ai + m1 * ar + m2 * bi + m3 * br;
      a[q] = m4 * ar - m5 * ai + m6 * br - m7 * bi;
      a[q + 1] = m4 * ai + m5 * ar + m6 * bi + m7 * br;
    }
  }
}

/** Controlled bit flip of local bit t: a permutation, no arithmetic. */
export function applyX(a: Float64Array, nb: number, t: number, lc: number): void {
  const s = 1 << t;
  const n = 1 << nb;
  for (let b = 0; b < n; b += s << 1) {
    const end = b + s;
    for (let i = b; i < end; i++) {
      if ((i & lc) !== lc) continue;
      const p = i << 1;
      const q = (i + s) << 1;
      const r = a[p]!;
      const im = a[p + 1]!;
      a[p] = a[q]!;
      a[p + 1] = a[q + 1]!;
      a[q] = r;
      a[q + 1] = im;
    }
  }
}

/** Controlled exchange of local bits qa < qb. */
export function applySwap(a: Float64Array, nb: number, qa: number, qb: number, lc: number): void {
  const sa = 1 << qa;
  const sb = 1 << qb;
  const n = 1 << nb;
  const mask = sa | sb | lc;
  const want = sa | lc;
  const flip = sa | sb;
  for (let i = 0; i < n; i++) {
    if ((i & mask) !== want) continue;
    const p = i << 1;
    const q = (i ^ flip) << 1;
    const r = a[p]!;
    const im = a[p + 1]!;
    a[p] = a[q]!;
    a[p + 1] = a[q + 1]!;
    a[q] = r;
    a[q + 1] = im;
  }
}

/** Dense 4×4 on local bits (qa, qb); sub-index = bit(qa) + 2·bit(qb). */
export function applyM2(a: Float64Array, nb: number, qa: number, qb: number, lc: number, m: Float64Array): void {
  const sa = 1 << qa;
  const sb = 1 << qb;
  const n = 1 << nb;
  const mask = sa | sb | lc;
  const idx = [0, 0, 0, 0];
  const re = [0, 0, 0, 0];
  const im = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    if ((i & mask) !== lc) continue;
    idx[0] = i << 1;
    idx[1] = (i | sa) << 1;
    idx[2] = (i | sb) << 1;
    idx[3] = (i | sa | sb) << 1;
    for (let r = 0; r < 4; r++) {
      re[r] = a[idx[r]!]!;
      im[r] = a[idx[r]! + 1]!;
    }
    for (let r = 0; r < 4; r++) {
      let sr = 0;
      let si = 0;
      for (let c = 0; c < 4; c++) {
        const mr = m[(r * 4 + c) * 2]!;
        const mi = m[(r * 4 + c) * 2 + 1]!;
        sr += mr * re[c]! - mi * im[c]!;
        si += mr * im[c]! + mi * re[c]!;
      }
      a[idx[r]!] = sr;
      a[idx[r]! + 1] = si;
    }
  }
}

/** Diagonal: amplitude i is multiplied by table entry lo[i & mask] | hi[i >> loBits] | outer. */
export function applyDiag(a: Float64Array, nb: number, d: Float64Array, lo: Int32Array, hi: Int32Array, loBits: number, outer: number): void {
  const loN = 1 << loBits;
  const hiN = 1 << (nb - loBits);
  for (let h = 0; h < hiN; h++) {
    const gh = hi[h]! | outer;
    let p = (h << loBits) << 1;
    for (let l = 0; l < loN; l++, p += 2) {
      const g = (gh | lo[l]!) << 1;
      const dr = d[g]!;
      const di = d[g + 1]!;
      const ar = a[p]!;
      const ai = a[p + 1]!;
      a[p] = ar * dr - ai * di;
      a[p + 1] = ar * di + ai * dr;
    }
  }
}

/** Applies one block op to a block whose global index base is `base`. */
export function applyBOp(a: Float64Array, nb: number, op: BOp, base: number): void {
  switch (op.k) {
    case 'm1':
      if ((base & op.oc) === op.oc) applyM1(a, nb, op.t, op.lc, op.m);
      return;
    case 'x':
      if ((base & op.oc) === op.oc) applyX(a, nb, op.t, op.lc);
      return;
    case 'swap':
      if ((base & op.oc) === op.oc) applySwap(a, nb, op.a, op.b, op.lc);
      return;
    case 'm2':
      if ((base & op.oc) === op.oc) applyM2(a, nb, op.a, op.b, op.lc, op.m);
      return;
    case 'diag': {
      let outer = 0;
      for (let k = 0; k < op.outerQ.length; k++) outer |= ((base >>> op.outerQ[k]!) & 1) << op.outerBit[k]!;
      applyDiag(a, nb, op.d, op.lo, op.hi, op.loBits, outer);
      return;
    }
  }
}

/** Global index of the first amplitude of block number b. */
export function blockBase(pass: Pass, b: number): number {
  let base = 0;
  const outer = pass.outer;
  for (let k = 0; k < outer.length; k++) if (((b / 2 ** k) & 1) === 1) base |= 1 << outer[k]!;
  return base;
}

/**
 * Runs a pass over blocks [b0, b1). `scratch` must hold 2·2^blockBits numbers; it is used when the
 * block is not contiguous or the state is complex64.
 */
export function runPass(state: Amps, pass: Pass, b0: number, b1: number, scratch: Float64Array): void {
  const nb = pass.blockBits;
  const size = 2 ** nb;
  const direct = pass.contiguous && state instanceof Float64Array;
  const segBits = pass.lowBits;
  const segLen = 2 ** segBits * 2;
  const nSeg = 2 ** pass.high.length;
  const segRel = new Array<number>(nSeg);
  for (let s = 0; s < nSeg; s++) {
    let off = 0;
    for (let j = 0; j < pass.high.length; j++) if (((s >> j) & 1) === 1) off |= 1 << pass.high[j]!;
    segRel[s] = off;
  }
  const ops = pass.ops;
  for (let b = b0; b < b1; b++) {
    const base = blockBase(pass, b);
    let buf: Float64Array;
    if (direct) buf = state.subarray(2 * base, 2 * (base + size));
    else {
      buf = scratch;
      if (pass.contiguous) scratch.set(state.subarray(2 * base, 2 * (base + size)));
      else for (let s = 0; s < nSeg; s++) scratch.set(state.subarray(2 * (base + segRel[s]!), 2 * (base + segRel[s]!) + segLen), s * segLen);
    }
    for (let k = 0; k < ops.length; k++) applyBOp(buf, nb, ops[k]!, base);
    if (!direct) {
      if (pass.contiguous) state.set(scratch.subarray(0, 2 * size), 2 * base);
      else for (let s = 0; s < nSeg; s++) state.set(scratch.subarray(s * segLen, (s + 1) * segLen), 2 * (base + segRel[s]!));
    }
  }
}
