// The OpenQASM 2.0 front end: what it accepts (qelib1 + Qiskit's extended gates, user gates,
// broadcasting, if/reset/barrier/measure, a missing header, free parameters) and, for every kind of
// bad input in issue 6, the precise refusal (line, column, what was expected) with no result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStrataError } from '../kernel/index.ts';
import { bindProgram, parseQasm, runQasmSync } from './index.ts';

const H = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n';

/** Asserts that running `src` is refused with a bad_request whose message matches every pattern. */
function refused(src: string, ...patterns: RegExp[]): string {
  let message = '';
  assert.throws(
    () => runQasmSync(src),
    (e: unknown) => {
      assert.ok(isStrataError(e), `expected a StrataError, got ${String(e)}`);
      message = e.message;
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
  return message;
}

test('parses registers, broadcasting and qelib1 + Qiskit extended gates', () => {
  const p = parseQasm(`${H}qreg a[2];\nqreg b[2];\ncreg c[2];\nh a;\ncx a, b;\nsx b[0]; sxdg b[0]; p(pi/3) a[1]; u(1,2,3) a[0]; cp(0.2) a[0], b[1];\nrxx(0.1) a[0], a[1]; rzz(0.2) a[0], b[0]; rccx a[0], a[1], b[0]; cswap a[0], b[0], b[1];\nmeasure a -> c;\n`);
  assert.equal(p.numQubits, 4);
  assert.equal(p.numClbits, 2);
  const gates = p.statements.filter((s) => s.kind === 'gate');
  // h a → 2, cx a,b → 2 (pairwise), then 5 + 2 + rccx (9 uops after expansion) + cswap.
  assert.deepEqual(
    gates.slice(0, 4).map((g) => [g.name, g.qubits]),
    [
      ['h', [0]],
      ['h', [1]],
      ['cx', [0, 2]],
      ['cx', [1, 3]],
    ],
  );
  assert.equal(gates.filter((g) => g.name === 'u2').length, 2, 'rccx expands through its qelib1 definition');
  assert.deepEqual(
    p.statements.filter((s) => s.kind === 'measure').map((s) => (s.kind === 'measure' ? [s.qubit, s.clbit] : [])),
    [
      [0, 0],
      [1, 1],
    ],
  );
});

test('user gate definitions expand with substituted parameters, nested', () => {
  const src = `${H}gate rot(a, b) q { rz(a) q; ry(b/2) q; }\ngate pair(t) x, y { rot(t, 2*t) x; cx x, y; }\nqreg q[2];\npair(pi/4) q[1], q[0];\n`;
  const c = bindProgram(parseQasm(src));
  assert.deepEqual(
    c.instructions.map((i) => (i.kind === 'gate' ? [i.name, i.qubits, i.params.map((x) => +x.toFixed(12))] : i.kind)),
    [
      ['rz', [1], [+(Math.PI / 4).toFixed(12)]],
      ['ry', [1], [+(Math.PI / 4).toFixed(12)]],
      ['cx', [1, 0], []],
    ],
  );
});

test('a missing OPENQASM header is accepted, with a note', () => {
  const r = runQasmSync('include "qelib1.inc";\nqreg q[1];\nx q[0];\n');
  assert.deepEqual(r.probabilities, { '1': 1 });
  assert.match(r.notes.join(' '), /no 'OPENQASM 2.0;' header/);
});

test('expressions: precedence, unary minus, power, functions', () => {
  const c = bindProgram(parseQasm(`${H}qreg q[1];\nU(-pi/2 + 2*3^2, sqrt(4)*cos(0), ln(exp(1.5)) - -1) q[0];\n`));
  const g = c.instructions[0];
  assert.ok(g?.kind === 'gate');
  assert.ok(Math.abs((g.params[0] as number) - (-Math.PI / 2 + 18)) < 1e-12);
  assert.equal(g.params[1], 2);
  assert.ok(Math.abs((g.params[2] as number) - 2.5) < 1e-12);
});

test('free parameters are bound at run time and refused when missing', () => {
  const src = `${H}qreg q[1];\nrx(theta) q[0];\n`;
  assert.deepEqual(parseQasm(src).freeParameters, ['theta']);
  const r = runQasmSync(src, { parameters: { theta: Math.PI } });
  assert.ok(Math.abs((r.probabilities['1'] ?? 0) - 1) < 1e-12);
  refused(src, /line 4, column 4/, /unknown identifier 'theta'/);
});

test('redefining a qelib1 gate (a pasted qelib1.inc) keeps the built-in', () => {
  const r = runQasmSync(`OPENQASM 2.0;\ngate h a { u2(0,pi) a; }\ngate x a { u3(pi,0,pi) a; }\nqreg q[1];\nx q[0];\n`);
  assert.deepEqual(r.probabilities, { '1': 1 });
});

test('bad input: malformed QASM says where and what was expected', () => {
  refused(`${H}qreg q[2]\nh q[0];\n`, /line 3, column 10/, /expected ';' after the qreg declaration, found 'h' on line 4/);
  refused(`${H}qreg q[2];\ncx q[0] q[1];\n`, /line 4, column 8/, /expected ';'/);
  refused(`${H}qreg q[2];\nh q[0;\n`, /line 4, column 6/, /expected '\]' after the index, found ';'/);
  refused(`${H}qreg q[1];\nrx(1+) q[0];\n`, /line 4, column 6/, /expected a number, pi, a parameter/);
  refused(`${H}qreg q[1];\nh q[0]; $\n`, /line 4, column 9/, /unexpected character '\$'/);
  refused(`OPENQASM 3.0;\nqubit q;\n`, /line 1, column 10/, /OpenQASM 3.0 is not supported/);
  refused(`${H}qreg q[1];\ngate g a { h a;\n`, /expected '}' to close the body of gate 'g'/);
  refused(`${H}include "mylib.inc";\n`, /line 3, column 9/, /only "qelib1.inc" is built in/);
  refused(`${H}qreg q[1];\n/* never closed\n`, /unterminated \/\* comment/);
});

test('bad input: unknown gates and opaque gates', () => {
  refused(`${H}qreg q[1];\nfoo q[0];\n`, /line 4, column 1/, /unknown gate 'foo'/);
  refused(`${H}gate g a { bar a; }\n`, /line 3, column 12/, /unknown gate 'bar'/);
  refused(`${H}opaque magic a;\nqreg q[1];\nmagic q[0];\n`, /line 5, column 1/, /declared opaque/);
});

test('bad input: wrong arity (qubits and parameters)', () => {
  refused(`${H}qreg q[2];\ncx q[0];\n`, /line 4, column 1/, /gate 'cx' takes 2 qubits, got 1/);
  refused(`${H}qreg q[1];\nrx q[0];\n`, /gate 'rx' takes 1 parameter, got 0/);
  refused(`${H}qreg q[1];\nh(0.5) q[0];\n`, /gate 'h' takes 0 parameters, got 1/);
  refused(`${H}gate g(a) x { rx(a) x; }\nqreg q[1];\ng q[0];\n`, /gate 'g' takes 1 parameter, got 0/);
  refused(`${H}qreg q[2];\ncx q[0], q[0];\n`, /applied to the same qubit twice \(q\[0\]\)/);
  refused(`${H}qreg a[2];\nqreg b[3];\ncx a, b;\n`, /registers of different sizes/);
});

test('bad input: out-of-range indices and unknown registers', () => {
  refused(`${H}qreg q[3];\nh q[3];\n`, /line 4, column 5/, /index q\[3\] is out of range: qreg q has 3 qubits \(q\[0\]\.\.q\[2\]\)/);
  refused(`${H}qreg q[1];\ncreg c[1];\nmeasure q[0] -> c[1];\n`, /index c\[1\] is out of range: creg c has 1 bits/);
  refused(`${H}qreg q[1];\nh r[0];\n`, /unknown quantum register 'r'/);
  refused(`${H}qreg q[1];\ncreg c[1];\nh c[0];\n`, /'c' is a classical register/);
  refused(`${H}qreg q[1];\ncreg c[2];\nif(c==4) x q[0];\n`, /register 'c' has 2 bits, so it can never equal 4/);
  refused(`${H}qreg q[2];\ncreg c[1];\nmeasure q -> c;\n`, /measure needs registers of the same size/);
});

test('bad input: NaN and infinite parameters', () => {
  refused(`${H}qreg q[1];\nrx(0/0) q[0];\n`, /line 4, column 5/, /parameter 1 of 'rx' .* evaluates to NaN/);
  refused(`${H}qreg q[1];\nrz(1/0) q[0];\n`, /evaluates to Infinity/);
  refused(`${H}qreg q[1];\nry(ln(0)) q[0];\n`, /evaluates to -Infinity/);
  refused(`${H}qreg q[1];\nu1(sqrt(-1)) q[0];\n`, /evaluates to NaN/);
  assert.throws(() => runQasmSync(`${H}qreg q[1];\nrx(t) q[0];\n`, { parameters: { t: Number.NaN } }), /circuit parameter 't' must be a finite number, got NaN/);
});

test('bad input: circuits too large for memory are refused before allocating, with the numbers', () => {
  const msg = refused(`${H}qreg q[34];\nh q;\n`, /34-qubit state vector/, /at most 30 qubits/);
  assert.doesNotMatch(msg, /undefined|NaN/);
  assert.throws(
    () => runQasmSync(`${H}qreg q[24];\nh q;\n`, { memoryLimitBytes: 64 * 2 ** 20 }),
    (e: unknown) => {
      assert.ok(isStrataError(e));
      assert.equal(e.code, 'payload_too_large');
      assert.match(e.message, /a 24-qubit simulation needs 384\.0 MiB \(1 × 256\.0 MiB state vector \(2\^24 amplitudes × 16 bytes, complex128\) \+ 128\.0 MiB for probabilities and sampling\) but the memory limit is 64\.0 MiB; use precision complex64/);
      return true;
    },
  );
  refused(`${H}qreg q[5000];\n`, /at most 4096 are accepted/);
});
