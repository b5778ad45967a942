// The built-in gate set: OpenQASM 2's `U` and `CX`, everything in `qelib1.inc`, and Qiskit's extended
// qelib1 (sx, sxdg, p, u, cp, cu, csx, swap, cswap, crx, cry, rxx, rzz, rccx, rc3x, c3x, c3sqrtx, c4x
// …). Most gates map straight to one cheap uop with the matrix Qiskit documents (so raw amplitudes,
// global phase included, match Qiskit's); the two relative-phase Toffolis keep their qelib1
// definitions, which the parser expands like any user gate.
import type { Mat2, UOp } from './ops.ts';
import { controlled1, dense2, diagPhase } from './ops.ts';

export interface BuiltinGate {
  readonly qubits: number;
  readonly params: number;
  /** The uops of this gate on these (distinct) qubits. */
  readonly ops: (p: readonly number[], q: readonly number[]) => UOp[];
}

const S2 = Math.SQRT1_2;

/** U(θ, φ, λ) as OpenQASM 2 and Qiskit define it. */
export function uMatrix(theta: number, phi: number, lambda: number): Mat2 {
  const c = Math.cos(theta / 2);
  const s = Math.sin(theta / 2);
  return [c, 0, -Math.cos(lambda) * s, -Math.sin(lambda) * s, Math.cos(phi) * s, Math.sin(phi) * s, Math.cos(phi + lambda) * c, Math.sin(phi + lambda) * c];
}
const phase = (l: number): Mat2 => [1, 0, 0, 0, 0, 0, Math.cos(l), Math.sin(l)];
const rx = (t: number): Mat2 => [Math.cos(t / 2), 0, 0, -Math.sin(t / 2), 0, -Math.sin(t / 2), Math.cos(t / 2), 0];
const ry = (t: number): Mat2 => [Math.cos(t / 2), 0, -Math.sin(t / 2), 0, Math.sin(t / 2), 0, Math.cos(t / 2), 0];
const rz = (t: number): Mat2 => [Math.cos(t / 2), -Math.sin(t / 2), 0, 0, 0, 0, Math.cos(t / 2), Math.sin(t / 2)];
const withPhase = (m: Mat2, g: number): Mat2 => {
  const cr = Math.cos(g);
  const ci = Math.sin(g);
  const out: number[] = [];
  for (let i = 0; i < 8; i += 2) out.push((m[i] as number) * cr - (m[i + 1] as number) * ci, (m[i] as number) * ci + (m[i + 1] as number) * cr);
  return out as unknown as Mat2;
};

const X: Mat2 = [0, 0, 1, 0, 1, 0, 0, 0];
const Y: Mat2 = [0, 0, 0, -1, 0, 1, 0, 0];
const Z: Mat2 = [1, 0, 0, 0, 0, 0, -1, 0];
const H: Mat2 = [S2, 0, S2, 0, S2, 0, -S2, 0];
const SX: Mat2 = [0.5, 0.5, 0.5, -0.5, 0.5, -0.5, 0.5, 0.5];
const SXDG: Mat2 = [0.5, -0.5, 0.5, 0.5, 0.5, 0.5, 0.5, -0.5];
const ID: Mat2 = [1, 0, 0, 0, 0, 0, 1, 0];

/** A fixed or parameterised single-qubit gate with `nc` leading control qubits. */
const ctl = (nc: number, params: number, m: (p: readonly number[]) => Mat2): BuiltinGate => ({
  qubits: nc + 1,
  params,
  ops: (p, q) => controlled1(q.slice(0, nc), q[nc] as number, m(p)),
});
const fixed = (nc: number, m: Mat2): BuiltinGate => ctl(nc, 0, () => m);
const p0 = (p: readonly number[]): number => p[0] as number;
const p1 = (p: readonly number[]): number => p[1] as number;
const p2 = (p: readonly number[]): number => p[2] as number;
const p3 = (p: readonly number[]): number => p[3] as number;

type C = readonly [number, number];
const z0: C = [0, 0];

/** exp(-iθ/2 · P) for a two-qubit Pauli product P given as its 4×4 real-or-imaginary matrix. */
function pauliRotation2(theta: number, P: readonly (readonly C[])[]): (readonly C[])[] {
  const c = Math.cos(theta / 2);
  const s = Math.sin(theta / 2);
  const rows: (readonly C[])[] = [];
  for (let r = 0; r < 4; r++) {
    const row: C[] = [];
    for (let k = 0; k < 4; k++) {
      const e = P[r]?.[k] ?? z0;
      // c·I − i·s·P
      row.push([(r === k ? c : 0) + s * e[1], -s * e[0]]);
    }
    rows.push(row);
  }
  return rows;
}
const XX: C[][] = [[z0, z0, z0, [1, 0]], [z0, z0, [1, 0], z0], [z0, [1, 0], z0, z0], [[1, 0], z0, z0, z0]];
const YY: C[][] = [[z0, z0, z0, [-1, 0]], [z0, z0, [1, 0], z0], [z0, [1, 0], z0, z0], [[-1, 0], z0, z0, z0]];
/** Z on the first qubit (bit 0), X on the second (bit 1): Qiskit's RZXGate. */
const ZX: C[][] = [[z0, z0, [1, 0], z0], [z0, z0, z0, [-1, 0]], [[1, 0], z0, z0, z0], [z0, [-1, 0], z0, z0]];

export const BUILTIN_GATES: ReadonlyMap<string, BuiltinGate> = new Map<string, BuiltinGate>([
  ['U', ctl(0, 3, (p) => uMatrix(p0(p), p1(p), p2(p)))],
  ['u3', ctl(0, 3, (p) => uMatrix(p0(p), p1(p), p2(p)))],
  ['u', ctl(0, 3, (p) => uMatrix(p0(p), p1(p), p2(p)))],
  ['u2', ctl(0, 2, (p) => uMatrix(Math.PI / 2, p0(p), p1(p)))],
  ['u1', ctl(0, 1, (p) => phase(p0(p)))],
  ['p', ctl(0, 1, (p) => phase(p0(p)))],
  ['u0', ctl(0, 1, () => ID)],
  ['id', fixed(0, ID)],
  ['x', fixed(0, X)],
  ['y', fixed(0, Y)],
  ['z', fixed(0, Z)],
  ['h', fixed(0, H)],
  ['s', fixed(0, phase(Math.PI / 2))],
  ['sdg', fixed(0, phase(-Math.PI / 2))],
  ['t', fixed(0, phase(Math.PI / 4))],
  ['tdg', fixed(0, phase(-Math.PI / 4))],
  ['sx', fixed(0, SX)],
  ['sxdg', fixed(0, SXDG)],
  ['rx', ctl(0, 1, (p) => rx(p0(p)))],
  ['ry', ctl(0, 1, (p) => ry(p0(p)))],
  ['rz', ctl(0, 1, (p) => rz(p0(p)))],
  ['r', ctl(0, 2, (p) => uMatrix(p0(p), p1(p) - Math.PI / 2, Math.PI / 2 - p1(p)))],
  ['CX', fixed(1, X)],
  ['cx', fixed(1, X)],
  ['cnot', fixed(1, X)],
  ['cy', fixed(1, Y)],
  ['cz', fixed(1, Z)],
  ['ch', fixed(1, H)],
  ['csx', fixed(1, SX)],
  ['cs', fixed(1, phase(Math.PI / 2))],
  ['csdg', fixed(1, phase(-Math.PI / 2))],
  ['crx', ctl(1, 1, (p) => rx(p0(p)))],
  ['cry', ctl(1, 1, (p) => ry(p0(p)))],
  ['crz', ctl(1, 1, (p) => rz(p0(p)))],
  ['cu1', ctl(1, 1, (p) => phase(p0(p)))],
  ['cp', ctl(1, 1, (p) => phase(p0(p)))],
  ['cphase', ctl(1, 1, (p) => phase(p0(p)))],
  ['cu3', ctl(1, 3, (p) => uMatrix(p0(p), p1(p), p2(p)))],
  ['cu', ctl(1, 4, (p) => withPhase(uMatrix(p0(p), p1(p), p2(p)), p3(p)))],
  ['ccx', fixed(2, X)],
  ['toffoli', fixed(2, X)],
  ['ccz', fixed(2, Z)],
  ['c3x', fixed(3, X)],
  ['cccx', fixed(3, X)],
  ['c3sqrtx', fixed(3, SX)],
  ['cccsqrtx', fixed(3, SX)],
  ['c4x', fixed(4, X)],
  ['ccccx', fixed(4, X)],
  ['swap', { qubits: 2, params: 0, ops: (_p, q) => [{ k: 'swap', a: q[0] as number, b: q[1] as number, c: [] }] }],
  ['cswap', { qubits: 3, params: 0, ops: (_p, q) => [{ k: 'swap', a: q[1] as number, b: q[2] as number, c: [q[0] as number] }] }],
  ['fredkin', { qubits: 3, params: 0, ops: (_p, q) => [{ k: 'swap', a: q[1] as number, b: q[2] as number, c: [q[0] as number] }] }],
  [
    'dcx',
    {
      qubits: 2,
      params: 0,
      ops: (_p, q) => [
        { k: 'x', t: q[1] as number, c: [q[0] as number] },
        { k: 'x', t: q[0] as number, c: [q[1] as number] },
      ],
    },
  ],
  ['iswap', { qubits: 2, params: 0, ops: (_p, q) => [dense2(q[0] as number, q[1] as number, [], [[[1, 0], z0, z0, z0], [z0, z0, [0, 1], z0], [z0, [0, 1], z0, z0], [z0, z0, z0, [1, 0]]])] }],
  [
    'ecr',
    {
      qubits: 2,
      params: 0,
      ops: (_p, q) => [dense2(q[0] as number, q[1] as number, [], [[z0, [S2, 0], z0, [0, S2]], [[S2, 0], z0, [0, -S2], z0], [z0, [0, S2], z0, [S2, 0]], [[0, -S2], z0, [S2, 0], z0]])],
    },
  ],
  ['rxx', { qubits: 2, params: 1, ops: (p, q) => [dense2(q[0] as number, q[1] as number, [], pauliRotation2(p0(p), XX))] }],
  ['ryy', { qubits: 2, params: 1, ops: (p, q) => [dense2(q[0] as number, q[1] as number, [], pauliRotation2(p0(p), YY))] }],
  ['rzx', { qubits: 2, params: 1, ops: (p, q) => [dense2(q[0] as number, q[1] as number, [], pauliRotation2(p0(p), ZX))] }],
  [
    'rzz',
    {
      qubits: 2,
      params: 1,
      // exp(-iθ/2 Z⊗Z): phase −θ/2 when the two bits agree, +θ/2 when they differ.
      ops: (p, q) => [diagPhase([q[0] as number, q[1] as number], (g) => (g === 0 || g === 3 ? -p0(p) / 2 : p0(p) / 2))],
    },
  ],
]);

/**
 * Gates that Qiskit's qelib1.inc defines by decomposition and that have no simpler exact form:
 * the relative-phase Toffolis. Parsed as OpenQASM before the user's program.
 */
export const LIBRARY_QASM = `
gate rccx a,b,c { u2(0,pi) c; u1(pi/4) c; cx b,c; u1(-pi/4) c; cx a,c; u1(pi/4) c; cx b,c; u1(-pi/4) c; u2(0,pi) c; }
gate rc3x a,b,c,d {
  u2(0,pi) d; u1(pi/4) d; cx c,d; u1(-pi/4) d; u2(0,pi) d; cx a,d; u1(pi/4) d; cx b,d; u1(-pi/4) d;
  cx a,d; u1(pi/4) d; cx b,d; u1(-pi/4) d; u2(0,pi) d; u1(pi/4) d; cx c,d; u1(-pi/4) d; u2(0,pi) d;
}
gate rcccx a,b,c,d { rc3x a,b,c,d; }
`;
