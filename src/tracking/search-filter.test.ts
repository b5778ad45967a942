// The filter grammar as a pure function: accepted forms give the exact AST, every refusal is a
// result (never an exception) with a position and a message naming the fix, and properties over
// generated filters: printing any AST and parsing it back gives the same AST; arbitrary text never throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RunClause } from './search-filter.ts';
import { decodePageToken, encodePageToken, likeToGlob, parseExperimentFilter, parseExperimentOrderBy, parseRunFilter, parseRunOrderBy } from './search-filter.ts';

const ok = <T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
  if (!r.ok) assert.fail(`expected success, got: ${r.error.message}`);
  return r.value;
};
const bad = (r: { ok: boolean; error?: { message: string; position: number } }): { message: string; position: number } => {
  assert.equal(r.ok, false, 'expected a refusal');
  return r.error as { message: string; position: number };
};

test('accepted forms and their ASTs', () => {
  assert.deepEqual(ok(parseRunFilter('')), []);
  assert.deepEqual(ok(parseRunFilter('   ')), []);
  assert.deepEqual(ok(parseRunFilter('metrics.acc > 0.9')), [{ kind: 'metric', key: 'acc', op: '>', value: 0.9 }]);
  assert.deepEqual(ok(parseRunFilter("metric.loss<=-1e-3 and params.model = 'cnn' AND tags.`my tag` != \"x y\"")), [
    { kind: 'metric', key: 'loss', op: '<=', value: -0.001 },
    { kind: 'param', key: 'model', op: '=', value: 'cnn' },
    { kind: 'tag', key: 'my tag', op: '!=', value: 'x y' },
  ]);
  assert.deepEqual(ok(parseRunFilter("tags.mlflow.parentRunId = 'abc'")), [{ kind: 'tag', key: 'mlflow.parentRunId', op: '=', value: 'abc' }]);
  assert.deepEqual(ok(parseRunFilter('tags."other key" LIKE \'%a_\'')), [{ kind: 'tag', key: 'other key', op: 'LIKE', value: '%a_' }]);
  assert.deepEqual(ok(parseRunFilter("parameters.lr ilike '0.0%'")), [{ kind: 'param', key: 'lr', op: 'ILIKE', value: '0.0%' }]);
  assert.deepEqual(ok(parseRunFilter('metrics.train/loss-x:1 = 2')), [{ kind: 'metric', key: 'train/loss-x:1', op: '=', value: 2 }]);
  assert.deepEqual(ok(parseRunFilter("status = 'FINISHED' AND attr.user_id = 'al''ice' AND `Run name` = 'r'")), [
    { kind: 'attribute', key: 'status', op: '=', value: 'FINISHED' },
    { kind: 'attribute', key: 'user_id', op: '=', value: "al'ice" },
    { kind: 'attribute', key: 'run_name', op: '=', value: 'r' },
  ]);
  assert.deepEqual(ok(parseRunFilter('attributes.created >= 5 and run.end_time < .5e3')), [
    { kind: 'numeric-attribute', key: 'start_time', op: '>=', value: 5 },
    { kind: 'numeric-attribute', key: 'end_time', op: '<', value: 500 },
  ]);
  assert.deepEqual(ok(parseRunFilter("attributes.run_id IN ('a', \"b\") AND run_id not in ('c')")), [
    { kind: 'run-id-set', op: 'IN', values: ['a', 'b'] },
    { kind: 'run-id-set', op: 'NOT IN', values: ['c'] },
  ]);
  assert.deepEqual(ok(parseRunFilter("datasets.digest IN ('d1') AND dataset.context = 'eval' AND datasets.NAME like 'm%'")), [
    { kind: 'dataset-set', key: 'digest', op: 'IN', values: ['d1'] },
    { kind: 'dataset', key: 'context', op: '=', value: 'eval' },
    { kind: 'dataset', key: 'name', op: 'LIKE', value: 'm%' },
  ]);
  assert.deepEqual(ok(parseExperimentFilter("name LIKE 'a%' AND tags.team = 'x' AND creation_time > 10 and attribute.last_update_time <= 3")), [
    { kind: 'name', op: 'LIKE', value: 'a%' },
    { kind: 'tag', key: 'team', op: '=', value: 'x' },
    { kind: 'numeric-attribute', key: 'creation_time', op: '>', value: 10 },
    { kind: 'numeric-attribute', key: 'last_update_time', op: '<=', value: 3 },
  ]);
});

test('refusals are results with a position and a message that says what to write', () => {
  const cases: [string, RegExp, number][] = [
    ["metrics.acc > '0.9'", /must be compared with a number/, 14],
    ['params.lr > 0.1', /invalid comparator '>' .*use =, !=, LIKE, ILIKE/, 10],
    ['params.lr = 0.1', /quoted string/, 12],
    ["metrics.a > 1 OR metrics.b > 2", /AND only/, 14],
    ['tags.x IS NULL', /IS NULL is not supported/, 7],
    ["status IN ('RUNNING')", /only supported for run_id/, 7],
    ["foo.bar = 'x'", /unknown identifier prefix 'foo'/, 0],
    ["nonsense = 'x'", /invalid attribute 'nonsense'/, 0],
    ['metrics.acc >', /expected a value/, 13],
    ["params.a = 'x' AND", /ends with AND/, 18],
    ["params.a = 'x' params.b = 'y'", /expected AND/, 15],
    ["params.a = 'unterminated", /unterminated string/, 11],
    ["(params.a = 'x')", /parentheses are not supported/, 0],
    ["params.a == 'x'", /use = or !=/, 9],
    ["params.a = 'x' AND metrics", /needs a key after a dot/, 19],
    ['metrics.`acc = 1', /unterminated backtick/, 8],
    ["run_id IN 'a'", /parenthesised list/, 10],
    ["run_id IN ()", /expected a quoted string/, 11],
    ["run_id = ('a')", /quoted string, not a list/, 9],
    ["datasets.size = 'x'", /invalid dataset field/, 0],
    ['params.a = RUNNING', /in quotes \(e.g. 'RUNNING'\)/, 11],
    ['params.a = `x`', /cannot be in backticks/, 11],
    ['metrics.a > 1e999', /out of range/, 12],
  ];
  for (const [text, why, position] of cases) {
    const e = bad(parseRunFilter(text));
    assert.match(e.message, why, text);
    assert.equal(e.position, position, `${text}: ${e.message}`);
  }
  assert.match(bad(parseExperimentFilter('metrics.acc > 1')).message, /experiments cannot be filtered on metrics.acc/);
  assert.match(bad(parseExperimentFilter("status = 'x'")).message, /invalid experiment attribute/);
});

test('order_by items', () => {
  assert.deepEqual(ok(parseRunOrderBy(['metrics.acc DESC', 'params.`lr x` asc', 'attributes.start_time', 'created DESC', 'tags.t', '`Run name`'])), [
    { key: { kind: 'metric', key: 'acc' }, ascending: false },
    { key: { kind: 'param', key: 'lr x' }, ascending: true },
    { key: { kind: 'attribute', key: 'start_time' }, ascending: true },
    { key: { kind: 'attribute', key: 'start_time' }, ascending: false },
    { key: { kind: 'tag', key: 't' }, ascending: true },
    { key: { kind: 'attribute', key: 'run_name' }, ascending: true },
  ]);
  assert.match(bad(parseRunOrderBy(['metrics.acc DESC NULLS LAST'])).message, /NULLS FIRST\/LAST is not supported/);
  assert.match(bad(parseRunOrderBy(['metrics.acc sideways'])).message, /expected ASC or DESC/);
  assert.match(bad(parseRunOrderBy(['datasets.name'])).message, /cannot be ordered by datasets/);
  assert.match(bad(parseRunOrderBy(['lifecycle'])).message, /cannot order runs by 'lifecycle'/);
  assert.match(bad(parseRunOrderBy([''])).message, /empty/);
  assert.deepEqual(ok(parseExperimentOrderBy(['name DESC', 'experiment_id'])), [
    { key: 'name', ascending: false },
    { key: 'experiment_id', ascending: true },
  ]);
  assert.match(bad(parseExperimentOrderBy(['metrics.a'])).message, /cannot order experiments/);
});

test('page tokens: MLflow-compatible base64 offsets; bad ones refused', () => {
  assert.equal(encodePageToken(3), Buffer.from('{"offset":3}').toString('base64'));
  assert.deepEqual(decodePageToken('eyJvZmZzZXQiOiAzfQ=='), { ok: true, value: 3 }); // MLflow's own token for offset 3
  assert.deepEqual(decodePageToken(''), { ok: true, value: 0 });
  assert.deepEqual(decodePageToken(undefined), { ok: true, value: 0 });
  for (const t of ['not-a-token!', Buffer.from('{"offset":-1}').toString('base64'), Buffer.from('[1]').toString('base64'), Buffer.from('{"offset":1.5}').toString('base64'), 'e30=']) {
    assert.equal(decodePageToken(t).ok, false, t);
  }
  fc.assert(fc.property(fc.nat(), (n) => decodePageToken(encodePageToken(n)).ok && (decodePageToken(encodePageToken(n)) as { value: number }).value === n));
});

test('LIKE patterns become GLOB patterns with GLOB metacharacters escaped', () => {
  assert.equal(likeToGlob('a%b_c'), 'a*b?c');
  assert.equal(likeToGlob('*?[x]'), '[*][?][[]x]');
});

// ---- properties ----

const keyArb = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_ ./:-]{0,12}$/);
const strArb = fc.string({ maxLength: 12 });
const numArb = fc.oneof(fc.integer({ min: -1e6, max: 1e6 }), fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }));
const clauseArb: fc.Arbitrary<RunClause> = fc.oneof(
  fc.record({ kind: fc.constant('metric' as const), key: keyArb, op: fc.constantFrom('=', '!=', '>', '>=', '<', '<=' as const), value: numArb }),
  fc.record({ kind: fc.constantFrom('param' as const, 'tag' as const), key: keyArb, op: fc.constantFrom('=', '!=', 'LIKE', 'ILIKE' as const), value: strArb }),
  fc.record({ kind: fc.constant('attribute' as const), key: fc.constantFrom('run_id', 'run_name', 'status', 'user_id', 'artifact_uri' as const), op: fc.constantFrom('=', '!=', 'LIKE', 'ILIKE' as const), value: strArb }),
  fc.record({ kind: fc.constant('numeric-attribute' as const), key: fc.constantFrom('start_time', 'end_time' as const), op: fc.constantFrom('=', '!=', '>', '>=', '<', '<=' as const), value: numArb }),
  fc.record({ kind: fc.constant('run-id-set' as const), op: fc.constantFrom('IN', 'NOT IN' as const), values: fc.array(strArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constantFrom('dataset' as const), key: fc.constantFrom('name', 'digest', 'context' as const), op: fc.constantFrom('=', '!=', 'LIKE', 'ILIKE' as const), value: strArb }),
);

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const quoteKey = (s: string): string => `\`${s.replace(/`/g, '``')}\``;
const num = (v: number): string => (Object.is(v, -0) ? '0' : String(v));

function print(c: RunClause): string {
  switch (c.kind) {
    case 'metric':
      return `metrics.${quoteKey(c.key)} ${c.op} ${num(c.value)}`;
    case 'param':
      return `params.${quoteKey(c.key)} ${c.op} ${quote(c.value)}`;
    case 'tag':
      return `tags.${quoteKey(c.key)} ${c.op} ${quote(c.value)}`;
    case 'attribute':
      return `attributes.${c.key} ${c.op} ${quote(c.value)}`;
    case 'numeric-attribute':
      return `attributes.${c.key} ${c.op} ${num(c.value)}`;
    case 'run-id-set':
      return `run_id ${c.op} (${c.values.map(quote).join(', ')})`;
    case 'dataset':
      return `datasets.${c.key} ${c.op} ${quote(c.value)}`;
    case 'dataset-set':
      return `datasets.${c.key} ${c.op} (${c.values.map(quote).join(', ')})`;
  }
}

test('property: print then parse gives back the same AST', () => {
  fc.assert(
    fc.property(fc.array(clauseArb, { maxLength: 5 }), (clauses) => {
      const text = clauses.map(print).join(' AND ');
      const r = parseRunFilter(text);
      assert.ok(r.ok, `${text}: ${r.ok ? '' : r.error.message}`);
      // fast-check builds null-prototype records; spread them into plain objects (and -0 reads back as 0).
      const norm = (cs: readonly RunClause[]): unknown => cs.map((c) => ('value' in c && typeof c.value === 'number' ? { ...c, value: c.value === 0 ? 0 : c.value } : { ...c }));
      assert.deepEqual(norm(r.value), norm(clauses));
    }),
    { numRuns: 300 },
  );
});

test('property: arbitrary text never throws; refusals point inside the text', () => {
  const alphabet = fc.constantFrom(...'metrics.params.tags.`"\'()=<>!, ANDORINLIKE0123456789ab_-%'.split(''));
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.array(alphabet, { maxLength: 40 }).map((a) => a.join(''))), (text) => {
      const r = parseRunFilter(text);
      if (!r.ok) assert.ok(r.error.position >= 0 && r.error.position <= text.length, `${text}: ${r.error.position}`);
      parseExperimentFilter(text);
      parseRunOrderBy([text]);
    }),
    { numRuns: 1000 },
  );
});
