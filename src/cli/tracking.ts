// `strata experiments`, `strata runs` and `strata artifacts`: experiment tracking from the shell,
// over the Strata-native tracking API. Uploads and downloads are streamed (flat memory whatever
// the size) with a progress line on stderr when it is a terminal.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { seg } from '../sdk/index.ts';
import { commandContext } from './context.ts';

type Row = Record<string, unknown>;

const MiB = 2 ** 20;
const human = (n: number): string => (n >= 10 * MiB ? `${(n / MiB).toFixed(0)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

/** Counts bytes passing through and redraws one progress line on a terminal (at most 10 times a second). */
function progress(label: string, total: number | undefined): Transform & { readonly bytes: () => number } {
  let bytes = 0;
  let drawn = 0;
  const tty = process.stderr.isTTY === true;
  const draw = (final: boolean): void => {
    if (!tty && !final) return;
    const pct = total === undefined || total === 0 ? '' : ` ${((100 * bytes) / total).toFixed(0)}%`;
    process.stderr.write(`${tty ? '\r\x1b[K' : ''}${label}: ${human(bytes)}${total === undefined ? '' : ` of ${human(total)}`}${pct}${final ? '\n' : ''}`);
  };
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      const now = performance.now();
      if (now - drawn > 100) {
        drawn = now;
        draw(false);
      }
      cb(null, chunk);
    },
    flush(cb) {
      draw(true);
      cb();
    },
  });
  return Object.assign(t, { bytes: () => bytes });
}

const runPath = (project: string, run: string): string => `/api/v1/projects/${seg(project)}/runs/${seg(run)}`;
const filePath = (p: string): string => p.split('/').map(seg).join('/');
const when = (ms: unknown): string => (typeof ms === 'number' ? new Date(ms).toISOString() : '');

export function registerTracking(program: Command): void {
  const experiments = program.command('experiments').description('experiment tracking: experiments (MLflow-compatible)');
  experiments
    .command('list')
    .option('-p, --project <project>', 'project', 'default')
    .option('--filter <filter>', "MLflow filter, e.g. \"name LIKE 'resnet%'\"")
    .description("a project's experiments")
    .action(async (opts: { project: string; filter?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ experiments: Row[] }>(`/api/v1/projects/${seg(opts.project)}/experiments`, opts.filter === undefined ? {} : { filter: opts.filter });
      out.table(r, r.experiments.map((e) => ({ ...e, created: when(e['creationTime']) })), ['id', 'name', 'lifecycleStage', 'created']);
    });

  const runs = program.command('runs').description('experiment tracking: runs, their metrics, params and tags');
  runs
    .command('list')
    .requiredOption('-e, --experiment <id>', 'experiment id ("0" is the project\'s default experiment)')
    .option('-p, --project <project>', 'project', 'default')
    .option('--filter <filter>', 'MLflow filter, e.g. "metrics.acc > 0.9 and params.lr = \'0.01\'"')
    .option('--order-by <key>', 'e.g. "metrics.acc DESC"')
    .option('--max <n>', 'at most this many runs', '50')
    .description('search runs (MLflow filter grammar)')
    .action(async (opts: { experiment: string; project: string; filter?: string; orderBy?: string; max: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      let experiment = opts.experiment;
      if (experiment === '0') {
        // MLflow's "0" is the project's default experiment; the Strata API names it by its id.
        const all = await client.get<{ experiments: { id: string; default: boolean }[] }>(`/api/v1/projects/${seg(opts.project)}/experiments`);
        experiment = all.experiments.find((e) => e.default)?.id ?? '0';
      }
      const body = { experimentIds: [experiment], maxResults: Number(opts.max), ...(opts.filter === undefined ? {} : { filter: opts.filter }), ...(opts.orderBy === undefined ? {} : { orderBy: [opts.orderBy] }) };
      const r = await client.post<{ runs: Row[] }>(`/api/v1/projects/${seg(opts.project)}/runs/search`, body);
      const rows = r.runs.map((run) => ({
        ...run,
        started: when(run['startTime']),
        metrics: ((run['metrics'] as Row[] | undefined) ?? []).slice(0, 4).map((m) => `${String(m['key'])}=${String(m['value'])}`).join(' '),
      }));
      out.table(r, rows, ['id', 'name', 'status', 'started', 'metrics']);
    });
  runs
    .command('get')
    .argument('<run>', 'run id')
    .option('-p, --project <project>', 'project', 'default')
    .description('one run with its latest metrics, params and tags')
    .action(async (run: string, opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<Row>(runPath(opts.project, run));
      if (out.json) return out.record(r);
      out.record(r, ['id', 'name', 'experimentId', 'status', 'userId', 'artifactUri']);
      out.line('\nMETRICS (latest)');
      out.table(r['metrics'], r['metrics'] as Row[], ['key', 'value', 'step']);
      out.line('\nPARAMS');
      const params = Object.entries((r['params'] ?? {}) as Record<string, string>).map(([key, value]) => ({ key, value }));
      out.table(params, params, ['key', 'value']);
    });

  const artifacts = program.command('artifacts').description("a run's artifacts: list, upload, download (streamed)");
  artifacts
    .command('list')
    .argument('<run>', 'run id')
    .argument('[path]', 'directory inside the run (default: the root)')
    .option('-p, --project <project>', 'project', 'default')
    .description("a directory of a run's artifacts")
    .action(async (run: string, path: string | undefined, opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ files: Row[] }>(`${runPath(opts.project, run)}/artifacts`, path === undefined ? {} : { path });
      out.table(r, r.files, ['path', 'kind', 'size', 'digest']);
    });
  artifacts
    .command('upload')
    .argument('<run>', 'run id')
    .argument('<file>', 'local file')
    .option('--path <dest>', 'path inside the run (default: the file name)')
    .option('-p, --project <project>', 'project', 'default')
    .description('stream a local file into a run (content-addressed: identical files are stored once)')
    .action(async (run: string, file: string, opts: { path?: string; project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const size = statSync(file).size;
      const bar = progress(`uploading ${basename(file)}`, size);
      const body = createReadStream(file).pipe(bar);
      const r = await client.upload<Row>('PUT', `${runPath(opts.project, run)}/artifacts/${filePath(opts.path ?? basename(file))}`, body);
      out.record(r, ['path', 'size', 'digest']);
    });
  artifacts
    .command('download')
    .argument('<run>', 'run id')
    .argument('<path>', 'path inside the run')
    .option('-o, --output <file>', 'write here (default: stdout)')
    .option('-p, --project <project>', 'project', 'default')
    .description("stream one of a run's artifacts to a file or stdout")
    .action(async (run: string, path: string, opts: { output?: string; project: string }, cmd: Command) => {
      const { client } = commandContext(cmd);
      const { body, response } = await client.download(`${runPath(opts.project, run)}/artifacts/${filePath(path)}`);
      const length = Number(response.headers.get('content-length') ?? Number.NaN);
      const bar = progress(`downloading ${basename(path)}`, Number.isFinite(length) ? length : undefined);
      await pipeline(Readable.fromWeb(body), bar, opts.output === undefined ? process.stdout : createWriteStream(opts.output));
    });
}
