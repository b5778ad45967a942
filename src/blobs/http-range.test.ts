// Range header parsing and attachment names for artifact downloads (RFC 9110 §14, RFC 6266/8187).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isStrataError } from '../kernel/index.ts';
import { attachmentDisposition, parseRangeHeader } from './index.ts';

const refused = (header: string, size: number): void => {
  assert.throws(
    () => parseRangeHeader(header, size),
    (e: unknown) => isStrataError(e) && e.code === 'range_not_satisfiable' && e.status === 416,
    header,
  );
};

test('single byte ranges: a-b, a-, -n; absent header is the whole file', () => {
  assert.equal(parseRangeHeader(undefined, 10), undefined);
  assert.deepEqual(parseRangeHeader('bytes=2-5', 10), { start: 2, end: 6 });
  assert.deepEqual(parseRangeHeader('bytes=7-', 10), { start: 7, end: 10 });
  assert.deepEqual(parseRangeHeader('bytes=-3', 10), { start: 7, end: 10 });
  assert.deepEqual(parseRangeHeader('bytes=-30', 10), { start: 0, end: 10 }, 'a suffix longer than the file is the whole file');
  assert.deepEqual(parseRangeHeader('bytes=0-99', 10), { start: 0, end: 10 }, 'an end beyond the size is clamped');
  assert.deepEqual(parseRangeHeader(' bytes=1-1 ', 10), { start: 1, end: 2 });
});

test('416 for ranges outside the file, reversed, several, other units, malformed', () => {
  for (const h of ['bytes=10-', 'bytes=10-20', 'bytes=5-4', 'bytes=0-1,3-4', 'items=0-1', 'bytes=-', 'bytes=a-b', 'bytes=-0', 'bytes=99999999999999999-']) refused(h, 10);
  refused('bytes=0-0', 0);
});

test('property: every accepted range lies inside the file and is not empty', () => {
  fc.assert(
    fc.property(fc.nat(10_000), fc.option(fc.nat(20_000)), fc.option(fc.nat(20_000)), (size, a, b) => {
      if (a === null && b === null) return;
      const header = `bytes=${a ?? ''}-${b ?? ''}`;
      let r: { start: number; end: number } | undefined;
      try {
        r = parseRangeHeader(header, size);
      } catch (e) {
        assert.ok(isStrataError(e) && e.code === 'range_not_satisfiable');
        return;
      }
      assert.ok(r !== undefined);
      assert.ok(r.start >= 0 && r.start < r.end && r.end <= size, `${header} on ${size} → ${JSON.stringify(r)}`);
      if (a !== null) assert.equal(r.start, a);
    }),
  );
});

test('attachment names: ASCII fallback without quotes or controls, UTF-8 name encoded', () => {
  assert.equal(attachmentDisposition('model/MLmodel'), `attachment; filename="MLmodel"; filename*=UTF-8''MLmodel`);
  assert.equal(attachmentDisposition('a/naïve "x".txt'), `attachment; filename="na_ve _x_.txt"; filename*=UTF-8''na%C3%AFve%20%22x%22.txt`);
});
