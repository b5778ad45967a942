// The `quantum-circuit` job kind through the public surface: spec validation at the edge and a run
// whose result has the documented shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxQubitsFor, parseQuantumCircuitJobSpec, runQuantumCircuitJob } from './index.ts';

test('a job spec is validated field by field, then runs to a quantum-circuit result', async () => {
  const spec = parseQuantumCircuitJobSpec({ qasm: 'qreg q[2];\nh q[0];\ncx q[0],q[1];\n', shots: 200, seed: 4, observables: ['ZZ'] });
  const r = await runQuantumCircuitJob(spec, { memoryLimitBytes: 2 ** 30, threads: 1 });
  assert.equal(r.kind, 'quantum-circuit');
  assert.equal(r.version, 1);
  assert.deepEqual(Object.keys(r.probabilities).sort(), ['00', '11']);
  assert.equal(Object.values(r.counts ?? {}).reduce((a, b) => a + b, 0), 200);
  assert.ok(Math.abs((r.expectations?.['ZZ'] ?? 0) - 1) < 1e-12);
  assert.equal(r.notes.length, 1, 'missing header noted');
  assert.deepEqual(JSON.parse(JSON.stringify(r)) as unknown, r, 'the result is plain JSON');
  assert.throws(() => parseQuantumCircuitJobSpec({ qasm: 'qreg q[1];', shots: 1.5 }), /"shots" must be a whole number/);
  assert.throws(() => parseQuantumCircuitJobSpec({ qasm: '' }), /needs "qasm"/);
  assert.throws(() => parseQuantumCircuitJobSpec({ qasm: 'qreg q[1];', shot: 5 }), /unknown field 'shot'/);
  assert.throws(() => parseQuantumCircuitJobSpec({ qasm: 'qreg q[1];', parameters: { t: 'x' } }), /parameter 't' must be a finite number/);
  assert.throws(() => parseQuantumCircuitJobSpec({ qasm: 'qreg q[1];', precision: 'fp16' }), /"precision" must be/);
});

test('capacity: qubits that fit in a memory budget', () => {
  // 24 GiB: a 30-qubit complex128 state is 16 GiB plus an 8 GiB probability vector = exactly 24 GiB.
  assert.equal(maxQubitsFor(24 * 2 ** 30), 30);
  assert.equal(maxQubitsFor(16 * 2 ** 30), 29);
  assert.equal(maxQubitsFor(16 * 2 ** 30, 'complex64'), 30);
  assert.equal(maxQubitsFor(1024), 5);
});
