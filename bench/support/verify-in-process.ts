// Child process for bench/audit-verify.ts: calls verifyAuditLog directly (no CLI) on an export, in
// a fresh process so the generator's heap does not distort it, then times reading and parsing the
// same file alone — the floor any verifier using this reader pays. Prints one JSON line.
//
//   node --import tsx bench/support/verify-in-process.ts EVENTS CHECKPOINT PUBLIC_KEY
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { SignedCheckpoint } from '../../src/access/audit/index.ts';
import { loadPublicKey, verifyAuditLog } from '../../src/access/audit/index.ts';

export interface InProcessResult {
  readonly ok: boolean;
  readonly checked: number;
  readonly verifySeconds: number;
  readonly readParseSeconds: number;
  readonly rows: number;
  readonly maxRssMiB: number;
}

/** The reader of src/cli/audit.ts (fileEntries): readline over a 1 MiB-buffered stream, JSON.parse per line. */
async function* fileEntries(path: string): AsyncGenerator<unknown> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    yield JSON.parse(line) as unknown;
  }
}

const [events, checkpointPath, publicKeyPath] = process.argv.slice(2) as [string, string, string];
const publicKey = await loadPublicKey(publicKeyPath);
const checkpoint = JSON.parse(await readFile(checkpointPath, 'utf8')) as SignedCheckpoint;

let t = process.hrtime.bigint();
const result = await verifyAuditLog({ entries: fileEntries(events), checkpoint, publicKey });
const verifySeconds = Number(process.hrtime.bigint() - t) / 1e9;

t = process.hrtime.bigint();
let rows = 0;
for await (const row of fileEntries(events)) if (row !== null) rows += 1;
const readParseSeconds = Number(process.hrtime.bigint() - t) / 1e9;

const out: InProcessResult = {
  ok: result.ok,
  checked: result.ok ? result.checked : 0,
  verifySeconds,
  readParseSeconds,
  rows,
  maxRssMiB: process.resourceUsage().maxRSS / 1024,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
