// Leaf hashing for the verifier, on the calling thread or on a worker thread. Verifying a million
// entries costs two SHA-256 calls per entry (the leaf and, amortised, one tree node) on top of
// encoding the entry; through node:crypto that is ~1.5 µs of a ~5 µs entry on our 2-core machines,
// so the verifier ships batches of encoded entries to a worker that returns their leaf hashes and,
// for a whole aligned batch, the root of the perfect subtree they form (about a quarter off the
// wall time when the second core is free).
//
// The batch travels as one transferred ArrayBuffer of `0x00 || UTF-8(entry)` records — exactly the
// RFC 9162 §2.1.1 leaf-hash inputs — so the worker hashes byte ranges without decoding anything, and
// no large strings are created on either side (they cost more in garbage collection than the
// hashing saved). Buffers go back and forth and are reused.
//
// The worker is a small plain-JavaScript script run with `eval`, so it needs no TypeScript loader
// (the CLI loads our sources through tsx, which worker threads do not inherit) and survives a build
// to dist/. It uses only node:crypto; the verifier's tests run every case with and without it.

import { Worker } from 'node:worker_threads';
import { HASH_SIZE, leafHashHexOfString } from './merkle.ts';

/** Hashes of one batch, in order. */
export interface LeafHashBatch {
  /** The leaf hashes, 32 bytes each, concatenated. */
  readonly leafHashes: Buffer;
  /** MTH of the batch as a perfect subtree (hex), when asked for and the batch size is a power of two. */
  readonly subtreeRoot: string | undefined;
}

/** Something that turns canonical entry texts into leaf hashes. */
export interface LeafHasher {
  hash(texts: readonly string[], subtree: boolean): Promise<LeafHashBatch>;
  close(): Promise<void>;
}

/** Hashes on the calling thread; never computes subtree roots (the caller appends leaf by leaf). */
export const inlineLeafHasher: LeafHasher = {
  hash(texts: readonly string[]): Promise<LeafHashBatch> {
    const leafHashes = Buffer.allocUnsafe(HASH_SIZE * texts.length);
    for (let i = 0; i < texts.length; i++) leafHashes.write(leafHashHexOfString(texts[i] as string), HASH_SIZE * i, HASH_SIZE, 'hex');
    return Promise.resolve({ leafHashes, subtreeRoot: undefined });
  },
  close: () => Promise.resolve(),
};

// RFC 9162 §2.1.1: leaf = SHA-256(0x00 || entry) — the records already carry the 0x00 — and
// node = SHA-256(0x01 || left || right); for a power-of-two batch the MTH is plain pairwise
// hashing, level by level.
const WORKER_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const sha = typeof crypto.hash === 'function'
  ? (data, enc) => crypto.hash('sha256', data, enc)
  : (data, enc) => crypto.createHash('sha256').update(data).digest(enc);
const node = Buffer.alloc(65);
node[0] = 1;
parentPort.on('message', ({ id, input, ends, subtree }) => {
  const bytes = Buffer.from(input);
  const n = ends.length;
  const out = Buffer.from(new ArrayBuffer(32 * n));
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = ends[i];
    out.write(sha(bytes.subarray(start, end), 'hex'), 32 * i, 32, 'hex');
    start = end;
  }
  let subtreeRoot;
  if (subtree && n > 0 && (n & (n - 1)) === 0) {
    let level = new Array(n);
    for (let i = 0; i < n; i++) level[i] = out.toString('latin1', 32 * i, 32 * i + 32);
    while (level.length > 1) {
      const next = new Array(level.length / 2);
      for (let i = 0; i < next.length; i++) {
        node.write(level[2 * i], 1, 32, 'latin1');
        node.write(level[2 * i + 1], 33, 32, 'latin1');
        next[i] = sha(node, 'latin1');
      }
      level = next;
    }
    subtreeRoot = Buffer.from(level[0], 'latin1').toString('hex');
  }
  parentPort.postMessage({ id, input, hashes: out.buffer, subtreeRoot }, [input, out.buffer]);
});
`;

interface Reply {
  readonly id: number;
  readonly input: ArrayBuffer;
  readonly hashes: ArrayBuffer;
  readonly subtreeRoot: string | undefined;
}

interface Pending {
  readonly resolve: (b: LeafHashBatch) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Starts a worker thread that hashes batches. A worker crash rejects every pending batch. Call
 * `close` when done (it terminates the thread).
 */
export function workerLeafHasher(): LeafHasher {
  const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  const pending = new Map<number, Pending>();
  const spare: ArrayBuffer[] = [];
  let nextId = 0;
  let failed: Error | undefined;
  const failAll = (e: unknown): void => {
    failed ??= e instanceof Error ? e : new Error('the audit hashing thread failed', { cause: e });
    for (const p of pending.values()) p.reject(failed);
    pending.clear();
  };
  worker.on('message', (m: Reply) => {
    spare.push(m.input);
    const p = pending.get(m.id);
    pending.delete(m.id);
    p?.resolve({ leafHashes: Buffer.from(m.hashes), subtreeRoot: m.subtreeRoot });
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the audit hashing thread exited (code ${code})`)));
  return {
    hash(texts: readonly string[], subtree: boolean): Promise<LeafHashBatch> {
      if (failed !== undefined) return Promise.reject(failed);
      // Records are 0x00 || UTF-8(text); a UTF-16 code unit never takes more than 3 UTF-8 bytes.
      let units = 0;
      for (const t of texts) units += t.length;
      const need = 3 * units + texts.length;
      let input = spare.pop();
      if (input === undefined || input.byteLength < need) input = new ArrayBuffer(need);
      const bytes = Buffer.from(input);
      const ends = new Uint32Array(texts.length);
      let off = 0;
      for (let i = 0; i < texts.length; i++) {
        bytes[off++] = 0x00;
        off += bytes.write(texts[i] as string, off, 'utf8');
        ends[i] = off;
      }
      const id = nextId++;
      const batch = new Promise<LeafHashBatch>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, input, ends, subtree }, [input, ends.buffer]);
      });
      // A caller that stops early abandons its in-flight batches; their rejection is not an error.
      batch.catch(() => undefined);
      return batch;
    },
    async close(): Promise<void> {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}
