// Benchmark: `strata audit verify` over 1,000,000 events in under 5 s (issue 2's target). Generates
// a realistic log as `strata audit export` writes it (one StoredAuditEntry per JSON line), signs a
// checkpoint over it with a fresh Ed25519 key, then times the real CLI end to end as a child process
// (wall time including process start, peak RSS) and, separately, `verifyAuditLog` in process. A
// copy with one byte changed in the middle entry's details must fail and name that entry.
//
//   npm run bench -- audit-verify [--quick] [--json]
//
// Generation is not part of any measured figure. Files go under os.tmpdir() and are deleted.
import { closeSync, copyFileSync, createWriteStream, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { AuditEntry } from '../src/access/audit/index.ts';
import { MerkleAccumulator, canonicalEntryJson, entryLeafHashHex, generateSigningKey, signCheckpoint } from '../src/access/audit/index.ts';
import type { InProcessResult } from './support/verify-in-process.ts';
import { describeMachine, machine, strataBuild } from './support/machine.ts';
import { benchFlags, fix, humanWriter, int, repoRoot, runChild } from './support/report.ts';
import { seededRandom } from '../src/kernel/index.ts';

const TARGET_SECONDS = 5; // for 1,000,000 events, issue 2
const flags = benchFlags();
const say = humanWriter(flags);
const EVENTS = flags.quick ? 100_000 : 1_000_000;
const TAMPERED_SEQ = EVENTS / 2;
const CLI_RUNS = 3;

// ---------------------------------------------------------------------------------------------
// A realistic log: the actions the services append, with their resources and details.

const rand = seededRandom(2);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const B32 = '0123456789abcdefghjkmnpqrstvwxyz';
const id = (prefix: string): string => {
  let s = `${prefix}_`;
  for (let i = 0; i < 20; i++) s += B32[Math.floor(rand() * 32)] ?? '0';
  return s;
};
const hex64 = (): string => createHash('sha256').update(String(rand())).digest('hex');

const principals = Array.from({ length: 200 }, () => id('pr'));
const projects = Array.from({ length: 50 }, () => ({ id: id('prj'), name: `${pick(['fraud', 'search', 'ranking', 'vision', 'speech', 'ads'])}-${pick(['train', 'serve', 'eval', 'etl'])}-${Math.floor(rand() * 100)}` }));
const teams = Array.from({ length: 10 }, () => ({ id: id('team'), name: pick(['ml-platform', 'research', 'risk', 'growth', 'infra', 'applied-ai']) }));
const secretNames = ['DATABASE_URL', 'HF_TOKEN', 'WANDB_API_KEY', 'S3_SECRET_ACCESS_KEY', 'OPENAI_API_KEY', 'SLACK_WEBHOOK', 'GCS_SERVICE_ACCOUNT'];
const roles = ['viewer', 'editor', 'admin'];

type Body = Pick<AuditEntry, 'action' | 'resource' | 'project' | 'outcome' | 'beforeHash' | 'afterHash' | 'details'>;

/** One event's action and payload, in roughly the proportions a busy platform produces them. */
function body(): Body {
  const p = pick(projects);
  const r = rand();
  const none = { beforeHash: null, afterHash: null };
  if (r < 0.45) {
    const name = pick(secretNames);
    return { action: 'secret.reveal', resource: `project/${p.id}/secret/${name}`, project: p.id, outcome: 'success', ...none, details: { name, version: 1 + Math.floor(rand() * 40) } };
  }
  if (r < 0.75) {
    const name = pick(secretNames);
    return { action: 'secret.write', resource: `project/${p.id}/secret/${name}`, project: p.id, outcome: 'success', ...none, details: { name, version: 1 + Math.floor(rand() * 40), kekVersion: 1 + Math.floor(rand() * 3) } };
  }
  if (r < 0.83) {
    const role = pick(roles);
    return {
      action: 'project.members.grant',
      resource: `project/${p.id}`,
      project: p.id,
      outcome: 'success',
      beforeHash: rand() < 0.5 ? null : hex64(),
      afterHash: hex64(),
      details: { principal: `svc-${p.name}`, role, previousRole: rand() < 0.5 ? null : pick(roles) },
    };
  }
  if (r < 0.88) {
    return {
      action: 'token.create',
      resource: `principal/${pick(principals)}`,
      project: null,
      outcome: 'success',
      beforeHash: null,
      afterHash: hex64(),
      details: { tokenId: id('tok'), name: `ci-${p.name}`, expiresAt: '2027-03-01T00:00:00.000Z' },
    };
  }
  if (r < 0.9) {
    const t = pick(teams);
    return { action: 'project.create', resource: `project/${p.id}`, project: p.id, outcome: 'success', beforeHash: null, afterHash: hex64(), details: { name: p.name, team: t.name } };
  }
  const action = pick(['secret.write', 'secret.destroy', 'project.members.write']);
  return { action, resource: `project/${p.id}`, project: p.id, outcome: 'denied', ...none, details: { reason: `${action} needs role editor on project ${p.name}; you have viewer` } };
}

interface Generated {
  readonly dir: string;
  readonly events: string;
  readonly tampered: string;
  readonly checkpoint: string;
  readonly publicKey: string;
  readonly meanEntryBytes: number;
  readonly seconds: number;
}

/** Writes the export, a tampered copy, a signed checkpoint and the public key. */
async function generate(): Promise<Generated> {
  const t0 = process.hrtime.bigint();
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-audit-'));
  const events = join(dir, 'events.export');
  const out = createWriteStream(events, { highWaterMark: 1 << 20 });
  const acc = new MerkleAccumulator();
  let time = Date.parse('2026-01-05T08:00:00.000Z');
  let bytes = 0;
  let entryBytes = 0;
  let tamperOffset = -1;
  let chunk = '';
  for (let seq = 0; seq < EVENTS; seq++) {
    time += Math.floor(rand() * 2000);
    const b = body();
    const entry: AuditEntry = {
      v: 1,
      seq,
      time: new Date(time).toISOString(),
      actor: pick(principals),
      action: b.action,
      resource: b.resource,
      project: b.project,
      outcome: b.outcome,
      requestId: id('req'),
      beforeHash: b.beforeHash,
      afterHash: b.afterHash,
      details: b.details,
    };
    const leafHash = entryLeafHashHex(entry);
    acc.appendHex(leafHash);
    // Exactly what `strata audit export` writes: the entry's canonical JSON, a tab, its leaf hash.
    const line = `${canonicalEntryJson(entry)}\t${leafHash}\n`;
    entryBytes += line.length - leafHash.length - 2; // the entry without its hash, tab and newline
    if (seq === TAMPERED_SEQ) {
      // One byte of details: the first character of its first string value (every details has one).
      const at = line.indexOf('"details":{');
      const valueStart = line.indexOf('":"', at + 11) + 3;
      tamperOffset = bytes + Buffer.byteLength(chunk) + Buffer.byteLength(line.slice(0, valueStart));
    }
    chunk += line;
    if (chunk.length > 1 << 20) {
      bytes += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  bytes += Buffer.byteLength(chunk);
  out.end(chunk);
  await once(out, 'finish');

  const key = generateSigningKey();
  const signed = signCheckpoint({ logId: 'strata-audit', size: acc.size, root: acc.root().toString('hex'), time: new Date(time + 1000).toISOString() }, key);
  const checkpoint = join(dir, 'checkpoint.json');
  writeFileSync(checkpoint, `${JSON.stringify(signed, null, 2)}\n`);
  const publicKey = join(dir, 'audit-signing.pub');
  writeFileSync(publicKey, key.publicKey.export({ type: 'spki', format: 'pem' }).toString());

  const tampered = join(dir, 'events-tampered.export');
  copyFileSync(events, tampered);
  const fd = openSync(tampered, 'r+');
  const original = Buffer.alloc(1);
  readSync(fd, original, 0, 1, tamperOffset);
  writeSync(fd, Buffer.from([original[0] === 0x61 ? 0x62 : 0x61]), 0, 1, tamperOffset); // → 'a' ('b' if it was 'a')
  closeSync(fd);

  return { dir, events, tampered, checkpoint, publicKey, meanEntryBytes: entryBytes / EVENTS, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface CliRun {
  readonly wallSeconds: number;
  /** User + system CPU seconds of the CLI process, all threads (hardly moves when other work shares the cores). */
  readonly cpuSeconds: number | null;
  readonly peakRssMiB: number | null;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const TIME = '/usr/bin/time';

/** Runs `strata audit verify` as a child, under /usr/bin/time -v when present (for peak RSS). */
async function verifyCli(g: Generated, events: string, extra: readonly string[] = []): Promise<CliRun> {
  const home = join(g.dir, 'home');
  const env: NodeJS.ProcessEnv = { ...process.env, STRATA_HOME: home, XDG_CONFIG_HOME: join(home, 'config') };
  delete env['STRATA_SERVER'];
  delete env['STRATA_TOKEN'];
  delete env['STRATA_CONTEXT'];
  const cli = [join(repoRoot, 'bin', 'strata.js'), ...extra, 'audit', 'verify', '--events', events, '--checkpoint', g.checkpoint, '--public-key', g.publicKey, '--no-save'];
  const timed = existsSync(TIME);
  const r = await runChild(timed ? ['-v', process.execPath, ...cli] : cli, { env, ...(timed ? { command: TIME } : {}) });
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1];
  const sys = /System time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1];
  return {
    wallSeconds: r.wallMs / 1000,
    cpuSeconds: user === undefined || sys === undefined ? null : Number(user) + Number(sys),
    peakRssMiB: rss?.[1] === undefined ? null : Number(rss[1]) / 1024,
    exitCode: r.code,
    stdout: r.stdout,
    // /usr/bin/time appends its report to stderr; keep only what the CLI wrote.
    stderr: timed ? (r.stderr.split(/^(?:Command exited with non-zero status \d+\n)?\tCommand being timed:/m)[0] ?? r.stderr) : r.stderr,
  };
}

/** verifyAuditLog called directly, in a fresh child process (bench/support/verify-in-process.ts). */
async function inProcess(g: Generated): Promise<InProcessResult> {
  const r = await runChild(['--import', 'tsx', join(repoRoot, 'bench', 'support', 'verify-in-process.ts'), g.events, g.checkpoint, g.publicKey]);
  if (r.code !== 0) throw new Error(`in-process verification failed (exit ${String(r.code)}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as InProcessResult;
}

/** Wall time of `strata --version`: the fixed cost of starting the CLI (Node, tsx, module loading). */
async function cliStartSeconds(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await runChild([join(repoRoot, 'bin', 'strata.js'), '--version']);
    if (r.code !== 0) throw new Error(`strata --version failed: ${r.stderr}`);
    times.push(r.wallMs / 1000);
  }
  return median(times);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

// ---------------------------------------------------------------------------------------------

const m = machine();
say(`audit-verify benchmark${flags.quick ? ' (--quick)' : ''}: strata audit verify over ${int(EVENTS)} events`);
say(describeMachine(m));
say(`strata CLI runs: ${strataBuild(repoRoot) === 'dist' ? 'compiled dist/' : 'TypeScript sources through tsx (dist/ missing or older than src/)'}`);
say(`anchor: issue 2 targets verifying 1,000,000 events in < ${TARGET_SECONDS} s`);

const g = await generate();
try {
  const fileMiB = statSync(g.events).size / 2 ** 20;
  say(`generated ${int(EVENTS)} entries (mean ${int(g.meanEntryBytes)} bytes each without leafHash, export ${fix(fileMiB, 1)} MiB) in ${fix(g.seconds, 1)} s — not measured`);
  say('');

  const runs: CliRun[] = [];
  for (let i = 0; i < CLI_RUNS; i++) {
    const r = await verifyCli(g, g.events);
    if (r.exitCode !== 0 || !r.stdout.includes(`audit log verified: ${EVENTS} entries`)) {
      throw new Error(`strata audit verify failed on the untouched export (exit ${String(r.exitCode)}):\n${r.stdout}${r.stderr}`);
    }
    runs.push(r);
  }
  const wall = runs.map((r) => r.wallSeconds);
  const startSeconds = await cliStartSeconds();
  const rss = runs.map((r) => r.peakRssMiB).filter((x): x is number => x !== null);
  const cpus = runs.map((r) => r.cpuSeconds).filter((x): x is number => x !== null);
  const cliCpu = cpus.length > 0 ? median(cpus) : null;
  const cliSeconds = median(wall);
  // The target is for 1,000,000 events; --quick's smaller log is dominated by fixed costs (start-up,
  // JIT warm-up, the hashing worker's start), so it is not scaled up to compare.
  const full = EVENTS === 1_000_000;
  const ip = await inProcess(g);
  if (!ip.ok || ip.checked !== EVENTS || ip.rows !== EVENTS) throw new Error('in-process verifyAuditLog did not verify the untouched export');

  const bad = await verifyCli(g, g.tampered, ['--json']);
  let badSeq: number | undefined;
  try {
    badSeq = (JSON.parse(bad.stdout) as { seq?: number }).seq;
  } catch {
    badSeq = undefined;
  }
  const tamperDetected = bad.exitCode !== 0 && badSeq === TAMPERED_SEQ && bad.stderr.includes(`entry ${TAMPERED_SEQ}:`);

  say(`CLI  strata audit verify (child process, wall incl. start)  ${fix(cliSeconds)} s median of ${CLI_RUNS} [${wall.map((w) => fix(w)).join(', ')}]   ${int(EVENTS / cliSeconds)} events/s`);
  say(`     of which CLI start-up (median wall of \`strata --version\`) ${fix(startSeconds)} s`);
  say(`     CPU (user + system, all threads) ${cliCpu === null ? 'n/a' : `${fix(cliCpu)} s median`};   peak RSS ${rss.length > 0 ? `${fix(Math.max(...rss), 0)} MiB` : 'n/a (no /usr/bin/time)'}`);
  say(
    full
      ? `     target < ${TARGET_SECONDS} s for 1,000,000 events: measured/target ${fix(cliSeconds / TARGET_SECONDS)} — ${cliSeconds < TARGET_SECONDS ? 'MET' : 'MISSED'}`
      : `     target < ${TARGET_SECONDS} s applies to 1,000,000 events: run without --quick to compare`,
  );
  say(`in-process verifyCanonicalLines, called directly in a fresh process (file → 4 MiB chunks → canonical lines hashed in place → tree)  ${fix(ip.verifySeconds)} s   ${int(EVENTS / ip.verifySeconds)} events/s   maxRSS ${fix(ip.maxRssMiB, 0)} MiB`);
  say(`     reading + splitting lines alone, same reader (the floor for it)  ${fix(ip.readParseSeconds)} s = ${fix((ip.readParseSeconds / ip.verifySeconds) * 100, 0)} % of the verify time`);
  say(`     CLI wall minus in-process verify  ${fix(cliSeconds - ip.verifySeconds)} s`);
  say(
    `correctness: one byte changed in entry ${int(TAMPERED_SEQ)}'s details → exit ${String(bad.exitCode)}, seq ${String(badSeq)}: ${tamperDetected ? 'DETECTED' : 'NOT DETECTED'}` +
      `  (${bad.stderr.trim().split('\n').at(-1) ?? ''})`,
  );

  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({
        benchmark: 'audit-verify',
        quick: flags.quick,
        machine: m,
        strataBuild: strataBuild(repoRoot),
        events: EVENTS,
        exportMiB: fileMiB,
        meanEntryBytes: g.meanEntryBytes,
        anchor: { seconds: TARGET_SECONDS, events: 1_000_000 },
        cli: {
          wallSecondsMedian: cliSeconds,
          wallSeconds: wall,
          eventsPerSecond: EVENTS / cliSeconds,
          cpuSecondsMedian: cliCpu,
          startSeconds,
          ratioToTarget: full ? cliSeconds / TARGET_SECONDS : null,
          peakRssMiB: rss.length > 0 ? Math.max(...rss) : null,
          met: full ? cliSeconds < TARGET_SECONDS : null,
        },
        inProcess: { verifySeconds: ip.verifySeconds, readParseSeconds: ip.readParseSeconds, eventsPerSecond: EVENTS / ip.verifySeconds, maxRssMiB: ip.maxRssMiB },
        tampered: { seq: TAMPERED_SEQ, exitCode: bad.exitCode, reportedSeq: badSeq ?? null, detected: tamperDetected },
      })}\n`,
    );
  }
  process.exitCode = tamperDetected ? 0 : 1;
} finally {
  rmSync(g.dir, { recursive: true, force: true });
}
