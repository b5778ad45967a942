// Benchmark: experiment tracking through the MLflow REST API (issue 5). The real server
// (`strata server`, SQLite, no local agent) runs in its own process; load comes from a second
// process (autocannon, or this file re-run as a worker). Anchors: the stock MLflow 2.17.2 server
// (SQLite, 2 gunicorn workers) measured on this machine class, and the issue's targets:
//   runs/log-batch   ~1,500–1,800 metrics/s at 10/request, ~19,700 at 1,000/request → ≥ 35,000 and ≥ 400,000
//   runs/search      `metrics.acc > 0.5 ORDER BY metrics.acc DESC`, 100 results: p50 ~3 s over 10,000 runs → < 50 ms over 100,000
//   runs/get         ~400 req/s → ≥ 10,000 req/s
//   10,000 runs      (create + one small log-batch each) 132 s → < 5 s
//   artifacts        upload and download of a 1 GB file through MLflow's artifact proxy on loopback → ≥ 500 MB/s
//                    each, with flat memory (the server's peak RSS is reported; --quick: 256 MiB)
//
//   npm run bench -- tracking [--quick] [--json]
//   STRATA_BENCH_TRACKING_ONLY=artifacts npm run bench -- tracking   (only the artifact figure)
//   STRATA_BENCH_TRACKING_ONLY=log-batch,get npm run bench -- tracking (only those phases: log-batch, get, search, create)
//   STRATA_BENCH_CPU_PROF=DIR npm run bench -- tracking --quick        (+ a V8 CPU profile of the server in DIR)
//   node --import tsx bench/support/profile-summary.ts DIR/CPU.*.cpuprofile   # top costs of the profile
//
// Every log-batch carries new steps, so every metric is a new row; afterwards the metric rows in
// the database are counted and must equal 2xx responses × batch size (RECONCILED). The search
// corpus is written straight into the database file (as the tracking tables store it) before the
// search is measured, so seeding 100,000 runs takes seconds instead of minutes.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { once } from 'node:events';
import BetterSqlite3 from 'better-sqlite3';
import type { LoadResult, LoadSpec } from './support/load.ts';
import { describeMachine, machine, processCpuSeconds, strataBuild } from './support/machine.ts';
import { benchFlags, fix, humanWriter, int, repoRoot, runChild, startListening, stopChild } from './support/report.ts';
import { startStrataServer } from './support/strata-server.ts';
import { runAutocannon } from './support/autocannon.ts';
import { chunkRows } from '../src/store/metric-chunks.ts';

const PROFILE_DIR = process.env['STRATA_BENCH_CPU_PROF'];
const PHASES = ['log-batch', 'get', 'search', 'create'] as const;
type Phase = (typeof PHASES)[number];
const ANCHOR = { logBatch10: 1800, logBatch1000: 19_700, searchP50Ms: 3000, getPerSecond: 400, create10kSeconds: 132 } as const;
const TARGET = { logBatch10: 35_000, logBatch1000: 400_000, searchP50Ms: 50, getPerSecond: 10_000, create10kSeconds: 5, artifactMBps: 500 } as const;
const API = '/api/2.0/mlflow';
const PROJECT_HEADER = 'x-strata-project';

// ---- worker mode: this file as the load-generating child -------------------------------------

interface WorkerSpec {
  readonly mode: 'log-batch' | 'create-runs' | 'artifact-upload' | 'artifact-download';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly connections: number;
  readonly duration?: number;
  /** A fixed number of requests instead of a duration (all answered, so rows can be reconciled). */
  readonly amount?: number;
  readonly batch?: number;
  readonly runIds?: readonly string[];
  readonly experimentId?: string;
  readonly runs?: number;
  /** artifact-*: URL path of the file on the proxy, and its size. */
  readonly artifactPath?: string;
  readonly bytes?: number;
}

const ARTIFACT_CHUNK = 2 ** 20;

/** Chunk `i` of the benchmark file: a fixed random block with the chunk number in its first bytes (so no two chunks are equal). */
function artifactChunk(block: Buffer, i: number, size: number): Buffer {
  const n = Math.min(ARTIFACT_CHUNK, size - i * ARTIFACT_CHUNK);
  const c = Buffer.allocUnsafe(n);
  block.copy(c, 0, 0, n);
  c.writeUInt32BE(i, 0);
  return c;
}

/** One HTTP exchange on loopback, the request body written with backpressure; counts the response bytes. */
function exchange(url: string, method: string, path: string, headers: Record<string, string>, body?: Iterable<Buffer>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let bytes = 0;
      let text = '';
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (text.length < 2000) text += c.toString('utf8', 0, Math.min(c.length, 2000));
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) {
      req.end();
      return;
    }
    void (async () => {
      for (const c of body) if (!req.write(c)) await once(req, 'drain');
      req.end();
    })().catch(reject);
  });
}

/** log-batch bodies with fresh steps each time (10 keys; batch/10 steps per key). */
function logBatchBody(runId: string, n: number, batch: number, now: number): string {
  const steps = Math.max(1, Math.floor(batch / 10));
  const keys = Math.min(10, batch);
  const metrics: string[] = [];
  for (let s = 0; s < steps; s += 1) {
    for (let k = 0; k < keys; k += 1) metrics.push(`{"key":"m${k}","value":${(n * steps + s) % 997 / 997},"timestamp":${now},"step":${n * steps + s}}`);
  }
  return `{"run_id":"${runId}","metrics":[${metrics.join(',')}]}`;
}

async function worker(spec: WorkerSpec): Promise<void> {
  if (spec.mode === 'artifact-upload' || spec.mode === 'artifact-download') {
    const size = spec.bytes ?? 0;
    const path = spec.artifactPath ?? '';
    const block = randomBytes(ARTIFACT_CHUNK); // the content does not matter; every run of the benchmark uploads new bytes
    const chunks = Math.ceil(size / ARTIFACT_CHUNK);
    if (spec.mode === 'artifact-upload') {
      // The digest of what will be sent, computed before the clock starts.
      const hash = createHash('sha256');
      for (let i = 0; i < chunks; i += 1) hash.update(artifactChunk(block, i, size));
      const expected = `sha256:${hash.digest('hex')}`;
      const body = function* (): Generator<Buffer> {
        for (let i = 0; i < chunks; i += 1) yield artifactChunk(block, i, size);
      };
      const t0 = process.hrtime.bigint();
      // With Content-Length, as the MLflow client (requests, with the open file) sends it.
      const r = await exchange(spec.url, 'PUT', path, { ...spec.headers, 'content-type': 'application/octet-stream', 'content-length': String(size) }, body());
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.status !== 200) throw new Error(`upload answered ${r.status}: ${r.text}`);
      // A Range read of one byte shows the stored digest (ETag) without reading the file again.
      const head = await exchange(spec.url, 'GET', path, { ...spec.headers, range: 'bytes=0-0' });
      process.stdout.write(`${JSON.stringify({ seconds, bytes: size, expected, stored: String(head.headers['etag'] ?? '').replaceAll('"', '') })}\n`);
      return;
    }
    const t0 = process.hrtime.bigint();
    const r = await exchange(spec.url, 'GET', path, spec.headers);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 200) throw new Error(`download answered ${r.status}`);
    process.stdout.write(`${JSON.stringify({ seconds, bytes: r.bytes })}\n`);
    return;
  }
  if (spec.mode === 'log-batch') {
    const runIds = spec.runIds ?? [];
    const batch = spec.batch ?? 10;
    const now = Date.now();
    let n = 0;
    const result = await runAutocannon({
      url: spec.url,
      connections: spec.connections,
      ...(spec.amount === undefined ? { duration: spec.duration ?? 10 } : { amount: spec.amount }),
      requests: [
        {
          method: 'POST',
          path: `${API}/runs/log-batch`,
          headers: { ...spec.headers, 'content-type': 'application/json' },
          setupRequest: (req) => {
            const i = n++;
            return { ...req, body: logBatchBody(runIds[i % runIds.length] as string, Math.floor(i / runIds.length), batch, now) };
          },
        },
      ],
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  // create-runs: each of `connections` keep-alive connections loops "runs/create, then one small
  // log-batch into the run it created", as a tracking client does, until `runs` runs are made.
  // autocannon, like the other phases: fetch() cost the load generator ~0.9 ms of CPU per run here,
  // more than the server, so the figure measured the client. A failed create skips its log-batch.
  const total = spec.runs ?? 0;
  const headers = { ...spec.headers, 'content-type': 'application/json' };
  let made = 0;
  let failed = 0;
  const cpu0 = process.cpuUsage();
  const result = await runAutocannon({
    url: spec.url,
    connections: spec.connections,
    amount: total * 2,
    requests: [
      {
        method: 'POST',
        path: `${API}/runs/create`,
        headers,
        setupRequest: (req) => {
          const i = made++;
          return { ...req, body: JSON.stringify({ experiment_id: spec.experimentId, start_time: Date.now(), run_name: `bench-${i}`, tags: [{ key: 'mlflow.user', value: 'bench' }, { key: 'mlflow.source.type', value: 'LOCAL' }] }) };
        },
        onResponse: (status, body, context) => {
          if (status === 200) context['runId'] = (JSON.parse(body) as { run: { info: { run_id: string } } }).run.info.run_id;
          else failed += 1;
        },
      },
      {
        method: 'POST',
        path: `${API}/runs/log-batch`,
        headers,
        setupRequest: (req, context) => {
          const runId = context['runId'];
          if (typeof runId !== 'string') return undefined; // its create failed: start the next run
          const i = made;
          return { ...req, body: JSON.stringify({ run_id: runId, params: [{ key: 'lr', value: '0.01' }, { key: 'depth', value: String(i % 8) }], metrics: [{ key: 'acc', value: (i % 100) / 100, timestamp: Date.now(), step: 0 }] }) };
        },
        onResponse: (status) => {
          if (status !== 200) failed += 1;
        },
      },
    ],
  });
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ seconds: result.wallSeconds, runs: total, failed: failed + result.errors, clientCpuMsPerRun: (cpu.user + cpu.system) / 1000 / Math.max(1, total) })}\n`);
}

const workerSpec = process.env['STRATA_BENCH_TRACKING_WORKER'];
if (workerSpec !== undefined) {
  await worker(JSON.parse(workerSpec) as WorkerSpec);
} else if (process.env['STRATA_BENCH_TRACKING_ONLY'] === 'artifacts') {
  const flags = benchFlags();
  const say = humanWriter(flags);
  const m = machine();
  say(`tracking benchmark, artifacts only${flags.quick ? ' (--quick)' : ''}`);
  say(describeMachine(m));
  const a = await artifactBench(flags.quick, say);
  if (flags.json) process.stdout.write(`${JSON.stringify({ benchmark: 'tracking', only: 'artifacts', quick: flags.quick, machine: m, strataBuild: strataBuild(repoRoot), anchors: { targets: { artifactMBps: TARGET.artifactMBps } }, artifacts: a, ok: a.ok })}\n`);
  process.exitCode = a.ok ? 0 : 1;
} else {
  await main();
}

// ---- artifacts: 1 GB up and down through the MLflow artifact proxy ------------------------------

/** Resident and peak resident memory of a process, from /proc (bytes); undefined off Linux. */
function rssOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 'NaN') * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Resets a process's peak RSS (Linux `clear_refs` 5); false when not permitted (then sampling alone is used). */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

interface ArtifactPhase {
  readonly mbPerSecond: number;
  readonly seconds: number;
  readonly bytes: number;
  /** The server's RSS just before, and its peak during, the transfer (bytes). */
  readonly serverRssBefore: number;
  readonly serverPeakRss: number;
}

/** Uploads then downloads one file of `size` bytes through a fresh server's artifact proxy, from a second process, watching the server's memory. */
/**
 * The disk's own rate for what an upload must do at least: `size` bytes written in 1 MiB blocks into
 * a new file in `dir` (the server's blob store is under it), then fsynced (MB/s).
 */
async function diskPeer(dir: string, size: number): Promise<number> {
  const file = join(dir, 'bench-disk-peer.bin');
  const block = randomBytes(ARTIFACT_CHUNK);
  const t0 = process.hrtime.bigint();
  const fh = await open(file, 'w');
  try {
    for (let at = 0; at < size; at += block.length) await fh.write(block, 0, Math.min(block.length, size - at));
    await fh.sync();
  } finally {
    await fh.close();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  rmSync(file, { force: true });
  return size / 1e6 / seconds;
}

async function artifactBench(quick: boolean, say: (line: string) => void): Promise<{ size: number; upload: ArtifactPhase; download: ArtifactPhase; diskWriteMBps: number; verified: boolean; ok: boolean }> {
  const size = quick ? 256 * 2 ** 20 : 2 ** 30;
  const server = await startStrataServer({ localAgent: false, prefix: 'strata-bench-artifacts-' });
  try {
    const pid = server.child.pid;
    if (pid === undefined) throw new Error('the server has no pid');
    const headers = { authorization: `Bearer ${server.token}`, [PROJECT_HEADER]: 'default' };
    const post = async <T>(path: string, body: unknown): Promise<T> => {
      const res = await fetch(`${server.url}${API}/${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const exp = (await post<{ experiment_id: string }>('experiments/create', { name: 'bench-artifacts' })).experiment_id;
    const uri = (await post<{ run: { info: { artifact_uri: string } } }>('runs/create', { experiment_id: exp })).run.info.artifact_uri;
    // As the MLflow client resolves mlflow-artifacts:/<exp>/<run>/artifacts against the tracking URI.
    const artifactPath = `/api/2.0/mlflow-artifacts/artifacts/${uri.slice('mlflow-artifacts:/'.length)}/model/weights.bin`;

    const phase = async <T extends { seconds: number; bytes: number }>(mode: 'artifact-upload' | 'artifact-download'): Promise<{ result: T; phase: ArtifactPhase }> => {
      await new Promise((r) => setTimeout(r, 300));
      const before = rssOf(pid)?.rss ?? Number.NaN;
      const canReset = resetPeak(pid);
      let sampled = before;
      const timer = setInterval(() => {
        sampled = Math.max(sampled, rssOf(pid)?.rss ?? 0);
      }, 20);
      try {
        const result = await runWorker<T>({ mode, url: server.url, headers, connections: 1, artifactPath, bytes: size });
        const peak = Math.max(sampled, canReset ? (rssOf(pid)?.hwm ?? 0) : 0);
        return { result, phase: { mbPerSecond: result.bytes / 1e6 / result.seconds, seconds: result.seconds, bytes: result.bytes, serverRssBefore: before, serverPeakRss: peak } };
      } finally {
        clearInterval(timer);
      }
    };
    const up = await phase<{ seconds: number; bytes: number; expected: string; stored: string }>('artifact-upload');
    const down = await phase<{ seconds: number; bytes: number }>('artifact-download');
    const disk = await diskPeer(server.home, size);
    const verified = up.result.expected === up.result.stored && down.result.bytes === size;
    const mib = (b: number): string => `${fix(b / 2 ** 20, 0)} MiB`;
    const line = (what: string, p: ArtifactPhase): void => {
      say(`artifacts: ${what} of a ${mib(size)} file through the MLflow artifact proxy (loopback, from a second process): ${int(p.mbPerSecond)} MB/s (${fix(p.seconds, 2)} s); server RSS ${mib(p.serverRssBefore)} before, peak ${mib(p.serverPeakRss)} (+${mib(p.serverPeakRss - p.serverRssBefore)})`);
      say(`    target ≥ ${TARGET.artifactMBps} MB/s: measured/target ${fix(p.mbPerSecond / TARGET.artifactMBps)} — ${p.mbPerSecond >= TARGET.artifactMBps ? 'MET' : 'MISSED'}`);
    };
    line('upload (PUT, hashed and fsynced into the content-addressed store)', up.phase);
    say(`    peer, same run: the same number of bytes written into the server's home directory and fsynced, with no HTTP, hashing or database: ${int(disk)} MB/s — the upload does ${fix(up.phase.mbPerSecond / disk)}× the disk's own rate`);
    line('download (GET)', down.phase);
    say(`    stored digest ${verified ? 'VERIFIED (ETag = SHA-256 of the bytes sent; download length matches)' : `MISMATCH (sent ${up.result.expected}, stored ${up.result.stored}, downloaded ${down.result.bytes} bytes)`}`);
    // Flat memory: a transfer that buffered the file would raise the server's RSS by about its size.
    const flat = [up.phase, down.phase].every((p) => p.serverPeakRss - p.serverRssBefore < Math.min(size / 4, 128 * 2 ** 20));
    if (!flat) say('FAILED: the server\'s memory grew with the file size');
    return { size, upload: up.phase, download: down.phase, diskWriteMBps: disk, verified, ok: verified && flat };
  } finally {
    await server.stop();
  }
}

// ---- the benchmark ------------------------------------------------------------------------------

async function runWorker<T>(spec: WorkerSpec): Promise<T> {
  const r = await runChild(['--import', 'tsx', 'bench/tracking.ts'], { env: { ...process.env, STRATA_BENCH_TRACKING_WORKER: JSON.stringify(spec) } });
  if (r.code !== 0) throw new Error(`worker ${spec.mode} failed (exit ${String(r.code)}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as T;
}

async function load(spec: LoadSpec): Promise<LoadResult> {
  const r = await runChild(['--import', 'tsx', 'bench/support/load.ts', JSON.stringify(spec)]);
  if (r.code !== 0) throw new Error(`load generator failed (exit ${String(r.code)}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as LoadResult;
}

/** Writes `n` runs (3 tags, 2 params, metrics acc and loss with one history point each) into the experiment, as the tracking tables store them. */
function seedRuns(dbFile: string, projectId: string, experimentId: string, n: number, rng: () => number): void {
  const db = new BetterSqlite3(dbFile);
  db.pragma('busy_timeout = 30000');
  const run = db.prepare(`insert into runs (id, experiment_id, project_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time, created_by) values (?, ?, ?, ?, 'seed', 'FINISHED', ?, ?, 'active', ?, null, 'bench')`);
  const tag = db.prepare('insert into run_tags (run_id, experiment_id, key, value) values (?, ?, ?, ?)');
  const param = db.prepare('insert into run_params (run_id, experiment_id, key, value) values (?, ?, ?, ?)');
  const latest = db.prepare('insert into run_latest_metrics (run_id, experiment_id, key, step, timestamp, value, is_nan) values (?, ?, ?, 0, ?, ?, 0)');
  const hist = db.prepare('insert into run_metric_chunks (run_id, key, first_step, last_step, points, digest, data) values (?, ?, ?, ?, ?, ?, ?)');
  const point = (id: string, key: string, timestamp: number, value: number): void => {
    for (const c of chunkRows(id, key, [{ step: 0, timestamp, value }])) hist.run(c.run_id, c.key, c.first_step, c.last_step, c.points, c.digest, c.data);
  };
  const t0 = 1_700_000_000_000;
  db.transaction(() => {
    for (let i = 0; i < n; i += 1) {
      const id = randomBytes(16).toString('hex');
      const start = t0 + i * 1000;
      run.run(id, experimentId, projectId, `seed-${i}`, start, start + 500, `mlflow-artifacts:/${experimentId}/${id}/artifacts`);
      tag.run(id, experimentId, 'mlflow.runName', `seed-${i}`);
      tag.run(id, experimentId, 'mlflow.user', 'seed');
      tag.run(id, experimentId, 'mlflow.source.type', 'LOCAL');
      param.run(id, experimentId, 'lr', String(rng() / 10));
      param.run(id, experimentId, 'depth', String(i % 12));
      const acc = rng();
      const loss = 1 - acc;
      latest.run(id, experimentId, 'acc', start, acc);
      latest.run(id, experimentId, 'loss', start, loss);
      point(id, 'acc', start, acc);
      point(id, 'loss', start, loss);
    }
  })();
  db.close();
}

/** Runs of an experiment, and the params and latest metrics they hold (to reconcile the create phase). */
function countRuns(dbFile: string, experimentId: string): { runs: number; params: number; latest: number } {
  const db = new BetterSqlite3(dbFile, { readonly: true });
  db.pragma('busy_timeout = 30000');
  const one = (table: string): number => (db.prepare(`select count(*) as n from ${table} where experiment_id = ?`).get(experimentId) as { n: number }).n;
  const out = { runs: one('runs'), params: one('run_params'), latest: one('run_latest_metrics') };
  db.close();
  return out;
}

function countMetrics(dbFile: string): number {
  const db = new BetterSqlite3(dbFile, { readonly: true });
  db.pragma('busy_timeout = 30000');
  // Small batches wait in run_metric_batches until the server packs them into chunks: both hold stored points.
  // (Every batch here logs new steps, so no point is stored twice.)
  const row = db.prepare('select (select coalesce(sum(points), 0) from run_metric_chunks) + (select coalesce(sum(points), 0) from run_metric_batches) as n').get() as { n: number };
  db.close();
  return row.n;
}

async function main(): Promise<void> {
  const flags = benchFlags();
  const say = humanWriter(flags);
  const DURATION = flags.quick ? 4 : 10;
  const CONNECTIONS = 10;
  const SEARCH_RUNS = flags.quick ? 10_000 : 100_000;
  const CREATE_RUNS = flags.quick ? 2_000 : 10_000;
  const m = machine();
  const build = strataBuild(repoRoot);
  const only = (process.env['STRATA_BENCH_TRACKING_ONLY'] ?? '').split(',').filter((x) => x !== '');
  const unknown = only.filter((x) => !(PHASES as readonly string[]).includes(x));
  if (unknown.length > 0) throw new Error(`STRATA_BENCH_TRACKING_ONLY: unknown phase ${unknown.join(', ')}; use ${PHASES.join(', ')} or artifacts`);
  const everything = only.length === 0;
  const phases = new Set<Phase>(everything ? PHASES : (only as Phase[]));
  say(`tracking benchmark${flags.quick ? ' (--quick)' : ''}: MLflow REST API of strata server (SQLite, loopback), load from a second process, ${CONNECTIONS} connections, ${DURATION} s per run`);
  say(describeMachine(m));
  say(`strata server runs: ${build === 'dist' ? 'compiled dist/' : 'TypeScript sources through tsx (dist/ missing or older than src/)'}`);
  say('anchor: stock MLflow 2.17.2 server (SQLite, 2 gunicorn workers) on this machine class, and the issue 5 targets');
  say('');

  const server = await startStrataServer({ localAgent: false, prefix: 'strata-bench-tracking-', ...(PROFILE_DIR === undefined ? {} : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] }) });
  // A profiled server must exit by itself to write its profile.
  const stopServer = (): Promise<unknown> => (PROFILE_DIR === undefined ? server.stop() : server.stop({ graceMs: 60_000 }));
  let stopped = false;
  try {
    const headers = { authorization: `Bearer ${server.token}`, [PROJECT_HEADER]: 'default' };
    const post = async <T>(path: string, body: unknown): Promise<T> => {
      const res = await fetch(`${server.url}${API}/${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const project = await server.api<{ id: string }>('GET', '/api/v1/projects/default');

    // 1. log-batch throughput at 10 and 1,000 metrics per request.
    const exp = (await post<{ experiment_id: string }>('experiments/create', { name: 'bench-log-batch' })).experiment_id;
    const runIds: string[] = [];
    for (let i = 0; i < CONNECTIONS; i += 1) runIds.push((await post<{ run: { info: { run_id: string } } }>('runs/create', { experiment_id: exp })).run.info.run_id);
    const serverCpu = (): number => processCpuSeconds(server.child.pid) ?? Number.NaN;
    const logBatch = async (batch: number): Promise<{ metricsPerSecond: number; requestsPerSecond: number; p50: number; p99: number; ok: number; non2xx: number; errors: number; reconciled: boolean; serverCpuMsPerRequest: number }> => {
      const warm = await runWorker<LoadResult>({ mode: 'log-batch', url: server.url, headers, connections: CONNECTIONS, duration: 2, batch, runIds }); // warm-up, sizes the run
      const amount = Math.max(100, Math.round((Math.max(warm['2xx'] / warm.duration, warm.requests.max) * DURATION) / 10) * 10);
      await new Promise((r) => setTimeout(r, 500)); // requests in flight when the warm-up stopped finish before counting
      const before = countMetrics(server.db);
      // Fresh runs for the measured pass, so its steps never collide with the warm-up's.
      const measuredRuns: string[] = [];
      for (let i = 0; i < CONNECTIONS; i += 1) measuredRuns.push((await post<{ run: { info: { run_id: string } } }>('runs/create', { experiment_id: exp })).run.info.run_id);
      const cpu0 = serverCpu();
      const r = await runWorker<LoadResult>({ mode: 'log-batch', url: server.url, headers, connections: CONNECTIONS, amount, batch, runIds: measuredRuns });
      const cpuMs = (serverCpu() - cpu0) * 1000;
      const grew = countMetrics(server.db) - before;
      return {
        metricsPerSecond: (r['2xx'] * batch) / r.wallSeconds,
        requestsPerSecond: r['2xx'] / r.wallSeconds,
        p50: r.latency.p50,
        p99: r.latency.p99,
        ok: r['2xx'],
        non2xx: r.non2xx,
        errors: r.errors,
        reconciled: grew === r['2xx'] * batch && r['2xx'] === amount,
        serverCpuMsPerRequest: cpuMs / Math.max(1, r['2xx']),
      };
    };
    const lb10 = phases.has('log-batch') ? await logBatch(10) : undefined;
    const lb1000 = phases.has('log-batch') ? await logBatch(1000) : undefined;

    // 2. runs/get.
    // The write phases leave the server busy for a while (WAL checkpoint, packing staged metric
    // points): a read figure taken meanwhile measures that work too. Wait until it is idle.
    const settle = async (): Promise<number> => {
      const t0 = performance.now();
      let before = serverCpu();
      while (performance.now() - t0 < 60_000) {
        await new Promise((r) => setTimeout(r, 500));
        const now = serverCpu();
        if (now - before < 0.025) break; // under 5 % of a core for half a second
        before = now;
      }
      return (performance.now() - t0) / 1000;
    };
    const runsGet = async (): Promise<{ gets: LoadResult; getCpuMsPerRequest: number; settledSeconds: number; peer: { gets: LoadResult; cpuMsPerRequest: number; bytes: number } }> => {
      const settledSeconds = await settle();
      const getPath = `${API}/runs/get?run_id=${runIds[0] as string}`;
      await load({ url: server.url, method: 'GET', path: getPath, headers, connections: CONNECTIONS, duration: 1 });
      const getCpu0 = serverCpu();
      const gets = await load({ url: server.url, method: 'GET', path: getPath, headers, connections: CONNECTIONS, duration: DURATION });
      const getCpuMsPerRequest = ((serverCpu() - getCpu0) * 1000) / Math.max(1, gets['2xx']);
      // The peer: a bare Fastify route answering the same bytes, loaded the same way: what this
      // machine and loopback allow a Node HTTP server at all (no auth, no database).
      const body = await (await fetch(`${server.url}${getPath}`, { headers })).text();
      const dir = mkdtempSync(join(tmpdir(), 'strata-bench-peer-'));
      const { child, url } = await startListening(['--import', 'tsx', 'bench/support/hello-server.ts'], join(dir, 'peer.log'), { ...process.env, STRATA_BENCH_PEER_BODY: body });
      try {
        await load({ url, method: 'GET', path: '/', connections: CONNECTIONS, duration: 1 });
        const cpu0 = processCpuSeconds(child.pid) ?? Number.NaN;
        const peerGets = await load({ url, method: 'GET', path: '/', connections: CONNECTIONS, duration: DURATION });
        const cpuMs = ((processCpuSeconds(child.pid) ?? Number.NaN) - cpu0) * 1000;
        return { gets, getCpuMsPerRequest, settledSeconds, peer: { gets: peerGets, cpuMsPerRequest: cpuMs / Math.max(1, peerGets['2xx']), bytes: Buffer.byteLength(body) } };
      } finally {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const get = phases.has('get') ? await runsGet() : undefined;

    // 3. runs/search over a seeded experiment.
    const runsSearch = async (): Promise<{ search: LoadResult; searchCorrect: boolean; seedSeconds: number }> => {
      const searchExp = (await post<{ experiment_id: string }>('experiments/create', { name: 'bench-search' })).experiment_id;
      const seedT0 = Date.now();
      let seed = 42;
      const rng = (): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      seedRuns(server.db, project.id, searchExp, SEARCH_RUNS, rng);
      const seedSeconds = (Date.now() - seedT0) / 1000;
      const searchBody = { experiment_ids: [searchExp], filter: 'metrics.acc > 0.5', order_by: ['metrics.acc DESC'], max_results: 100 };
      const check = await post<{ runs: { data: { metrics: { key: string; value: number }[] } }[]; next_page_token?: string }>('runs/search', searchBody);
      const accs = check.runs.map((r) => r.data.metrics.find((x) => x.key === 'acc')?.value ?? -1);
      const searchCorrect = check.runs.length === 100 && accs.every((a, i) => a > 0.5 && (i === 0 || a <= (accs[i - 1] as number))) && check.next_page_token !== undefined;
      const searchSpec: LoadSpec = { url: server.url, method: 'POST', path: `${API}/runs/search`, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(searchBody), connections: 1, duration: DURATION };
      await load({ ...searchSpec, duration: 1 });
      return { search: await load(searchSpec), searchCorrect, seedSeconds };
    };
    const found = phases.has('search') ? await runsSearch() : undefined;

    // 4. Creating runs: create + one small log-batch each.
    const createRuns = async (): Promise<{ created: { seconds: number; runs: number; failed: number; cpuMsPerRun: number; clientCpuMsPerRun: number; reconciled: boolean }; auditGrew: number; per10k: number }> => {
      const createExp = (await post<{ experiment_id: string }>('experiments/create', { name: 'bench-create' })).experiment_id;
      const auditBefore = (await server.api<{ size: number }>('GET', '/api/v1/audit/root')).size;
      const cpu0 = serverCpu();
      const c = await runWorker<{ seconds: number; runs: number; failed: number; clientCpuMsPerRun: number }>({ mode: 'create-runs', url: server.url, headers, connections: CONNECTIONS, experimentId: createExp, runs: CREATE_RUNS });
      const cpuMsPerRun = ((serverCpu() - cpu0) * 1000) / Math.max(1, c.runs);
      const auditAfter = (await server.api<{ size: number }>('GET', '/api/v1/audit/root')).size;
      const rows = countRuns(server.db, createExp);
      const reconciled = c.failed === 0 && rows.runs === c.runs && rows.params === 2 * c.runs && rows.latest === c.runs;
      return { created: { ...c, cpuMsPerRun, reconciled }, auditGrew: auditAfter - auditBefore, per10k: (c.seconds / c.runs) * 10_000 };
    };
    const made = phases.has('create') ? await createRuns() : undefined;

    const ratio = (measured: number, target: number, lowerIsBetter = false): string => {
      const met = lowerIsBetter ? measured < target : measured >= target;
      return `target ${lowerIsBetter ? '<' : '≥'} ${int(target)}: measured/target ${fix(measured / target)} — ${met ? 'MET' : 'MISSED'}`;
    };
    if (lb10 !== undefined && lb1000 !== undefined) {
      say(`runs/log-batch, 10 metrics/request: ${int(lb10.metricsPerSecond)} metrics/s (${int(lb10.requestsPerSecond)} req/s, p50 ${fix(lb10.p50, 1)} ms, p99 ${fix(lb10.p99, 1)} ms, non-2xx ${lb10.non2xx}, errors ${lb10.errors}) — rows ${lb10.reconciled ? 'RECONCILED' : 'MISMATCH'}; server CPU ${fix(lb10.serverCpuMsPerRequest, 3)} ms/request = ${int(10_000 / lb10.serverCpuMsPerRequest)} metrics per server CPU-second`);
      say(`    ${ratio(lb10.metricsPerSecond, TARGET.logBatch10)};   vs MLflow ${int(ANCHOR.logBatch10)} metrics/s: ${fix(lb10.metricsPerSecond / ANCHOR.logBatch10, 1)}×`);
      say(`runs/log-batch, 1,000 metrics/request: ${int(lb1000.metricsPerSecond)} metrics/s (${int(lb1000.requestsPerSecond)} req/s, p50 ${fix(lb1000.p50, 1)} ms, p99 ${fix(lb1000.p99, 1)} ms, non-2xx ${lb1000.non2xx}, errors ${lb1000.errors}) — rows ${lb1000.reconciled ? 'RECONCILED' : 'MISMATCH'}; server CPU ${fix(lb1000.serverCpuMsPerRequest, 2)} ms/request = ${int(1_000_000 / lb1000.serverCpuMsPerRequest)} metrics per server CPU-second`);
      say(`    ${ratio(lb1000.metricsPerSecond, TARGET.logBatch1000)};   vs MLflow ${int(ANCHOR.logBatch1000)} metrics/s: ${fix(lb1000.metricsPerSecond / ANCHOR.logBatch1000, 1)}×`);
    }
    if (get !== undefined) {
      const { gets, getCpuMsPerRequest, settledSeconds, peer } = get;
      say(`runs/get: ${int(gets['2xx'] / gets.duration)} req/s (p50 ${fix(gets.latency.p50, 1)} ms, p99 ${fix(gets.latency.p99, 1)} ms, non-2xx ${gets.non2xx}, errors ${gets.errors}); server CPU ${fix(getCpuMsPerRequest, 3)} ms/request = ${int(1000 / getCpuMsPerRequest)} requests per server CPU-second; started once the server was idle (after ${fix(settledSeconds, 1)} s)`);
      say(`    peer, same run: a bare Fastify route answering the same ${int(peer.bytes)} bytes (no auth, no database): ${int(peer.gets['2xx'] / peer.gets.duration)} req/s, server CPU ${fix(peer.cpuMsPerRequest, 3)} ms/request — runs/get does ${fix(gets['2xx'] / gets.duration / (peer.gets['2xx'] / peer.gets.duration))}× its req/s; the ceiling of one Node process on this machine`);
      say(`    ${ratio(gets['2xx'] / gets.duration, TARGET.getPerSecond)};   vs MLflow ${int(ANCHOR.getPerSecond)} req/s: ${fix(gets['2xx'] / gets.duration / ANCHOR.getPerSecond, 1)}×`);
    }
    if (found !== undefined) {
      const { search, searchCorrect, seedSeconds } = found;
      say(`runs/search 'metrics.acc > 0.5' ORDER BY metrics.acc DESC, 100 results, over ${int(SEARCH_RUNS)} runs (seeded in ${fix(seedSeconds, 1)} s): p50 ${fix(search.latency.p50, 1)} ms, p99 ${fix(search.latency.p99, 1)} ms, ${int(search['2xx'] / search.duration)} req/s on 1 connection — results ${searchCorrect ? 'CORRECT (100, acc > 0.5, descending, next page)' : 'WRONG'}`);
      say(`    target p50 < ${TARGET.searchP50Ms} ms over 100,000 runs: measured/target ${fix(search.latency.p50 / TARGET.searchP50Ms)} — ${search.latency.p50 < TARGET.searchP50Ms && SEARCH_RUNS >= 100_000 ? 'MET' : SEARCH_RUNS < 100_000 ? 'n/a under --quick (10,000 runs)' : 'MISSED'};   vs MLflow p50 ${int(ANCHOR.searchP50Ms)} ms over 10,000 runs: ${fix(ANCHOR.searchP50Ms / Math.max(search.latency.p50, 0.1), 0)}× faster`);
    }
    if (made !== undefined) {
      const { created, auditGrew, per10k } = made;
      say(`create ${int(created.runs)} runs (runs/create + runs/log-batch each, ${CONNECTIONS} clients): ${fix(created.seconds, 2)} s (${int(created.runs / created.seconds)} runs/s, failed ${created.failed}) — rows ${created.reconciled ? 'RECONCILED' : 'MISMATCH'}; per 10,000 runs ${fix(per10k, 2)} s; server CPU ${fix(created.cpuMsPerRun, 3)} ms/run, load generator CPU ${fix(created.clientCpuMsPerRun, 3)} ms/run; audit log grew ${int(auditGrew)} (one run.create each)`);
      say(`    ${ratio(per10k, TARGET.create10kSeconds, true).replace('target < 5', 'target < 5 s')};   vs MLflow ${ANCHOR.create10kSeconds} s: ${fix(ANCHOR.create10kSeconds / per10k, 1)}× faster`);
    }

    await stopServer();
    stopped = true;
    const art = everything ? await artifactBench(flags.quick, say) : undefined;

    const clean =
      (art?.ok ?? true) &&
      [lb10, lb1000].every((x) => x === undefined || (x.reconciled && x.non2xx === 0 && x.errors === 0)) &&
      (found?.searchCorrect ?? true) &&
      (found === undefined || found.search.non2xx === 0) &&
      (made === undefined || (made.created.reconciled && made.auditGrew === made.created.runs)) &&
      (get === undefined || get.gets.non2xx === 0);
    if (!clean) say('FAILED: non-2xx responses, unreconciled metric rows, wrong search results, an audit count that does not match the runs created, or an artifact transfer that was not verified or not flat');
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({
          benchmark: 'tracking',
          quick: flags.quick,
          phases: [...phases],
          machine: m,
          strataBuild: build,
          config: { connections: CONNECTIONS, durationSeconds: DURATION, searchRuns: SEARCH_RUNS, createRuns: CREATE_RUNS, database: 'sqlite', loopback: true },
          anchors: { mlflow: ANCHOR, targets: TARGET },
          logBatch10: lb10,
          logBatch1000: lb1000,
          runsGet: get === undefined ? undefined : { requestsPerSecond: get.gets['2xx'] / get.gets.duration, latencyMs: get.gets.latency, non2xx: get.gets.non2xx, serverCpuMsPerRequest: get.getCpuMsPerRequest, settledSeconds: get.settledSeconds, peer: { name: 'fastify-same-body', bytes: get.peer.bytes, requestsPerSecond: get.peer.gets['2xx'] / get.peer.gets.duration, serverCpuMsPerRequest: get.peer.cpuMsPerRequest } },
          runsSearch: found === undefined ? undefined : { runs: SEARCH_RUNS, latencyMs: found.search.latency, correct: found.searchCorrect, seedSeconds: found.seedSeconds },
          createRuns: made === undefined ? undefined : { ...made.created, per10kSeconds: made.per10k, auditGrew: made.auditGrew },
          artifacts: art,
          ok: clean,
        })}\n`,
      );
    }
    process.exitCode = clean ? 0 : 1;
  } finally {
    if (!stopped) await stopServer();
  }
}
