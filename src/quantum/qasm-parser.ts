// OpenQASM 2.0 → a flat program of built-in gate applications, measurements, resets and barriers.
// User `gate` definitions are expanded at parse time (substituting parameter expressions), register
// arguments are broadcast, and every reference is checked. Parameter expressions stay symbolic until
// `bindProgram`, so a variational loop parses once and binds many times; identifiers that are not
// gate parameters become free circuit parameters (an extension: `rx(theta) q[0];`).
//
// Lenient where real files need it (QASMBench's sat_n11 has no `OPENQASM 2.0;` header; Qiskit's
// extended gates are known with or without `include "qelib1.inc";`), strict everywhere else: each
// error says where (line, column) and what was expected.
import type { StrataError } from '../kernel/index.ts';
import { BUILTIN_GATES, LIBRARY_QASM } from './gate-library.ts';
import type { Token } from './qasm-lexer.ts';
import { describeToken, qasmError, tokenize } from './qasm-lexer.ts';

/** Where something came from in the source. */
export interface SourcePos {
  readonly line: number;
  readonly column: number;
}

export type Expr =
  | { readonly k: 'num'; readonly v: number; readonly pos: SourcePos }
  | { readonly k: 'free'; readonly name: string; readonly pos: SourcePos }
  | { readonly k: 'neg'; readonly e: Expr; readonly pos: SourcePos }
  | { readonly k: 'bin'; readonly op: '+' | '-' | '*' | '/' | '^'; readonly l: Expr; readonly r: Expr; readonly pos: SourcePos }
  | { readonly k: 'call'; readonly fn: UnaryFn; readonly arg: Expr; readonly pos: SourcePos };

type UnaryFn = 'sin' | 'cos' | 'tan' | 'exp' | 'ln' | 'sqrt' | 'asin' | 'acos' | 'atan';
const FUNCTIONS: ReadonlySet<string> = new Set<UnaryFn>(['sin', 'cos', 'tan', 'exp', 'ln', 'sqrt', 'asin', 'acos', 'atan']);

/** `if (creg == value)`. */
export interface Condition {
  readonly creg: string;
  /** Offset of the register's bit 0 in the flat classical memory. */
  readonly offset: number;
  readonly size: number;
  readonly value: number;
}

export type ProgramStatement =
  | { readonly kind: 'gate'; readonly name: string; readonly qubits: readonly number[]; readonly params: readonly Expr[]; readonly condition?: Condition; readonly pos: SourcePos }
  | { readonly kind: 'measure'; readonly qubit: number; readonly clbit: number; readonly condition?: Condition; readonly pos: SourcePos }
  | { readonly kind: 'reset'; readonly qubit: number; readonly condition?: Condition; readonly pos: SourcePos }
  | { readonly kind: 'barrier'; readonly qubits: readonly number[]; readonly pos: SourcePos };

export interface Register {
  readonly name: string;
  readonly size: number;
  /** Index of the register's element 0 in the flat qubit (or clbit) numbering. */
  readonly offset: number;
}

/** A parsed program: parameter expressions unevaluated. */
export interface QasmProgram {
  readonly qregs: readonly Register[];
  readonly cregs: readonly Register[];
  readonly numQubits: number;
  readonly numClbits: number;
  readonly statements: readonly ProgramStatement[];
  /** Identifiers used as parameters that the program does not define, in order of first use. */
  readonly freeParameters: readonly string[];
  /** False when the source had no `OPENQASM 2.0;` line (accepted; reported for the user). */
  readonly hadHeader: boolean;
}

export interface ParseLimits {
  /** Most qubits (or clbits) a program may declare in total. Default 4096. */
  readonly maxRegisterBits?: number;
  /** Most statements after gate expansion and broadcasting. Default 5,000,000. */
  readonly maxStatements?: number;
}

interface GateDef {
  readonly name: string;
  readonly params: readonly string[];
  readonly args: readonly string[];
  /** undefined for `opaque`. */
  readonly body: readonly BodyCall[] | undefined;
  readonly pos: SourcePos;
}

interface BodyCall {
  readonly name: string;
  readonly params: readonly Expr[];
  /** Indices into the enclosing gate's qubit arguments. */
  readonly args: readonly number[];
  readonly pos: SourcePos;
  readonly barrier: boolean;
}

/** A qubit/clbit argument: a whole register or one element. */
interface Arg {
  readonly reg: Register;
  readonly index: number | undefined;
  readonly pos: SourcePos;
}

const pos = (t: Token): SourcePos => ({ line: t.line, column: t.column });
const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

class Parser {
  private i = 0;
  private readonly gates = new Map<string, GateDef>();
  /** Gates defined by the built-in library source (rccx, rc3x). */
  readonly libraryGates = new Set<string>();
  private readonly qregs: Register[] = [];
  private readonly cregs: Register[] = [];
  private numQubits = 0;
  private numClbits = 0;
  private readonly out: ProgramStatement[] = [];
  private readonly free: string[] = [];
  private readonly maxBits: number;
  private readonly maxStatements: number;

  constructor(
    private toks: Token[],
    limits: ParseLimits,
  ) {
    this.maxBits = limits.maxRegisterBits ?? 4096;
    this.maxStatements = limits.maxStatements ?? 5_000_000;
  }

  // ------------------------------------------------------------------ token helpers
  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)] as Token;
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i += 1;
    return t;
  }
  private isSym(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'symbol' && t.text === text;
  }
  private fail(t: Token, message: string): StrataError {
    return qasmError(t.line, t.column, message, { found: t.kind === 'eof' ? 'end of input' : t.text });
  }
  private expectSym(text: string, context: string): Token {
    const prev = this.i > 0 ? this.toks[this.i - 1] : undefined;
    const t = this.next();
    if (t.kind !== 'symbol' || t.text !== text) {
      // Point just after the previous token: where the missing symbol belongs ("end of line 3").
      const at = prev === undefined ? t : { ...prev, column: prev.column + prev.text.length + (prev.kind === 'string' ? 2 : 0) };
      throw qasmError(at.line, at.column, `expected '${text}' ${context}, found ${describeToken(t)}${prev !== undefined && t.line !== prev.line ? ` on line ${t.line}` : ''}`, { found: t.kind === 'eof' ? 'end of input' : t.text });
    }
    return t;
  }
  private expectId(context: string): Token {
    const t = this.next();
    if (t.kind !== 'id') throw this.fail(t, `expected ${context}, found ${describeToken(t)}`);
    return t;
  }
  private expectInt(context: string): { value: number; tok: Token } {
    const t = this.next();
    if (t.kind !== 'int') throw this.fail(t, `expected ${context} (a non-negative integer), found ${describeToken(t)}`);
    const value = Number(t.text);
    if (!Number.isSafeInteger(value)) throw this.fail(t, `${context} ${t.text} is too large`);
    return { value, tok: t };
  }

  // ------------------------------------------------------------------ program
  parseLibrary(): void {
    while (this.peek().kind !== 'eof') this.statement();
    for (const name of this.gates.keys()) this.libraryGates.add(name);
  }

  parse(): { hadHeader: boolean } {
    let hadHeader = false;
    const first = this.peek();
    if (first.kind === 'id' && first.text === 'OPENQASM') {
      this.next();
      const v = this.next();
      if (v.kind !== 'real' && v.kind !== 'int') throw this.fail(v, `expected a version number after OPENQASM, found ${describeToken(v)}`);
      if (Number(v.text) !== 2) throw this.fail(v, `OpenQASM ${v.text} is not supported: this engine reads OpenQASM 2.0 (write 'OPENQASM 2.0;')`);
      this.expectSym(';', 'after the OPENQASM version');
      hadHeader = true;
    }
    while (this.peek().kind !== 'eof') this.statement();
    return { hadHeader };
  }

  private statement(): void {
    const t = this.peek();
    if (t.kind === 'symbol' && t.text === ';') {
      this.next(); // a stray empty statement
      return;
    }
    if (t.kind !== 'id') throw this.fail(t, `expected a statement (qreg, creg, gate, measure, reset, barrier, if, or a gate application), found ${describeToken(t)}`);
    switch (t.text) {
      case 'OPENQASM':
        throw this.fail(t, "'OPENQASM' may only appear once, as the first statement");
      case 'include':
        return this.include();
      case 'qreg':
      case 'creg':
        return this.register(t.text);
      case 'gate':
        return this.gateDef(false);
      case 'opaque':
        return this.gateDef(true);
      case 'if':
        return this.ifStatement();
      default:
        return this.qop(undefined);
    }
  }

  private include(): void {
    this.next();
    const f = this.next();
    if (f.kind !== 'string') throw this.fail(f, `expected a file name in double quotes after include, found ${describeToken(f)}`);
    if (f.text !== 'qelib1.inc') {
      throw this.fail(f, `cannot include "${f.text}": only "qelib1.inc" is built in (the engine reads no files); paste the gate definitions into the circuit instead`);
    }
    this.expectSym(';', 'after the include file name');
  }

  private register(kind: 'qreg' | 'creg'): void {
    this.next();
    const name = this.expectId(`a register name after ${kind}`);
    this.checkNewName(name);
    this.expectSym('[', `after the register name '${name.text}'`);
    const { value: size, tok } = this.expectInt('the register size');
    if (size < 1) throw this.fail(tok, `register '${name.text}' must have at least 1 bit`);
    this.expectSym(']', 'after the register size');
    this.expectSym(';', `after the ${kind} declaration`);
    const total = (kind === 'qreg' ? this.numQubits : this.numClbits) + size;
    if (total > this.maxBits) {
      throw this.fail(tok, `${kind} '${name.text}' brings the program to ${total} ${kind === 'qreg' ? 'qubits' : 'classical bits'}; at most ${this.maxBits} are accepted`);
    }
    if (kind === 'qreg') {
      this.qregs.push({ name: name.text, size, offset: this.numQubits });
      this.numQubits += size;
    } else {
      this.cregs.push({ name: name.text, size, offset: this.numClbits });
      this.numClbits += size;
    }
  }

  private checkNewName(t: Token): void {
    if (this.qregs.some((r) => r.name === t.text) || this.cregs.some((r) => r.name === t.text)) throw this.fail(t, `'${t.text}' is already declared as a register`);
    if (this.gates.has(t.text) || BUILTIN_GATES.has(t.text)) throw this.fail(t, `'${t.text}' is already the name of a gate`);
  }

  // ------------------------------------------------------------------ gate definitions
  private gateDef(opaque: boolean): void {
    const kw = this.next();
    const name = this.expectId(`a gate name after ${kw.text}`);
    if (BUILTIN_GATES.has(name.text) || this.libraryGates.has(name.text)) {
      // Redefining a qelib1 gate (a file that pastes qelib1.inc) keeps the built-in, which is exact.
      this.skipDefinition(opaque);
      return;
    }
    const earlier = this.gates.get(name.text);
    if (earlier !== undefined) throw this.fail(name, `gate '${name.text}' is already defined at line ${earlier.pos.line}`);
    if (this.qregs.some((r) => r.name === name.text) || this.cregs.some((r) => r.name === name.text)) throw this.fail(name, `'${name.text}' is already declared as a register`);
    const params: string[] = [];
    if (this.isSym('(')) {
      this.next();
      if (!this.isSym(')')) {
        for (;;) {
          const p = this.expectId('a parameter name');
          if (params.includes(p.text)) throw this.fail(p, `parameter '${p.text}' is declared twice in gate '${name.text}'`);
          params.push(p.text);
          if (this.isSym(',')) this.next();
          else break;
        }
      }
      this.expectSym(')', `to close the parameter list of gate '${name.text}'`);
    }
    const args: string[] = [];
    for (;;) {
      const a = this.expectId(`a qubit argument name for gate '${name.text}'`);
      if (args.includes(a.text)) throw this.fail(a, `qubit argument '${a.text}' is declared twice in gate '${name.text}'`);
      args.push(a.text);
      if (this.isSym(',')) this.next();
      else break;
    }
    if (opaque) {
      this.expectSym(';', `after the opaque declaration of '${name.text}'`);
      this.gates.set(name.text, { name: name.text, params, args, body: undefined, pos: pos(name) });
      return;
    }
    this.expectSym('{', `to open the body of gate '${name.text}'`);
    const body: BodyCall[] = [];
    while (!this.isSym('}')) {
      const t = this.peek();
      if (t.kind === 'eof') throw this.fail(t, `expected '}' to close the body of gate '${name.text}'`);
      body.push(this.bodyCall(name.text, params, args));
    }
    this.next();
    this.gates.set(name.text, { name: name.text, params, args, body, pos: pos(name) });
  }

  private skipDefinition(opaque: boolean): void {
    if (opaque) {
      while (!this.isSym(';') && this.peek().kind !== 'eof') this.next();
      this.expectSym(';', 'after the opaque declaration');
      return;
    }
    while (!this.isSym('{') && this.peek().kind !== 'eof') this.next();
    this.expectSym('{', 'to open the gate body');
    while (!this.isSym('}')) {
      if (this.peek().kind === 'eof') throw this.fail(this.peek(), "expected '}' to close the gate body");
      this.next();
    }
    this.next();
  }

  private bodyCall(gate: string, params: readonly string[], args: readonly string[]): BodyCall {
    const t = this.expectId(`a gate application or barrier inside gate '${gate}'`);
    if (t.text === 'barrier') {
      const list = this.bodyArgs(gate, args, 'barrier');
      this.expectSym(';', 'after barrier');
      return { name: 'barrier', params: [], args: list, pos: pos(t), barrier: true };
    }
    if (['measure', 'reset', 'if', 'qreg', 'creg', 'gate', 'opaque'].includes(t.text)) throw this.fail(t, `'${t.text}' is not allowed inside a gate body (gate '${gate}'): only gate applications and barrier are`);
    const exprs = this.isSym('(') ? this.paramList(params) : [];
    const list = this.bodyArgs(gate, args, t.text);
    this.expectSym(';', `after the arguments of '${t.text}'`);
    this.checkGateUse(t, exprs.length, list.length);
    const dup = list.find((a, i) => list.indexOf(a) !== i);
    if (dup !== undefined) throw this.fail(t, `qubit argument '${args[dup] ?? ''}' is used twice in '${t.text}'`);
    return { name: t.text, params: exprs, args: list, pos: pos(t), barrier: false };
  }

  private bodyArgs(gate: string, args: readonly string[], what: string): number[] {
    const out: number[] = [];
    for (;;) {
      const a = this.expectId(`a qubit argument of '${what}'`);
      if (this.isSym('[')) throw this.fail(this.peek(), `inside gate '${gate}' qubits are named by argument (${args.join(', ')}), not indexed`);
      const k = args.indexOf(a.text);
      if (k < 0) throw this.fail(a, `'${a.text}' is not a qubit argument of gate '${gate}' (its arguments are ${args.join(', ')})`);
      out.push(k);
      if (this.isSym(',')) this.next();
      else break;
    }
    return out;
  }

  /** Checks that `name` is a known, applicable gate with this many parameters and qubits. */
  private checkGateUse(t: Token, nParams: number, nQubits: number): void {
    const b = BUILTIN_GATES.get(t.text);
    const u = this.gates.get(t.text);
    if (b === undefined && u === undefined) {
      throw this.fail(t, `unknown gate '${t.text}': not in qelib1.inc or Qiskit's extended gate set, and not defined with 'gate' before this line`);
    }
    const wantP = b?.params ?? u?.params.length ?? 0;
    const wantQ = b?.qubits ?? u?.args.length ?? 0;
    if (nParams !== wantP) throw this.fail(t, `gate '${t.text}' takes ${plural(wantP, 'parameter')}, got ${nParams}`);
    if (nQubits !== wantQ) throw this.fail(t, `gate '${t.text}' takes ${plural(wantQ, 'qubit')}, got ${nQubits}`);
  }

  // ------------------------------------------------------------------ expressions
  private paramList(scope: readonly string[] | undefined): Expr[] {
    this.expectSym('(', 'to open the parameter list');
    const out: Expr[] = [];
    if (!this.isSym(')')) {
      for (;;) {
        out.push(this.expr(scope));
        if (this.isSym(',')) this.next();
        else break;
      }
    }
    this.expectSym(')', 'to close the parameter list');
    return out;
  }

  // expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ; unary := '-' unary | power ;
  // power := atom ('^' unary)?
  private expr(scope: readonly string[] | undefined): Expr {
    let l = this.term(scope);
    while (this.isSym('+') || this.isSym('-')) {
      const op = this.next();
      l = { k: 'bin', op: op.text as '+' | '-', l, r: this.term(scope), pos: pos(op) };
    }
    return l;
  }
  private term(scope: readonly string[] | undefined): Expr {
    let l = this.unary(scope);
    while (this.isSym('*') || this.isSym('/')) {
      const op = this.next();
      l = { k: 'bin', op: op.text as '*' | '/', l, r: this.unary(scope), pos: pos(op) };
    }
    return l;
  }
  private unary(scope: readonly string[] | undefined): Expr {
    if (this.isSym('-')) {
      const t = this.next();
      return { k: 'neg', e: this.unary(scope), pos: pos(t) };
    }
    if (this.isSym('+')) this.next();
    const base = this.atom(scope);
    if (this.isSym('^')) {
      const op = this.next();
      return { k: 'bin', op: '^', l: base, r: this.unary(scope), pos: pos(op) };
    }
    return base;
  }
  private atom(scope: readonly string[] | undefined): Expr {
    const t = this.next();
    if (t.kind === 'int' || t.kind === 'real') return { k: 'num', v: Number(t.text), pos: pos(t) };
    if (t.kind === 'symbol' && t.text === '(') {
      const e = this.expr(scope);
      this.expectSym(')', 'to close the parenthesised expression');
      return e;
    }
    if (t.kind === 'id') {
      if (t.text === 'pi') return { k: 'num', v: Math.PI, pos: pos(t) };
      if (FUNCTIONS.has(t.text)) {
        this.expectSym('(', `after the function name '${t.text}'`);
        const arg = this.expr(scope);
        this.expectSym(')', `to close the argument of ${t.text}`);
        return { k: 'call', fn: t.text as UnaryFn, arg, pos: pos(t) };
      }
      // Inside a gate body: one of its parameters (a placeholder substituted at expansion).
      if (scope !== undefined && scope.includes(t.text)) return { k: 'free', name: `\u0000${scope.indexOf(t.text)}`, pos: pos(t) };
      if (!this.free.includes(t.text)) this.free.push(t.text);
      return { k: 'free', name: t.text, pos: pos(t) };
    }
    throw this.fail(t, `expected a number, pi, a parameter, a function (sin, cos, tan, exp, ln, sqrt) or '(', found ${describeToken(t)}`);
  }

  // ------------------------------------------------------------------ quantum operations
  private ifStatement(): void {
    const kw = this.next();
    this.expectSym('(', "after 'if'");
    const reg = this.expectId('a classical register name in the if condition');
    const creg = this.cregs.find((r) => r.name === reg.text);
    if (creg === undefined) {
      const q = this.qregs.some((r) => r.name === reg.text);
      throw this.fail(reg, q ? `'${reg.text}' is a quantum register; if() compares a classical register` : `unknown classical register '${reg.text}' in the if condition`);
    }
    if (this.isSym('[')) throw this.fail(this.peek(), 'OpenQASM 2.0 compares a whole classical register in if(c==n), not one bit');
    this.expectSym('==', 'in the if condition (OpenQASM 2.0 supports only creg == integer)');
    const { value, tok } = this.expectInt('the value to compare with');
    if (creg.size < 53 && value >= 2 ** creg.size) throw this.fail(tok, `register '${creg.name}' has ${creg.size} bits, so it can never equal ${value}`);
    this.expectSym(')', 'to close the if condition');
    const next = this.peek();
    if (next.kind !== 'id' || ['if', 'qreg', 'creg', 'gate', 'opaque', 'include', 'barrier'].includes(next.text)) {
      throw this.fail(next, `expected a gate application, measure or reset after if(...) at line ${kw.line}, found ${describeToken(next)}`);
    }
    this.qop({ creg: creg.name, offset: creg.offset, size: creg.size, value });
  }

  private qop(condition: Condition | undefined): void {
    const t = this.next();
    const cond = condition === undefined ? {} : { condition };
    if (t.text === 'measure') {
      const q = this.arg('q', 'a qubit or quantum register to measure');
      this.expectSym('->', 'between the measured qubit and the classical bit');
      const c = this.arg('c', 'a classical bit or register to measure into');
      this.expectSym(';', 'after measure');
      const qs = this.expand(q);
      const cs = this.expand(c);
      if (qs.length !== cs.length) throw qasmError(q.pos.line, q.pos.column, `measure needs registers of the same size: ${q.reg.name} has ${qs.length} qubits, ${c.reg.name} has ${cs.length} bits`);
      for (let k = 0; k < qs.length; k++) this.emit({ kind: 'measure', qubit: qs[k] as number, clbit: cs[k] as number, ...cond, pos: pos(t) });
      return;
    }
    if (t.text === 'reset') {
      const q = this.arg('q', 'a qubit or quantum register to reset');
      this.expectSym(';', 'after reset');
      for (const qubit of this.expand(q)) this.emit({ kind: 'reset', qubit, ...cond, pos: pos(t) });
      return;
    }
    if (t.text === 'barrier') {
      const args = this.argList('q', 'barrier');
      this.expectSym(';', 'after the barrier arguments');
      this.emit({ kind: 'barrier', qubits: args.flatMap((a) => this.expand(a)), pos: pos(t) });
      return;
    }
    // A gate application.
    const exprs = this.isSym('(') ? this.paramList(undefined) : [];
    const args = this.argList('q', t.text);
    this.expectSym(';', `after the arguments of '${t.text}'`);
    this.checkGateUse(t, exprs.length, args.length);
    // Broadcast: whole registers must agree in size; single qubits repeat.
    let width = 1;
    for (const a of args) {
      if (a.index !== undefined) continue;
      if (width !== 1 && a.reg.size !== width) throw qasmError(a.pos.line, a.pos.column, `registers of different sizes in '${t.text}': ${a.reg.name} has ${a.reg.size} qubits, another argument has ${width}`);
      width = a.reg.size;
    }
    for (let k = 0; k < width; k++) {
      const qubits = args.map((a) => a.reg.offset + (a.index ?? k));
      const dup = qubits.find((x, i) => qubits.indexOf(x) !== i);
      if (dup !== undefined) throw this.fail(t, `'${t.text}' is applied to the same qubit twice (${this.qubitName(dup)})`);
      this.applyGate(t, t.text, exprs, qubits, condition, [], 0);
    }
  }

  private qubitName(flat: number): string {
    const r = this.qregs.find((x) => flat >= x.offset && flat < x.offset + x.size);
    return r === undefined ? `#${flat}` : `${r.name}[${flat - r.offset}]`;
  }

  private applyGate(at: Token, name: string, params: readonly Expr[], qubits: readonly number[], condition: Condition | undefined, via: readonly string[], depth: number): void {
    if (BUILTIN_GATES.has(name)) {
      this.emit({ kind: 'gate', name, qubits, params, ...(condition === undefined ? {} : { condition }), pos: pos(at) });
      return;
    }
    const def = this.gates.get(name);
    if (def === undefined) throw this.fail(at, `unknown gate '${name}'`);
    if (def.body === undefined) {
      throw this.fail(at, `gate '${name}' is declared opaque (line ${def.pos.line}) and has no definition, so it cannot be simulated${via.length > 0 ? ` (reached through ${via.join(' → ')})` : ''}`);
    }
    if (depth > 64) throw this.fail(at, `gate definitions nest more than 64 deep (${[...via, name].join(' → ')})`);
    for (const call of def.body) {
      if (call.barrier) continue;
      const sub = call.params.map((e) => substitute(e, params));
      this.applyGate(at, call.name, sub, call.args.map((a) => qubits[a] as number), condition, [...via, name], depth + 1);
    }
  }

  private emit(s: ProgramStatement): void {
    if (this.out.length >= this.maxStatements) {
      throw qasmError(s.pos.line, s.pos.column, `the program expands to more than ${this.maxStatements.toLocaleString('en-US')} operations after gate expansion and broadcasting; split the circuit or raise the limit`);
    }
    this.out.push(s);
  }

  private argList(kind: 'q', what: string): Arg[] {
    const out: Arg[] = [];
    for (;;) {
      out.push(this.arg(kind, `a qubit or quantum register argument of '${what}'`));
      if (this.isSym(',')) this.next();
      else break;
    }
    return out;
  }

  private arg(kind: 'q' | 'c', context: string): Arg {
    const t = this.expectId(context);
    const regs = kind === 'q' ? this.qregs : this.cregs;
    const reg = regs.find((r) => r.name === t.text);
    if (reg === undefined) {
      const other = (kind === 'q' ? this.cregs : this.qregs).some((r) => r.name === t.text);
      const what = kind === 'q' ? 'quantum' : 'classical';
      throw this.fail(t, other ? `'${t.text}' is a ${kind === 'q' ? 'classical' : 'quantum'} register; expected ${context}` : `unknown ${what} register '${t.text}' (declare it with ${kind}reg first)`);
    }
    let index: number | undefined;
    if (this.isSym('[')) {
      this.next();
      const { value, tok } = this.expectInt('an index');
      if (value >= reg.size) throw this.fail(tok, `index ${t.text}[${value}] is out of range: ${kind}reg ${reg.name} has ${reg.size} ${kind === 'q' ? 'qubits' : 'bits'} (${reg.name}[0]..${reg.name}[${reg.size - 1}])`);
      index = value;
      this.expectSym(']', 'after the index');
    }
    return { reg, index, pos: pos(t) };
  }

  private expand(a: Arg): number[] {
    if (a.index !== undefined) return [a.reg.offset + a.index];
    return Array.from({ length: a.reg.size }, (_, k) => a.reg.offset + k);
  }

  result(hadHeader: boolean): QasmProgram {
    return {
      qregs: this.qregs,
      cregs: this.cregs,
      numQubits: this.numQubits,
      numClbits: this.numClbits,
      statements: this.out,
      freeParameters: this.free,
      hadHeader,
    };
  }

  /** Continues with another token stream, keeping the gate definitions (library first, then user). */
  withTokens(toks: Token[]): this {
    this.toks = toks;
    this.i = 0;
    return this;
  }
}

/** Replaces gate-parameter placeholders with the call's argument expressions. */
function substitute(e: Expr, args: readonly Expr[]): Expr {
  switch (e.k) {
    case 'num':
      return e;
    case 'free':
      if (e.name.startsWith('\u0000')) return args[Number(e.name.slice(1))] ?? e;
      return e;
    case 'neg':
      return { ...e, e: substitute(e.e, args) };
    case 'bin':
      return { ...e, l: substitute(e.l, args), r: substitute(e.r, args) };
    case 'call':
      return { ...e, arg: substitute(e.arg, args) };
  }
}

let libraryTokens: Token[] | undefined;

/**
 * Parses OpenQASM 2.0 source. Throws a bad_request StrataError whose message starts with
 * `OpenQASM line L, column C:` on the first problem.
 */
export function parseQasm(source: string, limits: ParseLimits = {}): QasmProgram {
  if (typeof source !== 'string') throw qasmError(1, 1, 'expected OpenQASM source text');
  libraryTokens ??= tokenize(LIBRARY_QASM);
  const p = new Parser(libraryTokens, limits);
  p.parseLibrary();
  const { hadHeader } = p.withTokens(tokenize(source)).parse();
  return p.result(hadHeader);
}

/** Evaluates a parameter expression; free identifiers come from `values`. */
export function evaluate(e: Expr, values: Readonly<Record<string, number>>): number {
  switch (e.k) {
    case 'num':
      return e.v;
    case 'free': {
      const v = values[e.name];
      if (v === undefined) {
        throw qasmError(e.pos.line, e.pos.column, `unknown identifier '${e.name}' in a parameter expression: expected a number, pi, or a circuit parameter bound when the circuit is run`, { parameter: e.name });
      }
      return v;
    }
    case 'neg':
      return -evaluate(e.e, values);
    case 'bin': {
      const l = evaluate(e.l, values);
      const r = evaluate(e.r, values);
      switch (e.op) {
        case '+':
          return l + r;
        case '-':
          return l - r;
        case '*':
          return l * r;
        case '/':
          return l / r;
        case '^':
          return l ** r;
      }
      break;
    }
    case 'call': {
      const x = evaluate(e.arg, values);
      switch (e.fn) {
        case 'sin':
          return Math.sin(x);
        case 'cos':
          return Math.cos(x);
        case 'tan':
          return Math.tan(x);
        case 'exp':
          return Math.exp(x);
        case 'ln':
          return Math.log(x);
        case 'sqrt':
          return Math.sqrt(x);
        case 'asin':
          return Math.asin(x);
        case 'acos':
          return Math.acos(x);
        case 'atan':
          return Math.atan(x);
      }
    }
  }
}
