// Benchmark: the HTTP API under load (issue 2, "the spine"). Targets on the 2-core reference
// machine: ≥ 5,000 authenticated, audited writes/s and ≥ 20,000 authenticated reads/s, SQLite,
// loopback only. The real server (`strata server`) and the load generator (autocannon, in
// bench/support/load.ts) run as separate processes; a bare Fastify "hello" route, run the same way,
// is the peer that shows what this machine and loopback allow at all.
//
//   npm run bench -- api [--quick] [--json]
//
// Writes are `PUT /api/v1/projects/default/secrets/bench-<n>` (n cycles over 1,000 names): each
// authenticates, authorises, seals a new secret version (AES-256-GCM envelope) and appends an audit
// entry in the same transaction. They run as a fixed number of requests, all answered, so the
// audit log's growth can be reconciled exactly with the 2xx count afterwards.
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadResult, LoadSpec } from './support/load.ts';
import { describeMachine, machine } from './support/machine.ts';
import { benchFlags, fix, humanWriter, int, runChild, startChild, stopChild } from './support/report.ts';

const TARGET_WRITES = 5000; // per second, issue 2
const TARGET_READS = 20000; // per second, issue 2
const CONNECTIONS = 10;
const SECRET_NAMES = 1000;

const flags = benchFlags();
const say = humanWriter(flags);
const DURATION = flags.quick ? 5 : 15; // seconds per measured run
const WARMUP = flags.quick ? 1 : 3; // seconds before each measured run (JIT, SQLite page cache)

interface Figure {
  readonly requestsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p97_5: number; readonly p99: number; readonly max: number };
  readonly requests: number;
  readonly ok2xx: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly durationSeconds: number;
}

interface WriteFigure extends Figure {
  /** Audit log size before and after the measured run, and secret.write/success entries added. */
  readonly audit: { readonly before: number; readonly after: number; readonly grew: number; readonly secretWrites: number; readonly reconciled: boolean };
}

async function load(spec: LoadSpec): Promise<Figure> {
  const r = await runChild(['--import', 'tsx', 'bench/support/load.ts', JSON.stringify(spec)]);
  if (r.code !== 0) throw new Error(`load generator failed (exit ${String(r.code)}): ${r.stderr.slice(0, 2000)}`);
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as LoadResult;
  return {
    requestsPerSecond: res['2xx'] / res.duration,
    latencyMs: { p50: res.latency.p50, p97_5: res.latency.p97_5, p99: res.latency.p99, max: res.latency.max },
    requests: res.requests.total,
    ok2xx: res['2xx'],
    non2xx: res.non2xx,
    errors: res.errors,
    timeouts: res.timeouts,
    durationSeconds: res.duration,
  };
}

/** Starts a child whose stdout goes to `logFile`, and waits for "listening on <url>" in it. */
async function startListening(args: readonly string[], logFile: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const fd = openSync(logFile, 'w');
  const child = startChild(args, ['ignore', fd, fd], env);
  closeSync(fd);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = /listening on (http:\/\/[^\s"]+)/.exec(readFileSync(logFile, 'utf8'));
    if (m?.[1] !== undefined) return { child, url: m[1] };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  await stopChild(child);
  throw new Error(`${args.join(' ')} did not start listening; its output:\n${readFileSync(logFile, 'utf8').slice(0, 4000)}`);
}

async function api<T>(url: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

const auditSize = async (url: string, token: string): Promise<number> => (await api<{ size: number }>(url, token, '/api/v1/audit/root')).size;

/** secret.write entries with outcome success from seq `from` on. */
async function countSecretWrites(url: string, token: string, from: number): Promise<number> {
  let n = 0;
  let next: number | null = from;
  while (next !== null) {
    const page: { events: { outcome: string }[]; next: number | null } = await api(url, token, `/api/v1/audit/events?from=${next}&limit=10000&action=secret.write`);
    n += page.events.filter((e) => e.outcome === 'success').length;
    next = page.next;
  }
  return n;
}

interface StrataRun {
  readonly logLevel: string;
  readonly reads: Figure;
  readonly writes: WriteFigure;
}

async function benchStrata(logLevel: 'warn' | 'info'): Promise<StrataRun> {
  const home = mkdtempSync(join(tmpdir(), 'strata-bench-api-'));
  const env = { ...process.env, STRATA_HOME: home, XDG_CONFIG_HOME: join(home, 'config'), STRATA_LOG_LEVEL: logLevel };
  const { child, url } = await startListening(
    ['bin/strata.js', 'server', '--host', '127.0.0.1', '--port', '0', '--home', home, '--log-level', logLevel],
    join(home, 'server.log'),
    env,
  );
  try {
    const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
    const headers = { authorization: `Bearer ${token}` };
    const read: LoadSpec = { url, method: 'GET', path: '/api/v1/projects/default', headers, connections: CONNECTIONS, duration: DURATION };
    await load({ ...read, duration: WARMUP });
    const reads = await load(read);

    const write: LoadSpec = {
      url,
      method: 'PUT',
      path: '/api/v1/projects/default/secrets/bench-{n}',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'benchmark-secret-value-0123456789abcdef' }),
      connections: CONNECTIONS,
      duration: WARMUP,
      cycle: SECRET_NAMES,
    };
    const warm = await load(write);
    await sleep(1000); // requests in flight when the warm-up stopped finish before the baseline is read
    const before = await auditSize(url, token);
    const amount = Math.max(1000, Math.round(warm.requestsPerSecond * DURATION));
    const w = await load({ ...write, amount });
    const after = await auditSize(url, token);
    const secretWrites = await countSecretWrites(url, token, before);
    const grew = after - before;
    const writes: WriteFigure = {
      ...w,
      audit: { before, after, grew, secretWrites, reconciled: grew === w.ok2xx && secretWrites === w.ok2xx && w.ok2xx === amount },
    };
    return { logLevel, reads, writes };
  } finally {
    await stopChild(child);
    rmSync(home, { recursive: true, force: true });
  }
}

async function benchPeer(): Promise<Figure> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-peer-'));
  const { child, url } = await startListening(['--import', 'tsx', 'bench/support/hello-server.ts'], join(dir, 'peer.log'), process.env);
  try {
    const spec: LoadSpec = { url, method: 'GET', path: '/', connections: CONNECTIONS, duration: DURATION };
    await load({ ...spec, duration: WARMUP });
    return await load(spec);
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

const m = machine();
say(`api benchmark${flags.quick ? ' (--quick)' : ''}: ${CONNECTIONS} connections, ${DURATION} s per run after ${WARMUP} s warm-up, load from a separate autocannon process, loopback`);
say(describeMachine(m));
say('anchor: issue 2 targets ≥ 5,000 authenticated, audited writes/s and ≥ 20,000 authenticated reads/s on this 2-core machine');
say('');

const peer = await benchPeer();
const warn = await benchStrata('warn');
const info = await benchStrata('info');

const row = (label: string, f: Figure, extra = ''): string =>
  `${label.padEnd(44)} ${int(f.requestsPerSecond).padStart(7)} req/s   p50 ${fix(f.latencyMs.p50)} ms   p97.5 ${fix(f.latencyMs.p97_5)} ms   p99 ${fix(f.latencyMs.p99)} ms   ` +
  `non-2xx ${f.non2xx}   errors ${f.errors + f.timeouts}   (${int(f.ok2xx)} in ${fix(f.durationSeconds, 1)} s)${extra}`;
const vsTarget = (f: Figure, target: number): string => `   target ${int(target)} req/s: ${fix(f.requestsPerSecond / target)}× ${f.requestsPerSecond >= target ? 'MET' : 'MISSED'}`;
const vsPeer = (f: Figure): string => `   ${fix(f.requestsPerSecond / peer.requestsPerSecond)}× peer`;

say(row('peer: bare Fastify GET / (no auth, no DB)', peer));
for (const run of [warn, info]) {
  say(row(`strata reads  GET project, log ${run.logLevel}`, run.reads, vsTarget(run.reads, TARGET_READS) + vsPeer(run.reads)));
  say(row(`strata writes PUT secret + audit, log ${run.logLevel}`, run.writes, vsTarget(run.writes, TARGET_WRITES) + vsPeer(run.writes)));
  const a = run.writes.audit;
  say(
    `  audit check (log ${run.logLevel}): log grew ${int(a.before)} → ${int(a.after)} = ${int(a.grew)} entries, ${int(a.secretWrites)} secret.write successes, ` +
      `${int(run.writes.ok2xx)} 2xx writes: ${a.reconciled ? 'RECONCILED' : 'MISMATCH'}`,
  );
}
const logCost = (a: number, b: number): string => `${fix((1 - b / a) * 100, 1)} %`;
say(`request logging at info costs ${logCost(warn.reads.requestsPerSecond, info.reads.requestsPerSecond)} of read throughput and ${logCost(warn.writes.requestsPerSecond, info.writes.requestsPerSecond)} of write throughput`);

const clean = [warn, info].every((r) => r.writes.audit.reconciled && [r.reads, r.writes].every((f) => f.non2xx === 0 && f.errors === 0 && f.timeouts === 0));
if (!clean) say('FAILED: non-2xx responses, errors, or the audit log did not grow by exactly the number of 2xx writes');

if (flags.json) {
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'api',
      quick: flags.quick,
      machine: m,
      config: { connections: CONNECTIONS, durationSeconds: DURATION, warmupSeconds: WARMUP, secretNames: SECRET_NAMES, database: 'sqlite', loopback: true },
      anchors: { writesPerSecond: TARGET_WRITES, readsPerSecond: TARGET_READS },
      peer: { name: 'fastify-hello', ...peer },
      strata: { [warn.logLevel]: warn, [info.logLevel]: info },
      ratios: {
        readsVsTarget: warn.reads.requestsPerSecond / TARGET_READS,
        writesVsTarget: warn.writes.requestsPerSecond / TARGET_WRITES,
        readsVsPeer: warn.reads.requestsPerSecond / peer.requestsPerSecond,
        writesVsPeer: warn.writes.requestsPerSecond / peer.requestsPerSecond,
      },
      ok: clean,
    })}\n`,
  );
}
process.exitCode = clean ? 0 : 1;
