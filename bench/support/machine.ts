// The machine a benchmark ran on, printed beside every figure (STYLE.md "Benchmarks"): figures
// from different machines are not comparable, so each report says which one produced it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Machine {
  /** Logical CPUs this process may use (what `nproc` prints). */
  readonly nproc: number;
  readonly memoryGiB: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  /** ISO-8601 time the benchmark started. */
  readonly date: string;
  /** 1-, 5- and 15-minute load averages at the start: above nproc, other work shares the cores. */
  readonly loadAverage: readonly number[];
}

/** Describes the current machine. */
export function machine(): Machine {
  return {
    nproc: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** One line for the human report. */
export function describeMachine(m: Machine): string {
  return (
    `machine: nproc ${m.nproc}, ${m.memoryGiB} GiB RAM, ${m.cpuModel}, Node ${m.node}, ${m.platform}, ${m.date}\n` +
    `load average at start: ${m.loadAverage.join(' ')}${(m.loadAverage[0] ?? 0) > m.nproc / 2 ? ' — other work is running; wall-clock figures are inflated' : ''}`
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(machine())}\n` : `${describeMachine(machine())}\n`);
}

/**
 * Which code `bin/strata.js` runs, by the same rule it applies: the compiled dist/ when its build
 * stamp is newer than every source file, else the TypeScript sources through tsx (slower to start).
 */
export function strataBuild(root: string): 'dist' | 'tsx' {
  const stamp = join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp)) return 'tsx';
  const newest = (dir: string): number => {
    let n = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) n = Math.max(n, newest(p));
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) n = Math.max(n, statSync(p).mtimeMs);
    }
    return n;
  };
  return statSync(stamp).mtimeMs >= newest(join(root, 'src')) ? 'dist' : 'tsx';
}

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; with
 * `children`, also what the children it reaped used (an agent's job processes). Null where the
 * process or /proc is missing.
 */
export function processCpuSeconds(pid: number | undefined, options: { readonly children?: boolean } = {}): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3, "state"
    const own = Number(f[11]) + Number(f[12]); // utime, stime
    return (options.children === true ? own + Number(f[13]) + Number(f[14]) : own) / CLK_TCK; // + cutime, cstime
  } catch {
    return null;
  }
}
