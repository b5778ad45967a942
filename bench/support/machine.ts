// The machine a benchmark ran on, printed beside every figure (STYLE.md "Benchmarks"): figures
// from different machines are not comparable, so each report says which one produced it.
import { availableParallelism, cpus, totalmem } from 'node:os';

export interface Machine {
  /** Logical CPUs this process may use (what `nproc` prints). */
  readonly nproc: number;
  readonly memoryGiB: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  /** ISO-8601 time the benchmark started. */
  readonly date: string;
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
  };
}

/** One line for the human report. */
export function describeMachine(m: Machine): string {
  return `machine: nproc ${m.nproc}, ${m.memoryGiB} GiB RAM, ${m.cpuModel}, Node ${m.node}, ${m.platform}, ${m.date}`;
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(machine())}\n` : `${describeMachine(machine())}\n`);
}
