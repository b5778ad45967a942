// The process executor: runs one attempt as a real OS process in its own working directory and
// process group, with a clean environment (no server credentials; only the spec's env and its
// declared secrets), streams its output, enforces max runtime and cancellation (SIGTERM, then
// SIGKILL after a grace period) and measures CPU time and peak memory from /proc.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../../kernel/index.ts';
import type { AttemptUsage, LeasedAttempt } from '../../jobs/index.ts';
import { BUILTIN_PAYLOAD_FILE, gangEnv, jobArgv } from '../../jobs/index.ts';

export interface ProcessResult {
  readonly exitCode: number | null;
  readonly reason: string;
  readonly usage: AttemptUsage;
}

export interface RunOptions {
  /** Root under which each attempt gets `<job>/<attempt>/`. */
  readonly workRoot: string;
  readonly clock: Clock;
  readonly onOutput: (stream: 'stdout' | 'stderr' | 'system', data: string) => void;
  /** Seconds between SIGTERM and SIGKILL. */
  readonly graceSeconds: number;
  /** The server the agent talks to: given to the job as MLFLOW_TRACKING_URI with its run-scoped token. */
  readonly serverUrl?: string;
  /** The agent's node name: its process groups are noted under `<workRoot>/.running/<name>/` (agents may share a work root). */
  readonly agentName?: string;
}

export interface RunningProcess {
  readonly done: Promise<ProcessResult>;
  /** Asks the process group to stop: SIGTERM now, SIGKILL after the grace period. */
  stop(reason: string): void;
  readonly pid: number | undefined;
}

/** The `strata` CLI of this installation (src/ and dist/ sit at the same depth below the root). */
const STRATA_BIN = fileURLToPath(new URL('../../../bin/strata.js', import.meta.url));

/** Variables from the agent's own environment that a job may see; nothing else leaks through. */
const PASS_THROUGH = ['PATH', 'LANG', 'LC_ALL', 'TZ'];

function procStat(pid: number): { cpuSeconds: number; rssPeak: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14–17 (1-based) → 11–14 after the comm field.
    const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(fields[i] ?? 0), 0);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { cpuSeconds: ticks / 100, rssPeak: hwm === null ? 0 : Number(hwm[1]) * 1024 };
  } catch {
    return null;
  }
}

/** Where an agent notes the process groups it runs, one file per group leader (`<pid>.json`); one folder per agent name. */
function runningDir(workRoot: string, agentName: string): string {
  return join(workRoot, '.running', agentName.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** Running-note folders this process has created already (one mkdir per agent, not per attempt). */
const madeRunningDirs = new Set<string>();

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with the pid, it names one process for good. */
function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Kills the process groups an earlier life of this agent left running (it was SIGKILLed or the
 * machine's supervisor restarted it: job processes live in their own process groups and survive
 * it). Each recorded group leader is killed only if it is still the same process (same pid and
 * start time), so a reused pid is never hit. Returns how many groups were killed.
 */
export function reapOrphans(workRoot: string, agentName: string, log: (msg: string) => void = () => undefined): number {
  const dir = runningDir(workRoot, agentName);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return 0;
  }
  let killed = 0;
  for (const name of names) {
    const file = join(dir, name);
    try {
      const rec = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; start?: unknown; job?: unknown; attempt?: unknown };
      if (typeof rec.pid === 'number' && Number.isSafeInteger(rec.pid) && rec.pid > 1 && typeof rec.start === 'string' && startTicks(rec.pid) === rec.start) {
        process.kill(-rec.pid, 'SIGKILL');
        killed += 1;
        log(`killed the process group ${rec.pid} of ${String(rec.job)} attempt ${String(rec.attempt)}, left running by an earlier life of this agent`);
      }
    } catch {
      // unreadable record, or the group is gone already
    }
    try {
      unlinkSync(file);
    } catch {
      // removed meanwhile
    }
  }
  return killed;
}

/** The attempt's own directory (its HOME; spec files, outputs and the checkpoint directory are relative to it). */
export function attemptDir(workRoot: string, attempt: Pick<LeasedAttempt, 'jobId' | 'number' | 'gang'>): string {
  // Replicas of one gang may share a node (and its work root): each gets its own directory.
  return join(workRoot, attempt.jobId, attempt.gang === undefined ? `attempt-${attempt.number}` : `attempt-${attempt.number}-rank-${attempt.gang.rank}`);
}

/** Starts the attempt's process. */
export function startProcess(attempt: LeasedAttempt, opts: RunOptions): RunningProcess {
  const { spec } = attempt;
  const dir = attemptDir(opts.workRoot, attempt);
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
  for (const f of spec.files) {
    const p = join(dir, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content, { mode: f.executable ? 0o755 : 0o644 });
    if (f.executable) chmodSync(p, 0o755);
  }
  const env: Record<string, string> = {};
  for (const k of PASS_THROUGH) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  Object.assign(env, { HOME: dir, TMPDIR: join(dir, 'tmp'), STRATA_JOB_ID: attempt.jobId, STRATA_ATTEMPT: String(attempt.number), STRATA_PROJECT: attempt.project });
  if (spec.checkpointDir !== undefined) {
    // The agent restored the latest committed checkpoint here before starting us (agent/artifacts.ts).
    const ckpt = join(dir, spec.checkpointDir);
    mkdirSync(ckpt, { recursive: true });
    env['STRATA_CHECKPOINT_DIR'] = ckpt;
  }
  if (attempt.tracking !== undefined && opts.serverUrl !== undefined) {
    // An unmodified MLflow client logs to the attempt's run; the token can write only that run.
    Object.assign(env, {
      MLFLOW_TRACKING_URI: opts.serverUrl,
      MLFLOW_TRACKING_TOKEN: attempt.tracking.token,
      MLFLOW_RUN_ID: attempt.tracking.runId,
      MLFLOW_EXPERIMENT_ID: attempt.tracking.experimentId,
      STRATA_RUN_ID: attempt.tracking.runId,
      STRATA_SERVER: opts.serverUrl,
      STRATA_TOKEN: attempt.tracking.token,
    });
  }
  // A single replica is a world of one (its own env may still point elsewhere); a gang replica's
  // rendezvous variables win over anything of the same name in the spec (jobs/spec-env.ts).
  const g = attempt.gang;
  if (g === undefined) Object.assign(env, gangEnv(spec, 0, 1, '127.0.0.1', 29500, 0, 1));
  Object.assign(env, spec.env, attempt.secretEnv);
  if (g !== undefined) Object.assign(env, gangEnv(spec, g.rank, g.worldSize, g.masterAddr, g.masterPort, g.localRank, g.localWorldSize));

  let argv = jobArgv(spec);
  if (spec.kind !== 'process') {
    // A built-in kind: this Strata's own CLI runs the engine (`strata job-exec <kind> payload.json`).
    writeFileSync(join(dir, BUILTIN_PAYLOAD_FILE), JSON.stringify(spec.payload ?? {}), { mode: 0o600 });
    argv = [process.execPath, STRATA_BIN, ...argv.slice(1)];
  }
  const started = opts.clock.now();
  let stopReason: string | null = null;
  let killTimer: NodeJS.Timeout | undefined;
  let runtimeTimer: NodeJS.Timeout | undefined;
  let last = { cpuSeconds: 0, rssPeak: 0 };

  const child = spawn(argv[0] ?? '', argv.slice(1), { cwd: join(dir, spec.workingDir), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  // Noted so that a restarted agent can kill it if this agent dies first (reapOrphans).
  const noted = opts.agentName === undefined ? undefined : runningDir(opts.workRoot, opts.agentName);
  const record = pid === undefined || noted === undefined ? undefined : join(noted, `${pid}.json`);
  if (record !== undefined && noted !== undefined && pid !== undefined) {
    try {
      if (!madeRunningDirs.has(noted)) {
        mkdirSync(noted, { recursive: true });
        madeRunningDirs.add(noted);
      }
      writeFileSync(record, JSON.stringify({ pid, start: startTicks(pid), job: attempt.jobId, attempt: attempt.number }));
    } catch {
      // best effort: without the note only an orphan after a crash goes unkilled
    }
  }
  const sampler = setInterval(() => {
    if (pid === undefined) return;
    const s = procStat(pid);
    if (s !== null) last = { cpuSeconds: Math.max(last.cpuSeconds, s.cpuSeconds), rssPeak: Math.max(last.rssPeak, s.rssPeak) };
  }, 200);
  sampler.unref();
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d: string) => opts.onOutput('stdout', d));
  child.stderr.on('data', (d: string) => opts.onOutput('stderr', d));

  const killGroup = (signal: NodeJS.Signals): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  const stop = (reason: string): void => {
    if (stopReason !== null) return;
    stopReason = reason;
    opts.onOutput('system', `stopping: ${reason} (SIGTERM; SIGKILL in ${opts.graceSeconds} s)\n`);
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), opts.graceSeconds * 1000);
    killTimer.unref();
  };
  if (spec.maxRuntimeSeconds !== undefined) {
    runtimeTimer = setTimeout(() => stop(`exceeded maxRuntimeSeconds (${spec.maxRuntimeSeconds} s)`), spec.maxRuntimeSeconds * 1000);
    runtimeTimer.unref();
  }

  const done = new Promise<ProcessResult>((resolve) => {
    let settled = false;
    const finish = (exitCode: number | null, reason: string): void => {
      if (settled) return;
      settled = true;
      clearInterval(sampler);
      clearTimeout(killTimer);
      clearTimeout(runtimeTimer);
      if (record !== undefined) {
        try {
          unlinkSync(record);
        } catch {
          // not written, or removed
        }
      }
      const wallSeconds = (opts.clock.now() - started) / 1000;
      resolve({ exitCode, reason, usage: { cpuSeconds: last.cpuSeconds, peakMemoryBytes: last.rssPeak, wallSeconds } });
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      const msg = e.code === 'ENOENT' ? `command '${argv[0] ?? ''}' was not found on node (check the spelling, or use an absolute path)` : e.code === 'EACCES' ? `command '${argv[0] ?? ''}' is not executable` : `could not start '${argv[0] ?? ''}': ${e.message}`;
      opts.onOutput('system', `${msg}\n`);
      finish(null, msg);
    });
    child.on('close', (code, signal) => {
      // Reap anything the job left running in its process group.
      killGroup('SIGKILL');
      if (stopReason !== null) finish(code, stopReason);
      else if (signal !== null) finish(null, `killed by ${signal}`);
      else finish(code, code === 0 ? 'exited 0' : `exited with code ${String(code)}`);
    });
  });
  return { done, stop, pid };
}
