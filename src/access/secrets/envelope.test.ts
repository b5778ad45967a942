// Envelope encryption through the public surface: round trips, tamper resistance of both layers
// (every bit of IV, tag and ciphertext), context binding, IV uniqueness, and the KEK rotation
// matrix (seal v1 → rotate → open; retire v1; rewrap v1 → v2 without touching the value).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isStrataError } from '../../kernel/index.ts';
import { Keyring, UNDECRYPTABLE_MESSAGE, open, rewrap, rotate, seal, setMinDecryptionVersion } from './index.ts';
import type { SealedInput, SealedValue, SecretContext } from './index.ts';

const ctx: SecretContext = { project: 'prj_demo', name: 'DB_PASSWORD', version: 3 };
const newKeyring = (): Keyring => Keyring.generate();

function assertUndecryptable(fn: () => unknown, label = ''): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(isStrataError(e), `${label}: expected a StrataError, got ${String(e)}`);
      assert.equal(e.message, UNDECRYPTABLE_MESSAGE, label);
      assert.equal(e.code, 'internal', label);
      assert.deepEqual(e.details, { reason: 'undecryptable' }, label);
      assert.equal(e.cause, undefined, label);
      return true;
    },
    label,
  );
}

/** Splits "v1:...:iv:tag:ct" into its prefix and the three decoded binary fields. */
function fields(s: string): { prefix: string[]; parts: Buffer[] } {
  const all = s.split(':');
  return { prefix: all.slice(0, all.length - 3), parts: all.slice(-3).map((p) => Buffer.from(p, 'base64url')) };
}
const join = (prefix: string[], parts: Buffer[]): string => [...prefix, ...parts.map((b) => b.toString('base64url'))].join(':');

/** Every single-bit flip of IV, tag and ciphertext of one stored string. */
function* bitFlips(s: string): Generator<{ label: string; value: string }> {
  const { prefix, parts } = fields(s);
  const names = ['iv', 'tag', 'ct'];
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p] ?? Buffer.alloc(0);
    for (let i = 0; i < part.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = parts.map((b) => Buffer.from(b));
        const target = copy[p];
        if (target === undefined) continue;
        target[i] = (target[i] ?? 0) ^ (1 << bit);
        yield { label: `${names[p] ?? '?'} byte ${i} bit ${bit}`, value: join(prefix, copy) };
      }
    }
  }
}

test('round trip: ascii, empty, unicode and 1 MiB values', () => {
  const keyring = newKeyring();
  const values = [
    Buffer.from('hunter2'),
    Buffer.alloc(0),
    Buffer.from('pässwörd 🔑 秘密 — ﷽', 'utf8'),
    randomBytes(1024 * 1024),
  ];
  for (const value of values) {
    const sealed = seal(keyring, value, ctx);
    assert.equal(sealed.kekVersion, 1);
    assert.match(sealed.wrappedKey, /^v1:1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{43}$/);
    assert.match(sealed.ciphertext, /^v1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]*$/);
    assert.deepEqual(open(keyring, sealed, ctx), value);
  }
  const text = 'pässwörd 🔑 秘密';
  assert.equal(open(keyring, seal(keyring, Buffer.from(text), ctx), ctx).toString('utf8'), text);
});

test('the plaintext does not appear in either stored string', () => {
  const keyring = newKeyring();
  const canary = 'canary-7f3a9c-secret-value';
  const sealed = seal(keyring, Buffer.from(canary), ctx);
  const stored = JSON.stringify(sealed);
  assert.ok(!stored.includes(canary));
  assert.ok(!stored.includes(Buffer.from(canary).toString('base64url')));
  assert.ok(!stored.includes(Buffer.from(canary).toString('base64')));
});

test('every bit flip of IV, tag or ciphertext in the value layer fails uniformly', () => {
  const keyring = newKeyring();
  const sealed = seal(keyring, Buffer.from('hunter2'), ctx);
  let n = 0;
  for (const { label, value } of bitFlips(sealed.ciphertext)) {
    assertUndecryptable(() => open(keyring, { ...sealed, ciphertext: value }, ctx), `value ${label}`);
    n++;
  }
  assert.equal(n, (12 + 16 + 7) * 8);
});

test('every bit flip of IV, tag or wrapped key in the key layer fails uniformly (open and rewrap)', () => {
  const keyring = newKeyring();
  const sealed = seal(keyring, Buffer.from('hunter2'), ctx);
  let n = 0;
  for (const { label, value } of bitFlips(sealed.wrappedKey)) {
    const tampered = { ...sealed, wrappedKey: value };
    assertUndecryptable(() => open(keyring, tampered, ctx), `wrapped ${label}`);
    assertUndecryptable(() => rewrap(keyring, tampered, ctx), `rewrap wrapped ${label}`);
    n++;
  }
  assert.equal(n, (12 + 16 + 32) * 8);
});

test('truncated or extended tags fail uniformly in both layers (DEP0182)', () => {
  const keyring = newKeyring();
  const sealed = seal(keyring, Buffer.from('hunter2'), ctx);
  for (const layer of ['ciphertext', 'wrappedKey'] as const) {
    const { prefix, parts } = fields(sealed[layer]);
    const [iv, tag, ct] = parts;
    assert.ok(iv !== undefined && tag !== undefined && ct !== undefined);
    for (const n of [0, 4, 8, 12, 15]) {
      const s = { ...sealed, [layer]: join(prefix, [iv, tag.subarray(0, n), ct]) };
      assertUndecryptable(() => open(keyring, s, ctx), `${layer} tag ${n} bytes`);
    }
    const longer = { ...sealed, [layer]: join(prefix, [iv, Buffer.concat([tag, Buffer.from([0])]), ct]) };
    assertUndecryptable(() => open(keyring, longer, ctx), `${layer} tag 17 bytes`);
    for (const n of [0, 8, 11, 13, 16]) {
      const s = { ...sealed, [layer]: join(prefix, [randomBytes(n), tag, ct]) };
      assertUndecryptable(() => open(keyring, s, ctx), `${layer} iv ${n} bytes`);
    }
  }
  // A value ciphertext cut short or extended.
  const { prefix, parts } = fields(sealed.ciphertext);
  const [iv, tag, ct] = parts;
  assert.ok(iv !== undefined && tag !== undefined && ct !== undefined);
  assertUndecryptable(() => open(keyring, { ...sealed, ciphertext: join(prefix, [iv, tag, ct.subarray(1)]) }, ctx));
  assertUndecryptable(() => open(keyring, { ...sealed, ciphertext: join(prefix, [iv, tag, Buffer.concat([ct, ct])]) }, ctx));
});

test('malformed stored strings fail with the same error', () => {
  const keyring = newKeyring();
  const sealed = seal(keyring, Buffer.from('hunter2'), ctx);
  const badCiphertexts = [
    '',
    'v1',
    'v2' + sealed.ciphertext.slice(2),
    sealed.ciphertext + ':',
    sealed.ciphertext.replace(/^v1:/, 'v1::'),
    sealed.ciphertext.replace(/^v1:(.)/, 'v1:+'), // not base64url
    sealed.ciphertext.replace(/^v1:(.)/, 'v1:='),
    ` ${sealed.ciphertext}`,
    sealed.ciphertext.replace(/:/g, ';'),
  ];
  for (const c of badCiphertexts) assertUndecryptable(() => open(keyring, { ...sealed, ciphertext: c }, ctx), c);
  const badWrapped = [
    '',
    sealed.wrappedKey.replace(/^v1:1:/, 'v1:0:'),
    sealed.wrappedKey.replace(/^v1:1:/, 'v1:01:'),
    sealed.wrappedKey.replace(/^v1:1:/, 'v1:-1:'),
    sealed.wrappedKey.replace(/^v1:1:/, 'v1:1.0:'),
    sealed.wrappedKey.replace(/^v1:1:/, 'v1:99:'), // unknown KEK version
    sealed.wrappedKey.replace(/^v1:1:/, 'v1:'),
    sealed.wrappedKey.replace(/^v1:/, 'v9:'),
    `${sealed.wrappedKey}A`,
  ];
  for (const w of badWrapped) assertUndecryptable(() => open(keyring, { ...sealed, wrappedKey: w }, ctx), w);
});

test('non-canonical base64url (same bytes, different text) is refused', () => {
  const keyring = newKeyring();
  const sealed = seal(keyring, Buffer.from('hunter2'), ctx); // 7-byte ct → 10 chars, 2 spare low bits
  const { prefix, parts } = fields(sealed.ciphertext);
  const ctText = sealed.ciphertext.split(':')[3] ?? '';
  const last = ctText.at(-1) ?? 'A';
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const idx = alphabet.indexOf(last);
  const sibling = alphabet[idx ^ 1] ?? 'A'; // differs only in a padding bit
  const altered = `${sealed.ciphertext.slice(0, -1)}${sibling}`;
  assert.deepEqual(Buffer.from(altered.split(':')[3] ?? '', 'base64url'), parts[2]);
  assert.equal(prefix.length, 1);
  assertUndecryptable(() => open(keyring, { ...sealed, ciphertext: altered }, ctx));
});

test('wrong context fails: other project, name, version, and length-prefix ambiguities', () => {
  const keyring = newKeyring();
  const sealed = seal(keyring, Buffer.from('hunter2'), ctx);
  const wrong: SecretContext[] = [
    { ...ctx, project: 'prj_other' },
    { ...ctx, name: 'DB_PASSWORD2' },
    { ...ctx, name: 'db_password' },
    { ...ctx, version: 4 },
    { ...ctx, version: 0 },
  ];
  for (const w of wrong) {
    assertUndecryptable(() => open(keyring, sealed, w), JSON.stringify(w));
    assertUndecryptable(() => rewrap(keyring, sealed, w), `rewrap ${JSON.stringify(w)}`);
  }
  const ab = seal(keyring, Buffer.from('x'), { project: 'a', name: 'bc', version: 1 });
  assertUndecryptable(() => open(keyring, ab, { project: 'ab', name: 'c', version: 1 }));
  const numeric = seal(keyring, Buffer.from('x'), { project: 'p1', name: '2', version: 3 });
  assertUndecryptable(() => open(keyring, numeric, { project: 'p', name: '12', version: 3 }));
  assertUndecryptable(() => open(keyring, numeric, { project: 'p1', name: '', version: 23 }));
});

test('layers cannot be mixed between secrets: swapped wrapped keys and ciphertexts fail', () => {
  const keyring = newKeyring();
  const a = seal(keyring, Buffer.from('alpha'), ctx);
  const b = seal(keyring, Buffer.from('bravo'), ctx); // same context, different DEK
  assertUndecryptable(() => open(keyring, { wrappedKey: a.wrappedKey, ciphertext: b.ciphertext }, ctx));
  assertUndecryptable(() => open(keyring, { wrappedKey: b.wrappedKey, ciphertext: a.ciphertext }, ctx));
  // A value ciphertext presented as a wrapped key (and vice versa) is refused by shape.
  assertUndecryptable(() => open(keyring, { wrappedKey: a.ciphertext, ciphertext: a.wrappedKey }, ctx));
});

test('a different keyring (wrong master key) fails uniformly', () => {
  const sealed = seal(newKeyring(), Buffer.from('hunter2'), ctx);
  assertUndecryptable(() => open(newKeyring(), sealed, ctx));
});

test('invalid contexts are refused before any crypto', () => {
  const keyring = newKeyring();
  assert.throws(() => seal(keyring, Buffer.from('x'), { ...ctx, name: 'bad\uD800' }), /well-formed/);
  assert.throws(() => seal(keyring, Buffer.from('x'), { ...ctx, version: 1.5 }), /non-negative integer/);
  assert.throws(() => seal(keyring, Buffer.from('x'), { ...ctx, version: -1 }), /non-negative integer/);
});

test('IVs never repeat across 10,000 seals, in either layer', () => {
  const keyring = newKeyring();
  const valueIvs = new Set<string>();
  const wrapIvs = new Set<string>();
  const n = 10_000;
  for (let i = 0; i < n; i++) {
    const s = seal(keyring, Buffer.from('v'), ctx);
    valueIvs.add(s.ciphertext.split(':')[1] ?? '');
    wrapIvs.add(s.wrappedKey.split(':')[2] ?? '');
  }
  assert.equal(valueIvs.size, n);
  assert.equal(wrapIvs.size, n);
  for (const iv of valueIvs) assert.ok(!wrapIvs.has(iv));
});

test('rotation matrix: seal v1, rotate, open; seal v2; retire v1; rewrap v1 → v2', () => {
  const v1 = newKeyring();
  const old = seal(v1, Buffer.from('old secret'), ctx);
  assert.equal(old.kekVersion, 1);

  const v2 = rotate(v1);
  assert.equal(v2.current, 2);
  assert.deepEqual(v2.versions(), [1, 2]);
  assert.equal(open(v2, old, ctx).toString(), 'old secret');

  const fresh = seal(v2, Buffer.from('new secret'), ctx);
  assert.equal(fresh.kekVersion, 2);
  assert.match(fresh.wrappedKey, /^v1:2:/);
  assert.equal(open(v2, fresh, ctx).toString(), 'new secret');
  // The v1-only keyring cannot read what v2 wrapped.
  assertUndecryptable(() => open(v1, fresh, ctx));

  // Retire v1 before rewrapping: v1 rows fail with the distinct, operator-facing message.
  const retired = setMinDecryptionVersion(v2, 2);
  assert.throws(
    () => open(retired, old, ctx),
    (e: unknown) =>
      isStrataError(e) &&
      e.message.startsWith('key version 1 is retired (below minDecryptionVersion 2)') &&
      e.details['reason'] === 'retired_key',
  );
  assert.throws(() => rewrap(retired, old, ctx), /key version 1 is retired/);
  assert.equal(open(retired, fresh, ctx).toString(), 'new secret');

  // The right order: rewrap under v2 first, then retire v1.
  const moved: SealedValue = rewrap(v2, old, ctx);
  assert.equal(moved.kekVersion, 2);
  assert.match(moved.wrappedKey, /^v1:2:/);
  assert.equal(moved.ciphertext, old.ciphertext, 'the value ciphertext is byte-identical after rewrap');
  assert.notEqual(moved.wrappedKey, old.wrappedKey);
  assert.equal(open(retired, moved, ctx).toString(), 'old secret');
  assert.equal(Object.keys(moved).sort().join(','), 'ciphertext,kekVersion,wrappedKey', 'rewrap returns no plaintext');
});

test('rewrap is repeatable and rewrapping a current-version value still yields a fresh wrap', () => {
  const keyring = rotate(newKeyring());
  const sealed = seal(keyring, Buffer.from('x'), ctx);
  const again = rewrap(keyring, sealed, ctx);
  assert.equal(again.kekVersion, 2);
  assert.equal(again.ciphertext, sealed.ciphertext);
  assert.notEqual(again.wrappedKey, sealed.wrappedKey);
  assert.equal(open(keyring, rewrap(keyring, again, ctx), ctx).toString(), 'x');
});

test('rewrap refuses a malformed value ciphertext without decrypting anything', () => {
  const keyring = rotate(newKeyring());
  const sealed: SealedInput = seal(keyring, Buffer.from('x'), ctx);
  assertUndecryptable(() => rewrap(keyring, { ...sealed, ciphertext: 'v1:garbage' }, ctx));
});

test('the KEK version in wrappedKey is authenticated: relabelling v2 as v1 fails', () => {
  const keyring = rotate(newKeyring());
  const sealed = seal(keyring, Buffer.from('x'), ctx);
  assertUndecryptable(() => open(keyring, { ...sealed, wrappedKey: sealed.wrappedKey.replace(/^v1:2:/, 'v1:1:') }, ctx));
});
