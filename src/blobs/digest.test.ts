// Digests: one spelling per content (lower-case sha256 only), parsed at the edge with a 400.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStrataError } from '../kernel/index.ts';
import { digestHex, digestOf, isDigest, parseDigest } from './index.ts';

const ABC = 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'; // FIPS 180-2 "abc"

test('digestOf matches the FIPS 180-2 test vector and parses back', () => {
  assert.equal(digestOf('abc'), ABC);
  assert.equal(parseDigest(ABC), ABC);
  assert.equal(digestHex(parseDigest(ABC)), ABC.slice(7));
  assert.equal(isDigest(ABC), true);
});

test('parseDigest refuses every other spelling with a 400 naming the field', () => {
  const bad: unknown[] = [
    ABC.toUpperCase(),
    `SHA256:${ABC.slice(7)}`,
    `sha256:${ABC.slice(7).toUpperCase()}`,
    ` ${ABC}`,
    `${ABC}\n`,
    ABC.slice(7),
    `sha512:${ABC.slice(7)}`,
    `sha256:${ABC.slice(7, 70)}`,
    `sha256:${ABC.slice(8)}`,
    `sha256:${ABC.slice(7)}00`,
    'sha256:../../../../etc/passwd',
    '',
    null,
    42,
    { digest: ABC },
  ];
  for (const b of bad) {
    assert.equal(isDigest(b), false, String(b));
    assert.throws(() => parseDigest(b, 'artifact_digest'), (e: unknown) => isStrataError(e) && e.status === 400 && e.details['field'] === 'artifact_digest', String(b));
  }
});
