// Shared plumbing for benchmarks: the --quick / --json flags, human text (to stderr under --json,
// so stdout carries exactly one JSON object), number formatting, and child processes.
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/support/../..). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BenchFlags {
  readonly quick: boolean;
  readonly json: boolean;
}

/** Reads --quick and --json; refuses anything else so a typo is not silently a full run. */
export function benchFlags(argv: readonly string[] = process.argv.slice(2)): BenchFlags {
  const unknown = argv.filter((a) => a !== '--quick' && a !== '--json');
  if (unknown.length > 0) {
    process.stderr.write(`unknown argument(s): ${unknown.join(' ')}; a benchmark accepts --quick and --json\n`);
    process.exit(2);
  }
  return { quick: argv.includes('--quick'), json: argv.includes('--json') };
}

/** Human output: stdout normally, stderr under --json. */
export function humanWriter(flags: BenchFlags): (line: string) => void {
  const stream = flags.json ? process.stderr : process.stdout;
  return (line) => void stream.write(`${line}\n`);
}

/** 12345.6 → "12,346". */
export const int = (x: number): string => Math.round(x).toLocaleString('en-US');
/** Fixed decimals. */
export const fix = (x: number, digits = 2): string => x.toFixed(digits);

/** Runs a child to completion, collecting its output. */
export async function runChild(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; command?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; wallMs: number }> {
  const start = process.hrtime.bigint();
  const child = spawn(opts.command ?? process.execPath, args, { cwd: repoRoot, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr, wallMs: Number(process.hrtime.bigint() - start) / 1e6 };
}

/** Starts a long-running child with the given stdio. */
export function startChild(args: readonly string[], stdio: StdioOptions, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, args, { cwd: repoRoot, env, stdio });
}

/** Sends SIGTERM and waits for the child to exit (SIGKILL after `graceMs`). */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit') as Promise<[number | null]>;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const [code] = await exited;
  clearTimeout(timer);
  return code;
}

/** Starts a child whose stdout goes to `logFile`, and waits for "listening on <url>" in it. */
export async function startListening(args: readonly string[], logFile: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const fd = openSync(logFile, 'w');
  const child = startChild(args, ['ignore', fd, fd], env);
  closeSync(fd);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = /listening on (http:\/\/[^\s"]+)/.exec(readFileSync(logFile, 'utf8'));
    if (m?.[1] !== undefined) return { child, url: m[1] };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  await stopChild(child);
  throw new Error(`${args.join(' ')} did not start listening; its output:\n${readFileSync(logFile, 'utf8').slice(0, 4000)}`);
}
