// `strata run`, `logs`, `jobs`, `nodes`, `regions`, `pools` and `agent`.
import { createWriteStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { StrataClient } from '../sdk/index.ts';
import { seg } from '../sdk/index.ts';
import type { JobInfo, LogChunk } from '../jobs/index.ts';
import { jobSpecToInput, parseJobSpec } from '../jobs/index.ts';
import { commandContext } from './context.ts';
import { strataHome } from './config.ts';

type Row = Record<string, unknown>;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Streams a job's logs to stdout/stderr until it ends (follow) or the current end (no follow). */
async function streamLogs(client: StrataClient, project: string, job: string, follow: boolean): Promise<void> {
  let after = 0;
  // A gang's replicas write side by side: each line says which rank wrote it.
  const info = await client.get<{ spec: { replicas?: number } }>(`/api/v1/projects/${seg(project)}/jobs/${seg(job)}`);
  const gang = (info.spec.replicas ?? 1) > 1;
  const atLineStart = new Map<string, boolean>();
  const write = (c: LogChunk): void => {
    const sink = c.stream === 'stderr' ? process.stderr : process.stdout;
    if (c.stream === 'system') return void sink.write(`[strata${gang ? ` rank ${c.replica}` : ''}] ${c.data}`);
    if (!gang) return void sink.write(c.data);
    const key = `${c.attempt}/${c.replica}/${c.stream}`;
    const tag = `[rank ${c.replica}] `;
    const body = c.data.replace(/\n(?=.)/gs, `\n${tag}`);
    sink.write(((atLineStart.get(key) ?? true) ? tag : '') + body);
    atLineStart.set(key, c.data.endsWith('\n'));
  };
  for (;;) {
    const r = await client.get<{ chunks: LogChunk[]; next: number; done: boolean }>(`/api/v1/projects/${seg(project)}/jobs/${seg(job)}/logs`, { after, limit: 2000, wait: follow ? 10 : 0 });
    for (const c of r.chunks) write(c);
    after = r.next;
    if (r.chunks.length > 0) continue;
    if (!follow || r.done) return;
  }
}

export function registerJobs(program: Command): void {
  program
    .command('run')
    .description('submit a job from a spec file (YAML or JSON)')
    .requiredOption('-f, --file <path>', 'job spec, e.g. hello.yaml')
    .option('-p, --project <project>', 'project', 'default')
    .option('--wait', 'follow the logs and wait for the end; exit 0 only if the job succeeded')
    .action(async (opts: { file: string; project: string; wait?: boolean }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      let text: string;
      try {
        text = readFileSync(opts.file, 'utf8');
      } catch (e) {
        throw new Error(`cannot read ${opts.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      // Validate locally first (field-path errors before any request); the server checks again,
      // including which environment variables the caller may set.
      const specDir = dirname(resolve(opts.file));
      const body = jobSpecToInput(parseJobSpec(text, { allowDangerousEnv: true, readFile: (p) => readFileSync(resolve(specDir, p), 'utf8') }));
      const job = await client.post<JobInfo>(`/api/v1/projects/${seg(opts.project)}/jobs`, body);
      if (opts.wait !== true) {
        if (out.json) return out.record(job);
        out.line(`${job.id} ${job.state}`);
        return;
      }
      if (!out.json) process.stderr.write(`submitted ${job.id} (${job.name}) to project ${opts.project}\n`);
      await streamLogs(client, opts.project, job.id, true);
      let final = job;
      while (!TERMINAL.has(final.state)) {
        await sleep(100);
        final = await client.get<JobInfo>(`/api/v1/projects/${seg(opts.project)}/jobs/${seg(job.id)}`);
      }
      if (out.json) out.record(final);
      else process.stderr.write(`${final.id} ${final.state}: ${final.reason}\n`);
      if (final.state !== 'succeeded') process.exitCode = 1;
    });

  program
    .command('logs')
    .argument('<job>', 'job id (job_...)')
    .option('-p, --project <project>', 'project', 'default')
    .option('-f, --follow', 'keep streaming until the job ends')
    .description("print a job's output")
    .action(async (job: string, opts: { project: string; follow?: boolean }, cmd: Command) => {
      const { client } = commandContext(cmd);
      await streamLogs(client, opts.project, job, opts.follow === true);
    });

  const jobs = program.command('jobs').description('jobs: everything that runs');
  jobs
    .command('list')
    .option('-p, --project <project>', 'project', 'default')
    .option('--state <state>', 'only jobs in this state')
    .option('--limit <n>', 'at most this many', '100')
    .description('jobs of a project, newest first')
    .action(async (opts: { project: string; state?: string; limit: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ jobs: Row[] }>(`/api/v1/projects/${seg(opts.project)}/jobs`, { state: opts.state, limit: opts.limit });
      out.table(r, r.jobs, ['id', 'name', 'state', 'attempts', 'exitCode', 'createdAt', 'reason']);
    });
  jobs
    .command('describe')
    .argument('<job>')
    .option('-p, --project <project>', 'project', 'default')
    .description('a job with its attempts, transitions, usage, energy and carbon')
    .action(async (job: string, opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<Row & { attemptList: Row[]; events: Row[] }>(`/api/v1/projects/${seg(opts.project)}/jobs/${seg(job)}`);
      if (out.json) return out.record(r);
      out.record(r, ['id', 'name', 'project', 'state', 'reason', 'attempts', 'maxAttempts', 'exitCode', 'createdAt', 'finishedAt']);
      out.line('\nATTEMPTS');
      out.table(r.attemptList, r.attemptList.map((a) => {
        const u = (a['usage'] ?? {}) as Row;
        const c = (u['carbon'] ?? {}) as Row;
        return { ...a, cpuSeconds: u['cpuSeconds'], peakMemory: u['peakMemoryBytes'], kWh: c['energy_consumed_kWh'], gCO2eq: c['carbon_gCO2eq'], intensity: c['intensity_source'] };
      }), [...((r['spec'] as { replicas?: number } | undefined)?.replicas ?? 1) > 1 ? ['number', 'replica'] : ['number'], 'node', 'state', 'exitCode', 'startedAt', 'endedAt', 'cpuSeconds', 'peakMemory', 'kWh', 'gCO2eq', 'intensity', 'reason']);
      out.line('\nTRANSITIONS');
      out.table(r.events, r.events, ['seq', 'time', 'from', 'to', 'reason']);
    });
  jobs
    .command('cancel')
    .argument('<job>')
    .option('-p, --project <project>', 'project', 'default')
    .description('cancel a job (running ones get SIGTERM, then SIGKILL)')
    .action(async (job: string, opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      out.record(await client.post<Row>(`/api/v1/projects/${seg(opts.project)}/jobs/${seg(job)}/cancel`), ['id', 'state', 'cancelRequested', 'reason']);
    });

  jobs
    .command('artifacts')
    .argument('<job>')
    .option('-p, --project <project>', 'project', 'default')
    .description('outputs and checkpoints the attempts of a job stored')
    .action(async (job: string, opts: { project: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ artifacts: Row[] }>(`/api/v1/projects/${seg(opts.project)}/jobs/${seg(job)}/artifacts`);
      out.table(r, r.artifacts, ['attempt', 'kind', 'path', 'size', 'digest', 'createdAt']);
    });
  jobs
    .command('download')
    .argument('<job>')
    .argument('<path>', 'path of an output (or, with --checkpoint, of a checkpoint file)')
    .option('-p, --project <project>', 'project', 'default')
    .option('--attempt <n>', 'from this attempt (default: the latest that stored the path)')
    .option('--checkpoint', 'a checkpoint file instead of an output')
    .option('-o, --output <file>', 'write to this file (default: stdout)')
    .description("download one of a job's outputs or checkpoint files (streamed)")
    .action(async (job: string, path: string, opts: { project: string; attempt?: string; checkpoint?: boolean; output?: string }, cmd: Command) => {
      const { client } = commandContext(cmd);
      const kind = opts.checkpoint === true ? 'checkpoint' : 'output';
      const rel = path.split('/').map(seg).join('/');
      const { body, response } = await client.download(`/api/v1/projects/${seg(opts.project)}/jobs/${seg(job)}/artifacts/${kind}/${rel}`, opts.attempt === undefined ? {} : { query: { attempt: opts.attempt } });
      const sink = opts.output === undefined ? process.stdout : createWriteStream(opts.output);
      await pipeline(Readable.fromWeb(body), sink);
      if (opts.output !== undefined) process.stderr.write(`wrote ${response.headers.get('content-length') ?? '?'} bytes of attempt ${response.headers.get('x-strata-attempt') ?? '?'} to ${opts.output}\n`);
    });

  const nodes = program.command('nodes').description('machines registered by agents');
  nodes
    .command('list')
    .description('nodes with region, pool, capacity and state')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ nodes: (Row & { capacity: Row })[] }>('/api/v1/nodes');
      out.table(r, r.nodes.map((n) => ({ ...n, cpu: `${Number(n.capacity['cpuMillis']) / 1000}`, memory: `${(Number(n.capacity['memoryBytes']) / 2 ** 30).toFixed(1)}Gi`, devices: n.capacity['devices'] })), ['name', 'id', 'region', 'pool', 'state', 'cpu', 'memory', 'devices', 'heartbeatAt']);
    });
  nodes
    .command('create')
    .argument('<name>', 'node identity name')
    .description('create a node identity and print its token for `strata agent --token` (platform administrators)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.post<Row>('/api/v1/nodes', { name });
      if (out.json) return out.record(r);
      out.line(`node identity ${name} created; its token (shown once):`);
      out.line(String(r['token']));
    });
  nodes
    .command('reclaim')
    .argument('<node>', 'node id or name')
    .option('--reason <text>', 'why (kept in the audit log)')
    .description("reclaim a node's capacity (e.g. a spot interruption): its jobs are preempted, keep their checkpoint and requeue; nothing more is placed there (platform administrators)")
    .action(async (node: string, opts: { reason?: string }, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      let id = node;
      if (!node.startsWith('node_')) {
        const all = await client.get<{ nodes: { id: string; name: string }[] }>('/api/v1/nodes');
        const found = all.nodes.find((n) => n.name === node);
        if (found === undefined) throw new Error(`no node named '${node}'; see \`strata nodes list\``);
        id = found.id;
      }
      const r = await client.post<{ requeued: number; stopping: number }>(`/api/v1/nodes/${seg(id)}/reclaim`, opts.reason === undefined ? {} : { reason: opts.reason });
      if (out.json) return out.record(r);
      out.line(`node ${node} is draining: ${r.stopping} running job${r.stopping === 1 ? '' : 's'} told to stop and requeue (checkpoints kept), ${r.requeued} placed job${r.requeued === 1 ? '' : 's'} sent back to the queue`);
    });
  program
    .command('regions')
    .description('regions: role, carbon signal, PUE, price multiplier')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ regions: Row[] }>('/api/v1/regions');
      out.table(r, r.regions, ['name', 'roles', 'pue', 'priceMultiplier', 'dataResidency', 'carbon']);
    });
  program
    .command('pools')
    .description('pools: technology, flavor, capacity type, price and power per device')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, out } = commandContext(cmd);
      const r = await client.get<{ pools: Row[] }>('/api/v1/pools');
      out.table(r, r.pools, ['name', 'region', 'kind', 'flavor', 'capacityType', 'pricePerDeviceHour', 'powerWattsPerDevice']);
    });

  program
    .command('agent')
    .description('run an agent: register this machine (or a slice of it) and run the jobs placed on it')
    .requiredOption('--region <region>', 'region of this machine')
    .requiredOption('--pool <pool>', 'pool of this machine')
    .option('--name <name>', 'node name (default: the node identity name)')
    .option('--cpus <n>', 'advertise only this many CPUs (e.g. 1, 500m)')
    .option('--memory <q>', 'advertise only this much memory (e.g. 4Gi)')
    .option('--work-dir <dir>', 'where attempts run', join(strataHome(), 'agent-work'))
    .option('--address <host>', "host or IP other nodes reach this one at (gangs' MASTER_ADDR; default: this machine's first non-loopback IPv4, else its host name)")
    .action(async (opts: { region: string; pool: string; name?: string; cpus?: string; memory?: string; workDir: string; address?: string }, cmd: Command) => {
      const { client, server } = commandContext(cmd);
      const { Agent, detectCapacity, parseSlice, defaultNodeAddress } = await import('../agent/index.ts');
      const me = await client.get<{ name: string; kind: string }>('/api/v1/whoami').catch(() => undefined);
      const cap = await detectCapacity(undefined, parseSlice({ cpus: opts.cpus, memory: opts.memory }));
      const agent = new Agent({
        client,
        name: opts.name ?? me?.name ?? 'agent',
        region: opts.region,
        pool: opts.pool,
        capacity: { cpuMillis: cap.cpuMillicores, memoryBytes: cap.memoryBytes, devices: Object.values(cap.devices).reduce((a, b) => a + b, 0), ...(cap.gpus[0] === undefined ? {} : { flavor: cap.gpus[0].flavor }), qubits: cap.simulators.quantum.maxQubits, neurons: cap.simulators.spiking.maxNeurons },
        workRoot: opts.workDir,
        address: opts.address ?? defaultNodeAddress(),
      });
      const node = await agent.start();
      process.stdout.write(`agent ${node.name} (${node.id}) registered with ${server} in ${node.region}/${node.pool}: ${cap.cpuMillicores / 1000} CPUs, ${(cap.memoryBytes / 2 ** 30).toFixed(1)} GiB\n`);
      await new Promise<void>((resolve) => {
        const onSignal = (): void => {
          process.stdout.write('draining: no new work; running attempts get 30 s\n');
          void agent.stop(30).then(resolve);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      });
    });
}
