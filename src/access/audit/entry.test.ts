// Tests for the audit entry format: RFC 8785 canonical JSON (against its published vectors and,
// differentially, against the `canonicalize` package), the entry encoding and leaf hash, state
// hashes, and refusal of malformed entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import fc from 'fast-check';
import { isStrataError } from '../../kernel/index.ts';
import {
  auditEntryProblem,
  canonicalEntryBytes,
  canonicalEntryJson,
  canonicalJson,
  entryLeafHash,
  entryLeafHashHex,
  parseAuditEntry,
  stateHash,
  toHex,
  type AuditEntry,
} from './index.ts';

// The package is CommonJS with an `export default` .d.ts; at runtime the default import is the function.
const canonicalize = canonicalizeModule as unknown as (v: unknown) => string | undefined;

const sha256 = (...parts: (string | Uint8Array)[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

const ENTRY: AuditEntry = {
  v: 1,
  seq: 17,
  time: '2026-01-01T12:00:00.000Z',
  actor: 'usr_alice',
  action: 'project.create',
  resource: 'project/prj_abc',
  project: 'prj_abc',
  outcome: 'success',
  requestId: 'req_1',
  beforeHash: null,
  afterHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  details: { name: 'demo', quota: { gpus: 2 } },
};

const pick = (e: AuditEntry): Record<string, unknown> => ({
  v: e.v,
  seq: e.seq,
  time: e.time,
  actor: e.actor,
  action: e.action,
  resource: e.resource,
  project: e.project,
  outcome: e.outcome,
  requestId: e.requestId,
  beforeHash: e.beforeHash,
  afterHash: e.afterHash,
  details: e.details,
});

// RFC 8785 test vectors as shipped in cyberphone/json-canonicalization testdata (and the
// canonicalize package's test/testdata): raw input text and the canonical output.
const JCS_VECTORS = [
  { name: 'arrays', input: '[ 56, { "d": true, "10": null, "1": [ ] } ]', expected: '[56,{"1":[],"10":null,"d":true}]' },
  {
    name: 'french',
    input: '{ "peach": "This sorting order", "p\u00e9ch\u00e9": "is wrong according to French", "p\u00eache": "but canonicalization MUST", "sin":   "ignore locale" }',
    expected: '{"peach":"This sorting order","p\u00e9ch\u00e9":"is wrong according to French","p\u00eache":"but canonicalization MUST","sin":"ignore locale"}',
  },
  {
    name: 'structures',
    input: '{ "1": {"f": {"f": "hi","F": 5} ,"\\n": 56.0}, "10": { }, "": "empty", "a": { }, "111": [ {"e": "yes","E": "no" } ], "A": {"b": "123"} }',
    expected: '{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{"E":"no","e":"yes"}],"A":{"b":"123"},"a":{}}',
  },
  {
    name: 'values',
    input: '{ "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false] }',
    expected: '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
  },
  {
    name: 'weird',
    input: '{ "\u20ac": "Euro Sign", "1": "One", "\\u0080": "Control", "\\ud83d\\ude02": "Smiley", "\u00f6": "Latin Small Letter O With Diaeresis", "\ufb33": "Hebrew Letter Dalet With Dagesh", "</script>": "Browser Challenge" }',
    expected: '{"1":"One","</script>":"Browser Challenge","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude02":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  },
];

test('canonicalJson reproduces the RFC 8785 test vectors', () => {
  for (const v of JCS_VECTORS) {
    assert.equal(canonicalJson(JSON.parse(v.input)), v.expected, v.name);
    assert.equal(canonicalize(JSON.parse(v.input)), v.expected, `${v.name} (the package agrees)`);
  }
});

test('canonicalJson equals the canonicalize package on arbitrary JSON values', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      assert.equal(canonicalJson(v), canonicalize(v));
    }),
    { numRuns: 500 },
  );
  // Strings with every kind of UTF-16 unit, including lone surrogates and control characters.
  const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
  fc.assert(
    fc.property(fc.dictionary(fc.string({ unit: anyUnit }), fc.string({ unit: anyUnit })), (v) => {
      assert.equal(canonicalJson(v), canonicalize(v));
    }),
    { numRuns: 300 },
  );
});

test('canonicalJson: numbers, key order, toJSON, and what JSON omits', () => {
  assert.equal(canonicalJson({ b: 1, a: [1, 'x', null, true] }), '{"a":[1,"x",null,true],"b":1}');
  assert.equal(canonicalJson(-0), '0');
  assert.equal(canonicalJson(1e21), '1e+21');
  assert.equal(canonicalJson(0.1 + 0.2), '0.30000000000000004');
  assert.equal(canonicalJson({ a: undefined, b: () => 1, c: Symbol('s') }), '{}');
  assert.equal(canonicalJson([undefined, () => 1]), '[null,null]');
  assert.equal(canonicalJson({ when: new Date('2026-01-01T00:00:00Z') }), '{"when":"2026-01-01T00:00:00.000Z"}');
  assert.equal(canonicalJson({ '10': 1, '9': 2, b: 3, B: 4 }), '{"10":1,"9":2,"B":4,"b":3}', 'UTF-16 order, not JS property order');
});

test('canonicalJson refuses values JSON cannot carry faithfully', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  let deep: unknown = 1;
  for (let i = 0; i < 500; i++) deep = [deep];
  for (const [what, v] of [
    ['NaN', { x: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['BigInt', { n: 10n }],
    ['a cycle', cyclic],
    ['500 levels of nesting', deep],
    ['undefined', undefined],
    ['a function', () => 1],
  ] as const) {
    assert.throws(() => canonicalJson(v), (e: unknown) => isStrataError(e) && e.code === 'bad_request', what);
  }
});

test('stateHash is the hex SHA-256 of canonical JSON, independent of key order', () => {
  assert.equal(stateHash({ b: 2, a: 1 }), sha256('{"a":1,"b":2}').toString('hex'));
  assert.equal(stateHash({ a: 1, b: 2 }), stateHash({ b: 2, a: 1 }));
  assert.notEqual(stateHash({ a: 1 }), stateHash({ a: '1' }));
  assert.match(stateHash(null), /^[0-9a-f]{64}$/);
});

test('the entry encoding is canonical JSON of exactly the twelve fields', () => {
  const json = canonicalEntryJson(ENTRY);
  assert.equal(
    json,
    '{"action":"project.create","actor":"usr_alice","afterHash":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",' +
      '"beforeHash":null,"details":{"name":"demo","quota":{"gpus":2}},"outcome":"success","project":"prj_abc","requestId":"req_1",' +
      '"resource":"project/prj_abc","seq":17,"time":"2026-01-01T12:00:00.000Z","v":1}',
  );
  assert.equal(json, canonicalize(pick(ENTRY)));
  assert.deepEqual(canonicalEntryBytes(ENTRY), Buffer.from(json, 'utf8'));
  // Extra properties (such as the stored leafHash) and property order do not change the encoding.
  const reordered = Object.fromEntries(Object.entries({ ...ENTRY, leafHash: 'ff', extra: 1 }).reverse()) as unknown as AuditEntry;
  assert.equal(canonicalEntryJson(reordered), json);
});

test('the leaf hash is SHA-256(0x00 || UTF-8 canonical JSON) (RFC 9162 §2.1.1)', () => {
  const e: AuditEntry = { ...ENTRY, actor: 'usr_\u00e9\u{1f600}', details: { note: 'line\nbreak "quoted" \\ \u2028' } };
  const expected = sha256(Buffer.from([0]), Buffer.from(canonicalize(pick(e)) ?? '', 'utf8'));
  assert.deepEqual(entryLeafHash(e), expected);
  assert.equal(entryLeafHashHex(e), toHex(expected));
});

const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const text = fc.oneof(fc.string({ minLength: 1 }), fc.string({ unit: 'binary', minLength: 1 }), fc.string({ unit: anyUnit, minLength: 1 }));
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => toHex(b));
/** Arbitrary well-formed entries, with hostile strings. */
const entryArb: fc.Arbitrary<AuditEntry> = fc.record({
  v: fc.constant(1 as const),
  seq: fc.nat(),
  time: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  actor: text,
  action: text,
  resource: text,
  project: fc.option(text, { nil: null }),
  outcome: fc.constantFrom('success' as const, 'denied' as const, 'failure' as const),
  requestId: fc.option(text, { nil: null }),
  beforeHash: fc.option(hash, { nil: null }),
  afterHash: fc.option(hash, { nil: null }),
  details: fc.dictionary(fc.string({ unit: anyUnit }), fc.jsonValue(), { maxKeys: 5 }),
});

test('property: the hand-written entry encoder equals canonicalize(pick(entry))', () => {
  fc.assert(
    fc.property(entryArb, (e) => {
      assert.equal(canonicalEntryJson(e), canonicalize(pick(e)));
      assert.equal(auditEntryProblem(e), undefined);
    }),
    { numRuns: 500 },
  );
});

test('property: any change to any field changes the leaf hash', () => {
  fc.assert(
    fc.property(entryArb, entryArb, fc.constantFrom(...(Object.keys(ENTRY) as (keyof AuditEntry)[])), (a, b, field) => {
      const changed = { ...a, [field]: b[field] } as AuditEntry;
      const same = canonicalize(pick(a)) === canonicalize(pick(changed));
      assert.equal(entryLeafHashHex(a) === entryLeafHashHex(changed), same);
    }),
    { numRuns: 300 },
  );
});

test('malformed entries are refused, naming the field', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['v', { v: 2 }, /^v is not 1/],
    ['seq negative', { seq: -1 }, /^seq/],
    ['seq fractional', { seq: 1.5 }, /^seq/],
    ['seq string', { seq: '1' }, /^seq/],
    ['time', { time: 'yesterday' }, /^time/],
    ['time as Date', { time: new Date() }, /^time/],
    ['actor', { actor: '' }, /^actor/],
    ['action', { action: 7 }, /^action/],
    ['resource', { resource: undefined }, /^resource/],
    ['project', { project: '' }, /^project/],
    ['outcome', { outcome: 'ok' }, /^outcome/],
    ['requestId', { requestId: 5 }, /^requestId/],
    ['beforeHash', { beforeHash: 'abc' }, /^beforeHash/],
    ['afterHash upper case', { afterHash: 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855' }, /^afterHash/],
    ['details array', { details: [] }, /^details/],
    ['details null', { details: null }, /^details/],
    ['details class instance', { details: new Map() }, /^details/],
  ];
  for (const [what, patch, reason] of cases) {
    const bad = { ...ENTRY, ...patch };
    assert.match(auditEntryProblem(bad) ?? '', reason, what);
    assert.throws(() => canonicalEntryJson(bad), (e: unknown) => isStrataError(e) && e.code === 'bad_request', what);
    assert.throws(() => parseAuditEntry(bad), isStrataError, what);
  }
  assert.equal(auditEntryProblem(null), 'not an object');
  assert.equal(auditEntryProblem([ENTRY]), 'not an object');
  assert.throws(() => canonicalEntryJson({ ...ENTRY, details: { n: Number.NaN } }), isStrataError, 'unencodable details');
});

test('parseAuditEntry copies exactly the twelve fields', () => {
  const parsed = parseAuditEntry({ ...ENTRY, leafHash: 'x', sneaky: true });
  assert.deepEqual(Object.keys(parsed).sort(), Object.keys(ENTRY).sort());
  assert.deepEqual(parsed, ENTRY);
});
