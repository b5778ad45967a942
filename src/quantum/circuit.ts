// The bound circuit: every parameter a number, every qubit a flat index (qubit 0 = bit 0 of a state
// index). Produced from OpenQASM by `bindProgram`, or built in code with `CircuitBuilder` (variational
// workloads build thousands of these without printing and re-parsing text).
import { badRequest } from '../kernel/index.ts';
import { BUILTIN_GATES } from './gate-library.ts';
import type { Condition, Expr, QasmProgram, Register, SourcePos } from './qasm-parser.ts';
import type { UOp } from './ops.ts';
import { evaluate } from './qasm-parser.ts';
import { qasmError } from './qasm-lexer.ts';

export type Instruction =
  | { readonly kind: 'gate'; readonly name: string; readonly qubits: readonly number[]; readonly params: readonly number[]; readonly condition?: Condition }
  | { readonly kind: 'measure'; readonly qubit: number; readonly clbit: number; readonly condition?: Condition }
  | { readonly kind: 'reset'; readonly qubit: number; readonly condition?: Condition }
  | { readonly kind: 'barrier'; readonly qubits: readonly number[] };

export interface Circuit {
  readonly numQubits: number;
  readonly numClbits: number;
  readonly qregs: readonly Register[];
  readonly cregs: readonly Register[];
  readonly instructions: readonly Instruction[];
}

const where = (p: SourcePos): string => `line ${p.line}, column ${p.column}`;

/**
 * Evaluates every parameter expression of a parsed program. `values` binds its free parameters;
 * a missing binding, NaN or an infinite value is refused with the source position.
 */
export function bindProgram(program: QasmProgram, values: Readonly<Record<string, number>> = {}): Circuit {
  for (const [name, v] of Object.entries(values)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`circuit parameter '${name}' must be a finite number, got ${String(v)}`, { parameter: name });
  }
  const missing = program.freeParameters.filter((p) => values[p] === undefined);
  if (missing.length > 0) {
    let at: SourcePos = { line: 1, column: 1 };
    for (const s of program.statements) {
      const found = s.kind === 'gate' ? s.params.map((e) => mentions(e, missing[0] as string)).find((x) => x !== undefined) : undefined;
      if (found !== undefined) {
        at = found;
        break;
      }
    }
    throw qasmError(at.line, at.column, `unknown identifier${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} in parameter expressions: expected numbers, pi, or circuit parameters bound when the circuit is run`, { parameters: missing });
  }
  const instructions: Instruction[] = [];
  for (const s of program.statements) {
    if (s.kind !== 'gate') {
      instructions.push(s.kind === 'barrier' ? { kind: 'barrier', qubits: s.qubits } : s);
      continue;
    }
    const params = s.params.map((e, k) => {
      const v = evaluate(e, values);
      if (!Number.isFinite(v)) {
        throw qasmError(e.pos.line, e.pos.column, `parameter ${k + 1} of '${s.name}' (applied at ${where(s.pos)}) evaluates to ${String(v)}; gate parameters must be finite numbers`, { gate: s.name });
      }
      return v;
    });
    instructions.push({ kind: 'gate', name: s.name, qubits: s.qubits, params, ...(s.condition === undefined ? {} : { condition: s.condition }) });
  }
  return { numQubits: program.numQubits, numClbits: program.numClbits, qregs: program.qregs, cregs: program.cregs, instructions };
}

/** Where `name` first occurs in an expression, if it does. */
function mentions(e: Expr, name: string): SourcePos | undefined {
  switch (e.k) {
    case 'num':
      return undefined;
    case 'free':
      return e.name === name ? e.pos : undefined;
    case 'neg':
      return mentions(e.e, name);
    case 'bin':
      return mentions(e.l, name) ?? mentions(e.r, name);
    case 'call':
      return mentions(e.arg, name);
  }
}

/** Builds a circuit in code, with the same checks as the parser (known gate, arity, range, finite). */
export class CircuitBuilder {
  private readonly ins: Instruction[] = [];
  readonly numQubits: number;
  readonly numClbits: number;

  constructor(numQubits: number, numClbits = 0) {
    if (!Number.isInteger(numQubits) || numQubits < 1) throw badRequest(`a circuit needs a whole number of qubits ≥ 1, got ${String(numQubits)}`);
    if (!Number.isInteger(numClbits) || numClbits < 0) throw badRequest(`classical bits must be a whole number ≥ 0, got ${String(numClbits)}`);
    this.numQubits = numQubits;
    this.numClbits = numClbits;
  }

  /** Appends a built-in gate (a name from qelib1.inc or Qiskit's extended set). */
  gate(name: string, qubits: readonly number[], params: readonly number[] = []): this {
    const g = BUILTIN_GATES.get(name);
    if (g === undefined) throw badRequest(`unknown gate '${name}'`, { gate: name });
    if (qubits.length !== g.qubits) throw badRequest(`gate '${name}' takes ${g.qubits} qubit(s), got ${qubits.length}`, { gate: name });
    if (params.length !== g.params) throw badRequest(`gate '${name}' takes ${g.params} parameter(s), got ${params.length}`, { gate: name });
    for (const q of qubits) this.checkQubit(q, name);
    if (new Set(qubits).size !== qubits.length) throw badRequest(`gate '${name}' is applied to the same qubit twice (${qubits.join(', ')})`, { gate: name });
    params.forEach((p, k) => {
      if (typeof p !== 'number' || !Number.isFinite(p)) throw badRequest(`parameter ${k + 1} of '${name}' must be a finite number, got ${String(p)}`, { gate: name });
    });
    this.ins.push({ kind: 'gate', name, qubits: [...qubits], params: [...params] });
    return this;
  }

  measure(qubit: number, clbit: number): this {
    this.checkQubit(qubit, 'measure');
    if (!Number.isInteger(clbit) || clbit < 0 || clbit >= this.numClbits) throw badRequest(`classical bit ${String(clbit)} is out of range: the circuit has ${this.numClbits}`);
    this.ins.push({ kind: 'measure', qubit, clbit });
    return this;
  }

  reset(qubit: number): this {
    this.checkQubit(qubit, 'reset');
    this.ins.push({ kind: 'reset', qubit });
    return this;
  }

  private checkQubit(q: number, what: string): void {
    if (!Number.isInteger(q) || q < 0 || q >= this.numQubits) throw badRequest(`qubit ${String(q)} of '${what}' is out of range: the circuit has ${this.numQubits} qubits (0..${this.numQubits - 1})`);
  }

  build(): Circuit {
    const qregs: Register[] = [{ name: 'q', size: this.numQubits, offset: 0 }];
    const cregs: Register[] = this.numClbits > 0 ? [{ name: 'c', size: this.numClbits, offset: 0 }] : [];
    return { numQubits: this.numQubits, numClbits: this.numClbits, qregs, cregs, instructions: [...this.ins] };
  }
}

/** The uops of one bound gate instruction. */
export function gateUops(ins: Extract<Instruction, { kind: 'gate' }>): UOp[] {
  const g = BUILTIN_GATES.get(ins.name);
  if (g === undefined) throw badRequest(`unknown gate '${ins.name}'`);
  return g.ops(ins.params, ins.qubits);
}
