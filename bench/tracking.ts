// Benchmark: experiment tracking through the MLflow REST API (issue 5). The real server
// (`strata server`, SQLite, no local agent) runs in its own process; load comes from a second
// process (autocannon, or this file re-run as a worker). Anchors: the stock MLflow 2.17.2 server
// (SQLite, 2 gunicorn workers) measured on this machine class, and the targets:
//   runs/log-batch   ~1,500–1,800 metrics/s at 10/request, ~19,700 at 1,000/request → ≥ 35,000 and ≥ 400,000
//   runs/search      `metrics.acc > 0.5 ORDER BY metrics.acc DESC`, 100 results: p50 ~3 s over 10,000 runs → < 50 ms over 100,000
//   runs/get         ~400 req/s → ≥ 10,000 req/s
//   10,000 runs      (create + one small log-batch each) 132 s → < 5 s
//
//   npm run bench -- tracking [--quick] [--json]
//
// Every log-batch carries new steps, so every metric is a new row; afterwards the metric rows in
// the database are counted and must equal 2xx responses × batch size (RECONCILED). The search
// corpus is written straight into the database file (as the tracking tables store it) before the
// search is measured, so seeding 100,000 runs takes seconds instead of minutes.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import type { LoadResult, LoadSpec } from './support/load.ts';
import { describeMachine, machine, strataBuild } from './support/machine.ts';
import { benchFlags, fix, humanWriter, int, repoRoot, runChild } from './support/report.ts';
import { startStrataServer } from './support/strata-server.ts';

const ANCHOR = { logBatch10: 1800, logBatch1000: 19_700, searchP50Ms: 3000, getPerSecond: 400, create10kSeconds: 132 } as const;
const TARGET = { logBatch10: 35_000, logBatch1000: 400_000, searchP50Ms: 50, getPerSecond: 10_000, create10kSeconds: 5 } as const;
const API = '/api/2.0/mlflow';
const PROJECT_HEADER = 'x-strata-project';

// ---- worker mode: this file as the load-generating child -------------------------------------

interface WorkerSpec {
  readonly mode: 'log-batch' | 'create-runs';
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
}

type Autocannon = (opts: Record<string, unknown>) => Promise<LoadResult>;

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
  if (spec.mode === 'log-batch') {
    const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
    const runIds = spec.runIds ?? [];
    const batch = spec.batch ?? 10;
    const now = Date.now();
    let n = 0;
    const result = await autocannon({
      url: spec.url,
      connections: spec.connections,
      pipelining: 1,
      ...(spec.amount === undefined ? { duration: spec.duration } : { amount: spec.amount }),
      timeout: 30,
      requests: [
        {
          method: 'POST',
          path: `${API}/runs/log-batch`,
          headers: { ...spec.headers, 'content-type': 'application/json' },
          setupRequest: (req: Record<string, unknown>) => {
            const i = n++;
            return { ...req, body: logBatchBody(runIds[i % runIds.length] as string, Math.floor(i / runIds.length), batch, now) };
          },
        },
      ],
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  // create-runs: `connections` clients, each creating runs (create + one small log-batch) until `runs` are made.
  const total = spec.runs ?? 0;
  let next = 0;
  let failed = 0;
  const headers = { ...spec.headers, 'content-type': 'application/json' };
  const t0 = process.hrtime.bigint();
  const client = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const c = await fetch(`${spec.url}${API}/runs/create`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ experiment_id: spec.experimentId, start_time: Date.now(), run_name: `bench-${i}`, tags: [{ key: 'mlflow.user', value: 'bench' }, { key: 'mlflow.source.type', value: 'LOCAL' }] }),
      });
      if (!c.ok) {
        failed += 1;
        await c.text();
        continue;
      }
      const runId = ((await c.json()) as { run: { info: { run_id: string } } }).run.info.run_id;
      const l = await fetch(`${spec.url}${API}/runs/log-batch`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ run_id: runId, params: [{ key: 'lr', value: '0.01' }, { key: 'depth', value: String(i % 8) }], metrics: [{ key: 'acc', value: (i % 100) / 100, timestamp: Date.now(), step: 0 }] }),
      });
      if (!l.ok) failed += 1;
      await l.text();
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, client));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${JSON.stringify({ seconds, runs: total, failed })}\n`);
}

const workerSpec = process.env['STRATA_BENCH_TRACKING_WORKER'];
if (workerSpec !== undefined) {
  await worker(JSON.parse(workerSpec) as WorkerSpec);
} else {
  await main();
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
  const hist = db.prepare('insert into run_metrics (run_id, key, step, timestamp, value, is_nan) values (?, ?, 0, ?, ?, 0)');
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
      hist.run(id, 'acc', start, acc);
      hist.run(id, 'loss', start, loss);
    }
  })();
  db.close();
}

function countMetrics(dbFile: string): number {
  const db = new BetterSqlite3(dbFile, { readonly: true });
  db.pragma('busy_timeout = 30000');
  const row = db.prepare('select count(*) as n from run_metrics').get() as { n: number };
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
  say(`tracking benchmark${flags.quick ? ' (--quick)' : ''}: MLflow REST API of strata server (SQLite, loopback), load from a second process, ${CONNECTIONS} connections, ${DURATION} s per run`);
  say(describeMachine(m));
  say(`strata server runs: ${build === 'dist' ? 'compiled dist/' : 'TypeScript sources through tsx (dist/ missing or older than src/)'}`);
  say('anchor: stock MLflow 2.17.2 server (SQLite, 2 gunicorn workers) on this machine class, and the issue 5 targets');
  say('');

  const server = await startStrataServer({ localAgent: false, prefix: 'strata-bench-tracking-' });
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
    const logBatch = async (batch: number): Promise<{ metricsPerSecond: number; requestsPerSecond: number; p50: number; p99: number; ok: number; non2xx: number; errors: number; reconciled: boolean }> => {
      const warm = await runWorker<LoadResult>({ mode: 'log-batch', url: server.url, headers, connections: CONNECTIONS, duration: 2, batch, runIds }); // warm-up, sizes the run
      const amount = Math.max(100, Math.round((Math.max(warm['2xx'] / warm.duration, warm.requests.max) * DURATION) / 10) * 10);
      await new Promise((r) => setTimeout(r, 500)); // requests in flight when the warm-up stopped finish before counting
      const before = countMetrics(server.db);
      // Fresh runs for the measured pass, so its steps never collide with the warm-up's.
      const measuredRuns: string[] = [];
      for (let i = 0; i < CONNECTIONS; i += 1) measuredRuns.push((await post<{ run: { info: { run_id: string } } }>('runs/create', { experiment_id: exp })).run.info.run_id);
      const r = await runWorker<LoadResult>({ mode: 'log-batch', url: server.url, headers, connections: CONNECTIONS, amount, batch, runIds: measuredRuns });
      const grew = countMetrics(server.db) - before;
      return {
        metricsPerSecond: (r['2xx'] * batch) / r.duration,
        requestsPerSecond: r['2xx'] / r.duration,
        p50: r.latency.p50,
        p99: r.latency.p99,
        ok: r['2xx'],
        non2xx: r.non2xx,
        errors: r.errors,
        reconciled: grew === r['2xx'] * batch && r['2xx'] === amount,
      };
    };
    const lb10 = await logBatch(10);
    const lb1000 = await logBatch(1000);

    // 2. runs/get.
    const getPath = `${API}/runs/get?run_id=${runIds[0] as string}`;
    await load({ url: server.url, method: 'GET', path: getPath, headers, connections: CONNECTIONS, duration: 1 });
    const gets = await load({ url: server.url, method: 'GET', path: getPath, headers, connections: CONNECTIONS, duration: DURATION });

    // 3. runs/search over a seeded experiment.
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
    const search = await load(searchSpec);

    // 4. Creating runs: create + one small log-batch each.
    const createExp = (await post<{ experiment_id: string }>('experiments/create', { name: 'bench-create' })).experiment_id;
    const auditBefore = (await server.api<{ size: number }>('GET', '/api/v1/audit/root')).size;
    const created = await runWorker<{ seconds: number; runs: number; failed: number }>({ mode: 'create-runs', url: server.url, headers, connections: CONNECTIONS, experimentId: createExp, runs: CREATE_RUNS });
    const auditAfter = (await server.api<{ size: number }>('GET', '/api/v1/audit/root')).size;
    const per10k = (created.seconds / created.runs) * 10_000;

    const ratio = (measured: number, target: number, lowerIsBetter = false): string => {
      const met = lowerIsBetter ? measured < target : measured >= target;
      return `target ${lowerIsBetter ? '<' : '≥'} ${int(target)}: measured/target ${fix(measured / target)} — ${met ? 'MET' : 'MISSED'}`;
    };
    say(`runs/log-batch, 10 metrics/request: ${int(lb10.metricsPerSecond)} metrics/s (${int(lb10.requestsPerSecond)} req/s, p50 ${fix(lb10.p50, 1)} ms, p99 ${fix(lb10.p99, 1)} ms, non-2xx ${lb10.non2xx}, errors ${lb10.errors}) — rows ${lb10.reconciled ? 'RECONCILED' : 'MISMATCH'}`);
    say(`    ${ratio(lb10.metricsPerSecond, TARGET.logBatch10)};   vs MLflow ${int(ANCHOR.logBatch10)} metrics/s: ${fix(lb10.metricsPerSecond / ANCHOR.logBatch10, 1)}×`);
    say(`runs/log-batch, 1,000 metrics/request: ${int(lb1000.metricsPerSecond)} metrics/s (${int(lb1000.requestsPerSecond)} req/s, p50 ${fix(lb1000.p50, 1)} ms, p99 ${fix(lb1000.p99, 1)} ms, non-2xx ${lb1000.non2xx}, errors ${lb1000.errors}) — rows ${lb1000.reconciled ? 'RECONCILED' : 'MISMATCH'}`);
    say(`    ${ratio(lb1000.metricsPerSecond, TARGET.logBatch1000)};   vs MLflow ${int(ANCHOR.logBatch1000)} metrics/s: ${fix(lb1000.metricsPerSecond / ANCHOR.logBatch1000, 1)}×`);
    say(`runs/get: ${int(gets['2xx'] / gets.duration)} req/s (p50 ${fix(gets.latency.p50, 1)} ms, p99 ${fix(gets.latency.p99, 1)} ms, non-2xx ${gets.non2xx}, errors ${gets.errors})`);
    say(`    ${ratio(gets['2xx'] / gets.duration, TARGET.getPerSecond)};   vs MLflow ${int(ANCHOR.getPerSecond)} req/s: ${fix(gets['2xx'] / gets.duration / ANCHOR.getPerSecond, 1)}×`);
    say(`runs/search 'metrics.acc > 0.5' ORDER BY metrics.acc DESC, 100 results, over ${int(SEARCH_RUNS)} runs (seeded in ${fix(seedSeconds, 1)} s): p50 ${fix(search.latency.p50, 1)} ms, p99 ${fix(search.latency.p99, 1)} ms, ${int(search['2xx'] / search.duration)} req/s on 1 connection — results ${searchCorrect ? 'CORRECT (100, acc > 0.5, descending, next page)' : 'WRONG'}`);
    say(`    target p50 < ${TARGET.searchP50Ms} ms over 100,000 runs: measured/target ${fix(search.latency.p50 / TARGET.searchP50Ms)} — ${search.latency.p50 < TARGET.searchP50Ms && SEARCH_RUNS >= 100_000 ? 'MET' : SEARCH_RUNS < 100_000 ? 'n/a under --quick (10,000 runs)' : 'MISSED'};   vs MLflow p50 ${int(ANCHOR.searchP50Ms)} ms over 10,000 runs: ${fix(ANCHOR.searchP50Ms / Math.max(search.latency.p50, 0.1), 0)}× faster`);
    say(`create ${int(created.runs)} runs (runs/create + runs/log-batch each, ${CONNECTIONS} clients): ${fix(created.seconds, 2)} s (${int(created.runs / created.seconds)} runs/s, failed ${created.failed}); per 10,000 runs ${fix(per10k, 2)} s; audit log grew ${int(auditAfter - auditBefore)} (one run.create each)`);
    say(`    ${ratio(per10k, TARGET.create10kSeconds, true).replace('target < 5', 'target < 5 s')};   vs MLflow ${ANCHOR.create10kSeconds} s: ${fix(ANCHOR.create10kSeconds / per10k, 1)}× faster`);

    const clean = lb10.reconciled && lb1000.reconciled && searchCorrect && created.failed === 0 && auditAfter - auditBefore === created.runs && [lb10, lb1000].every((x) => x.non2xx === 0 && x.errors === 0) && gets.non2xx === 0 && search.non2xx === 0;
    if (!clean) say('FAILED: non-2xx responses, unreconciled metric rows, wrong search results or an audit count that does not match the runs created');
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({
          benchmark: 'tracking',
          quick: flags.quick,
          machine: m,
          strataBuild: build,
          config: { connections: CONNECTIONS, durationSeconds: DURATION, searchRuns: SEARCH_RUNS, createRuns: CREATE_RUNS, database: 'sqlite', loopback: true },
          anchors: { mlflow: ANCHOR, targets: TARGET },
          logBatch10: lb10,
          logBatch1000: lb1000,
          runsGet: { requestsPerSecond: gets['2xx'] / gets.duration, latencyMs: gets.latency, non2xx: gets.non2xx },
          runsSearch: { runs: SEARCH_RUNS, latencyMs: search.latency, correct: searchCorrect, seedSeconds },
          createRuns: { ...created, per10kSeconds: per10k, auditGrew: auditAfter - auditBefore },
          ok: clean,
        })}\n`,
      );
    }
    process.exitCode = clean ? 0 : 1;
  } finally {
    await server.stop();
  }
}
