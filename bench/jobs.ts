// Benchmark: jobs end to end (issue 3, "Performance"). Through the HTTP API of a real `strata server`
// (SQLite, loopback) with real agents running `true`:
//   1. submissions per second — POST /api/v1/projects/default/jobs from a separate autocannon
//      process (bench/support/load.ts), a fixed number of requests, all answered;
//   2. jobs started and completed per second — from the first submission of a batch of N to the
//      last attempt start (lease) and the last terminal state, read from the server's records;
//   3. submit-to-process-start latency on an otherwise idle system — one job at a time; each job
//      runs `sh -c 'date +%s%N > $BENCH_MARKS/$STRATA_JOB_ID'`, so the start is the moment the job's
//      own process ran, not a server-side record; compared with Date.now() just before the POST.
// Agent set-ups: the built-in local agent of `strata server`, and `--no-local-agent` with one and
// with two `strata agent` processes (each advertising a 1-CPU slice when there are two). With
// two external agents (full run only), N jobs are first submitted with no agent registered (the submit
// path alone), then the agents start and drain that backlog (the run path alone).
// Targets (2 cores, SQLite): ≥ 500 jobs/s submitted, ≥ 200 jobs/s started and completed,
// submit-to-process-start p50 < 50 ms idle. Peer anchors are Slurm's documented figures (Slurm
// cannot run here unless `slurmctld` is installed; the report says which).
//
//   npm run bench -- jobs [--quick] [--json]
//   STRATA_BENCH_CPU_PROF=DIR npm run bench -- jobs --quick   # + V8 CPU profiles of the server and agents in DIR/<set-up>/
//   node --import tsx bench/support/profile-summary.ts DIR/<set-up>/CPU.*.cpuprofile   # top costs of one profile
//
// Progress (how many jobs are terminal) is polled from the server's SQLite file, read-only, so that
// polling does not load the server; the figures come from the server's own timestamps (created_at,
// attempts.started_at, finished_at) and the job processes' markers; the counts are then
// reconciled through the API's audit log.
// Every batch is reconciled: all N submissions answered 2xx, all N jobs succeeded with exactly one
// attempt, and the audit log (read back through the API) holds N job.submit and N job.succeeded
// entries. Otherwise the benchmark exits non-zero.
import Database from 'better-sqlite3';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadResult, LoadSpec } from './support/load.ts';
import { describeMachine, machine, processCpuSeconds, strataBuild } from './support/machine.ts';
import { benchFlags, fix, humanWriter, int, repoRoot, runChild } from './support/report.ts';
import { startStrataServer } from './support/strata-server.ts';
import type { StrataServer } from './support/strata-server.ts';

const TARGET_SUBMIT = 500; // jobs/s, issue 3
const TARGET_RUN = 200; // jobs/s started and completed, issue 3
const TARGET_P50_MS = 50; // submit-to-process-start p50, idle
const SLURM_DOC = 500; // simple batch jobs/s sustained, tuned servers (Slurm high-throughput guide)
const SLURM_UNTUNED_SUBMIT = 200; // submissions/s, untuned single-node Slurm 22.05 on this machine class (issue 3)
const SLURM_UNTUNED_DONE = 0.4; // jobs/s completed, same

const flags = benchFlags();
const say = humanWriter(flags);
const CONNECTIONS = 20;
const BATCH = flags.quick ? 300 : 600; // jobs per measured batch
const WARMUP = flags.quick ? 50 : 150; // jobs before the batch (JIT, SQLite page cache)
const LATENCY_SAMPLES = flags.quick ? 20 : 40;
const BACKLOG = 400; // jobs submitted with no agent, then drained (full run, two-agent set-up)
const FLOOR_SAMPLES = 30;
const DRAIN_TIMEOUT_MS = flags.quick ? 25_000 : 60_000;
const PROFILE_DIR = process.env['STRATA_BENCH_CPU_PROF'];
const SHUTDOWN_GRACE_MS = 3_000; // then SIGKILL: a clean exit takes ~10 s (the local agent's lease long-poll), which would only slow the run
const TERMINAL = ['succeeded', 'failed', 'cancelled'];

const spec = (name: string): Record<string, unknown> => ({ name, command: ['true'], resources: { cpu: '10m', memory: '16Mi' } });

/** CPU seconds (user + system) the processes have used so far, with the job processes an agent reaped (0 for any gone). */
function cpuSeconds(children: readonly ChildProcess[]): number {
  return children.reduce((sum, c) => sum + (processCpuSeconds(c.pid, { children: true }) ?? 0), 0);
}

const ms = (iso: string | null): number => (iso === null ? NaN : Date.parse(iso));
const pct = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

// ---- 1 + 2: a batch of N submissions, then until every job is terminal ------------------------------

interface BatchFigure {
  readonly jobs: number;
  /** autocannon: 2xx answers per second over its run. */
  readonly submittedPerSecond: number;
  readonly submitLatencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** N / (last attempt leased − first job created), server records. */
  readonly startedPerSecond: number;
  /** N / (last job finished − first job created), server records. */
  readonly completedPerSecond: number;
  /** Seconds from the first job created to the last finished. */
  readonly makespanSeconds: number;
  /** N / (last job created − first job created), server records: the accept rate without the load generator's start and connection set-up. */
  readonly createdPerSecond: number;
  /** Server (+ external agents, + the job processes they reaped) CPU per job, over submit + run. */
  readonly cpuMsPerJob: number;
  /** Of which the server process (with the job processes it reaped: the local agent's). */
  readonly serverCpuMsPerJob: number;
  readonly jobsPerBusyCoreSecond: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly states: Record<string, number>;
  readonly multiAttempt: number;
  readonly audit: { readonly submits: number; readonly succeeded: number; readonly failed: number };
  readonly reconciled: boolean;
}

async function submitLoad(s: StrataServer, name: string, amount: number): Promise<LoadResult> {
  const load: LoadSpec = {
    url: s.url,
    method: 'POST',
    path: '/api/v1/projects/default/jobs',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(spec(name)),
    connections: CONNECTIONS,
    duration: 0,
    amount,
  };
  const r = await runChild(['--import', 'tsx', 'bench/support/load.ts', JSON.stringify(load)]);
  if (r.code !== 0) throw new Error(`load generator failed (exit ${String(r.code)}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as LoadResult;
}

/** Waits until `expected` jobs named `name` are terminal (read from the database: polling the API would load the server). */
async function drain(db: Database.Database, name: string, expected: number, timeoutMs: number): Promise<boolean> {
  const q = db.prepare(`SELECT count(*) AS n FROM jobs WHERE name = ? AND state IN (${TERMINAL.map(() => '?').join(',')})`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((q.get(name, ...TERMINAL) as { n: number }).n >= expected) return true;
    await sleep(100);
  }
  return false;
}

/** Counts audit entries with `action` from seq `from` on, through the API. */
async function countAudit(s: StrataServer, action: string, from: number): Promise<number> {
  let n = 0;
  let next: number | null = from;
  while (next !== null) {
    const page: { events: { outcome: string }[]; next: number | null } = await s.api('GET', `/api/v1/audit/events?from=${next}&limit=10000&action=${action}`);
    n += page.events.length;
    next = page.next;
  }
  return n;
}

async function batch(s: StrataServer, db: Database.Database, procs: readonly ChildProcess[], name: string, n: number): Promise<BatchFigure> {
  const auditFrom = (await s.api<{ size: number }>('GET', '/api/v1/audit/root')).size;
  const cpu0 = cpuSeconds(procs);
  const server0 = cpuSeconds(procs.slice(0, 1));
  const load = await submitLoad(s, name, n);
  const drained = await drain(db, name, n, DRAIN_TIMEOUT_MS);
  const cpu1 = cpuSeconds(procs);
  const server1 = cpuSeconds(procs.slice(0, 1));
  const rows = db.prepare('SELECT state, count(*) AS n, min(created_at) AS c0, max(created_at) AS c1, max(finished_at) AS f1, sum(attempts > 1) AS multi FROM jobs WHERE name = ? GROUP BY state').all(name) as {
    state: string; n: number; c0: string; c1: string; f1: string | null; multi: number;
  }[];
  const states = Object.fromEntries(rows.map((r) => [r.state, r.n]));
  const created0 = Math.min(...rows.map((r) => ms(r.c0)));
  const created1 = Math.max(...rows.map((r) => ms(r.c1)));
  const finished1 = Math.max(...rows.map((r) => ms(r.f1)));
  const started = db.prepare('SELECT max(a.started_at) AS s1, count(*) AS n FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE j.name = ?').get(name) as { s1: string; n: number };
  const audit = { submits: await countAudit(s, 'job.submit', auditFrom), succeeded: await countAudit(s, 'job.succeeded', auditFrom), failed: await countAudit(s, 'job.failed', auditFrom) };
  const total = rows.reduce((a, r) => a + r.n, 0);
  const multiAttempt = rows.reduce((a, r) => a + (r.multi ?? 0), 0);
  const cpuMs = ((cpu1 - cpu0) * 1000) / n;
  return {
    jobs: n,
    submittedPerSecond: load['2xx'] / load.wallSeconds,
    submitLatencyMs: { p50: load.latency.p50, p99: load.latency.p99, max: load.latency.max },
    startedPerSecond: n / ((ms(started.s1) - created0) / 1000),
    completedPerSecond: n / ((finished1 - created0) / 1000),
    makespanSeconds: (finished1 - created0) / 1000,
    createdPerSecond: n / ((created1 - created0) / 1000),
    cpuMsPerJob: cpuMs,
    serverCpuMsPerJob: ((server1 - server0) * 1000) / n,
    jobsPerBusyCoreSecond: 1000 / cpuMs,
    non2xx: load.non2xx,
    errors: load.errors + load.timeouts,
    states,
    multiAttempt,
    audit,
    reconciled:
      drained && load['2xx'] === n && load.non2xx === 0 && total === n && states['succeeded'] === n && multiAttempt === 0 && started.n === n &&
      audit.submits === n && audit.succeeded === n && audit.failed === 0,
  };
}

// ---- 3: submit-to-process-start latency, one job at a time -----------------------------------------

interface LatencyFigure {
  readonly samples: number;
  /** Date.now() before the POST → the job process's own `date +%s%N`. */
  readonly submitToProcessStartMs: { readonly p50: number; readonly p95: number; readonly max: number; readonly min: number };
  /** Medians of the parts, from the server's records (ms resolution): POST → created, created → placed, placed → leased (running), leased → process start. */
  readonly partsMedianMs: { readonly accept: number; readonly place: number; readonly lease: number; readonly spawn: number };
  readonly succeeded: number;
}

const MARK_CMD = 'date +%s%N > "$BENCH_MARKS/$STRATA_JOB_ID"';
const readMark = (file: string): number => Number(BigInt(readFileSync(file, 'utf8').trim()) / 1000n) / 1000; // ns → ms (µs precision)

async function waitFor(file: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file) && readFileSync(file, 'utf8').trim() !== '') return true;
    await sleep(1);
  }
  return false;
}

async function latency(s: StrataServer, db: Database.Database, samples: number): Promise<LatencyFigure> {
  const marks = join(s.home, 'marks');
  mkdirSync(marks, { recursive: true });
  const body = JSON.stringify({ name: 'latency', command: ['sh', '-c', MARK_CMD], env: { BENCH_MARKS: marks }, resources: { cpu: '10m', memory: '16Mi' } });
  const totals: number[] = [];
  const parts: { accept: number[]; place: number[]; lease: number[]; spawn: number[] } = { accept: [], place: [], lease: [], spawn: [] };
  const ev = db.prepare('SELECT to_state, time FROM job_events WHERE job_id = ?');
  const jobRow = db.prepare('SELECT state, created_at FROM jobs WHERE id = ?');
  let succeeded = 0;
  for (let i = 0; i < samples + 3; i++) {
    const t0 = Date.now();
    const res = await fetch(`${s.url}/api/v1/projects/default/jobs`, { method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }, body });
    if (res.status !== 201) throw new Error(`latency submit answered ${res.status}: ${await res.text()}`);
    const job = (await res.json()) as { id: string };
    const file = join(marks, job.id);
    if (!(await waitFor(file, 10_000))) throw new Error(`job ${job.id} did not start its process within 10 s`);
    const start = readMark(file);
    // Wait for the job to finish so the next one starts on an idle system.
    const deadline = Date.now() + 10_000;
    let row = jobRow.get(job.id) as { state: string; created_at: string };
    while (!TERMINAL.includes(row.state) && Date.now() < deadline) {
      await sleep(2);
      row = jobRow.get(job.id) as { state: string; created_at: string };
    }
    if (i < 3) continue; // the first jobs warm the path (first spawn of sh, page cache)
    if (row.state === 'succeeded') succeeded += 1;
    totals.push(start - t0);
    const events = ev.all(job.id) as { to_state: string; time: string }[];
    const at = (state: string): number => ms(events.find((e) => e.to_state === state)?.time ?? null);
    const created = ms(row.created_at);
    parts.accept.push(created - t0);
    parts.place.push(at('placed') - created);
    parts.lease.push(at('running') - at('placed'));
    parts.spawn.push(start - at('running'));
    await sleep(50);
  }
  const sorted = [...totals].sort((a, b) => a - b);
  const med = (xs: number[]): number => pct([...xs].sort((a, b) => a - b), 50);
  return {
    samples,
    submitToProcessStartMs: { p50: pct(sorted, 50), p95: pct(sorted, 95), max: sorted.at(-1) ?? NaN, min: sorted[0] ?? NaN },
    partsMedianMs: { accept: med(parts.accept), place: med(parts.place), lease: med(parts.lease), spawn: med(parts.spawn) },
    succeeded,
  };
}

/** The floor: the same marker command spawned directly by this Node process (fork/exec of sh and date). */
async function spawnFloor(samples: number): Promise<{ p50: number; p95: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-floor-'));
  const xs: number[] = [];
  try {
    for (let i = 0; i < samples + 3; i++) {
      const t0 = Date.now();
      const c = spawn('sh', ['-c', MARK_CMD], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', BENCH_MARKS: dir, STRATA_JOB_ID: `f${i}` }, stdio: 'ignore' });
      await once(c, 'close');
      if (i >= 3) xs.push(readMark(join(dir, `f${i}`)) - t0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  xs.sort((a, b) => a - b);
  return { p50: pct(xs, 50), p95: pct(xs, 95) };
}

// ---- one set-up: a fresh server, its agents, warm-up, batch, latency -----------------------------------

interface SetupRun {
  readonly setup: string;
  /** How long the server took to exit after SIGTERM (SIGKILL after the grace period). */
  readonly shutdown: { readonly serverExitMs: number; readonly killed: boolean };
  readonly batch: BatchFigure;
  readonly latency: LatencyFigure;
  /** External-agent set-ups only: submissions with no agent registered, then the agents drain that backlog. */
  readonly backlog: BacklogFigure | null;
}

interface BacklogFigure {
  readonly jobs: number;
  /** autocannon 2xx/s with no node registered (nothing is placed or run meanwhile). */
  readonly submittedPerSecond: number;
  readonly createdPerSecond: number;
  readonly submitLatencyMs: { readonly p50: number; readonly p99: number };
  /** Server CPU per submission while nothing runs. */
  readonly serverCpuMsPerSubmit: number;
  /** N / (last attempt leased − first attempt leased), once the agents are up. */
  readonly startedPerSecond: number;
  /** N / (last job finished − first attempt leased). */
  readonly completedPerSecond: number;
  readonly drainSeconds: number;
  /** Server and agents CPU per job while draining (no submissions meanwhile). */
  readonly serverCpuMsPerRun: number;
  readonly agentsCpuMsPerRun: number;
  readonly succeeded: number;
  readonly reconciled: boolean;
}

/** Submits N jobs with no agent, then starts the agents and lets them drain the backlog. */
async function backlog(s: StrataServer, db: Database.Database, n: number, startAgents: () => Promise<ChildProcess[]>): Promise<BacklogFigure> {
  const c0 = cpuSeconds([s.child]);
  const load = await submitLoad(s, 'backlog', n);
  const c1 = cpuSeconds([s.child]);
  const agents = await startAgents();
  const a0 = cpuSeconds(agents);
  const drained = await drain(db, 'backlog', n, DRAIN_TIMEOUT_MS);
  const c2 = cpuSeconds([s.child]);
  const a1 = cpuSeconds(agents);
  const j = db.prepare("SELECT count(*) AS n, sum(state = 'succeeded' AND attempts = 1) AS ok, min(created_at) AS c0, max(created_at) AS c1, max(finished_at) AS f1 FROM jobs WHERE name = 'backlog'").get() as {
    n: number; ok: number; c0: string; c1: string; f1: string;
  };
  const a = db.prepare("SELECT min(a.started_at) AS s0, max(a.started_at) AS s1, count(*) AS n FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE j.name = 'backlog'").get() as { s0: string; s1: string; n: number };
  const first = ms(a.s0);
  return {
    jobs: n,
    submittedPerSecond: load['2xx'] / load.wallSeconds,
    createdPerSecond: n / ((ms(j.c1) - ms(j.c0)) / 1000),
    submitLatencyMs: { p50: load.latency.p50, p99: load.latency.p99 },
    serverCpuMsPerSubmit: ((c1 - c0) * 1000) / n,
    startedPerSecond: n / ((ms(a.s1) - first) / 1000),
    completedPerSecond: n / ((ms(j.f1) - first) / 1000),
    drainSeconds: (ms(j.f1) - first) / 1000,
    serverCpuMsPerRun: ((c2 - c1) * 1000) / n,
    agentsCpuMsPerRun: ((a1 - a0) * 1000) / n,
    succeeded: j.ok,
    reconciled: drained && load['2xx'] === n && load.non2xx === 0 && j.n === n && j.ok === n && a.n === n,
  };
}

async function runSetup(setup: string, externalAgents: number, n: number, withBacklog: boolean, graceMs: number): Promise<SetupRun> {
  const s = await startStrataServer({
    localAgent: externalAgents === 0,
    prefix: `strata-bench-jobs-${setup}-`,
    ...(PROFILE_DIR === undefined ? {} : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(PROFILE_DIR, setup)}`] }),
  });
  let result: Omit<SetupRun, 'shutdown'> | undefined;
  let shutdown: SetupRun['shutdown'];
  try {
    const agents: ChildProcess[] = [];
    const startAgents = async (): Promise<ChildProcess[]> => {
      for (let i = 0; i < externalAgents; i++) agents.push(await s.startAgent(`bench-agent-${i + 1}`, externalAgents > 1 ? { cpus: '1', memory: '4Gi' } : {}));
      return agents;
    };
    const db = new Database(s.db, { readonly: true, fileMustExist: true });
    try {
      const bl = withBacklog && externalAgents > 0 ? await backlog(s, db, BACKLOG, startAgents) : null;
      if (bl === null) await startAgents();
      const warm = await submitLoad(s, 'warmup', WARMUP);
      if (warm['2xx'] !== WARMUP || !(await drain(db, 'warmup', WARMUP, DRAIN_TIMEOUT_MS))) throw new Error(`${setup}: warm-up jobs did not all finish`);
      const b = await batch(s, db, [s.child, ...agents], 'batch', n);
      await sleep(500);
      const l = await latency(s, db, LATENCY_SAMPLES);
      result = { setup, batch: b, latency: l, backlog: bl };
    } finally {
      db.close();
    }
  } finally {
    // A profiled server must exit by itself to write its profile; otherwise do not wait long for it.
    shutdown = await s.stop({ graceMs: PROFILE_DIR === undefined ? graceMs : 60_000 });
  }
  if (result === undefined) throw new Error(`${setup}: no result`);
  return { ...result, shutdown };
}

// ---- report ------------------------------------------------------------------------------------

const m = machine();
const build = strataBuild(repoRoot);
const slurm = ((): string | null => {
  try {
    return execFileSync('sh', ['-c', 'command -v slurmctld'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
})();
say(`jobs benchmark${flags.quick ? ' (--quick)' : ''}: strata server (SQLite, loopback, log level warn) with agents running \`true\` (cpu 10m, memory 16Mi per job)`);
say(describeMachine(m));
say(`strata runs: ${build === 'dist' ? 'compiled dist/' : 'TypeScript sources through tsx (dist/ missing or older than src/)'}`);
say(`batch: ${int(BATCH)} jobs submitted by a separate autocannon process (${CONNECTIONS} connections), after ${WARMUP} warm-up jobs; latency: ${LATENCY_SAMPLES} jobs one at a time on the idle system${flags.quick ? '' : `; backlog (2 agents): ${BACKLOG} jobs`}`);
say(
  `anchors: targets ≥ ${TARGET_SUBMIT} jobs/s submitted, ≥ ${TARGET_RUN} jobs/s started and completed, submit-to-process-start p50 < ${TARGET_P50_MS} ms idle (issue 3); ` +
    `Slurm documents ${SLURM_DOC} simple batch jobs/s sustained on tuned servers; untuned single-node Slurm 22.05 on this machine class: ~${SLURM_UNTUNED_SUBMIT} submissions/s, ~${SLURM_UNTUNED_DONE} jobs/s completed`,
);
say(slurm === null ? 'peer: slurmctld is not installed here — the Slurm figures are the documented/issue ones, not measured in this run' : `peer: slurmctld found at ${slurm}, but this benchmark does not drive it — the Slurm figures are the documented/issue ones`);
say('');

const floor = await spawnFloor(FLOOR_SAMPLES);
const setups: [string, number][] = flags.quick ? [['local-agent', 0], ['2-agents', 2]] : [['local-agent', 0], ['1-agent', 1], ['2-agents', 2]];
const runs: SetupRun[] = [];
for (const [name, agents] of setups) runs.push(await runSetup(name, agents, BATCH, !flags.quick && agents === 2, SHUTDOWN_GRACE_MS));

const verdict = (ok: boolean): string => (ok ? 'MET' : 'MISSED');
const describeSetup = (r: SetupRun): string =>
  r.setup === 'local-agent' ? 'built-in local agent (in the server process)' : r.setup === '1-agent' ? '--no-local-agent + 1 `strata agent` process (whole machine)' : '--no-local-agent + 2 `strata agent` processes (1 CPU, 4 GiB each)';
for (const r of runs) {
  const b = r.batch;
  const l = r.latency;
  say(`${r.setup}: ${describeSetup(r)}`);
  say(
    `  submitted   ${fix(b.submittedPerSecond, 1)} jobs/s   (2xx answers / time from the start of the run to the last answer; server records: ${int(b.jobs)} created in ${fix(b.jobs / b.createdPerSecond, 2)} s = ${fix(b.createdPerSecond, 1)} jobs/s; POST latency p50 ${fix(b.submitLatencyMs.p50, 1)} ms, p99 ${fix(b.submitLatencyMs.p99, 1)} ms, max ${fix(b.submitLatencyMs.max, 0)} ms; non-2xx ${b.non2xx}, errors ${b.errors})` +
      `   target ${TARGET_SUBMIT}: ${fix(b.submittedPerSecond / TARGET_SUBMIT)} — ${verdict(b.submittedPerSecond >= TARGET_SUBMIT)};   vs Slurm untuned ~${SLURM_UNTUNED_SUBMIT}/s: ${fix(b.submittedPerSecond / SLURM_UNTUNED_SUBMIT)}×`,
  );
  say(
    `  started     ${fix(b.startedPerSecond, 1)} jobs/s   (${int(b.jobs)} attempts leased, first submission → last lease)` +
      `   target ${TARGET_RUN}: ${fix(b.startedPerSecond / TARGET_RUN)} — ${verdict(b.startedPerSecond >= TARGET_RUN)};   vs Slurm documented ${SLURM_DOC}/s: ${fix(b.startedPerSecond / SLURM_DOC)}×`,
  );
  say(
    `  completed   ${fix(b.completedPerSecond, 1)} jobs/s   (${int(b.jobs)} jobs in ${fix(b.makespanSeconds, 2)} s, first submission → last terminal)` +
      `   target ${TARGET_RUN}: ${fix(b.completedPerSecond / TARGET_RUN)} — ${verdict(b.completedPerSecond >= TARGET_RUN)};   vs Slurm untuned ~${SLURM_UNTUNED_DONE}/s: ${fix(b.completedPerSecond / SLURM_UNTUNED_DONE, 0)}×`,
  );
  say(
    `  CPU         ${fix(b.cpuMsPerJob, 2)} ms/job (server${r.setup === 'local-agent' ? ' incl. its agent' : ' + agents'} + reaped job processes, user + system) = ${fix(b.jobsPerBusyCoreSecond, 1)} jobs/s per busy core` +
      `${r.setup === 'local-agent' ? '' : `;   server process alone ${fix(b.serverCpuMsPerJob, 2)} ms/job, agents ${fix(b.cpuMsPerJob - b.serverCpuMsPerJob, 2)} ms/job`}`,
  );
  say(
    `  latency     submit → process start p50 ${fix(l.submitToProcessStartMs.p50, 1)} ms, p95 ${fix(l.submitToProcessStartMs.p95, 1)} ms, min ${fix(l.submitToProcessStartMs.min, 1)} ms, max ${fix(l.submitToProcessStartMs.max, 1)} ms (${l.samples} jobs, idle)` +
      `   target p50 < ${TARGET_P50_MS} ms: ${fix(l.submitToProcessStartMs.p50 / TARGET_P50_MS)} — ${verdict(l.submitToProcessStartMs.p50 < TARGET_P50_MS)}`,
  );
  say(`              medians of the parts: POST → created ${fix(l.partsMedianMs.accept, 0)} ms, created → placed ${fix(l.partsMedianMs.place, 0)} ms, placed → leased ${fix(l.partsMedianMs.lease, 0)} ms, leased → process start ${fix(l.partsMedianMs.spawn, 1)} ms`);
  say(
    `  check       states ${JSON.stringify(b.states)}, jobs with > 1 attempt ${b.multiAttempt}; audit: ${int(b.audit.submits)} job.submit, ${int(b.audit.succeeded)} job.succeeded, ${b.audit.failed} job.failed; ` +
      `latency jobs succeeded ${l.succeeded}/${l.samples} — ${b.reconciled && l.succeeded === l.samples ? 'RECONCILED' : 'MISMATCH'}`,
  );
  const k = r.backlog;
  if (k !== null) {
    say(
      `  backlog     ${int(k.jobs)} jobs submitted with no agent registered: ${fix(k.submittedPerSecond, 1)} jobs/s (server records ${fix(k.createdPerSecond, 1)} jobs/s; POST p50 ${fix(k.submitLatencyMs.p50, 1)} ms, p99 ${fix(k.submitLatencyMs.p99, 1)} ms), server CPU ${fix(k.serverCpuMsPerSubmit, 2)} ms/submission` +
        `   target ${TARGET_SUBMIT}: ${fix(k.submittedPerSecond / TARGET_SUBMIT)} — ${verdict(k.submittedPerSecond >= TARGET_SUBMIT)}`,
    );
    say(
      `              then the agents drained it: started ${fix(k.startedPerSecond, 1)} jobs/s, completed ${fix(k.completedPerSecond, 1)} jobs/s (${fix(k.drainSeconds, 2)} s from the first lease), CPU server ${fix(k.serverCpuMsPerRun, 2)} + agents ${fix(k.agentsCpuMsPerRun, 2)} ms/job` +
        `   target ${TARGET_RUN}: ${fix(k.completedPerSecond / TARGET_RUN)} — ${verdict(k.startedPerSecond >= TARGET_RUN && k.completedPerSecond >= TARGET_RUN)};   ${int(k.succeeded)}/${int(k.jobs)} succeeded in one attempt — ${k.reconciled ? 'RECONCILED' : 'MISMATCH'}`,
    );
  }
  say(`  shutdown    the server exited ${fix(r.shutdown.serverExitMs / 1000, 1)} s after SIGTERM${r.shutdown.killed ? ' (SIGKILLed at the end of the grace period)' : ''} (not part of the figures)`);
}
say(`floor: the same marker command spawned directly by Node (no Strata): p50 ${fix(floor.p50, 1)} ms, p95 ${fix(floor.p95, 1)} ms (${FLOOR_SAMPLES} runs)`);
const best = [...runs].sort((a, b) => b.batch.completedPerSecond - a.batch.completedPerSecond)[0] as SetupRun;
say(`fastest set-up by completed jobs/s: ${best.setup} (${fix(best.batch.completedPerSecond, 1)} jobs/s)`);
const clean = runs.every((r) => r.batch.reconciled && r.latency.succeeded === r.latency.samples && (r.backlog === null || r.backlog.reconciled));
if (!clean) say('FAILED: a submission was not answered 2xx, a job did not succeed in one attempt, or the audit log does not match the submissions');
if (PROFILE_DIR !== undefined) say(`CPU profiles of the server processes: ${PROFILE_DIR}`);

if (flags.json) {
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'jobs',
      quick: flags.quick,
      machine: m,
      strataBuild: build,
      config: { batch: BATCH, backlog: flags.quick ? 0 : BACKLOG, warmup: WARMUP, connections: CONNECTIONS, latencySamples: LATENCY_SAMPLES, database: 'sqlite', loopback: true, job: spec('batch') },
      anchors: { submittedPerSecond: TARGET_SUBMIT, startedAndCompletedPerSecond: TARGET_RUN, submitToProcessStartP50Ms: TARGET_P50_MS },
      peer: { slurmMeasured: false, slurmctld: slurm, slurmDocumentedJobsPerSecond: SLURM_DOC, slurmUntunedSubmissionsPerSecond: SLURM_UNTUNED_SUBMIT, slurmUntunedCompletedPerSecond: SLURM_UNTUNED_DONE },
      spawnFloorMs: floor,
      setups: runs,
      fastest: best.setup,
      ok: clean,
    })}\n`,
  );
}
process.exitCode = clean ? 0 : 1;
