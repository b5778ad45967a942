// MLflow's search grammar as a pure parser: a filter string (`metrics.acc > 0.9 AND
// params.model = 'cnn'`), `order_by` items and page tokens become a typed, discriminated-union AST
// that search-sql.ts compiles to parameterised SQL. Expected failures are returned as results with
// the character position and a message that says what to write instead; nothing here throws.
//
// The grammar (research note §4, MLflow's SearchUtils): comparisons joined by AND only;
// identifiers `metrics.|metric.`, `params.|param.|parameters.`, `tags.|tag.`,
// `attributes.|attribute.|attr.|run.` (or a bare attribute), `datasets.|dataset.`; keys with other
// characters quoted with backticks or double quotes (``tags.`my tag` ``, `tags."my tag"`). Metrics
// and numeric attributes take numbers and = != > >= < <=; params, tags and string attributes take
// quoted strings and = != LIKE ILIKE; IN / NOT IN only for `run_id` and dataset fields. Unquoted
// keys may also contain '-', '/' and ':' (a superset of MLflow, which has no arithmetic to clash).

export type NumericOp = '=' | '!=' | '>' | '>=' | '<' | '<=';
export type StringOp = '=' | '!=' | 'LIKE' | 'ILIKE';
export type SetOp = 'IN' | 'NOT IN';
export type Comparator = NumericOp | StringOp | SetOp;

export const RUN_STRING_ATTRIBUTES = ['run_id', 'run_name', 'status', 'user_id', 'artifact_uri'] as const;
export type RunStringAttribute = (typeof RUN_STRING_ATTRIBUTES)[number];
export const RUN_NUMERIC_ATTRIBUTES = ['start_time', 'end_time'] as const;
export type RunNumericAttribute = (typeof RUN_NUMERIC_ATTRIBUTES)[number];
export const DATASET_FIELDS = ['name', 'digest', 'context'] as const;
export type DatasetField = (typeof DATASET_FIELDS)[number];

/** One comparison of a run filter. */
export type RunClause =
  | { readonly kind: 'metric'; readonly key: string; readonly op: NumericOp; readonly value: number }
  | { readonly kind: 'param'; readonly key: string; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'tag'; readonly key: string; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'attribute'; readonly key: RunStringAttribute; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'numeric-attribute'; readonly key: RunNumericAttribute; readonly op: NumericOp; readonly value: number }
  | { readonly kind: 'run-id-set'; readonly op: SetOp; readonly values: readonly string[] }
  | { readonly kind: 'dataset'; readonly key: DatasetField; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'dataset-set'; readonly key: DatasetField; readonly op: SetOp; readonly values: readonly string[] };

export const EXPERIMENT_NUMERIC_ATTRIBUTES = ['creation_time', 'last_update_time'] as const;
export type ExperimentNumericAttribute = (typeof EXPERIMENT_NUMERIC_ATTRIBUTES)[number];

/** One comparison of an experiment filter. */
export type ExperimentClause =
  | { readonly kind: 'name'; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'numeric-attribute'; readonly key: ExperimentNumericAttribute; readonly op: NumericOp; readonly value: number }
  | { readonly kind: 'tag'; readonly key: string; readonly op: StringOp; readonly value: string };

export const RUN_ORDER_ATTRIBUTES = ['start_time', 'end_time', 'run_name', 'status', 'user_id', 'artifact_uri', 'run_id', 'experiment_id'] as const;
export type RunOrderAttribute = (typeof RUN_ORDER_ATTRIBUTES)[number];
export type RunOrderKey =
  | { readonly kind: 'metric' | 'param' | 'tag'; readonly key: string }
  | { readonly kind: 'attribute'; readonly key: RunOrderAttribute };

export const EXPERIMENT_ORDER_ATTRIBUTES = ['name', 'experiment_id', 'creation_time', 'last_update_time'] as const;
export type ExperimentOrderAttribute = (typeof EXPERIMENT_ORDER_ATTRIBUTES)[number];

export interface OrderTerm<K> {
  readonly key: K;
  readonly ascending: boolean;
}

export interface FilterError {
  readonly message: string;
  /** Zero-based character offset in the input where the problem starts. */
  readonly position: number;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: FilterError };

// ---- scanning -------------------------------------------------------------------------------------

type EntityType = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';

const PREFIXES: Readonly<Record<string, EntityType>> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset',
};

interface Identifier {
  readonly type: EntityType;
  /** True when written without a prefix (a bare attribute). */
  readonly bare: boolean;
  readonly key: string;
  /** The identifier as written, for messages. */
  readonly text: string;
  readonly position: number;
}

type Value =
  | { readonly kind: 'string'; readonly value: string; readonly position: number }
  | { readonly kind: 'number'; readonly value: number; readonly text: string; readonly position: number }
  | { readonly kind: 'list'; readonly values: readonly string[]; readonly position: number };

interface RawClause {
  readonly ident: Identifier;
  readonly op: Comparator;
  readonly opPosition: number;
  readonly value: Value;
}

/** Thrown inside the scanner only; attempt() turns it into a result before it leaves this module. */
class Fail extends Error {
  constructor(readonly error: FilterError) {
    super(error.message);
  }
}

const fail = (message: string, position: number): never => {
  throw new Fail({ message, position });
};

const WORD_START = /[A-Za-z_]/;
const WORD_CHAR = /[A-Za-z0-9_]/;
const KEY_CHAR = /[A-Za-z0-9_.\-/:]/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;

const describe = (s: string, at: number): string => (at >= s.length ? 'the end of the filter' : `'${s.slice(at, at + 20)}'`);

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    this.skipWs();
    return this.pos >= this.text.length;
  }

  skipWs(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos += 1;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** Reads a word (letters, digits, '_') or returns '' without moving. */
  word(): string {
    const start = this.pos;
    if (!WORD_START.test(this.peek())) return '';
    while (this.pos < this.text.length && WORD_CHAR.test(this.peek())) this.pos += 1;
    return this.text.slice(start, this.pos);
  }

  /** Reads a quoted string starting at the current quote character; a doubled quote is one quote. */
  quoted(): string {
    const q = this.peek();
    const start = this.pos;
    this.pos += 1;
    let out = '';
    for (;;) {
      if (this.pos >= this.text.length) fail(`unterminated ${q === '`' ? 'backtick-quoted identifier' : 'string'} starting here: add the closing ${q}`, start);
      const c = this.text[this.pos] as string;
      this.pos += 1;
      if (c === q) {
        if (this.peek() === q) {
          out += q;
          this.pos += 1;
          continue;
        }
        return out;
      }
      out += c;
    }
  }

  /** True (and consumed) when the next word is `kw`, case-insensitively, as a whole word. */
  keyword(kw: string): boolean {
    this.skipWs();
    const s = this.text.slice(this.pos, this.pos + kw.length);
    if (s.toUpperCase() !== kw) return false;
    const after = this.text[this.pos + kw.length] ?? '';
    if (WORD_CHAR.test(after)) return false;
    this.pos += kw.length;
    return true;
  }

  identifier(): Identifier {
    this.skipWs();
    const start = this.pos;
    const c = this.peek();
    if (c === '`' || c === '"') {
      const key = this.quoted();
      return { type: 'attribute', bare: true, key, text: this.text.slice(start, this.pos), position: start };
    }
    const w = this.word();
    if (w === '') {
      fail(`expected an identifier such as metrics.<key>, params.<key>, tags.<key>, attributes.<name> or datasets.<field>; found ${describe(this.text, start)}`, start);
    }
    const prefix = PREFIXES[w.toLowerCase()];
    if (this.peek() !== '.') {
      if (prefix !== undefined && prefix !== 'attribute') fail(`'${w}' needs a key after a dot, e.g. ${w}.my_key`, start);
      return { type: 'attribute', bare: true, key: w, text: w, position: start };
    }
    if (prefix === undefined) fail(`unknown identifier prefix '${w}': use metrics., params., tags., attributes. or datasets.`, start);
    this.pos += 1; // the dot
    const q = this.peek();
    let key: string;
    if (q === '`' || q === '"') {
      key = this.quoted();
    } else {
      const ks = this.pos;
      while (this.pos < this.text.length && KEY_CHAR.test(this.peek())) this.pos += 1;
      key = this.text.slice(ks, this.pos);
      if (key === '') fail(`'${w}.' needs a key; quote keys with other characters in backticks: ${w}.\`my key\``, this.pos);
    }
    return { type: prefix as EntityType, bare: false, key, text: this.text.slice(start, this.pos), position: start };
  }

  comparator(): { op: Comparator; position: number } {
    this.skipWs();
    const at = this.pos;
    if (this.text.startsWith('<>', this.pos) || this.text.startsWith('==', this.pos)) fail(`unsupported comparator '${this.text.slice(at, at + 2)}': use = or !=`, at);
    for (const op of ['!=', '>=', '<=', '=', '>', '<'] as const) {
      if (this.text.startsWith(op, this.pos)) {
        this.pos += op.length;
        return { op, position: at };
      }
    }
    if (this.keyword('LIKE')) return { op: 'LIKE', position: at };
    if (this.keyword('ILIKE')) return { op: 'ILIKE', position: at };
    if (this.keyword('IN')) return { op: 'IN', position: at };
    if (this.keyword('NOT')) {
      if (this.keyword('IN')) return { op: 'NOT IN', position: at };
      fail('NOT is only supported as NOT IN', at);
    }
    if (this.keyword('IS')) fail('IS / IS NULL is not supported: a comparison on a key matches only runs that have that key', at);
    return fail(`expected a comparator (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN); found ${describe(this.text, at)}`, at);
  }

  value(): Value {
    this.skipWs();
    const at = this.pos;
    const c = this.peek();
    if (c === "'" || c === '"') return { kind: 'string', value: this.quoted(), position: at };
    if (c === '`') return fail("a value cannot be in backticks: quote strings with ' or \"", at);
    if (c === '(') {
      this.pos += 1;
      const values: string[] = [];
      for (;;) {
        this.skipWs();
        const vq = this.peek();
        if (vq !== "'" && vq !== '"') fail(`expected a quoted string in the list; found ${describe(this.text, this.pos)}`, this.pos);
        values.push(this.quoted());
        this.skipWs();
        if (this.peek() === ',') {
          this.pos += 1;
          continue;
        }
        if (this.peek() === ')') {
          this.pos += 1;
          break;
        }
        fail(`expected ',' or ')' in the list; found ${describe(this.text, this.pos)}`, this.pos);
      }
      if (values.length === 0) fail('the list is empty: give at least one value', at);
      return { kind: 'list', values, position: at };
    }
    const m = NUMBER.exec(this.text.slice(this.pos));
    if (m !== null && !WORD_CHAR.test(this.text[this.pos + m[0].length] ?? '')) {
      this.pos += m[0].length;
      const value = Number(m[0]);
      if (!Number.isFinite(value)) fail(`the number ${m[0]} is out of range`, at);
      return { kind: 'number', value, text: m[0], position: at };
    }
    const w = this.word();
    if (w !== '') fail(`expected a value: a number, or a string in quotes (e.g. '${w}'); found ${w}`, at);
    return fail(`expected a value: a number, or a string in quotes; found ${describe(this.text, at)}`, at);
  }
}

function scanClauses(text: string): RawClause[] {
  const s = new Scanner(text);
  const out: RawClause[] = [];
  if (s.done) return out;
  for (;;) {
    if (s.peek() === '(') fail('parentheses are not supported: write comparisons joined by AND', s.pos);
    const ident = s.identifier();
    const { op, position } = s.comparator();
    const value = s.value();
    out.push({ ident, op, opPosition: position, value });
    if (s.done) return out;
    const at = s.pos;
    if (s.keyword('AND')) {
      if (s.done) fail('the filter ends with AND: add a comparison after it', s.pos);
      continue;
    }
    if (s.keyword('OR')) fail('OR is not supported: MLflow filters join comparisons with AND only (run two searches instead)', at);
    fail(`expected AND between comparisons; found ${describe(text, at)}`, at);
  }
}

function attempt<T>(fn: () => T): ParseResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof Fail) return { ok: false, error: e.error };
    throw e;
  }
}

// ---- classification ---------------------------------------------------------------------------

const NUMERIC_OPS: ReadonlySet<string> = new Set(['=', '!=', '>', '>=', '<', '<=']);
const STRING_OPS: ReadonlySet<string> = new Set(['=', '!=', 'LIKE', 'ILIKE']);
const isSetOp = (op: Comparator): op is SetOp => op === 'IN' || op === 'NOT IN';

function numeric(c: RawClause, what: string): { op: NumericOp; value: number } {
  if (!NUMERIC_OPS.has(c.op)) fail(`invalid comparator '${c.op}' for ${what}: use =, !=, >, >=, <, <=`, c.opPosition);
  if (c.value.kind !== 'number') {
    const shown = c.value.kind === 'string' ? `'${c.value.value}'` : 'a list';
    fail(`${what} must be compared with a number, not ${shown}: write e.g. ${c.ident.text} ${c.op} 0.5`, c.value.position);
  }
  return { op: c.op as NumericOp, value: (c.value as { value: number }).value };
}

function str(c: RawClause, what: string): { op: StringOp; value: string } {
  if (isSetOp(c.op)) fail(`${c.op} is only supported for run_id and datasets.* fields, not ${what}`, c.opPosition);
  if (!STRING_OPS.has(c.op)) fail(`invalid comparator '${c.op}' for ${what}: use =, !=, LIKE, ILIKE`, c.opPosition);
  if (c.value.kind !== 'string') {
    const shown = c.value.kind === 'number' ? c.value.text : 'a list';
    fail(`${what} must be compared with a quoted string, not ${shown}: write e.g. ${c.ident.text} ${c.op} '${shown}'`, c.value.position);
  }
  return { op: c.op as StringOp, value: (c.value as { value: string }).value };
}

function set(c: RawClause, what: string): { op: SetOp; values: readonly string[] } {
  if (c.value.kind !== 'list') fail(`${c.op} needs a parenthesised list of quoted strings after it: ${what} ${c.op} ('a', 'b')`, c.value.position);
  return { op: c.op as SetOp, values: (c.value as { values: readonly string[] }).values };
}

/** Attribute aliases MLflow accepts (the UI writes `Run name`, `Created`). */
function runAttribute(key: string): RunStringAttribute | RunNumericAttribute | undefined {
  const k = key.toLowerCase();
  if (k === 'run name' || k === 'run_name') return 'run_name';
  if (k === 'created' || k === 'start_time') return 'start_time';
  if (k === 'run_id' || k === 'status' || k === 'user_id' || k === 'artifact_uri' || k === 'end_time') return k;
  return undefined;
}

function classifyRun(c: RawClause): RunClause {
  const { ident } = c;
  switch (ident.type) {
    case 'metric':
      return { kind: 'metric', key: ident.key, ...numeric(c, ident.text) };
    case 'param':
      return { kind: 'param', key: ident.key, ...str(c, ident.text) };
    case 'tag':
      return { kind: 'tag', key: ident.key, ...str(c, ident.text) };
    case 'dataset': {
      const key = ident.key.toLowerCase();
      if (!(DATASET_FIELDS as readonly string[]).includes(key)) fail(`invalid dataset field '${ident.key}': use datasets.name, datasets.digest or datasets.context`, ident.position);
      const field = key as DatasetField;
      if (isSetOp(c.op)) return { kind: 'dataset-set', key: field, ...set(c, ident.text) };
      return { kind: 'dataset', key: field, ...str(c, ident.text) };
    }
    case 'attribute': {
      const key = runAttribute(ident.key);
      if (key === undefined) {
        fail(`invalid attribute '${ident.key}': use one of ${[...RUN_STRING_ATTRIBUTES, ...RUN_NUMERIC_ATTRIBUTES].join(', ')} (or metrics., params., tags., datasets.)`, ident.position);
      }
      if (key === 'start_time' || key === 'end_time') return { kind: 'numeric-attribute', key, ...numeric(c, ident.text) };
      const k = key as RunStringAttribute;
      if (isSetOp(c.op)) {
        if (k !== 'run_id') fail(`${c.op} is only supported for run_id, not ${ident.text}`, c.opPosition);
        return { kind: 'run-id-set', ...set(c, ident.text) };
      }
      return { kind: 'attribute', key: k, ...str(c, ident.text) };
    }
  }
}

function classifyExperiment(c: RawClause): ExperimentClause {
  const { ident } = c;
  switch (ident.type) {
    case 'tag':
      return { kind: 'tag', key: ident.key, ...str(c, ident.text) };
    case 'attribute': {
      const key = ident.key.toLowerCase();
      if (key === 'name') return { kind: 'name', ...str(c, ident.text) };
      if (key === 'creation_time' || key === 'last_update_time') return { kind: 'numeric-attribute', key, ...numeric(c, ident.text) };
      return fail(`invalid experiment attribute '${ident.key}': use name, creation_time, last_update_time or tags.<key>`, ident.position);
    }
    case 'metric':
    case 'param':
    case 'dataset':
      return fail(`experiments cannot be filtered on ${ident.text}: use name, creation_time, last_update_time or tags.<key>`, ident.position);
  }
}

/** Parses a run filter (`metrics.acc > 0.9 AND tags.mlflow.parentRunId = '…'`). Empty means no filter. */
export function parseRunFilter(text: string): ParseResult<readonly RunClause[]> {
  return attempt(() => scanClauses(text).map(classifyRun));
}

/** Parses an experiment filter (`name LIKE 'x%' AND tags.team = 'a'`). Empty means no filter. */
export function parseExperimentFilter(text: string): ParseResult<readonly ExperimentClause[]> {
  return attempt(() => scanClauses(text).map(classifyExperiment));
}

// ---- logged models (MLflow 3.x SearchLoggedModels) -----------------------------------------------

export const LOGGED_MODEL_STRING_ATTRIBUTES = ['name', 'model_id', 'model_type', 'status', 'source_run_id'] as const;
export type LoggedModelStringAttribute = (typeof LOGGED_MODEL_STRING_ATTRIBUTES)[number];
export const LOGGED_MODEL_NUMERIC_ATTRIBUTES = ['creation_timestamp', 'last_updated_timestamp'] as const;
export type LoggedModelNumericAttribute = (typeof LOGGED_MODEL_NUMERIC_ATTRIBUTES)[number];

/** One comparison of a logged-model filter. A metric comparison matches any point of the model's metric. */
export type LoggedModelClause =
  | { readonly kind: 'metric'; readonly key: string; readonly op: NumericOp; readonly value: number }
  | { readonly kind: 'param'; readonly key: string; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'tag'; readonly key: string; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'attribute'; readonly key: LoggedModelStringAttribute; readonly op: StringOp; readonly value: string }
  | { readonly kind: 'attribute-set'; readonly key: LoggedModelStringAttribute; readonly op: SetOp; readonly values: readonly string[] }
  | { readonly kind: 'numeric-attribute'; readonly key: LoggedModelNumericAttribute; readonly op: NumericOp; readonly value: number };

/** Logged-model attribute names and MLflow's aliases for them (`creation_time`, `..._ms`). */
export function loggedModelAttribute(key: string): LoggedModelStringAttribute | LoggedModelNumericAttribute | undefined {
  const k = key.toLowerCase();
  if (k === 'creation_timestamp' || k === 'creation_time' || k === 'creation_timestamp_ms') return 'creation_timestamp';
  if (k === 'last_updated_timestamp' || k === 'last_updated_time' || k === 'last_updated_timestamp_ms') return 'last_updated_timestamp';
  return (LOGGED_MODEL_STRING_ATTRIBUTES as readonly string[]).includes(k) ? (k as LoggedModelStringAttribute) : undefined;
}

function classifyLoggedModel(c: RawClause): LoggedModelClause {
  const { ident } = c;
  switch (ident.type) {
    case 'metric':
      return { kind: 'metric', key: ident.key, ...numeric(c, ident.text) };
    case 'param':
      return { kind: 'param', key: ident.key, ...str(c, ident.text) };
    case 'tag':
      return { kind: 'tag', key: ident.key, ...str(c, ident.text) };
    case 'dataset':
      return fail(`logged models cannot be filtered on ${ident.text}: name the datasets in the request's 'datasets' field instead`, ident.position);
    case 'attribute': {
      const key = loggedModelAttribute(ident.key);
      if (key === undefined) {
        fail(`invalid logged model attribute '${ident.key}': use one of ${[...LOGGED_MODEL_STRING_ATTRIBUTES, ...LOGGED_MODEL_NUMERIC_ATTRIBUTES].join(', ')} (or metrics., params., tags.)`, ident.position);
      }
      if (key === 'creation_timestamp' || key === 'last_updated_timestamp') return { kind: 'numeric-attribute', key, ...numeric(c, ident.text) };
      const k = key as LoggedModelStringAttribute;
      if (isSetOp(c.op)) return { kind: 'attribute-set', key: k, ...set(c, ident.text) };
      return { kind: 'attribute', key: k, ...str(c, ident.text) };
    }
  }
}

/** Parses a logged-model filter (`name = 'm' AND tags.stage = 'prod' AND metrics.acc > 0.9`). Empty means no filter. */
export function parseLoggedModelFilter(text: string): ParseResult<readonly LoggedModelClause[]> {
  return attempt(() => scanClauses(text).map(classifyLoggedModel));
}

// ---- order_by -----------------------------------------------------------------------------------

function scanOrderItem(text: string): { ident: Identifier; ascending: boolean } {
  const s = new Scanner(text);
  if (s.done) fail('an order_by item is empty: write e.g. "metrics.acc DESC"', 0);
  const ident = s.identifier();
  let ascending = true;
  if (s.keyword('DESC')) ascending = false;
  else s.keyword('ASC');
  if (!s.done) {
    const at = s.pos;
    if (s.keyword('NULLS')) fail('NULLS FIRST/LAST is not supported: runs without the key always sort last', at);
    fail(`expected ASC or DESC after ${ident.text}; found ${describe(text, at)}`, at);
  }
  return { ident, ascending };
}

/** Parses run `order_by` items such as `metrics.acc DESC`, `attributes.start_time`, `params.lr ASC`. */
export function parseRunOrderBy(items: readonly string[]): ParseResult<readonly OrderTerm<RunOrderKey>[]> {
  return attempt(() =>
    items.map((item) => {
      const { ident, ascending } = scanOrderItem(item);
      switch (ident.type) {
        case 'metric':
        case 'param':
        case 'tag':
          return { key: { kind: ident.type, key: ident.key }, ascending };
        case 'attribute': {
          const k = ident.key.toLowerCase();
          const key = k === 'created' ? 'start_time' : k === 'run name' ? 'run_name' : k;
          if (!(RUN_ORDER_ATTRIBUTES as readonly string[]).includes(key)) fail(`cannot order runs by '${ident.key}': use metrics.<key>, params.<key>, tags.<key> or one of ${RUN_ORDER_ATTRIBUTES.join(', ')}`, ident.position);
          return { key: { kind: 'attribute', key: key as RunOrderAttribute }, ascending };
        }
        case 'dataset':
          return fail('runs cannot be ordered by datasets.* fields', ident.position);
      }
    }),
  );
}

/** Parses experiment `order_by` items: name, experiment_id, creation_time, last_update_time. */
export function parseExperimentOrderBy(items: readonly string[]): ParseResult<readonly OrderTerm<ExperimentOrderAttribute>[]> {
  return attempt(() =>
    items.map((item) => {
      const { ident, ascending } = scanOrderItem(item);
      const key = ident.key.toLowerCase();
      if (ident.type !== 'attribute' || !(EXPERIMENT_ORDER_ATTRIBUTES as readonly string[]).includes(key)) {
        fail(`cannot order experiments by '${ident.text}': use one of ${EXPERIMENT_ORDER_ATTRIBUTES.join(', ')}`, ident.position);
      }
      return { key: key as ExperimentOrderAttribute, ascending };
    }),
  );
}

// ---- page tokens ------------------------------------------------------------------------------

/** The opaque page token: base64 of `{"offset": N}`, as MLflow's reference server writes it. */
export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64');
}

/** Decodes a page token; empty means the first page. */
export function decodePageToken(token: string | undefined): ParseResult<number> {
  if (token === undefined || token === '') return { ok: true, value: 0 };
  const bad: ParseResult<number> = { ok: false, error: { message: `Invalid page token, could not base64-decode: send back the next_page_token of the previous page unchanged`, position: 0 } };
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(token)) return bad;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    return bad;
  }
  const offset = typeof parsed === 'object' && parsed !== null ? (parsed as { offset?: unknown }).offset : undefined;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    return { ok: false, error: { message: 'Invalid page token: it does not hold a non-negative offset; send back the next_page_token of the previous page unchanged', position: 0 } };
  }
  return { ok: true, value: offset };
}

/** MLflow LIKE patterns (% and _) as SQLite GLOB patterns, so SQLite's LIKE stays case-sensitive. */
export function likeToGlob(pattern: string): string {
  let out = '';
  for (const c of pattern) {
    if (c === '%') out += '*';
    else if (c === '_') out += '?';
    else if (c === '*' || c === '?' || c === '[') out += `[${c}]`;
    else out += c;
  }
  return out;
}
