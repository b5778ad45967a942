// Real `strata` processes for end-to-end tests: a server child process on its own STRATA_HOME and
// agent child processes, with a small JSON API client and a seeded RNG. Used by the reliability
// harness (research §4.4 T1, T2); nothing here imports src/ — it talks to the processes only.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'strata.js');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { seededRandom } from '../../src/kernel/index.ts';

/** A child process with its output captured (for failure messages) and a promise for its exit. */
export interface Child {
  readonly proc: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly alive: () => boolean;
}

function track(proc: ChildProcess): Child {
  let out = '';
  let alive = true;
  proc.stdout?.setEncoding('utf8');
  proc.stderr?.setEncoding('utf8');
  proc.stdout?.on('data', (d: string) => {
    out += d;
  });
  proc.stderr?.on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
  });
  return { proc, output: () => out, exited, alive: () => alive };
}

/** Waits until the child's output matches `re`, or fails (with its output) on exit or timeout. */
export async function waitForOutput(child: Child, re: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(child.output());
    if (m !== null) return m;
    if (!child.alive()) throw new Error(`${what} exited before printing ${String(re)}:\n${child.output().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`${what} did not print ${String(re)} within ${timeoutMs} ms:\n${child.output().slice(-4000)}`);
    await sleep(25);
  }
}

export interface ServerProcess {
  readonly child: Child;
  readonly url: string;
  readonly port: number;
}

export interface ServerArgs {
  readonly env: NodeJS.ProcessEnv;
  readonly port?: number;
  readonly leaseSeconds: number;
  readonly databaseUrl?: string;
}

/** Starts `strata server` and resolves once its banner says "ready". */
export async function startServerProcess(a: ServerArgs): Promise<ServerProcess> {
  const args = [BIN, 'server', '--port', String(a.port ?? 0), '--no-local-agent', '--log-level', 'warn', '--lease-seconds', String(a.leaseSeconds)];
  if (a.databaseUrl !== undefined) args.push('--database', a.databaseUrl);
  const child = track(spawn(process.execPath, args, { env: a.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const m = await waitForOutput(child, /listening on (http:\/\/\S+)[\s\S]*ready/, 60000, 'strata server');
  const url = m[1] as string;
  return { child, url, port: Number(new URL(url).port) };
}

/** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). Returns how it ended and how long it took. */
export async function stopProcess(child: Child, graceMs = 20000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; forced: boolean }> {
  const t0 = Date.now();
  if (!child.alive()) return { ...(await child.exited), ms: 0, forced: false };
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  const r = await child.exited;
  clearTimeout(timer);
  return { ...r, ms: Date.now() - t0, forced: r.signal === 'SIGKILL' };
}

export function killHard(child: Child): void {
  if (child.alive()) child.proc.kill('SIGKILL');
}

export interface AgentArgs {
  readonly env: NodeJS.ProcessEnv;
  readonly url: string;
  readonly token: string;
  readonly name: string;
  readonly workDir: string;
}

/** Starts `strata agent` (1 CPU, 1 GiB slice) and resolves once it has registered. */
export async function startAgentProcess(a: AgentArgs, timeoutMs = 60000): Promise<Child> {
  const args = [BIN, 'agent', '--server', a.url, '--token', a.token, '--region', 'local', '--pool', 'local-cpu', '--name', a.name, '--cpus', '1', '--memory', '1Gi', '--work-dir', a.workDir];
  const child = track(spawn(process.execPath, args, { env: a.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  await waitForOutput(child, /registered with/, timeoutMs, `agent ${a.name}`);
  return child;
}

export function readAdminToken(home: string): string {
  return readFileSync(join(home, 'admin.token'), 'utf8').trim();
}

export interface ApiReply {
  readonly status: number;
  readonly body: unknown;
}

/** One JSON request; status 0 when the server could not be reached (the outcome is unknown). */
export async function api(url: string, token: string, method: string, path: string, body?: unknown, timeoutMs = 15000): Promise<ApiReply> {
  try {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed };
  } catch {
    return { status: 0, body: undefined };
  }
}

/** Runs `strata ...` to completion. */
export async function runCli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const child = track(spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const closed = once(child.proc, 'close');
  const r = await child.exited;
  await closed;
  return { code: r.code, out: child.output() };
}
