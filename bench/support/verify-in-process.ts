// Child process for bench/audit-verify.ts: calls the verifier the CLI uses for exports
// (verifyCanonicalLines over the CLI's chunked line reader) directly, in a fresh process so the
// generator's heap does not distort it, then times reading and splitting the same file alone — the
// floor any verifier using this reader pays. Prints one JSON line.
//
//   node --import tsx bench/support/verify-in-process.ts EVENTS CHECKPOINT PUBLIC_KEY
import { readFile } from 'node:fs/promises';
import type { SignedCheckpoint } from '../../src/access/audit/index.ts';
import { loadPublicKey, verifyCanonicalLines } from '../../src/access/audit/index.ts';
import { fileLines } from '../../src/cli/audit.ts';

export interface InProcessResult {
  readonly ok: boolean;
  readonly checked: number;
  readonly verifySeconds: number;
  readonly readParseSeconds: number;
  readonly rows: number;
  readonly maxRssMiB: number;
}

const [events, checkpointPath, publicKeyPath] = process.argv.slice(2) as [string, string, string];
const publicKey = await loadPublicKey(publicKeyPath);
const checkpoint = JSON.parse(await readFile(checkpointPath, 'utf8')) as SignedCheckpoint;

let t = process.hrtime.bigint();
const result = await verifyCanonicalLines({ lines: fileLines(events), checkpoint, publicKey });
const verifySeconds = Number(process.hrtime.bigint() - t) / 1e9;

t = process.hrtime.bigint();
let rows = 0;
for await (const batch of fileLines(events)) rows += batch.starts.length;
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
