// Resource quantities: the Kubernetes notation examples, the refusals, and property tests
// (round trips, an independent oracle for decimals, garbage never escapes as a non-StrataError).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StrataError } from '../kernel/index.ts';
import { formatCpu, formatMemory, parseCpu, parseMemory, tryParseCpu, tryParseMemory, MAX_MEMORY_BYTES } from './index.ts';

const Ki = 1024;
const Mi = Ki * 1024;
const Gi = Mi * 1024;

test('CPU quantities become millicores, rounding up like Kubernetes', () => {
  const cases: ReadonlyArray<readonly [string | number, number]> = [
    ['100m', 100], ['0.5', 500], ['2', 2000], [0.5, 500], [2, 2000], ['1.5', 1500], ['.5', 500], ['5.', 5000],
    ['+1', 1000], ['1500m', 1500], ['1u', 1], ['1n', 1], ['0.1m', 1], ['2k', 2_000_000], ['1e3', 1_000_000],
    ['1E-3', 1], ['250e-3', 250], ['0.0001', 1], [1e-7, 1],
  ];
  for (const [q, want] of cases) assert.equal(parseCpu(q), want, `cpu ${String(q)}`);
});

test('memory quantities become bytes: binary Ki…Ei, decimal k…E, exponents, plain numbers', () => {
  const cases: ReadonlyArray<readonly [string | number, number]> = [
    ['64Mi', 64 * Mi], ['1Gi', Gi], ['500M', 500_000_000], ['1e9', 1e9], [1e9, 1e9], ['1000', 1000], [1000, 1000],
    ['1.5Gi', 1.5 * Gi], ['1k', 1000], ['1Ki', 1024], ['0.5Ki', 512], ['1Ti', 2 ** 40], ['7Pi', 7 * 2 ** 50],
    ['1P', 1e15], ['9T', 9e12], ['1.5', 2], ['12E-1', 2], ['1E3', 1000], ['0.001Ki', 2],
  ];
  for (const [q, want] of cases) assert.equal(parseMemory(q), want, `memory ${String(q)}`);
});

test('bad quantities are 400s that name the field and show an example', () => {
  const bad: ReadonlyArray<readonly [unknown, RegExp]> = [
    ['64Mb', /"64Mb" is not a quantity; use e\.g\. 64Mi, 1Gi or 500M/],
    ['', /is not a quantity/],
    [' 1', /is not a quantity/],
    ['1 ', /is not a quantity/],
    ['-1Gi', /is negative/],
    ['0', /greater than zero/],
    ['0.0Mi', /greater than zero/],
    ['abc', /is not a quantity/],
    ['1e', /is not a quantity/],
    ['Mi', /is not a quantity/],
    ['1.2.3', /is not a quantity/],
    ['1KB', /is not a quantity/],
    ['1ki', /is not a quantity/],
    ['500m', /fraction of a byte.*M and Mi/],
    ['1Ei', /too large/],
    ['8Pi', /too large/],
    ['1e999999999', /too large/],
    ['1e99999999999999999999999', /too large/],
    ['9'.repeat(65), /too long/],
    [Number.NaN, /not a quantity/],
    [Number.POSITIVE_INFINITY, /not a quantity/],
    [null, /expected a quantity, got null/],
    [{}, /expected a quantity/],
    [[], /expected a quantity, got a list/],
    [true, /expected a quantity/],
  ];
  for (const [q, re] of bad) {
    assert.throws(
      () => parseMemory(q as string, 'resources.memory'),
      (e: unknown) => e instanceof StrataError && e.code === 'bad_request' && e.details['field'] === 'resources.memory' && e.message.startsWith('resources.memory: ') && re.test(e.message),
      `memory ${JSON.stringify(q)}`,
    );
  }
  assert.throws(() => parseCpu('100x'), /^StrataError: cpu: "100x" is not a quantity; use e\.g\. 100m, 0\.5 or 2$/);
  assert.throws(() => parseCpu('-100m'), /negative/);
  // 1e-9 millicores rounds up to 1; an absurdly small exponent still counts as "more than zero".
  assert.equal(parseCpu('1e-200'), 1);
});

test('formatting is canonical: whole cores, largest exact suffix, binary first', () => {
  assert.equal(formatCpu(2000), '2');
  assert.equal(formatCpu(1500), '1500m');
  assert.equal(formatCpu(100), '100m');
  assert.equal(formatCpu(0), '0');
  assert.equal(formatMemory(64 * Mi), '64Mi');
  assert.equal(formatMemory(1.5 * Gi), '1536Mi');
  assert.equal(formatMemory(500_000_000), '500M');
  assert.equal(formatMemory(1e9), '1G');
  assert.equal(formatMemory(1000), '1k');
  assert.equal(formatMemory(1023), '1023');
  assert.equal(formatMemory(2 ** 50), '1Pi');
  assert.equal(formatMemory(0), '0');
  assert.throws(() => formatMemory(-1), StrataError);
  assert.throws(() => formatMemory(1.5), StrataError);
  assert.throws(() => formatCpu(Number.NaN), StrataError);
});

test('property: parse(format(n)) === n for every valid count', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: MAX_MEMORY_BYTES }), (n) => {
      assert.equal(parseMemory(formatMemory(n)), n);
      assert.equal(parseCpu(formatCpu(n)), n);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 20 }), fc.constantFrom(10, 20, 30, 40), (k, shift) => {
      fc.pre(k * 2 ** shift <= MAX_MEMORY_BYTES);
      assert.equal(parseMemory(formatMemory(k * 2 ** shift)), k * 2 ** shift);
    }),
  );
});

const digits = (min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join(''));

test('property: formatMemory(parseMemory(x)) is stable for generated valid quantities', () => {
  const quantity = fc
    .tuple(digits(1, 7), fc.option(digits(0, 4), { nil: undefined }), fc.constantFrom('', 'k', 'M', 'G', 'T', 'Ki', 'Mi', 'Gi', 'Ti', 'e0', 'e3', 'e6', 'E2', 'e-1'))
    .map(([i, f, s]) => `${i}${f === undefined ? '' : `.${f}`}${s}`);
  fc.assert(
    fc.property(quantity, (q) => {
      const r = tryParseMemory(q);
      if (!r.ok) {
        assert.match(r.reason, /greater than zero|too large/, q);
        return;
      }
      const once = formatMemory(r.value);
      assert.equal(parseMemory(once), r.value, q);
      assert.equal(formatMemory(parseMemory(once)), once, q);
    }),
    { numRuns: 3000 },
  );
});

test('property: parseCpu agrees with an independent decimal oracle', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), digits(0, 3), (whole, frac) => {
      const expected = whole * 1000 + Number(frac.padEnd(3, '0'));
      fc.pre(expected > 0);
      assert.equal(parseCpu(`${whole}.${frac}`), expected);
      assert.equal(parseCpu(`${expected}m`), expected);
      assert.equal(parseCpu(`${expected}e-3`), expected);
      assert.equal(parseCpu(`${expected * 1000}u`), expected);
      if (frac === '') assert.equal(parseCpu(whole), expected);
    }),
    { numRuns: 2000 },
  );
});

test('property: garbage never throws anything but a StrataError', () => {
  const garbage = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(...'0123456789.eE+-kKMGTPEimunb '), maxLength: 30 }),
    fc.anything(),
    fc.double(),
  );
  fc.assert(
    fc.property(garbage, (g) => {
      for (const fn of [tryParseCpu, tryParseMemory]) {
        const r = fn(g);
        if (r.ok) assert.ok(Number.isSafeInteger(r.value) && r.value >= 1);
      }
      for (const fn of [parseCpu, parseMemory]) {
        try {
          fn(g as string);
        } catch (e) {
          assert.ok(e instanceof StrataError, String(e));
        }
      }
    }),
    { numRuns: 3000 },
  );
});
