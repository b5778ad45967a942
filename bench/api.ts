// Benchmark: the HTTP API under load (issue 2, "the spine"). Targets on the 2-core reference
// machine: ≥ 5,000 authenticated, audited writes/s and ≥ 20,000 authenticated reads/s, SQLite,
// loopback only. The real server (`strata server`) and the load generator (autocannon, in
// bench/support/load.ts) run as separate processes; a bare Fastify "hello" route, run the same way,
// is the peer that shows what this machine and loopback allow at all.
//
//   npm run bench -- api [--quick] [--json]
//   STRATA_BENCH_CPU_PROF=DIR npm run bench -- api --quick   (+ V8 CPU profiles of the servers in DIR)
//
// Writes are `PUT /api/v1/projects/default/secrets/bench-<n>` (n cycles over 1,000 names): each
// authenticates, authorises, seals a new secret version (AES-256-GCM envelope) and appends an audit
// entry in the same transaction. They run as a fixed number of requests, all answered, so the
// audit log's growth can be reconciled exactly with the 2xx count afterwards.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadResult, LoadSpec } from './support/load.ts';
import { describeMachine, machine, processCpuSeconds, strataBuild } from './support/machine.ts';
import { benchFlags, fix, humanWriter, int, repoRoot, runChild, startListening, stopChild } from './support/report.ts';

const TARGET_WRITES = 5000; // per second, issue 2
const TARGET_READS = 20000; // per second, issue 2
const CONNECTIONS = 10;
const SECRET_NAMES = 1000;
const PROFILE_DIR = process.env['STRATA_BENCH_CPU_PROF'];

const flags = benchFlags();
const say = humanWriter(flags);
const DURATION = flags.quick ? 5 : 15; // seconds per measured run
const WARMUP = flags.quick ? 1 : 3; // seconds before each measured run (JIT, SQLite page cache)

interface Figure {
  readonly requestsPerSecond: number;
  /** The best one-second sample (autocannon samples completed requests once a second). */
  readonly bestSecond: number;
  /**
   * Server CPU time (user + system, all threads, from /proc) per answered request, and the rate one
   * fully busy core would sustain at that cost. Unlike req/s, these hardly move when other work
   * competes for the machine's cores, so they are the figures to compare between runs.
   */
  readonly serverCpuMsPerRequest: number | null;
  readonly requestsPerCoreSecond: number | null;
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

const cpuSeconds = (pid: number | undefined): number | null => processCpuSeconds(pid);

/** Runs the load generator against `spec`, measuring the CPU the server `pid` spends meanwhile. */
async function load(spec: LoadSpec, pid: number | undefined): Promise<Figure> {
  const cpu0 = cpuSeconds(pid);
  const r = await runChild(['--import', 'tsx', 'bench/support/load.ts', JSON.stringify(spec)]);
  const cpu1 = cpuSeconds(pid);
  if (r.code !== 0) throw new Error(`load generator failed (exit ${String(r.code)}): ${r.stderr.slice(0, 2000)}`);
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as LoadResult;
  const cpuMs = cpu0 === null || cpu1 === null || res.requests.total === 0 ? null : ((cpu1 - cpu0) * 1000) / res.requests.total;
  return {
    requestsPerSecond: res['2xx'] / res.duration,
    bestSecond: res.requests.max,
    serverCpuMsPerRequest: cpuMs,
    requestsPerCoreSecond: cpuMs === null || cpuMs === 0 ? null : 1000 / cpuMs,
    latencyMs: { p50: res.latency.p50, p97_5: res.latency.p97_5, p99: res.latency.p99, max: res.latency.max },
    requests: res.requests.total,
    ok2xx: res['2xx'],
    non2xx: res.non2xx,
    errors: res.errors,
    timeouts: res.timeouts,
    durationSeconds: res.duration,
  };
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
  /** Bytes the server wrote to stdout/stderr (its log) per request, over the whole run. */
  readonly logBytesPerRequest: number;
}

async function benchStrata(logLevel: 'warn' | 'info'): Promise<StrataRun> {
  const home = mkdtempSync(join(tmpdir(), 'strata-bench-api-'));
  const env = { ...process.env, STRATA_HOME: home, XDG_CONFIG_HOME: join(home, 'config'), STRATA_LOG_LEVEL: logLevel };
  const { child, url } = await startListening(
    [...(PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`]), 'bin/strata.js', 'server', '--host', '127.0.0.1', '--port', '0', '--home', home, '--log-level', logLevel],
    join(home, 'server.log'),
    env,
  );
  try {
    const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
    const headers = { authorization: `Bearer ${token}` };
    const read: LoadSpec = { url, method: 'GET', path: '/api/v1/projects/default', headers, connections: CONNECTIONS, duration: DURATION };
    const readWarm = await load({ ...read, duration: WARMUP }, child.pid);
    const reads = await load(read, child.pid);

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
    const warm = await load(write, child.pid);
    await sleep(1000); // requests in flight when the warm-up stopped finish before the baseline is read
    const before = await auditSize(url, token);
    // Size the run from the warm-up's best second (its average includes the JIT's first steps).
    const amount = Math.max(1000, Math.round(Math.max(warm.requestsPerSecond, warm.bestSecond) * DURATION));
    const w = await load({ ...write, amount }, child.pid);
    const after = await auditSize(url, token);
    const secretWrites = await countSecretWrites(url, token, before);
    const grew = after - before;
    const writes: WriteFigure = {
      ...w,
      audit: { before, after, grew, secretWrites, reconciled: grew === w.ok2xx && secretWrites === w.ok2xx && w.ok2xx === amount },
    };
    const requests = readWarm.requests + reads.requests + warm.requests + writes.requests;
    return { logLevel, reads, writes, logBytesPerRequest: statSync(join(home, 'server.log')).size / requests };
  } finally {
    await stopChild(child, PROFILE_DIR === undefined ? 10_000 : 60_000); // a profile is written as the server exits
    rmSync(home, { recursive: true, force: true });
  }
}

async function benchPeer(): Promise<Figure> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-peer-'));
  const { child, url } = await startListening(['--import', 'tsx', 'bench/support/hello-server.ts'], join(dir, 'peer.log'), process.env);
  try {
    const spec: LoadSpec = { url, method: 'GET', path: '/', connections: CONNECTIONS, duration: DURATION };
    await load({ ...spec, duration: WARMUP }, child.pid);
    return await load(spec, child.pid);
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

const m = machine();
const build = strataBuild(repoRoot);
say(`api benchmark${flags.quick ? ' (--quick)' : ''}: ${CONNECTIONS} connections, ${DURATION} s per run after ${WARMUP} s warm-up, load from a separate autocannon process, loopback, SQLite`);
say(describeMachine(m));
say(`strata server runs: ${build === 'dist' ? 'compiled dist/' : 'TypeScript sources through tsx (dist/ missing or older than src/)'}`);
say('anchor: issue 2 targets ≥ 5,000 authenticated, audited writes/s and ≥ 20,000 authenticated reads/s on this 2-core machine');
say('');

const peer = await benchPeer();
const warn = await benchStrata('warn');
const info = await benchStrata('info');

const cpu = (f: Figure): string =>
  f.serverCpuMsPerRequest === null || f.requestsPerCoreSecond === null
    ? 'server CPU n/a'
    : `server CPU ${fix(f.serverCpuMsPerRequest, 3)} ms/req (${int(f.requestsPerCoreSecond)} req/s per busy core)`;
const row = (label: string, f: Figure): string[] => [
  `${label}`,
  `    ${int(f.requestsPerSecond)} req/s   latency p50 ${fix(f.latencyMs.p50, 1)} ms, p97.5 ${fix(f.latencyMs.p97_5, 1)} ms, p99 ${fix(f.latencyMs.p99, 1)} ms, max ${fix(f.latencyMs.max, 0)} ms   ` +
    `non-2xx ${f.non2xx}, errors ${f.errors}, timeouts ${f.timeouts}   (${int(f.ok2xx)} × 2xx in ${fix(f.durationSeconds, 1)} s)`,
  `    ${cpu(f)}`,
];
const ratio = (f: Figure, target: number): string =>
  `    target ${int(target)} req/s: measured/target ${fix(f.requestsPerSecond / target)} — ${f.requestsPerSecond >= target ? 'MET' : 'MISSED'}` +
  `;   vs peer: ${fix(f.requestsPerSecond / peer.requestsPerSecond)}× its req/s` +
  (f.requestsPerCoreSecond !== null && peer.requestsPerCoreSecond !== null ? `, ${fix(f.requestsPerCoreSecond / peer.requestsPerCoreSecond)}× its req/s per core` : '');

for (const l of row('peer: bare Fastify GET / (no auth, no database, logging off)', peer)) say(l);
for (const run of [warn, info]) {
  for (const l of row(`strata reads: GET /api/v1/projects/default, log level ${run.logLevel}`, run.reads)) say(l);
  say(ratio(run.reads, TARGET_READS));
  for (const l of row(`strata writes: PUT /api/v1/projects/default/secrets/bench-<n> (new version + audit entry), log level ${run.logLevel}`, run.writes)) say(l);
  say(ratio(run.writes, TARGET_WRITES));
  const a = run.writes.audit;
  say(
    `    audit check: log grew ${int(a.before)} → ${int(a.after)} = ${int(a.grew)} entries; ${int(a.secretWrites)} secret.write successes; ` +
      `${int(run.writes.ok2xx)} 2xx writes — ${a.reconciled ? 'RECONCILED' : 'MISMATCH'}`,
  );
}
const pctOf = (a: number, b: number): string => `${fix((b / a) * 100, 0)} %`;
const cpuDelta = (a: Figure, b: Figure): string =>
  a.serverCpuMsPerRequest === null || b.serverCpuMsPerRequest === null ? 'n/a' : `${b.serverCpuMsPerRequest >= a.serverCpuMsPerRequest ? '+' : ''}${fix((b.serverCpuMsPerRequest - a.serverCpuMsPerRequest) * 1000, 0)} µs`;
say(
  `request logging, info vs warn: reads/s ${pctOf(warn.reads.requestsPerSecond, info.reads.requestsPerSecond)} and writes/s ${pctOf(warn.writes.requestsPerSecond, info.writes.requestsPerSecond)} of the warn figure; ` +
    `server CPU per read ${cpuDelta(warn.reads, info.reads)}, per write ${cpuDelta(warn.writes, info.writes)}; ` +
    `log output ${fix(info.logBytesPerRequest, 0)} bytes/request at info, ${fix(warn.logBytesPerRequest, 0)} at warn`,
);

const clean = [warn, info].every((r) => r.writes.audit.reconciled && [r.reads, r.writes].every((f) => f.non2xx === 0 && f.errors === 0 && f.timeouts === 0));
if (!clean) say('FAILED: non-2xx responses, errors, or the audit log did not grow by exactly the number of 2xx writes');

if (flags.json) {
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'api',
      quick: flags.quick,
      machine: m,
      strataBuild: build,
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
