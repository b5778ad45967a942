// `strata audit`: read the log, export it, sign checkpoints, fetch proofs, and verify everything
// offline with only the public key and a checkpoint saved earlier (research §1.2 P3/P4). The CLI
// pins the server's public key and newest verified checkpoint (trust on first use, like SSH
// known_hosts), so a later rewrite or rollback of the log is caught even if the server lies.
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { canonicalEntryJson, loadPublicKey, readLatestCheckpoint, readCheckpointFile, signedCheckpointProblem, verifyAuditLog, verifyCanonicalLines } from '../access/audit/index.ts';
import type { LineBatch, SignedCheckpoint, StoredAuditEntry, VerifyAuditLogResult } from '../access/audit/index.ts';
import type { StrataClient } from '../sdk/index.ts';
import { isLocalServer, strataHome, trustDir } from './config.ts';
import { commandContext } from './context.ts';

type Row = Record<string, unknown>;
const PAGE = 10000;

async function* serverEntries(client: StrataClient): AsyncGenerator<unknown> {
  let from = 0;
  for (;;) {
    const r = await client.get<{ events: unknown[]; next: number | null }>('/api/v1/audit/events', { from, limit: PAGE });
    yield* r.events;
    if (r.next === null) return;
    from = r.next;
  }
}

/**
 * Lines of a file as offsets into 4 MiB chunks (no per-line objects). Each batch's buffer starts
 * with a spare byte, so the byte before every line is free for the verifier to use.
 */
export async function* fileLines(path: string): AsyncGenerator<LineBatch> {
  const fh = await openFile(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(4 << 20);
    let carry: Buffer = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      const data = Buffer.allocUnsafe(1 + carry.length + bytesRead);
      data[0] = 0x0a;
      carry.copy(data, 1);
      chunk.copy(data, 1 + carry.length, 0, bytesRead);
      const starts: number[] = [];
      const ends: number[] = [];
      let start = 1;
      for (let nl = data.indexOf(0x0a, start); nl >= 0; nl = data.indexOf(0x0a, start)) {
        if (nl > start) {
          starts.push(start);
          ends.push(nl);
        }
        start = nl + 1;
      }
      if (starts.length > 0) yield { data, starts, ends };
      carry = data.subarray(start);
    }
    if (carry.length > 0) {
      const data = Buffer.allocUnsafe(carry.length + 1);
      data[0] = 0x0a;
      carry.copy(data, 1);
      yield { data, starts: [1], ends: [data.length] };
    }
  } finally {
    await fh.close();
  }
}

/** True when an export is in canonical-lines form (canonical JSON, a tab, the leaf hash). */
async function isCanonicalExport(path: string): Promise<boolean> {
  const fh = await openFile(path, 'r');
  try {
    const head = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const firstLine = head.subarray(0, bytesRead).toString('utf8').split('\n')[0] ?? '';
    return firstLine.includes('\t');
  } finally {
    await fh.close();
  }
}

/** JSON-lines exports (older CLI versions): parsed row by row, then verified like server rows. */
async function* fileEntries(path: string): AsyncGenerator<unknown> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n += 1;
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as unknown;
    } catch {
      yield { malformedLine: n };
    }
  }
}

function readCheckpointJson(path: string): SignedCheckpoint {
  const c: unknown = JSON.parse(readFileSync(path, 'utf8'));
  const problem = signedCheckpointProblem(c);
  if (problem !== undefined) throw new Error(`${path} is not a signed checkpoint: ${problem}`);
  return c as SignedCheckpoint;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');

  audit
    .command('events')
    .option('--from <seq>', 'first sequence number', '0')
    .option('--limit <n>', 'how many', '50')
    .option('-p, --project <project>', 'only entries of this project')
    .option('--actor <id>', 'only entries by this principal id')
    .option('--action <action>', 'only this action, e.g. project.create')
    .description('list audit entries (platform administrators)')
    .action(async (opts: { from: string; limit: string; project?: string; actor?: string; action?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ events: Row[] }>('/api/v1/audit/events', { from: opts.from, limit: opts.limit, project: opts.project, actor: opts.actor, action: opts.action });
      out.table(r, r.events, ['seq', 'time', 'actor', 'action', 'resource', 'outcome']);
    });

  audit
    .command('export')
    .option('--out <file>', 'write JSON lines here instead of stdout')
    .description('export every entry, one per line: its canonical JSON (the exact bytes its Merkle leaf commits to), a tab, its stored leaf hash (input for `audit verify --events`)')
    .action(async (opts: { out?: string }, cmd: Command) => {
      const { client } = commandContext(cmd);
      const sink = opts.out === undefined ? process.stdout : createWriteStream(opts.out);
      let n = 0;
      for await (const e of serverEntries(client)) {
        const { leafHash, ...entry } = e as StoredAuditEntry;
        if (!sink.write(`${canonicalEntryJson(entry)}\t${leafHash}\n`)) await once(sink, 'drain');
        n += 1;
      }
      if (opts.out !== undefined) {
        sink.end();
        await once(sink, 'finish');
        process.stderr.write(`exported ${n} entries to ${opts.out}\n`);
      }
    });

  audit
    .command('checkpoint')
    .description('sign a checkpoint of the current tree head now (the server also does this periodically)')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.post<Row>('/api/v1/audit/checkpoints'), ['logId', 'size', 'root', 'time', 'keyId']);
    });

  audit
    .command('proof')
    .description('fetch an RFC 9162 inclusion proof (--index, --size) or consistency proof (--from, --to)')
    .option('--index <n>')
    .option('--size <n>')
    .option('--from <n>')
    .option('--to <n>')
    .action(async (opts: { index?: string; size?: string; from?: string; to?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      if (opts.index !== undefined && opts.size !== undefined) out.record(await client.get<Row>('/api/v1/audit/proof/inclusion', { index: opts.index, size: opts.size }));
      else if (opts.from !== undefined && opts.to !== undefined) out.record(await client.get<Row>('/api/v1/audit/proof/consistency', { from: opts.from, to: opts.to }));
      else throw new Error('give --index and --size for an inclusion proof, or --from and --to for a consistency proof');
    });

  audit
    .command('verify')
    .description('recompute every leaf hash and Merkle root and check them against a signed checkpoint; exit 0 only if all verify')
    .option('--events <file>', 'verify an export (JSON lines) offline instead of reading from the server')
    .option('--checkpoint <file>', 'the trust anchor: a signed checkpoint saved earlier (default: the one pinned by the last successful verify)')
    .option('--latest <file>', 'with --events: a newer signed checkpoint that must extend --checkpoint')
    .option('--public-key <file>', "the log's Ed25519 public key, PEM (default: the pinned one)")
    .option('--no-save', 'do not pin the key and the newest verified checkpoint')
    .action(async (opts: { events?: string; checkpoint?: string; latest?: string; publicKey?: string; save: boolean }, cmd: Command) => {
      const offline = opts.events !== undefined;
      const { client, out, server } = commandContext(cmd);
      const pinDir = trustDir(server);
      const local = isLocalServer(server);
      const notes: string[] = [];

      // The public key: given, pinned, the local server's file, or (first use) fetched.
      let publicKey: KeyObject;
      let keyPem: string | undefined;
      if (opts.publicKey !== undefined) publicKey = await loadPublicKey(opts.publicKey);
      else if (existsSync(join(pinDir, 'audit-signing.pub'))) publicKey = await loadPublicKey(join(pinDir, 'audit-signing.pub'));
      else if (local && existsSync(join(strataHome(), 'audit-signing.pub'))) publicKey = await loadPublicKey(join(strataHome(), 'audit-signing.pub'));
      else if (!offline) {
        keyPem = (await client.get<{ publicKey: string }>('/api/v1/audit/public-key')).publicKey;
        publicKey = await loadPublicKey(keyPem);
        notes.push(`trusting the server's public key on first use; it is pinned in ${pinDir}`);
      } else throw new Error('offline verification needs --public-key (the log has no pinned key yet)');

      // The trust anchor: given, pinned, the local server's newest file, or (first use) the server's newest.
      let anchor: SignedCheckpoint | undefined;
      if (opts.checkpoint !== undefined) anchor = readCheckpointJson(opts.checkpoint);
      else if (existsSync(join(pinDir, 'checkpoint.json'))) anchor = readCheckpointJson(join(pinDir, 'checkpoint.json'));
      else if (local) anchor = await readLatestCheckpoint(join(strataHome(), 'checkpoints'));
      let latest: SignedCheckpoint | undefined;
      if (opts.latest !== undefined) latest = await readCheckpointFile(opts.latest);
      else if (!offline) latest = (await client.get<{ checkpoints: SignedCheckpoint[] }>('/api/v1/audit/checkpoints', { latest: true })).checkpoints[0];
      if (anchor === undefined) {
        if (latest === undefined) throw new Error('no checkpoint to verify against: give --checkpoint, or run `strata audit checkpoint` first');
        anchor = latest;
        notes.push('no saved checkpoint: using the server\'s newest as the anchor (trust on first use)');
      }

      const anchors = { checkpoint: anchor, publicKey, ...(latest === undefined ? {} : { latest }) };
      let result: VerifyAuditLogResult;
      if (offline && (await isCanonicalExport(opts.events as string))) result = await verifyCanonicalLines({ ...anchors, lines: fileLines(opts.events as string) });
      else result = await verifyAuditLog({ ...anchors, entries: offline ? fileEntries(opts.events as string) : serverEntries(client) });
      for (const n of notes) process.stderr.write(`note: ${n}\n`);
      if (!result.ok) {
        if (out.json) out.record(result);
        process.stderr.write(`strata: audit log verification FAILED: ${result.reason}\n`);
        process.exitCode = 1;
        return;
      }
      if (opts.save) {
        mkdirSync(pinDir, { recursive: true, mode: 0o700 });
        writeFileSync(join(pinDir, 'checkpoint.json'), `${JSON.stringify(result.checkpoint, null, 2)}\n`);
        const pubPath = join(pinDir, 'audit-signing.pub');
        if (!existsSync(pubPath)) writeFileSync(pubPath, keyPem ?? publicKey.export({ type: 'spki', format: 'pem' }).toString());
      }
      if (out.json) return out.record(result);
      out.line(`audit log verified: ${result.checked} entries; root at size ${result.size} matches the signed checkpoint`);
      out.line(`  root ${result.root}`);
      if (result.unverified > 0) out.line(`  ${result.unverified} newer entries are hash-chained but not yet covered by a checkpoint (run \`strata audit checkpoint\`)`);
    });
}
