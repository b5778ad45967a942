// OpenQASM 2.0 tokens with their line and column, so every parse error can point at the exact
// place in the source (issue 6: "errors carry line and column and say what was expected").
import { StrataError } from '../kernel/index.ts';

export type TokenKind = 'id' | 'int' | 'real' | 'string' | 'symbol' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** The token's text (for 'string' without the quotes). */
  readonly text: string;
  readonly line: number;
  readonly column: number;
}

/** A QASM error: a 400 whose message starts with `line L, column C:` and whose details repeat them. */
export function qasmError(line: number, column: number, message: string, details: Record<string, unknown> = {}): StrataError {
  return new StrataError('bad_request', `OpenQASM line ${line}, column ${column}: ${message}`, { details: { line, column, ...details } });
}

/** How a token reads in an error message. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'string':
      return `"${t.text}"`;
    case 'id':
    case 'int':
    case 'real':
    case 'symbol':
      return `'${t.text}'`;
  }
}

const SYMBOLS2 = new Set(['->', '==']);
const SYMBOLS1 = new Set([';', ',', '(', ')', '[', ']', '{', '}', '+', '-', '*', '/', '^']);

/** Splits QASM source into tokens; `//` and `/* *\/` comments are skipped. */
export function tokenize(source: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  const n = source.length;
  const advance = (k: number): void => {
    for (let j = 0; j < k; j++) {
      if (source.charCodeAt(i) === 10) {
        line += 1;
        col = 1;
      } else col += 1;
      i += 1;
    }
  };
  while (i < n) {
    const c = source[i] as string;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f' || c === '\v' || c === '\ufeff') {
      advance(1);
      continue;
    }
    if (c === '/' && source[i + 1] === '/') {
      while (i < n && source[i] !== '\n') advance(1);
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const l0 = line;
      const c0 = col;
      advance(2);
      while (i < n && !(source[i] === '*' && source[i + 1] === '/')) advance(1);
      if (i >= n) throw qasmError(l0, c0, 'unterminated /* comment: expected */ before the end of input');
      advance(2);
      continue;
    }
    const l0 = line;
    const c0 = col;
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(source[j] as string)) j++;
      out.push({ kind: 'id', text: source.slice(i, j), line: l0, column: c0 });
      advance(j - i);
      continue;
    }
    if (/[0-9.]/.test(c)) {
      const m = /^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(source.slice(i, i + 400));
      if (m === null) throw qasmError(l0, c0, `unexpected character '${c}': expected a number`);
      const text = m[0];
      out.push({ kind: /^[0-9]+$/.test(text) ? 'int' : 'real', text, line: l0, column: c0 });
      advance(text.length);
      continue;
    }
    if (c === '"') {
      const end = source.indexOf('"', i + 1);
      const nl = source.indexOf('\n', i + 1);
      if (end < 0 || (nl >= 0 && nl < end)) throw qasmError(l0, c0, 'unterminated string: expected a closing " on the same line');
      out.push({ kind: 'string', text: source.slice(i + 1, end), line: l0, column: c0 });
      advance(end + 1 - i);
      continue;
    }
    const two = source.slice(i, i + 2);
    if (SYMBOLS2.has(two)) {
      out.push({ kind: 'symbol', text: two, line: l0, column: c0 });
      advance(2);
      continue;
    }
    if (SYMBOLS1.has(c)) {
      out.push({ kind: 'symbol', text: c, line: l0, column: c0 });
      advance(1);
      continue;
    }
    const shown = c.charCodeAt(0) < 32 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c;
    throw qasmError(l0, c0, `unexpected character '${shown}'`);
  }
  out.push({ kind: 'eof', text: '', line, column: col });
  return out;
}
