// Child processes for benchmarks that need a real `strata server` (and `strata agent`s): each runs
// as `node bin/strata.js ...` in its own process with a fresh STRATA_HOME, its output in a log file
// under that home, so the benchmark process never shares their event loop.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startChild, stopChild } from './report.ts';

/** Starts a child whose stdout and stderr go to `logFile`, and waits until `ready` matches its output. */
export async function startWaitingFor(args: readonly string[], logFile: string, env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 30_000): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const fd = openSync(logFile, 'w');
  const child = startChild(args, ['ignore', fd, fd], env);
  closeSync(fd);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = ready.exec(readFileSync(logFile, 'utf8'));
    if (m !== null) return { child, match: m };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  await stopChild(child);
  throw new Error(`${args.join(' ')} did not become ready; its output:\n${readFileSync(logFile, 'utf8').slice(0, 4000)}`);
}

export interface StrataServer {
  readonly child: ChildProcess;
  readonly url: string;
  readonly home: string;
  /** The bootstrap admin token. */
  readonly token: string;
  /** The SQLite database file. */
  readonly db: string;
  /** GET/POST with the admin token; throws on a non-2xx answer. */
  api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** Starts a `strata agent` process with a node identity of its own (advertising `cpus`/`memory` when given). */
  startAgent(name: string, slice?: { cpus?: string; memory?: string }): Promise<ChildProcess>;
  /**
   * Stops the agents, then the server (SIGTERM, as an operator would; SIGKILL after `graceMs`), and
   * removes the home. Says how long the server took to exit and whether it had to be killed.
   */
  stop(opts?: { keepHome?: boolean; graceMs?: number }): Promise<{ serverExitMs: number; killed: boolean }>;
}

export interface StrataServerOptions {
  readonly logLevel?: string;
  readonly localAgent?: boolean;
  /** Extra arguments for node before bin/strata.js (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  readonly prefix?: string;
}

/** Starts `strata server --port 0` on loopback with a fresh temporary STRATA_HOME (SQLite). */
export async function startStrataServer(opts: StrataServerOptions = {}): Promise<StrataServer> {
  const home = mkdtempSync(join(tmpdir(), opts.prefix ?? 'strata-bench-'));
  const logLevel = opts.logLevel ?? 'warn';
  const env: NodeJS.ProcessEnv = { ...process.env, STRATA_HOME: home, XDG_CONFIG_HOME: join(home, 'config'), STRATA_LOG_LEVEL: logLevel };
  delete env['STRATA_SERVER'];
  delete env['STRATA_TOKEN'];
  delete env['STRATA_DATABASE_URL'];
  const args = [...(opts.nodeArgs ?? []), 'bin/strata.js', 'server', '--host', '127.0.0.1', '--port', '0', '--home', home, '--log-level', logLevel];
  if (opts.localAgent === false) args.push('--no-local-agent');
  // The server prints "listening on" first and "agent: ... ready" once the local agent (if any) registered.
  const { child, match } = await startWaitingFor(args, join(home, 'server.log'), env, /listening on (http:\/\/[^\s"]+)[\s\S]*agent: .*ready/);
  const url = match[1] as string;
  const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
  const agents: ChildProcess[] = [];

  const api = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };

  const startAgent = async (name: string, slice: { cpus?: string; memory?: string } = {}): Promise<ChildProcess> => {
    const ident = await api<{ token: string }>('POST', '/api/v1/nodes', { name });
    const pools = await api<{ pools: { name: string; region: string; kind: string }[] }>('GET', '/api/v1/pools');
    const pool = pools.pools.find((p) => p.kind === 'cpu') ?? pools.pools[0];
    if (pool === undefined) throw new Error('the server has no pools');
    const a = [
      ...(opts.nodeArgs ?? []), 'bin/strata.js', '--server', url, '--token', ident.token, 'agent', '--region', pool.region, '--pool', pool.name, '--name', name, '--work-dir', join(home, `work-${name}`),
      ...(slice.cpus === undefined ? [] : ['--cpus', slice.cpus]), ...(slice.memory === undefined ? [] : ['--memory', slice.memory]),
    ];
    const { child: agent } = await startWaitingFor(a, join(home, `${name}.log`), env, /registered with/);
    agents.push(agent);
    return agent;
  };

  const stop = async (o: { keepHome?: boolean; graceMs?: number } = {}): Promise<{ serverExitMs: number; killed: boolean }> => {
    for (const a of agents) await stopChild(a, o.graceMs);
    const t0 = Date.now();
    await stopChild(child, o.graceMs);
    const serverExitMs = Date.now() - t0;
    if (o.keepHome !== true) rmSync(home, { recursive: true, force: true });
    return { serverExitMs, killed: child.signalCode === 'SIGKILL' };
  };
  return { child, url, home, token, db: join(home, 'strata.db'), api, startAgent, stop };
}
