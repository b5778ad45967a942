// Random circuits agree with the npm `quantum-circuit` package (an independent simulator, used only
// here and in the benchmark) to 1e-9: probabilities entry by entry, and amplitudes up to a global
// phase (|⟨ours|theirs⟩| = 1), through the full OpenQASM path and with forced multi-pass blocking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { seededRandom } from '../kernel/index.ts';
import { bindProgram, parseQasm, simulateSync } from './index.ts';

interface QcComplex {
  re: number;
  im: number;
}
interface QcCircuit {
  importQASM(src: string, cb: (errors: unknown[]) => void): void;
  run(): void;
  numQubits: number;
  state: Record<string, QcComplex | undefined>;
}
const QuantumCircuit = createRequire(import.meta.url)('quantum-circuit') as new () => QcCircuit;

/** Gates both simulators define identically (names as in qelib1.inc). */
const ONE = ['h', 'x', 'y', 'z', 's', 'sdg', 't', 'tdg'];
const ONE_P = ['rx', 'ry', 'rz', 'u1'];
const TWO = ['cx', 'cz', 'cy', 'ch', 'swap'];
const TWO_P = ['crx', 'cry', 'crz', 'cu1'];

function randomQasm(n: number, gates: number, seed: number): string {
  const r = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const angle = (): string => ((r() * 4 - 2) * Math.PI).toFixed(12);
  const qubits = (k: number): number[] => {
    const out: number[] = [];
    while (out.length < k) {
      const q = Math.floor(r() * n);
      if (!out.includes(q)) out.push(q);
    }
    return out;
  };
  let s = `OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[${n}];\n`;
  for (let g = 0; g < gates; g++) {
    const kind = r();
    if (kind < 0.3) s += `${pick(ONE)} q[${qubits(1)[0]}];\n`;
    else if (kind < 0.55) s += `${pick(ONE_P)}(${angle()}) q[${qubits(1)[0]}];\n`;
    else if (kind < 0.65) s += `u3(${angle()},${angle()},${angle()}) q[${qubits(1)[0]}];\n`;
    else if (kind < 0.8) s += `${pick(TWO)} ${qubits(2).map((q) => `q[${q}]`).join(',')};\n`;
    else if (kind < 0.93) s += `${pick(TWO_P)}(${angle()}) ${qubits(2).map((q) => `q[${q}]`).join(',')};\n`;
    else if (n >= 3) s += `${pick(['ccx', 'cswap'])} ${qubits(3).map((q) => `q[${q}]`).join(',')};\n`;
  }
  return s;
}

function oracle(src: string): Float64Array {
  const c = new QuantumCircuit();
  let errors: unknown[] = [];
  c.importQASM(src, (e) => (errors = e));
  assert.deepEqual(errors, []);
  c.run();
  const out = new Float64Array(2 * 2 ** c.numQubits);
  for (let i = 0; i < 2 ** c.numQubits; i++) {
    const a = c.state[String(i)];
    out[2 * i] = a?.re ?? 0;
    out[2 * i + 1] = a?.im ?? 0;
  }
  return out;
}

function compare(ours: Float64Array, theirs: Float64Array, label: string): void {
  let re = 0;
  let im = 0;
  let maxDiff = 0;
  for (let i = 0; i < ours.length; i += 2) {
    const [ar, ai, br, bi] = [ours[i] as number, ours[i + 1] as number, theirs[i] as number, theirs[i + 1] as number];
    re += ar * br + ai * bi;
    im += ar * bi - ai * br;
    maxDiff = Math.max(maxDiff, Math.abs(ar * ar + ai * ai - (br * br + bi * bi)));
  }
  assert.ok(maxDiff <= 1e-9, `${label}: probabilities differ by ${maxDiff}`);
  const overlap = Math.hypot(re, im);
  assert.ok(Math.abs(overlap - 1) <= 1e-9, `${label}: |<ours|theirs>| = ${overlap}`);
}

test('random circuits match quantum-circuit to 1e-9 (probabilities and amplitudes up to global phase)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const n = 2 + (seed % 6);
    const src = randomQasm(n, 25 + 3 * n, seed);
    const ours = simulateSync(bindProgram(parseQasm(src)), { returnStateVector: true }).stateVector as Float64Array;
    compare(ours, oracle(src), `seed ${seed} (${n} qubits)`);
  }
});

test('random circuits still match when blocking splits them into many passes', () => {
  for (let seed = 100; seed < 110; seed++) {
    const src = randomQasm(9, 80, seed);
    const r = simulateSync(bindProgram(parseQasm(src)), { returnStateVector: true, blocking: { lowBits: 3, highMax: 2 } });
    assert.ok(r.metrics.passes > 3, `expected several passes, got ${r.metrics.passes}`);
    compare(r.stateVector as Float64Array, oracle(src), `seed ${seed} blocked`);
  }
});

test('complex64 agrees with the oracle to single precision', () => {
  const src = randomQasm(6, 60, 7);
  const ours = simulateSync(bindProgram(parseQasm(src)), { returnStateVector: true, precision: 'complex64' }).stateVector as Float32Array;
  const theirs = oracle(src);
  let maxDiff = 0;
  for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs((ours[i] as number) - (theirs[i] as number)));
  // Global phases agree here: every gate in the set is defined with the same matrix by both.
  assert.ok(maxDiff < 1e-5, `complex64 amplitudes differ by ${maxDiff}`);
  assert.ok(ours instanceof Float32Array);
});
