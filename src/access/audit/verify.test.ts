// Tests for the offline verifier: a good log verifies (sync and async sources, with and without a
// later checkpoint), and every kind of tampering — an edited byte, a deleted, swapped or duplicated
// row, truncation, rewritten hashes, forged or rolled-back checkpoints — fails naming the right seq.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  EMPTY_ROOT,
  MerkleAccumulator,
  consistencyProof,
  entryLeafHashHex,
  generateSigningKey,
  signCheckpoint,
  toHex,
  verifyAuditLog,
  type AuditEntry,
  type SignedCheckpoint,
  type SigningKey,
  type StoredAuditEntry,
  type VerifyAuditLogResult,
} from './index.ts';

const KEY: SigningKey = generateSigningKey();
const LOG_ID = 'strata-test';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const ACTIONS = ['project.create', 'job.submit', 'model.register', 'grant.add'] as const;

function entry(seq: number): AuditEntry {
  return {
    v: 1,
    seq,
    time: new Date(T0 + seq * 1000).toISOString(),
    actor: seq % 5 === 0 ? 'system' : `usr_${seq % 7}`,
    action: ACTIONS[seq % ACTIONS.length] as string,
    resource: `project/prj_${seq % 3}`,
    project: seq % 4 === 0 ? null : `prj_${seq % 3}`,
    outcome: seq % 9 === 0 ? 'denied' : 'success',
    requestId: seq % 2 === 0 ? `req_${seq}` : null,
    beforeHash: null,
    afterHash: seq % 3 === 0 ? null : toHex(Buffer.alloc(32, seq % 256)),
    details: { n: seq, label: `entry ${seq} — ünïcödé`, tags: ['a', 'b'] },
  };
}

const stored = (e: AuditEntry): StoredAuditEntry => ({ ...e, leafHash: entryLeafHashHex(e) });
const makeRows = (n: number): StoredAuditEntry[] => Array.from({ length: n }, (_, i) => stored(entry(i)));

function rootOf(rows: readonly StoredAuditEntry[], size: number): string {
  const acc = new MerkleAccumulator();
  for (let i = 0; i < size; i++) acc.appendHex((rows[i] as StoredAuditEntry).leafHash);
  return acc.root().toString('hex');
}

function checkpointOf(rows: readonly StoredAuditEntry[], size: number, key = KEY, logId = LOG_ID): SignedCheckpoint {
  return signCheckpoint({ logId, size, root: rootOf(rows, size), time: new Date(T0 + size * 1000).toISOString() }, key);
}

const ROWS = makeRows(64);
const CP = checkpointOf(ROWS, 64);

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const x of items) yield await Promise.resolve(x);
}

function failure(r: VerifyAuditLogResult): { reason: string; seq?: number } {
  assert.equal(r.ok, false, `expected a failure, got ${JSON.stringify(r)}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Good logs

test('a good log verifies from an array and from an async source', async () => {
  for (const entries of [ROWS, asAsync(ROWS)]) {
    const r = await verifyAuditLog({ entries, checkpoint: CP, publicKey: KEY.publicKey });
    assert.deepEqual(r, { ok: true, size: 64, root: CP.root, checkpoint: CP, checked: 64, unverified: 0 });
  }
});

test('entries after the checkpoint are still checked, and counted as unverified', async () => {
  const rows = makeRows(100);
  const r = await verifyAuditLog({ entries: rows, checkpoint: checkpointOf(rows, 60), publicKey: KEY.publicKey });
  assert.ok(r.ok);
  assert.equal(r.checked, 100);
  assert.equal(r.unverified, 40);
  assert.equal(r.size, 60);
  // …and tampering after the checkpoint is still caught.
  const edited = rows.map((x) => (x.seq === 80 ? { ...x, actor: 'mallory' } : x));
  const bad = failure(await verifyAuditLog({ entries: edited, checkpoint: checkpointOf(rows, 60), publicKey: KEY.publicKey }));
  assert.equal(bad.seq, 80);
});

test('an empty log verifies against a size-0 checkpoint', async () => {
  const cp0 = checkpointOf([], 0);
  assert.equal(cp0.root, toHex(EMPTY_ROOT));
  const r = await verifyAuditLog({ entries: [], checkpoint: cp0, publicKey: KEY.publicKey });
  assert.ok(r.ok);
  assert.equal(r.checked, 0);
  const forged = signCheckpoint({ ...cp0, root: ROWS[0]?.leafHash ?? '' }, KEY);
  assert.match(failure(await verifyAuditLog({ entries: [], checkpoint: forged, publicKey: KEY.publicKey })).reason, /root at size 0/);
});

test('a later checkpoint with a consistency proof extends the saved one', async () => {
  const rows = makeRows(150);
  const saved = checkpointOf(rows, 37);
  const latest = checkpointOf(rows, 150);
  const leafHashes = rows.map((x) => Buffer.from(x.leafHash, 'hex'));
  const proof = consistencyProof(leafHashes, 37, 150).map(toHex);
  const r = await verifyAuditLog({ entries: rows, checkpoint: saved, latest, consistencyProof: proof, publicKey: KEY.publicKey });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.size, 150);
  assert.deepEqual(r.checkpoint, latest);
  assert.equal(r.unverified, 0);
  // The proof is optional: the rows prove both roots themselves.
  assert.ok((await verifyAuditLog({ entries: rows, checkpoint: saved, latest, publicKey: KEY.publicKey })).ok);
});

// ---------------------------------------------------------------------------------------------
// Checkpoint problems

test('checkpoints signed by another key, or altered, are rejected before reading any row', async () => {
  let read = 0;
  function* counting(): Generator<StoredAuditEntry> {
    for (const x of ROWS) {
      read++;
      yield x;
    }
  }
  const other = generateSigningKey();
  const cases: [string, SignedCheckpoint, RegExp][] = [
    ['other key', checkpointOf(ROWS, 64, other), /signature does not verify/],
    ['altered size', { ...CP, size: 63 }, /signature does not verify/],
    ['altered root', { ...CP, root: ROWS[0]?.leafHash ?? '' }, /signature does not verify/],
    ['malformed', { ...CP, root: 'nope' }, /checkpoint is malformed/],
  ];
  for (const [what, checkpoint, reason] of cases) {
    assert.match(failure(await verifyAuditLog({ entries: counting(), checkpoint, publicKey: KEY.publicKey })).reason, reason, what);
  }
  assert.equal(read, 0);
});

test('a latest checkpoint that rolls back, forks, changes log or fails its proof is rejected', async () => {
  const rows = makeRows(80);
  const saved = checkpointOf(rows, 50);
  const leafHashes = rows.map((x) => Buffer.from(x.leafHash, 'hex'));
  const forkedRows = rows.map((x) => (x.seq === 10 ? stored({ ...x, actor: 'mallory' }) : x));
  const cases: [string, SignedCheckpoint, string[] | undefined, RegExp][] = [
    ['older', checkpointOf(rows, 40), undefined, /rolled back/],
    ['same size, other root', checkpointOf(forkedRows, 50), undefined, /forked/],
    ['other log', checkpointOf(rows, 80, KEY, 'strata-elsewhere'), undefined, /for log strata-elsewhere/],
    ['other key', checkpointOf(rows, 80, generateSigningKey()), undefined, /latest checkpoint's signature/],
    ['proof for a forked history', checkpointOf(forkedRows, 80), consistencyProof(forkedRows.map((x) => Buffer.from(x.leafHash, 'hex')), 50, 80).map(toHex), /consistency proof/],
    ['truncated proof', checkpointOf(rows, 80), consistencyProof(leafHashes, 50, 80).map(toHex).slice(1), /consistency proof/],
    ['garbage proof', checkpointOf(rows, 80), ['zz'], /not 64 lower-case hex/],
  ];
  for (const [what, latest, proof, reason] of cases) {
    const r = await verifyAuditLog({ entries: rows, checkpoint: saved, latest, ...(proof === undefined ? {} : { consistencyProof: proof }), publicKey: KEY.publicKey });
    assert.match(failure(r).reason, reason, what);
  }
});

test('a latest checkpoint over more rows than the log holds means truncation', async () => {
  const rows = makeRows(80);
  const r = await verifyAuditLog({ entries: rows.slice(0, 70), checkpoint: checkpointOf(rows, 50), latest: checkpointOf(rows, 80), publicKey: KEY.publicKey });
  const f = failure(r);
  assert.equal(f.seq, 70);
  assert.match(f.reason, /log has 70 entries but the latest checkpoint was signed over 80 \(truncated\?\)/);
});

// ---------------------------------------------------------------------------------------------
// Row tampering, named by seq

test('named failures: edited, deleted, reordered, duplicated, truncated, rewritten', async () => {
  const run = async (entries: unknown[]): Promise<{ reason: string; seq?: number }> =>
    failure(await verifyAuditLog({ entries, checkpoint: CP, publicKey: KEY.publicKey }));

  let f = await run(ROWS.map((x) => (x.seq === 17 ? { ...x, action: 'project.delete' } : x)));
  assert.deepEqual(f, { ok: false, reason: 'entry 17: stored leaf hash does not match its content (edited row?)', seq: 17 });

  f = await run(ROWS.filter((x) => x.seq !== 5));
  assert.deepEqual(f, { ok: false, reason: 'entry 5 missing: sequence jumps from 4 to 6 (deleted or reordered row?)', seq: 5 });

  f = await run(ROWS.slice(1));
  assert.equal(f.seq, 0);
  assert.match(f.reason, /entry 0 missing: the log starts at 1/);

  f = await run([...ROWS.slice(0, 9), ROWS[8], ...ROWS.slice(9)]);
  assert.deepEqual(f, { ok: false, reason: 'entry 9: sequence goes back from 8 to 8 (duplicated or reordered row?)', seq: 9 });

  f = await run(ROWS.slice(0, 60));
  assert.deepEqual(f, { ok: false, reason: 'log has 60 entries but the checkpoint was signed over 64 (truncated?)', seq: 60 });

  // A database superuser rewrites a row *and* recomputes its leaf hash: only the checkpoint catches it.
  f = await run(ROWS.map((x) => (x.seq === 30 ? stored({ ...x, outcome: 'success', actor: 'usr_innocent' }) : x)));
  assert.match(f.reason, /^root at size 64 does not match the checkpoint/);
  assert.equal(f.seq, undefined);

  f = await run(ROWS.map((x) => (x.seq === 3 ? { ...x, leafHash: x.leafHash.toUpperCase() } : x)));
  assert.deepEqual(f, { ok: false, reason: 'entry 3: stored leaf hash is missing or not 64 lower-case hex digits', seq: 3 });

  f = await run(ROWS.map((x) => (x.seq === 4 ? { ...x, seq: '4' } : x)));
  assert.equal(f.seq, 4);
  assert.match(f.reason, /entry 4: malformed row \(seq is not a non-negative integer\)/);

  f = await run(ROWS.map((x) => (x.seq === 6 ? { ...x, details: { n: Number.NaN } } : x)));
  assert.equal(f.seq, 6);
  assert.match(f.reason, /entry 6: cannot be encoded canonically/);

  // The first problem in log order wins, even when a later row is malformed.
  f = await run(ROWS.map((x) => (x.seq === 20 ? { ...x, actor: 'mallory' } : x.seq === 30 ? { ...x, v: 2 } : x)));
  assert.equal(f.seq, 20);

  f = await run([...ROWS.slice(0, 2), null]);
  assert.deepEqual(f, { ok: false, reason: 'entry 2: malformed row (not an object)', seq: 2 });
});

const mutateString = (s: string, at: number): string => {
  const i = at % s.length;
  const c = s.charCodeAt(i);
  return s.slice(0, i) + String.fromCharCode(c === 0x7a ? 0x79 : c + 1) + s.slice(i + 1);
};
const STRING_FIELDS = ['time', 'actor', 'action', 'resource', 'project', 'requestId', 'afterHash', 'details.label', 'leafHash'] as const;

test('property: editing one character of any row names that row', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 63 }), fc.constantFrom(...STRING_FIELDS), fc.nat(), async (k, field, at) => {
      const rows: Record<string, unknown>[] = ROWS.map((x) => ({ ...x }));
      const row = rows[k] as Record<string, unknown>;
      if (field === 'details.label') {
        const details = row['details'] as Record<string, unknown>;
        row['details'] = { ...details, label: mutateString(details['label'] as string, at) };
      } else {
        const value = row[field];
        fc.pre(typeof value === 'string'); // project / requestId / afterHash may be null in this row
        row[field] = mutateString(value, at);
      }
      const f = failure(await verifyAuditLog({ entries: rows, checkpoint: CP, publicKey: KEY.publicKey }));
      assert.equal(f.seq, k, f.reason);
    }),
    { numRuns: 150 },
  );
});

test('property: deleting, swapping or truncating rows below the checkpoint names the first bad seq', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.record({ kind: fc.constant('delete' as const), i: fc.integer({ min: 0, max: 63 }) }),
        fc.record({ kind: fc.constant('swap' as const), i: fc.integer({ min: 0, max: 63 }), j: fc.integer({ min: 0, max: 63 }) }),
        fc.record({ kind: fc.constant('truncate' as const), i: fc.integer({ min: 0, max: 63 }) }),
      ),
      fc.constantFrom({ parallel: false, batchSize: 4096 }, { parallel: true, batchSize: 4 }),
      async (op, mode) => {
        let rows: StoredAuditEntry[] = [...ROWS];
        let expected: number;
        switch (op.kind) {
          case 'delete':
            rows.splice(op.i, 1);
            expected = op.i;
            break;
          case 'swap': {
            fc.pre(op.i !== op.j);
            const a = rows[op.i] as StoredAuditEntry;
            rows[op.i] = rows[op.j] as StoredAuditEntry;
            rows[op.j] = a;
            expected = Math.min(op.i, op.j);
            break;
          }
          case 'truncate':
            rows = rows.slice(0, op.i);
            expected = op.i;
            break;
        }
        const f = failure(await verifyAuditLog({ entries: asAsync(rows), checkpoint: CP, publicKey: KEY.publicKey, ...mode }));
        assert.equal(f.seq, expected, `${op.kind}: ${f.reason}`);
      },
    ),
    { numRuns: 120 },
  );
});

test('property: swapping two rows and renumbering them (hashes recomputed) breaks the checkpoint root', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 63 }), async (i, j) => {
      fc.pre(i !== j);
      const rows = [...ROWS];
      const a = rows[i] as StoredAuditEntry;
      const b = rows[j] as StoredAuditEntry;
      rows[i] = stored({ ...b, seq: i });
      rows[j] = stored({ ...a, seq: j });
      const f = failure(await verifyAuditLog({ entries: rows, checkpoint: CP, publicKey: KEY.publicKey }));
      assert.match(f.reason, /^root at size 64 does not match/);
    }),
    { numRuns: 60 },
  );
});

// ---------------------------------------------------------------------------------------------
// Batching and the hashing thread

test('every batch size, on the worker thread or not, gives the same verdicts', async () => {
  const rows = makeRows(150);
  const leafHashes = rows.map((x) => Buffer.from(x.leafHash, 'hex'));
  const saved = checkpointOf(rows, 37);
  const latest = checkpointOf(rows, 150);
  const logs: [string, unknown[], SignedCheckpoint | undefined][] = [
    ['good, two checkpoints inside batches', rows, latest],
    ['good, checkpoint only', rows, undefined],
    ['good, 128 rows (whole batches only)', rows.slice(0, 128), checkpointOf(rows, 128)],
    ['edited row 100', rows.map((x) => (x.seq === 100 ? { ...x, actor: 'mallory' } : x)), latest],
    ['edited row 20 and malformed row 30', rows.map((x) => (x.seq === 20 ? { ...x, actor: 'mallory' } : x.seq === 30 ? { ...x, v: 2 } : x)), latest],
    ['deleted row 64', rows.filter((x) => x.seq !== 64), latest],
    ['rewritten row 12 with a fresh hash', rows.map((x) => (x.seq === 12 ? stored({ ...x, actor: 'mallory' }) : x)), latest],
    ['rewritten row 140 with a fresh hash', rows.map((x) => (x.seq === 140 ? stored({ ...x, actor: 'mallory' }) : x)), latest],
    ['truncated to 149', rows.slice(0, 149), latest],
  ];
  for (const [what, entries, late] of logs) {
    const input = {
      entries,
      checkpoint: saved,
      publicKey: KEY.publicKey,
      ...(late === undefined ? {} : { latest: late, consistencyProof: consistencyProof(leafHashes, 37, late.size).map(toHex) }),
    };
    const reference = await verifyAuditLog({ ...input, parallel: false });
    assert.equal(reference.ok, what.startsWith('good'), `${what}: ${JSON.stringify(reference)}`);
    for (const batchSize of [1, 2, 4, 8, 64, 4096]) {
      for (const parallel of [false, true]) {
        const r = await verifyAuditLog({ ...input, entries: asAsync(entries), batchSize, parallel });
        assert.deepEqual(r, reference, `${what}; batch ${batchSize}, ${parallel ? 'worker' : 'inline'}`);
      }
    }
  }
});

test('a batch size that is not a power of two is refused', async () => {
  await assert.rejects(verifyAuditLog({ entries: ROWS, checkpoint: CP, publicKey: KEY.publicKey, batchSize: 3 }), /power of two/);
});

// ---------------------------------------------------------------------------------------------
// Streaming behaviour

test('on failure the verifier stops reading and closes the source', async () => {
  let read = 0;
  let closed = false;
  async function* source(): AsyncGenerator<StoredAuditEntry> {
    try {
      for (const x of ROWS) {
        read++;
        yield await Promise.resolve(x.seq === 10 ? { ...x, actor: 'mallory' } : x);
      }
    } finally {
      closed = true;
    }
  }
  const f = failure(await verifyAuditLog({ entries: source(), checkpoint: CP, publicKey: KEY.publicKey, batchSize: 4 }));
  assert.equal(f.seq, 10);
  // Hashing runs a few batches behind reading (at most 4 in flight), so reading stops soon after.
  assert.ok(read <= 11 + 5 * 4, `read ${read} rows`);
  assert.ok(closed, 'the async generator was returned (a DB cursor would be closed)');
});

test('an error from the row source propagates', async () => {
  async function* broken(): AsyncGenerator<StoredAuditEntry> {
    yield ROWS[0] as StoredAuditEntry;
    await Promise.resolve();
    throw new Error('connection reset');
  }
  await assert.rejects(verifyAuditLog({ entries: broken(), checkpoint: CP, publicKey: KEY.publicKey }), /connection reset/);
});
