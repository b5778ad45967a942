// Known-answer tests for the AES-256-GCM primitive: proves key, IV, AAD and tag are wired the way
// NIST SP 800-38D defines them (a swapped argument or a dropped setAAD fails here, not in prod),
// and that truncated tags are refused even on Node versions where plain setAuthTag accepts them
// (DEP0182).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { gcmDecrypt, gcmEncrypt } from './gcm.ts';

interface Vector {
  readonly id: string;
  readonly key: string;
  readonly iv: string;
  readonly aad: string;
  readonly msg: string;
  readonly ct: string;
  readonly tag: string;
}

// Source 1: McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", the specification
// submitted to NIST that SP 800-38D standardises, Appendix B, AES-256 test cases 13-16
// (https://csrc.nist.gov/groups/ST/toolkit/BCM/documents/proposedmodes/gcm/gcm-spec.pdf).
const P64 =
  'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
const C64 =
  '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad';
const K15 = 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308';
const ZERO_KEY = '00'.repeat(32);
const GCM_SPEC: readonly Vector[] = [
  { id: 'gcm-spec TC13', key: ZERO_KEY, iv: '00'.repeat(12), aad: '', msg: '', ct: '', tag: '530f8afbc74536b9a963b4f1c4cb738b' },
  {
    id: 'gcm-spec TC14',
    key: ZERO_KEY,
    iv: '00'.repeat(12),
    aad: '',
    msg: '00'.repeat(16),
    ct: 'cea7403d4d606b6e074ec5d3baf39d18',
    tag: 'd0d1c8a799996bf0265b98b5d48ab919',
  },
  { id: 'gcm-spec TC15', key: K15, iv: 'cafebabefacedbaddecaf888', aad: '', msg: P64, ct: C64, tag: 'b094dac5d93471bdec1a502270e3cc6c' },
  {
    id: 'gcm-spec TC16',
    key: K15,
    iv: 'cafebabefacedbaddecaf888',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    msg: P64.slice(0, 120),
    ct: C64.slice(0, 120),
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];

// Source 2: Project Wycheproof, testvectors/aes_gcm_test.json (C2SP/wycheproof, commit
// 2f387d269d960b389c0073b46acc1b5e84c71159), group ivSize 96 / keySize 256 / tagSize 128,
// "result": "valid" cases.
const WYCHEPROOF_VALID: readonly Vector[] = [
  {
    id: 'wycheproof tcId 73',
    key: '92ace3e348cd821092cd921aa3546374299ab46209691bc28b8752d17f123c20',
    iv: '00112233445566778899aabb',
    aad: '00000000ffffffff',
    msg: '00010203040506070809',
    ct: 'e27abdd2d2a53d2f136b',
    tag: '9a4a2579529301bcfb71c78d4060f52c',
  },
  {
    id: 'wycheproof tcId 74',
    key: '29d3a44f8723dc640239100c365423a312934ac80239212ac3df3421a2098123',
    iv: '00112233445566778899aabb',
    aad: 'aabbccddeeff',
    msg: '',
    ct: '',
    tag: '2a7d77fa526b8250cb296078926b5020',
  },
  {
    id: 'wycheproof tcId 76',
    key: 'cc56b680552eb75008f5484b4cb803fa5063ebd6eab91f6ab6aef4916a766273',
    iv: '99e23ec48985bccdeeab60f1',
    aad: '',
    msg: '2a',
    ct: '06',
    tag: '633c1e9703ef744ffffb40edf9d14355',
  },
  {
    id: 'wycheproof tcId 84',
    key: 'f32364b1d339d82e4f132d8f4a0ec1ff7e746517fa07ef1a7f422f4e25a48194',
    iv: '5a86a50a0e8a179c734b996d',
    aad: 'ab2ac7c44c60bdf8228c7884adb20184',
    msg: '43891bccb522b1e72a6b53cf31c074e9d6c2df8e',
    ct: '43dda832e942e286da314daa99bef5071d9d2c78',
    tag: 'c3922583476ced575404ddb85dd8cd44',
  },
  {
    id: 'wycheproof tcId 92 (special case)',
    key: '00112233445566778899aabbccddeeff102132435465768798a9bacbdcedfe0f',
    iv: '000000000000000000000000',
    aad: '',
    msg: '561008fa07a68f5c61285cd013464eaf',
    ct: '23293e9b07ca7d1b0cae7cc489a973b3',
    tag: 'ffffffffffffffffffffffffffffffff',
  },
];

// Same file and group, "result": "invalid" cases (modified tags) — must be rejected.
const INVALID_KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const INVALID_IV = '505152535455565758595a5b';
const INVALID_MSG = '202122232425262728292a2b2c2d2e2f';
const INVALID_CT = 'b2061457c0759fc1749f174ee1ccadfa';
const WYCHEPROOF_INVALID_TAGS: readonly (readonly [number, string])[] = [
  [94, '9de8fef6d8ab1bf1bf887232eab590dd'], // flipped bit 0
  [101, '9ce8fef6d8ab1b71bf887232eab590dd'], // flipped bit 63
  [112, '9ce8fef6d8ab1bf1bf887232eab5905d'], // flipped bit 127
  [116, '631701092754e40e40778dcd154a6f22'], // all bits flipped
  [117, '00000000000000000000000000000000'], // all zero
  [118, 'ffffffffffffffffffffffffffffffff'], // all one
  [120, '9de9fff7d9aa1af0be897333ebb491dc'], // lsbs changed
];

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

for (const v of [...GCM_SPEC, ...WYCHEPROOF_VALID]) {
  test(`KAT ${v.id}: encrypt gives the expected ciphertext and tag, decrypt inverts it`, () => {
    const out = gcmEncrypt(hex(v.key), hex(v.iv), hex(v.msg), hex(v.aad));
    assert.equal(out.ciphertext.toString('hex'), v.ct);
    assert.equal(out.tag.toString('hex'), v.tag);
    const back = gcmDecrypt(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), hex(v.aad));
    assert.ok(back !== undefined);
    assert.equal(back.toString('hex'), v.msg);
  });
}

test('KAT: Wycheproof invalid tags (tcId 94-120 group) are rejected', () => {
  for (const [tcId, tag] of WYCHEPROOF_INVALID_TAGS) {
    const out = gcmDecrypt(hex(INVALID_KEY), hex(INVALID_IV), hex(INVALID_CT), hex(tag), Buffer.alloc(0));
    assert.equal(out, undefined, `tcId ${tcId} must not authenticate`);
  }
  // Only the tags were modified in these cases: the ciphertext is the true one for the message.
  const ok = gcmEncrypt(hex(INVALID_KEY), hex(INVALID_IV), hex(INVALID_MSG), Buffer.alloc(0));
  assert.equal(ok.ciphertext.toString('hex'), INVALID_CT);
  for (const [, tag] of WYCHEPROOF_INVALID_TAGS) assert.notEqual(ok.tag.toString('hex'), tag);
});

test('KAT: a changed AAD byte fails authentication (gcm-spec TC16)', () => {
  const v = GCM_SPEC[3];
  assert.ok(v !== undefined);
  const aad = hex(v.aad);
  aad[0] = (aad[0] ?? 0) ^ 1;
  assert.equal(gcmDecrypt(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), aad), undefined);
});

test('DEP0182: truncated tags are refused even where plain setAuthTag would accept them', (t) => {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const aad = Buffer.from('context');
  const { ciphertext, tag } = gcmEncrypt(key, iv, Buffer.from('hunter2'), aad);

  // The pitfall: without authTagLength, Node <= 22 accepts a valid 4..15-byte prefix of the tag.
  let nodeAcceptsShortTag: boolean;
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAuthTag(tag.subarray(0, 4));
    d.setAAD(aad);
    d.update(ciphertext);
    d.final();
    nodeAcceptsShortTag = true;
  } catch {
    nodeAcceptsShortTag = false;
  }
  t.diagnostic(`this Node (${process.version}) ${nodeAcceptsShortTag ? 'accepts' : 'refuses'} a 4-byte tag without authTagLength`);

  for (const n of [0, 4, 8, 12, 13, 14, 15]) {
    assert.equal(gcmDecrypt(key, iv, ciphertext, tag.subarray(0, n), aad), undefined, `${n}-byte tag`);
  }
  // Longer than 16 is refused too.
  assert.equal(gcmDecrypt(key, iv, ciphertext, Buffer.concat([tag, Buffer.alloc(1)]), aad), undefined);
  assert.deepEqual(gcmDecrypt(key, iv, ciphertext, tag, aad), Buffer.from('hunter2'));
});

test('IVs other than 12 bytes are refused', () => {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const { ciphertext, tag } = gcmEncrypt(key, iv, Buffer.from('x'), Buffer.alloc(0));
  for (const n of [0, 8, 11, 13, 16]) {
    assert.equal(gcmDecrypt(key, randomBytes(n), ciphertext, tag, Buffer.alloc(0)), undefined, `${n}-byte IV`);
    assert.throws(() => gcmEncrypt(key, randomBytes(n), Buffer.from('x'), Buffer.alloc(0)), /IV must be 12 bytes/);
  }
  assert.throws(() => gcmEncrypt(randomBytes(16), iv, Buffer.from('x'), Buffer.alloc(0)), /key must be 32 bytes/);
});

test('authTagLength pinned: our ciphertexts decrypt with a stock 16-byte-tag decipher', () => {
  // Cross-check against node:crypto used directly, so gcmEncrypt cannot drift to a non-standard layout.
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const aad = Buffer.from('aad');
  const { ciphertext, tag } = gcmEncrypt(key, iv, Buffer.from('payload'), aad);
  assert.equal(tag.length, 16);
  const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  d.setAuthTag(tag);
  d.setAAD(aad);
  assert.equal(Buffer.concat([d.update(ciphertext), d.final()]).toString(), 'payload');
  const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  c.setAAD(aad);
  assert.deepEqual(Buffer.concat([c.update('payload'), c.final()]), ciphertext);
});
