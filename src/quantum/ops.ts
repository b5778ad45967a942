// The state-vector engine's primitive unitary operations ("uops"): what every gate turns into
// before fusion and blocking. Four shapes cover every gate cheaply:
//   m1   — a dense 2×2 on one target, optionally controlled (h, rx, u3, controlled-u …);
//   x    — a (controlled) bit flip: a pure permutation, no arithmetic (x, cx, ccx, c4x …);
//   swap — a (controlled) exchange of two qubits: a permutation (swap, cswap);
//   diag — a diagonal over up to a dozen qubits, as a table of phases (z, s, t, rz, p, cz, cp, rzz …);
//   m2   — a dense 4×4 on two qubits, optionally controlled (rxx, ryy, iswap, ecr …).
// Matrices are complex, interleaved re/im. Qubit 0 is the least significant bit of a state index.

/** A 2×2 complex matrix [[a, b], [c, d]] as [ar, ai, br, bi, cr, ci, dr, di]. */
export type Mat2 = readonly [number, number, number, number, number, number, number, number];

export type UOp =
  | { readonly k: 'm1'; readonly t: number; readonly c: readonly number[]; readonly m: Mat2 }
  | { readonly k: 'x'; readonly t: number; readonly c: readonly number[] }
  | { readonly k: 'swap'; readonly a: number; readonly b: number; readonly c: readonly number[] }
  /** d has 2·2^q.length numbers; entry g multiplies amplitudes whose bit q[j] equals bit j of g. */
  | { readonly k: 'diag'; readonly q: readonly number[]; readonly d: Float64Array }
  /** m is a 4×4 complex matrix, row-major, 32 numbers; local index = bit(a) + 2·bit(b). */
  | { readonly k: 'm2'; readonly a: number; readonly b: number; readonly c: readonly number[]; readonly m: Float64Array };

/** Every qubit an op touches (targets, controls, diagonal qubits). */
export function uopQubits(op: UOp): number[] {
  switch (op.k) {
    case 'm1':
    case 'x':
      return [...op.c, op.t];
    case 'swap':
    case 'm2':
      return [...op.c, op.a, op.b];
    case 'diag':
      return [...op.q];
  }
}

/** The qubits whose amplitudes an op mixes (must be local to a block); controls and diagonals are not. */
export function uopTargets(op: UOp): number[] {
  switch (op.k) {
    case 'm1':
    case 'x':
      return [op.t];
    case 'swap':
    case 'm2':
      return [op.a, op.b];
    case 'diag':
      return [];
  }
}

export const IDENTITY: Mat2 = [1, 0, 0, 0, 0, 0, 1, 0];

/** Product A·B of 2×2 complex matrices (apply B first). */
export function mul2(A: Mat2, B: Mat2): Mat2 {
  const [ar, ai, br, bi, cr, ci, dr, di] = A;
  const [er, ei, fr, fi, gr, gi, hr, hi] = B;
  return [
    ar * er - ai * ei + br * gr - bi * gi,
    ar * ei + ai * er + br * gi + bi * gr,
    ar * fr - ai * fi + br * hr - bi * hi,
    ar * fi + ai * fr + br * hi + bi * hr,
    cr * er - ci * ei + dr * gr - di * gi,
    cr * ei + ci * er + dr * gi + di * gr,
    cr * fr - ci * fi + dr * hr - di * hi,
    cr * fi + ci * fr + dr * hi + di * hr,
  ];
}

const isDiagonal = (m: Mat2): boolean => m[2] === 0 && m[3] === 0 && m[4] === 0 && m[5] === 0;
const isX = (m: Mat2): boolean => m[0] === 0 && m[1] === 0 && m[6] === 0 && m[7] === 0 && m[2] === 1 && m[3] === 0 && m[4] === 1 && m[5] === 0;
const isIdentity = (m: Mat2): boolean => m[0] === 1 && m[1] === 0 && isDiagonal(m) && m[6] === 1 && m[7] === 0;

/**
 * A (multi-)controlled single-qubit unitary, classified into the cheapest uop: a diagonal table,
 * a permutation, or a dense 2×2. The identity yields no op.
 */
export function controlled1(controls: readonly number[], target: number, m: Mat2): UOp[] {
  if (isIdentity(m)) return [];
  if (isX(m)) return [{ k: 'x', t: target, c: [...controls] }];
  if (isDiagonal(m)) {
    const q = [...controls, target];
    const size = 1 << q.length;
    const d = new Float64Array(2 * size);
    const all = (1 << controls.length) - 1;
    for (let g = 0; g < size; g++) {
      if ((g & all) === all) {
        const hi = (g >> controls.length) & 1;
        d[2 * g] = hi === 1 ? m[6] : m[0];
        d[2 * g + 1] = hi === 1 ? m[7] : m[1];
      } else d[2 * g] = 1;
    }
    return [{ k: 'diag', q, d }];
  }
  return [{ k: 'm1', t: target, c: [...controls], m }];
}

/** A diagonal uop from a function of the gathered bits (bit j ↔ qubit q[j]) to a phase angle. */
export function diagPhase(q: readonly number[], angle: (g: number) => number): UOp {
  const size = 1 << q.length;
  const d = new Float64Array(2 * size);
  for (let g = 0; g < size; g++) {
    const a = angle(g);
    d[2 * g] = Math.cos(a);
    d[2 * g + 1] = Math.sin(a);
  }
  return { k: 'diag', q: [...q], d };
}

/** Builds a 4×4 uop from rows of complex entries given as [re, im] pairs. */
export function dense2(a: number, b: number, controls: readonly number[], rows: readonly (readonly (readonly [number, number])[])[]): UOp {
  const m = new Float64Array(32);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      const e = rows[r]?.[c] ?? [0, 0];
      m[(r * 4 + c) * 2] = e[0];
      m[(r * 4 + c) * 2 + 1] = e[1];
    }
  }
  return { k: 'm2', a, b, c: [...controls], m };
}
