// Tests for the RFC 9162 Merkle tree: known answers from the CT / Trillian / transparency-dev test
// vectors, a differential check against a naive transcription of the RFC, every proof for small
// trees, the transparency-dev corruption matrix, fast-check properties and refused requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { isStrataError, seededRandom } from '../../kernel/index.ts';
import {
  EMPTY_ROOT,
  MerkleAccumulator,
  consistencyProof,
  hashFromHex,
  inclusionProof,
  isHashHex,
  leafHash,
  nodeHash,
  rootFromLeaves,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from './index.ts';

// ---------------------------------------------------------------------------------------------
// An independent, deliberately naive transcription of RFC 9162 §2.1 (hashing via createHash, not
// the code under test).

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const H_LEAF = (d: Uint8Array): Buffer => sha(Buffer.from([0]), d);
const H_NODE = (l: Uint8Array, r: Uint8Array): Buffer => sha(Buffer.from([1]), l, r);
const kOf = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
/** MTH(D[n]) over leaf hashes, §2.1.1 — recursive, O(n log n) space, no cleverness. */
function naiveMth(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return d[0] as Buffer;
  const k = kOf(d.length);
  return H_NODE(naiveMth(d.slice(0, k)), naiveMth(d.slice(k)));
}
/** PATH(m, D[n]), §2.1.3.1. */
function naivePath(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = kOf(d.length);
  return m < k ? [...naivePath(m, d.slice(0, k)), naiveMth(d.slice(k))] : [...naivePath(m - k, d.slice(k)), naiveMth(d.slice(0, k))];
}
/** SUBPROOF(m, D[n], b), §2.1.4.1. */
function naiveSubproof(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [naiveMth(d)];
  const k = kOf(d.length);
  return m <= k
    ? [...naiveSubproof(m, d.slice(0, k), b), naiveMth(d.slice(k))]
    : [...naiveSubproof(m - k, d.slice(k), false), naiveMth(d.slice(0, k))];
}
/** The shape of PATH(m, D[n]): which side each sibling is on. Same shape ⇒ same hashing. */
function pathShape(m: number, n: number): string {
  if (n <= 1) return '';
  const k = kOf(n);
  return m < k ? `${pathShape(m, k)}R` : `${pathShape(m - k, n - k)}L`;
}
/** The shape of SUBPROOF(m, D[n], b). */
function subproofShape(m: number, n: number, b: boolean): string {
  if (m === n) return b ? '' : 'S';
  const k = kOf(n);
  return m <= k ? `${subproofShape(m, k, b)}R` : `${subproofShape(m - k, n - k, false)}L`;
}

/** Deterministic leaf hashes for tests: H_LEAF("leaf <i>"). */
const leaves = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => H_LEAF(Buffer.from(`leaf ${i}`)));
const LEAVES = leaves(130);


const hex = (h: string): Buffer => Buffer.from(h, 'hex');

// ---------------------------------------------------------------------------------------------
// Known answers

// Leaf inputs and roots for sizes 1..8, from google/trillian testonly/compact_merkle_tree.go
// (MerkleTreeLeafTestInputs / MerkleTreeLeafTestRootHashes, originally the CT C++ merkle_tree_test)
// and repeated in transparency-dev/merkle proof/verify_test.go.
const KAT_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(hex);
const KAT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const KAT_LEAVES = KAT_INPUTS.map((d) => leafHash(d));

// transparency-dev/merkle proof/verify_test.go: inclusion proofs (leaf is 1-based there) and
// consistency proofs over the same eight leaves.
const KAT_INCLUSION: { leaf: number; size: number; proof: string[] }[] = [
  { leaf: 1, size: 1, proof: [] },
  {
    leaf: 1,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    leaf: 6,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { leaf: 3, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    leaf: 2,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const KAT_CONSISTENCY: { size1: number; size2: number; proof: string[] }[] = [
  { size1: 1, size2: 1, proof: [] },
  {
    size1: 1,
    size2: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    size1: 6,
    size2: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    size1: 2,
    size2: 5,
    proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'],
  },
  {
    size1: 6,
    size2: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

test('the empty tree root is SHA-256 of the empty string (RFC 9162 §2.1.1)', () => {
  assert.equal(toHex(EMPTY_ROOT), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.deepEqual(rootFromLeaves([]), EMPTY_ROOT);
  assert.deepEqual(new MerkleAccumulator().root(), EMPTY_ROOT);
});

test('leaf and node hashes use the 0x00 / 0x01 domain prefixes', () => {
  const d = Buffer.from('data');
  assert.deepEqual(leafHash(d), H_LEAF(d));
  assert.deepEqual(nodeHash(LEAVES[0] as Buffer, LEAVES[1] as Buffer), H_NODE(LEAVES[0] as Buffer, LEAVES[1] as Buffer));
  assert.notDeepEqual(leafHash(Buffer.concat([LEAVES[0] as Buffer, LEAVES[1] as Buffer])), nodeHash(LEAVES[0] as Buffer, LEAVES[1] as Buffer));
  assert.throws(() => nodeHash(Buffer.alloc(31), Buffer.alloc(32)), isStrataError);
});

test('known-answer roots for the 8-leaf CT/Trillian vectors, iterative and incremental', () => {
  const acc = new MerkleAccumulator();
  for (let n = 1; n <= 8; n++) {
    acc.append(KAT_LEAVES[n - 1] as Buffer);
    assert.equal(toHex(rootFromLeaves(KAT_LEAVES, n)), KAT_ROOTS[n - 1], `rootFromLeaves size ${n}`);
    assert.equal(toHex(acc.root()), KAT_ROOTS[n - 1], `accumulator size ${n}`);
    assert.equal(toHex(naiveMth(KAT_LEAVES.slice(0, n))), KAT_ROOTS[n - 1], `naive reference size ${n}`);
  }
});

test('known-answer inclusion proofs from transparency-dev are generated and verify', () => {
  for (const v of KAT_INCLUSION) {
    const index = v.leaf - 1;
    const proof = inclusionProof(KAT_LEAVES, index, v.size);
    assert.deepEqual(proof.map(toHex), v.proof, `proof ${index}/${v.size}`);
    assert.ok(verifyInclusion(KAT_LEAVES[index] as Buffer, index, v.size, v.proof.map(hex), hex(KAT_ROOTS[v.size - 1] as string)));
  }
});

test('known-answer consistency proofs from transparency-dev are generated and verify', () => {
  for (const v of KAT_CONSISTENCY) {
    const proof = consistencyProof(KAT_LEAVES, v.size1, v.size2);
    assert.deepEqual(proof.map(toHex), v.proof, `proof ${v.size1}->${v.size2}`);
    const r1 = hex(KAT_ROOTS[v.size1 - 1] as string);
    const r2 = hex(KAT_ROOTS[v.size2 - 1] as string);
    assert.ok(verifyConsistency(v.size1, v.size2, r1, r2, v.proof.map(hex)));
  }
});

// ---------------------------------------------------------------------------------------------
// Differential: iterative and incremental roots equal the naive recursive MTH

test('rootFromLeaves and MerkleAccumulator equal the naive MTH for every size 0..70', () => {
  const acc = new MerkleAccumulator();
  for (let n = 0; n <= 70; n++) {
    const expected = naiveMth(LEAVES.slice(0, n));
    assert.deepEqual(rootFromLeaves(LEAVES, n), expected, `rootFromLeaves(${n})`);
    assert.deepEqual(acc.root(), expected, `accumulator(${n})`);
    assert.equal(acc.size, n);
    acc.append(LEAVES[n] as Buffer);
  }
});

test('roots agree with the naive MTH for random larger sizes (seeded)', () => {
  const next = seededRandom(0x5eed);
  const big = leaves(5000);
  const sizes = [127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 4096, 4097];
  for (let i = 0; i < 8; i++) sizes.push(1 + Math.floor(next() * 5000));
  for (const n of sizes) {
    const expected = naiveMth(big.slice(0, n));
    assert.deepEqual(rootFromLeaves(big, n), expected, `size ${n}`);
    const acc = new MerkleAccumulator();
    for (let i = 0; i < n; i++) acc.append(big[i] as Buffer);
    assert.deepEqual(acc.root(), expected, `accumulator size ${n}`);
  }
});

test('an accumulator restored from its peaks continues identically; appendHex equals append', () => {
  for (const cut of [0, 1, 2, 3, 7, 8, 13, 64, 100]) {
    const a = new MerkleAccumulator();
    for (let i = 0; i < cut; i++) a.appendHex(toHex(LEAVES[i] as Buffer));
    const b = MerkleAccumulator.fromPeaks(a.size, a.peaks);
    for (let i = cut; i < 130; i++) {
      a.append(LEAVES[i] as Buffer);
      b.append(LEAVES[i] as Buffer);
    }
    assert.deepEqual(b.root(), naiveMth(LEAVES), `restored at ${cut}`);
    assert.deepEqual(a.root(), b.root());
  }
  assert.throws(() => MerkleAccumulator.fromPeaks(3, [LEAVES[0] as Buffer]), isStrataError, 'size 3 needs 2 peaks');
  assert.throws(() => MerkleAccumulator.fromPeaks(-1, []), isStrataError);
  assert.throws(() => new MerkleAccumulator().append(Buffer.alloc(31)), isStrataError);
  assert.throws(() => new MerkleAccumulator().appendHex('zz'.repeat(32)), isStrataError);
});

test('appendLeaves and appendSubtreeHex equal appending leaf by leaf', () => {
  const acc = new MerkleAccumulator();
  acc.appendLeaves(Buffer.concat(LEAVES.slice(0, 8)));
  assert.deepEqual(acc.root(), naiveMth(LEAVES.slice(0, 8)));
  // A perfect subtree of 8 leaves at offset 8, then one of 16 at offset 16, then single leaves.
  acc.appendSubtreeHex(toHex(naiveMth(LEAVES.slice(8, 16))), 3);
  acc.appendSubtreeHex(toHex(naiveMth(LEAVES.slice(16, 32))), 4);
  for (let i = 32; i < 37; i++) acc.append(LEAVES[i] as Buffer);
  assert.equal(acc.size, 37);
  assert.deepEqual(acc.root(), naiveMth(LEAVES.slice(0, 37)));
  assert.throws(() => acc.appendSubtreeHex(toHex(LEAVES[0] as Buffer), 1), /multiple of 2/, 'misaligned subtree');
  assert.throws(() => acc.appendSubtreeHex('00', 0), isStrataError);
  assert.throws(() => acc.appendLeaves(Buffer.alloc(33)), isStrataError);
});

test('the accumulator does not alias caller buffers', () => {
  const leaf = Buffer.from(LEAVES[0] as Buffer);
  const acc = new MerkleAccumulator();
  acc.append(leaf);
  leaf.fill(0);
  assert.deepEqual(acc.root(), LEAVES[0]);
  acc.root().fill(0);
  assert.deepEqual(acc.root(), LEAVES[0]);
});

// ---------------------------------------------------------------------------------------------
// Every proof in small trees

test('every inclusion proof for 0 <= index < size <= 40 equals the RFC PATH and verifies', () => {
  for (let n = 1; n <= 40; n++) {
    const root = rootFromLeaves(LEAVES, n);
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(LEAVES, i, n);
      assert.deepEqual(proof, naivePath(i, LEAVES.slice(0, n)), `PATH(${i}, ${n})`);
      assert.ok(verifyInclusion(LEAVES[i] as Buffer, i, n, proof, root), `verify ${i}/${n}`);
    }
  }
});

test('every consistency proof for 1 <= m <= n <= 40 equals the RFC PROOF and verifies', () => {
  for (let n = 1; n <= 40; n++) {
    const newRoot = rootFromLeaves(LEAVES, n);
    for (let m = 1; m <= n; m++) {
      const proof = consistencyProof(LEAVES, m, n);
      assert.deepEqual(proof, naiveSubproof(m, LEAVES.slice(0, n), true), `PROOF(${m}, ${n})`);
      assert.ok(verifyConsistency(m, n, rootFromLeaves(LEAVES, m), newRoot, proof), `verify ${m}->${n}`);
    }
  }
});

test('consistency edge cases: m = n, and m = 0 only against the empty-tree root', () => {
  const r5 = rootFromLeaves(LEAVES, 5);
  assert.ok(verifyConsistency(5, 5, r5, r5, []));
  assert.ok(!verifyConsistency(5, 5, r5, rootFromLeaves(LEAVES, 6), []), 'same size, different roots');
  assert.ok(!verifyConsistency(5, 5, r5, r5, [r5]), 'same size with a non-empty proof');
  assert.ok(verifyConsistency(0, 5, EMPTY_ROOT, r5, []));
  assert.ok(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, []));
  assert.ok(!verifyConsistency(0, 5, r5, r5, []), 'm = 0 with a root that is not the empty tree');
  assert.ok(!verifyConsistency(0, 5, EMPTY_ROOT, r5, [EMPTY_ROOT]), 'm = 0 with a non-empty proof');
  assert.ok(!verifyConsistency(0, 0, EMPTY_ROOT, r5, []), '{0,0} with different roots');
  assert.ok(!verifyConsistency(1, 0, EMPTY_ROOT, EMPTY_ROOT, []), 'time travel 1 -> 0');
  assert.ok(!verifyConsistency(2, 1, r5, r5, []), 'time travel 2 -> 1');
  assert.ok(!verifyConsistency(1, 2, LEAVES[0] as Buffer, rootFromLeaves(LEAVES, 2), []), 'empty proof where one is needed');
});

// ---------------------------------------------------------------------------------------------
// The corruption matrix (transparency-dev/merkle proof/verify_test.go, extended)

const SOME_HASH = hex('abacaba000000000000000000000000000000000000000000060061e00123456');
const flipBit = (proof: readonly Buffer[], at: number, mask: number): Buffer[] =>
  proof.map((p, i) => (i === at ? Buffer.from(p.map((b, j) => (j === 0 ? b ^ mask : b))) : p));

interface InclusionProbe {
  readonly desc: string;
  readonly leaf: Buffer;
  readonly index: number;
  readonly size: number;
  readonly proof: readonly Buffer[];
  readonly root: Buffer;
}

function corruptInclusion(leaf: Buffer, index: number, size: number, proof: readonly Buffer[], root: Buffer): InclusionProbe[] {
  const p = (desc: string, over: Partial<InclusionProbe>): InclusionProbe => ({ desc, leaf, index, size, proof, root, ...over });
  const probes = [
    p('index - 1', { index: index - 1 }),
    p('index + 1', { index: index + 1 }),
    p('index ^ 2', { index: index ^ 2 }),
    p('size * 2', { size: size * 2 }),
    p('size / 2', { size: Math.floor(size / 2) }),
    p('wrong leaf', { leaf: H_LEAF(Buffer.from('WrongLeaf')) }),
    p('leaf not a hash', { leaf: Buffer.from('WrongLeaf') }),
    p('empty root', { root: EMPTY_ROOT }),
    p('random root', { root: SOME_HASH }),
    p('root of wrong length', { root: root.subarray(0, 31) }),
    p('trailing garbage', { proof: [...proof, Buffer.alloc(0)] }),
    p('trailing root', { proof: [...proof, root] }),
    p('preceding garbage', { proof: [Buffer.alloc(0), ...proof] }),
    p('preceding root', { proof: [root, ...proof] }),
    p('non-integer index', { index: index + 0.5 }),
    p('NaN size', { size: Number.NaN }),
  ];
  proof.forEach((_, i) => probes.push(p(`proof[${i}] bit 3 flipped`, { proof: flipBit(proof, i, 8) })));
  if (proof.length > 0) probes.push(p('removed component', { proof: proof.slice(0, -1) }));
  if (proof.length > 1) probes.push(p('inserted component', { proof: [proof[0] as Buffer, SOME_HASH, ...proof.slice(1)] }));
  return probes;
}

test('inclusion corruption matrix: every corrupted probe fails (all proofs, size <= 24)', () => {
  let probes = 0;
  for (let n = 1; n <= 24; n++) {
    const root = rootFromLeaves(LEAVES, n);
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(LEAVES, i, n);
      for (const c of corruptInclusion(LEAVES[i] as Buffer, i, n, proof, root)) {
        probes++;
        assert.equal(verifyInclusion(c.leaf, c.index, c.size, c.proof, c.root), false, `${i}/${n}: ${c.desc}`);
      }
    }
  }
  assert.ok(probes > 5000);
});

test('inclusion with size ± 1 fails exactly when the RFC audit path has a different shape', () => {
  // An audit path does not commit to the tree size by itself: the leaf at 0 of a 3-leaf tree has
  // the same path shape (two right siblings) as in a 4-leaf tree, so (0, 3) and (0, 4) hash alike
  // and only the root tells them apart. The signed checkpoint binds size and root together, which
  // is why verifiers must take both from it. Everywhere the shape differs, size ± 1 must fail.
  let mustFail = 0;
  for (let n = 1; n <= 40; n++) {
    const root = rootFromLeaves(LEAVES, n);
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(LEAVES, i, n);
      for (const m of [n - 1, n + 1]) {
        const sameShape = i < m && pathShape(i, m) === pathShape(i, n);
        if (!sameShape) mustFail++;
        assert.equal(verifyInclusion(LEAVES[i] as Buffer, i, m, proof, root), sameShape, `${i}/${n} as size ${m}`);
      }
    }
  }
  assert.ok(mustFail > 250, `${mustFail} probes must fail`);
  assert.ok(verifyInclusion(LEAVES[0] as Buffer, 0, 4, inclusionProof(LEAVES, 0, 3), rootFromLeaves(LEAVES, 3)), 'the documented ambiguity');
});

interface ConsistencyProbe {
  readonly desc: string;
  readonly m: number;
  readonly n: number;
  readonly r1: Buffer;
  readonly r2: Buffer;
  readonly proof: readonly Buffer[];
}

function corruptConsistency(m: number, n: number, r1: Buffer, r2: Buffer, proof: readonly Buffer[]): ConsistencyProbe[] {
  const p = (desc: string, over: Partial<ConsistencyProbe>): ConsistencyProbe => ({ desc, m, n, r1, r2, proof, ...over });
  const probes = [
    p('m - 1', { m: m - 1 }),
    p('m + 1', { m: m + 1 }),
    p('m ^ 2', { m: m ^ 2 }),
    p('n * 2', { n: n * 2 }),
    p('n / 2', { n: Math.floor(n / 2) }),
    p('wrong root1', { r1: SOME_HASH }),
    p('wrong root2', { r2: SOME_HASH }),
    p('root1 not a hash', { r1: Buffer.from('WrongRoot') }),
    p('swapped roots', { r1: r2, r2: r1 }),
    p('empty proof', { proof: [] }),
    p('trailing garbage', { proof: [...proof, Buffer.alloc(0)] }),
    p('trailing root1', { proof: [...proof, r1] }),
    p('trailing root2', { proof: [...proof, r2] }),
    p('preceding garbage', { proof: [Buffer.alloc(0), ...proof] }),
    p('preceding root1', { proof: [r1, ...proof] }),
    p('preceding root2', { proof: [r2, ...proof] }),
    p('preceding proof[0]', { proof: [proof[0] as Buffer, ...proof] }),
    p('truncated proof', { proof: proof.slice(0, -1) }),
    p('time travel (m and n swapped)', { m: n, n: m }),
    p('non-integer m', { m: m + 0.5 }),
  ];
  proof.forEach((_, i) => probes.push(p(`proof[${i}] bit 4 flipped`, { proof: flipBit(proof, i, 16) })));
  return probes;
}

test('consistency corruption matrix: every corrupted probe fails (all non-trivial proofs, n <= 24)', () => {
  let probes = 0;
  for (let n = 2; n <= 24; n++) {
    const r2 = rootFromLeaves(LEAVES, n);
    for (let m = 1; m < n; m++) {
      const r1 = rootFromLeaves(LEAVES, m);
      const proof = consistencyProof(LEAVES, m, n);
      for (const c of corruptConsistency(m, n, r1, r2, proof)) {
        probes++;
        assert.equal(verifyConsistency(c.m, c.n, c.r1, c.r2, c.proof), false, `${m}->${n}: ${c.desc}`);
      }
    }
  }
  assert.ok(probes > 6000);
});

test('consistency with n ± 1 fails exactly when the RFC proof has a different shape', () => {
  for (let n = 2; n <= 40; n++) {
    const r2 = rootFromLeaves(LEAVES, n);
    for (let m = 1; m < n; m++) {
      const proof = consistencyProof(LEAVES, m, n);
      for (const nn of [n - 1, n + 1]) {
        const sameShape = m < nn && subproofShape(m, nn, true) === subproofShape(m, n, true);
        assert.equal(verifyConsistency(m, nn, rootFromLeaves(LEAVES, m), r2, proof), sameShape, `${m}->${n} as ${m}->${nn}`);
      }
    }
  }
});

test('the transparency-dev vectors survive their own corruption matrix', () => {
  for (const v of KAT_INCLUSION.filter((x) => x.size > 1)) {
    const i = v.leaf - 1;
    for (const c of corruptInclusion(KAT_LEAVES[i] as Buffer, i, v.size, v.proof.map(hex), hex(KAT_ROOTS[v.size - 1] as string))) {
      assert.equal(verifyInclusion(c.leaf, c.index, c.size, c.proof, c.root), false, `${i}/${v.size}: ${c.desc}`);
    }
  }
  for (const v of KAT_CONSISTENCY.filter((x) => x.proof.length > 0)) {
    const r1 = hex(KAT_ROOTS[v.size1 - 1] as string);
    const r2 = hex(KAT_ROOTS[v.size2 - 1] as string);
    for (const c of corruptConsistency(v.size1, v.size2, r1, r2, v.proof.map(hex))) {
      assert.equal(verifyConsistency(c.m, c.n, c.r1, c.r2, c.proof), false, `${v.size1}->${v.size2}: ${c.desc}`);
    }
  }
});

test('verifiers never throw on garbage; they return false', () => {
  fc.assert(
    fc.property(fc.anything(), fc.anything(), fc.anything(), fc.anything(), fc.anything(), (a, b, c, d, e) => {
      // Deliberately untyped input: the verifiers sit behind HTTP and CLI boundaries.
      const vi = verifyInclusion as (...args: unknown[]) => boolean;
      const vc = verifyConsistency as (...args: unknown[]) => boolean;
      assert.equal(vi(a, b, c, d, e), false);
      assert.equal(vc(a, b, c, d, e), false);
    }),
    { numRuns: 300 },
  );
  const vi = verifyInclusion as (...args: unknown[]) => boolean;
  assert.equal(vi(LEAVES[0], 0, 1, null, LEAVES[0]), false);
  assert.equal(vi(LEAVES[0], 0, 1, [null], LEAVES[0]), false);
  assert.equal(vi(LEAVES[0], -1, 1, [], LEAVES[0]), false);
  assert.equal(vi(LEAVES[0], 0, 2 ** 60, [], LEAVES[0]), false);
  assert.equal(vi(LEAVES[0], 1, 1, [], LEAVES[0]), false, 'index >= size');
  assert.equal(vi(LEAVES[0], 0, 0, [], EMPTY_ROOT), false, 'nothing is in the empty tree');
  assert.ok(verifyInclusion(LEAVES[0] as Buffer, 0, 1, [], LEAVES[0] as Buffer), 'a one-leaf tree: root = leaf, empty proof');
});

// ---------------------------------------------------------------------------------------------
// Properties over random trees

test('property: random trees — every generated inclusion and consistency proof verifies', () => {
  const big = leaves(600);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 600 }).chain((n) =>
        fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 1, max: n }), fc.integer({ min: n, max: 600 })),
      ),
      ([n, i, m, size]) => {
        const rootN = rootFromLeaves(big, n);
        assert.ok(verifyInclusion(big[i] as Buffer, i, n, inclusionProof(big, i, n), rootN));
        assert.ok(verifyConsistency(m, n, rootFromLeaves(big, m), rootN, consistencyProof(big, m, n)));
        assert.ok(verifyConsistency(n, size, rootN, rootFromLeaves(big, size), consistencyProof(big, n, size)));
      },
    ),
    { numRuns: 200 },
  );
});

test('property: a proof from one tree does not verify against the root of a tree with one leaf changed', () => {
  const base = leaves(200);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 200 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: n - 1 }))),
      ([n, i, changed]) => {
        const other = base.slice(0, n);
        other[changed] = H_LEAF(Buffer.from(`changed ${changed}`));
        const proof = inclusionProof(base, i, n);
        assert.equal(verifyInclusion(base[i] as Buffer, i, n, proof, rootFromLeaves(other, n)), false);
      },
    ),
    { numRuns: 200 },
  );
});

// ---------------------------------------------------------------------------------------------
// Refused requests (Trillian integration/log.go style)

function refused(fn: () => unknown, mentions: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isStrataError(e), 'a StrataError');
    assert.equal(e.code, 'bad_request');
    assert.equal(e.status, 400);
    assert.match(e.message, mentions);
    return true;
  });
}

test('inclusion proof requests outside the tree are refused with the valid range', () => {
  const ten = LEAVES.slice(0, 10);
  refused(() => inclusionProof(ten, 10, 10), /index must be an integer in \[0, 9\]/);
  refused(() => inclusionProof(ten, 11, 10), /index/);
  refused(() => inclusionProof(ten, 0, 11), /size must be an integer in \[1, 10\] \(the tree has 10 entries\)/);
  refused(() => inclusionProof(ten, -1, 10), /index must be an integer in \[0, 9\]/);
  refused(() => inclusionProof(ten, 0, -1), /size/);
  refused(() => inclusionProof(ten, 0, 0), /size must be an integer in \[1, 10\]/);
  refused(() => inclusionProof(ten, 1.5, 10), /index/);
  refused(() => inclusionProof(ten, 0, 2.5), /size/);
  refused(() => inclusionProof(ten, Number.NaN, 10), /index/);
  refused(() => inclusionProof(ten, 0, Number.POSITIVE_INFINITY), /size/);
  refused(() => inclusionProof(ten, '1' as unknown as number, 10), /index/);
  refused(() => inclusionProof([], 0, 1), /nothing can be served \(the tree has 0 entries\)/);
  refused(() => rootFromLeaves(ten, 11), /size must be an integer in \[0, 10\]/);
});

test('consistency proof requests outside the tree are refused with the valid range', () => {
  const ten = LEAVES.slice(0, 10);
  refused(() => consistencyProof(ten, 0, 0), /to must be an integer in \[1, 10\]/);
  refused(() => consistencyProof(ten, -1, 0), /must be an integer/);
  refused(() => consistencyProof(ten, 0, 5), /from must be an integer in \[1, 5\]/);
  refused(() => consistencyProof(ten, 6, 5), /from must be an integer in \[1, 5\]/);
  refused(() => consistencyProof(ten, 1, 11), /to must be an integer in \[1, 10\] \(the tree has 10 entries\)/);
  refused(() => consistencyProof(ten, 1, 2 ** 53), /to/);
  refused(() => consistencyProof(ten, 1.5, 5), /from/);
  assert.deepEqual(consistencyProof(ten, 10, 10), [], 'from = to is a valid, empty proof');
});

test('hex helpers are strict', () => {
  assert.ok(isHashHex('ab'.repeat(32)));
  assert.ok(!isHashHex('AB'.repeat(32)), 'upper case is not our spelling');
  assert.ok(!isHashHex('ab'.repeat(31)));
  assert.ok(!isHashHex(`${'ab'.repeat(31)}zz`));
  assert.ok(!isHashHex(42));
  assert.equal(hashFromHex('xyz'), undefined);
  assert.deepEqual(hashFromHex(toHex(LEAVES[3] as Buffer)), LEAVES[3]);
  assert.equal(toHex(new Uint8Array([1, 2, 255])), '0102ff');
});
