// The registry's pure rules: source parsing (CVE inputs refused), manifest digests, the registry
// search grammar, model cards, gate policies and gate decisions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { Digest } from '../blobs/index.ts';
import { evaluateGate, parseGatePolicy, parseModelCard } from './gates.ts';
import { parseAlias, parseModelName, parseStage, parseVersion } from './model.ts';
import { parseModelFilter, parseRegistryOrderBy, parseVersionFilter } from './search-filter.ts';
import { manifestDigest, parseModelSource } from './source.ts';

const RUN = '0123456789abcdef0123456789abcdef';

test('sources: runs:/, mlflow-artifacts:/ and models:/ are parsed and normalised', () => {
  assert.deepEqual(parseModelSource(`runs:/${RUN}/model`), { kind: 'run', runId: RUN, experimentId: null, path: 'model', uri: `runs:/${RUN}/model` });
  assert.deepEqual(parseModelSource(`runs:/${RUN}/model/`), { kind: 'run', runId: RUN, experimentId: null, path: 'model', uri: `runs:/${RUN}/model` });
  assert.deepEqual(parseModelSource(`runs:/${RUN}`), { kind: 'run', runId: RUN, experimentId: null, path: '', uri: `runs:/${RUN}` });
  assert.deepEqual(parseModelSource(`mlflow-artifacts:/7/${RUN}/artifacts/a/b`), { kind: 'run', runId: RUN, experimentId: '7', path: 'a/b', uri: `mlflow-artifacts:/7/${RUN}/artifacts/a/b` });
  assert.deepEqual(parseModelSource('models:/fraud/3'), { kind: 'model-version', name: 'fraud', version: 3, uri: 'models:/fraud/3' });
  // A look-alike with dots inside a segment is a normal name.
  assert.equal(parseModelSource(`runs:/${RUN}/foo..bar.txt`).kind, 'run');
});

test('sources: traversal, other schemes and MLflow CVE vectors are refused', () => {
  const bad = [
    '',
    'file:///',
    '/etc/passwd',
    '//proc/self/root',
    'file://a#/..//tmp',
    'file://a%23/..//tmp/',
    '/file://etc/passwd',
    '%2E%2E%2Fpath',
    `runs:/${RUN}/%2E%2E%2F%2E%2E%2Fpath`,
    `runs:/${RUN}/%25252e%25252e/x`,
    `runs:/${RUN}/a/../../b`,
    `runs:/${RUN}/./a`,
    `runs:/${RUN}/..\\..\\x`,
    `runs:/${RUN}/a%00.jpg`,
    `runs:/${RUN}/a#frag`,
    `runs:/${RUN}/a;p`,
    `runs:/${RUN}/a?q`,
    `runs:/${RUN}/C:x`,
    'runs:/bad id/x',
    `mlflow-artifacts://host:9000/1/${RUN}/artifacts/x`,
    `mlflow-artifacts:/1/${RUN}/x`,
    'http://host:9000/models/../../../',
    's3a://b/x/../../../',
    'models:/m@champion',
    'models:/m/latest',
    'models:/../1',
  ];
  for (const s of bad) assert.throws(() => parseModelSource(s), (e: Error & { status?: number }) => e.status === 400, s);
});

test('sources: any source with a dot-dot segment, however encoded, is refused (property)', () => {
  const enc = fc.constantFrom('..', '%2e%2e', '%2E%2e', '%252e%252e', '.%2e');
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', 'model', 'b.c'), { maxLength: 3 }), enc, fc.array(fc.constantFrom('x', 'y'), { maxLength: 3 }), (pre, dots, post) => {
      const path = [...pre, dots, ...post].join('/');
      assert.throws(() => parseModelSource(`runs:/${RUN}/${path}`));
    }),
  );
});

test('manifest digest: SHA-256 of the canonical JSON of the path-sorted list; order-independent; duplicates refused', () => {
  const d = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;
  const files = [
    { path: 'b', digest: d('b'), size: 2 },
    { path: 'a', digest: d('a'), size: 1 },
  ];
  const expected = `sha256:${createHash('sha256').update(`[{"digest":"${d('a')}","path":"a","size":1},{"digest":"${d('b')}","path":"b","size":2}]`).digest('hex')}`;
  assert.equal(manifestDigest(files), expected);
  fc.assert(fc.property(fc.shuffledSubarray(files, { minLength: 2, maxLength: 2 }), (shuffled) => manifestDigest(shuffled) === expected));
  assert.notEqual(manifestDigest([{ ...files[0]!, size: 3 }, files[1]!]), expected);
  assert.throws(() => manifestDigest([files[0]!, files[0]!]), /twice/);
});

test('names, versions, aliases and stages', () => {
  assert.equal(parseModelName('Fraud-Detector_v2.1'), 'Fraud-Detector_v2.1');
  for (const n of ['', 'a/b', '..', 'x..y', '%2D', 'a b', '-x', 'a'.repeat(201)]) assert.throws(() => parseModelName(n), n);
  assert.equal(parseVersion('12'), 12);
  assert.equal(parseVersion(3), 3);
  for (const v of ['0', '01', '-1', '1.0', 'x', '', '12345678901']) assert.throws(() => parseVersion(v), v);
  assert.equal(parseAlias('champion'), 'champion');
  for (const a of ['latest', 'LATEST', 'v1', 'V22', 'a b', '', 'x'.repeat(256)]) assert.throws(() => parseAlias(a), a);
  assert.equal(parseStage('production'), 'Production');
  assert.equal(parseStage(' none '), 'None');
  assert.throws(() => parseStage('Shipped'));
});

test('search grammar: models and versions, AND only, typed comparisons, order_by', () => {
  const ok = <T>(r: { ok: boolean; value?: T; error?: unknown }): T => {
    assert.equal(r.ok, true, JSON.stringify(r));
    return r.value as T;
  };
  assert.deepEqual(ok(parseModelFilter("name LIKE 'fraud%' AND tags.team = \"risk\" AND tags.`my key` != 'x'")), [
    { kind: 'name', op: 'LIKE', value: 'fraud%' },
    { kind: 'tag', key: 'team', op: '=', value: 'risk' },
    { kind: 'tag', key: 'my key', op: '!=', value: 'x' },
  ]);
  assert.deepEqual(ok(parseModelFilter('tags.mlflow.source.type = \'LOCAL\'')), [{ kind: 'tag', key: 'mlflow.source.type', op: '=', value: 'LOCAL' }]);
  assert.deepEqual(ok(parseModelFilter('')), []);
  assert.deepEqual(ok(parseVersionFilter("name = 'm' AND run_id IN ('a', 'b') AND version_number >= 2 AND source_path ILIKE '%x%'")), [
    { kind: 'name', op: '=', value: 'm' },
    { kind: 'run-id-set', op: 'IN', values: ['a', 'b'] },
    { kind: 'version-number', op: '>=', value: 2 },
    { kind: 'source-path', op: 'ILIKE', value: '%x%' },
  ]);
  assert.deepEqual(ok(parseVersionFilter("name = 'it''s'")), [{ kind: 'name', op: '=', value: "it's" }]);
  for (const bad of ["name = 'a' OR name = 'b'", 'name = a', "name > 'a'", "run_id = 'x'", "(name = 'a')", "name = 'a' AND", 'name IS NULL', "name = 'a", 'version_number = 1']) {
    assert.equal(parseModelFilter(bad).ok, false, bad);
  }
  for (const bad of ['version_number > \'x\'', "run_id > 'a'", 'run_id IN \'a\'', "metrics.acc > 1", "name LIKE 5"]) assert.equal(parseVersionFilter(bad).ok, false, bad);
  assert.deepEqual(ok(parseRegistryOrderBy(['name DESC', 'timestamp', 'last_updated_timestamp ASC'], false)), [
    { key: 'name', ascending: false },
    { key: 'creation_timestamp', ascending: true },
    { key: 'last_updated_timestamp', ascending: true },
  ]);
  assert.equal(parseRegistryOrderBy(['version_number'], false).ok, false);
  assert.equal(parseRegistryOrderBy(['version_number DESC'], true).ok, true);
  assert.equal(parseRegistryOrderBy(['name NULLS LAST'], true).ok, false);
});

test('model cards and gate policies are checked; decisions list every check', () => {
  const card = parseModelCard({ intendedUse: 'u', data: 'd', limitations: 'l', metrics: { acc: 0.9 }, fairness: { summary: 's', groups: [{ group: 'g', metrics: { tpr: 1 } }] } });
  assert.equal(card.fairness?.groups[0]?.group, 'g');
  assert.throws(() => parseModelCard({ intendedUse: 'u', data: 'd' }), /limitations/);
  assert.throws(() => parseModelCard({ intendedUse: 'u', data: 'd', limitations: 'l', metrics: { acc: 'high' } }), /finite number/);
  assert.throws(() => parseModelCard({ intendedUse: 'u', data: 'd', limitations: 'l', other: 1 }), /unknown field/);
  assert.throws(() => parseGatePolicy({}), /must require/);
  assert.throws(() => parseGatePolicy({ metrics: [{ key: 'acc', op: '~', threshold: 1 }] }), /op/);
  assert.throws(() => parseGatePolicy({ metrics: [{ key: 'acc', threshold: Number.NaN }] }), /threshold/);
  const policy = parseGatePolicy({ requireModelCard: true, metrics: [{ key: 'acc', threshold: 0.9 }, { key: 'latency', op: '<', threshold: 50 }] });
  const gate = { alias: 'production', ...policy };
  const allow = evaluateGate(gate, card, new Map([['acc', 0.93], ['latency', 20]]));
  assert.equal(allow.allowed, true);
  assert.equal(allow.checks.length, 3);
  const deny = evaluateGate(gate, { ...card, fairness: null }, new Map([['acc', Number.NaN]]));
  assert.equal(deny.allowed, false);
  assert.deepEqual(deny.checks.map((c) => c.ok), [false, false, false]);
  assert.match(deny.checks[0]?.message ?? '', /fairness/);
  assert.match(deny.checks[2]?.message ?? '', /latency was not logged/);
  const noRun = evaluateGate({ alias: 'p', requireModelCard: false, metrics: policy.metrics }, null, null);
  assert.match(noRun.checks[0]?.message ?? '', /no run/);
  assert.equal(evaluateGate({ alias: 'p', requireModelCard: false, metrics: [{ key: 'acc', op: '=', threshold: 1 }] }, null, new Map([['acc', 1]])).allowed, true);
});
