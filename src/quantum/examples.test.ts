// The shipped examples/quantum circuits run and give their documented results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runQasmSync } from './index.ts';

const example = (name: string): string => readFileSync(fileURLToPath(new URL(`../../examples/quantum/${name}`, import.meta.url)), 'utf8');
const close = (a: number | undefined, b: number, tol = 1e-12): boolean => a !== undefined && Math.abs(a - b) <= tol;

test('bell.qasm and ghz.qasm: two outcomes at 1/2', () => {
  const bell = runQasmSync(example('bell.qasm'), { shots: 100, seed: 1 });
  assert.ok(close(bell.probabilities['00'], 0.5) && close(bell.probabilities['11'], 0.5));
  const ghz = runQasmSync(example('ghz.qasm'));
  assert.deepEqual(Object.keys(ghz.probabilities).sort(), ['00000', '11111']);
});

test('qft.qasm: uniform over 64 outcomes, amplitude k = e^{2πi·5k/64}/8', () => {
  const r = runQasmSync(example('qft.qasm'), { observables: ['XIIIII'] });
  assert.equal(Object.keys(r.probabilities).length, 64);
  for (const p of Object.values(r.probabilities)) assert.ok(close(p, 1 / 64));
  // ⟨X on q5⟩ = Re Σ_k conj(a_{k⊕32}) a_k = cos(π·5) = −1 for the state e^{2πi·5k/64}/8.
  assert.ok(close(r.expectations?.['XIIIII'], -1));
});

test('qaoa-ring8.qasm at γ = π/4, β = π/8: ⟨Z_u Z_v⟩ = −1/2, i.e. ⟨C⟩/|E| = 0.75', () => {
  const r = runQasmSync(example('qaoa-ring8.qasm'), { parameters: { gamma: Math.PI / 4, beta: Math.PI / 8 }, observables: ['Z0 Z1', 'Z7 Z0'] });
  assert.ok(close(r.expectations?.['Z0 Z1'], -0.5) && close(r.expectations?.['Z7 Z0'], -0.5));
});

test('teleport.qasm: P(out = 1) = sin²(0.6)', () => {
  const r = runQasmSync(example('teleport.qasm'), { shots: 1000, seed: 2 });
  const p1 = Object.entries(r.probabilities).reduce((s, [k, p]) => s + (k.startsWith('1') ? p : 0), 0);
  assert.ok(close(p1, Math.sin(0.6) ** 2));
});
