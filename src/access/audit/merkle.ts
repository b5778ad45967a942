// The RFC 9162 §2.1 Merkle tree behind the audit log: leaf and node hashing, the tree head (MTH)
// computed iteratively or incrementally, inclusion and consistency proof generation, and the
// verification algorithms a client runs with nothing but a proof and a signed root.
//
// Written here rather than taken from a library because the audit log is the product (STYLE.md
// habit 7) and the whole algorithm is ~200 lines of well-specified code; every function is checked
// against a naive transcription of the RFC and against the transparency-dev/Trillian test vectors.
//
// Sizes and indexes are JS numbers: all arithmetic is done with `%`, `/` and `Math.floor` rather
// than 32-bit bitwise operators, so it stays exact up to Number.MAX_SAFE_INTEGER leaves.

import * as nodeCrypto from 'node:crypto';
import { badRequest } from '../../kernel/index.ts';

/** Length in bytes of a SHA-256 digest, the only hash this tree uses. */
export const HASH_SIZE = 32;

// One-shot `crypto.hash` (Node ≥ 20.12) is ~1.5× faster than createHash() for the tiny inputs a
// Merkle tree hashes; `engines` still admits 20.6, so fall back when it is missing.
type OneShotHash = (algorithm: string, data: Uint8Array | string, outputEncoding: 'hex' | 'binary') => string;
const oneShot: OneShotHash | undefined =
  typeof (nodeCrypto as { hash?: unknown }).hash === 'function' ? nodeCrypto.hash : undefined;

/** Hex SHA-256 of `data` (a string is hashed as UTF-8). */
export function sha256Hex(data: Uint8Array | string): string {
  return oneShot !== undefined
    ? oneShot('sha256', data, 'hex')
    : nodeCrypto.createHash('sha256').update(data).digest('hex');
}

// Producing hex and decoding it is measurably faster than asking `crypto.hash` for a Buffer.
const sha256 = (data: Uint8Array | string): Buffer => Buffer.from(sha256Hex(data), 'hex');

/** MTH({}) = SHA-256() — the root of the empty tree (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Buffer = sha256(new Uint8Array(0));

/** Leaf hash = SHA-256(0x00 || entry) (RFC 9162 §2.1.1). The 0x00 prefix keeps leaves and nodes apart. */
export function leafHash(entryBytes: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(entryBytes.length + 1);
  buf[0] = 0x00;
  buf.set(entryBytes, 1);
  return sha256(buf);
}

/** Hex leaf hash of a string entry, hashed as UTF-8: SHA-256(0x00 || utf8(entry)). */
export function leafHashHexOfString(entry: string): string {
  return sha256Hex('\u0000' + entry);
}

const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeScratch[0] = 0x01;

/** Interior node hash = SHA-256(0x01 || left || right) (RFC 9162 §2.1.1). Both inputs must be 32 bytes. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw badRequest(`node hash inputs must be ${HASH_SIZE}-byte SHA-256 digests`);
  }
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return sha256(nodeScratch);
}

// ---------------------------------------------------------------------------------------------
// Hex helpers


/** Lower-case hex of bytes. */
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');

/** True for exactly 64 lower-case hex digits (the only spelling of a hash we store or sign). */
export function isHashHex(s: unknown): s is string {
  if (typeof s !== 'string' || s.length !== 2 * HASH_SIZE) return false;
  // A loop, not /^[0-9a-f]{64}$/: this runs twice per row when verifying and is ~4× faster.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Decodes a 64-digit lower-case hex hash; `undefined` for anything else (never throws). */
export function hashFromHex(s: unknown): Buffer | undefined {
  return isHashHex(s) ? Buffer.from(s, 'hex') : undefined;
}

// ---------------------------------------------------------------------------------------------
// Tree head: incremental and iterative

const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === HASH_SIZE;

// Inside the accumulator a hash is a 32-character latin1 ("binary") string, not a Buffer: on the
// verifier's million-leaf path, allocating a Buffer per node cost about as much as the SHA-256.
const binScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
binScratch[0] = 0x01;
const hexScratch = Buffer.alloc(HASH_SIZE);

function nodeHashBin(left: string, right: string): string {
  binScratch.write(left, 1, HASH_SIZE, 'latin1');
  binScratch.write(right, 1 + HASH_SIZE, HASH_SIZE, 'latin1');
  return oneShot !== undefined
    ? oneShot('sha256', binScratch, 'binary')
    : nodeCrypto.createHash('sha256').update(binScratch).digest('binary');
}

const toBin = (h: Uint8Array): string => Buffer.from(h.buffer, h.byteOffset, h.length).toString('latin1');

/**
 * Keeps the Merkle Tree Hash of an append-only list up to date in O(log n) memory.
 *
 * State is the "compact range" of the prefix [0, size): one perfect subtree root per set bit of
 * `size`, largest (leftmost) first. Appending a leaf merges equal-sized subtrees like a binary
 * counter carry — amortised one node hash per leaf. The root folds the peaks right to left, which is
 * exactly the RFC 9162 §2.1.1 split at the largest power of two below n, applied recursively.
 */
export class MerkleAccumulator {
  #size = 0;
  readonly #peaks: string[] = [];

  /** Restores an accumulator from `size` and its peaks (as returned by `peaks`), e.g. after a restart. */
  static fromPeaks(size: number, peaks: readonly Uint8Array[]): MerkleAccumulator {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw badRequest(`accumulator size must be a non-negative integer; got ${String(size)}`);
    }
    let bits = 0;
    for (let s = size; s > 0; s = Math.floor(s / 2)) bits += s % 2;
    if (peaks.length !== bits || !peaks.every(isHash)) {
      throw badRequest(`an accumulator of size ${size} needs exactly ${bits} peaks of ${HASH_SIZE} bytes; got ${peaks.length}`);
    }
    const acc = new MerkleAccumulator();
    acc.#size = size;
    for (const p of peaks) acc.#peaks.push(toBin(p));
    return acc;
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** The perfect-subtree roots, largest first (persist these with `size` to resume via `fromPeaks`). */
  get peaks(): Buffer[] {
    return this.#peaks.map((p) => Buffer.from(p, 'latin1'));
  }

  /** Appends one 32-byte leaf hash (see `leafHash`). */
  append(leaf: Uint8Array): void {
    if (!isHash(leaf)) throw badRequest(`a leaf hash must be a ${HASH_SIZE}-byte SHA-256 digest`);
    this.#push(toBin(leaf));
  }

  /** Appends one leaf hash given as 64 hex digits. */
  appendHex(leafHex: string): void {
    // Buffer#write stops at the first non-hex character, so a short count is the validity check.
    if (typeof leafHex !== 'string' || leafHex.length !== 2 * HASH_SIZE || hexScratch.write(leafHex, 0, HASH_SIZE, 'hex') !== HASH_SIZE) {
      throw badRequest('a leaf hash must be 64 hex digits');
    }
    this.#push(hexScratch.toString('latin1'));
  }

  /** Appends many leaf hashes given as one buffer of 32-byte hashes, in order. */
  appendLeaves(hashes: Uint8Array): void {
    if (!(hashes instanceof Uint8Array) || hashes.length % HASH_SIZE !== 0) {
      throw badRequest(`leaf hashes must come as a multiple of ${HASH_SIZE} bytes`);
    }
    const b = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.length);
    for (let off = 0; off < b.length; off += HASH_SIZE) this.#push(b.toString('latin1', off, off + HASH_SIZE));
  }

  /**
   * Appends a whole perfect subtree of 2^height leaves given its MTH (hex) — the same as appending
   * its leaves one by one, for a caller that hashed them elsewhere (the verifier's hashing thread).
   * The current size must be a multiple of 2^height, so the subtree sits where RFC 9162 §2.1.1
   * would put it.
   */
  appendSubtreeHex(rootHex: string, height: number): void {
    if (!Number.isSafeInteger(height) || height < 0 || height > 52) throw badRequest('subtree height must be an integer in [0, 52]');
    const width = 2 ** height;
    if (this.#size % width !== 0) {
      throw badRequest(`a subtree of ${width} leaves can only be appended at a multiple of ${width}; the size is ${this.#size}`);
    }
    if (typeof rootHex !== 'string' || rootHex.length !== 2 * HASH_SIZE || hexScratch.write(rootHex, 0, HASH_SIZE, 'hex') !== HASH_SIZE) {
      throw badRequest('a subtree root must be 64 hex digits');
    }
    this.#push(hexScratch.toString('latin1'), width);
  }

  /** Adds a perfect subtree of `width` leaves (a power of two dividing the size) with root `h`. */
  #push(root: string, width = 1): void {
    if (this.#size > Number.MAX_SAFE_INTEGER - width) throw badRequest('the tree is full');
    let h = root;
    // Each trailing 1-bit of size/width is a peak of the same height as `h`: merge them, like a
    // binary counter's carry.
    for (let s = this.#size / width; s % 2 === 1; s = (s - 1) / 2) {
      const left = this.#peaks.pop();
      if (left === undefined) throw new Error('unreachable: accumulator peaks out of step with size');
      h = nodeHashBin(left, h);
    }
    this.#peaks.push(h);
    this.#size += width;
  }

  /** MTH of the leaves appended so far (RFC 9162 §2.1.1); SHA-256("") when empty. O(log n) hashes. */
  root(): Buffer {
    let acc: string | undefined;
    for (let i = this.#peaks.length - 1; i >= 0; i--) {
      const p = this.#peaks[i] as string;
      acc = acc === undefined ? p : nodeHashBin(p, acc);
    }
    return acc === undefined ? Buffer.from(EMPTY_ROOT) : Buffer.from(acc, 'latin1');
  }
}

/** MTH(D[start:end]) by one streaming pass — O(end − start) hashes, O(log n) memory. */
function rangeRoot(leaves: readonly Uint8Array[], start: number, end: number): Buffer {
  const acc = new MerkleAccumulator();
  for (let i = start; i < end; i++) acc.append(leaves[i] as Uint8Array);
  return acc.root();
}

/**
 * Refuses (bad_request) a proof or root request outside the tree; the message names the valid range.
 * `what` is the parameter name a client used, so an HTTP layer can pass the message through as is.
 */
function checkRange(request: string, what: string, value: unknown, min: number, max: number, hint: string): asserts value is number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return;
  const range = max < min ? `nothing can be served (${hint})` : `${what} must be an integer in [${min}, ${max}] (${hint})`;
  throw badRequest(`${request}: ${range}; got ${what}=${String(value)}`, { [what]: String(value), min, max });
}

/**
 * Merkle Tree Hash of the first `size` leaf hashes (default: all) — RFC 9162 §2.1.1, computed
 * iteratively in O(n) time and O(log n) memory. Throws a bad_request StrataError when `size` is not
 * an integer in [0, leafHashes.length].
 */
export function rootFromLeaves(leafHashes: readonly Uint8Array[], size: number = leafHashes.length): Buffer {
  checkRange('tree root', 'size', size, 0, leafHashes.length, `the tree has ${leafHashes.length} entries`);
  return rangeRoot(leafHashes, 0, size);
}

/** Largest power of two strictly less than n (n ≥ 2): the split point k of RFC 9162 §2.1.1. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// ---------------------------------------------------------------------------------------------
// Proof generation (RFC 9162 §2.1.3.1 PATH and §2.1.4.1 PROOF/SUBPROOF)
//
// Each proof element is the MTH of a subtree disjoint from the others, so computing them with the
// streaming `rangeRoot` costs at most n hashes in total (O(n)), with recursion depth O(log n).

/**
 * Inclusion proof (audit path) for leaf `index` in the tree of the first `size` leaves —
 * PATH(m, D[n]) of RFC 9162 §2.1.3.1, ordered leaf to root. Refuses (bad_request) unless
 * 1 ≤ size ≤ leafHashes.length and 0 ≤ index < size.
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number, size: number): Buffer[] {
  const tree = `the tree has ${leafHashes.length} entries`;
  checkRange('inclusion proof', 'size', size, 1, leafHashes.length, tree);
  checkRange('inclusion proof', 'index', index, 0, size - 1, `index must be below size ${size}`);
  const proof: Buffer[] = [];
  // PATH(m, D[lo:hi]) with the recursion unrolled: collect siblings root-to-leaf, reverse at the end.
  let lo = 0;
  let hi = size;
  let m = index;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (m < k) {
      proof.push(rangeRoot(leafHashes, lo + k, hi)); // PATH(m, D[0:k]) : MTH(D[k:n])
      hi = lo + k;
    } else {
      proof.push(rangeRoot(leafHashes, lo, lo + k)); // PATH(m - k, D[k:n]) : MTH(D[0:k])
      lo += k;
      m -= k;
    }
  }
  return proof.reverse();
}

/**
 * Consistency proof between the trees of the first `m` and first `n` leaves — PROOF(m, D[n]) of
 * RFC 9162 §2.1.4.1. Empty when m = n. Refuses (bad_request) unless 1 ≤ m ≤ n ≤ leafHashes.length
 * (a proof from the empty tree proves nothing, so m = 0 is refused, as Trillian does).
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], m: number, n: number): Buffer[] {
  const tree = `the tree has ${leafHashes.length} entries`;
  checkRange('consistency proof', 'to', n, 1, leafHashes.length, tree);
  checkRange('consistency proof', 'from', m, 1, n, `need 1 <= from <= to = ${n}`);
  const proof: Buffer[] = [];
  // SUBPROOF(m, D[lo:hi], b), unrolled; elements are collected deepest-last, so reverse at the end.
  let lo = 0;
  let hi = n;
  let mm = m;
  let b = true;
  for (;;) {
    const size = hi - lo;
    if (mm === size) {
      // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
      if (!b) proof.push(rangeRoot(leafHashes, lo, hi));
      break;
    }
    const k = splitPoint(size);
    if (mm <= k) {
      proof.push(rangeRoot(leafHashes, lo + k, hi)); // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      hi = lo + k;
    } else {
      proof.push(rangeRoot(leafHashes, lo, lo + k)); // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
      lo += k;
      mm -= k;
      b = false;
    }
  }
  return proof.reverse();
}

// ---------------------------------------------------------------------------------------------
// Verification (RFC 9162 §2.1.3.2 and §2.1.4.2). Garbage in → false out; these never throw.

const validSize = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isProof = (p: unknown): p is readonly Uint8Array[] => Array.isArray(p) && p.every(isHash);
const odd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

/**
 * Verifies that `leaf` is entry `index` of the size-`size` tree with root `root`, using the audit
 * path `proof` — the algorithm of RFC 9162 §2.1.3.2. Returns false (never throws) on any mismatch
 * or malformed input, including index ≥ size and hashes that are not 32 bytes.
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    if (!isHash(leaf) || !isHash(root) || !isProof(proof) || !validSize(index) || !validSize(size)) return false;
    // 1. If leaf_index >= tree_size, fail.
    if (index >= size) return false;
    // 2–3. fn = leaf_index, sn = tree_size − 1, r = hash.
    let fn = index;
    let sn = size - 1;
    let r: Buffer = Buffer.from(leaf);
    // 4. For each p in inclusion_path:
    for (const p of proof) {
      if (sn === 0) return false; // a. path longer than the tree is tall
      if (odd(fn) || fn === sn) {
        r = nodeHash(p, r); // b. r = HASH(0x01 || p || r)
        if (!odd(fn)) {
          // rightmost node with no right sibling at this level: climb until fn is a right child or 0
          while (!odd(fn) && fn !== 0) {
            fn = half(fn);
            sn = half(sn);
          }
        }
      } else {
        r = nodeHash(r, p); // r = HASH(0x01 || r || p)
      }
      fn = half(fn); // c. right-shift both once
      sn = half(sn);
    }
    // 5. sn must be 0 and r must equal the root.
    return sn === 0 && r.equals(root);
  } catch {
    return false;
  }
}

/**
 * Verifies that the size-`m` tree with root `oldRoot` is a prefix of the size-`n` tree with root
 * `newRoot` — the algorithm of RFC 9162 §2.1.4.2. Returns false (never throws) on any mismatch or
 * malformed input, including m > n ("time travel").
 *
 * Edge cases the RFC leaves to the caller: m = n holds only with an empty proof and equal roots;
 * m = 0 holds only with an empty proof and `oldRoot` = SHA-256("") (the empty tree is a prefix of
 * every tree, but we do not accept an arbitrary value as its root).
 */
export function verifyConsistency(
  m: number,
  n: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  try {
    if (!validSize(m) || !validSize(n) || !isHash(oldRoot) || !isHash(newRoot) || !isProof(proof)) return false;
    if (m > n) return false;
    if (m === n) return proof.length === 0 && Buffer.from(oldRoot).equals(newRoot);
    if (m === 0) return proof.length === 0 && EMPTY_ROOT.equals(oldRoot);
    // 1. An empty path for 0 < m < n fails.
    if (proof.length === 0) return false;
    // 2. If first is an exact power of 2, prepend first_hash to the path.
    const path: readonly Uint8Array[] = isPowerOfTwo(m) ? [oldRoot, ...proof] : proof;
    // 3. fn = first − 1, sn = second − 1.
    let fn = m - 1;
    let sn = n - 1;
    // 4. If LSB(fn) is set, right-shift both until it is not.
    while (odd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    // 5. fr = sr = path[0].
    let fr: Buffer = Buffer.from(path[0] as Uint8Array);
    let sr: Buffer = fr;
    // 6. For each subsequent c:
    for (let i = 1; i < path.length; i++) {
      const c = path[i] as Uint8Array;
      if (sn === 0) return false; // a. path longer than the tree is tall
      if (odd(fn) || fn === sn) {
        fr = nodeHash(c, fr); // b.1 fr = HASH(0x01 || c || fr)
        sr = nodeHash(c, sr); // b.2 sr = HASH(0x01 || c || sr)
        if (!odd(fn)) {
          // b.3 climb until fn is a right child or 0
          while (!odd(fn) && fn !== 0) {
            fn = half(fn);
            sn = half(sn);
          }
        }
      } else {
        sr = nodeHash(sr, c); // sr = HASH(0x01 || sr || c)
      }
      fn = half(fn); // right-shift both once
      sn = half(sn);
    }
    // 7. fr = first_hash, sr = second_hash and sn = 0.
    return sn === 0 && fr.equals(oldRoot) && sr.equals(newRoot);
  } catch {
    return false;
  }
}

function isPowerOfTwo(x: number): boolean {
  let v = x;
  while (v > 1 && v % 2 === 0) v /= 2;
  return v === 1;
}
