// The agent: registers its machine, long-polls the server for attempts placed on it, runs each
// through an executor, heartbeats the lease, streams logs, and reports the end with measured usage
// and energy. It speaks to the server only through the SDK, over HTTP — the in-process local agent
// of `strata server` is the same code on a loopback connection.
//
// Fencing: when the server answers that a lease is lost (409 lease_lost), the agent stops the
// process and discards its result — a stale holder never reports.
import { join } from 'node:path';
import type { Clock } from '../kernel/index.ts';
import { systemClock } from '../kernel/index.ts';
import type { AttemptUsage, LeasedAttempt, NodeCapacity, NodeInfo } from '../jobs/index.ts';
import { BUILTIN_RESULT_FILE } from '../jobs/index.ts';
import type { StrataClient } from '../sdk/index.ts';
import { StrataApiError, seg } from '../sdk/index.ts';
import { EnergyMeter, systemEnergyReaders } from './energy.ts';
import { attemptDir, reapOrphans, startProcess } from './executors/process.ts';
import { restoreCheckpoint, uploadArtifacts } from './artifacts.ts';
import type { RunningProcess } from './executors/process.ts';

export interface AgentOptions {
  readonly client: StrataClient;
  readonly name: string;
  readonly region: string;
  readonly pool: string;
  readonly capacity: NodeCapacity;
  readonly labels?: Readonly<Record<string, string>>;
  readonly workRoot: string;
  readonly clock?: Clock;
  /** Seconds between SIGTERM and SIGKILL when stopping a process. */
  readonly graceSeconds?: number;
  /** How long one lease request waits for work. */
  readonly pollSeconds?: number;
  readonly log?: (msg: string) => void;
  readonly version?: string;
  /** Host or IP other nodes reach this one at (MASTER_ADDR of gangs whose rank 0 runs here). */
  readonly address?: string;
}

interface Running {
  readonly attempt: LeasedAttempt;
  /** Undefined while the checkpoint is being restored. */
  proc: RunningProcess | undefined;
  lost: boolean;
  /** Why the attempt was asked to stop before its process started (cancel, shutdown, lost lease). */
  stopRequested: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const isLeaseLost = (e: unknown): boolean => e instanceof StrataApiError && e.status === 409 && e.details['code'] === 'lease_lost';

export class Agent {
  private node: NodeInfo | undefined;
  private readonly running = new Map<string, Running>();
  private stopping = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly log: (msg: string) => void;

  constructor(private readonly o: AgentOptions) {
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? ((m) => process.stderr.write(`agent ${o.name}: ${m}\n`));
  }

  get nodeId(): string | undefined {
    return this.node?.id;
  }

  /** Registers and starts claiming work. */
  async start(): Promise<NodeInfo> {
    // Job processes an earlier life of this agent left behind would run on unaccounted.
    reapOrphans(this.o.workRoot, this.o.name, this.log);
    this.node = await this.o.client.post<NodeInfo>('/api/v1/agent/register', {
      name: this.o.name, region: this.o.region, pool: this.o.pool, capacity: this.o.capacity, labels: this.o.labels ?? {}, version: this.o.version ?? '0.1.0',
      ...(this.o.address === undefined ? {} : { address: this.o.address }),
    });
    this.loop = this.claimLoop();
    return this.node;
  }

  private async claimLoop(): Promise<void> {
    const node = this.node as NodeInfo;
    let failures = 0;
    while (!this.stopping) {
      try {
        const r = await this.o.client.post<{ attempts: LeasedAttempt[] }>(`/api/v1/agent/nodes/${seg(node.id)}/lease`, { max: 16, waitSeconds: this.o.pollSeconds ?? 10 }, this.abort.signal);
        failures = 0;
        for (const a of r.attempts) this.run(a);
      } catch (e) {
        failures += 1;
        if (this.stopping) break;
        this.log(`lease request failed (${(e as Error).message}); retrying`);
        await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  private run(attempt: LeasedAttempt): void {
    const node = this.node as NodeInfo;
    const base = `/api/v1/agent/nodes/${seg(node.id)}/attempts/${seg(attempt.attemptId)}`;
    const token = attempt.leaseToken;
    const channel = { client: this.o.client, base, leaseToken: token };
    const dir = attemptDir(this.o.workRoot, attempt);
    let buffer: { stream: 'stdout' | 'stderr' | 'system'; data: string }[] = [];
    let flushing: Promise<void> = Promise.resolve();
    // The process exists only after the checkpoint is restored; heartbeats and logs run from the start.
    const entry: Running = { attempt, proc: undefined, lost: false, stopRequested: null };
    this.running.set(attempt.attemptId, entry);
    const stopProc = (why: string): void => {
      entry.stopRequested ??= why;
      entry.proc?.stop(why);
    };
    const markLost = (why: string): void => {
      if (entry.lost) return;
      entry.lost = true;
      this.log(`attempt ${attempt.attemptId} of ${attempt.jobId}: ${why}; stopping it`);
      stopProc('the lease was lost');
    };
    const system = (line: string): void => {
      buffer.push({ stream: 'system', data: `${line}\n` });
    };
    const flush = (): Promise<void> => {
      flushing = flushing.then(async () => {
        if (buffer.length === 0 || entry.lost) return;
        const chunks = buffer;
        buffer = [];
        try {
          await this.o.client.post(`${base}/logs`, { leaseToken: token, chunks });
        } catch (e) {
          if (isLeaseLost(e)) markLost('the server says the lease is gone');
          else this.log(`log upload failed: ${(e as Error).message}`);
        }
      });
      return flushing;
    };
    const flushTimer = setInterval(() => void flush(), 100);
    const hb = setInterval(() => {
      this.o.client
        .post<{ cancel: boolean; reason?: string }>(`${base}/heartbeat`, { leaseToken: token })
        .then((r) => {
          if (r.cancel) stopProc(r.reason ?? 'cancelled by user');
        })
        .catch((e: unknown) => {
          if (isLeaseLost(e)) markLost('heartbeat refused');
          else this.log(`heartbeat failed: ${(e as Error).message}`);
        });
    }, Math.max(200, (attempt.leaseSeconds * 1000) / 3));

    const execute = async (): Promise<{ exitCode: number | null; reason: string; usage: AttemptUsage }> => {
      const { spec } = attempt;
      if (spec.checkpointDir !== undefined && attempt.checkpoint !== undefined) {
        try {
          const r = await restoreCheckpoint(channel, attempt.checkpoint, join(dir, spec.checkpointDir));
          system(`restored the checkpoint of attempt ${attempt.checkpoint.attempt} into STRATA_CHECKPOINT_DIR (${r.files} files, ${r.bytes} bytes)`);
        } catch (e) {
          const reason = `could not restore the checkpoint of attempt ${attempt.checkpoint.attempt}: ${(e as Error).message}`;
          system(reason);
          return { exitCode: null, reason, usage: {} };
        }
      }
      if (entry.stopRequested !== null) return { exitCode: null, reason: entry.stopRequested, usage: {} };
      const meter = new EnergyMeter({ clock: this.clock, readers: systemEnergyReaders({ gpu: false }), cores: Math.max(1, spec.resources.cpuMillis / 1000), memoryBytes: spec.resources.memoryBytes, pue: 1 });
      const proc = startProcess(attempt, {
        workRoot: this.o.workRoot,
        agentName: this.o.name,
        clock: this.clock,
        graceSeconds: this.o.graceSeconds ?? 10,
        serverUrl: this.o.client.server,
        onOutput: (stream, data) => {
          buffer.push({ stream, data });
          if (buffer.reduce((n, c) => n + c.data.length, 0) > 64 * 1024) void flush();
        },
      });
      entry.proc = proc;
      const meterStarted = meter.start().catch(() => undefined);
      const result = await proc.done;
      let usage: AttemptUsage = result.usage;
      try {
        await meterStarted;
        const energy = await meter.stop(result.usage.cpuSeconds === undefined ? {} : { cpuSeconds: result.usage.cpuSeconds });
        usage = { ...usage, energy: { ...energy } };
      } catch {
        // energy is best effort
      }
      // Outputs and the checkpoint go up while the lease is still held (heartbeats keep running).
      // In a gang, rank 0 stores them (as torch.distributed programs save from rank 0).
      if (!entry.lost && (attempt.gang === undefined || attempt.gang.rank === 0)) {
        const outputs = spec.kind === 'process' || spec.outputs.includes(BUILTIN_RESULT_FILE) ? spec.outputs : [...spec.outputs, BUILTIN_RESULT_FILE];
        for (const [kind, paths] of [['output', outputs], ['checkpoint', spec.checkpointDir === undefined ? [] : [spec.checkpointDir]]] as const) {
          if (paths.length === 0) continue;
          try {
            const r = await uploadArtifacts(channel, kind, dir, paths);
            if (r.files > 0) system(`stored ${r.files} ${kind} file${r.files === 1 ? '' : 's'} (${r.bytes} bytes)`);
            for (const m of r.missing) if (kind === 'output') system(`declared output ${m} was not produced`);
            for (const m of r.skipped) system(`not stored: ${m}`);
          } catch (e) {
            if (isLeaseLost(e)) markLost('the server refused the upload: the lease is gone');
            else system(`storing the ${kind}s failed: ${(e as Error).message}`);
          }
        }
      }
      return { exitCode: result.exitCode, reason: result.reason, usage };
    };

    void execute().then(async (result) => {
      clearInterval(hb);
      clearInterval(flushTimer);
      await flush();
      if (entry.lost) {
        this.running.delete(attempt.attemptId);
        return;
      }
      // Completion is idempotent, so keep trying through a server restart (about two minutes);
      // past that the lease has long expired and the server has already rescheduled the job.
      for (let i = 0; i < 20; i++) {
        try {
          await this.o.client.post(`${base}/complete`, { leaseToken: token, exitCode: result.exitCode, reason: result.reason, usage: result.usage });
          break;
        } catch (e) {
          if (isLeaseLost(e)) break;
          await sleep(Math.min(10_000, 200 * 2 ** i));
        }
      }
      this.running.delete(attempt.attemptId);
    });
  }

  /**
   * Graceful shutdown: stop claiming, let running attempts finish for `drainSeconds`, then stop
   * what is left (their completions report the reason, and the server retries them).
   */
  async stop(drainSeconds = 10): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    // Tell the server first, so nothing more is placed here and placed-but-unstarted work moves on.
    if (this.node !== undefined) {
      await this.o.client.post(`/api/v1/agent/nodes/${seg(this.node.id)}/drain`).catch((e: unknown) => this.log(`drain request failed: ${(e as Error).message}`));
    }
    const deadline = this.clock.now() + drainSeconds * 1000;
    while (this.running.size > 0 && this.clock.now() < deadline) await sleep(50);
    for (const r of this.running.values()) {
      r.stopRequested ??= 'the agent is shutting down';
      r.proc?.stop('the agent is shutting down');
    }
    while (this.running.size > 0) await sleep(50);
    await this.loop?.catch(() => undefined);
  }
}
