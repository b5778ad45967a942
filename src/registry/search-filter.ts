// MLflow's registry search grammar (SearchModelUtils / SearchModelVersionUtils) as a pure parser:
// comparisons joined by AND only. Registered models: `name` and `tags.<key>` with = != LIKE ILIKE.
// Model versions: also `run_id` (= != IN NOT IN), `source_path` (= != LIKE ILIKE),
// `version_number` (= != > >= < <=) and the aliases `version`. Strings are single- or double-quoted
// (a doubled quote is one quote); keys with other characters are quoted in backticks. Order-by:
// `name`, `creation_timestamp` (alias `timestamp`), `last_updated_timestamp`, and for versions
// `version_number`. Expected failures are returned as results with a position, never thrown.

export type StringOp = '=' | '!=' | 'LIKE' | 'ILIKE';
export type NumericOp = '=' | '!=' | '>' | '>=' | '<' | '<=';
export type SetOp = 'IN' | 'NOT IN';

export type RegistryClause =
  | { readonly kind: 'name'; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'tag'; readonly key: string; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'run-id'; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'run-id-set'; readonly op: SetOp; readonly values: readonly string[] }
  | { readonly kind: 'source-path'; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'version-number'; readonly op: NumericOp; readonly value: number };

export type RegistryOrderKey = 'name' | 'creation_timestamp' | 'last_updated_timestamp' | 'version_number';
export interface RegistryOrderTerm {
  readonly key: RegistryOrderKey;
  readonly ascending: boolean;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: { readonly message: string; readonly position: number } };

class Fail extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

type Token =
  | { readonly t: 'word'; readonly v: string; readonly at: number }
  | { readonly t: 'ident'; readonly v: string; readonly at: number } // backtick-quoted
  | { readonly t: 'string'; readonly v: string; readonly at: number }
  | { readonly t: 'number'; readonly v: number; readonly text: string; readonly at: number }
  | { readonly t: 'op'; readonly v: string; readonly at: number }
  | { readonly t: 'punct'; readonly v: '(' | ')' | ',' | '.'; readonly at: number };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const at = i;
    if (c === "'" || c === '"' || c === '`') {
      let v = '';
      i += 1;
      for (;;) {
        if (i >= s.length) throw new Fail(`unterminated ${c === '`' ? 'quoted identifier' : 'string'}: add the closing ${c}`, at);
        const d = s[i] as string;
        i += 1;
        if (d === c) {
          if (s[i] === c) {
            v += c;
            i += 1;
            continue;
          }
          break;
        }
        v += d;
      }
      out.push(c === '`' ? { t: 'ident', v, at } : { t: 'string', v, at });
      continue;
    }
    const two = s.slice(i, i + 2);
    if (two === '!=' || two === '>=' || two === '<=') {
      out.push({ t: 'op', v: two, at });
      i += 2;
      continue;
    }
    if (two === '==' || two === '<>') throw new Fail(`unsupported comparator '${two}': use = or !=`, at);
    if (c === '=' || c === '>' || c === '<') {
      out.push({ t: 'op', v: c, at });
      i += 1;
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === '.') {
      // A '.' followed by a digit starts a number such as .5.
      if (!(c === '.' && /\d/.test(s[i + 1] ?? ''))) {
        out.push({ t: 'punct', v: c, at });
        i += 1;
        continue;
      }
    }
    const num = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(s.slice(i));
    if (num !== null && (/[\d.+-]/.test(c)) && !/[A-Za-z_]/.test(s[i + num[0].length] ?? '')) {
      out.push({ t: 'number', v: Number(num[0]), text: num[0], at });
      i += num[0].length;
      continue;
    }
    const w = /^[A-Za-z_][A-Za-z0-9_\-:/]*/.exec(s.slice(i));
    if (w !== null) {
      out.push({ t: 'word', v: w[0], at });
      i += w[0].length;
      continue;
    }
    throw new Fail(`unexpected character '${c}'`, at);
  }
  return out;
}

interface Raw {
  readonly entity: 'attribute' | 'tag';
  readonly key: string;
  readonly keyAt: number;
  readonly op: string;
  readonly opAt: number;
  readonly value: { readonly kind: 'string'; readonly v: string } | { readonly kind: 'number'; readonly v: number } | { readonly kind: 'list'; readonly v: readonly string[] };
  readonly valueAt: number;
}

class Parser {
  private i = 0;
  constructor(
    private readonly toks: readonly Token[],
    private readonly len: number,
  ) {}

  private peek(): Token | undefined {
    return this.toks[this.i];
  }
  private at(): number {
    return this.peek()?.at ?? this.len;
  }
  private next(): Token {
    const t = this.toks[this.i];
    if (t === undefined) throw new Fail('the filter ends early: complete the comparison', this.len);
    this.i += 1;
    return t;
  }
  private kw(word: string): boolean {
    const t = this.peek();
    if (t?.t === 'word' && t.v.toUpperCase() === word) {
      this.i += 1;
      return true;
    }
    return false;
  }
  get done(): boolean {
    return this.i >= this.toks.length;
  }

  identifier(): { entity: 'attribute' | 'tag'; key: string; at: number } {
    const t = this.next();
    if (t.t === 'ident') return { entity: 'attribute', key: t.v, at: t.at };
    if (t.t !== 'word') throw new Fail('expected an identifier such as name, tags.<key>, run_id, source_path or version_number', t.at);
    const lower = t.v.toLowerCase();
    if ((lower === 'tags' || lower === 'tag') && this.peek()?.t === 'punct' && this.peek()?.v === '.') {
      this.i += 1;
      const k = this.next();
      if (k.t === 'ident' || k.t === 'string' || k.t === 'word') {
        let key = String(k.v);
        // Unquoted keys may contain dots: tags.mlflow.source.
        while (k.t === 'word' && this.peek()?.t === 'punct' && this.peek()?.v === '.') {
          this.i += 1;
          const more = this.next();
          if (more.t !== 'word' && more.t !== 'number') throw new Fail('expected the rest of the tag key after the dot', more.at);
          key += `.${more.t === 'number' ? more.text : more.v}`;
        }
        return { entity: 'tag', key, at: t.at };
      }
      throw new Fail("'tags.' needs a key; quote keys with other characters in backticks: tags.`my key`", k.at);
    }
    if (this.peek()?.t === 'punct' && this.peek()?.v === '.') {
      if (lower === 'attribute' || lower === 'attributes' || lower === 'attr') {
        this.i += 1;
        const k = this.next();
        if (k.t !== 'word' && k.t !== 'ident') throw new Fail('expected an attribute name after the dot', k.at);
        return { entity: 'attribute', key: k.v, at: t.at };
      }
      throw new Fail(`unknown identifier prefix '${t.v}': use tags.<key> or an attribute`, t.at);
    }
    return { entity: 'attribute', key: t.v, at: t.at };
  }

  comparator(): { op: string; at: number } {
    const at = this.at();
    const t = this.peek();
    if (t?.t === 'op') {
      this.i += 1;
      return { op: t.v, at };
    }
    if (this.kw('LIKE')) return { op: 'LIKE', at };
    if (this.kw('ILIKE')) return { op: 'ILIKE', at };
    if (this.kw('IN')) return { op: 'IN', at };
    if (this.kw('NOT')) {
      if (this.kw('IN')) return { op: 'NOT IN', at };
      throw new Fail('NOT is only supported as NOT IN', at);
    }
    if (this.kw('IS')) throw new Fail('IS / IS NULL is not supported', at);
    throw new Fail('expected a comparator (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN)', at);
  }

  value(): Raw['value'] {
    const t = this.next();
    if (t.t === 'string') return { kind: 'string', v: t.v };
    if (t.t === 'number') return { kind: 'number', v: t.v };
    if (t.t === 'punct' && t.v === '(') {
      const vs: string[] = [];
      for (;;) {
        const s = this.next();
        if (s.t !== 'string') throw new Fail('expected a quoted string in the list', s.at);
        vs.push(s.v);
        const p = this.next();
        if (p.t === 'punct' && p.v === ',') continue;
        if (p.t === 'punct' && p.v === ')') break;
        throw new Fail("expected ',' or ')' in the list", p.at);
      }
      return { kind: 'list', v: vs };
    }
    if (t.t === 'ident') throw new Fail("a value cannot be in backticks: quote strings with ' or \"", t.at);
    throw new Fail('expected a value: a number, or a string in quotes', t.at);
  }

  clauses(): Raw[] {
    const out: Raw[] = [];
    if (this.done) return out;
    for (;;) {
      if (this.peek()?.t === 'punct' && this.peek()?.v === '(') throw new Fail('parentheses are not supported: write comparisons joined by AND', this.at());
      const id = this.identifier();
      const { op, at } = this.comparator();
      const valueAt = this.at();
      const value = this.value();
      out.push({ entity: id.entity, key: id.key, keyAt: id.at, op, opAt: at, value, valueAt });
      if (this.done) return out;
      const here = this.at();
      if (this.kw('AND')) {
        if (this.done) throw new Fail('the filter ends with AND: add a comparison after it', this.len);
        continue;
      }
      if (this.kw('OR')) throw new Fail('Invalid clause(s) in filter string: OR is not supported, comparisons are joined with AND only', here);
      throw new Fail('expected AND between comparisons', here);
    }
  }
}

const STRING_OPS = new Set(['=', '!=', 'LIKE', 'ILIKE']);
const NUMERIC_OPS = new Set(['=', '!=', '>', '>=', '<', '<=']);

function str(c: Raw, what: string): { op: StringOp; value: string } {
  if (!STRING_OPS.has(c.op)) throw new Fail(`invalid comparator '${c.op}' for ${what}: use =, !=, LIKE or ILIKE`, c.opAt);
  if (c.value.kind !== 'string') throw new Fail(`${what} must be compared with a quoted string`, c.valueAt);
  return { op: c.op as StringOp, value: c.value.v };
}

function classify(c: Raw, versions: boolean): RegistryClause {
  if (c.entity === 'tag') return { kind: 'tag', key: c.key, ...str(c, `tags.${c.key}`) };
  const key = c.key.toLowerCase();
  if (key === 'name') return { kind: 'name', ...str(c, 'name') };
  if (versions) {
    if (key === 'run_id') {
      if (c.op === 'IN' || c.op === 'NOT IN') {
        if (c.value.kind !== 'list') throw new Fail(`${c.op} needs a parenthesised list of quoted strings: run_id IN ('a', 'b')`, c.valueAt);
        return { kind: 'run-id-set', op: c.op, values: c.value.v };
      }
      return { kind: 'run-id', ...str(c, 'run_id') };
    }
    if (key === 'source_path') return { kind: 'source-path', ...str(c, 'source_path') };
    if (key === 'version_number' || key === 'version') {
      if (!NUMERIC_OPS.has(c.op)) throw new Fail(`invalid comparator '${c.op}' for version_number: use =, !=, >, >=, <, <=`, c.opAt);
      const v = c.value.kind === 'number' ? c.value.v : c.value.kind === 'string' && /^\d+$/.test(c.value.v) ? Number(c.value.v) : Number.NaN;
      if (!Number.isSafeInteger(v)) throw new Fail('version_number must be compared with an integer', c.valueAt);
      return { kind: 'version-number', op: c.op as NumericOp, value: v };
    }
    throw new Fail(`Invalid attribute key '${c.key}' specified. Valid keys are name, run_id, source_path, version_number and tags.<key>`, c.keyAt);
  }
  throw new Fail(`Invalid attribute key '${c.key}' specified. Valid keys are name and tags.<key>`, c.keyAt);
}

function attempt<T>(fn: () => T): ParseResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof Fail) return { ok: false, error: { message: e.message, position: e.position } };
    throw e;
  }
}

/** Parses a registered-model filter (`name LIKE 'fraud%' AND tags.team = 'risk'`). Empty means none. */
export function parseModelFilter(text: string): ParseResult<readonly RegistryClause[]> {
  return attempt(() => new Parser(tokenize(text), text.length).clauses().map((c) => classify(c, false)));
}

/** Parses a model-version filter (`name = 'm' AND run_id IN ('a','b')`). Empty means none. */
export function parseVersionFilter(text: string): ParseResult<readonly RegistryClause[]> {
  return attempt(() => new Parser(tokenize(text), text.length).clauses().map((c) => classify(c, true)));
}

/** Parses `order_by` items such as `name ASC`, `last_updated_timestamp DESC`, `version_number`. */
export function parseRegistryOrderBy(items: readonly string[], versions: boolean): ParseResult<readonly RegistryOrderTerm[]> {
  return attempt(() =>
    items.map((item) => {
      const toks = tokenize(item);
      const [first, second, third] = toks;
      if (first === undefined || (first.t !== 'word' && first.t !== 'ident')) throw new Fail('an order_by item needs an attribute, e.g. "name ASC"', 0);
      const raw = first.v.toLowerCase();
      const key: string = raw === 'timestamp' || raw === 'creation_timestamp' ? 'creation_timestamp' : raw === 'version' ? 'version_number' : raw;
      const allowed = versions ? ['name', 'creation_timestamp', 'last_updated_timestamp', 'version_number'] : ['name', 'creation_timestamp', 'last_updated_timestamp'];
      if (!allowed.includes(key)) throw new Fail(`Invalid order by key '${first.v}' specified. Valid keys are ${allowed.join(', ')} (and timestamp)`, first.at);
      let ascending = true;
      if (second !== undefined) {
        if (second.t !== 'word' || !['ASC', 'DESC'].includes(second.v.toUpperCase())) throw new Fail(`expected ASC or DESC after ${first.v}`, second.at);
        ascending = second.v.toUpperCase() === 'ASC';
      }
      if (third !== undefined) throw new Fail(`unexpected '${item.slice(third.at, third.at + 20)}' in order_by item (NULLS FIRST/LAST is not supported)`, third.at);
      return { key: key as RegistryOrderKey, ascending };
    }),
  );
}
