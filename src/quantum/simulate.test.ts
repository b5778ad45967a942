// The engine against analytic results: Bell, GHZ, QFT of a basis state (amplitudes, not just
// probabilities), teleportation (mid-circuit measurement + classical control), reset, Pauli
// expectations, seeded sampling, worker threads, complex64, and the guards.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { isStrataError } from '../kernel/index.ts';
import { CircuitBuilder, bindProgram, closeWorkerPools, parseQasm, runQasm, runQasmSync, simulate, simulateSync } from './index.ts';

after(() => closeWorkerPools());

const H = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n';
const close = (a: number, b: number, tol = 1e-12): boolean => Math.abs(a - b) <= tol;

function qftQasm(n: number, prep = ''): string {
  let s = `${H}qreg q[${n}];\n${prep}`;
  for (let i = n - 1; i >= 0; i--) {
    s += `h q[${i}];\n`;
    for (let j = i - 1; j >= 0; j--) s += `cu1(pi/${2 ** (i - j)}) q[${j}],q[${i}];\n`;
  }
  for (let i = 0; i < Math.floor(n / 2); i++) s += `swap q[${i}],q[${n - 1 - i}];\n`;
  return s;
}

test('Bell state: exact probabilities, seeded counts, expectations', () => {
  const src = `${H}qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n`;
  const r = runQasmSync(src, { shots: 20000, seed: 42, observables: ['ZZ', 'XX', 'YY', 'Z0', 'X1 X0'] });
  assert.deepEqual(Object.keys(r.probabilities).sort(), ['00', '11']);
  assert.ok(close(r.probabilities['00'] ?? 0, 0.5) && close(r.probabilities['11'] ?? 0, 0.5));
  assert.deepEqual(Object.keys(r.counts ?? {}).sort(), ['00', '11']);
  const c00 = r.counts?.['00'] ?? 0;
  assert.equal(c00 + (r.counts?.['11'] ?? 0), 20000);
  assert.ok(Math.abs(c00 - 10000) < 4 * Math.sqrt(5000), `00 drawn ${c00} times of 20000`);
  assert.deepEqual(runQasmSync(src, { shots: 20000, seed: 42 }).counts, r.counts, 'same seed, same counts');
  assert.notDeepEqual(runQasmSync(src, { shots: 20000, seed: 43 }).counts, r.counts);
  const e = r.expectations ?? {};
  assert.ok(close(e['ZZ'] ?? 0, 1) && close(e['XX'] ?? 0, 1) && close(e['YY'] ?? 0, -1) && close(e['Z0'] ?? 1, 0) && close(e['X1 X0'] ?? 0, 1));
  assert.equal(r.metrics.branches, 1, 'terminal measurements are sampled, not branched');
});

test('GHZ on 12 qubits: half 0…0, half 1…1', () => {
  let src = `${H}qreg q[12];\nh q[0];\n`;
  for (let i = 0; i < 11; i++) src += `cx q[${i}],q[${i + 1}];\n`;
  const r = runQasmSync(src, { shots: 1000, seed: 1 });
  assert.deepEqual(Object.keys(r.probabilities).sort(), ['000000000000', '111111111111']);
  assert.ok(close(r.probabilities['111111111111'] ?? 0, 0.5));
  assert.deepEqual(Object.keys(r.counts ?? {}).sort(), ['000000000000', '111111111111'], 'no measure: counts are over the qubits');
});

test('QFT of a basis state: every amplitude is e^{2πi·xk/N}/√N', () => {
  const n = 7;
  const x = 0b1011001;
  let prep = '';
  for (let b = 0; b < n; b++) if ((x >> b) & 1) prep += `x q[${b}];\n`;
  const r = simulateSync(bindProgram(parseQasm(qftQasm(n, prep))), { returnStateVector: true, maxOutcomes: 1 << n });
  const N = 2 ** n;
  const a = r.stateVector as Float64Array;
  for (let k = 0; k < N; k++) {
    const phi = (2 * Math.PI * x * k) / N;
    assert.ok(close(a[2 * k] as number, Math.cos(phi) / Math.sqrt(N), 1e-12) && close(a[2 * k + 1] as number, Math.sin(phi) / Math.sqrt(N), 1e-12), `amplitude ${k}`);
  }
  assert.equal(Object.keys(r.probabilities).length, N);
  for (const p of Object.values(r.probabilities)) assert.ok(close(p, 1 / N));
});

test('teleportation: mid-circuit measurement and if(c==k) reproduce the input state exactly', () => {
  const theta = 1.234;
  const src = `${H}qreg q[3];\ncreg m0[1];\ncreg m1[1];\ncreg out[1];\nry(${theta}) q[0];\nh q[1];\ncx q[1],q[2];\ncx q[0],q[1];\nh q[0];\nmeasure q[0] -> m0[0];\nmeasure q[1] -> m1[0];\nif(m1==1) x q[2];\nif(m0==1) z q[2];\nmeasure q[2] -> out[0];\n`;
  const r = runQasmSync(src, { shots: 40000, seed: 9, observables: ['Z2'] });
  const p1 = Object.entries(r.probabilities).reduce((s, [k, p]) => s + (k[0] === '1' ? p : 0), 0);
  assert.ok(close(p1, Math.sin(theta / 2) ** 2, 1e-12), `P(q2=1) = ${p1}`);
  assert.ok(close(r.expectations?.['Z2'] ?? 0, Math.cos(theta), 1e-12));
  assert.equal(r.metrics.branches, 4, 'two mid-circuit measurements with both outcomes possible');
  // counts keys: out m1 m0 (last declared register first)
  let ones = 0;
  let total = 0;
  for (const [k, c] of Object.entries(r.counts ?? {})) {
    assert.match(k, /^[01] [01] [01]$/);
    total += c;
    if (k[0] === '1') ones += c;
  }
  assert.equal(total, 40000);
  const expected = 40000 * Math.sin(theta / 2) ** 2;
  assert.ok(Math.abs(ones - expected) < 4 * Math.sqrt(expected), `out=1 drawn ${ones} times, expected ≈ ${expected}`);
});

test('reset and classical control on a measured qubit', () => {
  const reset = runQasmSync(`${H}qreg q[2];\nh q[0];\ncx q[0],q[1];\nreset q[0];\n`);
  assert.ok(close(reset.probabilities['00'] ?? 0, 0.5) && close(reset.probabilities['10'] ?? 0, 0.5));
  assert.equal(reset.metrics.branches, 2);
  const fix = runQasmSync(`${H}qreg q[1];\ncreg c[1];\nh q[0];\nmeasure q[0] -> c[0];\nif(c==1) x q[0];\n`, { shots: 1000, seed: 3 });
  assert.deepEqual(Object.keys(fix.probabilities), ['0']);
  assert.ok(close(fix.probabilities['0'] ?? 0, 1));
  const zero = fix.counts?.['0'] ?? 0;
  assert.equal(zero + (fix.counts?.['1'] ?? 0), 1000);
  assert.ok(zero > 400 && zero < 600);
  // A deterministic measurement does not branch.
  assert.equal(runQasmSync(`${H}qreg q[1];\ncreg c[1];\nx q[0];\nmeasure q[0] -> c[0];\nif(c==1) x q[0];\n`).metrics.branches, 1);
});

test('single-qubit expectation values follow the rotation angle', () => {
  for (const t of [0.3, 1.1, 2.9]) {
    const ry = simulateSync(new CircuitBuilder(1).gate('ry', [0], [t]).build(), { observables: ['Z', 'X', 'Y'] }).expectations ?? {};
    assert.ok(close(ry['Z'] ?? 0, Math.cos(t)) && close(ry['X'] ?? 0, Math.sin(t)) && close(ry['Y'] ?? 1, 0));
    const rx = simulateSync(new CircuitBuilder(1).gate('rx', [0], [t]).build(), { observables: ['Y'] }).expectations ?? {};
    assert.ok(close(rx['Y'] ?? 0, -Math.sin(t)));
  }
  assert.throws(() => simulateSync(new CircuitBuilder(2).build(), { observables: ['ZQ'] }), /'Q' is not a Pauli factor|not a Pauli/);
  assert.throws(() => simulateSync(new CircuitBuilder(2).build(), { observables: ['ZZZ'] }), /has 3 letters but the circuit has 2 qubits/);
});

test('worker threads give the same state as the calling thread', async () => {
  const n = 12;
  const b = new CircuitBuilder(n);
  for (let layer = 0; layer < 4; layer++) {
    for (let q = 0; q < n; q++) b.gate('u3', [q], [0.1 * (q + 1), 0.2 * layer, 0.3]);
    for (let q = 0; q < n; q++) b.gate(layer % 2 === 0 ? 'cx' : 'cp', [q, (q + 5) % n], layer % 2 === 0 ? [] : [0.7]);
  }
  const c = b.build();
  const blocking = { lowBits: 4, highMax: 3 };
  const one = simulateSync(c, { returnStateVector: true, blocking });
  const two = await simulate(c, { returnStateVector: true, blocking, threads: 2 });
  assert.ok(two.stateVector?.buffer instanceof SharedArrayBuffer);
  assert.equal(two.metrics.threads, 2);
  assert.ok(one.metrics.passes > 2);
  const a = one.stateVector as Float64Array;
  const w = two.stateVector as Float64Array;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs((a[i] as number) - (w[i] as number)));
  assert.ok(diff < 1e-15, `max difference ${diff}`);
  const viaQasm = await runQasm(qftQasm(10), { threads: 2 });
  assert.equal(Object.keys(viaQasm.probabilities).length, 1024);
});

test('complex64 halves the memory and keeps probabilities to ~1e-7', () => {
  const src = qftQasm(10, 'x q[3];\n');
  const r64 = runQasmSync(src, { precision: 'complex64' });
  const r128 = runQasmSync(src);
  assert.equal(r64.metrics.stateBytes * 2, r128.metrics.stateBytes);
  for (const [k, p] of Object.entries(r128.probabilities)) assert.ok(Math.abs((r64.probabilities[k] ?? 0) - p) < 1e-7);
});

test('maxOutcomes keeps the most likely outcomes and reports what it left out', () => {
  const r = runQasmSync(`${H}qreg q[3];\nry(0.5) q[0];\nry(1.0) q[1];\nry(1.5) q[2];\n`, { maxOutcomes: 3 });
  assert.equal(Object.keys(r.probabilities).length, 3);
  assert.equal(r.omittedOutcomes, 5);
  const kept = Object.values(r.probabilities).reduce((s, p) => s + p, 0);
  assert.ok(close(kept + r.omittedProbability, 1));
  const all = runQasmSync(`${H}qreg q[3];\nry(0.5) q[0];\nry(1.0) q[1];\nry(1.5) q[2];\n`).probabilities;
  const top = Object.entries(all).sort((x, y) => y[1] - x[1]).slice(0, 3).map(([k]) => k).sort();
  assert.deepEqual(Object.keys(r.probabilities).sort(), top);
});

test('branching is bounded: too many histories, or copies beyond the memory limit, are refused', () => {
  let src = `${H}qreg q[4];\ncreg c[4];\n`;
  for (let k = 0; k < 6; k++) src += `h q;\nmeasure q -> c;\nx q[0];\n`;
  assert.throws(() => runQasmSync(src, { maxBranches: 64 }), /branch into more than 64 measurement histories/);
  const mid = `${H}qreg q[16];\ncreg c[1];\nh q[0];\nmeasure q[0] -> c[0];\nh q[0];\n`;
  assert.throws(
    () => runQasmSync(mid, { memoryLimitBytes: 2 ** 20 + 2 ** 19 }),
    (e: unknown) => isStrataError(e) && e.code === 'payload_too_large' && /needs 2\.5 MiB \(2 × 1\.0 MiB state vectors .* but the memory limit is 1\.5 MiB/.test(e.message),
  );
  assert.throws(() => runQasmSync(`${H}qreg q[1];\n`, { shots: -1 }), /shots must be a whole number/);
  assert.throws(() => runQasmSync(`${H}qreg q[1];\n`, { precision: 'complex32' as 'complex64' }), /precision must be complex128 or complex64/);
});
