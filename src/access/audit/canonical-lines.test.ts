// verifyCanonicalLines: the no-parse verifier for exports. Every edit, deletion, reordering,
// duplication or truncation of lines is caught and named; CRLF line ends and batch boundaries do
// not matter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MerkleAccumulator, canonicalEntryJson, entryLeafHashHex, generateSigningKey, signCheckpoint, verifyCanonicalLines } from './index.ts';
import type { AuditEntry, LineBatch, SignedCheckpoint } from './index.ts';

const key = generateSigningKey();

function makeLog(n: number): { lines: string[]; checkpoint: SignedCheckpoint } {
  const acc = new MerkleAccumulator();
  const lines: string[] = [];
  for (let seq = 0; seq < n; seq++) {
    const e: AuditEntry = {
      v: 1, seq, time: new Date(1.7e12 + seq * 1000).toISOString(), actor: 'pr_x', action: 'team.create', resource: `team/t${seq}`, project: null,
      outcome: 'success', requestId: null, beforeHash: null, afterHash: null,
      // Nested keys named like top-level ones must not confuse the seq reader.
      details: { seq: 999, name: `"quoted" \\ \t ${seq}`, nested: { seq: -1, time: 'x' } },
    };
    const h = entryLeafHashHex(e);
    acc.appendHex(h);
    lines.push(`${canonicalEntryJson(e)}\t${h}`);
  }
  const checkpoint = signCheckpoint({ logId: 'strata-audit', size: n, root: acc.root().toString('hex'), time: new Date(1.8e12).toISOString() }, key);
  return { lines, checkpoint };
}

/** Splits the text into batches of `per` lines, in the LineBatch layout (a spare byte in front). */
async function* batches(text: string, per: number): AsyncGenerator<LineBatch> {
  await Promise.resolve(); // an async source, as a file reader is
  const all = text.split('\n').filter((l) => l !== '');
  for (let i = 0; i < all.length; i += per) {
    const chunk = all.slice(i, i + per);
    const data = Buffer.from(`\n${chunk.join('\n')}`);
    const starts: number[] = [];
    const ends: number[] = [];
    let start = 1;
    for (const l of chunk) {
      starts.push(start);
      ends.push(start + Buffer.byteLength(l));
      start += Buffer.byteLength(l) + 1;
    }
    yield { data, starts, ends };
  }
}

const verify = (lines: readonly string[], checkpoint: SignedCheckpoint, per = 7, eol = '\n') =>
  verifyCanonicalLines({ lines: batches(lines.join(eol) + eol, per), checkpoint, publicKey: key.publicKey });

test('an intact export verifies, whatever the batch size and line ends', async () => {
  const { lines, checkpoint } = makeLog(100);
  for (const per of [1, 7, 64, 1000]) {
    const r = await verify(lines, checkpoint, per);
    assert.equal(r.ok, true, JSON.stringify(r));
  }
  const crlf = await verify(lines, checkpoint, 10, '\r\n');
  assert.equal(crlf.ok, true, JSON.stringify(crlf));
});

test('every kind of tampering is caught and named', async () => {
  const { lines, checkpoint } = makeLog(50);
  const cases: [string, string[], RegExp, number | undefined][] = [
    ['one edited byte', lines.map((l, i) => (i === 17 ? l.replace('team.create', 'team.cReate') : l)), /entry 17: stored leaf hash does not match/, 17],
    ['an edit with a recomputed hash', lines.map((l, i) => {
      if (i !== 9) return l;
      const [c] = l.split('\t');
      const e = JSON.parse(c as string) as AuditEntry;
      const forged = { ...e, actor: 'pr_mallory' };
      return `${canonicalEntryJson(forged)}\t${entryLeafHashHex(forged)}`;
    }), /root at size 50 does not match/, undefined],
    ['a deleted line', lines.filter((_, i) => i !== 5), /entry 5 missing: sequence jumps from 4 to 6/, 5],
    ['two swapped lines', lines.map((l, i) => (i === 3 ? (lines[4] as string) : i === 4 ? (lines[3] as string) : l)), /entry 3 missing/, 3],
    ['a duplicated line', [...lines.slice(0, 8), lines[7] as string, ...lines.slice(8)], /entry 8: sequence goes back from 7 to 7/, 8],
    ['a truncated export', lines.slice(0, 30), /log has 30 entries but the checkpoint was signed over 50/, 30],
    ['a malformed line', lines.map((l, i) => (i === 2 ? l.replace('\t', ' ') : l)), /entry 2: malformed export line/, 2],
    ['a line without its hash', lines.map((l, i) => (i === 2 ? (l.split('\t')[0] as string) : l)), /entry 2: malformed export line/, 2],
  ];
  for (const [what, tampered, reason, seq] of cases) {
    const r = await verify(tampered, checkpoint);
    assert.equal(r.ok, false, what);
    if (!r.ok) {
      assert.match(r.reason, reason, what);
      assert.equal(r.seq, seq, what);
    }
  }
});

test('a checkpoint signed by another key is refused before any line is read', async () => {
  const { lines, checkpoint } = makeLog(5);
  const other = generateSigningKey();
  const r = await verifyCanonicalLines({ lines: batches(lines.join('\n'), 2), checkpoint, publicKey: other.publicKey });
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.reason, /signature does not verify/);
});
