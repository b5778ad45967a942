// `strata quantum run FILE.qasm`: runs an OpenQASM 2.0 circuit on the built-in state-vector engine
// in this process (no server needed) and prints its probabilities, sampled counts and expectation
// values — as tables, or with --json as the `quantum-circuit` job result object.
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { totalmem } from 'node:os';
import type { Command } from 'commander';
import { closeWorkerPools, runQasm } from '../quantum/index.ts';
import type { QuantumCircuitResult } from '../quantum/index.ts';
import { formatTable, makeOut } from './output.ts';

interface RunFlags {
  shots: string;
  seed?: string;
  precision: string;
  threads: string;
  observable?: string[];
  param?: string[];
  maxOutcomes: string;
  top: string;
  json?: boolean;
}

const wholeNumber = (flag: string, v: string, min: number, max: number): number => {
  if (!/^-?\d+$/.test(v.trim())) throw new Error(`${flag} must be a whole number, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new Error(`${flag} must be from ${min} to ${max.toLocaleString('en-US')}, got ${v}`);
  return n;
};

function parseParams(list: readonly string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of list ?? []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(item);
    const v = m === null ? Number.NaN : Number(m[2]);
    if (m === null || !Number.isFinite(v)) throw new Error(`--param expects name=number (e.g. --param theta=0.5), got '${item}'`);
    out[m[1] as string] = v;
  }
  return out;
}

function printHuman(r: QuantumCircuitResult, file: string, top: number, write: (s: string) => void): void {
  const m = r.metrics;
  write(`${file}: ${r.qubits} qubits, ${r.clbits} classical bits, ${m.gates} gates → ${m.passes} pass${m.passes === 1 ? '' : 'es'} over the state; ${m.branches} measurement histor${m.branches === 1 ? 'y' : 'ies'}; ${m.simulateSeconds.toFixed(3)} s (${r.precision}, ${m.threads} thread${m.threads === 1 ? '' : 's'})\n`);
  for (const n of r.notes) write(`note: ${n}\n`);
  const probs = Object.entries(r.probabilities).sort((a, b) => b[1] - a[1]);
  write(`\nprobabilities (q[${r.qubits - 1}]…q[0]), ${probs.length} outcome${probs.length === 1 ? '' : 's'} above the threshold${probs.length > top ? `, the ${top} most likely shown` : ''}:\n`);
  write(`${formatTable(probs.slice(0, top).map(([outcome, p]) => ({ outcome, probability: p.toFixed(10) })), ['outcome', 'probability'])}\n`);
  if (r.omittedOutcomes > 0) write(`(${r.omittedOutcomes} less likely outcomes, total probability ${r.omittedProbability.toExponential(3)}, left out by --max-outcomes)\n`);
  if (r.counts !== undefined) {
    const counts = Object.entries(r.counts).sort((a, b) => b[1] - a[1]);
    write(`\ncounts over ${r.shots} shots (seed ${r.seed})${counts.length > top ? `, the ${top} most frequent shown` : ''}:\n`);
    write(`${formatTable(counts.slice(0, top).map(([outcome, n]) => ({ outcome, count: n })), ['outcome', 'count'])}\n`);
  }
  if (r.expectations !== undefined) {
    write('\nexpectation values:\n');
    write(`${formatTable(Object.entries(r.expectations).map(([observable, v]) => ({ observable, value: v.toFixed(12) })), ['observable', 'value'])}\n`);
  }
}

/** Registers `strata quantum …`. */
export function registerQuantum(program: Command): void {
  const quantum = program.command('quantum').description('quantum circuits on the built-in state-vector simulator (runs locally)');

  quantum
    .command('run <file>')
    .description('simulate an OpenQASM 2.0 circuit: exact probabilities (bitstrings q[n-1]…q[0]), sampled counts with --shots, expectation values with --observable')
    .option('--shots <n>', 'measurement shots to sample (0: exact probabilities only)', '0')
    .option('--seed <s>', 'seed for sampling (default: random, printed with the counts)')
    .option('--precision <p>', 'complex128 or complex64 (half the memory)', 'complex128')
    .option('--threads <n>', "worker threads, or 'auto' (all cores from 20 qubits up)", 'auto')
    .option('--observable <pauli...>', 'Pauli strings to take expectation values of, e.g. ZZI or "Z0 Z1"')
    .option('--param <name=value...>', 'values of free circuit parameters, e.g. theta=0.5')
    .option('--max-outcomes <n>', 'report at most this many of the most likely outcomes', '65536')
    .option('--top <n>', 'rows to show in the human-readable tables', '32')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<RunFlags>();
      const out = makeOut(flags.json === true);
      let source: string;
      try {
        source = readFileSync(file, 'utf8');
      } catch (e) {
        throw new Error(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (flags.precision !== 'complex128' && flags.precision !== 'complex64') throw new Error(`--precision must be complex128 or complex64, got '${flags.precision}'`);
      const threads = flags.threads === 'auto' ? 'auto' : wholeNumber('--threads', flags.threads, 1, 256);
      const shots = wholeNumber('--shots', flags.shots, 0, 10_000_000);
      const seed = flags.seed === undefined ? randomInt(0, 2 ** 31 - 1) : wholeNumber('--seed', flags.seed, 0, 2 ** 32 - 1);
      try {
        const r = await runQasm(source, {
          shots,
          seed,
          precision: flags.precision,
          threads,
          observables: flags.observable ?? [],
          parameters: parseParams(flags.param),
          maxOutcomes: wholeNumber('--max-outcomes', flags.maxOutcomes, 1, 2 ** 24),
          // The engine refuses, before allocating, anything beyond three quarters of this machine's memory.
          memoryLimitBytes: Math.floor(totalmem() * 0.75),
        });
        if (out.json) out.record(r);
        else printHuman(r, file, wholeNumber('--top', flags.top, 1, 1_000_000), (s) => process.stdout.write(s));
      } finally {
        await closeWorkerPools();
      }
    });
}
